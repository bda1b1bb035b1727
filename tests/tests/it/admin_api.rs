//! The admin API end to end: the `admin-api` function under `cargo lambda watch` (its
//! function URL, `/lambda-url/admin-api/...`), the registry, Cognito and SES on moto, and real
//! tokens from moto's pools. moto signs every pool's tokens with one key, so only `iss` tells
//! the organizations apart: the isolation checks below are meaningful.

use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType};
use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use integration_tests::{http_with, prepared_adapters, provisioned, Functions, LocalAws};
use serde_json::{json, Value};
use shared::aws::dynamodb::DynamoRegistry;
use shared::domain::ports::Registry;
use shared::domain::{Organization, PersonStatus};

const TABLE: &str = "signin";
const NEW_PASSWORD: &str = "N3w-Passw0rd!x";

struct Tenant {
    org: Organization,
    client_id: String,
    pool_id: String,
    admin: String,
    access: String,
    id_token: String,
}

/// USER_PASSWORD_AUTH with the pool's app client, as the login page signs people in.
async fn password_sign_in(
    cognito: &CognitoClient,
    client_id: &str,
    username: &str,
    password: &str,
) -> Result<
    aws_sdk_cognitoidentityprovider::operation::initiate_auth::InitiateAuthOutput,
    aws_sdk_cognitoidentityprovider::error::SdkError<
        aws_sdk_cognitoidentityprovider::operation::initiate_auth::InitiateAuthError,
    >,
> {
    cognito
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
}

