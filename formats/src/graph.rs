//! Microsoft Graph `message` and `event` resources (INPUTS.md "graph"):
//! one resource a line, as Graph Data Connect writes them, or Graph list
//! responses `{"value": [...]}`, one a line or pretty-printed.
//!
//! Like `jsonl`, the hot path reads borrowed fields and skips everything
//! else (`subject`, `body`, `bodyPreview`, `location`, ...): the skimmer
//! ([`crate::graph_skim`]) reads most resources, serde_json the rest (list
//! responses, escaped strings, what it refuses). A resource serde_json
//! refuses is read again as a generic value to name the field at fault.

use std::borrow::Cow;

use rapport_common::builders::{
    attendee_type_is_resource, email_key_of, id_of, meeting_key_of, EmailBuilder, MeetingBuilder,
};
use rapport_common::directory::Directory;
use rapport_common::ingest::{IngestSink, RawRecord};
use rapport_common::record::ParsedCopy;
use rapport_common::reject::{RejectReason as R, Rejection};
use rapport_common::time::parse_rfc3339;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use smallvec::SmallVec;

use crate::graph_skim::skim_resource;
use crate::zones::{local_to_epoch, parse_local_datetime, zone_named};

#[derive(Debug, Default, PartialEq, Deserialize)]
pub(crate) struct Resource<'a> {
    /// Set on a list response: its resources.
    #[serde(borrow)]
    pub(crate) value: Option<Vec<Item<'a>>>,
    #[serde(rename = "internetMessageId", borrow)]
    pub(crate) internet_message_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) id: Option<Cow<'a, str>>,
    #[serde(rename = "sentDateTime", borrow)]
    pub(crate) sent_date_time: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) from: Option<Recipient<'a>>,
    #[serde(borrow)]
    pub(crate) sender: Option<Recipient<'a>>,
    #[serde(rename = "toRecipients", borrow)]
    pub(crate) to: Option<Recipients<'a>>,
    #[serde(rename = "ccRecipients", borrow)]
    pub(crate) cc: Option<Recipients<'a>>,
    #[serde(rename = "bccRecipients", borrow)]
    pub(crate) bcc: Option<Recipients<'a>>,
    #[serde(rename = "internetMessageHeaders", borrow)]
    pub(crate) headers: Option<Vec<MessageHeader<'a>>>,
    #[serde(rename = "iCalUId", borrow)]
    pub(crate) ical_uid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) start: Option<DateTimeTimeZone<'a>>,
    #[serde(borrow)]
    pub(crate) end: Option<DateTimeTimeZone<'a>>,
    #[serde(borrow)]
    pub(crate) organizer: Option<Recipient<'a>>,
    #[serde(borrow)]
    pub(crate) attendees: Option<Vec<Attendee<'a>>>,
    #[serde(rename = "isCancelled")]
    pub(crate) is_cancelled: Option<bool>,
    #[serde(rename = "isAllDay")]
    pub(crate) is_all_day: Option<bool>,
    #[serde(rename = "type", borrow)]
    pub(crate) kind: Option<Cow<'a, str>>,
}

/// A resource of a list response, as its text (read when it is staged).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Item<'a>(pub(crate) &'a str);

impl<'de: 'a, 'a> Deserialize<'de> for Item<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Item<'a>, D::Error> {
        <&RawValue>::deserialize(d).map(|raw| Item(raw.get()))
    }
}

pub(crate) type Recipients<'a> = SmallVec<[Recipient<'a>; 4]>;

#[derive(Debug, Default, PartialEq, Deserialize)]
pub(crate) struct Recipient<'a> {
    #[serde(rename = "emailAddress", borrow)]
    pub(crate) email_address: Option<EmailAddress<'a>>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
pub(crate) struct EmailAddress<'a> {
    #[serde(borrow)]
    pub(crate) address: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
pub(crate) struct MessageHeader<'a> {
    #[serde(borrow)]
    pub(crate) name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) value: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
