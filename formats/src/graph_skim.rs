//! The fast path of [`crate::graph`]: reads a record holding one resource
//! or list response into its [`Resource`] with the [`Skim`]mer, or says
//! `None` and leaves it to serde_json (escaped strings, anything refused). Where
//! it says `Some`, it must give what serde_json gives: the property test
//! below and the fuzz targets (`fuzzing::run`) check that.

use crate::graph::{
    Attendee, DateTimeTimeZone, EmailAddress, Item, MessageHeader, Recipient, Recipients, Resource,
    ResponseStatus,
};
use crate::skim::{Seen, Skim};

/// The resource a record holds, if the skimmer can read it.
pub(crate) fn skim_resource(text: &str) -> Option<Resource<'_>> {
    let mut s = Skim::new(text);
    let mut r = Resource::default();
    let mut seen = Seen::default();
    s.object(|s, key| {
        let (index, read) = match key {
            "value" => (17, opt(s, items).map(|v| r.value = v)),
            "internetMessageId" => (0, s.opt_str().map(|v| r.internet_message_id = v)),
            "id" => (1, s.opt_str().map(|v| r.id = v)),
            "sentDateTime" => (2, s.opt_str().map(|v| r.sent_date_time = v)),
            "from" => (3, opt(s, recipient).map(|v| r.from = v)),
            "sender" => (4, opt(s, recipient).map(|v| r.sender = v)),
            "toRecipients" => (5, opt(s, recipients).map(|v| r.to = v)),
            "ccRecipients" => (6, opt(s, recipients).map(|v| r.cc = v)),
            "bccRecipients" => (7, opt(s, recipients).map(|v| r.bcc = v)),
            "internetMessageHeaders" => (8, opt(s, headers).map(|v| r.headers = v)),
            "iCalUId" => (9, s.opt_str().map(|v| r.ical_uid = v)),
            "start" => (10, opt(s, date_time).map(|v| r.start = v)),
            "end" => (11, opt(s, date_time).map(|v| r.end = v)),
            "organizer" => (12, opt(s, recipient).map(|v| r.organizer = v)),
            "attendees" => (13, opt(s, attendees).map(|v| r.attendees = v)),
            "isCancelled" => (14, s.opt_bool().map(|v| r.is_cancelled = v)),
            "isAllDay" => (15, s.opt_bool().map(|v| r.is_all_day = v)),
            "type" => (16, s.opt_str().map(|v| r.kind = v)),
            _ => return s.skip(),
        };
        seen.first(index)?;
        read
    })?;
    s.end()?;
    Some(r)
}

/// `null`, or what `read` reads.
fn opt<'a, T>(
    s: &mut Skim<'a>,
    read: impl FnOnce(&mut Skim<'a>) -> Option<T>,
) -> Option<Option<T>> {
    if s.null() {
        return Some(None);
    }
    read(s).map(Some)
}

/// The resources of a list response, as their texts.
fn items<'a>(s: &mut Skim<'a>) -> Option<Vec<Item<'a>>> {
    let mut list = Vec::new();
    s.array(|s| s.raw().map(|text| list.push(Item(text))))?;
    Some(list)
}

fn recipient<'a>(s: &mut Skim<'a>) -> Option<Recipient<'a>> {
    let mut r = Recipient::default();
    let mut seen = Seen::default();
    s.object(|s, key| match key {
        "emailAddress" => {
            seen.first(0)?;
            r.email_address = opt(s, email_address)?;
            Some(())
        }
        _ => s.skip(),
    })?;
    Some(r)
}

fn email_address<'a>(s: &mut Skim<'a>) -> Option<EmailAddress<'a>> {
    let mut e = EmailAddress::default();
    let mut seen = Seen::default();
    s.object(|s, key| match key {
        "address" => {
            seen.first(0)?;
            e.address = s.opt_str()?;
            Some(())
        }
        _ => s.skip(),
    })?;
    Some(e)
}

fn recipients<'a>(s: &mut Skim<'a>) -> Option<Recipients<'a>> {
    let mut list = Recipients::new();
    s.array(|s| recipient(s).map(|r| list.push(r)))?;
    Some(list)
}

fn headers<'a>(s: &mut Skim<'a>) -> Option<Vec<MessageHeader<'a>>> {
    let mut list = Vec::new();
    s.array(|s| {
        let mut h = MessageHeader::default();
        let mut seen = Seen::default();
        s.object(|s, key| {
            let (index, read) = match key {
                "name" => (0, s.opt_str().map(|v| h.name = v)),
                "value" => (1, s.opt_str().map(|v| h.value = v)),
                _ => return s.skip(),
            };
            seen.first(index)?;
            read
        })?;
        list.push(h);
        Some(())
    })?;
    Some(list)
}

