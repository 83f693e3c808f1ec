//! The labs that ship inside the binary, so `netlab run bridge-basic` works
//! from any directory and from an installed `netlab`.

/// (name, YAML text), in the order `netlab labs` lists them.
const LABS: &[(&str, &str)] = &[
    ("bridge-basic", include_str!("../../labs/bridge-basic.yaml")),
    (
        "bridge-isolation",
        include_str!("../../labs/bridge-isolation.yaml"),
    ),
    ("port-mapping", include_str!("../../labs/port-mapping.yaml")),
    ("host-network", include_str!("../../labs/host-network.yaml")),
    (
        "overlay-basic",
        include_str!("../../labs/overlay-basic.yaml"),
    ),
    (
        "dns-round-robin",
        include_str!("../../labs/dns-round-robin.yaml"),
    ),
    (
        "https-redirect",
        include_str!("../../labs/https-redirect.yaml"),
    ),
    (
        "https-on-the-wire",
        include_str!("../../labs/https-on-the-wire.yaml"),
    ),
    ("segmentation", include_str!("../../labs/segmentation.yaml")),
    (
        "dns-follows-change",
        include_str!("../../labs/dns-follows-change.yaml"),
    ),
    (
        "impaired-link",
        include_str!("../../labs/impaired-link.yaml"),
    ),
    (
        "overlay-multihost",
        include_str!("../../labs/overlay-multihost.yaml"),
    ),
    ("dual-stack", include_str!("../../labs/dual-stack.yaml")),
    ("ipv6-only", include_str!("../../labs/ipv6-only.yaml")),
    (
        "standalone-default-bridge",
        include_str!("../../labs/standalone-default-bridge.yaml"),
    ),
    (
        "standalone-user-bridge",
        include_str!("../../labs/standalone-user-bridge.yaml"),
    ),
    (
        "macvlan-basic",
        include_str!("../../labs/macvlan-basic.yaml"),
    ),
    (
        "macvlan-tutorial",
        include_str!("../../labs/macvlan-tutorial.yaml"),
    ),
    ("ipvlan-l2", include_str!("../../labs/ipvlan-l2.yaml")),
    ("ipvlan-l3", include_str!("../../labs/ipvlan-l3.yaml")),
    (
        "ipvlan-l3-routed",
        include_str!("../../labs/ipvlan-l3-routed.yaml"),
    ),
    (
        "ipvlan-l3-dual-stack",
        include_str!("../../labs/ipvlan-l3-dual-stack.yaml"),
    ),
    ("sidecar", include_str!("../../labs/sidecar.yaml")),
];

pub fn names() -> Vec<&'static str> {
    LABS.iter().map(|(n, _)| *n).collect()
}

pub fn get(name: &str) -> Option<&'static str> {
    LABS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

pub fn all() -> impl Iterator<Item = (&'static str, &'static str)> {
    LABS.iter().copied()
}
