//! The command line (clap derive types only; behaviour lives in `app`).

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// What `--version` says: netlab's version and the Docker Engine API
/// versions it speaks, from 1.41 (Docker 20.10, the oldest engine tested) to
/// the newest the bundled bollard knows (a test pins it to bollard's).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (Docker Engine API 1.41 to 1.53)"
);

#[derive(Debug, Parser)]
#[command(
    name = "netlab",
    version = VERSION,
    about = "Turn a YAML lab file into real Docker networks and containers, and prove how they behave.",
    after_help = "<LAB> is a path to a YAML lab file or the name of a built-in lab (see `netlab labs`).\n\n\
Exit codes:\n  0  every check passed (or the command succeeded)\n  1  at least one check failed\n  \
2  the lab file or the command line is invalid (nothing was created)\n  3  the Docker engine failed or could not be reached\n  \
130 interrupted (Ctrl-C / SIGTERM); what the command created was removed"
)]
pub struct Cli {
    /// Use this docker context's engine as the default engine (as
    /// `--context` after a command that talks to Docker: up, verify, down,
    /// run, ls, fuzz).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the lab's networks and containers and wait until every node is ready.
    Up(UpArgs),
    /// Run the lab's checks against what is running.
    Verify {
        /// The lab: its name, or a lab file (whose checks are then run); with
        /// none, the one lab that is up.
        #[arg(value_name = "LAB")]
        lab: Option<String>,
        #[command(flatten)]
        engine: EngineArgs,
        /// The name the lab was brought up under (`up --name`).
        #[arg(long, env = "NETLAB_NAME")]
        name: Option<String>,
        /// Let checks aim outside the lab (other addresses, names, redirects).
        #[arg(long)]
        allow_external: bool,
        #[command(flatten)]
        compose: ComposeArgs,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Remove every resource of the lab (works without the lab file).
    Down(DownArgs),
    /// Up, verify and down in one go; always tears down, also on failure or Ctrl-C.
    Run(RunArgs),
    /// List the labs that are up.
    Ls {
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Parse and validate a lab file; never talks to Docker.
    Validate {
        /// A YAML lab file, or the name of a built-in lab (`netlab labs`).
        #[arg(value_name = "LAB")]
        lab: String,
        /// Let checks aim outside the lab (other addresses, names, redirects).
        #[arg(long)]
        allow_external: bool,
    },
    /// List the built-in labs.
    Labs,
    /// Make the HTML page of a saved JSON report (`verify --output json`); never talks to Docker.
    Report {
        /// The JSON report (`-`: standard input).
        #[arg(value_name = "REPORT.json")]
        json: std::path::PathBuf,
        /// Write the page to FILE.
        #[arg(long, value_name = "FILE")]
        html: std::path::PathBuf,
    },
    /// Print the topology as Mermaid or Graphviz DOT text; never talks to Docker.
    Graph {
        /// A YAML lab file, or the name of a built-in lab (`netlab labs`).
        #[arg(value_name = "LAB")]
        lab: String,
        #[arg(long, value_enum, default_value_t = crate::report::graph::GraphFormat::Mermaid)]
        format: crate::report::graph::GraphFormat,
    },
    /// Generate random labs from seeds, write their checks from netlab's model
    /// of Docker networking, run them, and report every disagreement with
    /// its seed and a shrunk lab (exit 1; 3 when checks only erred).
    Fuzz(FuzzArgs),
    /// Read compose files (merged in order, as `docker compose -f a -f b`)
    /// and print a lab with the checks compose implies; never talks to Docker.
    Import(ImportArgs),
    /// Print a completion script for SHELL on stdout (e.g. `netlab
    /// completions bash > ~/.local/share/bash-completion/completions/netlab`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (netlab.1, netlab-up.1, ...) into DIR (`make man`).
    #[command(hide = true)]
    Man {
        #[arg(value_name = "DIR")]
        dir: std::path::PathBuf,
    },
    /// Runs inside lab containers (the agent); not for direct use.
    #[command(hide = true, subcommand)]
    Agent(AgentCommand),
}

#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// A YAML lab file, or the name of a built-in lab (`netlab labs` lists
    /// them; `netlab validate LAB` checks a file without Docker).
    #[arg(value_name = "LAB")]
    pub lab: String,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// How long to wait for every node to be ready (at most 1h).
    #[arg(long, default_value = "60s", value_parser = parse_wait)]
    pub wait: Duration,
    /// Bring the lab up under this name instead of its own (so parallel CI
    /// jobs can share an engine).
    #[arg(long, env = "NETLAB_NAME")]
    pub name: Option<String>,
    /// Bind a logical host of the lab to an engine: NAME=ENGINE, where
    /// ENGINE is unix://…, tcp://…, ssh://… or a docker context name
    /// (optionally ?advertise=ADDR); repeatable. Also NETLAB_HOSTS.
    #[arg(long = "host", value_name = "NAME=ENGINE")]
    pub hosts: Vec<String>,
    /// Let checks aim outside the lab: addresses that are not the lab's,
    /// names it does not define, redirects off the lab. Without it such a
    /// check is refused before any packet is sent.
    #[arg(long)]
    pub allow_external: bool,
    /// Print the summary on stderr (for `run`, whose stdout is the report).
    #[arg(skip)]
    pub summary_to_stderr: bool,
    /// Refuse a lab that is already up instead of changing it (`run`).
    #[arg(skip)]
    pub fresh_only: bool,
    /// Break the lab's lock when its holder cannot be seen to run (it is on
    /// another machine); a lock whose holder is gone is broken anyway.
    #[arg(long)]
    pub break_lock: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DownArgs {
    /// The lab (name, built-in or file); with none, the one lab that is up.
    #[arg(value_name = "LAB")]
    pub lab: Option<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The name the lab was brought up under (`up --name`).
    #[arg(long, env = "NETLAB_NAME")]
    pub name: Option<String>,
    /// Break the lab's lock when its holder cannot be seen to run (it is on
    /// another machine); a lock whose holder is gone is broken anyway.
    #[arg(long)]
    pub break_lock: bool,
    /// Remove the lab's record although engines of the lab cannot be
    /// reached (what the lab has there stays): for engines gone for good.
    #[arg(long)]
    pub forget_unreachable: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub up: UpArgs,
    /// Leave the lab up after verifying.
    #[arg(long)]
    pub keep: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// compose.yaml / docker-compose.yml; later files override earlier ones.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<std::path::PathBuf>,
    /// Write the lab to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Activate a compose profile (repeatable; also COMPOSE_PROFILES).
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// Keep the services' images (foreign nodes) instead of netlab's agent
    /// serving each declared port.
    #[arg(long)]
    pub keep_images: bool,
    /// Where `.env` is read and the project is named after (default: the
    /// first file's directory).
    #[arg(long, value_name = "DIR")]
    pub project_directory: Option<std::path::PathBuf>,
    /// The project name (default: `name:` of the files, COMPOSE_PROJECT_NAME,
    /// or the project directory's name).
    #[arg(short = 'p', long, value_name = "NAME")]
    pub project_name: Option<String>,
    /// Publish on host ports Docker picks instead of the declared ones
    /// (an engine shared with others has its own ports taken).
    #[arg(long)]
    pub any_host_port: bool,
}

#[derive(Debug, Clone, Args)]
pub struct FuzzArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How many seeds, from the first on.
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// Go on after a seed with disagreements.
    #[arg(long)]
    pub keep_going: bool,
    /// Keep the generated labs (and shrunk ones) in DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// At most this many runs to shrink a disagreement.
    #[arg(long, default_value_t = 30)]
    pub shrink_runs: u32,
    /// Write the generated labs into --out and run nothing (no engine is
    /// needed): each is an ordinary lab whose checks carry `requires:`
    /// where engines differ, for `netlab run` on any engine.
    #[arg(long, requires = "out")]
    pub write_only: bool,
    /// Put an attachable overlay in each generated lab (labs `t-fzo-N`):
    /// the engine must be, or become, a swarm manager; much faster when it
    /// is one already.
    #[arg(long)]
    pub overlays: bool,
    /// Flip the first matrix cell's prediction: the run must disagree
    /// (for netlab's own tests).
    #[arg(long, hide = true)]
    pub mutant: bool,
}

/// Which engine is the default one: on the commands that talk to Docker
/// only.
#[derive(Debug, Clone, Default, Args)]
pub struct EngineArgs {
    /// Use this docker context's engine as the default engine (instead of
    /// DOCKER_HOST, DOCKER_CONTEXT or the docker CLI's current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

/// `verify --compose`: a running compose project instead of a lab.
#[derive(Debug, Clone, Args)]
pub struct ComposeArgs {
    /// Verify a running compose project (v1 or v2), found by compose's
    /// labels; nothing of it is created, changed or removed.
    #[arg(long, conflicts_with = "lab")]
    pub compose: bool,
    /// The compose project's name (else COMPOSE_PROJECT_NAME, else as
    /// compose derives it from the compose file's directory).
    #[arg(
        short = 'p',
        long = "project-name",
        value_name = "PROJECT",
        requires = "compose"
    )]
    pub project: Option<String>,
    /// The project's compose files (repeatable): their services that have
    /// no container are reported.
    #[arg(short = 'f', long = "file", value_name = "FILE", requires = "compose")]
    pub files: Vec<std::path::PathBuf>,
    /// A lab file whose checks to run (service names as node names);
    /// without one, the checks the project implies.
    #[arg(
        id = "lab_file",
        long = "lab",
        value_name = "FILE",
        requires = "compose"
    )]
    pub lab: Option<std::path::PathBuf>,
}

