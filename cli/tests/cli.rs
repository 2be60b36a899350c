//! The `rapport` binary as a user meets it: exit statuses and one-line
//! errors naming the field, golden output, deterministic generation, quiet
//! logs without addresses or subjects.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rapport_tests::files_below;
use rapport_tests::secrets::assert_no_secret_of;

fn rapport(args: &[&str]) -> Output {
    rapport_with_log(args, "debug")
}

fn rapport_with_log(args: &[&str], level: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args(args)
        .env("RAPPORT_LOG", level)
        .output()
        .expect("rapport runs")
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/examples")
        .join(name)
}

/// Copies an example tenant into `dir` so a test can break it.
fn copy_example(name: &str, dir: &Path) -> PathBuf {
    let src = example(name);
    std::fs::create_dir_all(dir.join("activity")).expect("dir");
    for file in [
        "tenant.toml",
        "org_users.csv",
        "contacts.csv",
        "account_domains.csv",
    ] {
        std::fs::copy(src.join(file), dir.join(file)).expect("copy");
    }
    for entry in std::fs::read_dir(src.join("activity")).expect("activity") {
        let path = entry.expect("entry").path();
        std::fs::copy(
            &path,
            dir.join("activity").join(path.file_name().expect("name")),
        )
        .expect("copy");
    }
    dir.join("tenant.toml")
}

