//! `portcullis users`: list, create, unlock users, set their passwords and expire them
//! (organization administrators).
//!
//! Invariants: a password is never a command-line argument (it would show in `ps`): it is read
//! from standard input or a file, one trailing line break removed, and only ever sent in a
//! request body; it is never printed.

use std::io::Read as _;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::cli::client::{CliError, Client, segment};
use crate::cli::output::{self, OutputFormat};

/// Where a password comes from.
#[derive(Debug, clap::Args)]
#[group(multiple = false)]
pub struct PasswordSource {
    /// Reads the password from standard input (one trailing line break is removed).
    #[arg(long)]
    password_stdin: bool,
    /// Reads the password from this file (one trailing line break is removed).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

/// `portcullis users …`
#[derive(Debug, clap::Subcommand)]
pub enum UsersCommand {
    /// Lists an organization's users, by id.
    List {
        /// The organization.
        org: String,
        /// Only the users locked now.
        #[arg(long)]
        locked: bool,
        /// At most this many (default: every page).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Creates a user (with a password read from standard input or a file, or none).
    Create {
        /// The organization.
        org: String,
        /// The login name.
        login: String,
        /// Where the password is read from.
        #[command(flatten)]
        password: PasswordSource,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// A role (repeat for several; default `member`).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
    },
    /// Lifts a user's password and one-time-code locks.
    Unlock {
        /// The organization.
        org: String,
        /// The user's id.
        user_id: String,
    },
    /// Sets a user's password (read from standard input or a file); ends its sessions and
    /// lifts its lock.
    ResetPassword {
        /// The organization.
        org: String,
        /// The user's id.
        user_id: String,
        /// Where the password is read from.
        #[command(flatten)]
        password: PasswordSource,
        /// The user need not change it at its next login.
        #[arg(long)]
        no_change_required: bool,
    },
    /// Expires a user's password now: its next login is limited to changing it.
    ExpirePassword {
        /// The organization.
        org: String,
        /// The user's id.
        user_id: String,
    },
    /// Expires the passwords of every user of the organization (`--all`), or of those set
    /// before a time (`--changed-before`, RFC 3339).
    ExpirePasswords {
        /// The organization.
        org: String,
        /// Every user's password.
        #[arg(
            long,
            required_unless_present = "changed_before",
            conflicts_with = "changed_before"
        )]
        all: bool,
        /// Only the passwords set before this time (RFC 3339, e.g. 2026-12-01T00:00:00Z).
        #[arg(long, value_name = "TIME")]
        changed_before: Option<String>,
    },
}

const COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("LOGIN", "login"),
    ("ROLES", "roles"),
    ("EMAIL", "email"),
    ("DISABLED", "disabled"),
    ("LOCKED", "locked"),
    ("LAST LOGIN", "last_login_at"),
];

/// Removes one trailing `\n` or `\r\n`.
fn strip_line_break(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

/// The password from its source; `None` when no source was given.
fn read_password(source: &PasswordSource) -> Result<Option<String>, CliError> {
    let text = if source.password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| {
            CliError::Input(format!("reading the password from standard input: {e}"))
        })?;
        text
    } else if let Some(path) = &source.password_file {
        std::fs::read_to_string(path).map_err(|e| {
            CliError::Input(format!("reading the password from {}: {e}", path.display()))
        })?
    } else {
        return Ok(None);
    };
    let password = strip_line_break(text);
    if password.is_empty() {
        return Err(CliError::Input("the password read is empty".into()));
    }
    Ok(Some(password))
}

/// A user as the table shows it: `locked` from its lock state.
fn row(mut user: Value) -> Value {
    let locked = match user.get("lock") {
        Some(Value::Object(lock)) if lock.get("locked") == Some(&Value::Bool(true)) => {
            match lock.get("until") {
                Some(Value::String(until)) => format!("until {until}"),
                _ => "yes".to_owned(),
            }
        }
        Some(Value::Object(_)) => "no".to_owned(),
        _ => "-".to_owned(),
    };
    if let Value::Object(fields) = &mut user {
        fields.insert("locked".into(), Value::String(locked));
    }
    user
}

