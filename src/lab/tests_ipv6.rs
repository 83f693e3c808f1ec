//! Unit tests of what IPv6 adds to the lab file: address and port
//! notation, a network's families, static IPv6 addresses, a check's
//! `family:` and `requires:`, each rule with its message and place.

use super::reach::{Verdict, address_verdict, default_family};
use super::tests::{errors, load_str, one_error, valid};
use super::*;

const DUAL: &str = "networks:\n  front: { ipv6: true, subnet6: \"fd0e:1ab:1::/64\" }\n  back: { ipv6: true }\n  plain: {}\n  only6: { ipv6: true, ipv4: false }\nnodes:\n  web:\n    networks: { front: { ipv6: \"fd0e:1ab:1::10\" } }\n    serve: [tcp:7000, udp:7001, http:80]\n  client:\n    networks: [front, plain]\n  old:\n    networks: [plain]\n  six:\n    networks: [only6]\n    serve: [tcp:7000]\n";

fn with_checks(checks: &str) -> String {
    format!("{DUAL}checks:\n{checks}")
}

fn messages(yaml: &str) -> Vec<String> {
    errors(yaml).into_iter().map(|(_, _, m)| m).collect()
}

#[test]
fn addresses_and_ports_in_ipv6_notation() {
    use notation::{parse_port_mapping as mapping, parse_target as target};
    let m = mapping("[::1]:8080:80").expect("valid");
    assert_eq!(
        (m.host_ip, m.host_ports, m.container_ports),
        (
            Some("::1".parse().expect("ip")),
            Some(PortRange::single(8080)),
            PortRange::single(80)
        )
    );
    let m = mapping("[fd0e:1ab:1::1]::443/udp").expect("valid");
    assert_eq!(
        (m.host_ip, m.host_ports, m.transport),
        (
            Some("fd0e:1ab:1::1".parse().expect("ip")),
            None,
            Transport::Udp
        )
    );
    assert_eq!(
        mapping("::1:8080:80").expect_err("unbracketed"),
        "an IPv6 host address is written in brackets, e.g. \"[::1]:8080:80\""
    );
    assert!(mapping("[::1:8080:80").is_err(), "unclosed");
    assert!(mapping("[nonsense]:8080:80").is_err());

    // `[fd00::1]:7000` only as notation: the machine's router is never a
    // target of a probe here.
    let t = target("[fd00::1]:7000").expect("valid");
    assert_eq!(t.host, TargetHost::Ip("fd00::1".parse().expect("ip")));
    assert_eq!((t.port, t.to_string().as_str()), (7000, "[fd00::1]:7000"));
    let (msg, hint) = target("fd00::1:7000").expect_err("ambiguous");
    assert_eq!(
        msg,
        "target `fd00::1:7000`: an IPv6 address with a port is written in brackets"
    );
    assert_eq!(hint.as_deref(), Some("write it as [fd00::1]:7000"));
    assert_eq!(
        target("[fd00::1]").expect_err("no port").0,
        "target `[fd00::1]` has no port"
    );
    assert!(target("[fd00::1:7000").is_err(), "unclosed");
    assert!(target("[::1]:0").is_err(), "port 0");
}

#[test]
fn a_dual_stack_lab_reads_its_families_subnets_and_static_addresses() {
    let lab = valid(DUAL);
    let front = &lab.networks["front"];
    assert!(front.ipv4 && front.ipv6);
    assert_eq!(front.subnet6, Some("fd0e:1ab:1::/64".parse().expect("net")));
    let only6 = &lab.networks["only6"];
    assert!(!only6.ipv4 && only6.ipv6);
    assert!(!lab.networks["plain"].ipv6);
    let web = lab.nodes["web"].networks().next().expect("front");
    assert_eq!(web.ipv6, Some("fd0e:1ab:1::10".parse().expect("ip")));
}

#[test]
fn a_lab_without_ipv6_is_stored_as_before() {
    // New fields at their defaults stay out of the record, so the hash of
    // an unchanged network (and so `up` of a lab that is up) is as before.
    let lab =
        valid("networks:\n  front: {}\nnodes:\n  web:\n    networks: { front: { ipv4: null } }\n");
    let text = serde_json::to_string(&lab).expect("json");
    for field in [
        "ipv6",
        "subnet6",
        "gateway6",
        "family",
        "requires",
        "\"ipv4\":true",
    ] {
        assert!(!text.contains(field), "{field} in {text}");
    }
    let back: Lab = serde_json::from_str(&text).expect("reads back");
    assert_eq!(back, lab);
    assert!(back.networks["front"].ipv4, "IPv4 is the default");
}

