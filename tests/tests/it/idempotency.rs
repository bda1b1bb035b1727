//! Idempotency keys against moto: an answer larger than DynamoDB's 400 KB item limit (a
//! 10,000-row import) is given again whole, and a key left running by a request that crashed
//! is taken over by the same request after its lease. The admin API runs in process, built by
//! its own wiring (the real verifier, registry, Cognito and SES clients) against moto, with a
//! real token of the organization's pool.

use std::time::Duration;

use admin_api::app::{request_fingerprint, IDEMPOTENCY_TTL_SECS};
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType};
use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use integration_tests::{prepared_adapters, provisioned, LocalAws};
use lambda_http::http::Request;
use lambda_http::Body;
use serde_json::{json, Value};
use shared::domain::ports::{IdempotentClaim, KeyClaim, Registry, StoredAnswer};

const TABLE: &str = "signin";

struct Env(Vec<(String, String)>);

impl shared::config::Source for Env {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

/// The administrator's access token after the first sign-in with the mailed password.
async fn admin_token(aws: &LocalAws, client_id: &str, admin: &str) -> String {
    let cognito = CognitoClient::new(&aws.sdk().await);
    let temporary = aws.newest_temporary_password(admin);
    let auth = cognito
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", admin)
        .auth_parameters("PASSWORD", &temporary)
        .send()
        .await
        .expect("the mailed password signs in");
    let tokens = cognito
        .respond_to_auth_challenge()
        .client_id(client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(auth.session().expect("session"))
        .challenge_responses("USERNAME", admin)
        .challenge_responses("NEW_PASSWORD", "N3w-Passw0rd!x")
        .send()
        .await
        .expect("new password accepted");
    tokens
        .authentication_result()
        .and_then(|r| r.access_token())
        .expect("access token")
        .to_owned()
}

struct Answer {
    status: u16,
    replay: bool,
    text: String,
}

async fn post(app: &admin_api::App, token: &str, path: &str, body: &str, key: &str) -> Answer {
    let request = Request::builder()
        .method("POST")
        .uri(format!("https://api.example.test{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(Body::Text(body.to_owned()))
        .expect("request");
    let response = app.handle(request).await;
    let text = match response.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    Answer {
        status: response.status().as_u16(),
        replay: response.headers().contains_key("idempotent-replay"),
        text,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_answers_and_crashed_requests_keep_their_keys_usable() {
    let aws = LocalAws::start();
    let sdk = aws.sdk().await;
    let (registry, mailer) = prepared_adapters(&sdk, TABLE).await;
    let org = provisioned(&aws, &registry, &mailer, "acme", "app.example.test").await;
    let client_id = org.cognito.app_client_id.clone().expect("client");
    let token = admin_token(&aws, &client_id, "boss@acme.example").await;
    let app = admin_api::wiring::app(&sdk, &Env(aws.env(TABLE))).expect("the admin API");

    // A 10,000-row import: 40 people created, the rest refused with a reason each. Its
    // answer is far larger than a DynamoDB item.
    let rows: Vec<Value> = (0..10_000)
        .map(|i| {
            if i < 40 {
                json!({"username": format!("p{i}"), "email": format!("p{i}@acme.example")})
            } else {
                json!({"username": format!("p{i}"), "email": format!("not-an-address-{i}")})
            }
        })
        .collect();
    let body = Value::Array(rows).to_string();
    let first = post(&app, &token, "/v1/users/import", &body, "import-1").await;
    assert_eq!(
        first.status,
        200,
        "{}",
        &first.text[..first.text.len().min(500)]
    );
    assert!(first.text.len() > 400 * 1024, "{} bytes", first.text.len());
    let parsed: Value = serde_json::from_str(&first.text).expect("json");
    // (moto now and then answers one of the concurrent transactions with a bodiless error:
    // that row is refused, which changes nothing here.)
    let count = |field: &str| parsed[field].as_u64().unwrap_or_default();
    assert!(count("created") >= 30, "{}", count("created"));
    assert_eq!(count("created") + count("refused"), 10_000);
    // The retry gets the same answer, byte for byte, and records nobody again.
    let again = post(&app, &token, "/v1/users/import", &body, "import-1").await;
    assert_eq!(
        again.status,
        200,
        "{}",
        &again.text[..again.text.len().min(500)]
    );
    assert!(again.replay, "given again from the key");
    assert_eq!(again.text, first.text);

    // An answer that does not compress (about 2 bytes per character survive gzip) is split
    // over several items and read back whole.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let noise: String = (0..700_000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            char::from(b'!' + (seed % 90) as u8)
        })
        .collect();
    let claim = KeyClaim {
        fingerprint: "f-noise",
        holder: "h-noise",
        ttl_secs: IDEMPOTENCY_TTL_SECS,
        lease_secs: 60,
    };
    assert_eq!(
        registry
            .claim_idempotency_key(&org.id, "noise", &claim)
            .await
            .expect("claimed"),
        IdempotentClaim::New
    );
    let stored = StoredAnswer {
        status: 200,
        body: noise,
    };
    assert!(registry
        .store_idempotent_answer(&org.id, "noise", "h-noise", &stored)
        .await
        .expect("stored"));
    let replay = registry
        .claim_idempotency_key(
            &org.id,
            "noise",
            &KeyClaim {
                holder: "h-other",
                ..claim
            },
        )
        .await
        .expect("read back");
    assert_eq!(replay, IdempotentClaim::Done(stored));

    // A request claimed this key and crashed (its lease is short here, 1 s, to keep the
    // test short; the API's is 60 s).
    let add = json!({"username": "sam", "email": "sam@acme.example"}).to_string();
    let fingerprint = request_fingerprint(
        "POST",
        &["v1", "users"],
        "boss@acme.example",
        add.as_bytes(),
    );
    let crashed = KeyClaim {
        fingerprint: &fingerprint,
        holder: "crashed",
        ttl_secs: IDEMPOTENCY_TTL_SECS,
        lease_secs: 1,
    };
    assert_eq!(
        registry
            .claim_idempotency_key(&org.id, "add-sam", &crashed)
            .await
            .expect("claimed"),
        IdempotentClaim::New
    );
    let during = post(&app, &token, "/v1/users", &add, "add-sam").await;
    assert_eq!(during.status, 409, "{}", during.text);
    assert!(
        during.text.contains("request-in-progress"),
        "{}",
        during.text
    );
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let taken = post(&app, &token, "/v1/users", &add, "add-sam").await;
    assert_eq!(taken.status, 201, "{}", taken.text);
    assert!(!taken.replay);
    let repeat = post(&app, &token, "/v1/users", &add, "add-sam").await;
    assert_eq!(repeat.status, 201, "{}", repeat.text);
    assert!(repeat.replay);
    assert_eq!(repeat.text, taken.text);
    // The crashed request, should it wake up, neither frees nor replaces the answer.
    registry
        .release_idempotency_key(&org.id, "add-sam", "crashed")
        .await
        .expect("released");
    assert!(!registry
        .store_idempotent_answer(
            &org.id,
            "add-sam",
            "crashed",
            &StoredAnswer {
                status: 500,
                body: String::new()
            }
        )
        .await
        .expect("answered"));
    let last = post(&app, &token, "/v1/users", &add, "add-sam").await;
    assert_eq!(last.text, taken.text);
    assert!(last.replay);
}
