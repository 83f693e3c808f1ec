//! Which Docker engine an address names, decided the way the docker CLI
//! decides: `DOCKER_HOST`, else `DOCKER_CONTEXT`, else the current context in
//! the docker config (rootless Docker, colima and Docker Desktop set one),
//! else the local socket. A context's TLS material is used as the CLI uses
//! it. Reading files only: nothing here talks to an engine.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";

/// An engine address and how to speak to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// `unix:///…`, `tcp://host:port`, `ssh://user@host`.
    pub url: String,
    /// Client certificate, key and CA for `tcp://` with TLS.
    pub tls: Option<TlsFiles>,
    /// Where the address came from, for messages: `DOCKER_HOST`, `context
    /// colima`, `the default socket`.
    pub origin: String,
    /// The address this engine's host advertises to a swarm, when given
    /// (`ENGINE?advertise=ADDR`); otherwise netlab finds it on that host.
    #[serde(default)]
    pub advertise: Option<std::net::IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EndpointError(pub String);

/// The environment the choice depends on, so tests need not touch the real
/// one.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub docker_host: Option<String>,
    pub docker_context: Option<String>,
    pub docker_config: Option<PathBuf>,
    pub docker_tls_verify: bool,
    pub docker_cert_path: Option<PathBuf>,
    pub home: Option<PathBuf>,
}

impl Env {
    pub fn from_process() -> Env {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Env {
            docker_host: var("DOCKER_HOST"),
            docker_context: var("DOCKER_CONTEXT"),
            docker_config: var("DOCKER_CONFIG").map(PathBuf::from),
            docker_tls_verify: var("DOCKER_TLS_VERIFY").is_some_and(|v| v != "0"),
            docker_cert_path: var("DOCKER_CERT_PATH").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
        }
    }

    fn config_dir(&self) -> Option<PathBuf> {
        self.docker_config
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".docker")))
    }
}

/// The engine netlab uses when nothing names another: `--context` if given,
/// then as the docker CLI.
pub fn default_endpoint(env: &Env, context: Option<&str>) -> Result<Endpoint, EndpointError> {
    if let Some(name) = context {
        return from_context(env, name, &format!("--context {name}"));
    }
    if let Some(host) = &env.docker_host {
        return from_url(env, host, "DOCKER_HOST");
    }
    if let Some(name) = &env.docker_context {
        return from_context(env, name, &format!("DOCKER_CONTEXT={name}"));
    }
    if let Some(name) = current_context(env) {
        return from_context(env, &name, &format!("the current docker context `{name}`"));
    }
    Ok(Endpoint {
        url: DEFAULT_SOCKET.into(),
        tls: None,
        origin: "the default socket".into(),
        advertise: None,
    })
}

/// `ENGINE` of `--host NAME=ENGINE`: an address or the name of a context,
/// optionally followed by `?advertise=ADDR`.
pub fn parse(env: &Env, engine: &str) -> Result<Endpoint, EndpointError> {
    let (engine, advertise) = match engine.split_once("?advertise=") {
        Some((e, a)) => {
            let ip = a.parse().map_err(|_| {
                EndpointError(format!(
                    "`{a}` in `{engine}?advertise={a}` is not an IP address"
                ))
            })?;
            (e, Some(ip))
        }
        None => (engine, None),
    };
    let mut endpoint = if engine.contains("://") {
        from_url(env, engine, "the host binding")?
    } else {
        from_context(env, engine, &format!("context {engine}"))?
    };
    endpoint.advertise = advertise;
    Ok(endpoint)
}

fn from_url(env: &Env, url: &str, origin: &str) -> Result<Endpoint, EndpointError> {
    let scheme = url.split("://").next().unwrap_or_default();
    if !matches!(scheme, "unix" | "tcp" | "ssh" | "http" | "https") {
        return Err(EndpointError(format!(
            "`{url}` (from {origin}) is not a Docker address\n  (hint: unix:///path/docker.sock, tcp://HOST:PORT, ssh://USER@HOST, or the name of a docker context)"
        )));
    }
    let tls = if (scheme == "tcp" && env.docker_tls_verify) || scheme == "https" {
        let dir = env
            .docker_cert_path
            .clone()
            .or_else(|| env.config_dir())
            .ok_or_else(|| {
                EndpointError(
                    "DOCKER_TLS_VERIFY is set but no DOCKER_CERT_PATH and no home directory".into(),
                )
            })?;
        Some(tls_files(&dir))
    } else {
        None
    };
    Ok(Endpoint {
        url: url.to_owned(),
        tls,
        origin: origin.to_owned(),
        advertise: None,
    })
}

fn tls_files(dir: &Path) -> TlsFiles {
    TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    }
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(rename = "currentContext", default)]
    current_context: Option<String>,
}

fn current_context(env: &Env) -> Option<String> {
    let path = env.config_dir()?.join("config.json");
    let text = std::fs::read_to_string(path).ok()?;
    let config: ConfigFile = serde_json::from_str(&text).ok()?;
    config
        .current_context
        .filter(|c| !c.is_empty() && c != "default")
}

