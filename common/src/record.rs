//! Staged records: what ingest keeps of an email or meeting copy after
//! parsing, dropping content fields and resolving addresses. No address,
//! subject or body survives into this form; the copies of one record meet
//! by `key` and are merged ([`crate::merge`]). A parser also hands over the
//! text that breaks ties between copies ([`TieText`]), which only a re-read
//! keeps; each staged copy names the record it came from ([`SourceRef`]).
//!
//! Message ids and uids are kept as 128-bit hashes (xxh3-128): two distinct
//! ids among 10^9 share one with probability about 10^-21, and the hash is
//! smaller, faster to compare and holds no text of the original.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128_with_seed;

use crate::directory::Party;

/// An email copy, reduced to what the rules and the merge need.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StagedEmail {
    /// Hash of the trimmed `message_id` ([`email_key`]).
    pub key: RecordKey,
    /// `sent_at`, whole seconds since the epoch.
    pub sent_at: i64,
    /// The sender.
    pub sender: Party,
    /// Distinct mapped recipients (to ∪ cc ∪ bcc), sorted; unmapped ones dropped.
    pub recipients: Vec<Party>,
    /// [`email_key`] of the trimmed `in_reply_to`, if any.
    pub in_reply_to: Option<RecordKey>,
}

/// A meeting occurrence copy, reduced to what the rules and the merge need.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StagedMeeting {
    /// Hash of the trimmed `uid` ([`meeting_key`]).
    pub key: RecordKey,
    /// Start, whole seconds since the epoch.
    pub start: i64,
    /// End, whole seconds since the epoch (always after `start`).
    pub end: i64,
    /// The organizer.
    pub organizer: Party,
    /// Distinct mapped attendees, sorted by party ([`tidy_attendees`]);
    /// declined ones and resources are kept, marked, because another copy
    /// may list the same person without the mark.
    pub attendees: Vec<Attendee>,
    /// `cancelled` (any copy cancelled cancels the meeting).
    pub cancelled: bool,
    /// `all_day` (taken from the copy that wins, like the start).
    pub all_day: bool,
}

/// One attendee of a meeting copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Attendee {
    /// Who.
    pub party: Party,
    /// Declined, or a resource, in some entry: not a participant. The
    /// strongest response wins and `declined` is the strongest, so one
    /// flag, or-ed over entries and copies, is the whole rule.
    pub excluded: bool,
}

impl StagedMeeting {
    /// The participants besides the organizer: attendees not excluded.
    pub fn participants(&self) -> Vec<Party> {
        self.attendees
            .iter()
            .filter(|a| !a.excluded)
            .map(|a| a.party)
            .collect()
    }

    /// Cancelled and all-day meetings are kept through the merge, then ignored.
    pub fn is_ignored(&self) -> bool {
        self.cancelled || self.all_day
    }
}

/// One staged record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StagedRecord {
    /// An email copy.
    Email(StagedEmail),
    /// A meeting occurrence copy.
    Meeting(StagedMeeting),
}

/// Where a staged copy was read: which shard of the plan, and the file
/// offset of the record (line, message or whole file) that holds it. Copies
/// that tie on everything but their text are told apart by reading that
/// record again ([`crate::merge`]); staging itself never holds the text.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SourceRef {
    /// The shard.
    pub shard: ShardId,
    /// File offset of the record, as [`crate::ingest::records`] found it.
    pub record: u64,
}

/// A shard of a run's plan: its ingest job (shard group) and its place there.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct ShardId {
    /// Index of the shard group (the ingest job).
    pub group: u32,
    /// Index of the shard within its group.
    pub index: u32,
}

/// A staged record and where it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedCopy {
    /// Where.
    pub source: SourceRef,
    /// What.
    pub record: StagedRecord,
}

/// A copy as a parser read it: its staged form, and the text section 2
/// breaks ties with, borrowed from the input where it can be. The ingest
/// sink stages the record and drops the text; only a re-read of a tie
/// ([`crate::merge`]) keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCopy<'a> {
    /// The staged form.
    pub record: StagedRecord,
    /// The tie-breaking text.
    pub tie: TieText<'a>,
}

