//! Configuration layering and reporting: file, environment, flags; unknown keys.

use portcullis_server::config::{Overrides, load};

use crate::support::TempDir;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn defaults_file_environment_and_flags_layer_in_order() {
    let (config, warnings) = load(None, &[], &Overrides::default()).unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.database_url, "sqlite://portcullis.db");
    assert!(warnings.is_empty());

    let dir = TempDir::new("config");
    let file = dir.0.join("portcullis.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9000\"\npool_size = 3\n[hashing]\nbcrypt_cost = 10\n",
    )
    .unwrap();
    let (config, _) = load(Some(&file), &[], &Overrides::default()).unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:9000");
    assert_eq!(config.pool_size, 3);
    assert_eq!(config.hashing.bcrypt_cost, 10);

    let vars = env(&[
        ("PORTCULLIS_POOL_SIZE", "5"),
        ("PORTCULLIS_HASHING__BCRYPT_COST", "11"),
        ("PORTCULLIS_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1"),
        ("PORTCULLIS_BOOTSTRAP_TOKEN", "12345678901234567890"),
        ("PORTCULLIS_LISTN", "oops"),
        ("PORTCULLIS_TEST_DATABASE_URL", "postgres://x"),
        ("HOME", "/root"),
    ]);
    let flags = Overrides {
        listen: Some("127.0.0.1:9100".parse().unwrap()),
        ..Overrides::default()
    };
    let (config, warnings) = load(Some(&file), &vars, &flags).unwrap();
    assert_eq!(config.pool_size, 5, "environment over file");
    assert_eq!(config.hashing.bcrypt_cost, 11);
    assert_eq!(config.trusted_proxies, ["10.0.0.0/8", "192.168.1.1"]);
    assert_eq!(
        config.listen.to_string(),
        "127.0.0.1:9100",
        "flags over everything"
    );
    assert_eq!(
        warnings,
        ["unknown environment variable PORTCULLIS_LISTN ignored"]
    );
    assert!(
        !format!("{config:?}").contains("12345678901234567890"),
        "secrets are not printed"
    );
}

#[test]
fn unknown_or_bad_file_keys_are_errors() {
    let dir = TempDir::new("config-bad");
    let file = dir.0.join("portcullis.toml");
    std::fs::write(&file, "lsten = \"127.0.0.1:9000\"\n").unwrap();
    let err = load(Some(&file), &[], &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("lsten"), "{err}");
    std::fs::write(&file, "trusted_proxies = [\"not-an-ip\"]\n").unwrap();
    assert!(load(Some(&file), &[], &Overrides::default()).is_err());
    assert!(
        load(
            Some(&dir.0.join("missing.toml")),
            &[],
            &Overrides::default()
        )
        .is_err()
    );
}

#[test]
fn database_passwords_are_not_logged() {
    use portcullis_server::config::loggable_database_url;
    assert_eq!(
        loggable_database_url("postgres://app:s3cret@db.example:5432/portcullis"),
        "postgres://app:***@db.example:5432/portcullis"
    );
    assert_eq!(
        loggable_database_url("postgres://postgres@127.0.0.1/test"),
        "postgres://postgres@127.0.0.1/test"
    );
    assert_eq!(
        loggable_database_url("sqlite://portcullis.db"),
        "sqlite://portcullis.db"
    );
}
