//! Tests of the iCalendar reader: every construct INPUTS.md names, and the
//! real Google export of `tests/data/realdata/calendar` (see SOURCES.md).

use rapport_common::directory::Party;
use rapport_common::ingest::{IngestOutput, RawRecord};
use rapport_common::record::{decode_staged, meeting_key, StagedMeeting, StagedRecord};
use rapport_common::reject::RejectReason as R;
use rapport_common::time::days_from_civil;

use super::*;
use crate::test_directory::directory;

/// Runs a calendar with the range [from, until) given as dates.
fn run(
    text: &str,
    from: (i64, u32, u32),
    until: (i64, u32, u32),
) -> (Vec<StagedMeeting>, IngestOutput) {
    let directory = directory();
    let ctx = FormatContext {
        directory: &directory,
        key_partitions: 1,
        timezone: chrono_tz::Europe::Stockholm,
        expand_from: days_from_civil(from.0, from.1, from.2) * 86_400,
        expand_until: days_from_civil(until.0, until.1, until.2) * 86_400,
    };
    let mut sink = crate::test_directory::sink("c.ics");
    parse(
        RawRecord {
            offset: 0,
            bytes: text.as_bytes(),
        },
        &ctx,
        &mut sink,
    );
    let out = sink.finish();
    let mut staged = Vec::new();
    decode_staged(&out.partitions[0], &mut staged).expect("decodes");
    let mut meetings: Vec<StagedMeeting> = staged
        .into_iter()
        .map(|c| match c.record {
            StagedRecord::Meeting(m) => m,
            StagedRecord::Email(_) => panic!("only meetings"),
        })
        .collect();
    meetings.sort_by_key(|m| m.start);
    (meetings, out)
}

fn utc(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .expect("a time")
        .timestamp()
}

fn calendar(events: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{events}END:VCALENDAR\r\n")
}

const SERIES: &str = "BEGIN:VEVENT\r\nUID:ev7\r\nSUMMARY:never kept\r\nLOCATION:never kept\r\n\
DTSTART;TZID=Europe/Stockholm:20260303T100000\r\nDURATION:PT30M\r\n\
RRULE:FREQ=WEEKLY;COUNT=6\r\nEXDATE;TZID=Europe/Stockholm:20260310T100000\r\n\
RDATE:20260402T080000Z\r\n\
ORGANIZER;CN=\"Lindqvist, Anna\":mailto:anna@contoso.com\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:bo@fabrikam.com\r\n\
ATTENDEE;PARTSTAT=DECLINED:mailto:cy@fabrikam.com\r\n\
ATTENDEE;CUTYPE=ROOM:mailto:room@contoso.com\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:ev7\r\nRECURRENCE-ID;TZID=Europe/Stockholm:20260317T100000\r\n\
DTSTART;TZID=Europe/Stockholm:20260318T140000\r\nDTEND;TZID=Europe/Stockholm:20260318T150000\r\n\
ORGANIZER:mailto:anna@contoso.com\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:ev7\r\nRECURRENCE-ID:20260324T090000Z\r\nSTATUS:CANCELLED\r\n\
DTSTART;TZID=Europe/Stockholm:20260324T100000\r\nDURATION:PT30M\r\n\
ORGANIZER:mailto:anna@contoso.com\r\nEND:VEVENT\r\n";

