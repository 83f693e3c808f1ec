//! The lab file's short notations: check targets (`node:port`,
//! `node@network:port`, `ip:port`) and compose-style port mappings
//! (`[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/udp]`, ranges kept as ranges).

use std::net::IpAddr;
use std::str::FromStr;

use super::model::{PortMapping, PortRange, Target, TargetHost, Transport};

/// `node:port`, `node@network:port`, `ip:port`, `[v6]:port`.
pub fn parse_target(s: &str) -> Result<Target, (String, Option<String>)> {
    let no_port = || {
        (
            format!("target `{s}` has no port"),
            Some(format!("write it as {s}:PORT")),
        )
    };
    // `service:NAME:PORT`: a node named as compose names a service.
    let s_all = s;
    let s = super::validate::node_word(s);
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (ip, port) = rest
            .split_once(']')
            .ok_or_else(|| (format!("target `{s}` has an unclosed `[`"), None))?;
        (ip, port.strip_prefix(':').ok_or_else(no_port)?)
    } else {
        let (host, port) = s.rsplit_once(':').ok_or_else(no_port)?;
        // `fd0e::10:7000` is itself an IPv6 address: which part is the
        // port cannot be told, so the address goes in brackets.
        if host.contains(':') {
            return Err((
                format!("target `{s}`: an IPv6 address with a port is written in brackets"),
                Some(format!("write it as [{host}]:{port}")),
            ));
        }
        (host, port)
    };
    let port: u16 = port.parse().ok().filter(|p| *p != 0).ok_or_else(|| {
        (
            format!("`{port}` in target `{s}` is not a port number"),
            Some("a port is 1-65535".into()),
        )
    })?;
    if let Ok(ip) = IpAddr::from_str(host) {
        return Ok(Target {
            host: TargetHost::Ip(ip),
            port,
        });
    }
    let (node, network) = match host.split_once('@') {
        Some((n, net)) => (n, Some(net.to_owned())),
        None => (host, None),
    };
    if node.is_empty() {
        return Err((format!("target `{s_all}` has no node"), None));
    }
    Ok(Target {
        host: TargetHost::Node {
            node: node.to_owned(),
            network,
        },
        port,
    })
}

/// Compose short syntax: `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`,
/// ports may be ranges (`8000-8002:80-82`).
pub fn parse_port_mapping(s: &str) -> Result<PortMapping, String> {
    let (spec, transport) = match s.rsplit_once('/') {
        Some((spec, "tcp")) => (spec, Transport::Tcp),
        Some((spec, "udp")) => (spec, Transport::Udp),
        Some((_, other)) => return Err(format!("unknown protocol `{other}` (tcp or udp)")),
        None => (s, Transport::Tcp),
    };
    let (host_ip, rest) = if let Some(rest) = spec.strip_prefix('[') {
        let (ip, rest) = rest
            .split_once("]:")
            .ok_or("an IPv6 host address is written [ADDR]:PORT:PORT")?;
        (
            Some(IpAddr::from_str(ip).map_err(|_| format!("`{ip}` is not an IP address"))?),
            rest,
        )
    } else {
        let parts: Vec<&str> = spec.split(':').collect();
        match parts.as_slice() {
            [_] | [_, _] => (None, spec),
            // Docker reads an empty address as every address (mailcow's
            // `"${HTTPS_BIND:-}:443:443"`).
            ["", _, _] => (None, &spec[1..]),
            [ip, _, _] => (
                Some(IpAddr::from_str(ip).map_err(|_| format!("`{ip}` is not an IP address"))?),
                &spec[ip.len() + 1..],
            ),
            _ if spec.contains("::") || parts.len() > 4 => {
                return Err(
                    "an IPv6 host address is written in brackets, e.g. \"[::1]:8080:80\"".into(),
                );
            }
            _ => return Err("too many `:`".into()),
        }
    };
    let (host_ports, container_ports) = match rest.split_once(':') {
        Some(("", c)) => (None, parse_range(c)?),
        Some((h, c)) => (Some(parse_range(h)?), parse_range(c)?),
        None => (None, parse_range(rest)?),
    };
    if let Some(h) = host_ports
        && h.len() != container_ports.len()
    {
        return Err(format!(
            "host range {h} and container range {container_ports} differ in length"
        ));
    }
    Ok(PortMapping {
        host_ip,
        host_ports,
        container_ports,
        transport,
    })
}

fn parse_range(s: &str) -> Result<PortRange, String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("`{p}` is not a port number (1-65535)"))
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (first, last) = (port(a)?, port(b)?);
            if first > last {
                return Err(format!("range {s} runs backwards"));
            }
            Ok(PortRange { first, last })
        }
        None => Ok(PortRange::single(port(s)?)),
    }
}
