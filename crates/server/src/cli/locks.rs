//! `portcullis locks`: list the locks in force in an organization and lift them all.
//!
//! Invariants: `list` follows every page unless `--limit` is given; `clear` is the server's one
//! counted transaction (`DELETE /v1/orgs/{org}/locks`), never a loop of unlocks.

use crate::cli::client::{CliError, Client, segment};
use crate::cli::output::{self, OutputFormat};

/// A lock's kind.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LockKind {
    /// Password lock.
    Password,
    /// One-time-code lock.
    Otp,
}

/// `portcullis locks …`
#[derive(Debug, clap::Subcommand)]
pub enum LocksCommand {
    /// Lists the locks in force, by counter key.
    List {
        /// The organization.
        org: String,
        /// Only login names starting with this.
        #[arg(long, value_name = "PREFIX")]
        login: Option<String>,
        /// Only this kind.
        #[arg(long, value_enum)]
        kind: Option<LockKind>,
        /// At most this many (default: every page).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Lifts every password and one-time-code lock of the organization.
    Clear {
        /// The organization.
        org: String,
    },
}

const COLUMNS: &[(&str, &str)] = &[
    ("LOGIN", "login"),
    ("KIND", "kind"),
    ("FAILURES", "failures"),
    ("LOCKED AT", "locked_at"),
    ("UNTIL", "until"),
    ("USER", "user_id"),
    ("SOURCE", "source"),
];

/// Runs a `locks` command.
pub(crate) async fn run(
    client: &Client,
    format: OutputFormat,
    command: LocksCommand,
) -> Result<(), CliError> {
    match command {
        LocksCommand::List {
            org,
            login,
            kind,
            limit,
        } => {
            let mut query = Vec::new();
            if let Some(login) = login {
                query.push(("login", login));
            }
            if let Some(kind) = kind {
                let kind = match kind {
                    LockKind::Password => "password",
                    LockKind::Otp => "otp",
                };
                query.push(("kind", kind.to_owned()));
            }
            let path = format!("/v1/orgs/{}/locks", segment(&org));
            let items = client.list(&path, &query, limit).await?;
            output::list(format, items, COLUMNS)?;
        }
        LocksCommand::Clear { org } => {
            let answer = client
                .delete(&format!("/v1/orgs/{}/locks", segment(&org)))
                .await?;
            let count = output::cell(answer.get("count"));
            output::done(format, &answer, &format!("lifted {count} lock(s) in {org}"))?;
        }
    }
    Ok(())
}
