//! The judge of query plans: what a plan of SQLite (`EXPLAIN QUERY PLAN`) or PostgreSQL
//! (`EXPLAIN`, generic plan, `enable_seqscan = off`) reveals about the rows a statement reads,
//! and the few statements allowed to read more than a seek finds, each with its reason.
//!
//! The adapters' test binaries capture every statement the store runs under
//! [`workload`](crate::workload), explain each one on their database and fail on any finding
//! that [`EXCEPTIONS`] does not excuse. What counts as a finding:
//! - [`Finding::FullScan`]: a table read from its first row to its last;
//! - [`Finding::IndexWalk`]: an index read end to end, or through a column that is not its first
//!   (SQLite's skip-scan), instead of a seek;
//! - [`Finding::CursorNotSought`]: a page's cursor (`id > $2` under `ORDER BY id`, or a row
//!   value `(a, b) > ($3, $4)`) that is not where the seek starts, so each page reads every row
//!   before it again (the shape of `($2 IS NULL OR id > $2)`);
//! - [`Finding::WholeOrganization`]: a seek on the organization (or policy owner) alone, which
//!   reads every row the organization has in that table;
//! - [`Finding::SortBeforeLimit`]: a `LIMIT` over a sort, which reads and sorts every match
//!   before answering the first row.
//!
//! The first three are structural ([`Finding::is_structural`]): no statistics make them go
//! away, only another statement or index. The last two are choices of a cost-based planner
//! between usable indexes, which depend on the table sizes it sees.
//!
//! Invariant: the judges are pure functions of the statement and its plan text, unit-tested
//! here with plans of statements that must be caught.

/// What a plan shows a statement reads beyond what a seek finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// A table read whole.
    FullScan {
        /// The table (or its alias in the statement).
        table: String,
    },
    /// An index read end to end, or not from its first column.
    IndexWalk {
        /// The table (or its alias).
        table: String,
        /// The index.
        index: String,
    },
    /// A seek on the organization (or owner) alone: every row of it in the table.
    WholeOrganization {
        /// The table (or its alias).
        table: String,
        /// The index.
        index: String,
    },
    /// A page's cursor the seek does not start from.
    CursorNotSought {
        /// The cursor's column (`id`), or columns of a row value (`due_at, key`).
        columns: String,
    },
    /// A `LIMIT` over a sort of every match.
    SortBeforeLimit,
}

impl Finding {
    /// Whether the finding holds whatever the statistics: no usable index, or a cursor that
    /// cannot be part of a seek.
    pub fn is_structural(&self) -> bool {
        matches!(
            self,
            Finding::FullScan { .. } | Finding::IndexWalk { .. } | Finding::CursorNotSought { .. }
        )
    }

    /// The kind of finding, as an exception names it.
    pub fn kind(&self) -> Kind {
        match self {
            Finding::FullScan { .. } => Kind::FullScan,
            Finding::IndexWalk { .. } => Kind::IndexWalk,
            Finding::WholeOrganization { .. } => Kind::WholeOrganization,
            Finding::CursorNotSought { .. } => Kind::CursorNotSought,
            Finding::SortBeforeLimit => Kind::SortBeforeLimit,
        }
    }
}

/// The kinds of [`Finding`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// [`Finding::FullScan`].
    FullScan,
    /// [`Finding::IndexWalk`].
    IndexWalk,
    /// [`Finding::WholeOrganization`].
    WholeOrganization,
    /// [`Finding::CursorNotSought`].
    CursorNotSought,
    /// [`Finding::SortBeforeLimit`].
    SortBeforeLimit,
}

/// A statement allowed one kind of finding, and why.
#[derive(Clone, Copy, Debug)]
pub struct Exception {
    /// A part of the statement's text that only it has.
    pub statement: &'static str,
    /// The finding it is allowed.
    pub kind: Kind,
    /// Why reading those rows is bounded, or who fixes it.
    pub reason: &'static str,
}

