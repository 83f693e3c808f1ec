//! Everything that talks to the Docker engine (bollard). Nothing outside this
//! module calls bollard; callers get plain results and `EngineError`s that
//! say what was attempted.

pub mod container;
pub mod discover;
pub mod exec;
pub mod image;
pub mod network;
pub mod swarm;

use bollard::Docker;

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

#[derive(Clone)]
pub struct Engine {
    pub docker: Docker,
    pub version: String,
    pub api_version: String,
}

/// The engine address bollard will use: `DOCKER_HOST` or the default socket.
pub fn engine_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned())
}

impl Engine {
    /// Connects, negotiates the API version (the engine may be older than
    /// bollard's default, e.g. 20.10 speaks 1.41) and checks it answers.
    pub async fn connect() -> Result<Engine> {
        let host = engine_host();
        let unreachable = |e: bollard::errors::Error| {
            EngineError::new(
                format!("cannot reach the Docker engine at {host}"),
                anyhow::anyhow!(
                    "{e}\n  (hint: is the Docker daemon running? `docker info` should answer; set DOCKER_HOST to reach another engine)"
                ),
            )
        };
        let docker = Docker::connect_with_defaults().map_err(unreachable)?;
        let docker = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            docker.negotiate_version(),
        )
        .await
        .map_err(|_| {
            EngineError::new(
                format!("cannot reach the Docker engine at {host}"),
                anyhow::anyhow!("no answer within 10s"),
            )
        })?
        .map_err(unreachable)?;
        let version = docker.version().await.map_err(unreachable)?;
        Ok(Engine {
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            docker,
        })
    }
}

/// True when the engine said 404 (the object is already gone).
pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}
