//! The one place that knows where a run's data lives and how it is encoded:
//! staging paths, store slots, the postcard codec, and the lineage of every
//! hand-off (which jobs feed which). Workers and the coordinator both read
//! from here, so a path or slot is spelled once.
//!
//! A job's staging blobs are handed on by reference: the job records a
//! [`BlobRef`] (path, size, digest) for each blob in a *refs slot* of the
//! consumer, in the same atomic step as its done mark. The consumer reads
//! exactly the refs of the producers the lineage names and checks every blob
//! against its ref (`crate::handoff`).

use rapport_common::plan::{jobs_of, Job, Phase, RunContext};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Staging prefix of everything a run stages.
pub fn run_prefix(run: &str) -> String {
    format!("runs/{run}")
}

/// Staging path of a run's context (its durable plan).
pub fn context_path(run: &str) -> String {
    format!("runs/{run}/context")
}

/// Staged copies of every key partition from batch `batch` of ingest job
/// `group`, one after the other: each key partition's ref names its part.
pub fn ingest_path(run: &str, group: u32, batch: u32) -> String {
    format!("runs/{run}/ingest/{group:05}-{batch:04}")
}

/// The part index of ingest job `group`: where each key partition's part
/// of each of its batches lies (`crate::part_index`).
pub fn index_path(run: &str, group: u32) -> String {
    format!("runs/{run}/ingest/{group:05}-index")
}

/// Chunk `chunk` of the rejects of ingest job `group` (sorted).
pub fn rejects_path(run: &str, group: u32, chunk: usize) -> String {
    format!("runs/{run}/rejects/{group:05}/{chunk:05}")
}

/// Reply probes aimed at key partition `target` by aggregate job `source`.
pub fn probes_path(run: &str, target: u32, source: u32) -> String {
    format!("runs/{run}/probes/{target:04}/{source:04}")
}

/// Originals (messages that can be replied to) of key partition `kp`.
pub fn originals_path(run: &str, kp: u32) -> String {
    format!("runs/{run}/originals/{kp:04}")
}

/// Partial of account partition `ap` from aggregate or replies job `source`.
pub fn partials_path(run: &str, ap: u32, source: Job) -> String {
    format!("runs/{run}/partials/{ap:04}/{}", source.id())
}

/// Reduced rows of account partition `ap`.
pub fn rows_path(run: &str, ap: u32) -> String {
    format!("runs/{run}/rows/{ap:04}")
}

/// Chunk `chunk` of the scored CSV lines of account partition `ap`.
pub fn csv_path(run: &str, ap: u32, chunk: usize) -> String {
    format!("runs/{run}/csv/{ap:04}/{chunk:05}")
}

/// Bytes of CSV lines in one chunk a score job hands the writer, which
/// holds one chunk per account partition at a time.
pub const SCORED_CHUNK_BYTES: usize = 1024 * 1024;
/// Rejects in one chunk an ingest job hands the writer (about 40 KB).
pub const REJECTS_PER_CHUNK: usize = 256;

/// Store slot of the counters every ingest, aggregate and replies job reports.
pub const COUNTERS_SLOT: &str = "counters";
/// The run's attempts counter of redelivered jobs (beside each job's own).
pub const REDELIVERIES: &str = "redelivered";
/// The run's attempts counter of jobs handed back to be retried.
pub const RETRIES: &str = "retried";
/// Store slot of the ingest jobs' part indexes (one `IndexRef` each), which
/// every aggregate job reads: one entry per ingest job, not one per ingest
/// job and key partition.
pub const INGEST_INDEX_SLOT: &str = "ingest-index";
/// Store slot of the score histograms (one entry per reduce job).
pub const HISTOGRAMS_SLOT: &str = "histograms";

/// Who reads a hand-off: a job, or the coordinator writing the outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumer {
    /// A job of the run.
    Job(Job),
    /// The output writer.
    Writer,
}

/// Store slot of the blob refs handed to `consumer`.
pub fn refs_slot(consumer: Consumer) -> String {
    match consumer {
        Consumer::Job(job) => format!("refs/{}", job.id()),
        Consumer::Writer => "refs/write".to_owned(),
    }
}