/// The raw text of the fields that break ties between copies of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TieText<'a> {
    /// An email's sender and `in_reply_to`, as written.
    Email {
        /// The sender address, not yet normalised.
        from: Cow<'a, str>,
        /// The `in_reply_to` id, not yet trimmed.
        in_reply_to: Option<Cow<'a, str>>,
    },
    /// A meeting's organizer address, not yet normalised.
    Meeting {
        /// The organizer.
        organizer: Cow<'a, str>,
    },
}

impl<'a> ParsedCopy<'a> {
    /// An email copy and its text.
    pub fn email(
        record: StagedEmail,
        from: impl Into<Cow<'a, str>>,
        in_reply_to: Option<Cow<'a, str>>,
    ) -> ParsedCopy<'a> {
        ParsedCopy {
            record: StagedRecord::Email(record),
            tie: TieText::Email {
                from: from.into(),
                in_reply_to,
            },
        }
    }

    /// A meeting copy and its organizer's address.
    pub fn meeting(record: StagedMeeting, organizer: impl Into<Cow<'a, str>>) -> ParsedCopy<'a> {
        ParsedCopy {
            record: StagedRecord::Meeting(record),
            tie: TieText::Meeting {
                organizer: organizer.into(),
            },
        }
    }
}

/// The tie-breaking text of a copy, normalised as section 2 compares it:
/// `first` is the normalised sender or organizer, `second` the trimmed
/// `in_reply_to` (empty when there is none, so it sorts first).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct TieStrings {
    /// Normalised sender or organizer.
    pub first: String,
    /// Trimmed `in_reply_to`, or empty.
    pub second: String,
}

impl TieText<'_> {
    /// The text as section 2 compares it.
    pub fn normalised(&self) -> TieStrings {
        let address = |a: &str| crate::address::normalise(a).unwrap_or_default();
        match self {
            TieText::Email { from, in_reply_to } => TieStrings {
                first: address(from),
                second: in_reply_to
                    .as_deref()
                    .map(|r| r.trim().to_owned())
                    .unwrap_or_default(),
            },
            TieText::Meeting { organizer } => TieStrings {
                first: address(organizer),
                second: String::new(),
            },
        }
    }
}

/// A message id or uid, hashed.
pub type RecordKey = u128;

/// A record's identity: kind (0 email, 1 meeting) and hashed id; every
/// copy of the record has it.
pub type CopyKey = (u8, RecordKey);

const EMAIL_SEED: u64 = 0x0e3a11;
const MEETING_SEED: u64 = 0x3ee71;

/// Key of an email's trimmed message id (also of an `in_reply_to`).
pub fn email_key(message_id: &str) -> RecordKey {
    xxh3_128_with_seed(message_id.trim().as_bytes(), EMAIL_SEED)
}

/// Key of a meeting occurrence's trimmed uid; another space than emails'.
pub fn meeting_key(uid: &str) -> RecordKey {
    xxh3_128_with_seed(uid.trim().as_bytes(), MEETING_SEED)
}

/// The 64 bits of a key that choose its key partition: an email, every copy
/// of it and every reply probe pointing at it land in the same one.
pub fn partition_bits(key: RecordKey) -> u64 {
    key as u64
}

impl StagedRecord {
    /// The record key (message id or uid, hashed) with its kind: copies share it.
    pub fn key(&self) -> CopyKey {
        match self {
            StagedRecord::Email(e) => (0, e.key),
            StagedRecord::Meeting(m) => (1, m.key),
        }
    }

    /// Bits choosing the key partition.
    pub fn partition_bits(&self) -> u64 {
        partition_bits(self.key().1)
    }
}

/// Sorts and dedupes a participant list, dropping unmapped addresses.
pub fn tidy_parties(parties: &mut Vec<Party>) {
    parties.retain(|p| *p != Party::Unmapped);
    parties.sort_unstable();
    parties.dedup();
}

