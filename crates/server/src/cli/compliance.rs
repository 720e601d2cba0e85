//! `portcullis compliance`: the standards the server knows, a scope's compliance report, and
//! the smallest changes that make an organization meet a standard (a dry run unless `--yes`).
//!
//! Invariants: `apply` writes only with `--yes` (the server's `dry_run=false`); a report lists
//! failing rules first, otherwise in the server's order; the summary line counts what the
//! server counted.

use std::io::Write;

use serde_json::Value;

use crate::cli::client::{CliError, Client, segment};
use crate::cli::output::{self, OutputFormat, Table};
use crate::cli::scope_path;

/// `portcullis compliance …`
#[derive(Debug, clap::Subcommand)]
pub enum ComplianceCommand {
    /// Lists the standards the server checks against.
    Standards,
    /// Checks an organization's (or the instance's) policy against a standard.
    Report {
        /// The organization, or `instance`.
        scope: String,
        /// The standard's id (see `portcullis compliance standards`).
        #[arg(long)]
        standard: String,
    },
    /// Shows (dry run) or writes (`--yes`) the changes that make an organization (or the
    /// instance defaults) meet a standard.
    Apply {
        /// The organization, or `instance`.
        org: String,
        /// The standard's id.
        #[arg(long)]
        standard: String,
        /// Writes the changes (default: a dry run that only shows them).
        #[arg(long)]
        yes: bool,
    },
}

fn rank(rule: &Value) -> u8 {
    match rule.get("status").and_then(Value::as_str) {
        Some("fail") => 0,
        Some("pass") => 1,
        _ => 2,
    }
}

fn summary_line(report: &Value) -> String {
    let count = |key: &str| output::cell(report.get("summary").and_then(|s| s.get(key)));
    format!(
        "{} ({}): {} pass, {} fail, {} not applicable",
        output::cell(report.get("title")),
        output::cell(report.get("standard")),
        count("pass"),
        count("fail"),
        count("not_applicable"),
    )
}

fn write_report(w: &mut dyn Write, report: &Value) -> std::io::Result<()> {
    let mut rules: Vec<Value> = report
        .get("rules")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    rules.sort_by_key(rank);
    let mut table = Table::new(&[
        "STATUS", "RULE", "CLAUSE", "FIELD", "CURRENT", "REQUIRED", "REASON",
    ]);
    for rule in &rules {
        table.row(
            [
                "status", "rule", "clause", "field", "current", "required", "reason",
            ]
            .iter()
            .map(|k| output::cell(rule.get(*k)))
            .collect(),
        );
    }
    table.write(w)?;
    writeln!(w, "{}", summary_line(report))
}

/// Runs a `compliance` command.
pub(crate) async fn run(
    client: &Client,
    format: OutputFormat,
    command: ComplianceCommand,
) -> Result<(), CliError> {
    match command {
        ComplianceCommand::Standards => {
            let answer = client.get("/v1/compliance/standards", &[]).await?;
            let items = answer
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            output::list(format, items, &[("ID", "id"), ("TITLE", "title")])?;
        }
        ComplianceCommand::Report { scope, standard } => {
            let path = format!("{}/compliance", scope_path(&scope));
            let report = client.get(&path, &[("standard", standard)]).await?;
            let mut out = std::io::stdout().lock();
            match format {
                OutputFormat::Json => output::json(&mut out, &report)?,
                OutputFormat::Table => write_report(&mut out, &report)?,
            }
            out.flush()?;
        }
        ComplianceCommand::Apply { org, standard, yes } => {
            let path = format!(
                "{}/compliance/{}/apply",
                scope_path(&org),
                segment(&standard)
            );
            let answer = client
                .send(
                    reqwest::Method::POST,
                    &path,
                    &[("dry_run", (!yes).to_string())],
                    None,
                    None,
                )
                .await?
                .body;
            let mut out = std::io::stdout().lock();
            if format == OutputFormat::Json {
                output::json(&mut out, &answer)?;
                out.flush()?;
                return Ok(());
            }
            let changes = answer
                .get("changes")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for change in &changes {
                let section = output::cell(change.get("section"));
                let target = match change.get("password_policy") {
                    Some(Value::String(id)) => format!("{section}[{id}]"),
                    _ => section,
                };
                let patch = output::compact(change.get("patch").unwrap_or(&Value::Null));
                writeln!(out, "~ {org} {target}: {patch}")?;
            }
            let written = answer.get("written") == Some(&Value::Bool(true));
            if changes.is_empty() {
                writeln!(out, "No changes: {org} already meets {standard}.")?;
            } else if written {
                writeln!(out, "Wrote {} change(s) to {org}.", changes.len())?;
            } else {
                writeln!(
                    out,
                    "Dry run: {} change(s) not written; run again with --yes to write them.",
                    changes.len()
                )?;
            }
            if let Some(report) = answer.get("report") {
                let when = if written || changes.is_empty() {
                    "now"
                } else {
                    "after the changes"
                };
                writeln!(out, "Report {when}: {}", summary_line(report))?;
            }
            out.flush()?;
        }
    }
    Ok(())
}
