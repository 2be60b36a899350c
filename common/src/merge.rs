//! Copies of one record merged into one (ENGAGEMENT.md §2 "Duplicates").
//!
//! Every copy of an email or meeting occurrence meets its others in one key
//! partition. There they become one record: recipients and attendees unite,
//! `cancelled` is or-ed, attendees keep their strongest response, and the
//! rest (time, sender or organizer, `in_reply_to`, all-day) comes from the
//! copy that sorts first by §2's keys. The merge is commutative, so no file
//! order, shard cut, partitioning or job order changes its result.
//!
//! Staging holds no text, so the first copy is found from what it does
//! hold: the earliest `sent_at` (or start, then end). Copies that tie there
//! and still differ in what the winner decides are a [`Conflict`]: §2 breaks
//! the tie on the normalised sender (organizer) and `in_reply_to` text,
//! which the worker reads again from the records named by the copies'
//! [`SourceRef`]s and hands to [`choose`]. Real mailboxes agree on those
//! fields, so conflicts are rare and cost a read of a few records.

use rustc_hash::FxHashMap;

use crate::directory::Party;
use crate::record::{
    tidy_attendees, CopyKey, RecordKey, SourceRef, StagedCopy, StagedEmail, StagedMeeting,
    StagedRecord, TieStrings,
};

/// Copies of one record that tie on time and differ in what the first copy
/// decides: only their text can say which comes first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The record.
    pub key: CopyKey,
    /// The tied copies, sorted.
    pub candidates: Vec<StagedRecord>,
    /// Where they were read, distinct and sorted.
    pub sources: Vec<SourceRef>,
}

/// The first copy of each conflict, chosen by [`choose`] from re-read text.
pub type Winners = FxHashMap<CopyKey, StagedRecord>;

/// Why copies could not be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// A conflict reached the merge without its winner (a bug upstream).
    #[error("copies of a record tie on their time and no re-read text decided between them")]
    Unresolved,
    /// The records a conflict's copies came from no longer hold them.
    #[error("an input changed during the run: reading a record again did not give the copies staged from it")]
    SourceChanged,
}

/// What merging a key partition's copies gave.
#[derive(Debug, Default)]
pub struct Merged {
    /// One record per key, sorted by key.
    pub records: Vec<StagedRecord>,
    /// Copies merged into another (copies less records).
    pub duplicates: u64,
}

/// The time the first copy is looked for by: `sent_at`, or start then end.
fn time_of(record: &StagedRecord) -> (i64, i64) {
    match record {
        StagedRecord::Email(e) => (e.sent_at, 0),
        StagedRecord::Meeting(m) => (m.start, m.end),
    }
}

/// What the first copy decides besides its time. Copies of one record
/// that agree on it give the same merged record whichever comes first.
fn decided(record: &StagedRecord) -> (Party, Option<RecordKey>, bool) {
    match record {
        StagedRecord::Email(e) => (e.sender, e.in_reply_to, false),
        StagedRecord::Meeting(m) => (m.organizer, None, m.all_day),
    }
}

/// The copies of one record that sort first on time, and whether they
/// agree on what the first copy decides (then any of them is the first).
fn tied_first<T>(group: &[T], record: impl Fn(&T) -> &StagedRecord) -> (Vec<&T>, bool) {
    let first = group.iter().map(|c| time_of(record(c))).min();
    let tied: Vec<&T> = group
        .iter()
        .filter(|c| Some(time_of(record(c))) == first)
        .collect();
    let agree = tied
        .windows(2)
        .all(|w| decided(record(w[0])) == decided(record(w[1])));
    (tied, agree)
}

/// Sorts copies by key, so that each record's copies are adjacent.
pub fn sort_copies(copies: &mut [StagedCopy]) {
    copies.sort_unstable_by_key(|c| c.record.key());
}

/// Runs of copies with the same key (copies sorted by [`sort_copies`]).
fn groups(copies: &[StagedCopy]) -> impl Iterator<Item = &[StagedCopy]> {
    copies.chunk_by(|a, b| a.record.key() == b.record.key())
}

/// The conflicts among copies sorted by [`sort_copies`].
pub fn conflicts(copies: &[StagedCopy]) -> Vec<Conflict> {
    let mut found = Vec::new();
    for group in groups(copies).filter(|g| g.len() > 1) {
        let (tied, agree) = tied_first(group, |c| &c.record);
        if agree {
            continue;
        }
        let mut candidates: Vec<StagedRecord> = tied.iter().map(|c| c.record.clone()).collect();
        candidates.sort_unstable();
        let mut sources: Vec<SourceRef> = tied.iter().map(|c| c.source).collect();
        sources.sort_unstable();
        sources.dedup();
        found.push(Conflict {
            key: group[0].record.key(),
            candidates,
            sources,
        });
    }
    found
}

