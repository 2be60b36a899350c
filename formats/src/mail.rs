//! One RFC 5322 message's header block, read into a staged email
//! (INPUTS.md "mbox"): `Message-ID`, `Date`, `From`, `To`, `Cc`, `Bcc` and
//! `In-Reply-To`. Every other header, the subject among them, is passed
//! over unread, and the body is never looked at.
//!
//! Headers are cut here (folded lines, CRLF or LF, damaged lines skipped).
//! Addresses are read by [`crate::address_list`] (display names, groups
//! and RFC 5322's obsolete syntax); dates by `mail-parser`'s date parser,
//! which knows obsolete zone names (`EST`).

use std::borrow::Cow;

use chrono::NaiveDate;
use mail_parser::parsers::MessageStream;
use mail_parser::HeaderValue;
use rapport_common::builders::{email_key_of, EmailBuilder};
use rapport_common::directory::Directory;
use rapport_common::record::ParsedCopy;
use rapport_common::reject::{RejectReason as R, Rejection};

use crate::address_list::{first_address, for_each_address};

/// The headers the rules use, as raw values (after the colon, through the
/// header's last newline, folding kept).
#[derive(Default)]
struct Wanted<'a> {
    message_id: Option<&'a [u8]>,
    date: Option<&'a [u8]>,
    from: Option<&'a [u8]>,
    in_reply_to: Option<&'a [u8]>,
    /// Every `To`, `Cc` and `Bcc` (duplicated fields all count).
    recipients: Vec<&'a [u8]>,
    /// Header lines read.
    headers: usize,
}

/// Cuts a header block into the wanted raw values. The first of a repeated
/// single-valued field wins; a line that is neither a field nor a
/// continuation is skipped.
fn cut(block: &[u8]) -> Wanted<'_> {
    let mut wanted = Wanted::default();
    let mut pos = 0;
    while pos < block.len() {
        let mut end = next_line(block, pos);
        while end < block.len() && matches!(block[end], b' ' | b'\t') {
            end = next_line(block, end);
        }
        let field = &block[pos..end];
        pos = end;
        let Some(colon) = field.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = &field[..colon];
        if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
            continue;
        }
        wanted.headers += 1;
        let value = &field[colon + 1..];
        let slot = if name.eq_ignore_ascii_case(b"message-id") {
            &mut wanted.message_id
        } else if name.eq_ignore_ascii_case(b"date") {
            &mut wanted.date
        } else if name.eq_ignore_ascii_case(b"from") {
            &mut wanted.from
        } else if name.eq_ignore_ascii_case(b"in-reply-to") {
            &mut wanted.in_reply_to
        } else {
            if [&b"to"[..], b"cc", b"bcc"]
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n))
            {
                wanted.recipients.push(value);
            }
            continue;
        };
        slot.get_or_insert(value);
    }
    wanted
}

fn next_line(bytes: &[u8], pos: usize) -> usize {
    memchr::memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |i| pos + i + 1)
}

/// A `Message-ID` or `In-Reply-To`: the first `<...>` token, brackets
/// kept; where there is none, the trimmed value. Folding is removed first.
/// Borrowed in the common case, a one-line token of valid UTF-8.
fn message_id(value: &[u8]) -> Option<Cow<'_, str>> {
    if let Some(open) = memchr::memchr(b'<', value) {
        if let Some(len) = memchr::memchr(b'>', &value[open..]) {
            let token = &value[open..=open + len];
            if !token.iter().any(|b| *b == b'\n' || *b == b'\r') {
                if let Ok(token) = std::str::from_utf8(token) {
                    return Some(Cow::Borrowed(token));
                }
            }
        }
    }
    let text = String::from_utf8_lossy(value);
    let text: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    if let Some(open) = text.find('<') {
        if let Some(close) = text[open..].find('>') {
            return Some(Cow::Owned(text[open..=open + close].to_owned()));
        }
    }
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| Cow::Owned(trimmed.to_owned()))
}

/// A `Date` as epoch seconds, or `None` when it is not a real date.
fn date(value: &[u8]) -> Option<i64> {
    let HeaderValue::DateTime(dt) = MessageStream::new(value).parse_date() else {
        return None;
    };
    let real = dt.is_valid()
        && NaiveDate::from_ymd_opt(dt.year as i32, dt.month as u32, dt.day as u32).is_some();
    real.then(|| dt.to_timestamp())
}

/// Reads a header block (the message's bytes up to its first empty line).
pub fn parse_headers<'a>(
    block: &'a [u8],
    directory: &Directory,
) -> Result<ParsedCopy<'a>, Rejection> {
    let wanted = cut(block);
    if wanted.headers == 0 {
        return Err(Rejection::new(R::InvalidSyntax, "headers"));
    }
    let id = wanted.message_id.and_then(message_id);
    let key = email_key_of(id.as_deref(), "Message-ID")?;
    let sent_at = wanted
        .date
        .and_then(date)
        .ok_or_else(|| Rejection::new(R::InvalidSentAt, "Date"))?;
    let from = wanted.from.and_then(first_address);
    let mut email = EmailBuilder::new(directory, key, sent_at, from.as_deref(), "From")?;
    for value in &wanted.recipients {
        for_each_address(value, |a| email.recipient(&a));
    }
    let reply = wanted.in_reply_to.and_then(message_id);
    let email = email.build(reply.as_deref());
    Ok(ParsedCopy::email(email, from.unwrap_or_default(), reply))
}

#[cfg(test)]
#[path = "mail_tests.rs"]
mod tests;
