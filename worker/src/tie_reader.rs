//! Reads again the records that copies in conflict were staged from
//! (`rapport_common::merge`): staging holds no text, and §2 breaks a tie
//! between copies on their sender's (organizer's) and `in_reply_to` text.
//! Each copy names its shard and the file offset of its record, so only
//! those records are read: a line, an mbox message, or a whole-file record
//! (`.eml`, `.ics`, Graph list response). Real mailboxes' copies agree on
//! those fields, so a run seldom comes here.
//!
//! The records must give back exactly the copies staged from them; if they
//! do not, or cannot be read, the input changed under the run, and the job
//! fails naming the file (never its content).

use std::collections::BTreeMap;

use rapport_common::merge::{choose, Conflict, Winners};
use rapport_common::plan::{RunContext, Shard, Split};
use rapport_common::record::{CopyKey, SourceRef, StagedRecord, TieStrings};
use rapport_formats::{capture_shard, FormatContext};
use rustc_hash::{FxHashMap, FxHashSet};

use rapport_backend::DataRoots;

use crate::jobs::JobError;
use crate::shard_reader::for_each_piece;

/// Bytes read at a time when reading one record again.
const RECORD_PIECE_BYTES: usize = 64 * 1024;

/// The first copy of each conflict, read from its records' text.
pub fn read_winners(
    roots: &DataRoots,
    ctx: &RunContext,
    conflicts: &[Conflict],
) -> Result<Winners, JobError> {
    let mut wanted: BTreeMap<SourceRef, FxHashSet<CopyKey>> = BTreeMap::new();
    for conflict in conflicts {
        for source in &conflict.sources {
            wanted.entry(*source).or_default().insert(conflict.key);
        }
    }
    let format_ctx = FormatContext::of(ctx);
    let mut reread: FxHashMap<CopyKey, Vec<(StagedRecord, TieStrings)>> = FxHashMap::default();
    for (source, keys) in wanted {
        let shard = shard_of(ctx, source)?;
        let record = record_range(shard, source);
        for_each_piece(roots, &record, source.shard, RECORD_PIECE_BYTES, |bytes| {
            for (copy, text) in capture_shard(bytes, shard.format, &format_ctx, &keys) {
                reread.entry(copy.key()).or_default().push((copy, text));
            }
        })
        .map_err(|e| {
            JobError::Permanent(format!(
                "cannot read input {} again at byte {}: {e}",
                shard.file, source.record
            ))
        })?;
    }
    let mut winners = Winners::default();
    for conflict in conflicts {
        let found = reread.get(&conflict.key).map_or(&[][..], Vec::as_slice);
        let winner = choose(conflict, found).map_err(|e| {
            let places: Vec<String> = conflict
                .sources
                .iter()
                .map(|s| {
                    let file = shard_of(ctx, *s).map_or("?", |shard| shard.file.as_str());
                    format!("{file} at byte {}", s.record)
                })
                .collect();
            JobError::Permanent(format!("{e} ({})", places.join(", ")))
        })?;
        winners.insert(conflict.key, winner);
    }
    Ok(winners)
}

fn shard_of(ctx: &RunContext, source: SourceRef) -> Result<&Shard, JobError> {
    ctx.shard_groups
        .get(source.shard.group as usize)
        .and_then(|g| g.get(source.shard.index as usize))
        .ok_or_else(|| {
            JobError::Permanent(format!(
                "a staged copy names shard {}/{}, which the plan does not hold",
                source.shard.group, source.shard.index
            ))
        })
}

/// The byte range that holds just the record: one line or message of a
/// cut file (a range of one byte at its start: the record belongs there),
/// or the whole shard of a file read whole.
fn record_range(shard: &Shard, source: SourceRef) -> Shard {
    match shard.split {
        Split::Whole => shard.clone(),
        Split::Lines | Split::Messages => Shard {
            start: source.record,
            end: source.record + 1,
            ..shard.clone()
        },
    }
}
