//! The `tokens` section: lifetimes, in seconds, of the tokens an OAuth/OIDC deployment issues
//! (docs/design.md §2.6), with the ranges PlusAuth documents. The eighth lifetime, the session's,
//! is `session.max_session_duration` (one value, not two; see docs/decisions/0002).

use serde::{Deserialize, Serialize};

use crate::validate::{Checker, Validate};

/// `(field, min, max)` of every token lifetime, in seconds.
pub const TOKEN_RANGES: [(&str, u64, u64); 7] = [
    ("access_token", 30, 2_592_000),
    ("authorization_code", 30, 86_400),
    ("backchannel_authentication_request", 30, 86_400),
    ("client_credentials", 30, 2_592_000),
    ("device_code", 30, 86_400),
    ("id_token", 30, 31_536_000),
    ("refresh_token", 300, 15_552_000),
];

/// Token lifetimes, seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TokensPolicy {
    /// Access tokens (30–2592000, default 3600).
    #[schema(minimum = 30, maximum = 2_592_000)]
    pub access_token: u64,
    /// Authorization codes (30–86400, default 300).
    #[schema(minimum = 30, maximum = 86_400)]
    pub authorization_code: u64,
    /// CIBA back-channel authentication requests (30–86400, default 600).
    #[schema(minimum = 30, maximum = 86_400)]
    pub backchannel_authentication_request: u64,
    /// Client-credentials tokens (30–2592000, default 3600).
    #[schema(minimum = 30, maximum = 2_592_000)]
    pub client_credentials: u64,
    /// Device codes (30–86400, default 600).
    #[schema(minimum = 30, maximum = 86_400)]
    pub device_code: u64,
    /// ID tokens (30–31536000, default 3600).
    #[schema(minimum = 30, maximum = 31_536_000)]
    pub id_token: u64,
    /// Refresh tokens (300–15552000, default 2592000 = 30 days).
    #[schema(minimum = 300, maximum = 15_552_000)]
    pub refresh_token: u64,
}

impl Default for TokensPolicy {
    fn default() -> TokensPolicy {
        TokensPolicy {
            access_token: 3600,
            authorization_code: 300,
            backchannel_authentication_request: 600,
            client_credentials: 3600,
            device_code: 600,
            id_token: 3600,
            refresh_token: 2_592_000,
        }
    }
}

impl TokensPolicy {
    fn values(&self) -> [u64; 7] {
        [
            self.access_token,
            self.authorization_code,
            self.backchannel_authentication_request,
            self.client_credentials,
            self.device_code,
            self.id_token,
            self.refresh_token,
        ]
    }
}

impl Validate for TokensPolicy {
    fn check(&self, c: &mut Checker) {
        for ((field, min, max), value) in TOKEN_RANGES.iter().zip(self.values()) {
            c.range(field, value, *min, *max);
        }
    }
}

crate::patch::section_patch! {
    /// A merge patch of the `tokens` section.
    TokensPolicy => TokensPatch, TokensFields {
        access_token: u64,
        authorization_code: u64,
        backchannel_authentication_request: u64,
        client_credentials: u64,
        device_code: u64,
        id_token: u64,
        refresh_token: u64,
    }
}
