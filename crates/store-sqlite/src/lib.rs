//! The SQLite adapter of the storage port ([`portcullis_store::Store`]), on sqlx.
//!
//! This file owns opening the database (connection options, pool), the embedded migrations and
//! the [`Store`] implementation, which only delegates to the modules below and maps their errors
//! (see `error.rs`) exactly once:
//! - `orgs.rs`: organizations and policy sections;
//! - `users.rs`: users;
//! - `counters.rs`: attempt counters;
//! - `tokens.rs`: sessions and API keys;
//! - `events.rs`: the event log;
//! - `rows.rs`: column encoding and row decoding.
//!
//! Invariants:
//! - every connection runs in WAL mode with `synchronous = FULL` (a write acknowledged by a
//!   commit survives a crash or `kill -9`), `busy_timeout` 5 s and foreign keys on;
//! - every write that spans statements runs in one transaction opened with `BEGIN IMMEDIATE`
//!   (the database write lock is taken at the start, so transactions never fail midway on a lock
//!   upgrade and writers serialize); the events of a change are inserted in that transaction;
//! - [`SqliteStore::connect`] never changes the schema; [`SqliteStore::migrate`] does.

mod counters;
mod error;
mod events;
mod mfa;
mod orgs;
mod rows;
mod tokens;
mod users;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use portcullis_engine::counter::CounterState;
use portcullis_model::Timestamp;
use portcullis_store::{
    ApiKey, CounterUpdate, DueCounter, EmailConfirmation, Event, EventDraft, FactorCondition,
    InstanceKeyDeletion, LoginRecord, MailOutcome, MfaFactor, Org, OutboxMail, Owner, Page,
    PasswordUpdate, SectionChange, SectionRow, Session, Store, StoreError, StoreResult, User,
    UserProfile,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, Transaction};

pub use sqlx::SqlitePool;

use crate::error::DbResult;

/// How long a connection waits for another writer's lock before reporting "busy".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The migrations, embedded at build time from `crates/store-sqlite/migrations`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A [`Store`] on one SQLite database file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Writers of this process take turns here before asking SQLite for its write lock.
    writers: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction with this process's writer turn. SQLite admits one writer at a time and
