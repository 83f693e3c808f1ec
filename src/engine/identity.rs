//! Whether two endpoints are one engine. An engine's ID does not say:
//! Docker 20.10 derives it from `/etc/docker/key.json`, which every VM
//! cloned from one image shares (23+ keeps an engine-id file in the data
//! root, which copies of a data root share too). So endpoints are engines
//! of their own unless proven the same: a volume made through one of them
//! is seen through the other. Volumes need no image and take no address
//! from a pool, and the probe removes its volume again.

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::RemoveVolumeOptionsBuilder;

use super::{Context, Engine, Result};
use crate::plan::LABEL_ROLE;

/// The label value of the probe's volume, so a crashed probe's leftover is
/// recognisable as netlab's.
const ROLE_IDENTITY_PROBE: &str = "identity-probe";

/// Whether `a` and `b` are one engine: a volume made on `a` is listed by
/// `b`.
pub async fn same_engine(a: &Engine, b: &Engine) -> Result<bool> {
    let name = format!(
        "netlab-identity-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let request = VolumeCreateRequest {
        name: Some(name.clone()),
        labels: Some([(LABEL_ROLE.to_owned(), ROLE_IDENTITY_PROBE.to_owned())].into()),
        ..Default::default()
    };
    a.docker
        .create_volume(request)
        .await
        .ctx(|| format!("cannot make a probe volume on {}", a.endpoint.url))?;
    let seen = b.docker.inspect_volume(&name).await;
    let removed = a
        .docker
        .remove_volume(
            &name,
            Some(RemoveVolumeOptionsBuilder::default().force(true).build()),
        )
        .await
        .ctx(|| {
            format!(
                "cannot remove the probe volume {name} on {}",
                a.endpoint.url
            )
        });
    match seen {
        Ok(_) => {
            removed?;
            Ok(true)
        }
        Err(e) if super::refusal::is_not_found(&e) => {
            removed?;
            Ok(false)
        }
        Err(e) => Err(super::EngineError::new(
            format!("cannot look for a probe volume on {}", b.endpoint.url),
            e,
        )),
    }
}

/// Gives every group of endpoints that are one engine one identity (the
/// first one's endpoint), proving it where two report one engine ID.
/// Returns a note for each pair that reports one ID but is two engines.
pub async fn settle(engines: &mut [Engine]) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for i in 0..engines.len() {
        for j in 0..i {
            let (a, b) = (&engines[j], &engines[i]);
            if a.identity == b.identity || a.id.is_empty() || a.id != b.id {
                continue;
            }
            if same_engine(a, b).await? {
                engines[i].identity = engines[j].identity.clone();
            } else {
                notes.push(format!(
                    "{} and {} report one engine ID ({}) but are two engines (a volume made on one is not seen by the other): machines cloned from one image share Docker's key; netlab tells them apart by address",
                    a.endpoint.url,
                    b.endpoint.url,
                    short(&a.id)
                ));
            }
        }
    }
    Ok(notes)
}

fn short(id: &str) -> &str {
    id.get(..19).unwrap_or(id)
}
