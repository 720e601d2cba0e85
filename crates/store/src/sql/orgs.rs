//! Organizations, policy sections and the policy version.
//!
//! Invariants: a section row is keyed by (`owner`, `section`) with `owner` = '' for the instance
//! defaults (organization ids are never empty); its `sequence` is always the sequence of the
//! event written in the same transaction. A section write first locks its row — inserting a
//! placeholder row (sequence 0, never committed as such) when there is none, so that two writers
//! of a missing section also serialize (the second insert waits for the first transaction) —
//! then compares the current sequence (0 = no row) under that lock, so no other writer can slip
//! in between. Every section write or
//! reset bumps `policy_version` in the same transaction, and so does every deletion of API keys
//! (`tokens.rs`, `users.rs`): the version is what replicas poll to drop their caches. Lock
//! order: section or key row, then the `policy_version` row, then the event lock (see
//! `events.rs`).

use crate::{EventDraft, Org, Owner, Page, SectionChange, SectionRow, StoreError};
use sqlx::Row;

use super::error::{DbError, DbResult};
use super::rows::{self, org_columns, section_columns};
use super::{SqlStore, WriteTx};

/// The `owner` column value of a section owner.
fn owner_key(owner: &Owner) -> &str {
    owner.org_id().map_or("", |org| org.as_str())
}

/// Locks the row of (`owner`, `section`) for the rest of `tx`, creating a placeholder (the
/// caller overwrites it before committing, or rolls back) when it does not exist. Answers the
/// current sequence and creation time, or `(0, None)` when the row is new. The insert's
/// `ON CONFLICT DO UPDATE … WHERE FALSE` changes nothing but locks the existing row (see
/// `counters.rs`). The placeholder's sequence 0 tells it from a written row, whose sequence is
/// its event's (identities start at 1).
async fn lock_section(
    tx: &mut WriteTx,
    owner: &str,
    section: &str,
    placeholder_at: i64,
    lock_rows: &str,
) -> DbResult<(u64, Option<i64>)> {
    sqlx::query(
        "INSERT INTO sections (owner, section, value, sequence, created_at, changed_at) \
         VALUES ($1, $2, 'null', 0, $3, $3) \
         ON CONFLICT (owner, section) DO UPDATE SET value = EXCLUDED.value WHERE FALSE",
    )
    .bind(owner)
    .bind(section)
    .bind(placeholder_at)
    .execute(&mut **tx)
    .await?;
    let statement = format!(
        "SELECT sequence, created_at FROM sections WHERE owner = $1 AND section = $2{lock_rows}"
    );
    let row = sqlx::query(&statement)
        .bind(owner)
        .bind(section)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| DbError::corrupt("a locked section row vanished"))?;
    let sequence = rows::seq_from_db(row.try_get::<i64, _>("sequence")?)?;
    // Placeholders have sequence 0; a written row always carries its event's (positive) one.
    if sequence == 0 {
        return Ok((0, None));
    }
    Ok((sequence, Some(row.try_get::<i64, _>("created_at")?)))
}

