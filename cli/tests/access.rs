//! Who may call the coordinator and which paths it and its workers may
//! touch, tried as an outsider would against a real cluster (RabbitMQ,
//! Redis, the `rapport` binary): bearer tokens and roles, a tokens file
//! reloaded, the data roots (`..`, symlinks, absolute paths, another
//! tenant's files, FIFOs, devices, oversized configs and bodies), each
//! refused fast with the rule named, and a coordinator still healthy after.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{example, same, Cluster, OPERATOR_TOKEN, VIEWER_TOKEN};

/// Copies the example tenant `name` into `to`.
fn copy_example(name: &str, to: &Path) -> PathBuf {
    let from = example(name).parent().expect("dir").to_owned();
    copy_dir(&from, to);
    to.join("tenant.toml")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(made.success());
}

fn submit_body(config: &Path, out: &Path) -> String {
    serde_json::json!({"config": config, "out": out}).to_string()
}

#[test]
fn every_route_but_health_needs_a_token_of_the_right_role() {
    let cluster = Cluster::start(0);
    let port = cluster.port;
    let http = |method, path, token| Cluster::http(port, method, path, token, "");
    for path in ["/healthz", "/readyz"] {
        assert_eq!(http("GET", path, None).0, 200, "{path} is open");
    }
    let wrong = "operator-token-for-the-tests-0002";
    for (method, path) in [
        ("GET", "/runs"),
        ("GET", "/runs/r1"),
        ("GET", "/runs/r1/accounts"),
        ("POST", "/runs"),
        ("POST", "/runs/r1/rerun"),
        ("POST", "/runs/r1/cancel"),
    ] {
        let (status, body) = http(method, path, None);
        assert_eq!(status, 401, "{method} {path} without a token: {body}");
        assert!(body.contains("bearer token"), "{body}");
        assert_eq!(http(method, path, Some(wrong)).0, 401, "{method} {path}");
    }
    assert_eq!(http("GET", "/runs", Some(VIEWER_TOKEN)).0, 200);
    assert_eq!(http("GET", "/runs/r1", Some(VIEWER_TOKEN)).0, 404);
    assert_eq!(http("GET", "/runs/r1/accounts", Some(VIEWER_TOKEN)).0, 404);
    for path in ["/runs", "/runs/r1/rerun", "/runs/r1/cancel"] {
        let (status, body) = http("POST", path, Some(VIEWER_TOKEN));
        assert_eq!(status, 403, "a viewer may not POST {path}: {body}");
        assert!(body.contains("the viewer role may not do this"), "{body}");
    }
    assert_eq!(http("POST", "/runs/r1/cancel", Some(OPERATOR_TOKEN)).0, 404);
    // Without data roots (loopback), a device is still no config.
    let started = Instant::now();
    let (status, body) = Cluster::http(
        port,
        "POST",
        "/runs",
        Some(OPERATOR_TOKEN),
        &submit_body(Path::new("/dev/zero"), Path::new("/tmp/never")),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not a regular file"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(1));

    // The clients: a viewer cannot submit; without a token nothing is read.
    let dir = tempfile::tempdir().expect("dir");
    let config = example("newyork");
    let as_viewer = cluster
        .command(&["submit", "--config", config.to_str().expect("utf8")])
        .args(["--out", dir.path().to_str().expect("utf8")])
        .env("RAPPORT_TOKEN", VIEWER_TOKEN)
        .output()
        .expect("submit");
    assert_eq!(as_viewer.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&as_viewer.stderr).contains("viewer role"));
    let anonymous = cluster
        .command(&["runs"])
        .env_remove("RAPPORT_TOKEN")
        .output()
        .expect("runs");
    assert_eq!(anonymous.status.code(), Some(2));
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{VIEWER_TOKEN}\n")).expect("token file");
    let from_file = cluster
        .command(&["runs", "--token-file", token_file.to_str().expect("utf8")])
        .env_remove("RAPPORT_TOKEN")
        .output()
        .expect("runs");
    assert!(from_file.status.success(), "{from_file:?}");
}

#[test]
fn a_changed_tokens_file_takes_effect_and_no_token_is_logged() {
    let cluster = Cluster::start_logged(0);
    let port = cluster.port;
    let fresh = "operator-token-for-the-tests-0003";
    let next = cluster.secrets.path().join("next");
    std::fs::write(&next, format!("operator {fresh}\n")).expect("tokens");
    std::fs::rename(&next, cluster.tokens_file()).expect("swap");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Cluster::http(port, "GET", "/runs", Some(fresh), "").0 != 200 {
        assert!(Instant::now() < deadline, "the new token was not taken");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        Cluster::http(port, "GET", "/runs", Some(OPERATOR_TOKEN), "").0,
        401,
        "a removed token is refused"
    );
    // A broken file leaves the tokens in force.
    std::fs::write(&next, "nonsense\n").expect("tokens");
    std::fs::rename(&next, cluster.tokens_file()).expect("swap");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(Cluster::http(port, "GET", "/runs", Some(fresh), "").0, 200);
    let logs = cluster.logs();
    assert!(logs.contains("tokens file reloaded"), "{logs}");
    for token in [fresh, OPERATOR_TOKEN, VIEWER_TOKEN] {
        assert!(!logs.contains(token), "a token was logged");
    }
}

