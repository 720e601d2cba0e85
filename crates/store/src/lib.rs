//! The storage port of portcullis (docs/design.md §6): one trait ([`Store`]), made of one small
//! trait per capability ([`OrgStore`], [`PolicyStore`], [`UserStore`], [`CounterStore`],
//! [`SessionStore`], [`ApiKeyStore`], [`MfaStore`], [`LeaseStore`], [`MailStore`],
//! [`EventStore`], [`DenylistStore`]), the records it keeps, and its implementation for SQL databases
//! ([`sql::SqlStore`], written once; the SQLite and PostgreSQL adapter crates give it their
//! [`sql::Backend`], connection settings and migrations).
//!
//! Invariants every adapter must keep (the conformance suite in `portcullis-store-tests` proves
//! them):
//! - every mutating call is one transaction: the change and the events it is given are written
//!   together or not at all, and an acknowledged call survives a crash;
//! - event sequences are instance-wide and strictly increasing; a section's `sequence` is the
//!   sequence of the event written with it;
//! - a counter changes only inside [`CounterStore::update_counter`], which holds the counter's row lock
//!   (or the database write lock) from the read to the commit, so concurrent callers serialize —
//!   never read-modify-write outside it;
//! - data of one organization is never returned for another: every lookup is keyed by
//!   organization (tokens are keyed by their hash, and carry their organization);
//! - login names are unique per organization by their normalized form (`login_key`);
//! - [`PolicyStore::policy_version`] grows in the same transaction as every section write or reset;
//! - once an instance key exists, at least one always does: [`ApiKeyStore::delete_instance_key`]
//!   refuses the last one, whatever the concurrency.

mod records;
pub mod sql;

use async_trait::async_trait;
use portcullis_engine::counter::CounterState;
use portcullis_model::{OrgId, Timestamp};

pub use records::{
    ApiKey, Event, EventDraft, FactorCondition, InstanceKeyDeletion, IpDenial, LockedCounter,
    LoginRecord, MailDraft, MailOutcome, MfaFactor, ORG_ADMINS, Org, OutboxMail, Owner, Page,
    PasswordUpdate, Role, SectionChange, SectionRow, Session, SessionStage, USER_AGENT_MAX_CHARS,
    User, UserProfile,
};

/// The form in which verified addresses are compared: trimmed and lower-cased.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// What [`UserStore::confirm_email`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailConfirmation {
    /// The address is verified now.
    Confirmed,
    /// Nothing to confirm: no such user, another address, or verified already.
    NotPending,
    /// Another user of the organization verified this address; nothing changed.
    Taken,
}

/// Largest page any list answers.
pub const MAX_PAGE: u32 = 500;

/// Storage failures. Messages never carry secrets; database text is logged, never sent to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken (organization id, login name, ...); names which.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The record to change does not exist.
    #[error("not found")]
    NotFound,
    /// A conditional write found another version than expected.
    #[error("the record changed meanwhile")]
    VersionMismatch,
    /// The database cannot be reached or is shutting down; the caller may retry.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else (corrupt data, bug).
    #[error("storage error: {0}")]
    Internal(String),
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// A counter transition: given the state loaded under the row lock, change it and answer the
/// events to record with it and the new state's due time. It may be called more than once if the
/// adapter retries the transaction, so it must only depend on the state it is given.
pub type CounterUpdate<'a> = &'a mut (dyn FnMut(&mut CounterState) -> CounterChange + Send);

/// A login's reservation completion, run on the lockout counter in the transaction that opens
/// the login's session (see [`SessionStore::complete_login`]): like a [`CounterUpdate`], and
/// it also answers whether the session may open. It may be called more than once.
pub type LoginCompletion<'a> =
    &'a mut (dyn FnMut(&mut CounterState) -> (CounterChange, bool) + Send);

/// What a counter transition answers besides the new state.
#[derive(Clone, Debug, Default)]
pub struct CounterChange {
    /// Events recorded in the transaction that stores the state.
    pub events: Vec<EventDraft>,
    /// When time alone next changes the new state (`CounterState::due_at`); `None` = never.
    /// The store keeps it beside the state, for [`CounterStore::due_counters`]; it decides nothing.
    pub due_at: Option<Timestamp>,
    /// The normalized login name of a lockout counter (`None`: an address counter), kept beside
    /// the state so a user's locks are found by its login key.
    pub login_key: Option<String>,
    /// The login name as the attempt typed it; `None` keeps the stored one.
    pub label: Option<String>,
}

