//! What the hosted end-user pages may show before anyone signs in: an organization's name, its
//! login banner, which self-service pages it offers, and its password rules.
//!
//! Invariant: nothing here reads or tells anything about an account; every field is a setting
//! the organization's pages show to anyone who opens them.

use portcullis_model::PasswordPolicy;

use crate::error::{ServiceError, ServiceResult};
use crate::service::Service;

/// The public face of an organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostedOrg {
    /// The organization's id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The banner shown above its login form (`session.login_banner`; empty: none).
    pub banner: String,
    /// Whether people may register themselves (`features.register_enabled`).
    pub register_enabled: bool,
    /// Whether a forgotten password can be reset by mail (`features.forgot_password_enabled`).
    pub forgot_password_enabled: bool,
    /// Whether users may delete their own account (`features.user_self_deletion`).
    pub self_deletion: bool,
    /// The password rules of accounts without a source (the default password policy).
    pub password_rules: PasswordPolicy,
}

impl Service {
    /// The public face of organization `org_id`; `NotFound` when there is none.
    pub async fn hosted_org(&self, org_id: &str) -> ServiceResult<HostedOrg> {
        let id = self.require_org(org_id).await?;
        let org = self
            .store
            .get_org(&id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let policy = self.effective_policy(&id).await?;
        let features = &policy.features.value;
        Ok(HostedOrg {
            id: org.id.as_str().to_owned(),
            name: org.name,
            banner: policy.session.value.login_banner.clone(),
            register_enabled: features.register_enabled,
            forgot_password_enabled: features.forgot_password_enabled,
            self_deletion: features.user_self_deletion,
            password_rules: policy.password.value.for_source(None).clone(),
        })
    }
}
