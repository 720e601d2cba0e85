//! The port's capabilities ([`Store`] and the traits it is made of) implemented by [`SqlStore`]:
//! each method runs its module's function and maps the failure exactly once, at this edge
//! ([`SqlStore::edge`]).

use async_trait::async_trait;
use portcullis_engine::counter::CounterState;
use portcullis_model::{OrgId, Timestamp};

use super::SqlStore;
use super::error::DbResult;
use crate::{
    ApiKey, ApiKeyStore, AttemptGate, BulkCounterUpdate, CounterStore, CounterUpdate,
    DenylistStore, DueCounter, EmailConfirmation, Event, EventDraft, EventStore, ExpiryTarget,
    FactorCondition, InstanceKeyDeletion, IpDenial, LeaseStore, LockedCounter, LoginCompletion,
    LoginRecord, MailOutcome, MailStore, MfaFactor, MfaStore, Org, OrgStore, OutboxMail, Owner,
    Page, PasswordUpdate, PolicyStore, SectionChange, SectionRow, Session, SessionStore, Store,
    StoreResult, User, UserProfile, UserStore,
};

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        let done: DbResult<()> = async {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        }
        .await;
        self.edge(done)
    }
}

#[async_trait]
impl OrgStore for SqlStore {
    async fn create_org(&self, org: &Org, event: EventDraft) -> StoreResult<()> {
        self.edge(self.create_org_impl(org, event).await)
    }

    async fn get_org(&self, id: &OrgId) -> StoreResult<Option<Org>> {
        self.edge(self.get_org_impl(id.as_str()).await)
    }

    async fn list_orgs(&self, page: &Page) -> StoreResult<Vec<Org>> {
        self.edge(self.list_orgs_impl(page).await)
    }
}

#[async_trait]
impl PolicyStore for SqlStore {
    async fn policy_version(&self) -> StoreResult<u64> {
        self.edge(self.policy_version_impl().await)
    }

    async fn load_sections(&self, owner: &Owner) -> StoreResult<Vec<SectionRow>> {
        self.edge(self.load_sections_impl(owner).await)
    }

    async fn write_sections_guarded(
        &self,
        owner: &Owner,
        changes: Vec<SectionChange>,
        scope: Option<&[(String, u64)]>,
    ) -> StoreResult<Vec<SectionRow>> {
        self.edge(self.write_sections_impl(owner, changes, scope).await)
    }

    async fn delete_section(
        &self,
        org_id: &OrgId,
        section: &str,
        event: EventDraft,
    ) -> StoreResult<bool> {
        self.edge(
            self.delete_section_impl(org_id.as_str(), section, None, event)
                .await,
        )
    }

    async fn delete_section_at(
        &self,
        org_id: &OrgId,
        section: &str,
        sequence: u64,
        event: EventDraft,
    ) -> StoreResult<bool> {
        self.edge(
            self.delete_section_impl(org_id.as_str(), section, Some(sequence), event)
                .await,
        )
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, user: &User, event: EventDraft) -> StoreResult<()> {
        self.edge(self.create_user_impl(user, event).await)
    }

    async fn get_user(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<User>> {
        self.edge(self.get_user_impl(org_id.as_str(), id).await)
    }

    async fn find_user_by_login(
        &self,
        org_id: &OrgId,
        login_key: &str,
    ) -> StoreResult<Option<User>> {
        self.edge(
            self.find_user_by_login_impl(org_id.as_str(), login_key)
                .await,
        )
    }

    async fn list_users(&self, org_id: &OrgId, page: &Page) -> StoreResult<Vec<User>> {
        self.edge(self.list_users_impl(org_id.as_str(), page).await)
    }

    async fn list_locked_users(
        &self,
        org_id: &OrgId,
        now: Timestamp,
        page: &Page,
    ) -> StoreResult<Vec<User>> {
        self.edge(
            self.list_locked_users_impl(org_id.as_str(), now, page)
                .await,
        )
    }

    async fn update_user_profile(
        &self,
        org_id: &OrgId,
        id: &str,
        profile: &UserProfile,
        at: Timestamp,
        event: EventDraft,
    ) -> StoreResult<User> {
        self.edge(
            self.update_user_profile_impl(org_id.as_str(), id, profile, at, event)
                .await,
        )
    }

    async fn set_password(
        &self,
        org_id: &OrgId,
        id: &str,
        update: &PasswordUpdate,
        end_sessions: bool,
        keep_session: Option<&str>,
        events: Vec<EventDraft>,
    ) -> StoreResult<()> {
        self.edge(
            self.set_password_impl(
                org_id.as_str(),
                id,
                update,
                end_sessions,
                keep_session,
                events,
            )
            .await,
        )
    }

    async fn confirm_email(
        &self,
        org_id: &OrgId,
        id: &str,
        email: &str,
        at: Timestamp,
        event: EventDraft,
    ) -> StoreResult<EmailConfirmation> {
        self.edge(
            self.confirm_email_impl(org_id.as_str(), id, email, at, event)
                .await,
        )
    }

    async fn verified_email_taken(&self, org_id: &OrgId, email: &str) -> StoreResult<bool> {
        self.edge(self.verified_email_taken_impl(org_id.as_str(), email).await)
    }

    async fn delete_user(&self, org_id: &OrgId, id: &str, event: EventDraft) -> StoreResult<bool> {
        self.edge(self.delete_user_impl(org_id.as_str(), id, event).await)
    }

    async fn expire_passwords(
        &self,
        org_id: &OrgId,
        target: &ExpiryTarget,
        at: Timestamp,
        event: EventDraft,
    ) -> StoreResult<u64> {
        self.edge(
            self.expire_passwords_impl(org_id.as_str(), target, at, event)
                .await,
        )
    }
}

#[async_trait]
impl CounterStore for SqlStore {
    async fn get_counter(&self, org_id: &OrgId, key: &str) -> StoreResult<CounterState> {
        self.edge(self.get_counter_impl(org_id.as_str(), key).await)
    }

