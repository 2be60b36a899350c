//! Expanding a recurring event (RFC 5545 §3.8.5): the `RRULE` arithmetic is
//! the `rrule` crate's; this file feeds it and keeps what falls in range.
//!
//! The rule runs on the event's local wall-clock times (so a weekly 10:00
//! meeting stays at 10:00 across a DST change), which are then placed in
//! the event's zone. `UNTIL` is brought into the same local frame first.

use chrono::{NaiveDateTime, TimeZone};
use rrule::{RRule, Tz as RuleTz, Unvalidated};

use super::values::parse_time;

/// Most occurrences the rules of one event may step through together, from
/// its start to the end of the range: bounds the work an event can cost (a
/// `FREQ=SECONDLY` rule started decades before the window would otherwise
/// take minutes, and an event may hold several rules).
pub const MAX_STEPS: usize = 100_000;

/// A day, in seconds: the margin around the requested range, as no zone
/// is a day away from UTC.
const DAY: i64 = 86_400;

/// Local start times of `rule` from `dtstart` whose instant, as `to_instant`
/// places them, falls in `[from, until)`. `until_to_local` turns a UTC
/// `UNTIL` into the event's local time. Each step spends one of `budget`
/// (shared by an event's rules, from [`MAX_STEPS`]); an empty budget is an
/// error.
pub fn expand(
    rule: &str,
    dtstart: NaiveDateTime,
    from: i64,
    until: i64,
    budget: &mut usize,
    until_to_local: impl Fn(i64) -> Option<NaiveDateTime>,
) -> Result<Vec<NaiveDateTime>, String> {
    let rule = local_until(rule, &until_to_local)?;
    let parsed: RRule<Unvalidated> = rule.parse().map_err(|e| format!("{e}"))?;
    let start = RuleTz::UTC.from_utc_datetime(&dtstart);
    let set = parsed.build(start).map_err(|e| format!("{e}"))?;
    let bound = |t: i64| {
        let t = t.clamp(-8_000_000_000, 8_000_000_000);
        RuleTz::UTC.timestamp_opt(t, 0).single()
    };
    let (Some(lo), Some(hi)) = (bound(from - DAY), bound(until + DAY)) else {
        return Ok(Vec::new());
    };
    let mut starts = Vec::new();
    let mut steps = set.limit().into_iter();
    while *budget > 0 {
        *budget -= 1;
        match steps.next() {
            Some(d) if d >= hi => return Ok(starts),
            Some(d) => {
                if d >= lo {
                    starts.push(d.naive_utc());
                }
            }
            None => return Ok(starts),
        }
    }
    Err(format!(
        "more than {MAX_STEPS} occurrences up to the end of the range"
    ))
}

/// Rewrites `UNTIL` as a local time written with `Z`, the frame the rule
/// runs in; a `DATE` `UNTIL` covers its whole day.
fn local_until(
    rule: &str,
    until_to_local: &impl Fn(i64) -> Option<NaiveDateTime>,
) -> Result<String, String> {
    let mut parts = Vec::new();
    for part in rule.trim().split(';').filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return Err(format!("{part:?} is not NAME=VALUE"));
        };
        if !name.trim().eq_ignore_ascii_case("UNTIL") {
            parts.push(part.to_owned());
            continue;
        }
        let time = parse_time(value, None).ok_or_else(|| format!("UNTIL {value:?}"))?;
        let local = if time.is_date {
            time.local + chrono::Duration::seconds(DAY - 1)
        } else if value.trim().ends_with(['Z', 'z']) {
            until_to_local(time.local.and_utc().timestamp()).ok_or("UNTIL out of range")?
        } else {
            time.local
        };
        parts.push(format!("UNTIL={}", local.format("%Y%m%dT%H%M%SZ")));
    }
    Ok(parts.join(";"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(text: &str) -> NaiveDateTime {
        parse_time(text, None).expect("a time").local
    }

    fn epoch(text: &str) -> i64 {
        local(text).and_utc().timestamp()
    }

    #[test]
    fn a_weekly_rule_is_cut_to_the_range_and_keeps_local_time() {
        let starts = expand(
            "FREQ=WEEKLY;COUNT=10",
            local("20260305T100000"),
            epoch("20260310T000000"),
            epoch("20260401T000000"),
            &mut MAX_STEPS.clone(),
            |_| None,
        )
        .expect("expands");
        let days: Vec<String> = starts
            .iter()
            .map(|d| d.format("%m-%d %H").to_string())
            .collect();
        // Margins of a day either side are kept for the caller to cut.
        assert_eq!(days, ["03-12 10", "03-19 10", "03-26 10"]);
    }

    #[test]
    fn a_utc_until_is_compared_in_local_time() {
        // 10:00 in UTC+1 is 09:00Z; UNTIL at 09:00Z keeps the last one.
        let to_local =
            |t: i64| chrono::DateTime::from_timestamp(t + 3600, 0).map(|d| d.naive_utc());
        let starts = expand(
            "FREQ=DAILY;UNTIL=20260307T090000Z",
            local("20260305T100000"),
            epoch("20260301T000000"),
            epoch("20260401T000000"),
            &mut MAX_STEPS.clone(),
            to_local,
        )
        .expect("expands");
        assert_eq!(starts.len(), 3);
    }

    #[test]
    fn a_rule_too_frequent_to_reach_the_range_is_an_error_not_a_hang() {
        let start = std::time::Instant::now();
        let r = expand(
            "FREQ=SECONDLY",
            local("19900101T000000"),
            epoch("20260101T000000"),
            epoch("20270101T000000"),
            &mut MAX_STEPS.clone(),
            |_| None,
        );
        assert!(r.is_err());
        let r = expand(
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
            local("19900101T000000"),
            epoch("20260101T000000"),
            epoch("20270101T000000"),
            &mut MAX_STEPS.clone(),
            |_| None,
        );
        assert_eq!(r, Ok(Vec::new()), "a rule with no occurrence at all");
        assert!(start.elapsed().as_secs() < 20, "bounded work");
    }

    #[test]
    fn the_rules_of_one_event_share_one_budget() {
        let mut budget = 10;
        let mut six_days = || {
            expand(
                "FREQ=DAILY;COUNT=6",
                local("20260305T100000"),
                epoch("20260301T000000"),
                epoch("20260401T000000"),
                &mut budget,
                |_| None,
            )
        };
        assert_eq!(six_days().map(|s| s.len()), Ok(6));
        let second = six_days();
        assert!(second.is_err(), "4 steps left for 6 occurrences");
    }

    #[test]
    fn bad_rules_are_errors() {
        for rule in [
            "FREQ=SOMETIMES",
            "COUNT=3",
            "FREQ=DAILY;UNTIL=tomorrow",
            "FREQ",
        ] {
            let r = expand(
                rule,
                local("20260305T100000"),
                0,
                epoch("20300101T000000"),
                &mut MAX_STEPS.clone(),
                |_| None,
            );
            assert!(r.is_err(), "{rule}");
        }
    }
}
