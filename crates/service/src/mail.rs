//! The mails the service queues, and what decides them: the texts, their recipients, and the
//! claims of the one-time link a mail carries.
//!
//! Invariants: a mail draft holds no secret — a one-time link is kept as its claims and the
//! `{token}` placeholder, which the sender replaces when it delivers; no text a user chose (login
//! name, display name, address) appears in a subject or body, so a registration cannot make the
//! service mail words of the registrant's choosing to any address (greetings are neutral); a mail
//! goes only to an address on record (the user's, or the organization's administrators' resolved
//! when sending).

use portcullis_engine::counter::Lock;
use portcullis_model::Timestamp;
use portcullis_store::{MailDraft, ORG_ADMINS, User};

use crate::action_token::{Claims, Purpose, lock_binding, reset_binding};
use crate::service::Service;
use portcullis_engine::time_math::plus;
use portcullis_model::rfc3339;

/// The placeholder the sender replaces with the signed token.
pub(crate) const TOKEN_PLACEHOLDER: &str = "{token}";
/// The counters a mailed link may unblock: password lockout keys only.
pub(crate) const UNBLOCKABLE: &str = "password|";
/// How long a mailed unblock link works at most (a shorter lock ends it sooner).
pub(crate) const UNBLOCK_SECONDS: u64 = 24 * 3600;
/// How long a mailed password-reset token works.
pub(crate) const RESET_SECONDS: u64 = 3600;
/// How long a mailed verification token works.
pub(crate) const VERIFY_SECONDS: u64 = 7 * 24 * 3600;

/// Who hears of a lock placed by a counter transition.
#[derive(Clone, Debug)]
pub(crate) enum LockNotice {
    /// The locked user, at its address; with a self-unblock link for `key` when allowed.
    User {
        /// The user's address.
        email: String,
        /// Its organization.
        org_id: String,
        /// The lockout key that locked.
        key: String,
        /// Whether the mail carries a one-time unblock link.
        self_unblock: bool,
    },
    /// The organization's administrators, of a blocked address.
    Admins {
        /// The blocked client address.
        ip: String,
    },
}

impl LockNotice {
    /// The notice of a lock on `key` for `user`, when its address is known and the policy
    /// wants the user told (`notify_user`) or offered a self-unblock (`allow_self_unblock`,
    /// with a master key to sign the link). Only a password lock offers the link: a
    /// one-time-code lock lifted by mail would make the second factor no stronger than the
    /// mailbox.
    pub(crate) fn for_user(
        user: &User,
        key: &str,
        lockout: &portcullis_model::LockoutPolicy,
        can_sign: bool,
    ) -> Option<LockNotice> {
        let email = user.email.clone()?;
        let self_unblock = lockout.allow_self_unblock && can_sign && key.starts_with(UNBLOCKABLE);
        (lockout.notify_user || self_unblock).then(|| LockNotice::User {
            email,
            org_id: user.org_id.to_string(),
            key: key.to_owned(),
            self_unblock,
        })
    }

    /// The notice of a blocked address, when the policy wants administrators told.
    pub(crate) fn for_admins(
        ip: std::net::IpAddr,
        brute_force: &portcullis_model::BruteForcePolicy,
    ) -> Option<LockNotice> {
        brute_force
            .notify_admin
            .then(|| LockNotice::Admins { ip: ip.to_string() })
    }
}

impl Service {
    /// How a mail offers a one-time token: a link on the public URL when one is configured, and
    /// the token itself for API use.
    fn token_text(&self, path: &str, api: &str) -> String {
        let link = self
            .public_url
            .as_deref()
            .map(|base| {
                format!(
                    "Open this link (it works once):\n{}{path}?token={TOKEN_PLACEHOLDER}\n\n",
                    base.trim_end_matches('/')
                )
            })
            .unwrap_or_default();
        format!("{link}Or send this token to {api}:\n{TOKEN_PLACEHOLDER}\n")
    }

