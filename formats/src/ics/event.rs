//! One `VEVENT` read: its uid, instants, people and recurrence, with the
//! zones its times name resolved.

use std::collections::HashMap;

use calcard::common::timezone::Tz as CalTz;
use chrono::NaiveDateTime;
use rapport_common::builders::MeetingBuilder;
use rapport_common::directory::{Directory, Party};
use rapport_common::record::{Attendee, ParsedCopy, RecordKey, StagedMeeting};
use rapport_common::reject::{RejectReason as R, Rejection};

use super::content::{Property, RawEvent, RawTimezone};
use super::recurrence::{expand, MAX_STEPS};
use super::values::{parse_duration, parse_time, property_time, unescape_text, Time, Zone};
use super::vtimezone::RuleZone;
use crate::zones::{local_to_epoch, zone_named};

/// The zones of a file: `TZID`s that name an IANA or Windows zone, then
/// the file's `VTIMEZONE`s read from their rules, and the tenant's zone for
/// floating times.
pub struct Zones {
    defined: HashMap<String, RuleZone>,
    tenant: chrono_tz::Tz,
}

/// A zone a `TZID` names.
enum Named<'a> {
    Known(CalTz),
    Rules(&'a RuleZone),
}

impl Zones {
    /// The zones of a file.
    pub fn new(timezones: &[RawTimezone], tenant: chrono_tz::Tz) -> Zones {
        let mut defined = HashMap::new();
        for raw in timezones {
            if let Some(zone) = RuleZone::read(raw) {
                defined.entry(raw.tzid.clone()).or_insert(zone);
            }
        }
        Zones { defined, tenant }
    }

    /// The zone a `TZID` parameter names. A parameter is quoted, not
    /// escaped, but some writers escape its commas as in the `VTIMEZONE`'s
    /// `TZID` value: an escaped name is tried too.
    fn named(&self, name: &str) -> Option<Named<'_>> {
        let name = name.trim();
        if let Some(tz) = zone_named(name) {
            return Some(Named::Known(tz));
        }
        if let Some(zone) = self.defined.get(name) {
            return Some(Named::Rules(zone));
        }
        let unescaped = unescape_text(name);
        (unescaped != name)
            .then(|| self.defined.get(&unescaped).map(Named::Rules))
            .flatten()
    }

    /// The instant of a time; a local time skipped by a DST change is read
    /// an hour later (RFC 5545 §3.3.5).
    pub fn instant(&self, time: &Time) -> Option<i64> {
        let in_zone = |to: &dyn Fn(&NaiveDateTime) -> Option<i64>| {
            to(&time.local).or_else(|| to(&(time.local + chrono::Duration::hours(1))))
        };
        match &time.zone {
            Zone::Utc => Some(time.local.and_utc().timestamp()),
            Zone::Floating => in_zone(&|t| local_to_epoch(&self.tenant, t)),
            Zone::Named(name) => match self.named(name)? {
                Named::Known(tz) => in_zone(&|t| local_to_epoch(&tz, t)),
                Named::Rules(zone) => in_zone(&|t| zone.instant_of(t)),
            },
        }
    }

    /// The local time, in `zone`, of an instant.
    pub fn local_of(&self, zone: &Zone, instant: i64) -> Option<NaiveDateTime> {
        let utc = chrono::DateTime::from_timestamp(instant, 0)?;
        Some(match zone {
            Zone::Utc => utc.naive_utc(),
            Zone::Floating => utc.with_timezone(&self.tenant).naive_local(),
            Zone::Named(name) => match self.named(name)? {
                Named::Known(tz) => utc.with_timezone(&tz).naive_local(),
                Named::Rules(zone) => {
                    chrono::DateTime::from_timestamp(instant + zone.offset_at(instant), 0)?
                        .naive_utc()
                }
            },
        })
    }
}

/// An event as read.
pub struct Event {
    /// Offset of its `BEGIN:VEVENT` in the text.
    pub offset: usize,
    /// `UID`, trimmed.
    pub uid: String,
    /// `RECURRENCE-ID`, as an instant: this event overrides that occurrence.
    pub recurrence_id: Option<i64>,
    start_time: Time,
    start: i64,
    end: i64,
    organizer: Party,
    /// The organizer's address as written (after `mailto:`): ties between
    /// copies are broken on it.
    organizer_address: String,
    attendees: Vec<Attendee>,
    cancelled: bool,
    all_day: bool,
    /// Every `RRULE` (RFC 2445 allowed several; the event recurs on their union).
    rrules: Vec<String>,
    rdates: Vec<(i64, Option<i64>)>,
    exdates: Vec<i64>,
}

fn mailto(value: &str) -> &str {
    let v = value.trim();
    match v.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("mailto:") => &v[7..],
        _ => v,
    }
}