#[test]
fn network_families_are_checked_with_their_place() {
    let e = errors(
        "networks:\n  a: { ipv6: true, subnet6: \"2001:db8::/64\" }\n  b: { ipv6: true, subnet6: \"fd0e::1/64\" }\n  c: { ipv4: false }\n  d: { subnet6: \"fd0e:2::/64\" }\n  e: { ipv6: true, ipv4: false, subnet: 10.9.0.0/24 }\n  f: { ipv6: true, subnet6: \"fd0e:3::/124\" }\nnodes:\n  web:\n    networks: [a]\n",
    );
    assert_eq!(
        e,
        [
            (
                2,
                29,
                "subnet6 `2001:db8::/64` is not a unique local (ULA) prefix".into()
            ),
            (3, 29, "subnet6 `fd0e::1/64` has host bits set".into()),
            (4, 14, "network `c` would have no address family".into()),
            (5, 17, "`subnet6` needs `ipv6: true` on network `d`".into()),
            (
                6,
                41,
                "`subnet` is IPv4, and network `e` has `ipv4: false`".into()
            ),
            (
                7,
                29,
                "subnet6 `fd0e:3::/124` is too small for containers".into()
            ),
        ]
    );
}

#[test]
fn gateways6_overlaps_and_overlays() {
    let msgs = messages(
        "networks:\n  a: { ipv6: true, subnet6: \"fd0e:1::/64\", gateway6: \"fd0e:2::1\" }\n  b: { ipv6: true, gateway6: \"fd0e:3::1\" }\n  c: { ipv6: true, subnet6: \"fd0e:1::/48\" }\n  d: { driver: overlay, ipv6: true }\nnodes:\n  web:\n    networks: [a]\n",
    );
    assert_eq!(
        msgs,
        [
            "gateway6 fd0e:2::1 is not a usable address in subnet6 fd0e:1::/64",
            "a gateway6 needs a subnet6",
            "subnet6 fd0e:1::/48 of network `c` overlaps the subnet6 of network `a`",
            "netlab makes IPv6 networks as bridges only",
        ]
    );
}

#[test]
fn static_ipv6_addresses_need_an_ipv6_subnet6_and_are_unique() {
    let msgs = messages(
        "networks:\n  a: { ipv6: true, subnet6: \"fd0e:1::/64\" }\n  b: { ipv6: true }\n  c: {}\n  d: { ipv6: true, ipv4: false, subnet6: \"fd0e:4::/64\" }\nnodes:\n  x:\n    networks: { a: { ipv6: \"fd0e:1::10\" } }\n  y:\n    networks: { a: { ipv6: \"fd0e:1::10\" }, b: { ipv6: \"fd0e:2::2\" } }\n  z:\n    networks: { a: { ipv6: \"fd0e:9::1\" }, c: { ipv6: \"fd0e:3::3\" }, d: { ipv4: 10.1.1.1 } }\n",
    );
    assert_eq!(
        msgs,
        [
            "fd0e:1::10 is already the address of node `x`",
            "a static IPv6 address needs a subnet6 on network `b`",
            "fd0e:9::1 is not a usable address in subnet6 fd0e:1::/64 of network `a`",
            "network `c` has no IPv6",
            "network `d` has `ipv4: false`: it gives no IPv4 address",
        ]
    );
}

#[test]
fn a_family_must_fit_what_the_check_aims_at() {
    let msgs = messages(&with_checks(
        "  - tcp: { from: client, to: web:7000, family: v5, expect: open }\n  - tcp: { from: old, to: old:7000, family: v6, expect: open }\n  - tcp: { from: client, to: six:7000, family: v4, expect: blocked }\n  - tcp: { from: host, to: \"127.0.0.1:1\", family: v6, expect: refused }\n  - udp: { from: client, to: \"[fd0e:1ab:1::10]:7001\", family: both, expect: open }\n  - dns: { from: client, name: web, family: v6, expect: resolves }\n  - tcp: { from: client, to: web:7000, connections: 2, family: v6, expect: open }\n",
    ));
    assert_eq!(
        msgs,
        [
            "unknown family `v5`",
            "node `old` has no IPv6 address on a network old would reach it by",
            "node `six` has no IPv4 address on a network client would reach it by",
            "`family: v6` does not fit 127.0.0.1, an IPv4 address",
            "`family: both` does not fit fd0e:1ab:1::10, an IPv6 address",
            "field `family` does not apply to a dns check",
            "`family` does not apply to a tcp check with `connections`",
        ]
    );
}

