//! `portcullis sessions`: a user's sessions (where each was opened, when it ends), ending one
//! or all of them, and signing a whole organization out (organization administrators).
//!
//! Invariants: no token is ever shown (the server answers ids only); ending every session of
//! an organization asks for `--yes`, so a mistyped command cannot sign everyone out; each
//! command is one request, so the server's one transaction and one event stand for it.

use crate::cli::client::{CliError, Client, segment};
use crate::cli::output::{self, OutputFormat};

/// `portcullis sessions …`
#[derive(Debug, clap::Subcommand)]
pub enum SessionsCommand {
    /// Lists a user's live sessions, by id: opened, last used, ends, client address and agent.
    List {
        /// The organization.
        org: String,
        /// The user's id.
        user_id: String,
        /// At most this many (default: every page).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Ends one session of a user, or every one with `--all`.
    End {
        /// The organization.
        org: String,
        /// The user's id.
        user_id: String,
        /// The session's id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        session_id: Option<String>,
        /// Every session of the user.
        #[arg(long)]
        all: bool,
    },
    /// Signs the whole organization out: ends every session of every user.
    EndAll {
        /// The organization.
        org: String,
        /// Confirms it (required).
        #[arg(long)]
        yes: bool,
    },
}

const COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("OPENED", "created_at"),
    ("LAST USED", "last_used_at"),
    ("ENDS", "expires_at"),
    ("ADDRESS", "client_ip"),
    ("AGENT", "user_agent"),
    ("RESTRICTED", "restricted"),
];

/// Runs a `sessions` command.
pub(crate) async fn run(
    client: &Client,
    format: OutputFormat,
    command: SessionsCommand,
) -> Result<(), CliError> {
    match command {
        SessionsCommand::List {
            org,
            user_id,
            limit,
        } => {
            let path = format!(
                "/v1/orgs/{}/users/{}/sessions",
                segment(&org),
                segment(&user_id)
            );
            let items = client.list(&path, &[], limit).await?;
            output::list(format, items, COLUMNS)?;
        }
        SessionsCommand::End {
            org,
            user_id,
            session_id,
            all,
        } => {
            let path = format!(
                "/v1/orgs/{}/users/{}/sessions",
                segment(&org),
                segment(&user_id)
            );
            match (session_id, all) {
                (Some(id), false) => {
                    let answer = client.delete(&format!("{path}/{}", segment(&id))).await?;
                    output::done(format, &answer, &format!("ended session {id}"))?;
                }
                _ => {
                    let answer = client.delete(&path).await?;
                    let count = output::cell(answer.get("ended"));
                    output::done(
                        format,
                        &answer,
                        &format!("ended {count} session(s) of {user_id}"),
                    )?;
                }
            }
        }
        SessionsCommand::EndAll { org, yes } => {
            if !yes {
                return Err(CliError::Input(format!(
                    "this ends every session of every user of {org}; add --yes to do it"
                )));
            }
            let answer = client
                .delete(&format!("/v1/orgs/{}/sessions", segment(&org)))
                .await?;
            let count = output::cell(answer.get("ended"));
            output::done(
                format,
                &answer,
                &format!("ended {count} session(s) in {org}"),
            )?;
        }
    }
    Ok(())
}