/// makes the others poll with sleeps (its busy handler); queuing them on an async mutex instead
/// wakes the next writer as soon as the previous one commits, so write latency under load is the
/// commit time, not the polling interval.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl WriteTx {
    /// Commits, then gives the turn to the next writer.
    pub(crate) async fn commit(self) -> DbResult<()> {
        Ok(self.tx.commit().await?)
    }

    /// Rolls back, then gives the turn to the next writer.
    pub(crate) async fn rollback(self) -> DbResult<()> {
        Ok(self.tx.rollback().await?)
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &sqlx::SqliteConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut sqlx::SqliteConnection {
        &mut self.tx
    }
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url_or_path` — a plain file path or a
    /// `sqlite://…` / `sqlite:…` URL — with a pool of at most `pool_size` connections (at least
    /// one). Does not migrate: call [`SqliteStore::migrate`], or use [`SqliteStore::open`].
    pub async fn connect(url_or_path: &str, pool_size: u32) -> Result<SqliteStore, StoreError> {
        let base = if url_or_path.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url_or_path).map_err(|err| {
                StoreError::Internal(format!("invalid SQLite URL `{url_or_path}`: {err}"))
            })?
        } else {
            SqliteConnectOptions::new().filename(url_or_path)
        };
        let options = base
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(pool_size.max(1))
            // A connection to a local file does not go stale; pinging it on every acquire would
            // double the round trips to SQLite's worker thread.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|err| StoreError::from(error::DbError::from(err)))?;
        tracing::debug!(database = url_or_path, pool_size, "SQLite store connected");
        Ok(SqliteStore {
            pool,
            writers: Default::default(),
        })
    }

    /// [`SqliteStore::connect`], then [`SqliteStore::migrate`].
    pub async fn open(url_or_path: &str, pool_size: u32) -> Result<SqliteStore, StoreError> {
        let store = SqliteStore::connect(url_or_path, pool_size).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the embedded migrations not applied yet (idempotent).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let done: DbResult<()> = async { Ok(MIGRATOR.run(&self.pool).await?) }.await;
        Ok(done?)
    }

    /// The connection pool (for diagnostics and tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection, waiting for the ones in use to be returned. Later calls fail
    /// with `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A write transaction holding the database write lock from its start.
    async fn write_tx(&self) -> DbResult<WriteTx> {
        let turn = self.write_turn().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx { tx, _turn: turn })
    }

    /// This process's writer turn, for a single-statement write outside [`SqliteStore::write_tx`].
    pub(crate) async fn write_turn(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.writers.clone().lock_owned().await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        let done: DbResult<()> = async {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        }
        .await;
        Ok(done?)
    }

    async fn create_org(&self, org: &Org, event: EventDraft) -> StoreResult<()> {
        Ok(self.create_org_impl(org, event).await?)
    }

    async fn get_org(&self, id: &str) -> StoreResult<Option<Org>> {
        Ok(self.get_org_impl(id).await?)
    }

    async fn list_orgs(&self, page: &Page) -> StoreResult<Vec<Org>> {
        Ok(self.list_orgs_impl(page).await?)
    }

    async fn policy_version(&self) -> StoreResult<u64> {
        Ok(self.policy_version_impl().await?)
    }

    async fn load_sections(&self, owner: &Owner) -> StoreResult<Vec<SectionRow>> {
        Ok(self.load_sections_impl(owner).await?)
    }

    async fn write_sections(
        &self,
        owner: &Owner,
        changes: Vec<SectionChange>,
    ) -> StoreResult<Vec<SectionRow>> {
        Ok(self.write_sections_impl(owner, changes).await?)
    }

    async fn delete_section(
        &self,
        org_id: &str,
        section: &str,
        event: EventDraft,
    ) -> StoreResult<bool> {
        Ok(self
            .delete_section_impl(org_id, section, None, event)
            .await?)
    }

    async fn delete_section_at(
        &self,
        org_id: &str,
        section: &str,
        sequence: u64,
        event: EventDraft,
    ) -> StoreResult<bool> {
        Ok(self
            .delete_section_impl(org_id, section, Some(sequence), event)
            .await?)
    }

    async fn create_user(&self, user: &User, event: EventDraft) -> StoreResult<()> {
        Ok(self.create_user_impl(user, event).await?)
    }

    async fn get_user(&self, org_id: &str, id: &str) -> StoreResult<Option<User>> {
        Ok(self.get_user_impl(org_id, id).await?)
    }

    async fn find_user_by_login(&self, org_id: &str, login_key: &str) -> StoreResult<Option<User>> {
        Ok(self.find_user_by_login_impl(org_id, login_key).await?)
    }

    async fn list_users(&self, org_id: &str, page: &Page) -> StoreResult<Vec<User>> {
        Ok(self.list_users_impl(org_id, page).await?)
    }

    async fn update_user_profile(
        &self,
        org_id: &str,
        id: &str,
        profile: &UserProfile,
        at: Timestamp,
        event: EventDraft,
    ) -> StoreResult<User> {
        Ok(self
            .update_user_profile_impl(org_id, id, profile, at, event)
            .await?)
    }

    async fn set_password(
        &self,
        org_id: &str,
        id: &str,
        update: &PasswordUpdate,
        end_sessions: bool,
        keep_session: Option<&str>,
        events: Vec<EventDraft>,
    ) -> StoreResult<()> {
        Ok(self
            .set_password_impl(org_id, id, update, end_sessions, keep_session, events)
            .await?)
    }

    async fn confirm_email(
        &self,
        org_id: &str,
        id: &str,
        email: &str,
        at: Timestamp,
        event: EventDraft,
    ) -> StoreResult<EmailConfirmation> {
        Ok(self
            .confirm_email_impl(org_id, id, email, at, event)
            .await?)
    }

    async fn verified_email_taken(&self, org_id: &str, email: &str) -> StoreResult<bool> {
        Ok(self.verified_email_taken_impl(org_id, email).await?)
    }

    async fn delete_user(&self, org_id: &str, id: &str, event: EventDraft) -> StoreResult<bool> {
        Ok(self.delete_user_impl(org_id, id, event).await?)
    }

    async fn get_counter(&self, org_id: &str, key: &str) -> StoreResult<CounterState> {
        Ok(self.get_counter_impl(org_id, key).await?)
    }

    async fn update_counter(
        &self,
        org_id: &str,
        key: &str,
        update: CounterUpdate<'_>,
    ) -> StoreResult<CounterState> {
        Ok(self.update_counter_impl(org_id, key, update).await?)
    }

    async fn due_counters(
        &self,
        org_id: &str,
        now: Timestamp,
        after: Option<&DueCounter>,
    ) -> StoreResult<Vec<DueCounter>> {
        Ok(self.due_counters_impl(org_id, now, after).await?)
    }

    async fn counter_keys(
        &self,
        org_id: &str,
        prefix: &str,
        after: Option<&str>,
    ) -> StoreResult<Vec<String>> {
        Ok(self.counter_keys_impl(org_id, prefix, after).await?)
    }

    async fn delete_expired_sessions(
        &self,
        org_id: &str,
        created_before: Timestamp,
        idle_before: Option<Timestamp>,
    ) -> StoreResult<u64> {
        Ok(self
            .delete_expired_sessions_impl(org_id, created_before, idle_before)
            .await?)
    }

    async fn delete_expired_api_keys(
        &self,
        org_id: &str,
        expired_by: Timestamp,
    ) -> StoreResult<u64> {
        Ok(self
            .delete_expired_api_keys_impl(org_id, expired_by)
            .await?)
    }

    async fn get_mfa_factor(&self, org_id: &str, user_id: &str) -> StoreResult<Option<MfaFactor>> {
        Ok(self.get_mfa_factor_impl(org_id, user_id).await?)
    }

    async fn put_mfa_factor(
        &self,
        factor: &MfaFactor,
        condition: FactorCondition,
        event: EventDraft,
    ) -> StoreResult<bool> {
        Ok(self.put_mfa_factor_impl(factor, condition, event).await?)
    }

    async fn use_mfa_step(&self, org_id: &str, user_id: &str, step: u64) -> StoreResult<bool> {
        Ok(self.use_mfa_step_impl(org_id, user_id, step).await?)
    }

    async fn use_recovery_code(
        &self,
        org_id: &str,
        user_id: &str,
        code_hash: &str,
        event: EventDraft,
    ) -> StoreResult<bool> {
        Ok(self
            .use_recovery_code_impl(org_id, user_id, code_hash, event)
            .await?)
    }

    async fn complete_mfa_challenge(
        &self,
        session_id: &str,
        token_hash: &str,
        now: Timestamp,
        events: Vec<EventDraft>,
    ) -> StoreResult<bool> {
        Ok(self
            .complete_mfa_challenge_impl(session_id, token_hash, now, events)
            .await?)
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        Ok(self.try_lease_impl(name, holder, now, until).await?)
    }

    async fn open_login_session(
        &self,
        session: &Session,
        login: &LoginRecord,
        events: Vec<EventDraft>,
    ) -> StoreResult<bool> {
        Ok(self.open_login_session_impl(session, login, events).await?)
    }

    async fn create_session(&self, session: &Session, events: Vec<EventDraft>) -> StoreResult<()> {
        Ok(self.create_session_impl(session, events).await?)
    }

    async fn find_session(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        Ok(self.find_session_impl(token_hash).await?)
    }

    async fn touch_session(&self, id: &str, at: Timestamp) -> StoreResult<()> {
        Ok(self.touch_session_impl(id, at).await?)
    }

    async fn delete_session(&self, id: &str, event: EventDraft) -> StoreResult<bool> {
        Ok(self.delete_session_impl(id, event).await?)
    }

    async fn delete_events_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        Ok(self.delete_events_before_impl(before, limit).await?)
    }

    async fn end_user_sessions(
        &self,
        org_id: &str,
        user_id: &str,
        event: EventDraft,
    ) -> StoreResult<u64> {
        Ok(self.end_user_sessions_impl(org_id, user_id, event).await?)
    }

    async fn list_user_sessions(&self, org_id: &str, user_id: &str) -> StoreResult<Vec<Session>> {
        Ok(self.list_user_sessions_impl(org_id, user_id).await?)
    }

    async fn create_api_key(&self, key: &ApiKey, event: EventDraft) -> StoreResult<()> {
        Ok(self.create_api_key_impl(key, event).await?)
    }

    async fn find_api_key(&self, token_hash: &str) -> StoreResult<Option<ApiKey>> {
        Ok(self.find_api_key_impl(token_hash).await?)
    }

    async fn list_api_keys(&self, org_id: Option<&str>, page: &Page) -> StoreResult<Vec<ApiKey>> {
        Ok(self.list_api_keys_impl(org_id, page).await?)
    }

    async fn list_user_api_keys(
        &self,
        org_id: &str,
        user_id: &str,
        page: &Page,
    ) -> StoreResult<Vec<ApiKey>> {
        Ok(self.list_user_api_keys_impl(org_id, user_id, page).await?)
    }

    async fn get_api_key(&self, org_id: &str, id: &str) -> StoreResult<Option<ApiKey>> {
        Ok(self.get_api_key_impl(org_id, id).await?)
    }

    async fn delete_api_key(&self, org_id: &str, id: &str, event: EventDraft) -> StoreResult<bool> {
        Ok(self.delete_api_key_impl(org_id, id, event).await?)
    }

    async fn has_instance_key(&self) -> StoreResult<bool> {
        Ok(self.has_instance_key_impl().await?)
    }

    async fn delete_instance_key(
        &self,
        id: &str,
        event: EventDraft,
    ) -> StoreResult<InstanceKeyDeletion> {
        Ok(self.delete_instance_key_impl(id, event).await?)
    }

    async fn queue_mail_once(&self, event: EventDraft) -> StoreResult<bool> {
        Ok(self.queue_mail_once_impl(event).await?)
    }

    async fn append_event_mail_once(
        &self,
        event: EventDraft,
        dedupe_key: &str,
    ) -> StoreResult<bool> {
        Ok(self.append_event_mail_once_impl(event, dedupe_key).await?)
    }

    async fn list_outbox(&self, org_id: &str, page: &Page) -> StoreResult<Vec<OutboxMail>> {
        Ok(self.list_outbox_impl(org_id, page).await?)
    }

    async fn claim_mail(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMail>> {
        Ok(self.claim_mail_impl(now, until, limit).await?)
    }

    async fn finish_mail(&self, id: u64, attempt: u32, outcome: &MailOutcome) -> StoreResult<()> {
        Ok(self.finish_mail_impl(id, attempt, outcome).await?)
    }

    async fn append_events(&self, events: Vec<EventDraft>) -> StoreResult<()> {
        Ok(self.append_events_impl(events).await?)
    }

    async fn list_events(
        &self,
        org_id: Option<&str>,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        Ok(self.list_events_impl(org_id, after, limit).await?)
    }
}
