//! A worker cut off from both servers without its connections being closed
//! (a proxy of the test's own stops forwarding): for 10 s in each phase from
//! ingest to score, then for 3 minutes from ingest on, then restored. The
//! cut worker held a job when its link went down (the broker's channel
//! shows it unacked). The other workers, or the same one once its link is
//! back or its connections are found dead, finish the run, whose bytes are
//! those of a fault-free run. Loopback only.

mod support;

use std::process::Command;
use std::time::Duration;

use support::proxy::StallingProxy;
use support::*;

/// The sum of a column of RabbitMQ's channel list (`consumer_count`,
/// `messages_unacknowledged`) over the channels of the connections with
/// these local ports (RabbitMQ names a channel
/// `127.0.0.1:{port} -> 127.0.0.1:5672 (n)`).
fn channels_on(ports: &[u16], column: &str) -> u64 {
    let o = Command::new("rabbitmqctl")
        .args([
            "list_channels",
            "--quiet",
            "--no-table-headers",
            "name",
            column,
        ])
        .output()
        .expect("rabbitmqctl");
    assert!(o.status.success(), "rabbitmqctl list_channels failed");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|line| line.rsplit_once('\t'))
        .filter(|(name, _)| {
            ports
                .iter()
                .any(|p| name.starts_with(&format!("127.0.0.1:{p} ")))
        })
        .filter_map(|(_, n)| n.trim().parse::<u64>().ok())
        .sum()
}

#[test]
fn a_worker_cut_off_without_its_connections_closing_loses_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, expected) = big_tenant(dir.path());
    // Jobs of a second each: every worker holds one when a phase starts.
    let mut cluster = Cluster::drill(3, 1000, "before");
    let (amqp, redis) = (StallingProxy::start(5672), StallingProxy::start(6379));
    cluster.add_worker_via(
        &format!("amqp://guest:guest@127.0.0.1:{}/%2f", amqp.port),
        &format!("redis://127.0.0.1:{}/", redis.port),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while channels_on(&amqp.upstream_ports(), "consumer_count") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker behind the proxy never consumed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let cuts = PHASES[..5]
        .iter()
        .map(|p| (*p, Duration::from_secs(10)))
        .chain([("ingest", Duration::from_secs(180))]);
    for (phase, cut) in cuts {
        let out = dir.path().join(format!("out-{phase}-{}", cut.as_secs()));
        let (run, _) = cluster.submit(&config, &out, false);
        cluster.wait_for(&run, |s| s["phase"] == phase, 180);
        let cell = format!("a worker cut off for {} s | {phase}", cut.as_secs());
        let drill = Drill::start(&cell);
        amqp.stall(true);
        redis.stall(true);
        let held = channels_on(&amqp.upstream_ports(), "messages_unacknowledged");
        assert!(held >= 1, "{cell}: the cut worker held no job");
        let s = if cut < Duration::from_secs(60) {
            std::thread::sleep(cut.saturating_sub(drill.elapsed()));
            amqp.stall(false);
            redis.stall(false);
            drill.ride_out(&cluster, &run, 600)
        } else {
            // Past the heartbeat timeout the broker closes the cut
            // connection and delivers its job again, to another worker.
            let s = drill.watch(&cluster, &run, 600, |s| recovered(s, "redelivered") >= 1);
            std::thread::sleep(cut.saturating_sub(drill.elapsed()));
            amqp.stall(false);
            redis.stall(false);
            s
        };
        assert_eq!(s["status"], "succeeded", "{cell}: {s}");
        same(&expected, &out.join("account_engagement.csv"));
    }
}
