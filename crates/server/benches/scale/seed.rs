//! The scale bench's data: the database of the run (a SQLite file or a fresh PostgreSQL
//! database, removed afterwards) and its rows, inserted directly in multi-row statements as the
//! store writes them. Every row derives from its index, so the load can name any user again
//! without keeping them: user `n` is `User{n:07}` in organization `n % SCALE_ORGS`.
//!
//! Invariant: rows are generated batch by batch; seeding a million users holds one batch of
//! 500 rows in memory, not the million.

use std::path::PathBuf;
use std::time::Instant;

use portcullis_engine::counter::{CounterLimits, CounterState, Lock};
use portcullis_engine::hashing::{HashParams, Hasher, PasswordHashing};
use portcullis_engine::ip_block::IpBlocking;
use portcullis_engine::lockout::{SecretKind, lockout_limits, normalize_login};
use portcullis_model::{BruteForcePolicy, HashAlgorithm, LockoutPolicy, OrgId, Timestamp};
use portcullis_service::events::{
    AttemptFailed, CounterSubject, DomainEvent, LockChange, LoginSucceeded,
};
use portcullis_service::{Context, Retention};
use portcullis_store::Role;
use portcullis_store::sql::AnyPool;
use portcullis_store::sql::encoding::{opt_ts_to_db, roles_to_db, strings_to_db, ts_to_db};
use sqlx::Connection;
use time::OffsetDateTime;

use super::{BLOCKED, PASSWORD, Plan};

/// Rows of one `INSERT` and statements of one transaction.
const ROWS_PER_STATEMENT: usize = 500;
const STATEMENTS_PER_TRANSACTION: usize = 20;

// --- the seeded data, derived from indexes (no state: any user can be named again)

pub(crate) fn org_id(n: usize) -> String {
    format!("org-{n:05}")
}

pub(crate) fn org_of_user(plan: &Plan, user: usize) -> usize {
    user % plan.orgs
}

pub(crate) fn login(user: usize) -> String {
    format!("User{user:07}")
}

/// A user that may hold a lock: one in twenty, picked by a hash so that every organization
/// has its share; locked as far as the counters allow (see [`Counters`]). The load's logins
/// leave them out.
pub(crate) fn is_locked_user(user: usize) -> bool {
    mix(user as u64 ^ 0x10C4) % 20 == 19
}

/// splitmix64: ids that look random, from their index.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub(crate) fn user_id(user: usize) -> String {
    let n = user as u64;
    format!("usr_{:016x}{:016x}", mix(n), mix(n ^ 0xA5A5_A5A5))
}

// --- bulk inserts

/// A column value to bind.
enum V {
    T(String),
    OT(Option<String>),
    I(i64),
    OI(Option<i64>),
    B(bool),
}

/// How a statement names its parameters. sqlx binds a numbered parameter (`$7`) by asking
/// SQLite its name, which SQLite finds by walking the statement's list of names: binding N
/// numbered parameters costs N² (a 500-row insert of users was 10× slower). Bulk inserts into
/// SQLite use anonymous `?` parameters, PostgreSQL's use `$n`.
#[derive(Clone, Copy)]
enum Placeholders {
    Anonymous,
    Numbered,
}

