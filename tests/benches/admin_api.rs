//! Admin API benchmark: token verifications per second (warm key cache; and a token seen
//! before, from the verified-token cache) beside the machine's raw RSA-2048 verify rate
//! measured in the same run (`openssl speed`), and requests per second through the handler
//! in process for `GET /v1/users`, with the AWS calls every route makes, counted at the HTTP
//! client, against moto on loopback. Prints Markdown tables.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use admin_api::App;
use async_trait::async_trait;
use integration_tests::{prepared_adapters, trigger_arns, LocalAws};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::Body;
use serde_json::json;
use shared::auth::{JwksSource, PoolDirectory, TokenVerifier};
use shared::aws::cognito::CognitoPools;
use shared::domain::provisioning::{ProvisionRequest, Provisioning};
use shared::domain::Error;

const REGION: &str = "eu-west-1";
const POOL: &str = "eu-west-1_BenchPool";
const CLIENT: &str = "benchclient";

struct OnePool;

#[async_trait]
impl PoolDirectory for OnePool {
    async fn app_client(&self, pool_id: &str) -> Result<Option<String>, Error> {
        Ok((pool_id == POOL).then(|| CLIENT.to_owned()))
    }
}

struct FixtureKeys;

#[async_trait]
impl JwksSource for FixtureKeys {
    async fn fetch(&self, _pool_id: &str) -> Result<JwkSet, String> {
        let path = integration_tests::workspace_root().join("shared/testdata/jwks.json");
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }
}

fn openssl_verify_rate() -> Option<f64> {
    let out = std::process::Command::new("openssl")
        .args(["speed", "-seconds", "3", "rsa2048"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("rsa 2048 bits"))?;
    line.split_whitespace().last()?.parse().ok()
}

async fn token_rates() {
    let verifier = TokenVerifier::new(REGION, Arc::new(OnePool), Arc::new(FixtureKeys));
    let der = std::fs::read(integration_tests::workspace_root().join("shared/testdata/key-a.der"))
        .expect("test key");
    let key = EncodingKey::from_rsa_der(&der);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("kid-a".into());
    const N: usize = 5_000;
    // Distinct tokens (their jti differs), so each is a miss of the verified-token cache.
    let tokens: Vec<String> = (0..N)
        .map(|i| {
            let claims = json!({
                "iss": format!("https://cognito-idp.{REGION}.amazonaws.com/{POOL}"),
                "sub": "bench", "client_id": CLIENT, "token_use": "access", "username": "hank",
                "jti": i.to_string(), "iat": now, "exp": now + 3600,
            });
            jsonwebtoken::encode(&header, &claims, &key).expect("signed")
        })
        .collect();
    verifier
        .verify(&tokens[0])
        .await
        .expect("warm the key cache");
    let start = Instant::now();
    for t in &tokens[1..] {
        verifier.verify(t).await.expect("valid");
    }
    let full = (N - 1) as f64 / start.elapsed().as_secs_f64();
    const REPEATS: usize = 200_000;
    let start = Instant::now();
    for _ in 0..REPEATS {
        verifier.verify(&tokens[1]).await.expect("valid");
    }
    let cached = REPEATS as f64 / start.elapsed().as_secs_f64();
    let raw = openssl_verify_rate();
    let aws_lc = aws_lc_verify_rate(&tokens[1]);
    let node = aws_jwt_verify_rates(&tokens);
    println!("Token verification (one core, RS256, 2048-bit keys):\n");
    println!("| path | verifications/s | vs raw RSA-2048 verify |");
    println!("|---|---|---|");
    if let Some((distinct, repeated)) = node {
        let ratio = |v: f64| raw.map(|r| format!("{:.2} x", v / r)).unwrap_or_default();
        println!(
            "| aws-jwt-verify (npm), distinct tokens | {distinct:.0} | {} |",
            ratio(distinct)
        );
        println!(
            "| aws-jwt-verify (npm), one token again | {repeated:.0} | {} |",
            ratio(repeated)
        );
        println!(
            "| **ours vs aws-jwt-verify** | distinct {:.1} x, a token seen before {:.1} x | |",
            full / distinct,
            cached / repeated
        );
    }
    match raw {
        Some(raw) => {
            println!("| raw RSA-2048 verify (`openssl speed`) | {raw:.0} | 1.00 x |");
            println!(
                "| RS256 signature check alone with aws-lc (the crypto under jsonwebtoken here; SHA-256 of the token included) | {aws_lc:.0} | {:.2} x |",
                aws_lc / raw
            );
            println!(
                "| full verification, warm key cache | {full:.0} | {:.2} x |",
                full / raw
            );
            println!(
                "| a token seen before (verified-token cache) | {cached:.0} | {:.1} x |",
                cached / raw
            );
        }
        None => {
            println!("| full verification, warm key cache | {full:.0} | (openssl not found) |");
            println!("| a token seen before (verified-token cache) | {cached:.0} | |");
        }
    }
    println!();
}

/// The signature check of one token alone, with aws-lc and the key parsed once: what the
/// crypto library under the verifier achieves on this machine.
fn aws_lc_verify_rate(token: &str) -> f64 {
    use aws_lc_rs::signature::{
        ParsedPublicKey, RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256,
    };
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwks: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            integration_tests::workspace_root().join("shared/testdata/jwks.json"),
        )
        .expect("jwks"),
    )
    .expect("json");
    let n = b64
        .decode(jwks["keys"][0]["n"].as_str().expect("n"))
        .expect("n");
    let e = b64
        .decode(jwks["keys"][0]["e"].as_str().expect("e"))
        .expect("e");
    let key: ParsedPublicKey = RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .expect("key");
    let (message, signature) = token.rsplit_once('.').expect("a JWT");
    let signature = b64.decode(signature).expect("signature");
    const N: usize = 20_000;
    let start = Instant::now();
    for _ in 0..N {
        key.verify_sig(message.as_bytes(), &signature)
            .expect("valid");
    }
    N as f64 / start.elapsed().as_secs_f64()
}

