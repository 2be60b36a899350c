//! The example tenants give exactly the expected files and counts.

use crate::util::*;

fn check_counts(name: &str, report: &rapport_common::report::RunReport) {
    let text = std::fs::read_to_string(
        shared()
            .join("examples")
            .join(name)
            .join("expected/counts.json"),
    )
    .expect("counts");
    let expected: serde_json::Value = serde_json::from_str(&text).expect("json");
    let actual = serde_json::to_value(report).expect("report json");
    for (key, value) in expected.as_object().expect("object") {
        assert_eq!(actual.get(key), Some(value), "{name}: run_report.{key}");
    }
}

both_backends!(examples_are_byte_identical_to_expected, |kind| async move {
    for name in ["stockholm", "newyork"] {
        let (out, report) = run_tenant(kind, &example(name), RunOptions::default()).await;
        let expected = shared().join("examples").join(name).join("expected");
        assert_same_file(
            &expected.join("account_engagement.csv"),
            &out.path().join("account_engagement.csv"),
        );
        assert_same_file(
            &expected.join("office_users.csv"),
            &out.path().join("office_users.csv"),
        );
        check_counts(name, &report);
    }
});

both_backends!(
    rejects_are_listed_with_file_offset_and_reason,
    |kind| async move {
        let (out, report) = run_tenant(kind, &example("stockholm"), RunOptions::default()).await;
        let text = std::fs::read_to_string(out.path().join("rejects.jsonl")).expect("rejects");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len() as u64, report.rejected);
        assert_eq!(report.rejected_by_reason.values().sum::<u64>(), 8);
        assert_eq!(report.rejected_by_reason.get("invalid_syntax"), Some(&2));
        assert_eq!(report.rejected_by_reason.get("unknown_type"), Some(&1));
        // Each names its record: read again alone, it is rejected the same way.
        let read_again =
            crate::reread::assert_rejects_read_again(&example("stockholm"), out.path());
        assert_eq!(read_again, lines.len());
    }
);
