//! Account lockout on top of the [`counter`](crate::counter): which counter an attempt uses
//! (its [`LockoutKey`]) and how it counts ([`lockout_limits`]), per docs/design.md §2.3 and
//! §3.1–3.3.
//!
//! Invariants: keys exist for login names that match no user (a lock never tells whether a user
//! exists); login names are compared in their normalized form ([`normalize_login`]); password
//! and OTP failures are counted on separate keys with their own maximum; under `login_and_ip`
//! the address part is the client's source network (the brute-force prefix), so rotating
//! addresses inside one prefix gains nothing; a storage key is unambiguous: the login part
//! escapes `%` and `|`, so no login name can produce another login's key or fall inside
//! another login's key range ([`LockoutKey::login_prefix`]); a disabled policy (or
//! `max_otp_attempts = 0` for OTP) has no limits, so nothing is counted.

use ipnet::IpNet;
use portcullis_model::{LockoutPolicy, LockoutScope};
use serde::{Deserialize, Serialize};

use crate::counter::CounterLimits;
use crate::ip_block::source_label;

/// Which secret a counter counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// Password checks (`max_password_attempts`).
    Password,
    /// One-time-password checks (`max_otp_attempts`).
    Otp,
}

/// The identity of one lockout counter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LockoutKey {
    /// Organization id.
    pub org_id: String,
    /// Normalized login name ([`normalize_login`]).
    pub login: String,
    /// The client's source network, with scope `login_and_ip` only.
    pub source: Option<IpNet>,
    /// Password or OTP counter.
    pub kind: SecretKind,
}

impl LockoutKey {
    /// The key an attempt on `login` from the source network `source` (see
    /// [`IpBlocking::source`](crate::ip_block::IpBlocking::source)) counts against under `scope`.
    pub fn new(
        scope: LockoutScope,
        kind: SecretKind,
        org_id: &str,
        login: &str,
        source: IpNet,
    ) -> LockoutKey {
        LockoutKey {
            org_id: org_id.to_owned(),
            login: normalize_login(login),
            source: (scope == LockoutScope::LoginAndIp).then_some(source),
            kind,
        }
    }

    /// A stable text form for storage (`password|alice|`, `otp|alice|10.0.0.1`,
    /// `password|bob|2001:db8:1:2::/64`), without the organization, which the store keeps in
    /// its own column.
    pub fn storage_key(&self) -> String {
        let source = self.source.map(source_label).unwrap_or_default();
        format!(
            "{}{source}",
            LockoutKey::login_prefix(self.kind, &self.login)
        )
    }

    /// The start every storage key of (`kind`, normalized `login`) shares, whatever the scope
    /// and address: `password|alice|`. No other login's key starts with it, because the login
    /// part escapes `%` and `|`.
    pub fn login_prefix(kind: SecretKind, login: &str) -> String {
        format!("{}|{}|", kind_name(kind), escape_key_part(login))
    }
}

/// The name of a kind in storage keys.
fn kind_name(kind: SecretKind) -> &'static str {
    match kind {
        SecretKind::Password => "password",
        SecretKind::Otp => "otp",
    }
}

impl LockoutKey {
    /// The start of the storage keys of `kind` whose normalized login name starts with
    /// `login_start` (already normalized): `password|ali` finds `alice` and `alison`. An empty
    /// start finds every key of the kind.
    pub fn search_prefix(kind: SecretKind, login_start: &str) -> String {
        format!("{}|{}", kind_name(kind), escape_key_part(login_start))
    }

    /// Reads a storage key back (kind, normalized login, source label under `login_and_ip`);
    /// `None` for a key that is not a lockout key.
    pub fn parse_storage_key(key: &str) -> Option<(SecretKind, String, Option<String>)> {
        let (kind, rest) = key.split_once('|')?;
        let kind = match kind {
            "password" => SecretKind::Password,
            "otp" => SecretKind::Otp,
            _ => return None,
        };
        let (login, source) = rest.rsplit_once('|')?;
        let login = login.replace("%7C", "|").replace("%25", "%");
        Some((kind, login, (!source.is_empty()).then(|| source.to_owned())))
    }
}

/// Escapes the separator (`|`) and the escape character (`%`) of a storage key part.
fn escape_key_part(part: &str) -> std::borrow::Cow<'_, str> {
    if part.contains(['%', '|']) {
        part.replace('%', "%25").replace('|', "%7C").into()
    } else {
        part.into()
    }
}

/// Login names are unique per organization in their comparison form: case, width,
/// composition and surrounding white space do not matter (see [`portcullis_model::names`]).
pub fn normalize_login(login: &str) -> String {
    portcullis_model::names::normalize_login(login)
}

/// The counting rules of `kind` under `policy`; `None` when nothing is counted.
pub fn lockout_limits(policy: &LockoutPolicy, kind: SecretKind) -> Option<CounterLimits> {
    if !policy.enabled {
        return None;
    }
    let max = match kind {
        SecretKind::Password => policy.max_password_attempts,
        SecretKind::Otp => policy.max_otp_attempts,
    };
    (max > 0).then(|| CounterLimits {
        max_failures: u32::try_from(max).unwrap_or(u32::MAX),
        window: policy.window,
        lock_for: policy.lock_duration,
        reset_after_success: policy.reset_after_success,
        escalation: policy.escalation,
    })
}
