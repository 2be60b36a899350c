//! The fast path of [`crate::jsonl`]: reads a line into its [`RawRecord`]
//! with the [`Skim`]mer, or says `None` and leaves the line to serde_json.
//! Where it says `Some`, it must give what serde_json gives: the property
//! test below and the fuzz targets (`fuzzing::run`) check that.

use crate::jsonl::{Addresses, RawAttendee, RawRecord};
use crate::skim::{known, Skim};

/// The record of a line, if the skimmer can read it.
pub(crate) fn skim_record(text: &str) -> Option<RawRecord<'_>> {
    let mut s = Skim::new(text);
    let mut r = RawRecord::default();
    s.fields(|s, key| match key {
        "type" => known(0, s.opt_str(), &mut r.kind),
        "message_id" => known(1, s.opt_str(), &mut r.message_id),
        "sent_at" => known(2, s.opt_str(), &mut r.sent_at),
        "from" => known(3, s.opt_str(), &mut r.from),
        "to" => known(4, addresses(s), &mut r.to),
        "cc" => known(5, addresses(s), &mut r.cc),
        "bcc" => known(6, addresses(s), &mut r.bcc),
        "in_reply_to" => known(7, s.opt_str(), &mut r.in_reply_to),
        "uid" => known(8, s.opt_str(), &mut r.uid),
        "start" => known(9, s.opt_str(), &mut r.start),
        "end" => known(10, s.opt_str(), &mut r.end),
        "organizer" => known(11, s.opt_str(), &mut r.organizer),
        "attendees" => known(12, attendees(s), &mut r.attendees),
        "cancelled" => known(13, s.opt_bool(), &mut r.cancelled),
        "all_day" => known(14, s.opt_bool(), &mut r.all_day),
        _ => s.other(),
    })?;
    s.end()?;
    Some(r)
}

fn addresses<'a>(s: &mut Skim<'a>) -> Option<Option<Addresses<'a>>> {
    s.or_null(|s| {
        let mut list = Addresses::new();
        s.array(|s| s.str().map(|a| list.push(a.into())))?;
        Some(list)
    })
}

fn attendees<'a>(s: &mut Skim<'a>) -> Option<Option<Vec<RawAttendee<'a>>>> {
    s.or_null(|s| {
        let mut list = Vec::new();
        s.array(|s| {
            let mut a = RawAttendee::default();
            s.fields(|s, key| match key {
                "email" => known(0, s.opt_str(), &mut a.email),
                "status" => known(1, s.opt_str(), &mut a.status),
                "type" => known(2, s.opt_str(), &mut a.kind),
                _ => s.other(),
            })?;
            list.push(a);
            Some(())
        })?;
        Some(list)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skim::mutations::near;
    use proptest::prelude::*;

    /// serde_json's reading of a line.
    fn serde(text: &str) -> Option<RawRecord<'_>> {
        serde_json::from_str(text).ok()
    }

    const LINES: &[&str] = &[
        r#"{"type":"email","message_id":"<m1@x>","sent_at":"2026-01-02T03:04:05Z","from":"a@b.se","to":["c@d.se","e@f.se"],"cc":[],"bcc":null,"in_reply_to":"<m0@x>","subject":"hi \"there\"","size":12.5e2,"labels":{"a":[1,2,{"b":null}]}}"#,
        r#"{"type":"meeting","uid":"u1","start":"2026-01-02T03:04:05Z","end":"2026-01-02T04:04:05Z","organizer":"a@b.se","attendees":[{"email":"c@d.se","status":"declined","type":"resource","name":"C"},{"email":null}],"cancelled":false,"all_day":null}"#,
        r#" { "type" : "email" , "from" : "a@b.se" } "#,
        r#"{}"#,
    ];

    #[test]
    fn reads_what_serde_json_reads() {
        for line in LINES {
            let skimmed = skim_record(line);
            assert!(skimmed.is_some(), "{line}");
            assert_eq!(skimmed, serde(line), "{line}");
        }
    }

    #[test]
    fn leaves_the_rest_to_serde_json() {
        for line in [
            // Refused by both: a field twice (even null), a wrong type,
            // a null in a list, trailing text, not an object.
            r#"{"type":"email","type":null}"#,
            r#"{"attendees":[{"email":"a@b.se","email":"c@d.se"}]}"#,
            r#"{"type":7}"#,
            r#"{"to":"a@b.se"}"#,
            r#"{"to":[null]}"#,
            r#"{"cancelled":"yes"}"#,
            r#"{"attendees":[7]}"#,
            r#"{"type":"email"} {}"#,
            r#"["email"]"#,
            // Read by serde_json, not by the skimmer: escapes in a field.
            r#"{"from":"a\u0040b.se"}"#,
            r#"{"from":"a\/b"}"#,
            r#"{"ty\u0070e":"email"}"#,
        ] {
            assert_eq!(skim_record(line), None, "{line}");
        }
    }

    proptest! {
        /// Wherever the skimmer reads a line near a valid one, serde_json
        /// reads the same.
        #[test]
        fn never_disagrees_with_serde_json(bytes in near(LINES)) {
            if let Ok(text) = std::str::from_utf8(&bytes) {
                if let Some(skimmed) = skim_record(text) {
                    prop_assert_eq!(Some(skimmed), serde(text), "{}", text);
                }
            }
        }
    }
}
