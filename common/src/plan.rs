//! A run as the coordinator plans it: the run context every worker loads,
//! input shards, phases and jobs, and the versioned job message (postcard).

use serde::{Deserialize, Serialize};

use crate::directory::{AccountIdx, Directory};
use crate::period::Window;
use crate::reject::{RejectLine, RejectReason};
use crate::tenant::{Format, TenantSettings};
use crate::time::day_of;

/// Version of [`JobEnvelope`] and of the staged blobs its jobs read and
/// write; a worker refuses any other. 3: staged copies carry their source
/// record, meetings their declined and resource attendees (issue 8). 4: jobs
/// carry the run's epoch, staged blobs are handed on by checked refs. 5:
/// partials are staged and handed on by refs, replies jobs join groups of
/// key partitions, the writer's hand-offs come in sorted chunks (issue 12).
/// 6: the run context says how many staged bytes an ingest job holds
/// before it stages them, and an ingest job hands each key partition a
/// blob per batch. 7: one blob per batch, a key partition's ref naming its
/// part of it.
///
/// Every version begins with the version and the run id, so a worker of
/// any version can tell whose job it cannot take ([`JobEnvelope::decode`]).
pub const JOB_MESSAGE_VERSION: u16 = 7;

/// Where a file's records begin, which says where shards may cut it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Split {
    /// One record per line (`jsonl`, Graph Data Connect lines).
    Lines,
    /// mbox messages, each starting at a line that begins `From `.
    Messages,
    /// Not cut: one shard holds the file (`.eml`, `.ics`, Graph list
    /// responses, whose records can refer to each other or span lines).
    Whole,
}

/// An input file as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// The file as reported (relative to the tenant folder).
    pub name: String,
    /// Where workers read it (absolute path or URL).
    pub location: String,
    /// Its format.
    pub format: Format,
    /// Where its records begin.
    pub split: Split,
    /// Size in bytes.
    pub size: u64,
}

/// A byte range of one input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// The file as reported (relative to the tenant folder).
    pub file: String,
    /// Where workers read it (absolute path or URL).
    pub location: String,
    /// Its format.
    pub format: Format,
    /// Where its records begin.
    pub split: Split,
    /// First byte (a record starting before it belongs to the previous shard).
    pub start: u64,
    /// End byte, exclusive: records starting before it belong here.
    pub end: u64,
}

/// Largest file read whole (`.eml`, `.ics`, Graph list responses); a larger
/// one is rejected unread as `file_too_large` (one record, offset 0).
pub const MAX_WHOLE_FILE_BYTES: u64 = 64 * 1024 * 1024;

impl Shard {
    /// The reject of a file too large to read whole, if this shard is one.
    pub fn too_large(&self) -> Option<RejectLine> {
        (self.split == Split::Whole && self.end - self.start > MAX_WHOLE_FILE_BYTES).then(|| {
            RejectLine {
                file: self.file.clone(),
                offset: self.start,
                reason: RejectReason::FileTooLarge,
                field: String::new(),
            }
        })
    }
}

/// Everything a worker needs to run any job of a run; holds no address.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunContext {
    /// The run.
    pub run_id: String,
    /// Validated settings.
    pub settings: TenantSettings,
    /// Resolution maps and accounts.
    pub directory: Directory,
    /// Input shards, grouped: one group per ingest job.
    pub shard_groups: Vec<Vec<Shard>>,
    /// Partitions of the record key space (aggregate and replies jobs).
    pub key_partitions: u32,
    /// Partitions of the sorted account list (reduce and score jobs).
    pub account_partitions: u32,
    /// Staged bytes an ingest job holds before it stages them (a blob per
    /// batch), so its memory does not grow with its shard.
    pub staged_batch_bytes: u64,
}

impl RunContext {
    /// The counted dates.
    pub fn window(&self) -> Window {
        Window::new(day_of(self.settings.as_of), self.settings.window_days)
    }

    /// Account partition of an account: accounts are dealt round-robin, so
    /// a run of busy accounts (ids are often assigned by size or age) spreads
    /// over every reduce job; the writer puts accounts back in order.
    pub fn account_partition(&self, account: AccountIdx) -> u32 {
        account % self.account_partitions.max(1)
    }

    /// Key partition of a record key hash.
    pub fn key_partition(&self, key_hash: u64) -> u32 {
        key_partition(key_hash, self.key_partitions)
    }

