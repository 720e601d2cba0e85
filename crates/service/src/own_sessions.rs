//! A user's own sessions: the list (when each started, was last used and ends), ending one, and
//! ending every other one.
//!
//! Invariants: a caller reaches only the sessions of its own user, and only through one of that
//! user's unrestricted sessions (a key has no "current session" to keep; a session limited to a
//! password change or an enrollment may do only that); a session of another user, or one
//! already gone, is `NotFound`; the token of a session is never shown (only its id); a session
//! the current policy has already ended is not listed; each ended session writes a
//! `session.revoked` event.

use portcullis_engine::session::{check_session, deadlines};
use portcullis_model::{OrgId, Timestamp};
use portcullis_store::SessionStage;
use serde::Serialize;

use crate::caller::{Action, Caller};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{DomainEvent, SessionRef};
use crate::service::{Context, Service};

/// One session of the calling user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OwnSession {
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
    /// Whether it is the session of this request.
    pub current: bool,
    /// It may only change the password, or only enroll a second factor.
    pub restricted: bool,
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

    /// The user's live sessions (second-factor challenges are not sessions), oldest first.
    async fn live_sessions(&self, org: &OrgId, user: &str) -> ServiceResult<Vec<OwnSession>> {
        let policy = self.effective_policy(org).await?;
        let now = self.now();
        let mut live = Vec::new();
        for session in self.store.list_user_sessions(org, user).await? {
            if session.stage == SessionStage::MfaChallenge {
                continue;
            }
            let rules = &policy.session.value;
            if check_session(rules, session.created_at, session.last_used_at, now).is_err() {
                continue;
            }
            // The deadlines as they stand, not as this listing would move them.
            let ends = deadlines(rules, session.created_at, session.last_used_at);
            let view = OwnSession {
                id: session.id.clone(),
                created_at: session.created_at,
                last_used_at: session.last_used_at,
                expires_at: ends.expires_at,
                idle_expires_at: ends.idle_expires_at,
                current: false,
                restricted: session.password_change_only
                    || session.stage == SessionStage::MfaEnrollOnly,
            };
            live.push(view);
        }
        live.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(live)
    }

    /// The calling user's live sessions, oldest first, the caller's own marked `current`.
    pub async fn list_own_sessions(&self, caller: &Caller) -> ServiceResult<Vec<OwnSession>> {
        let (org, user, current) = Self::own_session_of(caller)?;
        Ok(self
            .live_sessions(org, user)
            .await?
            .into_iter()
            .map(|mut view| {
                view.current = view.id == current;
                view
            })
            .collect())
    }

    /// Ends one of the calling user's sessions (the current one too: that is a logout).
    pub async fn end_own_session(
        &self,
        caller: &Caller,
        ctx: &Context,
        session_id: &str,
    ) -> ServiceResult<()> {
        let (org, user, _) = Self::own_session_of(caller)?;
        let owned = self
            .store
            .list_user_sessions(org, user)
            .await?
            .into_iter()
            .any(|s| s.id == session_id);
        if !owned {
            return Err(ServiceError::NotFound);
        }
        let event = DomainEvent::SessionRevoked(SessionRef {
            session_id: session_id.to_owned(),
        })
        .draft(ctx, Some(org), self.now());
        if self.store.delete_session(session_id, event).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// Ends every session of the calling user but the caller's own; answers how many ended.
    pub async fn end_other_sessions(&self, caller: &Caller, ctx: &Context) -> ServiceResult<u64> {
        let (org, user, current) = Self::own_session_of(caller)?;
        let mut ended = 0;
        for session in self.store.list_user_sessions(org, user).await? {
            if session.id == current {
                continue;
            }
            let event = DomainEvent::SessionRevoked(SessionRef {
                session_id: session.id.clone(),
            })
            .draft(ctx, Some(org), self.now());
            if self.store.delete_session(&session.id, event).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }
}