/// Runs a `users` command.
pub(crate) async fn run(
    client: &Client,
    format: OutputFormat,
    command: UsersCommand,
) -> Result<(), CliError> {
    match command {
        UsersCommand::List { org, locked, limit } => {
            let path = format!("/v1/orgs/{}/users", segment(&org));
            let query = if locked {
                vec![("locked", "true".to_owned())]
            } else {
                Vec::new()
            };
            let items = client.list(&path, &query, limit).await?;
            let items = match format {
                OutputFormat::Json => items,
                OutputFormat::Table => items.into_iter().map(row).collect(),
            };
            output::list(format, items, COLUMNS)?;
        }
        UsersCommand::Create {
            org,
            login,
            password,
            email,
            roles,
        } => {
            let password = read_password(&password)?;
            let mut body = Map::new();
            body.insert("login".into(), Value::String(login));
            if let Some(password) = password {
                body.insert("password".into(), Value::String(password));
            }
            if let Some(email) = email {
                body.insert("email".into(), Value::String(email));
            }
            if !roles.is_empty() {
                body.insert("roles".into(), json!(roles));
            }
            let path = format!("/v1/orgs/{}/users", segment(&org));
            let user = client.post(&path, Some(&Value::Object(body))).await?;
            output::object(
                format,
                &user,
                &["id", "org_id", "login", "email", "roles", "has_password"],
            )?;
        }
        UsersCommand::Unlock { org, user_id } => {
            let path = format!(
                "/v1/orgs/{}/users/{}/unlock",
                segment(&org),
                segment(&user_id)
            );
            let answer = client.post(&path, None).await?;
            let message = if answer.get("unlocked") == Some(&Value::Bool(true)) {
                format!("unlocked {user_id}")
            } else {
                format!("{user_id} was not locked")
            };
            output::done(format, &answer, &message)?;
        }
        UsersCommand::ResetPassword {
            org,
            user_id,
            password,
            no_change_required,
        } => {
            let Some(password) = read_password(&password)? else {
                return Err(CliError::Input(
                    "give the new password with --password-stdin or --password-file".into(),
                ));
            };
            let path = format!(
                "/v1/orgs/{}/users/{}/password",
                segment(&org),
                segment(&user_id)
            );
            let body = json!({"password": password, "change_required": !no_change_required});
            let answer = client.put(&path, &body).await?;
            let message = if no_change_required {
                format!("password of {user_id} set")
            } else {
                format!("password of {user_id} set; it must be changed at the next login")
            };
            output::done(format, &answer, &message)?;
        }
        UsersCommand::ExpirePassword { org, user_id } => {
            let path = format!(
                "/v1/orgs/{}/users/{}/password/expire",
                segment(&org),
                segment(&user_id)
            );
            let user = client.post(&path, Some(&json!({}))).await?;
            let message = match user.get("password_expired_at") {
                Some(Value::String(at)) => format!("password of {user_id} expired at {at}"),
                _ => format!("{user_id} has no password to expire"),
            };
            output::done(format, &user, &message)?;
        }
        UsersCommand::ExpirePasswords {
            org,
            all,
            changed_before,
        } => {
            let body = match changed_before {
                Some(at) => json!({"changed_before": at}),
                None => json!({"all": all}),
            };
            let path = format!("/v1/orgs/{}/passwords/expire", segment(&org));
            let answer = client.post(&path, Some(&body)).await?;
            let count = output::cell(answer.get("expired"));
            output::done(
                format,
                &answer,
                &format!("expired {count} password(s) in {org}"),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trailing_line_break_is_removed() {
        assert_eq!(strip_line_break("pw\n".into()), "pw");
        assert_eq!(strip_line_break("pw\r\n".into()), "pw");
        assert_eq!(strip_line_break("pw\n\n".into()), "pw\n");
        assert_eq!(strip_line_break(" pw ".into()), " pw ");
    }
}