pub(crate) struct DateTimeTimeZone<'a> {
    #[serde(rename = "dateTime", borrow)]
    pub(crate) date_time: Option<Cow<'a, str>>,
    #[serde(rename = "timeZone", borrow)]
    pub(crate) time_zone: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
pub(crate) struct Attendee<'a> {
    #[serde(rename = "emailAddress", borrow)]
    pub(crate) email_address: Option<EmailAddress<'a>>,
    #[serde(borrow)]
    pub(crate) status: Option<ResponseStatus<'a>>,
    #[serde(rename = "type", borrow)]
    pub(crate) kind: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
pub(crate) struct ResponseStatus<'a> {
    #[serde(borrow)]
    pub(crate) response: Option<Cow<'a, str>>,
}

/// True when the first line of `head` is a whole JSON object that is not a
/// list response: the file holds one resource a line.
pub fn is_line_delimited(head: &[u8]) -> bool {
    let Some(end) = head.iter().position(|b| *b == b'\n') else {
        return false;
    };
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(borrow)]
        value: Option<&'a RawValue>,
    }
    serde_json::from_slice::<Probe>(&head[..end]).is_ok_and(|p| p.value.is_none())
}

/// Parses a record (a line, or a whole file) holding resources or list
/// responses, one after another.
pub fn parse(record: RawRecord, directory: &Directory, sink: &mut IngestSink) {
    let bytes = record.bytes;
    // The common case, a record holding one value, in one pass.
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(resource) = read_resource(text) {
            let offset = record.offset + (bytes.len() - trim_start(bytes).len()) as u64;
            return take_resource(resource, offset, bytes, record.offset, directory, sink);
        }
    }
    let mut pos = 0;
    while pos < bytes.len() {
        let mut stream =
            serde_json::Deserializer::from_slice(&bytes[pos..]).into_iter::<&RawValue>();
        let start_of = |stream_offset: usize| record.offset + (pos + stream_offset) as u64;
        let mut resync = None;
        for item in stream.by_ref() {
            match item {
                Ok(raw) => parse_value(raw.get(), bytes, record.offset, directory, sink),
                Err(e) => {
                    resync = Some(e);
                    break;
                }
            }
        }
        let Some(error) = resync else { break };
        // Report where the bad value starts, then go on at the next line
        // that opens an object.
        let bad = pos + stream.byte_offset();
        let bad = bad + (bytes[bad..].len() - trim_start(&bytes[bad..]).len());
        sink.reject(
            start_of(bad - pos),
            Rejection::new(R::InvalidSyntax, format!("column {}", error.column())),
        );
        pos = match memchr::memmem::find(&bytes[bad..], b"\n{") {
            Some(i) => bad + i + 1,
            None => bytes.len(),
        };
    }
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let n = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &bytes[n..]
}

/// Offset of a borrowed slice within `whole`.
fn offset_in(whole: &[u8], part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

/// The resource (or list response) `text` holds: the skimmer's reading,
/// else serde_json's.
fn read_resource(text: &str) -> Result<Resource<'_>, serde_json::Error> {
    skim_resource(text).map_or_else(|| serde_json::from_str(text), Ok)
}

/// Reads one value, `text`, a slice of `whole`.
fn parse_value(text: &str, whole: &[u8], base: u64, directory: &Directory, sink: &mut IngestSink) {
    let offset = base + offset_in(whole, text) as u64;
    match read_resource(text) {
        Ok(resource) => take_resource(resource, offset, whole, base, directory, sink),
        Err(_) => sink.reject(offset, classify(text)),
    }
}

