//! The router's handler against in-memory fakes behind our own traits: every route, every
//! Host variant, the enumeration rule, cookies and redirects. The same flows run against
//! moto and in a real browser in `tests/tests/auth_router.rs`.
//!
//! This file holds the fakes, the helpers and the tests of the router as a whole (hosts,
//! headers, CSRF, branding, the organization's states); each flow's tests are in the file of
//! its name.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request};
use shared::cache::OrgCache;
use shared::domain::ports::{SignInRefusal, SignInStep, SignInTokens, UserContext, UserSignIn};
use shared::domain::{OrgId, OrgStatus, Organization, PersonStatus, Subdomain};
use shared::testing::{sample_org, sample_person, MemoryRegistry, RecordingPools, SAMPLE_POOL};

use crate::common::{App, Identify, Identity, Settings, ORG_TTL};
use shared::auth::oauth::{pkce_challenge, CodeExchange};

const BASE: &str = "app.example.com";

const ACME: &str = "acme.app.example.com";

const GLOBEX: &str = "globex.app.example.com";

const GLOBEX_POOL: &str = "eu-west-1_GlobexPool";

const CSRF: &str = "csrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsr";

/// People of the fake pool: username, password, what Cognito answers to the right password.
fn answer(username: &str, password: &str) -> Result<SignInStep, SignInRefusal> {
    let done = |user: &str| {
        Ok(SignInStep::Done(SignInTokens {
            id_token: format!("id:{SAMPLE_POOL}:{user}"),
            access_token: "access".into(),
            refresh_token: Some(format!("refresh-{user}")),
            expires_in: 3600,
        }))
    };
    match (username, password) {
        ("hank", "Right-Password-1") => done("hank"),
        ("ivy", "Temp-Password-1") => Ok(SignInStep::NewPasswordRequired {
            session: "session-ivy".into(),
        }),
        ("mia", "Right-Password-1") => Ok(SignInStep::MfaCode {
            session: "session-mia".into(),
        }),
        ("max", "Right-Password-1") => Ok(SignInStep::MfaSetup {
            session: "session-max".into(),
        }),
        ("lia", "Brand-New-Pass-1") => done("lia"),
        ("uli", "Right-Password-1") => Err(SignInRefusal::Refused(
            "Your organization has no free licence for you: ask your administrator.".into(),
        )),
        // Unknown, wrong password, disabled (deactivated dora): Cognito's one answer.
        _ => Err(SignInRefusal::Credentials),
    }
}

#[derive(Default)]
struct FakeCognito {
    calls: Mutex<Vec<String>>,
    /// The `UserContextData` of each sign-in and reset.
    contexts: Mutex<Vec<UserContext>>,
    /// Where passwords are set (a login waiting for a reset takes one from there).
    pools: Mutex<Option<Arc<RecordingPools>>>,
}

impl FakeCognito {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("calls").clone()
    }
    fn call(&self, what: String) {
        self.calls.lock().expect("calls").push(what);
    }
}

fn done(user: &str) -> SignInStep {
    SignInStep::Done(SignInTokens {
        id_token: format!("id:{SAMPLE_POOL}:{user}"),
        access_token: "access".into(),
        refresh_token: Some(format!("refresh-{user}")),
        expires_in: 3600,
    })
}