async fn first_sign_in(
    cognito: &CognitoClient,
    aws: &LocalAws,
    client_id: &str,
    username: &str,
    email: &str,
) -> (String, String) {
    let password = aws.newest_temporary_password(email);
    let auth = password_sign_in(cognito, client_id, username, &password)
        .await
        .expect("the mailed temporary password signs in");
    assert_eq!(
        auth.challenge_name(),
        Some(&ChallengeNameType::NewPasswordRequired)
    );
    let tokens = cognito
        .respond_to_auth_challenge()
        .client_id(client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(auth.session().expect("session"))
        .challenge_responses("USERNAME", username)
        .challenge_responses("NEW_PASSWORD", NEW_PASSWORD)
        .send()
        .await
        .expect("new password accepted");
    let result = tokens.authentication_result().expect("tokens");
    (
        result.access_token().expect("access").to_owned(),
        result.id_token().expect("id").to_owned(),
    )
}

async fn tenant(
    aws: &LocalAws,
    registry: &DynamoRegistry,
    mailer: &shared::aws::ses::SesMailer,
    sub: &str,
) -> Tenant {
    let sdk = aws.sdk().await;
    let admin = format!("boss@{sub}.example");
    let org = provisioned(aws, registry, mailer, sub, "app.example.test").await;
    let client_id = org.cognito.app_client_id.clone().expect("client");
    let pool_id = org.cognito.user_pool_id.clone().expect("pool");
    let cognito = CognitoClient::new(&sdk);
    let (access, id_token) = first_sign_in(&cognito, aws, &client_id, &admin, &admin).await;
    Tenant {
        org,
        client_id,
        pool_id,
        admin,
        access,
        id_token,
    }
}

struct Api {
    port: u16,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Api {
    fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Answer {
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
        Answer {
            status,
            headers,
            body: serde_json::from_str(&body).unwrap_or(Value::String(body)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_against_the_local_aws() {
    let aws = LocalAws::start();
    let sdk = aws.sdk().await;
    let (registry, mailer) = prepared_adapters(&sdk, TABLE).await;
    let acme = tenant(&aws, &registry, &mailer, "acme").await;
    let globex = tenant(&aws, &registry, &mailer, "globex").await;
    let cognito = CognitoClient::new(&sdk);
    let functions = Functions::start(&aws.env(TABLE));
    let api = Api {
        port: functions.port,
    };

    // The organization comes from the token: each admin sees their own.
    for (tenant, token) in [
        (&acme, &acme.access),
        (&acme, &acme.id_token),
        (&globex, &globex.access),
    ] {
        let a = api.call("GET", "/v1/organization", token, None, &[]);
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["id"], tenant.org.id.to_string());
    }

    // Add a person, switch the activation on: one welcome mail whose password signs in.
    let sam = api.call("POST", "/v1/users", &acme.access, Some(json!({"username": "sam", "email": "sam@acme.example", "given_name": "Sam", "roles": ["member"]})), &[]);
    assert_eq!(sam.status, 201, "{}", sam.body);
    let sam_id = sam.body["id"].as_str().expect("id").to_owned();
    let mails_before = aws.mails_to("sam@acme.example");
    assert_eq!(mails_before, 0, "adding sends nothing");
    let on = api.call(
        "PUT",
        &format!("/v1/users/{sam_id}/activation"),
        &acme.access,
        Some(json!({"active": true})),
        &[],
    );
    assert_eq!(on.status, 200, "{}", on.body);
    assert_eq!(on.body["welcome_mail_sent"], true);
    let mail = aws.newest_mail_to("sam@acme.example");
    let body = mail["body"].as_str().expect("body");
    assert!(
        body.contains("https://acme.app.example.test/login"),
        "the organization's own link: {body}"
    );
    let first_password = aws.newest_temporary_password("sam@acme.example");
    let signed_in = password_sign_in(&cognito, &acme.client_id, "sam", &first_password)
        .await
        .expect("the mailed password signs in");
    assert_eq!(
        signed_in.challenge_name(),
        Some(&ChallengeNameType::NewPasswordRequired)
    );
    let again = api.call(
        "PUT",
        &format!("/v1/users/{sam_id}/activation"),
        &acme.access,
        Some(json!({"active": true})),
        &[],
    );
    assert_eq!(again.body["welcome_mail_sent"], false);
    assert_eq!(
        aws.mails_to("sam@acme.example"),
        1,
        "the same toggle again sends nothing"
    );

    // Resend: a fresh password; the old one stops working.
    let resent = api.call(
        "POST",
        &format!("/v1/users/{sam_id}/activation/resend"),
        &acme.access,
        None,
        &[],
    );
    assert_eq!(resent.status, 200, "{}", resent.body);
    assert_eq!(aws.mails_to("sam@acme.example"), 2);
    let old = password_sign_in(&cognito, &acme.client_id, "sam", &first_password).await;
    assert!(
        old.is_err(),
        "the earlier temporary password no longer works"
    );

    // Off: disabled in Cognito, the seat freed; on again: the same login, re-enabled.
    let off = api.call(
        "PUT",
        &format!("/v1/users/{sam_id}/activation"),
        &acme.access,
        Some(json!({"active": false})),
        &[],
    );
    assert_eq!(off.body["user"]["status"], "deactivated");
    let user = cognito
        .admin_get_user()
        .user_pool_id(&acme.pool_id)
        .username("sam")
        .send()
        .await
        .expect("still there");
    assert!(!user.enabled(), "disabled");
    let on_again = api.call(
        "PUT",
        &format!("/v1/users/{sam_id}/activation"),
        &acme.access,
        Some(json!({"active": true})),
        &[],
    );
    assert_eq!(on_again.body["welcome_mail_sent"], true);
    let user = cognito
        .admin_get_user()
        .user_pool_id(&acme.pool_id)
        .username("sam")
        .send()
        .await
        .expect("same login");
    assert!(user.enabled());
    let users = cognito
        .list_users()
        .user_pool_id(&acme.pool_id)
        .send()
        .await
        .expect("users");
    assert_eq!(
        users.users().len(),
        2,
        "the administrator and sam: no second account"
    );

    // A stale If-Match is 412; the current one works.
    let loaded = api.call(
        "GET",
        &format!("/v1/users/{sam_id}"),
        &acme.access,
        None,
        &[],
    );
    let tag = loaded.header("etag").expect("etag").to_owned();
    let patched = api.call(
        "PATCH",
        &format!("/v1/users/{sam_id}"),
        &acme.access,
        Some(json!({"roles": ["member", "admin"]})),
        &[("if-match", &tag)],
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    let groups = cognito
        .admin_list_groups_for_user()
        .user_pool_id(&acme.pool_id)
        .username("sam")
        .send()
        .await
        .expect("groups");
    let mut names: Vec<&str> = groups
        .groups()
        .iter()
        .filter_map(|g| g.group_name())
        .collect();
    names.sort();
    assert_eq!(names, ["admin", "member"], "roles mirrored into groups");
    let stale = api.call(
        "PATCH",
        &format!("/v1/users/{sam_id}"),
        &acme.access,
        Some(json!({"given_name": "Samuel"})),
        &[("if-match", &tag)],
    );
    assert_eq!(stale.status, 412, "{}", stale.body);

    // An Idempotency-Key: the repeat answers the same and creates nothing.
    let key = [("idempotency-key", "add-tom-1")];
    let tom = api.call(
        "POST",
        "/v1/users",
        &acme.access,
        Some(json!({"username": "tom", "email": "tom@acme.example"})),
        &key,
    );
    let tom_again = api.call(
        "POST",
        "/v1/users",
        &acme.access,
        Some(json!({"username": "tom", "email": "tom@acme.example"})),
        &key,
    );
    assert_eq!(tom.status, 201);
    assert_eq!(tom_again.status, 201);
    assert_eq!(tom_again.body["id"], tom.body["id"]);

    // Roles are Cognito groups of the same name.
    let role = api.call(
        "POST",
        "/v1/roles",
        &acme.access,
        Some(json!({"name": "billing"})),
        &[],
    );
    assert_eq!(role.status, 201, "{}", role.body);
    let group_names = || async {
        let groups = cognito
            .list_groups()
            .user_pool_id(&acme.pool_id)
            .send()
            .await
            .expect("groups");
        groups
            .groups()
            .iter()
            .filter_map(|g| g.group_name().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert!(group_names().await.contains(&"billing".to_owned()));
    let roles = api.call("GET", "/v1/roles", &acme.access, None, &[]);
    let admins = roles.body["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["name"] == "admin")
        .expect("admin")["members"]
        .clone();
    assert_eq!(admins, 2, "the administrator and sam");
    assert_eq!(
        api.call("DELETE", "/v1/roles/billing", &acme.access, None, &[])
            .status,
        204
    );
    assert!(!group_names().await.contains(&"billing".to_owned()));

    // An import: records only, a result per row.
    let csv = "username,email,given_name,family_name,roles\numa,uma@acme.example,Uma,,member\nvic,vic@acme.example,,,member;admin\ntom,tom2@acme.example,,,\n";
    let (status, _, body) = http_with(
        functions.port,
        "POST",
        "/lambda-url/admin-api/v1/users/import",
        &[
            ("authorization", &format!("Bearer {}", acme.access)),
            ("content-type", "text/csv"),
        ],
        csv,
    );
    assert_eq!(status, 200, "{body}");
    let imported: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (imported["created"].as_u64(), imported["skipped"].as_u64()),
        (Some(2), Some(1)),
        "{imported}"
    );
    assert!(
        cognito
            .admin_get_user()
            .user_pool_id(&acme.pool_id)
            .username("uma")
            .send()
            .await
            .is_err(),
        "no login for an import"
    );

    // Isolation: acme's administrator on every route, aimed at globex's people.
    let globex_admin = registry
        .person(&globex.org.id, &globex.admin)
        .await
        .expect("read")
        .expect("globex's administrator");
    let victim = globex_admin.id.to_string();
    let before = serde_json::to_value(&globex_admin).expect("json");
    for (method, route) in admin_api::routes::ROUTES {
        if !route.contains("{id}") {
            continue;
        }
        let path = route.replace("{id}", &victim);
        let body = match method {
            "PUT" => Some(json!({"active": false})),
            "PATCH" => Some(json!({"roles": []})),
            _ => None,
        };
        let a = api.call(method, &path, &acme.access, body, &[]);
        assert_eq!(a.status, 404, "{method} {path}: {}", a.body);
    }
    let listed = api.call("GET", "/v1/users?limit=200", &acme.access, None, &[]);
    assert!(
        listed.body["users"]
            .as_array()
            .expect("users")
            .iter()
            .all(|u| u["email"]
                .as_str()
                .is_some_and(|e| e.ends_with("@acme.example"))),
        "only acme's people: {}",
        listed.body
    );
    let after = registry
        .person(&globex.org.id, &globex.admin)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        serde_json::to_value(&after).expect("json"),
        before,
        "globex's record unchanged"
    );
    let globex_login = cognito
        .admin_get_user()
        .user_pool_id(&globex.pool_id)
        .username(&globex.admin)
        .send()
        .await
        .expect("there");
    assert!(globex_login.enabled(), "globex's login unchanged");

    // A token of a person deactivated since is refused although its signature is valid.
    let (sam_access, _) =
        first_sign_in(&cognito, &aws, &acme.client_id, "sam", "sam@acme.example").await;
    let own = api.call("GET", "/v1/organization", &sam_access, None, &[]);
    assert_eq!(own.status, 200, "{}", own.body);
    // A password reset by an administrator: a fresh temporary password that signs in to
    // NEW_PASSWORD_REQUIRED again.
    let reset = api.call(
        "POST",
        &format!("/v1/users/{sam_id}/password-reset"),
        &acme.access,
        None,
        &[],
    );
    assert_eq!(reset.status, 200, "{}", reset.body);
    let reset_mail = aws.newest_mail_to("sam@acme.example");
    assert!(
        reset_mail["subject"]
            .as_str()
            .unwrap_or_default()
            .contains("password was reset"),
        "{reset_mail}"
    );
    let reset_password = aws.newest_temporary_password("sam@acme.example");
    let again = password_sign_in(&cognito, &acme.client_id, "sam", &reset_password)
        .await
        .expect("the reset password signs in");
    assert_eq!(
        again.challenge_name(),
        Some(&ChallengeNameType::NewPasswordRequired)
    );
    let off = api.call(
        "PUT",
        &format!("/v1/users/{sam_id}/activation"),
        &acme.access,
        Some(json!({"active": false})),
        &[],
    );
    assert_eq!(off.status, 200);
    let refused = api.call("GET", "/v1/organization", &sam_access, None, &[]);
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    for token in ["garbage", "a.b.c", &acme.access.replace('.', "x")] {
        assert_eq!(
            api.call("GET", "/v1/organization", token, None, &[]).status,
            401
        );
    }

    // Delete: the login is gone, the record stays, unlinked.
    let gone = api.call(
        "DELETE",
        &format!("/v1/users/{sam_id}"),
        &acme.access,
        None,
        &[],
    );
    assert_eq!(gone.body["status"], "unlinked");
    assert!(cognito
        .admin_get_user()
        .user_pool_id(&acme.pool_id)
        .username("sam")
        .send()
        .await
        .is_err());
    let sam_record = registry
        .person(&acme.org.id, "sam")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(sam_record.status, PersonStatus::Unlinked);

    // The audit log tells all of it, newest first, without a password in it.
    let audit = api.call("GET", "/v1/audit?limit=200", &acme.access, None, &[]);
    let actions: Vec<&str> = audit.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for expected in [
        "person.deleted",
        "person.deactivated",
        "person.updated",
        "person.activated",
        "person.invitation_resent",
        "person.added",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert!(!audit.body.to_string().contains(&first_password));

    settings_and_microsoft_sso(&aws, &api, &acme, &globex).await;
    e_mail_domains(&registry, &api, &acme, &globex).await;
}

/// E-mail domains through the API: an admin's new domain is pending (listed, neither claimed
/// nor used) until its DNS proof is found; a claimed one (here the operator's, given at
/// creation) belongs to one organization only; a public mail domain is refused.
async fn e_mail_domains(registry: &DynamoRegistry, api: &Api, acme: &Tenant, globex: &Tenant) {
    use shared::domain::EmailDomain;
    let labs = EmailDomain::parse("acme-labs.example").expect("valid");
    let added = api.call(
        "PATCH",
        "/v1/organization",
        &acme.access,
        Some(json!({"email_domains": ["acme.example", "acme-labs.example"]})),
        &[],
    );
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(
        added.body["email_domain_proofs"][0]["domain"],
        "acme-labs.example"
    );
    assert_eq!(
        added.body["email_domains"],
        json!(["acme.example", "acme-labs.example"])
    );
    assert_eq!(
        added.body["pending_email_domains"],
        json!(["acme-labs.example"])
    );
    assert!(
        registry
            .organization_by_email_domain(&labs)
            .await
            .expect("read")
            .is_none(),
        "not claimed before its proof"
    );
    // acme.example is acme's (the operator's word at creation): nobody else gets it.
    let taken = api.call(
        "PATCH",
        "/v1/organization",
        &globex.access,
        Some(json!({"email_domains": ["globex.example", "acme.example"]})),
        &[],
    );
    assert_eq!(taken.status, 409, "{}", taken.body);
    let globex_now = api.call("GET", "/v1/organization", &globex.access, None, &[]);
    assert_eq!(globex_now.body["email_domains"], json!(["globex.example"]));
    // An unproven domain is nobody's yet: another organization may wait for it too.
    let also = api.call(
        "PATCH",
        "/v1/organization",
        &globex.access,
        Some(json!({"email_domains": ["globex.example", "acme-labs.example"]})),
        &[],
    );
    assert_eq!(also.status, 200, "{}", also.body);
    assert_eq!(
        also.body["pending_email_domains"],
        json!(["acme-labs.example"])
    );
    let public = api.call(
        "PATCH",
        "/v1/organization",
        &acme.access,
        Some(json!({"email_domains": ["acme.example", "outlook.com"]})),
        &[],
    );
    assert_eq!(public.status, 422, "{}", public.body);
    assert_eq!(public.body["code"], "public-email-domain");
    let removed = api.call(
        "PATCH",
        "/v1/organization",
        &acme.access,
        Some(json!({"email_domains": ["acme.example"]})),
        &[],
    );
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(removed.body["pending_email_domains"], json!([]));
    assert_eq!(removed.body["email_domain_proofs"], json!([]));
}

/// The organization's settings through the API, applied to its pool: Microsoft Entra ID
/// with its secret in Secrets Manager and nowhere else.
async fn settings_and_microsoft_sso(aws: &LocalAws, api: &Api, acme: &Tenant, globex: &Tenant) {
    const SECRET: &str = "Zq8~entra-client-secret-7Hk2";
    const APP: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let sdk = aws.sdk().await;
    let cognito = CognitoClient::new(&sdk);
    let before = api.call("GET", "/v1/organization", &acme.access, None, &[]);
    assert_eq!(before.status, 200, "{}", before.body);
    let tag = before.header("etag").expect("an ETag").to_owned();
    let change = json!({
        "sso": {"microsoft": {"tenant": TENANT, "client_id": APP, "client_secret": SECRET}},
        "sso_only": true,
        "admins_keep_password": true,
        "branding": {"display_name": "Acme", "primary_color": "#0b5fff"},
    });
    let done = api.call(
        "PATCH",
        "/v1/organization",
        &acme.access,
        Some(change),
        &[("if-match", &tag)],
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let ms = &done.body["sso"]["microsoft"];
    assert_eq!(ms["tenant"], TENANT);
    assert_eq!(ms["client_secret_set"], true);
    assert!(ms["client_secret_updated_at"].is_string());
    let redirect = done.body["sso"]["redirect_uri"]
        .as_str()
        .expect("redirect uri")
        .to_owned();
    assert!(
        redirect.ends_with(".amazoncognito.com/oauth2/idpresponse"),
        "{redirect}"
    );
    assert!(ms["admin_consent_url"]
        .as_str()
        .unwrap_or_default()
        .starts_with(&format!(
            "https://login.microsoftonline.com/{TENANT}/adminconsent?client_id={APP}&redirect_uri="
        )));
    assert!(
        !done.body.to_string().contains(SECRET),
        "never in an answer"
    );
    // The pool has the provider, the client's managed login offers it alone: no password
    // page there, not even for the admins (their break-glass is the router's form).
    let idp = cognito
        .describe_identity_provider()
        .user_pool_id(&acme.pool_id)
        .provider_name("Microsoft")
        .send()
        .await
        .expect("the identity provider")
        .identity_provider
        .expect("idp");
    assert_eq!(idp.provider_type().map(|t| t.as_str()), Some("OIDC"));
    let details = idp.provider_details().expect("details");
    assert_eq!(
        details.get("oidc_issuer").map(String::as_str),
        Some(&*format!("https://login.microsoftonline.com/{TENANT}/v2.0"))
    );
    assert_eq!(details.get("client_id").map(String::as_str), Some(APP));
    assert_eq!(
        details.get("authorize_scopes").map(String::as_str),
        Some("openid email profile")
    );
    let client = cognito
        .describe_user_pool_client()
        .user_pool_id(&acme.pool_id)
        .client_id(&acme.client_id)
        .send()
        .await
        .expect("client")
        .user_pool_client
        .expect("client");
    let mut offered = client.supported_identity_providers().to_vec();
    offered.sort();
    assert_eq!(offered, ["Microsoft"]);
    // The secret is in Secrets Manager, and in no table item.
    let stored = aws_sdk_secretsmanager::Client::new(&sdk)
        .get_secret_value()
        .secret_id(format!("signin/{}/microsoft", acme.org.id))
        .send()
        .await
        .expect("the secret");
    assert_eq!(stored.secret_string(), Some(SECRET));
    let items = aws_sdk_dynamodb::Client::new(&sdk)
        .scan()
        .table_name(TABLE)
        .send()
        .await
        .expect("scan");
    assert!(
        !format!("{:?}", items.items()).contains(SECRET),
        "the table holds no secret"
    );
    // GET tells the same, without the secret; globex is untouched.
    let after = api.call("GET", "/v1/organization", &acme.access, None, &[]);
    assert_eq!(after.body["sso_only"], true);
    assert_eq!(after.body["branding"]["display_name"], "Acme");
    assert!(!after.body.to_string().contains(SECRET));
    let other = api.call("GET", "/v1/organization", &globex.access, None, &[]);
    assert_eq!(other.body["sso_only"], false);
    assert!(other.body["sso"].get("microsoft").is_none());
    // A stale ETag and bad input change nothing.
    let stale = api.call(
        "PATCH",
        "/v1/organization",
        &acme.access,
        Some(json!({"mfa": "off"})),
        &[("if-match", &tag)],
    );
    assert_eq!(stale.status, 412);
    let bad = api.call(
        "PATCH",
        "/v1/organization",
        &acme.access,
        Some(json!({"sso": {"microsoft": {"tenant": "common", "client_id": APP}}})),
        &[],
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.to_string().contains("sso.microsoft.tenant"));
    // Removed: the provider leaves the pool, the client and Secrets Manager.
    let removed = api.call(
        "PATCH",
        "/v1/organization",
        &acme.access,
        Some(json!({"sso": {"microsoft": null}, "sso_only": false})),
        &[],
    );
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert!(cognito
        .describe_identity_provider()
        .user_pool_id(&acme.pool_id)
        .provider_name("Microsoft")
        .send()
        .await
        .is_err());
    assert!(aws_sdk_secretsmanager::Client::new(&sdk)
        .get_secret_value()
        .secret_id(format!("signin/{}/microsoft", acme.org.id))
        .send()
        .await
        .is_err());
}

/// moto's own signing key (it ships in the moto package as a JWK of n, e and d only), as
/// PKCS#1 DER, so that the tests can sign tokens that differ from moto's in exactly one way.
/// The prime factors are recovered with `cryptography`, which moto itself depends on.
fn moto_signing_key() -> jsonwebtoken::EncodingKey {
    let python = integration_tests::workspace_root().join(".venv/bin/python");
    let script = r#"
import gzip, json, base64, os, sys
import moto
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization
path = os.path.join(os.path.dirname(moto.__file__), "cognitoidp/resources/jwks-private.json.gz")
jwk = json.load(gzip.open(path))
num = lambda k: int.from_bytes(base64.urlsafe_b64decode(jwk[k] + "=" * (-len(jwk[k]) % 4)), "big")
n, e, d = num("n"), num("e"), num("d")
p, q = rsa.rsa_recover_prime_factors(n, e, d)
key = rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q), rsa.RSAPublicNumbers(e, n)).private_key()
sys.stdout.buffer.write(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
"#;
    let out = std::process::Command::new(python)
        .args(["-c", script])
        .output()
        .expect("the venv's python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    jsonwebtoken::EncodingKey::from_rsa_der(&out.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_signed_with_motos_own_key_are_refused() {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    let aws = LocalAws::start();
    let sdk = aws.sdk().await;
    let (registry, mailer) = prepared_adapters(&sdk, TABLE).await;
    let acme = tenant(&aws, &registry, &mailer, "acme").await;
    let globex = tenant(&aws, &registry, &mailer, "globex").await;
    let functions = Functions::start(&aws.env(TABLE));
    let api = Api {
        port: functions.port,
    };
    let key = moto_signing_key();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let region = integration_tests::REGION;
    let issuer = |pool: &str| format!("https://cognito-idp.{region}.amazonaws.com/{pool}");
    let claims = json!({
        "iss": issuer(&acme.pool_id),
        "sub": "forged",
        "client_id": acme.client_id,
        "token_use": "access",
        "username": acme.admin,
        "iat": now,
        "exp": now + 600,
    });
    let sign = |claims: &Value, kid: &str| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        encode(&header, claims, &key).expect("signed")
    };
    let with = |field: &str, value: Value| {
        let mut c = claims.clone();
        c[field] = value;
        c
    };
    // Signed as moto signs: accepted, so every refusal below is for its one difference.
    let genuine = api.call(
        "GET",
        "/v1/organization",
        &sign(&claims, "dummy"),
        None,
        &[],
    );
    assert_eq!(genuine.status, 200, "{}", genuine.body);

    let mut id = claims.clone();
    id["token_use"] = json!("id");
    id["aud"] = json!("some-other-client");
    id["cognito:username"] = json!(acme.admin);
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": "dummy"})),
        b64(&claims)
    );
    let jwks: Value = serde_json::from_str(
        &aws.get(&format!("/{}/.well-known/jwks.json", acme.pool_id))
            .expect("jwks"),
    )
    .expect("json");
    let public_n = jwks["keys"][0]["n"].as_str().expect("n").to_owned();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("dummy".into());
    let hs256 = encode(
        &hs,
        &claims,
        &EncodingKey::from_secret(public_n.as_bytes()).expect("key"),
    )
    .expect("signed");
    let forged = [
        ("alg none", none),
        ("HS256 with the public key", hs256),
        (
            "globex's issuer with acme's client",
            sign(&with("iss", json!(issuer(&globex.pool_id))), "dummy"),
        ),
        (
            "another Region",
            sign(
                &with(
                    "iss",
                    json!(format!(
                        "https://cognito-idp.eu-west-1.amazonaws.com/{}",
                        acme.pool_id
                    )),
                ),
                "dummy",
            ),
        ),
        (
            "another client",
            sign(&with("client_id", json!(globex.client_id)), "dummy"),
        ),
        ("an ID token for another audience", sign(&id, "dummy")),
        (
            "a refresh token_use",
            sign(&with("token_use", json!("refresh")), "dummy"),
        ),
        ("expired", sign(&with("exp", json!(now - 600)), "dummy")),
        (
            "not valid yet",
            sign(&with("nbf", json!(now + 600)), "dummy"),
        ),
        ("unknown kid", sign(&claims, "not-moto")),
        (
            "a person who does not exist",
            sign(&with("username", json!("nobody")), "dummy"),
        ),
        ("garbage", "e30.e30.e30".into()),
    ];
    for (what, token) in forged {
        let a = api.call("GET", "/v1/organization", &token, None, &[]);
        assert_eq!(a.status, 401, "{what}: {}", a.body);
        assert_eq!(
            a.body["code"], "unauthorized",
            "{what}: the same answer for every reason"
        );
    }
    // The API's own description needs no token.
    let (status, _, doc) = integration_tests::http(
        functions.port,
        "GET",
        "/lambda-url/admin-api/v1/openapi.json",
        "",
    );
    assert_eq!(status, 200);
    assert!(doc.contains("\"openapi\""));
}
