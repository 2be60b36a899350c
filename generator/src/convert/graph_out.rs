//! Graph resources from canonical records: messages with `internetMessageId`
//! and recipients, events with `start`/`end` in `UTC`, the tenant's IANA
//! zone or its Windows name, and a `seriesMaster` before each series.
//! Files hold one resource a line (Data Connect) or, when `as_lists`, list
//! responses of up to 50 resources, pretty-printed.

use std::collections::HashSet;

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use super::canonical::{Attendee, Email, Item, Meeting, RejectedKind};

/// The Windows name of a zone, for the zones the generator and examples use.
fn windows_name(tz: chrono_tz::Tz) -> Option<&'static str> {
    match tz.name() {
        "Europe/Stockholm" | "Europe/Berlin" => Some("W. Europe Standard Time"),
        "America/New_York" => Some("Eastern Standard Time"),
        "Europe/London" => Some("GMT Standard Time"),
        _ => None,
    }
}

fn address(a: &str) -> Value {
    json!({"emailAddress": {"name": "", "address": a}})
}

fn message(e: &Email, n: usize) -> Value {
    let sent = rapport_common::time::parse_rfc3339(&e.sent_at)
        .and_then(|t| Utc.timestamp_opt(t, 0).single())
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    let [to, cc, bcc] = e
        .lists()
        .map(|l| l.iter().map(|a| address(a)).collect::<Vec<_>>());
    let mut m = json!({
        "@odata.etag": format!("W/\"{n}\""),
        "id": format!("AAMkAG{n:08}"),
        "internetMessageId": e.message_id,
        "sentDateTime": sent,
        "subject": e.subject,
        "bodyPreview": e.subject.as_ref().map(|s| format!("{s} (body)")),
        "body": {"contentType": "text", "content": e.subject.as_ref().map(|s| format!("{s} (body)"))},
        "from": address(&e.from),
        "sender": address(&e.from),
        "toRecipients": to,
        "ccRecipients": cc,
        "bccRecipients": bcc,
        "conversationId": "AAQk",
    });
    if let Some(reply) = &e.in_reply_to {
        m["internetMessageHeaders"] = json!([
            {"name": "Received", "value": "from mail.example"},
            {"name": "In-Reply-To", "value": reply},
        ]);
    }
    m
}

/// `{dateTime, timeZone}` of an instant, in a zone chosen by `pick`; a
/// local time that reads back as another instant is given in UTC.
fn date_time(t: i64, tz: chrono_tz::Tz, pick: usize) -> Value {
    let utc = Utc.timestamp_opt(t, 0).single().unwrap_or_default();
    let zone_name = match pick % 3 {
        1 => Some(tz.name()),
        2 => windows_name(tz),
        _ => None,
    };
    if let Some(name) = zone_name {
        let local = utc.with_timezone(&tz).naive_local();
        if tz
            .from_local_datetime(&local)
            .earliest()
            .map(|d| d.timestamp())
            == Some(t)
        {
            return json!({"dateTime": local.format("%Y-%m-%dT%H:%M:%S.0000000").to_string(), "timeZone": name});
        }
    }
    json!({"dateTime": utc.format("%Y-%m-%dT%H:%M:%S.0000000").to_string(), "timeZone": "UTC"})
}

fn attendee(a: &Attendee) -> Value {
    let response = match a.status.as_deref() {
        Some("accepted") => "accepted",
        Some("tentative") => "tentativelyAccepted",
        Some("declined") => "declined",
        _ => "notResponded",
    };
    json!({
        "type": a.kind.as_deref().unwrap_or("required"),
        "status": {"response": response, "time": "0001-01-01T00:00:00Z"},
        "emailAddress": {"name": "", "address": a.email},
    })
}

fn event(m: &Meeting, tz: chrono_tz::Tz, n: usize, kind: &str) -> Value {
    let (start, end) = m.span();
    json!({
        "id": format!("AAMkAE{n:08}"),
        "iCalUId": if kind == "seriesMaster" { m.series_id.clone().unwrap_or_default() } else { m.uid.clone() },
        "type": kind,
        "subject": m.subject,
        "body": {"contentType": "html", "content": m.subject.as_ref().map(|s| format!("<p>{s} (description)</p>"))},
        "location": {"displayName": m.subject.as_ref().map(|s| format!("{s} (location)"))},
        "start": date_time(start, tz, n),
        "end": date_time(end, tz, n + 1),
        "organizer": address(&m.organizer),
        "attendees": m.attendees().iter().map(attendee).collect::<Vec<_>>(),
        "isCancelled": m.cancelled.unwrap_or(false),
        "isAllDay": m.all_day.unwrap_or(false),
    })
}

/// A resource Graph's reader rejects, for a line the `jsonl` reader rejects.
fn rejected(kind: RejectedKind) -> Value {
    match kind {
        RejectedKind::Email => json!({"sentDateTime": "2026-01-01T00:00:00Z", "subject": "no id"}),
        RejectedKind::Meeting => json!({"start": {"dateTime": "x", "timeZone": "UTC"}, "end": {}}),
        RejectedKind::Other => json!({"subject": "neither a message nor an event"}),
    }
}

/// The resources of one mailbox's file.
pub fn write_file(items: &[Item], tz: chrono_tz::Tz, as_lists: bool) -> String {
    let mut resources = Vec::with_capacity(items.len());
    let mut masters: HashSet<&str> = HashSet::new();
    for (n, item) in items.iter().enumerate() {
        match item {
            Item::Email(e) => resources.push(message(e, n)),
            Item::Meeting(m) => {
                let kind = match &m.series_id {
                    Some(series) => {
                        if masters.insert(series) {
                            resources.push(event(m, tz, n, "seriesMaster"));
                        }
                        "occurrence"
                    }
                    None => "singleInstance",
                };
                resources.push(event(m, tz, n, kind));
            }
            Item::Rejected(kind) => resources.push(rejected(*kind)),
        }
    }
    let mut out = String::new();
    if as_lists {
        for page in resources.chunks(50) {
            let list = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('x')/messages", "value": page, "@odata.nextLink": "https://graph.microsoft.com/v1.0/next"});
            out.push_str(&serde_json::to_string_pretty(&list).unwrap_or_default());
            out.push('\n');
        }
    } else {
        for r in resources {
            out.push_str(&r.to_string());
            out.push('\n');
        }
    }
    out
}
