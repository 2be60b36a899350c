//! Cross-check against the DuckDB peer (`shared/bench/peer_duckdb.py`): the
//! same spec written twice must give the same bytes, on a generated tenant
//! (default and custom score weights) and on the tenant whose copies tie.
//! Needs `python3` with `duckdb` (`.ci/run` installs it).

use std::path::Path;
use std::process::Command;

fn rapport(args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args(args)
        .output()
        .expect("rapport runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Runs the tenant at `config` with Rapport and with the peer; asserts the
/// CSVs are the same bytes; returns the number of lines.
fn same_as_peer(config: &Path, out: &Path) -> usize {
    let ours = out.join("ours");
    rapport(&[
        "run",
        "--config",
        config.to_str().expect("utf8"),
        "--out",
        ours.to_str().expect("utf8"),
    ]);
    let peer_script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench/peer_duckdb.py");
    let theirs = out.join("peer");
    let o = Command::new("python3")
        .arg(peer_script)
        .arg(config)
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
    if a != b {
        let i = a
            .lines()
            .zip(b.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        panic!(
            "{config:?} differs at line {}: ours {:?} peer {:?}",
            i + 1,
            a.lines().nth(i),
            b.lines().nth(i)
        );
    }
    a.lines().count()
}

fn generated_tenant(dir: &Path) -> std::path::PathBuf {
    let tenant = dir.join("tenant");
    rapport(&[
        "generate",
        "--out",
        tenant.to_str().expect("utf8"),
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
    tenant.join("tenant.toml")
}

#[test]
fn output_matches_the_duckdb_peer_on_a_generated_tenant() {
    let dir = tempfile::tempdir().expect("dir");
    let config = generated_tenant(dir.path());
    let lines = same_as_peer(&config, dir.path());
    assert!(lines > 500, "a tenant big enough to mean something");
}

/// Weights with no two alike, so a weight given to the wrong feature shows.
#[test]
fn output_matches_the_duckdb_peer_with_custom_score_weights() {
    let dir = tempfile::tempdir().expect("dir");
    let config = generated_tenant(dir.path());
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(
        "\n[score.weights]\nemails = 7\nmeetings = 31\npeople = 13\nrecency = 40\nreciprocity = 9\n",
    );
    std::fs::write(&config, text).expect("written");
    same_as_peer(&config, dir.path());
    // And the weights change the scores: the default run differs.
    let default = dir.path().join("default");
    std::fs::create_dir_all(&default).expect("dir");
    let plain = generated_tenant(&default);
    same_as_peer(&plain, &default);
    let custom = std::fs::read(dir.path().join("ours/account_engagement.csv")).expect("custom");
    let defaults = std::fs::read(default.join("ours/account_engagement.csv")).expect("default");
    assert_ne!(custom, defaults, "the weights were read");
}

#[test]
fn output_matches_the_duckdb_peer_on_copies_that_tie() {
    let dir = tempfile::tempdir().expect("dir");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/ties/tenant.toml");
    same_as_peer(&config, dir.path());
}