#[async_trait]
impl UserSignIn for FakeCognito {
    async fn password_sign_in(
        &self,
        client: &str,
        u: &str,
        p: &str,
        context: &UserContext,
    ) -> Result<SignInStep, SignInRefusal> {
        self.call(format!("password {client} {u}"));
        self.contexts
            .lock()
            .expect("contexts")
            .push(context.clone());
        // leo's login was made by someone's forgotten-password request: it waits for a
        // reset until a password is set (the router restores the legacy one).
        if u == "leo" {
            let password_set = self
                .pools
                .lock()
                .expect("pools")
                .as_ref()
                .is_some_and(|pools| {
                    pools
                        .calls()
                        .iter()
                        .any(|c| c.starts_with("set_password") && c.ends_with(" leo"))
                });
            return match (password_set, p) {
                (true, shared::testing::legacy_hashes::PASSWORD) => Ok(done("leo")),
                (true, _) => Err(SignInRefusal::Credentials),
                (false, _) => Err(SignInRefusal::ResetRequired),
            };
        }
        answer(u, p)
    }
    async fn answer_new_password(
        &self,
        _: &str,
        u: &str,
        s: &str,
        _p: &str,
    ) -> Result<SignInStep, SignInRefusal> {
        self.call(format!("new-password {u} {s}"));
        match s {
            "session-ivy" => Ok(done(u)),
            _ => Err(SignInRefusal::SessionExpired),
        }
    }
    async fn answer_mfa_code(
        &self,
        _: &str,
        u: &str,
        s: &str,
        code: &str,
    ) -> Result<SignInStep, SignInRefusal> {
        self.call(format!("mfa {u} {s} {code}"));
        match code {
            "123456" => Ok(done(u)),
            _ => Err(SignInRefusal::Code),
        }
    }
    async fn start_totp_setup(&self, s: &str) -> Result<(String, String), SignInRefusal> {
        self.call(format!("totp-start {s}"));
        Ok(("JBSWY3DPEHPK3PXP".into(), format!("{s}-2")))
    }
    async fn finish_totp_setup(
        &self,
        _: &str,
        u: &str,
        s: &str,
        code: &str,
    ) -> Result<SignInStep, SignInRefusal> {
        self.call(format!("totp-finish {u} {s} {code}"));
        match code {
            "654321" => Ok(done(u)),
            _ => Err(SignInRefusal::Code),
        }
    }
    async fn forgot_password(
        &self,
        _: &str,
        u: &str,
        context: &UserContext,
    ) -> Result<(), SignInRefusal> {
        self.call(format!("forgot {u}"));
        self.contexts
            .lock()
            .expect("contexts")
            .push(context.clone());
        Ok(())
    }
    async fn confirm_forgot_password(
        &self,
        _: &str,
        u: &str,
        code: &str,
        _p: &str,
    ) -> Result<(), SignInRefusal> {
        self.call(format!("confirm {u} {code}"));
        match (u, code) {
            ("hank", "111111") => Ok(()),
            _ => Err(SignInRefusal::Code),
        }
    }
    async fn revoke(&self, _: &str, token: &str) -> Result<(), SignInRefusal> {
        self.call(format!("revoke {token}"));
        Ok(())
    }
}

/// ID tokens are `id:<pool>:<username>[:<nonce>]`.
struct FakeIdentify;

#[async_trait]
impl Identify for FakeIdentify {
    async fn identify(&self, token: &str) -> Result<Identity, String> {
        let mut parts = token.splitn(4, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("id"), Some(pool), Some(user)) => Ok(Identity {
                pool_id: pool.into(),
                username: user.into(),
                nonce: parts.next().map(str::to_owned),
            }),
            _ => Err("not a token".into()),
        }
    }
}

/// The token endpoint: answers the code `good` with the ID token set in `id_token`, and
/// records what it was sent.
#[derive(Default)]
struct FakeExchange {
    id_token: Mutex<String>,
    sent: Mutex<Vec<(String, String, String, String)>>,
}

