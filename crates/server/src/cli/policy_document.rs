//! The policy document: one file describing a whole instance's policy (docs/policy-as-code.md),
//! its serde types, reading and writing it as YAML or JSON, and its JSON Schema (committed as
//! `openapi/policy-document.schema.json`).
//!
//! Invariants: a section value is the model's own section type, so a file is read with the
//! server's field names, defaults and unknown-field refusal, and written in exactly the form the
//! server shows; sections are written in the fixed order password, lockout, brute_force,
//! session, tokens, api_keys, mfa, features, organizations sorted by id, so the same state
//! always writes the same bytes; `version` is 1; the schema is JSON Schema 2020-12, built from
//! utoipa's schemas with every referenced component under `$defs`.

use std::path::Path;

use portcullis_model::{
    ApiKeysPolicy, BruteForcePolicy, FeaturesPolicy, LockoutPolicy, MfaPolicy, PasswordPolicy,
    SectionKind, SessionPolicy, TokensPolicy,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{PartialSchema, ToSchema};

use crate::cli::client::CliError;

/// The version of the document format this binary reads and writes.
pub const DOCUMENT_VERSION: u32 = 1;

/// A policy document: the instance defaults and organizations' own sections.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// The document format's version: 1.
    #[schema(minimum = 1, maximum = 1)]
    pub version: u32,
    /// The instance defaults (every organization inherits the sections it has no own value
    /// of). Absent: the instance is left as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub instance: Option<InstanceDocument>,
    /// Organizations, sorted by id; each lists only its own (custom) sections.
    #[serde(default)]
    pub organizations: Vec<OrganizationDocument>,
}

/// The instance defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceDocument {
    /// The default of each section (an export lists all eight; a section left out is the
    /// built-in default when applied with `--prune`, and left as it is without).
    #[serde(default)]
    pub sections: Sections,
}

/// One organization and its own sections.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationDocument {
    /// Its id (`[A-Za-z0-9._-]{1,64}`).
    pub id: String,
    /// Its display name (used when the organization is created; default: the id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// Its own (custom) sections; a section left out is inherited from the instance (with
    /// `--prune`; without, an own section the file does not list is kept).
    #[serde(default)]
    pub sections: Sections,
}

/// Policy sections by name, each one the whole value of the section (fields left out take the
/// built-in defaults, as in `PUT …/policy/{section}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Sections {
    /// Named password policies (1–50, exactly one the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub password: Option<Vec<PasswordPolicy>>,
    /// Account lockout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub lockout: Option<LockoutPolicy>,
    /// IP brute-force blocking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub brute_force: Option<BruteForcePolicy>,
    /// Login and session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub session: Option<SessionPolicy>,
    /// Token lifetimes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub tokens: Option<TokensPolicy>,
    /// API key lifetimes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub api_keys: Option<ApiKeysPolicy>,
    /// MFA requirements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub mfa: Option<MfaPolicy>,
    /// Self-service features and other tenant settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub features: Option<FeaturesPolicy>,
}

fn to_json<T: Serialize>(value: &Option<T>) -> Option<Value> {
    value.as_ref().and_then(|v| serde_json::to_value(v).ok())
}

fn from_json<T: serde::de::DeserializeOwned>(
    kind: SectionKind,
    value: Value,
) -> Result<T, CliError> {
    serde_json::from_value(value)
        .map_err(|e| CliError::Input(format!("the `{kind}` section cannot be read: {e}")))
}

impl Sections {
    /// A section's value as JSON (the form the server shows), when listed.
    pub fn get(&self, kind: SectionKind) -> Option<Value> {
        match kind {
            SectionKind::Password => to_json(&self.password),
            SectionKind::Lockout => to_json(&self.lockout),
            SectionKind::BruteForce => to_json(&self.brute_force),
            SectionKind::Session => to_json(&self.session),
            SectionKind::Tokens => to_json(&self.tokens),
            SectionKind::ApiKeys => to_json(&self.api_keys),
            SectionKind::Mfa => to_json(&self.mfa),
            SectionKind::Features => to_json(&self.features),
        }
    }