#[test]
fn off_loopback_a_coordinator_needs_tokens_and_roots() {
    let rapport = env!("CARGO_BIN_EXE_rapport");
    let refused = Command::new(rapport)
        .args(["coordinator", "--listen", "0.0.0.0:7"])
        .env_remove("RAPPORT_TOKENS_FILE")
        .env(
            "RAPPORT_NAMESPACE",
            format!("access-{}", std::process::id()),
        )
        .stdout(Stdio::null())
        .output()
        .expect("coordinator");
    assert_eq!(refused.status.code(), Some(2));
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        text.contains("non-loopback address needs a tokens file (--tokens-file), input roots"),
        "{text}"
    );
    // On loopback it starts, and says what it lacks.
    let cluster = Cluster::unstarted(true);
    let mut dev = cluster
        .command(&["coordinator"])
        .env_remove("RAPPORT_TOKENS_FILE")
        .env("RAPPORT_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("coordinator");
    std::thread::sleep(Duration::from_secs(2));
    Cluster::signal(&dev, "TERM");
    let out = dev.wait_with_output_or_kill();
    assert!(out.contains("development mode"), "{out}");
}

trait WaitOrKill {
    fn wait_with_output_or_kill(&mut self) -> String;
}

impl WaitOrKill for std::process::Child {
    fn wait_with_output_or_kill(&mut self) -> String {
        use std::io::Read;
        Cluster::exit_status(self, 20);
        let mut text = String::new();
        if let Some(mut stderr) = self.stderr.take() {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    }
}

/// Folders of a deployment: input root with two tenants, output root,
/// and a folder outside both with a secret table.
struct Roots {
    _dir: tempfile::TempDir,
    inputs: PathBuf,
    output: PathBuf,
    outside: PathBuf,
}

fn roots() -> Roots {
    let dir = tempfile::tempdir().expect("dir");
    let base = dir.path().canonicalize().expect("base");
    let (inputs, output, outside) = (base.join("in"), base.join("out"), base.join("outside"));
    copy_example("newyork", &inputs.join("a"));
    copy_example("stockholm", &inputs.join("b"));
    copy_example("stockholm", &outside);
    std::fs::create_dir_all(&output).expect("out");
    Roots {
        _dir: dir,
        inputs,
        output,
        outside,
    }
}

/// A cluster whose coordinator has `roots` and a 64 KiB config cap, and
/// whose workers read below `worker_root`.
fn cluster_within(roots: &Roots, worker_root: &Path) -> Cluster {
    let mut cluster = Cluster::unstarted(false);
    cluster.env = vec![
        (
            "RAPPORT_INPUT_ROOTS".into(),
            roots.inputs.display().to_string(),
        ),
        (
            "RAPPORT_OUTPUT_ROOT".into(),
            roots.output.display().to_string(),
        ),
        ("RAPPORT_MAX_CONFIG_BYTES".into(), "65536".into()),
    ];
    cluster.start_coordinator();
    cluster.env[0].1 = worker_root.display().to_string();
    cluster.add_worker();
    cluster
}

/// A tenant in folder `name` under the input root whose tenant.toml is
/// `newyork`'s with `from` replaced by `to`.
fn variant(roots: &Roots, name: &str, from: &str, to: &str) -> PathBuf {
    let config = copy_example("newyork", &roots.inputs.join(name));
    let text = std::fs::read_to_string(&config).expect("toml");
    assert!(text.contains(from), "{from} not in tenant.toml");
    std::fs::write(&config, text.replace(from, to)).expect("toml");
    config
}

#[test]
fn paths_outside_the_rules_are_refused_fast_with_the_rule_named() {
    let r = roots();
    let cluster = cluster_within(&r, &r.inputs);
    let port = cluster.port;
    let out = r.output.join("a");

    mkfifo(&r.inputs.join("fifo.toml"));
    std::os::unix::fs::symlink(r.outside.join("tenant.toml"), r.inputs.join("link.toml"))
        .expect("symlink");
    std::os::unix::fs::symlink("/dev/zero", r.inputs.join("zero.toml")).expect("symlink");
    let other = variant(&r, "c", "org_users.csv", "../b/org_users.csv");
    let absolute = variant(&r, "d", "org_users.csv", "/etc/passwd");
    let linked = variant(&r, "e", "org_users.csv", "secret.csv");
    let to_other = r.inputs.join("b/org_users.csv");
    std::os::unix::fs::symlink(to_other, r.inputs.join("e/secret.csv")).expect("symlink");
    let linked_out = variant(&r, "h", "org_users.csv", "secret.csv");
    let to_outside = r.outside.join("org_users.csv");
    std::os::unix::fs::symlink(to_outside, r.inputs.join("h/secret.csv")).expect("symlink");
    let fifo_table = variant(&r, "f", "org_users.csv", "pipe.csv");
    mkfifo(&r.inputs.join("f/pipe.csv"));
    let big = copy_example("newyork", &r.inputs.join("g"));
    let mut text = std::fs::read_to_string(&big).expect("toml");
    text.push_str(&format!("# {}\n", "x".repeat(70_000)));
    std::fs::write(&big, text).expect("toml");
    let escape = r.inputs.join("a/../../outside/tenant.toml");

    let a = r.inputs.join("a/tenant.toml");
    let cases: Vec<(&str, PathBuf, PathBuf, u16, &str)> = vec![
        (
            "/dev/zero",
            "/dev/zero".into(),
            out.clone(),
            403,
            "outside the input roots",
        ),
        (
            "a symlink to /dev/zero",
            r.inputs.join("zero.toml"),
            out.clone(),
            403,
            "outside the input roots",
        ),
        (
            "a FIFO",
            r.inputs.join("fifo.toml"),
            out.clone(),
            400,
            "not a regular file",
        ),
        ("../", escape, out.clone(), 403, "outside the input roots"),
        (
            "a symlink out",
            r.inputs.join("link.toml"),
            out.clone(),
            403,
            "outside the input roots",
        ),
        (
            "an absolute path outside",
            r.outside.join("tenant.toml"),
            out.clone(),
            403,
            "outside the input roots",
        ),
        (
            "another tenant's file",
            other,
            out.clone(),
            403,
            "outside the tenant's folder",
        ),
        (
            "an absolute table",
            absolute,
            out.clone(),
            403,
            "outside the tenant's folder",
        ),
        (
            "a table linked to another tenant's",
            linked,
            out.clone(),
            403,
            "outside the tenant's folder",
        ),
        (
            "a table linked out",
            linked_out,
            out.clone(),
            403,
            "outside the input roots",
        ),
        (
            "a FIFO as table",
            fifo_table,
            out.clone(),
            400,
            "not a regular file",
        ),
        (
            "an oversized tenant.toml",
            big,
            out.clone(),
            400,
            "cap of 65536 bytes",
        ),
        (
            "an output outside",
            a.clone(),
            r.outside.join("out"),
            403,
            "outside the output root",
        ),
        (
            "an output through ..",
            a.clone(),
            r.output.join("x/../../outside"),
            403,
            "outside the output root",
        ),
    ];
    for (what, config, out, status, rule) in cases {
        let started = Instant::now();
        let (got, body) = Cluster::http(
            port,
            "POST",
            "/runs",
            Some(OPERATOR_TOKEN),
            &submit_body(&config, &out),
        );
        let took = started.elapsed();
        assert_eq!(got, status, "{what}: {body}");
        assert!(body.contains(rule), "{what}: {body}");
        assert!(took < Duration::from_secs(1), "{what} took {took:?}");
        assert!(
            !r.outside.join("out").exists(),
            "{what} created a folder outside"
        );
    }
    let huge = format!("{{\"config\": \"{}\", \"out\": \"x\"}}", "a".repeat(70_000));
    assert_eq!(
        Cluster::http(port, "POST", "/runs", Some(OPERATOR_TOKEN), &huge).0,
        413,
        "a body over the cap"
    );
    assert_eq!(Cluster::http_get(port, "/healthz").as_deref(), Some("ok"));

    // Within the rules, the run is the example's.
    let (run, o) = cluster.submit(&a, &out, true);
    assert!(
        o.status.success(),
        "{run}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let expected = example("newyork").parent().expect("dir").join("expected");
    same(
        &expected.join("account_engagement.csv"),
        &out.join("account_engagement.csv"),
    );
}

#[test]
fn a_worker_reads_no_input_outside_its_own_roots() {
    let r = roots();
    // The coordinator accepts the tenant; the worker's root holds no input.
    let cluster = cluster_within(&r, &r.output);
    let a = r.inputs.join("a/tenant.toml");
    let (run, o) = cluster.submit(&a, &r.output.join("a"), true);
    assert_eq!(o.status.code(), Some(1), "{run}");
    let status = cluster.status(&run);
    assert_eq!(status["status"], "failed", "{status}");
    let error = status["error"].as_str().expect("error");
    assert!(error.contains("outside the input roots"), "{error}");
    assert!(!r.output.join("a/account_engagement.csv").exists());
}
