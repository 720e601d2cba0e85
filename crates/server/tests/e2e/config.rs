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
        // The client commands' variables, exported in the same shell.
        ("PORTCULLIS_URL", "http://127.0.0.1:8080"),
        ("PORTCULLIS_TOKEN", "a-client-token-0123456789"),
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

#[test]
fn smtp_settings_come_from_the_environment_and_the_password_is_never_shown() {
    let (config, warnings) = load(
        None,
        &env(&[
            ("PORTCULLIS_SMTP__HOST", "mail.example.test"),
            ("PORTCULLIS_SMTP__PORT", "465"),
            ("PORTCULLIS_SMTP__TLS", "tls"),
            ("PORTCULLIS_SMTP__USERNAME", "portcullis"),
            ("PORTCULLIS_SMTP__PASSWORD", "123456"),
            (
                "PORTCULLIS_SMTP__FROM",
                "Portcullis <security@example.test>",
            ),
            ("PORTCULLIS_PUBLIC_URL", "https://id.example.test"),
        ]),
        &Overrides::default(),
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(config.smtp.host.as_deref(), Some("mail.example.test"));
    assert_eq!(config.smtp.port, 465);
    assert_eq!(config.smtp.tls, portcullis_server::config::SmtpTls::Tls);
    // A numeric-looking password stays the text it was.
    assert_eq!(config.smtp.password.as_deref(), Some("123456"));
    assert_eq!(
        config.public_url.as_deref(),
        Some("https://id.example.test")
    );
    let shown = format!("{config:?}");
    assert!(!shown.contains("123456"), "{shown}");
    assert!(shown.contains("mail.example.test"));
    assert!(
        portcullis_server::smtp::SmtpTransport::new(&config.smtp)
            .unwrap()
            .is_some()
    );

    let bad = load(
        None,
        &env(&[("PORTCULLIS_PUBLIC_URL", "id.example.test")]),
        &Overrides::default(),
    );
    assert!(bad.unwrap_err().0.contains("public_url"));
    let (config, _) = load(
        None,
        &env(&[
            ("PORTCULLIS_SMTP__HOST", "h"),
            ("PORTCULLIS_SMTP__USERNAME", "u"),
        ]),
        &Overrides::default(),
    )
    .unwrap();
    assert!(
        portcullis_server::smtp::SmtpTransport::new(&config.smtp).is_err(),
        "a user without a password"
    );
}

/// A cache size setting: its name, its environment variable, its default and its value.
type CacheSetting = (
    &'static str,
    &'static str,
    usize,
    fn(&portcullis_server::Config) -> usize,
);

#[test]
fn the_policy_and_key_caches_are_bounded_by_settings_of_at_least_one() {
    let caches: [CacheSetting; 2] = [
        (
            "policy_cache_entries",
            "PORTCULLIS_POLICY_CACHE_ENTRIES",
            portcullis_service::DEFAULT_POLICY_CACHE_ENTRIES,
            |c| c.policy_cache_entries,
        ),
        (
            "key_cache_entries",
            "PORTCULLIS_KEY_CACHE_ENTRIES",
            portcullis_service::DEFAULT_KEY_CACHE_ENTRIES,
            |c| c.key_cache_entries,
        ),
    ];
    for (name, variable, default, entries) in caches {
        let (config, _) = load(None, &[], &Overrides::default()).unwrap();
        assert_eq!(entries(&config), default, "{name}");
        let (config, _) = load(None, &env(&[(variable, "16")]), &Overrides::default()).unwrap();
        assert_eq!(entries(&config), 16, "{name}");
        let zero = load(None, &env(&[(variable, "0")]), &Overrides::default());
        assert!(zero.unwrap_err().0.contains(name));
    }
}

/// Every configuration key can be set from the environment: the known names come from the
/// configuration's own fields, so none is forgotten (the retention keys once were).
#[test]
fn every_key_is_known_in_the_environment() {
    let (config, warnings) = load(
        None,
        &env(&[
            ("PORTCULLIS_COUNTER_RETENTION_DAYS", "7"),
            ("PORTCULLIS_EVENTS__RETENTION_DAYS", "90"),
            ("PORTCULLIS_SMTP__INTERVAL_SECS", "9"),
            ("PORTCULLIS_MASTER_KEY_FILE", "/tmp/k"),
            ("PORTCULLIS_EVENTS__NOPE", "1"),
        ]),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(config.counter_retention_days, 7);
    assert_eq!(config.events.retention_days, 90);
    assert_eq!(config.smtp.interval_secs, 9);
    assert_eq!(
        warnings,
        ["unknown environment variable PORTCULLIS_EVENTS__NOPE ignored"]
    );
}

/// The breached-password source: from the environment, one of the two, a URL with its scheme.
#[test]
fn the_breached_source_is_one_index_or_one_range_url() {
    let (config, warnings) = load(
        None,
        &env(&[
            (
                "PORTCULLIS_BREACHED__RANGE_URL",
                "http://mirror.internal:8080",
            ),
            ("PORTCULLIS_BREACHED__FAIL_OPEN", "true"),
            ("PORTCULLIS_BREACHED__TIMEOUT_MS", "500"),
        ]),
        &Overrides::default(),
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        config.breached.range_url.as_deref(),
        Some("http://mirror.internal:8080")
    );
    assert!(config.breached.fail_open);
    assert_eq!(config.breached.timeout_ms, 500);
    let (defaults, _) = load(None, &[], &Overrides::default()).unwrap();
    assert!(!defaults.breached.fail_open, "fail closed by default");
    for (pairs, wanted) in [
        (
            vec![
                ("PORTCULLIS_BREACHED__RANGE_URL", "http://mirror"),
                ("PORTCULLIS_BREACHED__INDEX_PATH", "/var/lib/pwned.idx"),
            ],
            "not both",
        ),
        (
            vec![("PORTCULLIS_BREACHED__RANGE_URL", "mirror")],
            "https://",
        ),
        (vec![("PORTCULLIS_BREACHED__TIMEOUT_MS", "0")], "timeout_ms"),
    ] {
        let refused = load(None, &env(&pairs), &Overrides::default());
        assert!(refused.unwrap_err().0.contains(wanted), "{pairs:?}");
    }
}
