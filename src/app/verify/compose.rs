//! `netlab verify --compose`: the checks of a lab file (or the ones the
//! project implies) run against a compose project that `docker compose` or
//! `docker-compose` brought up. The project is only read: probes run from
//! netlab's helpers in its services' network namespaces (and one in the
//! host's), which are removed afterwards, whatever happened.

use std::collections::HashMap;
use std::time::Duration;

use indexmap::IndexMap;

use super::compose_lab::{self, Declared};
use super::{StepOptions, emit, refuse_no_checks, refuse_unwritable_files, verify};
use crate::app::hosts::Engines;
use crate::app::{Cancel, CommandResult, Failure};
use crate::cli::{ComposeArgs, ReportArgs};
use crate::engine::compose_labels::{self, LABEL_COMPOSE, ProjectNetwork, Replica};
use crate::engine::{Engine, container, image};
use crate::lab::{self, Lab, LabError, LoadOptions};
use crate::live::{LiveHost, LiveLab, LiveNode};
use crate::plan::{LABEL_NODE, LABEL_ROLE, ROLE_HOST_HELPER, ROLE_PROBE_HELPER};
use crate::text::safe::for_terminal;

/// How long a helper may take to say it is ready.
const HELPER_READY: Duration = Duration::from_secs(30);

pub async fn verify_compose_command(
    home: &Engine,
    args: &ComposeArgs,
    allow_external: bool,
    options: &ReportArgs,
    cancel: &Cancel,
) -> CommandResult {
    refuse_unwritable_files(options)?;
    let mut texts = Vec::new();
    for f in &args.files {
        let text = std::fs::read_to_string(f).map_err(|e| {
            Failure::Usage(format!("cannot read compose file {}: {e}", f.display()))
        })?;
        texts.push((f.display().to_string(), text));
    }
    let declared = compose_lab::declared(&texts).map_err(Failure::Usage)?;
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::Usage(format!("cannot read the current directory: {e}")))?;
    let env = std::env::var("COMPOSE_PROJECT_NAME").ok();
    let project = compose_lab::project_name(
        args.project.as_deref(),
        env.as_deref(),
        declared.name.as_deref(),
        &args.files,
        &cwd,
    )
    .map_err(Failure::Usage)?;
    let (replicas, networks) = compose_labels::project(home, &project).await?;
    if replicas.is_empty() && networks.is_empty() {
        return Err(not_running(home, &project).await);
    }
    let mut lab = project_lab(args, &project, &replicas, &networks, allow_external)?;
    let mut notes = notes(home, &project, &replicas, &networks, &declared, &texts);
    if args.lab.is_none() {
        let side = crate::model::EngineSide::of(&crate::lab::requires::EngineFacts::of_version(
            &home.version,
        ));
        lab.checks = compose_lab::implied_checks(&lab, &replicas, side);
        notes.push(format!(
            "note: no --lab file: {} the project implies, from netlab's model of Docker networking (names and reach between the running services, each port they expose, published TCP ports from the host)",
            crate::report::count(lab.checks.len(), "check")
        ));
    }
    refuse_no_checks(&lab)?;
    let agent = image::ensure_agent_image(&[home]).await?;
    let mut helpers: Vec<String> = Vec::new();
    let outcome = async {
        let live = start_helpers(
            home,
            &project,
            lab,
            &replicas,
            &networks,
            &agent.tag,
            allow_external,
            &mut helpers,
        )
        .await?;
        let host = live.lab.hosts.first().cloned().unwrap_or_default();
        let engines = Engines {
            home: home.clone(),
            hosts: IndexMap::from([(host, home.clone())]),
        };
        let options_ = StepOptions {
            run: false,
            restore_on_cancel: false,
        };
        verify(&engines, &live, options_, cancel).await
    }
    .await;
    // Whatever happened, netlab's helpers go; the project stays as it was.
    let removed = futures::future::join_all(helpers.iter().map(|id| container::remove(home, id)));
    for r in removed.await {
        if let Err(e) = r {
            crate::text::say!("netlab: a helper could not be removed: {e:#}");
        }
    }
    let mut report = outcome?;
    notes.append(&mut report.notes);
    report.notes = notes;
    let code = emit(&report, options)?;
    if report.cancelled {
        return Err(Failure::Interrupted(" during verify".into()));
    }
    Ok(code)
}