    /// Sets a section from its JSON value (as the server shows it).
    pub fn set(&mut self, kind: SectionKind, value: Value) -> Result<(), CliError> {
        match kind {
            SectionKind::Password => self.password = Some(from_json(kind, value)?),
            SectionKind::Lockout => self.lockout = Some(from_json(kind, value)?),
            SectionKind::BruteForce => self.brute_force = Some(from_json(kind, value)?),
            SectionKind::Session => self.session = Some(from_json(kind, value)?),
            SectionKind::Tokens => self.tokens = Some(from_json(kind, value)?),
            SectionKind::ApiKeys => self.api_keys = Some(from_json(kind, value)?),
            SectionKind::Mfa => self.mfa = Some(from_json(kind, value)?),
            SectionKind::Features => self.features = Some(from_json(kind, value)?),
        }
        Ok(())
    }

    /// The built-in default of a section, as JSON.
    pub fn builtin(kind: SectionKind) -> Value {
        let value = match kind {
            SectionKind::Password => serde_json::to_value(vec![PasswordPolicy::default()]),
            SectionKind::Lockout => serde_json::to_value(LockoutPolicy::default()),
            SectionKind::BruteForce => serde_json::to_value(BruteForcePolicy::default()),
            SectionKind::Session => serde_json::to_value(SessionPolicy::default()),
            SectionKind::Tokens => serde_json::to_value(TokensPolicy::default()),
            SectionKind::ApiKeys => serde_json::to_value(ApiKeysPolicy::default()),
            SectionKind::Mfa => serde_json::to_value(MfaPolicy::default()),
            SectionKind::Features => serde_json::to_value(FeaturesPolicy::default()),
        };
        value.unwrap_or(Value::Null)
    }
}

/// The format of a document file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DocumentFormat {
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

impl DocumentFormat {
    /// The format a file's extension names (`.yaml`, `.yml`, `.json`).
    pub fn of_path(path: &Path) -> Result<DocumentFormat, CliError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("yaml" | "yml") => Ok(DocumentFormat::Yaml),
            Some("json") => Ok(DocumentFormat::Json),
            _ => Err(CliError::Input(format!(
                "{}: a policy document ends in .yaml, .yml or .json",
                path.display()
            ))),
        }
    }
}

impl PolicyDocument {
    /// Checks what serde cannot: the version, organization ids unique and sorted.
    fn check(mut self) -> Result<PolicyDocument, String> {
        if self.version != DOCUMENT_VERSION {
            return Err(format!(
                "version {} is not supported (this binary reads version {DOCUMENT_VERSION})",
                self.version
            ));
        }
        self.organizations.sort_by(|a, b| a.id.cmp(&b.id));
        for pair in self.organizations.windows(2) {
            if pair[0].id == pair[1].id {
                return Err(format!("organization `{}` is listed twice", pair[0].id));
            }
        }
        Ok(self)
    }

    /// Reads a document from text in a format.
    pub fn parse(text: &str, format: DocumentFormat) -> Result<PolicyDocument, String> {
        let document: PolicyDocument = match format {
            DocumentFormat::Json => serde_json::from_str(text).map_err(|e| e.to_string())?,
            DocumentFormat::Yaml => serde_norway::from_str(text).map_err(|e| e.to_string())?,
        };
        document.check()
    }

    /// Reads a document file (format by extension).
    pub fn read(path: &Path) -> Result<PolicyDocument, CliError> {
        let format = DocumentFormat::of_path(path)?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::Input(format!("reading {}: {e}", path.display())))?;
        PolicyDocument::parse(&text, format)
            .map_err(|e| CliError::Input(format!("{}: {e}", path.display())))
    }

    /// The document as text: pretty JSON or YAML, with a final newline.
    pub fn render(&self, format: DocumentFormat) -> Result<String, CliError> {
        let text = match format {
            DocumentFormat::Json => serde_json::to_string_pretty(self)
                .map(|mut t| {
                    t.push('\n');
                    t
                })
                .map_err(|e| e.to_string()),
            DocumentFormat::Yaml => serde_norway::to_string(self).map_err(|e| e.to_string()),
        };
        text.map_err(|e| CliError::Input(format!("writing the document: {e}")))
    }
}

