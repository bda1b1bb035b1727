//! Migration benchmark (figures, never a timed test):
//! 1. users per second of `tenantctl migrate run` (invite mode) through a loopback proxy that
//!    throttles Cognito like Cognito (`integration_tests::throttle`, Cognito's default quotas),
//!    against the binding quota, with no person failed;
//! 2. peak RSS of `tenantctl migrate plan` and `migrate run` on 10,000- and 100,000-person
//!    sources (read from /proc/<pid>/status, VmHWM, while it runs).
//!
//! Run: `cargo build -p tenant-migration --bin tenantctl && cargo bench -p integration-tests
//! --bench migration --profile dev` (the tenantctl next to the bench binary is measured).
//! Prints Markdown. `BENCH_TIMELINE=1` prints the group additions of every second and the
//! runs' progress on stderr; `BENCH_SKIP_RSS=1` stops after the rate runs.
//!
//! The rate runs give DynamoDB and SES a moto server of their own (per-service endpoints), as
//! in AWS, where they never stall Cognito. Two figures: people per second at Cognito (first
//! creation to last group addition: what the quota allows) and end to end (to the run's exit,
//! after the last records and switches, which wait on moto's DynamoDB).

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::throttle::{self, Quotas};
use integration_tests::{env_for, tenantctl, tenantctl_path, LocalAws, TempDir};
use serde_json::Value;

const TABLE: &str = "signin";
/// People of each of the 10 organizations of the rate runs.
const PER_ORG: usize = 500;