impl From<Vec<EventDraft>> for CounterChange {
    /// Events with no due time (a state that only a transition changes).
    fn from(events: Vec<EventDraft>) -> CounterChange {
        CounterChange {
            events,
            ..CounterChange::default()
        }
    }
}

/// One counter's part of a bulk clear (see [`CounterStore::clear_locks`]): given the state
/// loaded in the clearing transaction, change it and answer whether it counts as one lock
/// cleared, and the new state's due time.
pub type BulkCounterUpdate<'a> = &'a mut (dyn FnMut(&str, &mut CounterState) -> BulkChange + Send);

/// What a bulk-clear step answers besides the new state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BulkChange {
    /// The counter held a lock in force, and it was lifted.
    pub counted: bool,
    /// When time alone next changes the new state.
    pub due_at: Option<Timestamp>,
}

/// What an attempt reads before it reserves, in one statement (see [`CounterStore::attempt_gate`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttemptGate {
    /// The administrator's denial in force covering the address: `None` when there is none,
    /// `Some(None)` when one lasts until lifted, else `Some(Some(end))`, the latest end.
    pub denial: Option<Option<Timestamp>>,
    /// The states of the counters asked for, in order (a fresh default for one not stored or
    /// not asked for).
    pub counters: [CounterState; 2],
}

/// A counter whose due time has come, as [`CounterStore::due_counters`] lists it (and its cursor).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueCounter {
    /// The counter's due time.
    pub due_at: Timestamp,
    /// The counter's key.
    pub key: String,
}

/// The storage port: every capability, and a health check. Callers hold an `Arc<dyn Store>`;
/// the capabilities' methods are callable on it directly.
#[async_trait]
pub trait Store:
    OrgStore
    + PolicyStore
    + UserStore
    + CounterStore
    + SessionStore
    + ApiKeyStore
    + MfaStore
    + LeaseStore
    + MailStore
    + EventStore
    + DenylistStore
    + Send
    + Sync
    + 'static
{
    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;
}

/// Organizations.
#[async_trait]
pub trait OrgStore: Send + Sync {
    /// Creates an organization; `Conflict` when the id is taken.
    async fn create_org(&self, org: &Org, event: EventDraft) -> StoreResult<()>;

    /// One organization.
    async fn get_org(&self, id: &OrgId) -> StoreResult<Option<Org>>;

    /// Organizations ordered by id, after `page.after`.
    async fn list_orgs(&self, page: &Page) -> StoreResult<Vec<Org>>;
}