/// How `verify` and `run` report, and how long checks may take.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The report on stdout: one line per check, or one JSON document;
    /// `github`: one line per check, each FAIL and ERROR also as a GitHub
    /// Actions annotation at its line of the lab file, and a Markdown
    /// summary appended to $GITHUB_STEP_SUMMARY (as under
    /// GITHUB_ACTIONS=true).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
    /// Also write the report as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,
    /// Also write the report as one self-contained HTML page to FILE: the
    /// lab drawn, every check with why, matrices, packet ladders.
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
    /// Deadline of every check, instead of each check's own `timeout:`
    /// (200ms to 5m, as `timeout:`: a shorter one cannot tell blocked from
    /// slow).
    #[arg(long, value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Record the packets of every tcp, tls and http check (as `capture:
    /// true` on each) and show them as a timeline.
    #[arg(long)]
    pub capture: bool,
    /// Also write one pcap file per recorded check into DIR (for Wireshark).
    #[arg(long, value_name = "DIR")]
    pub pcap: Option<std::path::PathBuf>,
    /// Record the packets of every tcp, tls and http check, and keep those
    /// of the checks that failed or could not run only, as pcap files in
    /// DIR (for a CI job's artifacts).
    #[arg(long, value_name = "DIR")]
    pub pcap_on_failure: Option<std::path::PathBuf>,
    /// The lab file the checks came from, for annotations at their lines.
    #[arg(skip)]
    pub lab_file: Option<String>,
    /// List a recorded check's packets one per line, and show the table of
    /// every matrix, also of one that passed.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print only the checks that did not pass, and the closing line (with
    /// `-v`, each of them in detail).
    #[arg(short, long)]
    pub quiet: bool,
    /// Check the steady state only: run none of the lab's steps.
    #[arg(long)]
    pub no_steps: bool,
}

