//! Where the instance master key comes from: the `master_key` setting (64 hex digits), else the
//! file `master_key_file`, else, for a SQLite file, `<database file>.master-key` next to the
//! data. With SQLite a missing file is created with a new random key, readable by its owner
//! only; an in-memory SQLite database gets a key for the life of the process.
//!
//! Invariants: the key is never logged; a file that exists but does not hold a key stops the
//! start (a new key would make every sealed secret unreadable); PostgreSQL replicas share the
//! key through the setting or a file they all read, never by generating one each: on
//! PostgreSQL a missing `master_key_file` stops the start.

use std::io::Write;
use std::path::{Path, PathBuf};

use portcullis_service::MasterKey;

use crate::StartError;
use crate::config::Config;

/// The master key the configuration names, created when its file does not exist yet; `None`
/// on PostgreSQL without a key setting or file (access keys are then unavailable).
pub(crate) fn load_master_key(config: &Config) -> Result<Option<MasterKey>, StartError> {
    if let Some(hex) = &config.master_key {
        return MasterKey::from_hex(hex)
            .map(Some)
            .ok_or_else(|| StartError::Other("master_key must be 64 hexadecimal digits".into()));
    }
    let postgres = crate::is_postgres(&config.database_url);
    let file = match &config.master_key_file {
        Some(file) => file.clone(),
        None if postgres => return Ok(None),
        None if is_in_memory(&config.database_url) => return Ok(Some(MasterKey::generate())),
        None => PathBuf::from(format!(
            "{}.master-key",
            crate::sqlite_file(&config.database_url)
        )),
    };
    if postgres {
        return read(&file);
    }
    read_or_create(&file).map(Some)
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Reads an existing key file (replicas must not make one each).
fn read(file: &Path) -> Result<Option<MasterKey>, StartError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        StartError::Other(format!(
            "cannot read master_key_file {} ({e}); with PostgreSQL every replica must read the same existing key",
            file.display()
        ))
    })?;
    MasterKey::from_hex(&text).map(Some).ok_or_else(|| {
        StartError::Other(format!(
            "{} does not hold a master key (64 hexadecimal digits)",
            file.display()
        ))
    })
}

fn read_or_create(file: &Path) -> Result<MasterKey, StartError> {
    match std::fs::read_to_string(file) {
        Ok(text) => MasterKey::from_hex(&text).ok_or_else(|| {
            StartError::Other(format!(
                "{} does not hold a master key (64 hexadecimal digits)",
                file.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate();
            write_new(file, &key)
                .map_err(|e| StartError::Other(format!("cannot create {}: {e}", file.display())))?;
            tracing::info!(file = %file.display(), "created a new instance master key");
            Ok(key)
        }
        Err(e) => Err(StartError::Other(format!(
            "cannot read {}: {e}",
            file.display()
        ))),
    }
}

/// Writes the key to a new file (never over an existing one), synced before it counts.
fn write_new(file: &Path, key: &MasterKey) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut out = options.open(file)?;
    out.write_all(key.to_hex().as_bytes())?;
    out.sync_all()?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> Config {
        Config {
            database_url: format!("sqlite://{}/p.db", dir.display()),
            ..Config::default()
        }
    }

    #[test]
    fn generated_once_then_read_back_and_refused_when_garbled() {
        let dir = std::env::temp_dir().join(format!("pc-mk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = config(&dir);
        let first = load_master_key(&config).unwrap().unwrap();
        let file = dir.join("p.db.master-key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = load_master_key(&config).unwrap().unwrap();
        let sealed = first.seal("id", "secret").unwrap();
        assert_eq!(again.open("id", &sealed).unwrap().as_str(), "secret");

        std::fs::write(&file, "not a key").unwrap();
        assert!(load_master_key(&config).is_err());

        let set = Config {
            master_key: Some("ab".repeat(32)),
            ..config.clone()
        };
        assert!(load_master_key(&set).unwrap().is_some());
        let bad = Config {
            master_key: Some("ab".into()),
            ..config
        };
        assert!(load_master_key(&bad).is_err());
        let pg = Config {
            database_url: "postgres://x@127.0.0.1/db".into(),
            ..Config::default()
        };
        assert!(load_master_key(&pg).unwrap().is_none());
        // On PostgreSQL a key file is read, never created.
        let pg_missing = Config {
            master_key_file: Some(dir.join("missing.key")),
            ..pg.clone()
        };
        assert!(load_master_key(&pg_missing).is_err());
        assert!(!dir.join("missing.key").exists());
        let pg_file = Config {
            master_key_file: Some(file.clone()),
            ..pg
        };
        std::fs::write(&file, "cd".repeat(32)).unwrap();
        assert!(load_master_key(&pg_file).unwrap().is_some());
        let memory = Config {
            database_url: "sqlite::memory:".into(),
            ..Config::default()
        };
        assert!(load_master_key(&memory).unwrap().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
