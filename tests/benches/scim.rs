//! SCIM benchmark: a directory's first sync through the `scim` handler in process, against
//! moto on loopback: POST /Users with `active: true` (a person, a seat, a Cognito login and the
//! welcome mail each), then the `userName eq` look-up Entra ID makes before every create, then
//! Entra ID's disable (`PATCH active "False"`), and a group of every user. Requests per second,
//! latencies, and AWS calls per request (counted at the HTTP client). moto answers slower than
//! AWS (one process, whole-table copies per transaction), so the rates are a floor; the AWS
//! calls per request are what the quotas see. `SCIM_BENCH_USERS` (default 200).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use integration_tests::{prepared_adapters, trigger_arns, LocalAws};
use lambda_http::Body;
use serde_json::json;
use shared::aws::cognito::CognitoPools;
use shared::domain::provisioning::{ProvisionRequest, Provisioning};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let users: usize = std::env::var("SCIM_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let aws = LocalAws::start();
    let (sdk, requests) = integration_tests::counting::counted(aws.sdk().await);
    let (registry, mailer) = prepared_adapters(&sdk, "signin").await;
    let pools = CognitoPools::new(&sdk);
    let triggers = trigger_arns();
    let org = Provisioning {
        registry: &registry,
        pools: &pools,
        mailer: &mailer,
        base_domain: "app.example.test",
        triggers: &triggers,
        actor: "bench",
    }
    .provision(
        &ProvisionRequest {
            subdomain: "acme".into(),
            name: "Acme".into(),
            admin_email: Some("hank@acme.example".into()),
            seats: Some(100_000),
            email_domains: vec!["acme.example".into()],
            ..Default::default()
        },
        &|_| {},
    )
    .await
    .expect("provisioned")
    .organization;
    let (_, issued, _) = shared::domain::scim::token::issue_token(&registry, &org, "bench")
        .await
        .expect("token");
    let app = scim::App {
        registry: Arc::new(shared::aws::dynamodb::DynamoRegistry::new(&sdk, "signin")),
        pools: Arc::new(CognitoPools::new(&sdk)),
        mailer: Arc::new(shared::aws::ses::SesMailer::new(
            &sdk,
            shared::domain::EmailAddress::parse("no-reply@app.example.test").expect("valid"),
            None,
        )),
        base_domain: "app.example.test".into(),
    };
    let call = |method: &str, path: &str, body: Option<serde_json::Value>| {
        lambda_http::http::Request::builder()
            .method(method)
            .uri(format!("https://acme.app.example.test/scim/v2{path}"))
            .header("host", "acme.app.example.test")
            .header("authorization", format!("Bearer {}", issued.token))
            .header("content-type", "application/scim+json")
            .body(
                body.map(|b| Body::Text(b.to_string()))
                    .unwrap_or(Body::Empty),
            )
            .expect("request")
    };
    let mut rows = Vec::new();
    let mut ids = Vec::new();
    let mut measure = |name: &str, times: Vec<Duration>, calls: usize, total: Duration| {
        let mut sorted = times.clone();
        sorted.sort();
        rows.push(format!(
            "| {name} | {} | {:.1} | {:.0} | {:.0} | {:.1} |",
            times.len(),
            times.len() as f64 / total.as_secs_f64(),
            percentile(&sorted, 0.5).as_secs_f64() * 1000.0,
            percentile(&sorted, 0.95).as_secs_f64() * 1000.0,
            calls as f64 / times.len() as f64,
        ));
    };

    // The first sync: every user created active.
    let (mut times, before, start) = (Vec::new(), requests.load(Ordering::SeqCst), Instant::now());
    for i in 0..users {
        let body = json!({"userName": format!("user{i:05}@acme.example"), "externalId": format!("e-{i}"),
            "active": true, "name": {"givenName": "User", "familyName": format!("{i}")},
            "emails": [{"value": format!("user{i:05}@acme.example"), "type": "work", "primary": true}]});
        let t = Instant::now();
        let r = app.handle(call("POST", "/Users", Some(body))).await;
        times.push(t.elapsed());
        assert_eq!(r.status(), 201);
        let body: serde_json::Value = match r.body() {
            Body::Text(t) => serde_json::from_str(t).expect("json"),
            _ => panic!("no body"),
        };
        ids.push(body["id"].as_str().expect("id").to_owned());
    }
    measure(
        "POST /Users, active (a login and a welcome mail each)",
        times,
        requests.load(Ordering::SeqCst) - before,
        start.elapsed(),
    );

    let (mut times, before, start) = (Vec::new(), requests.load(Ordering::SeqCst), Instant::now());
    for i in 0..users {
        let t = Instant::now();
        let path = format!("/Users?filter=userName%20eq%20%22user{i:05}%40acme.example%22");
        let r = app.handle(call("GET", &path, None)).await;
        times.push(t.elapsed());
        assert_eq!(r.status(), 200);
    }
    measure(
        "GET /Users?filter=userName eq",
        times,
        requests.load(Ordering::SeqCst) - before,
        start.elapsed(),
    );

    let (mut times, before, start) = (Vec::new(), requests.load(Ordering::SeqCst), Instant::now());
    for id in &ids {
        let body = json!({"Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
        let t = Instant::now();
        let r = app
            .handle(call("PATCH", &format!("/Users/{id}"), Some(body)))
            .await;
        times.push(t.elapsed());
        assert_eq!(r.status(), 200);
    }
    measure(
        "PATCH /Users active \"False\" (login off, seat freed)",
        times,
        requests.load(Ordering::SeqCst) - before,
        start.elapsed(),
    );

    // Entra ID's groups: made empty, then their members added by PATCH; a request that
    // reaches its 20 s budget of writes answers 503 and is sent again.
    let r = app
        .handle(call(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Everyone"})),
        ))
        .await;
    assert_eq!(r.status(), 201);
    let group: serde_json::Value = match r.body() {
        Body::Text(t) => serde_json::from_str(t).expect("json"),
        _ => panic!("no body"),
    };
    let gid = group["id"].as_str().expect("group id").to_owned();
    let members: Vec<serde_json::Value> = ids.iter().map(|id| json!({"value": id})).collect();
    let add = json!({"Operations": [{"op": "Add", "path": "members", "value": members}]});
    let (mut times, before, start) = (Vec::new(), requests.load(Ordering::SeqCst), Instant::now());
    loop {
        let t = Instant::now();
        let r = app
            .handle(call("PATCH", &format!("/Groups/{gid}"), Some(add.clone())))
            .await;
        times.push(t.elapsed());
        match r.status().as_u16() {
            200 => break,
            503 => continue,
            other => panic!("PATCH /Groups answered {other}"),
        }
    }
    let sends = times.len();
    measure(
        &format!("PATCH /Groups adding {users} members ({sends} send(s) of the same request)"),
        times,
        requests.load(Ordering::SeqCst) - before,
        start.elapsed(),
    );

    println!("SCIM, in process against moto on loopback ({users} users):\n");
    println!("| request | count | requests/s | p50 ms | p95 ms | AWS calls per request |");
    println!("|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}
