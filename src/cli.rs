//! The command line (clap derive types only; behaviour lives in `app`).

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "netlab",
    version,
    about = "Turn a YAML lab file into real Docker networks and containers, and prove how they behave.",
    after_help = "<LAB> is a path to a YAML lab file or the name of a built-in lab (see `netlab labs`).\n\n\
Exit codes:\n  0  every check passed (or the command succeeded)\n  1  at least one check failed\n  \
2  the lab file or the command line is invalid (nothing was created)\n  3  the Docker engine failed or could not be reached\n  \
130 interrupted (Ctrl-C / SIGTERM); what the command created was removed"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the lab's networks and containers and wait until every node is ready.
    Up(UpArgs),
    /// Run the lab's checks against what is running.
    Verify {
        /// The lab; with none, the one lab that is up.
        lab: Option<String>,
    },
    /// Remove every resource of the lab (works without the lab file).
    Down {
        /// The lab (name, built-in or file); with none, the one lab that is up.
        lab: Option<String>,
    },
    /// Up, verify and down in one go; always tears down, also on failure or Ctrl-C.
    Run(RunArgs),
    /// List the labs that are up.
    Ls,
    /// Parse and validate a lab file; never talks to Docker.
    Validate { lab: String },
    /// List the built-in labs.
    Labs,
    /// Runs inside lab containers (the agent); not for direct use.
    #[command(hide = true, subcommand)]
    Agent(AgentCommand),
}

#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    pub lab: String,
    /// How long to wait for every node to be ready.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub wait: Duration,
    /// Print the summary on stderr (for `run`, whose stdout is the report).
    #[arg(skip)]
    pub summary_to_stderr: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub up: UpArgs,
    /// Leave the lab up after verifying.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Serve listeners and announce readiness.
    Serve {
        #[arg(long)]
        lab: String,
        #[arg(long)]
        node: String,
        /// tcp:PORT, udp:PORT or http:PORT; repeatable.
        #[arg(long = "listen")]
        listeners: Vec<crate::agent::protocol::Listener>,
    },
    /// Run a JSON batch of probes and print the JSON report.
    Probe { batch: String },
}
