//! netlab: turn a YAML lab file into real Docker networks and containers,
//! prove how they behave, report pass or fail.
//!
//! `main` parses the command line, picks a runtime and maps the outcome to
//! an exit code (see `exit`). The agent subcommands run inside containers on
//! a small single-threaded runtime; everything else on the multi-threaded one.

mod agent;
mod app;
mod capture;
mod check;
mod cli;
mod compose;
mod engine;
mod exit;
mod impairment;
mod lab;
mod live;
mod loopback;
mod model;
mod pki;
mod plan;
mod report;
mod text;
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
    match command {
        AgentCommand::Serve {
            lab,
            node,
            host,
            listeners,
        } => {
            let identity = agent::protocol::Identity { lab, node, host };
            let served = runtime.block_on(agent::serve(identity, listeners));
            // The stdin reader blocks in a thread of the runtime's pool;
            // waiting for it would hold `docker stop` for its whole grace.
            runtime.shutdown_background();
            match served {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("netlab agent: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        AgentCommand::Parent { lab, add, sweep } => {
            runtime.shutdown_background();
            if agent::parent::command(&lab, &add, sweep) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        AgentCommand::Impair { request } => {
            let ok = runtime.block_on(agent::impair::command(&request));
            runtime.shutdown_background();
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
