//! The canonical `jsonl` activity format (INPUTS.md): one JSON object per
//! line, parsed into a staged record ([`rapport_common::builders`]) or a
//! [`Rejection`].
//!
//! The hot path reads borrowed fields and never keeps content fields: the
//! skimmer ([`crate::jsonl_skim`]) reads most lines, serde_json the rest
//! (escaped strings, lines it refuses). Only a line serde_json refuses is
//! parsed again as a generic value, to name the field at fault.

use std::borrow::Cow;

use rapport_common::builders::{
    attendee_type_is_resource, email_key_of, meeting_key_of, EmailBuilder, MeetingBuilder,
};
use rapport_common::directory::Directory;
use rapport_common::ingest::{records, IngestSink, ShardBytes};
use rapport_common::record::ParsedCopy;
use rapport_common::reject::{RejectReason as R, Rejection};
use rapport_common::time::parse_rfc3339;

use crate::jsonl_skim::skim_record;
use serde::Deserialize;
use serde_json::Value;
use smallvec::SmallVec;

/// Address lists as read: inline up to four, as most lists are (parsing
/// allocates nothing for them then).
pub(crate) type Addresses<'a> = SmallVec<[Cow<'a, str>; 4]>;

/// A line's fields as read (by [`crate::jsonl_skim`] or serde_json).
#[derive(Debug, Default, PartialEq, Deserialize)]
pub(crate) struct RawRecord<'a> {
    #[serde(rename = "type", borrow)]
    pub(crate) kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) message_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) sent_at: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) from: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) to: Option<Addresses<'a>>,
    #[serde(borrow)]
    pub(crate) cc: Option<Addresses<'a>>,
    #[serde(borrow)]
    pub(crate) bcc: Option<Addresses<'a>>,
    #[serde(borrow)]
    pub(crate) in_reply_to: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) uid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) start: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) end: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) organizer: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) attendees: Option<Vec<RawAttendee<'a>>>,
    pub(crate) cancelled: Option<bool>,
    pub(crate) all_day: Option<bool>,
}

/// An attendee's fields as read.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub(crate) struct RawAttendee<'a> {
    #[serde(borrow)]
    pub(crate) email: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) status: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    pub(crate) kind: Option<Cow<'a, str>>,
}

/// Reads attendee `status` (`accepted`, `tentative`, `declined`, `none`;
/// default `none`): true when declined, `None` for another word.
fn declined(status: Option<&str>) -> Option<bool> {
    match status {
        None | Some("accepted" | "tentative" | "none") => Some(false),
        Some("declined") => Some(true),
        Some(_) => None,
    }
}

/// Parses the lines of a shard into `sink`.
pub fn ingest(shard: &ShardBytes, directory: &Directory, sink: &mut IngestSink) {
    for record in records(shard) {
        sink.begin_record(record.offset);
        sink.take(record.offset, parse_line(record.bytes, directory));
    }
}

/// Parses one non-blank line.
pub fn parse_line<'a>(line: &'a [u8], directory: &Directory) -> Result<ParsedCopy<'a>, Rejection> {
    // One UTF-8 check for the line is cheaper than one per string field.
    // The skimmer reads most lines; serde_json reads (or refuses) the rest.
    let parsed = match std::str::from_utf8(line) {
        Ok(text) => match skim_record(text) {
            Some(raw) => Ok(raw),
            None => serde_json::from_str::<RawRecord>(text),
        },
        Err(_) => serde_json::from_slice::<RawRecord>(line),
    };
    match parsed {
        Ok(raw) => from_raw(raw, directory),
        Err(_) => Err(classify(line)),
    }
}

fn from_raw<'a>(raw: RawRecord<'a>, directory: &Directory) -> Result<ParsedCopy<'a>, Rejection> {
    match raw.kind.as_deref() {
        Some("email") => email(raw, directory),
        Some("meeting") => meeting(raw, directory),
        _ => Err(Rejection::new(R::UnknownType, "type")),
    }
}