/// The statements allowed to read more than a seek finds. Each reason says what bounds the rows
/// read; an entry without such a bound names the change that removes it.
pub const EXCEPTIONS: &[Exception] = &[
    Exception {
        statement: "DELETE FROM sessions WHERE org_id = $1 AND id <> $2",
        kind: Kind::WholeOrganization,
        reason: "signing a whole organization out: an administrator's deliberate write over \
                 every session of the organization, which is the rows it must delete",
    },
    Exception {
        statement: "UPDATE users SET password_expired_at = $2, updated_at = $2 WHERE org_id = $1 \
                    AND password_hash IS NOT NULL AND password_expired_at IS NULL",
        kind: Kind::WholeOrganization,
        reason: "expiring an organization's passwords (all, or those set before a date): an \
                 administrator's deliberate write over the organization's users, which is the \
                 rows it must visit",
    },
    Exception {
        statement: "SELECT COUNT(*) AS waiting, MIN(created_at) AS oldest FROM outbox",
        kind: Kind::IndexWalk,
        reason: "the outbox backlog for /metrics: the partial index outbox_due holds exactly \
                 the mails not sent and not given up, which is what it counts",
    },
    Exception {
        statement: "SELECT EXISTS (SELECT 1 FROM api_keys WHERE org_id IS NULL) AS present",
        kind: Kind::WholeOrganization,
        reason: "an existence test: it stops at the first instance key",
    },
    Exception {
        statement: "EXISTS (SELECT 1 FROM api_keys WHERE org_id IS NULL AND id <> $1 AND parent_id IS NULL) AS others",
        kind: Kind::WholeOrganization,
        reason: "an existence test among the instance keys: it stops at the first other one \
                 of its own (keys issued from another, console sessions, are skipped; the \
                 instance keys are a handful)",
    },
    Exception {
        statement: "SELECT id FROM api_keys WHERE org_id IS NULL ORDER BY id",
        kind: Kind::WholeOrganization,
        reason: "deleting an instance key locks every instance key first (a handful) so that \
                 the last one is never deleted",
    },
    Exception {
        statement: " FROM sections WHERE owner = $1 ORDER BY section",
        kind: Kind::WholeOrganization,
        reason: "an owner's policy sections: at most one row per section name",
    },
    Exception {
        statement: "SELECT section, sequence FROM sections WHERE owner = $1 AND sequence > 0",
        kind: Kind::WholeOrganization,
        reason: "a guarded policy write compares every section of the owner (one row per \
                 section name)",
    },
    Exception {
        statement: "DELETE FROM ip_denials WHERE org_id = $1 RETURNING until",
        kind: Kind::WholeOrganization,
        reason: "the clear-all of an organization's blocks deletes every denial it has",
    },
    Exception {
        statement: "DELETE FROM ip_denials WHERE org_id = $1 AND until <= $2",
        kind: Kind::WholeOrganization,
        reason: "the sweep, once per organization: reads the organization's denylist (entries \
                 an administrator wrote), not anything that grows with users or logins",
    },
    Exception {
        statement: "SELECT key, state FROM counters WHERE org_id = $1 AND locked_until IS NOT NULL",
        kind: Kind::WholeOrganization,
        reason: "the clear-all of an organization's locks reads every lock it has, on the \
                 partial index of locked counters (only the locks, never the other counters)",
    },
    Exception {
        statement: "DELETE FROM api_keys WHERE org_id = $1 AND expires_at IS NOT NULL",
        kind: Kind::WholeOrganization,
        reason: "the sweep, once per organization: reads the organization's API keys (issued by \
                 administrators and client-credentials exchanges), not its users",
    },
    Exception {
        statement: "DELETE FROM api_keys WHERE org_id IS NULL AND parent_id IS NOT NULL",
        kind: Kind::WholeOrganization,
        reason: "the sweep, once: reads the instance's keys (a handful of its own, and the \
                 console sessions opened with them, each at most 8 hours old once swept)",
    },
    Exception {
        statement: "DELETE FROM sessions WHERE org_id = $1 AND (created_at <= $2 OR",
        kind: Kind::WholeOrganization,
        reason: "the sweep, once per organization: the OR of the absolute and the idle deadline \
                 is no single range of sessions_by_org, so every session of the organization is \
                 read once per sweep (two deletes, one per deadline, would seek; tokens.rs)",
    },
    Exception {
        statement: "FROM api_keys WHERE org_id = $1 AND user_id = $2 AND id > $3 ORDER BY id",
        kind: Kind::SortBeforeLimit,
        reason: "a page of one user's keys: SQLite finds them by api_keys_by_user, which has no \
                 id column, and sorts them; bounded by the keys one user holds (its own and the \
                 client-credentials tokens issued for them, deleted when they expire); an index \
                 on (user_id, id) would remove the sort",
    },
    Exception {
        statement: "FROM api_keys WHERE org_id = $1 AND user_id = $2 AND id > $3 ORDER BY id",
        kind: Kind::CursorNotSought,
        reason: "the same page of one user's keys: the cursor filters the user's keys, which \
                 api_keys_by_user finds without their ids",
    },
    Exception {
        statement: "AND locked_until > $2 AND login_key IN (",
        kind: Kind::WholeOrganization,
        reason: "the locks of one page of users (at most 500 login names): while the \
                 organization holds fewer locks than that, reading its locks (the partial index \
                 counters_locked) costs less than one seek per name, and the planner's \
                 statistics say so; with more locks it seeks counters_locked_logins per name",
    },
    Exception {
        statement: "AND c.locked_until IS NOT NULL AND c.locked_until > $4) ORDER BY id LIMIT $3",
        kind: Kind::CursorNotSought,
        reason: "the locked users of an organization, on PostgreSQL: with few locks in the \
                 organization its plan starts from them (counters_locked_logins) and finds each \
                 locked user by login name, the cursor filtering those few users; which table \
                 the join starts from follows the numbers of locks and users (SQLite's plan \
                 starts from users_by_org at the cursor)",
    },
    Exception {
        statement: "AND high >= $2 AND (until IS NULL OR until > $3)",
        kind: Kind::SortBeforeLimit,
        reason: "the denial that covers an address: the sort (permanent first, then the latest \
                 end) is over the organization's denials that start at or before the address, \
                 found by ip_denials_by_low; it grows with the denylist, not with users",
    },
];

