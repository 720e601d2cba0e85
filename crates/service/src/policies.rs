//! Policy sections: instance defaults, organization overrides (write, patch, reset), the named
//! password policies, and the password dry-run check.
//!
//! Invariants: a write validates the whole section before anything is stored (all violations at
//! once, nothing half-written); each write is conditional on the sequence it was computed from,
//! so two concurrent edits never silently lose one; the policy cache is invalidated after every
//! committed write; a dialect's replacement of a named password policy that changes nothing
//! writes nothing (`replace_password_policy_with` with `skip_unchanged`).

use portcullis_engine::password_check::{AccountContext, check_rules};
use portcullis_model::{
    InstancePolicy, PasswordPolicies, PasswordPolicy, SectionDetails, SectionKind, SectionValue,
    Valid, Violation, Violations, codes,
};
use portcullis_store::{Owner, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::caller::{Action, Caller};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{DomainEvent, PolicyChanged, PolicyReset};
use crate::secrets::new_id;
use crate::service::{Context, INSTANCE_ID, Service, section_details};

/// How a section is written.
#[derive(Clone, Debug)]
pub enum SectionWrite {
    /// The whole section (PUT); missing fields take the built-in defaults.
    Replace(Value),
    /// A JSON merge patch over the current value (PATCH).
    Patch(Value),
}

/// One section as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct SectionView {
    /// Section name.
    pub section: SectionKind,
    /// Inherited from the instance (for an organization) or never written (for the instance).
    pub is_default: bool,
    /// Sequence, dates, owner.
    pub details: SectionDetails,
    /// The value.
    pub value: SectionValue,
}

/// A dry-run password check.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordCheckRequest {
    /// The candidate password.
    pub password: String,
    /// Login name of the account, for the attribute checks.
    pub login: Option<String>,
    /// Email of the account.
    pub email: Option<String>,
    /// Display name of the account.
    pub display_name: Option<String>,
    /// User source (selects the password policy).
    pub source: Option<String>,
}

/// The answer of a dry-run check.
#[derive(Clone, Debug, Serialize)]
pub struct PasswordCheckResult {
    /// No violation.
    pub valid: bool,
    /// Every violation.
    pub violations: Vec<Violation>,
    /// The password policy that was applied.
    pub policy_id: String,
}

const WRITE_RETRIES: usize = 5;

impl Service {
    /// The instance defaults, every section.
    pub async fn get_instance_policy(
        &self,
        caller: &Caller,
    ) -> ServiceResult<std::sync::Arc<InstancePolicy>> {
        caller.allow_instance()?;
        self.instance_policy().await
    }

    /// The effective policy of an organization.
    pub async fn get_org_policy(
        &self,
        caller: &Caller,
        org_id: &str,
    ) -> ServiceResult<std::sync::Arc<portcullis_model::EffectivePolicy>> {
        let grant = caller.allow(org_id, Action::Read)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        self.effective_policy(org_id).await
    }

    /// The current value of a section of `owner` and the sequence a conditional write expects.
    async fn current_section(
        &self,
        owner: &Owner,
        kind: SectionKind,
    ) -> ServiceResult<(SectionValue, u64, bool)> {
        match owner {
            Owner::Instance => {
                let policy = self.instance_policy().await?;
                let value = portcullis_model::resolve(&policy, &Default::default());
                let (_, details) = value.section_meta(kind);
                Ok((value.section(kind), details.sequence, true))
            }
            Owner::Org(org_id) => {
                let policy = self.effective_policy(org_id).await?;
                let (inherited, details) = policy.section_meta(kind);
                let expected = if inherited { 0 } else { details.sequence };
                Ok((policy.section(kind), expected, inherited))
            }
        }
    }

    /// Writes a section of `owner` computed by `change` from its current value, retrying when
    /// another write got in between.
    async fn write_section_with(
        &self,
        ctx: &Context,
        owner: &Owner,
        kind: SectionKind,
        change: impl Fn(&SectionValue) -> ServiceResult<SectionValue>,
    ) -> ServiceResult<SectionView> {
        self.write_section_unless(ctx, owner, kind, false, None, change)
            .await?
            .ok_or_else(|| ServiceError::Internal("a forced write wrote nothing".into()))
    }

