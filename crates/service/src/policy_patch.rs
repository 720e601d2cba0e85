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
//! names it, and nothing is written when no section would change. A reset of fields
//! ([`Service::reset_policy_fields`]) is the same batch, in which an organization's own section
//! named to inherit again is reset (its row deleted, `policy.<section>.reset`) instead of
//! written when its value would then equal the instance default: the values put back and the
//! sections inheriting again commit together or not at all, conditional on what was read.

use portcullis_model::{
    EffectivePolicy, PasswordPolicies, PasswordPolicy, SectionKind, SectionValue, Valid, Violations,
};
use portcullis_store::{Owner, SectionChange, StoreError};
use serde_json::Value;

use crate::caller::{Action, Caller};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{DomainEvent, PolicyChanged, PolicyReset};
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
        .map_err(service_error)
    }

    /// Puts back fields of an organization's policy and lets sections inherit again, in one
    /// conditional batch: `patches` are applied as [`Service::patch_policy`] does (the
    /// organization must have its own `required` section, else `NotFound`), and each section of
    /// `inherit` that the organization owns and whose value would then equal the instance
    /// default in full is reset (inherited again) instead of written. Nothing is half done: a
    /// write in between fails the batch, which is recomputed from a fresh read.
    pub async fn reset_policy_fields(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        patches: &[(SectionKind, Value)],
        required: SectionKind,
        inherit: &[SectionKind],
    ) -> ServiceResult<PatchOutcome> {
        let scope = PolicyScope::Org(org_id.to_owned());
        self.patch_batch(
            caller,
            ctx,
            &scope,
            Precondition::Custom(required),
            |_| Ok::<_, std::convert::Infallible>(patches.to_vec()),
            inherit,
        )
        .await
        .map_err(service_error)
    }

    /// The owner whose sections `caller` may write in `scope`: the instance (instance
    /// administrators), or an existing organization it manages.
    pub(crate) async fn writable_owner(
        &self,
        caller: &Caller,
        scope: &PolicyScope,
    ) -> ServiceResult<Owner> {
        match scope {
            PolicyScope::Instance => {
                caller.allow_instance()?;
                Ok(Owner::Instance)
            }
            PolicyScope::Org(org_id) => {
                let grant = caller.allow(org_id, Action::Manage)?;
                self.require_known_org(&grant.org_id).await?;
                Ok(Owner::Org(grant.org_id))
            }
        }
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
        self.patch_batch(caller, ctx, scope, precondition, build, &[])
            .await
    }

    /// The batch behind [`Service::patch_policy_with`] and [`Service::reset_policy_fields`]:
    /// the organization's own sections of `inherit` that would equal the instance default are
    /// reset in the same conditional write.
    async fn patch_batch<E>(
        &self,
        caller: &Caller,
        ctx: &Context,
        scope: &PolicyScope,
        precondition: Precondition,
        build: impl Fn(&EffectivePolicy) -> Result<Vec<(SectionKind, Value)>, E>,
        inherit: &[SectionKind],
    ) -> Result<PatchOutcome, PatchError<E>> {
        let owner = self.writable_owner(caller, scope).await?;
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
            // The value each patched section would have.
            let mut patched: Vec<(SectionKind, SectionValue)> = Vec::new();
            for (kind, patch) in &patches {
                let current = policy.section(*kind);
                match patch_section(&current, patch) {
                    // A section whose value stays is not written (an inherited one stays
                    // inherited), unless the precondition names it: adding a policy equal to
                    // the default still creates the organization's own copy.
                    Ok(value) if value == current && named != Some(*kind) => {
                        patched.push((*kind, value));
                    }
                    Ok(value) if value == current && !inherited(*kind) => {
                        patched.push((*kind, value));
                    }
                    Ok(value) if inherit.contains(kind) => patched.push((*kind, value)),
                    Ok(value) => {
                        changes.push(section_write(ctx, &owner, &policy, &value, self.now()));
                    }
                    Err(violations) => found.extend(violations.under(kind.as_str())),
                }
            }
            if let Some(violations) = Violations::from_vec(found) {
                return Err(ServiceError::Invalid(violations).into());
            }
            if !inherit.is_empty() {
                let default = self.default_policy().await?;
                for kind in inherit {
                    let current = policy.section(*kind);
                    let value = patched
                        .iter()
                        .find(|(k, _)| k == kind)
                        .map_or_else(|| current.clone(), |(_, v)| v.clone());
                    if !inherited(*kind) && value == default.section(*kind) {
                        changes.push(section_reset(ctx, &owner, &policy, *kind, self.now()));
                    } else if value != current {
                        changes.push(section_write(ctx, &owner, &policy, &value, self.now()));
                    }
                }
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

/// The service error of a patch whose builder cannot fail.
fn service_error(e: PatchError<std::convert::Infallible>) -> ServiceError {
    match e {
        PatchError::Service(e) => e,
        PatchError::Input(never) => match never {},
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

/// The reset of `owner`'s own `kind` section (it inherits again), with its
/// `policy.<section>.reset` event, conditional on the sequence `policy` shows.
fn section_reset(
    ctx: &Context,
    owner: &Owner,
    policy: &EffectivePolicy,
    kind: SectionKind,
    now: portcullis_model::Timestamp,
) -> SectionChange {
    let (_, details) = policy.section_meta(kind);
    SectionChange {
        section: kind.as_str().to_owned(),
        event: DomainEvent::PolicyReset(PolicyReset { section: kind }).draft(
            ctx,
            owner.org_id(),
            now,
        ),
        value: None,
        expected_sequence: Some(details.sequence),
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
