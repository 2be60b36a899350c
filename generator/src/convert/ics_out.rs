//! iCalendar from canonical meetings. The occurrences of a series become
//! one recurring event: `RRULE:FREQ=WEEKLY` on the first occurrence's local
//! time, `EXDATE` for the weeks a mailbox lacks, `RDATE` for occurrences off
//! the weekly pattern, and `RECURRENCE-ID` overrides for occurrences that
//! differ from the first (length, people, cancelled). A series whose
//! occurrences cannot be told apart by start (two uids at one time, or one
//! uid at two) is written as single events instead, as are all-day ones.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDateTime, TimeZone, Utc};
use rapport_common::address::normalise;

use super::canonical::{Attendee, Item, Meeting, RejectedKind};

/// Which series can be written as recurring events.
pub struct SeriesPlan {
    clean: HashSet<String>,
}

/// Notes one occurrence: its uid's starts, and the uids at its start.
fn note<'m>(
    m: &'m Meeting,
    starts_of_uid: &mut HashMap<&'m str, HashSet<(Option<&'m str>, i64)>>,
    uids_at: &mut HashMap<(&'m str, i64), HashSet<&'m str>>,
    series: &mut HashSet<&'m str>,
    unclean: &mut HashSet<&'m str>,
) {
    let (start, _) = m.span();
    starts_of_uid
        .entry(&m.uid)
        .or_default()
        .insert((m.series_id.as_deref(), start));
    if let Some(s) = m.series_id.as_deref() {
        series.insert(s);
        uids_at.entry((s, start)).or_default().insert(&m.uid);
        if m.all_day.unwrap_or(false) {
            unclean.insert(s);
        }
    }
}

impl SeriesPlan {
    /// Looks at every occurrence of every mailbox.
    pub fn new<'a>(mailboxes: impl Iterator<Item = &'a [Item]>) -> SeriesPlan {
        let mut starts_of_uid: HashMap<&str, HashSet<(Option<&str>, i64)>> = HashMap::new();
        let mut uids_at: HashMap<(&str, i64), HashSet<&str>> = HashMap::new();
        let mut unclean: HashSet<&str> = HashSet::new();
        let mut series: HashSet<&str> = HashSet::new();
        for items in mailboxes {
            let mut in_mailbox: HashSet<&str> = HashSet::new();
            for item in items {
                let Item::Meeting(m) = item else { continue };
                if !in_mailbox.insert(&m.uid) {
                    unclean.extend(m.series_id.as_deref());
                }
                note(
                    m,
                    &mut starts_of_uid,
                    &mut uids_at,
                    &mut series,
                    &mut unclean,
                );
            }
        }
        for spans in starts_of_uid.values() {
            if spans.len() > 1 {
                unclean.extend(spans.iter().filter_map(|(s, _)| *s));
            }
        }
        for ((s, _), uids) in &uids_at {
            if uids.len() > 1 {
                unclean.insert(s);
            }
        }
        SeriesPlan {
            clean: series
                .difference(&unclean)
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }
}