/// Counts one write that every process's caches must see — a policy write, or the deletion of an
/// API key (cached by token hash) — in the writer's transaction (replicas poll the count).
pub(crate) async fn bump_policy_version(tx: &mut WriteTx) -> DbResult<()> {
    sqlx::query("UPDATE policy_version SET version = version + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl SqlStore {
    /// `Store::create_org`.
    pub(crate) async fn create_org_impl(&self, org: &Org, event: EventDraft) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(org.id.as_str())
            .bind(&org.name)
            .bind(rows::ts_to_db(org.created_at)?)
            .execute(&mut *tx)
            .await?;
        self.insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `Store::get_org`.
    pub(crate) async fn get_org_impl(&self, id: &str) -> DbResult<Option<Org>> {
        self.find(
            concat!("SELECT ", org_columns!(), " FROM orgs WHERE id = $1"),
            &[id],
            rows::org,
        )
        .await
    }

    /// `Store::list_orgs`.
    pub(crate) async fn list_orgs_impl(&self, page: &Page) -> DbResult<Vec<Org>> {
        let select = concat!(
            "SELECT ",
            org_columns!(),
            " FROM orgs WHERE id > $1 ORDER BY id LIMIT $2"
        );
        self.page(select, &[], page, rows::org).await
    }

    /// `Store::policy_version`.
    pub(crate) async fn policy_version_impl(&self) -> DbResult<u64> {
        let row = sqlx::query("SELECT version FROM policy_version WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let version: i64 = row.try_get("version")?;
        Ok(u64::try_from(version).unwrap_or(0))
    }

    /// `Store::load_sections`.
    pub(crate) async fn load_sections_impl(&self, owner: &Owner) -> DbResult<Vec<SectionRow>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            section_columns!(),
            " FROM sections WHERE owner = $1 ORDER BY section"
        ))
        .bind(owner_key(owner))
        .fetch_all(&self.pool)
        .await?;
        rows::all(&found, rows::section)
    }

    /// `Store::write_section`.
    pub(crate) async fn write_sections_impl(
        &self,
        owner: &Owner,
        changes: Vec<SectionChange>,
        scope: Option<&[(String, u64)]>,
    ) -> DbResult<Vec<SectionRow>> {
        let owner = owner_key(owner);
        if owner.is_empty() && changes.iter().any(|c| c.value.is_none()) {
            return Err(
                StoreError::Internal("the instance's sections cannot be reset".into()).into(),
            );
        }
        let mut tx = self.write_tx().await?;
        // Lock order, the same for every writer: the section rows sorted by name, then the
        // policy version, then the events lock. Two batches that name the same sections in
        // other orders wait for each other instead of deadlocking.
        let mut order: Vec<usize> = (0..changes.len()).collect();
        order.sort_by(|a, b| changes[*a].section.cmp(&changes[*b].section));
        let mut created = vec![None; changes.len()];
        for at in order {
            let change = &changes[at];
            let changed_at_db = rows::ts_to_db(change.event.at)?;
            let (current_sequence, created_at) = lock_section(
                &mut tx,
                owner,
                &change.section,
                changed_at_db,
                self.backend().lock_rows(),
            )
            .await?;
            if change
                .expected_sequence
                .is_some_and(|expected| expected != current_sequence)
            {
                // Also removes placeholder rows inserted by `lock_section`.
                tx.rollback().await?;
                return Err(StoreError::VersionMismatch.into());
            }
            created[at] = created_at;
        }
        bump_policy_version(&mut tx).await?;
        if let Some(expected) = scope {
            // Holding the policy version's row lock, which every policy writer takes before it
            // commits: the scope read here is the one this transaction commits over. Rows at
            // sequence 0 are this batch's own placeholders.
            let found = sqlx::query(
                "SELECT section, sequence FROM sections WHERE owner = $1 AND sequence > 0",
            )
            .bind(owner)
            .fetch_all(&mut *tx)
            .await?;
            let mut found: Vec<(String, u64)> = found
                .iter()
                .map(|row| {
                    Ok((
                        row.try_get::<String, _>("section")?,
                        rows::seq_from_db(row.try_get("sequence")?)?,
                    ))
                })
                .collect::<DbResult<_>>()?;
            found.sort();
            let mut expected = expected.to_vec();
            expected.sort();
            if found != expected {
                tx.rollback().await?;
                return Err(StoreError::VersionMismatch.into());
            }
        }
        let mut rows = Vec::with_capacity(changes.len());
        for (change, created_at) in changes.into_iter().zip(created) {
            let changed_at = change.event.at;
            let changed_at_db = rows::ts_to_db(changed_at)?;
            let created_at_db = created_at.unwrap_or(changed_at_db);
            let created_at = rows::ts_from_db(created_at_db)?;
            let Some(value) = change.value else {
                // A reset: the row (locked above) goes, with its event.
                sqlx::query("DELETE FROM sections WHERE owner = $1 AND section = $2")
                    .bind(owner)
                    .bind(&change.section)
                    .execute(&mut *tx)
                    .await?;
                self.insert_event(&mut tx, change.event).await?;
                continue;
            };
            let value_text = serde_json::to_string(&value)?;
            let sequence = self.insert_event(&mut tx, change.event).await?;
            // The row is locked by this transaction (above), so this never waits.
            sqlx::query(
                "UPDATE sections SET value = $3, sequence = $4, created_at = $5, changed_at = $6 \
                 WHERE owner = $1 AND section = $2",
            )
            .bind(owner)
            .bind(&change.section)
            .bind(value_text)
            .bind(rows::seq_to_db(sequence))
            .bind(created_at_db)
            .bind(changed_at_db)
            .execute(&mut *tx)
            .await?;
            rows.push(SectionRow {
                section: change.section,
                value,
                sequence,
                created_at,
                changed_at,
            });
        }
        tx.commit().await?;
        Ok(rows)
    }

    /// `Store::delete_section`.
    /// With `sequence`, only while the row still has it.
    pub(crate) async fn delete_section_impl(
        &self,
        org_id: &str,
        section: &str,
        sequence: Option<u64>,
        event: EventDraft,
    ) -> DbResult<bool> {
        if org_id.is_empty() {
            // '' is the instance's owner key, never an organization's.
            return Ok(false);
        }
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "DELETE FROM sections WHERE owner = $1 AND section = $2 \
             AND ($3 IS NULL OR sequence = $3)",
        )
        .bind(org_id)
        .bind(section)
        .bind(sequence.map(rows::seq_to_db))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        bump_policy_version(&mut tx).await?;
        self.insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }
}