/// Chooses a conflict's first copy from the copies its sources hold when
/// read again, each with its text: the least by normalised sender
/// (organizer), then `in_reply_to` (§2), then not all-day before all-day
/// (§2 leaves a meeting tied on start, end and organizer open; the least
/// flag keeps the choice independent of order). The re-read copies tied on
/// time must be exactly the staged candidates, or the input changed.
pub fn choose(
    conflict: &Conflict,
    reread: &[(StagedRecord, TieStrings)],
) -> Result<StagedRecord, MergeError> {
    let first = conflict
        .candidates
        .iter()
        .map(time_of)
        .min()
        .ok_or(MergeError::Unresolved)?;
    let tied: Vec<&(StagedRecord, TieStrings)> = reread
        .iter()
        .filter(|(r, _)| r.key() == conflict.key && time_of(r) == first)
        .collect();
    let mut again: Vec<&StagedRecord> = tied.iter().map(|(r, _)| r).collect();
    again.sort_unstable();
    if !again.iter().copied().eq(conflict.candidates.iter()) {
        return Err(MergeError::SourceChanged);
    }
    tied.into_iter()
        .min_by(|(a, ta), (b, tb)| ta.cmp(tb).then(decided(a).2.cmp(&decided(b).2)))
        .map(|(r, _)| r.clone())
        .ok_or(MergeError::SourceChanged)
}

/// Merges copies sorted by [`sort_copies`] into one record per key; a
/// conflict's first copy comes from `winners`.
pub fn merge(copies: Vec<StagedCopy>, winners: &Winners) -> Result<Merged, MergeError> {
    let mut merged = Merged {
        records: Vec::with_capacity(copies.len()),
        duplicates: 0,
    };
    let mut copies = copies.into_iter().map(|c| c.record).peekable();
    let mut group: Vec<StagedRecord> = Vec::new();
    while let Some(first) = copies.next() {
        let key = first.key();
        group.push(first);
        while let Some(next) = copies.next_if(|r| r.key() == key) {
            group.push(next);
        }
        merged.duplicates += group.len() as u64 - 1;
        merged.records.push(merge_group(&mut group, winners)?);
        group.clear();
    }
    Ok(merged)
}

/// One record from its copies (at least one).
fn merge_group(
    group: &mut Vec<StagedRecord>,
    winners: &Winners,
) -> Result<StagedRecord, MergeError> {
    if group.len() == 1 {
        return group.pop().ok_or(MergeError::Unresolved);
    }
    let (tied, agree) = tied_first(group, |r| r);
    let winner = if agree {
        tied[0]
    } else {
        winners.get(&tied[0].key()).ok_or(MergeError::Unresolved)?
    };
    Ok(match winner {
        StagedRecord::Email(w) => StagedRecord::Email(merge_emails(w, group)),
        StagedRecord::Meeting(w) => StagedRecord::Meeting(merge_meetings(w, group)),
    })
}

/// The first copy's fields; recipients of every copy.
fn merge_emails(first: &StagedEmail, group: &[StagedRecord]) -> StagedEmail {
    let mut recipients: Vec<Party> = group
        .iter()
        .filter_map(|r| match r {
            StagedRecord::Email(e) => Some(e.recipients.iter().copied()),
            StagedRecord::Meeting(_) => None,
        })
        .flatten()
        .collect();
    recipients.sort_unstable();
    recipients.dedup();
    StagedEmail {
        key: first.key,
        sent_at: first.sent_at,
        sender: first.sender,
        recipients,
        in_reply_to: first.in_reply_to,
    }
}

/// The first copy's fields; cancelled if any copy is; attendees of every
/// copy, each excluded if any entry excludes it.
fn merge_meetings(first: &StagedMeeting, group: &[StagedRecord]) -> StagedMeeting {
    let meetings = || {
        group.iter().filter_map(|r| match r {
            StagedRecord::Meeting(m) => Some(m),
            StagedRecord::Email(_) => None,
        })
    };
    let mut attendees: Vec<_> = meetings()
        .flat_map(|m| m.attendees.iter().copied())
        .collect();
    tidy_attendees(&mut attendees);
    StagedMeeting {
        key: first.key,
        start: first.start,
        end: first.end,
        organizer: first.organizer,
        attendees,
        cancelled: meetings().any(|m| m.cancelled),
        all_day: first.all_day,
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
