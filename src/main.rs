//! netlab: turn a YAML lab file into real Docker networks and containers,
//! prove how they behave, report pass or fail.
//!
//! `main` parses the command line, picks a runtime and maps the outcome to
//! an exit code (see `exit`). The agent subcommands run inside containers on
//! a small single-threaded runtime; everything else on the multi-threaded one.

mod agent;
mod app;
mod check;
mod cli;
mod engine;
mod exit;
mod lab;
mod live;
mod pki;
mod plan;
mod report;
mod vocab;

use std::process::ExitCode;

use clap::Parser;

use cli::{AgentCommand, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Agent(agent) = cli.command {
        return run_agent(agent);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::code(exit::ENGINE_FAILURE);
        }
    };
    runtime.block_on(async {
        let cancel = app::Cancel::default();
        cancel.on_signals();
        app::finish(app::dispatch(cli, cancel).await)
    })
}

fn run_agent(command: AgentCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("netlab agent: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match command {
            AgentCommand::Serve {
                lab,
                node,
                listeners,
            } => match agent::serve(lab, node, listeners).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("netlab agent: {e:#}");
                    ExitCode::FAILURE
                }
            },
            AgentCommand::Probe { batch } => {
                let batch: agent::protocol::ProbeBatch = match serde_json::from_str(&batch) {
                    Ok(b) => b,
                    Err(e) => {
                        eprintln!("netlab agent: bad probe batch: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                let report = agent::run_batch(&batch).await;
                match serde_json::to_string(&report) {
                    Ok(json) => {
                        println!("{json}");
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("netlab agent: cannot encode the report: {e}");
                        ExitCode::FAILURE
                    }
                }
            }
        }
    })
}
