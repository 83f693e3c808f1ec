//! The rules of each check kind: tcp and udp (and tcp with
//! `connections`, the round-robin spread), port, tls, http and mtu (dns
//! has a module of its own, `dns_check.rs`).

use std::net::IpAddr;
use std::str::FromStr;

use super::checks::CheckCx;
use super::{Validator, did_you_mean};
use crate::lab::model::*;
use crate::lab::raw::*;

impl Validator {
    /// A network a check names must be one of the lab's.
    fn lab_network(&mut self, cx: &CheckCx, network: &Span<String>) -> Option<()> {
        if cx.networks.contains_key(&network.value) {
            return Some(());
        }
        self.error(
            &network.referenced,
            format!("undefined network `{}`", network.value),
            did_you_mean(&network.value, cx.networks.keys().map(String::as_str)),
        );
        None
    }

    pub(super) fn transport_check(
        &mut self,
        cx: &CheckCx,
        transport: Transport,
    ) -> Option<CheckKind> {
        let from = self.source_of(cx, true);
        let to = self.target_of(cx);
        let words: &[&str] = match transport {
            Transport::Tcp => &["open", "accepts", "refused", "blocked"],
            Transport::Udp => &["open", "blocked"],
        };
        let expect = self.expect_word(cx, words);
        let (from, to, expect) = (from?, to?, expect?);
        if !self.aimable(cx, &from, &to) {
            return None;
        }
        // A udp probe sends a datagram; a tcp one sends nothing (see
        // `check::reach`).
        if transport == Transport::Udp && !self.payload_stays(cx, &from, &to, transport) {
            return None;
        }
        if expect == "open"
            && let TargetHost::Node { node, .. } = &to.host
            && let (Some(n), Some(span)) = (cx.nodes.get(node), &cx.body.to)
        {
            self.require_identity(n, &span.referenced, "open", transport == Transport::Tcp);
        }
        Some(match transport {
            Transport::Tcp => CheckKind::Tcp {
                from,
                to,
                expect: match expect.as_str() {
                    "open" => TcpExpect::Open,
                    "accepts" => TcpExpect::Accepts,
                    "refused" => TcpExpect::Refused,
                    _ => TcpExpect::Blocked,
                },
            },
            Transport::Udp => CheckKind::Udp {
                from,
                to,
                expect: if expect == "open" {
                    UdpExpect::Open
                } else {
                    UdpExpect::Blocked
                },
            },
        })
    }

    pub(super) fn tls_check(&mut self, cx: &CheckCx) -> Option<CheckKind> {
        let from = self.source_of(cx, true);
        let to = self.target_of(cx);
        let trust = match &cx.body.ca {
            None => Some(Trust::Lab),
            Some(ca) if ca.value == "lab" => Some(Trust::Lab),
            Some(ca) if ca.value == "none" => Some(Trust::Nothing),
            Some(ca) => {
                self.error(
                    &ca.referenced,
                    format!("unknown ca `{}`", ca.value),
                    Some("`lab` (the lab's CA, the default) or `none` (trust nothing)".into()),
                );
                None
            }
        };
        let expect = self.expect_word(cx, &["verified", "untrusted", "wrong-name", "no-tls"]);
        let (from, to, trust, expect) = (from?, to?, trust?, expect?);
        if !self.aimable(cx, &from, &to) || !self.payload_stays(cx, &from, &to, Transport::Tcp) {
            return None;
        }
        let name = match (&cx.body.name, &to.host) {
            (Some(n), _) => n.value.clone(),
            (None, TargetHost::Node { node, .. } | TargetHost::Name(node)) => node.clone(),
            (None, TargetHost::Ip(_)) => {
                self.error(
                    &cx.kind.referenced,
                    "a tls check to an address needs `name:`, the server name to present",
                    None,
                );
                return None;
            }
        };
        let expect = match expect.as_str() {
            "verified" => TlsExpect::Verified,
            "untrusted" => TlsExpect::Untrusted,
            "wrong-name" => TlsExpect::WrongName,
            _ => TlsExpect::NoTls,
        };
        // Trusting nothing, every certificate is untrusted: such a check
        // could not fail (untrusted) or could not pass (the others).
        if trust == Trust::Nothing
            && expect != TlsExpect::NoTls
            && let Some(ca) = &cx.body.ca
        {
            self.error(
                &ca.referenced,
                format!(
                    "with `ca: none` every certificate is untrusted, so expecting `{}` proves nothing",
                    expect.as_str()
                ),
                Some("to show an untrusted certificate, aim at a node whose certificate comes from another CA (`ca: other` on the node)".into()),
            );
            return None;
        }
        Some(CheckKind::Tls {
            from,
            to,
            name,
            trust,
            expect,
        })
    }

