//! `portcullis keys`: list, create and revoke API keys of an organization or instance keys.
//!
//! Invariants: a created key's secret is printed once, on standard output, and nowhere else
//! (never on standard error, never logged); instance keys take no roles, expiry or format (they
//! carry `instance_admin`, never expire and have the native shape), so asking for them is an
//! input error.

use serde_json::{Map, Value, json};

use crate::cli::client::{CliError, Client, segment};
use crate::cli::output::{self, OutputFormat};
use crate::cli::{INSTANCE, scope_path};

/// `portcullis keys …`
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Lists the keys (never their secrets).
    List {
        /// The organization, or `instance` for the instance administrator keys.
        scope: String,
        /// At most this many (default: every page).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Creates a key and prints its secret, once.
    Create {
        /// The organization, or `instance` for an instance administrator key.
        scope: String,
        /// The key's name.
        name: String,
        /// A role (repeat for several; default: the creator's organization roles).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// Expiry (RFC 3339); required when the organization's policy sets a maximum.
        #[arg(long, value_name = "RFC3339")]
        expires_at: Option<String>,
        /// The shape of the id and secret: `native` (default) or `scaleway` (an `SCW…` id and a
        /// UUID secret, as Scaleway's clients require).
        #[arg(long, value_name = "FORMAT", value_parser = ["native", "scaleway"])]
        format: Option<String>,
    },
    /// Revokes (deletes) a key.
    Revoke {
        /// The organization, or `instance`.
        scope: String,
        /// The key's id.
        key_id: String,
    },
}

const COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("NAME", "name"),
    ("KIND", "kind"),
    ("ROLES", "roles"),
    ("USER", "user_id"),
    ("CREATED", "created_at"),
    ("EXPIRES", "expires_at"),
];

fn keys_path(scope: &str) -> String {
    if scope == INSTANCE {
        "/v1/instance/keys".to_owned()
    } else {
        format!("{}/api-keys", scope_path(scope))
    }
}

/// Runs a `keys` command.
pub(crate) async fn run(
    client: &Client,
    format: OutputFormat,
    command: KeysCommand,
) -> Result<(), CliError> {
    match command {
        KeysCommand::List { scope, limit } => {
            let items = client.list(&keys_path(&scope), &[], limit).await?;
            output::list(format, items, COLUMNS)?;
        }
        KeysCommand::Create {
            scope,
            name,
            roles,
            expires_at,
            format: key_format,
        } => {
            let mut body = Map::new();
            body.insert("name".into(), Value::String(name));
            if scope == INSTANCE {
                if !roles.is_empty() || expires_at.is_some() {
                    return Err(CliError::Input(
                        "instance keys carry instance_admin and never expire: drop --role and --expires-at".into(),
                    ));
                }
                if key_format.is_some() {
                    return Err(CliError::Input(
                        "instance keys have the native format: drop --format".into(),
                    ));
                }
            } else {
                if let Some(key_format) = key_format {
                    body.insert("format".into(), Value::String(key_format));
                }
                if !roles.is_empty() {
                    body.insert("roles".into(), json!(roles));
                }
                if let Some(expires_at) = expires_at {
                    body.insert("expires_at".into(), Value::String(expires_at));
                }
            }
            let created = client
                .post(&keys_path(&scope), Some(&Value::Object(body)))
                .await?;
            output::object(
                format,
                &created,
                &["id", "name", "org_id", "roles", "expires_at", "key"],
            )?;
        }
        KeysCommand::Revoke { scope, key_id } => {
            let path = format!("{}/{}", keys_path(&scope), segment(&key_id));
            let answer = client.delete(&path).await?;
            output::done(format, &answer, &format!("revoked key {key_id}"))?;
        }
    }
    Ok(())
}