/// Policy sections and the policy version.
#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// A number that changes (grows) with every committed policy write or reset, whoever made
    /// it; replicas poll it to drop cached policies.
    async fn policy_version(&self) -> StoreResult<u64>;

    /// Every section row of `owner`.
    async fn load_sections(&self, owner: &Owner) -> StoreResult<Vec<SectionRow>>;

    /// Writes several sections of `owner` in one transaction: all of them or none. The batch
    /// names each section at most once. Each change
    /// records its event, and the row's `sequence` becomes that event's; a change without a
    /// value resets (deletes the organization's row; the instance's sections cannot be reset:
    /// `Internal`). Answers the rows written (not the reset ones). A change with
    /// `expected_sequence` happens only if the row's current sequence is that value (0 = the row
    /// must not exist); one mismatch fails the whole batch with `VersionMismatch`.
    async fn write_sections(
        &self,
        owner: &Owner,
        changes: Vec<SectionChange>,
    ) -> StoreResult<Vec<SectionRow>> {
        self.write_sections_guarded(owner, changes, None).await
    }

    /// [`PolicyStore::write_sections`], and with `scope` only while `owner`'s stored sections
    /// are exactly these (section, sequence) pairs, every one of them, when the transaction
    /// commits — sections the batch does not touch included (`VersionMismatch` otherwise, and
    /// nothing is written). Policy writers serialize on the policy version, so no other write
    /// of the scope can commit between this check and this commit.
    async fn write_sections_guarded(
        &self,
        owner: &Owner,
        changes: Vec<SectionChange>,
        scope: Option<&[(String, u64)]>,
    ) -> StoreResult<Vec<SectionRow>>;

    /// Writes one section of `owner` (a batch of one).
    async fn write_section(
        &self,
        owner: &Owner,
        section: &str,
        value: &serde_json::Value,
        expected_sequence: Option<u64>,
        event: EventDraft,
    ) -> StoreResult<SectionRow> {
        let change = SectionChange {
            section: section.to_owned(),
            value: Some(value.clone()),
            expected_sequence,
            event,
        };
        let mut rows = self.write_sections(owner, vec![change]).await?;
        rows.pop()
            .ok_or_else(|| StoreError::Internal("a batch of one wrote nothing".into()))
    }

    /// Deletes an organization's custom section (reset to the instance default). Writes `event`
    /// and answers `true` only when a row was deleted.
    async fn delete_section(
        &self,
        org_id: &OrgId,
        section: &str,
        event: EventDraft,
    ) -> StoreResult<bool>;

    /// Like `delete_section`, but only while the row's sequence is still `sequence` (nothing
    /// wrote it since it was read); answers whether it was deleted.
    async fn delete_section_at(
        &self,
        org_id: &OrgId,
        section: &str,
        sequence: u64,
        event: EventDraft,
    ) -> StoreResult<bool>;
}

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user; `Conflict` when its `login_key` is taken in the organization.
    async fn create_user(&self, user: &User, event: EventDraft) -> StoreResult<()>;

    /// One user of one organization.
    async fn get_user(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<User>>;

    /// The user of an organization with this normalized login name.
    async fn find_user_by_login(
        &self,
        org_id: &OrgId,
        login_key: &str,
    ) -> StoreResult<Option<User>>;

    /// Users of an organization ordered by id.
    async fn list_users(&self, org_id: &OrgId, page: &Page) -> StoreResult<Vec<User>>;

    /// Users of an organization, ordered by id, that have a lockout counter (by login key)
    /// whose stored lock ends after `now` or never: the locked users, read through the index
    /// of locked counters.
    async fn list_locked_users(
        &self,
        org_id: &OrgId,
        now: Timestamp,
        page: &Page,
    ) -> StoreResult<Vec<User>>;

    /// Replaces the profile fields; answers the updated user (`NotFound` if none). A profile
    /// that disables the user deletes every session of the user in the same transaction.
    async fn update_user_profile(
        &self,
        org_id: &OrgId,
        id: &str,
        profile: &UserProfile,
        at: Timestamp,
        event: EventDraft,
    ) -> StoreResult<User>;

    /// Sets a new password: the old hash goes to the front of the history, which is cut to
    /// `keep_history`. With `end_sessions`, every session of the user except `keep_session` is
    /// deleted in the same transaction. `NotFound` if no such user.
    async fn set_password(
        &self,
        org_id: &OrgId,
        id: &str,
        update: &PasswordUpdate,
        end_sessions: bool,
        keep_session: Option<&str>,
        events: Vec<EventDraft>,
    ) -> StoreResult<()>;

    /// Clears `verification_pending` of a user whose address is still `email` and records the
    /// address as verified, with `event`; atomically refused (`Taken`) when another user of the
    /// organization verified the same address (compared by [`email_key`]). An address changed
    /// meanwhile, or a user already verified, answers `NotPending`.
    async fn confirm_email(
        &self,
        org_id: &OrgId,
        id: &str,
        email: &str,
        at: Timestamp,
        event: EventDraft,
    ) -> StoreResult<EmailConfirmation>;

    /// Whether a user of the organization verified this address (compared by [`email_key`]).
    async fn verified_email_taken(&self, org_id: &OrgId, email: &str) -> StoreResult<bool>;

    /// Deletes a user with its sessions and API keys; answers whether it existed.
    async fn delete_user(&self, org_id: &OrgId, id: &str, event: EventDraft) -> StoreResult<bool>;

    /// Expires, at `at`, the passwords of the users `target` names that have a password not
    /// expired yet, in one transaction; answers how many. `event` is written only if there
    /// was one, with `users` (the count) added to its payload.
    async fn expire_passwords(
        &self,
        org_id: &OrgId,
        target: &ExpiryTarget,
        at: Timestamp,
        event: EventDraft,
    ) -> StoreResult<u64>;
}

