//! The agent image: built locally from the running netlab executable into a
//! `FROM scratch` image, tagged by the executable's content so a new build of
//! netlab gets a new image and an unchanged one is never rebuilt.

use std::collections::HashMap;

use bollard::query_parameters::{
    BuildImageOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptions,
};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::{Context, Engine, EngineError, Result};
use crate::plan::{AGENT_BINARY_PATH, LABEL_AGENT_IMAGE};

pub const AGENT_REPOSITORY: &str = "netlab/agent";

/// The executable that becomes the agent, and its image tag.
pub struct AgentBinary {
    pub bytes: Vec<u8>,
    pub tag: String,
}

impl AgentBinary {
    pub fn current() -> Result<AgentBinary> {
        let path = std::env::current_exe().ctx(|| "cannot locate the netlab executable".into())?;
        let bytes = std::fs::read(&path).ctx(|| format!("cannot read {}", path.display()))?;
        let digest = Sha256::digest(&bytes);
        let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        Ok(AgentBinary {
            tag: format!("{AGENT_REPOSITORY}:{}-{short}", env!("CARGO_PKG_VERSION")),
            bytes,
        })
    }
}

/// Returns the agent image reference, building it if the engine lacks it.
/// Returns whether it was built, for the summary.
pub async fn ensure_agent_image(engine: &Engine) -> Result<(String, bool)> {
    let binary = AgentBinary::current()?;
    match engine.docker.inspect_image(&binary.tag).await {
        Ok(_) => return Ok((binary.tag, false)),
        Err(e) if super::is_not_found(&e) => {}
        Err(e) => {
            return Err(EngineError::new(
                format!("cannot inspect image {}", binary.tag),
                e,
            ));
        }
    }
    let context =
        build_context(&binary.bytes).ctx(|| "cannot pack the agent build context".into())?;
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&binary.tag)
        .rm(true)
        .forcerm(true)
        .labels(&HashMap::from([(
            LABEL_AGENT_IMAGE.to_owned(),
            "true".to_owned(),
        )]))
        .build();
    let mut stream =
        engine
            .docker
            .build_image(options, None, Some(bollard::body_full(context.into())));
    let mut log = String::new();
    while let Some(item) = stream.next().await {
        let info = item.ctx(|| format!("building the agent image {} failed", binary.tag))?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(EngineError::new(
                format!("building the agent image {} failed", binary.tag),
                anyhow::anyhow!("{err}\n{log}"),
            ));
        }
        if let Some(s) = info.stream {
            log.push_str(&s);
        }
    }
    remove_stale_agent_images(engine, &binary.tag).await;
    Ok((binary.tag, true))
}

/// How many agent images to keep: the current one and the newest others,
/// so two netlab builds used in turn (an installed one and a development
/// one) do not delete each other's image every time.
const AGENT_IMAGES_KEPT: usize = 3;

/// Agent images of older netlab builds beyond the newest few, unless a
/// container still uses them (the engine refuses those, as it should).
/// Best effort: a stale image wastes disk, it breaks nothing.
async fn remove_stale_agent_images(engine: &Engine, current: &str) {
    let options = ListImagesOptionsBuilder::default()
        .filters(&HashMap::from([("label", vec![LABEL_AGENT_IMAGE])]))
        .build();
    let Ok(mut images) = engine.docker.list_images(Some(options)).await else {
        return;
    };
    images.sort_by_key(|i| std::cmp::Reverse(i.created));
    let prefix = format!("{AGENT_REPOSITORY}:");
    // Only images that still carry an older agent tag: an untagged one may
    // be a concurrent `up`'s build whose tag just moved.
    let stale = images.iter().filter(|i| {
        !i.repo_tags.is_empty()
            && i.repo_tags
                .iter()
                .all(|t| t.starts_with(&prefix) && t != current)
    });
    for image in stale.skip(AGENT_IMAGES_KEPT - 1) {
        let _ = engine
            .docker
            .remove_image(&image.id, None::<RemoveImageOptions>, None)
            .await;
    }
}

/// A tar with the Dockerfile and the static netlab executable.
fn build_context(binary: &[u8]) -> std::io::Result<Vec<u8>> {
    let dockerfile = format!(
        "FROM scratch\nCOPY netlab {AGENT_BINARY_PATH}\nENTRYPOINT [\"{AGENT_BINARY_PATH}\"]\n"
    );
    let mut tar = tar::Builder::new(Vec::with_capacity(binary.len() + 4096));
    for (name, data, mode) in [
        ("Dockerfile", dockerfile.as_bytes(), 0o644),
        ("netlab", binary, 0o755),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        tar.append_data(&mut header, name, data)?;
    }
    tar.into_inner()
}
