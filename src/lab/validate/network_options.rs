//! `options:` of a network: the driver options netlab passes to Docker.
//!
//! A lab touches only itself (SPEC, "What a lab may touch"), so only options
//! that shape the lab's own network are taken: its MTU, icc, masquerading,
//! gateway mode, the host address its ports bind to by default, the bridge's
//! own address, the containers' interface names, an overlay's VXLAN ID.
//! Options that adopt, name or trust devices of the host
//! (`com.docker.network.bridge.name` makes Docker take over an existing
//! interface, and remove it on `down`) or that reconfigure Docker's default
//! bridge are refused, each with the list of what is accepted.

use std::net::IpAddr;

use indexmap::IndexMap;

use super::{Validator, closest};
use crate::lab::model::Driver;
use crate::lab::raw::{Scalar, Span};

/// What a value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    Bool,
    /// An MTU.
    Mtu,
    Ip,
    /// A short interface name prefix (`eth`).
    IfacePrefix,
    /// `nat`, `routed` or `isolated`.
    GatewayMode,
    /// Comma-separated VXLAN IDs.
    VxlanIds,
    /// Anything: the option's presence is what counts.
    Any,
    /// `bridge`: the one macvlan mode whose containers reach each other.
    MacvlanMode,
    /// `l2` or `l3`.
    IpvlanMode,
}

struct Accepted {
    key: &'static str,
    bridge: bool,
    overlay: bool,
    value: Value,
    /// The lab file's own field for it, if it has one.
    field: Option<&'static str>,
}

const fn opt(
    key: &'static str,
    bridge: bool,
    overlay: bool,
    value: Value,
    field: Option<&'static str>,
) -> Accepted {
    Accepted {
        key,
        bridge,
        overlay,
        value,
        field,
    }
}

/// Every driver option netlab takes (Docker's bridge and overlay drivers,
/// per network). The ones the lab file has a field for become that field,
/// so the lab's model says what the network is.
const ACCEPTED: &[Accepted] = &[
    opt(
        "com.docker.network.driver.mtu",
        true,
        true,
        Value::Mtu,
        Some("mtu"),
    ),
    opt(
        "com.docker.network.bridge.enable_icc",
        true,
        false,
        Value::Bool,
        Some("icc"),
    ),
    opt(
        "com.docker.network.bridge.enable_ip_masquerade",
        true,
        false,
        Value::Bool,
        None,
    ),
    opt(
        "com.docker.network.bridge.gateway_mode_ipv4",
        true,
        false,
        Value::GatewayMode,
        None,
    ),
    opt(
        "com.docker.network.bridge.gateway_mode_ipv6",
        true,
        false,
        Value::GatewayMode,
        None,
    ),
    opt(
        "com.docker.network.bridge.host_binding_ipv4",
        true,
        false,
        Value::Ip,
        None,
    ),
    opt(
        "com.docker.network.bridge.inhibit_ipv4",
        true,
        false,
        Value::Bool,
        None,
    ),
    opt(
        "com.docker.network.container_iface_prefix",
        true,
        true,
        Value::IfacePrefix,
        None,
    ),
    opt(
        "com.docker.network.driver.overlay.vxlanid_list",
        false,
        true,
        Value::VxlanIds,
        None,
    ),
    opt("encrypted", false, true, Value::Any, Some("encrypted")),
    // macvlan and ipvlan take only these two and the MTU (see `applies`).
    opt("macvlan_mode", false, false, Value::MacvlanMode, None),
    opt("ipvlan_mode", false, false, Value::IpvlanMode, None),
];

/// Whether option `a` applies to a network of that driver. A macvlan or
/// ipvlan network takes its mode and its MTU, and nothing of a bridge's.
fn applies(a: &Accepted, driver: Driver) -> bool {
    match driver {
        Driver::Bridge => a.bridge,
        Driver::Overlay { .. } => a.overlay,
        Driver::Macvlan => matches!(a.key, "macvlan_mode" | "com.docker.network.driver.mtu"),
        Driver::Ipvlan { .. } => matches!(a.key, "ipvlan_mode" | "com.docker.network.driver.mtu"),
    }
}

/// Options refused with a reason of their own.
const REFUSED: &[(&str, &str)] = &[
    (
        "parent",
        "it puts the network's containers on an interface of the Docker host, as sub-interfaces of it; the network field `parent: lab` hangs it off a dummy interface the lab makes and removes, and without either Docker makes a dummy of its own (and the network is internal)",
    ),
    (
        "ipvlan_flag",
        "netlab's ipvlan networks use the default flag (bridge): l2 or l3 is chosen with `ipvlan_mode`",
    ),
    (
        "com.docker.network.bridge.name",
        "it names the Linux bridge on the Docker host: an existing interface of that name is taken over by the lab, and removed with it",
    ),
    (
        "com.docker.network.bridge.trusted_host_interfaces",
        "it lets interfaces of the Docker host reach the lab's containers directly",
    ),
    (
        "com.docker.network.bridge.default_bridge",
        "it makes the network Docker's default bridge",
    ),
];

