//! Output independent of partitioning (shards, key and account partitions,
//! the batches ingest jobs stage), workers and job order, and of jobs
//! delivered twice (property tests over a small input space): a generated
//! tenant whose copies differ as real mailboxes' do, in jsonl, Graph and
//! mail form, and the tenant whose copies tie (read again for their text),
//! cut into shards sized against their files, so that most cases cut them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use rapport_coordinator::PlanOptions;
use rapport_generator::convert::TargetFormat;

use crate::formats::converted_from;
use crate::util::*;

fn reference(config: &Path) -> String {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let (out, _) = run_tenant(Backend::Embedded, config, RunOptions::default()).await;
        std::fs::read_to_string(out.path().join("account_engagement.csv")).expect("csv")
    })
}

/// Size of the largest file under the tenant's `activity/`.
fn largest_input(config: &Path) -> u64 {
    let mut largest = 0;
    let mut dirs = vec![config.with_file_name("activity")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).expect("activity").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                largest = largest.max(entry.metadata().expect("metadata").len());
            }
        }
    }
    largest
}

/// (configuration, expected CSV, largest input file) of each tenant.
fn tenants(dir: &Path) -> Vec<(PathBuf, String, u64)> {
    let jsonl = small_tenant(&dir.join("jsonl"), 11);
    let expected = reference(&jsonl);
    let mut configs = vec![(jsonl.clone(), expected.clone())];
    for format in [TargetFormat::Graph, TargetFormat::Mail] {
        let config = converted_from(&jsonl, format, &dir.join(format!("{format:?}")));
        configs.push((config, expected.clone()));
    }
    let ties = crate::ties::ties();
    let expected_ties =
        std::fs::read_to_string(ties.with_file_name("expected/account_engagement.csv"))
            .expect("expected");
    configs.push((ties, expected_ties));
    configs
        .into_iter()
        .map(|(config, expected)| {
            let largest = largest_input(&config);
            (config, expected, largest)
        })
        .collect()
}

fn check_plan(kind: Backend, cases: u32) {
    let dir = tempfile::tempdir().expect("dir");
    let tenants = Arc::new(tenants(dir.path()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    proptest!(ProptestConfig::with_cases(cases), |(tenant in 0usize..4, sixty_fourths in 1u64..=64, kp in 1u32..9,
                                                    ap in 1u32..7, batch in 1u64..65_536, workers in 1usize..4, seed in any::<u64>(), duplicate in any::<bool>())| {
        let (config, expected, largest) = tenants[tenant].clone();
        // Shards from 1/64 of the largest file to all of it.
        let shard = (largest * sixty_fourths / 64).max(1);
        let actual = rt.block_on(async move {
            let b = backends(kind).await;
            let mut backends = b.backends.clone();
            backends.queue = Arc::new(ShufflingQueue { inner: backends.queue.clone(), seed, duplicate });
            let out = tempfile::tempdir().expect("out");
            let plan = PlanOptions { shard_bytes: Some(shard), key_partitions: Some(kp), account_partitions: Some(ap), staged_batch_bytes: Some(batch), ..PlanOptions::default() };
            run_on(&backends, &config, out.path(), RunOptions { plan, workers: Some(workers) }).await.expect("run");
            std::fs::read_to_string(out.path().join("account_engagement.csv")).expect("csv")
        });
        prop_assert!(actual == expected, "output differs for tenant={tenant} shard={shard} kp={kp} ap={ap} batch={batch} workers={workers} seed={seed} duplicate={duplicate}");
    });
}

#[test]
fn output_is_independent_of_partitioning_and_job_order_embedded() {
    check_plan(Backend::Embedded, 24);
}

#[test]
fn output_is_independent_of_partitioning_and_job_order_cluster() {
    check_plan(Backend::Cluster, 8);
}
