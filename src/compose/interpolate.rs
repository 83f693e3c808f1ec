//! Variables as compose substitutes them: `$VAR`, `${VAR}`, `${VAR:-d}`,
//! `${VAR-d}`, `${VAR:?err}`, `${VAR?err}`, `${VAR:+alt}`, `${VAR+alt}`,
//! and `$$` for a literal `$`; values from the environment first, then
//! from the `.env` file of the project directory. Only values are
//! interpolated, never keys — as compose does.

use std::collections::HashMap;

use super::value::{Node, Value};

/// The variables an import sees.
#[derive(Debug, Default, Clone)]
pub struct Vars {
    pub values: HashMap<String, String>,
}

impl Vars {
    /// The environment over a `.env` text (compose: the shell wins).
    pub fn new(dotenv: Option<&str>, env: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut values = dotenv.map(parse_dotenv).unwrap_or_default();
        values.extend(env);
        Vars { values }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

/// `.env`: `KEY=VALUE` lines, `#` comments, `export ` allowed, values in
/// single quotes taken literally, in double quotes with `\n` escapes.
pub fn parse_dotenv(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = if let Some(v) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            v.to_owned()
        } else if let Some(v) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            v.replace("\\n", "\n").replace("\\\"", "\"")
        } else {
            // An unquoted value ends at ` #`.
            value.split(" #").next().unwrap_or("").trim().to_owned()
        };
        out.insert(key.trim().to_owned(), value);
    }
    out
}

/// What substitution met besides values: variables that were not set
/// (compose warns and uses ""), and a required one that was missing.
#[derive(Debug, Default)]
pub struct Outcome {
    pub unset: Vec<String>,
}

/// Substitutes in one string; `Err` is compose's own refusal (`:?`, `?`,
/// or a `${` that does not close).
pub fn substitute(text: &str, vars: &Vars, out: &mut Outcome) -> Result<String, String> {
    let mut result = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        result.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            result.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix('{') {
            let end = closing(after).ok_or_else(|| {
                format!("invalid interpolation format for `{text}`: a `${{` is not closed")
            })?;
            let expr = &after[..end];
            result.push_str(&expand(expr, vars, out)?);
            rest = &after[end + 1..];
        } else {
            let len = rest
                .char_indices()
                .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
                .map(|(i, _)| i)
                .unwrap_or(rest.len());
            if len == 0 {
                result.push('$');
            } else {
                result.push_str(&lookup(&rest[..len], vars, out));
                rest = &rest[len..];
            }
        }
    }
    result.push_str(rest);
    Ok(result)
}

/// The `}` that closes a `${`, nested `${…}` in defaults counted.
fn closing(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn lookup(name: &str, vars: &Vars, out: &mut Outcome) -> String {
    match vars.get(name) {
        Some(v) => v.to_owned(),
        None => {
            if !out.unset.iter().any(|u| u == name) {
                out.unset.push(name.to_owned());
            }
            String::new()
        }
    }
}

fn expand(expr: &str, vars: &Vars, out: &mut Outcome) -> Result<String, String> {
    let name_len = expr
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map(|(i, _)| i)
        .unwrap_or(expr.len());
    let (name, op) = expr.split_at(name_len);
    if name.is_empty() {
        return Err(format!("invalid interpolation format: `${{{expr}}}`"));
    }
    let value = vars.get(name);
    let empty = value.is_none_or(str::is_empty);
    let arg = |s: &str, out: &mut Outcome| substitute(s, vars, out);
    Ok(match op {
        "" => lookup(name, vars, out),
        _ if op.starts_with(":-") => match empty {
            true => arg(&op[2..], out)?,
            false => value.unwrap_or_default().to_owned(),
        },
        _ if op.starts_with('-') => match value {
            None => arg(&op[1..], out)?,
            Some(v) => v.to_owned(),
        },
        _ if op.starts_with(":?") => match empty {
            true => return Err(required(name, &arg(&op[2..], out)?)),
            false => value.unwrap_or_default().to_owned(),
        },
        _ if op.starts_with('?') => match value {
            None => return Err(required(name, &arg(&op[1..], out)?)),
            Some(v) => v.to_owned(),
        },
        _ if op.starts_with(":+") => match empty {
            true => String::new(),
            false => arg(&op[2..], out)?,
        },
        _ if op.starts_with('+') => match value {
            None => String::new(),
            Some(_) => arg(&op[1..], out)?,
        },
        _ => return Err(format!("invalid interpolation format: `${{{expr}}}`")),
    })
}

fn required(name: &str, message: &str) -> String {
    if message.is_empty() {
        format!("required variable {name} is missing a value")
    } else {
        format!("required variable {name} is missing a value: {message}")
    }
}

/// Substitutes in every string value of a tree; the error names where.
pub fn tree(
    node: &mut Node,
    vars: &Vars,
    out: &mut Outcome,
) -> Result<(), (super::value::Pos, String)> {
    match &mut node.value {
        Value::Str(s) => {
            *s = substitute(s, vars, out).map_err(|e| (node.at, e))?;
        }
        Value::Seq(items) => {
            for item in items {
                tree(item, vars, out)?;
            }
        }
        Value::Map(entries) => {
            for (_, v) in entries {
                tree(v, vars, out)?;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}
