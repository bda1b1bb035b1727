//! The admin API's unit tests: the real handler with in-memory registry, Cognito and mail
//! behind our own ports, and a fake token check (the real verifier is tested on its own and
//! end to end against moto).

use std::sync::Arc;

use async_trait::async_trait;
use lambda_http::http::{Method, Request, StatusCode};
use lambda_http::Body;
use serde_json::{json, Value};
use shared::domain::ports::Registry as _;
use shared::domain::{OrgId, Organization, PersonStatus};
use shared::testing::{sample_org, sample_person, MemoryMailer, MemoryRegistry, RecordingPools};

use crate::context::{App, Authenticate, NotAccepted, TokenSubject};

/// Tokens are `token:<pool>:<username>` (signed in now) or `old:<pool>:<username>` (signed
/// in long ago); anything else is refused.
struct FakeAuth;

#[async_trait]
impl Authenticate for FakeAuth {
    async fn authenticate(&self, token: &str) -> Result<TokenSubject, NotAccepted> {
        let mut parts = token.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(age @ ("token" | "old")), Some(pool), Some(user)) => Ok(TokenSubject {
                pool_id: pool.into(),
                username: user.into(),
                signed_in_at: if age == "old" {
                    1
                } else {
                    shared::domain::now_epoch() as u64
                },
            }),
            (Some("outage"), _, _) => Err(NotAccepted {
                reason: "keys unavailable".into(),
                outage: true,
            }),
            _ => Err(NotAccepted::bad("not a token")),
        }
    }
}

struct World {
    app: App,
    registry: Arc<MemoryRegistry>,
    pools: Arc<RecordingPools>,
    mailer: Arc<MemoryMailer>,
    org: Organization,
}

const ADMIN: &str = "token:eu-west-1_AcmePool1:hank";
const MEMBER: &str = "token:eu-west-1_AcmePool1:jane";

fn world_with(org: Organization) -> World {
    let registry = Arc::new(MemoryRegistry::with_org(org.clone()));
    registry.insert_person(sample_person(
        "hank",
        "hank@acme.example",
        &["admin"],
        PersonStatus::Active,
    ));
    registry.insert_person(sample_person(
        "jane",
        "jane@acme.example",
        &["member"],
        PersonStatus::Active,
    ));
    let pools = Arc::new(RecordingPools::default());
    let mailer = Arc::new(MemoryMailer::default());
    let app = App {
        registry: registry.clone(),
        pools: pools.clone(),
        mailer: mailer.clone(),
        auth: Arc::new(FakeAuth),
        secrets: Arc::new(shared::testing::MemorySecrets::default()),
        dns: Arc::new(shared::testing::MemoryDns::default()),
        base_domain: "app.example.com".into(),
        region: "eu-west-1".into(),
    };
    World {
        app,
        registry,
        pools,
        mailer,
        org,
    }
}

fn world() -> World {
    let mut org = sample_org();
    org.seats_used = 2;
    world_with(org)
}

struct Answer {
    status: StatusCode,
    headers: lambda_http::http::HeaderMap,
    body: Value,
}

impl World {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        self.send(
            method,
            path,
            token,
            body.map(|b| b.to_string()),
            "application/json",
            &[],
        )
        .await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        content_type: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("https://api.example.com{path}"));
        if let Some(t) = token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            request = request.header("content-type", content_type);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request
            .body(body.map(Body::Text).unwrap_or(Body::Empty))
            .expect("request");
        let response = self.app.handle(request).await;
        let status = response.status();
        let headers = response.headers().clone();
        let body = match response.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::String(t.clone())),
            _ => Value::Null,
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn add(&self, username: &str, roles: &[&str]) -> Value {
        let a = self
            .call(
                Method::POST,
                "/v1/users",
                Some(ADMIN),
                Some(json!({"username": username, "email": format!("{username}@acme.example"), "roles": roles})),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        a.body
    }
}

fn problem(a: &Answer, status: StatusCode, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.body["code"], code, "{}", a.body);
    assert_eq!(
        a.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
}

#[tokio::test]
async fn without_a_valid_token_everything_is_401_and_says_nothing_more() {
    let w = world();
    for token in [
        None,
        Some("garbage"),
        Some("token:eu-west-1_Other:hank"),
        Some("token:eu-west-1_AcmePool1:nobody"),
    ] {
        let a = w.call(Method::GET, "/v1/users", token, None).await;
        problem(&a, StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(
            a.headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer error=\"invalid_token\"")
        );
    }
}

#[tokio::test]
async fn a_token_that_could_not_be_checked_is_503_not_401() {
    let w = world();
    let a = w.call(Method::GET, "/v1/users", Some("outage"), None).await;
    problem(&a, StatusCode::SERVICE_UNAVAILABLE, "backend-unavailable");
    assert!(a.headers.get("www-authenticate").is_none());
}