/// Whose passwords [`UserStore::expire_passwords`] expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpiryTarget {
    /// One user.
    User(String),
    /// Every user of the organization.
    All,
    /// The users whose password was set before this time (a user who never set one counts
    /// from its creation).
    ChangedBefore(Timestamp),
}

/// Attempt counters (lockout keys, IP blocks).
#[async_trait]
pub trait CounterStore: Send + Sync {
    /// The state of one counter (a fresh default when none is stored). Read-only.
    async fn get_counter(&self, org_id: &OrgId, key: &str) -> StoreResult<CounterState>;

    /// What an attempt reads before it reserves, in one statement (one round trip): the
    /// organization's denial in force at `now` covering `denial_of` (none looked for when
    /// `None`) and the states of the counters `keys` (a key `None` is not read). Read-only.
    async fn attempt_gate(
        &self,
        org_id: &OrgId,
        denial_of: Option<std::net::IpAddr>,
        now: Timestamp,
        keys: [Option<&str>; 2],
    ) -> StoreResult<AttemptGate>;

    /// Applies `update` to one counter atomically (see [`CounterUpdate`]) and records its
    /// events in the same transaction; answers the new state.
    async fn update_counter(
        &self,
        org_id: &OrgId,
        key: &str,
        update: CounterUpdate<'_>,
    ) -> StoreResult<CounterState>;

    /// The organization's counters whose due time is at or before `now`, ordered by (due time,
    /// key) after `after`, at most [`MAX_PAGE`]: what a sweep must visit (an index range, never
    /// a scan of every counter). A counter with no due time is never listed.
    async fn due_counters(
        &self,
        org_id: &OrgId,
        now: Timestamp,
        after: Option<&DueCounter>,
    ) -> StoreResult<Vec<DueCounter>>;

    /// Keys of the organization's counters that start with `prefix` and sort after `after`, in
    /// key order, at most [`MAX_PAGE`]; for operations on every counter of a login name.
    async fn counter_keys(
        &self,
        org_id: &OrgId,
        prefix: &str,
        after: Option<&str>,
    ) -> StoreResult<Vec<String>>;

    /// The organization's counters that hold a lock and whose key starts with one of
    /// `prefixes`, in key order after `after`, at most `limit` (capped at [`MAX_PAGE`]). A lock
    /// whose end has passed is listed until its counter is settled: callers read the state.
    async fn locked_counters(
        &self,
        org_id: &OrgId,
        prefixes: &[String],
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<LockedCounter>>;

    /// The lockout counters of the given login keys whose stored lock ends after `now` or
    /// never (a user list's lock states in one read).
    async fn locked_logins(
        &self,
        org_id: &OrgId,
        login_keys: &[String],
        now: Timestamp,
    ) -> StoreResult<Vec<LockedCounter>>;

    /// In **one transaction**: applies `update` to every counter of the organization that holds
    /// a lock and whose key starts with one of `prefixes` (each under the transaction's locks, so
    /// no concurrent transition is lost), and, with `denials` (an instant), deletes every
    /// [`IpDenial`] of the organization. `event` is written only when something in force was
    /// cleared, with `count` (the counters whose update answered `counted`, plus the denials in
    /// force at the `denials` instant) added to its payload; answers that count.
    async fn clear_locks(
        &self,
        org_id: &OrgId,
        prefixes: &[String],
        denials: Option<Timestamp>,
        update: BulkCounterUpdate<'_>,
        event: EventDraft,
    ) -> StoreResult<u64>;
}

/// Addresses and networks an administrator blocked (the denylist), beside the counted blocks.
#[async_trait]
pub trait DenylistStore: Send + Sync {
    /// Adds a denial, or replaces the one of the same network (its end, actor and time), with
    /// `event`, to whose payload `replaced` (whether it replaced one) is added in the same
    /// transaction; answers whether it is new.
    async fn put_ip_denial(&self, denial: &IpDenial, event: EventDraft) -> StoreResult<bool>;

