//! Time zone names as exports spell them, and local times read in them.
//!
//! Graph gives `UTC`, an IANA name, or a Windows zone name
//! (`W. Europe Standard Time`); Windows names map to IANA zones by the CLDR
//! `windowsZones` table, as carried by `calcard` (Stalwart's iCalendar
//! crate, which also reads the `TZID`s Outlook writes into `.ics` files).

use std::str::FromStr;

use calcard::common::timezone::Tz as CalTz;
use chrono::{NaiveDateTime, TimeZone};

/// A zone from its name: `UTC`, an IANA name or a Windows name.
pub fn zone_named(name: &str) -> Option<CalTz> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    if let Ok(tz) = chrono_tz::Tz::from_str(name) {
        return Some(CalTz::Tz(tz));
    }
    match CalTz::from_str(name) {
        Ok(CalTz::Floating) | Err(()) => None,
        Ok(tz) => Some(tz),
    }
}

/// Epoch seconds of a local time in `tz`. A time that occurs twice (the
/// hour repeated when clocks go back) is the earlier; one that never occurs
/// (skipped when clocks go forward) is `None`.
pub fn local_to_epoch<Z: TimeZone>(tz: &Z, local: &NaiveDateTime) -> Option<i64> {
    tz.from_local_datetime(local)
        .earliest()
        .map(|t| t.timestamp())
}

/// Reads a Graph `dateTime`: `2026-03-03T10:00:00.0000000`, fractions
/// optional (dropped), no offset.
pub fn parse_local_datetime(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    let (main, fraction) = match text.split_once('.') {
        Some((main, fraction)) => (main, Some(fraction)),
        None => (text, None),
    };
    if fraction.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    fixed_width(main).or_else(|| NaiveDateTime::parse_from_str(main, "%Y-%m-%dT%H:%M:%S").ok())
}

/// `YYYY-MM-DDTHH:MM:SS` exactly, as Graph writes it, without chrono's
/// format parser (a tenth of Graph ingest); `None` sends any other shape,
/// and a leap second, to chrono.
fn fixed_width(text: &str) -> Option<NaiveDateTime> {
    let b: &[u8; 19] = text.as_bytes().try_into().ok()?;
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let (second, year) = (number(17..19)?, number(0..4)?);
    if second == 60 {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(year as i32, number(5..7)?, number(8..10)?)?;
    date.and_hms_opt(number(11..13)?, number(14..16)?, second)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(zone: &str, local: &str) -> Option<i64> {
        let tz = zone_named(zone)?;
        local_to_epoch(&tz, &parse_local_datetime(local)?)
    }

    #[test]
    fn the_fixed_width_shape_reads_as_chrono_reads_it() {
        for text in [
            "2026-03-03T11:00:00",
            "0001-01-01T00:00:00",
            "2024-02-29T23:59:59",
            "2025-02-29T10:00:00",
            "2026-13-01T10:00:00",
            "2026-03-03T24:00:00",
            "2026-03-03T11:60:00",
            "2026-03-03T11:00:60",
            "2026-03-03 11:00:00",
            "2026-03-03T11:00:0x",
            "+2026-03-03T11:00:0",
        ] {
            let chrono = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").ok();
            assert_eq!(parse_local_datetime(text), chrono, "{text}");
            if fixed_width(text).is_some() {
                assert_eq!(fixed_width(text), chrono, "{text}");
            }
        }
    }

    #[test]
    fn utc_iana_and_windows_names_are_read() {
        let utc = epoch("UTC", "2026-03-03T10:00:00.0000000").expect("utc");
        assert_eq!(utc, 1_772_532_000);
        assert_eq!(epoch("Europe/Stockholm", "2026-03-03T11:00:00"), Some(utc));
        assert_eq!(
            epoch("W. Europe Standard Time", "2026-03-03T11:00:00"),
            Some(utc)
        );
        assert_eq!(
            epoch("Eastern Standard Time", "2026-03-03T05:00:00"),
            Some(utc)
        );
        assert_eq!(zone_named("Not A Zone"), None);
        assert_eq!(zone_named(""), None);
    }

    #[test]
    fn skipped_local_times_are_refused_and_repeated_ones_take_the_earlier() {
        assert_eq!(epoch("Europe/Stockholm", "2026-03-29T02:30:00"), None);
        let first = epoch("Europe/Stockholm", "2026-10-25T02:30:00").expect("exists");
        assert_eq!(first, epoch("UTC", "2026-10-25T00:30:00").expect("utc"));
    }

    #[test]
    fn malformed_local_times_are_refused() {
        for text in [
            "2026-03-03",
            "2026-03-03T10:00:00.",
            "2026-03-03T10:00:00Z",
            "x",
        ] {
            assert_eq!(parse_local_datetime(text), None, "{text}");
        }
    }
}
