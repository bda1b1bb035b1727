//! `make bench-packages`: how big every function's package is and how fast it starts, beside
//! a bare lambda_runtime function built in the same run with the same profile.
//!
//! Every package under `functions/` with a binary from `src/main.rs` (the Lambda; other
//! binaries such as `tenantctl` are tools) is found through `cargo metadata`, and built alone
//! in release (`cargo build --release -p <package> --bin <binary>`, as a deployment builds one
//! function). For each: the binary's size (the release profile strips), its gzip size, and the
//! start-up proxy: the time from spawning the process to its first
//! `GET /2018-06-01/runtime/invocation/next` on a local stub of the Lambda runtime API
//! (configuration read, clients built, nothing invoked), over `BENCH_STARTS` starts (default
//! 100), interleaved across the binaries so that a busy moment of the machine falls on all of
//! them alike. The functions get Lambda's own variables and dummy but well-formed values of
//! ours, `AWS_ENDPOINT_URL` pointing at a loopback listener that counts connections: nothing
//! may call AWS before the first invocation.
//!
//! `BENCH_PACKAGES=pre-signup,admin-api` measures some functions only. The table (Markdown)
//! goes to stdout, progress to stderr.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The poll that ends a start: the runtime asks for its first event.
const NEXT: &str = "/2018-06-01/runtime/invocation/next";
/// Goals of issue 11.
const MAX_RATIO: f64 = 2.0;
const MAX_BYTES: u64 = 4 * 1024 * 1024;
/// Starts not counted, per binary: the first ones read the file from disk.
const WARM_UP: usize = 3;
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Our variables, with dummy but well-formed values: every function gets all of them (a new
/// function reading a new variable fails to start, naming it: add it here).
const FUNCTION_ENV: &[(&str, &str)] = &[
    ("TABLE_NAME", "signin-bench"),
    ("BASE_DOMAIN", "app.example.com"),
    ("MAIL_FROM", "no-reply@app.example.com"),
    ("ORG_CACHE_SECONDS", "30"),
    (
        "PRE_SIGNUP_ARN",
        "arn:aws:lambda:eu-west-1:123456789012:function:pre-signup",
    ),
    (
        "POST_CONFIRMATION_ARN",
        "arn:aws:lambda:eu-west-1:123456789012:function:post-confirmation",
    ),
    (
        "PRE_AUTHENTICATION_ARN",
        "arn:aws:lambda:eu-west-1:123456789012:function:pre-authentication",
    ),
    (
        "POST_AUTHENTICATION_ARN",
        "arn:aws:lambda:eu-west-1:123456789012:function:post-authentication",
    ),
    (
        "PRE_TOKEN_GENERATION_ARN",
        "arn:aws:lambda:eu-west-1:123456789012:function:pre-token-generation",
    ),
    (
        "USER_MIGRATION_ARN",
        "arn:aws:lambda:eu-west-1:123456789012:function:user-migration",
    ),
    (
        "CUSTOM_MESSAGE_ARN",
        "arn:aws:lambda:eu-west-1:123456789012:function:custom-message",
    ),
];

/// What Lambda's provided.al2023 runtime sets (the credentials as Lambda passes them).
const LAMBDA_ENV: &[(&str, &str)] = &[
    ("AWS_REGION", "eu-west-1"),
    ("AWS_DEFAULT_REGION", "eu-west-1"),
    ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEBENCHKEY0"),
    (
        "AWS_SECRET_ACCESS_KEY",
        "bench/secret/key/that/is/never/used/00000",
    ),
    ("AWS_SESSION_TOKEN", "bench-session-token"),
    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
    ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
    ("LAMBDA_TASK_ROOT", "/var/task"),
    ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
    ("_HANDLER", "bootstrap"),
    ("TZ", ":UTC"),
    ("LANG", "en_US.UTF-8"),
    ("PATH", "/usr/local/bin:/usr/bin:/bin"),
];

struct Binary {
    /// The package, or `bare` for the reference.
    label: String,
    path: PathBuf,
    bytes: u64,
    gzip_bytes: u64,
    /// Why it could not be measured, if so.
    failed: Option<String>,
    starts: Vec<Duration>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench-packages: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let starts: usize = match std::env::var("BENCH_STARTS") {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("BENCH_STARTS={v:?} is not a number"))?,
        Err(_) => 100,
    };
    if starts < 30 {
        return Err("BENCH_STARTS must be at least 30".into());
    }
    let only: Option<Vec<String>> = std::env::var("BENCH_PACKAGES")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect());
    let metadata = cargo_metadata()?;
    let root = PathBuf::from(
        metadata["workspace_root"]
            .as_str()
            .ok_or("cargo metadata without workspace_root")?,
    );
    let mut functions = lambda_binaries(&metadata, &root.join("functions"));
    if let Some(only) = &only {
        functions.retain(|(package, _)| only.contains(package));
    }
    if functions.is_empty() {
        return Err("no function to measure under functions/".into());
    }

    let mut binaries = vec![build("bare", "package-bench", "bare-echo")?];
    for (package, bin) in &functions {
        binaries.push(build(package, package, bin)?);
    }

    let runtime = Stub::start()?;
    let aws = CountingListener::start()?;
    let home = std::env::temp_dir().join(format!("bench-packages-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
    let env_of = |label: &str| -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = LAMBDA_ENV
            .iter()
            .chain(FUNCTION_ENV)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.push(("AWS_LAMBDA_FUNCTION_NAME".into(), label.to_owned()));
        env.push((
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{label}"),
        ));
        env.push((
            "AWS_LAMBDA_LOG_STREAM_NAME".into(),
            "2026/01/01/[$LATEST]bench".into(),
        ));
        env.push((
            "AWS_LAMBDA_RUNTIME_API".into(),
            format!("127.0.0.1:{}", runtime.port),
        ));
        env.push((
            "AWS_ENDPOINT_URL".into(),
            format!("http://127.0.0.1:{}", aws.port),
        ));
        // An empty home: no ~/.aws of this machine (Lambda has none either).
        env.push(("HOME".into(), home.display().to_string()));
        env
    };

    eprintln!(
        "==> {} starts of each of {} binaries, interleaved",
        starts,
        binaries.len()
    );
    let mut aws_calls: BTreeMap<String, usize> = BTreeMap::new();
    for round in 0..WARM_UP + starts {
        for binary in binaries.iter_mut().filter(|b| b.failed.is_none()) {
            let before = aws.count();
            match runtime.time_start(&binary.path, &env_of(&binary.label)) {
                Ok(took) if round >= WARM_UP => binary.starts.push(took),
                Ok(_) => {}
                Err(e) => binary.failed = Some(e),
            }
            let calls = aws.count() - before;
            if calls > 0 {
                *aws_calls.entry(binary.label.clone()).or_default() += calls;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&home);

    print_table(&binaries, starts);
    for (label, calls) in &aws_calls {
        println!(
            "\nFinding: {label} opened {calls} connection(s) to the AWS endpoint before its first poll."
        );
    }
    if binaries.iter().any(|b| b.failed.is_some()) {
        return Err("some functions did not start (see the table)".into());
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn cargo_metadata() -> Result<Value, String> {
    let out = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err("cargo metadata failed".into());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))
}

/// (package, binary) of every package under `dir` whose binary is its `src/main.rs`.
fn lambda_binaries(metadata: &Value, dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let Some(manifest) = package["manifest_path"].as_str().map(Path::new) else {
            continue;
        };
        let Some(package_dir) = manifest.parent() else {
            continue;
        };
        if package_dir.parent() != Some(dir) {
            continue;
        }
        let main = package_dir.join("src").join("main.rs");
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_bin = target["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"));
            if is_bin && target["src_path"].as_str().map(Path::new) == Some(main.as_path()) {
                if let (Some(p), Some(b)) = (package["name"].as_str(), target["name"].as_str()) {
                    found.push((p.to_owned(), b.to_owned()));
                }
            }
        }
    }
    found.sort();
    found
}