#[async_trait]
impl CodeExchange for FakeExchange {
    async fn exchange(
        &self,
        origin: &str,
        _client: &str,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<SignInTokens, String> {
        self.sent.lock().expect("sent").push((
            origin.into(),
            code.into(),
            redirect_uri.into(),
            verifier.into(),
        ));
        if code != "good" {
            return Err("invalid_grant".into());
        }
        Ok(SignInTokens {
            id_token: self.id_token.lock().expect("token").clone(),
            access_token: "access".into(),
            refresh_token: Some("refresh-sso".into()),
            expires_in: 3600,
        })
    }
}

fn org(sub: &str, id: &str, pool: &str, name: &str) -> Organization {
    let mut org = sample_org();
    org.id = OrgId::from(id.to_owned());
    org.subdomain = Subdomain::parse(sub).expect("valid");
    org.name = name.into();
    org.cognito.user_pool_id = Some(pool.into());
    org.email_domains =
        vec![shared::domain::EmailDomain::parse(&format!("{sub}.example")).expect("domain")];
    org
}

struct World {
    app: App,
    pools: Arc<RecordingPools>,
    registry: Arc<MemoryRegistry>,
    cognito: Arc<FakeCognito>,
    exchange: Arc<FakeExchange>,
}

fn world() -> World {
    let registry = Arc::new(MemoryRegistry::with_org(sample_org()));
    registry.insert_org(org("globex", "org-globex", GLOBEX_POOL, "Globex Inc"));
    let mut suspended = org("initech", "org-initech", "eu-west-1_Initech", "Initech");
    suspended.status = OrgStatus::Suspended;
    registry.insert_org(suspended);
    let mut sso = org("hooli", "org-hooli", "eu-west-1_Hooli", "Hooli");
    sso.sign_in.sso_only = true;
    sso.sign_in.providers = vec!["Microsoft".into()];
    registry.insert_org(sso);
    let mut migrating = org("umbrella", "org-umbrella", "eu-west-1_Umbrella", "Umbrella");
    migrating.sign_in.migration = Some(shared::domain::migration::OrgMigration {
        job: "job-1".into(),
        legacy_id: "17".into(),
        mode: shared::domain::migration::MigrationMode::Lazy,
        switched: false,
    });
    registry.insert_org(migrating);
    let mut provisioning = org("pending", "org-pending", "eu-west-1_Pending", "Pending");
    provisioning.status = OrgStatus::Provisioning;
    registry.insert_org(provisioning);
    registry.insert_person(sample_person(
        "hank",
        "hank@acme.example",
        &["admin"],
        PersonStatus::Active,
    ));
    registry.insert_person(sample_person(
        "ivy",
        "ivy@acme.example",
        &["member"],
        PersonStatus::Invited,
    ));
    registry.insert_person(sample_person(
        "dora",
        "dora@acme.example",
        &["member"],
        PersonStatus::Deactivated,
    ));
    let cognito = Arc::new(FakeCognito::default());
    let exchange = Arc::new(FakeExchange::default());
    let pools = Arc::new(RecordingPools::default());
    *cognito.pools.lock().expect("pools") = Some(pools.clone());
    let app = App {
        registry: registry.clone(),
        cognito: cognito.clone(),
        pools: pools.clone(),
        identify: Arc::new(FakeIdentify),
        oauth: exchange.clone(),
        settings: Settings {
            base_domain: BASE.into(),
            scheme: "https",
            port: None,
            region: "eu-west-1".into(),
            product: "Sign in".into(),
        },
        orgs: OrgCache::new(ORG_TTL),
        attempts: registry.clone(),
        legacy: registry.clone(),
        limits: shared::domain::attempts::AttemptLimits::default(),
    };
    World {
        app,
        pools,
        registry,
        cognito,
        exchange,
    }
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: lambda_http::http::HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
    fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies().iter().find_map(|c| {
            c.strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        })
    }
    /// The page with its CSRF tokens blanked: what the enumeration rule compares.
    fn without_csrf(&self) -> String {
        let mut out = String::new();
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find("name=\"csrf\" value=\"") {
            let start = i + "name=\"csrf\" value=\"".len();
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('"')
                .map(|e| start + e)
                .unwrap_or(rest.len());
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }
}

impl World {
    async fn call(
        &self,
        method: Method,
        host: &str,
        path: &str,
        cookies: &[(&str, &str)],
        form: Option<&[(&str, &str)]>,
    ) -> Answer {
        let mut builder = lambda_http::http::Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, host);
        let cookie_header: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !cookie_header.is_empty() {
            builder = builder.header(header::COOKIE, cookie_header.join("; "));
        }
        let body = match form {
            Some(fields) => {
                builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                let mut s = form_urlencoded::Serializer::new(String::new());
                for (k, v) in fields {
                    s.append_pair(k, v);
                }
                Body::Text(s.finish())
            }
            None => Body::Empty,
        };
        let request: Request = builder.body(body).expect("request");
        let response = self.app.handle(request).await;
        let (parts, body) = response.into_parts();
        let body = match body {
            Body::Text(t) => t,
            Body::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            _ => String::new(),
        };
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    async fn get(&self, host: &str, path: &str) -> Answer {
        self.call(Method::GET, host, path, &[], None).await
    }

