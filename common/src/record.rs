//! Staged records: what ingest keeps of an email or meeting after parsing,
//! dropping content fields and resolving addresses. No address, subject or
//! body survives into this form; duplicates meet by `key`.

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::directory::Party;

/// An email copy, reduced to what the rules need.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StagedEmail {
    /// Trimmed `message_id`.
    pub key: String,
    /// `sent_at`, whole seconds since the epoch.
    pub sent_at: i64,
    /// The sender.
    pub sender: Party,
    /// Distinct mapped recipients (to ∪ cc ∪ bcc), sorted; unmapped ones dropped.
    pub recipients: Vec<Party>,
    /// Trimmed `in_reply_to`, if any.
    pub in_reply_to: Option<String>,
}

/// A meeting occurrence copy, reduced to what the rules need.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StagedMeeting {
    /// Trimmed `uid`.
    pub key: String,
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

const EMAIL_SEED: u64 = 0x0e3a11;
const MEETING_SEED: u64 = 0x3ee71;

/// Hash of an email's message id: decides its key partition, where all its
/// copies, and every reply probe pointing at it, meet.
pub fn email_key_hash(key: &str) -> u64 {
    xxh3_64_with_seed(key.as_bytes(), EMAIL_SEED)
}

impl StagedRecord {
    /// Hash of the dedupe key; the kind is part of it (ids of emails and
    /// meetings are separate name spaces).
    pub fn key_hash(&self) -> u64 {
        match self {
            StagedRecord::Email(e) => email_key_hash(&e.key),
            StagedRecord::Meeting(m) => xxh3_64_with_seed(m.key.as_bytes(), MEETING_SEED),
        }
    }

    /// The dedupe key with its kind.
    pub fn key(&self) -> (u8, &str) {
        match self {
            StagedRecord::Email(e) => (0, &e.key),
            StagedRecord::Meeting(m) => (1, &m.key),
        }
    }
}

/// Sorts and dedupes a participant list, dropping unmapped addresses.
pub fn tidy_parties(parties: &mut Vec<Party>) {
    parties.retain(|p| *p != Party::Unmapped);
    parties.sort_unstable();
    parties.dedup();
}