    async fn attempt_gate(
        &self,
        org_id: &OrgId,
        denial_of: Option<std::net::IpAddr>,
        now: Timestamp,
        keys: [Option<&str>; 2],
    ) -> StoreResult<AttemptGate> {
        self.edge(
            self.attempt_gate_impl(org_id.as_str(), denial_of, now, keys)
                .await,
        )
    }

    async fn update_counter(
        &self,
        org_id: &OrgId,
        key: &str,
        update: CounterUpdate<'_>,
    ) -> StoreResult<CounterState> {
        self.edge(self.update_counter_impl(org_id.as_str(), key, update).await)
    }

    async fn due_counters(
        &self,
        org_id: &OrgId,
        now: Timestamp,
        after: Option<&DueCounter>,
    ) -> StoreResult<Vec<DueCounter>> {
        self.edge(self.due_counters_impl(org_id.as_str(), now, after).await)
    }

    async fn counter_keys(
        &self,
        org_id: &OrgId,
        prefix: &str,
        after: Option<&str>,
    ) -> StoreResult<Vec<String>> {
        self.edge(self.counter_keys_impl(org_id.as_str(), prefix, after).await)
    }

    async fn locked_counters(
        &self,
        org_id: &OrgId,
        prefixes: &[String],
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<LockedCounter>> {
        self.edge(
            self.locked_counters_impl(org_id.as_str(), prefixes, after, limit)
                .await,
        )
    }

    async fn locked_logins(
        &self,
        org_id: &OrgId,
        login_keys: &[String],
        now: Timestamp,
    ) -> StoreResult<Vec<LockedCounter>> {
        self.edge(
            self.locked_logins_impl(org_id.as_str(), login_keys, now)
                .await,
        )
    }

    async fn clear_locks(
        &self,
        org_id: &OrgId,
        prefixes: &[String],
        denials: Option<Timestamp>,
        update: BulkCounterUpdate<'_>,
        event: EventDraft,
    ) -> StoreResult<u64> {
        self.edge(
            self.clear_locks_impl(org_id.as_str(), prefixes, denials, update, event)
                .await,
        )
    }
}

#[async_trait]
impl DenylistStore for SqlStore {
    async fn put_ip_denial(&self, denial: &IpDenial, event: EventDraft) -> StoreResult<bool> {
        self.edge(self.put_ip_denial_impl(denial, event).await)
    }

    async fn delete_ip_denial(
        &self,
        org_id: &OrgId,
        network: &str,
        event: EventDraft,
    ) -> StoreResult<bool> {
        self.edge(
            self.delete_ip_denial_impl(org_id.as_str(), network, event)
                .await,
        )
    }

    async fn list_ip_denials(
        &self,
        org_id: &OrgId,
        after: Option<&str>,
        inclusive: bool,
        limit: u32,
    ) -> StoreResult<Vec<IpDenial>> {
        self.edge(
            self.list_ip_denials_impl(org_id.as_str(), after, inclusive, limit)
                .await,
        )
    }

    async fn delete_ended_ip_denials(&self, org_id: &OrgId, now: Timestamp) -> StoreResult<u64> {
        self.edge(
            self.delete_ended_ip_denials_impl(org_id.as_str(), now)
                .await,
        )
    }

