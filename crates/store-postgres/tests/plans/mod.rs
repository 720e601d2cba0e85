//! Every statement the store runs reads through an index, on PostgreSQL: the workload of
//! `portcullis_store_tests::workload` (every method of the port, on a seeded database)
//! runs on a store with one connection, whose prepared statements (sqlx prepares each statement
//! once per connection, named, and keeps it) are then listed from `pg_prepared_statements`,
//! prepared again with their parameter types and explained on that same connection, after
//! `ANALYZE` (the statistics autovacuum keeps), with `plan_cache_mode = force_generic_plan` (the
//! plan for any parameter values, never one folded for NULLs) and `enable_seqscan = off` (a
//! sequential scan is then chosen only where no index serves). `portcullis_store_tests::plans`
//! judges each plan, and the check fails on its structural findings (no sequential scan, no
//! index read without a condition on its first column, every page's cursor in the index
//! condition), except the documented exceptions. Which of several usable indexes PostgreSQL
//! picks depends on table sizes that a test database does not have; that part (a seek on the
//! organization alone, a sort under a `LIMIT`) is checked on SQLite, whose statistics the test
//! seeds.

use std::collections::HashMap;

use portcullis_store::sql::SqlStore;
use portcullis_store_tests::plans::{
    Finding, is_checked, judge_postgres, leading_column, unexcused,
};
use portcullis_store_tests::workload::{self, Size};
use sqlx::Row;
use sqlx::pool::PoolConnection;

use super::TestDb;

/// A store with one connection that keeps every statement it prepares, on a fresh database.
async fn single_connection_store() -> (SqlStore, TestDb) {
    let db = TestDb::create().await;
    let separator = if db.url().contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}statement-cache-capacity=10000", db.url());
    let store = portcullis_store_postgres::open(&url, 1).await.unwrap();
    (store, db)
}

/// The planner settings of the check, on the store's one connection.
async fn explaining(store: &SqlStore) -> PoolConnection<sqlx::Any> {
    let mut conn = store.pool().acquire().await.unwrap();
    for setting in [
        "SET plan_cache_mode = force_generic_plan",
        "SET enable_seqscan = off",
    ] {
        sqlx::raw_sql(setting).execute(&mut *conn).await.unwrap();
    }
    conn
}

/// The leading column of every index of the schema.
async fn leading_columns(conn: &mut PoolConnection<sqlx::Any>) -> HashMap<String, String> {
    let rows = sqlx::query(
        "SELECT indexname::text AS indexname, indexdef FROM pg_indexes \
         WHERE schemaname = current_schema()",
    )
    .fetch_all(&mut **conn)
    .await
    .unwrap();
    rows.iter()
        .filter_map(|row| {
            let name: String = row.get("indexname");
            let definition: String = row.get("indexdef");
            leading_column(&definition).map(|column| (name, column))
        })
        .collect()
}

/// The generic plan of the prepared statement `name` with `parameters` parameters.
async fn plan(conn: &mut PoolConnection<sqlx::Any>, name: &str, parameters: usize) -> Vec<String> {
    let nulls = vec!["NULL"; parameters].join(", ");
    let call = if parameters == 0 {
        name.to_owned()
    } else {
        format!("{name}({nulls})")
    };
    let rows = sqlx::raw_sql(&format!("EXPLAIN (COSTS OFF) EXECUTE {call}"))
        .fetch_all(&mut **conn)
        .await
        .unwrap_or_else(|e| panic!("cannot explain {name}: {e}"));
    rows.iter().map(|row| row.get::<String, _>(0)).collect()
}

/// The plan of an ad-hoc statement, prepared under a name of its own.
async fn plan_of(
    conn: &mut PoolConnection<sqlx::Any>,
    statement: &str,
    types: &str,
) -> Vec<String> {
    let types = if types.is_empty() {
        String::new()
    } else {
        format!(" ({types})")
    };
    sqlx::raw_sql(&format!("PREPARE plan_check{types} AS {statement}"))
        .execute(&mut **conn)
        .await
        .unwrap();
    let parameters = if types.is_empty() {
        0
    } else {
        types.split(',').count()
    };
    let lines = plan(conn, "plan_check", parameters).await;
    sqlx::raw_sql("DEALLOCATE plan_check")
        .execute(&mut **conn)
        .await
        .unwrap();
    lines
}

#[tokio::test]
async fn every_statement_of_the_store_reads_through_an_index() {
    let (store, _db) = single_connection_store().await;
    // Commits need not wait for the disk while seeding (the plans do not depend on it).
    sqlx::raw_sql("SET synchronous_commit = off")
        .execute(store.pool())
        .await
        .unwrap();
    workload::seed(&store, Size::PLANNER).await;
    // The statistics autovacuum keeps on a live database.
    sqlx::raw_sql("ANALYZE")
        .execute(store.pool())
        .await
        .unwrap();
    workload::exercise(&store).await;
    let mut conn = explaining(&store).await;
    let leading = leading_columns(&mut conn).await;
    // Prepared again under the check's settings: a plan sqlx's statement cached during the
    // workload was made with sequential scans allowed.
    let prepared = sqlx::query(
        "SELECT statement, array_to_string(parameter_types::text[], ', ') AS types \
         FROM pg_prepared_statements WHERE NOT from_sql ORDER BY statement",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let statements: Vec<(String, String)> = prepared
        .iter()
        .map(|row| {
            let statement: String = row.get("statement");
            let types: String = row.get("types");
            (statement, types)
        })
        .filter(|(statement, _)| is_checked(statement))
        .collect();
    assert!(
        statements.len() >= 60,
        "only {} statements prepared",
        statements.len()
    );
    let mut failures = Vec::new();
    for (statement, types) in &statements {
        let lines = plan_of(&mut conn, statement, types).await;
        let structural = judge_postgres(statement, &lines, &|index| leading.get(index).cloned())
            .into_iter()
            .filter(Finding::is_structural)
            .collect();
        let found = unexcused(statement, structural);
        if !found.is_empty() {
            failures.push(format!(
                "{statement}\n    plan: {}\n    found: {found:?}",
                lines.join(" | ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} statements read more than a seek finds:\n{}",
        failures.len(),
        statements.len(),
        failures.join("\n")
    );
}

/// The check fails when it should: statements with no index to use, or with a cursor outside
/// the seek, are caught on the same settings.
#[tokio::test]
async fn an_unindexed_statement_is_caught() {
    let (store, _db) = single_connection_store().await;
    let mut conn = explaining(&store).await;
    let leading = leading_columns(&mut conn).await;
    let leading = |index: &str| leading.get(index).cloned();
    let by_email = "SELECT id FROM users WHERE email = $1";
    let found = judge_postgres(
        by_email,
        &plan_of(&mut conn, by_email, "text").await,
        &leading,
    );
    assert!(
        matches!(
            found.as_slice(),
            [Finding::FullScan { .. }] | [Finding::IndexWalk { .. }]
        ),
        "{found:?}"
    );
    let old_cursor = "SELECT id FROM users WHERE org_id = $1 AND ($2::text IS NULL OR id > $2) \
                      ORDER BY id LIMIT $3";
    let found = judge_postgres(
        old_cursor,
        &plan_of(&mut conn, old_cursor, "text, text, bigint").await,
        &leading,
    );
    assert!(
        found.contains(&Finding::CursorNotSought {
            columns: "id".into()
        }),
        "{found:?}"
    );
}