    pub(super) fn http_check(&mut self, cx: &CheckCx) -> Option<CheckKind> {
        let from = self.source_of(cx, true);
        let url =
            self.required(cx, &cx.body.url, "url")
                .and_then(|u| match url::Url::parse(&u.value) {
                    Ok(parsed)
                        if matches!(parsed.scheme(), "http" | "https")
                            && parsed.host_str().is_some() =>
                    {
                        Some(u.value.clone())
                    }
                    Ok(_) => {
                        self.error(
                            &u.referenced,
                            format!("`{}` is not an http or https URL", u.value),
                            None,
                        );
                        None
                    }
                    Err(e) => {
                        self.error(
                            &u.referenced,
                            format!("`{}` is not a URL: {e}", u.value),
                            Some("e.g. http://web/echo".into()),
                        );
                        None
                    }
                });
        let method = match &cx.body.method {
            None => Some("GET".to_owned()),
            Some(m) if !m.value.is_empty() && m.value.chars().all(|c| c.is_ascii_alphabetic()) => {
                Some(m.value.to_ascii_uppercase())
            }
            Some(m) => {
                self.error(
                    &m.referenced,
                    format!("`{}` is not an HTTP method", m.value),
                    Some("e.g. GET, POST, PUT".into()),
                );
                None
            }
        };
        let expect = self.http_expect(cx);
        let (url, expect, from) = (url?, expect?, from?);
        self.http_expect_can_show(cx, &url, &expect)?;
        self.url_inside(cx, &from, &url)?;
        Some(CheckKind::Http {
            from,
            url,
            method: method?,
            body: cx.body.body.as_ref().map(|b| b.value.clone()),
            expect,
        })
    }

    /// The URL's host must be the lab's own (unless `--allow-external`).
    fn url_inside(&mut self, cx: &CheckCx, from: &Source, url: &str) -> Option<()> {
        use crate::lab::reach::{self, Verdict};
        let parsed = url::Url::parse(url).ok()?;
        let host = parsed.host()?;
        let ip = match host {
            url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
            url::Host::Domain(_) => None,
        };
        if let Some(ip) = ip {
            self.one_host(cx, &cx.place_of(&cx.body.url), url, ip)?;
        }
        match reach::url_host_verdict(cx.topology(), from, &host) {
            Verdict::Outside(why) if !self.allow_external => {
                self.outside(&cx.place_of(&cx.body.url), url, &why);
                None
            }
            _ => self.url_payload_stays(cx, from, url).then_some(()),
        }
    }

    /// `body_kept` and `session` are shown by certain agent paths only: an
    /// expectation the answer cannot show is an error, not a silent pass.
    fn http_expect_can_show(&mut self, cx: &CheckCx, url: &str, expect: &HttpExpect) -> Option<()> {
        let at = cx.place_of(&cx.body.expect);
        let ends_at = |path: &str| reaches(url, expect.final_url.as_deref(), path);
        if expect.body_kept.is_some() {
            if cx.body.body.is_none() {
                self.error(
                    &at,
                    "`body_kept` needs a request `body:`",
                    Some("e.g. body: order=1".into()),
                );
                return None;
            }
            if !ends_at("/echo") {
                self.error(
                    &at,
                    "`body_kept` is shown by the agent's /echo only, and this request does not end there",
                    Some("aim at /echo, or at /redirect/<code>?to=/echo".into()),
                );
                return None;
            }
        }
        if expect.session.is_some() && !ends_at("/session/") {
            self.error(
                &at,
                "`session` is shown by the agent's /session/ paths only, and this request does not end there",
                Some("log in with POST /session/login, which redirects to /session/whoami".into()),
            );
            return None;
        }
        Some(())
    }

