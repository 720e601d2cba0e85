//! The attack summary (docs/api.md, "Enforcement state"): per hour of a window, the failed
//! logins, account locks and counted IP blocks of an organization, with the distinct login names
//! attacked and the distinct client addresses they came from, read from the event log.
//!
//! Invariants:
//! - the window starts at the hour `since` falls in and ends with the hour of `now`; it spans at
//!   most [`MAX_HOURS`] hours (an earlier `since` is cut to them), and every hour of it has a
//!   bucket, empty or not;
//! - counting is a pure fold over events ([`Summary::add`]), so it is tested without a store;
//! - the events are read by the index of an organization's events by time, in pages.

use std::collections::BTreeSet;

use portcullis_model::Timestamp;
use portcullis_store::{Event, MAX_PAGE};
use serde::Serialize;
use time::Duration;

use crate::caller::{Action, Caller};
use crate::error::ServiceResult;
use crate::events::EventKind;
use crate::service::Service;

/// The longest window: a week.
pub const MAX_HOURS: i64 = 7 * 24;

/// The window when none is asked for: a day.
pub(crate) const DEFAULT_HOURS: i64 = 24;

/// One hour of the summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HourCounts {
    /// The hour's start.
    #[serde(with = "time::serde::rfc3339")]
    pub hour: Timestamp,
    /// Failed logins counted (`login.failed`).
    pub failed_logins: u64,
    /// Account locks placed (`account.locked`).
    pub locks: u64,
    /// Client networks blocked by counting (`ip.blocked`).
    pub ip_blocks: u64,
    /// Distinct login names of the failed logins.
    pub distinct_logins: u64,
    /// Distinct client addresses of the failed logins.
    pub distinct_sources: u64,
}

impl HourCounts {
    /// Nothing counted in the hour starting at `hour`.
    pub fn empty(hour: Timestamp) -> HourCounts {
        HourCounts {
            hour,
            failed_logins: 0,
            locks: 0,
            ip_blocks: 0,
            distinct_logins: 0,
            distinct_sources: 0,
        }
    }
}

/// The summary of a window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AttackSummary {
    /// The window's start (an hour's start).
    #[serde(with = "time::serde::rfc3339")]
    pub since: Timestamp,
    /// The window's end (now).
    #[serde(with = "time::serde::rfc3339")]
    pub until: Timestamp,
    /// Every hour of the window, oldest first.
    pub hours: Vec<HourCounts>,
    /// The whole window (`hour` is the window's start; distinct counts over the whole window).
    pub total: HourCounts,
}

/// The start of the hour `at` falls in.
pub(crate) fn hour_start(at: Timestamp) -> Timestamp {
    let secs = at.unix_timestamp();
    let floored = secs - secs.rem_euclid(3600);
    Timestamp::from_unix_timestamp(floored).unwrap_or(at)
}

/// The event types the summary reads.
fn kinds() -> [&'static str; 3] {
    [
        EventKind::LoginFailed.documented_name(),
        EventKind::AccountLocked.documented_name(),
        EventKind::IpBlocked.documented_name(),
    ]
}

/// A summary being counted.
pub(crate) struct Summary {
    since: Timestamp,
    until: Timestamp,
    hours: Vec<(HourCounts, BTreeSet<String>, BTreeSet<String>)>,
    logins: BTreeSet<String>,
    sources: BTreeSet<String>,
    total: HourCounts,
}

impl Summary {
    /// An empty summary of the hours from `since`'s to `until`'s.
    pub(crate) fn new(since: Timestamp, until: Timestamp) -> Summary {
        let since = hour_start(since);
        let mut hours = Vec::new();
        let mut hour = since;
        while hour <= until {
            hours.push((HourCounts::empty(hour), BTreeSet::new(), BTreeSet::new()));
            hour += Duration::hours(1);
        }
        Summary {
            since,
            until,
            hours,
            logins: BTreeSet::new(),
            sources: BTreeSet::new(),
            total: HourCounts::empty(since),
        }
    }

    /// Counts one event (others than the summary's types, or outside the window, count nothing).
    pub(crate) fn add(&mut self, event: &Event) {
        if event.at < self.since || event.at > self.until {
            return;
        }
        let index = ((event.at - self.since).whole_seconds() / 3600) as usize;
        let [failed, locked, blocked] = kinds();
        let Some((hour, logins, sources)) = self.hours.get_mut(index) else {
            return;
        };
        let text = |field: &str| event.payload.get(field).and_then(|v| v.as_str());
        match event.kind.as_str() {
            k if k == failed => {
                hour.failed_logins += 1;
                self.total.failed_logins += 1;
                if let Some(login) = text("login") {
                    logins.insert(login.to_owned());
                    self.logins.insert(login.to_owned());
                }
                if let Some(ip) = text("ip") {
                    sources.insert(ip.to_owned());
                    self.sources.insert(ip.to_owned());
                }
            }
            k if k == locked => {
                hour.locks += 1;
                self.total.locks += 1;
            }
            k if k == blocked => {
                hour.ip_blocks += 1;
                self.total.ip_blocks += 1;
            }
            _ => {}
        }
    }