/// A project nothing of is on the engine: exit 2, naming it and the
/// projects that are there.
async fn not_running(home: &Engine, project: &str) -> Failure {
    let others = compose_labels::projects(home).await.unwrap_or_default();
    let hint = if others.is_empty() {
        "no compose project has containers there; start it with `docker compose up -d`".to_owned()
    } else {
        format!(
            "compose projects there: {}; name one with -p",
            others.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    Failure::Usage(format!(
        "compose project `{project}` is not running on {}: no container or network carries the label {}={project}\n  (hint: {hint})",
        home.endpoint.url,
        compose_labels::PROJECT
    ))
}

/// The lab verify runs: the `--lab` file's (or an empty one) with the
/// project's nodes and networks, validated as any lab file is.
fn project_lab(
    args: &ComposeArgs,
    project: &str,
    replicas: &[Replica],
    networks: &[ProjectNetwork],
    allow_external: bool,
) -> Result<Lab, Failure> {
    let lab_name = compose_lab::lab_name(project);
    let (file, text, raw) = match &args.lab {
        Some(path) => {
            let file = path.display().to_string();
            let bytes = std::fs::read(path).map_err(|source| LabError::Io {
                path: path.clone(),
                source,
            })?;
            let text = lab::lab_text(&file, &bytes)?.to_owned();
            let raw = lab::parse_raw(&file, &text)?;
            (file, text, raw)
        }
        None => (
            format!("compose project {project}"),
            String::new(),
            compose_lab::empty_raw(),
        ),
    };
    let merged = compose_lab::merge(raw, &file, &lab_name, replicas, networks).map_err(|p| {
        Failure::Usage(format!(
            "{}\n\n{file}: {} against compose project `{project}`; nothing was probed",
            p.join("\n"),
            crate::report::count(p.len(), "error")
        ))
    })?;
    let loaded = lab::validate_raw(&file, &text, merged, None, LoadOptions { allow_external })?;
    for w in &loaded.warnings {
        eprintln!("{}\n", for_terminal(w));
    }
    Ok(loaded.lab)
}

/// What the report says about the project: which one, made by which
/// compose, on which engine; which services are not running.
fn notes(
    home: &Engine,
    project: &str,
    replicas: &[Replica],
    networks: &[ProjectNetwork],
    declared: &Declared,
    files: &[(String, String)],
) -> Vec<String> {
    let mut versions: Vec<&str> = replicas
        .iter()
        .map(|r| r.compose_version.as_str())
        .filter(|v| !v.is_empty())
        .collect();
    versions.sort_unstable();
    versions.dedup();
    let made_by = match versions.as_slice() {
        [] => "compose of unknown version".to_owned(),
        v => v
            .iter()
            .map(|v| {
                if v.starts_with("1.") {
                    format!("docker-compose {v} (v1)")
                } else {
                    format!("docker compose {v} (v2)")
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
    };
    let mut out = vec![format!(
        "note: compose project `{project}`, made by {made_by}, on engine {} (Docker {}): {}, {}",
        home.endpoint.url,
        home.version,
        crate::report::count(replicas.len(), "container"),
        crate::report::count(networks.len(), "network"),
    )];
    for (node, r) in compose_lab::nodes(replicas) {
        if !r.running {
            out.push(format!(
                "note: service `{}` is not running: container {} (node `{node}`) is {}",
                r.service, r.name, r.state
            ));
        }
        if r.network_mode.starts_with("container:") || r.network_mode.starts_with("service:") {
            out.push(format!(
                "note: service `{}` shares another container's network namespace ({}); netlab probes from it, but models it as on no network",
                r.service, r.network_mode
            ));
        }
    }
    let files = files
        .iter()
        .map(|(f, _)| f.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    for (service, profiles) in &declared.services {
        if replicas.iter().any(|r| r.service == *service) {
            continue;
        }
        let profile = if profiles.is_empty() {
            String::new()
        } else {
            format!(" (it is in profile {})", profiles.join(", "))
        };
        out.push(format!(
            "note: service `{service}` of {files} is not running: it has no container{profile}"
        ));
    }
    out
}

/// Starts a probe helper in each running replica's namespace and one in
/// the host's, and makes the live view checks run on. Every helper started
/// is pushed to `helpers` at once, so that it is removed even if a later
/// one fails.
#[allow(clippy::too_many_arguments)]
async fn start_helpers(
    home: &Engine,
    project: &str,
    lab: Lab,
    replicas: &[Replica],
    networks: &[ProjectNetwork],
    agent_image: &str,
    allow_external: bool,
    helpers: &mut Vec<String>,
) -> Result<LiveLab, Failure> {
    let host = lab.hosts.first().cloned().unwrap_or_default();
    // Unique per run: two verifies of one project do not meet.
    let run = format!("{}.{}", std::process::id(), unique());
    let labels = |role: &str, node: &str| {
        HashMap::from([
            (LABEL_ROLE.to_owned(), role.to_owned()),
            (LABEL_NODE.to_owned(), node.to_owned()),
            (LABEL_COMPOSE.to_owned(), project.to_owned()),
        ])
    };
    let serve = |node: &str| -> Vec<String> {
        ["agent", "serve", "--lab", &lab.name, "--node", node]
            .map(String::from)
            .to_vec()
    };
    let nodes = compose_lab::nodes(replicas);
    let mut wanted: Vec<(String, String, String, HashMap<String, String>)> = nodes
        .iter()
        .filter(|(_, r)| r.running)
        .map(|(node, r)| {
            (
                node.clone(),
                format!("netlab.compose.{project}.{node}.{run}"),
                format!("container:{}", r.id),
                labels(ROLE_PROBE_HELPER, node),
            )
        })
        .collect();
    let host_node = format!("host@{host}");
    wanted.push((
        host_node.clone(),
        format!("netlab.compose.{project}.host.{run}"),
        "host".to_owned(),
        labels(ROLE_HOST_HELPER, &host_node),
    ));
    let started = futures::future::join_all(wanted.into_iter().map(
        |(node, name, mode, labels)| async move {
            let cmd = serve(&node);
            let id =
                compose_labels::start_helper(home, &name, labels, cmd, mode, agent_image).await;
            (node, id)
        },
    ))
    .await;
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut first_error = None;
    for (node, id) in started {
        match id {
            Ok(id) => {
                helpers.push(id.clone());
                ids.insert(node, id);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e.into());
    }
    let ready = futures::future::join_all(
        ids.iter()
            .map(|(node, id)| container::wait_ready(home, id, node, true, HELPER_READY)),
    )
    .await;
    for r in ready {
        r?;
    }
    let names: HashMap<&str, &str> = networks
        .iter()
        .map(|n| (n.name.as_str(), n.compose_name.as_str()))
        .collect();
    // Keyed by compose's network name, in the project's network order.
    fn by_compose<T: Copy>(
        raw: &HashMap<String, T>,
        names: &HashMap<&str, &str>,
        networks: &[ProjectNetwork],
    ) -> IndexMap<String, T> {
        networks
            .iter()
            .filter_map(|n| Some((names.get(n.name.as_str())?.to_string(), *raw.get(&n.name)?)))
            .collect()
    }
    let live_nodes = nodes
        .iter()
        .map(|(node, r)| {
            (
                node.clone(),
                LiveNode {
                    host: host.clone(),
                    probe_container: ids.get(node).cloned(),
                    running: r.running,
                    state: r.state.clone(),
                    addresses: by_compose(&r.addresses, &names, networks),
                    gateways: by_compose(&r.gateways, &names, networks),
                    addresses6: by_compose(&r.addresses6, &names, networks),
                    gateways6: by_compose(&r.gateways6, &names, networks),
                    ports: r.ports.clone(),
                    stale_helper: None,
                },
            )
        })
        .collect();
    let mut subnets: Vec<ipnet::IpNet> = networks.iter().flat_map(|n| n.subnets.clone()).collect();
    subnets.sort();
    subnets.dedup();
    let facts = crate::lab::requires::EngineFacts::of_version(&home.version);
    let host_helper = ids.get(&host_node).cloned();
    Ok(LiveLab {
        ca_pem: None,
        other_ca_pem: None,
        nodes: live_nodes,
        network_subnets: networks
            .iter()
            .filter_map(|n| {
                let v4 = n.subnets.iter().find_map(|s| match s {
                    ipnet::IpNet::V4(v4) => Some(*v4),
                    ipnet::IpNet::V6(_) => None,
                })?;
                Some((n.compose_name.clone(), v4))
            })
            .collect(),
        hosts: IndexMap::from([(
            host,
            LiveHost {
                helper: host_helper,
                engine: home.identity.clone(),
                facts,
            },
        )]),
        agent_image: agent_image.to_owned(),
        subnets,
        allow_external,
        lab,
    })
}

/// A number that differs between two runs in one process.
fn unique() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
