//! The SailPoint `PasswordPolicyV3Dto` as it goes out ([`PolicyDto`]) and as it comes in
//! ([`PolicyObject`]).
//!
//! Invariants: an incoming object keeps every value as sent, so `mapping` checks each one's type
//! itself and reports every problem of a body at once, by the field's SailPoint name; a field this
//! struct does not name lands in `unknown` and is refused; `null` is the same as absent.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A policy as SailPoint shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PolicyDto<'a> {
    pub(super) id: &'a str,
    pub(super) name: &'a str,
    /// `null` when empty.
    pub(super) description: Option<&'a str>,
    pub(super) date_created: i64,
    pub(super) last_updated: i64,
    pub(super) created: String,
    pub(super) modified: String,
    pub(super) first_expiration_reminder: u64,
    /// `-1` when the account id is not checked.
    pub(super) account_id_min_word_length: i64,
    /// `-1` when the account name is not checked.
    pub(super) account_name_min_word_length: i64,
    pub(super) min_alpha: u64,
    /// `-1` = off.
    pub(super) min_character_types: i64,
    pub(super) max_length: u64,
    pub(super) min_length: u64,
    /// `-1` = off.
    pub(super) max_repeated_chars: i64,
    pub(super) min_lower: u64,
    pub(super) min_numeric: u64,
    pub(super) min_special: u64,
    pub(super) min_upper: u64,
    pub(super) password_expiration: u64,
    pub(super) default_policy: bool,
    pub(super) enable_passwd_expiration: bool,
    pub(super) require_strong_authn: bool,
    pub(super) require_strong_auth_off_network: bool,
    pub(super) require_strong_auth_untrusted_geographies: bool,
    pub(super) use_account_attributes: bool,
    pub(super) use_dictionary: bool,
    pub(super) use_identity_attributes: bool,
    pub(super) validate_against_account_id: bool,
    pub(super) validate_against_account_name: bool,
    pub(super) source_ids: &'a [String],
}

/// A policy as a client writes it, every value as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PolicyObject {
    pub(super) id: Option<Value>,
    pub(super) name: Option<Value>,
    pub(super) description: Option<Value>,
    pub(super) source_ids: Option<Value>,

    pub(super) first_expiration_reminder: Option<Value>,
    pub(super) account_id_min_word_length: Option<Value>,
    pub(super) account_name_min_word_length: Option<Value>,
    pub(super) min_alpha: Option<Value>,
    pub(super) min_character_types: Option<Value>,
    pub(super) max_length: Option<Value>,
    pub(super) min_length: Option<Value>,
    pub(super) max_repeated_chars: Option<Value>,
    pub(super) min_lower: Option<Value>,
    pub(super) min_numeric: Option<Value>,
    pub(super) min_special: Option<Value>,
    pub(super) min_upper: Option<Value>,
    pub(super) password_expiration: Option<Value>,

    pub(super) default_policy: Option<Value>,
    pub(super) enable_passwd_expiration: Option<Value>,
    pub(super) require_strong_authn: Option<Value>,
    pub(super) require_strong_auth_off_network: Option<Value>,
    pub(super) require_strong_auth_untrusted_geographies: Option<Value>,
    pub(super) use_account_attributes: Option<Value>,
    pub(super) use_dictionary: Option<Value>,
    pub(super) use_identity_attributes: Option<Value>,
    pub(super) validate_against_account_id: Option<Value>,
    pub(super) validate_against_account_name: Option<Value>,

    /// Read-only: accepted and ignored (a client writes back what it read).
    #[serde(rename = "dateCreated")]
    pub(super) _date_created: Option<Value>,
    /// Read-only.
    #[serde(rename = "lastUpdated")]
    pub(super) _last_updated: Option<Value>,
    /// Read-only.
    #[serde(rename = "created")]
    pub(super) _created: Option<Value>,
    /// Read-only.
    #[serde(rename = "modified")]
    pub(super) _modified: Option<Value>,

    /// Every field this struct does not name.
    #[serde(flatten)]
    pub(super) unknown: Map<String, Value>,
}

impl PolicyObject {
    /// Reads a JSON object (never fails: every value is kept as sent).
    pub(super) fn of(body: &Map<String, Value>) -> PolicyObject {
        serde_json::from_value(Value::Object(body.clone())).unwrap_or_else(|_| PolicyObject {
            unknown: body.clone(),
            ..PolicyObject::default()
        })
    }
}
