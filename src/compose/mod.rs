//! `netlab import`: compose files in, a lab out. The files are read as
//! compose reads them (`value`: spans, anchors, merge keys; `interpolate`:
//! `${VAR…}` and `.env`; `merge`: several `-f` files; `read`: what bears
//! on the network), written as a lab (`write`), validated as any lab file
//! is, and given the checks the topology implies (`model::implied`), each
//! with a comment saying why. Pure: no Docker, no files (the command in
//! `app::import` reads and writes them).

pub mod findings;
pub mod hosts;
pub mod interpolate;
pub mod links;
pub mod merge;
pub mod read;
#[cfg(test)]
mod tests;
pub mod value;
pub mod write;

use std::fmt;

pub use interpolate::Vars;
use value::Pos;

/// How much a message weighs: an error stops the import (compose itself
/// would refuse the file); the rest are printed and the lab is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Note,
    Finding,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
            Level::Finding => "finding",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub level: Level,
    pub at: Pos,
    pub text: String,
}

impl Message {
    pub fn error(at: Pos, text: impl Into<String>) -> Self {
        Message {
            level: Level::Error,
            at,
            text: text.into(),
        }
    }
}

/// The messages of one import, in the order they were found.
#[derive(Debug, Default)]
pub struct Messages(pub Vec<Message>);

impl Messages {
    pub fn warn(&mut self, at: Pos, text: impl Into<String>) {
        self.push(Level::Warning, at, text);
    }

    pub fn note(&mut self, at: Pos, text: impl Into<String>) {
        self.push(Level::Note, at, text);
    }

    pub fn finding(&mut self, at: Pos, text: impl Into<String>) {
        self.push(Level::Finding, at, text);
    }

    fn push(&mut self, level: Level, at: Pos, text: impl Into<String>) {
        self.0.push(Message {
            level,
            at,
            text: text.into(),
        });
    }
}

/// One compose file: the name it is shown by, and its text.
#[derive(Debug, Clone)]
pub struct File {
    pub name: String,
    pub text: String,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--profile`.
    pub profiles: Vec<String>,
    /// `--keep-images`: services keep their images (foreign nodes).
    pub keep_images: bool,
    /// `--any-host-port`: publish on host ports Docker picks (an engine
    /// shared with others has its own ports taken).
    pub any_host_port: bool,
    /// The project name when the files do not give one (compose: the
    /// project directory's name).
    pub project: String,
    pub vars: Vars,
    /// The ports each image EXPOSEs, for the images the engine has: served
    /// by the agent in its place, or (with `--keep-images`) held against
    /// the ports the service declares. An image the engine does not have
    /// is not judged.
    pub exposed: std::collections::HashMap<String, Vec<(u16, crate::lab::Transport)>>,
}

/// A finished import: the lab text and what was found on the way.
#[derive(Debug)]
pub struct Imported {
    pub lab_text: String,
    pub messages: Vec<Message>,
    /// The services' images, each once.
    pub images: Vec<String>,
}

/// Why an import stopped: the message (with its place) and those before.
#[derive(Debug)]
pub struct Refused {
    pub messages: Vec<Message>,
}

/// `file:line:col: level: text`.
pub fn render(message: &Message, files: &[File]) -> String {
    let file = files
        .get(message.at.file)
        .map(|f| f.name.as_str())
        .unwrap_or("?");
    if message.at.line == 0 {
        format!("{file}: {}: {}", message.level, message.text)
    } else {
        format!("{file}:{}: {}: {}", message.at, message.level, message.text)
    }
}

/// Imports `files` (merged in order).
pub fn import(files: &[File], options: &Options) -> Result<Imported, Refused> {
    let mut msgs = Messages::default();
    let refuse = |mut msgs: Messages, m: Message| {
        msgs.0.push(m);
        Refused { messages: msgs.0 }
    };
    let mut merged: Option<value::Node> = None;
    let mut vars_out = interpolate::Outcome::default();
    for (i, f) in files.iter().enumerate() {
        let mut tree = match value::parse(i, &f.name, &f.text) {
            Ok(t) => t,
            Err(rendered) => {
                let at = Pos {
                    file: i,
                    ..Pos::default()
                };
                return Err(refuse(msgs, Message::error(at, rendered)));
            }
        };
        if let Err((at, e)) = interpolate::tree(&mut tree, &options.vars, &mut vars_out) {
            return Err(refuse(msgs, Message::error(at, e)));
        }
        merge::normalise(&mut tree);
        match merged.as_mut() {
            None => merged = Some(tree),
            Some(base) => merge::merge(base, tree, ""),
        }
    }
    let Some(root) = merged else {
        return Err(refuse(
            msgs,
            Message::error(Pos::default(), "no compose file"),
        ));
    };
    for name in &vars_out.unset {
        msgs.warn(
            Pos {
                file: 0,
                ..Pos::default()
            },
            format!("the variable {name} is not set; an empty string is used (as compose does)"),
        );
    }
    let project = match read::read(&root, &options.project, &options.profiles, &mut msgs) {
        Ok(p) => p,
        Err(m) => return Err(refuse(msgs, m)),
    };
    findings::find(&project, &mut msgs);
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    let mut topology = write::topology(&project, options, &names, &mut msgs);
    topology.push_str(&write::findings_section(&msgs.0, &names));
    // The lab is validated as any lab file is: what it cannot hold is said
    // here, not at `up`.
    let lab = match crate::lab::load_source("the imported lab", topology.as_bytes(), None) {
        Ok(loaded) => loaded.lab,
        Err(e) => {
            let m = Message::error(
                Pos::default(),
                format!("the compose project does not fit a lab:\n{e}"),
            );
            return Err(refuse(msgs, m));
        }
    };
    let lab_text = write::with_checks(
        topology,
        &crate::model::implied::checks(&lab, crate::model::EngineSide::NEW),
    );
    let mut images: Vec<String> = Vec::new();
    for image in project.services.values().filter_map(|s| s.image.clone()) {
        if !images.contains(&image) {
            images.push(image);
        }
    }
    Ok(Imported {
        lab_text,
        messages: msgs.0,
        images,
    })
}
