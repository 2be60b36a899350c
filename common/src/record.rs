//! Staged records: what ingest keeps of an email or meeting after parsing,
//! dropping content fields and resolving addresses. No address, subject or
//! body survives into this form; duplicates meet by `key`.
//!
//! Message ids and uids are kept as 128-bit hashes (xxh3-128): two distinct
//! ids among 10^9 share one with probability about 10^-21, and the hash is
//! smaller, faster to compare and holds no text of the original.

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128_with_seed;

use crate::directory::Party;

/// An email copy, reduced to what the rules need.
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

/// A meeting occurrence copy, reduced to what the rules need.
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
    /// Distinct mapped participants (not declined, not resources), sorted.
    pub attendees: Vec<Party>,
    /// Cancelled or all-day: deduplicated, then ignored.
    pub ignored: bool,
}

/// One staged record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StagedRecord {
    /// An email copy.
    Email(StagedEmail),
    /// A meeting occurrence copy.
    Meeting(StagedMeeting),
}

/// A message id or uid, hashed.
pub type RecordKey = u128;

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
    /// The dedupe key with its kind.
    pub fn key(&self) -> (u8, RecordKey) {
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

/// Appends one record's postcard encoding to a staged blob. A blob is the
/// records' encodings back to back: ingest writes it without holding the
/// records, aggregate reads it back with [`decode_staged`].
pub fn encode_staged(record: &StagedRecord, blob: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = postcard::to_io(record, &mut *blob);
}

/// Reads every record of a staged blob.
pub fn decode_staged(mut blob: &[u8], into: &mut Vec<StagedRecord>) -> Result<(), postcard::Error> {
    while !blob.is_empty() {
        let (record, rest) = postcard::take_from_bytes::<StagedRecord>(blob)?;
        into.push(record);
        blob = rest;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_blobs_round_trip() {
        let records = vec![
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
                attendees: vec![],
                ignored: true,
            }),
        ];
        let mut blob = Vec::new();
        records.iter().for_each(|r| encode_staged(r, &mut blob));
        let mut back = Vec::new();
        decode_staged(&blob, &mut back).expect("decodes");
        assert_eq!(back, records);
        assert!(decode_staged(&blob[..blob.len() - 1], &mut Vec::new()).is_err());
    }
}
