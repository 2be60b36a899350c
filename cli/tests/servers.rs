//! The cluster against servers of the test's own, restarted mid-run: a
//! `redis-server` without persistence (every run's state is lost) on a free
//! loopback port. The run restarts from its plan and ends with the bytes of
//! a fault-free run.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// A `redis-server` of the test's own, without persistence.
struct OwnRedis {
    port: u16,
    child: Child,
}

impl OwnRedis {
    fn start(port: u16) -> OwnRedis {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        OwnRedis { port, child }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Killed (nothing saved) and started again on the same port, empty.
    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = OwnRedis::start(self.port);
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn a_redis_restarted_without_persistence_mid_run_restarts_the_run_to_identical_output() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, expected) = big_tenant(dir.path());
    let mut redis = OwnRedis::start(free_port());
    let cluster = Cluster::slow_on_redis(2, 30, &redis.url());
    let out = dir.path().join("out");
    let (run, o) = cluster.submit(&config, &out, false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    cluster.wait_for(
        &run,
        |s| s["phase"] == "aggregate" && s["jobs_done"].as_u64() >= Some(1),
        120,
    );
    redis.restart();
    // The coordinator puts the run's record back and restarts the run.
    let s = cluster.wait_until_ended(&run, 300);
    assert_eq!(s["status"], "succeeded", "{s}");
    assert!(s["recovery"]["restarts"].as_u64() >= Some(1), "{s}");
    same(&expected, &out.join("account_engagement.csv"));
}
