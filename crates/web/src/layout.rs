//! The page shell and the form pieces every page is built from.
//!
//! Invariants: every value reaches the HTML through maud's escaping (`PreEscaped` only for the
//! server's own QR code SVG); every input has a `<label>`, and its errors are tied to it with
//! `aria-describedby` and shown next to it; pages use no inline script or style (the CSP forbids
//! both).

use maud::{DOCTYPE, Markup, html};
use portcullis_model::Violation;

use crate::guard::CSRF_FIELD;

/// Errors of a form: those of a field shown next to it, the others above the form.
#[derive(Clone, Debug, Default)]
pub(crate) struct FormErrors {
    list: Vec<(String, String)>,
}

impl FormErrors {
    /// No error.
    pub(crate) fn none() -> FormErrors {
        FormErrors::default()
    }

    /// One error of the whole form.
    pub(crate) fn form(message: impl Into<String>) -> FormErrors {
        FormErrors {
            list: vec![(String::new(), message.into())],
        }
    }

    /// Errors from the service's violations, each on the field it names (`field` is the
    /// violation's path; `prefix` is stripped from it, for forms of one policy section).
    pub(crate) fn from_violations(violations: &[Violation], prefix: &str) -> FormErrors {
        FormErrors {
            list: violations
                .iter()
                .map(|v| {
                    let field = v.field.strip_prefix(prefix).unwrap_or(&v.field);
                    let field = field.trim_start_matches('.').to_owned();
                    (field, v.message.clone())
                })
                .collect(),
        }
    }

    /// Errors from the service's violations, each on the form field `rename` names for its path
    /// (`None`: the path itself).
    pub(crate) fn renamed(
        violations: &[Violation],
        rename: impl Fn(&str) -> Option<&'static str>,
    ) -> FormErrors {
        FormErrors {
            list: violations
                .iter()
                .map(|v| {
                    let field = rename(&v.field).map_or_else(|| v.field.clone(), str::to_owned);
                    (field, v.message.clone())
                })
                .collect(),
        }
    }

    /// The messages of `field`.
    pub(crate) fn of<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.list
            .iter()
            .filter(move |(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    /// The messages of no field of `fields` (shown above the form).
    pub(crate) fn others<'a>(
        &'a self,
        fields: &'a [&'a str],
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.list
            .iter()
            .filter(move |(f, _)| !fields.contains(&f.as_str()))
            .map(|(_, m)| m.as_str())
    }
}

/// A whole page.
pub(crate) fn shell(title: &str, header: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · portcullis" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/assets/portcullis.css";
                script src="/assets/portcullis.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top { (header) }
                main #main { (body) }
            }
        }
    }
}

/// A page with only a title and a sentence (errors, refusals).
pub(crate) fn bare_page(title: &str, text: &str) -> Markup {
    shell(
        title,
        html! { span.brand { "portcullis" } },
        html! { h1 { (title) } p { (text) } },
    )
}

/// The hidden CSRF field of a form.
pub(crate) fn csrf(token: &str) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(token); }
}

/// A labelled input with its errors. `kind` is the input type; `autocomplete` helps password
/// managers.
pub(crate) fn input(
    label: &str,
    name: &str,
    kind: &str,
    value: &str,
    autocomplete: &str,
    errors: &FormErrors,
) -> Markup {
    let id = format!("f-{name}");
    let error_id = format!("{id}-error");
    let messages: Vec<&str> = errors.of(name).collect();
    html! {
        div.field {
            label for=(id) { (label) }
            @if messages.is_empty() {
                input id=(id) name=(name) type=(kind) value=(value) autocomplete=(autocomplete);
            } @else {
                input id=(id) name=(name) type=(kind) value=(value) autocomplete=(autocomplete)
                    aria-invalid="true" aria-describedby=(error_id);
                ul.errors id=(error_id) {
                    @for m in &messages { li { (m) } }
                }
            }
        }
    }
}

/// The errors of a form that belong to none of its `fields`.
pub(crate) fn form_errors(errors: &FormErrors, fields: &[&str]) -> Markup {
    let messages: Vec<&str> = errors.others(fields).collect();
    html! {
        @if !messages.is_empty() {
            div.alert role="alert" {
                ul { @for m in &messages { li { (m) } } }
            }
        }
    }
}

/// A notice (something done, or something to know).
pub(crate) fn notice(text: &str) -> Markup {
    html! { p.notice role="status" { (text) } }
}

/// A timestamp as people read it (UTC).
pub(crate) fn when(at: time::OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    at.format(&format).unwrap_or_else(|_| at.to_string())
}

/// A duration in seconds as people read it (`90 s`, `15 min`, `2 h`, `3 days`).
pub(crate) fn duration(seconds: u64) -> String {
    match seconds {
        0 => "none".into(),
        s if s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}