    /// Key partitions per reply partition: consecutive key partitions share
    /// a replies job, so there are at most [`MAX_REPLY_JOBS`] of them and
    /// the reply probes handed over grow with key partitions, not with
    /// their square.
    pub fn reply_group(&self) -> u32 {
        self.key_partitions.max(1).div_ceil(MAX_REPLY_JOBS)
    }

    /// Replies jobs of the run.
    pub fn reply_partitions(&self) -> u32 {
        self.key_partitions.max(1).div_ceil(self.reply_group())
    }

    /// The replies job that joins the probes aimed at key partition `kp`
    /// with its originals.
    pub fn reply_partition(&self, kp: u32) -> u32 {
        kp / self.reply_group()
    }
}

/// Most replies jobs of a run.
pub const MAX_REPLY_JOBS: u32 = 128;

/// Key partition of a record key hash among `key_partitions`: the one
/// place that decides where a record, its copies and its reply probes meet.
pub fn key_partition(key_hash: u64, key_partitions: u32) -> u32 {
    (key_hash % u64::from(key_partitions.max(1))) as u32
}

/// Phases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// Parse shards into staged records per key partition.
    Ingest,
    /// Merge copies, apply rules, write partials, reply probes and originals.
    Aggregate,
    /// Join reply probes with originals.
    Replies,
    /// Merge partials per account partition into rows and histograms.
    Reduce,
    /// Score rows against the merged histograms.
    Score,
}

impl Phase {
    /// All phases in order.
    pub const ALL: [Phase; 5] = [
        Phase::Ingest,
        Phase::Aggregate,
        Phase::Replies,
        Phase::Reduce,
        Phase::Score,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Ingest => "ingest",
            Phase::Aggregate => "aggregate",
            Phase::Replies => "replies",
            Phase::Reduce => "reduce",
            Phase::Score => "score",
        }
    }
}

/// One unit of work: a phase and the shard or partition it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Job {
    /// Its phase.
    pub phase: Phase,
    /// Shard index (ingest), key partition (aggregate), reply partition
    /// (replies) or account partition (reduce, score).
    pub part: u32,
}

impl Job {
    /// Stable id within a run, e.g. `aggregate-0003`.
    pub fn id(&self) -> String {
        format!("{}-{:04}", self.phase.name(), self.part)
    }
}

/// The jobs of one phase.
pub fn jobs_of(phase: Phase, ctx: &RunContext) -> Vec<Job> {
    let n = match phase {
        Phase::Ingest => ctx.shard_groups.len() as u32,
        Phase::Aggregate => ctx.key_partitions,
        Phase::Replies => ctx.reply_partitions(),
        Phase::Reduce | Phase::Score => ctx.account_partitions,
    };
    (0..n).map(|part| Job { phase, part }).collect()
}

/// Splits files into shards of about `shard_bytes` (a file's shards cover it
/// without gaps, and a [`Split::Whole`] file is one shard), then groups
/// consecutive shards into ingest jobs of at most `group_bytes`, so ten
/// thousand `.eml` files make a few jobs, not ten thousand; a larger shard
/// is a job of its own.
pub fn plan_shards(files: &[InputFile], shard_bytes: u64, group_bytes: u64) -> Vec<Vec<Shard>> {
    let mut groups: Vec<Vec<Shard>> = Vec::new();
    let mut grouped = 0;
    for shard in cut_files(files, shard_bytes) {
        let bytes = shard.end - shard.start;
        match groups.last_mut() {
            Some(group) if grouped + bytes <= group_bytes => {
                group.push(shard);
                grouped += bytes;
            }
            _ => {
                groups.push(vec![shard]);
                grouped = bytes;
            }
        }
    }
    groups
}

fn cut_files(files: &[InputFile], shard_bytes: u64) -> Vec<Shard> {
    let mut shards = Vec::new();
    for f in files {
        let size = f.size;
        let step = match f.split {
            Split::Whole => size.max(1),
            Split::Lines | Split::Messages => shard_bytes.max(1),
        };
        let mut start = 0;
        loop {
            let end = (start + step).min(size);
            shards.push(Shard {
                file: f.name.clone(),
                location: f.location.clone(),
                format: f.format,
                split: f.split,
                start,
                end,
            });
            if end >= size {
                break;
            }
            start = end;
        }
    }
    shards
}

