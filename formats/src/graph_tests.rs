//! Tests of the Graph parser.

use rapport_common::directory::Party;
use rapport_common::ingest::{IngestOutput, RawRecord};
use rapport_common::record::{decode_staged, email_key, meeting_key, StagedRecord};
use rapport_common::reject::RejectReason as R;

use super::*;
use crate::test_directory::directory;

fn run(text: &str) -> (Vec<StagedRecord>, IngestOutput) {
    let mut sink = crate::test_directory::sink("g.json");
    parse(
        RawRecord {
            offset: 100,
            bytes: text.as_bytes(),
        },
        &directory(),
        &mut sink,
    );
    let out = sink.finish();
    let mut staged = Vec::new();
    decode_staged(&out.partitions[0], &mut staged).expect("decodes");
    (staged.into_iter().map(|c| c.record).collect(), out)
}

const MESSAGE: &str = r#"{"@odata.etag":"W/\"x\"","id":"AAMk1","internetMessageId":"<m1@contoso.com>","sentDateTime":"2026-03-02T08:15:00Z","subject":"never","body":{"content":"never"},"from":{"emailAddress":{"name":"Anna","address":"Anna@Contoso.com"}},"toRecipients":[{"emailAddress":{"address":"bo@fabrikam.com"}}],"ccRecipients":[],"internetMessageHeaders":[{"name":"in-reply-to","value":" <m0@fabrikam.com> "}]}"#;

#[test]
fn a_message_maps_its_fields() {
    let (staged, out) = run(MESSAGE);
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let StagedRecord::Email(e) = &staged[0] else {
        panic!("an email")
    };
    assert_eq!(e.key, email_key("<m1@contoso.com>"));
    assert_eq!(e.sent_at, 1_772_439_300);
    assert!(matches!(e.sender, Party::Org(_)));
    assert!(matches!(e.recipients[..], [Party::Account(0, _)]));
    assert_eq!(e.in_reply_to, Some(email_key("<m0@fabrikam.com>")));
}

#[test]
fn the_sender_stands_in_for_a_missing_from_and_id_for_a_missing_message_id() {
    let text = r#"{"id":"AAMk2","sentDateTime":"2026-03-02T08:15:00Z","sender":{"emailAddress":{"address":"anna@contoso.com"}}}"#;
    let (staged, out) = run(text);
    assert!(out.rejects.is_empty());
    assert_eq!(staged[0].key().1, email_key("AAMk2"));
}

const EVENT: &str = r#"{"iCalUId":"ev-1","type":"occurrence","start":{"dateTime":"2026-03-03T11:00:00.0000000","timeZone":"W. Europe Standard Time"},"end":{"dateTime":"2026-03-03T10:30:00.0000000","timeZone":"UTC"},"organizer":{"emailAddress":{"address":"anna@contoso.com"}},"attendees":[{"type":"required","status":{"response":"tentativelyAccepted"},"emailAddress":{"address":"bo@fabrikam.com"}},{"type":"resource","status":{"response":"accepted"},"emailAddress":{"address":"room@contoso.com"}},{"type":"optional","status":{"response":"declined"},"emailAddress":{"address":"cy@fabrikam.com"}}],"isCancelled":false,"isAllDay":false,"location":{"displayName":"never"}}"#;

#[test]
fn an_event_reads_zones_and_attendance() {
    let (staged, out) = run(EVENT);
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let StagedRecord::Meeting(m) = &staged[0] else {
        panic!("a meeting")
    };
    assert_eq!(m.key, meeting_key("ev-1"));
    assert_eq!(m.start, 1_772_532_000);
    assert_eq!(m.end - m.start, 1800);
    assert_eq!(m.participants().len(), 1, "resource and declined left out");
    assert!(!m.is_ignored());
}

#[test]
fn series_masters_are_skipped_and_list_responses_read() {
    let master = EVENT.replace("occurrence", "seriesMaster");
    let text = format!(
        "{{\n  \"@odata.context\": \"x\",\n  \"value\": [\n    {MESSAGE},\n    {master},\n    {EVENT}\n  ],\n  \"@odata.nextLink\": \"y\"\n}}\n"
    );
    let (staged, out) = run(&text);
    assert!(out.rejects.is_empty());
    assert_eq!(staged.len(), 2);
    assert_eq!(out.counters.records, 2);
}

#[test]
fn bad_resources_are_rejected_naming_the_field_and_the_rest_is_read() {
    let cases = [
        (
            r#"{"sentDateTime":"2026-03-02T08:15:00Z","from":{"emailAddress":{"address":"a@b.c"}}}"#,
            R::MissingMessageId,
            "internetMessageId",
        ),
        (
            r#"{"id":"x","internetMessageId":"<x>","sentDateTime":"yesterday","from":{"emailAddress":{"address":"a@b.c"}}}"#,
            R::InvalidSentAt,
            "sentDateTime",
        ),
        (
            r#"{"internetMessageId":"<x>","sentDateTime":"2026-03-02T08:15:00Z","from":5}"#,
            R::InvalidSender,
            "from",
        ),
        (
            r#"{"internetMessageId":"<x>","sentDateTime":"2026-03-02T08:15:00Z","from":{"emailAddress":{"address":"a@b.c"}},"toRecipients":"bo"}"#,
            R::RecipientsNotAList,
            "toRecipients",
        ),
        (
            r#"{"iCalUId":"u","start":{"dateTime":"2026-03-03T10:00:00","timeZone":"Mars/Olympus"},"end":{"dateTime":"2026-03-03T11:00:00","timeZone":"UTC"},"organizer":{"emailAddress":{"address":"a@b.c"}}}"#,
            R::InvalidStart,
            "start",
        ),
        (
            r#"{"iCalUId":"u","start":{"dateTime":"2026-03-03T10:00:00","timeZone":"UTC"},"end":{"dateTime":"2026-03-03T11:00:00","timeZone":"UTC"},"organizer":{"emailAddress":{"address":"a@b.c"}},"attendees":[{"status":{"response":"maybe"}}]}"#,
            R::InvalidAttendees,
            "attendees[0].status.response",
        ),
        (r#"{"subject":"no kind"}"#, R::UnknownType, "sentDateTime"),
        (r#"[1,2]"#, R::NotAnObject, ""),
    ];
    for (text, reason, field) in cases {
        let (_, out) = run(text);
        assert_eq!(out.rejects.len(), 1, "{text}");
        assert_eq!(
            (out.rejects[0].reason, out.rejects[0].field.as_str()),
            (reason, field),
            "{text}"
        );
        assert_eq!(out.rejects[0].offset, 100);
    }
}

#[test]
fn a_syntax_error_in_a_whole_file_loses_only_that_resource() {
    let text = format!("{MESSAGE}\n{{\"broken\": \n{EVENT}\n");
    let (staged, out) = run(&text);
    assert_eq!(staged.len(), 2);
    assert_eq!(out.rejects.len(), 1);
    assert_eq!(out.rejects[0].reason, R::InvalidSyntax);
    assert_eq!(out.rejects[0].offset, 100 + MESSAGE.len() as u64 + 1);
}

#[test]
fn line_delimited_files_are_told_from_list_responses() {
    assert!(is_line_delimited(
        format!("{MESSAGE}\n{EVENT}\n").as_bytes()
    ));
    assert!(!is_line_delimited(b"{\n \"value\": []\n}\n"));
    assert!(!is_line_delimited(b"{\"value\": []}\n"));
    assert!(!is_line_delimited(b"{\"id\": 1"));
}
