//! Checked hand-offs between phases. A consumer reads exactly what the
//! lineage ([`crate::layout`]) says its producers handed it, and checks each
//! staged blob against the ref its producer recorded: a missing, truncated
//! or altered blob, or a missing entry, is a [`HandoffError::Lost`] naming
//! the blob and the job that produced it (which can be run again), never
//! read as empty.

use rapport_common::plan::{Job, RunContext};

use crate::layout::{decode, encode, ref_producers, refs_slot, slot_producers, BlobRef, Consumer};
use crate::store::SlotWrite;
use crate::{BackendError, Backends, PartialStore, Staging};

/// Why a hand-off could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    /// What a done job produced is gone or damaged.
    #[error("{blob}, produced by {producer}, is lost: {why}", producer = producer.id())]
    Lost {
        /// The job whose output it is.
        producer: Job,
        /// The blob (staging path) or slot entry.
        blob: String,
        /// What was found instead.
        why: String,
    },
    /// The store or staging failed (worth a retry).
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Writes a staged blob; returns its ref for the consumer's refs slot.
pub async fn put_blob(
    staging: &dyn Staging,
    path: String,
    bytes: Vec<u8>,
) -> Result<BlobRef, BackendError> {
    let blob = BlobRef::of(&path, &bytes);
    staging.put(&path, bytes).await?;
    Ok(blob)
}

/// The store write that hands `refs` to the consumer whose refs slot is `slot`.
pub fn refs_write(slot: String, refs: &[BlobRef]) -> SlotWrite {
    SlotWrite {
        slot,
        blob: encode(&refs),
    }
}

/// The entries of `slot` written by `producers`, in their order; a missing
/// entry is lost output of its producer.
pub async fn read_slot_of(
    store: &dyn PartialStore,
    run: &str,
    slot: &str,
    producers: &[Job],
) -> Result<Vec<(Job, Vec<u8>)>, HandoffError> {
    let mut entries: std::collections::HashMap<String, Vec<u8>> =
        store.read_slot(run, slot).await?.into_iter().collect();
    producers
        .iter()
        .map(|job| {
            entries
                .remove(&job.id())
                .map(|bytes| (*job, bytes))
                .ok_or_else(|| HandoffError::Lost {
                    producer: *job,
                    blob: format!("store slot {slot}"),
                    why: "its entry is missing".to_owned(),
                })
        })
        .collect()
}

/// The entries `producers` wrote in `slot`, decoded, in their order; one
/// that does not decode is lost output of its producer.
pub async fn read_entries<T: serde::de::DeserializeOwned>(
    store: &dyn PartialStore,
    run: &str,
    slot: &str,
    producers: &[Job],
) -> Result<Vec<(Job, T)>, HandoffError> {
    read_slot_of(store, run, slot, producers)
        .await?
        .into_iter()
        .map(|(job, bytes)| {
            decode(&format!("{slot}/{}", job.id()), &bytes)
                .map(|entry| (job, entry))
                .map_err(|e| HandoffError::Lost {
                    producer: job,
                    blob: format!("store slot {slot}"),
                    why: e.to_string(),
                })
        })
        .collect()
}

/// The blob refs `producers` handed over in `slot`, in their order.
pub async fn read_refs(
    store: &dyn PartialStore,
    run: &str,
    slot: &str,
    producers: &[Job],
) -> Result<Vec<(Job, Vec<BlobRef>)>, HandoffError> {
    read_entries(store, run, slot, producers).await
}

/// Reads bytes `range` of the blob at `path` that `producer` staged (all
/// of it when `None`), unchecked; a missing blob is lost output of its
/// producer.
pub async fn read_staged(
    staging: &dyn Staging,
    producer: Job,
    path: &str,
    range: Option<std::ops::Range<u64>>,
) -> Result<Vec<u8>, HandoffError> {
    let read = match range {
        Some(range) => staging.get_range(path, range).await,
        None => staging.get(path).await,
    };
    read.map_err(|e| match e {
        BackendError::Missing(_) => HandoffError::Lost {
            producer,
            blob: path.to_owned(),
            why: "it is missing".to_owned(),
        },
        e => e.into(),
    })
}

/// Reads the blob `blob` that `producer` staged, checked against its ref.
pub async fn fetch(
    staging: &dyn Staging,
    producer: Job,
    blob: &BlobRef,
) -> Result<Vec<u8>, HandoffError> {
    let range = blob.part_at.map(|at| at..at + blob.size);
    let bytes = read_staged(staging, producer, &blob.path, range).await?;
    match blob.mismatch(&bytes) {
        None => Ok(bytes),
        Some(why) => Err(HandoffError::Lost {
            producer,
            blob: blob.path.clone(),
            why,
        }),
    }
}

