//! The commands: each takes parsed arguments, does its work through the
//! engine module and returns the exit code. `main` only maps errors to codes.

pub mod build;
pub mod cancel;
pub mod converge;
pub mod down;
pub mod fuzz;
pub mod host_bindings;
pub mod host_subnets;
pub mod hosts;
pub mod import;
pub mod ipv6;
pub mod kernel;
pub mod lock;
pub mod ls;
pub mod outside;
pub mod report;
pub mod run;
pub mod select;
pub mod shell;
pub mod teardown;
pub mod up;
pub mod verify;

use std::process::ExitCode;

use crate::cli::{Cli, Command, RunArgs};
use crate::engine::EngineError;
use crate::exit;
use crate::lab::{self, LabError};
use crate::report::colour::{self, Paint};
use crate::report::count;
use crate::text::safe::{for_terminal, on_one_line};

pub use cancel::Cancel;

/// Why a command did not finish normally; each kind has its exit code.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Lab(#[from] LabError),
    #[error("{0}")]
    Usage(String),
    #[error("{0:#}")]
    Engine(#[from] EngineError),
    #[error("interrupted{0}")]
    Interrupted(String),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Lab(_) | Failure::Usage(_) => exit::INVALID_INPUT,
            Failure::Engine(_) => exit::ENGINE_FAILURE,
            Failure::Interrupted(_) => exit::INTERRUPTED,
        }
    }
}

/// A finished command: its exit code, or why it did not finish normally.
pub type CommandResult = Result<u8, Failure>;

pub async fn dispatch(cli: Cli, cancel: Cancel) -> CommandResult {
    // `--context` before the command, or after a command that talks to
    // Docker (the one after it wins).
    let before = cli.context.clone();
    let own = match &cli.command {
        Command::Up(a) | Command::Run(RunArgs { up: a, .. }) => Some(&a.engine),
        Command::Verify { engine, .. } | Command::Ls { engine } => Some(engine),
        Command::Down(a) => Some(&a.engine),
        Command::Fuzz(a) => Some(&a.engine),
        _ => None,
    };
    if before.is_some() && own.is_none() {
        return Err(Failure::Usage(
            "--context chooses a Docker engine, and this command never talks to Docker\n  (hint: leave --context out; up, verify, down, run, ls and fuzz take it)"
                .into(),
        ));
    }
    let context_name = own.and_then(|e| e.context.clone()).or(before);
    let context = context_name.as_deref();
    crate::report::colour::apply_to_progress_bars();
    match &cli.command {
        Command::Verify { report, .. } | Command::Run(RunArgs { report, .. }) if report.quiet => {
            crate::report::progress::hush();
        }
        _ => {}
    }
    match cli.command {
        Command::Validate {
            lab,
            allow_external,
        } => validate(&lab, allow_external),
        Command::Labs => Ok(labs()),
        Command::Report { json, html } => report::report_command(&json, &html),
        Command::Graph { lab, format } => {
            // Drawing sends nothing anywhere. The drawing quotes the lab's
            // strings, and is read on a terminal as often as it is piped.
            let drawing = crate::report::graph::render(&load(&lab, true)?.lab, format);
            print!("{}", for_terminal(&drawing));
            Ok(exit::SUCCESS)
        }
        Command::Up(args) => {
            let lab = load_named(&args.lab, args.name.as_deref(), args.allow_external)?;
            cancel.working_on(&lab.name);
            let engines = up::connect(&lab, &args, context, "up").await?;
            up::up(&engines, &lab, &args, &cancel)
                .await
                .map(|_| exit::SUCCESS)
        }
        Command::Verify {
            lab,
            engine: _,
            name,
            allow_external,
            compose,
            report,
        } => {
            let home = hosts::home(context).await?;
            if compose.compose {
                return verify::compose::verify_compose_command(
                    &home,
                    &compose,
                    allow_external,
                    &report,
                    &cancel,
                )
                .await;
            }
            let target = verify::Target {
                arg: lab.as_deref(),
                name: name.as_deref(),
                allow_external,
            };
            verify::verify_command(&home, &target, &report, &cancel).await
        }
        Command::Down(args) => {
            let home = hosts::home(context).await?;
            down::down_command(&home, &args, &cancel).await
        }
        Command::Run(args) => run::run(&args, context, &cancel).await,
        Command::Fuzz(args) => fuzz::fuzz(&args, context, &cancel).await,
        Command::Ls { .. } => {
            let home = hosts::home(context).await?;
            ls::ls(&home).await
        }
        Command::Import(args) => import::import(&args, context).await,
        Command::Completions { shell } => shell::completions(shell),
        Command::Man { dir } => shell::man(&dir),
        Command::Agent(_) => Err(Failure::Usage("the agent runs on its own runtime".into())),
    }
}