/// aws-jwt-verify (npm, installed into tests/local by `make`) on the same tokens.
fn aws_jwt_verify_rates(tokens: &[String]) -> Option<(f64, f64)> {
    let root = integration_tests::workspace_root();
    let script = root.join("tests/local/jwt_verify_bench.mjs");
    let dir = std::env::temp_dir().join(format!("jwt-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let tokens_path = dir.join("tokens.txt");
    std::fs::write(&tokens_path, tokens.join("\n")).ok()?;
    let out = std::process::Command::new("node")
        .arg(script)
        .args([POOL, CLIENT])
        .arg(root.join("shared/testdata/jwks.json"))
        .arg(&tokens_path)
        .current_dir(root.join("tests/local"))
        .output()
        .ok()?;
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        eprintln!(
            "aws-jwt-verify did not run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some((v["distinct"].as_f64()?, v["repeated"].as_f64()?))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn handler_rates() {
    let aws = LocalAws::start();
    let (sdk, requests) = integration_tests::counting::counted(aws.sdk().await);
    let (registry, mailer) = prepared_adapters(&sdk, "signin").await;
    let pools = CognitoPools::new(&sdk);
    let triggers = trigger_arns();
    let done = Provisioning {
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
            ..Default::default()
        },
        &|_| {},
    )
    .await
    .expect("provisioned");
    let pool = done
        .organization
        .cognito
        .user_pool_id
        .clone()
        .expect("pool");
    // Tokens come from a fake check here: this measures the handler and its AWS calls.
    struct Trusting(String);
    #[async_trait]
    impl admin_api::Authenticate for Trusting {
        async fn authenticate(
            &self,
            _token: &str,
        ) -> Result<admin_api::TokenSubject, admin_api::NotAccepted> {
            Ok(admin_api::TokenSubject {
                pool_id: self.0.clone(),
                username: "hank@acme.example".into(),
                signed_in_at: shared::domain::now_epoch() as u64,
            })
        }
    }
    let app = App {
        registry: Arc::new(shared::aws::dynamodb::DynamoRegistry::new(&sdk, "signin")),
        pools: Arc::new(CognitoPools::new(&sdk)),
        mailer: Arc::new(shared::aws::ses::SesMailer::new(
            &sdk,
            shared::domain::EmailAddress::parse("no-reply@app.example.test").expect("valid"),
            None,
        )),
        auth: Arc::new(Trusting(pool)),
        secrets: Arc::new(shared::aws::secrets::SecretsManager::new(&sdk)),
        dns: Arc::new(shared::testing::MemoryDns::default()),
        base_domain: "app.example.test".into(),
        region: "us-east-1".into(),
    };
    let call = |method: &str, path: &str, body: Option<serde_json::Value>| {
        let mut r = lambda_http::http::Request::builder()
            .method(method)
            .uri(format!("https://api.example.test{path}"))
            .header("authorization", "Bearer t");
        if body.is_some() {
            r = r.header("content-type", "application/json");
        }
        r.body(
            body.map(|b| Body::Text(b.to_string()))
                .unwrap_or(Body::Empty),
        )
        .expect("request")
    };
    for i in 0..50 {
        let body = json!({"username": format!("user{i:03}"), "email": format!("user{i:03}@acme.example"), "roles": ["member"]});
        let r = app.handle(call("POST", "/v1/users", Some(body))).await;
        assert_eq!(r.status(), 201);
    }
    const RUNS: usize = 300;
    let mut times = Vec::with_capacity(RUNS);
    let before = requests.load(Ordering::SeqCst);
    let start = Instant::now();
    for _ in 0..RUNS {
        let t = Instant::now();
        let r = app.handle(call("GET", "/v1/users?limit=50", None)).await;
        assert_eq!(r.status(), 200);
        times.push(t.elapsed());
    }
    let rps = RUNS as f64 / start.elapsed().as_secs_f64();
    let list_calls = (requests.load(Ordering::SeqCst) - before) as f64 / RUNS as f64;
    times.sort();
    println!("`GET /v1/users?limit=50` through the handler, in process, moto on loopback ({RUNS} requests, 51 people):\n");
    println!("| requests/s | p50 | p99 | AWS calls / request |");
    println!("|---|---|---|---|");
    println!(
        "| {rps:.0} | {:.2} ms | {:.2} ms | {list_calls:.1} |\n",
        percentile(&times, 0.5).as_secs_f64() * 1000.0,
        percentile(&times, 0.99).as_secs_f64() * 1000.0
    );

    // AWS calls of every route, once each, in an order where each makes sense.
    let id = {
        let r = app
            .handle(call(
                "POST",
                "/v1/users",
                Some(json!({"username": "sam", "email": "sam@acme.example", "roles": ["member"]})),
            ))
            .await;
        let body = match r.body() {
            Body::Text(t) => t.clone(),
            _ => String::new(),
        };
        serde_json::from_str::<serde_json::Value>(&body).expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let routes: Vec<(&str, String, Option<serde_json::Value>)> = vec![
        ("GET", "/v1/organization".into(), None),
        ("GET", "/v1/users?limit=50".into(), None),
        (
            "POST",
            "/v1/users".into(),
            Some(json!({"username": "tom", "email": "tom@acme.example"})),
        ),
        ("GET", format!("/v1/users/{id}"), None),
        (
            "PATCH",
            format!("/v1/users/{id}"),
            Some(json!({"given_name": "Sam"})),
        ),
        (
            "PUT",
            format!("/v1/users/{id}/activation"),
            Some(json!({"active": true})),
        ),
        (
            "PUT",
            format!("/v1/users/{id}/activation"),
            Some(json!({"active": true})),
        ),
        ("POST", format!("/v1/users/{id}/activation/resend"), None),
        ("POST", format!("/v1/users/{id}/password-reset"), None),
        (
            "PUT",
            format!("/v1/users/{id}/activation"),
            Some(json!({"active": false})),
        ),
        ("DELETE", format!("/v1/users/{id}"), None),
        ("GET", "/v1/roles".into(), None),
        ("POST", "/v1/roles".into(), Some(json!({"name": "billing"}))),
        ("DELETE", "/v1/roles/billing".into(), None),
        ("GET", "/v1/audit?limit=50".into(), None),
    ];
    println!(
        "AWS calls per request (DynamoDB, Cognito and SES together, counted at the HTTP client):\n"
    );
    println!("| route | status | AWS calls |");
    println!("|---|---|---|");
    for (method, path, body) in routes {
        let before = requests.load(Ordering::SeqCst);
        let r = app.handle(call(method, &path, body)).await;
        let calls = requests.load(Ordering::SeqCst) - before;
        let shown = path.replace(&id, "{id}");
        println!("| {method} {shown} | {} | {calls} |", r.status().as_u16());
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    token_rates().await;
    // `ADMIN_API_BENCH=tokens` measures the verifier alone (for profiling it).
    if std::env::var("ADMIN_API_BENCH").as_deref() != Ok("tokens") {
        handler_rates().await;
    }
}
