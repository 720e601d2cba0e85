//! Schemas that only document: the role names, and a policy section's value (one schema per
//! section, from the model). Nothing is serialized through these types.
//!
//! Invariant: [`RoleSchema`] names exactly the store's roles, and [`SectionSchema`] has one
//! variant per section (tests below hold both).

use portcullis_model::{
    ApiKeysPolicy, BruteForcePolicy, FeaturesPolicy, LockoutPolicy, MfaPolicy, PasswordPolicy,
    SessionPolicy, TokensPolicy,
};
use serde::Serialize;

/// An access role (docs/design.md §4).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = Role)]
pub enum RoleSchema {
    /// Instance defaults and organizations; every organization's data.
    InstanceAdmin,
    /// Policies, users, unlocks and keys of one organization.
    OrgAdmin,
    /// Reads policies and events of one organization.
    OrgAuditor,
    /// Own password, sessions and keys.
    Member,
}

/// The `password` section: 1–50 named password policies, exactly one of them the default.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PasswordPolicies)]
pub struct PasswordPoliciesSchema(pub Vec<PasswordPolicy>);

/// The value of one policy section: the schema of the section the path or `section` names.
/// Every field may be left out (a whole section takes the built-in default for it; a patch
/// keeps the value in force).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[schema(as = PolicySection)]
pub enum SectionSchema {
    /// `password`.
    Password(PasswordPoliciesSchema),
    /// `lockout`.
    Lockout(LockoutPolicy),
    /// `brute_force`.
    BruteForce(BruteForcePolicy),
    /// `session`.
    Session(SessionPolicy),
    /// `tokens`.
    Tokens(TokensPolicy),
    /// `api_keys`.
    ApiKeys(ApiKeysPolicy),
    /// `mfa`.
    Mfa(MfaPolicy),
    /// `features`.
    Features(FeaturesPolicy),
}

#[cfg(test)]
mod tests {
    use portcullis_model::SectionKind;
    use portcullis_store::Role;
    use utoipa::PartialSchema;

    use super::*;

    #[test]
    fn the_role_schema_names_exactly_the_stores_roles() {
        let schema = serde_json::to_value(RoleSchema::schema()).unwrap();
        let mut documented: Vec<String> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let mut roles: Vec<String> = Role::ALL.iter().map(|r| r.as_str().to_owned()).collect();
        documented.sort();
        roles.sort();
        assert_eq!(documented, roles);
    }

    #[test]
    fn the_section_schema_has_one_choice_per_section() {
        let schema = serde_json::to_value(SectionSchema::schema()).unwrap();
        assert_eq!(
            schema["oneOf"].as_array().unwrap().len(),
            SectionKind::ALL.len()
        );
    }
}