/// Loads a lab and prints its warnings to stderr.
pub fn load(arg: &str, allow_external: bool) -> Result<lab::Loaded, Failure> {
    let loaded = lab::load_with(arg, lab::LoadOptions { allow_external })?;
    for w in &loaded.warnings {
        eprintln!("{}\n", for_terminal(w));
    }
    Ok(loaded)
}

/// Loads a lab under its own name, or under `--name`.
pub fn load_named(
    arg: &str,
    name: Option<&str>,
    allow_external: bool,
) -> Result<lab::Lab, Failure> {
    let mut lab = load(arg, allow_external)?.lab;
    if let Some(name) = name {
        lab::rename(&mut lab, name).map_err(Failure::Usage)?;
    }
    Ok(lab)
}

fn validate(arg: &str, allow_external: bool) -> CommandResult {
    let loaded = load(arg, allow_external)?;
    let lab = &loaded.lab;
    let hosts = if lab.is_multi_host() {
        format!("{}, ", count(lab.hosts.len(), "host"))
    } else {
        String::new()
    };
    let steps = match lab.steps.len() {
        0 => String::new(),
        n => format!(
            ", {} with {}",
            count(n, "step"),
            count(lab.steps.iter().map(|s| s.checks.len()).sum(), "check")
        ),
    };
    println!(
        "{}: lab `{}` is valid ({hosts}{}, {}, {}{steps}{})",
        on_one_line(arg),
        on_one_line(&lab.name),
        count(lab.networks.len(), "network"),
        count(lab.nodes.len(), "node"),
        count(lab.checks.len(), "check"),
        match loaded.warnings.len() {
            0 => String::new(),
            n => format!(", {}", count(n, "warning")),
        }
    );
    Ok(exit::SUCCESS)
}

fn labs() -> u8 {
    let mut rows = vec![vec![
        "LAB".to_owned(),
        "NEEDS".to_owned(),
        "DESCRIPTION".to_owned(),
    ]];
    for (name, text) in lab::builtin::all() {
        let (needs, description) = match lab::load_source(name, text.as_bytes(), Some(name)) {
            Ok(l) => (needs(&l.lab), first_sentence(&l.lab.description)),
            Err(e) => ("-".to_owned(), format!("(invalid: {e})")),
        };
        rows.push(vec![name.to_owned(), needs, description]);
    }
    let table = crate::report::table(&rows);
    print!(
        "{}",
        crate::report::fit::for_stream(&table, colour::Stream::Stdout)
    );
    exit::SUCCESS
}

/// What a lab needs beyond one Docker engine of any version: several
/// hosts (bound with `--host`), swarm mode (netlab makes one), Docker 28
/// (IPv6-only networks), a kernel with macvlan or ipvlan; `-` for nothing.
fn needs(lab: &lab::Lab) -> String {
    let mut out = Vec::new();
    if lab.is_multi_host() {
        out.push(format!("{} hosts", lab.hosts.len()));
    }
    if lab
        .networks
        .values()
        .any(|n| matches!(n.driver, lab::Driver::Overlay { .. }))
    {
        out.push("swarm".to_owned());
    }
    if lab.networks.values().any(|n| !n.ipv4) {
        out.push("Docker 28+".to_owned());
    }
    for (driver, config) in [("macvlan", "CONFIG_MACVLAN"), ("ipvlan", "CONFIG_IPVLAN")] {
        if lab
            .networks
            .values()
            .any(|n| n.driver.is_vlan() && n.driver.docker_name() == driver)
        {
            out.push(format!("kernel {config}"));
        }
    }
    if out.is_empty() {
        "-".to_owned()
    } else {
        out.join(", ")
    }
}