    /// Deletes the denial of `network` (its text, as listed); `event` is written only if it
    /// existed. Answers whether it did.
    async fn delete_ip_denial(
        &self,
        org_id: &OrgId,
        network: &str,
        event: EventDraft,
    ) -> StoreResult<bool>;

    /// Denials of an organization ordered by network text, after `after` (or from it, with
    /// `inclusive`), at most `limit` (capped at [`MAX_PAGE`]); ended ones included.
    async fn list_ip_denials(
        &self,
        org_id: &OrgId,
        after: Option<&str>,
        inclusive: bool,
        limit: u32,
    ) -> StoreResult<Vec<IpDenial>>;

    /// Deletes the organization's denials that ended at or before `now` (no event: nothing
    /// changed but time); answers how many.
    async fn delete_ended_ip_denials(&self, org_id: &OrgId, now: Timestamp) -> StoreResult<u64>;

    /// The denial in force at `now` that contains `ip` and lasts longest (a permanent one
    /// first), if any.
    async fn matching_ip_denial(
        &self,
        org_id: &OrgId,
        ip: std::net::IpAddr,
        now: Timestamp,
    ) -> StoreResult<Option<IpDenial>>;
}

/// Sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session, with its events.
    async fn create_session(&self, session: &Session, events: Vec<EventDraft>) -> StoreResult<()>;

    /// Opens the session of a successful login, in one transaction: only if the user still
    /// exists, is not disabled, still has `login.verified_hash` as its password hash, and, for a
    /// session not limited to a password change, has no password expired by an administrator
    /// (an expiry written meanwhile wins). Records
    /// the login time (`session.created_at`) and IP, stores `login.rehash` when given, and writes
    /// `events`. Answers `false` (nothing written) when the condition does not hold.
    async fn open_login_session(
        &self,
        session: &Session,
        login: &LoginRecord,
        events: Vec<EventDraft>,
    ) -> StoreResult<bool>;

    /// Completes a login's reservation on the lockout counter `key` of the session's
    /// organization and opens the login's session, in one transaction: `completion` runs on the
    /// counter's state loaded under its row lock, its change is written whatever follows; then,
    /// if it answered `true`, the session opens exactly as [`SessionStore::open_login_session`]
    /// says. Answers whether the session opened. One durable write for what would otherwise be
    /// two (docs/benchmarks.md, "What a login writes").
    async fn complete_login(
        &self,
        key: &str,
        completion: LoginCompletion<'_>,
        session: &Session,
        login: &LoginRecord,
        events: Vec<EventDraft>,
    ) -> StoreResult<bool>;

    /// The session with this token hash.
    async fn find_session(&self, token_hash: &str) -> StoreResult<Option<Session>>;

    /// Moves a session's last use forward (never backward).
    async fn touch_session(&self, id: &str, at: Timestamp) -> StoreResult<()>;

    /// Deletes a session; answers whether it existed. `event` is written only if it did.
    async fn delete_session(&self, id: &str, event: EventDraft) -> StoreResult<bool>;

    /// Deletes the session `id` if it belongs to this user of this organization; answers
    /// whether it did. `event` is written only if it did.
    async fn delete_user_session(
        &self,
        org_id: &OrgId,
        user_id: &str,
        id: &str,
        event: EventDraft,
    ) -> StoreResult<bool>;

    /// Deletes every session of one user (of every stage) but `except`, in one transaction;
    /// answers how many. `event` is written only if there was one, with `sessions` (the count)
    /// added to its payload.
    async fn end_user_sessions(
        &self,
        org_id: &OrgId,
        user_id: &str,
        except: Option<&str>,
        event: EventDraft,
    ) -> StoreResult<u64>;

    /// Deletes every session of every user of the organization but `except`, in one
    /// transaction; answers how many. `event` is written only if there was one, with
    /// `sessions` (the count) added to its payload.
    async fn end_org_sessions(
        &self,
        org_id: &OrgId,
        except: Option<&str>,
        event: EventDraft,
    ) -> StoreResult<u64>;

