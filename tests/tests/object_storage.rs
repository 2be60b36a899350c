//! Staging, inputs and outputs on object storage, against real servers the
//! tests start (SeaweedFS's S3 gateway, Azurite): a tenant read from a
//! bucket, staged in it and written back to it gives the bytes a local run
//! writes, on both backends. The workers' data roots hold only object
//! URLs, so they read nothing from a disk: a worker with no shared volume.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rapport_backend::object_staging::ObjectStaging;
use rapport_backend::object_url::StoreOptions;
use rapport_backend::{Backends, DataRoots, Staging};
use rapport_coordinator::{load_tenant_at, FileCaps, PlanOptions};
use rapport_generator::convert::TargetFormat;

use crate::formats::converted;
use crate::util::*;
use rapport_tests::files_below;
use rapport_tests::object_servers::ObjectServer;

/// The files of a set compared byte for byte.
const COMPARED: [&str; 3] = [
    "account_engagement.csv",
    "office_users.csv",
    "rejects.jsonl",
];

/// Copies every file below `dir` to `url` (keys relative to `dir`).
async fn upload_folder(stores: &StoreOptions, dir: &Path, url: &str) {
    let target = ObjectStaging::open(url, stores).expect("bucket");
    for rel in files_below(dir) {
        let bytes = std::fs::read(dir.join(&rel)).expect("file");
        let key = rel.to_string_lossy().into_owned();
        target.put(&key, bytes).await.expect("uploaded");
    }
}

/// The tenants run: the two examples (jsonl) and stockholm converted to
/// Graph and to mail (list responses read whole, mbox and `.eml`).
fn tenants(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut tenants: Vec<(String, PathBuf)> = ["stockholm", "newyork"]
        .map(|n| {
            (
                n.to_owned(),
                example(n).parent().expect("folder").to_owned(),
            )
        })
        .to_vec();
    for (name, format) in [("graph", TargetFormat::Graph), ("mail", TargetFormat::Mail)] {
        let config = converted("stockholm", format, &dir.join(name));
        tenants.push((name.to_owned(), config.parent().expect("folder").to_owned()));
    }
    tenants
}

/// Runs each tenant from `server` into `server`, staging there too, and
/// compares every file with a local run's.
async fn runs_like_a_local_run(kind: Backend, server: ObjectServer) {
    let stores = server.options();
    let prefix = unique_namespace("objects");
    let local = tempfile::tempdir().expect("dir");
    let inputs = server.url(&format!("{prefix}/in"));
    let outputs = server.url(&format!("{prefix}/out"));
    let roots = DataRoots::new(&[PathBuf::from(&inputs)], Some(Path::new(&outputs)))
        .expect("roots")
        .with_stores(stores.clone());
    let staging_url = server.url(&format!("{prefix}/staging"));
    let staging = ObjectStaging::open(&staging_url, &stores).expect("staging");
    let b = backends(kind).await;
    let on_objects = Backends {
        staging: Arc::new(staging),
        data_roots: Arc::new(roots),
        ..b.backends.clone()
    };
    // Cut small, so shards start inside files and are read by ranges.
    let options = RunOptions {
        plan: PlanOptions {
            shard_bytes: Some(40_000),
            ..PlanOptions::default()
        },
        workers: Some(2),
    };
    for (name, folder) in tenants(local.path()) {
        upload_folder(&stores, &folder, &format!("{inputs}/{name}")).await;
        let config = format!("{inputs}/{name}/tenant.toml");
        let out = format!("{outputs}/{name}");
        let report = run_on(&on_objects, Path::new(&config), Path::new(&out), options)
            .await
            .expect("the run on object storage succeeds");
        let (local_out, local_report) =
            run_tenant(kind, &folder.join("tenant.toml"), options).await;
        let written = ObjectStaging::open(&out, &stores).expect("outputs");
        for file in COMPARED {
            let expected = std::fs::read(local_out.path().join(file)).expect("local file");
            let actual = written.get(file).await.expect("published file");
            assert!(
                expected == actual,
                "{name}: {file} differs from a local run's"
            );
        }
        let published: rapport_common::report::RunReport =
            serde_json::from_slice(&written.get("run_report.json").await.expect("report"))
                .expect("report json");
        assert_eq!(
            published.run_id, report.run_id,
            "{name}: the report is the run's"
        );
        assert_eq!(
            (published.records, published.rejected, published.rows),
            (
                local_report.records,
                local_report.rejected,
                local_report.rows
            ),
            "{name}: counts"
        );
    }
    // Nothing of the runs is left in staging.
    let left = ObjectStaging::open(&staging_url, &stores)
        .expect("staging")
        .list("")
        .await
        .expect("listed");
    assert!(left.is_empty(), "staging left behind: {left:?}");
}

both_backends!(a_tenant_on_s3_runs_like_a_local_one, |kind| async move {
    runs_like_a_local_run(kind, ObjectServer::seaweedfs().await).await;
});

both_backends!(
    a_tenant_on_azure_blob_storage_runs_like_a_local_one,
    |kind| async move {
        runs_like_a_local_run(kind, ObjectServer::azurite().await).await;
    }
);

/// With only object roots, a local file is refused: the workers and the
/// loader read nothing from a disk. Errors name the URL and what is wrong,
/// never the endpoint or a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_roots_refuse_local_files_and_errors_hide_the_endpoint() {
    let server = ObjectServer::seaweedfs().await;
    let prefix = unique_namespace("objects");
    let inputs = server.url(&format!("{prefix}/in"));
    let roots = DataRoots::new(&[PathBuf::from(&inputs)], None)
        .expect("roots")
        .with_stores(server.options());
    let err = load_tenant_at(
        &example("stockholm").display().to_string(),
        Arc::new(roots.clone()),
        FileCaps::default(),
    )
    .await
    .err()
    .expect("a local tenant is refused");
    assert!(err.to_string().contains("outside the input roots"), "{err}");

    let missing = format!("{inputs}/nobody/tenant.toml");
    let err = load_tenant_at(&missing, Arc::new(roots), FileCaps::default())
        .await
        .err()
        .expect("missing")
        .to_string();
    assert!(err.contains(&missing) && err.contains("not found"), "{err}");
    assert!(!err.contains("127.0.0.1"), "{err}");

    let wrong = StoreOptions::given(
        [
            ("aws_endpoint", server.endpoint()),
            ("aws_access_key_id", "rapport-test".to_owned()),
            ("aws_secret_access_key", "not-the-secret".to_owned()),
            ("aws_region", "us-east-1".to_owned()),
            ("aws_allow_http", "true".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .to_vec(),
    );
    let staging = ObjectStaging::open(&server.url(&prefix), &wrong).expect("opened");
    let err = staging
        .put("x", b"x".to_vec())
        .await
        .expect_err("a wrong secret is refused")
        .to_string();
    assert!(
        !err.contains("127.0.0.1") && !err.contains("not-the-secret"),
        "{err}"
    );
}
