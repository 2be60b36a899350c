//! Scheduled refreshes against a real cluster: a schedule firing every few
//! seconds submits runs as of today in the tenant's zone, each identical to
//! an embedded run of that date, and stops once removed; a firing missed
//! while no coordinator ran is made once when one starts, never twice.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{example, same, Cluster, VIEWER_TOKEN};

/// The runs `schedule` fired, from `rapport status` of each run listed.
fn fired(cluster: &Cluster, schedule: &str) -> Vec<serde_json::Value> {
    let (status, body) = Cluster::http(
        cluster.port,
        "GET",
        "/runs",
        Some(support::OPERATOR_TOKEN),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let runs: Vec<serde_json::Value> = serde_json::from_str(&body).expect("runs");
    runs.into_iter()
        .filter(|r| r["schedule"] == schedule)
        .collect()
}

fn add(cluster: &Cluster, config: &Path, out: &Path, cron: &str, first: Option<&str>) -> String {
    let mut args = vec![
        "schedule",
        "add",
        "--config",
        config.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
        "--cron",
        cron,
    ];
    if let Some(first) = first {
        args.extend(["--first-run-after", first]);
    }
    let o = cluster.run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

#[test]
fn a_schedule_fires_runs_as_of_today_until_removed() {
    let mut cluster = Cluster::start(1);
    let out = tempfile::tempdir().expect("out");
    let config = example("newyork");

    // A viewer may list schedules, not add them; a bad expression is named.
    let body = serde_json::json!({"config": config, "out": out.path(), "cron": "*/3 * * * * *"});
    let (status, _) = Cluster::http(
        cluster.port,
        "POST",
        "/schedules",
        Some(VIEWER_TOKEN),
        &body.to_string(),
    );
    assert_eq!(status, 403);
    let (status, _) = Cluster::http(cluster.port, "GET", "/schedules", Some(VIEWER_TOKEN), "");
    assert_eq!(status, 200);
    let bad = cluster.run(&[
        "schedule",
        "add",
        "--config",
        config.to_str().expect("utf8"),
        "--out",
        out.path().to_str().expect("utf8"),
        "--cron",
        "61 * * * *",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("61 * * * *"));

    let id = add(&cluster, &config, out.path(), "*/3 * * * * *", None);
    let deadline = Instant::now() + Duration::from_secs(60);
    let runs = loop {
        let runs = fired(&cluster, &id);
        if runs.iter().filter(|r| r["status"] == "succeeded").count() >= 2 {
            break runs;
        }
        assert!(Instant::now() < deadline, "no two runs fired: {runs:?}");
        std::thread::sleep(Duration::from_millis(250));
    };
    let removed = cluster.run(&["schedule", "remove", &id]);
    assert!(removed.status.success());
    let listed = cluster.run(&["schedule", "list"]);
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(&id));

    // As of today in New York: the same bytes as an embedded run of that date.
    let today = Command::new("date")
        .arg("+%Y-%m-%d")
        .env("TZ", "America/New_York")
        .output()
        .expect("date");
    let today = String::from_utf8_lossy(&today.stdout).trim().to_owned();
    assert!(
        runs.iter().all(|r| r["as_of"] == today.as_str()),
        "{runs:?}"
    );
    let copy = tempfile::tempdir().expect("copy");
    let from = example("newyork").parent().expect("dir").to_owned();
    for name in ["org_users.csv", "contacts.csv", "account_domains.csv"] {
        std::fs::copy(from.join(name), copy.path().join(name)).expect("copy");
    }
    std::os::unix::fs::symlink(from.join("activity"), copy.path().join("activity")).expect("link");
    let text = std::fs::read_to_string(&config).expect("toml");
    let dated: String = text
        .lines()
        .map(|l| {
            if l.starts_with("as_of") {
                format!("as_of = \"{today}\"")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(copy.path().join("tenant.toml"), dated).expect("toml");
    let embedded = tempfile::tempdir().expect("embedded");
    let o = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args(["run", "--config"])
        .arg(copy.path().join("tenant.toml"))
        .arg("--out")
        .arg(embedded.path())
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The last succeeded run wrote the folder; wait out one in flight.
    std::thread::sleep(Duration::from_secs(1));
    for r in fired(&cluster, &id) {
        cluster.wait_until_ended(r["run_id"].as_str().expect("id"), 60);
    }
    same(
        &embedded.path().join("account_engagement.csv"),
        &out.path().join("account_engagement.csv"),
    );
    let after = fired(&cluster, &id).len();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        fired(&cluster, &id).len(),
        after,
        "a removed schedule fired"
    );
    cluster.workers.iter_mut().for_each(|w| {
        let _ = w.kill();
    });
}

#[test]
fn a_firing_missed_while_no_coordinator_ran_is_made_once() {
    let mut cluster = Cluster::start(1);
    let out = tempfile::tempdir().expect("out");
    // Due in 3 s, then yearly; the coordinator is down when it comes due.
    let id = add(
        &cluster,
        &example("newyork"),
        out.path(),
        "0 0 1 1 *",
        Some("3s"),
    );
    let mut coordinator = cluster.coordinator.take().expect("coordinator");
    Cluster::signal(&coordinator, "TERM");
    Cluster::exit_status(&mut coordinator, 20);
    std::thread::sleep(Duration::from_secs(5));
    for _ in 0..2 {
        cluster.start_coordinator();
        let deadline = Instant::now() + Duration::from_secs(30);
        while fired(&cluster, &id).is_empty() {
            assert!(Instant::now() < deadline, "the missed firing was not made");
            std::thread::sleep(Duration::from_millis(200));
        }
        std::thread::sleep(Duration::from_secs(3));
        let mut c = cluster.coordinator.take().expect("coordinator");
        Cluster::signal(&c, "TERM");
        Cluster::exit_status(&mut c, 20);
    }
    cluster.start_coordinator();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        fired(&cluster, &id).len(),
        1,
        "made once, across three starts"
    );
}
