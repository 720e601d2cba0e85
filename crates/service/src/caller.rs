//! Who is calling, and what that caller may do (docs/design.md §4).
//!
//! Invariants: an organization-bound caller never reaches another organization's data — such a
//! request answers `NotFound`, exactly like a resource that does not exist; an instance
//! administrator may act in every organization; a session limited to a password change may do
//! nothing else. Every service entry point that touches organization data asks [`Caller::allow`]
//! first and keeps the [`OrgGrant`] it returns.

use portcullis_model::OrgId;
use portcullis_store::Role;

use crate::error::{ServiceError, ServiceResult};

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Stable actor name for events: `key:<id>` or `user:<id>`.
    pub actor: String,
    /// Organization the credentials belong to; `None` for instance keys.
    pub org_id: Option<OrgId>,
    /// Roles the credentials carry.
    pub roles: Vec<Role>,
    /// The user behind the credentials, if any.
    pub user_id: Option<String>,
    /// The session used, if any.
    pub session_id: Option<String>,
    /// The API key used, if any.
    pub key_id: Option<String>,
    /// The session may only change its password.
    pub password_change_only: bool,
    /// The session may only enroll a second factor (MFA required, within its grace).
    pub mfa_enroll_only: bool,
}

/// What a caller wants to do in an organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read policies, password policies, events, users' lock state.
    Read,
    /// Change policies, users, unlock, keys of others.
    Manage,
    /// Act on one's own account (password, keys, sessions).
    SelfService,
}

/// Proof that a caller may perform an action in one organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgGrant {
    /// The organization (its id parsed: an id that cannot exist was answered `NotFound`).
    pub org_id: OrgId,
    /// Whether the caller may manage it (admin), not only read or act on itself.
    pub manage: bool,
}

impl Caller {
    /// Whether the caller holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the caller is an instance administrator.
    pub fn is_instance_admin(&self) -> bool {
        self.org_id.is_none() && self.has(Role::InstanceAdmin)
    }

    fn unrestricted(&self) -> ServiceResult<()> {
        if self.mfa_enroll_only {
            Err(ServiceError::MfaEnrollmentRequired)
        } else if self.password_change_only {
            Err(ServiceError::PasswordChangeRequired)
        } else {
            Ok(())
        }
    }

    /// Instance-level actions (instance policy, organizations).
    pub fn allow_instance(&self) -> ServiceResult<()> {
        self.unrestricted()?;
        if self.is_instance_admin() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden("instance administrators only"))
        }
    }

    /// Checks `action` in `org_id`, the organization's id as the request wrote it. Another
    /// organization, or an id no organization can have, answers `NotFound`. This is where a
    /// request's organization id becomes an [`OrgId`].
    pub fn allow(&self, org_id: &str, action: Action) -> ServiceResult<OrgGrant> {
        self.unrestricted()?;
        if self.is_instance_admin() {
            return Ok(OrgGrant {
                org_id: OrgId::parse(org_id, "org").map_err(|_| ServiceError::NotFound)?,
                manage: true,
            });
        }
        let Some(own) = self.org_id.as_ref().filter(|own| *own == org_id) else {
            return Err(ServiceError::NotFound);
        };
        let own = own.clone();
        let admin = self.has(Role::OrgAdmin);
        let allowed = match action {
            Action::Manage => admin,
            Action::Read => admin || self.has(Role::OrgAuditor),
            Action::SelfService => true,
        };
        if !allowed {
            return Err(ServiceError::Forbidden(
                "the caller's role does not allow this",
            ));
        }
        Ok(OrgGrant {
            org_id: own,
            manage: admin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(org: Option<&str>, roles: &[Role]) -> Caller {
        Caller {
            actor: "key:k".into(),
            org_id: org.map(|org| OrgId::parse(org, "org").unwrap()),
            roles: roles.to_vec(),
            user_id: None,
            session_id: None,
            key_id: Some("k".into()),
            password_change_only: false,
            mfa_enroll_only: false,
        }
    }

    #[test]
    fn roles_and_isolation() {
        let admin = caller(Some("a"), &[Role::OrgAdmin]);
        assert!(admin.allow("a", Action::Manage).is_ok());
        assert!(matches!(
            admin.allow("b", Action::Read),
            Err(ServiceError::NotFound)
        ));
        assert!(admin.allow_instance().is_err());

        let auditor = caller(Some("a"), &[Role::OrgAuditor]);
        assert!(auditor.allow("a", Action::Read).is_ok());
        assert!(matches!(
            auditor.allow("a", Action::Manage),
            Err(ServiceError::Forbidden(_))
        ));

        let member = caller(Some("a"), &[Role::Member]);
        assert!(member.allow("a", Action::SelfService).is_ok());
        assert!(member.allow("a", Action::Read).is_err());

        let root = caller(None, &[Role::InstanceAdmin]);
        assert!(root.allow("anything", Action::Manage).is_ok());
        // An id no organization can have is an unknown organization, even for the instance.
        assert!(matches!(
            root.allow("a/b", Action::Read),
            Err(ServiceError::NotFound)
        ));
        assert!(root.allow_instance().is_ok());

        // An org-bound key that claims instance_admin is not an instance admin.
        let fake = caller(Some("a"), &[Role::InstanceAdmin]);
        assert!(fake.allow_instance().is_err());
        assert!(matches!(
            fake.allow("b", Action::Read),
            Err(ServiceError::NotFound)
        ));

        let restricted = Caller {
            password_change_only: true,
            mfa_enroll_only: false,
            ..admin
        };
        assert!(matches!(
            restricted.allow("a", Action::Read),
            Err(ServiceError::PasswordChangeRequired)
        ));
    }
}
