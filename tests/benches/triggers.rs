//! Trigger benchmark: warm latency (p50/p99) of each trigger's handler against DynamoDB and
//! Cognito on a local moto server, and the AWS calls each invocation makes (counted at the
//! HTTP client). Run with `cargo bench -p integration-tests --bench triggers`
//! (`make bench`); prints a Markdown table.
//!
//! The handlers run in process with the same dependencies the Lambda builds, so the figures
//! are the trigger's own work plus its AWS round trips to loopback, without the Lambda
//! runtime's invoke overhead.
//!
//! A second table checks the first invocation after start: dependencies built as the Lambda
//! builds them (`shared::aws::load_config`, the suite's own HTTPS client, from the
//! environment), the organization already cached (its read is the cache's business, not
//! start-up's), then the first invocation beside the warm ones of the same dependencies. It
//! runs after the warm table, so that the first invocation meets the state the warm ones
//! left (a first sign-in recorded once, for example).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use integration_tests::{prepared_adapters, trigger_arns, LocalAws};
use serde_json::Value;
use shared::aws::cognito::CognitoPools;
use shared::aws::dynamodb::DynamoRegistry;
use shared::cache::OrgCache;
use shared::domain::ports::{AuditEvent, Registry};
use shared::domain::provisioning::{ProvisionRequest, Provisioning};
use shared::domain::{EmailAddress, MfaMode, PersonStatus, Role};
use shared::testing::sample_event;
use shared::trigger::{TriggerDeps, TriggerError};

const WARMUP: usize = 20;
const RUNS: usize = 300;
/// Fresh starts per trigger (dependencies built anew), each followed by warm invocations.
const FIRST_STARTS: usize = 10;
const FIRST_WARM_RUNS: usize = 20;

type Handler = for<'a> fn(
    &'a TriggerDeps,
    Value,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Value, TriggerError>> + Send + 'a>,
>;

macro_rules! handler {
    ($krate:ident) => {{
        fn call<'a>(
            deps: &'a TriggerDeps,
            event: Value,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Value, TriggerError>> + Send + 'a>,
        > {
            Box::pin($krate::handle(deps, event))
        }
        call as Handler
    }};
}

struct Row {
    trigger: &'static str,
    source: String,
    p50: Duration,
    p99: Duration,
    calls: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let aws = LocalAws::start();
    // The SDK's default client (rustls with aws-lc), wrapped to count requests.
    let (sdk, requests) = integration_tests::counting::counted(aws.sdk().await);

