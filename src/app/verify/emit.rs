//! The report goes out: on stdout as text or JSON, to a JUnit file, and
//! the recorded checks' packets to pcap files.

use super::super::{CommandResult, Failure};
use super::exit_code;
use crate::cli::{OutputFormat, ReportArgs};
use crate::report::{self, CaptureReport, VerifyReport, json, junit};

/// Prints the report in the chosen format, writes JUnit if asked, and
/// returns the exit code the checks decide.
pub fn emit(report: &VerifyReport, options: &ReportArgs) -> CommandResult {
    match options.output {
        OutputFormat::Human => print!(
            "{}",
            report.human_with(report::colour::stdout(), options.verbose, options.quiet)
        ),
        OutputFormat::Json => print!("{}", json::render(report)),
    }
    if let Some(path) = &options.junit {
        let xml = junit::render(report)
            .map_err(|e| Failure::Usage(format!("cannot render JUnit XML: {e}")))?;
        std::fs::write(path, xml)
            .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
    }
    if let Some(path) = &options.html {
        super::super::report::write_page(&json::render(report), path)?;
    }
    if let Some(dir) = &options.pcap {
        write_pcaps(report, dir)?;
    }
    Ok(exit_code(report))
}

/// One pcap file per recorded check: `<lab>-<nn>-<title>.pcap`.
fn write_pcaps(report: &VerifyReport, dir: &std::path::Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::Usage(format!("cannot make {}: {e}", dir.display())))?;
    let mut written = 0;
    for (i, c) in report.all_checks().enumerate() {
        let Some(CaptureReport::Recorded { capture, .. }) = &c.capture else {
            continue;
        };
        let path = dir.join(pcap_name(&report.lab, i + 1, &c.title));
        crate::capture::pcap::write_file(&path, capture.started_at, &capture.packets)
            .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
        written += 1;
    }
    if written == 0 {
        eprintln!(
            "netlab: --pcap wrote nothing: no check was recorded (add `capture: true`, or --capture)"
        );
    } else {
        eprintln!(
            "netlab: wrote {} to {}",
            report::count(written, "pcap file"),
            dir.display()
        );
    }
    Ok(())
}

/// `https-redirect-03-tls-client-web-443-as-web-is-verified.pcap`
fn pcap_name(lab: &str, index: usize, title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_matches('-').chars().take(60).collect();
    format!("{lab}-{index:02}-{}.pcap", slug.trim_end_matches('-'))
}