/// The findings `findings` of `statement` that no exception excuses.
pub fn unexcused(statement: &str, findings: Vec<Finding>) -> Vec<Finding> {
    findings
        .into_iter()
        .filter(|finding| {
            !EXCEPTIONS
                .iter()
                .any(|e| e.kind == finding.kind() && statement.contains(e.statement))
        })
        .collect()
}

/// Whether the store's statement `statement` is one to explain (a read or a write of rows; not
/// a transaction's bracket, a setting, or the migrator's bookkeeping).
pub fn is_checked(statement: &str) -> bool {
    let head = statement.trim_start().to_ascii_uppercase();
    ["SELECT", "UPDATE", "DELETE", "INSERT", "WITH"]
        .iter()
        .any(|verb| head.starts_with(verb))
        && !statement.contains("_sqlx_migrations")
        // The database's own catalog and functions (`pg_advisory_xact_lock`, ...).
        && !statement.contains("pg_")
}

/// A page's cursor: the leading column of the order, compared with `>` or `>=` to a parameter,
/// or a row value compared with `>`.
#[derive(Debug, PartialEq, Eq)]
enum Cursor {
    Column(String),
    Row(String),
}

/// The cursors of a statement.
fn cursors(statement: &str) -> Vec<Cursor> {
    let mut found = Vec::new();
    // Row values: `(due_at, key) > ($3, $4)`.
    let mut rest = statement;
    while let Some(end) = rest.find(") > (") {
        let before = &rest[..end];
        if let Some(start) = before.rfind('(') {
            let columns = &before[start + 1..];
            let plain = columns
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ',' | ' ' | '.'));
            if plain && columns.contains(',') {
                found.push(Cursor::Row(columns.to_owned()));
            }
        }
        rest = &rest[end + 5..];
    }
    // Columns: the first `ORDER BY` column not fixed by an equality (the others only break
    // ties), when it is ascending and compared with `>` or `>=`.
    for (at, _) in statement.match_indices(" ORDER BY ") {
        let list = &statement[at + " ORDER BY ".len()..];
        let end = [" LIMIT ", ")", " FOR "]
            .iter()
            .filter_map(|stop| list.find(stop))
            .min()
            .unwrap_or(list.len());
        let leading = list[..end].split(',').map(str::trim).find(|item| {
            let column = item.split(' ').next().unwrap_or(item);
            let fixed = [" = $", " IS NULL"]
                .iter()
                .any(|op| statement.contains(&format!(" {column}{op}")));
            !fixed
        });
        let Some(item) = leading else { continue };
        if item.contains("DESC") || item.contains('(') {
            continue;
        }
        let column = item.split(' ').next().unwrap_or(item);
        let compared = [" > $", " >= $"]
            .iter()
            .any(|op| statement.contains(&format!(" {column}{op}")));
        let cursor = Cursor::Column(column.to_owned());
        if compared && !found.contains(&cursor) {
            found.push(cursor);
        }
    }
    found
}

