//! Patches over several policy sections at once, for the vendor dialects: a dialect names the
//! canonical fields it carries as JSON merge patches, one per section, and they are written
//! together or not at all.
//!
//! Invariants: a patch changes only the fields it names; the first write on an organization
//! that inherits a section starts from the inherited value; the `password` patch applies to the
//! default password policy only; every section is validated before anything is written (all
//! violations at once, field paths prefixed with the section name) and the batch is one
//! conditional store write, retried when another write got in between; a section whose value
//! would not change is left as it is (an inherited one stays inherited) unless the precondition
//! names it, and nothing is written when no section would change.

use portcullis_model::{
    EffectivePolicy, PasswordPolicies, PasswordPolicy, SectionKind, SectionValue, Valid, Violations,
};
use portcullis_store::{Owner, SectionChange, StoreError};
use serde_json::Value;

use crate::caller::{Action, Caller};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{DomainEvent, PolicyChanged};
use crate::service::{Context, Service};

/// Whose sections a patch writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyScope {
    /// The instance defaults (instance administrators only).
    Instance,
    /// One organization's own sections.
    Org(String),
}

/// A condition on one section's inheritance, checked in the same conditional write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// None.
    Any,
    /// The organization must still inherit this section (else `Conflict`).
    Inherited(SectionKind),
    /// The organization must have its own copy of this section (else `NotFound`).
    Custom(SectionKind),
}

/// Why [`Service::patch_policy_with`] failed: the caller's builder refused the input, or the
/// service refused the change.
#[derive(Debug)]
pub enum PatchError<E> {
    /// The builder's error.
    Input(E),
    /// A service error.
    Service(ServiceError),
}

impl<E> From<ServiceError> for PatchError<E> {
    fn from(e: ServiceError) -> PatchError<E> {
        PatchError::Service(e)
    }
}

impl<E> From<portcullis_store::StoreError> for PatchError<E> {
    fn from(e: portcullis_store::StoreError) -> PatchError<E> {
        PatchError::Service(e.into())
    }
}

/// What a patch did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchOutcome {
    /// The sections were written.
    Written,
    /// No section's value would change (and the precondition's section, if any, is already the
    /// organization's own): nothing was written.
    Unchanged,
}

const PATCH_RETRIES: usize = 5;

impl Service {
    /// The policy as it applies in `scope`: the organization's effective policy (callers that
    /// may read it), or the instance defaults resolved as an organization with no overrides
    /// (instance administrators).
    pub async fn scoped_policy(
        &self,
        caller: &Caller,
        scope: &PolicyScope,
    ) -> ServiceResult<std::sync::Arc<EffectivePolicy>> {
        match scope {
            PolicyScope::Instance => {
                caller.allow_instance()?;
                self.default_policy().await
            }
            PolicyScope::Org(org_id) => self.get_org_policy(caller, org_id).await,
        }
    }

    /// The instance defaults as an organization that inherits everything sees them, for any
    /// caller who may read `org_id`.
    pub async fn get_default_policy(
        &self,
        caller: &Caller,
        org_id: &str,
    ) -> ServiceResult<std::sync::Arc<EffectivePolicy>> {
        let grant = caller.allow(org_id, Action::Read)?;
        self.require_known_org(&grant.org_id).await?;
        self.default_policy().await
    }

    async fn default_policy(&self) -> ServiceResult<std::sync::Arc<EffectivePolicy>> {
        let instance = self.instance_policy().await?;
        Ok(std::sync::Arc::new(portcullis_model::resolve(
            &instance,
            &Default::default(),
        )))
    }

    /// Applies merge patches to several sections of `scope` at once (see the module header).
    pub async fn patch_policy(
        &self,
        caller: &Caller,
        ctx: &Context,
        scope: &PolicyScope,
        patches: &[(SectionKind, Value)],
        precondition: Precondition,
    ) -> ServiceResult<PatchOutcome> {
        self.patch_policy_with(caller, ctx, scope, precondition, |_| {
            Ok::<_, std::convert::Infallible>(patches.to_vec())
        })
        .await
        .map_err(|e| match e {
            PatchError::Service(e) => e,
            PatchError::Input(never) => match never {},
        })
    }

