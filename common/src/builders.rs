//! The rules that make a staged email or meeting, whatever format it was
//! read from (INPUTS.md; ENGAGEMENT.md §1): an id is trimmed and a blank one
//! is none; addresses are normalised and resolved, unmapped ones dropped;
//! every party counts once, sorted; declined and resource attendees are
//! kept, marked as no participants; a meeting ends after it starts.
//! Cancelled and all-day meetings are staged with their mark, and ignored
//! after the merge ([`StagedMeeting::is_ignored`]).
//!
//! Each format reads its own fields and hands them here, with the names
//! its rejections give them.

use crate::directory::{Directory, Party};
use crate::record::{
    email_key, meeting_key, tidy_attendees, tidy_parties, Attendee, RecordKey, StagedEmail,
    StagedMeeting,
};
use crate::reject::{RejectReason as R, Rejection};

/// An id as written, trimmed; a blank one is none.
pub fn id_of(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// An email's key, from its message id; refused naming `field` when blank.
pub fn email_key_of(message_id: Option<&str>, field: &str) -> Result<RecordKey, Rejection> {
    id_of(message_id)
        .map(email_key)
        .ok_or_else(|| Rejection::new(R::MissingMessageId, field))
}

/// A meeting's key, from its uid; refused naming `field` when blank.
pub fn meeting_key_of(uid: Option<&str>, field: &str) -> Result<RecordKey, Rejection> {
    id_of(uid)
        .map(meeting_key)
        .ok_or_else(|| Rejection::new(R::MissingUid, field))
}

/// An attendee type as `jsonl` and Graph spell it (`required`, `optional`,
/// `resource`; none is `required`): true for a resource, `None` for a word
/// neither knows.
pub fn attendee_type_is_resource(kind: Option<&str>) -> Option<bool> {
    match kind {
        None | Some("required" | "optional") => Some(false),
        Some("resource") => Some(true),
        Some(_) => None,
    }
}

/// Builds one staged email.
pub struct EmailBuilder<'d> {
    directory: &'d Directory,
    buf: String,
    key: RecordKey,
    sent_at: i64,
    sender: Party,
    recipients: Vec<Party>,
}

impl<'d> EmailBuilder<'d> {
    /// An email with its key and time, sent by `sender` (an address as
    /// written); refused naming `sender_field` when that is no address.
    pub fn new(
        directory: &'d Directory,
        key: RecordKey,
        sent_at: i64,
        sender: Option<&str>,
        sender_field: &str,
    ) -> Result<EmailBuilder<'d>, Rejection> {
        let mut buf = String::with_capacity(64);
        let sender = sender
            .and_then(|a| directory.resolve_raw(a, &mut buf))
            .ok_or_else(|| Rejection::new(R::InvalidSender, sender_field))?;
        Ok(EmailBuilder {
            directory,
            buf,
            key,
            sent_at,
            sender,
            recipients: Vec::new(),
        })
    }

    /// A recipient (to, cc or bcc), as written; one that is no address is
    /// passed over.
    pub fn recipient(&mut self, address: &str) {
        if let Some(party) = self.directory.resolve_raw(address, &mut self.buf) {
            self.recipients.push(party);
        }
    }

    /// The email, replying to `in_reply_to` (a message id as written).
    pub fn build(mut self, in_reply_to: Option<&str>) -> StagedEmail {
        tidy_parties(&mut self.recipients);
        StagedEmail {
            key: self.key,
            sent_at: self.sent_at,
            sender: self.sender,
            recipients: self.recipients,
            in_reply_to: id_of(in_reply_to).map(email_key),
        }
    }
}

/// Builds one staged meeting, or the people of an event that recurs.
pub struct MeetingBuilder<'d> {
    directory: &'d Directory,
    buf: String,
    start: i64,
    end: i64,
    organizer: Party,
    attendees: Vec<Attendee>,
}

