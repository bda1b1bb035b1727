//! Every AWS call a function makes is allowed by its role in the synthesized prod template.
//!
//! moto never enforces IAM, so every other test passes whatever the roles say. Here each
//! function runs as itself (its binary under `cargo lambda watch`, `AWS_CALL_LOG` set: see
//! `shared::aws::calls`) through its main paths against moto: the worker provisions an
//! organization and migrates one (and resumes it, finding logins it made), the admin API adds,
//! activates, changes, deactivates and deletes people, configures Microsoft SSO; the router
//! confirms an e-mail and a username change; every trigger gets its sample events, including
//! the repair of a login the registry lacks and a lazy migration's last step. Then every
//! recorded call is turned into the IAM actions it needs (`integration_tests::iam`) and checked
//! against that function's policies in `infra/cdk.out/prod/*.template.json` (which
//! `make infra-test` synthesizes before `cargo test`; synthesized here when missing or older
//! than the CDK app). A call the template does not allow fails the test, naming the function,
//! the call and the missing action; granted actions no call needed are printed.
//!
//! `MAIL_FROM` is given with capitals in its local part, as an operator may deploy it: the
//! code sends it lower-cased, and the SES condition must still hold.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, AuthFlowType, ChallengeNameType, MessageActionType,
};
use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use integration_tests::iam::{self, Facts, Resolution, Template};
use integration_tests::{
    http_with, prepared_adapters, tenantctl_json, workspace_root, Functions, LocalAws, TempDir,
    REGION,
};
use serde_json::{json, Value};
use shared::domain::migration::{LegacyHash, MigrationMode, OrgMigration};
use shared::domain::ports::{AuditEvent, LegacyPasswords, MigrationStore, Registry};
use shared::domain::{OrgId, Person, PersonStatus, Role};

const TABLE: &str = "iam";
const MAIL_FROM: &str = "No-Reply@app.example.test";
const NEW_PASSWORD: &str = "N3w-Passw0rd!x";
const CSRF: &str = "csrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsr";

/// The prod template, synthesized afresh when missing or older than the CDK app's sources.
fn prod_template() -> Template {
    let infra = workspace_root().join("infra");
    let out = infra.join("cdk.out/prod");
    let newest_source = ["lib", "bin"]
        .iter()
        .flat_map(|d| std::fs::read_dir(infra.join(d)).into_iter().flatten())
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok()?.modified().ok())
        .max();
    let synthesized = Template::load(&out)
        .ok()
        .and_then(|t| Some((std::fs::metadata(&t.path).ok()?.modified().ok()?, t)));
    match (synthesized, newest_source) {
        (Some((at, t)), Some(source)) if at >= source => return t,
        _ => {}
    }
    assert!(
        infra.join("node_modules").exists(),
        "infra/cdk.out/prod is missing or older than infra/lib: run `make infra-test` (it installs the CDK app's packages and synthesizes both stages)"
    );
    let status = Command::new("npx")
        .args([
            "cdk",
            "--no-notices",
            "synth",
            "--quiet",
            "-c",
            "stage=prod",
            "-c",
            "bundling=skip",
            "-o",
            "cdk.out/prod",
        ])
        .env("CDK_DISABLE_CLI_TELEMETRY", "true")
        .env("TS_NODE_TRANSPILE_ONLY", "true")
        .current_dir(&infra)
        .status()
        .expect("npx runs");
    assert!(
        status.success(),
        "cdk synth of the prod stage failed: run `make infra-test` to see why"
    );
    Template::load(&out).unwrap_or_else(|e| panic!("{e}"))
}

/// The pools' tags as moto keeps them (for `aws:ResourceTag/*`).
struct PoolTags(HashMap<String, BTreeMap<String, String>>);

impl Facts for PoolTags {
    fn region(&self) -> &str {
        REGION
    }
    fn pool_tags(&self, pool_id: &str) -> BTreeMap<String, String> {
        self.0.get(pool_id).cloned().unwrap_or_default()
    }
}

async fn pool_tags(cognito: &CognitoClient, calls: &[iam::Call]) -> PoolTags {
    let mut tags = HashMap::new();
    for pool in calls.iter().filter_map(|c| c.fields["UserPoolId"].as_str()) {
        if tags.contains_key(pool) {
            continue;
        }
        let described = cognito.describe_user_pool().user_pool_id(pool).send().await;
        let found: BTreeMap<String, String> = described
            .ok()
            .and_then(|d| d.user_pool().and_then(|p| p.user_pool_tags().cloned()))
            .map(|m| m.into_iter().collect())
            .unwrap_or_default();
        tags.insert(pool.to_owned(), found);
    }
    PoolTags(tags)
}

