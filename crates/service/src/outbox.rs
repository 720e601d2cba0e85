//! The mail outbox: what administrators see of it, and its delivery through a [`MailTransport`].
//!
//! Invariants:
//! - a mail is delivered at least once and, short of a sender dying between the SMTP server's
//!   acceptance and the store's record of it, exactly once: it is claimed with a lease before it
//!   is tried (other replicas skip it), recorded as sent after the server accepted it, and tried
//!   again after the lease when its sender died;
//! - nothing is ever dropped: a failed attempt is retried with exponential backoff (30 s doubling
//!   up to one hour), however long the SMTP server stays away;
//! - the signed token of a one-time link exists only in the message handed to the transport; the
//!   outbox and its listing keep the `{token}` placeholder.

use async_trait::async_trait;
use portcullis_model::{OrgId, Timestamp};
use portcullis_store::{MailOutcome, ORG_ADMINS, OutboxMail, Page, Role};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::action_token::sign_value;
use crate::caller::{Action, Caller};
use crate::error::{ServiceError, ServiceResult};
use crate::mail::TOKEN_PLACEHOLDER;
use crate::service::Service;
use portcullis_engine::time_math::plus;

/// How long a claimed mail is left to its sender before another may try it.
pub const SEND_LEASE_SECONDS: u64 = 300;
/// The delay before the first retry; it doubles with every failed attempt.
pub const RETRY_BASE_SECONDS: u64 = 30;
/// The longest delay between two attempts.
pub const RETRY_MAX_SECONDS: u64 = 3600;
/// Most administrators one mail goes to.
const MAX_ADMIN_RECIPIENTS: usize = 100;

/// A message ready for the transport.
pub struct OutgoingMail {
    /// The outbox id (for logs).
    pub id: u64,
    /// Recipients' addresses.
    pub to: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// Plain-text body, with the signed token in place: never log it.
    pub body: Zeroizing<String>,
}

/// Why a message was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendError {
    /// It never will be (a permanent refusal, an address that cannot be used): give it up.
    pub permanent: bool,
    /// What happened (no secret in it).
    pub message: String,
}

impl SendError {
    /// A failure worth retrying.
    pub fn temporary(message: impl Into<String>) -> SendError {
        SendError {
            permanent: false,
            message: message.into(),
        }
    }

    /// A failure that retrying cannot mend.
    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            permanent: true,
            message: message.into(),
        }
    }
}

/// Hands a message to a mail server.
#[async_trait]
pub trait MailTransport: Send + Sync {
    /// Sends `mail`.
    async fn send(&self, mail: &OutgoingMail) -> Result<(), SendError>;
}

/// What one delivery round did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Mails the server accepted.
    pub sent: u64,
    /// Mails that failed and wait for their retry.
    pub failed: u64,
    /// Mails given up: refused for good, or their one-time link expired before they could go.
    pub given_up: u64,
}

/// A mail as administrators see it.
#[derive(Clone, Debug, Serialize)]
pub struct OutboxView {
    /// Id (the paging cursor).
    pub id: u64,
    /// `account_locked`, `ip_blocked`, `password_expiring`, `password_changed`,
    /// `password_reset`, `verify_email`.
    pub kind: String,
    /// An address, or `org_admins`.
    pub recipient: String,
    /// Subject line.
    pub subject: String,
    /// The text, with `{token}` where a one-time token goes when sent.
    pub body: String,
    /// `queued`, `sent` or `given_up`.
    pub status: &'static str,
    /// Delivery attempts started.
    pub attempts: u32,
    /// The event that queued it.
    pub event_sequence: u64,
    /// When it was queued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    /// Not tried again before.
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: Timestamp,
    /// When the server accepted it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<Timestamp>,
    /// When it was given up.
    #[serde(with = "time::serde::rfc3339::option")]
    pub given_up_at: Option<Timestamp>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl From<OutboxMail> for OutboxView {
    fn from(m: OutboxMail) -> OutboxView {
        OutboxView {
            id: m.id,
            kind: m.draft.kind,
            recipient: m.draft.recipient,
            subject: m.draft.subject,
            body: m.draft.body,
            status: match (m.sent_at, m.given_up_at) {
                (Some(_), _) => "sent",
                (None, Some(_)) => "given_up",
                (None, None) => "queued",
            },
            attempts: m.attempts,
            event_sequence: m.event_sequence,
            created_at: m.created_at,
            next_attempt_at: m.next_attempt_at,
            sent_at: m.sent_at,
            given_up_at: m.given_up_at,
            last_error: m.last_error,
        }
    }
}

/// Seconds to wait after the `attempts`-th failed attempt.
pub fn retry_delay(attempts: u32) -> u64 {
    let doublings = attempts.saturating_sub(1).min(16);
    RETRY_BASE_SECONDS
        .saturating_mul(1 << doublings)
        .min(RETRY_MAX_SECONDS)
}

impl Service {
    /// The organization's mails, oldest first (administrators only: they carry addresses).
    pub async fn list_outbox(
        &self,
        caller: &Caller,
        org_id: &str,
        page: &Page,
    ) -> ServiceResult<Vec<OutboxView>> {
        let grant = caller.allow(org_id, Action::Manage)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        if page.after_number().is_none() {
            return Err(ServiceError::invalid(portcullis_model::Violation::new(
                "after",
                portcullis_model::codes::INVALID_JSON,
                "must be a mail id",
            )));
        }
        let mails = self.store.list_outbox(org_id, page).await?;
        Ok(mails.into_iter().map(OutboxView::from).collect())
    }

