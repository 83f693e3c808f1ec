//! Which engine each logical host of a lab is: `--host NAME=ENGINE` flags
//! beat `NETLAB_HOSTS="east=ENGINE,west=ENGINE"`; an unbound host is the
//! default engine, which also keeps every lab's record. Engines are
//! connected once each, concurrently.

use indexmap::IndexMap;

use super::Failure;
use crate::engine::endpoint::{self, Endpoint, Env};
use crate::engine::{Engine, EngineError};
use crate::lab::Lab;

/// The engines a lab uses.
#[derive(Debug, Clone)]
pub struct Engines {
    /// The default engine: the lab's claim and lock live here.
    pub home: Engine,
    /// Every host of the lab → its engine.
    pub hosts: IndexMap<String, Engine>,
}

impl Engines {
    pub fn of(&self, host: &str) -> &Engine {
        self.hosts.get(host).unwrap_or(&self.home)
    }

    /// The engines of the lab's hosts, each once.
    pub fn distinct(&self) -> Vec<&Engine> {
        let mut out: Vec<&Engine> = Vec::new();
        for e in self.hosts.values() {
            if !out.iter().any(|o| same(o, e)) {
                out.push(e);
            }
        }
        out
    }

    /// The default engine and the hosts' engines, each once.
    pub fn all(&self) -> Vec<&Engine> {
        let mut out = vec![&self.home];
        for e in self.distinct() {
            if !out.iter().any(|o| same(o, e)) {
                out.push(e);
            }
        }
        out
    }

    /// The hosts that `engine` is.
    pub fn hosts_on(&self, engine: &Engine) -> Vec<&str> {
        self.hosts
            .iter()
            .filter(|(_, e)| same(e, engine))
            .map(|(h, _)| h.as_str())
            .collect()
    }

    pub fn endpoints(&self) -> IndexMap<String, Endpoint> {
        self.hosts
            .iter()
            .map(|(h, e)| (h.clone(), e.endpoint.clone()))
            .collect()
    }

    /// Hosts of `used` that share an engine: cross-host checks between them
    /// prove nothing about traffic between hosts.
    pub fn shared_engine_warning(&self, used: &[&str]) -> Option<String> {
        if used.len() < 2 {
            return None;
        }
        let groups: Vec<String> = self
            .distinct()
            .into_iter()
            .map(|e| {
                self.hosts_on(e)
                    .into_iter()
                    .filter(|h| used.contains(h))
                    .collect::<Vec<_>>()
            })
            .filter(|g| g.len() > 1)
            .map(|g| {
                format!(
                    "{} share the engine at {}",
                    g.join(", "),
                    self.of(g[0]).endpoint.url
                )
            })
            .collect();
        (!groups.is_empty()).then(|| {
            format!(
                "note: hosts {}: checks between them prove nothing about traffic between Docker hosts (bind each host to its own engine with --host NAME=ENGINE)",
                groups.join("; ")
            )
        })
    }
}

/// Two handles of one engine: one address, or proven one engine
/// (`engine::identity`); an engine ID alone does not say.
pub fn same(a: &Engine, b: &Engine) -> bool {
    a.identity == b.identity || a.endpoint.url == b.endpoint.url
}

/// The default engine (DOCKER_HOST, DOCKER_CONTEXT, the current context,
/// the local socket; or `--context`).
pub async fn home(context: Option<&str>) -> Result<Engine, Failure> {
    let endpoint = endpoint::default_endpoint(&Env::from_process(), context)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    Ok(Engine::connect(&endpoint).await?)
}

/// `NAME=ENGINE` pairs from the flags and `NETLAB_HOSTS`, resolved to
/// endpoints. Flags must name hosts of the lab; the environment may name
/// others (it serves several labs).
pub fn bindings(
    lab: &Lab,
    flags: &[String],
    from_env: Option<&str>,
) -> Result<IndexMap<String, Endpoint>, Failure> {
    let env = Env::from_process();
    let mut out = IndexMap::new();
    let mut bind = |pair: &str, origin: &str, strict: bool| -> Result<(), Failure> {
        let (host, engine) = pair.split_once('=').ok_or_else(|| {
            Failure::Usage(format!(
                "`{pair}` in {origin} is not NAME=ENGINE\n  (hint: e.g. east=unix:///run/docker-east.sock or west=ssh://me@west)"
            ))
        })?;
        let host = host.trim();
        if !lab.hosts.iter().any(|h| h == host) {
            if strict {
                return Err(Failure::Usage(format!(
                    "{origin} binds host `{host}`, but lab `{}` has no such host (its hosts: {})",
                    lab.name,
                    lab.hosts.join(", ")
                )));
            }
            return Ok(());
        }
        let endpoint = endpoint::parse(&env, engine.trim())
            .map_err(|e| Failure::Usage(format!("{origin}: {e}")))?;
        out.insert(host.to_owned(), endpoint);
        Ok(())
    };
    if let Some(list) = from_env {
        for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            bind(pair, "NETLAB_HOSTS", false)?;
        }
    }
    for pair in flags {
        bind(pair, &format!("--host {pair}"), true)?;
    }
    Ok(out)
}

