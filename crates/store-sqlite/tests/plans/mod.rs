//! Every statement the store runs reads through an index: the statements the SQLite adapter
//! executes under the workload of `portcullis_store_tests::workload` (every method of the port,
//! on a seeded database with the planner's statistics refreshed as a sweep does) are captured
//! from sqlx's per-statement tracing event, explained with `EXPLAIN QUERY PLAN`, and judged by
//! `portcullis_store_tests::plans` (no full scan, no index walk, no seek on the organization
//! alone, row-value cursors in the seek, no sort under a `LIMIT`, except the documented
//! exceptions).
//!
//! Capture: sqlx runs each SQLite connection on a thread of its own and reports each statement
//! there, so the recorder is installed process-wide (once, for this test binary) and keeps the
//! reporting thread with each statement. The store under test is an in-memory database, which
//! has exactly one connection; a marker statement run through its pool names that connection's
//! thread, so statements of the other tests running at the same time are left out.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;

use portcullis_store::sql::SqlStore;
use portcullis_store_tests::plans::{Finding, is_checked, judge_sqlite, unexcused};
use portcullis_store_tests::workload::{self, Size};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Statements seen while at least one capture is armed, with the thread that ran each.
#[derive(Default)]
struct Recorder {
    armed: AtomicUsize,
    seen: Mutex<Vec<(ThreadId, String)>>,
}

impl Subscriber for &'static Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "sqlx::query"
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if self.armed.load(Ordering::SeqCst) == 0 {
            return;
        }
        #[derive(Default)]
        struct Text {
            summary: String,
            statement: String,
        }
        impl Visit for Text {
            fn record_str(&mut self, field: &Field, value: &str) {
                match field.name() {
                    "summary" => self.summary = value.to_owned(),
                    "db.statement" => self.statement = value.trim().to_owned(),
                    _ => {}
                }
            }
            fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
        }
        let mut text = Text::default();
        event.record(&mut text);
        // Short statements are logged whole as their summary, with an empty `db.statement`.
        let statement = if text.statement.is_empty() {
            text.summary
        } else {
            text.statement
        };
        let thread = std::thread::current().id();
        self.seen.lock().unwrap().push((thread, statement));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn recorder() -> &'static Recorder {
    static RECORDER: OnceLock<&'static Recorder> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let recorder: &'static Recorder = Box::leak(Box::default());
        tracing::subscriber::set_global_default(recorder)
            .expect("no other global subscriber in this test binary");
        recorder
    })
}

/// The statements `run` makes the single-connection `store` execute, in order.
async fn statements_of(
    store: &SqlStore,
    run: impl std::future::Future<Output = ()>,
) -> Vec<String> {
    let recorder = recorder();
    recorder.armed.fetch_add(1, Ordering::SeqCst);
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let (begin, end) = (
        format!("SELECT 'plan check {n} begins'"),
        format!("SELECT 'plan check {n} ends'"),
    );
    sqlx::query(&begin).execute(store.pool()).await.unwrap();
    run.await;
    sqlx::query(&end).execute(store.pool()).await.unwrap();
    recorder.armed.fetch_sub(1, Ordering::SeqCst);

    let seen = recorder.seen.lock().unwrap().clone();
    let thread_of = |marker: &str| {
        seen.iter()
            .find(|(_, s)| s == marker)
            .map(|(thread, _)| *thread)
            .unwrap_or_else(|| panic!("sqlx reported no `{marker}`: is its statement log off?"))
    };
    let thread = thread_of(&begin);
    assert_eq!(
        thread_of(&end),
        thread,
        "the in-memory store changed its connection during the workload"
    );
    let mine: Vec<&String> = seen
        .iter()
        .filter(|(t, _)| *t == thread)
        .map(|(_, s)| s)
        .collect();
    let from = mine.iter().position(|s| **s == begin).unwrap();
    let to = mine.iter().position(|s| **s == end).unwrap();
    mine[from + 1..to].iter().map(|s| (*s).clone()).collect()
}

/// SQLite's plan of `statement` (its parameters unbound), one detail per row.
async fn plan(store: &SqlStore, statement: &str) -> Vec<String> {
    let rows: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(&format!("EXPLAIN QUERY PLAN {statement}"))
            .fetch_all(store.pool())
            .await
            .unwrap_or_else(|e| panic!("cannot explain `{statement}`: {e}"));
    rows.into_iter().map(|row| row.3).collect()
}

/// A seeded in-memory store with its statistics refreshed.
async fn seeded() -> SqlStore {
    let store = portcullis_store_sqlite::open("sqlite::memory:", 1)
        .await
        .unwrap();
    workload::seed(&store, Size::PLANNER).await;
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_statement_of_the_store_reads_through_an_index() {
    let store = seeded().await;
    let statements = statements_of(&store, workload::exercise(&store)).await;
    let distinct: BTreeSet<&String> = statements.iter().filter(|s| is_checked(s)).collect();
    // The capture works and reached every table.
    for table in [
        "orgs",
        "sections",
        "policy_version",
        "users",
        "counters",
        "ip_denials",
        "sessions",
        "api_keys",
        "mfa_factors",
        "leases",
        "outbox",
        "events",
    ] {
        assert!(
            distinct
                .iter()
                .any(|s| s.contains(&format!(" {table} ")) || s.ends_with(&format!(" {table}"))),
            "no statement on `{table}` was captured"
        );
    }
    assert!(
        distinct.len() >= 60,
        "only {} statements captured",
        distinct.len()
    );
    let mut failures = Vec::new();
    for statement in &distinct {
        let details = plan(&store, statement).await;
        let found = unexcused(statement, judge_sqlite(statement, &details));
        if !found.is_empty() {
            failures.push(format!(
                "{statement}\n    plan: {}\n    found: {found:?}",
                details.join(" | ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} statements read more than a seek finds:\n{}",
        failures.len(),
        distinct.len(),
        failures.join("\n")
    );
}

/// The check fails when it should: statements with no index to use, or with a cursor outside
/// the seek, explained on the same seeded database, are caught.
#[tokio::test]
async fn an_unindexed_statement_is_caught() {
    let store = seeded().await;
    let by_email = "SELECT id FROM users WHERE email = $1";
    assert_eq!(
        judge_sqlite(by_email, &plan(&store, by_email).await),
        vec![Finding::FullScan {
            table: "users".into()
        }]
    );
    let by_label = "SELECT key FROM counters WHERE label = $1";
    assert!(
        !unexcused(
            by_label,
            judge_sqlite(by_label, &plan(&store, by_label).await)
        )
        .is_empty()
    );
    // The attack summary's statement before its cursor was always bound: each page read the
    // window from its start again.
    let summary = "SELECT sequence FROM events WHERE org_id = $1 AND at >= $2 \
                   AND ($3 IS NULL OR (at, sequence) > ($3, $4)) AND kind IN ($6, $7) \
                   ORDER BY at, sequence LIMIT $5";
    assert_eq!(
        judge_sqlite(summary, &plan(&store, summary).await),
        vec![Finding::CursorNotSought {
            columns: "at, sequence".into()
        }]
    );
    // The form lists had before their cursors were always bound.
    let old_cursor = "SELECT id FROM users WHERE org_id = $1 AND ($2 IS NULL OR id > $2) \
                      ORDER BY id LIMIT $3";
    assert_eq!(
        judge_sqlite(old_cursor, &plan(&store, old_cursor).await),
        vec![
            Finding::WholeOrganization {
                table: "users".into(),
                index: "users_by_org".into()
            },
            Finding::CursorNotSought {
                columns: "id".into()
            }
        ]
    );
}
