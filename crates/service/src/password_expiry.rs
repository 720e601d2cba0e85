//! Expiring passwords now: an administrator's answer to evidence of compromise. The next login
//! with an expired password opens a session limited to changing it (the engine's
//! `ChangeReason::ExpiredByAdmin`); nothing else about the user changes, and no new password
//! is needed.
//!
//! Invariants: only passwords that exist and are not expired already are expired (so the
//! first expiry time stands); a new password clears the expiry (the store does it with the
//! password); each call is one store statement in one transaction with one event carrying the
//! count; an administrator reaches only its organization's users.

use portcullis_model::{Timestamp, Violation, codes};
use portcullis_store::ExpiryTarget;

use crate::caller::{Action, Caller};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{DomainEvent, PasswordsExpired, UserRef};
use crate::service::{Context, Service};
use crate::users::UserView;

/// The years a `changed_before` may name (times are stored as 64-bit nanoseconds).
const EARLIEST: i32 = 1970;
/// See [`EARLIEST`].
const LATEST: i32 = 2200;

impl Service {
    /// Expires one user's password now; answers the user as it is afterwards
    /// (`password_expired_at` set, unless it has no password). `NotFound` when the user is not
    /// one of the organization's.
    pub async fn expire_user_password(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        user_id: &str,
    ) -> ServiceResult<UserView> {
        let org = caller.allow(org_id, Action::Manage)?.org_id;
        self.user_in(&org, user_id).await?;
        let now = self.now();
        let event = DomainEvent::PasswordExpired(UserRef {
            user_id: user_id.to_owned(),
        })
        .draft(ctx, Some(&org), now);
        self.store
            .expire_passwords(&org, &ExpiryTarget::User(user_id.to_owned()), now, event)
            .await?;
        Ok(self.user_in(&org, user_id).await?.into())
    }

    /// Expires now the passwords of every user of the organization (`all`), or of those whose
    /// password was set before `changed_before`; answers how many were expired. Exactly one of
    /// the two must be given, so that no request expires a whole organization by omission.
    pub async fn expire_org_passwords(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        all: bool,
        changed_before: Option<Timestamp>,
    ) -> ServiceResult<u64> {
        let org = caller.allow(org_id, Action::Manage)?.org_id;
        match (all, changed_before) {
            (true, Some(_)) => {
                return Err(ServiceError::invalid(Violation::new(
                    "changed_before",
                    codes::INVALID_JSON,
                    "give either `all: true` or `changed_before`, not both",
                )));
            }
            (false, None) => {
                return Err(ServiceError::invalid(Violation::new(
                    "all",
                    codes::REQUIRED,
                    "give `all: true` to expire every password, or `changed_before`",
                )));
            }
            _ => {}
        }
        if let Some(at) = changed_before
            && !(EARLIEST..=LATEST).contains(&at.year())
        {
            return Err(ServiceError::invalid(
                Violation::new(
                    "changed_before",
                    codes::OUT_OF_RANGE,
                    format!("must be a time between the years {EARLIEST} and {LATEST}"),
                )
                .with("min", EARLIEST)
                .with("max", LATEST),
            ));
        }
        self.require_known_org(&org).await?;
        let now = self.now();
        let event = DomainEvent::PasswordsExpired(PasswordsExpired {
            changed_before: changed_before.map(portcullis_model::rfc3339),
        })
        .draft(ctx, Some(&org), now);
        let target = match changed_before {
            Some(at) => ExpiryTarget::ChangedBefore(at),
            None => ExpiryTarget::All,
        };
        Ok(self
            .store
            .expire_passwords(&org, &target, now, event)
            .await?)
    }
}
