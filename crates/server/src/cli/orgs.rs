//! `portcullis orgs`: list and create organizations (instance administrators).
//!
//! Invariants: `list` follows every page unless `--limit` is given; nothing here reads the
//! database, only `/v1/orgs`.

use serde_json::{Map, Value};

use crate::cli::client::{CliError, Client};
use crate::cli::output::{self, OutputFormat};

/// `portcullis orgs …`
#[derive(Debug, clap::Subcommand)]
pub enum OrgsCommand {
    /// Lists the organizations, by id.
    List {
        /// At most this many (default: every page).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Creates an organization.
    Create {
        /// Its id (`[A-Za-z0-9._-]{1,64}`).
        id: String,
        /// Its display name (default: the id).
        #[arg(long)]
        name: Option<String>,
    },
}

const COLUMNS: &[(&str, &str)] = &[("ID", "id"), ("NAME", "name"), ("CREATED", "created_at")];

/// Runs an `orgs` command.
pub(crate) async fn run(
    client: &Client,
    format: OutputFormat,
    command: OrgsCommand,
) -> Result<(), CliError> {
    match command {
        OrgsCommand::List { limit } => {
            let items = client.list("/v1/orgs", &[], limit).await?;
            output::list(format, items, COLUMNS)?;
        }
        OrgsCommand::Create { id, name } => {
            let created = create(client, &id, name.as_deref()).await?;
            output::object(format, &created, &["id", "name", "created_at"])?;
        }
    }
    Ok(())
}

/// `POST /v1/orgs {id, name?}`, answering the organization.
pub(crate) async fn create(
    client: &Client,
    id: &str,
    name: Option<&str>,
) -> Result<Value, CliError> {
    let mut body = Map::new();
    body.insert("id".into(), Value::String(id.to_owned()));
    if let Some(name) = name {
        body.insert("name".into(), Value::String(name.to_owned()));
    }
    client.post("/v1/orgs", Some(&Value::Object(body))).await
}