/// Builds one binary alone in release and measures its file.
fn build(label: &str, package: &str, bin: &str) -> Result<Binary, String> {
    eprintln!("==> cargo build --release -p {package} --bin {bin}");
    let out = cargo()
        .args(["build", "--release", "-p", package, "--bin", bin])
        .args(["--message-format", "json-render-diagnostics"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo build -p {package} failed"));
    }
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("cargo build -p {package} named no executable {bin}"))?;
    let bytes = std::fs::metadata(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let gzip = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(&path)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("gzip: {e}"))?;
    if !gzip.status.success() {
        return Err(format!("gzip {} failed", path.display()));
    }
    Ok(Binary {
        label: label.to_owned(),
        path,
        bytes,
        gzip_bytes: gzip.stdout.len() as u64,
        failed: None,
        starts: Vec::new(),
    })
}

/// A request line seen by the runtime API stub, and when.
struct Hit {
    at: Instant,
    request: String,
}

/// The Lambda runtime API as far as a start goes: it notes every request and never answers,
/// so the function waits in its first poll until it is killed.
struct Stub {
    port: u16,
    hits: Receiver<Hit>,
}

impl Stub {
    fn start() -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("stub: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let (tx, hits) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let tx = tx.clone();
                std::thread::spawn(move || hold(stream, tx));
            }
        });
        Ok(Self { port, hits })
    }

    /// One start of `binary`: the time until its first poll.
    fn time_start(&self, binary: &Path, env: &[(String, String)]) -> Result<Duration, String> {
        while self.hits.try_recv().is_ok() {}
        let started = Instant::now();
        let mut child = Command::new(binary)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let outcome = loop {
            match self.hits.recv_timeout(Duration::from_millis(20)) {
                Ok(hit) if hit.request.starts_with(&format!("GET {NEXT} ")) => {
                    break Ok(hit.at - started)
                }
                Ok(hit) => break Err(format!("asked the runtime API {:?} first", hit.request)),
                Err(RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        break Err(format!("exited ({status}) before its first poll"));
                    }
                    if started.elapsed() > START_TIMEOUT {
                        break Err(format!("no poll within {START_TIMEOUT:?}"));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break Err("the stub stopped".into()),
            }
        };
        let output = stop(&mut child);
        outcome.map_err(|e| {
            let said = output.trim().replace('\n', " / ");
            format!("{e}: {said}")
        })
    }
}