/// Inserts `rows` into `table` (`columns`), in multi-row statements and large transactions;
/// answers how many.
async fn insert(
    pool: &AnyPool,
    placeholders: Placeholders,
    table: &str,
    columns: &[&str],
    rows: impl Iterator<Item = Vec<V>>,
) -> usize {
    let statement = |n: usize| {
        let width = columns.len();
        let tuples: Vec<String> = (0..n)
            .map(|row| {
                let cells: Vec<String> = (1..=width)
                    .map(|c| match placeholders {
                        Placeholders::Anonymous => "?".to_owned(),
                        Placeholders::Numbered => format!("${}", row * width + c),
                    })
                    .collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        format!(
            "INSERT INTO {table} ({}) VALUES {}",
            columns.join(", "),
            tuples.join(", ")
        )
    };
    let full = statement(ROWS_PER_STATEMENT);
    let mut tx = pool.begin().await.unwrap();
    let mut batch: Vec<Vec<V>> = Vec::with_capacity(ROWS_PER_STATEMENT);
    let mut statements = 0;
    let mut total = 0;
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        batch.clear();
        batch.extend(rows.by_ref().take(ROWS_PER_STATEMENT));
        let partial;
        let sql = if batch.len() == ROWS_PER_STATEMENT {
            full.as_str()
        } else {
            partial = statement(batch.len());
            partial.as_str()
        };
        let mut query = sqlx::query(sql);
        for value in batch.drain(..).flatten() {
            query = match value {
                V::T(v) => query.bind(v),
                V::OT(v) => query.bind(v),
                V::I(v) => query.bind(v),
                V::OI(v) => query.bind(v),
                V::B(v) => query.bind(v),
            };
        }
        total += query.execute(&mut *tx).await.unwrap().rows_affected() as usize;
        statements += 1;
        if statements % STATEMENTS_PER_TRANSACTION == 0 {
            tx.commit().await.unwrap();
            tx = pool.begin().await.unwrap();
        }
    }
    tx.commit().await.unwrap();
    total
}

fn ts(at: Timestamp) -> i64 {
    ts_to_db(at).unwrap()
}

fn seconds_before(now: Timestamp, seconds: i64) -> Timestamp {
    now - time::Duration::seconds(seconds)
}

/// How the seeded counters split (see the module header); `SCALE_COUNTERS` in all.
struct Counters {
    blocks: usize,
    ended: usize,
    user_locks: usize,
    addresses: usize,
    guesses: usize,
}

impl Counters {
    fn of(plan: &Plan) -> Counters {
        let blocks = plan.orgs.min(plan.counters);
        let rest = plan.counters - blocks;
        let ended = (plan.counters / 100).min(rest);
        let candidates = (0..plan.users).filter(|u| is_locked_user(*u)).count();
        let user_locks = candidates.min(plan.counters / 5).min(rest - ended);
        let addresses = (plan.counters / 10).min(rest - ended - user_locks);
        let guesses = rest - ended - user_locks - addresses;
        Counters {
            blocks,
            ended,
            user_locks,
            addresses,
            guesses,
        }
    }
}

/// One counter row as the store writes it.
fn counter_row(
    org: &str,
    key: String,
    state: &CounterState,
    limits: &CounterLimits,
    login_key: Option<String>,
    label: Option<String>,
) -> Vec<V> {
    let retention = Retention::default().counter_seconds;
    let locked_until = state
        .lock
        .map(|lock| opt_ts_to_db(lock.until).unwrap().unwrap_or(i64::MAX));
    vec![
        V::T(org.to_owned()),
        V::T(key),
        V::T(serde_json::to_string(state).unwrap()),
        V::OI(opt_ts_to_db(state.due_at(Some(limits), retention)).unwrap()),
        V::OI(locked_until),
        V::OT(login_key),
        V::OT(label),
    ]
}

fn locked(failures: u32, since: Timestamp, seconds: i64) -> CounterState {
    CounterState {
        failures,
        window_started_at: Some(since),
        lock: Some(Lock {
            since,
            until: Some(since + time::Duration::seconds(seconds)),
        }),
        reservations: Vec::new(),
        series_locks: 0,
        series_ends_at: None,
    }
}

fn counting(failures: u32, since: Timestamp) -> CounterState {
    CounterState {
        failures,
        window_started_at: Some(since),
        lock: None,
        reservations: Vec::new(),
        series_locks: 0,
        series_ends_at: None,
    }
}

/// Seeds the migrated database behind `pool`; prints each table's time and rate.
pub(crate) async fn seed(pool: &AnyPool, plan: &Plan) {
    let started = Instant::now();
    let placeholders = if plan.postgres.is_some() {
        Placeholders::Numbered
    } else {
        Placeholders::Anonymous
    };
    let now = OffsetDateTime::now_utc();
    let report = |table: &str, rows: usize, since: Instant| {
        let seconds = since.elapsed().as_secs_f64();
        println!(
            "seeded {table:<10} {rows:>10} rows in {seconds:>7.2} s  ({:>9.0} rows/s)",
            rows as f64 / seconds
        );
    };

    let t = Instant::now();
    let orgs = (0..plan.orgs).map(|n| {
        vec![
            V::T(org_id(n)),
            V::T(format!("Organization {n}")),
            V::I(ts(now)),
        ]
    });
    let n = insert(
        pool,
        placeholders,
        "orgs",
        &["id", "name", "created_at"],
        orgs,
    )
    .await;
    report("orgs", n, t);

    // One hash at the server's default cost, shared by every user.
    let t = Instant::now();
    let hash = Hasher::new(HashParams::default())
        .unwrap()
        .hash(HashAlgorithm::Argon2id, PASSWORD)
        .unwrap();
    println!(
        "hashed the password once in {:.3} s",
        t.elapsed().as_secs_f64()
    );
    let roles = roles_to_db(&[Role::Member]).unwrap();
    let history = strings_to_db(&[]).unwrap();
    let t = Instant::now();
    let users = (0..plan.users).map(|u| {
        let login = login(u);
        vec![
            V::T(user_id(u)),
            V::T(org_id(org_of_user(plan, u))),
            V::T(login.clone()),
            V::T(normalize_login(&login)),
            V::OT(None),
            V::OT(None),
            V::OT(None),
            V::T(roles.clone()),
            V::B(false),
            V::OT(Some(hash.clone())),
            V::T(history.clone()),
            V::OI(Some(ts(now))),
            V::B(true),
            V::I(ts(now)),
            V::I(ts(now)),
            V::OI(None),
            V::OT(None),
            V::B(false),
        ]
    });
    let columns = [
        "id",
        "org_id",
        "login",
        "login_key",
        "email",
        "display_name",
        "source",
        "roles",
        "disabled",
        "password_hash",
        "password_history",
        "password_changed_at",
        "password_set_by_admin",
        "created_at",
        "updated_at",
        "last_login_at",
        "last_login_ip",
        "verification_pending",
    ];
    let n = insert(pool, placeholders, "users", &columns, users).await;
    report("users", n, t);

    let t = Instant::now();
    let now = OffsetDateTime::now_utc();
    let split = Counters::of(plan);
    let account = lockout_limits(&LockoutPolicy::default(), SecretKind::Password).unwrap();
    let address = IpBlocking::new(&BruteForcePolicy::default())
        .limits()
        .unwrap();
    let org_at = |j: usize| org_id(j % plan.orgs);
    let blocks = (0..split.blocks).map(|j| {
        let state = locked(10, seconds_before(now, 60), 3600);
        counter_row(
            &org_id(j),
            format!("ip|{BLOCKED}"),
            &state,
            &address,
            None,
            None,
        )
    });
    // A lockout counter of a name no user has, labelled with that name.
    let of_name = |j: usize, name: String, state: &CounterState| {
        let key = format!("password|{name}|");
        counter_row(
            &org_at(j),
            key,
            state,
            &account,
            Some(name.clone()),
            Some(name),
        )
    };
    // Locks that ended a while ago: the first sweep settles and deletes them.
    let ended = (0..split.ended).map(|j| {
        let state = locked(10, seconds_before(now, 1000), 900);
        of_name(j, format!("ended{j:07}"), &state)
    });
    let user_locks = (0..plan.users)
        .filter(|u| is_locked_user(*u))
        .take(split.user_locks)
        .map(|user| {
            let login = login(user);
            let login_key = normalize_login(&login);
            let state = locked(10, seconds_before(now, 60), 3600);
            let key = format!("password|{login_key}|");
            let org = org_id(org_of_user(plan, user));
            counter_row(&org, key, &state, &account, Some(login_key), Some(login))
        });
    let addresses = (0..split.addresses).map(|j| {
        let key = format!("ip|198.18.{}.{}", (j / 250) % 256, j % 250);
        let state = counting(1 + (j % 9) as u32, seconds_before(now, (j % 3000) as i64));
        counter_row(&org_at(j), key, &state, &address, None, None)
    });
    let guesses = (0..split.guesses).map(|j| {
        let state = counting(1 + (j % 9) as u32, seconds_before(now, (j % 86_400) as i64));
        of_name(j, format!("guess{j:07}"), &state)
    });
    let counters = blocks
        .chain(ended)
        .chain(user_locks)
        .chain(addresses)
        .chain(guesses);
    let columns = [
        "org_id",
        "key",
        "state",
        "due_at",
        "locked_until",
        "login_key",
        "label",
    ];
    let n = insert(pool, placeholders, "counters", &columns, counters).await;
    report("counters", n, t);
    println!(
        "  counters: {} blocked addresses (one per organization), {} ended locks (due), \
         {} locked users, {} counting addresses, {} guessed names",
        split.blocks, split.ended, split.user_locks, split.addresses, split.guesses
    );

    let t = Instant::now();
    let events = (0..plan.events).map(|k| {
        let user = k % plan.users;
        let org = OrgId::parse(&org_id(org_of_user(plan, user)), "org").unwrap();
        let subject = CounterSubject {
            login: Some(normalize_login(&login(user))),
            ip: Some("192.0.2.10".to_owned()),
            ..CounterSubject::default()
        };
        let event = match k % 4 {
            0 | 1 => DomainEvent::LoginSucceeded(LoginSucceeded {
                user_id: user_id(user),
                session_id: format!("ses_{k:x}"),
                ip: "192.0.2.10".to_owned(),
                password_change_required: false,
                stage: None,
                mfa: false,
            }),
            2 => DomainEvent::LoginFailed(AttemptFailed {
                subject,
                user_id: Some(user_id(user)),
            }),
            _ => DomainEvent::AccountLocked(LockChange::new(subject, Some(now))),
        };
        let at = seconds_before(now, ((plan.events - k) / 10) as i64);
        let ctx = Context::new("anonymous", Some(format!("req-{k:x}")));
        let draft = event.draft(&ctx, Some(&org), at);
        vec![
            V::OT(draft.org_id.map(|o| o.as_str().to_owned())),
            V::T(draft.kind),
            V::T(draft.actor),
            V::OT(draft.request_id),
            V::I(ts(draft.at)),
            V::T(serde_json::to_string(&draft.payload).unwrap()),
        ]
    });
    let columns = ["org_id", "kind", "actor", "request_id", "at", "payload"];
    let n = insert(pool, placeholders, "events", &columns, events).await;
    report("events", n, t);

    let rows = plan.orgs + plan.users + plan.counters + plan.events;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "seeded {rows} rows in {seconds:.2} s ({:.0} rows/s)",
        rows as f64 / seconds
    );
}

