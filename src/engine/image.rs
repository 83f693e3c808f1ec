//! The agent image: built locally from the running netlab executable into a
//! `FROM scratch` image, tagged by the executable's content so a new build of
//! netlab gets a new image and an unchanged one is never rebuilt. A lab on
//! several engines builds it once and copies it to each engine that lacks
//! it (export from one, import into the other, streamed: no registry).

use std::collections::HashMap;

use bollard::query_parameters::{
    BuildImageOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptions,
};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::{Context, Engine, EngineError, Result};
use crate::plan::{AGENT_BINARY_PATH, LABEL_AGENT_IMAGE};

pub const AGENT_REPOSITORY: &str = "netlab/agent";
/// On the agent image: the full SHA-256 (hex) of the executable inside.
pub const LABEL_AGENT_DIGEST: &str = "io.netlab.agent.sha256";

/// The executable that becomes the agent, and its image tag.
pub struct AgentBinary {
    pub bytes: Vec<u8>,
    pub tag: String,
    /// Its full SHA-256, hex.
    pub digest: String,
}

impl AgentBinary {
    pub fn current() -> Result<AgentBinary> {
        let path = std::env::current_exe().ctx(|| "cannot locate the netlab executable".into())?;
        let bytes = std::fs::read(&path).ctx(|| format!("cannot read {}", path.display()))?;
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(AgentBinary {
            tag: format!(
                "{AGENT_REPOSITORY}:{}-{}",
                env!("CARGO_PKG_VERSION"),
                &digest[..12]
            ),
            digest,
            bytes,
        })
    }
}

/// How the agent image reached the engines, for the summary and the bench.
#[derive(Debug, Clone, Default)]
pub struct AgentImage {
    pub tag: String,
    /// Where it was built, if it was.
    pub built_on: Option<String>,
    /// The engines it was copied to, and how long the copies took.
    pub copied_to: Vec<String>,
    pub copy_time: std::time::Duration,
}

/// Whether the engine has the agent image of `binary`: `false` when no
/// image has its tag; an error when one has it but is not netlab's build of
/// this executable.
async fn has_image(engine: &Engine, binary: &AgentBinary) -> Result<bool> {
    let tag = &binary.tag;
    let image = match engine.docker.inspect_image(tag).await {
        Ok(image) => image,
        Err(e) if super::refusal::is_not_found(&e) => return Ok(false),
        Err(e) => return Err(EngineError::new(format!("cannot inspect image {tag}"), e)),
    };
    let labels = image.config.and_then(|c| c.labels).unwrap_or_default();
    match labels.get(LABEL_AGENT_DIGEST) {
        Some(d) if *d == binary.digest => Ok(true),
        found => Err(EngineError::new(
            format!(
                "image {tag} on {} is not netlab's build of this executable; refusing to run it",
                engine.endpoint.url
            ),
            anyhow::anyhow!(
                "its label {LABEL_AGENT_DIGEST} is {}, this netlab's SHA-256 is {}\n  (hint: remove it (`docker rmi {tag}`): netlab then builds its own)",
                found.map_or("missing".to_owned(), |d| format!("`{d}`")),
                binary.digest
            ),
        )),
    }
}

/// Makes sure every engine has the agent image: built once where none has
/// it, copied to the engines that lack it.
pub async fn ensure_agent_image(engines: &[&Engine]) -> Result<AgentImage> {
    ensure_agent_image_telling(engines, |_| {}).await
}

/// What `ensure_agent_image` is about to do that takes a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageWork {
    /// Build the image on the engine at this address.
    Build { tag: String, on: String },
    /// Copy it to the engines at these addresses.
    Copy { tag: String, to: Vec<String> },
}