/// The jobs that hand blob refs to `consumer` (each writes one entry, an
/// empty list when it has nothing for it).
pub fn ref_producers(ctx: &RunContext, consumer: Consumer) -> Vec<Job> {
    match consumer {
        Consumer::Job(job) => match job.phase {
            // Aggregate jobs read the ingest jobs' part indexes instead.
            Phase::Ingest | Phase::Aggregate => Vec::new(),
            Phase::Replies => jobs_of(Phase::Aggregate, ctx),
            Phase::Reduce => {
                let mut jobs = jobs_of(Phase::Aggregate, ctx);
                jobs.extend(jobs_of(Phase::Replies, ctx));
                jobs
            }
            Phase::Score => vec![Job {
                phase: Phase::Reduce,
                part: job.part,
            }],
        },
        Consumer::Writer => {
            let mut jobs = jobs_of(Phase::Ingest, ctx);
            jobs.extend(jobs_of(Phase::Score, ctx));
            jobs
        }
    }
}

/// The jobs that write an entry into a store slot (every one of them, an
/// empty value when it has nothing for it).
pub fn slot_producers(ctx: &RunContext, slot: &str) -> Vec<Job> {
    let phases: &[Phase] = match slot {
        COUNTERS_SLOT => &[Phase::Ingest, Phase::Aggregate, Phase::Replies],
        HISTOGRAMS_SLOT => &[Phase::Reduce],
        INGEST_INDEX_SLOT => &[Phase::Ingest],
        _ => &[],
    };
    phases.iter().flat_map(|p| jobs_of(*p, ctx)).collect()
}

/// A staged blob, or a part of one, as its producer wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    /// Staging path.
    pub path: String,
    /// Where the bytes start when they are a part of the blob at `path`;
    /// none when they are all of it.
    pub part_at: Option<u64>,
    /// Length in bytes.
    pub size: u64,
    /// xxh3-64 of the bytes (finds loss and damage, not tampering).
    pub digest: u64,
}

impl BlobRef {
    /// The ref of `bytes` stored at `path`.
    pub fn of(path: &str, bytes: &[u8]) -> BlobRef {
        BlobRef {
            path: path.to_owned(),
            part_at: None,
            size: bytes.len() as u64,
            digest: xxhash_rust::xxh3::xxh3_64(bytes),
        }
    }

    /// The ref of `bytes` stored at byte `at` of the blob at `path`.
    pub fn part_of(path: &str, at: u64, bytes: &[u8]) -> BlobRef {
        BlobRef {
            part_at: Some(at),
            ..BlobRef::of(path, bytes)
        }
    }

    /// Why `bytes` are not this blob, if they are not.
    pub fn mismatch(&self, bytes: &[u8]) -> Option<String> {
        if bytes.len() as u64 != self.size {
            return Some(format!(
                "{} bytes where {} were written",
                bytes.len(),
                self.size
            ));
        }
        (xxhash_rust::xxh3::xxh3_64(bytes) != self.digest)
            .then(|| "its bytes differ from those written".to_owned())
    }
}

/// A blob that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("blob {name} is unreadable: {error}")]
pub struct Undecodable {
    /// The blob's path or slot entry.
    pub name: String,
    /// The decoder's message.
    pub error: String,
}

/// Encodes a blob (postcard).
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("in-memory values always serialise")
}

/// Decodes the blob called `name`.
pub fn decode<T: DeserializeOwned>(name: &str, bytes: &[u8]) -> Result<T, Undecodable> {
    postcard::from_bytes(bytes).map_err(|e| Undecodable {
        name: name.to_owned(),
        error: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ref_finds_truncation_and_other_bytes() {
        let r = BlobRef::of("runs/r/x", b"hello world");
        assert_eq!(r.mismatch(b"hello world"), None);
        assert!(r.mismatch(b"hello").is_some_and(|m| m.contains("5 bytes")));
        assert!(r
            .mismatch(b"hello wordl")
            .is_some_and(|m| m.contains("differ")));
    }

    #[test]
    fn paths_and_slots_are_spelled_once() {
        assert_eq!(ingest_path("r", 12, 1), "runs/r/ingest/00012-0001");
        assert_eq!(index_path("r", 12), "runs/r/ingest/00012-index");
        assert_eq!(probes_path("r", 1, 2), "runs/r/probes/0001/0002");
        let source = Job {
            phase: Phase::Replies,
            part: 5,
        };
        assert_eq!(
            partials_path("r", 2, source),
            "runs/r/partials/0002/replies-0005"
        );
        assert_eq!(
            refs_slot(Consumer::Job(Job {
                phase: Phase::Score,
                part: 7
            })),
            "refs/score-0007"
        );
        assert_eq!(refs_slot(Consumer::Writer), "refs/write");
        assert!(context_path("r").starts_with(&run_prefix("r")));
    }
}
