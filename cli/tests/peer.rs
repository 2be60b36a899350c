//! Cross-check against the DuckDB peer (`shared/bench/peer_duckdb.py`) on a
//! generated tenant: the same spec written twice must give the same bytes.
//! Needs `python3` with `duckdb` (`.ci/run` installs it).

use std::path::Path;
use std::process::Command;

#[test]
fn output_matches_the_duckdb_peer_on_a_generated_tenant() {
    let dir = tempfile::tempdir().expect("dir");
    let tenant = dir.path().join("tenant");
    let rapport = env!("CARGO_BIN_EXE_rapport");
    let run = |args: &[&str]| {
        let o = Command::new(rapport)
            .args(args)
            .output()
            .expect("rapport runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let t = tenant.to_str().expect("utf8");
    run(&[
        "generate",
        "--out",
        t,
        "--seed",
        "21",
        "--users",
        "30",
        "--accounts",
        "80",
        "--emails",
        "8000",
        "--meetings",
        "1500",
    ]);
    let config = tenant.join("tenant.toml");
    let ours = dir.path().join("ours");
    run(&[
        "run",
        "--config",
        config.to_str().expect("utf8"),
        "--out",
        ours.to_str().expect("utf8"),
    ]);
    let peer_script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench/peer_duckdb.py");
    let theirs = dir.path().join("peer");
    let o = Command::new("python3")
        .arg(peer_script)
        .arg(&config)
        .arg(&theirs)
        .output()
        .expect("python3 runs (install duckdb: pip install duckdb)");
    assert!(
        o.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let a = std::fs::read_to_string(ours.join("account_engagement.csv")).expect("ours");
    let b = std::fs::read_to_string(theirs.join("account_engagement.csv")).expect("peer");
    assert!(
        a.lines().count() > 500,
        "a tenant big enough to mean something"
    );
    if a != b {
        let i = a
            .lines()
            .zip(b.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        panic!(
            "differs at line {}: ours {:?} peer {:?}",
            i + 1,
            a.lines().nth(i),
            b.lines().nth(i)
        );
    }
}