/// Sorts an attendee list by party and leaves one entry per party, excluded
/// when any of its entries is; drops unmapped addresses (they take part in
/// no figure).
pub fn tidy_attendees(attendees: &mut Vec<Attendee>) {
    attendees.retain(|a| a.party != Party::Unmapped);
    attendees.sort_unstable();
    // Sorted by (party, excluded): the last entry of a party carries the or.
    attendees.dedup_by(|later, earlier| {
        let same = later.party == earlier.party;
        if same {
            earlier.excluded |= later.excluded;
        }
        same
    });
}

/// Appends one copy's postcard encoding to a staged blob. A blob is the
/// copies' encodings back to back: ingest writes it without holding the
/// copies, aggregate reads it back with [`decode_staged`].
pub fn encode_staged(copy: &StagedCopy, blob: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = postcard::to_io(copy, &mut *blob);
}

/// A little under the encoded size of a typical staged copy (75 bytes on
/// average in the 1.5 M benchmark tenant): a job about to decode `n` bytes
/// reserves room for `n / STAGED_COPY_BYTES` copies at once rather than
/// doubling (and copying) its vector as it goes.
pub const STAGED_COPY_BYTES: usize = 64;

/// Reads every copy of a staged blob.
pub fn decode_staged(mut blob: &[u8], into: &mut Vec<StagedCopy>) -> Result<(), postcard::Error> {
    while !blob.is_empty() {
        let (copy, rest) = postcard::take_from_bytes::<StagedCopy>(blob)?;
        into.push(copy);
        blob = rest;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_blobs_round_trip() {
        let records = [
            StagedRecord::Email(StagedEmail {
                key: email_key("<a>"),
                sent_at: -5,
                sender: Party::Org(1),
                recipients: vec![Party::Account(3, 9)],
                in_reply_to: Some(email_key("<b>")),
            }),
            StagedRecord::Meeting(StagedMeeting {
                key: meeting_key("u"),
                start: 10,
                end: 70,
                organizer: Party::Unmapped,
                attendees: vec![Attendee {
                    party: Party::Org(4),
                    excluded: true,
                }],
                cancelled: true,
                all_day: false,
            }),
        ];
        let copies: Vec<StagedCopy> = records
            .into_iter()
            .enumerate()
            .map(|(i, record)| StagedCopy {
                source: SourceRef {
                    shard: ShardId { group: 3, index: 1 },
                    record: 1000 * i as u64,
                },
                record,
            })
            .collect();
        let mut blob = Vec::new();
        copies.iter().for_each(|c| encode_staged(c, &mut blob));
        let mut back = Vec::new();
        decode_staged(&blob, &mut back).expect("decodes");
        assert_eq!(back, copies);
        assert!(decode_staged(&blob[..blob.len() - 1], &mut Vec::new()).is_err());
    }

    #[test]
    fn an_attendee_listed_twice_is_excluded_when_any_entry_excludes_it() {
        let entry = |party, excluded| Attendee { party, excluded };
        let mut list = vec![
            entry(Party::Org(2), false),
            entry(Party::Unmapped, false),
            entry(Party::Account(0, 9), true),
            entry(Party::Org(2), true),
            entry(Party::Account(0, 9), false),
            entry(Party::Org(1), false),
        ];
        tidy_attendees(&mut list);
        assert_eq!(
            list,
            [
                entry(Party::Org(1), false),
                entry(Party::Org(2), true),
                entry(Party::Account(0, 9), true)
            ]
        );
    }

    #[test]
    fn tie_text_is_compared_normalised_and_trimmed() {
        let tie = TieText::Email {
            from: " <Anna@Contoso.COM> ".into(),
            in_reply_to: Some(" <m0@x> ".into()),
        };
        assert_eq!(
            tie.normalised(),
            TieStrings {
                first: "anna@contoso.com".to_owned(),
                second: "<m0@x>".to_owned()
            }
        );
        let none = TieText::Email {
            from: "a@b".into(),
            in_reply_to: None,
        };
        assert_eq!(none.normalised().second, "");
    }
}
