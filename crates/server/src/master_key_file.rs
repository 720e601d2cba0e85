//! Where the instance master key comes from: the `master_key` setting (64 hex digits), else the
//! file `master_key_file`, else, for SQLite, `<database file>.master-key` next to the data.
//! A missing file is created with a new random key, readable by its owner only.
//!
//! Invariants: the key is never logged; a file that exists but does not hold a key stops the
//! start (a new key would make every sealed secret unreadable); PostgreSQL replicas share the
//! key through the setting or a file they all read, never by generating one each.

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
    let file = match &config.master_key_file {
        Some(file) => file.clone(),
        None if crate::is_postgres(&config.database_url) => return Ok(None),
        None => PathBuf::from(format!(
            "{}.master-key",
            crate::sqlite_file(&config.database_url)
        )),
    };
    read_or_create(&file).map(Some)
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
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