    // A real organization: its pool, groups, client and administrator in moto.
    let (registry, mailer) = prepared_adapters(&sdk, "signin").await;
    let pools = CognitoPools::new(&sdk);
    let triggers = trigger_arns();
    let provisioned = Provisioning {
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
            name: "Acme Corporation".into(),
            admin_email: Some("hank@acme.example".into()),
            mfa: MfaMode::Off,
            seats: Some(1000),
            email_domains: vec!["acme.example".into()],
        },
        &|_| {},
    )
    .await
    .expect("provisioned");
    let mut org = provisioned.organization;
    org.sign_in.self_signup = true;
    let org = registry
        .save_organization(&org, None)
        .await
        .expect("open sign-up");
    let pool_id = org.cognito.user_pool_id.clone().expect("pool");
    // Jane signed up and confirmed already: post-confirmation's repeat path.
    let jane = shared::domain::Person::new(
        org.id.clone(),
        "jane".into(),
        EmailAddress::parse("jane@acme.example").expect("valid"),
        vec![Role::parse("member").expect("valid")],
        PersonStatus::Active,
    );
    let audit = AuditEvent::now(&org.id, "bench", "person.added", "jane", None);
    registry.create_person(&jane, &audit).await.expect("jane");
    let login = shared::domain::ports::NewLogin {
        username: "jane",
        email: &jane.email,
        temporary_password: "Bench-Passw0rd!x",
    };
    shared::domain::ports::UserPools::create_login(&pools, &pool_id, &login)
        .await
        .expect("jane's login");

    let table = Arc::new(DynamoRegistry::new(&sdk, "signin"));
    let deps = TriggerDeps {
        registry: table.clone(),
        legacy_passwords: table,
        pools: Arc::new(CognitoPools::new(&sdk)),
        cache: OrgCache::new(Duration::from_secs(30)),
        base_domain: "app.example.test".into(),
    };

    let cases: Vec<(&'static str, &'static str, &'static str, Handler)> = vec![
        ("pre-signup", "sign-up", "jane", handler!(pre_signup)),
        (
            "pre-signup",
            "admin-create-user",
            "hank@acme.example",
            handler!(pre_signup),
        ),
        (
            "post-confirmation",
            "confirm-sign-up",
            "jane",
            handler!(post_confirmation),
        ),
        (
            "pre-authentication",
            "authentication",
            "hank@acme.example",
            handler!(pre_authentication),
        ),
        (
            "post-authentication",
            "authentication",
            "hank@acme.example",
            handler!(post_authentication),
        ),
        (
            "pre-token-generation",
            "v2-authentication",
            "hank@acme.example",
            handler!(pre_token_generation),
        ),
        (
            "pre-token-generation",
            "v2-refresh-tokens",
            "hank@acme.example",
            handler!(pre_token_generation),
        ),
        (
            "custom-message",
            "forgot-password",
            "hank@acme.example",
            handler!(custom_message),
        ),
    ];
    let mut rows = Vec::new();
    for (trigger, name, user, handle) in cases.iter().copied() {
        let mut event = sample_event(trigger, name);
        event["userPoolId"] = pool_id.clone().into();
        event["userName"] = user.into();
        let source = event["triggerSource"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        for _ in 0..WARMUP {
            handle(&deps, event.clone())
                .await
                .unwrap_or_else(|e| panic!("{trigger} {name}: {e}"));
        }
        let before = requests.load(Ordering::SeqCst);
        let mut times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let start = Instant::now();
            handle(&deps, event.clone())
                .await
                .unwrap_or_else(|e| panic!("{trigger} {name}: {e}"));
            times.push(start.elapsed());
        }
        let calls = (requests.load(Ordering::SeqCst) - before) as f64 / RUNS as f64;
        times.sort();
        rows.push(Row {
            trigger,
            source,
            p50: percentile(&times, 0.50),
            p99: percentile(&times, 0.99),
            calls,
        });
    }

    let mut first_rows = Vec::new();
    for (k, v) in aws.env("signin") {
        // Single-threaded runtime; only the fresh dependencies below read it.
        std::env::set_var(k, v);
    }
    for (trigger, name, user, handle) in &cases {
        let mut event = sample_event(trigger, name);
        event["userPoolId"] = pool_id.clone().into();
        event["userName"] = (*user).into();
        let mut builds = Vec::with_capacity(FIRST_STARTS);
        let mut firsts = Vec::with_capacity(FIRST_STARTS);
        let mut warm = Vec::with_capacity(FIRST_STARTS * FIRST_WARM_RUNS);
        for _ in 0..FIRST_STARTS {
            let started = Instant::now();
            let sdk = shared::aws::load_config(shared::aws::Budget::Trigger)
                .await
                .expect("config");
            let fresh = TriggerDeps::new(&sdk, &shared::config::ProcessEnv).expect("dependencies");
            builds.push(started.elapsed());
            fresh.cache.put(&pool_id, org.clone());
            let start = Instant::now();
            handle(&fresh, event.clone())
                .await
                .unwrap_or_else(|e| panic!("{trigger} {name}: {e}"));
            firsts.push(start.elapsed());
            for _ in 0..FIRST_WARM_RUNS {
                let start = Instant::now();
                handle(&fresh, event.clone())
                    .await
                    .unwrap_or_else(|e| panic!("{trigger} {name}: {e}"));
                warm.push(start.elapsed());
            }
        }
        builds.sort();
        firsts.sort();
        warm.sort();
        let (built, first) = (percentile(&builds, 0.5), percentile(&firsts, 0.5));
        first_rows.push((
            *trigger,
            name.to_string(),
            built,
            first,
            percentile(&warm, 0.5),
        ));
    }

    println!("First invocation after start, against moto on loopback (the Lambda's own dependencies built anew {FIRST_STARTS} times, organization cached; p50 of the {FIRST_STARTS} first invocations, and of the {FIRST_WARM_RUNS} after each):\n");
    println!(
        "| trigger | event | dependencies built | first invocation | warm p50 | first - warm |"
    );
    println!("|---|---|---|---|---|---|");
    for (trigger, name, built, first, warm) in first_rows {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {trigger} | {name} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
            ms(built),
            ms(first),
            ms(warm),
            ms(first) - ms(warm)
        );
    }
    println!();

    println!("Warm trigger latency against moto on loopback ({RUNS} invocations each, after {WARMUP} warm-up):\n");
    println!("| trigger | source | p50 | p99 | AWS calls / invocation |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.2} ms | {:.2} ms | {:.1} |",
            r.trigger,
            r.source,
            r.p50.as_secs_f64() * 1000.0,
            r.p99.as_secs_f64() * 1000.0,
            r.calls
        );
    }
}
