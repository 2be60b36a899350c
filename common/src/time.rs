//! Timestamps and dates: RFC 3339 read to the second (fractions dropped,
//! ENGAGEMENT.md §1 "Timestamps"), dates as day numbers, and local dates in
//! the tenant time zone.

use chrono::{Datelike, NaiveDate, Offset, TimeZone};
use chrono_tz::Tz;

/// A calendar date as days since 1970-01-01 (compact, ordered, mergeable).
pub type Day = i32;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0, |acc, b| acc * 10 + u32::from(b - b'0')),
    )
}

/// Parses an RFC 3339 timestamp with `Z` or a numeric offset
/// (`2026-03-02T09:15:00.250+01:00`) into whole seconds since the epoch,
/// dropping any fraction. Returns `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = i64::from(digits(&b[0..4])?);
    let (month, day) = (digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &b[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (oh, om) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = i64::from(oh * 3600 + om * 60);
            if *sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset)
}

/// The local date (in `tz`) of an instant given in seconds since the epoch.
pub fn local_day(tz: &Tz, epoch_seconds: i64) -> Day {
    match tz.timestamp_opt(epoch_seconds, 0) {
        chrono::LocalResult::Single(t) => day_of(t.date_naive()),
        // Instants are always unambiguous; only out-of-range seconds land here.
        _ => day_of(NaiveDate::MIN),
    }
}

/// Local dates of many instants in one zone, with the zone's UTC offset
/// cached per quarter hour. A quarter hour is cached only when the offset at
/// its start and at its end agree, so an instant near a daylight-saving
/// change is still converted exactly (offsets never change twice in 15 min).
pub struct LocalDays {
    tz: Tz,
    offsets: rustc_hash::FxHashMap<i64, Option<i64>>,
}

/// Seconds in a cache bucket.
const BUCKET: i64 = 900;

impl LocalDays {
    /// A converter for `tz`.
    pub fn new(tz: Tz) -> LocalDays {
        LocalDays {
            tz,
            offsets: rustc_hash::FxHashMap::default(),
        }
    }

    fn offset_at(&self, epoch_seconds: i64) -> Option<i64> {
        match self.tz.timestamp_opt(epoch_seconds, 0) {
            chrono::LocalResult::Single(t) => Some(i64::from(t.offset().fix().local_minus_utc())),
            _ => None,
        }
    }

    /// The local date of an instant, as [`local_day`] gives it.
    pub fn day(&mut self, epoch_seconds: i64) -> Day {
        let bucket = epoch_seconds.div_euclid(BUCKET);
        let cached = match self.offsets.get(&bucket) {
            Some(c) => *c,
            None => {
                let (start, end) = (
                    self.offset_at(bucket * BUCKET),
                    self.offset_at(bucket * BUCKET + BUCKET - 1),
                );
                let c = if start == end { start } else { None };
                self.offsets.insert(bucket, c);
                c
            }
        };
        match cached {
            Some(offset) => (epoch_seconds + offset).div_euclid(86_400) as Day,
            None => local_day(&self.tz, epoch_seconds),
        }
    }
}

/// Day number of a date.
pub fn day_of(date: NaiveDate) -> Day {
    days_from_civil(i64::from(date.year()), date.month(), date.day()) as Day
}

/// Date of a day number.
pub fn date_of(day: Day) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day + 719_163).unwrap_or(NaiveDate::MIN)
}

/// `YYYY-MM-DD` of a day number.
pub fn format_day(day: Day) -> String {
    date_of(day).format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_read_to_the_second() {
        let a = parse_rfc3339("2026-03-02T09:15:00.999+01:00");
        assert_eq!(a, parse_rfc3339("2026-03-02T08:15:00Z"));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z"), Some(1));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-1));
    }

    #[test]
    fn timestamp_needs_an_offset_and_valid_fields() {
        for bad in [
            "not-a-time",
            "2026-03-02T09:15:00",
            "2026-02-30T09:15:00Z",
            "2026-03-02T24:00:00Z",
            "2026-03-02T09:15Z",
            "2026-03-02T09:15:00.Z",
            "2026-03-02T09:15:00+0100",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamp_matches_chrono() {
        let t = "2024-02-29T23:59:59-05:30";
        let chrono = chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| d.timestamp())
            .ok();
        assert_eq!(parse_rfc3339(t), chrono);
    }

    #[test]
    fn local_date_uses_the_tenant_zone() {
        let tz: Tz = "Europe/Stockholm".parse().expect("zone");
        let t = parse_rfc3339("2026-03-01T23:30:00Z").expect("time");
        assert_eq!(format_day(local_day(&tz, t)), "2026-03-02");
        assert_eq!(format_day(local_day(&chrono_tz::UTC, t)), "2026-03-01");
    }

    #[test]
    fn cached_local_days_equal_direct_conversion_across_dst_changes() {
        for zone in [
            "Europe/Stockholm",
            "America/New_York",
            "Australia/Adelaide",
            "Asia/Kathmandu",
            "UTC",
        ] {
            let tz: Tz = zone.parse().expect("zone");
            let mut days = LocalDays::new(tz);
            // Through both 2026 daylight-saving changes, every 7 minutes and 13 s.
            let start = parse_rfc3339("2026-03-01T00:00:00Z").expect("t");
            for t in (start..start + 250 * 86_400).step_by(433) {
                assert_eq!(days.day(t), local_day(&tz, t), "{zone} at {t}");
            }
        }
    }

    #[test]
    fn day_numbers_round_trip() {
        let d = NaiveDate::from_ymd_opt(2026, 6, 30).expect("date");
        assert_eq!(date_of(day_of(d)), d);
        assert_eq!(
            day_of(NaiveDate::from_ymd_opt(1970, 1, 1).expect("date")),
            0
        );
    }
}