/// As `ensure_agent_image`, telling `before` what it is about to do, so a
/// person is not left looking at nothing for the seconds a build takes.
pub async fn ensure_agent_image_telling(
    engines: &[&Engine],
    mut before: impl FnMut(ImageWork),
) -> Result<AgentImage> {
    let binary = AgentBinary::current()?;
    let present =
        futures::future::try_join_all(engines.iter().map(|e| has_image(e, &binary))).await?;
    let mut out = AgentImage {
        tag: binary.tag.clone(),
        ..AgentImage::default()
    };
    let source = match present.iter().position(|p| *p) {
        Some(i) => engines[i],
        None => {
            let Some(first) = engines.first() else {
                return Ok(out);
            };
            before(ImageWork::Build {
                tag: binary.tag.clone(),
                on: first.endpoint.url.clone(),
            });
            build(first, &binary).await?;
            out.built_on = Some(first.endpoint.url.clone());
            first
        }
    };
    let lacking: Vec<&Engine> = engines
        .iter()
        .zip(&present)
        .filter(|(e, p)| !**p && e.identity != source.identity)
        .map(|(e, _)| *e)
        .collect();
    if !lacking.is_empty() {
        before(ImageWork::Copy {
            tag: binary.tag.clone(),
            to: lacking.iter().map(|e| e.endpoint.url.clone()).collect(),
        });
    }
    let started = std::time::Instant::now();
    futures::future::try_join_all(lacking.iter().map(|to| copy(source, to, &binary))).await?;
    out.copy_time = started.elapsed();
    out.copied_to = lacking.iter().map(|e| e.endpoint.url.clone()).collect();
    Ok(out)
}

/// `docker save | docker load`, streamed from one engine to the other.
async fn copy(from: &Engine, to: &Engine, binary: &AgentBinary) -> Result<()> {
    let tag = binary.tag.as_str();
    let what = || {
        format!(
            "cannot copy the agent image {tag} from {} to {}",
            from.endpoint.url, to.endpoint.url
        )
    };
    let export = from.docker.export_image(tag);
    let options = bollard::query_parameters::ImportImageOptionsBuilder::default()
        .quiet(true)
        .build();
    let mut import = to.docker.import_image_stream(options, export, None);
    while let Some(item) = import.next().await {
        let info = item.map_err(|e| EngineError::new(what(), e))?;
        if let Some(message) = info.error_detail.and_then(|d| d.message) {
            return Err(EngineError::new(what(), anyhow::anyhow!(message)));
        }
    }
    if !has_image(to, binary).await? {
        return Err(EngineError::new(
            what(),
            anyhow::anyhow!("the engine took the image but does not list it"),
        ));
    }
    Ok(())
}

async fn build(engine: &Engine, binary: &AgentBinary) -> Result<()> {
    let context =
        build_context(&binary.bytes).ctx(|| "cannot pack the agent build context".into())?;
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&binary.tag)
        .rm(true)
        .forcerm(true)
        .labels(&HashMap::from([
            (LABEL_AGENT_IMAGE.to_owned(), "true".to_owned()),
            (LABEL_AGENT_DIGEST.to_owned(), binary.digest.clone()),
        ]))
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
    Ok(())
}

/// How many agent images to keep: the current one and the newest others,
/// so two netlab builds used in turn (an installed one and a development
/// one) do not delete each other's image every time.
const AGENT_IMAGES_KEPT: usize = 3;

/// Agent images of older netlab builds beyond the newest few, unless a
/// container still uses them (the engine refuses those, as it should) or
/// they are younger than an hour (another netlab build may be between its
/// own image check and its first container right now). Best effort: a
/// stale image wastes disk, it breaks nothing.
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
    let an_hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64 - 3600)
        .unwrap_or(0);
    let stale = images.iter().filter(|i| {
        i.created < an_hour_ago
            && !i.repo_tags.is_empty()
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

/// The ports an image EXPOSEs (`80/tcp`, `53/udp`), or `None` when the
/// engine has no image of that name (nothing is pulled).
pub async fn exposed_ports(
    engine: &Engine,
    image: &str,
) -> Result<Option<Vec<(u16, crate::lab::Transport)>>> {
    let found = match engine.docker.inspect_image(image).await {
        Ok(found) => found,
        Err(e) if super::refusal::is_not_found(&e) => return Ok(None),
        Err(e) => return Err(EngineError::new(format!("cannot inspect image {image}"), e)),
    };
    let ports = found
        .config
        .and_then(|c| c.exposed_ports)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            let (port, proto) = p.split_once('/').unwrap_or((p.as_str(), "tcp"));
            let transport = match proto {
                "tcp" => crate::lab::Transport::Tcp,
                "udp" => crate::lab::Transport::Udp,
                _ => return None,
            };
            Some((port.parse().ok()?, transport))
        })
        .collect();
    Ok(Some(ports))
}
