//! The PostgreSQL adapter of the storage port ([`portcullis_store::Store`]), on sqlx.
//!
//! This file owns opening the database (connection options, pool), the embedded migrations and
//! the [`Store`] implementation, which only delegates to the modules below and maps their errors
//! (see `error.rs`) exactly once:
//! - `orgs.rs`: organizations, policy sections and the policy version;
//! - `users.rs`: users;
//! - `counters.rs`: attempt counters;
//! - `tokens.rs`: sessions and API keys;
//! - `events.rs`: the event log (and the lock that orders sequences by commit);
//! - `rows.rs`: column encoding and row decoding.
//!
//! The schema and the semantics mirror the SQLite adapter (`portcullis-store-sqlite`): same
//! tables, columns, encodings (timestamps as BIGINT unix nanoseconds, JSON as text) and conflict
//! labels; the migration files carry the same names in both crates.
//!
//! Invariants:
//! - every write that spans statements runs in one transaction (isolation READ COMMITTED, the
//!   PostgreSQL default): it takes its row locks first (`SELECT … FOR UPDATE`, `UPDATE`,
//!   `DELETE`, or inserting the row), then inserts its events last under the transaction-level
//!   advisory lock of `events.rs`, then commits — so event sequences grow in commit order and
//!   no transaction ever waits for a row lock while holding that advisory lock (no deadlock);
//! - a counter transition holds its counter's row lock from the read to the commit (`INSERT … ON
//!   CONFLICT … DO UPDATE … WHERE FALSE`, which inserts the row or locks the existing one, then
//!   `SELECT … FOR UPDATE`), so concurrent transitions on one counter serialize exactly, across
//!   processes and replicas;
//! - sessions run with `idle_in_transaction_session_timeout` 10 s, `lock_timeout` 5 s and
//!   `statement_timeout` 30 s, so a stuck replica cannot stall the others' writes for longer;
//! - durability is PostgreSQL's: a commit is acknowledged after its WAL is flushed (with the
//!   server's default `synchronous_commit = on`);
//! - [`PostgresStore::connect`] never changes the schema; [`PostgresStore::migrate`] does, and
//!   is safe when several replicas start at once: sqlx 0.8's PostgreSQL migrator
//!   (`sqlx-postgres-0.8.6/src/migrate.rs`, `Migrate::lock`) takes the session-level
//!   `pg_advisory_lock(<id derived from current_database()>)` before it creates or reads
//!   `_sqlx_migrations`, waits for it, and releases it after the last migration (each migration
//!   runs in its own transaction). A second replica therefore waits, then finds every migration
//!   applied. sqlx does not release that lock when a migration fails, so
//!   [`PostgresStore::migrate`] closes its connection instead of returning it to the pool then
//!   (closing the session releases the lock).

mod counters;
mod error;
mod events;
mod mfa;
mod orgs;
mod rows;
pub mod testing;
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
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Postgres, Transaction};

pub use sqlx::PgPool;

use crate::error::{DbError, DbResult};

/// How long a call waits for a free pooled connection (or a new one) before reporting
/// `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// The migrations, embedded at build time from `crates/store-postgres/migrations`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A transaction on a pooled connection. Dropped without commit, it rolls back.
pub(crate) type PgTx = Transaction<'static, Postgres>;

/// A [`Store`] on one PostgreSQL database, shareable by any number of processes and replicas.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/database…`;
    /// unset parts come from the usual `PG*` environment variables) with a pool of at most
    /// `pool_size` connections (at least one). Opens one connection to check that the database
    /// answers (`Unavailable` when it does not). Does not migrate: call
    /// [`PostgresStore::migrate`], or use [`PostgresStore::open`].
    pub async fn connect(url: &str, pool_size: u32) -> Result<PostgresStore, StoreError> {
        // The URL may carry a password: it never goes into a message or a log.
        let options = PgConnectOptions::from_str(url)
            .map_err(|err| StoreError::Internal(format!("invalid PostgreSQL URL: {err}")))?
            .application_name("portcullis")
            // A frozen or partitioned replica must not hold locks (the events lock above all)
            // for long: its transaction is ended by the server, and waits end as `Unavailable`.
            .options([
                ("idle_in_transaction_session_timeout", "10s"),
                ("lock_timeout", "5s"),
                ("statement_timeout", "30s"),
            ]);
        let (host, port) = (options.get_host().to_owned(), options.get_port());
        let database = options.get_database().map(str::to_owned);
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|err| StoreError::from(DbError::from(err)))?;
        tracing::debug!(
            host,
            port,
            database = database.as_deref(),
            pool_size,
            "PostgreSQL store connected"
        );
        Ok(PostgresStore { pool })
    }

    /// [`PostgresStore::connect`], then [`PostgresStore::migrate`].
    pub async fn open(url: &str, pool_size: u32) -> Result<PostgresStore, StoreError> {
        let store = PostgresStore::connect(url, pool_size).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the embedded migrations not applied yet (idempotent; safe to run from several
    /// processes at once — see the crate documentation).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let done: DbResult<()> = async {
            let mut conn = self.pool.acquire().await?;
            // `run_direct` is `Migrator::run` on a connection we keep (sqlx's own way around
            // `Acquire` not being general enough for `&mut PgConnection` in `Send` futures).
            match MIGRATOR.run_direct(&mut *conn).await {
                Ok(()) => Ok(()),
                Err(err) => {
                    // The migrator may still hold its session-level advisory lock: end the
                    // session rather than hand the connection back to the pool.
                    if let Err(close) = conn.close().await {
                        tracing::debug!(error = %close, "closing the migration connection failed");
                    }
                    Err(err.into())
                }
            }
        }
        .await;
        Ok(done?)
    }

    /// The connection pool (for diagnostics and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection, waiting for the ones in use to be returned. Later calls fail
    /// with `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A new transaction (READ COMMITTED).
    pub(crate) async fn begin(&self) -> DbResult<PgTx> {
        Ok(self.pool.begin().await?)
    }
}

#[async_trait]
impl Store for PostgresStore {
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
