//! The body of each phase's job: read inputs from staging and the store, run
//! the pure step (on a blocking thread: it is CPU work), and return the
//! effects to store. Staging blobs are written here; store blobs are returned
//! so the consumer can store them and mark the job done in one step.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rapport_backend::staging::run_path;
use rapport_backend::store::SlotWrite;
use rapport_backend::{BackendError, Backends};
use rapport_common::aggregate::{aggregate, replies, Original, ReplyProbe};
use rapport_common::counters::RunCounters;
use rapport_common::merge::{conflicts, sort_copies, Winners};
use rapport_common::partial::PartialAggregate;
use rapport_common::plan::{Job, Phase, RunContext};
use rapport_common::record::{decode_staged, ShardId, StagedCopy};
use rapport_common::reduce::{reduce, score_rows};
use rapport_common::row::EngagementRow;
use rapport_common::score::Histograms;

use crate::blob::{decode, encode};
use rapport_formats::{ingest_shard, FormatContext};

use crate::shard_reader::{for_each_piece, PIECE_BYTES};
use crate::tie_reader::read_winners;

/// Why a job did not complete.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The queue, store or staging failed: running the job again may work.
    #[error(transparent)]
    Retryable(#[from] BackendError),
    /// The job cannot succeed (unreadable blob, unreadable input file).
    #[error("{0}")]
    Permanent(String),
}

/// Slot of the counters every job reports.
pub const COUNTERS_SLOT: &str = "counters";
/// Slot of the score histograms.
pub const HISTOGRAMS_SLOT: &str = "histograms";

/// Slot of an account partition's partials.
pub fn partials_slot(partition: u32) -> String {
    format!("partials/{partition:04}")
}

/// Staging path of a run's context.
pub fn context_path(run: &str) -> String {
    run_path(run, "context")
}

/// Staging path of an account partition's scored CSV lines.
pub fn csv_path(run: &str, partition: u32) -> String {
    run_path(run, &format!("csv/{partition:04}"))
}

/// Staging prefix of a run's rejects.
pub fn rejects_prefix(run: &str) -> String {
    run_path(run, "rejects")
}

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
        let ctx: Arc<RunContext> = Arc::new(decode(&path, &backends.staging.get(&path).await?)?);
        let mut contexts = self.contexts.lock().unwrap_or_else(|p| p.into_inner());
        if contexts.len() >= 8 {
            contexts.clear();
        }
        contexts.insert(run.to_owned(), ctx.clone());
        Ok(ctx)
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, JobError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| JobError::Permanent(format!("job panicked: {e}")))
}