fn has_limit(statement: &str) -> bool {
    statement.to_ascii_uppercase().contains(" LIMIT ")
}

/// Whether a list of equality terms constrains the organization (or owner) and nothing else.
fn organization_alone(terms: &[&str]) -> bool {
    let organization = |column: &str| {
        let column = column.rsplit('.').next().unwrap_or(column);
        matches!(column, "org_id" | "owner")
    };
    !terms.is_empty()
        && terms.iter().all(|term| {
            let column = term
                .trim()
                .trim_start_matches('(')
                .split([' ', '='])
                .next()
                .unwrap_or("");
            organization(column)
        })
}

/// The findings of SQLite's `EXPLAIN QUERY PLAN` of `statement`, one `detail` per plan row.
pub fn judge_sqlite(statement: &str, details: &[String]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for detail in details {
        let detail = detail.trim();
        if let Some(rest) = detail.strip_prefix("SCAN ") {
            if rest.starts_with("CONSTANT ROW") || rest.starts_with('(') {
                continue;
            }
            let (table, using) = rest.split_once(' ').unwrap_or((rest, ""));
            let table = table.to_owned();
            match using.strip_prefix("USING ") {
                Some(index) => findings.push(Finding::IndexWalk {
                    table,
                    index: index_name(index),
                }),
                None => findings.push(Finding::FullScan { table }),
            }
        } else if let Some(rest) = detail.strip_prefix("SEARCH ") {
            let (table, using) = rest.split_once(' ').unwrap_or((rest, ""));
            if using.contains("AUTOMATIC") {
                // An index SQLite builds for this statement, by reading the table whole.
                findings.push(Finding::FullScan {
                    table: table.to_owned(),
                });
                continue;
            }
            let index = index_name(using.trim_start_matches("USING "));
            let constraints = using
                .split_once(" (")
                .map_or("", |(_, c)| c.trim_end_matches(')'));
            let terms: Vec<&str> = constraints.split(" AND ").collect();
            if constraints.contains("ANY(") {
                findings.push(Finding::IndexWalk {
                    table: table.to_owned(),
                    index,
                });
            } else if organization_alone(&terms) {
                findings.push(Finding::WholeOrganization {
                    table: table.to_owned(),
                    index,
                });
            }
        } else if detail.starts_with("USE TEMP B-TREE FOR")
            && detail.contains("ORDER BY")
            && has_limit(statement)
        {
            findings.push(Finding::SortBeforeLimit);
        }
    }
    let seeks: Vec<&str> = details
        .iter()
        .map(|d| d.trim())
        .filter(|d| d.starts_with("SEARCH "))
        .collect();
    for cursor in cursors(statement) {
        let (sought, columns) = match cursor {
            Cursor::Row(columns) => {
                let vector = format!("({})>(", columns.replace(' ', ""));
                (seeks.iter().any(|d| d.contains(&vector)), columns)
            }
            // An integer primary key (`sequence`, an outbox `id`) is SQLite's `rowid`.
            Cursor::Column(column) => (
                seeks.iter().any(|d| {
                    d.contains(&format!(" {column}>"))
                        || d.contains(&format!("({column}>"))
                        || d.contains("rowid>")
                }),
                column,
            ),
        };
        if !sought {
            findings.push(Finding::CursorNotSought { columns });
        }
    }
    findings
}

