//! A `VTIMEZONE` read from its rules, for `TZID`s that name no known zone:
//! each `STANDARD` or `DAYLIGHT` observance starts at its `DTSTART` (local
//! time, in the offset before it) and repeats by its `RRULE` or `RDATE`s;
//! from each onset, `TZOFFSETTO` is in effect.

use chrono::NaiveDateTime;

use super::content::{Property, RawTimezone};
use super::recurrence::{expand, MAX_STEPS};
use super::values::parse_time;

/// One observance.
#[derive(Debug, Clone)]
struct Observance {
    start: NaiveDateTime,
    from: i64,
    to: i64,
    rrule: Option<String>,
    rdates: Vec<NaiveDateTime>,
}

/// A zone defined by observances.
#[derive(Debug, Clone)]
pub struct RuleZone {
    observances: Vec<Observance>,
}

/// Reads `+0100`, `-0530` or `+013000` as seconds.
fn parse_offset(text: &str) -> Option<i64> {
    let text = text.trim();
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = |i: usize| digits.get(i..i + 2).and_then(|d| d.parse::<i64>().ok());
    let seconds = if digits.len() == 6 { field(4)? } else { 0 };
    Some(sign * (field(0)? * 3600 + field(2)? * 60 + seconds))
}

const YEAR: i64 = 366 * 86_400;

impl RuleZone {
    /// The zone of a `VTIMEZONE`, if it has a readable observance.
    pub fn read(raw: &RawTimezone) -> Option<RuleZone> {
        let observances: Vec<Observance> = raw
            .observances
            .iter()
            .filter_map(|p| observance(p))
            .collect();
        (!observances.is_empty()).then_some(RuleZone { observances })
    }

    /// Onsets (instant, offset after) within a year and a day of `around`.
    fn onsets(&self, around: i64) -> Vec<(i64, i64)> {
        let mut onsets = Vec::new();
        for o in &self.observances {
            let to_instant = |local: NaiveDateTime| local.and_utc().timestamp() - o.from;
            let mut locals = vec![o.start];
            locals.extend(&o.rdates);
            if let Some(rule) = &o.rrule {
                // The rule runs on local times; the range is wide enough
                // for any offset.
                locals.extend(
                    expand(
                        rule,
                        o.start,
                        around - 2 * YEAR,
                        around + YEAR,
                        &mut MAX_STEPS.clone(),
                        |t| chrono::DateTime::from_timestamp(t + o.from, 0).map(|d| d.naive_utc()),
                    )
                    .unwrap_or_default(),
                );
            }
            onsets.extend(locals.into_iter().map(|l| (to_instant(l), o.to)));
        }
        onsets.sort_unstable();
        onsets
    }

    /// The UTC offset in effect at an instant: that of the latest onset at
    /// or before it, else the first observance's offset before its onset.
    pub fn offset_at(&self, instant: i64) -> i64 {
        let onsets = self.onsets(instant);
        match onsets.iter().rev().find(|(at, _)| *at <= instant) {
            Some((_, offset)) => *offset,
            None => self
                .observances
                .iter()
                .min_by_key(|o| o.start)
                .map_or(0, |o| o.from),
        }
    }

    /// The instant of a local time: the earlier when it occurs twice, `None`
    /// when it is skipped.
    pub fn instant_of(&self, local: &NaiveDateTime) -> Option<i64> {
        let naive = local.and_utc().timestamp();
        let mut offsets: Vec<i64> = self
            .observances
            .iter()
            .flat_map(|o| [o.from, o.to])
            .collect();
        offsets.sort_unstable_by(|a, b| b.cmp(a)); // larger offset: earlier instant
        offsets.dedup();
        offsets
            .into_iter()
            .map(|o| naive - o)
            .find(|t| self.offset_at(*t) == naive - t)
    }
}

fn observance(properties: &[Property]) -> Option<Observance> {
    let first = |name: &str| properties.iter().find(|p| p.name == name);
    Some(Observance {
        start: parse_time(&first("DTSTART")?.value, None)?.local,
        from: parse_offset(&first("TZOFFSETFROM")?.value)?,
        to: parse_offset(&first("TZOFFSETTO")?.value)?,
        rrule: first("RRULE").map(|p| p.value.clone()),
        rdates: properties
            .iter()
            .filter(|p| p.name == "RDATE")
            .flat_map(|p| p.value.split(','))
            .filter_map(|v| parse_time(v, None).map(|t| t.local))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ics::content::read;

    const CET: &str = "BEGIN:VTIMEZONE\nTZID:Custom\nBEGIN:STANDARD\nDTSTART:19701025T030000\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nEND:STANDARD\n\
BEGIN:DAYLIGHT\nDTSTART:19700329T020000\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\n\
TZOFFSETFROM:+0100\nTZOFFSETTO:+0200\nEND:DAYLIGHT\nEND:VTIMEZONE\n";

    fn zone() -> RuleZone {
        RuleZone::read(&read(CET.as_bytes()).timezones[0]).expect("a zone")
    }

    fn local(text: &str) -> NaiveDateTime {
        parse_time(text, None).expect("a time").local
    }

    #[test]
    fn offsets_follow_the_rules_like_the_iana_zone() {
        let tz = chrono_tz::Europe::Stockholm;
        let zone = zone();
        for text in [
            "20260303T100000",
            "20260715T100000",
            "20261025T023000",
            "20261231T235959",
            "20000101T000000",
        ] {
            let expected = crate::zones::local_to_epoch(&tz, &local(text));
            assert_eq!(zone.instant_of(&local(text)), expected, "{text}");
        }
        assert_eq!(zone.instant_of(&local("20260329T023000")), None, "skipped");
    }

    #[test]
    fn offsets_are_read() {
        assert_eq!(parse_offset("+0100"), Some(3600));
        assert_eq!(parse_offset("-0530"), Some(-19_800));
        assert_eq!(parse_offset("+013015"), Some(5415));
        for bad in ["0100", "+1", "+01:00", ""] {
            assert_eq!(parse_offset(bad), None, "{bad}");
        }
    }
}
