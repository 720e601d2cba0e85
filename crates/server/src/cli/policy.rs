//! `portcullis policy`: export the live policy as a document, plan and apply a document, print
//! the document's JSON Schema (docs/policy-as-code.md).
//!
//! Invariants: `export` writes the same bytes for the same state; `plan` and `apply` compute one
//! plan the same way (`policy_plan`), read every scope before writing any; `apply` creates the
//! missing organizations, then writes each changed scope with one `PUT …/policy` carrying
//! `If-Match` with the version the plan was computed on (a concurrent change fails with 412 and
//! exit status 1), and writes nothing for a scope without a change; `plan` exits 2 when there
//! are changes.

use std::io::Write;
use std::path::{Path, PathBuf};

use portcullis_model::SectionKind;
use serde_json::{Value, json};

use crate::cli::client::{CliError, Client, segment};
use crate::cli::output::{self, OutputFormat};
use crate::cli::policy_document::{
    DOCUMENT_VERSION, DocumentFormat, InstanceDocument, OrganizationDocument, PolicyDocument,
    Sections, schema_json,
};
use crate::cli::policy_plan::{LiveScope, LiveSection, ScopePlan, plan_instance, plan_org};
use crate::cli::{orgs, scope_path};

/// `portcullis policy …`
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Writes the live policy as a document: the instance defaults (all sections) and every
    /// organization's own sections.
    Export {
        /// Only this organization (and no `instance`).
        #[arg(long)]
        org: Option<String>,
        /// Writes to this file (`.yaml`, `.yml` or `.json`) instead of standard output.
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        file: Option<PathBuf>,
        /// The format (default: by the file's extension; YAML on standard output).
        #[arg(long, value_enum)]
        format: Option<DocumentFormat>,
    },
    /// Prints what applying a document would change; exits 2 when something would.
    Plan {
        /// The document (`.yaml`, `.yml` or `.json`).
        file: PathBuf,
        /// Also resets the own sections the document does not list.
        #[arg(long)]
        prune: bool,
    },
    /// Makes the server match a document: creates missing organizations, then one write per
    /// changed scope, guarded by the version the plan was computed on.
    Apply {
        /// The document (`.yaml`, `.yml` or `.json`).
        file: PathBuf,
        /// Also resets the own sections the document does not list.
        #[arg(long)]
        prune: bool,
    },
    /// Prints the JSON Schema of the policy document.
    Schema,
}

/// A section of a policy answer: `(custom, value)`. For the instance, `is_default` is read when
/// the server gives it, else a section never written has `details.sequence` 0.
fn live_section(entry: &Value) -> Option<LiveSection> {
    let value = entry.get("value")?.clone();
    let custom = match entry.get("is_default").and_then(Value::as_bool) {
        Some(is_default) => !is_default,
        None => entry
            .get("details")
            .and_then(|d| d.get("sequence"))
            .and_then(Value::as_u64)
            .is_some_and(|s| s != 0),
    };
    Some(LiveSection { custom, value })
}

