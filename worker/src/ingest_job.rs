//! The ingest job: reads its shards piece by piece and stages what each key
//! partition gets a batch at a time (the run context's
//! `staged_batch_bytes`), so its memory stays flat however large its shards
//! grow (past 8 GB of input they do: the planner caps ingest jobs). A batch
//! is one blob, its key partitions' bytes one after the other: a file per
//! batch, not per key partition and batch. Where each key partition's part
//! lies is staged once, in the job's part index
//! (`rapport_backend::part_index`), whose ref is the job's one entry in the
//! store. The reading and parsing run on a blocking thread, which hands
//! each full batch to the async side; that stages it while the next one
//! fills.

use std::sync::Arc;

use rapport_backend::handoff::{put_blob, refs_write};
use rapport_backend::layout::{
    self, index_path, ingest_path, refs_slot, rejects_path, Consumer, INGEST_INDEX_SLOT,
    REJECTS_PER_CHUNK,
};
use rapport_backend::part_index::{encode_index, PartRange};
use rapport_backend::store::SlotWrite;
use rapport_backend::{Backends, DataRoots};
use rapport_common::counters::RunCounters;
use rapport_common::plan::RunContext;
use rapport_common::record::ShardId;
use rapport_common::reject::RejectLine;
use rapport_formats::{ingest_shard, FormatContext};
use tokio::sync::mpsc;

use crate::jobs::{counters_write, panicked, JobError};
use crate::shard_reader::{for_each_piece, PIECE_BYTES};

/// Staged bytes by key partition, staged together.
type Batch = Vec<Vec<u8>>;

/// Staged bytes gathered by key partition until they make a batch.
struct Batches {
    partitions: Batch,
    bytes: u64,
    limit: u64,
    /// Room a key partition's buffer is given at once: its even share of a
    /// batch and a quarter more, so that buffers do not double their way
    /// there (a doubled buffer holds up to twice its bytes).
    share: usize,
}

impl Batches {
    fn new(key_partitions: u32, limit: u64) -> Batches {
        let parts = key_partitions.max(1) as usize;
        let even = (limit.max(1) as usize).div_ceil(parts);
        Batches {
            partitions: vec![Vec::new(); parts],
            bytes: 0,
            limit: limit.max(1),
            share: even + even / 4,
        }
    }

    /// Adds one piece's staged bytes by key partition; returns the batch
    /// when it has reached the limit.
    fn add(&mut self, piece: Batch) -> Option<Batch> {
        for (all, blob) in self.partitions.iter_mut().zip(piece) {
            if blob.is_empty() {
                continue;
            }
            self.bytes += blob.len() as u64;
            if all.capacity() == 0 {
                all.reserve_exact(self.share.max(blob.len()));
            }
            all.extend_from_slice(&blob);
        }
        (self.bytes >= self.limit).then(|| self.take())
    }

    /// Whatever is gathered (perhaps nothing), leaving none.
    fn take(&mut self) -> Batch {
        self.bytes = 0;
        self.partitions.iter_mut().map(std::mem::take).collect()
    }
}

/// What reading an ingest job's shards found besides its staged bytes.
type Found = (Vec<RejectLine>, RunCounters);

/// Sends `batch` to the staging side and waits until that has taken it,
/// which it does once the batch before is staged: so at most two batches
/// are held, the one being staged and the one filling. False when the
/// staging side has stopped.
fn hand_over(batches: &mpsc::Sender<Batch>, batch: Batch) -> bool {
    batches.blocking_send(batch).is_ok()
        && tokio::runtime::Handle::current()
            .block_on(batches.reserve())
            .is_ok()
}

/// Reads the shards of ingest job `part` (blocking), sending each batch
/// of staged bytes to `batches`.
fn read_group(
    roots: &DataRoots,
    ctx: &RunContext,
    part: u32,
    batches: &mpsc::Sender<Batch>,
) -> Result<Found, JobError> {
    let group = ctx
        .shard_groups
        .get(part as usize)
        .ok_or_else(|| JobError::Permanent(format!("no shard group {part} in the plan")))?;
    let format_ctx = FormatContext::of(ctx);
    let mut gathered = Batches::new(ctx.key_partitions, ctx.staged_batch_bytes);
    let mut rejects = Vec::new();
    let mut counters = RunCounters::default();
    // The async side stops taking batches only when staging failed, and
    // then it returns that error: what is read after it is not needed.
    let stopped = || JobError::Permanent("the job stopped staging".to_owned());
    let mut taken = true;
    for (index, shard) in group.iter().enumerate() {
        let id = ShardId {
            group: part,
            index: index as u32,
        };
        if let Some(reject) = shard.too_large() {
            counters.count_reject(reject.reason);
            rejects.push(reject);
            continue;
        }
        for_each_piece(roots, shard, id, PIECE_BYTES, |bytes| {
            if !taken {
                return;
            }
            let out = ingest_shard(bytes, shard.format, &format_ctx);
            rejects.extend(out.rejects);
            counters.merge(&out.counters);
            if let Some(batch) = gathered.add(out.partitions) {
                taken = hand_over(batches, batch);
            }
        })
        .map_err(|e| JobError::Permanent(format!("cannot read input {}: {e}", shard.file)))?;
        if !taken {
            return Err(stopped());
        }
    }
    batches
        .blocking_send(gathered.take())
        .map_err(|_| stopped())?;
    Ok((rejects, counters))
}

