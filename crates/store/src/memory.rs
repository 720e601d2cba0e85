//! An in-memory [`Store`] for fast tests of the layers above. Not durable, one process only.
//!
//! Invariant: one mutex guards all state, so every call is atomic and counter updates serialize
//! exactly like the database adapters' row locks; the conformance suite runs against it too.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use portcullis_engine::counter::CounterState;
use portcullis_model::Timestamp;

use crate::{
    ApiKey, CounterUpdate, DueCounter, EmailConfirmation, Event, EventDraft, FactorCondition,
    InstanceKeyDeletion, LoginRecord, MAX_PAGE, MailOutcome, MfaFactor, Org, OutboxMail, Owner,
    Page, PasswordUpdate, SectionChange, SectionRow, Session, SessionStage, Store, StoreError,
    StoreResult, User, UserProfile, email_key,
};

#[derive(Default)]
struct State {
    orgs: BTreeMap<String, Org>,
    sections: BTreeMap<(Option<String>, String), SectionRow>,
    users: BTreeMap<String, User>,
    counters: BTreeMap<(String, String), (CounterState, Option<Timestamp>)>,
    sessions: BTreeMap<String, Session>,
    api_keys: BTreeMap<String, ApiKey>,
    events: Vec<Event>,
    policy_version: u64,
    leases: BTreeMap<String, (String, Timestamp)>,
    mfa: BTreeMap<(String, String), MfaFactor>,
    outbox: Vec<OutboxMail>,
    /// The verified address of a user (by user id): its organization and [`email_key`].
    verified_emails: BTreeMap<String, (String, String)>,
}

impl State {
    fn verified_by_other(&self, org_id: &str, key: &str, id: Option<&str>) -> bool {
        self.verified_emails
            .iter()
            .any(|(uid, (org, k))| org == org_id && k == key && Some(uid.as_str()) != id)
    }
}

impl State {
    fn record(&mut self, drafts: Vec<EventDraft>) -> u64 {
        let mut last = self.events.last().map_or(0, |e| e.sequence);
        for mut draft in drafts {
            last += 1;
            if let Some(mail) = draft.mail.take() {
                self.outbox.push(OutboxMail {
                    id: self.outbox.last().map_or(1, |m| m.id + 1),
                    org_id: draft.org_id.clone(),
                    event_sequence: last,
                    draft: mail,
                    created_at: draft.at,
                    attempts: 0,
                    next_attempt_at: draft.at,
                    sent_at: None,
                    given_up_at: None,
                    last_error: None,
                });
            }
            self.events.push(Event::from_draft(last, draft));
        }
        last
    }
}

/// The in-memory store.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    fn delete_section_if(
        &self,
        org_id: &str,
        section: &str,
        sequence: Option<u64>,
        event: EventDraft,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        let key = (Some(org_id.to_owned()), section.to_owned());
        let matches = s
            .sections
            .get(&key)
            .is_some_and(|row| sequence.is_none_or(|seq| row.sequence == seq));
        if matches {
            s.sections.remove(&key);
            s.record(vec![event]);
            s.policy_version += 1;
        }
        Ok(matches)
    }

    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> StoreResult<MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| StoreError::Internal("memory store poisoned".into()))
    }
}