fn utc_stamp(t: i64) -> String {
    Utc.timestamp_opt(t, 0)
        .single()
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

fn local_of(t: i64, tz: chrono_tz::Tz) -> NaiveDateTime {
    Utc.timestamp_opt(t, 0)
        .single()
        .unwrap_or_default()
        .with_timezone(&tz)
        .naive_local()
}

/// The instant a reader gives a local time: the earlier of a repeated
/// hour, an hour later for a skipped one.
fn instant_of(local: NaiveDateTime, tz: chrono_tz::Tz) -> Option<i64> {
    let at = |l: NaiveDateTime| tz.from_local_datetime(&l).earliest().map(|d| d.timestamp());
    at(local).or_else(|| at(local + chrono::Duration::hours(1)))
}

/// `NAME;TZID=zone:local` when that reads back as `t`, else `NAME:utcZ`.
fn time_line(name: &str, t: i64, tz: chrono_tz::Tz, style: usize) -> String {
    let local = local_of(t, tz);
    let round_trips = instant_of(local, tz) == Some(t);
    match style % 3 {
        1 if round_trips => format!(
            "{name};TZID={}:{}",
            tz.name(),
            local.format("%Y%m%dT%H%M%S")
        ),
        2 if round_trips => format!("{name}:{}", local.format("%Y%m%dT%H%M%S")),
        _ => format!("{name}:{}", utc_stamp(t)),
    }
}

/// Folds a content line at 75 octets (RFC 5545 §3.1).
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

fn attendee_line(a: &Attendee) -> Option<String> {
    let address = normalise(a.email.as_deref()?)?;
    let partstat = match a.status.as_deref() {
        Some("accepted") => "ACCEPTED",
        Some("tentative") => "TENTATIVE",
        Some("declined") => "DECLINED",
        _ => "NEEDS-ACTION",
    };
    let (cutype, role) = match a.kind.as_deref() {
        Some("resource") if address.starts_with("room") => ("ROOM", "NON-PARTICIPANT"),
        Some("resource") => ("RESOURCE", "NON-PARTICIPANT"),
        Some("optional") => ("INDIVIDUAL", "OPT-PARTICIPANT"),
        _ => ("INDIVIDUAL", "REQ-PARTICIPANT"),
    };
    let name = address.split('@').next().unwrap_or_default();
    Some(format!(
        "ATTENDEE;CUTYPE={cutype};ROLE={role};PARTSTAT={partstat};CN=\"{name}, guest\":mailto:{address}"
    ))
}

/// The lines every occurrence carries; two occurrences with the same ones
/// differ only in time.
fn people_lines(m: &Meeting) -> Vec<String> {
    let mut lines = vec![format!(
        "ORGANIZER;CN=\"Organizer, The\":mailto:{}",
        normalise(&m.organizer).unwrap_or_default()
    )];
    lines.extend(m.attendees().iter().filter_map(attendee_line));
    if m.cancelled.unwrap_or(false) {
        lines.push("STATUS:CANCELLED".to_owned());
    } else {
        lines.push("STATUS:CONFIRMED".to_owned());
    }
    lines
}

fn content_lines(m: &Meeting) -> Vec<String> {
    let s = m.subject.as_deref().unwrap_or("Meeting");
    vec![
        format!("SUMMARY:{s}"),
        format!("DESCRIPTION:{s} (description)\\, with notes"),
        format!("LOCATION:{s} (location)"),
    ]
}

fn event(lines: Vec<String>, out: &mut String) {
    out.push_str("BEGIN:VEVENT\r\n");
    for line in lines {
        fold(&line, out);
    }
    out.push_str("BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\n");
}

fn single(m: &Meeting, tz: chrono_tz::Tz, n: usize, out: &mut String) {
    let (start, end) = m.span();
    let mut lines = vec![
        format!("UID:{}", m.uid),
        "DTSTAMP:20260101T000000Z".to_owned(),
    ];
    if m.all_day.unwrap_or(false) {
        let day = local_of(start, tz).date();
        lines.push(format!("DTSTART;VALUE=DATE:{}", day.format("%Y%m%d")));
        lines.push(format!(
            "DTEND;VALUE=DATE:{}",
            (day + chrono::Duration::days(1)).format("%Y%m%d")
        ));
    } else {
        lines.push(time_line("DTSTART", start, tz, n));
        if n.is_multiple_of(4) && start < end {
            lines.push(format!("DURATION:PT{}S", end - start));
        } else {
            lines.push(time_line("DTEND", end, tz, n));
        }
    }
    lines.extend(people_lines(m));
    lines.extend(content_lines(m));
    event(lines, out);
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// One series' occurrences in this mailbox, sorted by start.
fn series(uid: &str, occurrences: &[&Meeting], tz: chrono_tz::Tz, out: &mut String) {
    let first = occurrences[0];
    let (start0, end0) = first.span();
    let local0 = local_of(start0, tz);
    let mut on_pattern = Vec::new();
    let mut rdates = Vec::new();
    for m in &occurrences[1..] {
        let (start, _) = m.span();
        let local = local_of(start, tz);
        let days = (local.date() - local0.date()).num_days();
        let exact = instant_of(local, tz) == Some(start);
        if exact && local.time() == local0.time() && days % 7 == 0 && days > 0 {
            on_pattern.push((days / 7, start));
        } else {
            rdates.push(start);
        }
    }
    let step = on_pattern.iter().fold(0, |g, (w, _)| gcd(g, *w)).max(1);
    let count = on_pattern.last().map_or(1, |(w, _)| w / step + 1);
    let present: HashSet<i64> = on_pattern.iter().map(|(w, _)| *w).collect();
    let exdates: Vec<i64> = (1..count)
        .map(|i| i * step)
        .filter(|w| !present.contains(w))
        .filter_map(|w| instant_of(local0 + chrono::Duration::weeks(w), tz))
        .collect();
    let mut lines = vec![
        format!("UID:{uid}"),
        "DTSTAMP:20260101T000000Z".to_owned(),
        format!(
            "DTSTART;TZID={}:{}",
            tz.name(),
            local0.format("%Y%m%dT%H%M%S")
        ),
        format!(
            "DTEND;TZID={}:{}",
            tz.name(),
            local_of(end0, tz).format("%Y%m%dT%H%M%S")
        ),
        format!("RRULE:FREQ=WEEKLY;INTERVAL={step};COUNT={count}"),
    ];
    if !exdates.is_empty() {
        let list: Vec<String> = exdates.iter().map(|t| utc_stamp(*t)).collect();
        lines.push(format!("EXDATE:{}", list.join(",")));
    }
    for t in &rdates {
        lines.push(format!("RDATE:{}", utc_stamp(*t)));
    }
    lines.extend(people_lines(first));
    lines.extend(content_lines(first));
    event(lines, out);
    // Overrides: occurrences that differ from the first in length or people,
    // and RDATE occurrences of another length (they take the first's).
    let duration0 = end0 - start0;
    for m in &occurrences[1..] {
        let (start, end) = m.span();
        if end - start == duration0 && people_lines(m) == people_lines(first) {
            continue;
        }
        let mut lines = vec![
            format!("UID:{uid}"),
            "DTSTAMP:20260101T000000Z".to_owned(),
            format!("RECURRENCE-ID:{}", utc_stamp(start)),
            "SEQUENCE:1".to_owned(),
            time_line("DTSTART", start, tz, 1),
            time_line("DTEND", end, tz, 0),
        ];
        lines.extend(people_lines(m));
        lines.extend(content_lines(m));
        event(lines, out);
    }
}

/// One mailbox's calendar.
pub fn write_calendar(items: &[Item], tz: chrono_tz::Tz, plan: &SeriesPlan) -> String {
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Rapport//generator//EN\r\nMETHOD:PUBLISH\r\n",
    );
    let mut by_series: BTreeMap<&str, Vec<&Meeting>> = BTreeMap::new();
    for (n, item) in items.iter().enumerate() {
        match item {
            Item::Meeting(m) => match m.series_id.as_deref().filter(|s| plan.clean.contains(*s)) {
                Some(s) => by_series.entry(s).or_default().push(m),
                None => single(m, tz, n, &mut out),
            },
            Item::Rejected(RejectedKind::Meeting) => {
                event(
                    vec![
                        "DTSTART:20260101T100000Z".to_owned(),
                        "SUMMARY:no uid".to_owned(),
                    ],
                    &mut out,
                );
            }
            _ => {}
        }
    }
    for (s, mut occurrences) in by_series {
        occurrences.sort_by_key(|m| m.span().0);
        series(s, &occurrences, tz, &mut out);
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}
