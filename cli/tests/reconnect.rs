//! Lost connections mid-run: every connection to RabbitMQ, then every client
//! of Redis, is closed on the servers while a run is in progress. Coordinator
//! and workers reconnect and the run ends with the same bytes. A test binary
//! of its own, because it disturbs every client of the shared servers.

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
    let cluster = Cluster::slow(2, 30);
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
}
