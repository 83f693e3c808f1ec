//! The mutation suite: for every check kind and every expectation it
//! takes, one world in which the expectation is true once (the twin must
//! PASS) and false once (the mutant must FAIL). Both come from one table,
//! so a kind or an expectation without a mutant is a missing row, and the
//! completeness test below names it. The world runs as one lab: one `up`,
//! every twin and mutant probed in parallel, one `down`.
//!
//! docs/mutants.md shows this table; a test keeps the two in step.

mod support;

use support::*;

/// One expectation: what it proves, a check for which it holds in the
/// world, and one for which the network shows the opposite.
struct Row {
    id: &'static str,
    kind: &'static str,
    expectation: &'static str,
    proves: &'static str,
    /// The check, as YAML after `- ` (flow style, or block lines indented
    /// by six spaces after the first), with `TITLE` where its title goes.
    twin: &'static str,
    mutant: &'static str,
    /// Why the mutant is false in the world.
    opposite: &'static str,
}

/// Nodes and networks every row runs in. web answers on front (alias www,
/// dual-stack) and publishes 7000 on loopback (27501), on every address
/// (27502) and on IPv6 loopback (27505), 7001/udp on loopback (27503), and
/// 9999, where nothing listens inside (27504: Docker's proxy completes the
/// handshake for nobody). far is on another bridge, IPv4 only: it has no
/// IPv6 route at all. rogue's certificate comes from a CA nobody trusts.
/// pool-1 and pool-2 share the alias pool.
const WORLD: &str = "\
name: t-mutants
description: Every expectation of every check kind, true once and false once.
networks:
  front: { ipv6: true }
  back: {}
