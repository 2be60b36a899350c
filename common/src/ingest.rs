//! The ingest step of one shard, format-independent: cut its bytes into
//! records at the format's record boundaries ([`Split`]), and collect what
//! a parser makes of them ([`IngestSink`]): staged copies routed to key
//! partitions, each with the record it came from, and rejects with their
//! file and byte offset. The same sink, capturing, reads a tie's copies
//! again with their text ([`crate::merge`]).

use rustc_hash::FxHashSet;

use crate::counters::RunCounters;
use crate::plan::{key_partition, Split};
use crate::record::{
    encode_staged, CopyKey, ParsedCopy, ShardId, SourceRef, StagedCopy, StagedRecord, TieStrings,
};
use crate::reject::{RejectLine, Rejection};

/// What one shard produced.
#[derive(Debug, Default)]
pub struct IngestOutput {
    /// Staged blobs ([`encode_staged`]), by key partition.
    pub partitions: Vec<Vec<u8>>,
    /// Records staged.
    pub staged: u64,
    /// Rejected records.
    pub rejects: Vec<RejectLine>,
    /// Records read and rejected.
    pub counters: RunCounters,
}

/// The bytes of a shard as a worker reads them: from `start - 1` (or 0),
/// through the end of the last record starting before `end`.
pub struct ShardBytes<'a> {
    /// The file as reported.
    pub file: &'a str,
    /// The shard of the plan these bytes belong to.
    pub shard: ShardId,
    /// File offset of `bytes[0]`.
    pub offset: u64,
    /// True when `bytes[0]` is the byte before the shard (`start > 0`): a
    /// record it belongs to began in the previous shard.
    pub skip_first_line: bool,
    /// The bytes.
    pub bytes: &'a [u8],
    /// Shard end: records starting at or after it belong to the next shard.
    pub end: u64,
    /// Where records begin.
    pub split: Split,
}

impl<'a> ShardBytes<'a> {
    /// All of a file's bytes as one shard, read at once (tools and tests).
    pub fn whole_file(file: &'a str, bytes: &'a [u8], split: Split) -> ShardBytes<'a> {
        ShardBytes::part_of(file, bytes, 0, bytes.len() as u64, split)
    }

    /// The shard `[start, end)` of a file whose bytes are all at hand, as
    /// a worker reads it (tools and tests).
    pub fn part_of(
        file: &'a str,
        bytes: &'a [u8],
        start: u64,
        end: u64,
        split: Split,
    ) -> ShardBytes<'a> {
        let from = start.saturating_sub(1);
        ShardBytes {
            file,
            shard: ShardId::default(),
            offset: from,
            skip_first_line: start > 0,
            bytes: &bytes[(from as usize).min(bytes.len())..],
            end,
            split,
        }
    }
}

/// One record of a shard: its file offset and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// File offset of `bytes[0]`.
    pub offset: u64,
    /// The record (a line without its newline, a whole mbox message, or
    /// the whole file).
    pub bytes: &'a [u8],
}

/// The records of a shard that belong to it, in order; blank lines are
/// skipped.
pub fn records<'a>(shard: &ShardBytes<'a>) -> Vec<RawRecord<'a>> {
    let bytes = shard.bytes;
    let mut out = Vec::new();
    if shard.split == Split::Whole {
        if !bytes.iter().all(u8::is_ascii_whitespace) {
            out.push(RawRecord {
                offset: shard.offset,
                bytes,
            });
        }
        return out;
    }
    let is_start = |pos: usize| match shard.split {
        Split::Messages => bytes[pos..].starts_with(b"From "),
        _ => true,
    };
    // The first record starts at a line start at or after the shard start.
    let mut pos = 0;
    if shard.skip_first_line {
        pos = next_line(bytes, 0);
        while pos < bytes.len() && !is_start(pos) {
            pos = next_line(bytes, pos);
        }
    }
    let from_lines = memchr::memmem::Finder::new(b"\nFrom ");
    while pos < bytes.len() && shard.offset + (pos as u64) < shard.end {
        let end = match shard.split {
            Split::Messages => from_lines
                .find(&bytes[pos..])
                .map_or(bytes.len(), |i| pos + i + 1),
            _ => next_line(bytes, pos),
        };
        let record = &bytes[pos..end];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if !record.iter().all(u8::is_ascii_whitespace) {
            out.push(RawRecord {
                offset: shard.offset + pos as u64,
                bytes: record,
            });
        }
        pos = end;
    }
    out
}

/// Index just past the newline ending the line at `pos` (or the length).
fn next_line(bytes: &[u8], pos: usize) -> usize {
    memchr_newline(&bytes[pos..]).map_or(bytes.len(), |i| pos + i + 1)
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', bytes)
}

/// Collects a shard's parsed records: stages them into key partitions and
/// counts and lists rejects; or, capturing, keeps the wanted copies with
/// their text and stages nothing.
pub struct IngestSink<'a> {
    file: &'a str,
    shard: ShardId,
    key_partitions: u32,
    /// File offset of the record being read: the source of what it stages.
    record: u64,
    capture: Option<Capture<'a>>,
    out: IngestOutput,
}

