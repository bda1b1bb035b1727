//! The SCIM function's handling, on the in-memory fakes: authentication per organization,
//! the routes, Entra ID's request sequence, errors as SCIM error responses.

use std::sync::Arc;

use lambda_http::http::{Method, Request, StatusCode};
use lambda_http::Body;
use serde_json::{json, Value};
use shared::domain::scim::{token, ScimCredentials};
use shared::domain::{OrgId, Organization, PersonStatus, Subdomain};
use shared::testing::{sample_org, MemoryMailer, MemoryRegistry, RecordingPools};

use crate::App;

const BASE: &str = "app.example.com";

struct World {
    app: App,
    registry: Arc<MemoryRegistry>,
    token: String,
}

fn with_token(mut org: Organization) -> (Organization, String) {
    let (issued, stored) = token::issue(0);
    org.scim = Some(ScimCredentials::rotated(None, stored, 0));
    (org, issued.token)
}

fn world() -> World {
    let (org, token) = with_token(sample_org());
    let registry = Arc::new(MemoryRegistry::with_org(org.clone()));
    // A second organization with its own token.
    let mut globex = sample_org();
    globex.id = OrgId::from("org-0192f0c4d5e67a8b9c0d1e2f3a4b5c6e".to_owned());
    globex.subdomain = Subdomain::parse("globex").expect("valid");
    globex.email_domains = vec![];
    let (globex, _) = with_token(globex);
    registry.insert_org(globex);
    World {
        app: App {
            registry: registry.clone(),
            pools: Arc::new(RecordingPools::default()),
            mailer: Arc::new(MemoryMailer::default()),
            base_domain: BASE.into(),
        },
        registry,
        token,
    }
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
    etag: Option<String>,
}

impl World {
    async fn send_as(
        &self,
        host: &str,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("https://{host}{path}"))
            .header("host", host);
        if let Some(t) = token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        let request = request
            .header("content-type", "application/scim+json")
            .body(
                body.map(|b| Body::Text(b.to_string()))
                    .unwrap_or(Body::Empty),
            )
            .expect("request");
        let response = self.app.handle(request).await;
        let header = |n: &str| {
            response
                .headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type").unwrap_or_default();
        let etag = header("etag");
        let body = match response.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Answer {
            status: response.status(),
            content_type,
            body,
            etag,
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.send_as(
            "acme.app.example.com",
            Some(&self.token),
            method,
            path,
            body,
            None,
        )
        .await
    }
}

fn entra_user(user_name: &str, external: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": external,
        "userName": user_name,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"familyName": "Doe", "givenName": "Alice"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "42"}
    })
}

