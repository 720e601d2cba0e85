//! Organizations: creation (instance administrators), reading, listing.

use portcullis_model::{OrgId, Violation};
use portcullis_store::{Org, Page};
use serde::Deserialize;

use crate::caller::{Action, Caller};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{DomainEvent, OrgCreated};
use crate::secrets::new_id;
use crate::service::{Context, Service};

/// A request to create an organization.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    /// Caller-chosen id (`[A-Za-z0-9._-]{1,64}`); generated when absent.
    pub id: Option<String>,
    /// Display name (1–200 characters); defaults to the id.
    pub name: Option<String>,
}

impl Service {
    /// Creates an organization.
    pub async fn create_org(
        &self,
        caller: &Caller,
        ctx: &Context,
        request: NewOrg,
    ) -> ServiceResult<Org> {
        caller.allow_instance()?;
        let id = match request.id {
            Some(id) => OrgId::parse(&id, "id").map_err(ServiceError::invalid)?,
            None => OrgId::parse(&new_id("org"), "id").map_err(ServiceError::invalid)?,
        };
        let name = request.name.unwrap_or_else(|| id.to_string());
        let mut found = Vec::new();
        if name.trim().is_empty() {
            found.push(Violation::new(
                "name",
                portcullis_model::codes::REQUIRED,
                "must not be empty",
            ));
        }
        crate::text::check_text(&mut found, "name", Some(&name), 200);
        if let Some(violations) = portcullis_model::Violations::from_vec(found) {
            return Err(ServiceError::Invalid(violations));
        }
        let now = self.now();
        let org = Org {
            id: id.clone(),
            name,
            created_at: now,
        };
        let event = DomainEvent::OrgCreated(OrgCreated {
            name: org.name.clone(),
        })
        .draft(ctx, Some(&org.id), now);
        self.store
            .create_org(&org, event)
            .await
            .map_err(|e| match e {
                portcullis_store::StoreError::Conflict(_) => {
                    ServiceError::Conflict(format!("organization `{}` exists", org.id))
                }
                other => other.into(),
            })?;
        Ok(org)
    }

    /// One organization the caller may see.
    pub async fn get_org(&self, caller: &Caller, org_id: &str) -> ServiceResult<Org> {
        let grant = caller.allow(org_id, Action::SelfService)?;
        let org_id = &grant.org_id;
        self.store
            .get_org(org_id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Organizations the caller may see: all for an instance administrator, its own otherwise.
    pub async fn list_orgs(&self, caller: &Caller, page: &Page) -> ServiceResult<Vec<Org>> {
        if caller.is_instance_admin() {
            caller.allow_instance()?;
            return Ok(self.store.list_orgs(page).await?);
        }
        let Some(own) = caller.org_id.as_ref() else {
            return Ok(Vec::new());
        };
        caller.allow(own, Action::SelfService)?;
        let after_ok = page.after.as_deref().is_none_or(|a| own.as_str() > a);
        match self.store.get_org(own).await? {
            Some(org) if after_ok && page.limit > 0 => Ok(vec![org]),
            _ => Ok(Vec::new()),
        }
    }
}
