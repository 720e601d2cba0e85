//! Typed patches from two values of a section: the patch names exactly the fields that differ,
//! each with its new value, so applying it to the old value gives the new one.
//!
//! Invariant: each generated function builds its patch with a struct literal naming every field
//! and no `..`, so a field added to a section (and, as `patch.rs` guarantees, to its patch) and
//! not listed here does not compile. The `features` maps are diffed as RFC 7396 merge patches
//! (a key removed is written `null`), because their patch merges rather than replaces.

use serde_json::{Map, Value};

use crate::{
    ApiKeysPatch, ApiKeysPolicy, BruteForcePatch, BruteForcePolicy, FeaturesPatch, FeaturesPolicy,
    LockoutPatch, LockoutPolicy, MfaPatch, MfaPolicy, PasswordPolicy, PasswordPolicyPatch,
    SessionPatch, SessionPolicy, TokensPatch, TokensPolicy,
};

macro_rules! diff {
    ($name:ident: $section:ty => $patch:ident { $($field:ident),* $(,)? }) => {
        pub(crate) fn $name(old: &$section, new: &$section) -> $patch {
            $patch {
                $( $field: (old.$field != new.$field).then(|| new.$field.clone()), )*
            }
        }
    };
}

diff!(password_policy: PasswordPolicy => PasswordPolicyPatch {
    id, name, description, is_default, sources, min_length, max_length, min_lowercase,
    min_uppercase, min_digits, min_special, min_letters, min_character_types, max_repeated_chars,
    required_chars, check_blocklist, custom_blocklist, check_breached, max_breaches,
    check_breached_at_login, check_account_attributes,
    account_attributes, attribute_min_word_length, history, min_age, expiration_enabled,
    max_age_days, expire_warn_days, renew_on_first_login, grace_period, require_mfa,
    require_mfa_off_network, require_mfa_untrusted_geographies, hash_algorithm,
});

diff!(lockout: LockoutPolicy => LockoutPatch {
    enabled, max_password_attempts, max_otp_attempts, window, lock_duration, reset_after_success,
    scope, allow_self_unblock, notify_user, reveal_lock, end_sessions_on_lock, escalation,
});

diff!(brute_force: BruteForcePolicy => BruteForcePatch {
    enabled, max_attempts, window, block_duration, allowlist, notify_admin, ipv4_prefix,
    ipv6_prefix, escalation,
});

diff!(session: SessionPolicy => SessionPatch {
    max_session_duration, idle_timeout, account_validity_days, show_recent_login_info,
    login_banner,
});

diff!(tokens: TokensPolicy => TokensPatch {
    access_token, authorization_code, backchannel_authentication_request, client_credentials,
    device_code, id_token, refresh_token,
});

diff!(api_keys: ApiKeysPolicy => ApiKeysPatch { max_expiration });

diff!(mfa: MfaPolicy => MfaPatch { required, required_off_network, trusted_networks });

pub(crate) fn features(old: &FeaturesPolicy, new: &FeaturesPolicy) -> FeaturesPatch {
    let flag = |a: bool, b: bool| (a != b).then_some(b);
    FeaturesPatch {
        register_enabled: flag(old.register_enabled, new.register_enabled),
        forgot_password_enabled: flag(old.forgot_password_enabled, new.forgot_password_enabled),
        user_self_deletion: flag(old.user_self_deletion, new.user_self_deletion),
        force_email_verification: flag(old.force_email_verification, new.force_email_verification),
        tenant_settings: merge_diff(&old.tenant_settings, &new.tenant_settings),
        dialect_settings: merge_diff(&old.dialect_settings, &new.dialect_settings),
    }
}

/// The RFC 7396 merge patch that turns `old` into `new`; `None` when they are equal.
fn merge_diff(old: &Map<String, Value>, new: &Map<String, Value>) -> Option<Map<String, Value>> {
    let mut patch = Map::new();
    for (key, value) in new {
        match (old.get(key), value) {
            (Some(before), after) if before == after => {}
            (Some(Value::Object(before)), Value::Object(after)) => {
                if let Some(inner) = merge_diff(before, after) {
                    patch.insert(key.clone(), Value::Object(inner));
                }
            }
            _ => {
                patch.insert(key.clone(), value.clone());
            }
        }
    }
    for key in old.keys().filter(|k| !new.contains_key(*k)) {
        patch.insert(key.clone(), Value::Null);
    }
    (!patch.is_empty()).then_some(patch)
}
