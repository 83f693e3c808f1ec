//! A check that carries a payload (tls, udp, http) and would deliver it on
//! a Docker host's own stack to a port the lab does not own there — a
//! loopback port from `host` or a host-mode node, a port a host-mode node
//! does not serve — is refused where the file decides it (SPEC: "What a
//! lab may touch"); a host port Docker picks is left to run time.

use super::Validator;
use super::checks::CheckCx;
use crate::lab::model::*;
use crate::lab::own_ports;
use crate::lab::reach::Verdict;
use crate::loopback;

impl Validator {
    /// Whether the payload of a tls or udp check to `to` stays with the
    /// lab's own ports; reports at `to:` when not.
    pub(super) fn payload_stays(
        &mut self,
        cx: &CheckCx,
        from: &Source,
        to: &Target,
        transport: Transport,
    ) -> bool {
        if self.allow_external {
            return true;
        }
        let why = match &to.host {
            TargetHost::Ip(ip) if loopback::is_loopback(*ip) => {
                match own_ports::loopback_verdict(cx.topology(), from, *ip, to.port, transport) {
                    Verdict::Outside(why) => why,
                    Verdict::Inside | Verdict::AtRunTime => return true,
                }
            }
            TargetHost::Node { node, .. } => {
                match cx
                    .nodes
                    .get(node)
                    .and_then(|n| own_ports::host_mode_refusal(n, to.port, transport))
                {
                    Some(why) => why,
                    None => return true,
                }
            }
            TargetHost::Name(_) | TargetHost::Ip(_) => return true,
        };
        self.outside(&cx.place_of(&cx.body.to), &to.to_string(), &why);
        false
    }

    /// Whether an http check's URL on loopback (an address, or
    /// `localhost`, which may be either family) is a port the lab owns
    /// there, seen from a host's stack; reports at `url:` when not.
    pub(super) fn url_payload_stays(&mut self, cx: &CheckCx, from: &Source, url: &str) -> bool {
        if self.allow_external {
            return true;
        }
        let Ok(parsed) = url::Url::parse(url) else {
            return true;
        };
        let port = parsed.port_or_known_default().unwrap_or(80);
        let ips: Vec<std::net::IpAddr> = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => vec![ip.into()],
            Some(url::Host::Ipv6(ip)) => vec![ip.into()],
            // The family is the run's to decide: refused here only when
            // neither loopback address would do.
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => vec![
                loopback::localhost(IpFamily::V4),
                loopback::localhost(IpFamily::V6),
            ],
            _ => return true,
        };
        let mut refusals = Vec::new();
        for ip in ips.into_iter().filter(|ip| loopback::is_loopback(*ip)) {
            match own_ports::loopback_verdict(cx.topology(), from, ip, port, Transport::Tcp) {
                Verdict::Outside(why) => refusals.push(why),
                Verdict::Inside | Verdict::AtRunTime => return true,
            }
        }
        match refusals.first() {
            Some(why) => {
                self.outside(&cx.place_of(&cx.body.url), url, why);
                false
            }
            None => true,
        }
    }

    /// A udp matrix cell sends a datagram to its column's node: to a node in
    /// host mode, only on a port it serves. Reported, and true, when not.
    pub(super) fn cell_payload_off(
        &mut self,
        cx: &CheckCx,
        from: &Source,
        to: &str,
        port: u16,
        at: Option<crate::lab::diagnostic::Pos>,
    ) -> bool {
        let Some(why) = (!self.allow_external)
            .then(|| cx.nodes.get(to))
            .flatten()
            .and_then(|n| own_ports::host_mode_refusal(n, port, Transport::Udp))
        else {
            return false;
        };
        self.error_at(
            at,
            format!("cell {from} → {to} aims outside the lab: {why}"),
            Some(
                "serve the port on that node, or write `-` in this cell; `--allow-external` lifts this".into(),
            ),
        );
        true
    }
}