    /// Like [`Service::write_section_with`]; with `skip_unchanged`, a value equal to the
    /// current one is not written (an inherited section stays inherited) and the answer is
    /// `None`; with `pinned`, the write happens only while the section is still at that
    /// sequence (`0`: inherited), else `PreconditionFailed`, never retried.
    async fn write_section_unless(
        &self,
        ctx: &Context,
        owner: &Owner,
        kind: SectionKind,
        skip_unchanged: bool,
        pinned: Option<u64>,
        change: impl Fn(&SectionValue) -> ServiceResult<SectionValue>,
    ) -> ServiceResult<Option<SectionView>> {
        for _ in 0..WRITE_RETRIES {
            let (current, expected, _) = self.current_section(owner, kind).await?;
            if pinned.is_some_and(|pinned| pinned != expected) {
                return Err(ServiceError::PreconditionFailed);
            }
            let value = change(&current)?;
            if skip_unchanged && value == current {
                return Ok(None);
            }
            let now = self.now();
            let json = value.to_json();
            let event = DomainEvent::PolicyChanged(PolicyChanged {
                section: kind,
                value: json.clone(),
            })
            .draft(ctx, owner.org_id(), now);
            match self
                .store
                .write_section(owner, kind.as_str(), &json, Some(expected), event)
                .await
            {
                Ok(row) => {
                    self.cache.invalidate();
                    let owner_id = owner.org_id().map_or(INSTANCE_ID, |org| org.as_str());
                    return Ok(Some(SectionView {
                        section: kind,
                        is_default: false,
                        details: section_details(&row, owner_id),
                        value,
                    }));
                }
                Err(StoreError::VersionMismatch) if pinned.is_some() => {
                    self.cache.invalidate();
                    return Err(ServiceError::PreconditionFailed);
                }
                Err(StoreError::VersionMismatch) => self.cache.invalidate(),
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::Conflict(
            "the section kept changing meanwhile; retry".into(),
        ))
    }

    /// Writes (PUT) or patches (PATCH) an instance default section.
    pub async fn write_instance_section(
        &self,
        caller: &Caller,
        ctx: &Context,
        kind: SectionKind,
        write: SectionWrite,
    ) -> ServiceResult<SectionView> {
        caller.allow_instance()?;
        self.write_section_with(ctx, &Owner::Instance, kind, |current| {
            apply(kind, current, &write)
        })
        .await
    }

    /// Writes (PUT) or patches (PATCH) an organization's section: it now has its own copy.
    pub async fn write_org_section(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        kind: SectionKind,
        write: SectionWrite,
    ) -> ServiceResult<SectionView> {
        self.write_org_section_pinned(caller, ctx, org_id, kind, write, None)
            .await
    }

    /// Like [`Service::write_org_section`], but only while the section is still at `sequence`
    /// (its `details.sequence` as read; `0` while inherited): a form filled from an older read
    /// answers `PreconditionFailed` instead of undoing a change made meanwhile.
    pub async fn write_org_section_at(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        kind: SectionKind,
        write: SectionWrite,
        sequence: u64,
    ) -> ServiceResult<SectionView> {
        self.write_org_section_pinned(caller, ctx, org_id, kind, write, Some(sequence))
            .await
    }

    async fn write_org_section_pinned(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        kind: SectionKind,
        write: SectionWrite,
        pinned: Option<u64>,
    ) -> ServiceResult<SectionView> {
        let grant = caller.allow(org_id, Action::Manage)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        let owner = Owner::Org(org_id.clone());
        self.write_section_unless(ctx, &owner, kind, false, pinned, |current| {
            apply(kind, current, &write)
        })
        .await?
        .ok_or_else(|| ServiceError::Internal("a forced write wrote nothing".into()))
    }

    /// Resets an organization's section to the instance default; answers the section now in force.
    pub async fn reset_org_section(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        kind: SectionKind,
    ) -> ServiceResult<SectionView> {
        let grant = caller.allow(org_id, Action::Manage)?;
        let org = &grant.org_id;
        self.require_known_org(org).await?;
        let event = DomainEvent::PolicyReset(PolicyReset { section: kind }).draft(
            ctx,
            Some(org),
            self.now(),
        );
        self.store.delete_section(org, kind.as_str(), event).await?;
        self.cache.invalidate();
        self.section_view(org_id, kind).await
    }

    async fn section_view(&self, org_id: &str, kind: SectionKind) -> ServiceResult<SectionView> {
        let policy = self.effective_policy(org_id).await?;
        let (is_default, details) = policy.section_meta(kind);
        Ok(SectionView {
            section: kind,
            is_default,
            details: details.clone(),
            value: policy.section(kind),
        })
    }

    // --- named password policies

    /// The password policies of an organization, with the section's inheritance and details.
    pub async fn list_password_policies(
        &self,
        caller: &Caller,
        org_id: &str,
    ) -> ServiceResult<SectionView> {
        let grant = caller.allow(org_id, Action::Read)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        let policy = self.effective_policy(org_id).await?;
        let (is_default, details) = policy.section_meta(SectionKind::Password);
        Ok(SectionView {
            section: SectionKind::Password,
            is_default,
            details: details.clone(),
            value: policy.section(SectionKind::Password),
        })
    }

    /// One password policy.
    pub async fn get_password_policy(
        &self,
        caller: &Caller,
        org_id: &str,
        id: &str,
    ) -> ServiceResult<PasswordPolicy> {
        let grant = caller.allow(org_id, Action::Read)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        let policy = self.effective_policy(org_id).await?;
        policy
            .password
            .value
            .get(id)
            .cloned()
            .ok_or(ServiceError::NotFound)
    }

    async fn change_password_policies(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        skip_unchanged: bool,
        change: impl Fn(Vec<PasswordPolicy>) -> ServiceResult<Vec<PasswordPolicy>>,
    ) -> ServiceResult<Option<SectionView>> {
        let grant = caller.allow(org_id, Action::Manage)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        let owner = Owner::Org(org_id.clone());
        let kind = SectionKind::Password;
        self.write_section_unless(ctx, &owner, kind, skip_unchanged, None, |current| {
            let SectionValue::Password(list) = current else {
                return Err(ServiceError::Internal(
                    "password section of another kind".into(),
                ));
            };
            let policies = change(list.clone().into_inner().policies)?;
            let valid = Valid::new(PasswordPolicies { policies })?;
            Ok(SectionValue::Password(valid))
        })
        .await
    }

    /// Adds a password policy (its id generated when empty). A new default replaces the old one.
    pub async fn create_password_policy(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        body: Value,
    ) -> ServiceResult<PasswordPolicy> {
        let new = parse_policy(body, &new_id("pwp"))?;
        let created = new.clone();
        self.change_password_policies(caller, ctx, org_id, false, |mut list| {
            if list.iter().any(|p| p.id == new.id) {
                return Err(ServiceError::Conflict(format!(
                    "password policy `{}` exists",
                    new.id
                )));
            }
            if new.is_default {
                list.iter_mut().for_each(|p| p.is_default = false);
            }
            list.push(new.clone());
            Ok(list)
        })
        .await?;
        Ok(created)
    }

    /// Replaces a password policy. Making it the default takes the flag from the old default;
    /// taking the flag from the only default is refused.
    pub async fn replace_password_policy(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        id: &str,
        body: Value,
    ) -> ServiceResult<PasswordPolicy> {
        self.replace_password_policy_with(caller, ctx, org_id, id, false, |_| Ok(body.clone()))
            .await
    }

    /// Replaces a password policy with the one `build` makes from the policy each attempt
    /// reads, so fields `build` keeps from the current policy are never written back from a
    /// stale read. With `skip_unchanged`, a replacement that leaves the list as it is writes
    /// nothing (no event; an inherited section stays inherited), so a policy read and written
    /// back through a dialect changes nothing.
    pub async fn replace_password_policy_with(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        id: &str,
        skip_unchanged: bool,
        build: impl Fn(&PasswordPolicy) -> ServiceResult<Value>,
    ) -> ServiceResult<PasswordPolicy> {
        let replaced = std::sync::Mutex::new(None);
        self.change_password_policies(caller, ctx, org_id, skip_unchanged, |mut list| {
            let at = list
                .iter()
                .position(|p| p.id == id)
                .ok_or(ServiceError::NotFound)?;
            let new = parse_policy(build(&list[at])?, id)?;
            if new.id != id {
                return Err(ServiceError::invalid(Violation::new(
                    "id",
                    codes::INVALID_ID,
                    "must match the id in the path",
                )));
            }
            if new.is_default {
                list.iter_mut().for_each(|p| p.is_default = false);
            }
            list[at] = new.clone();
            if let Ok(mut slot) = replaced.lock() {
                *slot = Some(new);
            }
            Ok(list)
        })
        .await?;
        replaced
            .into_inner()
            .ok()
            .flatten()
            .ok_or_else(|| ServiceError::Internal("the replaced policy went missing".into()))
    }

    /// Deletes a password policy; the default one cannot be deleted.
    pub async fn delete_password_policy(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        id: &str,
    ) -> ServiceResult<()> {
        self.change_password_policies(caller, ctx, org_id, false, |mut list| {
            let at = list
                .iter()
                .position(|p| p.id == id)
                .ok_or(ServiceError::NotFound)?;
            if list[at].is_default {
                return Err(ServiceError::invalid(Violation::new(
                    "is_default",
                    DEFAULT_NOT_DELETABLE,
                    "the default password policy cannot be deleted; make another one the default first",
                )));
            }
            list.remove(at);
            Ok(list)
        })
        .await?;
        Ok(())
    }

    /// Checks a candidate password against the policy its account would have (no history).
    pub async fn check_password(
        &self,
        caller: &Caller,
        org_id: &str,
        request: &PasswordCheckRequest,
    ) -> ServiceResult<PasswordCheckResult> {
        let grant = caller.allow(org_id, Action::SelfService)?;
        self.check_candidate_password(grant.org_id.as_str(), request)
            .await
    }

    /// The same dry run for the hosted pages, where the person typing has no credential yet (a
    /// registration, a reset link, a session that may only change its password): it reads the
    /// organization's password rules, which those pages list anyway, and nothing of any account.
    /// A password the rules accept is also looked up in the breached-password source when the
    /// policy checks it.
    pub async fn check_candidate_password(
        &self,
        org_id: &str,
        request: &PasswordCheckRequest,
    ) -> ServiceResult<PasswordCheckResult> {
        let org_id = &self.require_org(org_id).await?;
        let policy = self.effective_policy(org_id).await?;
        let rules = policy.password.value.for_source(request.source.as_deref());
        let account = AccountContext::new(
            request.login.as_deref().unwrap_or_default(),
            request.email.as_deref(),
            request.display_name.as_deref(),
        );
        let mut violations = check_rules(rules, &request.password, &account);
        // The breached lookup only for a password the rules accept (not for every keystroke
        // of a live check), and only in an offline index: anyone can repeat a dry run, and it
        // must not become a way to flood a range endpoint.
        if violations.is_empty()
            && let Some(breached) = self.breached_dry_run(rules, &request.password).await
        {
            violations.push(breached);
        }
        Ok(PasswordCheckResult {
            valid: violations.is_empty(),
            violations,
            policy_id: rules.id.clone(),
        })
    }
}

/// Stable code: the default password policy cannot be deleted.
pub const DEFAULT_NOT_DELETABLE: &str = "password_policy.default_not_deletable";

fn apply(
    kind: SectionKind,
    current: &SectionValue,
    write: &SectionWrite,
) -> ServiceResult<SectionValue> {
    Ok(match write {
        SectionWrite::Replace(json) => SectionValue::parse(kind, json.clone())?,
        SectionWrite::Patch(patch) => current.patch(patch)?,
    })
}

/// Parses one password policy; an absent or empty `id` becomes `default_id`, and an absent
/// `is_default` is `false` (a policy becomes the default only when asked).
fn parse_policy(mut body: Value, default_id: &str) -> Result<PasswordPolicy, Violations> {
    if let Value::Object(fields) = &mut body {
        if fields.get("id").is_none_or(|id| id == "") {
            fields.insert("id".into(), Value::String(default_id.to_owned()));
        }
        fields.entry("is_default").or_insert(Value::Bool(false));
    }
    portcullis_model::parse_section::<PasswordPolicy>(body).map(Valid::into_inner)
}
