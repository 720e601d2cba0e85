//! Session inventory and revocation: a user's own sessions (list, end one, end every other)
//! and an administrator's view of them (a user's sessions, end one or all of a user's, sign
//! the whole organization out).
//!
//! Invariants: a session's token is never shown (only its id, times, client address and user
//! agent); a session the current policy has already ended is not listed; a user reaches only
//! its own sessions, and only through one of its unrestricted sessions (a key has no "current
//! session" to keep; a session limited to a password change or an enrollment may do only
//! that); an administrator reaches only the sessions of its organization's users; a session of
//! another user or organization, or one already gone, is `NotFound`; the caller's own session
//! is never ended by "all but" operations (a user's "end all others", an administrator's
//! "end all of a user" or "sign the organization out"); each operation is one store
//! transaction with one event (`session.revoked` for one session, `user.sessions_ended` or
//! `org.sessions_ended` with the count for many).

use portcullis_engine::session::{check_session, deadlines};
use portcullis_model::{OrgId, Timestamp};
use portcullis_store::{Page, Session, SessionStage};
use serde::Serialize;

use crate::caller::{Action, Caller};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{DomainEvent, OrgSessionsEnded, SessionRef, SessionsEnded};
use crate::service::{Context, Service};

/// One session as its user or an administrator sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionView {
    /// The session's id (not its token).
    pub id: String,
    /// When it was opened.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    /// Its last authenticated use.
    #[serde(with = "time::serde::rfc3339")]
    pub last_used_at: Timestamp,
    /// Its absolute end under the current policy.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: Timestamp,
    /// Its end if unused, under the current policy.
    #[serde(with = "time::serde::rfc3339::option")]
    pub idle_expires_at: Option<Timestamp>,
    /// The client's address at the login (none for sessions older than this record).
    pub client_ip: Option<String>,
    /// The client's user agent at the login, as the client told it.
    pub user_agent: Option<String>,
    /// Whether it is the session of this request.
    pub current: bool,
    /// It may only change the password, or only enroll a second factor.
    pub restricted: bool,
}

/// One page of a user's live sessions, ordered by id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionPage {
    /// The live sessions of this page (second-factor challenges and sessions the policy has
    /// ended are left out, so a page may hold fewer than asked).
    pub items: Vec<SessionView>,
    /// The cursor of the next page, when the store had more.
    pub next_after: Option<String>,
}

impl Service {
    /// The caller's user and session, for the operations on one's own sessions.
    fn own_session_of(caller: &Caller) -> ServiceResult<(&OrgId, &str, &str)> {
        match (&caller.org_id, &caller.user_id, &caller.session_id) {
            (Some(org), Some(user), Some(session)) => {
                // A session limited to a password change or an enrollment may do only that.
                caller.allow(org.as_str(), Action::SelfService)?;
                Ok((org, user, session))
            }
            _ => Err(ServiceError::Forbidden(
                "only a user's session can manage its sessions",
            )),
        }
    }

    /// One page of the user's live sessions, `current` marked.
    async fn session_page(
        &self,
        org: &OrgId,
        user: &str,
        page: &Page,
        current: Option<&str>,
    ) -> ServiceResult<SessionPage> {
        let policy = self.effective_policy(org).await?;
        let rules = &policy.session.value;
        let now = self.now();
        let stored = self.store.list_user_sessions(org, user, page).await?;
        let next_after = (stored.len() >= page.limit as usize && page.limit > 0)
            .then(|| stored.last().map(|s| s.id.clone()))
            .flatten();
        let items = stored
            .into_iter()
            .filter(|s| s.stage != SessionStage::MfaChallenge)
            .filter(|s| check_session(rules, s.created_at, s.last_used_at, now).is_ok())
            .map(|s: Session| {
                // The deadlines as they stand, not as this listing would move them.
                let ends = deadlines(rules, s.created_at, s.last_used_at);
                SessionView {
                    current: current == Some(s.id.as_str()),
                    restricted: s.password_change_only || s.stage == SessionStage::MfaEnrollOnly,
                    id: s.id,
                    created_at: s.created_at,
                    last_used_at: s.last_used_at,
                    expires_at: ends.expires_at,
                    idle_expires_at: ends.idle_expires_at,
                    client_ip: s.client_ip,
                    user_agent: s.user_agent,
                }
            })
            .collect();
        Ok(SessionPage { items, next_after })
    }