    async fn matching_ip_denial(
        &self,
        org_id: &OrgId,
        ip: std::net::IpAddr,
        now: Timestamp,
    ) -> StoreResult<Option<IpDenial>> {
        self.edge(self.matching_ip_denial_impl(org_id.as_str(), ip, now).await)
    }
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, session: &Session, events: Vec<EventDraft>) -> StoreResult<()> {
        self.edge(self.create_session_impl(session, events).await)
    }

    async fn open_login_session(
        &self,
        session: &Session,
        login: &LoginRecord,
        events: Vec<EventDraft>,
    ) -> StoreResult<bool> {
        self.edge(
            self.open_login_session_impl(None, session, login, events)
                .await,
        )
    }

    async fn complete_login(
        &self,
        key: &str,
        completion: LoginCompletion<'_>,
        session: &Session,
        login: &LoginRecord,
        events: Vec<EventDraft>,
    ) -> StoreResult<bool> {
        self.edge(
            self.open_login_session_impl(Some((key, completion)), session, login, events)
                .await,
        )
    }

    async fn find_session(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        self.edge(self.find_session_impl(token_hash).await)
    }

    async fn touch_session(&self, id: &str, at: Timestamp) -> StoreResult<()> {
        self.edge(self.touch_session_impl(id, at).await)
    }

    async fn delete_session(&self, id: &str, event: EventDraft) -> StoreResult<bool> {
        self.edge(self.delete_session_impl(id, event).await)
    }

    async fn delete_user_session(
        &self,
        org_id: &OrgId,
        user_id: &str,
        id: &str,
        event: EventDraft,
    ) -> StoreResult<bool> {
        self.edge(
            self.delete_user_session_impl(org_id.as_str(), user_id, id, event)
                .await,
        )
    }

    async fn end_user_sessions(
        &self,
        org_id: &OrgId,
        user_id: &str,
        except: Option<&str>,
        event: EventDraft,
    ) -> StoreResult<u64> {
        self.edge(
            self.end_user_sessions_impl(org_id.as_str(), user_id, except, event)
                .await,
        )
    }

    async fn end_org_sessions(
        &self,
        org_id: &OrgId,
        except: Option<&str>,
        event: EventDraft,
    ) -> StoreResult<u64> {
        self.edge(
            self.end_org_sessions_impl(org_id.as_str(), except, event)
                .await,
        )
    }

    async fn list_user_sessions(
        &self,
        org_id: &OrgId,
        user_id: &str,
        page: &Page,
    ) -> StoreResult<Vec<Session>> {
        self.edge(
            self.list_user_sessions_impl(org_id.as_str(), user_id, page)
                .await,
        )
    }

    async fn delete_expired_sessions(
        &self,
        org_id: &OrgId,
        created_before: Timestamp,
        idle_before: Option<Timestamp>,
    ) -> StoreResult<u64> {
        self.edge(
            self.delete_expired_sessions_impl(org_id.as_str(), created_before, idle_before)
                .await,
        )
    }
}

#[async_trait]
impl ApiKeyStore for SqlStore {
    async fn create_api_key(&self, key: &ApiKey, event: EventDraft) -> StoreResult<()> {
        self.edge(self.create_api_key_impl(key, event).await)
    }

    async fn find_api_key(&self, token_hash: &str) -> StoreResult<Option<ApiKey>> {
        self.edge(self.find_api_key_impl(token_hash).await)
    }

    async fn list_api_keys(&self, org_id: Option<&OrgId>, page: &Page) -> StoreResult<Vec<ApiKey>> {
        self.edge(
            self.list_api_keys_impl(org_id.map(OrgId::as_str), page)
                .await,
        )
    }

    async fn list_user_api_keys(
        &self,
        org_id: &OrgId,
        user_id: &str,
        page: &Page,
    ) -> StoreResult<Vec<ApiKey>> {
        self.edge(
            self.list_user_api_keys_impl(org_id.as_str(), user_id, page)
                .await,
        )
    }

    async fn get_api_key(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<ApiKey>> {
        self.edge(self.get_api_key_impl(org_id.as_str(), id).await)
    }

    async fn get_instance_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        self.edge(self.get_instance_key_impl(id).await)
    }

    async fn delete_api_key(
        &self,
        org_id: &OrgId,
        id: &str,
        event: EventDraft,
    ) -> StoreResult<bool> {
        self.edge(self.delete_api_key_impl(org_id.as_str(), id, event).await)
    }

    async fn has_instance_key(&self) -> StoreResult<bool> {
        self.edge(self.has_instance_key_impl().await)
    }

    async fn delete_instance_key(
        &self,
        id: &str,
        event: EventDraft,
    ) -> StoreResult<InstanceKeyDeletion> {
        self.edge(self.delete_instance_key_impl(id, event).await)
    }