#[tokio::test]
async fn only_this_organizations_token_opens_its_endpoint() {
    let w = world();
    let ok = w
        .send(Method::GET, "/scim/v2/ServiceProviderConfig", None)
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.content_type, "application/scim+json");
    assert_eq!(ok.body["patch"]["supported"], json!(true));
    // The API mapping strips `/scim`: the same route without it.
    let mapped = w.send(Method::GET, "/v2/ResourceTypes", None).await;
    assert_eq!(mapped.body["Resources"][0]["id"], json!("User"));
    let refusals = [
        ("acme.app.example.com", None),
        ("acme.app.example.com", Some("scim_sct-000000000000_00")),
        // acme's token on globex's host, and on a host of no organization.
        ("globex.app.example.com", Some(w.token.as_str())),
        ("nobody.app.example.com", Some(w.token.as_str())),
        ("acme.elsewhere.example", Some(w.token.as_str())),
    ];
    for (host, token) in refusals {
        let a = w
            .send_as(host, token, Method::GET, "/scim/v2/Users", None, None)
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{host} {token:?}");
        assert_eq!(a.body["status"], json!("401"));
        assert_eq!(
            a.body["schemas"][0],
            json!("urn:ietf:params:scim:api:messages:2.0:Error")
        );
    }
    // No token made yet: the endpoint is off.
    let mut off = sample_org();
    off.scim = None;
    w.registry.insert_org(off);
    let a = w.send(Method::GET, "/scim/v2/Users", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn entra_ids_sequence_provisions_changes_and_deprovisions() {
    let w = world();
    // 1. Is the user there? (Entra ID's first query)
    let q = w
        .send(
            Method::GET,
            "/scim/v2/Users?filter=userName+eq+%22alice%40acme.example%22",
            None,
        )
        .await;
    assert_eq!(q.status, StatusCode::OK);
    assert_eq!(q.body["totalResults"], json!(0));
    // 2. Create.
    let created = w
        .send(
            Method::POST,
            "/scim/v2/Users",
            Some(entra_user("alice@acme.example", "E-1")),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(created.body["active"], json!(true));
    assert_eq!(
        created.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
            ["employeeNumber"],
        json!("42")
    );
    let stored = w
        .registry
        .stored_person("alice@acme.example")
        .expect("stored");
    assert_eq!(stored.status, PersonStatus::Invited);
    // 3. Found by each indexed filter, and projected.
    for filter in [
        "userName eq \"Alice@Acme.example\"",
        "externalId eq \"E-1\"",
        "emails[type eq \"work\"].value eq \"alice@acme.example\"",
        "externalId eq \"E-1\" and active eq true",
    ] {
        let path = format!(
            "/scim/v2/Users?attributes=userName&filter={}",
            form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>()
        );
        let found = w.send(Method::GET, &path, None).await;
        assert_eq!(
            found.body["totalResults"],
            json!(1),
            "{filter}: {}",
            found.body
        );
        assert_eq!(found.body["Resources"][0]["id"], json!(id));
        assert!(found.body["Resources"][0].get("emails").is_none());
    }
    // 4. Entra ID's disable: "Replace" capitalised, active as a string.
    let disable = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let off = w
        .send(
            Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            Some(disable.clone()),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    assert_eq!(off.body["active"], json!(false));
    let version = off.etag.clone().expect("etag");
    // The same PATCH again changes nothing.
    let again = w
        .send(
            Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            Some(disable),
        )
        .await;
    assert_eq!(again.etag.as_deref(), Some(version.as_str()));
    assert_eq!(
        w.registry
            .stored_person("alice@acme.example")
            .expect("p")
            .status,
        PersonStatus::Deactivated
    );
    // 5. A stale If-Match is refused.
    let stale = w
        .send_as(
            "acme.app.example.com",
            Some(&w.token),
            Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            Some(json!({"Operations": [{"op": "replace", "path": "active", "value": true}]})),
            Some("W/\"1\""),
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    // 6. Back on, then deleted: deactivated, kept, gone from SCIM.
    let on = w
        .send(
            Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            Some(json!({"Operations": [{"op": "replace", "value": {"active": true}}]})),
        )
        .await;
    assert_eq!(on.body["active"], json!(true));
    let deleted = w
        .send(Method::DELETE, &format!("/scim/v2/Users/{id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = w
        .send(Method::GET, &format!("/scim/v2/Users/{id}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let kept = w
        .registry
        .stored_person("alice@acme.example")
        .expect("kept");
    assert_eq!(kept.status, PersonStatus::Deactivated);
    let actors: Vec<String> = w
        .registry
        .audit_events()
        .into_iter()
        .filter(|e| e.target == "alice@acme.example")
        .map(|e| e.actor)
        .collect();
    assert!(actors.len() >= 5, "{actors:?}");
    let token_id = &w.token[5..21];
    assert!(
        actors.iter().all(|a| a == &format!("scim:{token_id}")),
        "{actors:?}"
    );
}

#[tokio::test]
async fn bad_requests_are_scim_errors_with_their_scim_type() {
    let w = world();
    w.send(
        Method::POST,
        "/scim/v2/Users",
        Some(entra_user("alice@acme.example", "E-1")),
    )
    .await;
    let cases = [
        (
            Method::GET,
            "/scim/v2/Users?filter=userName+zz+%22x%22".to_owned(),
            None,
            400,
            Some("invalidFilter"),
        ),
        (
            Method::POST,
            "/scim/v2/Users".to_owned(),
            Some(entra_user("alice@acme.example", "E-2")),
            409,
            Some("uniqueness"),
        ),
        (
            Method::POST,
            "/scim/v2/Users".to_owned(),
            Some(entra_user("bob@acme.example", "E-1")),
            409,
            Some("uniqueness"),
        ),
        (
            Method::POST,
            "/scim/v2/Users".to_owned(),
            Some(json!({"active": true})),
            400,
            Some("invalidValue"),
        ),
        (
            Method::GET,
            "/scim/v2/Users/per-00000000000000000000000000000000".to_owned(),
            None,
            404,
            None,
        ),
        (
            Method::GET,
            "/scim/v2/Users/../../v1/users".to_owned(),
            None,
            404,
            None,
        ),
        (
            Method::GET,
            "/scim/v2/Users?count=x".to_owned(),
            None,
            400,
            Some("invalidValue"),
        ),
    ];
    for (method, path, body, status, kind) in cases {
        let a = w.send(method.clone(), &path, body).await;
        assert_eq!(a.status.as_u16(), status, "{method} {path}: {}", a.body);
        assert_eq!(a.body["scimType"].as_str(), kind, "{method} {path}");
        assert_eq!(a.body["status"], json!(status.to_string()));
    }
}

#[tokio::test]
async fn lists_page_with_start_index_and_count() {
    let w = world();
    for i in 0..5 {
        let user = entra_user(&format!("u{i}@acme.example"), &format!("E-{i}"));
        let a = w.send(Method::POST, "/scim/v2/Users", Some(user)).await;
        assert_eq!(a.status, StatusCode::CREATED);
    }
    let page = w
        .send(Method::GET, "/scim/v2/Users?startIndex=2&count=2", None)
        .await;
    assert_eq!(page.body["totalResults"], json!(5));
    assert_eq!(page.body["itemsPerPage"], json!(2));
    assert_eq!(
        page.body["Resources"][0]["userName"],
        json!("u1@acme.example")
    );
    let filtered = w
        .send(
            Method::GET,
            "/scim/v2/Users?filter=userName+sw+%22u3%22+or+userName+sw+%22u4%22",
            None,
        )
        .await;
    assert_eq!(filtered.body["totalResults"], json!(2));
    let none = w.send(Method::GET, "/scim/v2/Users?count=0", None).await;
    assert_eq!(none.body["totalResults"], json!(5));
    assert_eq!(none.body["Resources"], json!([]));
}

#[tokio::test]
async fn groups_carry_their_mapped_role_to_their_members() {
    let w = world();
    let mut org = w.registry.org(&sample_org().id).expect("org");
    org.sign_in
        .scim_group_roles
        .insert("Admins".into(), "admin".into());
    w.registry.insert_org(org);
    w.registry.insert_person(shared::testing::sample_person(
        "boss",
        "boss@acme.example",
        &["admin"],
        PersonStatus::Active,
    ));
    let user = w
        .send(
            Method::POST,
            "/scim/v2/Users",
            Some(entra_user("alice@acme.example", "E-1")),
        )
        .await;
    let alice = user.body["id"].as_str().expect("id").to_owned();
    // Entra ID: create the group empty, then add members with a PATCH.
    let made = w
        .send(
            Method::POST,
            "/scim/v2/Groups",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "externalId": "8aa1a0c0", "displayName": "Admins", "members": []}),
            ),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let gid = made.body["id"].as_str().expect("id").to_owned();
    let add = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "members", "value": [{"value": alice}]}]});
    let patched = w
        .send(Method::PATCH, &format!("/scim/v2/Groups/{gid}"), Some(add))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let roles = |w: &World| {
        w.registry
            .stored_person("alice@acme.example")
            .expect("alice")
            .roles
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(roles(&w), ["admin"]);
    let with = w
        .send(Method::GET, &format!("/scim/v2/Groups/{gid}"), None)
        .await;
    assert_eq!(with.body["members"][0]["value"], json!(alice));
    let without = w
        .send(
            Method::GET,
            &format!("/scim/v2/Groups/{gid}?excludedAttributes=members"),
            None,
        )
        .await;
    assert!(without.body.get("members").is_none());
    let found = w
        .send(
            Method::GET,
            "/scim/v2/Groups?filter=displayName+eq+%22admins%22",
            None,
        )
        .await;
    assert_eq!(found.body["totalResults"], json!(1));
    // Okta: remove by value filter.
    let remove =
        json!({"Operations": [{"op": "remove", "path": format!("members[value eq \"{alice}\"]")}]});
    w.send(
        Method::PATCH,
        &format!("/scim/v2/Groups/{gid}"),
        Some(remove),
    )
    .await;
    assert_eq!(roles(&w), ["member"]);
    let gone = w
        .send(Method::DELETE, &format!("/scim/v2/Groups/{gid}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        w.send(Method::GET, &format!("/scim/v2/Groups/{gid}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
