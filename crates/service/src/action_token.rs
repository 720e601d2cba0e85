//! One-time action tokens mailed to users: self-unblock, password reset, email verification.
//!
//! A token is its claims (purpose, organization, subject, binding, expiry) signed with the
//! instance master key (keyed SHA-256 digest). Nothing about a token is stored: the outbox keeps
//! the claims, which are not secret, and the sender signs them when it delivers the mail.
//!
//! Invariants:
//! - a token is accepted only with a valid signature (compared in constant time), for its own
//!   purpose, before its expiry;
//! - a token works once because its binding names the state its use changes: an unblock token
//!   names the lock (when it was placed, to the nanosecond: two locks of one key are never placed
//!   at the same instant, since one must be lifted before the next is placed), a reset token the password hash it replaces (as a keyed
//!   digest), a verification token the address it proves while verification is pending. Once
//!   used, that state is gone, and the store applies each use conditionally on it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_model::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::master_key::MasterKey;
use crate::secrets::secrets_equal;

/// The digest context of token signatures.
const SIGNATURE_CONTEXT: &str = "action-token-v1";
/// The digest context of a reset token's binding.
const RESET_BINDING_CONTEXT: &str = "reset-binding-v1";

/// What a token allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Purpose {
    /// Lift the lock of one lockout key.
    Unblock,
    /// Set a new password.
    PasswordReset,
    /// Prove an email address.
    VerifyEmail,
}

/// What a token says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// What it allows.
    pub(crate) purpose: Purpose,
    /// The organization.
    pub(crate) org: String,
    /// The lockout key (unblock) or the user id (reset, verification).
    pub(crate) subject: String,
    /// The state the use changes (see the module invariants).
    pub(crate) binding: String,
    /// Unix seconds after which the token is refused.
    pub(crate) expires: i64,
}

impl Claims {
    /// The claims as JSON, to keep in the outbox.
    pub(crate) fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The token of `claims`.
pub(crate) fn sign(key: &MasterKey, claims: &Claims) -> String {
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signature = key.digest(SIGNATURE_CONTEXT, &body);
    format!("{body}.{signature}")
}

/// The token of claims kept in the outbox; `None` when they are not claims.
pub(crate) fn sign_value(key: &MasterKey, claims: &Value) -> Option<String> {
    let claims: Claims = serde_json::from_value(claims.clone()).ok()?;
    Some(sign(key, &claims))
}

/// The claims of a valid `token` of `purpose` at `now`; `None` for anything else.
pub(crate) fn verify(
    key: &MasterKey,
    token: &str,
    purpose: Purpose,
    now: Timestamp,
) -> Option<Claims> {
    let (body, signature) = token.trim().split_once('.')?;
    if !secrets_equal(&key.digest(SIGNATURE_CONTEXT, body), signature) {
        return None;
    }
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
    (claims.purpose == purpose && now.unix_timestamp() < claims.expires).then_some(claims)
}

/// The binding of a reset token: a keyed digest of the password hash it replaces (`""` for
/// none), so the token tells nothing about the hash.
pub(crate) fn reset_binding(key: &MasterKey, current_hash: Option<&str>) -> String {
    key.digest(RESET_BINDING_CONTEXT, current_hash.unwrap_or(""))
}

/// The binding of an unblock token: when the lock was placed (unix nanoseconds).
pub(crate) fn lock_binding(since: Timestamp) -> String {
    since.unix_timestamp_nanos().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(purpose: Purpose, expires: i64) -> Claims {
        Claims {
            purpose,
            org: "acme".into(),
            subject: "usr_1".into(),
            binding: "b".into(),
            expires,
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_timestamp(seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn a_token_is_accepted_for_its_purpose_until_it_expires() {
        let key = MasterKey::generate();
        let token = sign(&key, &claims(Purpose::PasswordReset, 100));
        assert_eq!(
            verify(&key, &token, Purpose::PasswordReset, at(99)),
            Some(claims(Purpose::PasswordReset, 100))
        );
        assert_eq!(verify(&key, &token, Purpose::PasswordReset, at(100)), None);
        assert_eq!(verify(&key, &token, Purpose::Unblock, at(0)), None);
        assert_eq!(
            sign_value(&key, &claims(Purpose::PasswordReset, 100).to_value()),
            Some(token)
        );
    }

    #[test]
    fn a_changed_or_foreign_token_is_refused() {
        let key = MasterKey::generate();
        let token = sign(&key, &claims(Purpose::Unblock, 100));
        let other_key = MasterKey::generate();
        assert_eq!(verify(&other_key, &token, Purpose::Unblock, at(0)), None);
        let (body, signature) = token.split_once('.').unwrap_or_default();
        let forged_body = URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&claims(Purpose::Unblock, 10_000)).unwrap_or_default());
        for bad in [
            format!("{forged_body}.{signature}"),
            format!("{body}.{}", "0".repeat(64)),
            body.to_owned(),
            String::new(),
            "x.y".to_owned(),
        ] {
            assert_eq!(verify(&key, &bad, Purpose::Unblock, at(0)), None, "{bad}");
        }
    }

    #[test]
    fn reset_bindings_differ_per_hash_and_hide_it() {
        let key = MasterKey::generate();
        let a = reset_binding(&key, Some("$argon2id$a"));
        assert_ne!(a, reset_binding(&key, Some("$argon2id$b")));
        assert_ne!(a, reset_binding(&key, None));
        assert!(!a.contains("argon2"));
    }
}