    /// Sends the mails due now, at most `batch`, one claim at a time (so the lease covers one
    /// SMTP exchange, never a whole batch), recording whether each was accepted; a refused or
    /// unreachable server means a later retry, a permanent refusal or an expired link means the
    /// mail is given up.
    pub async fn deliver_mail(
        &self,
        transport: &dyn MailTransport,
        batch: u32,
    ) -> ServiceResult<DeliveryReport> {
        let mut report = DeliveryReport::default();
        for _ in 0..batch {
            let now = self.now();
            let Some(mail) = self
                .store
                .claim_mail(now, plus(now, SEND_LEASE_SECONDS), 1)
                .await?
                .pop()
            else {
                break;
            };
            let result = match self.outgoing(&mail, now).await {
                Ok(outgoing) => transport.send(&outgoing).await,
                Err(e) => Err(e),
            };
            let done = self.now();
            let outcome = match result {
                Ok(()) => {
                    report.sent += 1;
                    tracing::info!(mail = mail.id, kind = %mail.draft.kind, "mail sent");
                    MailOutcome::Sent(done)
                }
                Err(SendError {
                    permanent: true,
                    message,
                }) => {
                    report.given_up += 1;
                    tracing::warn!(mail = mail.id, error = %message, "mail given up");
                    MailOutcome::GaveUp {
                        at: done,
                        error: message,
                    }
                }
                Err(SendError { message, .. }) => {
                    report.failed += 1;
                    let delay = retry_delay(mail.attempts);
                    tracing::warn!(mail = mail.id, attempts = mail.attempts, error = %message, "mail not sent; retry in {delay} s");
                    MailOutcome::Failed {
                        retry_at: plus(done, delay),
                        error: message,
                    }
                }
            };
            self.store
                .finish_mail(mail.id, mail.attempts, &outcome)
                .await?;
        }
        Ok(report)
    }

    /// The message of a queued mail: its recipients resolved, its token signed.
    async fn outgoing(&self, mail: &OutboxMail, now: Timestamp) -> Result<OutgoingMail, SendError> {
        let to = if mail.draft.recipient == ORG_ADMINS {
            let org_id = mail
                .org_id
                .as_ref()
                .ok_or_else(|| SendError::permanent("an instance mail has no administrators"))?;
            self.admin_addresses(org_id)
                .await
                .map_err(|e| SendError::temporary(e.to_string()))?
        } else {
            vec![mail.draft.recipient.clone()]
        };
        if to.is_empty() {
            return Err(SendError::temporary(
                "no administrator of the organization has an email address",
            ));
        }
        let mut body = Zeroizing::new(mail.draft.body.clone());
        if let Some(claims) = &mail.draft.token_claims {
            let expires = claims.get("expires").and_then(serde_json::Value::as_i64);
            if expires.is_none_or(|e| e <= now.unix_timestamp()) {
                return Err(SendError::permanent(
                    "its one-time link expired before it could be sent",
                ));
            }
            let key = self.master_key.as_ref().ok_or_else(|| {
                SendError::temporary(
                    "the mail carries a one-time link and no master key is configured",
                )
            })?;
            let token = Zeroizing::new(
                sign_value(key, claims)
                    .ok_or_else(|| SendError::permanent("its link's claims are not valid"))?,
            );
            body = Zeroizing::new(body.replace(TOKEN_PLACEHOLDER, &token));
        }
        Ok(OutgoingMail {
            id: mail.id,
            to,
            subject: mail.draft.subject.clone(),
            body,
        })
    }

    /// Addresses of the organization's enabled administrators.
    async fn admin_addresses(&self, org_id: &OrgId) -> ServiceResult<Vec<String>> {
        let mut found = Vec::new();
        let mut page = Page {
            after: None,
            limit: portcullis_store::MAX_PAGE,
        };
        loop {
            let users = self.store.list_users(org_id, &page).await?;
            let Some(last) = users.last() else { break };
            page.after = Some(last.id.clone());
            found.extend(
                users
                    .iter()
                    .filter(|u| u.roles.contains(&Role::OrgAdmin) && !u.disabled)
                    .filter_map(|u| u.email.clone()),
            );
            if found.len() >= MAX_ADMIN_RECIPIENTS
                || users.len() < portcullis_store::MAX_PAGE as usize
            {
                break;
            }
        }
        found.truncate(MAX_ADMIN_RECIPIENTS);
        Ok(found)
    }
}

impl Service {
    /// Reads the outbox's backlog into the metrics (`portcullis_outbox_backlog`, and the age of
    /// the oldest waiting mail), for a scrape.
    pub async fn refresh_outbox_metrics(&self) -> ServiceResult<()> {
        let (waiting, oldest) = self.store.outbox_backlog().await?;
        let age = oldest.map_or(0.0, |oldest| {
            (self.now() - oldest).as_seconds_f64().max(0.0)
        });
        self.metrics
            .outbox_backlog
            .set(i64::try_from(waiting).unwrap_or(i64::MAX));
        self.metrics.outbox_oldest_age_seconds.set(age);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        let delays: Vec<u64> = (1..=9).map(retry_delay).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(retry_delay(0), 30);
        assert_eq!(retry_delay(u32::MAX), 3600);
    }
}
