//! No subject, body or address reaches staging or the outputs.

use std::sync::{Arc, Mutex};

use crate::util::*;

both_backends!(
    no_content_or_address_reaches_staging_or_outputs,
    |kind| async move {
        let b = backends(kind).await;
        let recording = Arc::new(RecordingStaging {
            inner: b.backends.staging.clone(),
            written: Mutex::new(Vec::new()),
        });
        let mut backends = b.backends.clone();
        backends.staging = recording.clone();
        let out = tempfile::tempdir().expect("out");
        run_on(
            &backends,
            &example("stockholm"),
            out.path(),
            RunOptions::default(),
        )
        .await
        .expect("run");
        let written = recording.written.lock().expect("lock");
        assert!(!written.is_empty());
        // Staged blobs are binary: no text of the input may appear in them.
        // (Account domains travel in the run context: configuration, not people.)
        for (path, bytes) in written.iter() {
            let text = String::from_utf8_lossy(bytes);
            for marker in ["CANARY", "contoso.com", "mail.example", "gmail"] {
                assert!(!text.contains(marker), "{path} holds {marker:?}");
            }
        }
        for name in [
            "account_engagement.csv",
            "office_users.csv",
            "rejects.jsonl",
            "run_report.json",
        ] {
            let text = std::fs::read_to_string(out.path().join(name)).expect("output");
            assert!(!text.contains("CANARY"), "{name} holds a subject");
            // office_users.csv is the one output listing org addresses, by design.
            if name != "office_users.csv" {
                assert!(!text.contains('@'), "{name} holds an address");
            }
        }
    }
);