#[test]
fn a_series_expands_with_exdates_rdates_and_overrides() {
    let (meetings, out) = run(&calendar(SERIES), (2026, 1, 1), (2026, 12, 31));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let starts: Vec<i64> = meetings.iter().map(|m| m.start).collect();
    assert_eq!(
        starts,
        [
            utc("2026-03-03T09:00:00Z"),
            // 03-10 excluded; 03-17 moved to the 18th at 14:00
            utc("2026-03-18T13:00:00Z"),
            utc("2026-03-24T09:00:00Z"),
            // summer time from 03-29: still 10:00 local
            utc("2026-03-31T08:00:00Z"),
            utc("2026-04-02T08:00:00Z"),
            utc("2026-04-07T08:00:00Z"),
        ]
    );
    assert_eq!(meetings[0].key, meeting_key("ev7/2026-03-03T09:00:00Z"));
    assert_eq!(
        meetings[1].key,
        meeting_key("ev7/2026-03-17T09:00:00Z"),
        "keeps the start it replaces"
    );
    assert_eq!(meetings[1].end - meetings[1].start, 3600);
    assert!(meetings[2].is_ignored(), "the cancelled occurrence");
    assert!(!meetings[0].is_ignored());
    assert_eq!(meetings[0].end - meetings[0].start, 1800);
    assert_eq!(
        meetings[0].participants().len(),
        1,
        "declined and room left out"
    );
    assert!(matches!(meetings[0].organizer, Party::Org(_)));
}

#[test]
fn an_escaped_comma_in_a_vtimezone_tzid_matches_the_quoted_parameter() {
    let events = "BEGIN:VTIMEZONE\r\nTZID:Pacific Time (US & Canada)\\, Tijuana\r\n\
BEGIN:STANDARD\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:-0700\r\nTZOFFSETTO:-0800\r\n\
RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\n\
DTSTART:16010101T020000\r\nTZOFFSETFROM:-0800\r\nTZOFFSETTO:-0700\r\n\
RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:quoted\r\nDTSTART;TZID=\"Pacific Time (US & Canada), Tijuana\":20260302T200000\r\n\
DURATION:PT30M\r\nORGANIZER:mailto:anna@contoso.com\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:escaped\\,too\r\nDTSTART;TZID=Pacific Time (US & Canada)\\, Tijuana:20260702T200000\r\n\
DURATION:PT30M\r\nORGANIZER:mailto:anna@contoso.com\r\nEND:VEVENT\r\n";
    let (meetings, out) = run(&calendar(events), (2026, 1, 1), (2026, 12, 31));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(
        meetings[0].start,
        utc("2026-03-03T04:00:00Z"),
        "-08:00 in winter"
    );
    assert_eq!(
        meetings[1].start,
        utc("2026-07-03T03:00:00Z"),
        "-07:00 in summer"
    );
    assert_eq!(
        meetings[1].key,
        meeting_key("escaped,too"),
        "a UID is TEXT: unescaped"
    );
}

#[test]
fn an_event_with_two_rrules_recurs_on_their_union() {
    let event = "BEGIN:VEVENT\r\nUID:two\r\nDTSTART:20260302T100000Z\r\nDTEND:20260302T103000Z\r\n\
RRULE:FREQ=WEEKLY;COUNT=3\r\nRRULE:FREQ=DAILY;INTERVAL=2;COUNT=3\r\n\
ORGANIZER:mailto:anna@contoso.com\r\nEND:VEVENT\r\n";
    let (meetings, out) = run(&calendar(event), (2026, 1, 1), (2026, 12, 31));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let days: Vec<i64> = meetings
        .iter()
        .map(|m| (m.start - utc("2026-03-02T10:00:00Z")) / 86_400)
        .collect();
    assert_eq!(days, [0, 2, 4, 7, 14]);
}

#[test]
fn expansion_stays_inside_the_range() {
    let (meetings, _) = run(&calendar(SERIES), (2026, 3, 20), (2026, 4, 1));
    let starts: Vec<i64> = meetings.iter().map(|m| m.start).collect();
    // The override of 03-17 stands alone, as its occurrence is out of range.
    assert_eq!(
        starts,
        [
            utc("2026-03-18T13:00:00Z"),
            utc("2026-03-24T09:00:00Z"),
            utc("2026-03-31T08:00:00Z")
        ]
    );
}