/// Stages or rejects a parsed resource, or the items of a list response.
fn take_resource(
    resource: Resource,
    offset: u64,
    whole: &[u8],
    base: u64,
    directory: &Directory,
    sink: &mut IngestSink,
) {
    if let Some(items) = resource.value {
        for item in items {
            parse_value(item.0, whole, base, directory, sink);
        }
        return;
    }
    match to_record(resource, directory) {
        Ok(Some(parsed)) => sink.stage(parsed),
        Ok(None) => {} // a series master: its occurrences come separately
        Err(rejection) => sink.reject(offset, rejection),
    }
}

/// The address of a recipient, moved out of it.
fn address_of(r: Option<Recipient>) -> Option<Cow<str>> {
    r?.email_address?.address
}

fn to_record<'a>(
    r: Resource<'a>,
    directory: &Directory,
) -> Result<Option<ParsedCopy<'a>>, Rejection> {
    if r.sent_date_time.is_some() || r.internet_message_id.is_some() {
        return message(r, directory).map(Some);
    }
    if r.start.is_some() && r.end.is_some() {
        if r.kind.as_deref() == Some("seriesMaster") {
            return Ok(None);
        }
        return event(r, directory).map(Some);
    }
    Err(Rejection::new(R::UnknownType, "sentDateTime"))
}

fn message<'a>(r: Resource<'a>, directory: &Directory) -> Result<ParsedCopy<'a>, Rejection> {
    let id = id_of(r.internet_message_id.as_deref()).or_else(|| id_of(r.id.as_deref()));
    let key = email_key_of(id, "internetMessageId")?;
    let sent_at = r
        .sent_date_time
        .as_deref()
        .and_then(parse_rfc3339)
        .ok_or_else(|| Rejection::new(R::InvalidSentAt, "sentDateTime"))?;
    let (from, field) = match address_of(r.from) {
        Some(a) => (Some(a), "from"),
        None => (address_of(r.sender), "sender"),
    };
    let mut email = EmailBuilder::new(directory, key, sent_at, from.as_deref(), field)?;
    let recipients = [r.to, r.cc, r.bcc].into_iter().flatten().flatten();
    for address in recipients.filter_map(|rec| rec.email_address?.address) {
        email.recipient(&address);
    }
    let reply = r
        .headers
        .into_iter()
        .flatten()
        .find(|h| {
            h.name
                .as_deref()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("In-Reply-To"))
        })
        .and_then(|h| h.value)
        .filter(|v| !v.trim().is_empty());
    let email = email.build(reply.as_deref());
    Ok(ParsedCopy::email(email, from.unwrap_or_default(), reply))
}

fn instant(value: &Option<DateTimeTimeZone>) -> Option<i64> {
    let value = value.as_ref()?;
    let text = value.date_time.as_deref()?;
    if let Some(t) = parse_rfc3339(text) {
        return Some(t); // an explicit offset wins over the zone
    }
    let zone = zone_named(value.time_zone.as_deref()?)?;
    local_to_epoch(&zone, &parse_local_datetime(text)?)
}

/// Graph's `status.response`: true when declined, `None` for a word Graph
/// does not use.
fn declined(value: Option<&str>) -> Option<bool> {
    match value {
        None | Some("accepted" | "tentativelyAccepted" | "none" | "notResponded" | "organizer") => {
            Some(false)
        }
        Some("declined") => Some(true),
        Some(_) => None,
    }
}

