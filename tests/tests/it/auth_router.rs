//! The router end to end: the `auth-router` function alone under `cargo lambda watch` (so
//! every path reaches it with the request's own `Host`, as behind the wildcard domain), the
//! registry, Cognito and SES on moto. First over plain HTTP (hosts, the enumeration rule on
//! real Cognito answers), then in headless Chromium (Debian's, driven by playwright-core):
//! the first sign-in with the mailed temporary password, the session refused on another
//! organization's subdomain, sign-out, discovery. Screenshots go to
//! `target/screenshots/auth-router/`.

use std::path::PathBuf;
use std::process::Command;

use integration_tests::{
    free_port, http_with, prepared_adapters, provisioned, workspace_root, Functions, LocalAws,
};
use shared::aws::cognito::CognitoPools;
use shared::domain::people::{Admin, NewPerson};
use shared::domain::ports::Registry;
use shared::domain::provisioning::{configure_sign_in, SignInChanges};
use shared::domain::settings::{apply_settings, ProviderInput, SettingsDeps, SettingsPatch};
use shared::domain::{Invitation, Organization, PersonStatus};

const TABLE: &str = "router";
const BASE: &str = "app.localhost";
const NEW_PASSWORD: &str = "Chosen-Passw0rd!";
const CSRF: &str = "csrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsr";

struct Router {
    port: u16,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn without_csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let mut out = String::new();
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find(marker) {
            let start = i + marker.len();
            out.push_str(&rest[..start]);
            let end = rest[start..].find('"').map_or(rest.len(), |e| start + e);
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }
}

impl Router {
    fn call(&self, method: &str, host: &str, path: &str, form: Option<&[(&str, &str)]>) -> Answer {
        let host_header = format!("{host}:{}", self.port);
        let mut headers = vec![("host", host_header.as_str())];
        let cookie = format!("__Host-csrf={CSRF}");
        let body = match form {
            Some(fields) => {
                headers.push(("content-type", "application/x-www-form-urlencoded"));
                headers.push(("cookie", cookie.as_str()));
                let mut s = form_urlencoded::Serializer::new(String::new());
                s.append_pair("csrf", CSRF);
                for (k, v) in fields {
                    s.append_pair(k, v);
                }
                s.finish()
            }
            None => String::new(),
        };
        let (status, headers, body) = http_with(self.port, method, path, &headers, &body);
        Answer {
            status,
            headers,
            body,
        }
    }

    fn origin(&self, sub: &str) -> String {
        format!("http://{sub}.{BASE}:{}", self.port)
    }
}

/// A person with a login who was then deactivated (the Cognito user disabled).
async fn deactivated_person(
    aws: &LocalAws,
    registry: &dyn Registry,
    mailer: &shared::aws::ses::SesMailer,
    org: &Organization,
) -> String {
    let sdk = aws.sdk().await;
    let pools = CognitoPools::new(&sdk);
    let admin = Admin {
        registry,
        pools: &pools,
        mailer,
        base_domain: BASE,
        actor: "test",
    };
    let person = admin
        .add_person(
            org,
            &NewPerson {
                username: "dora".into(),
                email: "dora@acme.example".into(),
                roles: vec!["member".into()],
                ..Default::default()
            },
        )
        .await
        .expect("added");
    let org = registry
        .organization(&org.id)
        .await
        .expect("read")
        .expect("org");
    let on = admin
        .set_activation(&org, person, true)
        .await
        .expect("activated");
    let org = registry
        .organization(&org.id)
        .await
        .expect("read")
        .expect("org");
    let off = admin
        .set_activation(&org, on.person, false)
        .await
        .expect("deactivated");
    assert_eq!(off.person.status, PersonStatus::Deactivated);
    aws.newest_temporary_password("dora@acme.example")
}