fn email<'a>(raw: RawRecord<'a>, directory: &Directory) -> Result<ParsedCopy<'a>, Rejection> {
    let key = email_key_of(raw.message_id.as_deref(), "message_id")?;
    let sent_at = raw
        .sent_at
        .as_deref()
        .and_then(parse_rfc3339)
        .ok_or_else(|| Rejection::new(R::InvalidSentAt, "sent_at"))?;
    let mut email = EmailBuilder::new(directory, key, sent_at, raw.from.as_deref(), "from")?;
    for address in [&raw.to, &raw.cc, &raw.bcc].into_iter().flatten().flatten() {
        email.recipient(address);
    }
    let email = email.build(raw.in_reply_to.as_deref());
    Ok(ParsedCopy::email(
        email,
        raw.from.unwrap_or_default(),
        raw.in_reply_to,
    ))
}

fn meeting<'a>(raw: RawRecord<'a>, directory: &Directory) -> Result<ParsedCopy<'a>, Rejection> {
    let key = meeting_key_of(raw.uid.as_deref(), "uid")?;
    let start = raw
        .start
        .as_deref()
        .and_then(parse_rfc3339)
        .ok_or_else(|| Rejection::new(R::InvalidStart, "start"))?;
    let end = raw
        .end
        .as_deref()
        .and_then(parse_rfc3339)
        .ok_or_else(|| Rejection::new(R::InvalidEnd, "end"))?;
    let organizer = raw.organizer.as_deref();
    let mut meeting = MeetingBuilder::new(directory, (start, end), "end", organizer, "organizer")?;
    for (i, a) in raw.attendees.iter().flatten().enumerate() {
        let declined = declined(a.status.as_deref())
            .ok_or_else(|| Rejection::new(R::InvalidAttendees, format!("attendees[{i}].status")))?;
        let resource = attendee_type_is_resource(a.kind.as_deref())
            .ok_or_else(|| Rejection::new(R::InvalidAttendees, format!("attendees[{i}].type")))?;
        if let Some(address) = a.email.as_deref() {
            meeting.attendee(address, declined, resource);
        }
    }
    let cancelled = raw.cancelled.unwrap_or(false);
    let meeting = meeting.build(key, cancelled, raw.all_day.unwrap_or(false));
    Ok(ParsedCopy::meeting(
        meeting,
        raw.organizer.unwrap_or_default(),
    ))
}