impl Event {
    /// Reads an event.
    pub fn read(raw: &RawEvent, zones: &Zones, directory: &Directory) -> Result<Event, Rejection> {
        let first = |name: &str| raw.properties.iter().find(|p| p.name == name);
        let all = |name: &'static str| raw.properties.iter().filter(move |p| p.name == name);
        let uid = first("UID")
            .map(|p| unescape_text(p.value.trim()))
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| Rejection::new(R::MissingUid, "UID"))?;
        let start_time = first("DTSTART")
            .and_then(property_time)
            .ok_or_else(|| Rejection::new(R::InvalidStart, "DTSTART"))?;
        let start = zones
            .instant(&start_time)
            .ok_or_else(|| Rejection::new(R::InvalidStart, "DTSTART;TZID"))?;
        let end = match (first("DTEND"), first("DURATION")) {
            (Some(p), _) => property_time(p)
                .and_then(|t| zones.instant(&t))
                .ok_or_else(|| Rejection::new(R::InvalidEnd, "DTEND"))?,
            (None, Some(p)) => parse_duration(&p.value)
                .and_then(|d| start.checked_add(d))
                .ok_or_else(|| Rejection::new(R::InvalidEnd, "DURATION"))?,
            (None, None) if start_time.is_date => start + 86_400,
            (None, None) => start,
        };
        let organizer_address = first("ORGANIZER").map_or("", |p| mailto(&p.value));
        let mut people = MeetingBuilder::new(
            directory,
            (start, end),
            "DTEND",
            Some(organizer_address),
            "ORGANIZER",
        )?;
        for p in all("ATTENDEE") {
            let declined = p
                .param("PARTSTAT")
                .is_some_and(|s| s.eq_ignore_ascii_case("DECLINED"));
            let resource = p.param("CUTYPE").is_some_and(|c| {
                c.eq_ignore_ascii_case("ROOM") || c.eq_ignore_ascii_case("RESOURCE")
            });
            people.attendee(mailto(&p.value), declined, resource);
        }
        let (organizer, attendees) = people.people();
        let cancelled =
            first("STATUS").is_some_and(|p| p.value.trim().eq_ignore_ascii_case("CANCELLED"));
        let recurrence_id = match first("RECURRENCE-ID") {
            None => None,
            Some(p) => Some(
                property_time(p)
                    .and_then(|t| zones.instant(&t))
                    .ok_or_else(|| Rejection::new(R::InvalidRecurrence, "RECURRENCE-ID"))?,
            ),
        };
        let rdates = all("RDATE")
            .map(|p| rdate_values(p, zones))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Rejection::new(R::InvalidRecurrence, "RDATE"))?
            .concat();
        let exdates = all("EXDATE")
            .map(|p| {
                p.value
                    .split(',')
                    .map(|v| parse_time(v, p.param("TZID")).and_then(|t| zones.instant(&t)))
                    .collect::<Option<Vec<_>>>()
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Rejection::new(R::InvalidRecurrence, "EXDATE"))?
            .concat();
        Ok(Event {
            offset: raw.offset,
            uid,
            recurrence_id,
            cancelled,
            all_day: start_time.is_date,
            start_time,
            start,
            end,
            organizer,
            organizer_address: organizer_address.to_owned(),
            attendees,
            rrules: all("RRULE").map(|p| p.value.clone()).collect(),
            rdates,
            exdates,
        })
    }

    /// True when the event repeats.
    pub fn is_recurring(&self) -> bool {
        !self.rrules.is_empty() || !self.rdates.is_empty()
    }

    /// An occurrence, under `key`, from `start` to `end`, with its text.
    pub fn occurrence(&self, key: RecordKey, start: i64, end: i64) -> ParsedCopy<'_> {
        let meeting = StagedMeeting {
            key,
            start,
            end,
            organizer: self.organizer,
            attendees: self.attendees.clone(),
            cancelled: self.cancelled,
            all_day: self.all_day,
        };
        ParsedCopy::meeting(meeting, self.organizer_address.as_str())
    }

    /// The event as one occurrence, under `key`, at its own time.
    pub fn staged(&self, key: RecordKey) -> ParsedCopy<'_> {
        self.occurrence(key, self.start, self.end)
    }

    /// (start, end) of each occurrence starting in `[from, until)`: the
    /// first (`DTSTART`), every rule's and the `RDATE`s, less the `EXDATE`s.
    pub fn occurrences(
        &self,
        zones: &Zones,
        from: i64,
        until: i64,
    ) -> Result<Vec<(i64, i64)>, Rejection> {
        let duration = self.end - self.start;
        let mut starts: Vec<(i64, i64)> = vec![(self.start, self.end)];
        let mut budget = MAX_STEPS;
        for rule in &self.rrules {
            let zone = &self.start_time.zone;
            let locals = expand(rule, self.start_time.local, from, until, &mut budget, |t| {
                zones.local_of(zone, t)
            })
            .map_err(|_| Rejection::new(R::InvalidRecurrence, "RRULE"))?;
            for local in locals {
                let time = Time {
                    local,
                    ..self.start_time.clone()
                };
                if let Some(start) = zones.instant(&time) {
                    starts.push((start, start + duration));
                }
            }
        }
        for (start, end) in &self.rdates {
            starts.push((*start, end.unwrap_or(start + duration)));
        }
        let excluded: std::collections::HashSet<i64> = self.exdates.iter().copied().collect();
        starts.retain(|(s, _)| (from..until).contains(s) && !excluded.contains(s));
        starts.sort_unstable();
        starts.dedup_by_key(|(s, _)| *s);
        Ok(starts)
    }
}

/// The values of one `RDATE`: times, or periods `start/end` or
/// `start/duration`.
fn rdate_values(p: &Property, zones: &Zones) -> Option<Vec<(i64, Option<i64>)>> {
    let tzid = p.param("TZID");
    p.value
        .split(',')
        .map(|v| {
            let (start, rest) = match v.split_once('/') {
                Some((s, r)) => (s, Some(r)),
                None => (v, None),
            };
            let start = zones.instant(&parse_time(start, tzid)?)?;
            let end = match rest {
                None => None,
                Some(r) if r.trim_start().starts_with(['P', 'p', '-', '+']) => {
                    Some(start.checked_add(parse_duration(r)?)?)
                }
                Some(r) => Some(zones.instant(&parse_time(r, tzid)?)?),
            };
            Some((start, end.filter(|e| *e > start)))
        })
        .collect()
}
