//! Test support, for this crate's tests and the end-to-end suite: a fresh database per test on
//! the server of `PORTCULLIS_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//! dropped (`WITH (FORCE)`) with its guard. Not used by the server. It fails loudly (panics) when
//! PostgreSQL cannot be reached, because a test must never skip silently.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stderr
)]

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

/// The server and maintenance database the tests create their databases from.
pub fn admin_url() -> String {
    std::env::var("PORTCULLIS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `url` with its database name replaced by `database` (query parameters kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{root}/{database}?{query}"),
        None => format!("{root}/{database}"),
    }
}

/// A connection to the maintenance database; fails the test with a clear message when the
/// server cannot be reached.
pub async fn admin_connection() -> sqlx::PgConnection {
    let url = admin_url();
    sqlx::PgConnection::connect(&url)
        .await
        .unwrap_or_else(|err| {
            panic!(
                "PostgreSQL is not reachable at {url} ({err}). These tests need a running server: \
             start one, or point PORTCULLIS_TEST_DATABASE_URL at one (a user that may \
             CREATE DATABASE)."
            )
        })
}

/// A fresh database, dropped with its guard.
pub struct TestDatabase {
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates a database with a unique name on the server of `PORTCULLIS_TEST_DATABASE_URL`.
    pub async fn create() -> TestDatabase {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let name = format!(
            "portcullis_t_{}_{}_{:08x}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            random as u32
        );
        let mut admin = admin_connection().await;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|err| panic!("cannot create the test database {name}: {err}"));
        admin.close().await.unwrap();
        let url = with_database(&admin_url(), &name);
        TestDatabase { name, url }
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop is synchronous and may run inside a runtime: drop the database from a thread of
        // its own, with a runtime of its own, and wait for it.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut admin = sqlx::PgConnection::connect(&admin_url()).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("could not drop test database {}: {err}", self.name),
            Err(_) => eprintln!("dropping test database {} panicked", self.name),
        }
    }
}
