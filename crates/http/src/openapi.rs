//! The OpenAPI 3.1 document, generated from the handlers' annotations as the router registers
//! them ([`crate::api_routes`]), so the document lists exactly the routes served. The committed
//! copy is `openapi/v1.json`; a test fails when they differ.

use std::sync::OnceLock;

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "portcullis", description = "Security settings of organizations, managed and enforced."),
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

/// The document before the routes add their paths: title, version, bearer authentication.
pub(crate) fn base_document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The document, with the answers every operation can give completed ([`complete_answers`]).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = crate::api_routes().into_openapi();
    complete_answers(&mut document);
    text_rules(&mut document);
    document
}

/// The document as pretty JSON with a final newline (the committed form), built once.
pub fn document_json() -> String {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
        text.push('\n');
        text
    })
    .clone()
}

/// A problem answer's media type (RFC 9457).
const PROBLEM_JSON: &str = "application/problem+json";

/// The error answers the request layer and the extractors give to any operation, added to each
/// operation that can get them (its own documented ones kept), and every problem body under
/// its real media type, `application/problem+json`:
/// - every operation: `500` (a bug) and `503` (the database is unreachable);
/// - an authenticated one: `401` (no or a bad token) and `403` (a role too weak, a restricted
///   session);
/// - one with a path parameter: `404` (no such resource, or another organization's);
/// - one with a body: `400` (invalid), `413` (too large), `415` (not JSON);
/// - one with query parameters: `400`.
///
/// The operational routes (`/healthz`, `/readyz`, `/metrics`, `/openapi.json`) answer plain
/// text or JSON of their own and are left as documented.
fn complete_answers(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{Operation, ParameterIn};
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    let complete = |path: &str, operation: &mut Operation| {
        if operation
            .tags
            .as_ref()
            .is_some_and(|tags| tags.iter().any(|t| t == "ops"))
        {
            return;
        }
        let anonymous = operation
            .security
            .as_ref()
            .is_some_and(|list| list.iter().any(|s| *s == SecurityRequirement::default()));
        let has_body = operation.request_body.is_some();
        let has_query = operation.parameters.as_ref().is_some_and(|list| {
            list.iter()
                .any(|p| matches!(p.parameter_in, ParameterIn::Query))
        });
        let mut wanted = vec![
            (
                "500",
                "Internal error (a bug; the cause is logged, never sent)",
            ),
            ("503", "The database is unreachable; retry (`Retry-After`)"),
        ];
        if !anonymous {
            wanted.push((
                "401",
                "No token, or a token that is unknown, expired or revoked",
            ));
            wanted.push((
                "403",
                "The caller's role is too weak, or its session is restricted",
            ));
        }
        if path.contains('{') {
            wanted.push(("404", "No such resource, or one of another organization"));
        }
        if has_body || has_query {
            wanted.push(("400", "Invalid input: every violation, with its field"));
        }
        if has_body {
            wanted.push(("413", "The body is over the size limit"));
            wanted.push(("415", "The body is not `application/json`"));
        }
        let responses = &mut operation.responses.responses;
        for (status, description) in wanted {
            responses
                .entry(status.to_owned())
                .or_insert_with(|| problem(description));
        }
        for response in responses.values_mut() {
            let RefOr::T(response) = response else {
                continue;
            };
            let is_problem = response.content.get("application/json").is_some_and(|media| {
                matches!(&media.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"))
            });
            if is_problem && let Some(media) = response.content.shift_remove("application/json") {
                response.content.insert(PROBLEM_JSON.to_owned(), media);
            }
        }
    };
    for (path, item) in document.paths.paths.iter_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            complete(path, operation);
        }
    }
}

/// The free texts people type, with the rules the service holds them to
/// (`crates/service/src/text.rs`): `(schema, property, most characters, must hold a visible
/// character)`. The pattern comes from [`portcullis_model::names::name_text_pattern`], the
/// same table of code points the service refuses.
const TEXT_FIELDS: &[(&str, &str, usize, bool)] = &[
    ("NewOrg", "name", 200, true),
    ("NewUser", "login", 256, true),
    ("NewUser", "email", 320, false),
    ("NewUser", "display_name", 256, false),
    ("NewUser", "source", 128, false),
    ("UserPatch", "email", 320, false),
    ("UserPatch", "display_name", 256, false),
    ("UserPatch", "source", 128, false),
    ("Registration", "login", 256, true),
    ("Registration", "email", 320, false),
    ("Registration", "display_name", 256, false),
    ("NewApiKey", "name", 128, true),
    ("NewAccessKey", "name", 128, true),
    ("NewInstanceKey", "name", 128, true),
];

/// Writes [`TEXT_FIELDS`]' length and pattern into their schemas.
fn text_rules(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;

    let Some(components) = document.components.as_mut() else {
        return;
    };
    for (schema, property, max, non_blank) in TEXT_FIELDS {
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*schema) else {
            continue;
        };
        let Some(RefOr::T(Schema::Object(field))) = object.properties.get_mut(*property) else {
            continue;
        };
        field.max_length = Some(*max);
        if *non_blank {
            field.min_length = Some(1);
        }
        field.pattern = Some(portcullis_model::names::name_text_pattern(*non_blank));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_rule_names_a_string_property_of_the_document() {
        let document = serde_json::to_value(document()).unwrap();
        for (schema, property, max, _) in TEXT_FIELDS {
            let field = &document["components"]["schemas"][schema]["properties"][property];
            assert_eq!(field["maxLength"], *max, "{schema}.{property}: {field}");
            assert!(field["pattern"].is_string(), "{schema}.{property}: {field}");
        }
    }

    #[test]
    fn every_operation_documents_the_errors_it_can_answer_as_problems() {
        let document: serde_json::Value = serde_json::from_str(&document_json()).unwrap();
        assert!(
            document_json().starts_with("{\n  \"openapi\""),
            "key order kept"
        );
        let login = &document["paths"]["/v1/orgs/{org}/login"]["post"]["responses"];
        for status in ["400", "404", "413", "415", "500", "503"] {
            assert!(login.get(status).is_some(), "login {status}");
        }
        assert!(login.get("403").is_some(), "its own documented 403 stays");
        let users = &document["paths"]["/v1/orgs/{org}/users"]["get"]["responses"];
        for status in ["400", "401", "403", "404", "500", "503"] {
            assert!(users.get(status).is_some(), "users {status}");
        }
        assert!(users["404"]["content"]["application/problem+json"].is_object());
        assert!(users["404"]["content"].get("application/json").is_none());
        // Every policy write retries on a concurrent change and answers 409 when it gives up.
        for (path, method) in [
            ("/v1/instance/policy", "put"),
            ("/v1/instance/policy/{section}", "put"),
            ("/v1/instance/policy/{section}", "patch"),
            ("/v1/orgs/{org}/policy", "put"),
            ("/v1/orgs/{org}/policy/{section}", "put"),
            ("/v1/orgs/{org}/policy/{section}", "patch"),
            ("/v1/orgs/{org}/password-policies", "post"),
            ("/v1/orgs/{org}/password-policies/{id}", "put"),
            ("/v1/orgs/{org}/password-policies/{id}", "delete"),
        ] {
            let answers = &document["paths"][path][method]["responses"];
            assert!(answers["409"].is_object(), "{method} {path}: {answers}");
        }
        // Every reference names a component the document holds.
        let text = document_json();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        for part in text.split("\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "dangling reference to {name}");
        }
        let health = &document["paths"]["/healthz"]["get"]["responses"];
        assert!(
            health.get("500").is_none(),
            "operational routes are left as they are"
        );
    }
}
