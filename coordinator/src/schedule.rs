//! Schedules: a tenant refreshed on a cron expression, evaluated in the
//! tenant's time zone, optionally first some time after setup (as the
//! product this replaces does). Each firing submits a run with `as_of` =
//! today in the tenant's zone.
//!
//! A schedule keeps its next firing time. A firing that came due while no
//! coordinator ran is made once when one leads again, and the next is
//! computed from then on: missed firings are never made twice, nor
//! piled up. Firings are claimed in the registry (`claim_firing`), so two
//! coordinators never both make one.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::{Deserialize, Serialize};

/// A schedule as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Its id.
    pub id: String,
    /// The tenant id.
    pub tenant_id: String,
    /// `tenant.toml`, resolved.
    pub config: String,
    /// Output folder, resolved.
    pub out: String,
    /// The cron expression: five fields (minute hour day month weekday),
    /// or six with seconds first.
    pub cron: String,
    /// The tenant's time zone, in which the expression is read.
    pub timezone: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// The next firing, ms since the epoch.
    pub next_ms: i64,
    /// The run its last firing submitted.
    #[serde(default)]
    pub last_run: Option<String>,
    /// Why its last firing could not submit a run.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Output formats of its runs; CSV alone when empty.
    #[serde(default)]
    pub formats: Vec<crate::output_formats::OutputFormat>,
}

/// A schedule that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The cron expression does not parse.
    #[error("cron {0:?}: {1}")]
    Cron(String, String),
    /// A duration does not parse.
    #[error("duration {0:?}: expected a number and a unit: s, m, h or d (as in 6h)")]
    Duration(String),
    /// The expression never fires again.
    #[error("cron {0:?} never fires")]
    Never(String),
}

/// The parsed cron expression `text`.
pub fn parse_cron(text: &str) -> Result<Cron, ScheduleError> {
    Cron::new(text)
        .with_seconds_optional()
        .parse()
        .map_err(|e| ScheduleError::Cron(text.to_owned(), e.to_string()))
}

/// `6h`, `30m`, `45s` or `2d` in seconds.
pub fn parse_duration(text: &str) -> Result<u64, ScheduleError> {
    let bad = || ScheduleError::Duration(text.to_owned());
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).ok_or_else(bad)
}

/// The first firing of `cron` strictly after `after`, read in `tz`.
pub fn next_after(
    cron: &str,
    tz: Tz,
    after: DateTime<Utc>,
) -> Result<DateTime<Utc>, ScheduleError> {
    let parsed = parse_cron(cron)?;
    parsed
        .find_next_occurrence(&after.with_timezone(&tz), false)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ScheduleError::Never(cron.to_owned()))
}

impl Schedule {
    /// A new schedule, first firing `first_after` seconds from `now` when
    /// given, else at the expression's first time after `now`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        tenant_id: String,
        config: String,
        out: String,
        cron: String,
        tz: Tz,
        first_after: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Schedule, ScheduleError> {
        let next = match first_after {
            Some(secs) => now + chrono::Duration::seconds(secs.min(i64::MAX as u64) as i64),
            None => next_after(&cron, tz, now)?,
        };
        Ok(Schedule {
            id,
            tenant_id,
            config,
            out,
            cron,
            timezone: tz.name().to_owned(),
            created_ms: now.timestamp_millis(),
            next_ms: next.timestamp_millis(),
            last_run: None,
            last_error: None,
            formats: Vec::new(),
        })
    }

    /// The time zone.
    pub fn tz(&self) -> Tz {
        self.timezone.parse().unwrap_or(Tz::UTC)
    }

    /// True when the next firing is due at `now`.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        now.timestamp_millis() >= self.next_ms
    }

    /// After a firing at `now`: the next one, strictly after `now` (every
    /// firing missed until now is covered by this one).
    pub fn advance(&mut self, now: DateTime<Utc>) -> Result<(), ScheduleError> {
        self.next_ms = next_after(&self.cron, self.tz(), now)?.timestamp_millis();
        Ok(())
    }

    /// The next firing, RFC 3339.
    pub fn next_at(&self) -> String {
        Utc.timestamp_millis_opt(self.next_ms)
            .single()
            .map_or_else(String::new, |t| t.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn cron_is_read_in_the_tenants_zone() {
        let tz: Tz = "Europe/Stockholm".parse().expect("zone");
        // Monday 2026-12-07 03:00 in Stockholm is 02:00 UTC.
        let next = next_after("0 3 * * MON", tz, at("2026-12-02T12:00:00Z")).expect("next");
        assert_eq!(next, at("2026-12-07T02:00:00Z"));
        let every_3s = next_after("*/3 * * * * *", Tz::UTC, at("2026-12-02T12:00:01Z"));
        assert_eq!(every_3s.expect("next"), at("2026-12-02T12:00:03Z"));
    }

    #[test]
    fn the_first_firing_may_wait_and_missed_firings_collapse_into_one() {
        let now = at("2026-12-02T12:00:00Z");
        let mut s = Schedule::new(
            "s1".into(),
            "t".into(),
            "/t/tenant.toml".into(),
            "/o".into(),
            "0 3 * * *".into(),
            Tz::UTC,
            Some(parse_duration("6h").expect("6h")),
            now,
        )
        .expect("schedule");
        assert_eq!(s.next_ms, at("2026-12-02T18:00:00Z").timestamp_millis());
        assert!(!s.is_due(at("2026-12-02T17:59:59Z")));
        // Down for three days: due once, and the next is after now.
        let late = at("2026-12-05T10:00:00Z");
        assert!(s.is_due(late));
        s.advance(late).expect("advance");
        assert_eq!(s.next_at(), "2026-12-06T03:00:00+00:00");
        assert!(!s.is_due(late));
    }

    #[test]
    fn bad_expressions_and_durations_are_named() {
        let err = parse_cron("61 * * * *").expect_err("bad");
        assert!(err.to_string().contains("61 * * * *"), "{err}");
        for bad in ["6", "h", "6w", "-1h", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_duration("45s").expect("45s"), 45);
        assert_eq!(parse_duration("2d").expect("2d"), 172_800);
    }
}