    /// Sessions of one user (every stage), ordered by id, after `page.after`.
    async fn list_user_sessions(
        &self,
        org_id: &OrgId,
        user_id: &str,
        page: &Page,
    ) -> StoreResult<Vec<Session>>;

    /// Deletes the organization's sessions created at or before `created_before`, or last used
    /// at or before `idle_before` when given (both already past their lifetime); answers how
    /// many. No event: nothing changed but time.
    async fn delete_expired_sessions(
        &self,
        org_id: &OrgId,
        created_before: Timestamp,
        idle_before: Option<Timestamp>,
    ) -> StoreResult<u64>;
}

/// API keys (of organizations, and the instance's).
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new API key, with its event.
    async fn create_api_key(&self, key: &ApiKey, event: EventDraft) -> StoreResult<()>;

    /// The key with this hash.
    async fn find_api_key(&self, token_hash: &str) -> StoreResult<Option<ApiKey>>;

    /// Keys of an organization (`None`: instance keys) ordered by id.
    async fn list_api_keys(&self, org_id: Option<&OrgId>, page: &Page) -> StoreResult<Vec<ApiKey>>;

    /// Keys of one user of an organization, ordered by id.
    async fn list_user_api_keys(
        &self,
        org_id: &OrgId,
        user_id: &str,
        page: &Page,
    ) -> StoreResult<Vec<ApiKey>>;

    /// One key of an organization.
    async fn get_api_key(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<ApiKey>>;

    /// One instance key.
    async fn get_instance_key(&self, id: &str) -> StoreResult<Option<ApiKey>>;

    /// Deletes a key of an organization; answers whether it existed.
    async fn delete_api_key(
        &self,
        org_id: &OrgId,
        id: &str,
        event: EventDraft,
    ) -> StoreResult<bool>;

    /// Whether any instance-level key exists (bootstrap happens only when none does).
    async fn has_instance_key(&self) -> StoreResult<bool>;

    /// Deletes the instance key `id`, with `event`, unless it is the last instance key of its
    /// own (a key issued from another, with a `parent_id`, works only while its parent does and
    /// does not count): atomically, so concurrent deletions can never remove every instance key
    /// (the instance would be left without an administrator).
    async fn delete_instance_key(
        &self,
        id: &str,
        event: EventDraft,
    ) -> StoreResult<InstanceKeyDeletion>;

    /// Deletes an organization's keys whose own expiry is at or before `expired_by`; answers
    /// how many. (A key past the policy's maximum lifetime is refused, not deleted: loosening
    /// the policy brings it back.)
    async fn delete_expired_api_keys(
        &self,
        org_id: &OrgId,
        expired_by: Timestamp,
    ) -> StoreResult<u64>;

    /// Deletes the instance keys issued from another key (console sessions) whose expiry is at
    /// or before `expired_by`; answers how many. Keys of their own are never touched here.
    async fn delete_expired_issued_instance_keys(&self, expired_by: Timestamp) -> StoreResult<u64>;
}

/// Second factors.
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// A user's TOTP factor.
    async fn get_mfa_factor(&self, org_id: &OrgId, user_id: &str)
    -> StoreResult<Option<MfaFactor>>;

    /// Creates or replaces a user's factor, with `event`, only when the factor in place meets
    /// `condition`; answers whether it wrote. `NotFound` when the user is not in the
    /// organization.
    async fn put_mfa_factor(
        &self,
        factor: &MfaFactor,
        condition: FactorCondition,
        event: EventDraft,
    ) -> StoreResult<bool>;

    /// Records `step` as used, atomically, only when the factor is confirmed and its last
    /// used step is older; answers whether it was (a replay or a race answers `false`).
    async fn use_mfa_step(&self, org_id: &OrgId, user_id: &str, step: u64) -> StoreResult<bool>;

    /// Removes one unused recovery code (by hash) of a confirmed factor, atomically, with
    /// `event`; answers whether it was there.
    async fn use_recovery_code(
        &self,
        org_id: &OrgId,
        user_id: &str,
        code_hash: &str,
        event: EventDraft,
    ) -> StoreResult<bool>;

    /// Turns the challenge session `session_id` into a full session with a new token hash,
    /// starting at `now`, with `events`; answers `false` when it is no longer a challenge
    /// (completed by another request, or gone).
    async fn complete_mfa_challenge(
        &self,
        session_id: &str,
        token_hash: &str,
        now: Timestamp,
        events: Vec<EventDraft>,
    ) -> StoreResult<bool>;
}

