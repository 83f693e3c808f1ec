//! `netlab report --html FILE REPORT.json`: the page of a saved JSON report,
//! the same bytes `verify --html` writes for that report. Never talks to
//! Docker.

use std::io::Read as _;
use std::path::Path;

use super::{CommandResult, Failure};
use crate::exit;
use crate::report::html;

pub fn report_command(json: &Path, page: &Path) -> CommandResult {
    let text = if json == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::Usage(format!("cannot read the report from stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(json)
            .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", json.display())))?
    };
    let bytes = write_page_named(&text, page, &json.display().to_string())?;
    crate::text::say!(
        "netlab: wrote {} ({} KB)",
        page.display(),
        bytes.div_ceil(1024)
    );
    Ok(exit::SUCCESS)
}

/// Renders a JSON report's page into `path`; returns its size.
pub fn write_page(json: &str, path: &Path) -> Result<usize, Failure> {
    write_page_named(json, path, "the JSON report")
}

fn write_page_named(json: &str, path: &Path, source: &str) -> Result<usize, Failure> {
    let page = html::from_json(json).map_err(|e| {
        Failure::Usage(format!(
            "{source}:{}:{}: not a netlab JSON report: {e}\n  (hint: make one with `netlab verify --output json > report.json`)",
            e.line(),
            e.column()
        ))
    })?;
    crate::report::file::create(path, crate::report::file::Readers::Everyone)
        .and_then(|mut f| std::io::Write::write_all(&mut f, page.as_bytes()))
        .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
    Ok(page.len())
}