fn screenshots_dir() -> PathBuf {
    let dir = workspace_root().join("target/screenshots/auth-router");
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_pages_against_the_local_aws_and_in_a_browser() {
    let aws = LocalAws::start();
    let sdk = aws.sdk().await;
    let (registry, mailer) = prepared_adapters(&sdk, TABLE).await;
    let acme = provisioned(&aws, &registry, &mailer, "acme", BASE).await;
    let globex = provisioned(&aws, &registry, &mailer, "globex", BASE).await;
    let dora_password = deactivated_person(&aws, &registry, &mailer, &acme).await;

    let port = free_port();
    let mut env = aws.env(TABLE);
    env.retain(|(k, _)| k != "BASE_DOMAIN");
    env.extend([
        ("BASE_DOMAIN".to_owned(), BASE.to_owned()),
        ("ROUTER_SCHEME".to_owned(), "http".to_owned()),
        ("ROUTER_PORT".to_owned(), port.to_string()),
        ("ORG_CACHE_SECONDS".to_owned(), "1".to_owned()),
    ]);
    let _functions = Functions::start_one("auth-router", port, &env);
    let router = Router { port };

    // Hosts: only the organizations' subdomains and the main domain are anybody's.
    let login = router.call("GET", "acme.app.localhost", "/login", None);
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.body.contains("acme Inc"));
    for host in ["ACME.App.Localhost", "acme.app.localhost."] {
        assert_eq!(
            router.call("GET", host, "/login", None).status,
            200,
            "{host}"
        );
    }
    for host in [
        "auth.app.localhost",
        "nobody.app.localhost",
        "acme.app.localhost.evil.test",
        "127.0.0.1",
        "xn--80ak6aa92e.app.localhost",
    ] {
        let a = router.call("GET", host, "/login", None);
        assert_eq!((a.status, a.body.as_str()), (404, "Not found\n"), "{host}");
    }
    let config: serde_json::Value = serde_json::from_str(
        &router
            .call(
                "GET",
                "acme.app.localhost",
                "/.well-known/auth-config",
                None,
            )
            .body,
    )
    .expect("json");
    assert_eq!(
        config["user_pool_id"],
        acme.cognito.user_pool_id.clone().expect("pool")
    );
    assert_eq!(
        config["client_id"],
        acme.cognito.app_client_id.clone().expect("client")
    );

    // The enumeration rule on Cognito's real answers: an unknown username, a wrong password
    // of a known person, and a deactivated person with a wrong or even the right password
    // all get the same page.
    let attempt = |user: &str, password: &str| {
        router.call(
            "POST",
            "acme.app.localhost",
            "/login",
            Some(&[("username", user), ("password", password)]),
        )
    };
    let reference = attempt("nobody", "Wrong-Passw0rd!");
    assert_eq!(reference.status, 401, "{}", reference.body);
    assert!(reference.body.contains("Incorrect username or password."));
    for (user, password) in [
        ("boss@acme.example", "Wrong-Passw0rd!"),
        ("dora", "Wrong-Passw0rd!"),
        ("dora", dora_password.as_str()),
    ] {
        let a = attempt(user, password);
        let stranger = attempt(user, "Other-Passw0rd!");
        assert_eq!(a.status, 401, "{user}");
        assert_eq!(a.without_csrf(), stranger.without_csrf(), "{user}");
        // The page shows what was typed, nothing else differs.
        let encoded: String = form_urlencoded::byte_serialize(user.as_bytes()).collect();
        assert_eq!(
            a.without_csrf()
                .replace(&format!("value=\"{user}\""), "value=\"nobody\"")
                .replace(&format!("login_hint={encoded}\""), "login_hint=nobody\""),
            reference.without_csrf(),
            "{user}"
        );
        assert!(a
            .header("set-cookie")
            .is_none_or(|c| !c.contains("__Host-session")));
    }

    // In the browser: the first administrator's first sign-in with the mailed password.
    let mail = aws.newest_mail_to("boss@acme.example");
    let body = mail["body"].as_str().expect("body");
    assert!(
        body.contains("https://acme.app.localhost/login"),
        "the welcome mail links acme's login page"
    );
    let temporary = aws.newest_temporary_password("boss@acme.example");
    let shots = screenshots_dir();
    let report = browser(&serde_json::json!({
        "chromium": chromium(),
        "origin_of": {"acme": router.origin("acme"), "globex": router.origin("globex"), "main": format!("http://{BASE}:{port}")},
        "screenshots": shots,
        "acme": {"username": "boss@acme.example", "temporary": temporary, "new_password": NEW_PASSWORD},
        "discover_email": "someone@acme.example",
    }));
    assert!(
        report.get("error").is_none(),
        "the browser failed: {}",
        report["error"]
    );
    let step = |name: &str| {
        report["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no step {name}: {report}"))
            .clone()
    };
    assert_eq!(step("acme-login")["heading"], "Sign in");
    assert_eq!(step("acme-new-password")["heading"], "Choose your password");
    let signed_in = step("acme-signed-in");
    assert_eq!(signed_in["url"], format!("{}/", router.origin("acme")));
    assert!(
        signed_in["text"]
            .as_str()
            .unwrap_or_default()
            .contains("You are signed in as boss@acme.example"),
        "{signed_in}"
    );
    let session = report["acme_cookies"]
        .as_array()
        .expect("cookies")
        .iter()
        .find(|c| c["name"] == "__Host-session")
        .unwrap_or_else(|| panic!("no session cookie: {report}"))
        .clone();
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["secure"], true);
    assert_eq!(session["sameSite"], "Lax");
    assert_eq!(session["domain"], "acme.app.localhost", "host-only");
    // The first sign-in made the administrator active (no post-confirmation fires for it).
    let boss = registry
        .person(&acme.id, "boss@acme.example")
        .await
        .expect("read")
        .expect("boss");
    assert_eq!(boss.status, PersonStatus::Active);
    // acme's session on globex's subdomain: globex's login page, nobody signed in.
    assert_eq!(
        report["planted_on_globex"], true,
        "the browser holds acme's session for globex: {report}"
    );
    let globex_page = step("globex-with-acme-cookie");
    assert_eq!(
        globex_page["url"],
        format!("{}/login", router.origin("globex"))
    );
    assert_eq!(globex_page["heading"], "Sign in");
    assert!(globex_page["text"]
        .as_str()
        .unwrap_or_default()
        .contains("Password"));
    let signed_out = step("acme-signed-out");
    assert!(signed_out["text"]
        .as_str()
        .unwrap_or_default()
        .contains("You are signed out."));
    assert!(
        !report["cookies_after_sign_out"]
            .as_array()
            .expect("list")
            .iter()
            .any(|c| c.as_str().unwrap_or_default().starts_with("acme.")),
        "{report}"
    );
    // Discovery: an address of acme's domain goes to acme's login page, prefilled.
    let discovered = step("discovered-acme-login");
    assert!(
        discovered["url"]
            .as_str()
            .unwrap_or_default()
            .starts_with(&format!("{}/login?login_hint=", router.origin("acme"))),
        "{discovered}"
    );
    assert_eq!(report["discovered_username"], "someone@acme.example");
    for s in report["steps"].as_array().expect("steps") {
        let file = s["screenshot"].as_str().expect("file");
        assert!(
            std::fs::metadata(file)
                .map(|m| m.len() > 1000)
                .unwrap_or(false),
            "{file}"
        );
    }

    // The activation-link flow: acme invites by link; its administrator (the browser's
    // session token, an ID token of acme's pool) adds a person and switches the toggle on
    // through the admin API; the person opens the mailed link and lands signed in.
    let sdk_pools = CognitoPools::new(&sdk);
    configure_sign_in(
        &registry,
        &sdk_pools,
        "acme",
        &SignInChanges {
            invitation: Some(Invitation::Link),
            ..Default::default()
        },
        "test",
    )
    .await
    .expect("invitation by link");
    let functions = Functions::start(&env);
    let admin_token = report["acme_id_token"]
        .as_str()
        .expect("the session's ID token")
        .to_owned();
    let api = |method: &str, path: &str, body: serde_json::Value| {
        let auth = format!("Bearer {admin_token}");
        let (status, _, text) = http_with(
            functions.port,
            method,
            &format!("/lambda-url/admin-api{path}"),
            &[
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ],
            &body.to_string(),
        );
        (
            status,
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or(serde_json::Value::String(text)),
        )
    };
    let (status, lia) = api(
        "POST",
        "/v1/users",
        serde_json::json!({"username": "lia", "email": "lia@acme.example", "roles": ["member"]}),
    );
    assert_eq!(status, 201, "{lia}");
    let id = lia["id"].as_str().expect("id");
    let (status, on) = api(
        "PUT",
        &format!("/v1/users/{id}/activation"),
        serde_json::json!({"active": true}),
    );
    assert_eq!(status, 200, "{on}");
    let mail = aws.newest_mail_to("lia@acme.example");
    let text = mail["body"].as_str().expect("body").to_owned();
    assert!(
        !text.contains("Temporary password"),
        "a link invitation carries no password"
    );
    let start = text
        .find("https://acme.app.localhost/activate/")
        .expect("the activation link, on acme's subdomain");
    let token: String = text[start + "https://acme.app.localhost/activate/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    let activation = browser(&serde_json::json!({
        "mode": "activate",
        "first_shot": 20,
        "chromium": chromium(),
        "screenshots": shots,
        "activation_url": format!("{}/activate/{token}", router.origin("acme")),
        "new_password": "Lia-Chosen-Passw0rd!",
    }));
    assert!(
        activation.get("error").is_none(),
        "the browser failed: {}",
        activation["error"]
    );
    let steps = activation["steps"].as_array().expect("steps");
    assert_eq!(steps[0]["heading"], "Activate your account");
    assert_eq!(steps[1]["url"], format!("{}/", router.origin("acme")));
    assert!(
        steps[1]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("You are signed in as lia"),
        "{activation}"
    );
    assert_eq!(steps[2]["status"], 410);
    assert!(steps[2]["text"]
        .as_str()
        .unwrap_or_default()
        .contains("already been used"));
    let lia = registry
        .person(&acme.id, "lia")
        .await
        .expect("read")
        .expect("lia");
    assert_eq!(lia.status, PersonStatus::Active);
    assert!(lia.activation_link.is_none());

    // An e-mail change through the admin API: pending until confirmed on the router's page.
    let (status, patched) = api(
        "PATCH",
        &format!("/v1/users/{id}"),
        serde_json::json!({"email": "lia.new@acme.example"}),
    );
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["email"], "lia@acme.example");
    assert_eq!(patched["pending_email"], "lia.new@acme.example");
    let confirm = aws.newest_mail_to("lia.new@acme.example");
    let text = confirm["body"].as_str().expect("body").to_owned();
    let marker = "https://acme.app.localhost/confirm-email/";
    let start = text.find(marker).expect("the confirmation link") + marker.len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    assert!(
        aws.newest_mail_to("lia@acme.example")["body"]
            .as_str()
            .unwrap_or_default()
            .contains("being changed"),
        "the old address gets a notice"
    );
    let page = router.call(
        "GET",
        "acme.app.localhost",
        &format!("/confirm-email/{token}"),
        None,
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let done = router.call(
        "POST",
        "acme.app.localhost",
        &format!("/confirm-email/{token}"),
        Some(&[]),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let lia = registry
        .person(&acme.id, "lia")
        .await
        .expect("read")
        .expect("lia");
    assert_eq!(lia.email.as_str(), "lia.new@acme.example");
    assert!(lia.pending_email.is_none());
    let by_new = registry
        .person_by_email(&acme.id, &lia.email)
        .await
        .expect("read");
    assert_eq!(by_new.map(|p| p.username), Some("lia".to_owned()));
    let old = shared::domain::EmailAddress::parse("lia@acme.example").expect("valid");
    assert!(
        registry
            .person_by_email(&acme.id, &old)
            .await
            .expect("read")
            .is_none(),
        "the old address is free again"
    );
    let user = aws_sdk_cognitoidentityprovider::Client::new(&sdk)
        .admin_get_user()
        .user_pool_id(acme.cognito.user_pool_id.clone().expect("pool"))
        .username("lia")
        .send()
        .await
        .expect("the login");
    let attribute = |name: &str| {
        user.user_attributes()
            .iter()
            .find(|a| a.name() == name)
            .and_then(|a| a.value())
            .map(str::to_owned)
    };
    assert_eq!(attribute("email").as_deref(), Some("lia.new@acme.example"));
    assert_eq!(attribute("email_verified").as_deref(), Some("true"));
    assert_eq!(
        router
            .call(
                "POST",
                "acme.app.localhost",
                &format!("/confirm-email/{token}"),
                Some(&[])
            )
            .status,
        410
    );

    // A username change keeps the login: pending until confirmed, then the new name signs
    // in to the same Cognito user, whose
    // `preferred_username` it is; the old login name stays lia's.
    let (status, renamed) = api(
        "PATCH",
        &format!("/v1/users/{id}"),
        serde_json::json!({"username": "Lia.Berg"}),
    );
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["username"], "lia");
    assert_eq!(renamed["pending_username"], "lia.berg");
    // (Meanwhile the post-authentication trigger refuses her sign-in: moto runs no
    // trigger, so that refusal is tested with the trigger's unit tests.)
    let lia_password = "Lia-Chosen-Passw0rd!";
    let mail = aws.newest_mail_to("lia.new@acme.example");
    let text = mail["body"].as_str().expect("body").to_owned();
    assert!(text.contains("sign in as <code>lia.berg</code>"), "{text}");
    let start = text.find(marker).expect("the confirmation link") + marker.len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    let done = router.call(
        "POST",
        "acme.app.localhost",
        &format!("/confirm-email/{token}"),
        Some(&[]),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let lia = registry
        .person(&acme.id, "lia")
        .await
        .expect("read")
        .expect("lia keeps her record and login");
    assert_eq!(lia.preferred_username.as_deref(), Some("lia.berg"));
    assert_eq!(lia.id.to_string(), id);
    let user = aws_sdk_cognitoidentityprovider::Client::new(&sdk)
        .admin_get_user()
        .user_pool_id(acme.cognito.user_pool_id.clone().expect("pool"))
        .username("lia")
        .send()
        .await
        .expect("the same login");
    assert_eq!(
        user.user_attributes()
            .iter()
            .find(|a| a.name() == "preferred_username")
            .and_then(|a| a.value()),
        Some("lia.berg")
    );
    let signed = router.call(
        "POST",
        "acme.app.localhost",
        "/login",
        Some(&[("username", "Lia.Berg"), ("password", lia_password)]),
    );
    assert_eq!(signed.status, 303, "{}", signed.body);
    let (status, shown) = api("GET", &format!("/v1/users/{id}"), serde_json::json!(null));
    assert_eq!(status, 200);
    assert_eq!(shown["username"], "lia.berg");
    assert!(shown.get("pending_username").is_none(), "{shown}");
    let (status, taken) = api(
        "PATCH",
        &format!(
            "/v1/users/{}",
            registry
                .person(&acme.id, "dora")
                .await
                .expect("read")
                .expect("dora")
                .id
        ),
        serde_json::json!({"username": "lia.berg"}),
    );
    assert_eq!(status, 409, "{taken}");
    // Back to her login's own name: the alias is gone from the login, and the name it
    // freed can be taken at once by dora (deactivated: her disabled login follows at once).
    let (status, back) = api(
        "PATCH",
        &format!("/v1/users/{id}"),
        serde_json::json!({"username": "lia"}),
    );
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["pending_username"], "lia");
    let text = aws.newest_mail_to("lia.new@acme.example")["body"]
        .as_str()
        .expect("body")
        .to_owned();
    let start = text.find(marker).expect("the confirmation link") + marker.len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    let done = router.call(
        "POST",
        "acme.app.localhost",
        &format!("/confirm-email/{token}"),
        Some(&[]),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let user = aws_sdk_cognitoidentityprovider::Client::new(&sdk)
        .admin_get_user()
        .user_pool_id(acme.cognito.user_pool_id.clone().expect("pool"))
        .username("lia")
        .send()
        .await
        .expect("the same login");
    assert!(
        !user
            .user_attributes()
            .iter()
            .any(|a| a.name() == "preferred_username"),
        "{user:?}"
    );
    let dora = registry
        .person(&acme.id, "dora")
        .await
        .expect("read")
        .expect("dora");
    let (status, taken) = api(
        "PATCH",
        &format!("/v1/users/{}", dora.id),
        serde_json::json!({"username": "lia.berg"}),
    );
    assert_eq!(status, 200, "{taken}");
    assert_eq!(taken["username"], "lia.berg", "{taken}");
    let dora_login = aws_sdk_cognitoidentityprovider::Client::new(&sdk)
        .admin_get_user()
        .user_pool_id(acme.cognito.user_pool_id.clone().expect("pool"))
        .username("dora")
        .send()
        .await
        .expect("dora's login");
    assert_eq!(
        dora_login
            .user_attributes()
            .iter()
            .find(|a| a.name() == "preferred_username")
            .and_then(|a| a.value()),
        Some("lia.berg")
    );

    // Microsoft for globex through the settings: the router offers exactly that button, and
    // it leads to Cognito's authorize endpoint on globex's own pool domain (moto has no
    // hosted UI: the round trip is checked up to there).
    let secrets = shared::aws::secrets::SecretsManager::new(&sdk);
    let deps = SettingsDeps {
        registry: &registry,
        pools: &sdk_pools,
        secrets: &secrets,
        base_domain: BASE,
    };
    let globex_now = registry
        .organization(&globex.id)
        .await
        .expect("read")
        .expect("globex");
    apply_settings(
        &deps,
        &globex_now,
        &SettingsPatch {
            microsoft: Some(Some(ProviderInput {
                tenant: Some("72f988bf-86f1-41af-91ab-2d7cd011db47".into()),
                client_id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
                client_secret: Some("entra-secret".into()),
                ..Default::default()
            })),
            ..Default::default()
        },
        "test",
    )
    .await
    .expect("Microsoft set up");
    // The router reads organizations again after ORG_CACHE_SECONDS (1 s here).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let page = router.call("GET", "globex.app.localhost", "/login", None);
    assert!(
        page.body.contains(">Sign in with Microsoft</a>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Sign in with Google"));
    let acme_page = router.call("GET", "acme.app.localhost", "/login", None);
    assert!(
        !acme_page.body.contains("Sign in with Microsoft"),
        "acme has no SSO"
    );
    let start = router.call("GET", "globex.app.localhost", "/sso/Microsoft", None);
    assert_eq!(start.status, 303);
    let location = start.header("location").expect("a redirect").to_owned();
    let prefix = globex
        .cognito
        .domain_prefix
        .clone()
        .expect("globex's pool domain");
    assert!(
        location.starts_with(&format!(
            "https://{prefix}.auth.us-east-1.amazoncognito.com/oauth2/authorize?"
        )),
        "{location}"
    );
    for part in [
        "identity_provider=Microsoft",
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
    ] {
        assert!(location.contains(part), "{part} in {location}");
    }
    assert!(
        location.contains("redirect_uri=http%3A%2F%2Fglobex.app.localhost%3A"),
        "{location}"
    );
}

/// Debian's Chromium, which `make test` installs.
fn chromium() -> String {
    let path = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&path).exists(),
        "Chromium not found at {path}: `make test` installs Debian's chromium (as root), or set CHROMIUM"
    );
    path
}

/// Runs `tests/local/browser_signin.mjs` with `config`; its report.
fn browser(config: &serde_json::Value) -> serde_json::Value {
    let dir = workspace_root().join("target/tmp");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let file = dir.join(format!("browser-{}.json", std::process::id()));
    std::fs::write(&file, config.to_string()).expect("config");
    let out = Command::new("node")
        .arg(workspace_root().join("tests/local/browser_signin.mjs"))
        .arg(&file)
        .current_dir(workspace_root().join("tests/local"))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no report from the browser script ({e}): {stdout}\n{stderr}"))
}