fn event<'a>(r: Resource<'a>, directory: &Directory) -> Result<ParsedCopy<'a>, Rejection> {
    let uid = id_of(r.ical_uid.as_deref()).or_else(|| id_of(r.id.as_deref()));
    let key = meeting_key_of(uid, "iCalUId")?;
    let start = instant(&r.start).ok_or_else(|| Rejection::new(R::InvalidStart, "start"))?;
    let end = instant(&r.end).ok_or_else(|| Rejection::new(R::InvalidEnd, "end"))?;
    let organizer = address_of(r.organizer);
    let mut meeting = MeetingBuilder::new(
        directory,
        (start, end),
        "end",
        organizer.as_deref(),
        "organizer",
    )?;
    for (i, a) in r.attendees.iter().flatten().enumerate() {
        let status = a.status.as_ref().and_then(|s| s.response.as_deref());
        let declined = declined(status).ok_or_else(|| {
            Rejection::new(
                R::InvalidAttendees,
                format!("attendees[{i}].status.response"),
            )
        })?;
        let resource = attendee_type_is_resource(a.kind.as_deref())
            .ok_or_else(|| Rejection::new(R::InvalidAttendees, format!("attendees[{i}].type")))?;
        if let Some(address) = a.email_address.as_ref().and_then(|e| e.address.as_deref()) {
            meeting.attendee(address, declined, resource);
        }
    }
    let cancelled = r.is_cancelled.unwrap_or(false);
    let meeting = meeting.build(key, cancelled, r.is_all_day.unwrap_or(false));
    Ok(ParsedCopy::meeting(meeting, organizer.unwrap_or_default()))
}

/// Names what is wrong with a resource the typed parse refused.
fn classify(text: &str) -> Rejection {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Rejection::new(R::InvalidSyntax, format!("column {}", e.column())),
    };
    let Some(object) = value.as_object() else {
        return Rejection::new(R::NotAnObject, "");
    };
    let string = |v: &Value| v.is_string();
    let recipient = |v: &Value| {
        v.is_object()
            && v.get("emailAddress").is_none_or(|e| {
                e.is_null()
                    || (e.is_object()
                        && e.get("address")
                            .is_none_or(|a| a.is_null() || a.is_string()))
            })
    };
    let list_of =
        |f: &dyn Fn(&Value) -> bool, v: &Value| v.as_array().is_some_and(|a| a.iter().all(f));
    let time = |v: &Value| {
        v.is_object()
            && ["dateTime", "timeZone"]
                .iter()
                .all(|k| v.get(k).is_none_or(|x| x.is_null() || x.is_string()))
    };
    type Check<'c> = (&'c str, R, &'c dyn Fn(&Value) -> bool);
    let checks: [Check; 15] = [
        ("value", R::InvalidSyntax, &|v| v.is_array()),
        ("internetMessageId", R::MissingMessageId, &string),
        ("id", R::MissingMessageId, &string),
        ("sentDateTime", R::InvalidSentAt, &string),
        ("from", R::InvalidSender, &recipient),
        ("sender", R::InvalidSender, &recipient),
        ("toRecipients", R::RecipientsNotAList, &|v| {
            list_of(&recipient, v)
        }),
        ("ccRecipients", R::RecipientsNotAList, &|v| {
            list_of(&recipient, v)
        }),
        ("bccRecipients", R::RecipientsNotAList, &|v| {
            list_of(&recipient, v)
        }),
        ("internetMessageHeaders", R::InvalidField, &|v| {
            list_of(&Value::is_object, v)
        }),
        ("iCalUId", R::MissingUid, &string),
        ("start", R::InvalidStart, &time),
        ("end", R::InvalidEnd, &time),
        ("organizer", R::InvalidOrganizer, &recipient),
        ("attendees", R::InvalidAttendees, &|v| {
            list_of(&Value::is_object, v)
        }),
    ];
    for (field, reason, ok) in checks {
        if object.get(field).is_some_and(|v| !v.is_null() && !ok(v)) {
            return Rejection::new(reason, field);
        }
    }
    let wrong = |field: &str, ok: fn(&Value) -> bool| {
        object.get(field).is_some_and(|v| !v.is_null() && !ok(v))
    };
    for (field, ok) in [
        ("isCancelled", Value::is_boolean as fn(&Value) -> bool),
        ("isAllDay", Value::is_boolean),
        ("type", Value::is_string),
    ] {
        if wrong(field, ok) {
            return Rejection::new(R::InvalidField, field);
        }
    }
    Rejection::new(R::InvalidField, "")
}

#[cfg(test)]
#[path = "graph_tests.rs"]
mod tests;