#[tokio::test]
async fn a_deactivated_persons_still_valid_token_is_refused() {
    let w = world();
    w.registry.insert_person(sample_person(
        "dora",
        "dora@acme.example",
        &["admin"],
        PersonStatus::Deactivated,
    ));
    w.registry.insert_person(sample_person(
        "uli",
        "uli@acme.example",
        &["admin"],
        PersonStatus::Unlinked,
    ));
    for token in [
        "token:eu-west-1_AcmePool1:dora",
        "token:eu-west-1_AcmePool1:uli",
    ] {
        let a = w
            .call(Method::GET, "/v1/organization", Some(token), None)
            .await;
        problem(&a, StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

#[tokio::test]
async fn a_suspended_organization_gets_nothing() {
    let mut org = sample_org();
    org.status = shared::domain::OrgStatus::Suspended;
    let w = world_with(org);
    let a = w.call(Method::GET, "/v1/users", Some(ADMIN), None).await;
    problem(&a, StatusCode::FORBIDDEN, "organization-unavailable");
}

#[tokio::test]
async fn members_read_only_their_own_record_admins_everything() {
    let w = world();
    let a = w
        .call(Method::GET, "/v1/organization", Some(ADMIN), None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["subdomain"], "acme");
    assert_eq!(a.body["login_url"], "https://acme.app.example.com/login");
    let hank = w.registry.stored_person("hank").expect("hank");
    // People data, settings, roles and the audit log are the administrators' alone.
    for path in [
        "/v1/organization".to_owned(),
        "/v1/users".to_owned(),
        "/v1/users?q=hank".to_owned(),
        format!("/v1/users/{}", hank.id),
        "/v1/roles".to_owned(),
        "/v1/audit".to_owned(),
    ] {
        let a = w.call(Method::GET, &path, Some(MEMBER), None).await;
        problem(&a, StatusCode::FORBIDDEN, "forbidden");
        assert!(
            !a.body.to_string().contains("hank"),
            "{path}: a refusal names nobody: {}",
            a.body
        );
    }
    // Their own record, and only it.
    let me = w.call(Method::GET, "/v1/me", Some(MEMBER), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["username"], "jane");
    assert_eq!(me.body["roles"], json!(["member"]));
    let me = w.call(Method::GET, "/v1/me", Some(ADMIN), None).await;
    assert_eq!(me.body["username"], "hank");
    let a = w.call(Method::GET, "/v1/me", None, None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = w
        .call(
            Method::POST,
            "/v1/users",
            Some(MEMBER),
            Some(json!({"username": "x", "email": "x@acme.example"})),
        )
        .await;
    problem(&a, StatusCode::FORBIDDEN, "forbidden");
    assert!(w.registry.stored_person("x").is_none());
}

#[tokio::test]
async fn people_are_added_found_listed_and_filtered() {
    let w = world();
    let sam = w.add("sam", &["member"]).await;
    let id = sam["id"].as_str().expect("id");
    assert_eq!(sam["status"], "added");
    assert!(w.pools.calls().is_empty(), "a record only");
    let a = w
        .call(Method::GET, &format!("/v1/users/{id}"), Some(ADMIN), None)
        .await;
    assert_eq!(a.body["username"], "sam");
    assert!(a.headers.get("etag").is_some());
    let a = w
        .call(Method::GET, "/v1/users?status=added", Some(ADMIN), None)
        .await;
    let names: Vec<&str> = a.body["users"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["sam"]);
    let a = w
        .call(Method::GET, "/v1/users?q=JAN", Some(ADMIN), None)
        .await;
    assert_eq!(a.body["users"][0]["username"], "jane");
    // Pages: two of one, then the end.
    let first = w
        .call(Method::GET, "/v1/users?limit=2", Some(ADMIN), None)
        .await;
    assert_eq!(first.body["users"].as_array().expect("list").len(), 2);
    let cursor = first.body["next_cursor"].as_str().expect("more");
    let second = w
        .call(
            Method::GET,
            &format!("/v1/users?limit=2&cursor={cursor}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(second.body["users"].as_array().expect("list").len(), 1);
    assert!(second.body["next_cursor"].is_null());
}

#[tokio::test]
async fn bad_input_is_named_and_changes_nothing() {
    let w = world();
    /// Body, content type, expected status, problem code, the field it names.
    type Case<'a> = (
        Option<String>,
        &'a str,
        StatusCode,
        &'a str,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            Some("{not json".into()),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid-request",
            Some("body"),
        ),
        (
            Some(json!({"username": "a", "email": "a@acme.example", "shoe_size": 44}).to_string()),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid-request",
            Some("shoe_size"),
        ),
        (
            Some(json!({"username": "a"}).to_string()),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid-request",
            Some("email"),
        ),
        (
            Some(json!({"username": "a", "email": "not-an-address"}).to_string()),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid-request",
            Some("email"),
        ),
        (
            Some(
                json!({"username": "a", "email": "a@acme.example", "roles": ["boss"]}).to_string(),
            ),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid-request",
            Some("roles"),
        ),
        (
            Some(
                json!({"username": "a", "email": "a@acme.example", "given_name": "x".repeat(101)})
                    .to_string(),
            ),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid-request",
            Some("given_name"),
        ),
        (
            Some(json!({"username": "a b", "email": "a@acme.example"}).to_string()),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid-request",
            Some("username"),
        ),
        (
            Some("username=a".into()),
            "application/x-www-form-urlencoded",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            None,
        ),
        (
            Some(format!("{{\"username\": \"{}\"}}", "a".repeat(1024 * 1024))),
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            None,
        ),
    ];
    for (body, content_type, status, code, field) in cases {
        let a = w
            .send(
                Method::POST,
                "/v1/users",
                Some(ADMIN),
                body,
                content_type,
                &[],
            )
            .await;
        problem(&a, status, code);
        assert_eq!(a.body["field"].as_str(), field, "{}", a.body);
    }
    assert!(w.registry.audit_events().is_empty(), "nothing changed");
    let a = w
        .call(Method::GET, "/v1/users?limit=0", Some(ADMIN), None)
        .await;
    problem(&a, StatusCode::BAD_REQUEST, "invalid-request");
    let a = w
        .call(Method::GET, "/v1/users?cursor=%%%", Some(ADMIN), None)
        .await;
    problem(&a, StatusCode::BAD_REQUEST, "invalid-request");
    let a = w
        .call(Method::GET, "/v1/users/not-an-id", Some(ADMIN), None)
        .await;
    problem(&a, StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn the_activation_toggle_and_its_refusals() {
    let mut org = sample_org();
    org.seats = Some(3);
    org.seats_used = 2;
    let w = world_with(org);
    let sam = w.add("sam", &["member"]).await;
    let path = format!("/v1/users/{}/activation", sam["id"].as_str().expect("id"));
    let on = w
        .call(
            Method::PUT,
            &path,
            Some(ADMIN),
            Some(json!({"active": true})),
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);
    assert_eq!(on.body["welcome_mail_sent"], true);
    assert_eq!(on.body["user"]["status"], "invited");
    let again = w
        .call(
            Method::PUT,
            &path,
            Some(ADMIN),
            Some(json!({"active": true})),
        )
        .await;
    assert_eq!(again.body["welcome_mail_sent"], false);
    assert_eq!(w.mailer.sent().len(), 1, "no second mail");
    // The seats are all taken now.
    let tom = w.add("tom", &["member"]).await;
    let tom_path = format!("/v1/users/{}/activation", tom["id"].as_str().expect("id"));
    let refused = w
        .call(
            Method::PUT,
            &tom_path,
            Some(ADMIN),
            Some(json!({"active": true})),
        )
        .await;
    problem(&refused, StatusCode::CONFLICT, "no-seat");
    assert!(refused.body["detail"]
        .as_str()
        .expect("detail")
        .contains("All 3 licence seats"));
    // Without a role.
    let ria = w.add("ria", &[]).await;
    let ria_path = format!("/v1/users/{}/activation", ria["id"].as_str().expect("id"));
    let refused = w
        .call(
            Method::PUT,
            &ria_path,
            Some(ADMIN),
            Some(json!({"active": true})),
        )
        .await;
    problem(&refused, StatusCode::CONFLICT, "role-required");
    // Off frees the seat and disables the login.
    let off = w
        .call(
            Method::PUT,
            &path,
            Some(ADMIN),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(off.body["user"]["status"], "deactivated");
    assert!(w
        .pools
        .calls()
        .contains(&"disable_login eu-west-1_AcmePool1 sam".to_owned()));
    assert_eq!(w.registry.org(&w.org.id).expect("org").seats_used, 2);
}

#[tokio::test]
async fn a_stale_if_match_is_412() {
    let w = world();
    let sam = w.add("sam", &["member"]).await;
    let path = format!("/v1/users/{}", sam["id"].as_str().expect("id"));
    let loaded = w.call(Method::GET, &path, Some(ADMIN), None).await;
    let tag = loaded
        .headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("etag")
        .to_owned();
    let body = json!({"given_name": "Sam"}).to_string();
    let first = w
        .send(
            Method::PATCH,
            &path,
            Some(ADMIN),
            Some(body.clone()),
            "application/json",
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["given_name"], "Sam");
    let stale = w
        .send(
            Method::PATCH,
            &path,
            Some(ADMIN),
            Some(json!({"family_name": "Late"}).to_string()),
            "application/json",
            &[("if-match", &tag)],
        )
        .await;
    problem(&stale, StatusCode::PRECONDITION_FAILED, "stale");
    let cleared = w
        .call(
            Method::PATCH,
            &path,
            Some(ADMIN),
            Some(json!({"given_name": null})),
        )
        .await;
    assert!(cleared.body["given_name"].is_null());
}

#[tokio::test]
async fn an_idempotency_key_gives_the_first_answer_again_and_changes_nothing() {
    let w = world();
    let body =
        json!({"username": "sam", "email": "sam@acme.example", "roles": ["member"]}).to_string();
    let first = w
        .send(
            Method::POST,
            "/v1/users",
            Some(ADMIN),
            Some(body.clone()),
            "application/json",
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = w
        .send(
            Method::POST,
            "/v1/users",
            Some(ADMIN),
            Some(body),
            "application/json",
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(
        again
            .headers
            .get("idempotent-replay")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(w.registry.audit_actions(), ["person.added"], "changed once");
    let other = json!({"username": "tom", "email": "tom@acme.example"}).to_string();
    let reused = w
        .send(
            Method::POST,
            "/v1/users",
            Some(ADMIN),
            Some(other),
            "application/json",
            &[("idempotency-key", "k-1")],
        )
        .await;
    problem(
        &reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
    );
}

#[tokio::test]
async fn a_key_left_running_by_a_crashed_request_is_taken_over_after_its_lease() {
    use shared::domain::ports::{KeyClaim, Registry, StoredAnswer};
    let w = world();
    let body =
        json!({"username": "sam", "email": "sam@acme.example", "roles": ["member"]}).to_string();
    // A request with this key and body claimed it and crashed before answering.
    let fingerprint =
        crate::app::request_fingerprint("POST", &["v1", "users"], "hank", body.as_bytes());
    let crashed = KeyClaim {
        fingerprint: &fingerprint,
        holder: "crashed-request",
        ttl_secs: crate::app::IDEMPOTENCY_TTL_SECS,
        lease_secs: crate::app::IDEMPOTENCY_LEASE_SECS,
    };
    let claimed = w
        .registry
        .claim_idempotency_key(&w.org.id, "k-crash", &crashed)
        .await
        .expect("claimed");
    assert_eq!(claimed, shared::domain::ports::IdempotentClaim::New);
    let send = || {
        w.send(
            Method::POST,
            "/v1/users",
            Some(ADMIN),
            Some(body.clone()),
            "application/json",
            &[("idempotency-key", "k-crash")],
        )
    };
    // Within the lease the first request may still be running.
    problem(&send().await, StatusCode::CONFLICT, "request-in-progress");
    assert!(w.registry.stored_person("sam").is_none());
    // After it, the same request takes the key over and runs.
    w.registry.expire_idempotency_leases();
    let taken = send().await;
    assert_eq!(taken.status, StatusCode::CREATED, "{}", taken.body);
    // The crashed request's late answer does not replace the one given.
    let late = w
        .registry
        .store_idempotent_answer(
            &w.org.id,
            "k-crash",
            "crashed-request",
            &StoredAnswer {
                status: 500,
                body: String::new(),
            },
        )
        .await
        .expect("answered");
    assert!(!late, "the crashed holder no longer holds the key");
    let again = send().await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body["id"], taken.body["id"]);
    assert!(again.headers.contains_key("idempotent-replay"));
    assert_eq!(w.registry.audit_actions(), ["person.added"], "changed once");
    // Another body under a running key past its lease is still another request.
    let other = json!({"username": "tom", "email": "tom@acme.example"}).to_string();
    w.registry.expire_idempotency_leases();
    let reused = w
        .send(
            Method::POST,
            "/v1/users",
            Some(ADMIN),
            Some(other),
            "application/json",
            &[("idempotency-key", "k-crash")],
        )
        .await;
    problem(
        &reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
    );
}

#[tokio::test]
async fn roles_and_the_audit_log() {
    let w = world();
    let a = w
        .call(
            Method::POST,
            "/v1/roles",
            Some(ADMIN),
            Some(json!({"name": "billing"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let roles = w.call(Method::GET, "/v1/roles", Some(ADMIN), None).await;
    let listed: Vec<(String, u64)> = roles.body["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or_default().to_owned(),
                r["members"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("admin".into(), 1),
            ("member".into(), 1),
            ("billing".into(), 0)
        ]
    );
    let a = w
        .call(Method::DELETE, "/v1/roles/admin", Some(ADMIN), None)
        .await;
    problem(&a, StatusCode::CONFLICT, "not-allowed");
    let a = w
        .call(Method::DELETE, "/v1/roles/billing", Some(ADMIN), None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let audit = w
        .call(Method::GET, "/v1/audit?limit=1", Some(ADMIN), None)
        .await;
    assert_eq!(audit.body["events"][0]["action"], "role.deleted");
    assert_eq!(audit.body["events"][0]["actor"], "hank");
    let cursor = audit.body["next_cursor"].as_str().expect("more");
    let older = w
        .call(
            Method::GET,
            &format!("/v1/audit?cursor={cursor}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(older.body["events"][0]["action"], "role.added");
}

#[tokio::test]
async fn another_organizations_person_is_not_found() {
    let w = world();
    let mut other = sample_org();
    other.id = OrgId::from("org-0192f0c4d5e67a8b9c0d1e2f3a4b5c99".to_owned());
    let stranger = shared::domain::Person::new(
        other.id.clone(),
        "eve".into(),
        shared::domain::EmailAddress::parse("eve@globex.example").expect("valid"),
        vec![],
        PersonStatus::Added,
    );
    w.registry.insert_person(stranger.clone());
    for (method, suffix) in [
        (Method::GET, ""),
        (Method::DELETE, ""),
        (Method::POST, "/password-reset"),
    ] {
        let a = w
            .call(
                method,
                &format!("/v1/users/{}{suffix}", stranger.id),
                Some(ADMIN),
                None,
            )
            .await;
        problem(&a, StatusCode::NOT_FOUND, "not-found");
    }
    assert_eq!(
        w.registry.stored_person("eve").expect("there").status,
        PersonStatus::Added
    );
}

#[tokio::test]
async fn a_password_reset_or_a_deactivation_ends_every_session() {
    const JANE_BEFORE: &str = "old:eu-west-1_AcmePool1:jane";
    let w = world();
    let me = w.call(Method::GET, "/v1/me", Some(JANE_BEFORE), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let jane = w.registry.stored_person("jane").expect("jane");
    let reset = w
        .call(
            Method::POST,
            &format!("/v1/users/{}/password-reset", jane.id),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    assert!(
        w.pools
            .calls()
            .contains(&"sign_out_everywhere eu-west-1_AcmePool1 jane".to_owned()),
        "{:?}",
        w.pools.calls()
    );
    // A token of a sign-in before the reset: refused, though Cognito's signature holds.
    let me = w.call(Method::GET, "/v1/me", Some(JANE_BEFORE), None).await;
    problem(&me, StatusCode::UNAUTHORIZED, "unauthorized");
    let me = w.call(Method::GET, "/v1/me", Some(MEMBER), None).await;
    assert_eq!(me.status, StatusCode::OK, "a sign-in since: {}", me.body);
    // Deactivated and activated again: the tokens of before stay refused.
    let hank = w.add("sam", &["admin"]).await;
    let id = hank["id"].as_str().expect("id").to_owned();
    for active in [true, false, true] {
        let a = w
            .call(
                Method::PUT,
                &format!("/v1/users/{id}/activation"),
                Some(ADMIN),
                Some(json!({ "active": active })),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    let sam = w.registry.stored_person("sam").expect("sam");
    assert!(sam.sessions_revoked_at.is_some());
    let a = w
        .call(
            Method::GET,
            "/v1/me",
            Some("old:eu-west-1_AcmePool1:sam"),
            None,
        )
        .await;
    problem(&a, StatusCode::UNAUTHORIZED, "unauthorized");
    let a = w
        .call(
            Method::GET,
            "/v1/me",
            Some("token:eu-west-1_AcmePool1:sam"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

#[tokio::test]
async fn the_last_active_admin_is_never_removed() {
    let w = world();
    let hank = w.registry.stored_person("hank").expect("hank");
    let attempts = [
        (
            Method::PUT,
            format!("/v1/users/{}/activation", hank.id),
            json!({"active": false}),
        ),
        (
            Method::PATCH,
            format!("/v1/users/{}", hank.id),
            json!({"roles": ["member"]}),
        ),
        (Method::DELETE, format!("/v1/users/{}", hank.id), json!({})),
    ];
    for (method, path, body) in &attempts {
        let a = w
            .call(method.clone(), path, Some(ADMIN), Some(body.clone()))
            .await;
        problem(&a, StatusCode::CONFLICT, "last-admin");
        assert!(
            a.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("make someone else an administrator first")),
            "{}",
            a.body
        );
    }
    assert_eq!(w.registry.stored_person("hank"), Some(hank));
}

#[test]
fn the_openapi_document_lists_exactly_the_routes() {
    let doc: Value = serde_json::from_str(crate::routes::OPENAPI).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("operations").keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    let mut routed: Vec<(String, String)> = crate::routes::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    documented.sort();
    routed.sort();
    assert_eq!(documented, routed);
}

#[tokio::test]
async fn every_listed_route_is_routed() {
    let w = world();
    let sam = w.add("sam", &["member"]).await;
    let id = sam["id"].as_str().expect("id");
    for (method, template) in crate::routes::ROUTES {
        let path = template
            .replace("{id}", id)
            .replace("{name}", "nothing-such");
        let method: Method = method.parse().expect("method");
        let a = w
            .call(method.clone(), &path, Some(ADMIN), Some(json!({})))
            .await;
        let unrouted = a.status == StatusCode::NOT_FOUND
            && a.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("route"));
        assert!(!unrouted, "{method} {path} is not routed: {}", a.body);
    }
}

#[tokio::test]
async fn an_import_answers_row_by_row_and_activates_nobody() {
    let w = world();
    let csv = "username,email,given_name,family_name,roles\n\
               amy,amy@acme.example,Amy,Pond,member;admin\n\
               jane,jane2@acme.example,,,member\n\
               bob,not-an-address,,,\n\
               cid,cid@acme.example,,,boss\n\
               amy,amy-again@acme.example,,,\n\
               \"dee\",dee@acme.example,\"Dee, Jr.\",,\n";
    let a = w
        .send(
            Method::POST,
            "/v1/users/import",
            Some(ADMIN),
            Some(csv.into()),
            "text/csv",
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let results: Vec<&str> = a.body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["result"].as_str())
        .collect();
    assert_eq!(
        results,
        ["created", "skipped", "refused", "refused", "skipped", "created"]
    );
    assert_eq!(
        (
            a.body["created"].as_u64(),
            a.body["skipped"].as_u64(),
            a.body["refused"].as_u64()
        ),
        (Some(2), Some(2), Some(2))
    );
    assert!(a.body["rows"][2]["reason"]
        .as_str()
        .expect("reason")
        .contains("e-mail"));
    assert!(a.body["rows"][4]["reason"]
        .as_str()
        .expect("reason")
        .contains("row 1"));
    let amy = w.registry.stored_person("amy").expect("created");
    assert_eq!(amy.status, PersonStatus::Added, "nobody is activated");
    assert_eq!(amy.roles.len(), 2);
    assert_eq!(
        w.registry
            .stored_person("dee")
            .expect("created")
            .given_name
            .as_deref(),
        Some("Dee, Jr.")
    );
    assert!(w.pools.calls().is_empty() && w.mailer.sent().is_empty());

    let json_rows =
        json!([{"username": "eli", "email": "eli@acme.example"}, {"username": "fay"}]).to_string();
    let a = w
        .send(
            Method::POST,
            "/v1/users/import",
            Some(ADMIN),
            Some(json_rows),
            "application/json",
            &[],
        )
        .await;
    let results: Vec<&str> = a.body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["result"].as_str())
        .collect();
    assert_eq!(results, ["created", "refused"]);
    let a = w
        .send(
            Method::POST,
            "/v1/users/import",
            Some(ADMIN),
            Some("username,email,shoe\nx,x@acme.example,44\n".into()),
            "text/csv",
            &[],
        )
        .await;
    problem(&a, StatusCode::BAD_REQUEST, "invalid-request");
    assert_eq!(a.body["field"], "shoe");
    let too_many = format!(
        "username,email\n{}",
        (0..10_001)
            .map(|i| format!("u{i},u{i}@acme.example\n"))
            .collect::<String>()
    );
    let a = w
        .send(
            Method::POST,
            "/v1/users/import",
            Some(ADMIN),
            Some(too_many),
            "text/csv",
            &[],
        )
        .await;
    problem(&a, StatusCode::PAYLOAD_TOO_LARGE, "too-many-rows");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    fn method() -> impl Strategy<Value = Method> {
        prop_oneof![
            Just(Method::GET),
            Just(Method::POST),
            Just(Method::PUT),
            Just(Method::PATCH),
            Just(Method::DELETE)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any request an admin could send gets a well-formed answer, never a panic; what is
        /// refused is problem+json.
        #[test]
        fn arbitrary_requests_are_answered_never_panic(
            method in method(),
            segments in prop::collection::vec(prop_oneof![
                Just("users".to_owned()), Just("roles".to_owned()), Just("activation".to_owned()),
                Just("import".to_owned()), Just("audit".to_owned()), "[a-z0-9%.-]{0,12}"
            ], 0..4),
            query in "[a-z=&%0-9]{0,30}",
            body in ".{0,200}",
            content_type in prop_oneof![Just("application/json".to_owned()), Just("text/csv".to_owned()), Just("text/plain".to_owned()), "[ -~]{0,20}"],
        ) {
            let w = world();
            let path = format!("/v1/{}?{query}", segments.join("/"));
            let answer = runtime().block_on(w.send(method, &path, Some(ADMIN), Some(body), &content_type, &[]));
            let status = answer.status.as_u16();
            prop_assert!((200..600).contains(&status));
            if !answer.status.is_success() {
                prop_assert_eq!(
                    answer.headers.get("content-type").and_then(|v| v.to_str().ok()),
                    Some("application/problem+json")
                );
                prop_assert!(answer.body["code"].is_string());
            }
        }

        /// Arbitrary JSON bodies for adding a person change nothing unless they are valid.
        #[test]
        fn arbitrary_person_bodies_are_validated(
            username in ".{0,20}",
            email in ".{0,30}",
            extra in prop::option::of("[a-z_]{1,10}"),
        ) {
            let w = world();
            let mut body = json!({"username": username, "email": email});
            if let Some(field) = &extra {
                body[field] = json!(1);
            }
            let answer = runtime().block_on(w.call(Method::POST, "/v1/users", Some(ADMIN), Some(body)));
            let added = !w.registry.audit_events().is_empty();
            prop_assert_eq!(added, answer.status == StatusCode::CREATED);
        }
    }
}

#[tokio::test]
async fn admins_change_their_organizations_settings_and_nobody_else_does() {
    let w = world();
    let got = w
        .call(Method::GET, "/v1/organization", Some(ADMIN), None)
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["invitation"], "password");
    assert_eq!(got.body["jit"], json!({"enabled": false, "role": "member"}));
    let tag = got.headers["etag"].to_str().expect("etag").to_owned();
    let change = json!({
        "branding": {"display_name": "Acme", "primary_color": "#0b5fff", "logo_url": "https://cdn.acme.example/logo.png"},
        "mfa": "required",
        "app_urls": ["https://portal.acme.example/"],
        "jit": {"enabled": true, "role": "member"},
        "admins_keep_password": true,
    });
    let refused = w
        .call(
            Method::PATCH,
            "/v1/organization",
            Some(MEMBER),
            Some(change.clone()),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let done = w
        .send(
            Method::PATCH,
            "/v1/organization",
            Some(ADMIN),
            Some(change.to_string()),
            "application/json",
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["branding"]["primary_color"], "#0b5fff");
    assert_eq!(done.body["mfa"], "required");
    assert_eq!(
        done.body["app_urls"],
        json!(["https://portal.acme.example/"])
    );
    assert_eq!(done.body["admins_keep_password"], true);
    assert!(w.pools.calls().iter().any(|c| c.starts_with("ensure_mfa")));
    // The tag of before is stale now.
    let stale = w
        .send(
            Method::PATCH,
            "/v1/organization",
            Some(ADMIN),
            Some(json!({"mfa": "off"}).to_string()),
            "application/json",
            &[("if-match", &tag)],
        )
        .await;
    problem(&stale, StatusCode::PRECONDITION_FAILED, "stale");
    // Bad input names the field; unknown fields are refused; nothing changes.
    let before = w.registry.org(&w.org.id);
    for (body, needle) in [
        (
            json!({"branding": {"primary_color": "blue"}}),
            "primary_color",
        ),
        (
            json!({"branding": {"logo_url": "http://x.example/l.png"}}),
            "logo_url",
        ),
        (json!({"sso_only": true}), "sso_only"),
        (json!({"mfa": "sometimes"}), "MFA"),
        (json!({"email_domains": ["not a domain"]}), "email_domains"),
        (json!({"sso": {"okta": {"client_id": "x"}}}), "okta"),
    ] {
        let a = w
            .call(
                Method::PATCH,
                "/v1/organization",
                Some(ADMIN),
                Some(body.clone()),
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {}", a.body);
        assert!(a.body.to_string().contains(needle), "{body}: {}", a.body);
    }
    assert_eq!(w.registry.org(&w.org.id), before);
}

#[tokio::test]
async fn e_mail_domains_are_proven_by_their_txt_record() {
    let dns = Arc::new(shared::testing::MemoryDns::default());
    let mut w = world();
    w.app.dns = dns.clone();
    let added = w
        .call(
            Method::PATCH,
            "/v1/organization",
            Some(ADMIN),
            Some(json!({"email_domains": ["acme.example", "acme-labs.example"]})),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let proofs = added.body["email_domain_proofs"]
        .as_array()
        .expect("proofs")
        .clone();
    let labs = proofs
        .iter()
        .find(|p| p["domain"] == "acme-labs.example")
        .expect("a proof for the new domain");
    assert_eq!(labs["verified"], false);
    // Pending: listed, not claimed, not used.
    assert_eq!(
        added.body["email_domains"],
        json!(["acme.example", "acme-labs.example"])
    );
    assert_eq!(
        added.body["pending_email_domains"],
        json!(["acme-labs.example"])
    );
    let labs_domain = shared::domain::EmailDomain::parse("acme-labs.example").expect("valid");
    assert!(w
        .registry
        .organization_by_email_domain(&labs_domain)
        .await
        .expect("read")
        .is_none());
    let name = labs["txt_record_name"].as_str().expect("name");
    let value = labs["txt_record_value"].as_str().expect("value");
    // Not published yet: said so, nothing recorded.
    let first = w
        .call(
            Method::POST,
            "/v1/organization/email-domains/verify",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let labs_check = |body: &serde_json::Value| {
        body["email_domains"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["domain"] == "acme-labs.example")
            .cloned()
            .expect("checked")
    };
    assert_eq!(labs_check(&first.body)["verified"], false);
    assert!(labs_check(&first.body)["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("no TXT record"));
    dns.set(name, &[value]);
    let second = w
        .call(
            Method::POST,
            "/v1/organization/email-domains/verify",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(
        labs_check(&second.body)["verified"],
        true,
        "{}",
        second.body
    );
    let shown = w
        .call(Method::GET, "/v1/organization", Some(ADMIN), None)
        .await;
    assert!(shown.body["email_domain_proofs"]
        .as_array()
        .expect("proofs")
        .iter()
        .any(|p| p["domain"] == "acme-labs.example" && p["verified"] == true));
    assert_eq!(shown.body["pending_email_domains"], json!([]));
    assert!(w
        .registry
        .organization_by_email_domain(&labs_domain)
        .await
        .expect("read")
        .is_some());
    // A public mail service's domain: refused with its own code.
    let public = w
        .call(
            Method::PATCH,
            "/v1/organization",
            Some(ADMIN),
            Some(json!({"email_domains": ["acme.example", "gmail.com"]})),
        )
        .await;
    assert_eq!(
        public.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        public.body
    );
    assert_eq!(public.body["code"], "public-email-domain");
    assert_eq!(public.body["field"], "email_domains");
    // Members may not.
    let member = w
        .call(
            Method::POST,
            "/v1/organization/email-domains/verify",
            Some(MEMBER),
            None,
        )
        .await;
    assert_eq!(member.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn apple_is_set_up_and_shown_without_its_private_key() {
    let w = world();
    let key =
        "-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----";
    let done = w
        .call(
            Method::PATCH,
            "/v1/organization",
            Some(ADMIN),
            Some(json!({"sso": {
                "apple": {"client_id": "com.acme.signin", "team_id": "TEAM123456", "key_id": "KEY1234567", "private_key": key},
                "facebook": {"client_id": "1234567890", "client_secret": "fb-secret"}
            }})),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let apple = &done.body["sso"]["apple"];
    assert_eq!(apple["team_id"], "TEAM123456");
    assert_eq!(apple["key_id"], "KEY1234567");
    assert_eq!(apple["client_secret_set"], true);
    assert_eq!(done.body["sso"]["facebook"]["client_secret_set"], true);
    assert_eq!(
        done.body["providers"],
        json!(["SignInWithApple", "Facebook"])
    );
    let text = done.body.to_string();
    assert!(
        !text.contains("MIGTAgEA") && !text.contains("fb-secret"),
        "{text}"
    );
    let bad = w
        .call(
            Method::PATCH,
            "/v1/organization",
            Some(ADMIN),
            Some(json!({"sso": {"apple": {"client_id": "com.acme.signin", "team_id": "TEAM123456", "key_id": "KEY1234567", "private_key": "hunter2"}}})),
        )
        .await;
    problem(&bad, StatusCode::BAD_REQUEST, "invalid-request");
    assert!(
        bad.body.to_string().contains("sso.apple.private_key"),
        "{}",
        bad.body
    );
    assert!(!bad.body.to_string().contains("hunter2"));
}

#[tokio::test]
async fn a_scim_token_is_shown_once_stored_as_a_digest_and_revocable() {
    let w = world();
    let path = "/v1/organization/scim-token";
    let off = w.call(Method::GET, path, Some(ADMIN), None).await;
    assert_eq!(off.body["enabled"], json!(false));
    let refused = w.call(Method::POST, path, Some(MEMBER), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let made = w
        .send(
            Method::POST,
            path,
            Some(ADMIN),
            None,
            "application/json",
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.headers["cache-control"], "no-store");
    let token = made.body["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("scim_sct-"));
    assert_eq!(
        made.body["scim_base_url"],
        json!("https://acme.app.example.com/scim/v2")
    );
    let org = w.registry.org(&sample_org().id).expect("org");
    let stored = serde_json::to_string(&org).expect("json");
    assert!(!stored.contains(&token), "the token itself is never stored");
    assert!(org
        .scim
        .as_ref()
        .expect("on")
        .accepts(&token, shared::domain::now_epoch())
        .is_some());
    let status = w.call(Method::GET, path, Some(ADMIN), None).await;
    assert_eq!(status.body["enabled"], json!(true));
    assert_eq!(status.body["token_id"], made.body["token_id"]);
    assert!(!status.body.to_string().contains(&token));
    // The same key again makes another token (the answer was not stored).
    let again = w
        .send(
            Method::POST,
            path,
            Some(ADMIN),
            None,
            "application/json",
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_ne!(again.body["token"], made.body["token"]);
    assert!(again.body["previous_token_valid_until"].is_i64());
    let revoked = w.call(Method::DELETE, path, Some(ADMIN), None).await;
    assert_eq!(revoked.body["enabled"], json!(false));
    let actions = w.registry.audit_actions();
    for action in [
        "scim.token_created",
        "scim.token_rotated",
        "scim.token_revoked",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
}

#[tokio::test]
async fn directory_groups_are_mapped_to_existing_roles_only() {
    let w = world();
    let set = w
        .call(
            Method::PATCH,
            "/v1/organization",
            Some(ADMIN),
            Some(json!({"scim": {"group_roles": {"Admins": "admin", " Sales ": "member"}, "default_role": "member"}})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(
        set.body["scim"]["group_roles"],
        json!({"Admins": "admin", "Sales": "member"})
    );
    assert_eq!(set.body["scim"]["enabled"], json!(false));
    let bad = w
        .call(
            Method::PATCH,
            "/v1/organization",
            Some(ADMIN),
            Some(json!({"scim": {"group_roles": {"Admins": "no-such-role"}}})),
        )
        .await;
    assert!(bad.status.is_client_error(), "{}", bad.body);
    let unknown = w
        .call(
            Method::PATCH,
            "/v1/organization",
            Some(ADMIN),
            Some(json!({"scim": {"groups": {}}})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let org = w.registry.org(&sample_org().id).expect("org");
    assert_eq!(
        org.sign_in
            .scim_group_roles
            .get("Admins")
            .map(String::as_str),
        Some("admin")
    );
}

#[tokio::test]
async fn a_saml_connection_is_set_up_through_the_settings_and_shown_with_what_to_paste() {
    use shared::domain::saml::fixtures::{okta, GOOD_CERT};
    let w = world();
    let set = w
        .call(
            Method::PATCH,
            "/v1/organization",
            Some(ADMIN),
            Some(json!({"sso": {"saml": {"okta": {"metadata_xml": okta(GOOD_CERT), "preset": "okta"}}}})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let saml = &set.body["sso"]["saml"];
    assert_eq!(
        saml["sp_entity_id"],
        json!("urn:amazon:cognito:sp:eu-west-1_AcmePool1")
    );
    assert!(saml["acs_url"].as_str().is_some_and(
        |u| u.starts_with("https://acme-3a4b5c6d.auth.") && u.ends_with("/saml2/idpresponse")
    ));
    assert_eq!(saml["connections"][0]["provider_name"], json!("saml-okta"));
    assert_eq!(
        saml["connections"][0]["entity_id"],
        json!("http://www.okta.com/exk1fcia6d6EMsf331d8")
    );
    assert_eq!(saml["connections"][0]["certificate_expiring"], json!(false));
    // A metadata document with a DTD is refused, and says where.
    let xxe =
        r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#;
    let refused = w
        .call(
            Method::PATCH,
            "/v1/organization",
            Some(ADMIN),
            Some(json!({"sso": {"saml": {"evil": {"metadata_xml": xxe}}}})),
        )
        .await;
    assert!(refused.status.is_client_error(), "{}", refused.body);
    assert!(
        !refused.body.to_string().contains("root:"),
        "nothing of a file"
    );
}
