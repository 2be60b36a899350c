//! An ingest job's part index: where each key partition's part of every
//! batch blob lies. Staged beside the batches, one fixed-size row per key
//! partition, so an aggregate job reads only its own row; the store holds
//! one [`IndexRef`] per ingest job. The store then grows with the ingest
//! jobs, not with ingest jobs × key partitions × batches, which past 256
//! ingest jobs grows with the square of the input (docs/scaling.md).
//!
//! A row checks itself: it carries its key partition, the digest of the
//! whole index's cells (so a row of another attempt's index is refused),
//! and a digest of the row. Each part is then checked against its cell like
//! any staged blob against its ref.

use serde::{Deserialize, Serialize};

use crate::handoff::{fetch, read_entries, read_staged, HandoffError};
use crate::layout::{ingest_path, slot_producers, BlobRef, INGEST_INDEX_SLOT};
use crate::{Backends, Staging};
use rapport_common::plan::{Job, RunContext};

/// A key partition's part of one batch blob: nothing when `size` is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartRange {
    /// Where the part starts in the batch blob.
    pub at: u64,
    /// Its length in bytes.
    pub size: u64,
    /// xxh3-64 of its bytes.
    pub digest: u64,
}

impl PartRange {
    /// The range of `bytes` stored at byte `at` of a batch blob.
    pub fn of(at: u64, bytes: &[u8]) -> PartRange {
        PartRange {
            at,
            size: bytes.len() as u64,
            digest: xxhash_rust::xxh3::xxh3_64(bytes),
        }
    }
}

/// What an ingest job records in the store: where its index is, and its shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRef {
    /// Staging path of the index.
    pub path: String,
    /// Key partitions (rows).
    pub key_partitions: u32,
    /// Batch blobs of the job (cells a row).
    pub batches: u32,
    /// xxh3-64 of every cell of the index, which each row repeats.
    pub cells_digest: u64,
}

const CELL_BYTES: u64 = 24;
/// Key partition (4), cells digest (8), row digest (8).
const ROW_OVERHEAD: u64 = 20;

impl IndexRef {
    fn row_bytes(&self) -> u64 {
        ROW_OVERHEAD + CELL_BYTES * u64::from(self.batches)
    }

    /// Where key partition `kp`'s row lies in the index.
    pub fn row_range(&self, kp: u32) -> std::ops::Range<u64> {
        let start = u64::from(kp) * self.row_bytes();
        start..start + self.row_bytes()
    }