/// `COVERING INDEX name (…)`, `INDEX name (…)`, `PRIMARY KEY (…)` → the index's name.
fn index_name(using: &str) -> String {
    let using = using
        .trim_start_matches("COVERING ")
        .trim_start_matches("INDEX ");
    using.split(" (").next().unwrap_or(using).trim().to_owned()
}

/// The leading column of each index, as PostgreSQL's `pg_indexes.indexdef` declares it
/// (`CREATE INDEX users_by_org ON public.users USING btree (org_id, id)` → `org_id`).
pub fn leading_column(indexdef: &str) -> Option<String> {
    let columns = indexdef.split_once(" (")?.1;
    let first = columns.split([',', ')']).next()?.trim();
    Some(first.split(' ').next()?.trim_matches('"').to_owned())
}

/// The findings of PostgreSQL's `EXPLAIN (COSTS OFF)` of `statement` (its lines), given the
/// leading column of each index (`leading(index)`).
pub fn judge_postgres(
    statement: &str,
    lines: &[String],
    leading: &dyn Fn(&str) -> Option<String>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut index_conds = Vec::new();
    let node_of = |line: &str| {
        let line = line.trim_start();
        line.strip_prefix("->  ").unwrap_or(line).to_owned()
    };
    let is_node = |line: &str| {
        let trimmed = line.trim_start();
        trimmed.starts_with("->") || !line.starts_with(' ')
    };
    for (at, line) in lines.iter().enumerate() {
        if !is_node(line) {
            continue;
        }
        let node = node_of(line);
        // The node's own attribute lines, up to the next node.
        let attributes: Vec<&str> = lines[at + 1..]
            .iter()
            .take_while(|l| !is_node(l))
            .map(|l| l.trim())
            .collect();
        let cond = attributes
            .iter()
            .find_map(|a| a.strip_prefix("Index Cond: "))
            .map(str::to_owned);
        if let Some(cond) = &cond {
            index_conds.push(cond.clone());
        }
        if let Some(rest) = node.strip_prefix("Seq Scan on ") {
            findings.push(Finding::FullScan {
                table: rest.split(' ').next().unwrap_or(rest).to_owned(),
            });
        } else if node.starts_with("Sort") && !node.starts_with("Sort Key") {
            if has_limit(statement) {
                findings.push(Finding::SortBeforeLimit);
            }
        } else if let Some((index, table)) = index_scan(&node) {
            match &cond {
                None => findings.push(Finding::IndexWalk { table, index }),
                Some(cond) => {
                    let first = leading(&index);
                    let seeks = first.as_deref().is_some_and(|column| {
                        cond.contains(&format!("({column} "))
                            || cond.contains(&format!(".{column} "))
                            || cond.contains(&format!("ROW({column},"))
                    });
                    let terms: Vec<&str> = cond
                        .trim_start_matches('(')
                        .trim_end_matches(')')
                        .split(") AND (")
                        .collect();
                    if !seeks {
                        findings.push(Finding::IndexWalk { table, index });
                    } else if organization_alone(&terms) {
                        findings.push(Finding::WholeOrganization { table, index });
                    }
                }
            }
        }
    }
    for cursor in cursors(statement) {
        let (sought, columns) = match cursor {
            Cursor::Row(columns) => {
                let row = format!("ROW({columns}) >");
                (index_conds.iter().any(|cond| cond.contains(&row)), columns)
            }
            Cursor::Column(column) => (
                index_conds.iter().any(|cond| {
                    cond.contains(&format!("({column} >")) || cond.contains(&format!(".{column} >"))
                }),
                column,
            ),
        };
        if !sought {
            findings.push(Finding::CursorNotSought { columns });
        }
    }
    findings
}

