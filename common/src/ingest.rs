//! The ingest step of one shard: split its bytes into records, parse each,
//! route staged records to key partitions, and list rejects.

use crate::counters::RunCounters;
use crate::directory::Directory;
use crate::jsonl;
use crate::plan::key_partition;
use crate::record::encode_staged;
use crate::reject::RejectLine;

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
/// through the end of the line holding byte `end - 1`.
pub struct ShardBytes<'a> {
    /// The file as reported.
    pub file: &'a str,
    /// File offset of `bytes[0]`.
    pub offset: u64,
    /// True when `bytes[0]` is the byte before the shard (`start > 0`): the
    /// line it ends belongs to the previous shard.
    pub skip_first_line: bool,
    /// The bytes.
    pub bytes: &'a [u8],
    /// Shard end: lines starting at or after it belong to the next shard.
    pub end: u64,
}

/// Parses the `jsonl` lines of a shard.
pub fn ingest_jsonl(
    shard: &ShardBytes,
    directory: &Directory,
    key_partitions: u32,
) -> IngestOutput {
    let mut out = IngestOutput {
        partitions: vec![Vec::new(); key_partitions as usize],
        ..IngestOutput::default()
    };
    let bytes = shard.bytes;
    let mut pos = 0;
    if shard.skip_first_line {
        pos = match memchr_newline(bytes) {
            Some(i) => i + 1,
            None => bytes.len(),
        };
    }
    while pos < bytes.len() {
        let line_offset = shard.offset + pos as u64;
        if line_offset >= shard.end {
            break;
        }
        let line_end = memchr_newline(&bytes[pos..]).map_or(bytes.len(), |i| pos + i);
        let line = &bytes[pos..line_end];
        pos = line_end + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.counters.records += 1;
        match jsonl::parse_line(line, directory) {
            Ok(record) => {
                let p = key_partition(record.partition_bits(), key_partitions) as usize;
                encode_staged(&record, &mut out.partitions[p]);
                out.staged += 1;
            }
            Err(rejection) => {
                *out.counters.rejected.entry(rejection.reason).or_default() += 1;
                out.rejects.push(RejectLine {
                    file: shard.file.to_owned(),
                    offset: line_offset,
                    reason: rejection.reason,
                    field: rejection.field,
                });
            }
        }
    }
    out
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| *b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "{\"type\":\"email\",\"message_id\":\"<a>\",\"sent_at\":\"2026-01-01T00:00:00Z\",\"from\":\"a@b.c\"}\n\
\n\
this is not json\n\
{\"type\":\"email\",\"message_id\":\"<b>\",\"sent_at\":\"2026-01-01T00:00:00Z\",\"from\":\"a@b.c\"}";

    fn run(start: u64, end: u64) -> IngestOutput {
        let from = start.saturating_sub(1) as usize;
        let shard = ShardBytes {
            file: "f.jsonl",
            offset: from as u64,
            skip_first_line: start > 0,
            bytes: &TEXT.as_bytes()[from..],
            end,
        };
        ingest_jsonl(&shard, &Directory::default(), 2)
    }

    #[test]
    fn blank_lines_are_skipped_and_bad_lines_rejected_with_their_offset() {
        let out = run(0, TEXT.len() as u64);
        assert_eq!(out.counters.records, 3);
        assert_eq!(out.staged, 2);
        assert_eq!(out.rejects.len(), 1);
        assert_eq!(
            out.rejects[0].offset,
            TEXT.find("this").expect("present") as u64
        );
    }

    #[test]
    fn every_line_lands_in_exactly_one_shard_wherever_the_cuts_fall() {
        let len = TEXT.len() as u64;
        for cut in 0..=len {
            let (a, b) = (run(0, cut), run(cut, len));
            assert_eq!(a.counters.records + b.counters.records, 3, "cut at {cut}");
            assert_eq!(a.rejects.len() + b.rejects.len(), 1, "cut at {cut}");
        }
    }
}