    /// Like [`Service::patch_policy`], with the patches built by `build` from the policy each
    /// attempt reads: a patch that depends on current values (a class minimum kept, an
    /// attribute list extended) is recomputed when another write got in between, never
    /// written from a stale read. `build`'s own error comes back as [`PatchError::Input`].
    pub async fn patch_policy_with<E>(
        &self,
        caller: &Caller,
        ctx: &Context,
        scope: &PolicyScope,
        precondition: Precondition,
        build: impl Fn(&EffectivePolicy) -> Result<Vec<(SectionKind, Value)>, E>,
    ) -> Result<PatchOutcome, PatchError<E>> {
        let owner = match scope {
            PolicyScope::Instance => {
                caller.allow_instance()?;
                Owner::Instance
            }
            PolicyScope::Org(org_id) => {
                let grant = caller.allow(org_id, Action::Manage)?;
                let org_id = &grant.org_id;
                self.require_known_org(org_id).await?;
                Owner::Org(org_id.clone())
            }
        };
        for _ in 0..PATCH_RETRIES {
            let policy = match scope {
                PolicyScope::Instance => self.default_policy().await?,
                PolicyScope::Org(org_id) => self.effective_policy(org_id).await?,
            };
            let inherited = |kind| match scope {
                PolicyScope::Instance => false,
                PolicyScope::Org(_) => policy.section_meta(kind).0,
            };
            match precondition {
                Precondition::Inherited(kind) if !inherited(kind) => {
                    return Err(ServiceError::Conflict(format!(
                        "the organization has its own `{kind}` section already"
                    ))
                    .into());
                }
                Precondition::Custom(kind) if inherited(kind) => {
                    return Err(ServiceError::NotFound.into());
                }
                _ => {}
            }
            let patches = build(&policy).map_err(PatchError::Input)?;
            let named = match precondition {
                Precondition::Inherited(kind) | Precondition::Custom(kind) => Some(kind),
                Precondition::Any => None,
            };
            let mut changes = Vec::with_capacity(patches.len());
            let mut found = Vec::new();
            for (kind, patch) in &patches {
                let current = policy.section(*kind);
                match patch_section(&current, patch) {
                    // A section whose value stays is not written (an inherited one stays
                    // inherited), unless the precondition names it: adding a policy equal to
                    // the default still creates the organization's own copy.
                    Ok(value) if value == current && named != Some(*kind) => {}
                    Ok(value) if value == current && !inherited(*kind) => {}
                    Ok(value) => {
                        changes.push(section_write(ctx, &owner, &policy, &value, self.now()));
                    }
                    Err(violations) => found.extend(violations.under(kind.as_str())),
                }
            }
            if let Some(violations) = Violations::from_vec(found) {
                return Err(ServiceError::Invalid(violations).into());
            }
            if changes.is_empty() {
                return Ok(PatchOutcome::Unchanged);
            }
            match self.store.write_sections(&owner, changes).await {
                Ok(_) => {
                    self.cache.invalidate();
                    return Ok(PatchOutcome::Written);
                }
                Err(StoreError::VersionMismatch) => self.cache.invalidate(),
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::Conflict("the policy kept changing meanwhile; retry".into()).into())
    }
}

/// The write of `value` over `policy`'s section in `owner`, with its `policy.<section>.changed`
/// event, conditional on the sequence `policy` shows (0, "no row yet", for a section an
/// organization inherits).
pub(crate) fn section_write(
    ctx: &Context,
    owner: &Owner,
    policy: &EffectivePolicy,
    value: &SectionValue,
    now: portcullis_model::Timestamp,
) -> SectionChange {
    let kind = value.kind();
    let (inherited, details) = policy.section_meta(kind);
    let expected = match owner {
        Owner::Org(_) if inherited => 0,
        _ => details.sequence,
    };
    let json = value.to_json();
    SectionChange {
        section: kind.as_str().to_owned(),
        event: DomainEvent::PolicyChanged(PolicyChanged {
            section: kind,
            value: json.clone(),
        })
        .draft(ctx, owner.org_id(), now),
        value: Some(json),
        expected_sequence: Some(expected),
    }
}

/// One section's merge patch; the password section's patch applies to its default policy.
fn patch_section(current: &SectionValue, patch: &Value) -> Result<SectionValue, Violations> {
    let SectionValue::Password(list) = current else {
        return current.patch(patch);
    };
    let mut policies = list.clone().into_inner().policies;
    let at = policies.iter().position(|p| p.is_default).unwrap_or(0);
    let Some(default) = policies.get(at) else {
        return current.patch(patch);
    };
    let patched: PasswordPolicy = portcullis_model::patch_section(default, patch)?.into_inner();
    policies[at] = patched;
    Valid::new(PasswordPolicies { policies }).map(SectionValue::Password)
}
