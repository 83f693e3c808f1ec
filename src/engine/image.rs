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

/// Agent images of earlier netlab builds, unless a container still uses
/// them (the engine refuses those, which is what we want). Best effort: a
/// stale image wastes disk, it breaks nothing.
async fn remove_stale_agent_images(engine: &Engine, current: &str) {
    let options = ListImagesOptionsBuilder::default()
        .filters(&HashMap::from([("label", vec![LABEL_AGENT_IMAGE])]))
        .build();
    let Ok(images) = engine.docker.list_images(Some(options)).await else {
        return;
    };
    for image in images {
        // Only images that still carry an older agent tag: an untagged one
        // may be a concurrent `up`'s build whose tag just moved, and its
        // layers may be in use by that build right now.
        let older_tag = !image.repo_tags.is_empty()
            && image
                .repo_tags
                .iter()
                .all(|t| t.starts_with(&format!("{AGENT_REPOSITORY}:")) && t != current);
        if !older_tag {
            continue;
        }
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