    async fn delete_expired_api_keys(
        &self,
        org_id: &OrgId,
        expired_by: Timestamp,
    ) -> StoreResult<u64> {
        self.edge(
            self.delete_expired_api_keys_impl(org_id.as_str(), expired_by)
                .await,
        )
    }

    async fn delete_expired_issued_instance_keys(&self, expired_by: Timestamp) -> StoreResult<u64> {
        self.edge(
            self.delete_expired_issued_instance_keys_impl(expired_by)
                .await,
        )
    }
}

#[async_trait]
impl MfaStore for SqlStore {
    async fn get_mfa_factor(
        &self,
        org_id: &OrgId,
        user_id: &str,
    ) -> StoreResult<Option<MfaFactor>> {
        self.edge(self.get_mfa_factor_impl(org_id.as_str(), user_id).await)
    }

    async fn put_mfa_factor(
        &self,
        factor: &MfaFactor,
        condition: FactorCondition,
        event: EventDraft,
    ) -> StoreResult<bool> {
        self.edge(self.put_mfa_factor_impl(factor, condition, event).await)
    }

    async fn use_mfa_step(&self, org_id: &OrgId, user_id: &str, step: u64) -> StoreResult<bool> {
        self.edge(self.use_mfa_step_impl(org_id.as_str(), user_id, step).await)
    }

    async fn use_recovery_code(
        &self,
        org_id: &OrgId,
        user_id: &str,
        code_hash: &str,
        event: EventDraft,
    ) -> StoreResult<bool> {
        self.edge(
            self.use_recovery_code_impl(org_id.as_str(), user_id, code_hash, event)
                .await,
        )
    }

    async fn complete_mfa_challenge(
        &self,
        session_id: &str,
        token_hash: &str,
        now: Timestamp,
        events: Vec<EventDraft>,
    ) -> StoreResult<bool> {
        self.edge(
            self.complete_mfa_challenge_impl(session_id, token_hash, now, events)
                .await,
        )
    }
}

#[async_trait]
impl LeaseStore for SqlStore {
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        self.edge(self.try_lease_impl(name, holder, now, until).await)
    }
}

#[async_trait]
impl MailStore for SqlStore {
    async fn queue_mail_once(&self, event: EventDraft) -> StoreResult<bool> {
        self.edge(self.queue_mail_once_impl(event).await)
    }

    async fn append_event_mail_once(
        &self,
        event: EventDraft,
        dedupe_key: &str,
    ) -> StoreResult<bool> {
        self.edge(self.append_event_mail_once_impl(event, dedupe_key).await)
    }

    async fn outbox_backlog(&self) -> StoreResult<(u64, Option<Timestamp>)> {
        self.edge(self.outbox_backlog_impl().await)
    }

    async fn list_outbox(&self, org_id: &OrgId, page: &Page) -> StoreResult<Vec<OutboxMail>> {
        self.edge(self.list_outbox_impl(org_id.as_str(), page).await)
    }

    async fn claim_mail(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMail>> {
        self.edge(self.claim_mail_impl(now, until, limit).await)
    }

    async fn finish_mail(&self, id: u64, attempt: u32, outcome: &MailOutcome) -> StoreResult<()> {
        self.edge(self.finish_mail_impl(id, attempt, outcome).await)
    }
}

#[async_trait]
impl EventStore for SqlStore {
    async fn append_events(&self, events: Vec<EventDraft>) -> StoreResult<()> {
        self.edge(self.append_events_impl(events).await)
    }

    async fn list_events(
        &self,
        org_id: Option<&OrgId>,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        self.edge(
            self.list_events_impl(org_id.map(OrgId::as_str), after, limit)
                .await,
        )
    }

    async fn list_events_since(
        &self,
        org_id: &OrgId,
        kinds: &[&str],
        since: Timestamp,
        after: Option<(Timestamp, u64)>,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        self.edge(
            self.list_events_since_impl(org_id.as_str(), kinds, since, after, limit)
                .await,
        )
    }

    async fn delete_events_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.edge(self.delete_events_before_impl(before, limit).await)
    }

    async fn refresh_statistics(&self) -> StoreResult<()> {
        let statements = self.backend().refresh_statistics();
        if statements.is_empty() {
            return Ok(());
        }
        let done: Result<(), sqlx::Error> = async {
            let mut connection = self.pool().acquire().await?;
            for statement in statements {
                sqlx::query(statement).execute(&mut *connection).await?;
            }
            Ok(())
        }
        .await;
        self.edge(done.map_err(Into::into))
    }
}
