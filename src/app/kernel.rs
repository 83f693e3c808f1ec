//! Whether the kernel under each engine has what the lab's network drivers
//! need (macvlan, ipvlan, and the dummy interface Docker makes as their
//! parent): asked by making a throwaway network of that driver, before
//! anything of the lab is created. A kernel without them makes Docker fail
//! with "operation not supported" half-way through `up`; refused first, the
//! lab says which kernel feature the engine lacks.

use std::collections::HashMap;

use bollard::models::NetworkCreateRequest;

use super::Failure;
use super::hosts::Engines;
use crate::engine::refusal::Refusal;
use crate::engine::{Engine, EngineError};
use crate::lab::{Driver, Lab};
use crate::plan::LABEL_ROLE;

/// The kernel features a driver needs, in the words a refusal gives.
fn feature(driver: Driver) -> &'static str {
    match driver {
        Driver::Macvlan => {
            "Linux's macvlan driver (CONFIG_MACVLAN) and dummy interfaces (CONFIG_DUMMY: the parent is a dummy interface)"
        }
        _ => {
            "Linux's ipvlan driver (CONFIG_IPVLAN) and dummy interfaces (CONFIG_DUMMY: the parent is a dummy interface)"
        }
    }
}

/// Exit 2 before anything is made when an engine's kernel cannot make one of
/// the lab's macvlan or ipvlan networks.
pub async fn refuse_missing_drivers(engines: &Engines, lab: &Lab) -> Result<(), Failure> {
    let mut asked: Vec<(&str, &str)> = Vec::new();
    for net in lab.networks.values().filter(|n| n.driver.is_vlan()) {
        let host = lab.host_of_network(&net.name);
        let name = net.driver.docker_name();
        if asked.contains(&(host, name)) {
            continue;
        }
        asked.push((host, name));
        let engine = engines.of(host);
        if let Some(why) = probe(engine, net.driver).await? {
            let on = if lab.is_multi_host() {
                format!(" of host {host}")
            } else {
                String::new()
            };
            return Err(Failure::Usage(format!(
                "lab `{}` needs a kernel with {}: network `{}` is {} {name} network, and the engine{on} (Docker {}) answered \"{}\" when asked to make one; nothing was created\n  (hint: run it on an engine whose kernel has them, e.g. a VM with a distribution's kernel: `harness/engines.sh start NAME vm`)",
                lab.name,
                feature(net.driver),
                net.name,
                if name.starts_with('i') { "an" } else { "a" },
                engine.version,
                crate::text::safe::on_one_line(&why),
            )));
        }
    }
    Ok(())
}

/// Makes and removes a throwaway network of that driver: `Some(message)`
/// when the kernel cannot, `None` when it can.
async fn probe(engine: &Engine, driver: Driver) -> Result<Option<String>, Failure> {
    let name = format!(
        "netlab-probe-{}-{}",
        driver.docker_name(),
        std::process::id()
    );
    let request = NetworkCreateRequest {
        name: name.clone(),
        driver: Some(driver.docker_name().into()),
        labels: Some(HashMap::from([(
            LABEL_ROLE.to_owned(),
            "kernel-probe".to_owned(),
        )])),
        ..Default::default()
    };
    match engine.docker.create_network(request).await {
        Ok(created) => {
            engine
                .docker
                .remove_network(&created.id)
                .await
                .map_err(|e| {
                    EngineError::new(format!("cannot remove the probe network {name}"), e)
                })?;
            Ok(None)
        }
        Err(e) if Refusal::of(&e) == Refusal::KernelLacksFeature => Ok(Some(e.to_string())),
        Err(e) => Err(EngineError::new(
            format!(
                "cannot ask the engine whether its kernel has {} (network {name})",
                driver.docker_name()
            ),
            e,
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_driver_names_its_kernel_feature() {
        assert!(feature(Driver::Macvlan).contains("CONFIG_MACVLAN"));
        assert!(feature(Driver::Ipvlan { l3: true }).contains("CONFIG_IPVLAN"));
    }
}
