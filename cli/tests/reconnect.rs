//! Lost connections mid-run: every connection to RabbitMQ, then every client
//! of Redis, is closed on the servers while a run is in progress; then the
//! RabbitMQ application is stopped and started again mid-run. Coordinator
//! and workers reconnect and each run ends with the same bytes. A test
//! binary of its own, with one test, because it disturbs every client of
//! the shared servers; the broker is started again even if the test fails.

mod support;

use std::process::Command;

use support::*;

fn close_rabbitmq_connections() {
    let o = Command::new("rabbitmqctl")
        .args(["close_all_connections", "test: lost connection drill"])
        .output();
    assert!(
        o.is_ok_and(|o| o.status.success()),
        "rabbitmqctl close_all_connections failed"
    );
}

fn rabbitmqctl(what: &str) -> bool {
    Command::new("rabbitmqctl")
        .arg(what)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Starts the RabbitMQ application again when dropped (a failed test
/// leaves the shared broker running).
struct BrokerBack;

impl Drop for BrokerBack {
    fn drop(&mut self) {
        rabbitmqctl("start_app");
    }
}

fn kill_redis_clients() {
    let o = Command::new("redis-cli")
        .args(["CLIENT", "KILL", "TYPE", "normal"])
        .output();
    assert!(
        o.is_ok_and(|o| o.status.success()),
        "redis-cli CLIENT KILL failed"
    );
}

#[test]
fn runs_survive_lost_rabbitmq_and_redis_connections() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, expected) = big_tenant(dir.path());
    let cluster = Cluster::slow(2, 300);
    let out = dir.path().join("out");
    let (run, _) = cluster.submit(&config, &out, false);
    cluster.wait_for(
        &run,
        |s| s["phase"] == "ingest" && s["jobs_done"].as_u64() > Some(3),
        60,
    );
    close_rabbitmq_connections();
    cluster.wait_for(&run, |s| s["phase"] == "aggregate", 120);
    kill_redis_clients();
    let s = cluster.wait_until_ended(&run, 180);
    assert_eq!(s["status"], "succeeded", "{s}");
    same(&expected, &out.join("account_engagement.csv"));

    // The broker itself stopped and started again (its quorum queue and
    // persistent messages survive).
    let out = dir.path().join("broker-restarted");
    let (run, _) = cluster.submit(&config, &out, false);
    cluster.wait_for(&run, |s| s["phase"] == "aggregate", 120);
    let back = BrokerBack;
    assert!(rabbitmqctl("stop_app"), "rabbitmqctl stop_app failed");
    std::thread::sleep(std::time::Duration::from_secs(5));
    assert!(rabbitmqctl("start_app"), "rabbitmqctl start_app failed");
    drop(back);
    let s = cluster.wait_until_ended(&run, 300);
    assert_eq!(s["status"], "succeeded", "{s}");
    same(&expected, &out.join("account_engagement.csv"));
}