/// The copies of some records, read again with their text.
struct Capture<'a> {
    wanted: &'a FxHashSet<CopyKey>,
    found: Vec<(StagedRecord, TieStrings)>,
}

impl<'a> IngestSink<'a> {
    /// An empty sink for the records of `shard`.
    pub fn new(shard: &ShardBytes<'a>, key_partitions: u32) -> IngestSink<'a> {
        // Staged records take about 0.4 of their input's bytes (jsonl):
        // reserved once, the buffers are not copied as they grow.
        let input = (shard.end.saturating_sub(shard.offset) as usize).min(shard.bytes.len());
        IngestSink::reserving(shard, key_partitions, input / 5 * 2)
    }

    fn reserving(shard: &ShardBytes<'a>, key_partitions: u32, bytes: usize) -> IngestSink<'a> {
        let parts = key_partitions.max(1) as usize;
        let reserve = bytes / parts;
        IngestSink {
            file: shard.file,
            shard: shard.shard,
            key_partitions,
            record: shard.offset,
            capture: None,
            out: IngestOutput {
                partitions: (0..parts).map(|_| Vec::with_capacity(reserve)).collect(),
                ..IngestOutput::default()
            },
        }
    }

    /// A sink that stages nothing and keeps the copies with a key in
    /// `wanted`, with their text.
    pub fn capturing(shard: &ShardBytes<'a>, wanted: &'a FxHashSet<CopyKey>) -> IngestSink<'a> {
        IngestSink {
            capture: Some(Capture {
                wanted,
                found: Vec::new(),
            }),
            ..IngestSink::reserving(shard, 1, 0)
        }
    }

    /// Says which record the next copies come from (its file offset, as
    /// [`records`] gives it).
    pub fn begin_record(&mut self, offset: u64) {
        self.record = offset;
    }

    /// Stages one copy read from the current record.
    pub fn stage(&mut self, parsed: ParsedCopy) {
        self.out.counters.records += 1;
        if let Some(capture) = &mut self.capture {
            if capture.wanted.contains(&parsed.record.key()) {
                capture.found.push((parsed.record, parsed.tie.normalised()));
            }
            return;
        }
        let copy = StagedCopy {
            source: SourceRef {
                shard: self.shard,
                record: self.record,
            },
            record: parsed.record,
        };
        let p = key_partition(copy.record.partition_bits(), self.key_partitions.max(1)) as usize;
        encode_staged(&copy, &mut self.out.partitions[p]);
        self.out.staged += 1;
    }

    /// Rejects one record read at `offset`.
    pub fn reject(&mut self, offset: u64, rejection: Rejection) {
        self.out.counters.count_reject(rejection.reason);
        self.out.rejects.push(RejectLine {
            file: self.file.to_owned(),
            offset,
            reason: rejection.reason,
            field: rejection.field,
        });
    }

    /// Takes a parse result.
    pub fn take(&mut self, offset: u64, result: Result<ParsedCopy, Rejection>) {
        match result {
            Ok(parsed) => self.stage(parsed),
            Err(rejection) => self.reject(offset, rejection),
        }
    }

    /// What the shard produced.
    pub fn finish(self) -> IngestOutput {
        self.out
    }

    /// The wanted copies found, with their text (empty unless capturing).
    pub fn finish_capture(self) -> Vec<(StagedRecord, TieStrings)> {
        self.capture.map(|c| c.found).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(text: &str, start: u64, end: u64, split: Split) -> ShardBytes<'_> {
        ShardBytes::part_of("f", text.as_bytes(), start, end, split)
    }

    const MBOX: &str = "From a@b Mon Jan  1 00:00:00 2026\nSubject: x\n\nbody\n>From quoted\n\n\
From c@d Mon Jan  1 00:00:00 2026\nSubject: y\n\nFrom-less line\n";

    #[test]
    fn every_message_lands_in_exactly_one_shard_wherever_the_cuts_fall() {
        let len = MBOX.len() as u64;
        let second = MBOX.rfind("From c@d").expect("present") as u64;
        for cut in 0..=len {
            let a = records(&shard(MBOX, 0, cut, Split::Messages));
            let b = records(&shard(MBOX, cut, len, Split::Messages));
            let offsets: Vec<u64> = a.iter().chain(&b).map(|r| r.offset).collect();
            assert_eq!(offsets, [0, second], "cut at {cut}");
        }
        let all = records(&shard(MBOX, 0, len, Split::Messages));
        assert!(all[0].bytes.ends_with(b">From quoted\n"));
    }

    #[test]
    fn a_whole_file_is_one_record_unless_blank() {
        assert_eq!(records(&shard(MBOX, 0, 3, Split::Whole)).len(), 1);
        assert!(records(&shard(" \n", 0, 2, Split::Whole)).is_empty());
    }
}
