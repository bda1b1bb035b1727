//! SCIM end to end: a token made with `tenantctl org scim-token`, the `scim` function under
//! `cargo lambda watch` (its function URL, with the organization's host as the wildcard
//! domain's mapping sends it), the registry, Cognito and SES on moto. A directory's life of
//! one person: created with a login, found by filter, disabled as Entra ID disables
//! (`"op": "Replace"`, `"False"`), enabled again (the same login), deleted (deactivated, kept).

use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use integration_tests::{
    http_with, prepared_adapters, provisioned, tenantctl_json, Functions, LocalAws,
};
use serde_json::{json, Value};
use shared::domain::ports::Registry;
use shared::domain::PersonStatus;

const TABLE: &str = "signin";
const BASE: &str = "app.example.test";

struct Scim {
    port: u16,
    token: String,
}

impl Scim {
    fn call_as(
        &self,
        host: &str,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let auth = format!("Bearer {token}");
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        let headers = [
            ("host", host),
            ("authorization", auth.as_str()),
            ("content-type", "application/scim+json"),
        ];
        let (status, _, body) = http_with(
            self.port,
            method,
            &format!("/lambda-url/scim/scim/v2{path}"),
            &headers,
            &text,
        );
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(&format!("acme.{BASE}"), &self.token, method, path, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_provisions_disables_enables_and_deletes_a_person() {
    let aws = LocalAws::start();
    let sdk = aws.sdk().await;
    let (registry, mailer) = prepared_adapters(&sdk, TABLE).await;
    let acme = provisioned(&aws, &registry, &mailer, "acme", BASE).await;
    provisioned(&aws, &registry, &mailer, "globex", BASE).await;
    let env = aws.env(TABLE);
    let made = tenantctl_json(&env, &["org", "scim-token", "acme"], 0);
    let token = made["token"].as_str().expect("token").to_owned();
    assert_eq!(
        made["scim_base_url"],
        json!(format!("https://acme.{BASE}/scim/v2"))
    );
    let globex = tenantctl_json(&env, &["org", "scim-token", "globex"], 0);
    let globex_token = globex["token"].as_str().expect("token").to_owned();
    let functions = Functions::start(&env);
    let scim = Scim {
        port: functions.port,
        token,
    };

    // Another organization's token, on acme's host, opens nothing.
    let (status, body) = scim.call_as(
        &format!("acme.{BASE}"),
        &globex_token,
        "GET",
        "/Users",
        None,
    );
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        body["schemas"][0],
        json!("urn:ietf:params:scim:api:messages:2.0:Error")
    );

    // Created active: a person with a seat, a login and the welcome mail.
    let (status, created) = scim.call(
        "POST",
        "/Users",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "externalId": "00aa-entra-object-id",
            "userName": "dana@acme.example",
            "active": true,
            "name": {"givenName": "Dana", "familyName": "Scully"},
            "emails": [{"primary": true, "type": "work", "value": "dana@acme.example"}]
        })),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(aws.mails_to("dana@acme.example"), 1, "welcomed once");
    let pool = acme.cognito.user_pool_id.clone().expect("pool");
    let cognito = CognitoClient::new(&sdk);
    let login = |enabled: bool| {
        let cognito = cognito.clone();
        let pool = pool.clone();
        async move {
            let user = cognito
                .admin_get_user()
                .user_pool_id(pool)
                .username("dana@acme.example")
                .send()
                .await
                .expect("the login exists");
            assert_eq!(user.enabled(), enabled);
            user.username().to_owned()
        }
    };
    let first_login = login(true).await;
    let seats = |org: shared::domain::Organization| org.seats_used;
    let before = seats(
        registry
            .organization(&acme.id)
            .await
            .expect("read")
            .expect("org"),
    );
    assert_eq!(before, 2, "the first administrator and dana");

    // Found by Entra ID's filters.
    let (status, found) = scim.call(
        "GET",
        "/Users?filter=userName%20eq%20%22Dana%40acme.example%22",
        None,
    );
    assert_eq!(
        (status, found["totalResults"].clone()),
        (200, json!(1)),
        "{found}"
    );
    let (_, found) = scim.call(
        "GET",
        "/Users?filter=externalId%20eq%20%2200aa-entra-object-id%22",
        None,
    );
    assert_eq!(found["Resources"][0]["id"], json!(id));

