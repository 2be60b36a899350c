//! What a run leaves for the people who act on it, on both backends:
//! Parquet and JSON Lines beside the CSV (every value equal to the CSV's,
//! read back by DuckDB), the run history (a folder per tenant and run,
//! with retention), segments that agree three ways (`rapport segment`,
//! the API, DuckDB on the Parquet file), and the privacy floor.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{api_segment, example, query_escape, Cluster, OPERATOR_TOKEN};

fn rapport(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args(args)
        .output()
        .expect("rapport runs")
}

fn ok(o: Output, what: &str) -> Output {
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Runs a DuckDB query from Python; its rows, one a line, fields by `|`.
fn duckdb(sql: &str) -> Vec<String> {
    let script = "import duckdb,sys\nfor row in duckdb.sql(sys.argv[1]).fetchall():\n    print('|'.join('' if v is None else str(v) for v in row))\n";
    let o = Command::new("python3")
        .args(["-c", script, sql])
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "duckdb: {sql}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Every value of the Parquet file, as DuckDB reads it, equals the CSV's;
/// so does every value of the JSON Lines file.
fn assert_typed_outputs_equal_the_csv(dir: &Path) {
    let csv = std::fs::read_to_string(dir.join("account_engagement.csv")).expect("csv");
    let expected: Vec<String> = csv.lines().skip(1).map(|l| l.replace(',', "|")).collect();
    assert!(expected.len() > 100);
    // Typed columns: the dates are DATE, the averages DECIMAL(18,2), the
    // empty fields NULL; cast back to text they are the CSV's fields.
    let parquet = dir.join("account_engagement.parquet");
    let types = duckdb(&format!(
        "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{}')",
        s(&parquet)
    ));
    for (column, ty) in [
        ("EngagementScore", "INTEGER"),
        ("EngagementStartDate", "DATE"),
        ("DaysSinceLastEmail", "INTEGER"),
        ("AverageDuration_Of_Meetings", "DECIMAL(18,2)"),
        ("AggregationLevel", "VARCHAR"),
    ] {
        assert!(
            types.contains(&format!("{column}|{ty}")),
            "{column} {ty}: {types:?}"
        );
    }
    let rows = duckdb(&format!("SELECT * FROM '{}'", s(&parquet)));
    assert_eq!(rows, expected);
    let nulls = duckdb(&format!(
        "SELECT count(*) FROM '{}' WHERE DaysSinceLastMeeting IS NULL",
        s(&parquet)
    ));
    let empty = csv
        .lines()
        .filter(|l| l.split(',').nth(12) == Some(""))
        .count();
    assert_eq!(nulls, [empty.to_string()]);
    let jsonl = std::fs::read_to_string(dir.join("account_engagement.jsonl")).expect("jsonl");
    let header: Vec<&str> = csv.lines().next().expect("header").split(',').collect();
    for (line, csv_line) in jsonl.lines().zip(csv.lines().skip(1)) {
        let value: serde_json::Value = serde_json::from_str(line).expect("a JSON object");
        for (name, field) in header.iter().zip(csv_line.split(',')) {
            let v = &value[*name];
            let text = match v {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(t) => t.clone(),
                serde_json::Value::Number(n) if name.starts_with("Average") => {
                    format!("{:.2}", n.as_f64().expect("number"))
                }
                other => other.to_string(),
            };
            assert_eq!(text, field, "{name} of {csv_line}");
        }
    }
    assert_eq!(jsonl.lines().count(), expected.len());
}

/// Segment expressions, with their SQL over the Parquet file.
const EXPRESSIONS: [&str; 6] = [
    "DaysSinceLastEmail > 60 AND DaysSinceLastMeeting > 60",
    "EngagementScore >= 50",
    "EngagementScore < 40 OR NoOfMeetings_FromAccount >= 3",
    "(NoOfEmails_ToAccount > 20 OR NoOfEmails_FromAccount > 20) AND DaysSinceLastMeeting <= 30",
    "AverageDuration_Of_Meetings >= 45.5 and EngagementStartDate < 2025-09-01",
    "DaysSinceLastMeeting != 7",
];

/// The expression as SQL: dates become DATE literals.
fn sql_of(expr: &str) -> String {
    expr.split(' ')
        .map(|w| {
            let date = w.len() == 10 && w.as_bytes()[4] == b'-' && w.as_bytes()[7] == b'-';
            if date {
                format!("DATE '{w}'")
            } else {
                w.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn duckdb_segment(parquet: &Path, expr: &str) -> Vec<String> {
    let file = s(parquet);
    duckdb(&format!(
        "SELECT AccountId FROM '{file}' WHERE AggregationLevel = 'Year' AND AggregationStartDate = \
         (SELECT max(AggregationStartDate) FROM '{file}' WHERE AggregationLevel = 'Year') AND ({}) ORDER BY AccountId",
        sql_of(expr)
    ))
}

fn cli_segment(results: &Path, expr: &str) -> Vec<String> {
    let o = ok(rapport(&["segment", "--results", s(results), expr]), expr);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn kept_runs(history: &Path) -> Vec<PathBuf> {
    let tenant = history.join("contoso-101");
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&tenant)
        .expect("the tenant's history")
        .map(|e| e.expect("entry").path())
        .collect();
    runs.sort();
    runs
}

#[test]
fn formats_history_and_segments_agree_on_both_backends() {
    let dir = tempfile::tempdir().expect("dir");
    let config = example("stockholm");
    let expected = std::fs::read(
        config
            .with_file_name("expected")
            .join("account_engagement.csv"),
    )
    .expect("expected");

    // Embedded: three runs kept two at a time.
    let (embedded, history) = (dir.path().join("embedded"), dir.path().join("history"));
    for _ in 0..3 {
        ok(
            rapport(&[
                "run",
                "--config",
                s(&config),
                "--out",
                s(&embedded),
                "--formats",
                "parquet,jsonl",
                "--history",
                s(&history),
                "--history-keep",
                "2",
            ]),
            "run",
        );
    }
    assert_eq!(
        std::fs::read(embedded.join("account_engagement.csv")).expect("csv"),
        expected
    );
    assert_typed_outputs_equal_the_csv(&embedded);
    let runs = kept_runs(&history);
    assert_eq!(runs.len(), 2, "{runs:?}");
    let bad = rapport(&[
        "run",
        "--config",
        s(&config),
        "--out",
        s(&embedded),
        "--formats",
        "csv,xlsx",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--formats: unknown output format \"xlsx\"")
    );
    for run in &runs {
        assert_eq!(
            std::fs::read(run.join("account_engagement.csv")).expect("kept"),
            expected
        );
        assert!(run.join("year_scores.csv").is_file() && run.join("run_report.json").is_file());
    }

    // The cluster writes the same bytes in every format, and keeps them.
    let mut cluster = Cluster::unstarted(false);
    let cluster_history = dir.path().join("cluster-history");
    cluster.env.push((
        "RAPPORT_HISTORY_ROOT".to_owned(),
        s(&cluster_history).to_owned(),
    ));
    cluster.start_coordinator();
    cluster.add_worker();
    let out = dir.path().join("cluster");
    let o = ok(
        cluster.run(&[
            "submit",
            "--config",
            s(&config),
            "--out",
            s(&out),
            "--formats",
            "jsonl,parquet",
            "--wait",
        ]),
        "submit",
    );
    let run = String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .expect("run id")
        .to_owned();
    for name in [
        "account_engagement.csv",
        "account_engagement.parquet",
        "account_engagement.jsonl",
    ] {
        let a = std::fs::read(embedded.join(name)).expect("embedded");
        assert_eq!(std::fs::read(out.join(name)).expect("cluster"), a, "{name}");
    }
    let kept = kept_runs(&cluster_history);
    assert_eq!(kept.len(), 1);
    assert!(kept[0].to_string_lossy().ends_with(&run));
    // A rerun keeps its formats.
    let o = ok(cluster.run(&["rerun", &run, "--wait"]), "rerun");
    let rerun = String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .expect("run id")
        .to_owned();
    assert_eq!(
        cluster.status(&rerun)["formats"],
        serde_json::json!(["csv", "parquet", "jsonl"])
    );
    assert_eq!(kept_runs(&cluster_history).len(), 2);

    // Segments: the CLI, the API and DuckDB on the Parquet file agree.
    let parquet = out.join("account_engagement.parquet");
    for expr in EXPRESSIONS {
        let cli = cli_segment(&out, expr);
        let api = api_segment(cluster.port, &rerun, expr);
        assert_eq!(api, cli, "{expr}: the API and rapport segment");
        assert_eq!(
            duckdb_segment(&parquet, expr),
            cli,
            "{expr}: DuckDB and rapport segment"
        );
        assert!(!cli.is_empty(), "{expr} matches some accounts");
    }
    let (status, body) = Cluster::http(
        cluster.port,
        "GET",
        &format!(
            "/runs/{rerun}/accounts?segment={}",
            query_escape("EngagementScore >> 5")
        ),
        Some(OPERATOR_TOKEN),
        "",
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("character 18 (\\\">\\\")"), "{body}");
    let (status, _) = Cluster::http(
        cluster.port,
        "GET",
        &format!("/runs/{rerun}/accounts"),
        None,
        "",
    );
    assert_eq!(status, 401, "the segment route needs a token");
}

/// The stockholm example with a privacy floor of `k`.
fn floored_example(dir: &Path, k: u32) -> PathBuf {
    let source = example("stockholm");
    let from = source.parent().expect("dir");
    let to = dir.join("floored");
    let copy = Command::new("cp")
        .args(["-r", s(from), s(&to)])
        .status()
        .expect("cp");
    assert!(copy.success());
    let config = to.join("tenant.toml");
    let mut text = std::fs::read_to_string(&config).expect("toml");
    text.push_str(&format!("\n[privacy]\nmin_org_people = {k}\n"));
    std::fs::write(&config, text).expect("toml");
    config
}

fn assert_floor_holds(out: &Path, expected: &str, k: u32) {
    let kept = std::fs::read_to_string(out.join("account_engagement.csv")).expect("csv");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run_report.json")).expect("report"))
            .expect("json");
    let all: Vec<&str> = expected.lines().collect();
    let mut left: Vec<&str> = kept.lines().collect();
    assert_eq!(left[0], all[0], "header");
    // Every kept row has its bytes of the run without the floor, in order.
    let mut i = 1;
    let mut suppressed = 0;
    for row in &all[1..] {
        if left.get(i) == Some(row) {
            i += 1;
            continue;
        }
        suppressed += 1;
        let f: Vec<u32> = row
            .split(',')
            .skip(6)
            .take(2)
            .map(|v| v.parse().expect("count"))
            .collect();
        // P is at least the larger of the two counts.
        assert!(f[0].max(f[1]) < k, "{row} has {k} org people at least");
    }
    assert_eq!(
        i,
        left.len(),
        "every kept row is a row of the run without the floor"
    );
    for row in left.drain(1..) {
        let f: Vec<u32> = row
            .split(',')
            .skip(6)
            .take(2)
            .map(|v| v.parse().expect("count"))
            .collect();
        assert!(f[0] + f[1] >= k, "{row} has fewer than {k} org people");
    }
    assert!(suppressed > 0, "the floor leaves rows out");
    assert_eq!(report["suppressed_rows"], suppressed);
    assert_eq!(report["rows"], all.len() - 1 - suppressed);
}

#[test]
fn the_privacy_floor_leaves_rows_out_after_scoring_on_both_backends() {
    let dir = tempfile::tempdir().expect("dir");
    let k = 3;
    let config = floored_example(dir.path(), k);
    let expected = std::fs::read_to_string(
        example("stockholm")
            .with_file_name("expected")
            .join("account_engagement.csv"),
    )
    .expect("expected");
    let embedded = dir.path().join("embedded");
    ok(
        rapport(&["run", "--config", s(&config), "--out", s(&embedded)]),
        "run",
    );
    assert_floor_holds(&embedded, &expected, k);
    let cluster = Cluster::start(1);
    let out = dir.path().join("cluster");
    let (_, o) = cluster.submit(&config, &out, true);
    ok(o, "submit");
    assert_floor_holds(&out, &expected, k);
    // A floor that is not a whole number is refused, naming the field.
    let mut text = std::fs::read_to_string(&config).expect("toml");
    text = text.replace(&format!("min_org_people = {k}"), "min_org_people = -1");
    std::fs::write(&config, text).expect("toml");
    let o = rapport(&[
        "run",
        "--config",
        s(&config),
        "--out",
        s(&dir.path().join("bad")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("privacy.min_org_people"));
}