/// Options that are fields of the lab file too (`icc:`, `mtu:`,
/// `encrypted:`), read from `options:`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Folded {
    pub icc: Option<bool>,
    pub mtu: Option<u32>,
    pub encrypted: Option<bool>,
}

impl Validator {
    /// Checks `options:` of network `network` (driver `driver`): returns
    /// the ones Docker gets as they are, and the ones that are fields of the
    /// lab file (`fields`: those written as fields, which may not be given
    /// twice).
    pub(super) fn network_options(
        &mut self,
        network: &str,
        driver: Driver,
        raw: &IndexMap<Span<String>, Span<Scalar>>,
        fields: &[&str],
    ) -> (IndexMap<String, String>, Folded) {
        let driver_name = driver.docker_name();
        let article = if matches!(driver, Driver::Overlay { .. }) {
            "an"
        } else {
            "a"
        };
        let accepted: Vec<&Accepted> = ACCEPTED.iter().filter(|a| applies(a, driver)).collect();
        let list = || {
            let keys: Vec<&str> = accepted.iter().map(|a| a.key).collect();
            format!(
                "options of {article} {driver_name} network: {}",
                keys.join(", ")
            )
        };
        let mut out = IndexMap::new();
        let mut folded = Folded::default();
        for (key, value) in raw {
            let name = key.value.as_str();
            let Some(known) = accepted.iter().find(|a| a.key == name) else {
                let why = match REFUSED.iter().find(|(k, _)| *k == name) {
                    Some((_, why)) => format!(" ({why})"),
                    None if ACCEPTED.iter().any(|a| a.key == name) => {
                        format!(" (it does not apply to {article} {driver_name} network)")
                    }
                    None => String::new(),
                };
                let hint = match closest(name, accepted.iter().map(|a| a.key)) {
                    Some(c) if !REFUSED.iter().any(|(k, _)| *k == name) => {
                        format!("did you mean `{c}`? netlab takes these {}", list())
                    }
                    _ => format!(
                        "a lab changes only its own network; netlab takes these {}",
                        list()
                    ),
                };
                self.error(
                    &key.referenced,
                    format!("network `{network}`: option `{name}` is not accepted{why}"),
                    Some(hint),
                );
                continue;
            };
            let text = value.value.0.trim();
            if let Some(problem) = value_problem(known.value, text) {
                self.error(
                    &value.referenced,
                    format!("network `{network}`: option `{name}` {problem}"),
                    None,
                );
                continue;
            }
            match known.field {
                Some(field) if fields.contains(&field) => self.error(
                    &key.referenced,
                    format!("network `{network}`: option `{name}` is what `{field}:` sets, and that is given too"),
                    Some(format!("keep `{field}:` and remove the option")),
                ),
                Some("icc") => folded.icc = Some(text == "true"),
                Some("mtu") => folded.mtu = text.parse().ok(),
                Some("encrypted") => folded.encrypted = Some(true),
                _ => {
                    out.insert(name.to_owned(), text.to_owned());
                }
            }
        }
        (out, folded)
    }
}

/// Why `text` is not a value of that kind, or `None` when it is.
fn value_problem(kind: Value, text: &str) -> Option<String> {
    let ok = match kind {
        Value::Bool => matches!(text, "true" | "false"),
        Value::Mtu => text.parse::<u32>().is_ok_and(|m| (68..=65535).contains(&m)),
        // A host binding address names one address of the host (or all).
        Value::Ip => match text.parse::<IpAddr>() {
            Ok(ip) => match super::space::not_one_host(ip) {
                Some(why) => return Some(format!("takes one address of the host: {why}")),
                None => true,
            },
            Err(_) => false,
        },
        Value::IfacePrefix => {
            (1..=10).contains(&text.len())
                && text.starts_with(|c: char| c.is_ascii_lowercase())
                && text
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        }
        Value::GatewayMode => matches!(text, "nat" | "routed" | "isolated"),
        Value::VxlanIds => text.split(',').all(|id| {
            id.trim()
                .parse::<u32>()
                .is_ok_and(|n| (1..(1 << 24)).contains(&n))
        }),
        Value::Any => true,
        Value::MacvlanMode => text == "bridge",
        Value::IpvlanMode => matches!(text, "l2" | "l3"),
    };
    if ok {
        return None;
    }
    Some(match kind {
        Value::Bool => format!("takes `true` or `false`, not `{text}`"),
        Value::Mtu => format!("takes an MTU between 68 and 65535, not `{text}`"),
        Value::Ip => format!("takes an IP address, not `{text}`"),
        Value::IfacePrefix => format!("takes 1-10 of a-z and 0-9 (e.g. `eth`), not `{text}`"),
        Value::GatewayMode => format!("takes `nat`, `routed` or `isolated`, not `{text}`"),
        Value::VxlanIds => {
            format!("takes VXLAN IDs between 1 and 16777215, separated by commas, not `{text}`")
        }
        Value::Any => String::new(),
        Value::MacvlanMode => format!(
            "takes `bridge` (netlab's macvlan networks are in bridge mode, where containers reach each other), not `{text}`"
        ),
        Value::IpvlanMode => format!("takes `l2` or `l3`, not `{text}`"),
    })
}

