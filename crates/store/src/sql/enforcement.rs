//! Enforcement state an administrator lists and acts on: counters that hold a lock, the bulk
//! clear of locks and blocks, and the denylist of addresses and networks.
//!
//! Invariants:
//! - `locked_until` (written with every counter state, see `counters.rs`) is only an index of
//!   the counters that hold a lock: readers decide from the state, never from the column;
//! - a bulk clear is one write transaction: it reads the locked counters with the backend's row
//!   lock (SQLite: the database write lock), applies the caller's transition to each, deletes
//!   the denials when asked, and writes one event with the count — or, when nothing was
//!   cleared, rolls back and writes nothing; a retryable failure runs the whole transaction
//!   again, on freshly read states;
//! - a denial's `low` and `high` are its first and last address as 32 lower-case hex digits of
//!   the IPv6 form (IPv4 mapped into `::ffff:0:0/96`), so containment is two comparisons of
//!   fixed-width text in byte order (`COLLATE "C"` on PostgreSQL).

use std::net::IpAddr;

use portcullis_engine::counter::CounterState;
use portcullis_engine::ip_block::parse_source;
use portcullis_model::{OrgId, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::SqlStore;
use super::encoding::{opt_ts_to_db, ts_from_db, ts_to_db};
use super::error::{DbError, DbResult};
use crate::{BulkCounterUpdate, EventDraft, IpDenial, LockedCounter, MAX_PAGE};

/// Tries of one bulk clear before a retryable failure is reported as unavailable.
const MAX_ATTEMPTS: u32 = 4;

/// The `locked_until` column of a state: the lock's end, `i64::MAX` for a lock only an unlock
/// ends, `None` without a lock.
pub(super) fn locked_until(state: &CounterState) -> DbResult<Option<i64>> {
    match state.lock {
        None => Ok(None),
        Some(lock) => Ok(Some(opt_ts_to_db(lock.until)?.unwrap_or(i64::MAX))),
    }
}

/// An address as 32 lower-case hex digits of its IPv6 form.
pub(crate) fn address_hex(ip: IpAddr) -> String {
    let v6 = match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    format!("{:032x}", u128::from(v6))
}

/// `(key >= $n AND key < $n+1) OR …` for each prefix, numbering placeholders from `first`; the
/// bound values are pushed onto `binds`.
fn prefix_ranges(prefixes: &[String], first: usize, binds: &mut Vec<String>) -> String {
    if prefixes.is_empty() {
        return "FALSE".into();
    }
    let ranges: Vec<String> = prefixes
        .iter()
        .enumerate()
        .map(|(i, prefix)| {
            binds.push(prefix.clone());
            binds.push(format!("{prefix}\u{10FFFF}"));
            let n = first + 2 * i;
            format!("(key >= ${n} AND key < ${})", n + 1)
        })
        .collect();
    format!("({})", ranges.join(" OR "))
}

fn decode_state(text: &str) -> DbResult<CounterState> {
    serde_json::from_str(text).map_err(DbError::corrupt)
}

fn locked_counter(row: &AnyRow) -> DbResult<LockedCounter> {
    Ok(LockedCounter {
        key: row.try_get("key")?,
        state: decode_state(&row.try_get::<String, _>("state")?)?,
        login_key: row.try_get("login_key")?,
        label: row.try_get("label")?,
    })
}

fn denial(row: &AnyRow) -> DbResult<IpDenial> {
    let org_id: String = row.try_get("org_id")?;
    let network: String = row.try_get("network")?;
    Ok(IpDenial {
        org_id: OrgId::parse(&org_id, "org_id").map_err(|v| DbError::corrupt(v.message))?,
        network: parse_source(&network)
            .ok_or_else(|| DbError::corrupt(format!("denied network `{network}`")))?,
        created_at: ts_from_db(row.try_get("created_at")?)?,
        until: row
            .try_get::<Option<i64>, _>("until")?
            .map(ts_from_db)
            .transpose()?,
        actor: row.try_get("actor")?,
    })
}

const DENIAL_COLUMNS: &str = "org_id, network, created_at, until, actor";

impl SqlStore {
    /// `Store::locked_counters`: the partial index of locked counters, in key order.
    pub(crate) async fn locked_counters_impl(
        &self,
        org_id: &str,
        prefixes: &[String],
        after: Option<&str>,
        limit: u32,
    ) -> DbResult<Vec<LockedCounter>> {
        let mut binds = Vec::new();
        let ranges = prefix_ranges(prefixes, 4, &mut binds);
        let select = format!(
            "SELECT key, state, login_key, label FROM counters WHERE org_id = $1 \
             AND locked_until IS NOT NULL AND key > $2 AND {ranges} \
             ORDER BY key LIMIT $3"
        );
        let mut query = sqlx::query(&select)
            .bind(org_id)
            .bind(super::first_page_cursor(after))
            .bind(i64::from(limit.min(MAX_PAGE)));
        for value in binds {
            query = query.bind(value);
        }
        let found = query.fetch_all(&self.pool).await?;
        found.iter().map(locked_counter).collect()
    }

    /// `Store::locked_logins`.
    pub(crate) async fn locked_logins_impl(
        &self,
        org_id: &str,
        login_keys: &[String],
        now: Timestamp,
    ) -> DbResult<Vec<LockedCounter>> {
        if login_keys.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (0..login_keys.len())
            .map(|i| format!("${}", i + 3))
            .collect();
        let select = format!(
            "SELECT key, state, login_key, label FROM counters WHERE org_id = $1 \
             AND locked_until IS NOT NULL AND locked_until > $2 AND login_key IN ({}) \
             ORDER BY key",
            list.join(", ")
        );
        let mut query = sqlx::query(&select).bind(org_id).bind(ts_to_db(now)?);
        for key in login_keys {
            query = query.bind(key.as_str());
        }
        let found = query.fetch_all(&self.pool).await?;
        found.iter().map(locked_counter).collect()
    }

    /// `Store::clear_locks`.
    pub(crate) async fn clear_locks_impl(
        &self,
        org_id: &str,
        prefixes: &[String],
        denials: Option<Timestamp>,
        update: BulkCounterUpdate<'_>,
        event: EventDraft,
    ) -> DbResult<u64> {
        let mut attempt = 1;
        loop {
            match self
                .try_clear_locks(org_id, prefixes, denials, &mut *update, event.clone())
                .await
            {
                Err(err) if self.is_retryable(&err) && attempt < MAX_ATTEMPTS => attempt += 1,
                done => return done,
            }
        }
    }

    async fn try_clear_locks(
        &self,
        org_id: &str,
        prefixes: &[String],
        denials: Option<Timestamp>,
        update: BulkCounterUpdate<'_>,
        event: EventDraft,
    ) -> DbResult<u64> {
        let mut tx = self.write_tx().await?;
        let mut binds = Vec::new();
        let ranges = prefix_ranges(prefixes, 2, &mut binds);
        let select = self.locking(&format!(
            "SELECT key, state FROM counters WHERE org_id = $1 \
             AND locked_until IS NOT NULL AND {ranges} ORDER BY key"
        ));
        let mut query = sqlx::query(&select).bind(org_id);
        for value in binds {
            query = query.bind(value);
        }
        let rows = query.fetch_all(&mut *tx).await?;
        let mut count = 0u64;
        for row in &rows {
            let key: String = row.try_get("key")?;
            let mut state = decode_state(&row.try_get::<String, _>("state")?)?;
            let change = update(&key, &mut state);
            count += u64::from(change.counted);
            if state == CounterState::default() {
                sqlx::query("DELETE FROM counters WHERE org_id = $1 AND key = $2")
                    .bind(org_id)
                    .bind(&key)
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query(
                    "UPDATE counters SET state = $3, due_at = $4, locked_until = $5 \
                     WHERE org_id = $1 AND key = $2",
                )
                .bind(org_id)
                .bind(&key)
                .bind(serde_json::to_string(&state)?)
                .bind(opt_ts_to_db(change.due_at)?)
                .bind(locked_until(&state)?)
                .execute(&mut *tx)
                .await?;
            }
        }
        if let Some(now) = denials {
            // Only the denials in force count; ended ones go too.
            let in_force = sqlx::query("DELETE FROM ip_denials WHERE org_id = $1 RETURNING until")
                .bind(org_id)
                .fetch_all(&mut *tx)
                .await?;
            let now = ts_to_db(now)?;
            for row in &in_force {
                let until: Option<i64> = row.try_get("until")?;
                count += u64::from(until.is_none_or(|until| until > now));
            }
        }
        if count == 0 {
            tx.rollback().await?;
            return Ok(0);
        }
        let mut event = event;
        if let serde_json::Value::Object(fields) = &mut event.payload {
            fields.insert("count".into(), count.into());
        }
        self.insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(count)
    }

    /// `Store::put_ip_denial`: an upsert that tells a new row from a replaced one.
    pub(crate) async fn put_ip_denial_impl(
        &self,
        denial: &IpDenial,
        event: EventDraft,
    ) -> DbResult<bool> {
        let network = denial.label();
        let mut tx = self.write_tx().await?;
        let existed = sqlx::query(
            &self.locking("SELECT network FROM ip_denials WHERE org_id = $1 AND network = $2"),
        )
        .bind(denial.org_id.as_str())
        .bind(&network)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        sqlx::query(
            "INSERT INTO ip_denials (org_id, network, low, high, created_at, until, actor) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org_id, network) DO UPDATE \
             SET created_at = EXCLUDED.created_at, until = EXCLUDED.until, actor = EXCLUDED.actor",
        )
        .bind(denial.org_id.as_str())
        .bind(&network)
        .bind(address_hex(denial.network.network()))
        .bind(address_hex(denial.network.broadcast()))
        .bind(ts_to_db(denial.created_at)?)
        .bind(opt_ts_to_db(denial.until)?)
        .bind(&denial.actor)
        .execute(&mut *tx)
        .await?;
        let mut event = event;
        if let serde_json::Value::Object(fields) = &mut event.payload {
            fields.insert("replaced".into(), existed.into());
        }
        self.insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(!existed)
    }

    /// `Store::delete_ip_denial`.
    pub(crate) async fn delete_ip_denial_impl(
        &self,
        org_id: &str,
        network: &str,
        event: EventDraft,
    ) -> DbResult<bool> {
        self.delete_with_event(
            "DELETE FROM ip_denials WHERE org_id = $1 AND network = $2",
            &[org_id, network],
            event,
        )
        .await
    }

    /// `Store::list_ip_denials`.
    pub(crate) async fn list_ip_denials_impl(
        &self,
        org_id: &str,
        after: Option<&str>,
        inclusive: bool,
        limit: u32,
    ) -> DbResult<Vec<IpDenial>> {
        let compare = if inclusive { ">=" } else { ">" };
        let select = format!(
            "SELECT {DENIAL_COLUMNS} FROM ip_denials WHERE org_id = $1 \
             AND network {compare} $2 ORDER BY network LIMIT $3"
        );
        let found = sqlx::query(&select)
            .bind(org_id)
            .bind(super::first_page_cursor(after))
            .bind(i64::from(limit.min(MAX_PAGE)))
            .fetch_all(&self.pool)
            .await?;
        found.iter().map(denial).collect()
    }

    /// `Store::delete_ended_ip_denials`.
    pub(crate) async fn delete_ended_ip_denials_impl(
        &self,
        org_id: &str,
        now: Timestamp,
    ) -> DbResult<u64> {
        let _turn = self.write_turn().await;
        Ok(
            sqlx::query("DELETE FROM ip_denials WHERE org_id = $1 AND until <= $2")
                .bind(org_id)
                .bind(ts_to_db(now)?)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// `Store::matching_ip_denial`.
    pub(crate) async fn matching_ip_denial_impl(
        &self,
        org_id: &str,
        ip: IpAddr,
        now: Timestamp,
    ) -> DbResult<Option<IpDenial>> {
        let address = address_hex(ip);
        let select = format!(
            "SELECT {DENIAL_COLUMNS} FROM ip_denials WHERE org_id = $1 AND low <= $2 \
             AND high >= $2 AND (until IS NULL OR until > $3) \
             ORDER BY (until IS NULL) DESC, until DESC, network LIMIT 1"
        );
        let found = sqlx::query(&select)
            .bind(org_id)
            .bind(&address)
            .bind(ts_to_db(now)?)
            .fetch_optional(&self.pool)
            .await?;
        found.as_ref().map(denial).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_sort_as_their_numbers_and_ipv4_maps_into_ipv6() {
        let a = address_hex("10.0.0.1".parse().unwrap());
        let b = address_hex("10.0.0.2".parse().unwrap());
        let mapped = address_hex("::ffff:10.0.0.1".parse().unwrap());
        assert!(a < b);
        assert_eq!(a, mapped);
        assert_eq!(a.len(), 32);
        assert!(address_hex("::1".parse().unwrap()) < a);
    }
}
