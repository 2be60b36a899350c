//! What operators watch, against a real cluster: `/metrics` on the
//! coordinator and on a worker agree with the run's own report, and JSON
//! logs carry run and job ids with no colour codes.

mod support;

use std::collections::BTreeMap;
use std::process::Stdio;

use support::{example, Cluster};

/// The samples of a Prometheus text exposition: `name{labels}` to value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').expect("a sample");
            (key.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

#[test]
fn metrics_agree_with_the_run_report_and_logs_are_json_with_ids() {
    let mut cluster = Cluster::unstarted(true);
    cluster
        .env
        .push(("RAPPORT_LOG_FORMAT".into(), "json".into()));
    cluster.start_coordinator();
    let worker_port = cluster.port + 1;
    cluster.env.push((
        "RAPPORT_METRICS_LISTEN".into(),
        format!("127.0.0.1:{worker_port}"),
    ));
    cluster.add_worker();

    let dir = tempfile::tempdir().expect("dir");
    let (run, o) = cluster.submit(&example("newyork"), dir.path(), true);
    assert!(
        o.status.success(),
        "{run}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("run_report.json")).expect("report"))
            .expect("json");

    // The coordinator's, open to scrapers without a token.
    let text = Cluster::http_get(cluster.port, "/metrics").expect("coordinator metrics");
    let m = samples(&text);
    assert_eq!(
        m["rapport_runs_finished_total{status=\"succeeded\"}"], 1.0,
        "{text}"
    );
    assert_eq!(m["rapport_runs{status=\"succeeded\"}"], 1.0, "{text}");
    assert_eq!(m["rapport_runs{status=\"failed\"}"], 0.0, "{text}");
    assert_eq!(m["rapport_leader"], 1.0, "{text}");
    assert_eq!(m["rapport_queue_depth"], 0.0, "{text}");
    assert_eq!(
        m["rapport_records_ingested_total"],
        report["records"].as_f64().expect("records")
    );
    let by_reason = report["rejected_by_reason"].as_object().expect("reasons");
    assert!(!by_reason.is_empty());
    for (reason, n) in by_reason {
        let key = format!("rapport_rejects_total{{reason=\"{reason}\"}}");
        assert_eq!(m.get(&key), n.as_f64().as_ref(), "{key}: {text}");
    }

    // The worker's: every job of the report done once, each timed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let text = loop {
        if let Some(text) = Cluster::http_get(worker_port, "/metrics") {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "no worker metrics");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let m = samples(&text);
    for (phase, n) in report["jobs"].as_object().expect("jobs") {
        let n = n.as_f64().expect("count");
        let done = format!("rapport_jobs_total{{phase=\"{phase}\",outcome=\"done\"}}");
        assert_eq!(m.get(&done), Some(&n), "{done}: {text}");
        let timed = format!("rapport_job_duration_seconds_count{{phase=\"{phase}\"}}");
        assert_eq!(m.get(&timed), Some(&n), "{timed}: {text}");
    }

    // Logs: JSON lines, no colour codes, job lines with run and job ids.
    let mut coordinator = cluster.coordinator.take().expect("coordinator");
    Cluster::signal(&coordinator, "TERM");
    Cluster::exit_status(&mut coordinator, 20);
    let logs = cluster.logs();
    assert!(!logs.contains('\u{1b}'), "a colour code in a log file");
    let mut with_ids = 0;
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
        if v["span"]["run_id"] == run.as_str() && v["span"]["job_id"].is_string() {
            with_ids += 1;
        }
    }
    assert!(with_ids > 0, "no log line with the run and job ids");
}

#[test]
fn text_logs_off_a_terminal_have_no_colour_codes() {
    let cluster = Cluster::unstarted(false);
    let out = cluster
        .command(&["status", "nope"])
        .env("RAPPORT_LOG", "debug")
        .env("RAPPORT_COORDINATOR", "http://127.0.0.1:9")
        .stdin(Stdio::null())
        .output()
        .expect("status");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!text.is_empty());
    assert!(!text.contains('\u{1b}'), "{text:?}");
}
