//! Rejected input records (ENGAGEMENT.md §6): why, and where, never what.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a record was rejected. The names are stable: they key the counts in
/// `run_report.json` and appear in `rejects.jsonl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not valid JSON (or not valid syntax for the format).
    InvalidSyntax,
    /// A JSON value that is not an object.
    NotAnObject,
    /// `type` missing or not `email` / `meeting`.
    UnknownType,
    /// Email without a non-empty string `message_id`.
    MissingMessageId,
    /// `sent_at` missing or not RFC 3339 with an offset.
    InvalidSentAt,
    /// `from` missing or not a valid address.
    InvalidSender,
    /// `to`, `cc` or `bcc` not a list of strings.
    RecipientsNotAList,
    /// Meeting without a non-empty string `uid`.
    MissingUid,
    /// `start` missing or unreadable.
    InvalidStart,
    /// `end` missing or unreadable.
    InvalidEnd,
    /// `end` not after `start`.
    EndNotAfterStart,
    /// `organizer` missing or not a valid address.
    InvalidOrganizer,
    /// `attendees` not a list of objects, or an attendee field of the wrong kind.
    InvalidAttendees,
    /// Another field with a value of the wrong kind (`cancelled`, ...).
    InvalidField,
    /// An iCalendar recurrence (`RRULE`, `RDATE`, `EXDATE`) that cannot be
    /// expanded.
    InvalidRecurrence,
    /// A file read whole (`.eml`, `.ics`, a Graph list response) larger
    /// than [`crate::plan::MAX_WHOLE_FILE_BYTES`]: rejected unread, as one
    /// record, so a worker's memory stays bounded.
    FileTooLarge,
}

impl RejectReason {
    /// The stable snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            RejectReason::InvalidSyntax => "invalid_syntax",
            RejectReason::NotAnObject => "not_an_object",
            RejectReason::UnknownType => "unknown_type",
            RejectReason::MissingMessageId => "missing_message_id",
            RejectReason::InvalidSentAt => "invalid_sent_at",
            RejectReason::InvalidSender => "invalid_sender",
            RejectReason::RecipientsNotAList => "recipients_not_a_list",
            RejectReason::MissingUid => "missing_uid",
            RejectReason::InvalidStart => "invalid_start",
            RejectReason::InvalidEnd => "invalid_end",
            RejectReason::EndNotAfterStart => "end_not_after_start",
            RejectReason::InvalidOrganizer => "invalid_organizer",
            RejectReason::InvalidAttendees => "invalid_attendees",
            RejectReason::InvalidField => "invalid_field",
            RejectReason::InvalidRecurrence => "invalid_recurrence",
            RejectReason::FileTooLarge => "file_too_large",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parse failure: the reason and the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Why.
    pub reason: RejectReason,
    /// The field at fault (`sent_at`, `attendees[2].status`, ...), or empty.
    pub field: String,
}

impl Rejection {
    /// A rejection naming `field`.
    pub fn new(reason: RejectReason, field: impl Into<String>) -> Rejection {
        Rejection {
            reason,
            field: field.into(),
        }
    }
}

/// One line of `rejects.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RejectLine {
    /// Source file, as named in the plan (relative to the tenant folder).
    pub file: String,
    /// Byte offset of the record in that file.
    pub offset: u64,
    /// Why.
    pub reason: RejectReason,
    /// The field at fault, or empty.
    pub field: String,
}
