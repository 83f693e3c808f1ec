//! How a check is put into words, in one place: the title a check gets when
//! the lab file gives none (`tcp client → web:7000 is open`), and what it aims
//! at and expects, as the JSON and JUnit reports show them.

use std::net::SocketAddr;

use super::model::*;

impl CheckKind {
    /// The title of a check without `name:`.
    pub fn default_title(&self) -> String {
        let kind = self.kind_name();
        match self {
            CheckKind::Dns {
                from,
                name,
                expect,
                record,
            } => {
                let asked = match record {
                    RecordType::A => "",
                    RecordType::Aaaa => " AAAA",
                };
                // A node called `host` is written `service:host`.
                let from = super::model::Source::Node(from.clone());
                format!(
                    "{kind} {from} → {name}{asked} is {}",
                    dns_words(expect, ",")
                )
            }
            CheckKind::Http { from, .. } => format!("{kind} {from} {}", self.target_words()),
            CheckKind::Port {
                node,
                port,
                transport,
                ..
            } => format!(
                "{kind} {node} {port}/{} is {}",
                transport.as_str(),
                self.expectation_words()
            ),
            CheckKind::Mtu {
                node,
                network,
                to: None,
                expect,
            } => format!("{kind} {node} on {network} is {expect}"),
            CheckKind::Mtu {
                node,
                network,
                to: Some(to),
                expect,
            } => format!("{kind} {node} → {to} on {network} is {expect}"),
            CheckKind::Link {
                node,
                network,
                to,
                expect,
            } => format!("{kind} {node} → {to} on {network} is {}", expect.as_str()),
            CheckKind::Matrix(m) => match &m.title {
                Some(t) => format!("{kind} {t} on {}", self.target_words()),
                None => format!("{kind} on {}", self.target_words()),
            },
            CheckKind::Latency { echo, expect } => {
                format!("{kind} {} → {}: {expect}", echo.from, echo.target_words())
            }
            CheckKind::Egress { node, expect } => match expect {
                EgressExpect::None => format!("{kind} {node} has no route out"),
                EgressExpect::Routed => format!("{kind} {node} has a route out"),
            },
            _ => format!(
                "{kind} {} → {} is {}",
                self.source(),
                self.target_words(),
                self.expectation_words()
            ),
        }
    }

    /// What the check aims at, in the lab file's words (`web:7000`).
    pub fn target_words(&self) -> String {
        match self {
            CheckKind::Dns { name, .. } => name.clone(),
            CheckKind::Tcp { to, .. } | CheckKind::Udp { to, .. } => to.to_string(),
            CheckKind::Tls { to, name, .. } => format!("{to} as {name}"),
            CheckKind::Http { url, method, .. } => format!("{method} {url}"),
            CheckKind::Spread {
                name,
                port,
                connections,
                ..
            } => format!("{name}:{port} ×{connections}"),
            CheckKind::Mtu {
                node, network, to, ..
            } => match to {
                Some(to) => format!("{node} → {to}@{network}"),
                None => format!("{node}@{network}"),
            },
            CheckKind::Link {
                node, network, to, ..
            } => format!("{node} → {to}@{network}"),
            CheckKind::Port { node, .. } => format!("{node} {}", self.port_words()),
            CheckKind::Matrix(m) => match m.transport {
                Transport::Tcp => m.port.to_string(),
                Transport::Udp => format!("{}/udp", m.port),
            },
            CheckKind::Latency { echo, .. } | CheckKind::Loss { echo, .. } => echo.target_words(),
            CheckKind::Egress { .. } => "outside".into(),
        }
    }

    /// What the check expects, in words (`open`, `[web, www]`, `{status: 200}`).
    pub fn expectation_words(&self) -> String {
        match self {
            CheckKind::Dns { expect, .. } => match expect {
                DnsExpect::Exactly(_) => format!("[{}]", dns_words(expect, ", ")),
                _ => dns_words(expect, ", "),
            },
            CheckKind::Tcp { expect, .. } => word(expect),
            CheckKind::Udp { expect, .. } => word(expect),
            CheckKind::Spread { expect, .. } => word(expect),
            CheckKind::Port { expect, .. } => word(expect),
            CheckKind::Tls { expect, .. } => expect.as_str().to_owned(),
            CheckKind::Http { expect, .. } => http_expect_words(expect),
            CheckKind::Mtu { expect, .. } => expect.to_string(),
            CheckKind::Link { expect, .. } => expect.as_str().to_owned(),
            CheckKind::Matrix(m) => format!("{} cells", m.cells.len()),
            CheckKind::Latency { expect, .. } => expect.to_string(),
            CheckKind::Loss { expect, .. } => super::measure::percent_range_words(expect),
            CheckKind::Egress { expect, .. } => expect.as_str().to_owned(),
        }
    }

    /// The mapping a `port` check asks about: `80/tcp on 127.0.0.1:8080`
    /// (empty for other kinds).
    pub fn port_words(&self) -> String {
        let CheckKind::Port {
            port,
            transport,
            host_ip,
            host_port,
            ..
        } = self
        else {
            return String::new();
        };
        let host = match (host_ip, host_port) {
            (Some(ip), Some(p)) => format!(" on {}", SocketAddr::new(*ip, *p)),
            (Some(ip), None) => format!(" on {ip}"),
            (None, Some(p)) => format!(" on host port {p}"),
            (None, None) => String::new(),
        };
        format!("{port}/{}{host}", transport.as_str())
    }
}

/// `open`, `blocked`, `spread`, `published`: an expectation's own name.
fn word(e: &dyn std::fmt::Debug) -> String {
    format!("{e:?}").to_lowercase()
}

fn dns_words(expect: &DnsExpect, separator: &str) -> String {
    match expect {
        DnsExpect::Resolves => "resolves".into(),
        DnsExpect::Unresolved => "unresolved".into(),
        DnsExpect::Exactly(list) => list
            .iter()
            .map(|a| match a {
                DnsAnswer::Node(n) => n.clone(),
                DnsAnswer::Ip(ip) => ip.to_string(),
            })
            .collect::<Vec<_>>()
            .join(separator),
    }
}

/// `{status: 200, redirects: [303], final_method: GET}`
pub fn http_expect_words(e: &HttpExpect) -> String {
    let mut parts = Vec::new();
    if let Some(s) = e.status {
        parts.push(format!("status: {s}"));
    }
    if let Some(r) = &e.redirects {
        parts.push(format!("redirects: {r:?}"));
    }
    if let Some(u) = &e.final_url {
        parts.push(format!("final_url: {u}"));
    }
    if let Some(m) = &e.final_method {
        parts.push(format!("final_method: {m}"));
    }
    if let Some(b) = e.body_kept {
        parts.push(format!("body_kept: {b}"));
    }
    if let Some(n) = &e.from_node {
        parts.push(format!("from_node: {n}"));
    }
    if let Some(s) = e.session {
        parts.push(format!("session: {s}"));
    }
    if let Some(p) = e.plaintext {
        parts.push(format!("plaintext: {p}"));
    }
    format!("{{{}}}", parts.join(", "))
}

/// `over IPv6`, `over IPv4 and IPv6`: the family a title names.
pub fn over(family: Family) -> String {
    let names: Vec<&str> = family.members().iter().map(|f| f.name()).collect();
    format!("over {}", names.join(" and "))
}
