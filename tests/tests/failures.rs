//! A job that cannot succeed ends its run with a message naming it, and the
//! backends serve the next run.

use crate::util::*;

both_backends!(
    poisoned_staging_fails_the_run_naming_the_blob_and_later_runs_succeed,
    |kind| async move {
        let b = backends(kind).await;
        let dir = tempfile::tempdir().expect("dir");
        let config = small_tenant(dir.path(), 5);
        // A staging area whose blobs cannot be read back: every aggregate job fails.
        let mut poisoned = b.backends.clone();
        poisoned.staging = std::sync::Arc::new(InterceptedStaging::reads(
            b.backends.staging.clone(),
            Box::new(|path, bytes| {
                if path.contains("/ingest/") {
                    vec![0xff; 7]
                } else {
                    bytes
                }
            }),
        ));
        let out = tempfile::tempdir().expect("out");
        let err = run_on(&poisoned, &config, out.path(), RunOptions::default())
            .await
            .expect_err("fails");
        // Each read is garbled: recomputing the producer cannot heal it.
        let message = err.to_string();
        assert!(message.contains("/ingest/"), "{message}");
        assert!(message.contains("ingest-0000"), "{message}");
        assert!(message.contains("lost each time"), "{message}");
        // The same backends run the next run fine, with a clean run's bytes.
        let out = tempfile::tempdir().expect("out");
        run_on(&b.backends, &config, out.path(), RunOptions::default())
            .await
            .expect("later run succeeds");
        let (clean, _) = run_tenant(Backend::Embedded, &config, RunOptions::default()).await;
        assert_same_file(
            &clean.path().join("account_engagement.csv"),
            &out.path().join("account_engagement.csv"),
        );
    }
);