    /// The parts of `kp` in `row` (the bytes read at [`row_range`](Self::row_range)),
    /// or why the row is not the one this ref names.
    pub fn parse_row(&self, kp: u32, row: &[u8]) -> Result<Vec<PartRange>, String> {
        if row.len() as u64 != self.row_bytes() {
            return Err(format!(
                "row {kp} has {} bytes where {} were written",
                row.len(),
                self.row_bytes()
            ));
        }
        let (body, digest) = row.split_at(row.len() - 8);
        if xxhash_rust::xxh3::xxh3_64(body) != u64_at(digest, 0) {
            return Err(format!("row {kp} differs from what was written"));
        }
        if u32::from_le_bytes([body[0], body[1], body[2], body[3]]) != kp
            || u64_at(body, 4) != self.cells_digest
        {
            return Err(format!("row {kp} belongs to another index"));
        }
        Ok(body[12..]
            .chunks_exact(CELL_BYTES as usize)
            .map(|cell| PartRange {
                at: u64_at(cell, 0),
                size: u64_at(cell, 8),
                digest: u64_at(cell, 16),
            })
            .collect())
    }
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// The index of `cells[kp][batch]` (a row shorter than the longest has
/// nothing in its last batches), and its ref once staged at `path`.
pub fn encode_index(path: &str, cells: &[Vec<PartRange>]) -> (Vec<u8>, IndexRef) {
    let batches = cells.iter().map(Vec::len).max().unwrap_or(0);
    let row_cells = batches * CELL_BYTES as usize;
    let mut all = Vec::with_capacity(cells.len() * row_cells);
    for row in cells {
        for batch in 0..batches {
            let cell = row.get(batch).copied().unwrap_or_default();
            all.extend_from_slice(&cell.at.to_le_bytes());
            all.extend_from_slice(&cell.size.to_le_bytes());
            all.extend_from_slice(&cell.digest.to_le_bytes());
        }
    }
    let index = IndexRef {
        path: path.to_owned(),
        key_partitions: cells.len() as u32,
        batches: batches as u32,
        cells_digest: xxhash_rust::xxh3::xxh3_64(&all),
    };
    let mut bytes = Vec::with_capacity(cells.len() * index.row_bytes() as usize);
    for kp in 0..cells.len() {
        let start = bytes.len();
        bytes.extend_from_slice(&(kp as u32).to_le_bytes());
        bytes.extend_from_slice(&index.cells_digest.to_le_bytes());
        bytes.extend_from_slice(&all[kp * row_cells..(kp + 1) * row_cells]);
        let digest = xxhash_rust::xxh3::xxh3_64(&bytes[start..]);
        bytes.extend_from_slice(&digest.to_le_bytes());
    }
    (bytes, index)
}

/// Reads key partition `kp`'s parts of every batch of ingest job
/// `producer`, whose index is `index`: each checked, in batch order.
pub async fn fetch_parts(
    staging: &dyn Staging,
    run: &str,
    producer: Job,
    index: &IndexRef,
    kp: u32,
) -> Result<Vec<(BlobRef, Vec<u8>)>, HandoffError> {
    let lost = |why: String| HandoffError::Lost {
        producer,
        blob: index.path.clone(),
        why,
    };
    if kp >= index.key_partitions {
        return Err(lost(format!(
            "it has {} rows, not one for key partition {kp}",
            index.key_partitions
        )));
    }
    let row = read_staged(staging, producer, &index.path, Some(index.row_range(kp))).await?;
    let parts = index.parse_row(kp, &row).map_err(lost)?;
    let mut out = Vec::new();
    for (batch, part) in parts.into_iter().enumerate() {
        if part.size == 0 {
            continue;
        }
        let blob = BlobRef {
            path: ingest_path(run, producer.part, batch as u32),
            part_at: Some(part.at),
            size: part.size,
            digest: part.digest,
        };
        let bytes = fetch(staging, producer, &blob).await?;
        out.push((blob, bytes));
    }
    Ok(out)
}

/// Every part of key partition `kp` that the run's ingest jobs staged,
/// checked, in job and batch order: what aggregate job `kp` reads.
pub async fn fetch_ingested(
    backends: &Backends,
    ctx: &RunContext,
    kp: u32,
) -> Result<Vec<(Job, BlobRef, Vec<u8>)>, HandoffError> {
    let producers = slot_producers(ctx, INGEST_INDEX_SLOT);
    let indexes: Vec<(Job, IndexRef)> =
        read_entries(&*backends.store, &ctx.run_id, INGEST_INDEX_SLOT, &producers).await?;
    let mut out = Vec::new();
    for (producer, index) in indexes {
        for (blob, bytes) in
            fetch_parts(&*backends.staging, &ctx.run_id, producer, &index, kp).await?
        {
            out.push((producer, blob, bytes));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells() -> Vec<Vec<PartRange>> {
        // Two key partitions, three batches; kp 1 has nothing in batch 0.
        vec![
            vec![
                PartRange::of(0, b"ab"),
                PartRange::of(0, b"c"),
                PartRange::of(0, b"d"),
            ],
            vec![
                PartRange::default(),
                PartRange::of(1, b"xyz"),
                PartRange::of(1, b"w"),
            ],
        ]
    }

    #[test]
    fn a_short_row_has_nothing_in_its_last_batches() {
        let (bytes, index) = encode_index("p", &[vec![PartRange::of(0, b"a")], Vec::new()]);
        assert_eq!(index.batches, 1);
        let r = index.row_range(1);
        let row = &bytes[r.start as usize..r.end as usize];
        assert_eq!(index.parse_row(1, row), Ok(vec![PartRange::default()]));
    }

    fn row(bytes: &[u8], index: &IndexRef, kp: u32) -> Vec<u8> {
        let r = index.row_range(kp);
        bytes[r.start as usize..r.end as usize].to_vec()
    }

    #[test]
    fn each_row_gives_back_its_key_partitions_parts() {
        let cells = cells();
        let (bytes, index) = encode_index("runs/r/ingest/00000-index", &cells);
        assert_eq!((index.key_partitions, index.batches), (2, 3));
        assert_eq!(bytes.len() as u64, index.row_range(1).end);
        for kp in 0..2 {
            let parts = index.parse_row(kp, &row(&bytes, &index, kp));
            assert_eq!(parts.as_deref(), Ok(&cells[kp as usize][..]));
        }
        // No batches at all: rows of overhead only, still checked.
        let (empty, index) = encode_index("p", &[Vec::new(), Vec::new()]);
        assert_eq!(index.parse_row(1, &row(&empty, &index, 1)), Ok(Vec::new()));
    }

    #[test]
    fn a_damaged_short_misplaced_or_foreign_row_is_refused() {
        let (bytes, index) = encode_index("p", &cells());
        let mut damaged = row(&bytes, &index, 0);
        damaged[13] ^= 1;
        assert!(index
            .parse_row(0, &damaged)
            .is_err_and(|e| e.contains("differs")));
        let short = &row(&bytes, &index, 0)[..10];
        assert!(index
            .parse_row(0, short)
            .is_err_and(|e| e.contains("bytes")));
        // Row 1 read as row 0.
        assert!(index
            .parse_row(0, &row(&bytes, &index, 1))
            .is_err_and(|e| e.contains("another index")));
        // The same shape from another attempt with other parts.
        let mut other = cells();
        other[0][0] = PartRange::of(0, b"AB");
        let (foreign, _) = encode_index("p", &other);
        assert!(index
            .parse_row(1, &row(&foreign, &index, 1))
            .is_err_and(|e| e.contains("another index")));
    }
}
