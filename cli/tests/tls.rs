//! TLS to the machine's own RabbitMQ and Redis, each given a TLS listener
//! on an extra loopback port for the test (RabbitMQ's at run time through
//! `rabbitmqctl eval`, Redis's through `CONFIG SET tls-port`), with a CA
//! and a server certificate made here by `openssl`: a run over `amqps://`
//! and `rediss://` writes the example's bytes; a CA that did not sign the
//! servers' certificates is refused with a clear error, naming no secret.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{example, same, Cluster};

fn openssl(args: &[&str], dir: &Path) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A CA (`name`.crt, `name`.key) in `dir`.
fn ca(dir: &Path, name: &str) -> PathBuf {
    let (crt, key) = (format!("{name}.crt"), format!("{name}.key"));
    let subject = format!("/CN=rapport test {name}");
    openssl(
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", &key, "-out",
            &crt, "-subj", &subject,
        ],
        dir,
    );
    dir.join(crt)
}

/// `name`.crt and `name`.key (PKCS#8) for `subject`, signed by the CA
/// `ca`, with the extensions of `extensions` (a file's text) when given.
fn signed_certificate(dir: &Path, ca: &str, name: &str, subject: &str, extensions: Option<&str>) {
    let (key, csr, crt) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
    );
    let request = [
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr,
    ];
    openssl(&[&request[..], &["-subj", subject]].concat(), dir);
    let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
    let mut sign = vec![
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca_crt,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &crt,
        "-days",
        "1",
    ];
    let ext = format!("{name}.cnf");
    if let Some(text) = extensions {
        std::fs::write(dir.join(&ext), text).expect("extensions");
        sign.extend(["-extfile", &ext]);
    }
    openssl(&sign, dir);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