    pub(super) fn http_expect(&mut self, cx: &CheckCx) -> Option<HttpExpect> {
        const KEYS: &[&str] = &[
            "status",
            "redirects",
            "final_url",
            "final_method",
            "body_kept",
            "from_node",
            "session",
            "plaintext",
        ];
        let Some(e) = &cx.body.expect else {
            self.error(
                &cx.kind.referenced,
                "http check needs `expect`",
                Some(format!("a map of: {}", KEYS.join(", "))),
            );
            return None;
        };
        let RawExpect::Map(fields) = &e.value else {
            self.error(
                &e.referenced,
                "an http check expects a map",
                Some("e.g. expect: { status: 200, redirects: [303], final_method: GET }".into()),
            );
            return None;
        };
        let mut out = HttpExpect::default();
        let mut ok = !fields.is_empty();
        if fields.is_empty() {
            self.error(
                &e.referenced,
                "an empty expectation checks nothing",
                Some(format!("one of: {}", KEYS.join(", "))),
            );
        }
        let status = |v: &serde_json::Value| {
            v.as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| (100..=999).contains(n))
        };
        for (key, value) in fields {
            let mut bad = |v: &mut Self, what: &str| {
                v.error(
                    &key.referenced,
                    format!("`{}` expects {what}, not {value}", key.value),
                    None,
                );
                ok = false;
            };
            match key.value.as_str() {
                "status" => match status(value) {
                    Some(s) => out.status = Some(s),
                    None => bad(self, "a status code"),
                },
                "redirects" => match value
                    .as_array()
                    .map(|a| a.iter().map(status).collect::<Option<Vec<u16>>>())
                {
                    Some(Some(codes)) => out.redirects = Some(codes),
                    _ => bad(self, "a list of status codes, e.g. [301, 307]"),
                },
                "final_url" => match value.as_str() {
                    Some(s) => out.final_url = Some(s.to_owned()),
                    None => bad(self, "a URL or a path"),
                },
                "final_method" => match value.as_str() {
                    Some(s) => out.final_method = Some(s.to_ascii_uppercase()),
                    None => bad(self, "a method"),
                },
                "from_node" => match value.as_str() {
                    Some(s) if cx.nodes.contains_key(s) => out.from_node = Some(s.to_owned()),
                    Some(s) => {
                        self.error(
                            &key.referenced,
                            format!("undefined node `{s}`"),
                            did_you_mean(s, cx.nodes.keys().map(String::as_str)),
                        );
                        ok = false;
                    }
                    None => bad(self, "a node name"),
                },
                "body_kept" => match value.as_bool() {
                    Some(b) => out.body_kept = Some(b),
                    None => bad(self, "true or false"),
                },
                "session" => match value.as_bool() {
                    Some(b) => out.session = Some(b),
                    None => bad(self, "true or false"),
                },
                "plaintext" => match value.as_bool() {
                    Some(b) => out.plaintext = Some(b),
                    None => bad(self, "true or false"),
                },
                other => {
                    self.error(
                        &key.referenced,
                        format!("unknown http expectation `{other}`"),
                        did_you_mean(other, KEYS.iter().copied())
                            .or_else(|| Some(format!("one of: {}", KEYS.join(", ")))),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// `egress: { node, expect: none | routed }`: whether the node has a
    /// route out, read from its own routing decision (nothing is sent).
    pub(super) fn egress_check(&mut self, cx: &CheckCx) -> Option<CheckKind> {
        let node = self
            .required(cx, &cx.body.node, "node")
            .and_then(|n| self.node_ref(cx, n));
        let expect = self.expect_word(cx, &["none", "routed"]);
        let (node, expect) = (node?, expect?);
        Some(CheckKind::Egress {
            node: node.name.clone(),
            expect: if expect == "none" {
                EgressExpect::None
            } else {
                EgressExpect::Routed
            },
        })
    }

    pub(super) fn mtu_check(&mut self, cx: &CheckCx) -> Option<CheckKind> {
        let node = self
            .required(cx, &cx.body.node, "node")
            .and_then(|n| self.node_ref(cx, n));
        let network = self.required(cx, &cx.body.network, "network");
        let expect = match &cx.body.expect {
            Some(e) => match &e.value {
                RawExpect::Word(w) => match w.parse::<u32>() {
                    Ok(mtu) if (68..=65535).contains(&mtu) => Some(mtu),
                    _ => {
                        self.error(
                            &e.referenced,
                            format!("`{w}` is not an MTU"),
                            Some("a number of bytes, e.g. 1450".into()),
                        );
                        None
                    }
                },
                _ => {
                    self.error(
                        &e.referenced,
                        "an mtu check expects a number",
                        Some("e.g. expect: 1450".into()),
                    );
                    None
                }
            },
            None => {
                self.error(
                    &cx.kind.referenced,
                    "mtu check needs `expect`",
                    Some("the MTU in bytes, e.g. 1450".into()),
                );
                None
            }
        };
        let (node, network, expect) = (node?, network?, expect?);
        self.lab_network(cx, network)?;
        if !node.is_on(&network.value) {
            self.error(
                &network.referenced,
                format!("node `{}` is not on network `{}`", node.name, network.value),
                None,
            );
            return None;
        }
        // With `to`, the path to that node on the same network is measured.
        let to = match &cx.body.to {
            None => None,
            Some(t) => {
                let target = self.node_ref(cx, t)?;
                if !target.is_on(&network.value) {
                    self.error(
                        &t.referenced,
                        format!(
                            "node `{}` is not on network `{}`",
                            target.name, network.value
                        ),
                        Some(
                            "the path is measured on that network, to that node's address there"
                                .into(),
                        ),
                    );
                    return None;
                }
                Some(target.name.clone())
            }
        };
        Some(CheckKind::Mtu {
            node: node.name.clone(),
            network: network.value.clone(),
            to,
            expect,
        })
    }

    /// `link`: the link layer from a node to a peer on one network, both
    /// on it: the MAC address the peer is reached at, and whether ARP is
    /// spoken.
    pub(super) fn link_check(&mut self, cx: &CheckCx) -> Option<CheckKind> {
        let node = self
            .required(cx, &cx.body.node, "node")
            .and_then(|n| self.node_ref(cx, n));
        let network = self.required(cx, &cx.body.network, "network");
        let to = self
            .required(cx, &cx.body.to, "to")
            .and_then(|t| self.node_ref(cx, t).map(|n| (t, n)));
        let hint = || Some(format!("one of: {}", LinkExpect::WORDS.join(", ")));
        let expect = match &cx.body.expect {
            Some(e) => match &e.value {
                RawExpect::Word(w) => match LinkExpect::parse(w) {
                    Some(x) => Some(x),
                    None => {
                        self.error(
                            &e.referenced,
                            format!("`{w}` is not what a link check expects"),
                            did_you_mean(w, LinkExpect::WORDS).or_else(hint),
                        );
                        None
                    }
                },
                _ => {
                    self.error(&e.referenced, "a link check expects one word", hint());
                    None
                }
            },
            None => {
                self.error(&cx.kind.referenced, "link check needs `expect`", hint());
                None
            }
        };
        let (node, network, (to_span, to), expect) = (node?, network?, to?, expect?);
        self.lab_network(cx, network)?;
        for (n, at) in [(node, &network.referenced), (to, &to_span.referenced)] {
            if !n.is_on(&network.value) {
                self.error(
                    at,
                    format!("node `{}` is not on network `{}`", n.name, network.value),
                    Some("a link check looks at one network, which both nodes are on".into()),
                );
                return None;
            }
        }
        if node.name == to.name {
            self.error(
                &to_span.referenced,
                format!("a link check looks from `{}` to another node", node.name),
                None,
            );
            return None;
        }
        Some(CheckKind::Link {
            node: node.name.clone(),
            network: network.value.clone(),
            to: to.name.clone(),
            expect,
        })
    }

    /// `tcp` with `connections:`: a name (a node or an alias), resolved in
    /// the node for each connection.
    pub(super) fn spread_check(&mut self, cx: &CheckCx) -> Option<CheckKind> {
        let from = match self.source_of(cx, false)? {
            Source::Node(n) => n,
            Source::Host(_) => return None,
        };
        let connections = cx.body.connections.as_ref().and_then(|c| {
            if (1..=1000).contains(&c.value) {
                Some(c.value)
            } else {
                self.error(
                    &c.referenced,
                    format!("{} connections is out of range", c.value),
                    Some("between 1 and 1000".into()),
                );
                None
            }
        });
        let target = self.required(cx, &cx.body.to, "to").and_then(|to| {
            let (name, port) = to.value.rsplit_once(':').or_else(|| {
                self.error(&to.referenced, format!("target `{}` has no port", to.value), Some(format!("write it as {}:PORT", to.value)));
                None
            })?;
            let port = port.parse::<u16>().ok().filter(|p| *p != 0).or_else(|| {
                self.error(&to.referenced, format!("`{port}` is not a port number"), None);
                None
            })?;
            let known = cx.nodes.contains_key(name)
                || cx.nodes.values().any(|n| n.networks().any(|a| a.aliases.iter().any(|al| al == name)));
            if !known {
                self.error(
                    &to.referenced,
                    format!("`{name}` is neither a node nor an alias of the lab"),
                    Some("with `connections`, `to` is NAME:PORT and the name is resolved in the node for each connection".into()),
                );
                return None;
            }
            Some((name.to_owned(), port))
        });
        let expect = self.expect_word(cx, &["open", "spread"]);
        let ((name, port), connections, expect) = (target?, connections?, expect?);
        Some(CheckKind::Spread {
            from,
            name,
            port,
            connections,
            expect: if expect == "spread" {
                SpreadExpect::Spread
            } else {
                SpreadExpect::Open
            },
        })
    }

    pub(super) fn port_check(&mut self, cx: &CheckCx) -> Option<CheckKind> {
        let node = self
            .required(cx, &cx.body.node, "node")
            .and_then(|n| self.node_ref(cx, n).map(|node| (n, node)));
        let port = match &cx.body.port {
            None => {
                self.error(
                    &cx.kind.referenced,
                    "port check needs `port`",
                    Some("e.g. port: 80 or port: 53/udp".into()),
                );
                None
            }
            Some(p) => {
                let (number, transport) = match p.value.0.split_once('/') {
                    Some((n, "tcp")) => (n, Some(Transport::Tcp)),
                    Some((n, "udp")) => (n, Some(Transport::Udp)),
                    Some((_, other)) => {
                        self.error(
                            &p.referenced,
                            format!("unknown protocol `{other}`"),
                            Some("tcp or udp".into()),
                        );
                        ("", None)
                    }
                    None => (p.value.0.as_str(), Some(Transport::Tcp)),
                };
                match (number.parse::<u16>().ok().filter(|n| *n != 0), transport) {
                    (Some(n), Some(t)) => Some((n, t)),
                    (None, Some(_)) => {
                        self.error(
                            &p.referenced,
                            format!("`{}` is not a port", p.value),
                            Some("e.g. 80 or 53/udp".into()),
                        );
                        None
                    }
                    _ => None,
                }
            }
        };
        let host_ip = cx.body.host_ip.as_ref().and_then(|ip| {
            let parsed = IpAddr::from_str(&ip.value)
                .map_err(|_| {
                    self.error(
                        &ip.referenced,
                        format!("`{}` is not an IP address", ip.value),
                        None,
                    )
                })
                .ok()?;
            if let Some(why) = super::space::not_one_host(parsed) {
                self.error(
                    &ip.referenced,
                    format!("host_ip {parsed} is no host's address: {why}"),
                    Some("a port is published on 0.0.0.0, loopback or one address of the Docker host".into()),
                );
                return None;
            }
            Some(parsed)
        });
        let expect = self.expect_word(cx, &["published", "unpublished"]);
        let ((node_span, node), (port, transport), expect) = (node?, port?, expect?);
        let expect = if expect == "published" {
            PortExpect::Published
        } else {
            PortExpect::Unpublished
        };
        if expect == PortExpect::Published {
            self.require_identity(node, &node_span.referenced, "published", false);
        }
        Some(CheckKind::Port {
            node: node.name.clone(),
            host: cx.hosts.is_multi().then(|| node.host.clone()),
            port,
            transport,
            host_ip,
            host_port: cx.body.host_port.as_ref().map(|h| h.value),
            expect,
        })
    }
}

/// Whether a request to `url` ends at a path starting with `path`: the URL's
/// own path, the `to` of an agent redirect (default /echo), or the expected
/// final URL.
fn reaches(url: &str, final_url: Option<&str>, path: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let own = parsed.path();
    let redirect_to = own.starts_with("/redirect/").then(|| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == "to")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| "/echo".into())
    });
    let path_of = |u: &str| {
        url::Url::parse(u)
            .map(|p| p.path().to_owned())
            .unwrap_or_else(|_| u.split('?').next().unwrap_or_default().to_owned())
    };
    own.starts_with(path)
        || redirect_to.is_some_and(|t| path_of(&t).starts_with(path))
        || final_url.is_some_and(|f| path_of(f).starts_with(path))
}