    // Disabled as Entra ID disables: login off, seat freed.
    let disable = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let (status, off) = scim.call("PATCH", &format!("/Users/{id}"), Some(disable.clone()));
    assert_eq!(status, 200, "{off}");
    assert_eq!(off["active"], json!(false));
    login(false).await;
    let org = registry
        .organization(&acme.id)
        .await
        .expect("read")
        .expect("org");
    assert_eq!(org.seats_used, before - 1);
    // The directory's retry changes nothing.
    let (_, again) = scim.call("PATCH", &format!("/Users/{id}"), Some(disable));
    assert_eq!(again["meta"]["version"], off["meta"]["version"]);

    // Enabled again: the same login.
    let (status, on) = scim.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({"Operations": [{"op": "replace", "path": "active", "value": true}]})),
    );
    assert_eq!(status, 200, "{on}");
    assert_eq!(login(true).await, first_login);

    // A group with dana as member, kept in the registry (the members on the people).
    let (status, group) = scim.call(
        "POST",
        "/Groups",
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering", "members": [{"value": id}]}),
        ),
    );
    assert_eq!(status, 201, "{group}");
    let gid = group["id"].as_str().expect("group id").to_owned();
    let (_, listed) = scim.call(
        "GET",
        "/Groups?filter=displayName%20eq%20%22engineering%22",
        None,
    );
    assert_eq!(
        listed["Resources"][0]["members"][0]["value"],
        json!(id),
        "{listed}"
    );
    // The admin maps the group to a role afterwards: the operator's sync gives it to dana.
    let mut mapped = registry
        .organization(&acme.id)
        .await
        .expect("read")
        .expect("org");
    mapped
        .sign_in
        .scim_group_roles
        .insert("Engineering".into(), "admin".into());
    registry
        .save_organization(&mapped, None)
        .await
        .expect("mapped");
    let synced = tenantctl_json(&env, &["org", "sync-roles", "acme"], 0);
    assert_eq!(synced["roles_changed"], json!(1), "{synced}");
    let roles = || async {
        registry
            .person(&acme.id, "dana@acme.example")
            .await
            .expect("read")
            .expect("dana")
            .roles
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(roles().await, ["admin"]);
    let groups = cognito
        .admin_list_groups_for_user()
        .user_pool_id(&pool)
        .username("dana@acme.example")
        .send()
        .await
        .expect("groups");
    let names: Vec<&str> = groups
        .groups()
        .iter()
        .filter_map(|g| g.group_name())
        .collect();
    assert_eq!(names, ["admin"], "the login's groups follow");
    let (status, _) = scim.call(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(
            json!({"Operations": [{"op": "Remove", "path": "members", "value": [{"value": id}]}]}),
        ),
    );
    assert_eq!(status, 200);
    let (_, read) = scim.call("GET", &format!("/Groups/{gid}"), None);
    assert_eq!(read["members"], json!([]));
    assert_eq!(
        roles().await,
        ["member"],
        "out of the mapped group: the default role"
    );
    let (status, _) = scim.call("DELETE", &format!("/Groups/{gid}"), None);
    assert_eq!(status, 204);

    // Deleted: deactivated, gone from SCIM, kept in the registry with its history.
    let (status, _) = scim.call("DELETE", &format!("/Users/{id}"), None);
    assert_eq!(status, 204);
    let (status, _) = scim.call("GET", &format!("/Users/{id}"), None);
    assert_eq!(status, 404);
    login(false).await;
    let kept = registry
        .person(&acme.id, "dana@acme.example")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(kept.status, PersonStatus::Deactivated);
    let log = registry.audit_log(&acme.id, 50).await.expect("audit");
    let by_scim: Vec<&str> = log
        .iter()
        .filter(|e| e.actor.starts_with("scim:sct-"))
        .map(|e| e.action.as_str())
        .collect();
    for action in [
        "person.added",
        "person.directory_linked",
        "person.deactivated",
        "person.directory_deleted",
    ] {
        assert!(by_scim.contains(&action), "{action} in {by_scim:?}");
    }
    assert!(log.iter().any(|e| e.action == "scim.token_created"));
}
