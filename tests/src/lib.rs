//! The local AWS stack for integration tests: a moto server on a free loopback port, started
//! by the test that needs it and stopped when that test ends (also when it fails).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The workspace root (the tests crate sits in `tests/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf()
}

/// `MOTO_SERVER`, or the one `make test` installs into the project's `.venv`.
fn moto_server() -> PathBuf {
    let path = std::env::var_os("MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/moto_server"));
    assert!(
        path.exists(),
        "moto server not found at {}: run the tests with `make test`, which installs it into .venv \
         (or point MOTO_SERVER at a moto_server executable)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A running moto server, killed when dropped.
pub struct LocalAws {
    child: Child,
    pub endpoint: String,
    port: u16,
}

pub const REGION: &str = "us-east-1";

impl LocalAws {
    pub fn start() -> Self {
        let bin = moto_server();
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let mut aws = LocalAws {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
                port,
            };
            if aws.wait_ready(Duration::from_secs(30)) {
                return aws;
            }
            // Dropped here, which kills it; the port was probably taken meanwhile.
        }
        panic!("moto server did not start on loopback after three tries");
    }

    fn wait_ready(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return false;
            }
            if self.get("/moto-api/data.json").is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// A plain HTTP GET against moto's own API; `None` while it is not answering.
    pub fn get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        let status_ok = head.split_whitespace().nth(1) == Some("200");
        status_ok.then(|| body.to_owned())
    }

    /// Every mail sent through SES so far: moto keeps them.
    pub fn sent_mails(&self) -> Vec<serde_json::Value> {
        let data = self.get("/moto-api/data.json").expect("moto answers");
        let data: serde_json::Value = serde_json::from_str(&data).expect("moto's data is JSON");
        data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// An SDK configuration for this server (in-process tests; the CLI reads the environment).
    pub async fn sdk(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_cognitoidentityprovider::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .load()
            .await
    }

    /// The environment `tenantctl` and the functions run with against this server.
    pub fn env(&self, table: &str) -> Vec<(String, String)> {
        env_for(&self.endpoint, table)
    }
}

/// The environment `tenantctl` and the functions run with against the AWS at `endpoint`.
pub fn env_for(endpoint: &str, table: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("TABLE_NAME", table),
        ("BASE_DOMAIN", "app.example.test"),
        ("MAIL_FROM", "no-reply@app.example.test"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for trigger in TRIGGERS {
        env.push((
            format!("{}_ARN", trigger.to_uppercase().replace('-', "_")),
            trigger_arn(trigger),
        ));
    }
    env
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The trigger functions every pool is created with.
pub const TRIGGERS: [&str; 6] = [
    "pre-signup",
    "post-confirmation",
    "pre-authentication",
    "pre-token-generation",
    "user-migration",
    "custom-message",
];

pub fn trigger_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:123456789012:function:{name}")
}

/// The `tenantctl` binary of this build (`make test` builds it before the tests).
pub fn tenantctl_path() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/tenantctl
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("tenantctl"))
        .expect("target directory");
    assert!(
        path.exists(),
        "{} is missing: build it first (`cargo build -p tenant-migration --bins`; `make test` does)",
        path.display()
    );
    path
}

/// Runs `tenantctl` with `args` and the environment `env`.
pub fn tenantctl(env: &[(String, String)], args: &[&str]) -> Output {
    Command::new(tenantctl_path())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("tenantctl runs")
}