/// Rewrites `#/components/schemas/X` references to `#/$defs/X`, everywhere in `value`.
fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                if key == "$ref" {
                    if let Value::String(target) = field
                        && let Some(name) = target.strip_prefix("#/components/schemas/")
                    {
                        *target = format!("#/$defs/{name}");
                    }
                } else {
                    rewrite_refs(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// The JSON Schema (2020-12) of the policy document, pretty, with a final newline: the
/// document's schema at the root, every component it references under `$defs` (sorted by name).
pub fn schema_json() -> String {
    let mut components = Vec::new();
    <PolicyDocument as ToSchema>::schemas(&mut components);
    let mut defs = std::collections::BTreeMap::new();
    for (name, schema) in components {
        let mut value = serde_json::to_value(schema).unwrap_or(Value::Null);
        rewrite_refs(&mut value);
        defs.insert(name, value);
    }
    let mut root = serde_json::Map::new();
    root.insert(
        "$schema".into(),
        Value::String("https://json-schema.org/draft/2020-12/schema".into()),
    );
    root.insert(
        "$id".into(),
        Value::String("https://portcullis.invalid/policy-document.schema.json".into()),
    );
    root.insert(
        "title".into(),
        Value::String("portcullis policy document".into()),
    );
    let mut document = serde_json::to_value(PolicyDocument::schema()).unwrap_or(Value::Null);
    rewrite_refs(&mut document);
    if let Value::Object(fields) = document {
        for (key, value) in fields {
            root.entry(key).or_insert(value);
        }
    }
    root.insert("$defs".into(), Value::Object(defs.into_iter().collect()));
    let mut text = serde_json::to_string_pretty(&Value::Object(root)).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_read_the_same_document() {
        let yaml = "version: 1\norganizations:\n- id: b\n  sections:\n    lockout:\n      max_password_attempts: 5\n- id: a\n";
        let doc = PolicyDocument::parse(yaml, DocumentFormat::Yaml).unwrap();
        assert_eq!(doc.organizations[0].id, "a", "sorted by id");
        let lockout = doc.organizations[1].sections.lockout.as_ref().unwrap();
        assert_eq!(lockout.max_password_attempts, 5);
        assert_eq!(
            lockout.lock_duration,
            LockoutPolicy::default().lock_duration
        );
        let json = doc.render(DocumentFormat::Json).unwrap();
        assert_eq!(
            PolicyDocument::parse(&json, DocumentFormat::Json).unwrap(),
            doc
        );
        let yaml = doc.render(DocumentFormat::Yaml).unwrap();
        assert_eq!(
            PolicyDocument::parse(&yaml, DocumentFormat::Yaml).unwrap(),
            doc
        );
    }

    #[test]
    fn unknown_fields_versions_and_repeated_ids_are_refused() {
        for (text, wanted) in [
            ("version: 2\n", "version 2"),
            ("version: 1\nextra: 1\n", "unknown field"),
            (
                "version: 1\norganizations:\n- id: a\n  sections:\n    lockout:\n      nope: 1\n",
                "unknown field",
            ),
            ("version: 1\norganizations:\n- id: a\n- id: a\n", "twice"),
        ] {
            let error = PolicyDocument::parse(text, DocumentFormat::Yaml).unwrap_err();
            assert!(error.contains(wanted), "{text}: {error}");
        }
    }

    #[test]
    fn the_schema_references_only_its_defs() {
        let schema: Value = serde_json::from_str(&schema_json()).unwrap();
        let text = schema.to_string();
        assert!(!text.contains("#/components/"));
        let defs = schema["$defs"].as_object().unwrap();
        for name in [
            "LockoutPolicy",
            "PasswordPolicy",
            "Sections",
            "OrganizationDocument",
        ] {
            assert!(defs.contains_key(name), "{name} is defined");
        }
        for reference in text.split("\"#/$defs/").skip(1) {
            let name = &reference[..reference.find('"').unwrap()];
            assert!(defs.contains_key(name), "{name} is defined");
        }
    }
}
