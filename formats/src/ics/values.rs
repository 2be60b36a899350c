//! iCalendar value types the events use: `DATE`, `DATE-TIME` (UTC,
//! floating, or with a `TZID`), `DURATION` and `PERIOD`.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::content::Property;

/// Where a time is: UTC (`Z`), in a named zone (`TZID`), or floating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    /// Ends in `Z`.
    Utc,
    /// A `TZID` parameter.
    Named(String),
    /// Neither: the tenant's zone.
    Floating,
}

/// A `DATE` or `DATE-TIME` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Time {
    /// The local date and time (midnight for a `DATE`).
    pub local: NaiveDateTime,
    /// Its zone.
    pub zone: Zone,
    /// True for a `DATE` value.
    pub is_date: bool,
}

/// Reads `YYYYMMDD` or `YYYYMMDDTHHMMSS[Z]`.
pub fn parse_time(text: &str, tzid: Option<&str>) -> Option<Time> {
    let text = text.trim();
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let date = text.get(..8).filter(|d| digits(d))?;
    let date = NaiveDate::from_ymd_opt(
        date[..4].parse().ok()?,
        date[4..6].parse().ok()?,
        date[6..8].parse().ok()?,
    )?;
    if text.len() == 8 {
        return Some(Time {
            local: date.and_time(NaiveTime::MIN),
            zone: Zone::Floating,
            is_date: true,
        });
    }
    let rest = text.get(8..)?.strip_prefix(['T', 't'])?;
    let (clock, utc) = match rest.strip_suffix(['Z', 'z']) {
        Some(clock) => (clock, true),
        None => (rest, false),
    };
    if clock.len() != 6 || !digits(clock) {
        return None;
    }
    let time = NaiveTime::from_hms_opt(
        clock[..2].parse().ok()?,
        clock[2..4].parse().ok()?,
        clock[4..].parse().ok()?,
    )?;
    let zone = match (utc, tzid) {
        (true, _) => Zone::Utc,
        (false, Some(t)) => Zone::Named(t.to_owned()),
        (false, None) => Zone::Floating,
    };
    Some(Time {
        local: date.and_time(time),
        zone,
        is_date: false,
    })
}

/// A TEXT value unescaped (RFC 5545 §3.3.11): `\,` `\;` `\\` and `\n`
/// (or `\N`) stand for a comma, a semicolon, a backslash and a newline;
/// any other backslash stays as written.
pub fn unescape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(e @ (',' | ';' | '\\')) => out.push(e),
            Some('n' | 'N') => out.push('\n'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A property's (first) value as a time.
pub fn property_time(p: &Property) -> Option<Time> {
    parse_time(p.value.split(',').next()?, p.param("TZID"))
}

/// Reads an RFC 5545 duration (`P1W`, `PT1H30M`, `-P1D`, `P1DT2H`) in
/// seconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    let mut total: i64 = 0;
    let mut number: Option<i64> = None;
    let mut in_time = false;
    let mut any = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            d @ '0'..='9' => {
                let digit = i64::from(d as u8 - b'0');
                number = Some(number.unwrap_or(0).checked_mul(10)?.checked_add(digit)?);
            }
            'T' if !in_time && number.is_none() => in_time = true,
            unit => {
                let n = number.take()?;
                let seconds = match (unit, in_time) {
                    ('W', false) => 604_800,
                    ('D', false) => 86_400,
                    ('H', true) => 3_600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return None,
                };
                total = total.checked_add(n.checked_mul(seconds)?)?;
                any = true;
            }
        }
    }
    (any && number.is_none()).then_some(sign * total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_date_times_are_read_with_their_zone() {
        let t = parse_time("20260303T100000Z", Some("Europe/Oslo")).expect("read");
        assert_eq!((t.zone, t.is_date), (Zone::Utc, false));
        let t = parse_time("20260303T100000", Some("Europe/Oslo")).expect("read");
        assert_eq!(t.zone, Zone::Named("Europe/Oslo".to_owned()));
        let t = parse_time("20260303", None).expect("read");
        assert!(t.is_date);
        for bad in [
            "2026033",
            "20260230T100000",
            "20260303T1000",
            "20260303X100000",
            "20260303T100000ZZ",
        ] {
            assert_eq!(parse_time(bad, None), None, "{bad}");
        }
    }

    #[test]
    fn text_values_are_unescaped() {
        assert_eq!(
            unescape_text(r"Pacific Time (US & Canada)\, Tijuana"),
            "Pacific Time (US & Canada), Tijuana"
        );
        assert_eq!(unescape_text(r"a\;b\\c\Nd\x"), "a;b\\c\nd\\x");
        assert_eq!(unescape_text("plain"), "plain");
    }

    #[test]
    fn durations_are_read() {
        assert_eq!(parse_duration("PT1H30M"), Some(5400));
        assert_eq!(parse_duration("P1W"), Some(604_800));
        assert_eq!(parse_duration("P1DT2H"), Some(93_600));
        assert_eq!(parse_duration("-PT15M"), Some(-900));
        for bad in ["P", "PT", "1H", "PT1H30", "P1H", "PT99999999999999999999S"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
