//! Configuration, layered: built-in defaults → TOML file → `PORTCULLIS_*` environment → flags.
//!
//! Invariants: an unknown key in the file is an error (a typo never silently does nothing); an
//! unknown `PORTCULLIS_*` variable is reported as a warning (the environment is shared with other
//! tools); secrets (`bootstrap_token`) are never printed, not even in errors.

use std::net::SocketAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use portcullis_engine::hashing::HashParams;
use serde::{Deserialize, Serialize};

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Password hashing cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HashingConfig {
    /// argon2id memory, KiB.
    pub argon2_memory_kib: u32,
    /// argon2id iterations.
    pub argon2_iterations: u32,
    /// argon2id parallelism.
    pub argon2_parallelism: u32,
    /// bcrypt cost.
    pub bcrypt_cost: u32,
    /// Password hashes computed at once (0 = number of cores).
    pub concurrency: usize,
}

impl Default for HashingConfig {
    fn default() -> HashingConfig {
        let p = HashParams::default();
        HashingConfig {
            argon2_memory_kib: p.argon2_memory_kib,
            argon2_iterations: p.argon2_iterations,
            argon2_parallelism: p.argon2_parallelism,
            bcrypt_cost: p.bcrypt_cost,
            concurrency: 0,
        }
    }
}

impl HashingConfig {
    /// The engine's parameters.
    pub fn params(&self) -> HashParams {
        HashParams {
            argon2_memory_kib: self.argon2_memory_kib,
            argon2_iterations: self.argon2_iterations,
            argon2_parallelism: self.argon2_parallelism,
            bcrypt_cost: self.bcrypt_cost,
        }
    }
}

/// The server configuration.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// `sqlite://FILE`, a plain file path, or (later) `postgres://…`.
    pub database_url: String,
    /// Database connections.
    pub pool_size: u32,
    /// Peers (addresses or CIDRs) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter (`info`, `portcullis=debug,info`, ...).
    pub log_level: String,
    /// The first instance administrator key, used instead of a generated one on first start.
    #[serde(skip_serializing)]
    pub bootstrap_token: Option<String>,
    /// Seconds between background sweeps (expired sessions, ended locks and blocks); 0 = off.
    /// One replica sweeps at a time.
    pub sweep_interval_secs: u64,
    /// Password hashing.
    pub hashing: HashingConfig,
    /// The instance master key (64 hex digits) that seals access-key secrets.
    #[serde(skip_serializing)]
    pub master_key: Option<String>,
    /// A file holding the master key, created with a new key when missing. Default: with
    /// SQLite, `<database file>.master-key`; with PostgreSQL, none (set `master_key` or this on
    /// every replica to use access keys).
    pub master_key_file: Option<std::path::PathBuf>,
    /// The address people reach the server at: mailed links are `<url>/unblock?token=…`,
    /// `<url>/reset-password?token=…` and `<url>/verify-email?token=…` (the hosted pages), and
    /// with `https://` the pages' cookies are `Secure`. Unset: the listen address.
    pub public_url: Option<String>,
    /// Outgoing mail. Without `smtp.host`, mails stay in the outbox.
    pub smtp: SmtpConfig,
    /// Days after which a counter with no lock in force forgets its failures (bounds what is
    /// kept for counts without a window); at least 1.
    pub counter_retention_days: u64,
    /// Event retention.
    pub events: EventsConfig,
    /// How many organizations' effective policies are kept in memory (least recently used
    /// dropped first; a dropped one is read again from the store); at least 1.
    pub policy_cache_entries: usize,
    /// How many API keys are kept in memory by token digest (least recently used dropped
    /// first); at least 1.
    pub key_cache_entries: usize,
    /// Where breached passwords are looked up (policies with `check_breached`).
    pub breached: BreachedConfig,
}

/// The breached-password source: an offline index file (made by `portcullis breached import`)
/// or a k-anonymity range endpoint (a self-hosted Pwned Passwords mirror), not both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreachedConfig {
    /// The index file, mapped read-only at start (replace it by renaming a new one over it,
    /// then restart).
    pub index_path: Option<std::path::PathBuf>,
    /// The base URL of a range endpoint: `GET <url>/range/<first 5 hex of the SHA-1>` answers
    /// `SUFFIX:COUNT` lines. Only the 5 characters leave the server, never the password.
    pub range_url: Option<String>,
    /// Milliseconds a range request may take.
    pub timeout_ms: u64,
    /// When the range endpoint cannot answer: accept the new password (`true`), or refuse it
    /// with `503` (`false`, the default).
    pub fail_open: bool,
}