    /// A form posted with a valid CSRF pair from `ip` (as API Gateway reports it).
    async fn post_from(&self, ip: &str, host: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
        use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
        use lambda_http::request::RequestContext;
        use lambda_http::RequestExt;
        let mut all = vec![("csrf", CSRF)];
        all.extend_from_slice(fields);
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &all {
            s.append_pair(k, v);
        }
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some(ip.to_owned());
        let request: Request = lambda_http::http::Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::HOST, host)
            .header(header::COOKIE, format!("__Host-csrf={CSRF}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::Text(s.finish()))
            .expect("request")
            .with_request_context(RequestContext::ApiGatewayV2(context));
        let response = self.app.handle(request).await;
        let (parts, body) = response.into_parts();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: match body {
                Body::Text(t) => t,
                _ => String::new(),
            },
        }
    }

    /// A form posted with a valid CSRF pair.
    async fn post(&self, host: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut all = vec![("csrf", CSRF)];
        all.extend_from_slice(fields);
        self.call(
            Method::POST,
            host,
            path,
            &[("__Host-csrf", CSRF)],
            Some(&all),
        )
        .await
    }
}

const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/login/new-password"),
    ("POST", "/login/mfa"),
    ("POST", "/login/mfa-setup"),
    ("GET", "/forgot-password"),
    ("POST", "/forgot-password"),
    ("POST", "/forgot-password/confirm"),
    ("POST", "/logout"),
    ("GET", "/.well-known/auth-config"),
    ("GET", "/assets/theme.css"),
    ("GET", "/assets/site.css"),
];

#[tokio::test]
async fn every_route_on_a_host_that_is_nobodys_is_the_same_plain_404() {
    let w = world();
    let long = format!("{}.app.example.com", "a".repeat(300));
    let hosts = [
        "acme.app.example.com.evil.test",
        "auth.app.example.com",
        "www.app.example.com",
        "unknown.app.example.com",
        "pending.app.example.com",
        "xn--80ak6aa92e.app.example.com",
        "a.acme.app.example.com",
        "127.0.0.1",
        "[::1]:443",
        "",
        &long,
        "evil.test",
    ];
    for host in hosts {
        for (method, path) in ROUTES {
            let method: Method = method.parse().expect("method");
            let a = w.post_or_get(method, host, path).await;
            assert_eq!(a.status, StatusCode::NOT_FOUND, "{host} {path}");
            assert_eq!(a.body, "Not found\n", "{host} {path}");
            assert!(a.cookies().is_empty());
        }
    }
    assert!(w.cognito.calls().is_empty());
}

impl World {
    async fn post_or_get(&self, method: Method, host: &str, path: &str) -> Answer {
        if method == Method::POST {
            self.post(
                host,
                path,
                &[("username", "hank"), ("password", "Right-Password-1")],
            )
            .await
        } else {
            self.call(method, host, path, &[], None).await
        }
    }
}