/// A lab of several hosts of which none is bound to an engine: every host
/// would be the default engine, where checks between hosts prove nothing
/// and those that tell hosts apart fail for the set-up, not the network.
/// Refused before any engine is asked (exit 2, nothing created). Binding
/// the hosts, even all to one engine, is the user's word and runs.
pub fn refuse_unbound(
    lab: &Lab,
    bound: &IndexMap<String, Endpoint>,
    command: &str,
    arg: &str,
    default: Option<&str>,
) -> Result<(), Failure> {
    if !lab.is_multi_host() || lab.hosts.iter().any(|h| bound.contains_key(h)) {
        return Ok(());
    }
    let flags = |engine: &str| {
        lab.hosts
            .iter()
            .map(|h| format!("--host {h}={engine}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let env: Vec<String> = lab.hosts.iter().map(|h| format!("{h}=ENGINE")).collect();
    let one = default.unwrap_or("ENGINE");
    Err(Failure::Usage(format!(
        "lab `{}` needs {} Docker hosts ({}), and none is bound to an engine: all would be the one default engine, where checks between hosts prove nothing; nothing was created\n  \
         (hint: bind each host to its own engine: `netlab {command} {} {}` or NETLAB_HOSTS=\"{}\"; `make hosts` starts engines on this machine and prints the binding. \
         To try it on one engine anyway, bind every host to it: {})",
        lab.name,
        lab.hosts.len(),
        lab.hosts.join(", "),
        crate::text::safe::on_one_line(arg),
        flags("ENGINE"),
        env.join(","),
        flags(one),
    )))
}

/// Connects the engines of a record, each address once; a host whose engine
/// does not answer is left out and returned with the reason.
pub async fn connect_reachable(
    home: Engine,
    endpoints: &IndexMap<String, Endpoint>,
) -> (Engines, Vec<(String, EngineError)>) {
    let mut urls: Vec<&Endpoint> = Vec::new();
    for e in endpoints.values() {
        if e.url != home.endpoint.url && !urls.iter().any(|u| u.url == e.url) {
            urls.push(e);
        }
    }
    let attempts = futures::future::join_all(urls.iter().map(|e| Engine::connect(e))).await;
    let mut reached: Vec<Engine> = vec![home];
    let mut failed: Vec<(String, EngineError)> = Vec::new();
    for (endpoint, attempt) in urls.iter().zip(attempts) {
        match attempt {
            Ok(engine) => reached.push(engine),
            Err(e) => failed.push((endpoint.url.clone(), e)),
        }
    }
    // Endpoints that report one engine ID are one engine only if proven.
    match crate::engine::identity::settle(&mut reached).await {
        Ok(notes) => {
            for note in notes {
                crate::text::say!("netlab: note: {note}");
            }
        }
        Err(e) => crate::text::say!(
            "netlab: note: cannot tell whether two endpoints are one engine ({e:#}); netlab treats them as two"
        ),
    }
    let home = reached.remove(0);
    let mut hosts = IndexMap::new();
    let mut unreachable = Vec::new();
    for (host, endpoint) in endpoints {
        if endpoint.url == home.endpoint.url {
            let mut engine = home.clone();
            engine.endpoint.advertise = endpoint.advertise;
            hosts.insert(host.clone(), engine);
        } else if let Some(engine) = reached.iter().find(|e| e.endpoint.url == endpoint.url) {
            let mut engine = engine.clone();
            engine.endpoint = endpoint.clone();
            hosts.insert(host.clone(), engine);
        } else if let Some(i) = failed.iter().position(|(url, _)| *url == endpoint.url) {
            let (_, e) = failed.remove(i);
            unreachable.push((host.clone(), e));
        }
    }
    (Engines { home, hosts }, unreachable)
}

/// Connects every bound engine (the default one serves unbound hosts),
/// concurrently, each address once.
pub async fn connect(
    home: Engine,
    lab_hosts: &[String],
    bound: &IndexMap<String, Endpoint>,
) -> Result<Engines, EngineError> {
    let endpoints: IndexMap<String, Endpoint> = lab_hosts
        .iter()
        .map(|h| {
            let e = bound
                .get(h)
                .cloned()
                .unwrap_or_else(|| home.endpoint.clone());
            (h.clone(), e)
        })
        .collect();
    let (engines, mut unreachable) = connect_reachable(home, &endpoints).await;
    match unreachable.pop() {
        Some((_, e)) => Err(e),
        None => Ok(engines),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_hosts() -> Lab {
        crate::lab::load("overlay-multihost").expect("shipped").lab
    }

    #[test]
    fn a_lab_of_two_hosts_with_none_bound_is_refused_with_the_binding_to_write() {
        let lab = two_hosts();
        let none = IndexMap::new();
        let err = refuse_unbound(
            &lab,
            &none,
            "run",
            "overlay-multihost",
            Some("unix:///d.sock"),
        )
        .expect_err("refused");
        assert_eq!(err.exit_code(), crate::exit::INVALID_INPUT);
        let text = err.to_string();
        assert!(
            text.starts_with(
                "lab `overlay-multihost` needs 2 Docker hosts (east, west), and none is bound"
            ),
            "{text}"
        );
        assert!(text.contains("nothing was created"), "{text}");
        assert!(
            text.contains("`netlab run overlay-multihost --host east=ENGINE --host west=ENGINE`"),
            "{text}"
        );
        assert!(
            text.contains("--host east=unix:///d.sock --host west=unix:///d.sock)"),
            "{text}"
        );
        // One host bound is the user's word; a lab of one host needs none.
        let env = Env::default();
        let one: IndexMap<String, Endpoint> = [(
            "west".to_owned(),
            endpoint::parse(&env, "unix:///d.sock").expect("url"),
        )]
        .into();
        assert!(refuse_unbound(&lab, &one, "run", "x", None).is_ok());
        let single = crate::lab::load("bridge-basic").expect("shipped").lab;
        assert!(refuse_unbound(&single, &none, "up", "bridge-basic", None).is_ok());
    }
}