/// Reads every blob `producers` handed over in `slot`, checked, in order.
pub async fn fetch_all(
    store: &dyn PartialStore,
    staging: &dyn Staging,
    run: &str,
    slot: &str,
    producers: &[Job],
) -> Result<Vec<(Job, BlobRef, Vec<u8>)>, HandoffError> {
    let mut out = Vec::new();
    for (job, refs) in read_refs(store, run, slot, producers).await? {
        for r in refs {
            let bytes = fetch(staging, job, &r).await?;
            out.push((job, r, bytes));
        }
    }
    Ok(out)
}

/// Every blob handed to `consumer` by the producers its lineage names, checked.
pub async fn fetch_for(
    backends: &Backends,
    ctx: &RunContext,
    consumer: Consumer,
) -> Result<Vec<(Job, BlobRef, Vec<u8>)>, HandoffError> {
    fetch_all(
        &*backends.store,
        &*backends.staging,
        &ctx.run_id,
        &refs_slot(consumer),
        &ref_producers(ctx, consumer),
    )
    .await
}

/// The entries of store slot `slot` from every producer its lineage names.
pub async fn read_slot_for(
    backends: &Backends,
    ctx: &RunContext,
    slot: &str,
) -> Result<Vec<(Job, Vec<u8>)>, HandoffError> {
    read_slot_of(
        &*backends.store,
        &ctx.run_id,
        slot,
        &slot_producers(ctx, slot),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory_store::MemoryStore;
    use crate::object_staging::ObjectStaging;
    use rapport_common::plan::Phase;

    const PRODUCER: Job = Job {
        phase: Phase::Ingest,
        part: 0,
    };

    async fn handed(staging: &ObjectStaging, store: &MemoryStore) {
        let epoch = match store.epoch("r").await.expect("epoch") {
            Some(e) => e,
            None => store.new_epoch("r").await.expect("epoch"),
        };
        let r = put_blob(staging, "runs/r/x".into(), b"payload".to_vec())
            .await
            .expect("put");
        store
            .complete_job(
                "r",
                epoch,
                PRODUCER,
                vec![refs_write("refs/c".into(), &[r])],
            )
            .await
            .expect("complete");
    }

    #[tokio::test]
    async fn blobs_come_back_checked_and_loss_names_blob_and_producer() {
        let dir = tempfile::tempdir().expect("dir");
        let staging = ObjectStaging::local(dir.path()).expect("staging");
        let store = MemoryStore::default();
        handed(&staging, &store).await;
        let got = fetch_all(&store, &staging, "r", "refs/c", &[PRODUCER])
            .await
            .expect("intact");
        assert_eq!(got[0].2, b"payload");

        for (damage, why) in [
            (Some(b"pay".to_vec()), "3 bytes"),
            (Some(b"PAYLOAD".to_vec()), "differ"),
            (None, "missing"),
        ] {
            handed(&staging, &store).await;
            match damage {
                Some(bytes) => staging.put("runs/r/x", bytes).await.expect("put"),
                None => std::fs::remove_file(dir.path().join("runs/r/x")).expect("rm"),
            }
            let err = fetch_all(&store, &staging, "r", "refs/c", &[PRODUCER])
                .await
                .expect_err("lost");
            let text = err.to_string();
            assert!(
                text.contains("runs/r/x") && text.contains("ingest-0000") && text.contains(why),
                "{text}"
            );
        }

        // A part of a blob comes back by itself, checked the same way.
        let part = BlobRef::part_of("runs/r/p", 3, b"der");
        let whole = BlobRef::part_of("runs/r/p", 0, b"lad");
        staging
            .put("runs/r/p", b"ladder".to_vec())
            .await
            .expect("put");
        assert_eq!(
            fetch(&staging, PRODUCER, &part).await.expect("part"),
            b"der"
        );
        assert_eq!(
            fetch(&staging, PRODUCER, &whole).await.expect("part"),
            b"lad"
        );
        for (damage, why) in [
            (&b"ladde"[..], "2 bytes"),
            (b"ladDER", "differ"),
            (b"la", "0 bytes"),
        ] {
            staging.put("runs/r/p", damage.to_vec()).await.expect("put");
            let err = fetch(&staging, PRODUCER, &part).await.expect_err("lost");
            assert!(matches!(&err, HandoffError::Lost { .. }), "{err}");
            assert!(err.to_string().contains(why), "{err}");
        }

        // A producer that handed nothing is lost output too.
        let other = Job {
            phase: Phase::Ingest,
            part: 1,
        };
        let err = read_refs(&store, "r", "refs/c", &[PRODUCER, other])
            .await
            .expect_err("lost");
        assert!(matches!(err, HandoffError::Lost { producer, .. } if producer == other));
    }
}