fn counters_write(counters: &RunCounters) -> SlotWrite {
    SlotWrite {
        slot: COUNTERS_SLOT.to_owned(),
        blob: encode(counters),
    }
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

async fn ingest(
    backends: &Backends,
    ctx: Arc<RunContext>,
    part: u32,
) -> Result<Vec<SlotWrite>, JobError> {
    let group = ctx
        .shard_groups
        .get(part as usize)
        .cloned()
        .ok_or_else(|| JobError::Permanent(format!("no shard group {part} in the plan")))?;
    let run = ctx.run_id.clone();
    let c = ctx.clone();
    let out = blocking(move || -> Result<_, JobError> {
        let format_ctx = FormatContext::of(&c);
        let mut partitions = vec![Vec::new(); c.key_partitions.max(1) as usize];
        let mut rejects = Vec::new();
        let mut counters = RunCounters::default();
        for (index, shard) in group.iter().enumerate() {
            let id = ShardId {
                group: part,
                index: index as u32,
            };
            for_each_piece(shard, id, PIECE_BYTES, |bytes| {
                let out = ingest_shard(bytes, shard.format, &format_ctx);
                for (all, blob) in partitions.iter_mut().zip(out.partitions) {
                    all.extend_from_slice(&blob);
                }
                rejects.extend(out.rejects);
                counters.merge(&out.counters);
            })
            .map_err(|e| JobError::Permanent(format!("cannot read input {}: {e}", shard.file)))?;
        }
        Ok((partitions, rejects, counters))
    })
    .await??;
    let (partitions, rejects, counters) = out;
    for (kp, blob) in partitions.into_iter().enumerate() {
        backends
            .staging
            .put(&run_path(&run, &format!("ingest/{kp:04}/{part:05}")), blob)
            .await?;
    }
    if !rejects.is_empty() {
        backends
            .staging
            .put(
                &run_path(&run, &format!("rejects/{part:05}")),
                encode(&rejects),
            )
            .await?;
    }
    Ok(vec![counters_write(&counters)])
}

async fn aggregate_job(
    backends: &Backends,
    ctx: Arc<RunContext>,
    part: u32,
) -> Result<Vec<SlotWrite>, JobError> {
    let run = ctx.run_id.clone();
    let mut copies: Vec<StagedCopy> = Vec::new();
    for path in backends
        .staging
        .list(&run_path(&run, &format!("ingest/{part:04}")))
        .await?
    {
        let bytes = backends.staging.get(&path).await?;
        decode_staged(&bytes, &mut copies)
            .map_err(|e| JobError::Permanent(format!("staging blob {path} is unreadable: {e}")))?;
    }
    let c = ctx.clone();
    let out = blocking(move || -> Result<_, JobError> {
        sort_copies(&mut copies);
        // Copies that tie on what staging holds: read their records again.
        let conflicts = conflicts(&copies);
        let winners = if conflicts.is_empty() {
            Winners::default()
        } else {
            read_winners(&c, &conflicts)?
        };
        aggregate(copies, &winners, &c).map_err(|e| JobError::Permanent(e.to_string()))
    })
    .await??;
    for (target, probes) in out.probes.iter().enumerate() {
        if !probes.is_empty() {
            backends
                .staging
                .put(
                    &run_path(&run, &format!("probes/{target:04}/{part:04}")),
                    encode(probes),
                )
                .await?;
        }
    }
    backends
        .staging
        .put(
            &run_path(&run, &format!("originals/{part:04}")),
            encode(&out.originals),
        )
        .await?;
    let mut writes = vec![counters_write(&out.counters)];
    for (ap, partial) in out.partials.iter().enumerate() {
        if !partial.is_empty() {
            writes.push(SlotWrite {
                slot: partials_slot(ap as u32),
                blob: encode(partial),
            });
        }
    }
    Ok(writes)
}

async fn replies_job(
    backends: &Backends,
    ctx: Arc<RunContext>,
    part: u32,
) -> Result<Vec<SlotWrite>, JobError> {
    let run = ctx.run_id.clone();
    let originals_path = run_path(&run, &format!("originals/{part:04}"));
    let originals: Vec<Original> = decode(
        &originals_path,
        &backends.staging.get(&originals_path).await?,
    )?;
    let mut probes: Vec<ReplyProbe> = Vec::new();
    for path in backends
        .staging
        .list(&run_path(&run, &format!("probes/{part:04}")))
        .await?
    {
        probes.extend(decode::<Vec<ReplyProbe>>(
            &path,
            &backends.staging.get(&path).await?,
        )?);
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
    for (ap, p) in partial.iter().enumerate() {
        if !p.is_empty() {
            writes.push(SlotWrite {
                slot: partials_slot(ap as u32),
                blob: encode(p),
            });
        }
    }
    Ok(writes)
}

async fn reduce_job(
    backends: &Backends,
    ctx: Arc<RunContext>,
    part: u32,
) -> Result<Vec<SlotWrite>, JobError> {
    let run = ctx.run_id.clone();
    let slot = partials_slot(part);
    let blobs = backends.store.read_slot(&run, &slot).await?;
    let window = ctx.window();
    let (rows, histograms) = blocking(move || -> Result<_, JobError> {
        let partials: Vec<PartialAggregate> = blobs
            .iter()
            .map(|(job, b)| decode(&format!("{slot}/{job}"), b))
            .collect::<Result<_, _>>()?;
        let (rows, histograms) = reduce(&partials, &window);
        Ok((encode(&rows), histograms))
    })
    .await??;
    backends
        .staging
        .put(&run_path(&run, &format!("rows/{part:04}")), rows)
        .await?;
    Ok(vec![SlotWrite {
        slot: HISTOGRAMS_SLOT.to_owned(),
        blob: encode(&histograms),
    }])
}

async fn score_job(
    backends: &Backends,
    ctx: Arc<RunContext>,
    part: u32,
) -> Result<Vec<SlotWrite>, JobError> {
    let run = ctx.run_id.clone();
    let blobs = backends.store.read_slot(&run, HISTOGRAMS_SLOT).await?;
    let rows_path = run_path(&run, &format!("rows/{part:04}"));
    let rows_blob = backends.staging.get(&rows_path).await?;
    let c = ctx.clone();
    let lines = blocking(move || -> Result<Vec<u8>, JobError> {
        let mut histograms = Histograms::default();
        for (job, b) in &blobs {
            histograms.merge(&decode(&format!("{HISTOGRAMS_SLOT}/{job}"), b)?);
        }
        let table = histograms.into_table(c.settings.weights);
        let rows: Vec<EngagementRow> = decode(&rows_path, &rows_blob)?;
        let lines = score_rows(&rows, &table, &c.directory)
            .map_err(|e| JobError::Permanent(e.to_string()))?;
        Ok(encode(&lines))
    })
    .await??;
    backends.staging.put(&csv_path(&run, part), lines).await?;
    Ok(Vec::new())
}
