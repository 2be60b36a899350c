//! iCalendar files (INPUTS.md "ics"): each `VEVENT` read into meeting
//! occurrences. A recurring event (`RRULE`, `RDATE`, `EXDATE`) is expanded
//! inside the run's range, and `RECURRENCE-ID` overrides move, change or
//! cancel single occurrences. An occurrence of a recurring event has the uid
//! `UID/<start in UTC>` (an override keeps the start it replaces, so copies
//! of one occurrence meet); a single event keeps its `UID`.
//!
//! `SUMMARY`, `DESCRIPTION` and `LOCATION` are read as any property and
//! dropped with the event's text; nothing of them is staged.

mod content;
mod event;
mod recurrence;
mod values;
mod vtimezone;

use std::collections::{HashMap, HashSet};

use rapport_common::ingest::{IngestSink, RawRecord};
use rapport_common::record::meeting_key;
use rapport_common::reject::{RejectReason as R, Rejection};

use crate::FormatContext;
use event::{Event, Zones};

/// Parses a whole iCalendar file.
pub fn parse(record: RawRecord, ctx: &FormatContext, sink: &mut IngestSink) {
    let contents = content::read(record.bytes);
    for offset in &contents.bad_lines {
        sink.reject(
            record.offset + *offset as u64,
            Rejection::new(R::InvalidSyntax, "content line"),
        );
    }
    let zones = Zones::new(&contents.timezones, ctx.timezone);
    let mut events: Vec<Event> = Vec::new();
    for raw in &contents.events {
        match Event::read(raw, &zones, ctx.directory) {
            Ok(event) => events.push(event),
            Err(rejection) => sink.reject(record.offset + raw.offset as u64, rejection),
        }
    }
    // Overrides by uid, then by the start they replace.
    let mut overrides: HashMap<&str, HashMap<i64, &Event>> = HashMap::new();
    for e in &events {
        if let Some(rid) = e.recurrence_id {
            overrides.entry(&e.uid).or_default().insert(rid, e);
        }
    }
    let mut replaced: HashSet<(&str, i64)> = HashSet::new();
    for e in events.iter().filter(|e| e.recurrence_id.is_none()) {
        if !e.is_recurring() {
            sink.stage(e.staged(meeting_key(&e.uid)));
            continue;
        }
        let starts = match e.occurrences(&zones, ctx.expand_from, ctx.expand_until) {
            Ok(starts) => starts,
            Err(rejection) => {
                sink.reject(record.offset + e.offset as u64, rejection);
                continue;
            }
        };
        let own = overrides.get(e.uid.as_str());
        for (start, end) in starts {
            let key = occurrence_key(&e.uid, start);
            match own.and_then(|o| o.get(&start)) {
                Some(o) => {
                    replaced.insert((&e.uid, start));
                    sink.stage(o.staged(key));
                }
                None => sink.stage(e.occurrence(key, start, end)),
            }
        }
    }
    // Overrides of no occurrence read here (a single invitation, or one
    // outside the range) stand alone.
    for e in &events {
        if let Some(rid) = e.recurrence_id {
            if !replaced.contains(&(e.uid.as_str(), rid)) {
                sink.stage(e.staged(occurrence_key(&e.uid, rid)));
            }
        }
    }
}

/// The key of an occurrence: `UID/2026-03-03T10:00:00Z`.
fn occurrence_key(uid: &str, start: i64) -> u128 {
    let start = chrono::DateTime::from_timestamp(start, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    meeting_key(&format!("{uid}/{start}"))
}

#[cfg(test)]
#[path = "../ics_tests.rs"]
mod tests;