#[test]
fn a_check_with_a_family_says_it_in_its_title_and_the_default_follows_the_target() {
    let lab = valid(&with_checks(
        "  - tcp: { from: client, to: web:7000, family: both, expect: open }\n  - http: { from: client, url: \"http://web/whoami\", family: v6, expect: { status: 200 } }\n  - tcp: { from: client, to: six:7000, expect: blocked }\n  - dns: { from: client, name: web, type: AAAA, expect: [web] }\n  - matrix:\n      port: 7000\n      family: both\n      expect: |\n        from\\to  web\n        client   .\n",
    ));
    let titles: Vec<&str> = lab.checks.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "tcp client → web:7000 is open over IPv4 and IPv6",
            "http client GET http://web/whoami over IPv6",
            "tcp client → six:7000 is blocked",
            "dns client → web AAAA is web",
            "matrix on 7000 over IPv4 and IPv6",
        ]
    );
    assert_eq!(lab.checks[0].family, Some(Family::Both));
    assert_eq!(lab.checks[2].family, None);
    let topology = lab.topology();
    let node = |n: &str| TargetHost::Node {
        node: n.into(),
        network: None,
    };
    let client = Source::Node("client".into());
    assert_eq!(
        default_family(topology, &client, &node("web")),
        IpFamily::V4
    );
    assert_eq!(
        default_family(topology, &client, &node("six")),
        IpFamily::V6,
        "six has no IPv4 address"
    );
    assert_eq!(
        default_family(
            topology,
            &Source::Host(None),
            &TargetHost::Ip("::1".parse().expect("ip"))
        ),
        IpFamily::V6
    );
}

#[test]
fn requires_names_an_engine_range_or_ip6tables() {
    let lab = valid(&with_checks(
        "  - tcp: { from: client, to: web:7000, family: v6, expect: open, requires: { engine: \">=27\", ip6tables: true } }\n  - dns: { from: client, name: web, expect: resolves, requires: { engine: \"<27\" } }\n",
    ));
    assert_eq!(
        lab.checks[0]
            .requires
            .engine
            .map(|e| e.to_string())
            .as_deref(),
        Some(">=27")
    );
    assert_eq!(lab.checks[0].requires.ip6tables, Some(true));
    assert!(lab.checks[1].requires.ip6tables.is_none());
    let e = errors(&with_checks(
        "  - tcp: { from: client, to: web:7000, expect: open, requires: { engine: \"27\" } }\n  - tcp: { from: client, to: web:7000, expect: open, requires: {} }\n",
    ));
    assert_eq!(
        e.iter().map(|(_, _, m)| m.as_str()).collect::<Vec<_>>(),
        [
            "`27` is not a version range: write `>=VERSION` or `<VERSION`",
            "an empty `requires` requires nothing",
        ]
    );
    assert_eq!((e[0].0, e[0].1), (18, 74));
}

#[test]
fn aaaa_is_asked_only_where_a_network_has_ipv6() {
    assert!(
        load_str(&with_checks(
            "  - dns: { from: client, name: web, type: AAAA, expect: [web] }\n"
        ))
        .is_ok()
    );
    let (_, _, msg) = one_error(
        "networks:\n  front: {}\nnodes:\n  web:\n    networks: [front]\n  client:\n    networks: [front]\nchecks:\n  - dns: { from: client, name: web, type: AAAA, expect: [web] }\n",
    );
    assert!(msg.starts_with("no network of the lab has IPv6"), "{msg}");
}

#[test]
fn an_ipv6_target_outside_the_labs_subnets_is_refused() {
    let declared = "networks:\n  front: { ipv6: true, subnet6: \"fd0e:1ab:1::/64\" }\nnodes:\n  web:\n    networks: [front]\n";
    let lab = valid(declared);
    let topology = lab.topology();
    let at = |ip: &str| address_verdict(topology, ip.parse().expect("ip"));
    assert_eq!(at("fd0e:1ab:1::10"), Verdict::Inside);
    assert_eq!(at("::1"), Verdict::Inside);
    assert!(
        matches!(at("fd00::1"), Verdict::Outside(_)),
        "the machine's router"
    );
    assert!(matches!(at("2001:db8::1"), Verdict::Outside(_)));
    let (_, _, msg) = one_error(&format!(
        "{declared}checks:\n  - tcp: {{ from: web, to: \"[fd00::1]:7000\", expect: blocked }}\n"
    ));
    assert!(
        msg.starts_with("`[fd00::1]:7000` is outside the lab"),
        "{msg}"
    );
    // A subnet6 netlab picks is known only when the lab is up.
    let picked =
        valid("networks:\n  front: { ipv6: true }\nnodes:\n  web:\n    networks: [front]\n");
    assert_eq!(
        address_verdict(picked.topology(), "fd0e:9::1".parse().expect("ip")),
        Verdict::AtRunTime
    );
}