/// Coordination between replicas.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes or renews the lease `name` for `holder` until `until`, atomically: granted when
    /// nobody holds it, when the holder's lease ended at or before `now`, or when `holder`
    /// already holds it. Answers whether `holder` holds it now. (One replica at a time runs
    /// the background sweeps.)
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool>;
}

/// The mail outbox.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Writes `event` with its mail only when the organization has no mail with the same
    /// `dedupe_key` yet; answers whether it wrote (for reminders a sweep may find again).
    async fn queue_mail_once(&self, event: EventDraft) -> StoreResult<bool>;

    /// Writes `event` in every case, with its mail (queued under `dedupe_key`) only when the
    /// organization has no mail with that key yet; answers whether the mail was queued. The key
    /// is read whether or not the event carries a mail, and the event is written either way, so
    /// a request that may or may not mail costs the same store work (password-reset requests).
    async fn append_event_mail_once(
        &self,
        event: EventDraft,
        dedupe_key: &str,
    ) -> StoreResult<bool>;

    /// How many mails of every organization are neither sent nor given up, and when the oldest
    /// of them was queued (for the outbox metrics).
    async fn outbox_backlog(&self) -> StoreResult<(u64, Option<Timestamp>)>;

    /// Mails of an organization ordered by id, after `page.after`, newest last.
    async fn list_outbox(&self, org_id: &OrgId, page: &Page) -> StoreResult<Vec<OutboxMail>>;

    /// Claims at most `limit` mails, neither sent nor given up, due at `now` (oldest first),
    /// atomically: each claimed mail counts one more attempt and is not due again before
    /// `until`, so replicas never send one mail at the same time, and a mail whose sender died
    /// is tried again.
    async fn claim_mail(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMail>>;

    /// Records how the delivery of a mail claimed at attempt `attempt` ended. `Sent` is
    /// recorded whenever the mail is not yet sent; `Failed` and `GaveUp` only while no later
    /// claim took the mail (its `attempts` is still `attempt`) and it is neither sent nor given
    /// up, so a slow sender never overrides a newer one.
    async fn finish_mail(&self, id: u64, attempt: u32, outcome: &MailOutcome) -> StoreResult<()>;
}

/// The event log.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Records events that accompany no other write.
    async fn append_events(&self, events: Vec<EventDraft>) -> StoreResult<()>;

    /// Events of an organization (`None`: instance events) with sequence > `after`, oldest first.
    async fn list_events(
        &self,
        org_id: Option<&OrgId>,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<Event>>;

    /// Events of an organization of the types `kinds` recorded at or after `since`, ordered by
    /// (time, sequence) after the cursor `after` (a time and a sequence), at most `limit`
    /// (capped at [`MAX_PAGE`]); read through the index of an organization's events by time.
    async fn list_events_since(
        &self,
        org_id: &OrgId,
        kinds: &[&str],
        since: Timestamp,
        after: Option<(Timestamp, u64)>,
        limit: u32,
    ) -> StoreResult<Vec<Event>>;

    /// Deletes at most `limit` of the oldest events recorded before `before` (every
    /// organization and the instance); answers how many. Called in batches by the retention
    /// sweep until it answers fewer than `limit`.
    async fn delete_events_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;

    /// Brings the query planner's statistics up to date where the database does not keep them
    /// itself (SQLite: without them it may read a table through its primary key instead of a
    /// partial index); the sweep calls it. Nothing visible changes.
    async fn refresh_statistics(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// The port's traits, for code that calls a store through a concrete type or a generic one (an
/// `Arc<dyn Store>` needs no import).
pub mod prelude {
    pub use crate::{
        ApiKeyStore, CounterStore, DenylistStore, EventStore, LeaseStore, MailStore, MfaStore,
        OrgStore, PolicyStore, SessionStore, Store, UserStore,
    };
}