    /// The mail of a lock placed on a counter, if anyone should hear of it.
    pub(crate) fn lock_mail(
        &self,
        notice: &LockNotice,
        lock: &Lock,
        now: Timestamp,
    ) -> Option<MailDraft> {
        let until = lock.until.map_or_else(
            || "until it is unlocked".to_owned(),
            |u| format!("until {}", rfc3339(u)),
        );
        match notice {
            LockNotice::User {
                email,
                org_id,
                key,
                self_unblock,
            } => {
                let mut body = format!(
                    "Hello,\n\nyour account was locked after too many failed sign-in attempts, {until}.\n"
                );
                let claims = self_unblock.then(|| {
                    let mut ends = plus(now, UNBLOCK_SECONDS);
                    if let Some(u) = lock.until {
                        ends = ends.min(u);
                    }
                    body.push_str("\nIf this was you, you can unblock it yourself. ");
                    body.push_str(&self.token_text("/unblock", "POST /v1/unblock"));
                    Claims {
                        purpose: Purpose::Unblock,
                        org: org_id.clone(),
                        subject: key.clone(),
                        binding: lock_binding(lock.since),
                        expires: ends.unix_timestamp(),
                    }
                    .to_value()
                });
                body.push_str("\nIf this was not you, someone may be guessing your password.\n");
                Some(MailDraft {
                    kind: "account_locked".into(),
                    recipient: email.clone(),
                    subject: "Your account was locked".into(),
                    body,
                    token_claims: claims,
                    dedupe_key: None,
                })
            }
            LockNotice::Admins { ip } => Some(MailDraft {
                kind: "ip_blocked".into(),
                recipient: ORG_ADMINS.into(),
                subject: format!("Address {ip} was blocked"),
                body: format!(
                    "The address {ip} was blocked after too many failed sign-in attempts, {until}.\n"
                ),
                token_claims: None,
                dedupe_key: None,
            }),
        }
    }

    /// The notice of a password change, to the user's address.
    pub(crate) fn password_changed_mail(&self, user: &User) -> Option<MailDraft> {
        let email = user.email.clone()?;
        Some(MailDraft {
            kind: "password_changed".into(),
            recipient: email,
            subject: "Your password was changed".into(),
            body: "Hello,\n\nthe password of your account was changed. If this was not you, \
                 contact your administrator at once.\n"
                .into(),
            token_claims: None,
            dedupe_key: None,
        })
    }

    /// The password-reset mail with its one-time token; `None` without an address or master key.
    pub(crate) fn password_reset_mail(&self, user: &User, now: Timestamp) -> Option<MailDraft> {
        let email = user.email.clone()?;
        let key = self.master_key.as_ref()?;
        let claims = Claims {
            purpose: Purpose::PasswordReset,
            org: user.org_id.to_string(),
            subject: user.id.clone(),
            binding: reset_binding(key, user.password_hash.as_deref()),
            expires: plus(now, RESET_SECONDS).unix_timestamp(),
        };
        Some(MailDraft {
            kind: "password_reset".into(),
            recipient: email,
            subject: "Reset your password".into(),
            body: format!(
                "Hello,\n\nsomeone asked to reset the password of your account. The token \
                 below sets a new one once, within {} minutes. ",
                RESET_SECONDS / 60
            ) + &self.token_text("/reset-password", "POST /v1/password-reset/confirm")
                + "\nIf you did not ask, ignore this mail: your password stays as it is.\n",
            token_claims: Some(claims.to_value()),
            dedupe_key: None,
        })
    }

    /// The address-verification mail of a registration; `None` without an address or master key.
    pub(crate) fn verification_mail(&self, user: &User, now: Timestamp) -> Option<MailDraft> {
        let email = user.email.clone()?;
        self.master_key.as_ref()?;
        let claims = Claims {
            purpose: Purpose::VerifyEmail,
            org: user.org_id.to_string(),
            subject: user.id.clone(),
            binding: email.clone(),
            expires: plus(now, VERIFY_SECONDS).unix_timestamp(),
        };
        Some(MailDraft {
            kind: "verify_email".into(),
            recipient: email,
            subject: "Verify your email address".into(),
            body: "Hello,\n\nplease confirm this address to finish your registration. ".to_owned()
                + &self.token_text("/verify-email", "POST /v1/verify-email"),
            token_claims: Some(claims.to_value()),
            dedupe_key: None,
        })
    }

    /// The reminder of a password that expires at `expires_at`, queued once per password.
    pub(crate) fn password_expiring_mail(
        &self,
        user: &User,
        changed_at: Timestamp,
        expires_at: Timestamp,
    ) -> Option<MailDraft> {
        let email = user.email.clone()?;
        Some(MailDraft {
            kind: "password_expiring".into(),
            recipient: email,
            subject: "Your password expires soon".into(),
            body: format!(
                "Hello,\n\nyour password expires at {}. Change it before then to keep \
                 signing in without interruption.\n",
                rfc3339(expires_at)
            ),
            token_claims: None,
            dedupe_key: Some(format!(
                "password_expiring:{}:{}",
                user.id,
                changed_at.unix_timestamp_nanos()
            )),
        })
    }
}
