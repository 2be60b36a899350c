//! The fast path of [`crate::graph`]: reads a record holding one resource
//! or list response into its [`Resource`] with the [`Skim`]mer, or says
//! `None` and leaves it to serde_json (escaped strings, anything refused). Where
//! it says `Some`, it must give what serde_json gives: the property test
//! below and the fuzz targets (`fuzzing::run`) check that.

use crate::graph::{
    Attendee, DateTimeTimeZone, EmailAddress, Item, MessageHeader, Recipient, Recipients, Resource,
    ResponseStatus,
};
use crate::skim::{known, Skim};

/// The resource a record holds, if the skimmer can read it.
pub(crate) fn skim_resource(text: &str) -> Option<Resource<'_>> {
    let mut s = Skim::new(text);
    let mut r = Resource::default();
    s.fields(|s, key| match key {
        "internetMessageId" => known(0, s.opt_str(), &mut r.internet_message_id),
        "id" => known(1, s.opt_str(), &mut r.id),
        "sentDateTime" => known(2, s.opt_str(), &mut r.sent_date_time),
        "from" => known(3, s.or_null(recipient), &mut r.from),
        "sender" => known(4, s.or_null(recipient), &mut r.sender),
        "toRecipients" => known(5, s.or_null(recipients), &mut r.to),
        "ccRecipients" => known(6, s.or_null(recipients), &mut r.cc),
        "bccRecipients" => known(7, s.or_null(recipients), &mut r.bcc),
        "internetMessageHeaders" => known(8, s.or_null(headers), &mut r.headers),
        "iCalUId" => known(9, s.opt_str(), &mut r.ical_uid),
        "start" => known(10, s.or_null(date_time), &mut r.start),
        "end" => known(11, s.or_null(date_time), &mut r.end),
        "organizer" => known(12, s.or_null(recipient), &mut r.organizer),
        "attendees" => known(13, s.or_null(attendees), &mut r.attendees),
        "isCancelled" => known(14, s.opt_bool(), &mut r.is_cancelled),
        "isAllDay" => known(15, s.opt_bool(), &mut r.is_all_day),
        "type" => known(16, s.opt_str(), &mut r.kind),
        "value" => known(17, s.or_null(items), &mut r.value),
        _ => s.other(),
    })?;
    s.end()?;
    Some(r)
}

/// The resources of a list response, as their texts.
fn items<'a>(s: &mut Skim<'a>) -> Option<Vec<Item<'a>>> {
    let mut list = Vec::new();
    s.array(|s| s.raw().map(|text| list.push(Item(text))))?;
    Some(list)
}

fn recipient<'a>(s: &mut Skim<'a>) -> Option<Recipient<'a>> {
    let mut r = Recipient::default();
    s.fields(|s, key| match key {
        "emailAddress" => known(0, s.or_null(email_address), &mut r.email_address),
        _ => s.other(),
    })?;
    Some(r)
}

fn email_address<'a>(s: &mut Skim<'a>) -> Option<EmailAddress<'a>> {
    let mut e = EmailAddress::default();
    s.fields(|s, key| match key {
        "address" => known(0, s.opt_str(), &mut e.address),
        _ => s.other(),
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
        s.fields(|s, key| match key {
            "name" => known(0, s.opt_str(), &mut h.name),
            "value" => known(1, s.opt_str(), &mut h.value),
            _ => s.other(),
        })?;
        list.push(h);
        Some(())
    })?;
    Some(list)
}

fn date_time<'a>(s: &mut Skim<'a>) -> Option<DateTimeTimeZone<'a>> {
    let mut d = DateTimeTimeZone::default();
    s.fields(|s, key| match key {
        "dateTime" => known(0, s.opt_str(), &mut d.date_time),
        "timeZone" => known(1, s.opt_str(), &mut d.time_zone),
        _ => s.other(),
    })?;
    Some(d)
}

fn attendees<'a>(s: &mut Skim<'a>) -> Option<Vec<Attendee<'a>>> {
    let mut list = Vec::new();
    s.array(|s| {
        let mut a = Attendee::default();
        s.fields(|s, key| match key {
            "emailAddress" => known(0, s.or_null(email_address), &mut a.email_address),
            "status" => known(1, s.or_null(response_status), &mut a.status),
            "type" => known(2, s.opt_str(), &mut a.kind),
            _ => s.other(),
        })?;
        list.push(a);
        Some(())
    })?;
    Some(list)
}

fn response_status<'a>(s: &mut Skim<'a>) -> Option<ResponseStatus<'a>> {
    let mut r = ResponseStatus::default();
    s.fields(|s, key| match key {
        "response" => known(0, s.opt_str(), &mut r.response),
        _ => s.other(),
    })?;
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skim::mutations::near;
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
        /// Wherever the skimmer reads a record near a valid one,
        /// serde_json reads the same.
        #[test]
        fn never_disagrees_with_serde_json(bytes in near(RECORDS)) {
            if let Ok(text) = std::str::from_utf8(&bytes) {
                if let Some(skimmed) = skim_resource(text) {
                    prop_assert_eq!(Some(skimmed), serde(text), "{}", text);
                }
            }
        }
    }
}
