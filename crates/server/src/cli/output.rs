//! How client commands show answers: aligned text tables and key/value records for people,
//! the server's JSON for programs (`--output json`).
//!
//! Invariants: everything goes through a `std::io::Write` (the commands pass locked standard
//! output); a table's columns are aligned on characters, not bytes, and its last column is never
//! padded; a JSON value is printed pretty with one final newline, a stream of them (events) as
//! one compact object per line; a cell never spans lines.

use std::io::Write;

use serde_json::Value;

/// The output format of the client commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// The server's JSON (lists: one array of every item).
    Json,
}

/// Text of one JSON value in a cell: `-` for null or absent, strings as they are, lists of
/// scalars joined with commas, anything else as compact JSON; line breaks become spaces.
pub(crate) fn cell(value: Option<&Value>) -> String {
    let text = match value {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.iter().all(|v| !v.is_object() && !v.is_array()) => {
            if items.is_empty() {
                "-".to_owned()
            } else {
                items
                    .iter()
                    .map(|v| cell(Some(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            }
        }
        Some(other) => compact(other),
    };
    text.replace(['\n', '\r'], " ")
}

/// A value as compact JSON (`null` for none).
pub(crate) fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// An aligned table: a header line and one line per row.
pub(crate) struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub(crate) fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty, extra ones ignored).
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Writes the table.
    pub(crate) fn write(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, text) in row.iter().take(columns).enumerate() {
                widths[i] = widths[i].max(text.chars().count());
            }
        }
        let empty = String::new();
        for line in std::iter::once(&self.headers).chain(self.rows.iter()) {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = line.get(i).unwrap_or(&empty);
                if i + 1 == columns {
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    let pad = width - cell.chars().count() + 2;
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
            writeln!(w, "{}", text.trim_end())?;
        }
        Ok(())
    }
}

/// A table of `items` with one column per `(header, field)`.
pub(crate) fn items_table(items: &[Value], columns: &[(&str, &str)]) -> Table {
    let headers: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    let mut table = Table::new(&headers);
    for item in items {
        table.row(
            columns
                .iter()
                .map(|(_, field)| cell(item.get(*field)))
                .collect(),
        );
    }
    table
}

/// One object as `field  value` lines, for the given fields in order.
pub(crate) fn record(w: &mut dyn Write, item: &Value, fields: &[&str]) -> std::io::Result<()> {
    let width = fields.iter().map(|f| f.chars().count()).max().unwrap_or(0);
    for field in fields {
        let pad = width - field.chars().count() + 2;
        let value = cell(item.get(*field));
        writeln!(w, "{field}{}{value}", " ".repeat(pad))?;
    }
    Ok(())
}

/// A JSON value, pretty, with a final newline.
pub(crate) fn json(w: &mut dyn Write, value: &Value) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    writeln!(w, "{text}")
}

/// Prints a list: the table in table mode, one JSON array in JSON mode.
pub(crate) fn list(
    format: OutputFormat,
    items: Vec<Value>,
    columns: &[(&str, &str)],
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => json(&mut out, &Value::Array(items))?,
        OutputFormat::Table => items_table(&items, columns).write(&mut out)?,
    }
    out.flush()
}

/// Prints one object: `fields` as a record in table mode, the whole value in JSON mode.
pub(crate) fn object(format: OutputFormat, value: &Value, fields: &[&str]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => json(&mut out, value)?,
        OutputFormat::Table => record(&mut out, value, fields)?,
    }
    out.flush()
}

/// Prints the answer of an action: `message` in table mode, the server's JSON (if it answered
/// any) in JSON mode.
pub(crate) fn done(format: OutputFormat, value: &Value, message: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => {
            if !value.is_null() {
                json(&mut out, value)?;
            }
        }
        OutputFormat::Table => writeln!(out, "{message}")?,
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn columns_are_aligned_and_the_last_is_not_padded() {
        let items = vec![
            json!({"id": "acme", "name": "Acme Corp", "roles": ["org_admin", "member"]}),
            json!({"id": "b", "name": null, "roles": []}),
        ];
        let mut out = Vec::new();
        items_table(
            &items,
            &[("ID", "id"), ("NAME", "name"), ("ROLES", "roles")],
        )
        .write(&mut out)
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ID    NAME       ROLES\nacme  Acme Corp  org_admin,member\nb     -          -\n"
        );
    }

    #[test]
    fn cells_never_span_lines() {
        assert_eq!(cell(Some(&json!("a\nb"))), "a b");
        assert_eq!(cell(Some(&json!({"k": 1}))), r#"{"k":1}"#);
        assert_eq!(cell(Some(&json!(true))), "true");
    }

    #[test]
    fn records_align_their_names() {
        let mut out = Vec::new();
        record(
            &mut out,
            &json!({"id": "k1", "expires_at": null}),
            &["id", "expires_at"],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id          k1\nexpires_at  -\n"
        );
    }
}