#[tokio::test]
async fn accepted_host_spellings_reach_the_organization() {
    let w = world();
    for host in [
        "ACME.APP.EXAMPLE.COM",
        "acme.app.example.com:443",
        "acme.app.example.com.",
        "Acme.App.Example.Com.:8443",
    ] {
        let a = w.get(host, "/login").await;
        assert_eq!(a.status, StatusCode::OK, "{host}");
        assert!(a.body.contains("Acme Corporation"), "{host}");
    }
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_no_inline_script() {
    let w = world();
    for (host, path) in [(ACME, "/login"), (BASE, "/"), (ACME, "/forgot-password")] {
        let a = w.get(host, path).await;
        let csp = a.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("csp");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(!a.body.contains("<script"), "{path}");
        assert_eq!(a.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(a.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let csrf = a.cookie("__Host-csrf").expect("a CSRF cookie");
        assert_eq!(csrf.len(), 43);
        assert!(a.body.contains(&format!("name=\"csrf\" value=\"{csrf}\"")));
    }
}

#[tokio::test]
async fn an_organization_migrated_but_not_switched_asks_no_password() {
    let w = world();
    for path in ["/login", "/", "/forgot-password"] {
        let a = w.get("umbrella.app.example.com", path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert!(
            a.body.contains("not moved to this page yet"),
            "{path}: {}",
            a.body
        );
        assert!(!a.body.contains("type=\"password\""), "{path}");
    }
    let a = w
        .post(
            "umbrella.app.example.com",
            "/login",
            &[("username", "x"), ("password", "y")],
        )
        .await;
    assert!(a.body.contains("not moved to this page yet"));
    assert!(w.cognito.calls().is_empty(), "no sign-in was tried");
}

#[tokio::test]
async fn suspension_and_sso_only_are_said_before_any_password() {
    let w = world();
    let a = w.get("initech.app.example.com", "/login").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("access is suspended"));
    assert!(!a.body.contains("type=\"password\""));
    let a = w
        .post(
            "initech.app.example.com",
            "/login",
            &[("username", "x"), ("password", "y")],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let sso = w.get("hooli.app.example.com", "/login").await;
    assert_eq!(sso.status, StatusCode::OK);
    assert!(!sso.body.contains("type=\"password\""));
    assert!(sso
        .body
        .contains("signs in only through its identity provider"));
    let a = w
        .post(
            "hooli.app.example.com",
            "/login",
            &[("username", "x"), ("password", "y")],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(w.cognito.calls().is_empty(), "{:?}", w.cognito.calls());
}

#[tokio::test]
async fn forms_without_their_csrf_token_change_nothing() {
    let w = world();
    let fields = [("username", "hank"), ("password", "Right-Password-1")];
    let no_cookie = w
        .call(
            Method::POST,
            ACME,
            "/login",
            &[],
            Some(&[("csrf", CSRF), fields[0], fields[1]]),
        )
        .await;
    let mismatch = w
        .call(
            Method::POST,
            ACME,
            "/login",
            &[("__Host-csrf", CSRF)],
            Some(&[("csrf", "x".repeat(43).as_str()), fields[0], fields[1]]),
        )
        .await;
    let no_field = w
        .call(
            Method::POST,
            ACME,
            "/login",
            &[("__Host-csrf", CSRF)],
            Some(&fields),
        )
        .await;
    for a in [no_cookie, mismatch, no_field] {
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        assert!(a.cookie("__Host-session").is_none());
    }
    let discover = w
        .call(
            Method::POST,
            BASE,
            "/",
            &[],
            Some(&[("identifier", "hank@acme.example")]),
        )
        .await;
    assert_eq!(discover.status, StatusCode::FORBIDDEN);
    assert!(w.cognito.calls().is_empty());
}

#[tokio::test]
async fn the_public_sign_in_settings_for_single_page_apps() {
    let w = world();
    let a = w.get(ACME, "/.well-known/auth-config").await;
    assert_eq!(a.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&a.body).expect("json");
    assert_eq!(
        v,
        serde_json::json!({
            "region": "eu-west-1",
            "user_pool_id": SAMPLE_POOL,
            "client_id": "5a1b2c3d4e5f6g7h8i9j0k1l2m",
            "providers": [],
            "mfa": "off",
        })
    );
    let hooli: serde_json::Value = serde_json::from_str(
        &w.get("hooli.app.example.com", "/.well-known/auth-config")
            .await
            .body,
    )
    .expect("json");
    assert_eq!(hooli["providers"], serde_json::json!(["Microsoft"]));
}

#[tokio::test]
async fn branding_shows_the_name_logo_and_a_readable_colour() {
    let w = world();
    let mut acme = sample_org();
    acme.branding.display_name = Some("Acme".into());
    acme.branding.logo_url = Some("https://cdn.acme.example/logo.png".into());
    acme.branding.primary_color = Some("#ffd700".into());
    w.registry.insert_org(acme);
    let a = w.get(ACME, "/login").await;
    assert!(a
        .body
        .contains("<img class=\"logo\" src=\"https://cdn.acme.example/logo.png\" alt=\"Acme\">"));
    let css = w.get(ACME, "/assets/theme.css").await;
    assert_eq!(
        css.body,
        ":root { --brand: #ffd700; --on-brand: #000000; }\n"
    );
    let mut acme = sample_org();
    acme.branding.logo_url = Some("javascript:alert(1)".into());
    acme.branding.primary_color = Some("red;}body{display:none".into());
    let w = world();
    w.registry.insert_org(acme);
    assert!(!w.get(ACME, "/login").await.body.contains("javascript:"));
    assert!(!w
        .get(ACME, "/assets/theme.css")
        .await
        .body
        .contains("display"));
}

#[tokio::test]
async fn organizations_are_read_once_per_cache_period() {
    let w = world();
    for _ in 0..5 {
        w.get(ACME, "/login").await;
    }
    let reads = w
        .registry
        .calls()
        .iter()
        .filter(|c| **c == "organization_by_subdomain")
        .count();
    assert_eq!(reads, 1);
}

/// The pending SSO cookie's parts: state, nonce, verifier, return_to.
fn pending(a: &Answer) -> (String, String, String, String) {
    let value = a.cookie("__Host-oauth").expect("an oauth cookie");
    let parts: Vec<&str> = value.split('.').collect();
    (
        parts[0].into(),
        parts[1].into(),
        parts[2].into(),
        parts[3].into(),
    )
}

fn query_of(url: &str, name: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The deployed router sits behind a REST API (AWS WAF), which sends payload 1.0 through the
/// custom domain: the path without the stage (`AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`, set by
/// the CDK app) and the address in `requestContext.identity.sourceIp`.
#[tokio::test]
async fn a_rest_api_event_reaches_its_route_and_counts_against_the_address_api_gateway_saw() {
    // SAFETY: set before any REST event of this process is read; the HTTP API's events
    // (every other test) ignore it.
    unsafe { std::env::set_var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true") };
    let w = world();
    let limits = w.app.limits;
    let event = |ip: &str| {
        let body = format!("csrf={CSRF}&username=hank&password=wrong");
        let headers = serde_json::json!({
            "Host": ACME,
            "Cookie": format!("__Host-csrf={CSRF}"),
            "Content-Type": "application/x-www-form-urlencoded",
            // A forged address header is never the address.
            "X-Forwarded-For": "192.0.2.99",
        });
        let multi: serde_json::Map<String, serde_json::Value> = headers
            .as_object()
            .expect("headers")
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!([v])))
            .collect();
        serde_json::json!({
            "resource": "/{proxy+}",
            "path": "/login",
            "httpMethod": "POST",
            "headers": headers,
            "multiValueHeaders": multi,
            "queryStringParameters": null,
            "multiValueQueryStringParameters": null,
            "pathParameters": { "proxy": "login" },
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012",
                "resourceId": "abc123",
                "stage": "live",
                "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                "requestTime": "02/Dec/2026:15:00:00 +0000",
                "requestTimeEpoch": 1796223600000i64,
                "path": "/login",
                "resourcePath": "/{proxy+}",
                "httpMethod": "POST",
                "apiId": "a1b2c3d4e5",
                "protocol": "HTTP/1.1",
                "domainName": ACME,
                "identity": { "sourceIp": ip, "userAgent": "Mozilla/5.0" },
            },
            "body": body,
            "isBase64Encoded": false,
        })
        .to_string()
    };
    for _ in 0..limits.password.per_address {
        let request = lambda_http::request::from_str(&event("203.0.113.77")).expect("a REST event");
        assert_eq!(request.uri().path(), "/login", "no stage in the path");
        let response = w.app.handle(request).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let contexts = w.cognito.contexts.lock().expect("contexts").clone();
    assert_eq!(contexts.len() as u64, limits.password.per_address);
    assert!(contexts
        .iter()
        .all(|c| c.ip_address.as_deref() == Some("203.0.113.77")));
    let request = lambda_http::request::from_str(&event("203.0.113.77")).expect("a REST event");
    assert_eq!(
        w.app.handle(request).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let request = lambda_http::request::from_str(&event("198.51.100.77")).expect("a REST event");
    assert_eq!(
        w.app.handle(request).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

// The flows' tests, one file each; the fakes and helpers above serve them all.
mod discovery;
mod limits;
mod links;
mod password;
mod properties;
/// The callback with the shared verifier itself, against ID tokens signed like Cognito's
/// (RS256, the pool's key by kid, the pool's issuer, the app client as audience).
mod real_verifier;
mod session;
mod sso;