#[derive(Deserialize)]
struct ContextMeta {
    #[serde(rename = "Endpoints", default)]
    endpoints: std::collections::HashMap<String, ContextEndpoint>,
}

#[derive(Deserialize)]
struct ContextEndpoint {
    #[serde(rename = "Host", default)]
    host: Option<String>,
    #[serde(rename = "SkipTLSVerify", default)]
    skip_tls_verify: bool,
}

/// A docker context: `contexts/meta/<sha256 of name>/meta.json` in the
/// config directory, its TLS files in `contexts/tls/<sha256>/docker/`.
fn from_context(env: &Env, name: &str, origin: &str) -> Result<Endpoint, EndpointError> {
    if name == "default" {
        let mut plain = env.clone();
        plain.docker_context = None;
        plain.docker_config = Some(PathBuf::from("/nonexistent"));
        plain.home = None;
        return default_endpoint(&plain, None).map(|mut e| {
            e.origin = origin.to_owned();
            e
        });
    }
    let dir = env.config_dir().ok_or_else(|| {
        EndpointError(format!(
            "cannot find docker context `{name}` (from {origin}): no home directory"
        ))
    })?;
    let digest: String = Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let meta_path = dir.join("contexts/meta").join(&digest).join("meta.json");
    let text = std::fs::read_to_string(&meta_path).map_err(|e| {
        EndpointError(format!(
            "no docker context `{name}` (from {origin}): cannot read {}: {e}\n  (hint: `docker context ls` lists the contexts)",
            meta_path.display()
        ))
    })?;
    let meta: ContextMeta = serde_json::from_str(&text).map_err(|e| {
        EndpointError(format!(
            "docker context `{name}`: {} is not a context description: {e}",
            meta_path.display()
        ))
    })?;
    let endpoint = meta
        .endpoints
        .get("docker")
        .ok_or_else(|| EndpointError(format!("docker context `{name}` has no docker endpoint")))?;
    let url = endpoint
        .host
        .clone()
        .ok_or_else(|| EndpointError(format!("docker context `{name}` names no engine address")))?;
    let tls_dir = dir.join("contexts/tls").join(&digest).join("docker");
    let tls = (url.starts_with("tcp://")
        && tls_dir.join("ca.pem").is_file()
        && !endpoint.skip_tls_verify)
        .then(|| tls_files(&tls_dir));
    Ok(Endpoint {
        url,
        tls,
        origin: origin.to_owned(),
        advertise: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_context(config: &Path, name: &str, host: &str) {
        let digest: String = Sha256::digest(name.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let dir = config.join("contexts/meta").join(digest);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(
            dir.join("meta.json"),
            format!(r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#),
        )
        .expect("write meta");
    }

    #[test]
    fn the_cli_order_host_then_context_variable_then_current_context_then_socket() {
        let dir = tempfile::tempdir().expect("tmp");
        write_context(dir.path(), "colima", "unix:///home/u/.colima/docker.sock");
        write_context(dir.path(), "other", "tcp://10.1.2.3:2375");
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{},"currentContext":"colima"}"#,
        )
        .expect("config");
        let mut env = Env {
            docker_config: Some(dir.path().to_owned()),
            ..Env::default()
        };
        let e = default_endpoint(&env, None).expect("endpoint");
        assert_eq!(e.url, "unix:///home/u/.colima/docker.sock");
        assert_eq!(e.origin, "the current docker context `colima`");
        env.docker_context = Some("other".into());
        assert_eq!(
            default_endpoint(&env, None).expect("endpoint").url,
            "tcp://10.1.2.3:2375"
        );
        env.docker_host = Some("unix:///run/x.sock".into());
        assert_eq!(
            default_endpoint(&env, None).expect("endpoint").url,
            "unix:///run/x.sock"
        );
        assert_eq!(
            default_endpoint(&env, Some("colima"))
                .expect("endpoint")
                .url,
            "unix:///home/u/.colima/docker.sock"
        );
        assert_eq!(
            default_endpoint(&Env::default(), None)
                .expect("endpoint")
                .url,
            DEFAULT_SOCKET
        );
        let unknown = default_endpoint(&env, Some("nope")).expect_err("no such context");
        assert!(unknown.0.contains("no docker context `nope`"), "{unknown}");
    }

    #[test]
    fn a_binding_is_an_address_or_a_context_and_tls_follows_the_environment() {
        let env = Env {
            docker_tls_verify: true,
            docker_cert_path: Some("/certs".into()),
            ..Env::default()
        };
        let e = parse(&env, "tcp://10.0.0.5:2376").expect("tcp");
        assert_eq!(e.tls.expect("tls").ca, PathBuf::from("/certs/ca.pem"));
        assert!(
            parse(&Env::default(), "ssh://me@box")
                .expect("ssh")
                .tls
                .is_none()
        );
        assert!(parse(&Env::default(), "ftp://x").is_err());
        let e = parse(&Env::default(), "unix:///run/e1.sock?advertise=10.250.77.2").expect("unix");
        assert_eq!(e.url, "unix:///run/e1.sock");
        assert_eq!(e.advertise, Some("10.250.77.2".parse().expect("ip")));
    }
}
