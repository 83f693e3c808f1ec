//! The report goes out: on stdout as text or JSON, to a JUnit file, and
//! the recorded checks' packets to pcap files.

use super::super::CommandResult;
use super::exit_code;
use crate::cli::{OutputFormat, ReportArgs};
use crate::exit;
use crate::report::{self, CaptureReport, Status, VerifyReport, json, junit};

/// Prints the report in the chosen format, writes JUnit if asked, and
/// returns the exit code the checks decide.
pub fn emit(report: &VerifyReport, options: &ReportArgs) -> CommandResult {
    let github = options.output == OutputFormat::Github
        || std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    match options.output {
        OutputFormat::Human | OutputFormat::Github => print!(
            "{}",
            report.human_fit(
                report::colour::stdout(),
                options.verbose,
                options.quiet,
                report::fit::stdout_width()
            )
        ),
        OutputFormat::Json => print!(
            "{}",
            crate::text::safe::json_for_terminal(&json::render(report))
        ),
    }
    // The checks ran: a report file that cannot be written is said, and
    // never hides their verdict (1 and 3 stay; a pass becomes 2).
    let mut unwritten = Vec::new();
    if github {
        // Workflow commands are read from stdout; a JSON report keeps it clean.
        if options.output != OutputFormat::Json {
            let file = options.lab_file.as_deref().and_then(lab_file);
            print!("{}", report::github::annotations(report, file.as_ref()));
        }
        unwritten.extend(append_summary(report).err());
    }
    if let Some(path) = &options.junit {
        match write_junit(report, path) {
            Ok(()) => crate::text::say!("netlab: wrote the JUnit report to {}", path.display()),
            Err(e) => unwritten.push(e),
        }
    }
    if let Some(path) = &options.html {
        match super::super::report::write_page(&json::render(report), path) {
            Ok(bytes) => crate::text::say!(
                "netlab: wrote the HTML report to {} ({} KB; open it in a browser)",
                path.display(),
                bytes.div_ceil(1024)
            ),
            Err(e) => unwritten.push(e.to_string()),
        }
    }
    if let Some(dir) = &options.pcap {
        unwritten.extend(write_pcaps(report, dir, Recorded::Every));
    }
    if let Some(dir) = &options.pcap_on_failure {
        unwritten.extend(write_pcaps(report, dir, Recorded::Failed));
    }
    for problem in &unwritten {
        crate::text::say!("netlab: {problem}");
    }
    Ok(match exit_code(report) {
        exit::SUCCESS if !unwritten.is_empty() => exit::INVALID_INPUT,
        verdict => verdict,
    })
}

/// The lab file as annotations name it: the path given, or a built-in
/// lab's place in netlab's repository.
fn lab_file(arg: &str) -> Option<report::github::LabFile> {
    let (path, text) = if std::path::Path::new(arg).is_file() {
        (arg.to_owned(), std::fs::read_to_string(arg).ok()?)
    } else {
        let text = crate::lab::builtin::get(arg)?;
        (format!("labs/{arg}.yaml"), text.to_owned())
    };
    Some(report::github::LabFile {
        path,
        places: crate::lab::check_places(&text),
    })
}

/// The Markdown summary, appended to `$GITHUB_STEP_SUMMARY` when it is set.
fn append_summary(report: &VerifyReport) -> Result<(), String> {
    use std::io::Write as _;
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut f| f.write_all(report::github::summary(report).as_bytes()))
        .map_err(|e| {
            format!(
                "cannot append the summary to {} ($GITHUB_STEP_SUMMARY): {e}",
                std::path::Path::new(&path).display()
            )
        })
}

/// Which recordings go to pcap files.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Recorded {
    Every,
    /// `--pcap-on-failure`: those of checks that failed or could not run.
    Failed,
}

fn write_junit(report: &VerifyReport, path: &std::path::Path) -> Result<(), String> {
    use std::io::Write as _;
    let xml = junit::render(report).map_err(|e| format!("cannot render JUnit XML: {e}"))?;
    report::file::create(path, report::file::Readers::Everyone)
        .and_then(|mut f| f.write_all(xml.as_bytes()))
        .map_err(|e| format!("cannot write the JUnit report to {}: {e}", path.display()))
}

/// One pcap file per recorded check: `<lab>-<nn>-<title>.pcap`, readable
/// by its owner alone. Returns what could not be written.
fn write_pcaps(report: &VerifyReport, dir: &std::path::Path, which: Recorded) -> Vec<String> {
    if let Err(e) = std::fs::create_dir_all(dir) {
        return vec![format!(
            "cannot make {} for the pcap files: {e}",
            dir.display()
        )];
    }
    let mut written = 0;
    let mut problems = Vec::new();
    for (i, c) in report.all_checks().enumerate() {
        let Some(CaptureReport::Recorded { capture, .. }) = &c.capture else {
            continue;
        };
        if which == Recorded::Failed && !matches!(c.status, Status::Fail | Status::Error) {
            continue;
        }
        let path = dir.join(pcap_name(&report.lab, i + 1, &c.title));
        let wrote = report::file::create(&path, report::file::Readers::Owner)
            .map_err(|e| e.to_string())
            .and_then(|f| {
                crate::capture::pcap::write_to(
                    std::io::BufWriter::new(f),
                    capture.started_at,
                    &capture.packets,
                )
                .and_then(|mut w| std::io::Write::flush(&mut w).map_err(|e| e.to_string()))
            });
        match wrote {
            Ok(()) => written += 1,
            Err(e) => problems.push(format!("cannot write {}: {e}", path.display())),
        }
    }
    if which == Recorded::Failed {
        if written > 0 {
            crate::text::say!(
                "netlab: wrote {} of failed checks to {}",
                report::count(written, "pcap file"),
                dir.display()
            );
        }
    } else if written == 0 && problems.is_empty() {
        crate::text::say!(
            "netlab: --pcap wrote nothing: no check was recorded (add `capture: true`, or --capture)"
        );
    } else if written > 0 {
        crate::text::say!(
            "netlab: wrote {} to {}",
            report::count(written, "pcap file"),
            dir.display()
        );
    }
    problems
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