// --- the database

/// The database of the run: a SQLite file in a directory of its own, or a fresh PostgreSQL
/// database; removed when dropped (unless kept).
pub(crate) struct Database {
    pub(crate) url: String,
    dir: PathBuf,
    postgres: Option<(String, String)>,
    keep: bool,
}

impl Database {
    pub(crate) async fn create(plan: &Plan) -> Database {
        let dir = std::env::temp_dir().join(format!("portcullis-scale-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        match &plan.postgres {
            None => Database {
                url: format!("sqlite://{}", dir.join("scale.db").display()),
                dir,
                postgres: None,
                keep: plan.keep,
            },
            Some(admin) => {
                let name = format!("portcullis_scale_{}", std::process::id());
                let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
                sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                let url = portcullis_store_postgres::testing::with_database(admin, &name);
                Database {
                    url,
                    dir,
                    postgres: Some((admin.clone(), name)),
                    keep: plan.keep,
                }
            }
        }
    }

    /// Bytes the database takes: the SQLite file once its write-ahead log is checkpointed into
    /// it (the log file keeps its largest size otherwise), or PostgreSQL's database size.
    pub(crate) async fn size(&self) -> u64 {
        match &self.postgres {
            None => {
                let store = portcullis_store_sqlite::open(&self.url, 1).await.unwrap();
                sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(store.pool())
                    .await
                    .unwrap();
                store.close().await;
                std::fs::read_dir(&self.dir)
                    .unwrap()
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            }
            Some(_) => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                let (size,): (i64,) = sqlx::query_as("SELECT pg_database_size(current_database())")
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                size as u64
            }
        }
    }

    pub(crate) async fn remove(self) {
        if self.keep {
            println!("database kept: {}", self.url);
            return;
        }
        if let Some((admin, name)) = &self.postgres {
            let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