/// Kills the child and returns what it wrote.
fn stop(child: &mut Child) -> String {
    let _ = child.kill();
    let mut said = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut said);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut said);
    }
    let _ = child.wait();
    said
}

/// Reads one request head, reports its first line, then keeps the connection open (never
/// answering) until the client goes.
fn hold(mut stream: TcpStream, tx: Sender<Hit>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                head.extend_from_slice(&buf[..n]);
                if head.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    let at = Instant::now();
    let request = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    let _ = tx.send(Hit { at, request });
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
    let _ = stream.flush();
}

/// Stands where AWS would be: counts connections and closes them.
struct CountingListener {
    port: u16,
    count: Arc<AtomicUsize>,
}

impl CountingListener {
    fn start() -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("aws stub: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stream.is_ok() {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Ok(Self { port, count })
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn print_table(binaries: &[Binary], starts: usize) {
    let bare_p50 = binaries.first().filter(|b| b.failed.is_none()).map(|b| {
        let mut s = b.starts.clone();
        s.sort();
        percentile(&s, 50.0)
    });
    println!(
        "| function | stripped | gzip -9 | start-up p50 | start-up p99 | p50 / bare | goals (p50 <= {MAX_RATIO} x bare, <= 4 MiB) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    for b in binaries {
        let name = if b.label == "bare" {
            "bare lambda_runtime echo".to_owned()
        } else {
            format!("`{}`", b.label)
        };
        if let Some(e) = &b.failed {
            println!(
                "| {name} | {} | {} | did not start: {e} | | | |",
                mib(b.bytes),
                mib(b.gzip_bytes)
            );
            continue;
        }
        let mut sorted = b.starts.clone();
        sorted.sort();
        let p50 = percentile(&sorted, 50.0);
        let p99 = percentile(&sorted, 99.0);
        let ratio = bare_p50.map(|bare| p50.as_secs_f64() / bare.as_secs_f64());
        let goals = if b.label == "bare" {
            String::new()
        } else {
            let mut missed = Vec::new();
            if ratio.is_some_and(|r| r > MAX_RATIO) {
                missed.push("start-up");
            }
            if b.bytes > MAX_BYTES {
                missed.push("size");
            }
            if missed.is_empty() {
                "met".into()
            } else {
                format!("over: {}", missed.join(", "))
            }
        };
        println!(
            "| {name} | {} | {} | {} | {} | {} | {goals} |",
            mib(b.bytes),
            mib(b.gzip_bytes),
            ms(p50),
            ms(p99),
            ratio.map(|r| format!("{r:.2} x")).unwrap_or_default(),
        );
    }
    println!(
        "\n{starts} starts each (nearest-rank percentiles), x86_64, release profile of the workspace, each binary built alone."
    );
}
