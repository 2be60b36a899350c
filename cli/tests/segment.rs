//! `rapport segment` as CLI.md specifies it, on an example's expected
//! results: the ids of the matching rows of a level and period (Year and
//! the latest period by default), in AccountId order, each expression
//! checked against a filter written out by hand; a bad expression exits 2
//! with one line pointing at the offending token.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use support::example;

fn results() -> PathBuf {
    example("newyork").parent().expect("dir").join("expected")
}

/// The rows of the results, as column name to field.
fn rows() -> Vec<BTreeMap<String, String>> {
    let mut reader =
        csv::Reader::from_path(results().join("account_engagement.csv")).expect("results");
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.expect("row");
            header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

fn segment(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args(["segment", "--results"])
        .arg(results())
        .args(args)
        .output()
        .expect("segment")
}

fn ids(args: &[&str]) -> Vec<String> {
    let o = segment(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

type Row = BTreeMap<String, String>;

/// A filter written out by hand.
type Keep = Box<dyn Fn(&Row) -> bool>;

fn num(row: &Row, column: &str) -> Option<f64> {
    row[column].parse().ok()
}

#[test]
fn segments_match_a_filter_written_out_by_hand() {
    let all = rows();
    let latest = |level: &str| {
        all.iter()
            .filter(|r| r["AggregationLevel"] == level)
            .map(|r| r["AggregationStartDate"].clone())
            .max()
            .expect("a period")
    };
    let expect = |level: &str, period: &str, keep: &dyn Fn(&Row) -> bool| {
        let mut ids: Vec<String> = all
            .iter()
            .filter(|r| r["AggregationLevel"] == level && r["AggregationStartDate"] == period)
            .filter(|r| keep(r))
            .map(|r| r["AccountId"].clone())
            .collect();
        ids.sort();
        ids
    };
    let year = latest("Year");
    let cases: Vec<(&str, Keep)> = vec![
        (
            "DaysSinceLastEmail > 60 AND DaysSinceLastMeeting > 60",
            Box::new(|r| {
                num(r, "DaysSinceLastEmail").is_some_and(|d| d > 60.0)
                    && num(r, "DaysSinceLastMeeting").is_some_and(|d| d > 60.0)
            }),
        ),
        (
            "EngagementScore >= 50 or NoOfMeetings_ToAccount = 0",
            Box::new(|r| {
                num(r, "EngagementScore").is_some_and(|s| s >= 50.0)
                    || num(r, "NoOfMeetings_ToAccount").is_some_and(|n| n == 0.0)
            }),
        ),
        (
            "(EngagementScore < 30 OR EngagementScore > 70) AND EngagementStartDate >= 2025-06-01",
            Box::new(|r| {
                num(r, "EngagementScore").is_some_and(|s| !(30.0..=70.0).contains(&s))
                    && !r["EngagementStartDate"].is_empty()
                    && r["EngagementStartDate"].as_str() >= "2025-06-01"
            }),
        ),
        (
            "AverageDuration_Of_AccountEmailReplies != 5",
            Box::new(|r| {
                num(r, "AverageDuration_Of_AccountEmailReplies").is_some_and(|a| a != 5.0)
            }),
        ),
    ];
    let mut matched_some = false;
    for (text, keep) in &cases {
        let want = expect("Year", &year, keep.as_ref());
        matched_some |= !want.is_empty();
        assert_eq!(ids(&[text]), want, "{text}");
    }
    assert!(
        matched_some,
        "no case matched any account: the check would prove nothing"
    );
    // Another level and period.
    let months: Vec<String> = all
        .iter()
        .filter(|r| r["AggregationLevel"] == "Month")
        .map(|r| r["AggregationStartDate"].clone())
        .collect();
    let month = months.iter().min().expect("a month");
    let want = expect("Month", month, &|r| {
        num(r, "NoOfEmails_ToAccount").is_some_and(|n| n > 0.0)
    });
    assert_eq!(
        ids(&[
            "--level",
            "Month",
            "--period",
            month,
            "NoOfEmails_ToAccount > 0"
        ]),
        want
    );
}

#[test]
fn a_bad_expression_or_period_exits_2_with_one_line() {
    for (args, says) in [
        (
            vec!["DaysSinceLastEmail > 60 AN DaysSinceLastMeeting > 60"],
            "at character 25 (\"AN\")",
        ),
        (vec!["Nope > 1"], "no such column"),
        (
            vec!["--period", "1999-01-01", "EngagementScore > 1"],
            "no Year period starting 1999-01-01",
        ),
    ] {
        let o = segment(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let text = String::from_utf8_lossy(&o.stderr);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains(says), "{text}");
        assert!(o.stdout.is_empty());
    }
}