#[test]
fn single_events_keep_their_uid_and_read_every_time_form() {
    let events = "BEGIN:VTIMEZONE\r\nTZID:Custom Zone\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:tz\r\nDTSTART;TZID=Custom Zone:20260303T100000\r\nDTEND;TZID=Custom Zone:20260303T110000\r\nORGANIZER:mailto:anna@contoso.com\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:floating\r\nDTSTART:20260304T100000\r\nDTEND:20260304T110000\r\nORGANIZER:MAILTO:anna@contoso.com\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:allday\r\nDTSTART;VALUE=DATE:20260305\r\nORGANIZER:mailto:anna@contoso.com\r\nEND:VEVENT\r\n";
    let (meetings, out) = run(&calendar(events), (2026, 1, 1), (2026, 12, 31));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(meetings[0].key, meeting_key("tz"));
    assert_eq!(meetings[0].start, utc("2026-03-03T09:00:00Z"));
    assert_eq!(
        meetings[1].start,
        utc("2026-03-04T09:00:00Z"),
        "floating: the tenant's zone"
    );
    assert!(meetings[2].is_ignored(), "all-day");
    assert_eq!(meetings[2].end - meetings[2].start, 86_400);
}

#[test]
fn bad_events_are_rejected_with_their_offset_and_the_rest_is_read() {
    let good = "BEGIN:VEVENT\r\nUID:ok\r\nDTSTART:20260303T100000Z\r\nDTEND:20260303T110000Z\r\nORGANIZER:mailto:anna@contoso.com\r\nEND:VEVENT\r\n";
    let cases = [
        (good.replace("UID:ok\r\n", ""), R::MissingUid, "UID"),
        (
            good.replace("20260303T100000Z", "2026-03-03"),
            R::InvalidStart,
            "DTSTART",
        ),
        (
            good.replace("DTSTART:", "DTSTART;TZID=Mars/Olympus:")
                .replace("100000Z", "100000"),
            R::InvalidStart,
            "DTSTART;TZID",
        ),
        (
            good.replace("110000Z", "090000Z"),
            R::EndNotAfterStart,
            "DTEND",
        ),
        (
            good.replace("DTEND:20260303T110000Z", "DURATION:soon"),
            R::InvalidEnd,
            "DURATION",
        ),
        (
            good.replace("mailto:anna@contoso.com", "anna"),
            R::InvalidOrganizer,
            "ORGANIZER",
        ),
        (
            good.replace("END:VEVENT", "RRULE:FREQ=SOMETIMES\r\nEND:VEVENT"),
            R::InvalidRecurrence,
            "RRULE",
        ),
        (
            good.replace("END:VEVENT", "EXDATE:never\r\nEND:VEVENT"),
            R::InvalidRecurrence,
            "EXDATE",
        ),
    ];
    for (bad, reason, field) in cases {
        let text = calendar(&format!("{good}{bad}{good}"));
        let (meetings, out) = run(&text, (2026, 1, 1), (2026, 12, 31));
        assert_eq!(meetings.len(), 2, "{bad}");
        assert_eq!(out.rejects.len(), 1, "{bad}");
        let r = &out.rejects[0];
        assert_eq!((r.reason, r.field.as_str()), (reason, field), "{bad}");
        let second = text.match_indices("BEGIN:VEVENT").nth(1).expect("three").0;
        assert_eq!(r.offset, second as u64);
    }
}

#[test]
fn the_google_export_expands_with_its_overrides() {
    let text = include_str!("../../tests/data/realdata/calendar/icaljs-recur_instances.ics");
    let (meetings, out) = run(text, (2012, 7, 1), (2013, 7, 1));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let days: Vec<String> = meetings
        .iter()
        .map(|m| {
            let t = chrono::DateTime::from_timestamp(m.start, 0).expect("a time");
            t.with_timezone(&chrono_tz::America::Los_Angeles)
                .format("%m-%d %H:%M")
                .to_string()
        })
        .collect();
    assert_eq!(
        days,
        [
            "10-02 15:00", // override of 10-02 10:00
            "11-06 10:00", // first Tuesday
            "11-06 20:00", // override of the RDATE 11-05 10:00
            "11-10 10:00",
            "11-30 10:00",
            "01-01 10:00", // 12-04 excluded
            "03-05 10:00", // 02-05 excluded
            "05-07 10:00", // 04-02 excluded
            "06-04 10:00",
        ]
    );
}