nodes:
  web:
    networks:
      front: { aliases: [www] }
    serve: [tcp:7000, udp:7001, http:80, https:443]
    ports: [\"127.0.0.1:27501:7000\", \"27502:7000\", \"127.0.0.1:27503:7001/udp\", \"127.0.0.1:27504:9999\", \"[::1]:27505:7000\"]
  client:
    networks: [front]
  rogue:
    networks: [front]
    serve: [https:443]
    ca: other
  far:
    networks: [back]
    serve: [tcp:7000, udp:7001]
  pool-1:
    networks:
      front: { aliases: [pool] }
    serve: [tcp:7000]
  pool-2:
    networks:
      front: { aliases: [pool] }
    serve: [tcp:7000]
checks:
";

const ROWS: &[Row] = &[
    Row {
        id: "01",
        kind: "dns",
        expectation: "[nodes]",
        proves: "the name resolves, from the source, to exactly those nodes' addresses on one network the source shares with them (Docker's DNS answers from one network)",
        twin: "dns: { title: TITLE, from: client, name: www, expect: [web] }",
        mutant: "dns: { title: TITLE, from: client, name: www, expect: [client] }",
        opposite: "www is web's alias, not client's",
    },
    Row {
        id: "02",
        kind: "dns",
        expectation: "resolves",
        proves: "some address came back",
        twin: "dns: { title: TITLE, from: client, name: web, expect: resolves }",
        mutant: "dns: { title: TITLE, from: far, name: web, expect: resolves }",
        opposite: "far is on another bridge: Docker's DNS there does not know web",
    },
    Row {
        id: "03",
        kind: "dns",
        expectation: "unresolved",
        proves: "no address came back, and why (NXDOMAIN, SERVFAIL, no resolver reachable, a live resolver that could not forward); a silent resolver proves nothing",
        twin: "dns: { title: TITLE, from: far, name: web, expect: unresolved }",
        mutant: "dns: { title: TITLE, from: client, name: web, expect: unresolved }",
        opposite: "client shares front with web",
    },
    Row {
        id: "04",
        kind: "tcp",
        expectation: "open",
        proves: "the target node itself answered (its agent's greeting names lab, node and host)",
        twin: "tcp: { title: TITLE, from: client, to: web:7000, expect: open }",
        mutant: "tcp: { title: TITLE, from: client, to: web:7002, expect: open }",
        opposite: "nothing listens on 7002: reset",
    },
    Row {
        id: "05",
        kind: "tcp",
        expectation: "open (published port)",
        proves: "the node the engine maps that host port to answered, not Docker's proxy",
        twin: "tcp: { title: TITLE, from: host, to: \"127.0.0.1:27501\", expect: open }",
        mutant: "tcp: { title: TITLE, from: host, to: \"127.0.0.1:27504\", expect: open }",
        opposite: "Docker's proxy completes the handshake on 27504, but nothing listens on 9999 inside web",
    },
    Row {
        id: "06",
        kind: "tcp",
        expectation: "accepts",
        proves: "a TCP handshake completed, and nothing about who completed it",
        twin: "tcp: { title: TITLE, from: host, to: \"127.0.0.1:27504\", expect: accepts }",
        mutant: "tcp: { title: TITLE, from: host, to: \"127.0.0.1:27599\", expect: accepts }",
        opposite: "nothing is bound to 27599 on the host: reset",
    },
    Row {
        id: "07",
        kind: "tcp",
        expectation: "refused",
        proves: "a reset came back: the host is there and nothing listens",
        twin: "tcp: { title: TITLE, from: client, to: web:7002, expect: refused }",
        mutant: "tcp: { title: TITLE, from: client, to: web:7000, expect: refused }",
        opposite: "web listens on 7000",
    },
    Row {
        id: "08",
        kind: "tcp",
        expectation: "blocked",
        proves: "no answer before a real deadline, or an ICMP unreachable",
        twin: "tcp: { title: TITLE, from: client, to: far:7000, expect: blocked }",
        mutant: "tcp: { title: TITLE, from: client, to: web:7000, expect: blocked }",
        opposite: "client and web share front",
    },
    Row {
        id: "09",
        kind: "udp",
        expectation: "open",
        proves: "the target node's agent answered the datagram with its identity",
        twin: "udp: { title: TITLE, from: client, to: web:7001, expect: open }",
        mutant: "udp: { title: TITLE, from: client, to: far:7001, expect: open }",
        opposite: "far is on another bridge",
    },
    Row {
        id: "10",
        kind: "udp",
        expectation: "blocked",
        proves: "no answer before the deadline (datagrams resent meanwhile)",
        twin: "udp: { title: TITLE, from: client, to: far:7001, expect: blocked }",
        mutant: "udp: { title: TITLE, from: client, to: web:7001, expect: blocked }",
        opposite: "client and web share front",
    },
    Row {
        id: "11",
        kind: "port",
        expectation: "published",
        proves: "the engine maps the port as declared and that very node answers there from its host",
        twin: "port: { title: TITLE, node: web, port: 7001/udp, expect: published }",
        mutant: "port: { title: TITLE, node: far, port: 7001/udp, expect: published }",
        opposite: "far publishes nothing",
    },
    Row {
        id: "12",
        kind: "port",
        expectation: "published (host_ip)",
        proves: "the node answers at that host address, through a binding to it or to every address",
        twin: "port: { title: TITLE, node: web, port: 7000, host_ip: 127.0.0.1, host_port: 27502, expect: published }",
        mutant: "port: { title: TITLE, node: web, port: 7001, host_ip: 127.0.0.1, expect: published }",
        opposite: "7001/tcp is not published",
    },
    Row {
        id: "13",
        kind: "port",
        expectation: "unpublished",
        proves: "no mapping exists, and the node does not answer where it would be published",
        twin: "port: { title: TITLE, node: web, port: 443, expect: unpublished }",
        mutant: "port: { title: TITLE, node: web, port: 7000, expect: unpublished }",
        opposite: "7000 is published on 27501 and 27502",
    },
    Row {
        id: "14",
        kind: "port",
        expectation: "unpublished (host_ip)",
        proves: "nothing is bound to that address, an all-address binding included",
        twin: "port: { title: TITLE, node: web, port: 443, host_ip: 127.0.0.1, expect: unpublished }",
        mutant: "port: { title: TITLE, node: web, port: 7000, host_ip: 127.0.0.1, host_port: 27502, expect: unpublished }",
        opposite: "27502 is bound to every address, 127.0.0.1 included",
    },
    Row {
        id: "15",
        kind: "tls",
        expectation: "verified",
        proves: "the handshake completed and the certificate chains to the lab CA and names the server",
        twin: "tls: { title: TITLE, from: client, to: web:443, expect: verified }",
        mutant: "tls: { title: TITLE, from: client, to: rogue:443, expect: verified }",
        opposite: "rogue's certificate comes from another CA",
    },
    Row {
        id: "16",
        kind: "tls",
        expectation: "untrusted",
        proves: "the server's certificate does not chain to a trusted CA",
        twin: "tls: { title: TITLE, from: client, to: rogue:443, expect: untrusted }",
        mutant: "tls: { title: TITLE, from: client, to: web:443, expect: untrusted }",
        opposite: "web's certificate comes from the lab CA",
    },
    Row {
        id: "17",
        kind: "tls",
        expectation: "wrong-name",
        proves: "the certificate is trusted but does not cover the name presented",
        twin: "tls: { title: TITLE, from: client, to: web:443, name: rogue, expect: wrong-name }",
        mutant: "tls: { title: TITLE, from: client, to: web:443, name: www, expect: wrong-name }",
        opposite: "web's certificate names its alias www",
    },
    Row {
        id: "18",
        kind: "tls",
        expectation: "no-tls",
        proves: "the server answered with bytes that are not TLS (a hang-up proves nothing)",
        twin: "tls: { title: TITLE, from: client, to: web:7000, expect: no-tls }",
        mutant: "tls: { title: TITLE, from: host, to: \"127.0.0.1:27504\", name: web, expect: no-tls }",
        opposite: "Docker's proxy hangs up without a byte: no evidence either way",
    },
    Row {
        id: "19",
        kind: "http",
        expectation: "status",
        proves: "the final answer's status",
        twin: "http: { title: TITLE, from: client, url: \"http://web/status/418\", expect: { status: 418 } }",
        mutant: "http: { title: TITLE, from: client, url: \"http://web/status/418\", expect: { status: 200 } }",
        opposite: "/status/418 answers 418",
    },
    Row {
        id: "20",
        kind: "http",
        expectation: "redirects",
        proves: "the status of every redirect hop, in order",
        twin: "http: { title: TITLE, from: client, url: \"http://web/redirect/303?to=/echo\", method: POST, body: a=1, expect: { redirects: [303] } }",
        mutant: "http: { title: TITLE, from: client, url: \"http://web/redirect/303?to=/echo\", method: POST, body: a=1, expect: { redirects: [307] } }",
        opposite: "the hop was a 303",
    },
    Row {
        id: "21",
        kind: "http",
        expectation: "final_url",
        proves: "where the redirects ended",
        twin: "http: { title: TITLE, from: client, url: \"http://web/redirect/301?to=/whoami\", expect: { final_url: /whoami } }",
        mutant: "http: { title: TITLE, from: client, url: \"http://web/redirect/301?to=/whoami\", expect: { final_url: /echo } }",
        opposite: "the redirect leads to /whoami",
    },
    Row {
        id: "22",
        kind: "http",
        expectation: "final_method",
        proves: "the method of the last request (303 turns POST into GET)",
        twin: "http: { title: TITLE, from: client, url: \"http://web/redirect/303?to=/echo\", method: POST, body: a=1, expect: { final_method: GET } }",
        mutant: "http: { title: TITLE, from: client, url: \"http://web/redirect/303?to=/echo\", method: POST, body: a=1, expect: { final_method: POST } }",
        opposite: "303 turns every method but HEAD into GET",
    },
    Row {
        id: "23",
        kind: "http",
        expectation: "body_kept",
        proves: "the request body reached the final /echo (307 and 308 keep it)",
        twin: "http: { title: TITLE, from: client, url: \"http://web/redirect/307?to=/echo\", method: POST, body: a=1, expect: { body_kept: true } }",
        mutant: "http: { title: TITLE, from: client, url: \"http://web/redirect/303?to=/echo\", method: POST, body: a=1, expect: { body_kept: true } }",
        opposite: "303 drops the body",
    },
    Row {
        id: "24",
        kind: "http",
        expectation: "from_node",
        proves: "that very node (lab, node and host) gave the final answer",
        twin: "http: { title: TITLE, from: client, url: \"http://web/whoami\", expect: { from_node: web } }",
        mutant: "http: { title: TITLE, from: client, url: \"http://web/whoami\", expect: { from_node: pool-1 } }",
        opposite: "web answered",
    },
    Row {
        id: "25",
        kind: "http",
        expectation: "session",
        proves: "the session cookie set along the way reached the final answer",
        twin: "http: { title: TITLE, from: client, url: \"https://www/session/login\", method: POST, body: user=ada, expect: { session: true } }",
        mutant: "http: { title: TITLE, from: client, url: \"https://www/session/login\", method: POST, body: user=ada, expect: { session: false } }",
        opposite: "the cookie is kept across the 303",
    },
    Row {
        id: "26",
        kind: "http",
        expectation: "plaintext: true",
        proves: "every request line (and body) crossed the wire readable, seen in the recorded packets",
        twin: "http: { title: TITLE, from: client, url: \"http://web/echo\", method: POST, body: s=1, expect: { plaintext: true } }",
        mutant: "http: { title: TITLE, from: client, url: \"https://web/echo\", method: POST, body: s=1, expect: { plaintext: true } }",
        opposite: "over https the request is encrypted",
    },
    Row {
        id: "27",
        kind: "http",
        expectation: "plaintext: false",
        proves: "no request line or body of any hop crossed readable, in a recording that holds every byte the client sent",
        twin: "http: { title: TITLE, from: client, url: \"https://web/redirect/302?to=https://web/echo\", expect: { plaintext: false } }",
        mutant: "http: { title: TITLE, from: client, url: \"https://web/redirect/302?to=http://web/echo\", expect: { plaintext: false } }",
        opposite: "the second hop goes out over plain http",
    },
    Row {
        id: "28",
        kind: "matrix",
        expectation: ". (open)",
        proves: "the column's node answered (as tcp `open`)",
        twin: "matrix:\n      title: TITLE\n      port: 7000\n      expect: |\n        from\\to  web  far  rogue\n        client   .    x    r",
        mutant: "matrix:\n      title: TITLE\n      port: 7000\n      expect: |\n        from\\to  web  far  rogue\n        client   .    .    r",
        opposite: "far is on another bridge",
    },
    Row {
        id: "29",
        kind: "matrix",
        expectation: "x (blocked)",
        proves: "no answer before the deadline (as tcp `blocked`)",
        twin: "matrix:\n      title: TITLE\n      port: 7000\n      expect: |\n        from\\to  web  far\n        client   .    x",
        mutant: "matrix:\n      title: TITLE\n      port: 7000\n      expect: |\n        from\\to  web  far\n        client   x    x",
        opposite: "client and web share front",
    },
    Row {
        id: "30",
        kind: "matrix",
        expectation: "r (refused)",
        proves: "a reset (as tcp `refused`)",
        twin: "matrix:\n      title: TITLE\n      port: 7000\n      expect: |\n        from\\to  rogue  web\n        client   r      .",
        mutant: "matrix:\n      title: TITLE\n      port: 7000\n      expect: |\n        from\\to  rogue  web\n        client   r      r",
        opposite: "web listens on 7000",
    },
    Row {
        id: "31",
        kind: "mtu",
        expectation: "interface MTU",
        proves: "the MTU of the node's interface on that network",
        twin: "mtu: { title: TITLE, node: web, network: front, expect: 1500 }",
        mutant: "mtu: { title: TITLE, node: web, network: front, expect: 1450 }",
        opposite: "a bridge's interfaces have MTU 1500",
    },
    Row {
        id: "32",
        kind: "mtu",
        expectation: "path MTU (to:)",
        proves: "the largest packet that crossed to the node with Don't Fragment, measured",
        twin: "mtu: { title: TITLE, node: client, network: front, to: web, expect: 1500 }",
        mutant: "mtu: { title: TITLE, node: client, network: front, to: web, expect: 1400 }",
        opposite: "1500-byte packets cross the bridge",
    },
    Row {
        id: "33",
        kind: "tcp connections",
        expectation: "open",
        proves: "every connection to the name was answered by a node that carries it",
        twin: "tcp: { title: TITLE, from: client, to: www:7000, connections: 4, expect: open }",
        mutant: "tcp: { title: TITLE, from: client, to: www:7002, connections: 4, expect: open }",
        opposite: "nothing listens on 7002",
    },
    Row {
        id: "34",
        kind: "tcp connections",
        expectation: "spread",
        proves: "that, and more than one node answered",
        twin: "tcp: { title: TITLE, from: client, to: pool:7000, connections: 16, expect: spread }",
        mutant: "tcp: { title: TITLE, from: client, to: www:7000, connections: 4, expect: spread }",
        opposite: "only web carries www",
    },
    Row {
        id: "35",
        kind: "dns",
        expectation: "[nodes] (AAAA)",
        proves: "the AAAA answers are exactly those nodes' IPv6 addresses on one network they share with the source",
        twin: "dns: { title: TITLE, from: client, name: www, type: AAAA, expect: [web] }",
        mutant: "dns: { title: TITLE, from: client, name: www, type: AAAA, expect: [client] }",
        opposite: "www is web's alias, not client's",
    },
    Row {
        id: "36",
        kind: "dns",
        expectation: "unresolved (AAAA)",
        proves: "no IPv6 address came back, and why",
        twin: "dns: { title: TITLE, from: far, name: web, type: AAAA, expect: unresolved }",
        mutant: "dns: { title: TITLE, from: client, name: web, type: AAAA, expect: unresolved }",
        opposite: "web has an IPv6 address on front, which client shares",
    },
    Row {
        id: "37",
        kind: "tcp",
        expectation: "open (IPv6)",
        proves: "the target node itself answered at its IPv6 address",
        twin: "tcp: { title: TITLE, from: client, to: web:7000, family: v6, expect: open }",
        mutant: "tcp: { title: TITLE, from: client, to: web:7002, family: v6, expect: open }",
        opposite: "nothing listens on 7002: a reset over IPv6 too",
    },
    Row {
        id: "38",
        kind: "tcp",
        expectation: "refused (IPv6)",
        proves: "a reset came back over IPv6",
        twin: "tcp: { title: TITLE, from: client, to: web:7002, family: v6, expect: refused }",
        mutant: "tcp: { title: TITLE, from: client, to: web:7000, family: v6, expect: refused }",
        opposite: "web listens on 7000 in both families",
    },
    Row {
        id: "39",
        kind: "tcp",
        expectation: "blocked (IPv6)",
        proves: "no answer over IPv6 before the deadline, or no route",
        twin: "tcp: { title: TITLE, from: far, to: web:7000, family: v6, expect: blocked }",
        mutant: "tcp: { title: TITLE, from: client, to: web:7000, family: v6, expect: blocked }",
        opposite: "client and web talk over IPv6 on front",
    },
    Row {
        id: "40",
        kind: "tcp",
        expectation: "open (both)",
        proves: "the node answered over IPv4 and over IPv6, each probed",
        twin: "tcp: { title: TITLE, from: client, to: web:7000, family: both, expect: open }",
        mutant: "tcp: { title: TITLE, from: client, to: web:7002, family: both, expect: open }",
        opposite: "nothing listens on 7002, in either family",
    },
    Row {
        id: "41",
        kind: "tcp",
        expectation: "open (host over ::1)",
        proves: "the node behind a port published on ::1 answered from the host over IPv6",
        twin: "tcp: { title: TITLE, from: host, to: \"[::1]:27505\", expect: open }",
        mutant: "tcp: { title: TITLE, from: host, to: \"[::1]:27504\", expect: open }",
        opposite: "27504 is published on 127.0.0.1 only",
    },
    Row {
        id: "42",
        kind: "udp",
        expectation: "open (IPv6)",
        proves: "the target node's agent answered the datagram at its IPv6 address",
        twin: "udp: { title: TITLE, from: client, to: web:7001, family: v6, expect: open }",
        mutant: "udp: { title: TITLE, from: far, to: web:7001, family: v6, expect: open }",
        opposite: "far has no IPv6 route",
    },
    Row {
        id: "43",
        kind: "udp",
        expectation: "blocked (IPv6)",
        proves: "no answer over IPv6 before the deadline, or no route",
        twin: "udp: { title: TITLE, from: far, to: web:7001, family: v6, expect: blocked }",
        mutant: "udp: { title: TITLE, from: client, to: web:7001, family: v6, expect: blocked }",
        opposite: "client and web talk over IPv6 on front",
    },
    Row {
        id: "44",
        kind: "port",
        expectation: "published (::1)",
        proves: "the node answers at the host's IPv6 loopback",
        twin: "port: { title: TITLE, node: web, port: 7000, host_ip: \"::1\", host_port: 27505, expect: published }",
        mutant: "port: { title: TITLE, node: web, port: 7001, host_ip: \"::1\", expect: published }",
        opposite: "7001/tcp is not published",
    },
    Row {
        id: "45",
        kind: "port",
        expectation: "unpublished (::1)",
        proves: "nothing is bound to the IPv6 address, an all-address binding included",
        twin: "port: { title: TITLE, node: web, port: 443, host_ip: \"::1\", expect: unpublished }",
        mutant: "port: { title: TITLE, node: web, port: 7000, host_ip: \"::1\", host_port: 27502, expect: unpublished }",
        opposite: "27502 is bound to every IPv6 address too, ::1 included",
    },
    Row {
        id: "46",
        kind: "http",
        expectation: "from_node (IPv6)",
        proves: "that very node answered the request made to its IPv6 address (the name resolved as AAAA)",
        twin: "http: { title: TITLE, from: client, url: \"http://web/whoami\", family: v6, expect: { from_node: web } }",
        mutant: "http: { title: TITLE, from: client, url: \"http://web/whoami\", family: v6, expect: { from_node: pool-1 } }",
        opposite: "web answered",
    },
    Row {
        id: "47",
        kind: "tls",
        expectation: "verified (IPv6)",
        proves: "the handshake over IPv6 completed on the lab CA and the name presented",
        twin: "tls: { title: TITLE, from: client, to: web:443, family: v6, expect: verified }",
        mutant: "tls: { title: TITLE, from: client, to: rogue:443, family: v6, expect: verified }",
        opposite: "rogue's certificate comes from another CA",
    },
    Row {
        id: "48",
        kind: "matrix",
        expectation: "both families",
        proves: "every cell as expected over IPv4 and over IPv6, each probed",
        twin: "matrix:\n      title: TITLE\n      port: 7000\n      family: both\n      expect: |\n        from\\to  web  rogue\n        client   .    r",
        mutant: "matrix:\n      title: TITLE\n      port: 7000\n      family: both\n      expect: |\n        from\\to  web  rogue\n        client   x    r",
        opposite: "client reaches web on 7000 in both families",
    },
    Row {
        id: "49",
        kind: "latency",
        expectation: "median",
        proves: "the median round trip of the ICMP echo series lies in the range",
        twin: "latency: { title: TITLE, from: client, to: web, expect: { median: ..50ms } }",
        mutant: "latency: { title: TITLE, from: client, to: web, expect: { median: 50ms.. } }",
        opposite: "an unimpaired bridge answers in well under a millisecond",
    },
    Row {
        id: "50",
        kind: "latency",
        expectation: "p95",
        proves: "95% of the round trips took at most its upper end, and the 95th percentile at least its lower end",
        twin: "latency: { title: TITLE, from: host, to: web, expect: { p95: ..500ms } }",
        mutant: "latency: { title: TITLE, from: host, to: web, expect: { p95: 500ms.. } }",
        opposite: "from the host too, web answers in well under a millisecond",
    },
    Row {
        id: "51",
        kind: "latency",
        expectation: "max",
        proves: "the slowest round trip lies in the range",
        twin: "latency: { title: TITLE, from: client, to: web@front, expect: { max: ..1s } }",
        mutant: "latency: { title: TITLE, from: client, to: web@front, expect: { max: 1s.. } }",
        opposite: "no round trip on a bridge takes a second",
    },
    Row {
        id: "52",
        kind: "loss",
        expectation: "range",
        proves: "the share of echo requests that got no reply lies in the range",
        twin: "loss: { title: TITLE, from: client, to: web, count: 100, expect: ..5% }",
        mutant: "loss: { title: TITLE, from: client, to: web, count: 100, expect: 20%..40% }",
        opposite: "an unimpaired bridge loses nothing",
    },
    Row {
        id: "53",
        kind: "tcp",
        expectation: "open (http listener)",
        proves: "the node serving `http:` on the port answered `GET /whoami` on the connection with its identity (a web listener greets nobody)",
        twin: "tcp: { title: TITLE, from: client, to: web:80, expect: open }",
        mutant: "tcp: { title: TITLE, from: client, to: rogue:80, expect: open }",
        opposite: "rogue serves nothing on 80: reset",
    },
    Row {
        id: "54",
        kind: "tcp",
        expectation: "open (https listener)",
        proves: "the node serving `https:` on the port answered `GET /whoami` over TLS on its CA with its identity",
        twin: "tcp: { title: TITLE, from: client, to: web:443, expect: open }",
        mutant: "tcp: { title: TITLE, from: client, to: far:443, expect: open }",
        opposite: "far is on another bridge",
    },
];

/// Every kind and expectation the lab file offers (SPEC's table), each of
/// which must have a row.
const EXPECTATIONS: &[(&str, &str)] = &[
    ("dns", "[nodes]"),
    ("dns", "resolves"),
    ("dns", "unresolved"),
    ("tcp", "open"),
    ("tcp", "open (published port)"),
    ("tcp", "open (http listener)"),
    ("tcp", "open (https listener)"),
    ("tcp", "accepts"),
    ("tcp", "refused"),
    ("tcp", "blocked"),
    ("udp", "open"),
    ("udp", "blocked"),
    ("port", "published"),
    ("port", "published (host_ip)"),
    ("port", "unpublished"),
    ("port", "unpublished (host_ip)"),
    ("tls", "verified"),
    ("tls", "untrusted"),
    ("tls", "wrong-name"),
    ("tls", "no-tls"),
    ("http", "status"),
    ("http", "redirects"),
    ("http", "final_url"),
    ("http", "final_method"),
    ("http", "body_kept"),
    ("http", "from_node"),
    ("http", "session"),
    ("http", "plaintext: true"),
    ("http", "plaintext: false"),
    ("matrix", ". (open)"),
    ("matrix", "x (blocked)"),
    ("matrix", "r (refused)"),
    ("mtu", "interface MTU"),
    ("mtu", "path MTU (to:)"),
    ("tcp connections", "open"),
    ("tcp connections", "spread"),
    ("dns", "[nodes] (AAAA)"),
    ("dns", "unresolved (AAAA)"),
    ("tcp", "open (IPv6)"),
    ("tcp", "refused (IPv6)"),
    ("tcp", "blocked (IPv6)"),
    ("tcp", "open (both)"),
    ("tcp", "open (host over ::1)"),
    ("udp", "open (IPv6)"),
    ("udp", "blocked (IPv6)"),
    ("port", "published (::1)"),
    ("port", "unpublished (::1)"),
    ("http", "from_node (IPv6)"),
    ("tls", "verified (IPv6)"),
    ("matrix", "both families"),
    ("latency", "median"),
    ("latency", "p95"),
    ("latency", "max"),
    ("loss", "range"),
];

fn check(template: &str, title: &str) -> String {
    format!("  - {}\n", template.replace("TITLE", title))
}

/// The world with every twin (`t<id>`) and every mutant (`m<id>`).
fn world() -> String {
    let mut yaml = WORLD.to_owned();
    for row in ROWS {
        yaml.push_str(&check(row.twin, &format!("t{}", row.id)));
        yaml.push_str(&check(row.mutant, &format!("m{}", row.id)));
    }
    yaml
}

#[test]
fn every_kind_and_expectation_has_a_twin_and_a_mutant() {
    for (kind, expectation) in EXPECTATIONS {
        assert!(
            ROWS.iter()
                .any(|r| r.kind == *kind && r.expectation == *expectation),
            "no mutant for {kind} {expectation}: add a row"
        );
    }
    for row in ROWS {
        assert!(
            EXPECTATIONS.contains(&(row.kind, row.expectation)),
            "row {} is not in the list of expectations",
            row.id
        );
        assert_ne!(row.twin, row.mutant, "row {}", row.id);
    }
    let mut ids: Vec<&str> = ROWS.iter().map(|r| r.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), ROWS.len(), "row ids are unique");
}

