//! Section names and the `details` every stored section carries (docs/design.md §2.1).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A point in time, UTC. The model and engine never read the clock: time is always an argument.
pub type Timestamp = OffsetDateTime;

/// An instant as RFC 3339 text, the one form every API shows (empty for an instant outside the
/// years 0–9999, which no stored or computed instant reaches).
pub fn rfc3339(t: Timestamp) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Where a stored section comes from and when it last changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SectionDetails {
    /// Sequence of the event that last changed the section (0 = built-in default, never written).
    pub sequence: u64,
    /// When the section was first written.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When the section was last written.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub changed_at: Timestamp,
    /// The organization id that owns it, or the instance id for instance defaults.
    pub resource_owner: String,
}

impl SectionDetails {
    /// Details of a built-in default that nobody has written yet.
    pub fn builtin(instance_id: &str) -> SectionDetails {
        SectionDetails {
            sequence: 0,
            created_at: OffsetDateTime::UNIX_EPOCH,
            changed_at: OffsetDateTime::UNIX_EPOCH,
            resource_owner: instance_id.to_owned(),
        }
    }
}

/// The sections of a policy.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    /// Named password policies.
    Password,
    /// Account lockout.
    Lockout,
    /// IP brute-force blocking.
    BruteForce,
    /// Login and session.
    Session,
    /// Token lifetimes.
    Tokens,
    /// API key lifetimes.
    ApiKeys,
    /// MFA requirements.
    Mfa,
    /// Self-service features and other tenant settings.
    Features,
}

impl SectionKind {
    /// Every section, in the order the API lists them.
    pub const ALL: [SectionKind; 8] = [
        SectionKind::Password,
        SectionKind::Lockout,
        SectionKind::BruteForce,
        SectionKind::Session,
        SectionKind::Tokens,
        SectionKind::ApiKeys,
        SectionKind::Mfa,
        SectionKind::Features,
    ];

    /// The canonical name (`brute_force`, `api_keys`, ...), as in URLs and event types.
    pub fn as_str(self) -> &'static str {
        match self {
            SectionKind::Password => "password",
            SectionKind::Lockout => "lockout",
            SectionKind::BruteForce => "brute_force",
            SectionKind::Session => "session",
            SectionKind::Tokens => "tokens",
            SectionKind::ApiKeys => "api_keys",
            SectionKind::Mfa => "mfa",
            SectionKind::Features => "features",
        }
    }
}

impl fmt::Display for SectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown section name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown policy section `{0}`")]
pub struct UnknownSection(pub String);

impl FromStr for SectionKind {
    type Err = UnknownSection;
    fn from_str(text: &str) -> Result<SectionKind, UnknownSection> {
        SectionKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| UnknownSection(text.to_owned()))
    }
}