    /// The finished summary.
    pub(crate) fn finish(self) -> AttackSummary {
        AttackSummary {
            since: self.since,
            until: self.until,
            hours: self
                .hours
                .into_iter()
                .map(|(mut hour, logins, sources)| {
                    hour.distinct_logins = logins.len() as u64;
                    hour.distinct_sources = sources.len() as u64;
                    hour
                })
                .collect(),
            total: HourCounts {
                distinct_logins: self.logins.len() as u64,
                distinct_sources: self.sources.len() as u64,
                ..self.total
            },
        }
    }
}

impl Service {
    /// The attack summary of the hours since `since` (default: the last 24), at most a week
    /// (an earlier `since` is cut to the week, a later one to the current hour); organization
    /// administrators and auditors.
    pub async fn attack_summary(
        &self,
        caller: &Caller,
        org_id: &str,
        since: Option<Timestamp>,
    ) -> ServiceResult<AttackSummary> {
        let grant = caller.allow(org_id, Action::Read)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        let now = self.now();
        // A window reaching further back than the longest is cut to it, and one starting in
        // the future to the current hour; the answer's `since` says which window was counted.
        let earliest = hour_start(now) - Duration::hours(MAX_HOURS - 1);
        let since = since
            .unwrap_or(now - Duration::hours(DEFAULT_HOURS - 1))
            .clamp(earliest, now);
        let mut summary = Summary::new(since, now);
        let kinds = kinds();
        let mut after = None;
        loop {
            let events = self
                .store
                .list_events_since(org_id, &kinds, hour_start(since), after, MAX_PAGE)
                .await?;
            for event in &events {
                summary.add(event);
            }
            match events.last() {
                Some(last) if events.len() == MAX_PAGE as usize => {
                    after = Some((last.at, last.sequence));
                }
                _ => break,
            }
        }
        Ok(summary.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn event(kind: &str, at: Timestamp, payload: serde_json::Value) -> Event {
        Event {
            sequence: 1,
            org_id: None,
            kind: kind.into(),
            actor: "anonymous".into(),
            request_id: None,
            at,
            payload,
        }
    }

    #[test]
    fn events_are_counted_in_their_hour_with_distinct_names_and_sources() {
        let now = datetime!(2026-01-02 10:30 UTC);
        let mut s = Summary::new(datetime!(2026-01-02 08:10 UTC), now);
        let failed = |at, login: &str, ip: &str| {
            event("login.failed", at, json!({"login": login, "ip": ip}))
        };
        s.add(&failed(
            datetime!(2026-01-02 08:15 UTC),
            "alice",
            "10.0.0.1",
        ));
        s.add(&failed(
            datetime!(2026-01-02 08:59:59 UTC),
            "alice",
            "10.0.0.2",
        ));
        s.add(&failed(datetime!(2026-01-02 10:00 UTC), "bob", "10.0.0.1"));
        s.add(&event(
            "account.locked",
            datetime!(2026-01-02 10:01 UTC),
            json!({}),
        ));
        s.add(&event(
            "ip.blocked",
            datetime!(2026-01-02 10:02 UTC),
            json!({}),
        ));
        s.add(&event(
            "user.created",
            datetime!(2026-01-02 10:03 UTC),
            json!({}),
        ));
        // Outside the window: before its first hour, or after now.
        s.add(&failed(datetime!(2026-01-02 07:59 UTC), "eve", "10.9.9.9"));
        s.add(&failed(datetime!(2026-01-02 10:31 UTC), "eve", "10.9.9.9"));
        let done = s.finish();
        assert_eq!(done.since, datetime!(2026-01-02 08:00 UTC));
        let hours: Vec<_> = done
            .hours
            .iter()
            .map(|h| {
                (
                    h.failed_logins,
                    h.locks,
                    h.ip_blocks,
                    h.distinct_logins,
                    h.distinct_sources,
                )
            })
            .collect();
        assert_eq!(
            hours,
            vec![(2, 0, 0, 1, 2), (0, 0, 0, 0, 0), (1, 1, 1, 1, 1)]
        );
        assert_eq!(done.total.failed_logins, 3);
        assert_eq!(
            (done.total.distinct_logins, done.total.distinct_sources),
            (2, 2)
        );
    }

    #[test]
    fn hours_start_on_the_hour() {
        assert_eq!(
            hour_start(datetime!(2026-03-04 05:59:59.9 UTC)),
            datetime!(2026-03-04 05:00 UTC)
        );
    }
}
