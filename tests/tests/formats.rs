//! Every input format gives the same results: the example tenants written
//! as Graph exports and as mail (mbox, `.eml`, `.ics`) are byte-identical
//! to the expected outputs, whole or cut into small byte-range shards, on
//! both backends; and the real files of `tests/data/realdata` (SOURCES.md)
//! are read or rejected with a reason, with the counts asserted.

use std::path::{Path, PathBuf};

use rapport_coordinator::PlanOptions;
use rapport_generator::convert::{convert_tenant, TargetFormat};

use crate::util::*;

/// The example tenant `name` written in `format` into `dir`.
pub fn converted(name: &str, format: TargetFormat, dir: &Path) -> PathBuf {
    convert_tenant(&example(name), dir, format).expect("converted");
    dir.join("tenant.toml")
}

pub fn realdata(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/realdata")
        .join(path)
}

async fn check_converted(kind: Backend, format: TargetFormat, plan: PlanOptions) {
    for name in ["stockholm", "newyork"] {
        let dir = tempfile::tempdir().expect("dir");
        let config = converted(name, format, dir.path());
        let options = RunOptions {
            plan,
            ..RunOptions::default()
        };
        let (out, report) = run_tenant(kind, &config, options).await;
        let expected = shared().join("examples").join(name).join("expected");
        for file in ["account_engagement.csv", "office_users.csv"] {
            assert_same_file(&expected.join(file), &out.path().join(file));
        }
        // Counts of what was counted are the same; records, duplicates and
        // out-of-window ones differ for mail, whose series are expanded
        // inside the window only.
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(expected.join("counts.json")).expect("counts"),
        )
        .expect("json");
        let actual = serde_json::to_value(&report).expect("json");
        for key in [
            "accounts",
            "rows",
            "emails_counted",
            "meetings_counted",
            "emails_without_account",
            "meetings_without_account",
            "ignored_meetings",
            "rejected",
        ] {
            assert_eq!(actual[key], expected[key], "{name} {format:?}: {key}");
        }
    }
}

both_backends!(graph_exports_give_the_expected_output, |kind| async move {
    check_converted(kind, TargetFormat::Graph, PlanOptions::default()).await;
});

both_backends!(mail_exports_give_the_expected_output, |kind| async move {
    check_converted(kind, TargetFormat::Mail, PlanOptions::default()).await;
});

both_backends!(
    graph_and_mbox_files_cut_into_small_shards_give_the_same_output,
    |kind| async move {
        let plan = PlanOptions {
            shard_bytes: Some(3_000),
            ..PlanOptions::default()
        };
        check_converted(kind, TargetFormat::Graph, plan).await;
        check_converted(kind, TargetFormat::Mail, plan).await;
    }
);

both_backends!(
    the_real_mailing_list_gives_its_expected_output,
    |kind| async move {
        let tenant = realdata("linux-mips-2013-02");
        for shard_bytes in [None, Some(20_000)] {
            let plan = PlanOptions {
                shard_bytes,
                ..PlanOptions::default()
            };
            let options = RunOptions {
                plan,
                ..RunOptions::default()
            };
            let (out, report) = run_tenant(kind, &tenant.join("tenant.toml"), options).await;
            for file in ["account_engagement.csv", "office_users.csv"] {
                assert_same_file(&tenant.join("expected").join(file), &out.path().join(file));
            }
            let expected: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(tenant.join("expected/counts.json")).expect("counts"),
            )
            .expect("json");
            let actual = serde_json::to_value(&report).expect("json");
            for (key, value) in expected.as_object().expect("object") {
                assert_eq!(&actual[key], value, "{key}");
            }
            assert_eq!(report.replies, 3);
        }
    }
);

/// A tenant over real files of one format, with `example.com` (the RFC
/// examples' domain) and `enron.com` as accounts.
fn real_tenant(dir: &Path, format: &str, pattern: &Path, as_of: &str) -> PathBuf {
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("written");
    write(
        "org.csv",
        "email,aad_object_id\na@example.com,\nmlokay@enron.com,\n",
    );
    write("contacts.csv", "email,account_id\n");
    write(
        "domains.csv",
        "domain,account_id\nexample.com,EXAMPLE\nenron.com,ENRON\nmozilla.com,MOZILLA\n",
    );
    write(
        "tenant.toml",
        &format!(
            "[tenant]\nid = \"real\"\ntimezone = \"America/Chicago\"\nas_of = \"{as_of}\"\nwindow_days = 1100\n\n\
[inputs]\norg_users = \"org.csv\"\ncontacts = \"contacts.csv\"\naccount_domains = \"domains.csv\"\n\n\
[[inputs.activity]]\nformat = \"{format}\"\npath = \"{}\"\n",
            pattern.display()
        ),
    );
    dir.join("tenant.toml")
}

both_backends!(
    real_calendar_files_are_read_or_rejected_with_a_reason,
    |kind| async move {
        let dir = tempfile::tempdir().expect("dir");
        let config = real_tenant(dir.path(), "ics", &realdata("calendar/*.ics"), "2013-06-30");
        let (out, report) = run_tenant(kind, &config, RunOptions::default()).await;
        // 60 VEVENTs, recurring ones expanded over the 1,100 days to 2013-06-30.
        assert_eq!(report.records, 889);
        assert_eq!(report.rejected, 25);
        let by_reason = &report.rejected_by_reason;
        assert_eq!(
            by_reason.get("invalid_start"),
            Some(&19),
            "iTIP replies carry no DTSTART"
        );
        assert_eq!(
            by_reason.get("end_not_after_start"),
            Some(&5),
            "no DTEND nor DURATION"
        );
        assert_eq!(
            by_reason.get("invalid_end"),
            Some(&1),
            "DTEND:19970701T10300Z"
        );
        let rejects = std::fs::read_to_string(out.path().join("rejects.jsonl")).expect("rejects");
        for line in rejects.lines() {
            let line: serde_json::Value = serde_json::from_str(line).expect("json");
            let bytes = std::fs::read(line["file"].as_str().expect("file")).expect("source");
            let offset = line["offset"].as_u64().expect("offset") as usize;
            assert!(bytes[offset..].starts_with(b"BEGIN:VEVENT"), "{line}");
        }
        assert_eq!(report.meetings_counted, 350);
        assert_eq!(report.meetings_without_account, 174);
    }
);

both_backends!(
    real_damaged_headers_are_read_or_rejected_with_a_reason,
    |kind| async move {
        let dir = tempfile::tempdir().expect("dir");
        let pattern = realdata("enron-lokay-headers/*.headers.txt");
        let config = real_tenant(dir.path(), "mbox", &pattern, "2002-06-30");
        let (_out, report) = run_tenant(kind, &config, RunOptions::default()).await;
        assert_eq!(report.records, 71);
        // Outlook-exported headers whose From has a display name and no address.
        assert_eq!(report.rejected, 14);
        assert_eq!(report.rejected_by_reason.get("invalid_sender"), Some(&14));
        assert_eq!(report.emails_counted + report.emails_without_account, 57);
    }
);
