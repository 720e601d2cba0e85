//! The client commands of the `portcullis` binary: they talk to a running server over HTTP
//! (`--url`, `--token`), so operators need no curl. One file per command group; `client`
//! owns HTTP and errors, `output` tables and JSON, `policy_document` and `policy_plan` the
//! policy as code.
//!
//! Invariants: no client command reads the database; the token is read from `--token` or
//! `PORTCULLIS_TOKEN` and only ever sent as `Authorization: Bearer` (never printed, logged or
//! shown by `--help`); exit status 0 = success, 1 = any error (HTTP error, connection failure,
//! bad input; the error on standard error), 2 = `policy plan` found changes ([`EXIT_CHANGES`]).

pub mod breached;
pub mod client;
pub mod compliance;
pub mod events;
pub mod ip_blocks;
pub mod keys;
pub mod locks;
pub mod orgs;
pub mod output;
pub mod policy;
pub mod policy_document;
mod policy_plan;
pub mod sessions;
pub mod users;

use std::io::Write as _;
use std::process::ExitCode;

use client::{CliError, Client, segment};
use output::OutputFormat;

/// Exit status of `policy plan` when applying the document would change something.
pub const EXIT_CHANGES: u8 = 2;

/// The scope argument naming the instance (`events tail instance`, `keys create instance …`).
pub(crate) const INSTANCE: &str = "instance";

/// `/v1/instance` for [`INSTANCE`], else `/v1/orgs/{org}`.
pub(crate) fn scope_path(scope: &str) -> String {
    if scope == INSTANCE {
        "/v1/instance".to_owned()
    } else {
        format!("/v1/orgs/{}", segment(scope))
    }
}

/// How a client command reaches the server and shows answers.
#[derive(clap::Args)]
#[command(next_help_heading = "Client options")]
pub struct ClientOptions {
    /// The server's base URL.
    #[arg(
        long,
        global = true,
        env = "PORTCULLIS_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// The API key or session token sent as `Authorization: Bearer` (prefer the environment
    /// variable: an argument shows in `ps`).
    #[arg(long, global = true, env = "PORTCULLIS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// `table` for people, `json` for programs (the server's JSON; a list as one array).
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .field("output", &self.output)
            .finish()
    }
}

/// The client commands (flattened into the binary's commands).
#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Organizations: list, create.
    Orgs {
        /// Server, token, output format.
        #[command(flatten)]
        options: ClientOptions,
        /// What to do.
        #[command(subcommand)]
        command: orgs::OrgsCommand,
    },
    /// Users: list, create, unlock, reset-password, expire-password, expire-passwords.
    Users {
        /// Server, token, output format.
        #[command(flatten)]
        options: ClientOptions,
        /// What to do.
        #[command(subcommand)]
        command: users::UsersCommand,
    },
    /// Sessions: list a user's, end one or all of a user's, end every one of an organization.
    Sessions {
        /// Server, token, output format.
        #[command(flatten)]
        options: ClientOptions,
        /// What to do.
        #[command(subcommand)]
        command: sessions::SessionsCommand,
    },
    /// Locks in force: list, clear.
    Locks {
        /// Server, token, output format.
        #[command(flatten)]
        options: ClientOptions,
        /// What to do.
        #[command(subcommand)]
        command: locks::LocksCommand,
    },
    /// Blocked addresses: list, add, lift, clear.
    IpBlocks {
        /// Server, token, output format.
        #[command(flatten)]
        options: ClientOptions,
        /// What to do.
        #[command(subcommand)]
        command: ip_blocks::IpBlocksCommand,
    },
    /// Events: tail (and follow).
    Events {
        /// Server, token, output format.
        #[command(flatten)]
        options: ClientOptions,
        /// What to do.
        #[command(subcommand)]
        command: events::EventsCommand,
    },
    /// API keys: list, create, revoke.
    Keys {
        /// Server, token, output format.
        #[command(flatten)]
        options: ClientOptions,
        /// What to do.
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Policy as code: export, plan, apply, schema.
    Policy {
        /// Server, token, output format.
        #[command(flatten)]
        options: ClientOptions,
        /// What to do.
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Compliance with standards: standards, report, apply.
    Compliance {
        /// Server, token, output format.
        #[command(flatten)]
        options: ClientOptions,
        /// What to do.
        #[command(subcommand)]
        command: compliance::ComplianceCommand,
    },
}

impl ClientCommand {
    fn options(&self) -> &ClientOptions {
        match self {
            ClientCommand::Orgs { options, .. }
            | ClientCommand::Users { options, .. }
            | ClientCommand::Sessions { options, .. }
            | ClientCommand::Locks { options, .. }
            | ClientCommand::IpBlocks { options, .. }
            | ClientCommand::Events { options, .. }
            | ClientCommand::Keys { options, .. }
            | ClientCommand::Policy { options, .. }
            | ClientCommand::Compliance { options, .. } => options,
        }
    }

    async fn execute(self) -> Result<bool, CliError> {
        let options = self.options();
        let format = options.output;
        let client = Client::new(&options.url, options.token.clone())?;
        match self {
            ClientCommand::Orgs { command, .. } => orgs::run(&client, format, command).await?,
            ClientCommand::Users { command, .. } => users::run(&client, format, command).await?,
            ClientCommand::Sessions { command, .. } => {
                sessions::run(&client, format, command).await?;
            }
            ClientCommand::Locks { command, .. } => locks::run(&client, format, command).await?,
            ClientCommand::IpBlocks { command, .. } => {
                ip_blocks::run(&client, format, command).await?;
            }
            ClientCommand::Events { command, .. } => events::run(&client, format, command).await?,
            ClientCommand::Keys { command, .. } => keys::run(&client, format, command).await?,
            ClientCommand::Policy { command, .. } => {
                return policy::run(&client, format, command).await;
            }
            ClientCommand::Compliance { command, .. } => {
                compliance::run(&client, format, command).await?;
            }
        }
        Ok(false)
    }

    /// Runs the command; answers the exit status (0, 1 with the error on standard error, or
    /// [`EXIT_CHANGES`]).
    pub async fn run(self) -> ExitCode {
        match self.execute().await {
            Ok(false) => ExitCode::SUCCESS,
            Ok(true) => ExitCode::from(EXIT_CHANGES),
            Err(e) => {
                let mut err = std::io::stderr().lock();
                let _ = e.report(&mut err);
                let _ = err.flush();
                ExitCode::FAILURE
            }
        }
    }
}
