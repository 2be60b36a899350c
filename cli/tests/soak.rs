//! The soak: for 3 minutes, a random worker is SIGKILLed every 2 s (and a
//! new one started) while runs of 3 tenants follow each other; every run
//! succeeds with the bytes of its fault-free run.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

/// A generated tenant of about 50,000 records and its embedded output.
fn medium_tenant(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let rapport = env!("CARGO_BIN_EXE_rapport");
    let tenant = dir.join("medium");
    let o = Command::new(rapport)
        .args(["generate", "--out", tenant.to_str().expect("utf8")])
        .args(["--seed", "5", "--users", "100", "--accounts", "1000"])
        .args(["--emails", "40000", "--meetings", "6000"])
        .output()
        .expect("generate");
    assert!(o.status.success());
    let config = tenant.join("tenant.toml");
    let embedded = dir.join("medium-embedded");
    let o = Command::new(rapport)
        .args(["run", "--config", config.to_str().expect("utf8")])
        .args(["--out", embedded.to_str().expect("utf8")])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (config, embedded.join("account_engagement.csv"))
}

#[test]
fn workers_killed_every_two_seconds_for_three_minutes_lose_no_run() {
    let dir = tempfile::tempdir().expect("dir");
    let golden = |name: &str| {
        example(name)
            .parent()
            .expect("dir")
            .join("expected/account_engagement.csv")
    };
    let tenants = [
        (example("stockholm"), golden("stockholm")),
        (example("newyork"), golden("newyork")),
        medium_tenant(dir.path()),
    ];
    let mut cluster = Cluster::slow(3, 20);
    let mut random = u64::from(std::process::id()) | 1;
    let mut next = || {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        random
    };
    let mut in_flight: Vec<(String, usize, PathBuf)> = Vec::new();
    let mut submitted = 0;
    let mut submit = |cluster: &Cluster, in_flight: &mut Vec<(String, usize, PathBuf)>| {
        let t = submitted % tenants.len();
        let out = dir.path().join(format!("out-{submitted}"));
        let (run, o) = cluster.submit(&tenants[t].0, &out, false);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        in_flight.push((run, t, out));
        submitted += 1;
    };
    for _ in 0..tenants.len() {
        submit(&cluster, &mut in_flight);
    }
    let mut succeeded = 0;
    let mut kills = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(180) {
        std::thread::sleep(Duration::from_secs(2));
        let k = next() as usize % cluster.workers.len();
        let mut victim = cluster.workers.remove(k);
        Cluster::signal(&victim, "KILL");
        let _ = victim.wait();
        kills += 1;
        cluster.add_worker();
        let mut still = Vec::new();
        for (run, t, out) in in_flight.drain(..) {
            match cluster.try_status(&run) {
                Some(s) if s["status"] == "running" || s["status"] == "queued" => {
                    still.push((run, t, out))
                }
                Some(s) => {
                    assert_eq!(s["status"], "succeeded", "{s}");
                    same(&tenants[t].1, &out.join("account_engagement.csv"));
                    succeeded += 1;
                }
                None => still.push((run, t, out)),
            }
        }
        in_flight = still;
        while in_flight.len() < tenants.len() {
            submit(&cluster, &mut in_flight);
        }
    }
    for (run, t, out) in in_flight {
        let s = cluster.wait_until_ended(&run, 600);
        assert_eq!(s["status"], "succeeded", "{s}");
        same(&tenants[t].1, &out.join("account_engagement.csv"));
        succeeded += 1;
    }
    assert!(kills >= 80, "{kills} kills");
    assert!(succeeded >= 6, "{succeeded} runs");
}
