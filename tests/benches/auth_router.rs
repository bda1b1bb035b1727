//! The router in process against moto: decisions per second with a warm organization cache,
//! and the AWS calls (counted at the HTTP client) per page view and per sign-in.
//! `cargo bench -p integration-tests --bench auth_router` (part of `make bench`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_router::{App, Settings};
use integration_tests::{prepared_adapters, provisioned, LocalAws};
use lambda_http::http::{header, Method};
use lambda_http::Body;
use shared::aws::cognito::CognitoPools;
use shared::aws::dynamodb::DynamoRegistry;
use shared::cache::OrgCache;
use shared::config::Source;

const BASE: &str = "app.example.test";
const CSRF: &str = "csrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsr";
const PASSWORD: &str = "Bench-Passw0rd!";

struct Env(Vec<(String, String)>);

impl Source for Env {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

fn request(method: Method, host: &str, path: &str, form: Option<&str>) -> lambda_http::Request {
    let mut r = lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, host);
    if form.is_some() {
        r = r
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("__Host-csrf={CSRF}"));
    }
    r.body(
        form.map(|f| Body::Text(f.to_owned()))
            .unwrap_or(Body::Empty),
    )
    .expect("request")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Requests per second of `make` through the handler, p50 and p99, and AWS calls per request.
async fn rate(
    app: &App,
    requests: &AtomicUsize,
    runs: usize,
    make: impl Fn() -> lambda_http::Request,
    expect: u16,
) -> (f64, Duration, Duration, f64) {
    let mut times = Vec::with_capacity(runs);
    let before = requests.load(Ordering::SeqCst);
    let start = Instant::now();
    for _ in 0..runs {
        let t = Instant::now();
        let r = app.handle(make()).await;
        assert_eq!(r.status().as_u16(), expect);
        times.push(t.elapsed());
    }
    let rps = runs as f64 / start.elapsed().as_secs_f64();
    let calls = (requests.load(Ordering::SeqCst) - before) as f64 / runs as f64;
    times.sort();
    (
        rps,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        calls,
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let aws = LocalAws::start();
    let (sdk, requests) = integration_tests::counting::counted(aws.sdk().await);
    let (registry, mailer) = prepared_adapters(&sdk, "router").await;
    let acme = provisioned(&aws, &registry, &mailer, "acme", BASE).await;
    let pool = acme.cognito.user_pool_id.clone().expect("pool");
    // The administrator with a password of their own, as after the first sign-in.
    aws_sdk_cognitoidentityprovider::Client::new(&sdk)
        .admin_set_user_password()
        .user_pool_id(&pool)
        .username("boss@acme.example")
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .expect("password set");
    let registry: Arc<DynamoRegistry> = Arc::new(DynamoRegistry::new(&sdk, "router"));
    let env = Env(aws.env("router"));
    let app = App {
        registry: registry.clone(),
        cognito: Arc::new(CognitoPools::new(&sdk)),
        pools: Arc::new(CognitoPools::new(&sdk)),
        identify: Arc::new(
            shared::auth::verifier(&sdk, &env, registry.clone())
                .expect("verifier")
                .accepting(&[shared::auth::TokenUse::Id]),
        ),
        oauth: Arc::new(shared::auth::oauth::TokenEndpoint::new().expect("TLS roots")),
        settings: Settings {
            base_domain: BASE.into(),
            scheme: "https",
            port: None,
            region: "us-east-1".into(),
            product: "Sign in".into(),
        },
        orgs: OrgCache::new(Duration::from_secs(3600)),
        // The counters are written as in production; the limits are above what one
        // benchmark sends from one place.
        attempts: registry.clone(),
        legacy: registry.clone(),
        limits: {
            let unlimited = shared::domain::attempts::Limit {
                per_address: u64::MAX,
                per_organization: u64::MAX,
            };
            shared::domain::attempts::AttemptLimits {
                window_secs: 60,
                password: unlimited,
                forgot_password: unlimited,
                discovery: unlimited,
            }
        },
    };
    let host = "acme.app.example.test";

    // Cold: the first view of acme's login page reads the organization.
    let before = requests.load(Ordering::SeqCst);
    let r = app.handle(request(Method::GET, host, "/login", None)).await;
    assert_eq!(r.status(), 200);
    let cold = requests.load(Ordering::SeqCst) - before;

    println!("Router in process (one core), moto on loopback:\n");
    println!("| request | requests/s | p50 | p99 | AWS calls / request |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, (rps, p50, p99, calls): (f64, Duration, Duration, f64)| {
        println!(
            "| {name} | {rps:.0} | {:.3} ms | {:.3} ms | {calls:.2} |",
            p50.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0
        );
    };
    row(
        "`GET /login` on acme's subdomain, warm organization cache",
        rate(
            &app,
            &requests,
            20_000,
            || request(Method::GET, host, "/login", None),
            200,
        )
        .await,
    );
    row(
        "a host that is nobody's (`evil.test`): 404",
        rate(
            &app,
            &requests,
            20_000,
            || {
                request(
                    Method::GET,
                    "acme.app.example.test.evil.test",
                    "/login",
                    None,
                )
            },
            404,
        )
        .await,
    );
    let _ = app
        .handle(request(
            Method::GET,
            "nobody.app.example.test",
            "/login",
            None,
        ))
        .await;
    row(
        "an unknown subdomain, remembered as unknown: 404",
        rate(
            &app,
            &requests,
            20_000,
            || request(Method::GET, "nobody.app.example.test", "/login", None),
            404,
        )
        .await,
    );
    row(
        "`GET /` on the main domain (discovery page)",
        rate(
            &app,
            &requests,
            20_000,
            || request(Method::GET, BASE, "/", None),
            200,
        )
        .await,
    );
    let form = format!(
        "csrf={CSRF}&username=boss%40acme.example&password={}",
        PASSWORD.replace('!', "%21")
    );
    // Once, to read the pool's keys; then the steady state.
    assert_eq!(
        app.handle(request(Method::POST, host, "/login", Some(&form)))
            .await
            .status(),
        303
    );
    row(
        "`POST /login`, a successful sign-in (InitiateAuth, ID token verified, person read)",
        rate(
            &app,
            &requests,
            200,
            || request(Method::POST, host, "/login", Some(&form)),
            303,
        )
        .await,
    );
    let wrong = format!("csrf={CSRF}&username=boss%40acme.example&password=Wrong-Passw0rd%21");
    row(
        "`POST /login`, a wrong password",
        rate(
            &app,
            &requests,
            200,
            || request(Method::POST, host, "/login", Some(&wrong)),
            401,
        )
        .await,
    );
    println!("\nRegistry reads of the first view of an organization's page (cold cache): {cold}; later views: 0 until the cache period (`ORG_CACHE_SECONDS`, 30 s) ends.\n");
}
