//! Schemas that only document: the role names, a policy section's value (one schema per
//! section, from the model) and the whole policies. Nothing is serialized through these types.
//!
//! Invariant: [`RoleSchema`] names exactly the store's roles, [`SectionSchema`] has one variant
//! per section, and the policy schemas have exactly the fields the model's policies serialize
//! (tests below hold all three).

use portcullis_model::{
    ApiKeysPolicy, BruteForcePolicy, FeaturesPolicy, LockoutPolicy, MfaPolicy, PasswordPolicy,
    SectionDetails, SessionPolicy, TokensPolicy,
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

/// A role an organization's user or key can be given: every role but `instance_admin`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = OrgRole)]
pub enum OrgRoleSchema {
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

/// A section as it applies to an organization.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ResolvedSection<T: utoipa::ToSchema> {
    /// `true` when the organization inherits the instance default.
    pub is_default: bool,
    /// Details of the stored value that applies (the instance's when inherited).
    pub details: SectionDetails,
    /// The value that applies.
    pub value: T,
}

/// An instance default section as stored.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StoredSection<T: utoipa::ToSchema> {
    /// The value.
    pub value: T,
    /// Sequence, dates and owner.
    pub details: SectionDetails,
}

macro_rules! policy_schemas {
    ($($field:ident: $ty:ty),* $(,)?) => {
        /// The policy that applies to one organization, section by section.
        #[derive(Serialize, utoipa::ToSchema)]
        #[schema(as = EffectivePolicy)]
        pub struct EffectivePolicySchema {
            $(
                #[doc = concat!("The `", stringify!($field), "` section that applies.")]
                pub $field: ResolvedSection<$ty>,
            )*
        }

        /// The instance's value for every section.
        #[derive(Serialize, utoipa::ToSchema)]
        #[schema(as = InstancePolicy)]
        pub struct InstancePolicySchema {
            $(
                #[doc = concat!("The instance's `", stringify!($field), "` section.")]
                pub $field: StoredSection<$ty>,
            )*
        }

        /// The sections of one scope as `PUT …/policy` takes them: each listed section gets
        /// this value (fields left out take their built-in defaults); an organization's
        /// unlisted sections are inherited again, the instance's return to the built-in default.
        #[derive(Serialize, utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        #[schema(as = ScopeSections)]
        pub struct ScopeSectionsSchema {
            $(
                #[doc = concat!("The `", stringify!($field), "` section.")]
                #[serde(skip_serializing_if = "Option::is_none")]
                #[schema(nullable = false)]
                pub $field: Option<$ty>,
            )*
        }
    };
}

policy_schemas! {
    password: PasswordPoliciesSchema,
    lockout: LockoutPolicy,
    brute_force: BruteForcePolicy,
    session: SessionPolicy,
    tokens: TokensPolicy,
    api_keys: ApiKeysPolicy,
    mfa: MfaPolicy,
    features: FeaturesPolicy,
}

#[cfg(test)]
mod tests {
    use portcullis_model::SectionKind;
    use portcullis_store::Role;
    use utoipa::PartialSchema;

    use super::*;

    #[test]
    fn the_org_role_schema_names_every_role_but_instance_admin() {
        let schema = serde_json::to_value(OrgRoleSchema::schema()).unwrap();
        let documented: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let roles: Vec<&str> = Role::ALL
            .iter()
            .filter(|r| **r != Role::InstanceAdmin)
            .map(|r| r.as_str())
            .collect();
        assert_eq!(documented, roles);
    }

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

    fn keys(value: &serde_json::Value) -> Vec<String> {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    #[test]
    fn the_policy_schemas_have_the_fields_the_policies_serialize() {
        let instance = portcullis_model::InstancePolicy::builtin("instance");
        let effective = portcullis_model::resolve(&instance, &Default::default());
        for (schema, value) in [
            (
                serde_json::to_value(EffectivePolicySchema::schema()).unwrap(),
                serde_json::to_value(&effective).unwrap(),
            ),
            (
                serde_json::to_value(InstancePolicySchema::schema()).unwrap(),
                serde_json::to_value(&instance).unwrap(),
            ),
        ] {
            assert_eq!(keys(&schema["properties"]), keys(&value));
        }
        let resolved = serde_json::to_value(ResolvedSection::<LockoutPolicy>::schema()).unwrap();
        let effective = serde_json::to_value(&effective).unwrap();
        assert_eq!(keys(&resolved["properties"]), keys(&effective["lockout"]));
        let stored = serde_json::to_value(StoredSection::<LockoutPolicy>::schema()).unwrap();
        let instance = serde_json::to_value(&instance).unwrap();
        assert_eq!(keys(&stored["properties"]), keys(&instance["lockout"]));
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
