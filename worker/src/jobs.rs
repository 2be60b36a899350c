//! The body of each phase's job: read its inputs through checked hand-offs
//! (`rapport_backend::handoff`), run the pure step (on a blocking thread: it
//! is CPU work), stage its blobs, and return the store writes that complete
//! it: its slot entries and the refs of its staged blobs, which the consumer
//! store writes with the done mark in one step. Every producer writes an
//! entry for each consumer the lineage names, empty when it has nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rapport_backend::handoff::{
    fetch, fetch_for, put_blob, read_refs, read_slot_for, refs_write, HandoffError,
};
use rapport_backend::layout::{
    self, context_path, csv_path, originals_path, partials_path, probes_path, ref_producers,
    refs_slot, rows_path, BlobRef, Consumer, COUNTERS_SLOT, HISTOGRAMS_SLOT, SCORED_CHUNK_BYTES,
};
use rapport_backend::part_index::fetch_ingested;
use rapport_backend::store::SlotWrite;
use rapport_backend::{BackendError, Backends};
use rapport_common::aggregate::{aggregate, replies, Original, ReplyProbe};
use rapport_common::counters::RunCounters;
use rapport_common::merge::{conflicts, sort_copies, Winners};
use rapport_common::partial::PartialAggregate;
use rapport_common::plan::{Job, Phase, RunContext};
use rapport_common::record::{decode_staged, StagedCopy, STAGED_COPY_BYTES};
use rapport_common::reduce::{reduce_merged, score_rows};
use rapport_common::row::EngagementRow;
use rapport_common::score::Histograms;

use crate::ingest_job::ingest;
use crate::tie_reader::read_winners;

/// Why a job did not complete.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The queue, store or staging failed: running the job again may work.
    #[error(transparent)]
    Retryable(#[from] BackendError),
    /// An input of the job, the output of a done job, is lost: running
    /// that job again may heal the run.
    #[error("input {blob}, produced by {producer}, is lost: {why}", producer = producer.id())]
    Lost {
        /// The job whose output it is.
        producer: Job,
        /// The blob or slot entry.
        blob: String,
        /// What was found instead.
        why: String,
    },
    /// The job cannot succeed (unreadable input file, a bug).
    #[error("{0}")]
    Permanent(String),
}

impl From<HandoffError> for JobError {
    fn from(e: HandoffError) -> JobError {
        match e {
            HandoffError::Lost {
                producer,
                blob,
                why,
            } => JobError::Lost {
                producer,
                blob,
                why,
            },
            HandoffError::Backend(e) => JobError::Retryable(e),
        }
    }
}

/// Decodes a handed-off blob that `producer` wrote; one that does not
/// decode is lost output of its producer.
fn decode<T: serde::de::DeserializeOwned>(
    producer: Job,
    name: &str,
    bytes: &[u8],
) -> Result<T, JobError> {
    layout::decode(name, bytes).map_err(|e| JobError::Lost {
        producer,
        blob: name.to_owned(),
        why: e.error,
    })
}

/// Run contexts a worker keeps: more than the runs executing at once.
const CONTEXTS_CACHED: usize = 16;

/// Run contexts this process has loaded, by run id (a worker serves few runs).
#[derive(Default)]
pub struct ContextCache {
    contexts: Mutex<HashMap<String, Arc<RunContext>>>,
}

