//! `portcullis events tail`: an organization's or the instance's events, in order, by cursor
//! polling, and with `--follow` for as long as it runs.
//!
//! Invariants: each event is printed once and in sequence order: the cursor is the sequence of
//! the last event printed, and pages are read until one is not full before waiting; table mode
//! prints one line per event, JSON mode one compact object per line (NDJSON), flushed as it
//! goes; an interrupt (Ctrl-C) while following ends the command with status 0.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use crate::cli::client::{CliError, Client, MAX_PAGE};
use crate::cli::output::{self, OutputFormat};
use crate::cli::scope_path;

/// `portcullis events …`
#[derive(Debug, clap::Subcommand)]
pub enum EventsCommand {
    /// Prints the events after a sequence number, oldest first; `--follow` keeps polling.
    Tail {
        /// The organization, or `instance` for the instance's events.
        scope: String,
        /// Only events after this sequence number (default: from the first).
        #[arg(long, value_name = "SEQ", default_value_t = 0)]
        after: u64,
        /// Keeps polling for new events until interrupted.
        #[arg(long)]
        follow: bool,
        /// Milliseconds between two polls when nothing new came (with `--follow`).
        #[arg(long, value_name = "N", default_value_t = 1000, requires = "follow")]
        interval_ms: u64,
    },
}

/// One event as a line: sequence, time, organization, type, actor, payload.
fn line(event: &Value) -> String {
    format!(
        "{:>6}  {}  {}  {:<26}  {}  {}",
        output::cell(event.get("sequence")),
        output::cell(event.get("at")),
        output::cell(event.get("org_id")),
        output::cell(event.get("type")),
        output::cell(event.get("actor")),
        output::compact(event.get("payload").unwrap_or(&Value::Null)),
    )
}

/// Reads every event after `*after`, printing each and moving the cursor; returns when a page is
/// not full.
async fn drain(
    client: &Client,
    format: OutputFormat,
    path: &str,
    after: &mut u64,
) -> Result<(), CliError> {
    loop {
        let query = [
            ("after", after.to_string()),
            ("limit", MAX_PAGE.to_string()),
        ];
        let page = client.get(path, &query).await?;
        let items = page
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut out = std::io::stdout().lock();
        for event in &items {
            let Some(sequence) = event.get("sequence").and_then(Value::as_u64) else {
                return Err(CliError::Transport("an event has no sequence".into()));
            };
            if sequence <= *after {
                continue;
            }
            match format {
                OutputFormat::Json => writeln!(out, "{}", output::compact(event))?,
                OutputFormat::Table => writeln!(out, "{}", line(event))?,
            }
            *after = sequence;
        }
        out.flush()?;
        if items.len() < MAX_PAGE {
            return Ok(());
        }
    }
}

/// Runs an `events` command.
pub(crate) async fn run(
    client: &Client,
    format: OutputFormat,
    command: EventsCommand,
) -> Result<(), CliError> {
    let EventsCommand::Tail {
        scope,
        after,
        follow,
        interval_ms,
    } = command;
    let path = format!("{}/events", scope_path(&scope));
    let mut after = after;
    if !follow {
        return drain(client, format, &path, &mut after).await;
    }
    let interval = Duration::from_millis(interval_ms.max(1));
    let poll = async {
        loop {
            drain(client, format, &path, &mut after).await?;
            tokio::time::sleep(interval).await;
        }
    };
    tokio::select! {
        result = poll => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
