//! A worker cut off from both servers without its connections being closed
//! (a proxy of the test's own stops forwarding): for 10 s, then for 3
//! minutes, then restored. The other worker, or the same one once its
//! connections are found dead and reopened, finishes the run, whose bytes
//! are those of a fault-free run. Loopback only.

mod support;

use std::time::Duration;

use support::proxy::StallingProxy;
use support::*;

#[test]
fn a_worker_cut_off_without_its_connections_closing_loses_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, expected) = big_tenant(dir.path());
    let mut cluster = Cluster::slow(1, 300);
    let (amqp, redis) = (StallingProxy::start(5672), StallingProxy::start(6379));
    cluster.add_worker_via(
        &format!("amqp://guest:guest@127.0.0.1:{}/%2f", amqp.port),
        &format!("redis://127.0.0.1:{}/", redis.port),
    );
    for (i, cut) in [Duration::from_secs(10), Duration::from_secs(180)]
        .into_iter()
        .enumerate()
    {
        let out = dir.path().join(format!("out-{i}"));
        let (run, _) = cluster.submit(&config, &out, false);
        cluster.wait_for(&run, |s| s["phase"] == "aggregate", 180);
        amqp.stall(true);
        redis.stall(true);
        std::thread::sleep(cut);
        amqp.stall(false);
        redis.stall(false);
        let s = cluster.wait_until_ended(&run, 600);
        assert_eq!(s["status"], "succeeded", "{cut:?}: {s}");
        same(&expected, &out.join("account_engagement.csv"));
    }
}