fn page<'a, T: 'a>(
    items: impl Iterator<Item = (&'a String, &'a T)>,
    page: &Page,
) -> impl Iterator<Item = &'a T> {
    let after = page.after.clone();
    items
        .filter(move |(id, _)| after.as_deref().is_none_or(|a| id.as_str() > a))
        .map(|(_, item)| item)
        .take(page.limit.min(MAX_PAGE) as usize)
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> StoreResult<()> {
        self.lock().map(|_| ())
    }

    async fn create_org(&self, org: &Org, event: EventDraft) -> StoreResult<()> {
        let mut s = self.lock()?;
        if s.orgs.contains_key(&org.id) {
            return Err(StoreError::Conflict("organization id".into()));
        }
        s.orgs.insert(org.id.clone(), org.clone());
        s.record(vec![event]);
        Ok(())
    }

    async fn get_org(&self, id: &str) -> StoreResult<Option<Org>> {
        Ok(self.lock()?.orgs.get(id).cloned())
    }

    async fn list_orgs(&self, p: &Page) -> StoreResult<Vec<Org>> {
        let s = self.lock()?;
        Ok(page(s.orgs.iter(), p).cloned().collect())
    }

    async fn policy_version(&self) -> StoreResult<u64> {
        Ok(self.lock()?.policy_version)
    }

    async fn load_sections(&self, owner: &Owner) -> StoreResult<Vec<SectionRow>> {
        let s = self.lock()?;
        let owner = owner.org_id().map(str::to_owned);
        Ok(s.sections
            .iter()
            .filter(|((o, _), _)| *o == owner)
            .map(|(_, row)| row.clone())
            .collect())
    }

    async fn write_sections(
        &self,
        owner: &Owner,
        changes: Vec<SectionChange>,
    ) -> StoreResult<Vec<SectionRow>> {
        let mut s = self.lock()?;
        let org = owner.org_id().map(str::to_owned);
        for change in &changes {
            let current = s.sections.get(&(org.clone(), change.section.clone()));
            if let Some(expected) = change.expected_sequence
                && current.map_or(0, |r| r.sequence) != expected
            {
                return Err(StoreError::VersionMismatch);
            }
        }
        let mut rows = Vec::with_capacity(changes.len());
        for change in changes {
            let key = (org.clone(), change.section.clone());
            let at = change.event.at;
            let created_at = s.sections.get(&key).map_or(at, |r| r.created_at);
            let sequence = s.record(vec![change.event]);
            let row = SectionRow {
                section: change.section,
                value: change.value,
                sequence,
                created_at,
                changed_at: at,
            };
            s.sections.insert(key, row.clone());
            rows.push(row);
        }
        s.policy_version += 1;
        Ok(rows)
    }

    async fn delete_section(
        &self,
        org_id: &str,
        section: &str,
        event: EventDraft,
    ) -> StoreResult<bool> {
        self.delete_section_if(org_id, section, None, event)
    }

    async fn delete_section_at(
        &self,
        org_id: &str,
        section: &str,
        sequence: u64,
        event: EventDraft,
    ) -> StoreResult<bool> {
        self.delete_section_if(org_id, section, Some(sequence), event)
    }

    async fn create_user(&self, user: &User, event: EventDraft) -> StoreResult<()> {
        let mut s = self.lock()?;
        if s.users.contains_key(&user.id) {
            return Err(StoreError::Conflict("user id".into()));
        }
        if s.users
            .values()
            .any(|u| u.org_id == user.org_id && u.login_key == user.login_key)
        {
            return Err(StoreError::Conflict("login".into()));
        }
        s.users.insert(user.id.clone(), user.clone());
        s.record(vec![event]);
        Ok(())
    }

    async fn get_user(&self, org_id: &str, id: &str) -> StoreResult<Option<User>> {
        let s = self.lock()?;
        Ok(s.users.get(id).filter(|u| u.org_id == org_id).cloned())
    }

    async fn find_user_by_login(&self, org_id: &str, login_key: &str) -> StoreResult<Option<User>> {
        let s = self.lock()?;
        Ok(s.users
            .values()
            .find(|u| u.org_id == org_id && u.login_key == login_key)
            .cloned())
    }

    async fn list_users(&self, org_id: &str, p: &Page) -> StoreResult<Vec<User>> {
        let s = self.lock()?;
        Ok(page(s.users.iter().filter(|(_, u)| u.org_id == org_id), p)
            .cloned()
            .collect())
    }

    async fn update_user_profile(
        &self,
        org_id: &str,
        id: &str,
        profile: &UserProfile,
        at: Timestamp,
        event: EventDraft,
    ) -> StoreResult<User> {
        let mut s = self.lock()?;
        let user = s
            .users
            .get_mut(id)
            .filter(|u| u.org_id == org_id)
            .ok_or(StoreError::NotFound)?;
        let email_changed = user.email != profile.email;
        user.email.clone_from(&profile.email);
        user.display_name.clone_from(&profile.display_name);
        user.source.clone_from(&profile.source);
        user.roles.clone_from(&profile.roles);
        user.disabled = profile.disabled;
        user.updated_at = at;
        let updated = user.clone();
        if profile.disabled {
            s.sessions
                .retain(|_, x| !(x.org_id == org_id && x.user_id == id));
        }
        if email_changed {
            s.verified_emails.remove(id);
        }
        s.record(vec![event]);
        Ok(updated)
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
        let mut s = self.lock()?;
        let user = s
            .users
            .get_mut(id)
            .filter(|u| u.org_id == org_id)
            .ok_or(StoreError::NotFound)?;
        if update
            .expected_hash
            .as_ref()
            .is_some_and(|e| *e != user.password_hash)
        {
            return Err(StoreError::VersionMismatch);
        }
        if let Some(old) = user.password_hash.replace(update.hash.clone()) {
            user.password_history.insert(0, old);
        }
        user.password_history.truncate(update.keep_history);
        user.password_changed_at = Some(update.changed_at);
        user.password_set_by_admin = update.set_by_admin;
        user.updated_at = update.changed_at;
        if end_sessions {
            s.sessions
                .retain(|sid, sess| sess.user_id != id || Some(sid.as_str()) == keep_session);
        }
        s.record(events);
        Ok(())
    }

    async fn confirm_email(
        &self,
        org_id: &str,
        id: &str,
        email: &str,
        at: Timestamp,
        event: EventDraft,
    ) -> StoreResult<EmailConfirmation> {
        let mut s = self.lock()?;
        let key = email_key(email);
        let pending = s.users.get(id).is_some_and(|u| {
            u.org_id == org_id && u.verification_pending && u.email.as_deref() == Some(email)
        });
        if !pending {
            return Ok(EmailConfirmation::NotPending);
        }
        if s.verified_by_other(org_id, &key, Some(id)) {
            return Ok(EmailConfirmation::Taken);
        }
        if let Some(user) = s.users.get_mut(id) {
            user.verification_pending = false;
            user.updated_at = at;
        }
        s.verified_emails
            .insert(id.to_owned(), (org_id.to_owned(), key));
        s.record(vec![event]);
        Ok(EmailConfirmation::Confirmed)
    }

    async fn verified_email_taken(&self, org_id: &str, email: &str) -> StoreResult<bool> {
        let s = self.lock()?;
        Ok(s.verified_by_other(org_id, &email_key(email), None))
    }

    async fn delete_user(&self, org_id: &str, id: &str, event: EventDraft) -> StoreResult<bool> {
        let mut s = self.lock()?;
        if s.users.get(id).is_none_or(|u| u.org_id != org_id) {
            return Ok(false);
        }
        s.users.remove(id);
        s.sessions.retain(|_, sess| sess.user_id != id);
        s.api_keys
            .retain(|_, key| key.user_id.as_deref() != Some(id));
        s.mfa.remove(&(org_id.to_owned(), id.to_owned()));
        s.verified_emails.remove(id);
        s.record(vec![event]);
        Ok(true)
    }

    async fn get_counter(&self, org_id: &str, key: &str) -> StoreResult<CounterState> {
        let s = self.lock()?;
        Ok(s.counters
            .get(&(org_id.to_owned(), key.to_owned()))
            .map(|(state, _)| state.clone())
            .unwrap_or_default())
    }

    async fn update_counter(
        &self,
        org_id: &str,
        key: &str,
        update: CounterUpdate<'_>,
    ) -> StoreResult<CounterState> {
        let mut s = self.lock()?;
        let id = (org_id.to_owned(), key.to_owned());
        let mut state = s
            .counters
            .get(&id)
            .map(|(state, _)| state.clone())
            .unwrap_or_default();
        let change = update(&mut state);
        if state == CounterState::default() {
            s.counters.remove(&id);
        } else {
            s.counters.insert(id, (state.clone(), change.due_at));
        }
        s.record(change.events);
        Ok(state)
    }

    async fn due_counters(
        &self,
        org_id: &str,
        now: Timestamp,
        after: Option<&DueCounter>,
    ) -> StoreResult<Vec<DueCounter>> {
        let s = self.lock()?;
        let mut due: Vec<DueCounter> = s
            .counters
            .iter()
            .filter(|((org, _), _)| org == org_id)
            .filter_map(|((_, key), (_, due_at))| {
                due_at.filter(|at| *at <= now).map(|due_at| DueCounter {
                    due_at,
                    key: key.clone(),
                })
            })
            .filter(|d| after.is_none_or(|a| (d.due_at, &d.key) > (a.due_at, &a.key)))
            .collect();
        due.sort_by(|a, b| (a.due_at, &a.key).cmp(&(b.due_at, &b.key)));
        due.truncate(MAX_PAGE as usize);
        Ok(due)
    }

    async fn counter_keys(
        &self,
        org_id: &str,
        prefix: &str,
        after: Option<&str>,
    ) -> StoreResult<Vec<String>> {
        let s = self.lock()?;
        Ok(s.counters
            .keys()
            .filter(|(org, key)| {
                org == org_id && key.starts_with(prefix) && after.is_none_or(|a| key.as_str() > a)
            })
            .map(|(_, key)| key.clone())
            .take(MAX_PAGE as usize)
            .collect())
    }

    async fn create_session(&self, session: &Session, events: Vec<EventDraft>) -> StoreResult<()> {
        let mut s = self.lock()?;
        if s.sessions.contains_key(&session.id)
            || s.sessions
                .values()
                .any(|x| x.token_hash == session.token_hash)
        {
            return Err(StoreError::Conflict("session".into()));
        }
        s.sessions.insert(session.id.clone(), session.clone());
        s.record(events);
        Ok(())
    }

    async fn open_login_session(
        &self,
        session: &Session,
        login: &LoginRecord,
        events: Vec<EventDraft>,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        if s.sessions.contains_key(&session.id)
            || s.sessions
                .values()
                .any(|x| x.token_hash == session.token_hash)
        {
            return Err(StoreError::Conflict("session".into()));
        }
        let Some(user) = s.users.get_mut(&session.user_id).filter(|u| {
            u.org_id == session.org_id
                && !u.disabled
                && u.password_hash.as_deref() == Some(login.verified_hash.as_str())
        }) else {
            return Ok(false);
        };
        user.last_login_at = Some(session.created_at);
        user.last_login_ip = Some(login.ip.clone());
        if let Some(hash) = &login.rehash {
            user.password_hash = Some(hash.clone());
        }
        s.sessions.insert(session.id.clone(), session.clone());
        s.record(events);
        Ok(true)
    }

    async fn find_session(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        let s = self.lock()?;
        Ok(s.sessions
            .values()
            .find(|x| x.token_hash == token_hash)
            .cloned())
    }

    async fn touch_session(&self, id: &str, at: Timestamp) -> StoreResult<()> {
        let mut s = self.lock()?;
        if let Some(session) = s.sessions.get_mut(id)
            && session.last_used_at < at
        {
            session.last_used_at = at;
        }
        Ok(())
    }

    async fn delete_session(&self, id: &str, event: EventDraft) -> StoreResult<bool> {
        let mut s = self.lock()?;
        let removed = s.sessions.remove(id).is_some();
        if removed {
            s.record(vec![event]);
        }
        Ok(removed)
    }

    async fn delete_events_before(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        let mut s = self.lock()?;
        let mut old: Vec<(Timestamp, u64)> = s
            .events
            .iter()
            .filter(|e| e.at < before)
            .map(|e| (e.at, e.sequence))
            .collect();
        old.sort();
        old.truncate(limit as usize);
        let doomed: std::collections::HashSet<u64> = old.into_iter().map(|(_, q)| q).collect();
        s.events.retain(|e| !doomed.contains(&e.sequence));
        Ok(doomed.len() as u64)
    }

    async fn end_user_sessions(
        &self,
        org_id: &str,
        user_id: &str,
        mut event: EventDraft,
    ) -> StoreResult<u64> {
        let mut s = self.lock()?;
        let before = s.sessions.len();
        s.sessions
            .retain(|_, x| !(x.org_id == org_id && x.user_id == user_id));
        let ended = (before - s.sessions.len()) as u64;
        if ended > 0 {
            if let serde_json::Value::Object(fields) = &mut event.payload {
                fields.insert("sessions".into(), ended.into());
            }
            s.record(vec![event]);
        }
        Ok(ended)
    }

    async fn list_user_sessions(&self, org_id: &str, user_id: &str) -> StoreResult<Vec<Session>> {
        let s = self.lock()?;
        Ok(s.sessions
            .values()
            .filter(|x| x.org_id == org_id && x.user_id == user_id)
            .cloned()
            .collect())
    }

    async fn delete_expired_sessions(
        &self,
        org_id: &str,
        created_before: Timestamp,
        idle_before: Option<Timestamp>,
    ) -> StoreResult<u64> {
        let mut s = self.lock()?;
        let before = s.sessions.len();
        s.sessions.retain(|_, x| {
            x.org_id != org_id
                || !(x.created_at <= created_before
                    || idle_before.is_some_and(|idle| x.last_used_at <= idle))
        });
        Ok((before - s.sessions.len()) as u64)
    }

    async fn delete_expired_api_keys(
        &self,
        org_id: &str,
        expired_by: Timestamp,
    ) -> StoreResult<u64> {
        let mut s = self.lock()?;
        let before = s.api_keys.len();
        s.api_keys.retain(|_, k| {
            k.org_id.as_deref() != Some(org_id) || k.expires_at.is_none_or(|at| at > expired_by)
        });
        Ok((before - s.api_keys.len()) as u64)
    }

    async fn get_mfa_factor(&self, org_id: &str, user_id: &str) -> StoreResult<Option<MfaFactor>> {
        let s = self.lock()?;
        Ok(s.mfa.get(&(org_id.to_owned(), user_id.to_owned())).cloned())
    }

    async fn put_mfa_factor(
        &self,
        factor: &MfaFactor,
        condition: FactorCondition,
        event: EventDraft,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        if s.users
            .get(&factor.user_id)
            .is_none_or(|u| u.org_id != factor.org_id)
        {
            return Err(StoreError::NotFound);
        }
        let key = (factor.org_id.clone(), factor.user_id.clone());
        if !condition.holds(s.mfa.get(&key)) {
            return Ok(false);
        }
        s.mfa.insert(key, factor.clone());
        s.record(vec![event]);
        Ok(true)
    }

    async fn use_mfa_step(&self, org_id: &str, user_id: &str, step: u64) -> StoreResult<bool> {
        let mut s = self.lock()?;
        match s.mfa.get_mut(&(org_id.to_owned(), user_id.to_owned())) {
            Some(f) if f.confirmed_at.is_some() && f.last_step < step => {
                f.last_step = step;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn use_recovery_code(
        &self,
        org_id: &str,
        user_id: &str,
        code_hash: &str,
        event: EventDraft,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        let used = match s.mfa.get_mut(&(org_id.to_owned(), user_id.to_owned())) {
            Some(f) if f.confirmed_at.is_some() => {
                match f.recovery_codes.iter().position(|c| c == code_hash) {
                    Some(at) => {
                        f.recovery_codes.remove(at);
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        };
        if used {
            s.record(vec![event]);
        }
        Ok(used)
    }

    async fn complete_mfa_challenge(
        &self,
        session_id: &str,
        token_hash: &str,
        now: Timestamp,
        events: Vec<EventDraft>,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        if s.sessions.values().any(|x| x.token_hash == token_hash) {
            return Err(StoreError::Conflict("session token".into()));
        }
        let done = match s.sessions.get_mut(session_id) {
            Some(session) if session.stage == SessionStage::MfaChallenge => {
                session.token_hash = token_hash.to_owned();
                session.stage = SessionStage::Full;
                session.created_at = now;
                session.last_used_at = now;
                true
            }
            _ => false,
        };
        if done {
            s.record(events);
        }
        Ok(done)
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        let free = s
            .leases
            .get(name)
            .is_none_or(|(current, ends)| *ends <= now || current == holder);
        if free {
            s.leases.insert(name.to_owned(), (holder.to_owned(), until));
        }
        Ok(free)
    }

    async fn create_api_key(&self, key: &ApiKey, event: EventDraft) -> StoreResult<()> {
        let mut s = self.lock()?;
        if s.api_keys.contains_key(&key.id)
            || s.api_keys.values().any(|k| k.token_hash == key.token_hash)
        {
            return Err(StoreError::Conflict("api key".into()));
        }
        s.api_keys.insert(key.id.clone(), key.clone());
        s.record(vec![event]);
        Ok(())
    }

    async fn find_api_key(&self, token_hash: &str) -> StoreResult<Option<ApiKey>> {
        let s = self.lock()?;
        Ok(s.api_keys
            .values()
            .find(|k| k.token_hash == token_hash)
            .cloned())
    }

    async fn list_api_keys(&self, org_id: Option<&str>, p: &Page) -> StoreResult<Vec<ApiKey>> {
        let s = self.lock()?;
        Ok(page(
            s.api_keys
                .iter()
                .filter(|(_, k)| k.org_id.as_deref() == org_id),
            p,
        )
        .cloned()
        .collect())
    }

    async fn list_user_api_keys(
        &self,
        org_id: &str,
        user_id: &str,
        p: &Page,
    ) -> StoreResult<Vec<ApiKey>> {
        let s = self.lock()?;
        Ok(page(
            s.api_keys.iter().filter(|(_, k)| {
                k.org_id.as_deref() == Some(org_id) && k.user_id.as_deref() == Some(user_id)
            }),
            p,
        )
        .cloned()
        .collect())
    }

    async fn get_api_key(&self, org_id: &str, id: &str) -> StoreResult<Option<ApiKey>> {
        let s = self.lock()?;
        Ok(s.api_keys
            .get(id)
            .filter(|k| k.org_id.as_deref() == Some(org_id))
            .cloned())
    }

    async fn delete_api_key(&self, org_id: &str, id: &str, event: EventDraft) -> StoreResult<bool> {
        let mut s = self.lock()?;
        if s.api_keys
            .get(id)
            .is_none_or(|k| k.org_id.as_deref() != Some(org_id))
        {
            return Ok(false);
        }
        s.api_keys.remove(id);
        s.record(vec![event]);
        Ok(true)
    }

    async fn has_instance_key(&self) -> StoreResult<bool> {
        Ok(self.lock()?.api_keys.values().any(|k| k.org_id.is_none()))
    }

    async fn delete_instance_key(
        &self,
        id: &str,
        event: EventDraft,
    ) -> StoreResult<InstanceKeyDeletion> {
        let mut s = self.lock()?;
        if s.api_keys.get(id).is_none_or(|k| k.org_id.is_some()) {
            return Ok(InstanceKeyDeletion::NotFound);
        }
        if !s
            .api_keys
            .values()
            .any(|k| k.org_id.is_none() && k.id != id)
        {
            return Ok(InstanceKeyDeletion::LastKey);
        }
        s.api_keys.remove(id);
        s.record(vec![event]);
        Ok(InstanceKeyDeletion::Deleted)
    }

    async fn queue_mail_once(&self, event: EventDraft) -> StoreResult<bool> {
        let mut s = self.lock()?;
        if let Some(key) = event.mail.as_ref().and_then(|m| m.dedupe_key.as_deref())
            && s.outbox
                .iter()
                .any(|m| m.org_id == event.org_id && m.draft.dedupe_key.as_deref() == Some(key))
        {
            return Ok(false);
        }
        s.record(vec![event]);
        Ok(true)
    }

    async fn append_event_mail_once(
        &self,
        mut event: EventDraft,
        dedupe_key: &str,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        let taken = s
            .outbox
            .iter()
            .any(|m| m.org_id == event.org_id && m.draft.dedupe_key.as_deref() == Some(dedupe_key));
        if taken {
            event.mail = None;
        }
        if let Some(mail) = event.mail.as_mut() {
            mail.dedupe_key = Some(dedupe_key.to_owned());
        }
        let queued = event.mail.is_some();
        s.record(vec![event]);
        Ok(queued)
    }

    async fn list_outbox(&self, org_id: &str, page: &Page) -> StoreResult<Vec<OutboxMail>> {
        let after = page.after_number().unwrap_or(u64::MAX);
        let s = self.lock()?;
        Ok(s.outbox
            .iter()
            .filter(|m| m.org_id.as_deref() == Some(org_id) && m.id > after)
            .take(page.limit.min(MAX_PAGE) as usize)
            .cloned()
            .collect())
    }

    async fn claim_mail(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMail>> {
        let mut s = self.lock()?;
        let mut due: Vec<&mut OutboxMail> = s
            .outbox
            .iter_mut()
            .filter(|m| m.sent_at.is_none() && m.given_up_at.is_none() && m.next_attempt_at <= now)
            .collect();
        due.sort_by_key(|m| (m.next_attempt_at, m.id));
        let mut claimed: Vec<OutboxMail> = due
            .into_iter()
            .take(limit.min(MAX_PAGE) as usize)
            .map(|m| {
                m.attempts += 1;
                m.next_attempt_at = until;
                m.clone()
            })
            .collect();
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    async fn finish_mail(&self, id: u64, attempt: u32, outcome: &MailOutcome) -> StoreResult<()> {
        let mut s = self.lock()?;
        let Some(mail) = s
            .outbox
            .iter_mut()
            .find(|m| m.id == id && m.sent_at.is_none())
        else {
            return Ok(());
        };
        let current = mail.attempts == attempt && mail.given_up_at.is_none();
        match outcome {
            MailOutcome::Sent(at) => {
                mail.sent_at = Some(*at);
                mail.last_error = None;
            }
            MailOutcome::Failed { retry_at, error } if current => {
                mail.next_attempt_at = *retry_at;
                mail.last_error = Some(error.clone());
            }
            MailOutcome::GaveUp { at, error } if current => {
                mail.given_up_at = Some(*at);
                mail.last_error = Some(error.clone());
            }
            MailOutcome::Failed { .. } | MailOutcome::GaveUp { .. } => {}
        }
        Ok(())
    }

    async fn append_events(&self, events: Vec<EventDraft>) -> StoreResult<()> {
        self.lock()?.record(events);
        Ok(())
    }

    async fn list_events(
        &self,
        org_id: Option<&str>,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        let s = self.lock()?;
        Ok(s.events
            .iter()
            .filter(|e| e.sequence > after && e.org_id.as_deref() == org_id)
            .take(limit.min(MAX_PAGE) as usize)
            .cloned()
            .collect())
    }
}
