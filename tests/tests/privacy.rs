//! No subject, body, description, location, address, message id or uid
//! reaches staging or the outputs (but `office_users.csv`, the selected
//! mailboxes), whatever the input format. The example tenants carry marker
//! strings (`CANARY-...`) as subjects; converted to Graph and mail they
//! carry them in every content field those formats have. Every address
//! and id of the inputs is collected (`rapport_tests::secrets`) and searched
//! for in any case.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rapport_generator::convert::TargetFormat;
use rapport_tests::secrets::{find_in, find_in_bytes, secrets_of};

use crate::formats::converted;
use crate::util::*;

both_backends!(
    no_content_or_address_reaches_staging_or_outputs,
    |kind| async move {
        let dir = tempfile::tempdir().expect("dir");
        let graph = converted("stockholm", TargetFormat::Graph, &dir.path().join("graph"));
        let mail = converted("stockholm", TargetFormat::Mail, &dir.path().join("mail"));
        // The markers are there, in every content field of each format.
        let text = activity_text(&graph);
        for field in [
            "\"subject\":\"CANARY",
            "\"bodyPreview\":\"CANARY",
            "\"displayName\":\"CANARY",
        ] {
            assert!(text.contains(field), "graph input holds {field}");
        }
        let text = activity_text(&mail);
        for field in [
            "Subject: CANARY",
            "\nCANARY",
            "SUMMARY:CANARY",
            "DESCRIPTION:CANARY",
            "LOCATION:CANARY",
        ] {
            assert!(text.contains(field), "mail input holds {field:?}");
        }
        for config in [
            example("stockholm"),
            graph,
            mail,
            crate::ties::ties(),
            crate::quirks::quirks(),
        ] {
            check_run(kind, &config).await;
        }
    }
);

/// Every activity file of a converted tenant, as one text.
fn activity_text(config: &std::path::Path) -> String {
    let mut text = String::new();
    let mut dirs = vec![config.with_file_name("activity")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).expect("activity") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                text.push_str(&std::fs::read_to_string(path).expect("text"));
            }
        }
    }
    text
}

async fn check_run(kind: Backend, config: &Path) {
    let secrets = secrets_of(config.parent().expect("tenant folder"));
    assert!(secrets.len() > 10, "{config:?}: {secrets:?}");
    let b = backends(kind).await;
    let recording = Arc::new(RecordingStaging {
        inner: b.backends.staging.clone(),
        written: Mutex::new(Vec::new()),
    });
    let mut backends = b.backends.clone();
    backends.staging = recording.clone();
    let out = tempfile::tempdir().expect("out");
    run_on(&backends, config, out.path(), RunOptions::default())
        .await
        .expect("run");
    let written = recording.written.lock().expect("lock");
    assert!(!written.is_empty());
    // Staged blobs are binary: no text of the input may appear in them.
    // (Account domains travel in the run context: configuration, not people.)
    for (path, bytes) in written.iter() {
        assert!(
            !String::from_utf8_lossy(bytes).contains("CANARY"),
            "{path} holds a subject"
        );
        if let Some(secret) = find_in_bytes(bytes, &secrets) {
            panic!("{path} holds {secret:?}");
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
            if let Some(secret) = find_in(&text, &secrets) {
                panic!("{config:?}: {name} holds {secret:?}");
            }
        }
    }
}
