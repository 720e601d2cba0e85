//! `portcullis`: `serve`, `migrate`, `openapi`, `admin recover`, `breached import|info`, and the
//! client commands that talk to a running server (`portcullis_server::cli`).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use portcullis_server::{
    Config, LogFormat, Overrides, config, open_store, recover_instance_access, start,
};
use portcullis_service::SystemClock;

/// Manages and enforces organizations' security settings.
#[derive(Parser)]
#[command(name = "portcullis", version)]
struct Cli {
    /// TOML configuration file (default: ./portcullis.toml when it exists).
    #[arg(
        long,
        global = true,
        env = "PORTCULLIS_CONFIG",
        help_heading = "Server options"
    )]
    config: Option<PathBuf>,
    /// Database: a SQLite file path, `sqlite://FILE`, or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, global = true, help_heading = "Server options")]
    database_url: Option<String>,
    /// Log format.
    #[arg(long, global = true, value_enum, help_heading = "Server options")]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the server (migrations are applied at start).
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Applies the database migrations and exits.
    Migrate,
    /// Prints the OpenAPI 3.1 document of the native API (the committed `openapi/v1.json`).
    Openapi,
    /// The offline breached-password index: import, info (no server, no database).
    Breached {
        #[command(subcommand)]
        command: portcullis_server::cli::breached::BreachedCommand,
    },
    /// Offline administration, with direct access to the database.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    #[command(flatten)]
    Client(portcullis_server::cli::ClientCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Creates a new instance administrator API key in the database and prints it once (for
    /// when no instance key works). PostgreSQL: works while servers run. SQLite: stop the
    /// server first.
    Recover,
}

fn init_logs(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}

fn fail(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "portcullis: {message}");
    ExitCode::FAILURE
}

#[tokio::main]
async fn main() -> ExitCode {
    // Usage errors exit 1 like every other error (clap's own default is 2, which `policy plan`
    // uses for "changes pending"); `--help` and `--version` exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let command = match cli.command {
        Command::Client(command) => return command.run().await,
        Command::Breached { command } => return command.run(),
        command => command,
    };
    let cli = Cli { command, ..cli };
    if let Command::Openapi = cli.command {
        let _ = write!(
            std::io::stdout(),
            "{}",
            portcullis_http::openapi::document_json()
        );
        return ExitCode::SUCCESS;
    }
    let overrides = Overrides {
        listen: match &cli.command {
            Command::Serve { listen } => *listen,
            Command::Migrate
            | Command::Openapi
            | Command::Admin { .. }
            | Command::Breached { .. }
            | Command::Client(_) => None,
        },
        database_url: cli.database_url.clone(),
        log_format: cli.log_format,
    };
    let file = cli.config.clone().or_else(|| {
        let default = PathBuf::from("portcullis.toml");
        default.exists().then_some(default)
    });
    let env: Vec<(String, String)> = std::env::vars().collect();
    let (config, warnings) = match config::load(file.as_deref(), &env, &overrides) {
        Ok(loaded) => loaded,
        Err(e) => return fail(&e.to_string()),
    };
    init_logs(&config);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    match cli.command {
        Command::Openapi | Command::Breached { .. } | Command::Client(_) => ExitCode::SUCCESS,
        Command::Migrate => match open_store(&config, true).await {
            Ok(_) => {
                tracing::info!(database = %config::loggable_database_url(&config.database_url), "migrations applied");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        Command::Admin {
            command: AdminCommand::Recover,
        } => match recover_instance_access(&config, Arc::new(SystemClock)).await {
            Ok(created) => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "Created instance administrator API key {}. It is shown only now:\n\n    {}\n\nUse it as `Authorization: Bearer <key>`; list the instance keys with GET /v1/instance/keys and revoke the ones no longer trusted.",
                    created.view.id, created.key
                );
                let _ = out.flush();
                tracing::info!(key_id = %created.view.id, database = %config::loggable_database_url(&config.database_url), "instance access recovered");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        Command::Serve { .. } => {
            let running = match start(&config, Arc::new(SystemClock), shutdown_signal()).await {
                Ok(running) => running,
                Err(e) => return fail(&e.to_string()),
            };
            let mut out = std::io::stdout().lock();
            if let Some(key) = &running.bootstrap_key {
                let mut console = running.addr;
                if console.ip().is_unspecified() {
                    console.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                let _ = writeln!(
                    out,
                    "First start: created an instance administrator API key. It is shown only now:\n\n    {key}\n\nUse it as `Authorization: Bearer <key>`, or sign in with it to the console at http://{console}/console/."
                );
            }
            let _ = writeln!(out, "listening on {}", running.addr);
            let _ = out.flush();
            drop(out);
            tracing::info!(addr = %running.addr, database = %config::loggable_database_url(&config.database_url), "listening");
            match running.wait().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e.to_string()),
            }
        }
    }
}