fn event(function: &str, file: &str, pool: &str) -> Value {
    let path = workspace_root().join(format!("events/{function}/{file}"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("eu-west-1_AcmePool1", pool);
    serde_json::from_str(&text).expect("a JSON event")
}

struct Http {
    port: u16,
}

impl Http {
    fn api(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> (u16, Vec<(String, String)>, Value) {
        let auth = format!("Bearer {token}");
        let mut headers = vec![("authorization", auth.as_str())];
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        if !text.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        headers.extend_from_slice(extra);
        let (status, headers, body) = http_with(
            self.port,
            method,
            &format!("/lambda-url/admin-api{path}"),
            &headers,
            &text,
        );
        (
            status,
            headers,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    fn scim(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let auth = format!("Bearer {token}");
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        let headers = [
            ("host", "acme.app.example.test"),
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

    fn router(&self, method: &str, host: &str, path: &str, form: bool) -> (u16, String) {
        let cookie = format!("__Host-csrf={CSRF}");
        let mut headers = vec![("host", host)];
        let body = if form {
            headers.push(("content-type", "application/x-www-form-urlencoded"));
            headers.push(("cookie", cookie.as_str()));
            format!("csrf={CSRF}")
        } else {
            String::new()
        };
        let (status, _, body) = http_with(
            self.port,
            method,
            &format!("/lambda-url/auth-router{path}"),
            &headers,
            &body,
        );
        (status, body)
    }
}

/// The token of the link in the newest mail to `to` that contains `marker`.
fn link_token(aws: &LocalAws, to: &str, marker: &str) -> String {
    let mail = aws.newest_mail_to(to);
    let text = mail["body"].as_str().expect("body").to_owned();
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {text}"))
        + marker.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect()
}

async fn create_login(cognito: &CognitoClient, pool: &str, username: &str, email: &str) {
    cognito
        .admin_create_user()
        .user_pool_id(pool)
        .username(username)
        .message_action(MessageActionType::Suppress)
        .user_attributes(
            AttributeType::builder()
                .name("email")
                .value(email)
                .build()
                .expect("attr"),
        )
        .user_attributes(
            AttributeType::builder()
                .name("email_verified")
                .value("true")
                .build()
                .expect("attr"),
        )
        .send()
        .await
        .expect("a login made outside the suite");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_each_function_makes_is_allowed_by_its_role() {
    let template = prod_template();
    let aws = LocalAws::start();
    let sdk = aws.sdk().await;
    let (registry, _mailer) = prepared_adapters(&sdk, TABLE).await;
    let cognito = CognitoClient::new(&sdk);
    let dir = TempDir::new("iam-roles");
    let log = dir.0.join("calls.jsonl");
    let mut env = aws.env(TABLE);
    env.retain(|(k, _)| k != "MAIL_FROM");
    env.push(("MAIL_FROM".into(), MAIL_FROM.into()));
    env.push(("AWS_CALL_LOG".into(), log.display().to_string()));
    // Organization changes made here reach the triggers at once.
    env.push(("ORG_CACHE_SECONDS".into(), "1".into()));
    let functions = Functions::start(&env);
    let http = Http {
        port: functions.port,
    };

    // The worker provisions acme (the sample events' organization) with its administrator.
    let created = functions
        .invoke(
            "tenant-migration",
            &json!({"action": "create_organization", "organization": {
                "subdomain": "acme", "name": "Acme", "admin_email": "boss@acme.example",
                "mfa": "optional", "seats": 20, "email_domains": ["acme.example"]}}),
        )
        .expect("the worker provisions acme");
    let org = &created["organization"];
    let org_id = OrgId::from(org["id"].as_str().expect("org id").to_owned());
    let pool = org["cognito"]["user_pool_id"]
        .as_str()
        .expect("pool")
        .to_owned();
    let client = org["cognito"]["app_client_id"]
        .as_str()
        .expect("client")
        .to_owned();

    // The administrator's first sign-in (Cognito's public API: no IAM), for the admin API.
    let admin = created["admin"]["username"]
        .as_str()
        .expect("the administrator")
        .to_owned();
    let temporary = aws.newest_temporary_password("boss@acme.example");
    let auth = cognito
        .initiate_auth()
        .client_id(&client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", &admin)
        .auth_parameters("PASSWORD", &temporary)
        .send()
        .await
        .expect("the mailed password signs in");
    let tokens = cognito
        .respond_to_auth_challenge()
        .client_id(&client)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(auth.session().expect("session"))
        .challenge_responses("USERNAME", &admin)
        .challenge_responses("NEW_PASSWORD", NEW_PASSWORD)
        .send()
        .await
        .expect("a new password");
    let access = tokens
        .authentication_result()
        .and_then(|r| r.access_token())
        .expect("access")
        .to_owned();

    // The admin API: people through their whole life, roles, import, settings, audit.
    let (status, _, sam) = http.api(
        "POST",
        "/v1/users",
        &access,
        Some(json!({"username": "sam", "email": "sam@acme.example", "roles": ["member"]})),
        &[],
    );
    assert_eq!(status, 201, "{sam}");
    let sam_id = sam["id"].as_str().expect("id").to_owned();
    let user = |rest: &str| format!("/v1/users/{sam_id}{rest}");
    let on = http.api(
        "PUT",
        &user("/activation"),
        &access,
        Some(json!({"active": true})),
        &[],
    );
    assert_eq!(on.0, 200, "{}", on.2);
    assert_eq!(
        http.api("POST", &user("/activation/resend"), &access, None, &[])
            .0,
        200
    );
    assert_eq!(
        http.api("POST", &user("/password-reset"), &access, None, &[])
            .0,
        200
    );
    let (_, headers, _) = http.api("GET", &user(""), &access, None, &[]);
    let etag = headers
        .iter()
        .find(|(k, _)| k == "etag")
        .map(|(_, v)| v.clone())
        .expect("etag");
    let roles = http.api(
        "PATCH",
        &user(""),
        &access,
        Some(json!({"roles": ["member", "admin"]})),
        &[("if-match", &etag)],
    );
    assert_eq!(roles.0, 200, "{}", roles.2);
    assert_eq!(
        http.api(
            "POST",
            "/v1/roles",
            &access,
            Some(json!({"name": "billing"})),
            &[]
        )
        .0,
        201
    );
    assert_eq!(
        http.api("DELETE", "/v1/roles/billing", &access, None, &[])
            .0
            / 100,
        2
    );
    let (status, _, body) = {
        let auth = format!("Bearer {access}");
        let (s, h, b) = http_with(
            functions.port,
            "POST",
            "/lambda-url/admin-api/v1/users/import",
            &[("authorization", &auth), ("content-type", "text/csv")],
            "username,email,given_name,family_name,roles\numa,uma@acme.example,Uma,,member\n",
        );
        (s, h, b)
    };
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        http.api("GET", "/v1/users?limit=50", &access, None, &[]).0,
        200
    );
    assert_eq!(
        http.api("GET", "/v1/audit?limit=50", &access, None, &[]).0,
        200
    );

    // An e-mail change and a username change, each confirmed on the router's page.
    let changed = http.api(
        "PATCH",
        &user(""),
        &access,
        Some(json!({"email": "sam.new@acme.example"})),
        &[],
    );
    assert_eq!(changed.0, 200, "{}", changed.2);
    let token = link_token(&aws, "sam.new@acme.example", "/confirm-email/");
    let host = "acme.app.example.test";
    assert_eq!(
        http.router("GET", host, &format!("/confirm-email/{token}"), false)
            .0,
        200
    );
    let done = http.router("POST", host, &format!("/confirm-email/{token}"), true);
    assert_eq!(done.0, 200, "{}", done.1);
    let renamed = http.api(
        "PATCH",
        &user(""),
        &access,
        Some(json!({"username": "samuel"})),
        &[],
    );
    assert_eq!(renamed.0, 200, "{}", renamed.2);
    let token = link_token(&aws, "sam.new@acme.example", "/confirm-email/");
    let done = http.router("POST", host, &format!("/confirm-email/{token}"), true);
    assert_eq!(done.0, 200, "{}", done.1);
    assert_eq!(http.router("GET", host, "/login", false).0, 200);

    // A role taken away; deactivation, activation again, deletion.
    let (_, headers, _) = http.api("GET", &user(""), &access, None, &[]);
    let etag = headers
        .iter()
        .find(|(k, _)| k == "etag")
        .map(|(_, v)| v.clone())
        .expect("etag");
    let fewer = http.api(
        "PATCH",
        &user(""),
        &access,
        Some(json!({"roles": ["member"]})),
        &[("if-match", &etag)],
    );
    assert_eq!(fewer.0, 200, "{}", fewer.2);
    for active in [false, true, false] {
        let toggled = http.api(
            "PUT",
            &user("/activation"),
            &access,
            Some(json!({"active": active})),
            &[],
        );
        assert_eq!(toggled.0, 200, "{}", toggled.2);
    }
    assert_eq!(http.api("DELETE", &user(""), &access, None, &[]).0, 200);

    // Before the organization goes SSO-only: pre-token-generation repairs ivy, a login the
    // registry lacks, and records the administrator's first login (the new-password
    // challenge, which post-confirmation does not see).
    create_login(&cognito, &pool, "ivy", "ivy@acme.example").await;
    for (file, name, email) in [
        ("v2-authentication.json", "ivy", "ivy@acme.example"),
        (
            "v2-new-password-challenge.json",
            admin.as_str(),
            "boss@acme.example",
        ),
    ] {
        let mut e = event("pre-token-generation", file, &pool);
        e["userName"] = Value::from(name);
        e["request"]["userAttributes"]["email"] = Value::from(email);
        let answer = functions.invoke("pre-token-generation", &e);
        assert!(answer.is_ok(), "{file}: {answer:?}");
    }

    // Settings: self sign-up (UpdateUserPool, which sends the pool's tags back), MFA, then
    // Microsoft SSO (a secret, an identity provider, the app client) and SSO only.
    let organization_tag = || {
        let (_, headers, _) = http.api("GET", "/v1/organization", &access, None, &[]);
        headers
            .iter()
            .find(|(k, _)| k == "etag")
            .map(|(_, v)| v.clone())
            .expect("etag")
    };
    for change in [json!({"self_signup": true}), json!({"mfa": "required"})] {
        let done = http.api(
            "PATCH",
            "/v1/organization",
            &access,
            Some(change.clone()),
            &[("if-match", &organization_tag())],
        );
        assert_eq!(done.0, 200, "{change}: {}", done.2);
    }
    let etag = organization_tag();
    let settings = json!({
        "sso": {"microsoft": {"tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "client_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "client_secret": "Zq8~entra-client-secret-7Hk2"}},
        "sso_only": true,
        "admins_keep_password": true,
    });
    let done = http.api(
        "PATCH",
        "/v1/organization",
        &access,
        Some(settings),
        &[("if-match", &etag)],
    );
    assert_eq!(done.0, 200, "{}", done.2);

    // The triggers, with the sample events on acme's pool. hank has a login the registry
    // lacks (the repair path); lazy has a legacy password hash, moved at first sign-in.
    create_login(&cognito, &pool, "hank@acme.example", "hank@acme.example").await;
    create_login(&cognito, &pool, "lazy", "lazy@acme.example").await;
    let mut lazy = Person::new(
        org_id.clone(),
        "lazy".into(),
        shared::domain::EmailAddress::parse("lazy@acme.example").expect("valid"),
        vec![Role::parse("member").expect("role")],
        PersonStatus::Active,
    );
    lazy.given_name = Some("Lazy".into());
    let audit = AuditEvent::now(&org_id, "test", "person.imported", "lazy", None);
    registry
        .create_person(&lazy, &audit)
        .await
        .expect("a migrated person");
    registry
        .put_legacy_hash(
            &org_id,
            "lazy",
            &LegacyHash::new("$2b$04$abcdefghijklmnopqrstuu5Q8hVvZ4n1bq0cP1RxFx5y5m0y3a1Wy"),
        )
        .await
        .expect("a legacy hash");
    // acme came from the legacy store in lazy mode (switched): post-authentication finishes
    // a lazily migrated person's move at their first sign-in.
    let mut acme = registry
        .organization(&org_id)
        .await
        .expect("read")
        .expect("acme");
    acme.sign_in.migration = Some(OrgMigration {
        job: "job-1".into(),
        legacy_id: "17".into(),
        mode: MigrationMode::Lazy,
        switched: true,
    });
    registry
        .save_organization(&acme, None)
        .await
        .expect("lazy acme");
    // Repaired first (post-authentication), hank is then linked to his Microsoft identity
    // (pre-signup's external provider).
    for (function, file) in [
        ("post-confirmation", "confirm-sign-up.json"),
        ("pre-authentication", "authentication.json"),
        ("post-authentication", "authentication.json"),
        ("custom-message", "sign-up.json"),
        ("custom-message", "forgot-password.json"),
        ("user-migration", "authentication.json"),
        ("pre-signup", "sign-up.json"),
        ("pre-signup", "external-provider.json"),
        ("pre-signup", "admin-create-user.json"),
    ] {
        // Refusals are answers too: what matters here is which calls were made.
        let _ = functions.invoke(function, &event(function, file, &pool));
    }
    let mut lazy_event = event("post-authentication", "authentication.json", &pool);
    lazy_event["userName"] = Value::from("lazy");
    lazy_event["request"]["userAttributes"]["email"] = Value::from("lazy@acme.example");
    let _ = functions.invoke("post-authentication", &lazy_event);
    let mut migration_event = event("user-migration", "authentication.json", &pool);
    migration_event["userName"] = Value::from("lazy");
    let _ = functions.invoke("user-migration", &migration_event);

    // The worker migrates a staged organization (invite mode), and resumes it after a run
    // that died before its checkpoint: the logins it made are found (AdminGetUser).
    let source = dir.0.join("legacy.jsonl");
    let mut text =
        json!({"kind": "organization", "id": 1017, "name": "Legacy", "subdomain": "legacy-org",
        "email_domains": ["legacy-org.example"], "mfa": "off", "seats": 10})
        .to_string();
    for name in ["lea", "leo"] {
        text.push('\n');
        text.push_str(
            &json!({"kind": "person", "organization": 1017, "username": name,
            "email": format!("{name}@legacy-org.example"), "roles": ["member"], "active": true})
            .to_string(),
        );
    }
    std::fs::write(&source, text).expect("write");
    let mut operator = aws.env(TABLE);
    operator.push(("MAIL_FROM".into(), MAIL_FROM.into()));
    // Staged, not migrated yet: exit 1, as `migrate run` answers an unfinished job.
    let staged = tenantctl_json(
        &operator,
        &[
            "migrate",
            "run",
            "--source",
            &source.display().to_string(),
            "--job",
            "j1",
            "--mode",
            "invite",
            "--stage-only",
        ],
        1,
    );
    assert_eq!(staged["job"]["staged"], true, "{staged}");
    let migrate = json!({"action": "migrate_organization", "job": "j1", "organization": "1017"});
    // `cargo lambda watch` gives the worker a deadline already passed, after which it starts
    // no batch: the migration runs the worker's handler here instead, with a real deadline,
    // its SDK configuration loaded as the worker's main loads it (recording, labelled
    // tenant-migration). This test is alone in its binary, so the variables are its own.
    for (k, v) in &env {
        std::env::set_var(k, v);
    }
    std::env::set_var(shared::aws::calls::FUNCTION_VARIABLE, "tenant-migration");
    let worker_sdk = shared::aws::load_config(shared::aws::Budget::Operator)
        .await
        .expect("the worker's configuration");
    let deps =
        tenant_migration::wiring::ProvisioningDeps::new(&worker_sdk, &shared::config::ProcessEnv)
            .expect("the worker's dependencies");
    let migrate_once = || async {
        let mut context = lambda_runtime::Context::default();
        context.request_id = "iam-roles".into();
        context.deadline = (std::time::SystemTime::now() + std::time::Duration::from_secs(900))
            .duration_since(std::time::UNIX_EPOCH)
            .expect("now")
            .as_millis() as u64;
        let event =
            serde_json::from_value::<tenant_migration::handler::WorkerEvent>(migrate.clone())
                .expect("a worker event");
        let answer = tenant_migration::handler::handle(
            &deps,
            lambda_runtime::LambdaEvent::new(event, context),
        )
        .await
        .map_err(|e| e.0)
        .expect("migrated");
        serde_json::to_value(&answer).expect("json")
    };
    let first = migrate_once().await;
    assert_eq!(
        (
            first["finished"].as_bool(),
            first["logins_created"].as_u64()
        ),
        (Some(true), Some(2)),
        "{first}"
    );
    let mut checkpoint = registry
        .checkpoint("j1", "1017")
        .await
        .expect("read")
        .expect("a checkpoint");
    checkpoint.phase = shared::domain::migration_job::OrgPhase::Provisioned;
    checkpoint.cursor = None;
    checkpoint.people_done = 0;
    checkpoint.logins_created = 0;
    registry
        .save_checkpoint(&checkpoint)
        .await
        .expect("rewound");
    let again = migrate_once().await;
    // The logins were found (AdminCreateUser: UsernameExists, then AdminGetUser to see whose
    // they are) and count as the job's; nobody failed.
    assert_eq!(
        (
            again["finished"].as_bool(),
            again["people_done"].as_u64(),
            again["people_failed"].as_u64(),
            again["logins_created"].as_u64()
        ),
        (Some(true), Some(2), Some(0), Some(2)),
        "{again}"
    );

    // SCIM: the directory creates a person with a login, disables and enables them, changes
    // their address, and puts them in a group mapped to a role (the role's Cognito group).
    let mut scim_env = aws.env(TABLE);
    scim_env.push(("MAIL_FROM".into(), MAIL_FROM.into()));
    let made = tenantctl_json(&scim_env, &["org", "scim-token", "acme"], 0);
    let token = made["token"].as_str().expect("a SCIM token").to_owned();
    let mut mapped = registry
        .organization(&org_id)
        .await
        .expect("read")
        .expect("acme");
    mapped
        .sign_in
        .scim_group_roles
        .insert("Finance".into(), "admin".into());
    registry
        .save_organization(&mapped, None)
        .await
        .expect("groups mapped");
    let (status, user) = http.scim(
        &token,
        "POST",
        "/Users",
        Some(
            json!({"userName": "dora@acme.example", "externalId": "d-1", "active": true,
            "emails": [{"value": "dora@acme.example", "type": "work", "primary": true}]}),
        ),
    );
    assert_eq!(status, 201, "{user}");
    let dora = user["id"].as_str().expect("id").to_owned();
    for (op, value) in [("Replace", json!("False")), ("Replace", json!("True"))] {
        let (status, body) = http.scim(
            &token,
            "PATCH",
            &format!("/Users/{dora}"),
            Some(json!({"Operations": [{"op": op, "path": "active", "value": value}]})),
        );
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = http.scim(
        &token,
        "POST",
        "/Groups",
        Some(json!({"displayName": "Finance", "members": [{"value": dora}]})),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = http.scim(
        &token,
        "PATCH",
        &format!("/Users/{dora}"),
        Some(
            json!({"Operations": [{"op": "Replace", "path": "emails[type eq \"work\"].value",
            "value": "dora.new@acme.example"}]}),
        ),
    );
    assert_eq!(status, 200, "{body}");

    // Every recorded call against the roles.
    let calls = iam::read_calls(&log);
    assert!(
        calls
            .iter()
            .any(|c| c.function == "tenant-migration" && c.operation == "AdminGetUser"),
        "the rerun read the logins it found"
    );
    let facts = pool_tags(&cognito, &calls).await;
    let resolution = Resolution {
        region: REGION.into(),
        parameters: [("MailFrom", MAIL_FROM), ("BaseDomain", "app.example.test")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        // The registry (a TableV2: AWS::DynamoDB::GlobalTable) is the test's table.
        by_type: ["AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table"]
            .into_iter()
            .map(|ty| {
                (
                    ty,
                    (
                        TABLE.to_owned(),
                        format!("arn:aws:dynamodb:{REGION}:{}:table/{TABLE}", iam::ACCOUNT),
                    ),
                )
            })
            .collect(),
    };
    let report = iam::check(&calls, &template, &resolution, &facts);
    report_and_assert(&report, &template, &log);
}

fn report_and_assert(report: &iam::Report, template: &Template, log: &Path) {
    for (function, actions) in &report.unused {
        eprintln!(
            "warning: {function} is granted {} but no recorded call needed it",
            actions.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    for (function, actions) in &report.needed {
        eprintln!(
            "{function} needed: {}",
            actions.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let deployed: Vec<String> = template.functions().into_keys().collect();
    let silent: Vec<&String> = deployed
        .iter()
        .filter(|f| !report.needed.contains_key(*f))
        .collect();
    assert!(
        report.unmapped.is_empty(),
        "calls the check cannot map to IAM actions (teach tests/src/iam.rs):\n{}",
        report.unmapped.join("\n")
    );
    assert!(
        report.denied.is_empty(),
        "{} call(s) the prod template's roles do not allow ({}):\n{}\n(the calls: {})",
        report.denied.len(),
        template.path.display(),
        report.denied.join("\n"),
        log.display()
    );
    assert!(
        silent.is_empty(),
        "no AWS call was recorded for {silent:?}: the recording or the scenario lost them"
    );
}
