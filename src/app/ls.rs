//! `netlab ls`: the labs that are up, from the engine's labels.

use super::CommandResult;
use crate::engine::{Engine, discover};
use crate::exit;
use crate::report;

pub async fn ls(engine: &Engine) -> CommandResult {
    let labs = discover::labs(engine, None).await?;
    if labs.is_empty() {
        println!("no lab is up");
        return Ok(exit::SUCCESS);
    }
    let mut rows = vec![
        ["LAB", "NODES", "NETWORKS", "STATE"]
            .map(String::from)
            .to_vec(),
    ];
    for (name, objects) in &labs {
        let running = objects
            .containers
            .iter()
            .filter(|c| c.state == "running")
            .count();
        let total = objects.containers.len();
        let state = if total == 0 {
            "partial: networks only (run `netlab down`)".to_owned()
        } else if running == total {
            "running".to_owned()
        } else {
            format!("degraded: {} of {total} not running", total - running)
        };
        rows.push(vec![
            name.clone(),
            format!("{running}/{total}"),
            objects.networks.len().to_string(),
            state,
        ]);
    }
    print!("{}", report::table(&rows));
    Ok(exit::SUCCESS)
}