#[test]
fn run_writes_the_expected_files_and_logs_no_address_or_subject() {
    let out = tempfile::tempdir().expect("out");
    let config = example("stockholm").join("tenant.toml");
    let o = rapport_with_log(
        &[
            "run",
            "--config",
            config.to_str().expect("utf8"),
            "--out",
            out.path().to_str().expect("utf8"),
            "--workers",
            "3",
        ],
        "trace",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let expected = std::fs::read(example("stockholm").join("expected/account_engagement.csv"))
        .expect("expected");
    assert_eq!(
        std::fs::read(out.path().join("account_engagement.csv")).expect("actual"),
        expected
    );
    for f in ["office_users.csv", "run_report.json", "rejects.jsonl"] {
        assert!(out.path().join(f).exists(), "{f}");
    }
    let logs = String::from_utf8_lossy(&o.stderr);
    assert!(logs.contains("job done"), "trace logs are on: {logs}");
    assert_no_secret_of(&logs, &example("stockholm"));
    // Nothing is left of the staging area.
    let leftovers: Vec<_> = std::fs::read_dir(out.path())
        .expect("out")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The tenants whose copies tie (records read again for their text) and
/// whose files hold real-world quirks: not an address in the trace logs.
#[test]
fn records_read_again_for_ties_log_no_address() {
    for name in ["ties", "quirks"] {
        let tenant = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data")
            .join(name);
        let out = tempfile::tempdir().expect("out");
        let o = run_tenant(&tenant.join("tenant.toml"), out.path(), "trace");
        assert_no_secret_of(&String::from_utf8_lossy(&o.stderr), &tenant);
    }
}

fn refused(config_edit: impl Fn(&Path), field: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let config = copy_example("newyork", dir.path());
    config_edit(dir.path());
    let out = dir.path().join("out");
    let o = rapport(&[
        "run",
        "--config",
        config.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{field}: {stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("rapport:"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains(field), "{field} not named in {stderr}");
    assert!(!out.join("account_engagement.csv").exists());
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains(from), "{file} lacks {from}");
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}

#[test]
fn invalid_configuration_is_refused_with_exit_2_naming_the_field() {
    refused(
        |d| edit(d, "tenant.toml", "America/New_York", "America/Gotham"),
        "tenant.timezone",
    );
    refused(
        |d| edit(d, "tenant.toml", "\"2026-03-15\"", "\"15/03/2026\""),
        "tenant.as_of",
    );
    refused(
        |d| edit(d, "tenant.toml", "window_days = 180", "window_days = 0"),
        "tenant.window_days",
    );
    refused(
        |d| edit(d, "tenant.toml", "window_days = 180", "window_days = 1101"),
        "tenant.window_days",
    );
    refused(
        |d| {
            edit(
                d,
                "tenant.toml",
                "[inputs]",
                "[score.weights]\nemails = 50\n\n[inputs]",
            )
        },
        "score.weights",
    );
    refused(
        |d| {
            edit(
                d,
                "tenant.toml",
                "[inputs]",
                "[score.weights]\nemails = 25.5\n\n[inputs]",
            )
        },
        "score.weights.emails",
    );
    refused(
        |d| edit(d, "tenant.toml", "activity/*.jsonl", "nowhere/*.jsonl"),
        "inputs.activity[0].path",
    );
    refused(
        |d| edit(d, "contacts.csv", "email,account_id", "email,account"),
        "contacts.csv",
    );
    refused(
        |d| {
            std::fs::write(
                d.join("org_users.csv"),
                "email,aad_object_id\nsolo@contoso.com,\n",
            )
            .expect("write")
        },
        "org_users.csv",
    );
    refused(
        |d| std::fs::remove_file(d.join("account_domains.csv")).expect("rm"),
        "account_domains.csv",
    );
}

#[test]
fn generate_is_deterministic_per_seed() {
    let (a, b, c) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
        tempfile::tempdir().expect("c"),
    );
    let gen = |dir: &Path, seed: &str| {
        let o = rapport(&[
            "generate",
            "--out",
            dir.to_str().expect("utf8"),
            "--seed",
            seed,
            "--users",
            "5",
            "--accounts",
            "9",
            "--emails",
            "300",
            "--meetings",
            "50",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    gen(a.path(), "4");
    gen(b.path(), "4");
    gen(c.path(), "5");
    let read = |dir: &Path| std::fs::read(dir.join("activity/mailbox-0000.jsonl")).expect("file");
    assert_eq!(read(a.path()), read(b.path()));
    assert_ne!(read(a.path()), read(c.path()));
    assert_eq!(
        std::fs::read(a.path().join("contacts.csv")).expect("a"),
        std::fs::read(b.path().join("contacts.csv")).expect("b")
    );
}

#[test]
fn unknown_generate_format_is_bad_usage() {
    let dir = tempfile::tempdir().expect("dir");
    let o = rapport(&[
        "generate",
        "--out",
        dir.path().to_str().expect("utf8"),
        "--format",
        "xml",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn missing_flag_is_bad_usage() {
    assert_eq!(rapport(&["run", "--out", "x"]).status.code(), Some(2));
}

fn run_tenant(config: &Path, out: &Path, level: &str) -> Output {
    let o = rapport_with_log(
        &[
            "run",
            "--config",
            config.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
        ],
        level,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

/// The example converted to Graph and mail: the expected bytes, and not a
/// subject, body, description, location or address in the most verbose logs.
#[test]
fn converted_examples_give_the_expected_output_and_log_no_content() {
    for format in ["graph", "mail"] {
        let dir = tempfile::tempdir().expect("dir");
        let config = example("stockholm").join("tenant.toml");
        let o = rapport(&[
            "generate",
            "--from",
            config.to_str().expect("utf8"),
            "--format",
            format,
            "--out",
            dir.path().join("tenant").to_str().expect("utf8"),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = dir.path().join("out");
        let o = run_tenant(&dir.path().join("tenant/tenant.toml"), &out, "trace");
        for file in ["account_engagement.csv", "office_users.csv"] {
            assert_eq!(
                std::fs::read(out.join(file)).expect("actual"),
                std::fs::read(example("stockholm").join("expected").join(file)).expect("expected"),
                "{format}: {file}"
            );
        }
        let logs = String::from_utf8_lossy(&o.stderr);
        assert!(logs.contains("job done"), "trace logs are on");
        assert_no_secret_of(&logs, &dir.path().join("tenant"));
    }
}

/// `generate --format`: the three formats of one seed give the same results.
#[test]
fn the_three_formats_of_one_seed_give_the_same_results() {
    let dir = tempfile::tempdir().expect("dir");
    let mut outputs = Vec::new();
    for format in ["jsonl", "graph", "mail"] {
        let tenant = dir.path().join(format);
        let o = rapport(&[
            "generate",
            "--out",
            tenant.to_str().expect("utf8"),
            "--seed",
            "9",
            "--users",
            "7",
            "--accounts",
            "15",
            "--emails",
            "900",
            "--meetings",
            "200",
            "--format",
            format,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = dir.path().join(format!("{format}-out"));
        run_tenant(&tenant.join("tenant.toml"), &out, "info");
        outputs.push(std::fs::read(out.join("account_engagement.csv")).expect("output"));
    }
    assert!(outputs[0].len() > 1000, "a real result");
    assert_eq!(outputs[0], outputs[1], "graph");
    assert_eq!(outputs[0], outputs[2], "mail");
}

/// Every file under `dir`, by relative path.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files_below(dir)
        .into_iter()
        .map(|rel| {
            let bytes = std::fs::read(dir.join(&rel)).expect("file");
            (rel, bytes)
        })
        .collect()
}

/// Same seed, same bytes, in every format.
#[test]
fn graph_and_mail_generation_is_deterministic_per_seed() {
    for format in ["graph", "mail"] {
        let (a, b) = (
            tempfile::tempdir().expect("a"),
            tempfile::tempdir().expect("b"),
        );
        for dir in [a.path(), b.path()] {
            let o = rapport(&[
                "generate",
                "--out",
                dir.to_str().expect("utf8"),
                "--seed",
                "3",
                "--users",
                "5",
                "--accounts",
                "9",
                "--emails",
                "300",
                "--meetings",
                "60",
                "--format",
                format,
            ]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let (ta, tb) = (tree(a.path()), tree(b.path()));
        assert!(ta.len() > 5, "{format}: files written");
        assert!(
            ta.iter()
                .all(|(p, _)| p.extension().is_none_or(|e| e != "jsonl")),
            "{format}: no jsonl left"
        );
        assert!(ta == tb, "{format}: same bytes");
    }
}
