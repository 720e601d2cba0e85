//! `portcullis ip-blocks`: list an organization's blocked addresses, block one by hand, lift
//! one, lift them all.
//!
//! Invariants: an address or network in a path is percent-encoded (`198.51.100.0/24` →
//! `198.51.100.0%2F24`); `clear` is the server's one counted transaction.

use serde_json::{Map, Value};

use crate::cli::client::{CliError, Client, segment};
use crate::cli::output::{self, OutputFormat};

/// `portcullis ip-blocks …`
#[derive(Debug, clap::Subcommand)]
pub enum IpBlocksCommand {
    /// Lists the blocks in force (counted and administrators'), by address.
    List {
        /// The organization.
        org: String,
        /// At most this many (default: every page).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Blocks an address or a network (CIDR), permanently or until a time.
    Add {
        /// The organization.
        org: String,
        /// `192.0.2.7`, `198.51.100.0/24`, `2001:db8::/32`.
        address_or_network: String,
        /// When the block ends (RFC 3339, in the future); default: permanent.
        #[arg(long, value_name = "RFC3339")]
        until: Option<String>,
    },
    /// Lifts the counted and the administrator's block of an address or network.
    Lift {
        /// The organization.
        org: String,
        /// The address or network as listed.
        address: String,
    },
    /// Lifts every block of the organization.
    Clear {
        /// The organization.
        org: String,
    },
}

const COLUMNS: &[(&str, &str)] = &[
    ("ADDRESS", "address"),
    ("ORIGIN", "origin"),
    ("FAILURES", "failures"),
    ("BLOCKED AT", "blocked_at"),
    ("UNTIL", "until"),
    ("ACTOR", "actor"),
];

/// Runs an `ip-blocks` command.
pub(crate) async fn run(
    client: &Client,
    format: OutputFormat,
    command: IpBlocksCommand,
) -> Result<(), CliError> {
    match command {
        IpBlocksCommand::List { org, limit } => {
            let path = format!("/v1/orgs/{}/ip-blocks", segment(&org));
            let items = client.list(&path, &[], limit).await?;
            output::list(format, items, COLUMNS)?;
        }
        IpBlocksCommand::Add {
            org,
            address_or_network,
            until,
        } => {
            let mut body = Map::new();
            body.insert(
                "address_or_network".into(),
                Value::String(address_or_network),
            );
            if let Some(until) = until {
                body.insert("until".into(), Value::String(until));
            }
            let path = format!("/v1/orgs/{}/ip-blocks", segment(&org));
            let block = client.post(&path, Some(&Value::Object(body))).await?;
            output::object(
                format,
                &block,
                &["address", "origin", "blocked_at", "until", "actor"],
            )?;
        }
        IpBlocksCommand::Lift { org, address } => {
            let path = format!("/v1/orgs/{}/ip-blocks/{}", segment(&org), segment(&address));
            let answer = client.delete(&path).await?;
            output::done(format, &answer, &format!("lifted the block of {address}"))?;
        }
        IpBlocksCommand::Clear { org } => {
            let answer = client
                .delete(&format!("/v1/orgs/{}/ip-blocks", segment(&org)))
                .await?;
            let count = output::cell(answer.get("count"));
            output::done(
                format,
                &answer,
                &format!("lifted {count} block(s) in {org}"),
            )?;
        }
    }
    Ok(())
}