/// Runs ingest job `part` and returns the store writes that complete it:
/// its counters, the ref of its part index (each key partition's part of
/// every batch) and its rejects' refs.
pub async fn ingest(
    backends: &Backends,
    ctx: Arc<RunContext>,
    part: u32,
) -> Result<Vec<SlotWrite>, JobError> {
    let run = ctx.run_id.clone();
    // One batch is staged while the next fills (see `hand_over`).
    let (sender, mut received) = mpsc::channel(1);
    let (c, roots) = (ctx.clone(), backends.data_roots.clone());
    let reading = tokio::task::spawn_blocking(move || read_group(&roots, &c, part, &sender));
    // cells[kp][batch]: where key partition kp's part of the batch lies.
    let mut cells: Vec<Vec<PartRange>> = vec![Vec::new(); ctx.key_partitions.max(1) as usize];
    let mut batch = 0;
    while let Some(partitions) = received.recv().await {
        // A batch with nothing is not staged and takes no cell.
        if partitions.iter().all(Vec::is_empty) {
            continue;
        }
        // One blob: the key partitions' bytes one after the other.
        let mut at = 0;
        for (kp, bytes) in partitions.iter().enumerate() {
            cells[kp].push(PartRange::of(at, bytes));
            at += bytes.len() as u64;
        }
        let path = ingest_path(&run, part, batch);
        backends.staging.put_parts(&path, partitions).await?;
        batch += 1;
    }
    let (mut rejects, counters) = reading.await.map_err(panicked)??;
    let (index, index_ref) = encode_index(&index_path(&run, part), &cells);
    backends.staging.put(&index_ref.path, index).await?;
    let mut writes = vec![
        counters_write(&counters),
        SlotWrite {
            slot: INGEST_INDEX_SLOT.to_owned(),
            blob: layout::encode(&index_ref),
        },
    ];
    // Sorted and chunked, for the writer's merge of every job's rejects.
    rejects.sort_unstable();
    let mut reject_refs = Vec::new();
    for (i, chunk) in rejects.chunks(REJECTS_PER_CHUNK).enumerate() {
        let path = rejects_path(&run, part, i);
        reject_refs.push(put_blob(&*backends.staging, path, layout::encode(&chunk)).await?);
    }
    writes.push(refs_write(refs_slot(Consumer::Writer), &reject_refs));
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(parts: &[&[u8]]) -> Batch {
        parts.iter().map(|p| p.to_vec()).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_is_handed_over_once_the_staging_side_has_taken_it() {
        let (sender, mut received) = mpsc::channel(1);
        let reading = tokio::task::spawn_blocking(move || {
            let taken = hand_over(&sender, piece(&[b"a"]));
            // Taken, not waiting in the channel: the room is free again.
            (taken, sender.capacity())
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(received.recv().await, Some(piece(&[b"a"])));
        assert_eq!(reading.await.expect("reader"), (true, 1));
        // With the staging side gone, handing over fails.
        let (sender, received) = mpsc::channel(1);
        drop(received);
        let gone = tokio::task::spawn_blocking(move || hand_over(&sender, piece(&[b"b"])));
        assert!(!gone.await.expect("reader"));
    }

    #[test]
    fn batches_hand_on_every_byte_in_order_once_they_reach_the_limit() {
        let mut gathered = Batches::new(2, 5);
        assert_eq!(gathered.add(piece(&[b"ab", b""])), None);
        assert_eq!(
            gathered.add(piece(&[b"c", b"de"])),
            Some(piece(&[b"abc", b"de"]))
        );
        assert_eq!(gathered.add(piece(&[b"", b"f"])), None);
        assert_eq!(gathered.take(), piece(&[b"", b"f"]));
        assert_eq!(gathered.take(), piece(&[b"", b""]));
        // A piece past the limit is a batch by itself.
        assert_eq!(
            gathered.add(piece(&[b"123456", b""])),
            Some(piece(&[b"123456", b""]))
        );
    }
}