/// `Index Scan using i on t`, `Index Only Scan Backward using i on t c`, `Bitmap Index Scan on
/// i` → (index, table); `None` for other nodes.
fn index_scan(node: &str) -> Option<(String, String)> {
    if let Some(rest) = node.strip_prefix("Bitmap Index Scan on ") {
        let index = rest.split(' ').next()?.to_owned();
        return Some((index, String::new()));
    }
    let rest = node
        .strip_prefix("Index Only Scan")
        .or_else(|| node.strip_prefix("Index Scan"))?;
    let rest = rest.trim_start_matches(" Backward");
    let rest = rest.strip_prefix(" using ")?;
    let (index, table) = rest.split_once(" on ")?;
    Some((
        index.to_owned(),
        table.split(' ').next().unwrap_or(table).to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect()
    }

    const LIST_USERS: &str =
        "SELECT id FROM users WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3";
    const OLD_LIST_USERS: &str =
        "SELECT id FROM users WHERE org_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3";
    const DUE: &str = "SELECT due_at, key FROM counters WHERE org_id = $1 AND due_at <= $2 \
                       AND ($3 IS NULL OR (due_at, key) > ($3, $4)) ORDER BY due_at, key LIMIT $5";

    #[test]
    fn sqlite_seeks_pass_and_scans_are_caught() {
        let seek = lines("SEARCH users USING INDEX users_by_org (org_id=? AND id>?)");
        assert_eq!(judge_sqlite(LIST_USERS, &seek), vec![]);
        let by_email = "SELECT id FROM users WHERE email = $1";
        assert_eq!(
            judge_sqlite(by_email, &lines("SCAN users")),
            vec![Finding::FullScan {
                table: "users".into()
            }]
        );
        assert_eq!(
            judge_sqlite(
                "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL",
                &lines("SCAN outbox USING COVERING INDEX outbox_due")
            ),
            vec![Finding::IndexWalk {
                table: "outbox".into(),
                index: "outbox_due".into()
            }]
        );
        assert_eq!(
            judge_sqlite(
                "SELECT key FROM counters WHERE label = $1",
                &lines("SEARCH counters USING AUTOMATIC COVERING INDEX (label=?)")
            ),
            vec![Finding::FullScan {
                table: "counters".into()
            }]
        );
        assert_eq!(
            judge_sqlite(
                "SELECT id FROM users WHERE login_key = $1",
                &lines("SEARCH users USING INDEX users_by_login (ANY(org_id) AND login_key=?)")
            ),
            vec![Finding::IndexWalk {
                table: "users".into(),
                index: "users_by_login".into()
            }]
        );
    }

    #[test]
    fn sqlite_a_cursor_outside_the_seek_reads_the_whole_organization() {
        // The shape lists had before their cursors were always bound.
        let plan = lines("SEARCH users USING INDEX users_by_org (org_id=?)");
        assert_eq!(
            judge_sqlite(OLD_LIST_USERS, &plan),
            vec![
                Finding::WholeOrganization {
                    table: "users".into(),
                    index: "users_by_org".into()
                },
                Finding::CursorNotSought {
                    columns: "id".into()
                }
            ]
        );
        // A cursor on an integer primary key is sought as `rowid`.
        let events = "SELECT * FROM events WHERE org_id = $1 AND sequence > $2 \
                      ORDER BY sequence LIMIT $3";
        let plan = lines("SEARCH events USING INDEX events_by_org (org_id=? AND rowid>?)");
        assert_eq!(judge_sqlite(events, &plan), vec![]);
        // The leading order column fixed by an equality is not the cursor; the next one is.
        let instance = "SELECT * FROM events WHERE org_id IS NULL AND sequence > $1 \
                        ORDER BY org_id, sequence LIMIT $2";
        assert_eq!(judge_sqlite(instance, &plan), vec![]);
        assert_eq!(
            judge_sqlite(
                instance,
                &lines("SEARCH events USING INDEX events_by_org (org_id=?)")
            ),
            vec![
                Finding::WholeOrganization {
                    table: "events".into(),
                    index: "events_by_org".into()
                },
                Finding::CursorNotSought {
                    columns: "sequence".into()
                }
            ]
        );
        // A correlated subquery on the organization alone is caught too.
        let plan = lines(
            "SEARCH users USING INDEX users_by_org (org_id=? AND id>?)\n\
             CORRELATED SCALAR SUBQUERY 1\n\
             SEARCH c USING PRIMARY KEY (org_id=?)",
        );
        assert_eq!(
            judge_sqlite(LIST_USERS, &plan),
            vec![Finding::WholeOrganization {
                table: "c".into(),
                index: "PRIMARY KEY".into()
            }]
        );
    }

    #[test]
    fn sqlite_row_value_cursors_must_be_the_seek() {
        let not_sought =
            lines("SEARCH counters USING COVERING INDEX counters_by_due (org_id=? AND due_at<?)");
        assert_eq!(
            judge_sqlite(DUE, &not_sought),
            vec![Finding::CursorNotSought {
                columns: "due_at, key".into()
            }]
        );
        let sought = lines(
            "SEARCH counters USING COVERING INDEX counters_by_due \
             (org_id=? AND (due_at,key)>(?,?) AND due_at<?)",
        );
        assert_eq!(judge_sqlite(DUE, &sought), vec![]);
    }

    #[test]
    fn sqlite_a_sort_under_a_limit_is_caught() {
        let plan = lines(
            "SEARCH events USING INDEX events_by_org (org_id=? AND rowid>?)\n\
             USE TEMP B-TREE FOR ORDER BY",
        );
        let statement =
            "SELECT * FROM events WHERE org_id = $1 AND sequence > $2 ORDER BY at LIMIT $3";
        assert_eq!(
            judge_sqlite(statement, &plan),
            vec![Finding::SortBeforeLimit]
        );
        // Without a limit the sort is of the statement's own rows.
        assert!(!Finding::SortBeforeLimit.is_structural());
        assert_eq!(
            judge_sqlite("SELECT * FROM events ORDER BY at", &plan),
            vec![]
        );
    }

    fn leading(index: &str) -> Option<String> {
        match index {
            "users_by_org" | "outbox_dedupe" | "counters_by_due" | "users_pkey" => Some(
                if index == "users_pkey" {
                    "id"
                } else {
                    "org_id"
                }
                .to_owned(),
            ),
            "outbox_due" => Some("next_attempt_at".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn postgres_seeks_pass_and_scans_are_caught() {
        let seek = lines(
            "Limit\n  ->  Index Scan using users_by_org on users\n        \
             Index Cond: ((org_id = $1) AND (id > $2))",
        );
        assert_eq!(judge_postgres(LIST_USERS, &seek, &leading), vec![]);
        let seq = lines("Seq Scan on users\n  Filter: (email = $1)");
        assert_eq!(
            judge_postgres("SELECT id FROM users WHERE email = $1", &seq, &leading),
            vec![Finding::FullScan {
                table: "users".into()
            }]
        );
        // With sequential scans off, PostgreSQL walks an index with a filter instead.
        let walk = lines("Index Scan using users_pkey on users\n  Filter: (email = $1)");
        assert_eq!(
            judge_postgres("SELECT id FROM users WHERE email = $1", &walk, &leading),
            vec![Finding::IndexWalk {
                table: "users".into(),
                index: "users_pkey".into()
            }]
        );
        // A condition on a column that is not the index's first is still a walk.
        let skip = lines(
            "Index Only Scan using outbox_dedupe on outbox\n  \
             Index Cond: (dedupe_key = $2)\n  Filter: (NOT (org_id IS DISTINCT FROM $1))",
        );
        assert_eq!(
            judge_postgres(
                "SELECT 1 FROM outbox WHERE org_id IS NOT DISTINCT FROM $1 AND dedupe_key = $2",
                &skip,
                &leading
            ),
            vec![Finding::IndexWalk {
                table: "outbox".into(),
                index: "outbox_dedupe".into()
            }]
        );
    }

    #[test]
    fn postgres_whole_organizations_cursors_and_sorts_are_caught() {
        let plan = lines(
            "Limit\n  ->  Index Scan using users_by_org on users\n        \
             Index Cond: (org_id = $1)\n        Filter: (($2 IS NULL) OR (id > $2))",
        );
        let found = judge_postgres(OLD_LIST_USERS, &plan, &leading);
        assert_eq!(
            found,
            vec![
                Finding::WholeOrganization {
                    table: "users".into(),
                    index: "users_by_org".into()
                },
                Finding::CursorNotSought {
                    columns: "id".into()
                }
            ]
        );
        assert_eq!(
            found.iter().filter(|f| f.is_structural()).count(),
            1,
            "the cursor outside the seek fails whatever the statistics"
        );
        let due = lines(
            "Limit\n  ->  Index Only Scan using counters_by_due on counters\n        \
             Index Cond: ((org_id = $1) AND (due_at <= $2))\n        \
             Filter: (($3 IS NULL) OR (ROW(due_at, key) > ROW($3, $4)))",
        );
        assert_eq!(
            judge_postgres(DUE, &due, &leading),
            vec![Finding::CursorNotSought {
                columns: "due_at, key".into()
            }]
        );
        let sought = lines(
            "Limit\n  ->  Index Only Scan using counters_by_due on counters\n        \
             Index Cond: ((org_id = $1) AND (ROW(due_at, key) > ROW($3, $4)) AND (due_at <= $2))",
        );
        assert_eq!(judge_postgres(DUE, &sought, &leading), vec![]);
        let sorted = lines(
            "Limit\n  ->  Sort\n        Sort Key: at\n        \
             ->  Index Scan using users_by_org on users\n              \
             Index Cond: ((org_id = $1) AND (id > $2))",
        );
        assert_eq!(
            judge_postgres(LIST_USERS, &sorted, &leading),
            vec![Finding::SortBeforeLimit]
        );
        let partial = lines("Aggregate\n  ->  Index Scan using outbox_due on outbox");
        assert_eq!(
            judge_postgres("SELECT COUNT(*) FROM outbox", &partial, &leading),
            vec![Finding::IndexWalk {
                table: "outbox".into(),
                index: "outbox_due".into()
            }]
        );
    }

    #[test]
    fn exceptions_excuse_only_their_statement_and_kind() {
        let backlog = "SELECT COUNT(*) AS waiting, MIN(created_at) AS oldest FROM outbox \
                       WHERE sent_at IS NULL AND given_up_at IS NULL";
        let walk = Finding::IndexWalk {
            table: "outbox".into(),
            index: "outbox_due".into(),
        };
        assert_eq!(unexcused(backlog, vec![walk.clone()]), vec![]);
        let scan = Finding::FullScan {
            table: "outbox".into(),
        };
        assert_eq!(unexcused(backlog, vec![scan.clone()]), vec![scan]);
        assert_eq!(
            unexcused("SELECT COUNT(*) FROM outbox", vec![walk.clone()]),
            vec![walk]
        );
        assert!(EXCEPTIONS.iter().all(|e| !e.reason.is_empty()));
    }

    #[test]
    fn only_row_statements_are_checked() {
        assert!(is_checked("SELECT 1 FROM users WHERE id = $1"));
        assert!(is_checked("  delete FROM users WHERE id = $1"));
        assert!(!is_checked("BEGIN IMMEDIATE"));
        assert!(!is_checked("PRAGMA analysis_limit = 1000"));
        assert!(!is_checked(
            "SELECT version FROM _sqlx_migrations ORDER BY version"
        ));
        assert!(!is_checked("SELECT pg_advisory_xact_lock(1)"));
        assert_eq!(
            leading_column("CREATE INDEX users_by_org ON public.users USING btree (org_id, id)"),
            Some("org_id".to_owned())
        );
        assert_eq!(
            leading_column(
                "CREATE UNIQUE INDEX orgs_pkey ON public.orgs USING btree (id COLLATE \"C\")"
            ),
            Some("id".to_owned())
        );
    }
}