impl Default for BreachedConfig {
    fn default() -> BreachedConfig {
        BreachedConfig {
            index_path: None,
            range_url: None,
            timeout_ms: 2000,
            fail_open: false,
        }
    }
}

/// How long events are kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// Days events are kept; older ones are deleted by the sweep in batches. 0 = forever.
    pub retention_days: u64,
}

impl Default for EventsConfig {
    fn default() -> EventsConfig {
        EventsConfig {
            retention_days: 365,
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a relay on the same host or network only).
    None,
    /// STARTTLS after connecting (port 587), required.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// The SMTP server mails are delivered to.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name or address; none = no delivery (mails stay queued in the outbox).
    pub host: Option<String>,
    /// Port.
    pub port: u16,
    /// Connection security.
    pub tls: SmtpTls,
    /// User name for AUTH, if the server wants one.
    pub username: Option<String>,
    /// Password for AUTH.
    #[serde(skip_serializing)]
    pub password: Option<String>,
    /// The sender address (`From:`), e.g. `Portcullis <security@example.com>`.
    pub from: String,
    /// Seconds one SMTP exchange may take.
    pub timeout_secs: u64,
    /// Seconds between two looks at the outbox.
    pub interval_secs: u64,
    /// Mails sent per look at most.
    pub batch: u32,
}

impl Default for SmtpConfig {
    fn default() -> SmtpConfig {
        SmtpConfig {
            host: None,
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            from: "portcullis@localhost".into(),
            timeout_secs: 10,
            interval_secs: 5,
            batch: 50,
        }
    }
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("from", &self.from)
            .field("timeout_secs", &self.timeout_secs)
            .field("interval_secs", &self.interval_secs)
            .field("batch", &self.batch)
            .finish()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &loggable_database_url(&self.database_url))
            .field("pool_size", &self.pool_size)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field(
                "bootstrap_token",
                &self.bootstrap_token.as_ref().map(|_| "<set>"),
            )
            .field("sweep_interval_secs", &self.sweep_interval_secs)
            .field("hashing", &self.hashing)
            .field("master_key", &self.master_key.as_ref().map(|_| "<set>"))
            .field("master_key_file", &self.master_key_file)
            .field("public_url", &self.public_url)
            .field("smtp", &self.smtp)
            .field("counter_retention_days", &self.counter_retention_days)
            .field("events", &self.events)
            .field("policy_cache_entries", &self.policy_cache_entries)
            .field("key_cache_entries", &self.key_cache_entries)
            .field("breached.index_path", &self.breached.index_path)
            .field(
                "breached.range_url",
                &self.breached.range_url.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://portcullis.db".into(),
            pool_size: 8,
            trusted_proxies: Vec::new(),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            bootstrap_token: None,
            sweep_interval_secs: 60,
            hashing: HashingConfig::default(),
            master_key: None,
            master_key_file: None,
            public_url: None,
            smtp: SmtpConfig::default(),
            counter_retention_days: 30,
            events: EventsConfig::default(),
            policy_cache_entries: portcullis_service::DEFAULT_POLICY_CACHE_ENTRIES,
            key_cache_entries: portcullis_service::DEFAULT_KEY_CACHE_ENTRIES,
            breached: BreachedConfig::default(),
        }
    }
}

