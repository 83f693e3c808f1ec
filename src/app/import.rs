//! `netlab import`: reads the compose files and `.env`, hands them to
//! `compose::import`, prints what it said on stderr (each naming the
//! compose line) and writes the lab. Talks to Docker only to read the
//! EXPOSE of the images the engine has (an engine that does not answer is
//! said, and the import goes on with the ports the files declare).

use std::path::{Path, PathBuf};

use super::{CommandResult, Failure};
use crate::cli::ImportArgs;
use crate::compose::{self, File, Level, Options, Vars};
use crate::exit;
use crate::text::safe::for_terminal;

/// Compose files larger than this are refused before parsing.
const MAX_COMPOSE_BYTES: u64 = 1 << 20;

fn read(path: &Path) -> Result<String, Failure> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    if meta.len() > MAX_COMPOSE_BYTES {
        return Err(Failure::Usage(format!(
            "{} is {} bytes; a compose file may have at most {MAX_COMPOSE_BYTES}",
            path.display(),
            meta.len()
        )));
    }
    std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))
}

/// What each image EXPOSEs, for the images the engine has.
async fn images_exposed(
    images: &[String],
    keep_images: bool,
    context: Option<&str>,
) -> std::collections::HashMap<String, Vec<(u16, crate::lab::Transport)>> {
    let mut out = std::collections::HashMap::new();
    let engine = match super::hosts::home(context).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!(
                "netlab import: note: the images' EXPOSE was not read (no engine answered: {})",
                for_terminal(&e.to_string())
            );
            return out;
        }
    };
    let mut absent: Vec<&str> = Vec::new();
    for image in images {
        match crate::engine::image::exposed_ports(&engine, image).await {
            Ok(Some(ports)) => {
                out.insert(image.clone(), ports);
            }
            Ok(None) => absent.push(image),
            Err(e) => eprintln!(
                "netlab import: note: image {}: {}",
                for_terminal(image),
                for_terminal(&format!("{e:#}"))
            ),
        }
    }
    if !absent.is_empty() {
        let one = absent.len() == 1;
        eprintln!(
            "netlab import: note: {} {} not on {}: what {} EXPOSE is not known; {}",
            if one { "image" } else { "images" },
            for_terminal(&absent.join(", ")),
            engine.endpoint.url,
            if one { "it may" } else { "they may" },
            match (keep_images, one) {
                (true, true) => "its declared ports are not judged",
                (true, false) => "their declared ports are not judged",
                (false, _) => "the agent serves the ports the files declare",
            }
        );
    }
    out
}

/// Compose's project name rule: lower case, a-z 0-9 `_` `-` only.
fn project_name(dir: &Path) -> String {
    let base = std::fs::canonicalize(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "project".into());
    let name: String = base
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    if name.is_empty() {
        "project".into()
    } else {
        name
    }
}

pub async fn import(args: &ImportArgs, context: Option<&str>) -> CommandResult {
    let mut files = Vec::new();
    for path in &args.files {
        files.push(File {
            name: path.display().to_string(),
            text: read(path)?,
        });
    }
    let dir: PathBuf = match &args.project_directory {
        Some(d) => d.clone(),
        None => args
            .files
            .first()
            .and_then(|f| f.parent())
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."))
            .to_owned(),
    };
    let dotenv = std::fs::read_to_string(dir.join(".env")).ok();
    let vars = Vars::new(dotenv.as_deref(), std::env::vars());
    let mut profiles = args.profiles.clone();
    if let Ok(env) = std::env::var("COMPOSE_PROFILES") {
        profiles.extend(
            env.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
    }
    let project = args
        .project_name
        .clone()
        .or_else(|| std::env::var("COMPOSE_PROJECT_NAME").ok())
        .unwrap_or_else(|| project_name(&dir));
    let mut options = Options {
        profiles,
        keep_images: args.keep_images,
        any_host_port: args.any_host_port,
        project,
        vars,
        exposed: Default::default(),
    };
    if let Ok(first) = compose::import(&files, &options)
        && !first.images.is_empty()
    {
        options.exposed = images_exposed(&first.images, args.keep_images, context).await;
    }
    match compose::import(&files, &options) {
        Ok(done) => {
            let mut notes = 0;
            for m in &done.messages {
                eprintln!("{}", for_terminal(&compose::render(m, &files)));
                notes += usize::from(m.level == Level::Finding);
            }
            match &args.output {
                Some(path) => {
                    std::fs::write(path, &done.lab_text).map_err(|e| {
                        Failure::Usage(format!("cannot write {}: {e}", path.display()))
                    })?;
                    eprintln!(
                        "wrote {} ({notes} finding{})",
                        path.display(),
                        if notes == 1 { "" } else { "s" }
                    );
                }
                None => print!("{}", done.lab_text),
            }
            Ok(exit::SUCCESS)
        }
        Err(refused) => {
            let mut last = String::new();
            for m in &refused.messages {
                let line = compose::render(m, &files);
                if m.level == Level::Error {
                    last = line;
                } else {
                    eprintln!("{}", for_terminal(&line));
                }
            }
            Err(Failure::Usage(last))
        }
    }
}