fn rabbitmqctl_eval(expression: &str) -> String {
    let o = Command::new("rabbitmqctl")
        .args(["eval", expression])
        .output()
        .expect("rabbitmqctl");
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn redis_cli(args: &[&str]) -> String {
    let o = Command::new("redis-cli")
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// TLS listeners on the machine's servers, stopped on drop.
struct Listeners {
    amqps: u16,
    rediss: u16,
}

impl Listeners {
    fn start(dir: &Path) -> Listeners {
        let (amqps, rediss) = (free_port(), free_port());
        let file = |name: &str| dir.join(name).display().to_string();
        let started = rabbitmqctl_eval(&format!(
            "rabbit_networking:start_ssl_listener({{\"127.0.0.1\", {amqps}}}, \
             [{{cacertfile, \"{}\"}}, {{certfile, \"{}\"}}, {{keyfile, \"{}\"}}, \
              {{verify, verify_none}}, {{fail_if_no_peer_cert, false}}], 1).",
            file("ca.crt"),
            file("server.crt"),
            file("server.key")
        ));
        assert_eq!(started, "ok", "RabbitMQ TLS listener");
        // In one command: Redis 7.0 keeps its old certificate when the
        // files change in one CONFIG SET and the port in another.
        let port = rediss.to_string();
        let set = redis_cli(&[
            "CONFIG",
            "SET",
            "tls-cert-file",
            &file("server.crt"),
            "tls-key-file",
            &file("server.key"),
            "tls-ca-cert-file",
            &file("ca.crt"),
            "tls-auth-clients",
            "no",
            "tls-port",
            &port,
        ]);
        assert_eq!(set, "OK", "Redis TLS listener");
        Listeners { amqps, rediss }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        rabbitmqctl_eval(&format!(
            "rabbit_networking:stop_tcp_listener({{\"127.0.0.1\", {}}}).",
            self.amqps
        ));
        redis_cli(&["CONFIG", "SET", "tls-port", "0"]);
    }
}

/// A folder the servers' own users can read (the certificates).
fn shared_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("mode");
    dir
}

#[test]
fn a_run_over_tls_is_identical_and_a_wrong_ca_is_refused() {
    let dir = shared_dir();
    ca(dir.path(), "ca");
    let wrong = ca(dir.path(), "wrong");
    let san = "subjectAltName=IP:127.0.0.1\n";
    signed_certificate(dir.path(), "ca", "server", "/CN=127.0.0.1", Some(san));
    signed_certificate(dir.path(), "ca", "client", "/CN=rapport-worker", None);
    for f in std::fs::read_dir(dir.path()).expect("dir").flatten() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o644)).expect("mode");
    }
    let tls = Listeners::start(dir.path());
    let amqps = format!("amqps://guest:guest@127.0.0.1:{}/%2f", tls.amqps);
    let rediss = format!("rediss://127.0.0.1:{}/", tls.rediss);

    let mut cluster = Cluster::unstarted(true);
    cluster.env = vec![
        ("RAPPORT_AMQP_URL".into(), amqps.clone()),
        ("RAPPORT_REDIS_URL".into(), rediss.clone()),
        (
            "RAPPORT_TLS_CA_FILE".into(),
            dir.path().join("ca.crt").display().to_string(),
        ),
    ];
    cluster.start_coordinator();
    cluster.add_worker();
    let out = tempfile::tempdir().expect("out");
    let (run, o) = cluster.submit(&example("newyork"), out.path(), true);
    assert!(
        o.status.success(),
        "{run}: {:?} {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr),
        cluster.logs()
    );
    let expected = example("newyork").parent().expect("dir").join("expected");
    for file in ["account_engagement.csv", "office_users.csv"] {
        same(&expected.join(file), &out.path().join(file));
    }
    // The connections it used are TLS ones.
    let listed = Command::new("rabbitmqctl")
        .args(["list_connections", "port", "ssl", "--quiet"])
        .output()
        .expect("rabbitmqctl");
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == [tls.amqps.to_string().as_str(), "true"]),
        "{listed}"
    );

    // A CA that did not sign the servers' certificates: refused, each server.
    for (amqp, redis, server) in [
        (amqps.as_str(), support::REDIS, "RabbitMQ"),
        (support::AMQP, rediss.as_str(), "Redis"),
    ] {
        let o = cluster
            .command(&["worker"])
            .env("RAPPORT_AMQP_URL", amqp)
            .env("RAPPORT_REDIS_URL", redis)
            .env("RAPPORT_TLS_CA_FILE", &wrong)
            .output()
            .expect("worker");
        let text = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{server}: {text}");
        assert!(
            text.contains(&format!("cannot connect to {server}")),
            "{text}"
        );
        assert!(text.contains("tls_ca_file"), "{server}: {text}");
        assert!(
            !text.contains("guest:guest"),
            "a password in an error: {text}"
        );
    }

    // A Redis that asks for a client certificate: refused without one,
    // served with one (the worker stays up, connected, until stopped).
    assert_eq!(
        redis_cli(&["CONFIG", "SET", "tls-auth-clients", "yes"]),
        "OK"
    );
    let file = |name: &str| dir.path().join(name);
    let worker = |with_certificate: bool| {
        let mut c = cluster.command(&["worker"]);
        c.env("RAPPORT_REDIS_URL", &rediss)
            .env("RAPPORT_TLS_CA_FILE", file("ca.crt"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if with_certificate {
            c.env("RAPPORT_TLS_CERT_FILE", file("client.crt"))
                .env("RAPPORT_TLS_KEY_FILE", file("client.key"));
        }
        c.spawn().expect("worker")
    };
    let refused = worker(false).wait_with_output().expect("worker");
    assert_eq!(
        refused.status.code(),
        Some(1),
        "without a client certificate"
    );
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(text.contains("cannot connect to Redis"), "{text}");
    let mut served = worker(true);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(
        served.try_wait().expect("wait").is_none(),
        "with a client certificate"
    );
    Cluster::signal(&served, "TERM");
    assert!(Cluster::exit_status(&mut served, 20).success());
    redis_cli(&["CONFIG", "SET", "tls-auth-clients", "no"]);
}
