//! Everything that talks to the Docker engine (bollard). Nothing outside this
//! module calls bollard; callers get plain results and `EngineError`s that
//! say what was attempted.

pub mod attach;
pub mod compose_labels;
pub mod container;
pub mod discover;
pub mod endpoint;
pub mod fault;
pub mod identity;
pub mod image;
pub mod network;
pub mod parent;
pub mod record;
pub mod refusal;
pub mod swarm;
pub mod turns;

use std::time::Duration;

use bollard::Docker;

pub use endpoint::Endpoint;

/// Engine calls in flight at once: enough to overlap the engine's own
/// latency, few enough not to thrash a 2-core daemon.
pub const CONCURRENCY: usize = 8;

#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct EngineError {
    pub what: String,
    #[source]
    pub source: anyhow::Error,
}

impl EngineError {
    pub fn new(what: impl Into<String>, source: impl Into<anyhow::Error>) -> Self {
        EngineError {
            what: what.into(),
            source: source.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;

/// Adds "what netlab was doing" to an engine call's error.
pub trait Context<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<anyhow::Error>> Context<T> for std::result::Result<T, E> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| EngineError::new(what(), e))
    }
}

/// A connected engine.
#[derive(Clone)]
pub struct Engine {
    pub docker: Docker,
    pub endpoint: Endpoint,
    pub version: String,
    pub api_version: String,
    /// The engine's own ID, as it reports it: engines cloned from one
    /// image report the same one (see `identity`).
    pub id: String,
    /// Which engine this is as far as netlab can tell: its address, or the
    /// address of an engine it was proven to be (`identity::settle`).
    pub identity: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Engine({}, Docker {})", self.endpoint.url, self.version)
    }
}

/// How long an engine may take to answer the first call.
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);
/// bollard's per-request deadline; probes and image copies carry their own.
const REQUEST_TIMEOUT_S: u64 = 120;

impl Engine {
    /// Connects, negotiates the API version (the engine may be older than
    /// bollard's default, e.g. 20.10 speaks 1.41) and checks it answers.
    pub async fn connect(endpoint: &Endpoint) -> Result<Engine> {
        let what = || {
            format!(
                "cannot reach the Docker engine at {} (from {})",
                endpoint.url, endpoint.origin
            )
        };
        let unreachable = |e: bollard::errors::Error| {
            EngineError::new(
                what(),
                anyhow::anyhow!(
                    "{e}\n  (hint: is the Docker daemon running? `docker info` should answer; DOCKER_HOST, DOCKER_CONTEXT or --context choose another engine)"
                ),
            )
        };
        let docker = open(endpoint).map_err(unreachable)?;
        let handshake = async {
            let docker = docker.negotiate_version().await?;
            let (version, info) = tokio::try_join!(docker.version(), docker.info())?;
            Ok::<_, bollard::errors::Error>((docker, version, info))
        };
        let (docker, version, info) = tokio::time::timeout(CONNECT_DEADLINE, handshake)
            .await
            .map_err(|_| {
                EngineError::new(
                    what(),
                    anyhow::anyhow!("no answer within {}s", CONNECT_DEADLINE.as_secs()),
                )
            })?
            .map_err(unreachable)?;
        Ok(Engine {
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            id: info.id.unwrap_or_default(),
            identity: endpoint.url.clone(),
            endpoint: endpoint.clone(),
            docker,
        })
    }

    /// `Docker 20.10.24 (API 1.41) at unix:///var/run/docker.sock`
    pub fn describe(&self) -> String {
        format!(
            "Docker {} (API {}) at {}",
            self.version, self.api_version, self.endpoint.url
        )
    }
}

fn open(endpoint: &Endpoint) -> std::result::Result<Docker, bollard::errors::Error> {
    let url = endpoint.url.as_str();
    let version = bollard::API_DEFAULT_VERSION;
    if url.starts_with("unix://") {
        Docker::connect_with_unix(url, REQUEST_TIMEOUT_S, version)
    } else if url.starts_with("ssh://") {
        Docker::connect_with_ssh(url, REQUEST_TIMEOUT_S, version, None)
    } else if let Some(tls) = &endpoint.tls {
        let addr = url.replacen("tcp://", "https://", 1);
        Docker::connect_with_ssl(
            &addr,
            &tls.key,
            &tls.cert,
            &tls.ca,
            REQUEST_TIMEOUT_S,
            version,
        )
    } else {
        Docker::connect_with_http(url, REQUEST_TIMEOUT_S, version)
    }
}
