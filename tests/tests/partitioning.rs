//! Output independent of partitioning, workers and job order, and of jobs
//! delivered twice (property tests over a small input space).

use std::sync::Arc;

use proptest::prelude::*;
use rapport_coordinator::PlanOptions;

use crate::util::*;

fn reference(config: &std::path::Path) -> String {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let (out, _) = run_tenant(Backend::Embedded, config, RunOptions::default()).await;
        std::fs::read_to_string(out.path().join("account_engagement.csv")).expect("csv")
    })
}

fn check_plan(kind: Backend, cases: u32) {
    let dir = tempfile::tempdir().expect("dir");
    let config = small_tenant(dir.path(), 11);
    let expected = reference(&config);
    let config = Arc::new(config);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    proptest!(ProptestConfig::with_cases(cases), |(shard in 1_000u64..200_000, kp in 1u32..9, ap in 1u32..7,
                                                    workers in 1usize..4, seed in any::<u64>(), duplicate in any::<bool>())| {
        let config = config.clone();
        let actual = rt.block_on(async move {
            let b = backends(kind).await;
            let mut backends = b.backends.clone();
            backends.queue = Arc::new(ShufflingQueue { inner: backends.queue.clone(), seed, duplicate });
            let out = tempfile::tempdir().expect("out");
            let plan = PlanOptions { shard_bytes: Some(shard), key_partitions: Some(kp), account_partitions: Some(ap), ..PlanOptions::default() };
            run_on(&backends, &config, out.path(), RunOptions { plan, workers: Some(workers) }).await.expect("run");
            std::fs::read_to_string(out.path().join("account_engagement.csv")).expect("csv")
        });
        prop_assert!(actual == expected, "output differs for shard={shard} kp={kp} ap={ap} workers={workers} seed={seed} duplicate={duplicate}");
    });
}

#[test]
fn output_is_independent_of_partitioning_and_job_order_embedded() {
    check_plan(Backend::Embedded, 12);
}

#[test]
fn output_is_independent_of_partitioning_and_job_order_cluster() {
    check_plan(Backend::Cluster, 4);
}