/// Names what is wrong with a line the typed parse refused.
fn classify(line: &[u8]) -> Rejection {
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return Rejection::new(R::InvalidSyntax, format!("column {}", e.column())),
    };
    let Some(object) = value.as_object() else {
        return Rejection::new(R::NotAnObject, "");
    };
    let is_str_or_null = |k: &str| object.get(k).is_none_or(|v| v.is_string() || v.is_null());
    let kind = object.get("type").and_then(Value::as_str);
    let checks: &[(&str, R)] = match kind {
        Some("email") => &[
            ("message_id", R::MissingMessageId),
            ("sent_at", R::InvalidSentAt),
            ("from", R::InvalidSender),
            ("in_reply_to", R::InvalidField),
        ],
        Some("meeting") => &[
            ("uid", R::MissingUid),
            ("start", R::InvalidStart),
            ("end", R::InvalidEnd),
            ("organizer", R::InvalidOrganizer),
        ],
        _ => return Rejection::new(R::UnknownType, "type"),
    };
    if let Some((field, reason)) = checks.iter().find(|(k, _)| !is_str_or_null(k)) {
        return Rejection::new(*reason, *field);
    }
    let is_list_of = |k: &str, f: fn(&Value) -> bool| {
        object
            .get(k)
            .is_none_or(|v| v.is_null() || v.as_array().is_some_and(|a| a.iter().all(f)))
    };
    if kind == Some("email") {
        for field in ["to", "cc", "bcc"] {
            if !is_list_of(field, Value::is_string) {
                return Rejection::new(R::RecipientsNotAList, field);
            }
        }
    } else {
        if !is_list_of("attendees", Value::is_object) {
            return Rejection::new(R::InvalidAttendees, "attendees");
        }
        for field in ["cancelled", "all_day"] {
            if object
                .get(field)
                .is_some_and(|v| !v.is_boolean() && !v.is_null())
            {
                return Rejection::new(R::InvalidField, field);
            }
        }
        if let Some(list) = object.get("attendees").and_then(Value::as_array) {
            for (i, a) in list.iter().enumerate() {
                for k in ["email", "status", "type"] {
                    if a.get(k).is_some_and(|v| !v.is_string() && !v.is_null()) {
                        return Rejection::new(R::InvalidAttendees, format!("attendees[{i}].{k}"));
                    }
                }
            }
        }
    }
    // Left: duplicate keys and the like, which serde refuses and a generic
    // value accepts.
    Rejection::new(R::InvalidSyntax, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_common::address::person_id;
    use rapport_common::directory::Party;
    use rapport_common::record::{email_key, StagedRecord};

    fn dir() -> Directory {
        Directory {
            org: [person_id("anna@contoso.com")].into_iter().collect(),
            domains: [("fabrikam.com".to_owned(), 0)].into_iter().collect(),
            accounts: vec!["FAB".to_owned()],
            ..Directory::default()
        }
    }

    fn reason(line: &str) -> R {
        parse_line(line.as_bytes(), &dir())
            .expect_err("rejected")
            .reason
    }

    #[test]
    fn email_is_parsed_and_content_dropped() {
        let line = r#"{"type":"email","message_id":" <m1@c> ","sent_at":"2026-03-02T09:15:00.5+01:00",
          "from":"Anna@Contoso.com","to":["bo@fabrikam.com","bo@fabrikam.com","x@nowhere.org"],
          "cc":[],"in_reply_to":"<m0@f>","subject":"never stored","body":{"x":[1,2]}}"#;
        let parsed = parse_line(line.as_bytes(), &dir()).expect("email");
        assert_eq!(
            parsed.tie.normalised().first,
            "anna@contoso.com",
            "the sender's text is kept for ties"
        );
        let StagedRecord::Email(e) = parsed.record else {
            panic!("not an email")
        };
        assert_eq!(e.key, email_key("<m1@c>"));
        assert_eq!(e.sent_at, parse_rfc3339("2026-03-02T08:15:00Z").expect("t"));
        assert_eq!(e.sender, Party::Org(person_id("anna@contoso.com")));
        assert_eq!(
            e.recipients,
            vec![Party::Account(0, person_id("bo@fabrikam.com"))]
        );
        assert_eq!(e.in_reply_to, Some(email_key("<m0@f>")));
    }

    #[test]
    fn meeting_marks_declined_attendees_and_resources_as_no_participants() {
        let line = r#"{"type":"meeting","uid":"ev-1","start":"2026-03-03T10:00:00Z","end":"2026-03-03T10:30:00Z",
          "organizer":"anna@contoso.com","attendees":[{"email":"bo@fabrikam.com","status":"accepted"},
          {"email":"eve@fabrikam.com","status":"declined"},{"email":"room@fabrikam.com","type":"resource"},
          {"email":"bad-address"}],"all_day":false}"#;
        let StagedRecord::Meeting(m) = parse_line(line.as_bytes(), &dir()).expect("meeting").record
        else {
            panic!("not a meeting")
        };
        assert_eq!(
            m.participants(),
            vec![Party::Account(0, person_id("bo@fabrikam.com"))]
        );
        assert_eq!(m.attendees.len(), 3, "declined and resource kept, marked");
        assert!(!m.is_ignored());
        assert_eq!(m.end - m.start, 1800);
    }

    #[test]
    fn bad_records_are_rejected_with_a_reason() {
        assert_eq!(reason("this is not json"), R::InvalidSyntax);
        assert_eq!(
            reason(r#"{"type":"email", "message_id": "<bad6@x>", "sent_at": "#),
            R::InvalidSyntax
        );
        assert_eq!(reason("[1,2]"), R::NotAnObject);
        assert_eq!(reason(r#"{"type":"fax","id":1}"#), R::UnknownType);
        assert_eq!(
            reason(r#"{"type":"email","sent_at":"2026-01-01T00:00:00Z","from":"a@b.com"}"#),
            R::MissingMessageId
        );
        assert_eq!(
            reason(
                r#"{"type":"email","message_id":"<b>","sent_at":"not-a-time","from":"a@b.com"}"#
            ),
            R::InvalidSentAt
        );
        assert_eq!(
            reason(
                r#"{"type":"email","message_id":"<b>","sent_at":"2026-01-01T00:00:00","from":"a@b.com"}"#
            ),
            R::InvalidSentAt
        );
        assert_eq!(
            reason(
                r#"{"type":"email","message_id":"<b>","sent_at":"2026-01-01T00:00:00Z","from":"no-at-sign"}"#
            ),
            R::InvalidSender
        );
        assert_eq!(
            reason(r#"{"type":"email","message_id":"<b>","sent_at":"2026-01-01T00:00:00Z"}"#),
            R::InvalidSender
        );
        assert_eq!(
            reason(
                r#"{"type":"email","message_id":"<b>","sent_at":"2026-01-01T00:00:00Z","from":"a@b.com","to":"c@d.com"}"#
            ),
            R::RecipientsNotAList
        );
        assert_eq!(
            reason(
                r#"{"type":"email","message_id":5,"sent_at":"2026-01-01T00:00:00Z","from":"a@b.com"}"#
            ),
            R::MissingMessageId
        );
        assert_eq!(
            reason(
                r#"{"type":"meeting","start":"2026-01-02T10:00:00Z","end":"2026-01-02T11:00:00Z","organizer":"a@b.com"}"#
            ),
            R::MissingUid
        );
        assert_eq!(
            reason(
                r#"{"type":"meeting","uid":"u","start":"x","end":"2026-01-02T11:00:00Z","organizer":"a@b.com"}"#
            ),
            R::InvalidStart
        );
        assert_eq!(
            reason(
                r#"{"type":"meeting","uid":"u","start":"2026-01-02T10:00:00Z","end":"","organizer":"a@b.com"}"#
            ),
            R::InvalidEnd
        );
        assert_eq!(
            reason(
                r#"{"type":"meeting","uid":"bad4","start":"2026-01-02T10:00:00Z","end":"2026-01-02T09:00:00Z","organizer":"a@contoso.com"}"#
            ),
            R::EndNotAfterStart
        );
        assert_eq!(
            reason(
                r#"{"type":"meeting","uid":"u","start":"2026-01-02T10:00:00.1Z","end":"2026-01-02T10:00:00.9Z","organizer":"a@b.com"}"#
            ),
            R::EndNotAfterStart
        );
        assert_eq!(
            reason(
                r#"{"type":"meeting","uid":"u","start":"2026-01-02T10:00:00Z","end":"2026-01-02T11:00:00Z","organizer":"ab.com"}"#
            ),
            R::InvalidOrganizer
        );
        assert_eq!(
            reason(
                r#"{"type":"meeting","uid":"u","start":"2026-01-02T10:00:00Z","end":"2026-01-02T11:00:00Z","organizer":"a@b.com","attendees":["x@y.z"]}"#
            ),
            R::InvalidAttendees
        );
        assert_eq!(
            reason(
                r#"{"type":"meeting","uid":"u","start":"2026-01-02T10:00:00Z","end":"2026-01-02T11:00:00Z","organizer":"a@b.com","attendees":{}}"#
            ),
            R::InvalidAttendees
        );
        assert_eq!(
            reason(
                r#"{"type":"meeting","uid":"u","start":"2026-01-02T10:00:00Z","end":"2026-01-02T11:00:00Z","organizer":"a@b.com","attendees":[{"email":"x@y.z","status":"maybe"}]}"#
            ),
            R::InvalidAttendees
        );
    }

    #[test]
    fn rejection_names_the_field() {
        let r = parse_line(br#"{"type":"email","message_id":"<b>","sent_at":"2026-01-01T00:00:00Z","from":"a@b.com","cc":"x@y.z"}"#, &dir());
        assert_eq!(r.expect_err("rejected").field, "cc");
    }

    /// Two emails, a blank line and a bad line.
    const TEXT: &str = "{\"type\":\"email\",\"message_id\":\"<a>\",\"sent_at\":\"2026-01-01T00:00:00Z\",\"from\":\"a@b.c\"}\n\
\n\
this is not json\n\
{\"type\":\"email\",\"message_id\":\"<b>\",\"sent_at\":\"2026-01-01T00:00:00Z\",\"from\":\"a@b.c\"}";

    fn shard(start: u64, end: u64) -> ShardBytes<'static> {
        ShardBytes::part_of(
            "f",
            TEXT.as_bytes(),
            start,
            end,
            rapport_common::plan::Split::Lines,
        )
    }

    fn run(start: u64, end: u64) -> rapport_common::ingest::IngestOutput {
        let bytes = shard(start, end);
        let mut sink = IngestSink::new(&bytes, 2);
        ingest(&bytes, &Directory::default(), &mut sink);
        sink.finish()
    }

    #[test]
    fn blank_lines_are_skipped_and_bad_lines_rejected_with_their_offset() {
        let out = run(0, TEXT.len() as u64);
        assert_eq!(out.counters.records, 3);
        assert_eq!(out.staged, 2);
        assert_eq!(out.rejects.len(), 1);
        assert_eq!(
            out.rejects[0].offset,
            TEXT.find("this").expect("present") as u64
        );
    }

    #[test]
    fn each_staged_copy_names_its_shard_and_record() {
        use rapport_common::record::{decode_staged, ShardId, SourceRef};
        let mut bytes = shard(0, TEXT.len() as u64);
        bytes.shard = ShardId { group: 4, index: 2 };
        let mut sink = IngestSink::new(&bytes, 1);
        ingest(&bytes, &Directory::default(), &mut sink);
        let mut copies = Vec::new();
        decode_staged(&sink.finish().partitions[0], &mut copies).expect("decodes");
        let sources: Vec<SourceRef> = copies.iter().map(|c| c.source).collect();
        let second = TEXT.rfind("{\"type").expect("a second line") as u64;
        let shard = ShardId { group: 4, index: 2 };
        let first = SourceRef { shard, record: 0 };
        assert_eq!(
            sources,
            [
                first,
                SourceRef {
                    shard,
                    record: second
                }
            ]
        );
    }

    #[test]
    fn a_capturing_sink_keeps_the_wanted_copies_with_their_text_and_stages_nothing() {
        use rapport_common::record::{email_key, CopyKey};
        let bytes = shard(0, TEXT.len() as u64);
        let wanted: rustc_hash::FxHashSet<CopyKey> =
            [(0u8, email_key("<b>"))].into_iter().collect();
        let mut sink = IngestSink::capturing(&bytes, &wanted);
        ingest(&bytes, &Directory::default(), &mut sink);
        let found = sink.finish_capture();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.key(), (0, email_key("<b>")));
        assert_eq!(found[0].1.first, "a@b.c");
    }

    #[test]
    fn every_line_lands_in_exactly_one_shard_wherever_the_cuts_fall() {
        let len = TEXT.len() as u64;
        for cut in 0..=len {
            let (a, b) = (run(0, cut), run(cut, len));
            assert_eq!(a.counters.records + b.counters.records, 3, "cut at {cut}");
            assert_eq!(a.rejects.len() + b.rejects.len(), 1, "cut at {cut}");
        }
    }
}
