//! netlab in the user's shell: completion scripts (`netlab completions
//! SHELL`) and man pages (`netlab man DIR`, hidden; `make man`), both made
//! from the same clap definitions as the command line itself, so they
//! cannot drift from it.

use std::io::Write as _;
use std::path::Path;

use clap::CommandFactory;

use super::{CommandResult, Failure};
use crate::cli::Cli;
use crate::exit;

pub fn completions(shell: clap_complete::Shell) -> CommandResult {
    // clap_complete panics when its writer fails; write to memory first so
    // a closed pipe (`netlab completions bash | head`) is an ordinary error.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut visible_command(), "netlab", &mut script);
    write_stdout(&script)
}

/// The command line without its hidden subcommands (the agent, `man`),
/// which clap_complete would otherwise offer.
fn visible_command() -> clap::Command {
    let full = Cli::command();
    let visible = full.get_subcommands().filter(|s| !s.is_hide_set()).cloned();
    let mut cmd = clap::Command::new("netlab")
        .version(crate::cli::VERSION)
        .args(full.get_arguments().cloned())
        .subcommands(visible);
    if let Some(about) = full.get_about() {
        cmd = cmd.about(about.clone());
    }
    cmd
}

pub fn man(dir: &Path) -> CommandResult {
    let failed = |e: std::io::Error| {
        Failure::Usage(format!(
            "cannot write man pages into {}: {e}",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    clap_mangen::generate_to(Cli::command(), dir).map_err(failed)?;
    Ok(exit::SUCCESS)
}

fn write_stdout(bytes: &[u8]) -> CommandResult {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(exit::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(exit::SUCCESS),
        Err(e) => Err(Failure::Usage(format!("cannot write to stdout: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_names_the_api_range_bollard_speaks() {
        let newest = bollard::API_DEFAULT_VERSION;
        assert!(
            crate::cli::VERSION.ends_with(&format!(
                " (Docker Engine API 1.41 to {}.{})",
                newest.major_version, newest.minor_version
            )),
            "cli::VERSION is {:?}; bollard's newest API is {}.{}: update it",
            crate::cli::VERSION,
            newest.major_version,
            newest.minor_version
        );
    }

    #[test]
    fn man_pages_cover_every_visible_command() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        man(dir.path()).expect("man pages are written");
        let mut pages: Vec<String> = std::fs::read_dir(dir.path())
            .expect("the directory lists")
            .map(|e| {
                e.expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        pages.sort();
        // One page per visible command and netlab.1; none for the agent or
        // for `man` itself.
        let mut expected: Vec<String> = Cli::command()
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| format!("netlab-{}.1", c.get_name()))
            .chain(["netlab.1".to_owned()])
            .collect();
        expected.sort();
        assert_eq!(pages, expected);
        for page in ["netlab-run.1", "netlab-verify.1", "netlab-completions.1"] {
            assert!(pages.iter().any(|p| p == page), "{page} missing: {pages:?}");
        }
        assert!(
            !pages
                .iter()
                .any(|p| p.contains("agent") || p == "netlab-man.1")
        );
        let main = std::fs::read_to_string(dir.path().join("netlab.1")).expect("netlab.1");
        assert!(main.starts_with(".ie \\n(.g .ds Aq"), "{main}");
        assert!(main.contains(".TH netlab 1"), "{main}");
        assert!(main.contains("Exit codes:"), "{main}");
    }
}