#[cfg(test)]
mod tests {
    use crate::lab::diagnostic::Severity;
    use crate::lab::{LabError, load_source};

    /// line, column, message, hint
    type Located = (u64, u64, String, String);

    fn diagnostics(yaml: &str) -> Result<Vec<String>, Vec<Located>> {
        match load_source("lab.yaml", yaml.as_bytes(), Some("lab")) {
            Ok(loaded) => Ok(loaded.warnings.iter().map(|w| w.to_string()).collect()),
            Err(LabError::Invalid(report)) => Err(report
                .items
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| {
                    let p = d.pos.expect("located");
                    (
                        p.line,
                        p.column,
                        d.message.clone(),
                        d.hint.clone().unwrap_or_default(),
                    )
                })
                .collect()),
            Err(other) => panic!("{other}"),
        }
    }

    fn lab(driver: &str, options: &str) -> String {
        format!(
            "networks:\n  front:\n    driver: {driver}\n    options:\n{options}nodes:\n  web: {{ networks: [front] }}\n"
        )
    }

    #[test]
    fn an_option_that_adopts_a_host_interface_is_refused_where_it_stands_with_the_accepted_list() {
        let errors = diagnostics(&lab(
            "bridge",
            "      com.docker.network.bridge.name: eth0\n",
        ))
        .expect_err("refused");
        assert_eq!(errors.len(), 1, "{errors:#?}");
        let (line, column, message, hint) = &errors[0];
        assert_eq!((*line, *column), (5, 7));
        assert_eq!(
            message,
            "network `front`: option `com.docker.network.bridge.name` is not accepted (it names the Linux bridge on the Docker host: an existing interface of that name is taken over by the lab, and removed with it)"
        );
        assert!(
            hint.contains("com.docker.network.bridge.enable_ip_masquerade")
                && hint.contains("com.docker.network.bridge.inhibit_ipv4")
                && hint.contains("com.docker.network.bridge.host_binding_ipv4"),
            "{hint}"
        );
        for refused in [
            "com.docker.network.bridge.trusted_host_interfaces: eth0",
            "com.docker.network.bridge.default_bridge: \"true\"",
            "com.docker.network.something: x",
        ] {
            diagnostics(&lab("bridge", &format!("      {refused}\n"))).expect_err(refused);
        }
    }

    #[test]
    fn options_about_the_labs_own_network_are_taken() {
        let ok = diagnostics(&lab(
            "bridge",
            "      com.docker.network.bridge.enable_ip_masquerade: \"false\"\n      com.docker.network.bridge.host_binding_ipv4: 127.0.0.1\n      com.docker.network.bridge.inhibit_ipv4: \"false\"\n      com.docker.network.container_iface_prefix: lab\n      com.docker.network.bridge.gateway_mode_ipv4: routed\n",
        ));
        assert_eq!(ok, Ok(Vec::new()));
        let overlay = diagnostics(&lab(
            "overlay",
            "      com.docker.network.driver.overlay.vxlanid_list: \"4242\"\n",
        ));
        assert_eq!(overlay, Ok(Vec::new()));
    }

    #[test]
    fn an_option_of_the_other_driver_or_with_a_bad_value_is_refused() {
        let errors = diagnostics(&lab(
            "overlay",
            "      com.docker.network.bridge.enable_icc: \"false\"\n",
        ))
        .expect_err("bridge option on an overlay");
        assert!(
            errors[0]
                .2
                .ends_with("(it does not apply to an overlay network)"),
            "{errors:#?}"
        );
        let errors = diagnostics(&lab(
            "bridge",
            "      com.docker.network.bridge.host_binding_ipv4: everywhere\n",
        ))
        .expect_err("bad value");
        assert_eq!(
            (errors[0].0, errors[0].1, errors[0].2.as_str()),
            (
                5,
                52,
                "network `front`: option `com.docker.network.bridge.host_binding_ipv4` takes an IP address, not `everywhere`"
            )
        );
    }

    #[test]
    fn an_option_the_lab_file_has_a_field_for_becomes_that_field_and_may_not_be_given_twice() {
        let yaml = lab(
            "bridge",
            "      com.docker.network.driver.mtu: 1400\n      com.docker.network.bridge.enable_icc: \"false\"\n",
        );
        let loaded = load_source("lab.yaml", yaml.as_bytes(), Some("lab")).expect("valid");
        let front = &loaded.lab.networks["front"];
        assert_eq!((front.mtu, front.icc), (Some(1400), false));
        assert!(front.options.is_empty(), "{:?}", front.options);
        let twice = lab("bridge", "      com.docker.network.driver.mtu: 1400\n").replace(
            "    driver: bridge\n",
            "    driver: bridge\n    mtu: 1400\n",
        );
        let errors = diagnostics(&twice).expect_err("given twice");
        assert_eq!(
            errors[0].2,
            "network `front`: option `com.docker.network.driver.mtu` is what `mtu:` sets, and that is given too"
        );
    }
}
