//! The fast path of [`crate::jsonl`]: reads a line into its [`RawRecord`]
//! with the [`Skim`]mer, or says `None` and leaves the line to serde_json.
//! Where it says `Some`, it must give what serde_json gives: the property
//! test below and the fuzz targets (`fuzzing::run`) check that.

use crate::jsonl::{Addresses, RawAttendee, RawRecord};
use crate::skim::{Seen, Skim};

/// The record of a line, if the skimmer can read it.
pub(crate) fn skim_record(text: &str) -> Option<RawRecord<'_>> {
    let mut s = Skim::new(text);
    let mut r = RawRecord::default();
    let mut seen = Seen::default();
    s.object(|s, key| {
        let (index, read) = match key {
            "type" => (0, s.opt_str().map(|v| r.kind = v)),
            "message_id" => (1, s.opt_str().map(|v| r.message_id = v)),
            "sent_at" => (2, s.opt_str().map(|v| r.sent_at = v)),
            "from" => (3, s.opt_str().map(|v| r.from = v)),
            "to" => (4, addresses(s).map(|v| r.to = v)),
            "cc" => (5, addresses(s).map(|v| r.cc = v)),
            "bcc" => (6, addresses(s).map(|v| r.bcc = v)),
            "in_reply_to" => (7, s.opt_str().map(|v| r.in_reply_to = v)),
            "uid" => (8, s.opt_str().map(|v| r.uid = v)),
            "start" => (9, s.opt_str().map(|v| r.start = v)),
            "end" => (10, s.opt_str().map(|v| r.end = v)),
            "organizer" => (11, s.opt_str().map(|v| r.organizer = v)),
            "attendees" => (12, attendees(s).map(|v| r.attendees = v)),
            "cancelled" => (13, s.opt_bool().map(|v| r.cancelled = v)),
            "all_day" => (14, s.opt_bool().map(|v| r.all_day = v)),
            _ => return s.skip(),
        };
        seen.first(index)?;
        read
    })?;
    s.end()?;
    Some(r)
}

fn addresses<'a>(s: &mut Skim<'a>) -> Option<Option<Addresses<'a>>> {
    if s.null() {
        return Some(None);
    }
    let mut list = Addresses::new();
    s.array(|s| s.str().map(|a| list.push(a.into())))?;
    Some(Some(list))
}

fn attendees<'a>(s: &mut Skim<'a>) -> Option<Option<Vec<RawAttendee<'a>>>> {
    if s.null() {
        return Some(None);
    }
    let mut list = Vec::new();
    s.array(|s| {
        let mut a = RawAttendee::default();
        let mut seen = Seen::default();
        s.object(|s, key| {
            let (index, read) = match key {
                "email" => (0, s.opt_str().map(|v| a.email = v)),
                "status" => (1, s.opt_str().map(|v| a.status = v)),
                "type" => (2, s.opt_str().map(|v| a.kind = v)),
                _ => return s.skip(),
            };
            seen.first(index)?;
            read
        })?;
        list.push(a);
        Some(())
    })?;
    Some(Some(list))
}

#[cfg(test)]
mod tests {
    use super::*;
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
        /// Cutting, doubling or replacing a byte of a line: wherever the
        /// skimmer reads the result, serde_json reads the same.
        #[test]
        fn never_disagrees_with_serde_json(
            line in 0..LINES.len(),
            at in any::<prop::sample::Index>(),
            edit in 0..4u8,
            byte in prop::sample::select(b" \t\"\\,:[]{}0-.eEnulltrufals7@x\x01".to_vec()),
        ) {
            let mut bytes = LINES[line].as_bytes().to_vec();
            let i = at.index(bytes.len());
            match edit {
                0 => { bytes.remove(i); }
                1 => bytes.insert(i, bytes[i]),
                2 => bytes[i] = byte,
                _ => bytes.insert(i, byte),
            }
            if let Ok(text) = std::str::from_utf8(&bytes) {
                if let Some(skimmed) = skim_record(text) {
                    prop_assert_eq!(Some(skimmed), serde(text), "{}", text);
                }
            }
        }
    }
}
