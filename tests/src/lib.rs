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

/// How to start moto: `MOTO_SERVER` (a moto_server executable), or moto from the project's
/// `.venv` (`make test` installs it) through `tests/local/moto_server.py`, which gives its
/// DynamoDB the isolation between concurrent requests that DynamoDB has (see that file).
fn moto_server() -> Command {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return Command::new(path);
    }
    let python = workspace_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "moto not found in {}: run the tests with `make test`, which installs it into .venv \
         (or point MOTO_SERVER at a moto_server executable)",
        python.display()
    );
    let mut command = Command::new(python);
    command.arg(workspace_root().join("tests/local/moto_server.py"));
    command
}

pub fn free_port() -> u16 {
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
        for _ in 0..3 {
            let port = free_port();
            let mut command = moto_server();
            let child = command
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start moto ({command:?}): {e}"));
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

    /// moto's loopback port (for a proxy in front of it).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A plain HTTP GET against moto's own API; `None` while it is not answering.
    pub fn get(&self, path: &str) -> Option<String> {
        let (status, _, body) = try_http(self.port, "GET", path, &[], "")?;
        (status == 200).then_some(body)
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

    /// The newest mail SES sent to `to`.
    pub fn newest_mail_to(&self, to: &str) -> serde_json::Value {
        let mails = self.sent_mails();
        mails
            .iter()
            .rev()
            .find(|m| m["destinations"]["ToAddresses"][0] == to)
            .cloned()
            .unwrap_or_else(|| panic!("no mail to {to} in {mails:?}"))
    }

    /// The temporary password in the newest welcome mail to `to`.
    pub fn newest_temporary_password(&self, to: &str) -> String {
        let mail = self.newest_mail_to(to);
        let body = mail["body"].as_str().expect("body");
        let after = body
            .split("Temporary password</td><td><code>")
            .nth(1)
            .expect("the mail shows a temporary password");
        after.split("</code>").next().expect("closed").to_owned()
    }

    /// How many user pools Cognito holds.
    pub async fn pool_count(&self) -> usize {
        let sdk = self.sdk().await;
        aws_sdk_cognitoidentityprovider::Client::new(&sdk)
            .list_user_pools()
            .max_results(60)
            .send()
            .await
            .expect("ListUserPools")
            .user_pools()
            .len()
    }

    /// How many mails SES sent to `to`.
    pub fn mails_to(&self, to: &str) -> usize {
        self.sent_mails()
            .iter()
            .filter(|m| m["destinations"]["ToAddresses"][0] == to)
            .count()
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

/// The registry table and the mail identity, prepared as `tenantctl setup` prepares them.
pub async fn prepared_adapters(
    sdk: &SdkConfig,
    table: &str,
) -> (
    shared::aws::dynamodb::DynamoRegistry,
    shared::aws::ses::SesMailer,
) {
    let registry = shared::aws::dynamodb::DynamoRegistry::new(sdk, table);
    registry.ensure_table().await.expect("the registry table");
    let from = shared::domain::EmailAddress::parse("no-reply@app.example.test").expect("valid");
    let mailer = shared::aws::ses::SesMailer::new(sdk, from, None);
    mailer.ensure_identity().await.expect("the mail identity");
    (registry, mailer)
}

/// An organization `sub` provisioned as `tenantctl org create` does (pool, app client,
/// groups, the first administrator `boss@<sub>.example` invited with a welcome mail),
/// signing in at `<sub>.<base_domain>`.
pub async fn provisioned(
    aws: &LocalAws,
    registry: &shared::aws::dynamodb::DynamoRegistry,
    mailer: &shared::aws::ses::SesMailer,
    sub: &str,
    base_domain: &str,
) -> shared::domain::Organization {
    use shared::domain::provisioning::{ProvisionRequest, Provisioning};
    let sdk = aws.sdk().await;
    let pools = shared::aws::cognito::CognitoPools::new(&sdk);
    let triggers = trigger_arns();
    Provisioning {
        registry,
        pools: &pools,
        mailer,
        base_domain,
        triggers: &triggers,
        actor: "test",
    }
    .provision(
        &ProvisionRequest {
            subdomain: sub.into(),
            name: format!("{sub} Inc"),
            admin_email: Some(format!("boss@{sub}.example")),
            seats: Some(5),
            email_domains: vec![format!("{sub}.example")],
            ..Default::default()
        },
        &|_| {},
    )
    .await
    .expect("provisioned")
    .organization
}

/// The trigger functions every pool is created with.
pub const TRIGGERS: [&str; 7] = [
    "pre-signup",
    "post-confirmation",
    "pre-authentication",
    "post-authentication",
    "pre-token-generation",
    "user-migration",
    "custom-message",
];

pub fn trigger_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:123456789012:function:{name}")
}

/// The seven trigger ARNs, as provisioning takes them.
pub fn trigger_arns() -> shared::domain::ports::TriggerArns {
    shared::domain::ports::TriggerArns {
        pre_signup: trigger_arn("pre-signup"),
        post_confirmation: trigger_arn("post-confirmation"),
        pre_authentication: trigger_arn("pre-authentication"),
        post_authentication: trigger_arn("post-authentication"),
        pre_token_generation: trigger_arn("pre-token-generation"),
        user_migration: trigger_arn("user-migration"),
        custom_message: trigger_arn("custom-message"),
    }
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

/// What a `tenantctl` run printed, and its exit code.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `tenantctl` with `args` in `env`.
pub fn tenantctl_run(env: &[(String, String)], args: &[&str]) -> Ran {
    let out = tenantctl(env, args);
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `tenantctl --output json` with `args`, expects exit `code`, returns what it printed.
pub fn tenantctl_json(env: &[(String, String)], args: &[&str], code: i32) -> serde_json::Value {
    let mut full = vec!["--output", "json"];
    full.extend_from_slice(args);
    let r = tenantctl_run(env, &full);
    assert_eq!(
        r.code, code,
        "tenantctl {args:?}: {}\n{}",
        r.stdout, r.stderr
    );
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {}", r.stdout))
}

/// A scratch directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!("{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create a scratch directory");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Kept for the post-mortem: logs of the runner and the emulators are in it.
            eprintln!(
                "test failed: its scratch directory is kept at {}",
                self.0.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A child process in its own process group: dropping it stops the group (a runner and the
/// functions it started).
pub struct Group(Child);

impl Group {
    pub fn spawn(command: &mut Command) -> Self {
        use std::os::unix::process::CommandExt;
        let child = command
            .process_group(0)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        Self(child)
    }

    pub fn exited(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        std::thread::sleep(Duration::from_millis(200));
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

fn wait_for_port(port: u16, limit: Duration, what: &str, process: &mut Group) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        assert!(
            !process.exited(),
            "{what} exited before it listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on port {port} within {limit:?}");
}

/// One HTTP/1.1 request on loopback; returns the status, the headers (lower-case names)
/// and the body.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> HttpAnswer {
    http_with(
        port,
        method,
        path,
        &[("content-type", "application/json")],
        body,
    )
}

/// [`http`] with the request's own headers (`Content-Length` is added, and `Host` unless
/// given).
pub fn http_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> HttpAnswer {
    try_http(port, method, path, headers, body)
        .unwrap_or_else(|| panic!("no HTTP answer to {method} {path} on port {port}"))
}

/// An HTTP answer: status, headers (lower-case names), body.
pub type HttpAnswer = (u16, Vec<(String, String)>, String);

/// [`http`], or `None` when nothing answers (yet).
fn try_http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<HttpAnswer> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .ok()?;
    let mut extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        extra.insert_str(0, "Host: 127.0.0.1\r\n");
    }
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Some((status, headers, body))
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// The cargo feature `make build` and `make test` build with (see `tests/Cargo.toml`): the
/// functions run under `cargo lambda watch` with it, so its `cargo run` finds them built.
pub const TEST_FEATURES: &str = "integration-tests/test-features";

/// The functions under `cargo lambda watch` (the real Lambda runtime API), with an Invoke
/// endpoint on a free loopback port.
pub struct Functions {
    _runner: Group,
    pub port: u16,
    _env: TempDir,
}

/// A function's error, as the Lambda Invoke API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    pub error_type: String,
    pub error_message: String,
}

impl Functions {
    /// Starts `cargo lambda watch` for the workspace's functions with `env`.
    pub fn start(env: &[(String, String)]) -> Self {
        Self::start_with(env, free_port(), &[])
    }

    /// Starts `cargo lambda watch` for the one function `bin` on `port`: every HTTP path
    /// then reaches it (its function URL at `/`, as behind API Gateway), with the request's
    /// own `Host`.
    pub fn start_one(bin: &str, port: u16, env: &[(String, String)]) -> Self {
        Self::start_with(env, port, &["--bin", bin])
    }

    fn start_with(env: &[(String, String)], port: u16, args: &[&str]) -> Self {
        let dir = TempDir::new("functions-env");
        let env_file = dir.0.join("functions.env");
        let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(&env_file, text).expect("write the env file");
        let log = std::fs::File::create(dir.0.join("watch.log")).expect("log file");
        let cargo_lambda = workspace_root().join(".venv/bin/cargo-lambda");
        assert!(
            cargo_lambda.exists(),
            "cargo-lambda not found at {}: run the tests with `make test`",
            cargo_lambda.display()
        );
        let mut runner = Group::spawn(
            Command::new(&cargo_lambda)
                .args([
                    "lambda",
                    "watch",
                    "--invoke-address",
                    "127.0.0.1",
                    "--invoke-port",
                ])
                .arg(port.to_string())
                .arg("--env-file")
                .arg(&env_file)
                // The features `make test` built the binaries with: `cargo run` reuses them.
                .args(["--features", TEST_FEATURES])
                .args(args)
                .current_dir(workspace_root())
                .stdout(log.try_clone().expect("log"))
                .stderr(log),
        );
        wait_for_port(
            port,
            Duration::from_secs(120),
            "cargo lambda watch",
            &mut runner,
        );
        Self {
            _runner: runner,
            port,
            _env: dir,
        }
    }

    /// Invokes `function` with `event` through the Lambda Invoke API.
    pub fn invoke(
        &self,
        function: &str,
        event: &serde_json::Value,
    ) -> Result<serde_json::Value, FunctionError> {
        let path = format!("/2015-03-31/functions/{function}/invocations");
        let (status, headers, body) = http(self.port, "POST", &path, &event.to_string());
        let value: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{function} answered {status} with no JSON ({e}): {body}"));
        let failed = headers.iter().any(|(k, _)| k == "x-amz-function-error")
            || value.get("errorType").is_some();
        if failed {
            Err(FunctionError {
                error_type: value["errorType"].as_str().unwrap_or_default().to_owned(),
                error_message: value["errorMessage"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            })
        } else {
            Ok(value)
        }
    }
}

/// cognito-local (npm): a Cognito that really invokes the trigger functions, through the
/// Lambda Invoke API of [`Functions`]. Its trigger configuration is global, not per pool.
pub struct CognitoLocal {
    _server: Group,
    pub endpoint: String,
    dir: TempDir,
}

impl CognitoLocal {
    /// Starts it on `port` with `triggers` (Cognito trigger name -> function name) calling
    /// `functions`. The port is chosen first because the functions call it back.
    pub fn start(port: u16, functions: &Functions, triggers: &[(&str, &str)]) -> Self {
        Self::start_invoking(port, functions.port, triggers)
    }

    /// [`CognitoLocal::start`], invoking the functions through the Lambda Invoke API on
    /// `lambda_port` (a test's own loopback relay in front of [`Functions`]).
    pub fn start_invoking(port: u16, lambda_port: u16, triggers: &[(&str, &str)]) -> Self {
        let bin = workspace_root().join("tests/local/node_modules/.bin/cognito-local");
        assert!(
            bin.exists(),
            "cognito-local not found at {}: run the tests with `make test`, which installs it",
            bin.display()
        );
        let dir = TempDir::new("cognito-local");
        std::fs::create_dir_all(dir.0.join(".cognito")).expect("config dir");
        let trigger_map: serde_json::Map<String, serde_json::Value> = triggers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect();
        let config = serde_json::json!({
            "LambdaClient": {
                "endpoint": format!("http://127.0.0.1:{lambda_port}"),
                "region": REGION,
                "credentials": {"accessKeyId": "local", "secretAccessKey": "local"}
            },
            "TriggerFunctions": trigger_map,
            // Usernames are our own, not e-mail addresses.
            "UserPoolDefaults": {"UsernameAttributes": []}
        });
        std::fs::write(dir.0.join(".cognito/config.json"), config.to_string()).expect("config");
        let log = std::fs::File::create(dir.0.join("cognito-local.log")).expect("log");
        let mut server = Group::spawn(
            Command::new(&bin)
                .current_dir(&dir.0)
                .env("PORT", port.to_string())
                .env("HOST", "127.0.0.1")
                // Its message log is drawn in a box: wide enough that no line wraps.
                .env("COLUMNS", "2000")
                .stdout(log.try_clone().expect("log"))
                .stderr(log),
        );
        wait_for_port(port, Duration::from_secs(60), "cognito-local", &mut server);
        Self {
            _server: server,
            endpoint: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    /// What cognito-local printed: the messages it "delivered" among it.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("cognito-local.log")).unwrap_or_default()
    }

    /// The confirmation code cognito-local stored for `username` in `pool_id`.
    pub fn confirmation_code(&self, pool_id: &str, username: &str) -> Option<String> {
        let path = self.dir.0.join(format!(".cognito/db/{pool_id}.json"));
        let db: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        db["Users"][username]["ConfirmationCode"]
            .as_str()
            .map(str::to_owned)
    }

    /// An SDK configuration for it.
    pub async fn sdk(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_cognitoidentityprovider::config::Credentials::new(
                "local", "local", None, None, "tests",
            ))
            .load()
            .await
    }
}

/// DynamoDB requests and items read, for the people-at-scale benchmark.
pub mod reads;
/// The SDK's default HTTPS client (rustls with aws-lc), counting every request it sends:
/// the benchmarks report AWS calls per invocation or request with it.
pub mod throttle;
pub mod tripwire;

/// The functions' IAM roles against the AWS calls they make.
pub mod iam;

pub mod counting {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use aws_config::SdkConfig;
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
        SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

    #[derive(Debug, Clone)]
    struct Counting {
        inner: SharedHttpClient,
        requests: Arc<AtomicUsize>,
    }

    #[derive(Debug)]
    struct CountingConnector {
        inner: SharedHttpConnector,
        requests: Arc<AtomicUsize>,
    }

    impl HttpConnector for CountingConnector {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            self.requests.fetch_add(1, Ordering::SeqCst);
            self.inner.call(request)
        }
    }

    impl HttpClient for Counting {
        fn http_connector(
            &self,
            settings: &HttpConnectorSettings,
            components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(CountingConnector {
                inner: self.inner.http_connector(settings, components),
                requests: self.requests.clone(),
            })
        }
    }

    /// `sdk` with its HTTP client wrapped; the counter goes up by one for every request.
    pub fn counted(sdk: SdkConfig) -> (SdkConfig, Arc<AtomicUsize>) {
        let requests = Arc::new(AtomicUsize::new(0));
        let inner = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build_https();
        let sdk = sdk
            .into_builder()
            .http_client(Counting {
                inner,
                requests: requests.clone(),
            })
            .build();
        (sdk, requests)
    }
}
