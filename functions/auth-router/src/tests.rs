//! The router's handler against in-memory fakes behind our own traits: every route, every
//! Host variant, the enumeration rule, cookies and redirects. The same flows run against
//! moto and in a real browser in `tests/tests/auth_router.rs`.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request};
use shared::cache::OrgCache;
use shared::domain::ports::{SignInRefusal, SignInStep, SignInTokens, UserContext, UserSignIn};
use shared::domain::{OrgId, OrgStatus, Organization, PersonStatus, Subdomain};
use shared::testing::{sample_org, sample_person, MemoryRegistry, RecordingPools, SAMPLE_POOL};

use crate::app::{App, Identify, Identity, Settings, ORG_TTL};
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
async fn the_login_page_has_labelled_fields_and_keeps_the_hint() {
    let w = world();
    let a = w
        .get(
            ACME,
            "/login?login_hint=hank%40acme.example&return_to=%2Fprojects%2F1",
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    for needle in [
        "<label for=\"username\">",
        "id=\"username\" name=\"username\"",
        "<label for=\"password\">",
        "id=\"password\" name=\"password\" type=\"password\"",
        "value=\"hank@acme.example\"",
        "name=\"return_to\" value=\"/projects/1\"",
        "href=\"/assets/theme.css\"",
    ] {
        assert!(a.body.contains(needle), "missing {needle}");
    }
    // A return_to that leaves the site is dropped.
    let a = w.get(ACME, "/login?return_to=%2F%2Fevil.test").await;
    assert!(a.body.contains("name=\"return_to\" value=\"\""));
}

#[tokio::test]
async fn a_stranger_learns_nothing_from_the_password_form() {
    let w = world();
    let unknown = w
        .post(
            ACME,
            "/login",
            &[("username", "nobody"), ("password", "Wrong-Password-1")],
        )
        .await;
    let wrong = w
        .post(
            ACME,
            "/login",
            &[("username", "nobody"), ("password", "Other-Password-2")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.without_csrf(), wrong.without_csrf());
    // The same username typed: a known person with a wrong password, a deactivated one.
    for (user, password) in [
        ("hank", "Wrong-Password-1"),
        ("dora", "Wrong-Password-1"),
        ("dora", "Right-Password-1"),
    ] {
        let known = w
            .post(
                ACME,
                "/login",
                &[("username", user), ("password", password)],
            )
            .await;
        let stranger = w
            .post(ACME, "/login", &[("username", user), ("password", "x")])
            .await;
        assert_eq!(known.status, StatusCode::UNAUTHORIZED, "{user}");
        assert_eq!(known.without_csrf(), stranger.without_csrf(), "{user}");
        assert!(known.body.contains("Incorrect username or password."));
        assert!(known.cookie("__Host-session").is_none());
    }
}

#[tokio::test]
async fn only_a_person_who_proved_the_password_learns_why_not() {
    let w = world();
    let a = w
        .post(
            ACME,
            "/login",
            &[("username", "uli"), ("password", "Right-Password-1")],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("no free licence for you"));
    assert!(a.cookie("__Host-session").is_none());
}

#[tokio::test]
async fn a_sign_in_sets_a_host_only_session_and_goes_home() {
    let w = world();
    let a = w
        .post(
            ACME,
            "/login",
            &[("username", "hank"), ("password", "Right-Password-1")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location(), "https://acme.app.example.com/");
    let session = a.cookie("__Host-session").expect("session cookie");
    assert_eq!(session, format!("id:{SAMPLE_POOL}:hank"));
    assert!(a.cookie("__Host-refresh").is_some());
    // Signed in on acme...
    let home = w
        .call(
            Method::GET,
            ACME,
            "/",
            &[("__Host-session", &session)],
            None,
        )
        .await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home
        .body
        .contains("You are signed in as <strong>hank</strong>"));
    // ...but the same cookie is nobody on globex.
    let other = w
        .call(
            Method::GET,
            GLOBEX,
            "/",
            &[("__Host-session", &session)],
            None,
        )
        .await;
    assert_eq!(other.status, StatusCode::SEE_OTHER);
    assert_eq!(other.location(), "/login");
    let login = w
        .call(
            Method::GET,
            GLOBEX,
            "/login",
            &[("__Host-session", &session)],
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Globex Inc") && !login.body.contains("hank"));
    // Garbage cookies are nobody.
    let junk = w
        .call(Method::GET, ACME, "/", &[("__Host-session", "junk")], None)
        .await;
    assert_eq!(junk.location(), "/login");
}

#[tokio::test]
async fn sign_in_goes_back_to_the_page_asked_for_or_to_the_app() {
    let w = world();
    let a = w
        .post(
            ACME,
            "/login",
            &[
                ("username", "hank"),
                ("password", "Right-Password-1"),
                ("return_to", "/projects/7?tab=2"),
            ],
        )
        .await;
    assert_eq!(
        a.location(),
        "https://acme.app.example.com/projects/7?tab=2"
    );
    for evil in [
        "//evil.test/x",
        "https://evil.test/",
        "/\\evil.test",
        "javascript:alert(1)",
    ] {
        let a = w
            .post(
                ACME,
                "/login",
                &[
                    ("username", "hank"),
                    ("password", "Right-Password-1"),
                    ("return_to", evil),
                ],
            )
            .await;
        assert_eq!(a.location(), "https://acme.app.example.com/", "{evil}");
    }
    let mut acme = sample_org();
    acme.sign_in.app_urls = vec!["https://portal.acme-app.test/home".into()];
    w.registry.insert_org(acme);
    let w2 = World {
        app: App {
            orgs: OrgCache::new(ORG_TTL),
            ..w.app
        },
        pools: w.pools,
        registry: w.registry,
        cognito: w.cognito,
        exchange: w.exchange,
    };
    let a = w2
        .post(
            ACME,
            "/login",
            &[("username", "hank"), ("password", "Right-Password-1")],
        )
        .await;
    assert_eq!(a.location(), "https://portal.acme-app.test/home");
    let a = w2
        .post(
            ACME,
            "/login",
            &[
                ("username", "hank"),
                ("password", "Right-Password-1"),
                ("return_to", "https://portal.acme-app.test/home/reports"),
            ],
        )
        .await;
    assert_eq!(a.location(), "https://portal.acme-app.test/home/reports");
    // A header break after an allowed prefix is never a redirect target (nor a panic).
    let broken = w2
        .post(
            ACME,
            "/login",
            &[
                ("username", "hank"),
                ("password", "Right-Password-1"),
                (
                    "return_to",
                    "https://portal.acme-app.test/home/\r\nSet-Cookie: x=1",
                ),
            ],
        )
        .await;
    assert_eq!(broken.status, StatusCode::SEE_OTHER);
    assert_eq!(broken.location(), "https://portal.acme-app.test/home");
    let page = w2.get(ACME, "/login").await;
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp");
    assert!(
        csp.contains("form-action 'self' https://portal.acme-app.test"),
        "{csp}"
    );
}

#[tokio::test]
async fn first_sign_in_sets_a_new_password_and_makes_the_person_active() {
    let w = world();
    let a = w
        .post(
            ACME,
            "/login",
            &[("username", "ivy"), ("password", "Temp-Password-1")],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    for needle in [
        "name=\"new_password\"",
        "name=\"confirm_password\"",
        "at least 12 characters",
        "value=\"session-ivy\"",
    ] {
        assert!(a.body.contains(needle), "missing {needle}");
    }
    let fields = |new: &'static str, again: &'static str| {
        vec![
            ("username", "ivy"),
            ("session", "session-ivy"),
            ("new_password", new),
            ("confirm_password", again),
        ]
    };
    let differ = w
        .post(
            ACME,
            "/login/new-password",
            &fields("Brand-New-Pass-1", "Brand-New-Pass-2"),
        )
        .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);
    assert!(differ.body.contains("not the same"));
    let weak = w
        .post(ACME, "/login/new-password", &fields("short", "short"))
        .await;
    assert!(weak
        .body
        .contains("Your password needs at least 12 characters."));
    assert_eq!(
        w.registry.stored_person("ivy").expect("ivy").status,
        PersonStatus::Invited
    );
    let ok = w
        .post(
            ACME,
            "/login/new-password",
            &fields("Brand-New-Pass-1", "Brand-New-Pass-1"),
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert!(ok.cookie("__Host-session").is_some());
    assert_eq!(
        w.registry.stored_person("ivy").expect("ivy").status,
        PersonStatus::Active
    );
    assert!(w
        .registry
        .audit_actions()
        .contains(&"person.first_login".to_owned()));
    let expired = w
        .post(
            ACME,
            "/login/new-password",
            &[
                ("username", "ivy"),
                ("session", "old"),
                ("new_password", "Brand-New-Pass-1"),
                ("confirm_password", "Brand-New-Pass-1"),
            ],
        )
        .await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(expired.body.contains("took too long"));
}

#[tokio::test]
async fn mfa_asks_for_the_code_and_sets_up_an_authenticator() {
    let w = world();
    let a = w
        .post(
            ACME,
            "/login",
            &[("username", "mia"), ("password", "Right-Password-1")],
        )
        .await;
    assert!(a.body.contains("name=\"code\""));
    let wrong = w
        .post(
            ACME,
            "/login/mfa",
            &[
                ("username", "mia"),
                ("session", "session-mia"),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let bad = w
        .post(
            ACME,
            "/login/mfa",
            &[
                ("username", "mia"),
                ("session", "session-mia"),
                ("code", "12ab"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let ok = w
        .post(
            ACME,
            "/login/mfa",
            &[
                ("username", "mia"),
                ("session", "session-mia"),
                ("code", "123456"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);

    let setup = w
        .post(
            ACME,
            "/login",
            &[("username", "max"), ("password", "Right-Password-1")],
        )
        .await;
    assert!(setup.body.contains("<svg"), "a QR code");
    assert!(setup.body.contains("JBSWY3DPEHPK3PXP"));
    assert!(setup.body.contains("value=\"session-max-2\""));
    let wrong = w
        .post(
            ACME,
            "/login/mfa-setup",
            &[
                ("username", "max"),
                ("session", "session-max-2"),
                ("secret", "JBSWY3DPEHPK3PXP"),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("<svg") && wrong.body.contains("not right"));
    let ok = w
        .post(
            ACME,
            "/login/mfa-setup",
            &[
                ("username", "max"),
                ("session", "session-max-2"),
                ("secret", "JBSWY3DPEHPK3PXP"),
                ("code", "654321"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert!(w
        .cognito
        .calls()
        .contains(&"totp-finish max session-max-2 654321".to_owned()));
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
async fn a_forgotten_password_gets_the_same_answer_for_anyone() {
    let w = world();
    let known = w
        .post(ACME, "/forgot-password", &[("username", "hank")])
        .await;
    let unknown = w
        .post(ACME, "/forgot-password", &[("username", "hank")])
        .await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(known.without_csrf(), unknown.without_csrf());
    assert!(known.body.contains("If you have an account here"));
    let confirm = |code: &'static str, new: &'static str| {
        vec![
            ("username", "hank"),
            ("code", code),
            ("new_password", new),
            ("confirm_password", new),
        ]
    };
    let wrong = w
        .post(
            ACME,
            "/forgot-password/confirm",
            &confirm("999999", "Brand-New-Pass-1"),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("wrong or has expired"));
    let weak = w
        .post(
            ACME,
            "/forgot-password/confirm",
            &confirm("111111", "weakpassword"),
        )
        .await;
    assert!(weak.body.contains("Your password needs"));
    let ok = w
        .post(
            ACME,
            "/forgot-password/confirm",
            &confirm("111111", "Brand-New-Pass-1"),
        )
        .await;
    assert_eq!(
        (ok.status, ok.location()),
        (StatusCode::SEE_OTHER, "/login?reset=1")
    );
    let page = w.get(ACME, "/login?reset=1").await;
    assert!(page.body.contains("Your password is changed"));
}

#[tokio::test]
async fn sign_out_revokes_the_refresh_token_and_clears_the_cookies() {
    let w = world();
    let a = w
        .call(
            Method::POST,
            ACME,
            "/logout",
            &[
                ("__Host-csrf", CSRF),
                ("__Host-session", "id:x:hank"),
                ("__Host-refresh", "refresh-hank"),
            ],
            Some(&[("csrf", CSRF)]),
        )
        .await;
    assert_eq!(
        (a.status, a.location()),
        (StatusCode::SEE_OTHER, "/login?signed_out=1")
    );
    assert_eq!(w.cognito.calls(), ["revoke refresh-hank"]);
    for name in ["__Host-session", "__Host-refresh"] {
        let set = a
            .cookies()
            .into_iter()
            .find(|c| c.starts_with(name))
            .expect("cleared");
        assert!(set.contains("Max-Age=0"), "{set}");
    }
    let page = w.get(ACME, "/login?signed_out=1").await;
    assert!(page.body.contains("You are signed out."));
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
async fn discovery_sends_a_person_to_their_organization_and_reveals_no_other() {
    let w = world();
    let page = w.get(BASE, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("name=\"identifier\""));
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp");
    assert!(
        csp.contains("form-action 'self' https://*.app.example.com"),
        "{csp}"
    );
    let a = w
        .post(BASE, "/", &[("identifier", "Hank@ACME.example")])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        a.location(),
        "https://acme.app.example.com/login?login_hint=hank%40acme.example"
    );
    for typed in ["acme", "ACME", "acme.app.example.com"] {
        let a = w.post(BASE, "/", &[("identifier", typed)]).await;
        assert_eq!(
            a.location(),
            "https://acme.app.example.com/login",
            "{typed}"
        );
    }
    // A deep link keeps its path.
    let deep = w.get(BASE, "/projects/42?tab=files").await;
    assert!(deep
        .body
        .contains("name=\"return_to\" value=\"/projects/42?tab=files\""));
    let a = w
        .post(
            BASE,
            "/",
            &[
                ("identifier", "hank@acme.example"),
                ("return_to", "/projects/42?tab=files"),
            ],
        )
        .await;
    assert_eq!(
        a.location(),
        "https://acme.app.example.com/login?login_hint=hank%40acme.example&return_to=%2Fprojects%2F42%3Ftab%3Dfiles"
    );
    // Nothing found: one neutral answer, whatever was typed.
    let neutral: Vec<Answer> = futures_join(
        &w,
        &[
            "someone@nowhere.example",
            "nowhere",
            "auth",
            "pending",
            "not an address@",
            "pending.example@x",
        ],
    )
    .await;
    for a in &neutral {
        assert_eq!(a.status, StatusCode::OK);
        assert!(a.body.contains("could not find your organization"));
        assert!(!a.body.contains("Acme") && !a.body.contains("Globex"));
    }
}

/// A domain claimed before proofs were required but still waiting for its DNS proof (an
/// admin's squat), and a public mail domain claimed all the same: discovery sends nobody to
/// that organization's login page, and shows the one neutral answer.
#[tokio::test]
async fn discovery_trusts_only_domains_in_use() {
    let w = world();
    let mut squatter = org("squat", "org-squat", "eu-west-1_Squat", "Squatter");
    squatter.email_domains = vec![
        shared::domain::EmailDomain::parse("victim.example").expect("domain"),
        shared::domain::EmailDomain::parse("gmail.com").expect("domain"),
    ];
    squatter.domain_proofs = vec![shared::domain::DomainProof::pending(
        &shared::domain::EmailDomain::parse("victim.example").expect("domain"),
    )];
    w.registry.insert_org(squatter.clone());
    for typed in ["ceo@victim.example", "someone@gmail.com"] {
        let a = w.post(BASE, "/", &[("identifier", typed)]).await;
        assert_eq!(a.status, StatusCode::OK, "{typed}");
        assert!(
            a.body.contains("could not find your organization"),
            "{typed}"
        );
        assert!(
            !a.body.contains("Squatter") && !a.body.contains("squat."),
            "{typed}"
        );
    }
    // Once proven, the same domain leads there.
    squatter.domain_proofs[0].verified_at = Some(1);
    w.registry.insert_org(squatter);
    let a = w
        .post(BASE, "/", &[("identifier", "ceo@victim.example")])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(a
        .location()
        .starts_with("https://squat.app.example.com/login"));
}

async fn futures_join(w: &World, typed: &[&str]) -> Vec<Answer> {
    let mut out = Vec::new();
    for t in typed {
        out.push(w.post(BASE, "/", &[("identifier", t)]).await);
    }
    out
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

#[tokio::test]
async fn sso_goes_to_the_organizations_cognito_domain_with_pkce_state_and_nonce() {
    let w = world();
    let mut acme = sample_org();
    acme.sign_in.providers = vec!["Microsoft".into(), "SignInWithApple".into()];
    w.registry.insert_org(acme);
    let page = w.get(ACME, "/login?return_to=%2Fprojects%2F9").await;
    assert!(
        page.body.contains(
            "href=\"/sso/Microsoft?return_to=%2Fprojects%2F9\">Sign in with Microsoft</a>"
        ),
        "{}",
        page.body
    );
    assert!(page.body.contains(">Sign in with Apple</a>"));
    assert!(
        page.body.contains("type=\"password\""),
        "password sign-in stays beside SSO"
    );
    assert_eq!(
        w.get(ACME, "/sso/Google").await.status,
        StatusCode::NOT_FOUND
    );
    let start = w
        .get(ACME, "/sso/microsoft?return_to=%2Fprojects%2F9")
        .await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    let url = start.location().to_owned();
    assert!(
        url.starts_with("https://acme-3a4b5c6d.auth.eu-west-1.amazoncognito.com/oauth2/authorize?"),
        "{url}"
    );
    let (state, nonce, verifier, _) = pending(&start);
    assert_eq!(query_of(&url, "identity_provider"), "Microsoft");
    assert_eq!(query_of(&url, "state"), state);
    assert_eq!(query_of(&url, "nonce"), nonce);
    assert_eq!(query_of(&url, "code_challenge"), pkce_challenge(&verifier));
    assert_eq!(query_of(&url, "code_challenge_method"), "S256");
    assert_eq!(
        query_of(&url, "redirect_uri"),
        "https://acme.app.example.com/oauth/callback"
    );
    let set = start
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-oauth"))
        .expect("cookie");
    assert!(
        set.contains("Max-Age=600") && set.contains("HttpOnly") && set.contains("Secure"),
        "{set}"
    );

    // Back from Cognito with the code: exchanged with the verifier, signed in.
    let cookie = start.cookie("__Host-oauth").expect("cookie");
    *w.exchange.id_token.lock().expect("token") = format!("id:{SAMPLE_POOL}:hank:{nonce}");
    let back = w
        .call(
            Method::GET,
            ACME,
            &format!("/oauth/callback?code=good&state={state}"),
            &[("__Host-oauth", &cookie)],
            None,
        )
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    assert_eq!(back.location(), "https://acme.app.example.com/projects/9");
    assert!(back.cookie("__Host-session").is_some());
    assert_eq!(
        back.cookie("__Host-oauth").as_deref(),
        Some(""),
        "the pending sign-in is cleared"
    );
    let sent = w.exchange.sent.lock().expect("sent").clone();
    assert_eq!(
        sent,
        [(
            "https://acme-3a4b5c6d.auth.eu-west-1.amazoncognito.com".to_owned(),
            "good".to_owned(),
            "https://acme.app.example.com/oauth/callback".to_owned(),
            verifier.clone()
        )]
    );
}

#[tokio::test]
async fn a_callback_that_is_not_ours_signs_nobody_in() {
    let w = world();
    let mut acme = sample_org();
    acme.sign_in.providers = vec!["Microsoft".into()];
    w.registry.insert_org(acme);
    let start = w.get(ACME, "/sso/Microsoft").await;
    let (state, nonce, _, _) = pending(&start);
    let cookie = start.cookie("__Host-oauth").expect("cookie");
    let callback = |path: String, with_cookie: bool| {
        let cookie = cookie.clone();
        let w = &w;
        async move {
            let cookies: Vec<(&str, &str)> = if with_cookie {
                vec![("__Host-oauth", cookie.as_str())]
            } else {
                vec![]
            };
            w.call(Method::GET, ACME, &path, &cookies, None).await
        }
    };
    *w.exchange.id_token.lock().expect("token") = format!("id:{SAMPLE_POOL}:hank:{nonce}");
    // No pending sign-in, another state, no code, a code the endpoint refuses.
    for (path, with_cookie, status) in [
        (
            format!("/oauth/callback?code=good&state={state}"),
            false,
            StatusCode::BAD_REQUEST,
        ),
        (
            "/oauth/callback?code=good&state=forged".to_owned(),
            true,
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/oauth/callback?state={state}"),
            true,
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/oauth/callback?code=bad&state={state}"),
            true,
            StatusCode::BAD_GATEWAY,
        ),
    ] {
        let a = callback(path.clone(), with_cookie).await;
        assert_eq!(a.status, status, "{path}");
        assert!(a.cookie("__Host-session").is_none(), "{path}");
    }
    // A token with another nonce, or of another pool.
    for token in [
        format!("id:{SAMPLE_POOL}:hank:other"),
        format!("id:{GLOBEX_POOL}:hank:{nonce}"),
    ] {
        *w.exchange.id_token.lock().expect("token") = token.clone();
        let a = callback(format!("/oauth/callback?code=good&state={state}"), true).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{token}");
        assert!(a.cookie("__Host-session").is_none());
    }
    // The provider's sign-in refused by a trigger: its words for the person.
    let a = callback(
        format!("/oauth/callback?error=access_denied&error_description={}&state={state}", crate::web::encode("PreSignUp failed with error Your Microsoft account does not confirm its e-mail address: ask your administrator to link it. ")),
        true,
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(
        a.body.contains("ask your administrator to link it."),
        "{}",
        a.body
    );
    let a = callback(
        format!("/oauth/callback?error=server_error&error_description=internal&state={state}"),
        true,
    )
    .await;
    assert!(a.body.contains("did not finish") && !a.body.contains("internal"));
}

/// A crafted callback link (no pending sign-in in this browser, or another state) carrying
/// an `error_description` that reads like a trigger's refusal: the state is checked first,
/// and the page is the one neutral "expired" page, with none of the link's words.
#[tokio::test]
async fn a_callback_without_our_state_shows_nothing_of_its_query() {
    let w = world();
    let mut acme = sample_org();
    acme.sign_in.providers = vec!["Microsoft".into()];
    w.registry.insert_org(acme);
    let start = w.get(ACME, "/sso/Microsoft").await;
    let (state, _, _, _) = pending(&start);
    let cookie = start.cookie("__Host-oauth").expect("cookie");
    let planted = crate::web::encode(
        "PreSignUp failed with error Your account moved: call +1 555 0100 to restore it. ",
    );
    let neutral = w
        .call(
            Method::GET,
            ACME,
            "/oauth/callback?code=good&state=forged",
            &[("__Host-oauth", &cookie)],
            None,
        )
        .await;
    for (path, cookies) in [
        (
            format!(
                "/oauth/callback?error=access_denied&error_description={planted}&state={state}"
            ),
            vec![],
        ),
        (
            format!("/oauth/callback?error=access_denied&error_description={planted}&state=forged"),
            vec![("__Host-oauth", cookie.as_str())],
        ),
        (
            format!("/oauth/callback?error=access_denied&error_description={planted}"),
            vec![("__Host-oauth", cookie.as_str())],
        ),
    ] {
        let a = w.call(Method::GET, ACME, &path, &cookies, None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            !a.body.contains("555") && !a.body.contains("moved"),
            "{path}: {}",
            a.body
        );
        assert!(a.body.contains("That sign-in expired"), "{}", a.body);
        // The same page, but for the form's fresh CSRF token.
        let masked = |body: &str| {
            body.lines()
                .filter(|l| !l.contains("name=\"csrf\""))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            masked(&a.body),
            masked(&neutral.body),
            "one neutral page: {path}"
        );
        assert!(a.cookie("__Host-session").is_none());
    }
}

/// The callback with the shared verifier itself, against ID tokens signed like Cognito's
/// (RS256, the pool's key by kid, the pool's issuer, the app client as audience).
mod real_verifier {
    use super::*;
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use shared::auth::{JwksSource, PoolDirectory, TokenUse, TokenVerifier};

    struct TestKeys;

    #[async_trait]
    impl JwksSource for TestKeys {
        async fn fetch(&self, _pool: &str) -> Result<JwkSet, String> {
            serde_json::from_str(include_str!("../../../shared/testdata/jwks.json"))
                .map_err(|e| e.to_string())
        }
    }

    struct Pools;

    #[async_trait]
    impl PoolDirectory for Pools {
        async fn app_client(&self, pool: &str) -> Result<Option<String>, shared::domain::Error> {
            Ok((pool == SAMPLE_POOL).then(|| sample_org().cognito.app_client_id.expect("client")))
        }
    }

    /// An ID token for the nonce of the sign-in under way.
    type TokenFor = Box<dyn Fn(&str) -> String>;

    fn id_token(nonce: &str, signing_key: &[u8], pool: &str) -> String {
        let now = shared::domain::now_epoch();
        let claims = serde_json::json!({
            "iss": format!("https://cognito-idp.eu-west-1.amazonaws.com/{pool}"),
            "aud": sample_org().cognito.app_client_id.expect("client"),
            "sub": "5f1c", "token_use": "id", "cognito:username": "hank",
            "nonce": nonce, "iat": now, "exp": now + 3600,
        });
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("kid-a".into());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(signing_key))
            .expect("signed")
    }

    #[tokio::test]
    async fn the_callback_accepts_only_the_pools_own_token_with_our_nonce() {
        let mut w = world();
        w.app.identify = Arc::new(
            TokenVerifier::new("eu-west-1", Arc::new(Pools), Arc::new(TestKeys))
                .accepting(&[TokenUse::Id]),
        );
        let mut acme = sample_org();
        acme.sign_in.providers = vec!["Microsoft".into()];
        w.registry.insert_org(acme);
        let key_a: &[u8] = include_bytes!("../../../shared/testdata/key-a.der");
        let key_b: &[u8] = include_bytes!("../../../shared/testdata/key-b.der");
        let cases: Vec<(TokenFor, bool, &str)> = vec![
            (
                Box::new(move |nonce| id_token(nonce, key_a, SAMPLE_POOL)),
                true,
                "the pool's own token",
            ),
            (
                Box::new(move |_| id_token("someone-elses-nonce", key_a, SAMPLE_POOL)),
                false,
                "another nonce",
            ),
            (
                Box::new(move |nonce| id_token(nonce, key_b, SAMPLE_POOL)),
                false,
                "signed with another key under kid-a",
            ),
            (
                Box::new(move |nonce| id_token(nonce, key_a, GLOBEX_POOL)),
                false,
                "another pool's issuer",
            ),
        ];
        for (token_for, accepted, case) in cases {
            let start = w.get(ACME, "/sso/Microsoft").await;
            let (state, nonce, _, _) = pending(&start);
            let cookie = start.cookie("__Host-oauth").expect("cookie");
            *w.exchange.id_token.lock().expect("token") = token_for(&nonce);
            let back = w
                .call(
                    Method::GET,
                    ACME,
                    &format!("/oauth/callback?code=good&state={state}"),
                    &[("__Host-oauth", &cookie)],
                    None,
                )
                .await;
            if accepted {
                assert_eq!(back.status, StatusCode::SEE_OTHER, "{case}: {}", back.body);
                let session = back.cookie("__Host-session").expect("a session");
                let home = w
                    .call(
                        Method::GET,
                        ACME,
                        "/",
                        &[("__Host-session", &session)],
                        None,
                    )
                    .await;
                assert!(
                    home.body.contains("signed in as <strong>hank</strong>"),
                    "{case}"
                );
            } else {
                assert_eq!(
                    back.status,
                    StatusCode::BAD_REQUEST,
                    "{case}: {}",
                    back.body
                );
                assert!(back.cookie("__Host-session").is_none(), "{case}");
            }
        }
    }
}

#[tokio::test]
async fn an_sso_only_organization_shows_its_providers_and_no_password_form() {
    let w = world();
    let page = w.get("hooli.app.example.com", "/login").await;
    assert!(page.body.contains(">Sign in with Microsoft</a>"));
    assert!(!page.body.contains("type=\"password\""));
    // Break-glass: the admins keep a password form (the trigger refuses anyone else's).
    let mut hooli = w
        .registry
        .org(&OrgId::from("org-hooli".to_owned()))
        .expect("hooli");
    hooli.sign_in.admins_keep_password = true;
    let w = world();
    w.registry.insert_org(hooli);
    let page = w.get("hooli.app.example.com", "/login").await;
    assert!(page.body.contains("type=\"password\""));
    assert!(page
        .body
        .contains("Password sign-in is for administrators only."));
    let a = w
        .post(
            "hooli.app.example.com",
            "/login",
            &[("username", "nobody"), ("password", "x")],
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::UNAUTHORIZED,
        "the password reaches Cognito"
    );
}

/// An invited person with an activation link; the token of the link.
fn invited_with_link(w: &World, expires_in: i64) -> (shared::domain::Person, String) {
    let mut lia = sample_person(
        "lia",
        "lia@acme.example",
        &["member"],
        PersonStatus::Invited,
    );
    let secret = "ab".repeat(32);
    lia.activation_link = Some(shared::domain::LinkToken {
        sha256: shared::domain::LinkToken::digest(&secret),
        expires_at: shared::domain::now_epoch() + expires_in,
    });
    w.registry.insert_person(lia.clone());
    let token = format!("{}.{secret}", lia.id);
    (lia, token)
}

#[tokio::test]
async fn an_activation_link_lets_the_person_choose_a_password_once() {
    let w = world();
    let (_, token) = invited_with_link(&w, 3600);
    let path = format!("/activate/{token}");
    let page = w.get(ACME, &path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Welcome, <strong>lia</strong>"));
    assert!(page.body.contains(&format!("action=\"{path}\"")));
    let differ = w
        .post(
            ACME,
            &path,
            &[
                ("new_password", "Brand-New-Pass-1"),
                ("confirm_password", "Brand-New-Pass-2"),
            ],
        )
        .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);
    let ok = w
        .post(
            ACME,
            &path,
            &[
                ("new_password", "Brand-New-Pass-1"),
                ("confirm_password", "Brand-New-Pass-1"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert!(ok.cookie("__Host-session").is_some());
    assert_eq!(w.pools.calls(), [format!("set_password {SAMPLE_POOL} lia")]);
    let lia = w.registry.stored_person("lia").expect("lia");
    assert_eq!(lia.status, PersonStatus::Active);
    assert!(lia.activation_link.is_none());
    assert!(w
        .registry
        .audit_actions()
        .contains(&"person.activation_link_used".to_owned()));
    // Once only.
    for again in [
        w.get(ACME, &path).await,
        w.post(
            ACME,
            &path,
            &[
                ("new_password", "Brand-New-Pass-1"),
                ("confirm_password", "Brand-New-Pass-1"),
            ],
        )
        .await,
    ] {
        assert_eq!(again.status, StatusCode::GONE);
        assert!(again.body.contains("already been used"));
    }
    assert_eq!(w.pools.calls().len(), 1);
}

#[tokio::test]
async fn expired_forged_and_foreign_activation_links_say_so() {
    let w = world();
    let (lia, token) = invited_with_link(&w, -1);
    let expired = w.get(ACME, &format!("/activate/{token}")).await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.body.contains("expired") && expired.body.contains("ask your administrator"));
    let posted = w
        .post(
            ACME,
            &format!("/activate/{token}"),
            &[
                ("new_password", "Brand-New-Pass-1"),
                ("confirm_password", "Brand-New-Pass-1"),
            ],
        )
        .await;
    assert_eq!(posted.status, StatusCode::GONE);
    let (_, token) = invited_with_link(&w, 3600);
    for bad in [
        format!("{}.{}", lia.id, "cd".repeat(32)),
        "garbage".to_owned(),
        format!("{}.short", lia.id),
        "per-00000000000000000000000000000000.".to_owned() + &"ab".repeat(32),
    ] {
        let a = w.get(ACME, &format!("/activate/{bad}")).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{bad}");
        assert!(a.body.contains("not valid"));
    }
    // acme's link on globex's subdomain is nobody's.
    let a = w.get(GLOBEX, &format!("/activate/{token}")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(w.pools.calls().is_empty());
}

#[tokio::test]
async fn a_new_address_is_confirmed_with_a_button_once() {
    let w = world();
    let mut hank = sample_person(
        "hank",
        "hank@acme.example",
        &["admin"],
        PersonStatus::Active,
    );
    hank.pending_email =
        Some(shared::domain::EmailAddress::parse("h.new@acme.example").expect("valid"));
    let secret = "cd".repeat(32);
    hank.email_link = Some(shared::domain::LinkToken {
        sha256: shared::domain::LinkToken::digest(&secret),
        expires_at: shared::domain::now_epoch() + 3600,
    });
    w.registry.insert_person(hank.clone());
    let path = format!("/confirm-email/{}.{secret}", hank.id);
    let page = w.get(ACME, &path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<strong>h.new@acme.example</strong>"));
    assert_eq!(
        w.registry
            .stored_person("hank")
            .expect("hank")
            .email
            .as_str(),
        "hank@acme.example",
        "opening the link confirms nothing"
    );
    let done = w.post(ACME, &path, &[]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done
        .body
        .contains("h.new@acme.example is now the e-mail address"));
    let stored = w.registry.stored_person("hank").expect("hank");
    assert_eq!(stored.email.as_str(), "h.new@acme.example");
    assert!(stored.pending_email.is_none());
    assert_eq!(
        w.pools.calls(),
        [format!("set_email {SAMPLE_POOL} hank h.new@acme.example")]
    );
    let again = w.post(ACME, &path, &[]).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert_eq!(w.get(GLOBEX, &path).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_new_username_is_confirmed_and_then_signs_in_to_the_same_login() {
    let w = world();
    let mut hank = sample_person(
        "hank",
        "hank@acme.example",
        &["admin"],
        PersonStatus::Active,
    );
    hank.pending_username = Some("henry".into());
    let secret = "ef".repeat(32);
    hank.email_link = Some(shared::domain::LinkToken {
        sha256: shared::domain::LinkToken::digest(&secret),
        expires_at: shared::domain::now_epoch() + 3600,
    });
    w.registry.insert_person(hank.clone());
    // While it is pending, the new name signs nobody in.
    let early = w
        .post(
            ACME,
            "/login",
            &[("username", "henry"), ("password", "Right-Password-1")],
        )
        .await;
    assert_eq!(early.status, StatusCode::UNAUTHORIZED);
    let path = format!("/confirm-email/{}.{secret}", hank.id);
    let page = w.get(ACME, &path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("signs in as <strong>henry</strong>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("new e-mail address of"));
    let done = w.post(ACME, &path, &[]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("you sign in as henry"), "{}", done.body);
    let stored = w.registry.stored_person("hank").expect("hank");
    assert_eq!(stored.preferred_username.as_deref(), Some("henry"));
    assert!(stored.pending_username.is_none() && stored.email_link.is_none());
    assert_eq!(stored.id, hank.id, "the same person");
    assert_eq!(
        w.pools.calls(),
        [format!("set_preferred_username {SAMPLE_POOL} hank henry")]
    );
    // The new name (any case) signs in to the same Cognito login.
    let signed = w
        .post(
            ACME,
            "/login",
            &[("username", "Henry"), ("password", "Right-Password-1")],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    assert!(signed.cookie("__Host-session").is_some());
    let calls = w.cognito.calls();
    let last = calls
        .iter()
        .rfind(|c| c.starts_with("password "))
        .expect("a sign-in");
    assert!(last.ends_with(" hank"), "{calls:?}");
    assert_eq!(w.post(ACME, &path, &[]).await.status, StatusCode::GONE);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Any Host and path: no panic; a redirect only to the host's own organization (or a
        /// relative path); a page of one organization only on its own host.
        #[test]
        fn any_host_and_path_stays_on_the_allowlist(
            host in prop_oneof![
                Just(ACME.to_owned()),
                Just(GLOBEX.to_owned()),
                Just(BASE.to_owned()),
                "[a-zA-Z0-9.:\\[\\]-]{0,80}",
                "[a-z]{1,10}\\.app\\.example\\.com(\\.[a-z]{1,5})?",
            ],
            path in prop_oneof![
                Just("/login".to_owned()),
                Just("/".to_owned()),
                "/[ -~]{0,60}",
            ],
            post in any::<bool>(),
            field in prop_oneof![
                "[ -~]{0,40}",
                // After an allowed app URL: anything, line breaks included.
                "https://portal\\.globex\\.example/[\\x00-\\x7f]{0,20}",
            ],
        ) {
            let w = world();
            let mut globex = w.registry.org(&OrgId::from("org-globex".to_owned())).expect("globex");
            globex.sign_in.app_urls = vec!["https://portal.globex.example/".into()];
            w.registry.insert_org(globex);
            let method = if post { Method::POST } else { Method::GET };
            let Ok(uri) = path.parse::<lambda_http::http::Uri>() else { return Ok(()) };
            let _ = uri;
            let a = block_on(async {
                if post {
                    w.post(&host, &path, &[("username", "hank"), ("password", "Right-Password-1"), ("return_to", &field), ("identifier", &field)]).await
                } else {
                    w.call(method, &host, &path, &[], None).await
                }
            });
            let location = a.location().to_owned();
            if !location.is_empty() {
                let allowed = location.starts_with('/') && !location.starts_with("//")
                    || location.starts_with("https://acme.app.example.com/")
                    || location.starts_with("https://globex.app.example.com/")
                    || location.starts_with("https://portal.globex.example/")
                        && host.to_ascii_lowercase().starts_with("globex.");
                prop_assert!(allowed, "{host} {path} -> {location}");
                if location.starts_with("https://acme.") {
                    prop_assert!(host.to_ascii_lowercase().starts_with("acme.") || host.to_ascii_lowercase().starts_with(BASE), "{host} -> {location}");
                }
            }
            let lower = host.to_ascii_lowercase();
            if a.body.contains("Acme Corporation") {
                prop_assert!(lower.starts_with("acme.app.example.com"), "{host}");
            }
            if a.body.contains("Globex Inc") {
                prop_assert!(lower.starts_with("globex.app.example.com"), "{host}");
            }
        }
    }
}

#[tokio::test]
async fn passwords_resets_and_discovery_are_limited_per_address_and_organization() {
    let w = world();
    let limits = w.app.limits;
    let retry_after = |a: &Answer| {
        a.headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    // One address guessing passwords: Cognito sees each attempt with the person's address,
    // until the address's limit; then a page that says so, and no Cognito call.
    for _ in 0..limits.password.per_address {
        let a = w
            .post_from(
                "203.0.113.5",
                ACME,
                "/login",
                &[("username", "hank"), ("password", "wrong")],
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let before = w.cognito.calls().len();
    let limited = w
        .post_from(
            "203.0.113.5",
            ACME,
            "/login",
            &[("username", "hank"), ("password", "wrong")],
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited.body.contains("Too many attempts"),
        "{}",
        limited.body
    );
    assert!(limited.body.contains("name=\"password\""), "the form again");
    let wait = retry_after(&limited).expect("Retry-After");
    assert!((1..=limits.window_secs).contains(&wait), "{wait}");
    assert_eq!(w.cognito.calls().len(), before, "Cognito not asked");
    let contexts = w.cognito.contexts.lock().expect("contexts").clone();
    assert!(contexts
        .iter()
        .all(|c| c.ip_address.as_deref() == Some("203.0.113.5")));
    // Another address of the same organization still signs in; an IPv6 neighbour in the
    // same /64 counts as the same address.
    let other = w
        .post_from(
            "198.51.100.7",
            ACME,
            "/login",
            &[("username", "hank"), ("password", "wrong")],
        )
        .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
    for i in 0..=limits.password.per_address {
        let a = w
            .post_from(
                &format!("2001:db8:0:1::{i:x}"),
                ACME,
                "/login",
                &[("username", "hank"), ("password", "wrong")],
            )
            .await;
        let expected = if i < limits.password.per_address {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(a.status, expected, "attempt {i}");
    }

    // Reset codes are mail: fewer per address, with the device data when the page sent it.
    for _ in 0..limits.forgot_password.per_address {
        let a = w
            .post_from(
                "203.0.113.6",
                ACME,
                "/forgot-password",
                &[("username", "hank"), ("user_context_data", "device")],
            )
            .await;
        assert_eq!(a.status, StatusCode::OK);
    }
    let last = w.cognito.contexts.lock().expect("contexts").last().cloned();
    assert_eq!(
        last,
        Some(UserContext {
            ip_address: Some("203.0.113.6".into()),
            encoded_data: Some("device".into())
        })
    );
    let limited = w
        .post_from(
            "203.0.113.6",
            ACME,
            "/forgot-password",
            &[("username", "hank")],
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&limited).is_some());
    assert!(
        limited.body.contains("Too many attempts"),
        "{}",
        limited.body
    );

    // Discovery on the main domain.
    for _ in 0..limits.discovery.per_address {
        let a = w
            .post_from(
                "203.0.113.8",
                "app.example.com",
                "/",
                &[("identifier", "nobody@unknown.example")],
            )
            .await;
        assert_eq!(a.status, StatusCode::OK);
    }
    let limited = w
        .post_from(
            "203.0.113.8",
            "app.example.com",
            "/",
            &[("identifier", "nobody@unknown.example")],
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&limited).is_some());
}

#[tokio::test]
async fn an_organization_under_attack_does_not_take_the_others_quota() {
    let mut w = world();
    w.app.limits.password.per_organization = 5;
    for i in 0..5 {
        let a = w
            .post_from(
                &format!("198.51.100.{i}"),
                ACME,
                "/login",
                &[("username", "hank"), ("password", "wrong")],
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let limited = w
        .post_from(
            "198.51.100.99",
            ACME,
            "/login",
            &[("username", "hank"), ("password", "wrong")],
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    // The organization's counter is its own: another organization's people are not limited.
    let other = w
        .post_from(
            "198.51.100.99",
            "globex.app.example.com",
            "/login",
            &[("username", "hank"), ("password", "wrong")],
        )
        .await;
    assert_ne!(
        other.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        other.body
    );
}

#[tokio::test]
async fn a_strangers_reset_request_does_not_lock_a_lazy_person_out() {
    use shared::domain::migration::LegacyHash;
    use shared::domain::ports::LegacyPasswords;
    use shared::testing::legacy_hashes::{BCRYPT, PASSWORD};
    let w = world();
    w.registry.insert_org(shared::testing::sample_lazy_org());
    let leo = sample_person("leo", "leo@acme.example", &["member"], PersonStatus::Active);
    w.registry
        .put_legacy_hash(&leo.org_id, "leo", &LegacyHash::new(BCRYPT))
        .await
        .expect("stored");
    w.registry.insert_person(leo);
    // A wrong password at the waiting login: the one answer, nothing set.
    let wrong = w
        .post(
            ACME,
            "/login",
            &[("username", "leo"), ("password", "not-it")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Incorrect username or password."));
    assert!(!w
        .pools
        .calls()
        .iter()
        .any(|c| c.starts_with("set_password")));
    // The legacy password: it becomes the login's, and leo is signed in.
    let right = w
        .post(
            ACME,
            "/login",
            &[("username", "leo"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.body);
    assert!(right.cookie("__Host-session").is_some());
    assert!(w
        .pools
        .calls()
        .iter()
        .any(|c| c == &format!("set_password {SAMPLE_POOL} leo")));
}
