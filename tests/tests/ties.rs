//! Copies of one record that differ (ENGAGEMENT.md §2), through the whole
//! engine: the tenant of `tests/data/ties` holds, in three mailboxes, copies
//! that tie on time and differ in sender, organizer or `in_reply_to` (the
//! merge reads their records again for the text), a bcc only in the
//! sender's copy, a declined response only in the organizer's copy, copies
//! of one meeting at different times, and a weekly series held by all three
//! mailboxes whose one decline is known to the decliner's copy alone (each
//! format must keep three copies of it, never one). Its expected output was worked
//! out by hand from §2 (below) and agrees with the DuckDB peer
//! (`cli/tests/peer.rs`). Every format and both backends give it, and an
//! input that changes between ingest and the re-read fails the run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rapport_coordinator::PlanOptions;
use rapport_generator::convert::TargetFormat;

use crate::formats::converted_from;
use crate::util::*;

/// The fixture's configuration.
pub fn ties() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/ties/tenant.toml")
}

/// The fields of the fixture's one Month row (FAB, 2026-03), by column.
fn month_row(csv: &str) -> Vec<String> {
    let header: Vec<&str> = csv.lines().next().expect("header").split(',').collect();
    let row = csv
        .lines()
        .find(|l| l.ends_with(",2026-03-01,Month"))
        .expect("the month row");
    let fields: Vec<&str> = row.split(',').collect();
    let get = |name: &str| fields[header.iter().position(|h| *h == name).expect(name)].to_owned();
    [
        "NoOfEmails_ToAccount",
        "NoOfEmails_FromAccount",
        "NoOfMeetings_ToAccount",
        "NoOfMeetings_FromAccount",
        "NoOfContactsInvolved_Emails",
        "NoOfAccountContactsInvolved_Emails",
        "NoOfContactsInvolved_Meetings",
        "NoOfAccountContactsInvolved_Meetings",
        "AverageDuration_Of_Meetings",
        "AverageDuration_Of_AccountEmailReplies",
    ]
    .map(get)
    .to_vec()
}

async fn check(kind: Backend, config: &Path, plan: PlanOptions) {
    let options = RunOptions {
        plan,
        ..RunOptions::default()
    };
    let (out, report) = run_tenant(kind, config, options).await;
    let csv = std::fs::read_to_string(out.path().join("account_engagement.csv")).expect("csv");
    // Emails to FAB: orig-a, orig-z and bcc1 (Anna writes). From FAB: tie1
    // (its copies tie at 10:00Z; "bo@fabrikam.com" < "zed@contoso.com", so
    // Bo's copy gives the sender) and tie2. Org people in emails: Anna and
    // Carl (Zed's copy of tie1 lost, so Zed is no participant); FAB people:
    // Bo and Eve (bcc'd in Anna's copy only). Meetings, all to FAB: tie-m1
    // ("anna@..." < "bo@..." organizes; 30 min, Bo and Zed attend),
    // early-m3 (Carl's copy starts first: 15 min), declined-m4 (Eve
    // declined in Anna's copy only: out; 45 min), and the three 60-minute
    // meetings of weekly-s: (30+15+45+3*60)/6 = 45.00; org people Anna, Zed,
    // Carl; FAB people Bo. tie2's copies tie and differ in in_reply_to:
    // "<orig-a@x>" < "<orig-z@x>", so the reply answers orig-a, two days
    // (2,880 min) earlier.
    assert_eq!(
        month_row(&csv),
        ["3", "2", "6", "0", "2", "2", "3", "1", "45.00", "2880.00"],
        "{config:?}"
    );
    // Zed declined weekly-s in Zed's own copy only: the weeks of 16 and
    // 23 March hold just that series, with Anna and Carl (3 with Zed).
    for week in ["2026-03-16", "2026-03-23"] {
        let row = csv
            .lines()
            .find(|l| l.ends_with(&format!(",{week},Week")))
            .expect("week row");
        assert_eq!(row.split(',').nth(6), Some("2"), "{config:?}: {row}");
    }
    assert_same_file(
        &ties().with_file_name("expected/account_engagement.csv"),
        &out.path().join("account_engagement.csv"),
    );
    assert_eq!(report.duplicates, 12, "23 copies of 11 records");
    assert_eq!(report.replies, 1);
}

both_backends!(
    copies_that_tie_are_decided_by_their_text_in_every_format,
    |kind| async move {
        check(kind, &ties(), PlanOptions::default()).await;
        // Cut into shards of a line or two: each record re-read on its own.
        let small = PlanOptions {
            shard_bytes: Some(300),
            key_partitions: Some(3),
            ..PlanOptions::default()
        };
        check(kind, &ties(), small).await;
        let dir = tempfile::tempdir().expect("dir");
        for format in [TargetFormat::Graph, TargetFormat::Mail] {
            let config = converted_from(&ties(), format, &dir.path().join(format!("{format:?}")));
            check(kind, &config, PlanOptions::default()).await;
        }
    }
);

both_backends!(
    an_input_that_changes_before_its_copies_are_read_again_fails_the_run,
    |kind| async move {
        let b = backends(kind).await;
        let dir = tempfile::tempdir().expect("dir");
        copy_dir(&ties().with_file_name(""), dir.path());
        let zed = dir.path().join("activity/zed.jsonl");
        // When aggregate starts, Zed's mailbox is rewritten: its copy of
        // tie1 now has another sender, so reading it again gives another copy.
        let mut staging = b.backends.clone();
        let fired = AtomicBool::new(false);
        staging.staging = Arc::new(InterceptedStaging::reads(
            b.backends.staging.clone(),
            // The first staged copies read back: aggregate has begun.
            Box::new(move |path, bytes| {
                if path.contains("/ingest/") && !fired.swap(true, Ordering::SeqCst) {
                    let text = std::fs::read_to_string(&zed).expect("zed");
                    std::fs::write(
                        &zed,
                        text.replace("zed@contoso.com\",\"to", "carl@contoso.com\",\"to"),
                    )
                    .expect("rewritten");
                }
                bytes
            }),
        ));
        let out = tempfile::tempdir().expect("out");
        let config = dir.path().join("tenant.toml");
        let err = run_on(&staging, &config, out.path(), RunOptions::default())
            .await
            .expect_err("the run fails");
        let message = err.to_string();
        assert!(message.contains("changed during the run"), "{message}");
        assert!(message.contains("activity/zed.jsonl"), "{message}");
        assert!(!message.contains('@'), "no address in the error: {message}");
        assert!(!out.path().join("account_engagement.csv").exists());
    }
);

/// Copies a folder tree.
fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("created");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copied");
        }
    }
}