fn first_sentence(text: &str) -> String {
    let end = text.find(". ").map(|i| i + 1).unwrap_or(text.len());
    text[..end].trim().to_owned()
}

/// Maps a finished command to the process exit code, printing the error.
pub fn finish(outcome: CommandResult) -> ExitCode {
    match outcome {
        Ok(code) => exit::code(code),
        Err(failure) => {
            let width = crate::report::fit::width_of(colour::Stream::Stderr);
            eprintln!("{}", said(&failure, colour::stderr(), width));
            exit::code(failure.exit_code())
        }
    }
}

/// What a failure says on stderr, its lines within `width` when given
/// (a located lab error keeps its snippet as it is).
fn said(failure: &Failure, colour: bool, width: Option<usize>) -> String {
    match failure {
        Failure::Lab(LabError::Invalid(report)) => report.render(colour),
        // Docker's sentences and the values a file quoted are in it.
        other => {
            let text = format!("error: {}", for_terminal(&other.to_string()));
            let text = match width {
                Some(w) => crate::report::fit::wrap_long_lines(&text, w)
                    .trim_end_matches('\n')
                    .to_owned(),
                None => text,
            };
            let rest = text.strip_prefix("error:").unwrap_or(&text);
            format!("{}{rest}", colour::paint("error:", Paint::Red, colour))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_fits_the_terminal_and_keeps_its_words() {
        let long = Failure::Usage(format!(
            "{}\n  (hint: {})",
            "word ".repeat(30).trim_end(),
            "x ".repeat(40).trim_end()
        ));
        let text = said(&long, false, Some(40));
        assert!(text.lines().all(|l| l.chars().count() <= 40), "{text}");
        assert_eq!(
            text.split_whitespace().collect::<Vec<_>>(),
            said(&long, false, None)
                .split_whitespace()
                .collect::<Vec<_>>()
        );
        assert!(said(&long, true, Some(40)).starts_with("\x1b[31;1merror:\x1b[0m word"));
    }

    #[test]
    fn labs_needing_hosts_swarm_or_docker_28_say_so() {
        let of = |name: &str| needs(&lab::load(name).expect("shipped").lab);
        assert_eq!(of("overlay-multihost"), "2 hosts, swarm");
        assert_eq!(of("overlay-basic"), "swarm");
        assert_eq!(of("ipv6-only"), "Docker 28+");
        assert_eq!(of("macvlan-basic"), "kernel CONFIG_MACVLAN");
        assert_eq!(of("ipvlan-l3"), "kernel CONFIG_IPVLAN");
        assert_eq!(of("bridge-basic"), "-");
    }

    #[test]
    fn dockers_sentence_in_an_error_is_shown_not_sent() {
        let docker = anyhow::anyhow!(
            "Docker responded with status code 404: No such image: \x1b]0;owned\x07\x1b[2J\u{9b}2J\0\u{202e}olleh"
        );
        let failure = Failure::Engine(EngineError::new("cannot create node `web`", docker));
        let text = said(&failure, true, None);
        assert_eq!(
            text,
            "\x1b[31;1merror:\x1b[0m cannot create node `web`: Docker responded with status code 404: No such image: ␛]0;owned␇␛[2J\\u{9b}2J␀\\u{202e}olleh"
        );
        let usage = Failure::Usage(
            "bad.json:1:2: not a netlab JSON report: unknown variant `\x1b[2J`\n  (hint: …)".into(),
        );
        assert_eq!(
            said(&usage, false, None),
            "error: bad.json:1:2: not a netlab JSON report: unknown variant `␛[2J`\n  (hint: …)"
        );
    }
}
