//! Running a command inside a container through the exec API, with a
//! deadline: how probes run from a node.

use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use futures::StreamExt;

use super::{Context, Engine, EngineError, Result};

pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: Option<i64>,
}

pub async fn run(
    engine: &Engine,
    container: &str,
    cmd: Vec<String>,
    deadline: Duration,
) -> Result<ExecOutput> {
    let work = async {
        let exec = engine
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .ctx(|| format!("cannot exec in container {container}"))?;
        let started = engine
            .docker
            .start_exec(&exec.id, None)
            .await
            .ctx(|| format!("cannot start exec in container {container}"))?;
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        if let StartExecResults::Attached { mut output, .. } = started {
            while let Some(item) = output.next().await {
                match item.ctx(|| format!("exec output from {container} broke off"))? {
                    bollard::container::LogOutput::StdErr { message } => {
                        stderr.extend_from_slice(&message)
                    }
                    other => stdout.extend_from_slice(&other.into_bytes()),
                }
            }
        }
        let inspect = engine
            .docker
            .inspect_exec(&exec.id)
            .await
            .ctx(|| format!("cannot inspect exec in container {container}"))?;
        Ok(ExecOutput {
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            exit_code: inspect.exit_code,
        })
    };
    tokio::time::timeout(deadline, work)
        .await
        .unwrap_or_else(|_| {
            Err(EngineError::new(
                format!(
                    "exec in container {container} did not finish within {:.1}s",
                    deadline.as_secs_f64()
                ),
                anyhow::anyhow!("the engine or the container is not answering"),
            ))
        })
}