/// A row's check as docs/mutants.md's table shows it, on one line: no title, a
/// block's lines joined by `; ` (a table cell holds no line break, and a
/// `|` would end the cell).
fn shown(template: &str) -> String {
    template
        .replace("title: TITLE, ", "")
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| l != "title: TITLE")
        .map(|l| l.trim_end_matches(" |").to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn the_docs_show_the_table() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/mutants.md"))
        .expect("docs/mutants.md");
    for row in ROWS {
        let line = format!(
            "| `{}` | `{}` | {} | `{}` | `{}` | {} |",
            row.kind,
            row.expectation,
            row.proves,
            shown(row.twin),
            shown(row.mutant),
            row.opposite
        );
        assert!(
            readme.contains(&line),
            "docs/mutants.md's table lacks (or differs in) the row:\n{line}"
        );
    }
}

#[test]
fn every_twin_passes_and_every_mutant_fails() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml("t-mutants", &world());
    let validate = netlab(&["validate", guard.path()]);
    assert_eq!(validate.status.code(), Some(0), "{}", stderr(&validate));
    let up = netlab(&["up", guard.path()]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    // A twin or mutant the probe could not look at (ERROR) says nothing
    // about PASS and FAIL, which is what this test is about: such a round
    // is shown (on the real stderr, which the harness does not capture, so
    // CI's log keeps it) and verify runs once more. Errors themselves are
    // tests/evidence.rs's subject.
    let mut out = netlab(&["verify", guard.path()]);
    let odd_lines = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("ERROR") || l.starts_with("SKIP"))
            .map(str::to_owned)
            .collect()
    };
    let first = odd_lines(&stdout(&out));
    if !first.is_empty() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "mutants: verify gave no verdict for {} check(s); once more:\n{}\n{}",
            first.len(),
            first.join("\n"),
            stderr(&out)
        );
        out = netlab(&["verify", guard.path()]);
    }
    let down = netlab(&["down", guard.path()]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    let text = stdout(&out);
    // The lines that are neither PASS nor FAIL first: CI shows only the head
    // of a long message.
    assert_eq!(
        out.status.code(),
        Some(1),
        "not PASS or FAIL:\n{}\n\nstderr:\n{}\nstdout:\n{text}",
        odd_lines(&text).join("\n"),
        stderr(&out)
    );
    let line_of = |title: &str| -> &str {
        text.lines()
            .find(|l| l.split_whitespace().any(|w| w == title))
            .unwrap_or_else(|| panic!("no report line for {title}:\n{text}"))
    };
    let mut wrong = Vec::new();
    for row in ROWS {
        let twin = line_of(&format!("t{}", row.id));
        if !twin.starts_with("PASS") {
            wrong.push(format!(
                "twin of {} {} did not pass: {twin}",
                row.kind, row.expectation
            ));
        }
        let mutant = line_of(&format!("m{}", row.id));
        if !mutant.starts_with("FAIL") {
            wrong.push(format!(
                "mutant of {} {} ({}) did not fail: {mutant}",
                row.kind, row.expectation, row.opposite
            ));
        }
    }
    assert!(wrong.is_empty(), "{}\n\nreport:\n{text}", wrong.join("\n"));
    assert!(
        text.ends_with(&format!("{} passed, {} failed\n", ROWS.len(), ROWS.len())),
        "{text}"
    );
    guard.assert_nothing_left();
}