/// The database URL as it may be logged: a password in it is replaced by `***`.
pub fn loggable_database_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Environment variables that are not configuration keys but are ours (`URL` and `TOKEN` are the
/// client commands', often exported in the shell that also runs `serve`).
const OTHER_VARIABLES: &[&str] = &["CONFIG", "TEST_DATABASE_URL", "URL", "TOKEN"];

/// The secrets, which [`Config`] never serializes (so they are named here).
const SECRET_KEYS: &[&str] = &["BOOTSTRAP_TOKEN", "MASTER_KEY", "SMTP__PASSWORD"];

/// Configuration keys, as environment names (without the prefix): the fields of [`Config`] as
/// it serializes (so a new field is known at once), a section's fields after `SECTION__`, and
/// [`SECRET_KEYS`].
fn known_env_key(key: &str) -> bool {
    if SECRET_KEYS.contains(&key) {
        return true;
    }
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(Config::default()) else {
        return false;
    };
    let lower = key.to_ascii_lowercase();
    match lower.split_once("__") {
        None => fields.get(&lower).is_some_and(|v| !v.is_object()),
        Some((section, field)) => fields
            .get(section)
            .and_then(|v| v.as_object())
            .is_some_and(|section| section.contains_key(field)),
    }
}

/// Keys whose values are always text (secrets, names and addresses that may look like numbers).
const TEXT_KEYS: &[&str] = &[
    "BOOTSTRAP_TOKEN",
    "MASTER_KEY",
    "PUBLIC_URL",
    "SMTP__HOST",
    "SMTP__USERNAME",
    "SMTP__PASSWORD",
    "SMTP__FROM",
];

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Loads the configuration from `file` (when given, it must exist), the environment `env`
/// (name, value pairs) and the flag overrides. Answers it with warnings to log.
pub fn load(
    file: Option<&Path>,
    env: &[(String, String)],
    overrides: &Overrides,
) -> Result<(Config, Vec<String>), ConfigError> {
    let mut warnings = Vec::new();
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(file) = file {
        if !file.exists() {
            return Err(ConfigError(format!(
                "file {} does not exist",
                file.display()
            )));
        }
        figment = figment.merge(Toml::file_exact(file));
    }
    let mut known = Vec::new();
    for (name, value) in env {
        let Some(key) = name.strip_prefix("PORTCULLIS_") else {
            continue;
        };
        if known_env_key(key) {
            known.push((key.to_owned(), value.clone()));
        } else if !OTHER_VARIABLES.contains(&key) {
            warnings.push(format!("unknown environment variable {name} ignored"));
        }
    }
    // Only known keys are merged, so unknown ones are warnings, not extraction errors.
    for (key, value) in &known {
        let path = key.to_lowercase().replace("__", ".");
        let value: figment::value::Value = if key == "TRUSTED_PROXIES" {
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
                .into()
        } else if TEXT_KEYS.contains(&key.as_str()) {
            value.clone().into()
        } else {
            value
                .parse::<figment::value::Value>()
                .unwrap_or_else(|_| value.clone().into())
        };
        figment = figment.merge(Serialized::global(&path, value));
    }
    if let Some(listen) = overrides.listen {
        figment = figment.merge(Serialized::global("listen", listen.to_string()));
    }
    if let Some(url) = &overrides.database_url {
        figment = figment.merge(Serialized::global("database_url", url));
    }
    if let Some(format) = overrides.log_format {
        figment = figment.merge(Serialized::global("log_format", format));
    }
    let config: Config = figment.extract().map_err(|e| ConfigError(describe(&e)))?;
    if config.counter_retention_days == 0 {
        return Err(ConfigError(
            "counter_retention_days: must be at least 1".into(),
        ));
    }
    for (name, entries) in [
        ("policy_cache_entries", config.policy_cache_entries),
        ("key_cache_entries", config.key_cache_entries),
    ] {
        if entries == 0 {
            return Err(ConfigError(format!("{name}: must be at least 1")));
        }
    }
    if let Some(url) = &config.public_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(ConfigError(format!(
            "public_url: `{url}` must start with https:// or http://"
        )));
    }
    let breached = &config.breached;
    if breached.index_path.is_some() && breached.range_url.is_some() {
        return Err(ConfigError(
            "breached: set index_path or range_url, not both".into(),
        ));
    }
    if let Some(url) = &breached.range_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(ConfigError(format!(
            "breached.range_url: `{url}` must start with https:// or http://"
        )));
    }
    if breached.timeout_ms == 0 {
        return Err(ConfigError(
            "breached.timeout_ms: must be at least 1".into(),
        ));
    }
    for entry in &config.trusted_proxies {
        if portcullis_model::net::parse_network(entry).is_none() {
            return Err(ConfigError(format!(
                "trusted_proxies: `{entry}` is not an address or CIDR network"
            )));
        }
    }
    Ok((config, warnings))
}

/// The error's text, without the value when it is about the bootstrap token (a secret).
fn describe(error: &figment::Error) -> String {
    if error.path.iter().any(|p| p == "bootstrap_token") {
        "bootstrap_token: must be a string".into()
    } else if error.path.iter().any(|p| p == "master_key") {
        "master_key: must be a string of 64 hex digits".into()
    } else if error.path.iter().any(|p| p == "password") {
        "smtp.password: must be a string".into()
    } else {
        error.to_string()
    }
}

/// Values given as command-line flags.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
}
