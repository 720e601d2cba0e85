//! The whole `TenantSettings` object as PlusAuth answers it: the settings with a canonical home
//! read from their sections, every other tenant setting as stored in `features.tenant_settings`
//! (or its default when never set).
//!
//! Invariants: a field with a canonical home always shows the canonical value, even when the
//! stored tenant settings name it too; "none" values PlusAuth cannot say read as its largest
//! value ([`BLOCK_DURATION_MAX`], [`BLOCKING_WINDOW_MAX`]), and that largest value written reads
//! back as none (`mapping.rs`), so the answer written back keeps its meaning.

use portcullis_model::{EffectivePolicy, HashAlgorithm};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::common;

/// Largest value PlusAuth shows for a lock "until unlocked" (it has no "none"); written, it
/// means "until unlocked".
pub(super) const BLOCK_DURATION_MAX: u64 = 630_720_000;
/// Largest value PlusAuth shows for failures counted "until reset" (it has no "none"); written,
/// it means "no window".
pub(super) const BLOCKING_WINDOW_MAX: u64 = 7_776_000;

/// Key of the MFA enforcement word in `features.tenant_settings` (`"never"` and `"optional"`
/// both mean `mfa.required: false`).
pub(super) const MFA_ENFORCEMENT: &str = "mfa_enforcement";

/// Tenant settings that have no canonical home, as a tenant that never set them sees them.
fn tenant_defaults() -> Map<String, Value> {
    common::object(json!({
        "branding": {"display_name": null},
        "default_strategy": null,
        "auto_sign_in": false,
        "expose_unsafe_errors": false,
        "welcome_emails_enabled": false,
        "environment_variables": {},
        "extra_params": [],
        "acr_values": [],
        "extra_scopes": [],
        "api_version": "2021-07-04",
        "tenant_login_url": null,
        "authenticator": {"bind_sim": false},
        "ciba": {"delivery_mode": "poll", "notifier_endpoint": ""},
    }))
}

/// The tenant settings with a canonical home.
#[derive(Serialize)]
struct CanonicalSettings<'a> {
    register_enabled: bool,
    forgot_password_enabled: bool,
    force_email_verification: bool,
    user_self_deletion: UserSelfDeletion,
    mfa_enforcement: &'static str,
    hash_function: &'static str,
    ttl: Ttl,
    policies: Policies<'a>,
}

#[derive(Serialize)]
struct UserSelfDeletion {
    enabled: bool,
}

/// Token lifetimes, seconds.
#[derive(Serialize)]
struct Ttl {
    access_token: u64,
    authorization_code: u64,
    backchannel_authentication_request: u64,
    client_credentials: u64,
    device_code: u64,
    id_token: u64,
    refresh_token: u64,
    session: u64,
}

#[derive(Serialize)]
struct Policies<'a> {
    password: PasswordRules<'a>,
    account_blocking: AccountBlocking,
    brute_force: BruteForce<'a>,
}

#[derive(Serialize)]
struct PasswordRules<'a> {
    min: u64,
    max: u64,
    history: u64,
    upper_case: u64,
    lower_case: u64,
    number: u64,
    /// `null` when none.
    custom_chars: Option<&'a str>,
}

#[derive(Serialize)]
struct AccountBlocking {
    enabled: bool,
    notification: bool,
    reset_after_success: bool,
    allow_user_unblock: bool,
    allowed_attempts: u64,
    block_duration: u64,
    duration: u64,
}

#[derive(Serialize)]
struct BruteForce<'a> {
    enabled: bool,
    allowed_attempts: u64,
    duration: u64,
    block_duration: u64,
    notification: bool,
    white_list: &'a [String],
}

/// The whole `TenantSettings` object.
pub(super) fn view(policy: &EffectivePolicy) -> Value {
    let features = &policy.features.value;
    let password = policy.password.value.default_policy();
    let lockout = &policy.lockout.value;
    let brute = &policy.brute_force.value;
    let tokens = &policy.tokens.value;
    let mut out = tenant_defaults();
    for (key, value) in &features.tenant_settings {
        if key != MFA_ENFORCEMENT {
            out.insert(key.clone(), value.clone());
        }
    }
    let mfa_enforcement = if policy.mfa.value.required {
        "enforced"
    } else if features.tenant_settings.get(MFA_ENFORCEMENT) == Some(&json!("never")) {
        "never"
    } else {
        "optional"
    };
    let canonical = CanonicalSettings {
        register_enabled: features.register_enabled,
        forgot_password_enabled: features.forgot_password_enabled,
        force_email_verification: features.force_email_verification,
        user_self_deletion: UserSelfDeletion {
            enabled: features.user_self_deletion,
        },
        mfa_enforcement,
        hash_function: match password.hash_algorithm {
            HashAlgorithm::Argon2id => "argon2",
            HashAlgorithm::Bcrypt => "bcrypt",
        },
        ttl: Ttl {
            access_token: tokens.access_token,
            authorization_code: tokens.authorization_code,
            backchannel_authentication_request: tokens.backchannel_authentication_request,
            client_credentials: tokens.client_credentials,
            device_code: tokens.device_code,
            id_token: tokens.id_token,
            refresh_token: tokens.refresh_token,
            session: policy.session.value.max_session_duration,
        },
        policies: Policies {
            password: PasswordRules {
                min: password.min_length,
                max: password.max_length,
                history: password.history,
                upper_case: password.min_uppercase,
                lower_case: password.min_lowercase,
                number: password.min_digits,
                custom_chars: Some(password.required_chars.as_str()).filter(|c| !c.is_empty()),
            },
            account_blocking: AccountBlocking {
                enabled: lockout.enabled,
                notification: lockout.notify_user,
                reset_after_success: lockout.reset_after_success,
                allow_user_unblock: lockout.allow_self_unblock,
                allowed_attempts: lockout.max_password_attempts,
                block_duration: lockout.lock_duration.unwrap_or(BLOCK_DURATION_MAX),
                duration: lockout.window.unwrap_or(BLOCKING_WINDOW_MAX),
            },
            brute_force: BruteForce {
                enabled: brute.enabled,
                allowed_attempts: brute.max_attempts,
                duration: brute.window,
                block_duration: brute.block_duration,
                notification: brute.notify_admin,
                white_list: &brute.allowlist,
            },
        },
    };
    out.extend(common::to_object(&canonical));
    Value::Object(out)
}