/// The message on the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEnvelope {
    /// [`JOB_MESSAGE_VERSION`].
    pub version: u16,
    /// The run.
    pub run_id: String,
    /// The run's epoch when the job was published: its effects are stored
    /// only while the run is still in that epoch.
    pub epoch: u64,
    /// The job.
    pub job: Job,
}

/// A message that cannot be a job.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// Not postcard of an envelope.
    #[error("undecodable job message: {0}")]
    Decode(#[from] postcard::Error),
    /// Another version.
    #[error("a job message of version {version} (this build reads {JOB_MESSAGE_VERSION})")]
    Version {
        /// Its version.
        version: u16,
        /// Its run.
        run_id: String,
    },
}

impl JobEnvelope {
    /// An envelope of the current version.
    pub fn new(run_id: &str, epoch: u64, job: Job) -> JobEnvelope {
        JobEnvelope {
            version: JOB_MESSAGE_VERSION,
            run_id: run_id.to_owned(),
            epoch,
            job,
        }
    }

    /// postcard bytes.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("an envelope always serialises")
    }

    /// Reads postcard bytes, checking the version first (from the header
    /// every version shares).
    pub fn decode(bytes: &[u8]) -> Result<JobEnvelope, EnvelopeError> {
        let ((version, run_id), _) = postcard::take_from_bytes::<(u16, String)>(bytes)?;
        if version != JOB_MESSAGE_VERSION {
            return Err(EnvelopeError::Version { version, run_id });
        }
        Ok(postcard::from_bytes(bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_whole_file_over_the_cap_is_too_large() {
        let shard = |split, end| Shard {
            file: "a/x.ics".to_owned(),
            location: "/t/a/x.ics".to_owned(),
            format: Format::Ics,
            split,
            start: 0,
            end,
        };
        let big = MAX_WHOLE_FILE_BYTES + 1;
        let reject = shard(Split::Whole, big).too_large().expect("too large");
        assert_eq!(
            (reject.file.as_str(), reject.offset, reject.reason),
            ("a/x.ics", 0, RejectReason::FileTooLarge)
        );
        assert!(shard(Split::Whole, MAX_WHOLE_FILE_BYTES)
            .too_large()
            .is_none());
        assert!(shard(Split::Lines, big).too_large().is_none());
    }

    #[test]
    fn envelope_round_trips_and_checks_its_version() {
        let e = JobEnvelope::new(
            "r1",
            9,
            Job {
                phase: Phase::Reduce,
                part: 7,
            },
        );
        assert_eq!(JobEnvelope::decode(&e.encode()).expect("decoded"), e);
        let old = JobEnvelope { version: 0, ..e };
        assert!(matches!(
            JobEnvelope::decode(&old.encode()),
            Err(EnvelopeError::Version { version: 0, run_id }) if run_id == "r1"
        ));
        // A version-3 message (no epoch) still names its version and run.
        #[derive(Serialize)]
        struct V3 {
            version: u16,
            run_id: String,
            job: Job,
        }
        let v3 = postcard::to_stdvec(&V3 {
            version: 3,
            run_id: "r0".into(),
            job: e.job,
        })
        .expect("encodes");
        assert!(matches!(
            JobEnvelope::decode(&v3),
            Err(EnvelopeError::Version { version: 3, .. })
        ));
        assert!(JobEnvelope::decode(&[0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn shards_cover_files_without_gaps() {
        let file = |name: &str, split, size| InputFile {
            name: name.to_owned(),
            location: format!("/x/{name}"),
            format: Format::Jsonl,
            split,
            size,
        };
        let files = [
            file("a.jsonl", Split::Lines, 25),
            file("b.jsonl", Split::Lines, 0),
            file("c.ics", Split::Whole, 25),
        ];
        let groups = plan_shards(&files, 10, 10);
        let ranges: Vec<Vec<_>> = groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|s| (s.file.as_str(), s.start, s.end))
                    .collect()
            })
            .collect();
        assert_eq!(
            ranges,
            [
                vec![("a.jsonl", 0, 10)],
                vec![("a.jsonl", 10, 20)],
                vec![("a.jsonl", 20, 25), ("b.jsonl", 0, 0)],
                vec![("c.ics", 0, 25)]
            ]
        );
    }

    #[test]
    fn job_ids_are_stable() {
        assert_eq!(
            Job {
                phase: Phase::Aggregate,
                part: 3
            }
            .id(),
            "aggregate-0003"
        );
    }
}