/// Reads a scope's live policy (`GET …/policy`); `None` when the organization does not exist.
async fn read_live(client: &Client, scope: &str) -> Result<Option<LiveScope>, CliError> {
    let path = format!("{}/policy", scope_path(scope));
    let reply = match client
        .send(reqwest::Method::GET, &path, &[], None, None)
        .await
    {
        Ok(reply) => reply,
        Err(e) if e.status() == Some(404) && scope != crate::cli::INSTANCE => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut sections = Vec::new();
    for kind in SectionKind::ALL {
        let section = reply
            .body
            .get(kind.as_str())
            .and_then(live_section)
            .ok_or_else(|| {
                CliError::Transport(format!("the policy of {scope} has no `{kind}` section"))
            })?;
        sections.push((kind, section));
    }
    Ok(Some(LiveScope {
        version: reply.etag,
        sections,
    }))
}

/// The sections of a live scope: every one (`all`), or only its own.
fn document_sections(live: &LiveScope, all: bool) -> Result<Sections, CliError> {
    let mut sections = Sections::default();
    for (kind, section) in &live.sections {
        if all || section.custom {
            sections
                .set(*kind, section.value.clone())
                .map_err(|e| match e {
                    CliError::Input(text) => CliError::Transport(text),
                    other => other,
                })?;
        }
    }
    Ok(sections)
}

async fn org_document(
    client: &Client,
    id: &str,
    name: Option<String>,
) -> Result<OrganizationDocument, CliError> {
    let live = read_live(client, id)
        .await?
        .ok_or_else(|| CliError::Input(format!("organization {id} does not exist")))?;
    Ok(OrganizationDocument {
        id: id.to_owned(),
        name,
        sections: document_sections(&live, false)?,
    })
}

/// The live policy as a document.
async fn export(client: &Client, org: Option<&str>) -> Result<PolicyDocument, CliError> {
    if let Some(id) = org {
        let view = client
            .get(&format!("/v1/orgs/{}", segment(id)), &[])
            .await?;
        let name = view.get("name").and_then(Value::as_str).map(str::to_owned);
        return Ok(PolicyDocument {
            version: DOCUMENT_VERSION,
            instance: None,
            organizations: vec![org_document(client, id, name).await?],
        });
    }
    let instance = read_live(client, crate::cli::INSTANCE)
        .await?
        .ok_or_else(|| CliError::Transport("the instance policy is missing".into()))?;
    let mut organizations = Vec::new();
    for item in client.list("/v1/orgs", &[], None).await? {
        let Some(id) = item.get("id").and_then(Value::as_str) else {
            continue;
        };
        let name = item.get("name").and_then(Value::as_str).map(str::to_owned);
        organizations.push(org_document(client, id, name).await?);
    }
    organizations.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(PolicyDocument {
        version: DOCUMENT_VERSION,
        instance: Some(InstanceDocument {
            sections: document_sections(&instance, true)?,
        }),
        organizations,
    })
}

/// Every scope's plan, instance first, then organizations by id; every scope is read before
/// anything is written.
async fn plan(
    client: &Client,
    document: &PolicyDocument,
    prune: bool,
) -> Result<Vec<ScopePlan>, CliError> {
    let mut plans = Vec::new();
    if let Some(instance) = &document.instance {
        let live = read_live(client, crate::cli::INSTANCE)
            .await?
            .ok_or_else(|| CliError::Transport("the instance policy is missing".into()))?;
        plans.push(plan_instance(&instance.sections, &live, prune));
    }
    for org in &document.organizations {
        let live = read_live(client, &org.id).await?;
        plans.push(plan_org(
            &org.id,
            org.name.as_deref(),
            &org.sections,
            live.as_ref(),
            prune,
        ));
    }
    Ok(plans)
}

fn names(kinds: &[SectionKind]) -> Vec<String> {
    kinds.iter().map(|k| k.to_string()).collect()
}

/// Writes the plan's lines and its summary (table mode), or the plans as JSON.
fn show_plan(w: &mut dyn Write, format: OutputFormat, plans: &[ScopePlan]) -> std::io::Result<()> {
    if format == OutputFormat::Json {
        let scopes: Vec<Value> = plans
            .iter()
            .filter(|p| p.has_changes())
            .map(|p| {
                json!({
                    "scope": p.label(),
                    "create": p.create.is_some(),
                    "version": p.version,
                    "changed": names(&p.changed),
                    "reset": names(&p.reset),
                    "lines": p.lines,
                    "body": p.body,
                })
            })
            .collect();
        return output::json(
            w,
            &json!({ "changes": !scopes.is_empty(), "scopes": scopes }),
        );
    }
    for line in plans.iter().flat_map(|p| &p.lines) {
        writeln!(w, "{line}")?;
    }
    let created = plans.iter().filter(|p| p.create.is_some()).count();
    let changed: usize = plans.iter().map(|p| p.changed.len()).sum();
    let reset: usize = plans.iter().map(|p| p.reset.len()).sum();
    if created + changed + reset == 0 {
        writeln!(w, "No changes: the server matches the document.")
    } else {
        writeln!(
            w,
            "Plan: {created} organization(s) to create, {changed} section(s) to change, {reset} to reset."
        )
    }
}

/// Writes one line on standard output, at once.
fn say(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Applies the plans: creations, then one guarded `PUT` per changed scope.
async fn apply(client: &Client, format: OutputFormat, plans: &[ScopePlan]) -> Result<(), CliError> {
    let mut results = Vec::new();
    let done = apply_plans(client, format, plans, &mut results).await;
    // What was written before a failure is reported too.
    if format == OutputFormat::Json {
        let mut out = std::io::stdout().lock();
        output::json(&mut out, &Value::Array(results))?;
        out.flush()?;
    }
    done
}

async fn apply_plans(
    client: &Client,
    format: OutputFormat,
    plans: &[ScopePlan],
    results: &mut Vec<Value>,
) -> Result<(), CliError> {
    for plan in plans.iter().filter(|p| p.has_changes()) {
        let label = plan.label().to_owned();
        let mut version = plan.version.clone();
        if let (Some(name), Some(id)) = (&plan.create, &plan.org) {
            orgs::create(client, id, Some(name)).await?;
            if format == OutputFormat::Table {
                say(&format!("created organization {id}"))?;
            }
            version = None;
        }
        if plan.changed.is_empty() && plan.reset.is_empty() {
            continue;
        }
        if plan.create.is_none() && version.is_none() {
            // Without the version the plan was made against, the write would be unconditional
            // and could undo a change made since: refuse.
            return Err(CliError::Input(format!(
                "the server sent no ETag with the policy of {label} (a proxy may strip it): \
                 refusing to apply without the version the plan was made against"
            )));
        }
        let path = format!(
            "{}/policy",
            scope_path(plan.org.as_deref().unwrap_or(crate::cli::INSTANCE))
        );
        let reply = client
            .send(
                reqwest::Method::PUT,
                &path,
                &[],
                Some(&plan.body),
                version.as_deref(),
            )
            .await
            .map_err(|e| {
                if e.status() == Some(412) {
                    e.with_hint(format!(
                        "the policy of {label} changed since the plan was read; nothing of it was written. Run `portcullis policy plan` again."
                    ))
                } else {
                    e
                }
            })?;
        let list = |key: &str| {
            reply
                .body
                .get(key)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        if format == OutputFormat::Table {
            let new_version = reply
                .body
                .get("version")
                .map(|v| output::cell(Some(v)))
                .or(reply.etag.clone())
                .unwrap_or_else(|| "-".into());
            let changed = list("changed");
            let reset = list("reset");
            say(&format!(
                "wrote {label}: changed [{changed}], reset [{reset}], version {new_version}"
            ))?;
        }
        let mut result = reply.body.clone();
        if let Value::Object(fields) = &mut result {
            fields.insert("scope".into(), Value::String(label));
            fields.insert("created".into(), Value::Bool(plan.create.is_some()));
        }
        results.push(result);
    }
    Ok(())
}

fn write_document(
    document: &PolicyDocument,
    file: Option<&Path>,
    format: Option<DocumentFormat>,
) -> Result<(), CliError> {
    let Some(path) = file else {
        let text = document.render(format.unwrap_or(DocumentFormat::Yaml))?;
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        return Ok(());
    };
    let by_extension = DocumentFormat::of_path(path)?;
    if format.is_some_and(|f| f != by_extension) {
        return Err(CliError::Input(format!(
            "--format contradicts the extension of {}",
            path.display()
        )));
    }
    let text = document.render(by_extension)?;
    std::fs::write(path, text)
        .map_err(|e| CliError::Input(format!("writing {}: {e}", path.display())))
}

/// Runs a `policy` command; answers whether `plan` found changes (exit status 2).
pub(crate) async fn run(
    client: &Client,
    format: OutputFormat,
    command: PolicyCommand,
) -> Result<bool, CliError> {
    match command {
        PolicyCommand::Schema => {
            let mut out = std::io::stdout().lock();
            out.write_all(schema_json().as_bytes())?;
            out.flush()?;
            Ok(false)
        }
        PolicyCommand::Export {
            org,
            file,
            format: document_format,
        } => {
            let document = export(client, org.as_deref()).await?;
            write_document(&document, file.as_deref(), document_format)?;
            Ok(false)
        }
        PolicyCommand::Plan { file, prune } => {
            let document = PolicyDocument::read(&file)?;
            let plans = plan(client, &document, prune).await?;
            let mut out = std::io::stdout().lock();
            show_plan(&mut out, format, &plans)?;
            out.flush()?;
            Ok(plans.iter().any(ScopePlan::has_changes))
        }
        PolicyCommand::Apply { file, prune } => {
            let document = PolicyDocument::read(&file)?;
            let plans = plan(client, &document, prune).await?;
            if format == OutputFormat::Table {
                let mut out = std::io::stdout().lock();
                show_plan(&mut out, format, &plans)?;
                out.flush()?;
            }
            apply(client, format, &plans).await?;
            Ok(false)
        }
    }
}