impl ContextCache {
    /// The context of `run`, from the cache or staging.
    pub async fn get(&self, backends: &Backends, run: &str) -> Result<Arc<RunContext>, JobError> {
        if let Some(ctx) = self
            .contexts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(run)
        {
            return Ok(ctx.clone());
        }
        let path = context_path(run);
        let ctx: Arc<RunContext> = Arc::new(
            layout::decode(&path, &backends.staging.get(&path).await?)
                .map_err(|e| JobError::Permanent(e.to_string()))?,
        );
        let mut contexts = self.contexts.lock().unwrap_or_else(|p| p.into_inner());
        // Full: one goes, whichever (a context dropped is read again).
        if contexts.len() >= CONTEXTS_CACHED {
            if let Some(old) = contexts.keys().find(|r| *r != run).cloned() {
                contexts.remove(&old);
            }
        }
        contexts.insert(run.to_owned(), ctx.clone());
        Ok(ctx)
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, JobError> {
    tokio::task::spawn_blocking(f).await.map_err(panicked)
}

/// A job whose blocking step panicked cannot succeed.
pub(crate) fn panicked(e: tokio::task::JoinError) -> JobError {
    JobError::Permanent(format!("job panicked: {e}"))
}

pub(crate) fn counters_write(counters: &RunCounters) -> SlotWrite {
    SlotWrite {
        slot: COUNTERS_SLOT.to_owned(),
        blob: layout::encode(counters),
    }
}

pub(crate) fn job(phase: Phase, part: u32) -> Job {
    Job { phase, part }
}

/// Runs one job and returns the store writes that complete it.
pub async fn execute(
    backends: &Backends,
    ctx: Arc<RunContext>,
    job: Job,
) -> Result<Vec<SlotWrite>, JobError> {
    match job.phase {
        Phase::Ingest => ingest(backends, ctx, job.part).await,
        Phase::Aggregate => aggregate_job(backends, ctx, job.part).await,
        Phase::Replies => replies_job(backends, ctx, job.part).await,
        Phase::Reduce => reduce_job(backends, ctx, job.part).await,
        Phase::Score => score_job(backends, ctx, job.part).await,
    }
}

async fn aggregate_job(
    backends: &Backends,
    ctx: Arc<RunContext>,
    part: u32,
) -> Result<Vec<SlotWrite>, JobError> {
    let run = ctx.run_id.clone();
    let inputs = fetch_ingested(backends, &ctx, part).await?;
    let c = ctx.clone();
    let roots = backends.data_roots.clone();
    let out = blocking(move || -> Result<_, JobError> {
        // Decoded here: CPU work, off the async threads.
        let bytes: usize = inputs.iter().map(|(_, _, b)| b.len()).sum();
        let mut copies: Vec<StagedCopy> = Vec::with_capacity(bytes / STAGED_COPY_BYTES);
        for (producer, r, bytes) in inputs {
            decode_staged(&bytes, &mut copies).map_err(|e| JobError::Lost {
                producer,
                blob: r.path.clone(),
                why: format!("unreadable: {e}"),
            })?;
        }
        sort_copies(&mut copies);
        // Copies that tie on what staging holds: read their records again.
        let conflicts = conflicts(&copies);
        let winners = if conflicts.is_empty() {
            Winners::default()
        } else {
            read_winners(&roots, &c, &conflicts)?
        };
        aggregate(copies, &winners, &c).map_err(|e| JobError::Permanent(e.to_string()))
    })
    .await??;
    let originals = put_blob(
        &*backends.staging,
        originals_path(&run, part),
        layout::encode(&out.originals),
    )
    .await?;
    let mut writes = vec![counters_write(&out.counters)];
    for (target, probes) in out.probes.iter().enumerate() {
        let target = target as u32;
        let mut refs: Vec<BlobRef> = Vec::new();
        if !probes.is_empty() {
            let path = probes_path(&run, target, part);
            refs.push(put_blob(&*backends.staging, path, layout::encode(probes)).await?);
        }
        if target == ctx.reply_partition(part) {
            refs.push(originals.clone());
        }
        let consumer = Consumer::Job(job(Phase::Replies, target));
        writes.push(refs_write(refs_slot(consumer), &refs));
    }
    writes
        .extend(stage_partials(backends, &run, job(Phase::Aggregate, part), &out.partials).await?);
    Ok(writes)
}

async fn replies_job(
    backends: &Backends,
    ctx: Arc<RunContext>,
    part: u32,
) -> Result<Vec<SlotWrite>, JobError> {
    let run = ctx.run_id.clone();
    let me = Consumer::Job(job(Phase::Replies, part));
    let inputs = fetch_for(backends, &ctx, me).await?;
    // The originals of every key partition of this reply partition, and
    // the probes aimed at them.
    let group: Vec<u32> = (0..ctx.key_partitions)
        .filter(|kp| ctx.reply_partition(*kp) == part)
        .collect();
    let mut found = vec![false; group.len()];
    let mut originals: Vec<Original> = Vec::new();
    let mut probes: Vec<ReplyProbe> = Vec::new();
    for (producer, r, bytes) in inputs {
        let at = group
            .iter()
            .position(|kp| r.path == originals_path(&run, *kp));
        match at {
            Some(i) => {
                originals.extend(decode::<Vec<Original>>(producer, &r.path, &bytes)?);
                found[i] = true;
            }
            None => probes.extend(decode::<Vec<ReplyProbe>>(producer, &r.path, &bytes)?),
        }
    }
    if let Some(i) = found.iter().position(|f| !f) {
        return Err(JobError::Lost {
            producer: job(Phase::Aggregate, group[i]),
            blob: originals_path(&run, group[i]),
            why: "no ref to it was handed over".to_owned(),
        });
    }
    let c = ctx.clone();
    let (partial, matched) = blocking(move || {
        let (partial, matched) = replies(&originals, &probes);
        (
            partial.split(c.account_partitions, |a| c.account_partition(a)),
            matched,
        )
    })
    .await?;
    let mut writes = vec![counters_write(&RunCounters {
        replies: matched,
        ..RunCounters::default()
    })];
    writes.extend(stage_partials(backends, &run, job(Phase::Replies, part), &partial).await?);
    Ok(writes)
}

/// Stages a job's partial of each account partition and hands its ref to
/// that partition's reduce job (an empty hand-off when it has none): the
/// store holds only refs, so its memory does not grow with the partials.
async fn stage_partials(
    backends: &Backends,
    run: &str,
    source: Job,
    partials: &[PartialAggregate],
) -> Result<Vec<SlotWrite>, JobError> {
    let mut writes = Vec::with_capacity(partials.len());
    for (ap, partial) in partials.iter().enumerate() {
        let ap = ap as u32;
        let mut refs = Vec::new();
        if !partial.is_empty() {
            let path = partials_path(run, ap, source);
            refs.push(put_blob(&*backends.staging, path, layout::encode(partial)).await?);
        }
        let consumer = Consumer::Job(job(Phase::Reduce, ap));
        writes.push(refs_write(refs_slot(consumer), &refs));
    }
    Ok(writes)
}

/// Encoded partials a reduce job decodes and merges at a time: its memory
/// is one batch and the merged partial, however many jobs fed it. Small,
/// because a batch's lists are concatenated before they are deduplicated:
/// a busy account's people appear once per partial of the batch.
const REDUCE_BATCH_BYTES: u64 = 8 * 1024 * 1024;

async fn reduce_job(
    backends: &Backends,
    ctx: Arc<RunContext>,
    part: u32,
) -> Result<Vec<SlotWrite>, JobError> {
    let run = ctx.run_id.clone();
    let me = Consumer::Job(job(Phase::Reduce, part));
    let refs = read_refs(
        &*backends.store,
        &run,
        &refs_slot(me),
        &ref_producers(&ctx, me),
    )
    .await?;
    let refs: Vec<(Job, BlobRef)> = refs
        .into_iter()
        .flat_map(|(producer, refs)| refs.into_iter().map(move |r| (producer, r)))
        .collect();
    let mut merged = PartialAggregate::default();
    let mut batch: Vec<(Job, BlobRef, Vec<u8>)> = Vec::new();
    let mut batch_bytes = 0;
    for (i, (producer, r)) in refs.iter().enumerate() {
        let bytes = fetch(&*backends.staging, *producer, r).await?;
        batch_bytes += r.size;
        batch.push((*producer, r.clone(), bytes));
        if batch_bytes >= REDUCE_BATCH_BYTES || i + 1 == refs.len() {
            let blobs = std::mem::take(&mut batch);
            batch_bytes = 0;
            merged = blocking(move || -> Result<_, JobError> {
                let partials: Vec<PartialAggregate> = blobs
                    .iter()
                    .map(|(producer, r, b)| decode(*producer, &r.path, b))
                    .collect::<Result<_, _>>()?;
                drop(blobs);
                let mut merged = merged;
                merged.absorb_all(&partials);
                Ok(merged)
            })
            .await??;
        }
    }
    let window = ctx.window();
    let (rows, histograms) = blocking(move || {
        let (rows, histograms) = reduce_merged(&merged, &window);
        (layout::encode(&rows), histograms)
    })
    .await?;
    let rows = put_blob(&*backends.staging, rows_path(&run, part), rows).await?;
    let consumer = Consumer::Job(job(Phase::Score, part));
    Ok(vec![
        SlotWrite {
            slot: HISTOGRAMS_SLOT.to_owned(),
            blob: layout::encode(&histograms),
        },
        refs_write(refs_slot(consumer), &[rows]),
    ])
}

async fn score_job(
    backends: &Backends,
    ctx: Arc<RunContext>,
    part: u32,
) -> Result<Vec<SlotWrite>, JobError> {
    let run = ctx.run_id.clone();
    let me = Consumer::Job(job(Phase::Score, part));
    let histograms = read_slot_for(backends, &ctx, HISTOGRAMS_SLOT).await?;
    let rows = fetch_for(backends, &ctx, me).await?;
    let c = ctx.clone();
    let lines = blocking(move || -> Result<Vec<Vec<u8>>, JobError> {
        let mut merged = Histograms::default();
        for (producer, b) in &histograms {
            let name = format!("{HISTOGRAMS_SLOT}/{}", producer.id());
            merged.merge(&decode(*producer, &name, b)?);
        }
        let table = merged.into_table(c.settings.weights);
        let mut all: Vec<EngagementRow> = Vec::new();
        for (producer, r, bytes) in &rows {
            all.extend(decode::<Vec<EngagementRow>>(*producer, &r.path, bytes)?);
        }
        let lines = score_rows(&all, &table, &c.directory, c.settings.min_org_people)
            .map_err(|e| JobError::Permanent(e.to_string()))?;
        Ok(lines
            .into_chunks(SCORED_CHUNK_BYTES)
            .iter()
            .map(layout::encode)
            .collect::<Vec<_>>())
    })
    .await??;
    let mut refs = Vec::with_capacity(lines.len());
    for (i, chunk) in lines.into_iter().enumerate() {
        refs.push(put_blob(&*backends.staging, csv_path(&run, part, i), chunk).await?);
    }
    Ok(vec![refs_write(refs_slot(Consumer::Writer), &refs)])
}
