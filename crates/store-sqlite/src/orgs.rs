//! Organizations and policy sections.
//!
//! Invariants: a section row is keyed by (`owner`, `section`) with `owner` = '' for the instance
//! defaults (organization ids are never empty); its `sequence` is always the sequence of the
//! event written in the same transaction; a conditional write compares the current sequence
//! (0 = no row) inside the write transaction, so no other writer can slip in between.

use portcullis_store::{
    EventDraft, MAX_PAGE, Org, Owner, Page, SectionChange, SectionRow, StoreError,
};
use sqlx::Row;

use crate::SqliteStore;
use crate::error::DbResult;
use crate::events::insert_event;
use crate::rows::{self, org_columns, section_columns};

/// The `owner` column value of a section owner.
fn owner_key(owner: &Owner) -> &str {
    owner.org_id().unwrap_or("")
}

impl SqliteStore {
    /// `Store::create_org`.
    pub(crate) async fn create_org_impl(&self, org: &Org, event: EventDraft) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES (?1, ?2, ?3)")
            .bind(&org.id)
            .bind(&org.name)
            .bind(rows::ts_to_db(org.created_at)?)
            .execute(&mut *tx)
            .await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `Store::get_org`.
    pub(crate) async fn get_org_impl(&self, id: &str) -> DbResult<Option<Org>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            org_columns!(),
            " FROM orgs WHERE id = ?1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        found.as_ref().map(rows::org).transpose()
    }

    /// `Store::list_orgs`.
    pub(crate) async fn list_orgs_impl(&self, page: &Page) -> DbResult<Vec<Org>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            org_columns!(),
            " FROM orgs WHERE (?1 IS NULL OR id > ?1) ORDER BY id LIMIT ?2"
        ))
        .bind(page.after.as_deref())
        .bind(i64::from(page.limit.min(MAX_PAGE)))
        .fetch_all(&self.pool)
        .await?;
        rows::all(&found, rows::org)
    }

    /// `Store::load_sections`.
    pub(crate) async fn load_sections_impl(&self, owner: &Owner) -> DbResult<Vec<SectionRow>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            section_columns!(),
            " FROM sections WHERE owner = ?1 ORDER BY section"
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
    ) -> DbResult<Vec<SectionRow>> {
        let owner = owner_key(owner);
        let mut tx = self.write_tx().await?;
        let mut rows = Vec::with_capacity(changes.len());
        for change in changes {
            let current = sqlx::query(
                "SELECT sequence, created_at FROM sections WHERE owner = ?1 AND section = ?2",
            )
            .bind(owner)
            .bind(&change.section)
            .fetch_optional(&mut *tx)
            .await?;
            let (current_sequence, created_at) = match &current {
                Some(row) => (
                    rows::seq_from_db(row.try_get::<i64, _>("sequence")?)?,
                    Some(rows::ts_from_db(row.try_get::<i64, _>("created_at")?)?),
                ),
                None => (0, None),
            };
            if change
                .expected_sequence
                .is_some_and(|expected| expected != current_sequence)
            {
                return Err(StoreError::VersionMismatch.into());
            }
            let changed_at = change.event.at;
            let created_at = created_at.unwrap_or(changed_at);
            let sequence = insert_event(&mut tx, change.event).await?;
            sqlx::query(
                "INSERT INTO sections (owner, section, value, sequence, created_at, changed_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (owner, section) DO UPDATE SET value = excluded.value, \
                 sequence = excluded.sequence, changed_at = excluded.changed_at",
            )
            .bind(owner)
            .bind(&change.section)
            .bind(serde_json::to_string(&change.value)?)
            .bind(rows::seq_to_db(sequence))
            .bind(rows::ts_to_db(created_at)?)
            .bind(rows::ts_to_db(changed_at)?)
            .execute(&mut *tx)
            .await?;
            rows.push(SectionRow {
                section: change.section,
                value: change.value,
                sequence,
                created_at,
                changed_at,
            });
        }
        bump_policy_version(&mut tx).await?;
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
            "DELETE FROM sections WHERE owner = ?1 AND section = ?2 AND (?3 IS NULL OR sequence = ?3)",
        )
        .bind(org_id)
        .bind(section)
        .bind(sequence.map(rows::seq_to_db))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        insert_event(&mut tx, event).await?;
        bump_policy_version(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Counts one policy write, in the writer's transaction (replicas poll the count).
async fn bump_policy_version(conn: &mut sqlx::SqliteConnection) -> DbResult<()> {
    sqlx::query("UPDATE policy_version SET version = version + 1 WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(())
}

impl SqliteStore {
    /// `Store::policy_version`.
    pub(crate) async fn policy_version_impl(&self) -> DbResult<u64> {
        let row = sqlx::query("SELECT version FROM policy_version WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let version: i64 = row.try_get("version")?;
        Ok(u64::try_from(version).unwrap_or(0))
    }
}