    /// One page of the calling user's live sessions, the caller's own marked `current`.
    pub async fn list_own_sessions(
        &self,
        caller: &Caller,
        page: &Page,
    ) -> ServiceResult<SessionPage> {
        let (org, user, current) = Self::own_session_of(caller)?;
        self.session_page(org, user, page, Some(current)).await
    }

    /// Ends one of the calling user's sessions (the current one too: that is a logout).
    pub async fn end_own_session(
        &self,
        caller: &Caller,
        ctx: &Context,
        session_id: &str,
    ) -> ServiceResult<()> {
        let (org, user, _) = Self::own_session_of(caller)?;
        self.revoke_session(ctx, org, user, session_id).await
    }

    /// Ends every session of the calling user but the caller's own; answers how many ended.
    pub async fn end_other_sessions(&self, caller: &Caller, ctx: &Context) -> ServiceResult<u64> {
        let (org, user, current) = Self::own_session_of(caller)?;
        self.end_sessions_of(ctx, org, user, Some(current), "self")
            .await
    }

    /// One page of a user's live sessions, for an administrator or auditor of its
    /// organization. `NotFound` when the user is not one of the organization's.
    pub async fn list_user_sessions(
        &self,
        caller: &Caller,
        org_id: &str,
        user_id: &str,
        page: &Page,
    ) -> ServiceResult<SessionPage> {
        let org = caller.allow(org_id, Action::Read)?.org_id;
        self.user_in(&org, user_id).await?;
        self.session_page(&org, user_id, page, caller.session_id.as_deref())
            .await
    }

    /// Ends one session of a user of the organization.
    pub async fn end_user_session(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        user_id: &str,
        session_id: &str,
    ) -> ServiceResult<()> {
        let org = caller.allow(org_id, Action::Manage)?.org_id;
        self.revoke_session(ctx, &org, user_id, session_id).await
    }

    /// Ends every session of a user of the organization (the caller's own excepted); answers
    /// how many ended. `NotFound` when the user is not one of the organization's.
    pub async fn end_user_sessions(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        user_id: &str,
    ) -> ServiceResult<u64> {
        let org = caller.allow(org_id, Action::Manage)?.org_id;
        self.user_in(&org, user_id).await?;
        self.end_sessions_of(ctx, &org, user_id, caller.session_id.as_deref(), "admin")
            .await
    }

    /// Signs the whole organization out: ends every session of every user (the caller's own
    /// excepted), with one `org.sessions_ended` event carrying the count; answers the count.
    pub async fn end_org_sessions(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
    ) -> ServiceResult<u64> {
        let org = caller.allow(org_id, Action::Manage)?.org_id;
        self.require_known_org(&org).await?;
        let kept = caller.session_id.clone();
        let event = DomainEvent::OrgSessionsEnded(OrgSessionsEnded {
            kept_session_id: kept.clone(),
        })
        .draft(ctx, Some(&org), self.now());
        Ok(self
            .store
            .end_org_sessions(&org, kept.as_deref(), event)
            .await?)
    }

    /// Deletes one session of `user`, with `session.revoked`.
    async fn revoke_session(
        &self,
        ctx: &Context,
        org: &OrgId,
        user: &str,
        session_id: &str,
    ) -> ServiceResult<()> {
        let event = DomainEvent::SessionRevoked(SessionRef {
            session_id: session_id.to_owned(),
        })
        .draft(ctx, Some(org), self.now());
        if self
            .store
            .delete_user_session(org, user, session_id, event)
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// Deletes every session of `user` but `except`, with one `user.sessions_ended`.
    async fn end_sessions_of(
        &self,
        ctx: &Context,
        org: &OrgId,
        user: &str,
        except: Option<&str>,
        reason: &'static str,
    ) -> ServiceResult<u64> {
        let event = DomainEvent::SessionsEnded(SessionsEnded {
            user_id: user.to_owned(),
            reason,
        })
        .draft(ctx, Some(org), self.now());
        Ok(self
            .store
            .end_user_sessions(org, user, except, event)
            .await?)
    }
}