fn date_time<'a>(s: &mut Skim<'a>) -> Option<DateTimeTimeZone<'a>> {
    let mut d = DateTimeTimeZone::default();
    let mut seen = Seen::default();
    s.object(|s, key| {
        let (index, read) = match key {
            "dateTime" => (0, s.opt_str().map(|v| d.date_time = v)),
            "timeZone" => (1, s.opt_str().map(|v| d.time_zone = v)),
            _ => return s.skip(),
        };
        seen.first(index)?;
        read
    })?;
    Some(d)
}

fn attendees<'a>(s: &mut Skim<'a>) -> Option<Vec<Attendee<'a>>> {
    let mut list = Vec::new();
    s.array(|s| {
        let mut a = Attendee::default();
        let mut seen = Seen::default();
        s.object(|s, key| {
            let (index, read) = match key {
                "emailAddress" => (0, opt(s, email_address).map(|v| a.email_address = v)),
                "status" => (1, opt(s, response_status).map(|v| a.status = v)),
                "type" => (2, s.opt_str().map(|v| a.kind = v)),
                _ => return s.skip(),
            };
            seen.first(index)?;
            read
        })?;
        list.push(a);
        Some(())
    })?;
    Some(list)
}

fn response_status<'a>(s: &mut Skim<'a>) -> Option<ResponseStatus<'a>> {
    let mut r = ResponseStatus::default();
    let mut seen = Seen::default();
    s.object(|s, key| match key {
        "response" => {
            seen.first(0)?;
            r.response = s.opt_str()?;
            Some(())
        }
        _ => s.skip(),
    })?;
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// serde_json's reading of a record.
    fn serde(text: &str) -> Option<Resource<'_>> {
        serde_json::from_str(text).ok()
    }

    const RECORDS: &[&str] = &[
        r#"{"@odata.etag":"W/\"0\"","bccRecipients":[],"body":{"content":"x (body)","contentType":"text"},"ccRecipients":null,"from":{"emailAddress":{"address":"a@b.se","name":""}},"id":"AAMk","internetMessageHeaders":[{"name":"In-Reply-To","value":"<m0@x>"}],"internetMessageId":"<m1@x>","sender":{"emailAddress":null},"sentDateTime":"2025-08-11T06:12:11Z","toRecipients":[{"emailAddress":{"address":"c@d.se"}},{}],"size":-1.5E+3}"#,
        r#"{"iCalUId":"u1","type":"singleInstance","start":{"dateTime":"2026-01-02T03:04:05.0000000","timeZone":"W. Europe Standard Time"},"end":{"dateTime":"2026-01-02T04:04:05.0000000","timeZone":"UTC"},"organizer":{"emailAddress":{"address":"a@b.se","name":"A"}},"attendees":[{"type":"resource","status":{"response":"declined","time":"0001-01-01T00:00:00Z"},"emailAddress":{"address":"r@b.se"}},{"status":null}],"isCancelled":false,"isAllDay":null}"#,
        "{ }",
        r#"{"@odata.context":"x","value":[ {"id":"a","toRecipients":[]} , {"iCalUId":"u"},7,"s",[]],"@odata.nextLink":null}"#,
    ];

    #[test]
    fn reads_what_serde_json_reads() {
        for text in RECORDS {
            let skimmed = skim_resource(text);
            assert!(skimmed.is_some(), "{text}");
            assert_eq!(skimmed, serde(text), "{text}");
        }
    }

    #[test]
    fn leaves_the_rest_to_serde_json() {
        for text in [
            r#"{"id":"a","id":"b"}"#,
            r#"{"from":{"emailAddress":{"address":"a@b.se","address":null}}}"#,
            r#"{"toRecipients":[null]}"#,
            r#"{"start":"2026-01-02"}"#,
            r#"{"isAllDay":1}"#,
            r#"{"id":"a"}{"id":"b"}"#,
            r#"{"from":{"emailAddress":{"address":"a\u0040b.se"}}}"#,
        ] {
            assert_eq!(skim_resource(text), None, "{text}");
        }
    }

    proptest! {
        /// Cutting, doubling or replacing a byte of a record: wherever the
        /// skimmer reads the result, serde_json reads the same.
        #[test]
        fn never_disagrees_with_serde_json(
            record in 0..RECORDS.len(),
            at in any::<prop::sample::Index>(),
            edit in 0..4u8,
            byte in prop::sample::select(b" \t\"\\,:[]{}0-.eEnulltrufals7@x\x01".to_vec()),
        ) {
            let mut bytes = RECORDS[record].as_bytes().to_vec();
            let i = at.index(bytes.len());
            match edit {
                0 => { bytes.remove(i); }
                1 => bytes.insert(i, bytes[i]),
                2 => bytes[i] = byte,
                _ => bytes.insert(i, byte),
            }
            if let Ok(text) = std::str::from_utf8(&bytes) {
                if let Some(skimmed) = skim_resource(text) {
                    prop_assert_eq!(Some(skimmed), serde(text), "{}", text);
                }
            }
        }
    }
}
