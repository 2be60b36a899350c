//! Lost connections mid-run, in every phase: every connection to RabbitMQ
//! and every client of Redis closed on the servers while a run is in
//! progress; then the RabbitMQ application stopped and started again
//! mid-run. Coordinator and workers reconnect and each run ends with the
//! same bytes. A test binary of its own, with one test, because it
//! disturbs every client of the shared servers; the broker is started
//! again even if the test fails.

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

/// In each phase from ingest to score, every connection to RabbitMQ and
/// every client of Redis closed on the servers, while every worker holds a
/// job it stored but did not ack; in a second round, the RabbitMQ
/// application stopped for 5 s and started again. The jobs held are
/// delivered again (counted), and every run ends with the same bytes.
/// (The write phase uses neither server's connections for jobs: the
/// coordinator reconnects when the next run publishes.)
#[test]
fn runs_survive_lost_connections_and_a_broker_restart_in_every_phase() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, expected) = big_tenant(dir.path());
    let cluster = Cluster::drill(4, 1000, "after-store");
    for (round, phase) in ["connections closed", "broker restarted"]
        .into_iter()
        .flat_map(|round| PHASES[..5].iter().map(move |p| (round, *p)))
    {
        let out = dir.path().join(format!("out-{round}-{phase}"));
        let (run, _) = cluster.submit(&config, &out, false);
        cluster.wait_for(&run, |s| s["phase"] == phase, 120);
        let drill = Drill::start(format!("RabbitMQ {round} | {phase}"));
        if round == "connections closed" {
            close_rabbitmq_connections();
            kill_redis_clients();
        } else {
            let back = BrokerBack;
            assert!(rabbitmqctl("stop_app"), "rabbitmqctl stop_app failed");
            std::thread::sleep(std::time::Duration::from_secs(5));
            assert!(rabbitmqctl("start_app"), "rabbitmqctl start_app failed");
            drop(back);
        }
        let s = drill.watch(&cluster, &run, 300, |s| recovered(s, "redelivered") >= 1);
        assert_eq!(s["status"], "succeeded", "{round}, {phase}: {s}");
        same(&expected, &out.join("account_engagement.csv"));
    }
}