/// The shortest deadline a check may have.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(200);
/// The longest, as a check's own `timeout:`.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest `--wait`: every wait has a deadline a person would wait for.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < MIN_TIMEOUT {
        return Err(format!(
            "{s} is too short: silence before so short a deadline proves nothing (at least 200ms)"
        ));
    }
    if d > MAX_TIMEOUT {
        return Err(format!("{s} is too long: a check's deadline is at most 5m"));
    }
    Ok(d)
}

fn parse_wait(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d > MAX_WAIT {
        return Err(format!("{s} is too long: `up` waits at most 1h"));
    }
    Ok(d)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
    Github,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Serve listeners and announce readiness.
    Serve {
        #[arg(long)]
        lab: String,
        #[arg(long)]
        node: String,
        /// The logical host, in a lab of several hosts.
        #[arg(long)]
        host: Option<String>,
        /// tcp:PORT, udp:PORT, http:PORT or https:PORT; repeatable.
        #[arg(long = "listen")]
        listeners: Vec<crate::vocab::Listener>,
    },
    /// Impair (or clear) an interface of this network namespace (run by
    /// netlab in a helper that joins a node's namespace).
    Impair {
        /// The request, as JSON.
        #[arg(long)]
        request: String,
    },
    /// Make or remove the dummy interfaces a lab's networks hang off
    /// (`parent: lab`), on the Docker host's network (run by netlab in a
    /// helper there).
    Parent {
        #[arg(long)]
        lab: String,
        /// An interface to make (or take, when the lab made it before).
        #[arg(long)]
        add: Vec<String>,
        /// Remove every other interface the lab made.
        #[arg(long)]
        sweep: bool,
    },
}
