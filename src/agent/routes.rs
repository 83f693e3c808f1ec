//! The routes and addresses of the network namespace the agent runs in —
//! in a host helper, the Docker host's own — so `up` can refuse a lab
//! subnet that would shadow the host's LAN, its router or a VPN. IPv4 routes
//! of the main table come from `/proc/net/route` (the reader's namespace),
//! addresses with their prefixes from the interfaces.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

use super::protocol::HostRoute;

/// Every IPv4 route of the main table and every IPv4 address (as its
/// network), loopback included; unreadable parts are left out.
pub fn routes() -> Vec<HostRoute> {
    let mut out = std::fs::read_to_string("/proc/net/route")
        .map(|text| parse_proc_route(&text))
        .unwrap_or_default();
    if let Ok(list) = if_addrs::get_if_addrs() {
        for i in list {
            if let if_addrs::IfAddr::V4(v4) = &i.addr
                && let Ok(net) = Ipv4Net::new(v4.ip, v4.prefixlen)
            {
                out.push(HostRoute {
                    destination: IpNet::V4(net),
                    gateway: None,
                    interface: i.name.clone(),
                    address: true,
                });
            }
        }
    }
    out
}

/// `/proc/net/route`: a header line, then `Iface Destination Gateway Flags
/// RefCnt Use Metric Mask …` with addresses as hex of the network-order
/// value read as a native integer.
fn parse_proc_route(text: &str) -> Vec<HostRoute> {
    let address = |hex: &str| -> Option<Ipv4Addr> {
        u32::from_str_radix(hex, 16)
            .ok()
            .map(|v| Ipv4Addr::from(v.to_ne_bytes()))
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (iface, dest, gateway, mask) = (f.first()?, f.get(1)?, f.get(2)?, f.get(7)?);
            let prefix = u32::from(address(mask)?).count_ones() as u8;
            let destination = Ipv4Net::new(address(dest)?, prefix).ok()?.trunc();
            let gateway = address(gateway).filter(|g| !g.is_unspecified());
            Some(HostRoute {
                destination: IpNet::V4(destination),
                gateway: gateway.map(IpAddr::V4),
                interface: (*iface).to_owned(),
                address: false,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_route_reads_as_the_kernel_means_it() {
        // Written as a little-endian machine prints it.
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        if cfg!(target_endian = "big") {
            return;
        }
        let routes = parse_proc_route(text);
        let words: Vec<String> = routes
            .iter()
            .map(|r| format!("{} via {:?} dev {}", r.destination, r.gateway, r.interface))
            .collect();
        assert_eq!(
            words,
            [
                "0.0.0.0/0 via Some(192.0.2.1) dev eth0",
                "192.0.2.0/24 via None dev eth0",
                "172.17.0.0/16 via None dev docker0"
            ]
        );
    }

    #[test]
    fn this_namespace_has_a_loopback_address() {
        assert!(
            routes()
                .iter()
                .any(|r| r.address && r.destination == "127.0.0.1/8".parse::<IpNet>().expect("net"))
        );
    }
}
