//! The OpenAPI 3.1 document, generated from the handlers' annotations. The committed copy is
//! `openapi/v1.json`; a test fails when they differ.

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::routes::{keys, mfa, ops, orgs, policy, self_service, session, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "portcullis", description = "Security settings of organizations, managed and enforced."),
    paths(
        ops::healthz, ops::readyz, ops::metrics,
        orgs::create_org, orgs::list_orgs, orgs::get_org,
        policy::get_instance_policy, policy::put_instance_section, policy::patch_instance_section,
        policy::get_org_policy, policy::put_org_section, policy::patch_org_section, policy::reset_org_section,
        policy::list_password_policies, policy::create_password_policy, policy::get_password_policy,
        policy::replace_password_policy, policy::delete_password_policy, policy::check_password,
        users::create_user, users::list_users, users::get_user, users::update_user, users::delete_user,
        users::set_user_password, users::unlock_user, users::get_user_lock,
        session::login, mfa::login_mfa, session::change_own_password, session::get_self, session::logout,
        mfa::start_totp, mfa::confirm_totp, mfa::remove_totp, mfa::reset_user_mfa,
        self_service::unblock, self_service::request_password_reset, self_service::confirm_password_reset,
        self_service::register, self_service::verify_email, self_service::delete_self, self_service::list_outbox,
        keys::create_api_key, keys::create_access_key, keys::list_api_keys, keys::delete_api_key, keys::list_events, keys::list_instance_events,
        keys::create_instance_key, keys::list_instance_keys, keys::delete_instance_key,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The document as pretty JSON with a final newline (the committed form).
pub fn document_json() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}
