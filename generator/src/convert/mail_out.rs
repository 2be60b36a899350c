//! RFC 5322 messages from canonical emails, in the shapes real mail takes:
//! display names plain, quoted with commas or as encoded words, long
//! recipient lists folded, CRLF in some messages, bodies with `From ` lines
//! quoted mboxrd-style. Every eleventh message goes to an `.eml` file of
//! its own instead of the mbox.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use rapport_common::address::normalise;

use super::canonical::{Email, Item, RejectedKind};

/// `name <address>` in one of several forms, for a valid address; `None`
/// for one the `jsonl` reader would drop.
fn mailbox(raw: &str, n: usize) -> Option<String> {
    let a = normalise(raw)?;
    let local = a.split('@').next().unwrap_or_default();
    Some(match n % 4 {
        0 => a,
        1 => format!("\"{local}, Sales\" <{a}>"),
        2 => format!("=?utf-8?q?J=C3=B6rg_{local}?= <{a}>"),
        _ => format!("{local} <{a}>"),
    })
}

/// An address header, folded after each address.
fn address_header(name: &str, raw: &[String], n: usize, eol: &str) -> Option<String> {
    let list: Vec<String> = raw
        .iter()
        .enumerate()
        .filter_map(|(i, a)| mailbox(a, n + i))
        .collect();
    (!list.is_empty()).then(|| format!("{name}: {}{eol}", list.join(&format!(",{eol}\t"))))
}

/// `Date:` in the offset the time was written with.
fn date(sent_at: &str) -> String {
    let parsed = DateTime::parse_from_rfc3339(sent_at).ok().or_else(|| {
        let t = rapport_common::time::parse_rfc3339(sent_at)?;
        Some(
            Utc.timestamp_opt(t, 0)
                .single()?
                .with_timezone(&FixedOffset::east_opt(0)?),
        )
    });
    parsed.map_or_else(String::new, |d| {
        d.format("%a, %-d %b %Y %H:%M:%S %z").to_string()
    })
}

fn message(e: &Email, n: usize) -> String {
    let eol = if n.is_multiple_of(5) { "\r\n" } else { "\n" };
    let mut m = String::new();
    m.push_str(&format!("Return-Path: <bounce@mail.example>{eol}"));
    m.push_str(&format!("Message-ID: {}{eol}", e.message_id));
    m.push_str(&format!("Date: {}{eol}", date(&e.sent_at)));
    m.push_str(&format!(
        "From: {}{eol}",
        mailbox(&e.from, n).unwrap_or_default()
    ));
    for (name, list) in ["To", "Cc", "Bcc"].into_iter().zip(e.lists()) {
        if let Some(h) = address_header(name, list, n, eol) {
            m.push_str(&h);
        }
    }
    if let Some(reply) = &e.in_reply_to {
        m.push_str(&format!("In-Reply-To: {reply}{eol}"));
    }
    let subject = e.subject.as_deref().unwrap_or("(no subject)");
    m.push_str(&format!("Subject: {subject}{eol}MIME-Version: 1.0{eol}Content-Type: text/plain; charset=utf-8{eol}{eol}"));
    m.push_str(&format!(
        "Hello,{eol}{eol}{subject} (body){eol}>From the minutes: nothing here is kept.{eol}{eol}"
    ));
    m
}

/// A message the mbox reader rejects, for a line the `jsonl` reader rejects.
fn rejected(kind: RejectedKind) -> String {
    match kind {
        RejectedKind::Email => {
            "Date: Mon, 2 Mar 2026 09:15:00 +0000\nFrom: a@b.example\nSubject: no id\n\nbody\n"
                .to_owned()
        }
        _ => "this is not a header\n\nbody\n".to_owned(),
    }
}

/// One mailbox: its mbox, and its `.eml` files by name.
pub fn write_mailbox(items: &[Item], stem: &str) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let mut mbox = Vec::new();
    let mut emls = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let text = match item {
            Item::Email(e) => message(e, n),
            Item::Rejected(RejectedKind::Meeting) | Item::Meeting(_) => continue,
            Item::Rejected(kind) => rejected(*kind),
        };
        if n % 11 == 10 {
            emls.push((format!("{stem}-{n:06}.eml"), text.into_bytes()));
        } else {
            mbox.extend_from_slice(b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n");
            mbox.extend_from_slice(text.as_bytes());
        }
    }
    (mbox, emls)
}
