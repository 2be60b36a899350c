//! The cluster against servers and volumes of the test's own: a
//! `redis-server` without persistence restarted mid-run (every run's state
//! is lost) on a free loopback port, and a staging volume (a small tmpfs)
//! that is full for a while mid-run. Each run ends with the bytes of a
//! fault-free run.

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

/// In each phase from ingest to write, the Redis server is killed and
/// started again empty: the coordinator puts the run's record back and
/// restarts the run from its plan.
#[test]
fn a_redis_restarted_without_persistence_mid_run_restarts_the_run_to_identical_output() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, expected) = big_tenant(dir.path());
    let mut redis = OwnRedis::start(free_port());
    let cluster = Cluster::slow_on_redis(2, 300, &redis.url());
    for phase in PHASES {
        let out = dir.path().join(format!("out-{phase}"));
        let (run, o) = cluster.submit(&config, &out, false);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        cluster.wait_for(&run, |s| s["phase"] == phase, 180);
        let drill = Drill::start(format!("Redis restarted empty | {phase}"));
        redis.restart();
        let s = drill.watch(&cluster, &run, 300, |s| recovered(s, "restarts") >= 1);
        assert_eq!(s["status"], "succeeded", "{phase}: {s}");
        same(&expected, &out.join("account_engagement.csv"));
    }
}

/// A tmpfs of the test's own, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &std::path::Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).expect("mount point");
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .expect("mount");
        assert!(
            o.status.success(),
            "mounting a tmpfs (this test needs root): {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Tmpfs(at.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the volume at `dir` with one file until no byte is left.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0u8; 1 << 20];
    loop {
        if let Err(e) = file.write_all(&chunk) {
            assert_eq!(e.raw_os_error(), Some(28), "{e}"); // ENOSPC
            break;
        }
    }
    // Every last byte, below a megabyte too.
    while file.write_all(&[0u8; 512]).is_ok() {}
    path
}

/// In each phase from ingest to score (each stages its output), the
/// staging volume is full for 4 s, then freed: the jobs that met "No space
/// left on device" are retried (counted), and the run's bytes are those of
/// a fault-free run. (The write phase writes nothing to staging.)
#[test]
fn a_staging_volume_full_for_a_while_then_freed_loses_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, expected) = big_tenant(dir.path());
    let volume = Tmpfs::mount(&dir.path().join("staging"), "512m");
    // Each job pauses 1.5 s before it runs: the volume is full when the
    // jobs of the phase write.
    let cluster = Cluster::slow_logged_on_staging(4, 1500, &volume.0);
    for phase in &PHASES[..5] {
        let out = dir.path().join(format!("out-{phase}"));
        let (run, o) = cluster.submit(&config, &out, false);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        cluster.wait_for(&run, |s| s["phase"] == *phase, 120);
        let drill = Drill::start(format!("staging volume full for 4 s | {phase}"));
        let filler = fill(&volume.0);
        let retried = |s: &serde_json::Value| recovered(s, "retried") >= 1;
        drill.during(&cluster, &run, Duration::from_secs(4), retried);
        std::fs::remove_file(filler).expect("freed");
        let s = drill.watch(&cluster, &run, 300, retried);
        assert_eq!(s["status"], "succeeded", "{phase}: {s}");
        same(&expected, &out.join("account_engagement.csv"));
    }
    assert!(
        cluster.logs().contains("No space left on device"),
        "no job met the full volume"
    );
}