fn spawn(env: &[(String, String)], args: &[&str]) -> Child {
    Command::new(tenantctl_path())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tenantctl runs")
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Runs to the end (or `limit`, then SIGKILL); returns (peak RSS in MiB, seconds, killed).
fn peak_rss(env: &[(String, String)], args: &[&str], limit: Duration) -> (f64, f64, bool) {
    let start = Instant::now();
    let mut child = spawn(env, args);
    let pid = child.id();
    let mut peak = 0;
    loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak = peak.max(kb);
        }
        if let Ok(Some(_)) = child.try_wait() {
            return (peak as f64 / 1024.0, start.elapsed().as_secs_f64(), false);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return (peak as f64 / 1024.0, start.elapsed().as_secs_f64(), true);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn source(path: &std::path::Path, orgs: usize, per_org: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    for i in 0..orgs {
        writeln!(
            f,
            r#"{{"kind":"organization","id":{i},"name":"Bench {i}","subdomain":"bench-{i:04}","email_domains":[],"mfa":"off","seats":{per_org}}}"#
        )
        .expect("write");
    }
    let hash = "$2b$04$abcdefghijklmnopqrstuu5Q8hVvZ4n1bq0cP1RxFx5y5m0y3a1Wy";
    for j in 0..per_org {
        for i in 0..orgs {
            writeln!(
                f,
                r#"{{"kind":"person","organization":{i},"username":"u{j}.o{i}","email":"u{j}.o{i}@bench-{i:04}.test","given_name":"Given","family_name":"Family","roles":["member"],"active":true,"password_hash":"{hash}"}}"#
            )
            .expect("write");
        }
    }
}

fn status(env: &[(String, String)], job: &str) -> Value {
    let out = tenantctl(
        env,
        &["--output", "json", "migrate", "status", "--job", job],
    );
    serde_json::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap_or(Value::Null)
}

#[tokio::main]
async fn main() {
    let dir = TempDir::new("migration-bench");

    // 1. Users per second through the throttling proxy.
    println!("## Migration rate through a throttling proxy (Cognito's default quotas)\n");
    println!("| tool's rates (create / group) | people | people/s at Cognito (ratio) | people/s end to end (ratio) | binding quota | throttled answers | failed |");
    println!("|---|---|---|---|---|---|---|");
    for (label, extra) in [
        ("defaults (48 / 24)", vec![]),
        (
            "at the quotas (50 / 25)",
            vec!["--rate", "50", "--update-rate", "25"],
        ),
    ] {
        let aws = LocalAws::start();
        let port: u16 = aws
            .endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port");
        let (proxy, tally) = throttle::start(port, Quotas::cognito()).await;
        // DynamoDB and SES on a moto server of their own, as they are separate services in
        // AWS: moto blocks every request while it copies its tables for a transaction (see
        // DESIGN.md), which would stall the Cognito calls measured here.
        let data = LocalAws::start();
        let mut env = env_for(&proxy, TABLE);
        env.push(("AWS_ENDPOINT_URL_DYNAMODB".into(), data.endpoint.clone()));
        env.push(("AWS_ENDPOINT_URL_SESV2".into(), data.endpoint.clone()));
        assert!(tenantctl(&env, &["setup"]).status.success());
        let path = dir.0.join("rate.jsonl");
        source(&path, 10, PER_ORG);
        // Two organizations' batches at Cognito at once (two more write their records or
        // switch meanwhile) share the buckets; more add nothing but moto's load.
        let mut args = vec![
            "migrate",
            "run",
            "--source",
            path.to_str().expect("utf-8"),
            "--job",
            "rate",
            "--concurrency",
            "2",
        ];
        args.extend(extra.iter().copied());
        let env2 = env.clone();
        let args2: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        // When Cognito saw the first person and the last group addition; with
        // BENCH_TIMELINE=1, the group additions accepted in each second, on stderr.
        let people = 10 * PER_ORG as u64;
        let watcher = {
            let tally = tally.clone();
            std::thread::spawn(move || {
                while tally.get("UserCreation").0 == 0 {
                    std::thread::sleep(Duration::from_millis(5));
                }
                let first = Instant::now();
                let timeline = std::env::var_os("BENCH_TIMELINE").is_some();
                let (mut tick, mut shown) = (first, 0);
                loop {
                    std::thread::sleep(Duration::from_millis(5));
                    let now = tally.get("UserResourceUpdate").0;
                    if timeline && tick.elapsed() >= Duration::from_secs(1) {
                        let second = first.elapsed().as_secs();
                        eprintln!("t={second:3}s groups +{} (total {now})", now - shown);
                        (tick, shown) = (Instant::now(), now);
                    }
                    if now >= people || first.elapsed() > Duration::from_secs(1800) {
                        return (first, Instant::now());
                    }
                }
            })
        };
        let out = tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args2.iter().map(String::as_str).collect();
            tenantctl(&env2, &a)
        })
        .await
        .expect("joined");
        let ended = Instant::now();
        let (first, last_group) = watcher.join().expect("watcher");
        let s = status(&env, "rate");
        let done = s["people"]["done"].as_u64().unwrap_or(0);
        let failed = s["people"]["failed"].as_u64().unwrap_or(0);
        // Cognito's side: the first creation to the last group addition. End to end: to the
        // run's exit, after the last records, switches and the report (DynamoDB on moto).
        let at_cognito = done as f64 / last_group.duration_since(first).as_secs_f64();
        let end_to_end = done as f64 / ended.duration_since(first).as_secs_f64();
        // One role each: one AdminCreateUser (50/s) and one AdminAddUserToGroup (25/s) a person.
        let binding = 25.0;
        println!(
            "| {label} | {done} | {at_cognito:.1} ({:.2}) | {end_to_end:.1} ({:.2}) | UserResourceUpdate {binding} | {} | {failed} |",
            at_cognito / binding,
            end_to_end / binding,
            tally.throttled.load(std::sync::atomic::Ordering::Relaxed),
        );
        if std::env::var_os("BENCH_TIMELINE").is_some() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        }
        if !out.status.success() {
            eprintln!(
                "run ended with {:?}: {}",
                out.status,
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }

    if std::env::var_os("BENCH_SKIP_RSS").is_some() {
        return;
    }
    // 2. Peak RSS.
    println!("\n## Peak RSS (VmHWM) of tenantctl\n");
    println!("| source | command | peak RSS (MiB) | seconds | note |");
    println!("|---|---|---|---|---|");
    for (orgs, per_org) in [(10usize, 1_000usize), (100, 1_000)] {
        let full_run = orgs == 100;
        let people = orgs * per_org;
        let aws = LocalAws::start();
        let env = aws.env(TABLE);
        assert!(tenantctl(&env, &["setup"]).status.success());
        let path = dir.0.join(format!("big-{people}.jsonl"));
        source(&path, orgs, per_org);
        let p = path.to_str().expect("utf-8");
        let (mb, secs, _) = peak_rss(
            &env,
            &["migrate", "plan", "--source", p],
            Duration::from_secs(600),
        );
        println!("| {people} people, {orgs} organizations | plan | {mb:.1} | {secs:.1} | |");
        if !full_run {
            continue;
        }
        let job = format!("big{people}");
        let (mb, secs, killed) = peak_rss(
            &env,
            &[
                "migrate",
                "run",
                "--source",
                p,
                "--job",
                &job,
                "--mode",
                "lazy",
                "--rate",
                "5000",
                "--pool-rate",
                "1000",
                "--concurrency",
                "2",
            ],
            Duration::from_secs(180),
        );
        let s = status(&env, &job);
        println!(
            "| {people} people, {orgs} organizations | run (lazy) | {mb:.1} | {secs:.1} | {} people migrated{} |",
            s["people"]["done"].as_u64().unwrap_or(0),
            if killed { ", stopped after 180 s" } else { "" }
        );
    }
}