impl<'d> MeetingBuilder<'d> {
    /// A meeting from `start` to `end`, organized by `organizer` (an
    /// address as written); refused naming `end_field` when it does not
    /// end after it starts, then naming `organizer_field` when the
    /// organizer is no address.
    pub fn new(
        directory: &'d Directory,
        (start, end): (i64, i64),
        end_field: &str,
        organizer: Option<&str>,
        organizer_field: &str,
    ) -> Result<MeetingBuilder<'d>, Rejection> {
        if end <= start {
            return Err(Rejection::new(R::EndNotAfterStart, end_field));
        }
        let mut buf = String::with_capacity(64);
        let organizer = organizer
            .and_then(|a| directory.resolve_raw(a, &mut buf))
            .ok_or_else(|| Rejection::new(R::InvalidOrganizer, organizer_field))?;
        Ok(MeetingBuilder {
            directory,
            buf,
            start,
            end,
            organizer,
            attendees: Vec::new(),
        })
    }

    /// An attendee, as written; a declined one or a resource is kept but
    /// takes no part. One that is no address is passed over.
    pub fn attendee(&mut self, address: &str, declined: bool, resource: bool) {
        if let Some(party) = self.directory.resolve_raw(address, &mut self.buf) {
            self.attendees.push(Attendee {
                party,
                excluded: declined || resource,
            });
        }
    }

    /// The organizer and the attendees, each once (for an event whose
    /// occurrences are staged one by one).
    pub fn people(mut self) -> (Party, Vec<Attendee>) {
        tidy_attendees(&mut self.attendees);
        (self.organizer, self.attendees)
    }

    /// The meeting, under `key`.
    pub fn build(self, key: RecordKey, cancelled: bool, all_day: bool) -> StagedMeeting {
        let (start, end) = (self.start, self.end);
        let (organizer, attendees) = self.people();
        StagedMeeting {
            key,
            start,
            end,
            organizer,
            attendees,
            cancelled,
            all_day,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::person_id;

    fn directory() -> Directory {
        Directory {
            org: [person_id("u@org.com")].into_iter().collect(),
            domains: [("acme.com".to_owned(), 0)].into_iter().collect(),
            accounts: vec!["A".to_owned()],
            ..Directory::default()
        }
    }

    #[test]
    fn ids_are_trimmed_and_a_blank_one_is_refused_naming_the_field() {
        assert_eq!(email_key_of(Some(" <a> "), "id"), Ok(email_key("<a>")));
        let refused = email_key_of(Some("  "), "Message-ID").expect_err("blank");
        assert_eq!(
            (refused.reason, refused.field.as_str()),
            (R::MissingMessageId, "Message-ID")
        );
        let refused = meeting_key_of(None, "UID").expect_err("none");
        assert_eq!(
            (refused.reason, refused.field.as_str()),
            (R::MissingUid, "UID")
        );
    }

    #[test]
    fn an_email_keeps_each_mapped_recipient_once_and_its_reply_key() {
        let d = directory();
        let key = email_key("<a>");
        assert!(EmailBuilder::new(&d, key, 0, Some("not an address"), "from").is_err());
        let mut b = EmailBuilder::new(&d, key, 7, Some("U@Org.com"), "from").expect("sender");
        for r in [
            "x@acme.com",
            "<X@ACME.com>",
            "someone@elsewhere.net",
            "nonsense",
        ] {
            b.recipient(r);
        }
        let email = b.build(Some("  "));
        assert_eq!(email.sender, Party::Org(person_id("u@org.com")));
        assert_eq!(email.recipients.len(), 1, "{:?}", email.recipients);
        assert_eq!(email.in_reply_to, None);
        let b = EmailBuilder::new(&d, key, 7, Some("u@org.com"), "from").expect("sender");
        assert_eq!(b.build(Some(" <p> ")).in_reply_to, Some(email_key("<p>")));
    }

    #[test]
    fn a_meeting_ends_after_it_starts_and_marks_declined_and_resources() {
        let d = directory();
        let refused = MeetingBuilder::new(&d, (10, 10), "end", Some("u@org.com"), "organizer")
            .err()
            .expect("empty span");
        assert_eq!(refused.reason, R::EndNotAfterStart);
        let refused = MeetingBuilder::new(&d, (10, 20), "end", Some(""), "ORGANIZER")
            .err()
            .expect("no organizer");
        assert_eq!(
            (refused.reason, refused.field.as_str()),
            (R::InvalidOrganizer, "ORGANIZER")
        );
        let mut b =
            MeetingBuilder::new(&d, (10, 20), "end", Some("u@org.com"), "organizer").expect("ok");
        b.attendee("x@acme.com", false, false);
        b.attendee("x@acme.com", true, false);
        b.attendee("room@acme.com", false, true);
        b.attendee("y@acme.com", false, false);
        let m = b.build(meeting_key("m"), false, true);
        assert_eq!((m.start, m.end, m.all_day), (10, 20, true));
        let y = Party::Account(0, person_id("y@acme.com"));
        assert_eq!(
            m.participants(),
            vec![y],
            "x declined in one entry, the room a resource"
        );
        assert_eq!(m.attendees.len(), 3);
    }

    #[test]
    fn jsonl_and_graph_attendee_types() {
        assert_eq!(attendee_type_is_resource(None), Some(false));
        assert_eq!(attendee_type_is_resource(Some("optional")), Some(false));
        assert_eq!(attendee_type_is_resource(Some("resource")), Some(true));
        assert_eq!(attendee_type_is_resource(Some("room")), None);
    }
}
