//! The router: the `Host` names the site (see [`crate::host`]); the main domain finds a
//! person's organization, each organization's subdomain serves its own login pages against
//! its own pool.
//!
//! Enumeration: every answer a stranger can provoke on the password form (unknown username,
//! wrong password, disabled login, wrong legacy password) is the same page with the same
//! status; only what Cognito's triggers say after the password was verified, and what holds
//! for the whole organization (suspended, SSO only), is shown in words.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use async_trait::async_trait;
use lambda_http::http::{header, Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use shared::auth::oauth::{self, CodeExchange};
use shared::aws::signin::trigger_message;
use shared::cache::OrgCache;
use shared::domain::activation::{activation_link_state, use_activation_link, LinkState};
use shared::domain::attempts::{check_attempt, Attempt, AttemptLimits, TooManyAttempts};
use shared::domain::email_change::{confirm_email_change, email_link_state};
use shared::domain::lazy_migration::restore_legacy_password;
use shared::domain::ports::{
    AttemptCounter, LegacyPasswords, Registry, SignInRefusal, SignInStep, SignInTokens,
    UserContext, UserPools, UserSignIn,
};
use shared::domain::signin::record_first_login;
use shared::domain::{
    password, EmailAddress, EmailDomain, MfaMode, OrgStatus, Organization, PersonStatus, Subdomain,
};

use crate::host::{site, Site};
use crate::pages::{self, Shell};
use crate::web::{self, Form, Page};

/// Who a session cookie names, once its ID token verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub pool_id: String,
    pub username: String,
    /// The ID token's `nonce`, for OAuth sign-ins.
    pub nonce: Option<String>,
}

/// Verifies an ID token fully (the shared verifier); the reason of a refusal is for the log.
#[async_trait]
pub trait Identify: Send + Sync {
    async fn identify(&self, id_token: &str) -> Result<Identity, String>;
}

/// How the router's own URLs are built: always from a validated label and these.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Lower-case, such as `app.example.com`.
    pub base_domain: String,
    /// `https`, or `http` for a local base domain (`*.localhost`) only.
    pub scheme: &'static str,
    /// A port for local runs (`acme.app.localhost:9000`); none in production.
    pub port: Option<u16>,
    pub region: String,
    /// The product's name, on the main domain's pages.
    pub product: String,
}

impl Settings {
    fn port_suffix(&self) -> String {
        self.port.map(|p| format!(":{p}")).unwrap_or_default()
    }

    /// `https://<sub>.<base>`.
    pub fn origin(&self, sub: &Subdomain) -> String {
        format!(
            "{}://{}.{}{}",
            self.scheme,
            sub,
            self.base_domain,
            self.port_suffix()
        )
    }

    /// Every organization's origin, as a CSP source.
    fn any_org_origin(&self) -> String {
        format!(
            "{}://*.{}{}",
            self.scheme,
            self.base_domain,
            self.port_suffix()
        )
    }
}

/// How long an organization read by its subdomain is kept (the default of
/// `ORG_CACHE_SECONDS`): a suspension or a settings change reaches the pages within this.
pub const ORG_TTL: Duration = Duration::from_secs(30);
const ACTOR: &str = "auth-router";
const MAX_USERNAME: usize = 256;
const MAX_PASSWORD: usize = 256;
const MAX_SESSION: usize = 4096;
/// Cognito's encoded device data (its own limit is 128 KiB; the script's is a few KiB).
const MAX_CONTEXT_DATA: usize = 16 * 1024;

const INCORRECT: &str = "Incorrect username or password.";
const TOO_MANY: &str = "Too many attempts. Wait a few minutes, then try again.";
const EXPIRED: &str = "That took too long. Please sign in again.";

pub struct App {
    pub registry: Arc<dyn Registry>,
    pub cognito: Arc<dyn UserSignIn>,
    /// Setting a password chosen with an activation link (AdminSetUserPassword).
    pub pools: Arc<dyn UserPools>,
    pub identify: Arc<dyn Identify>,
    /// The token endpoint of the organizations' Cognito domains (SSO).
    pub oauth: Arc<dyn CodeExchange>,
    pub settings: Settings,
    pub orgs: OrgCache,
    /// Counts password, forgotten-password and discovery attempts (the registry table).
    pub attempts: Arc<dyn AttemptCounter>,
    /// Legacy password hashes of lazily migrated people (the registry table).
    pub legacy: Arc<dyn LegacyPasswords>,
    pub limits: AttemptLimits,
}

/// One request, read once.
struct Call {
    method: Method,
    path: String,
    query: Option<String>,
    headers: lambda_http::http::HeaderMap,
    body: Vec<u8>,
    /// The browser's address as API Gateway saw it (never from a header).
    source_ip: Option<String>,
}

impl Call {
    fn of(request: Request) -> Self {
        let source_ip = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
            #[allow(unreachable_patterns)]
            _ => None,
        };
        let (parts, body) = request.into_parts();
        let body = match body {
            Body::Empty => Vec::new(),
            Body::Text(t) => t.into_bytes(),
            Body::Binary(b) => b,
            _ => Vec::new(),
        };
        Self {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers,
            body,
            source_ip,
        }
    }

    /// Who is asking, for Cognito's threat protection: the address, and the device data
    /// of Cognito's collection script when the form carries it.
    fn user_context(&self, form: &Form) -> UserContext {
        UserContext {
            ip_address: self.source_ip.clone(),
            encoded_data: form
                .text("user_context_data", MAX_CONTEXT_DATA)
                .map(str::to_owned),
        }
    }

    fn form(&self) -> Option<Form> {
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        Form::parse(content_type, &self.body)
    }

    fn query(&self, name: &str) -> Option<String> {
        web::query_param(self.query.as_deref(), name)
    }
}

/// The organization's page context: its name and look, and the CSRF token of this visitor.
struct Ctx<'a> {
    org: &'a Organization,
    csrf: String,
    set_csrf: Option<String>,
    form_targets: Vec<String>,
}

impl Ctx<'_> {
    fn shell(&self, title: &'static str) -> Shell {
        Shell {
            title,
            brand: brand_name(self.org),
            logo: self.org.branding.logo().map(str::to_owned),
            csrf: self.csrf.clone(),
        }
    }

    fn page(&self, status: StatusCode, html: String, mut cookies: Vec<String>) -> Response<Body> {
        if let Some(set) = &self.set_csrf {
            cookies.push(set.clone());
        }
        web::html(Page {
            status,
            html,
            cookies,
            form_targets: self.form_targets.clone(),
        })
    }
}

fn brand_name(org: &Organization) -> String {
    org.display_name().to_owned()
}

fn render<T: Template>(page: &T) -> String {
    page.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "a page failed to render");
        "<!doctype html><title>Error</title><p>Something went wrong. Please try again.</p>".into()
    })
}

/// The origin (`scheme://host[:port]`) of an `https://` app URL.
fn url_origin(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://")?;
    let end = rest.find('/').unwrap_or(rest.len());
    let host = &rest[..end];
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':');
    ok.then(|| &url[..8 + end])
}

/// The organization's app URLs that are well-formed `https://` URLs.
fn app_urls(org: &Organization) -> impl Iterator<Item = &str> {
    org.sign_in
        .app_urls
        .iter()
        .map(String::as_str)
        .filter(|u| match url_origin(u) {
            Some(origin) => {
                let rest = &u[origin.len()..];
                rest.is_empty() || web::local_path(rest).is_some()
            }
            None => false,
        })
}

impl App {
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let call = Call::of(request);
        let host = call
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let Some(site) = site(host, &self.settings.base_domain) else {
            return web::not_found();
        };
        match site {
            Site::Main => self.main_site(&call).await,
            Site::Org(sub) => match self.organization(&sub).await {
                Ok(Some(org)) if org.status != OrgStatus::Provisioning => {
                    self.org_site(&org, &call).await
                }
                Ok(_) => web::not_found(),
                Err(e) => {
                    tracing::error!(error = %e, "the registry failed");
                    unavailable()
                }
            },
        }
    }

    async fn organization(
        &self,
        sub: &Subdomain,
    ) -> Result<Option<Organization>, shared::domain::Error> {
        let key = format!("sub:{sub}");
        if let Some(org) = self.orgs.get(&key) {
            return Ok(Some(org));
        }
        // Made-up subdomains cost one read per cache period, not one per request.
        if self.orgs.is_missing(&key) {
            return Ok(None);
        }
        let org = self.registry.organization_by_subdomain(sub).await?;
        match &org {
            Some(org) => self.orgs.put(&key, org.clone()),
            None => self.orgs.put_missing(&key),
        }
        Ok(org)
    }

    // ---- the main domain ----

    async fn main_site(&self, call: &Call) -> Response<Body> {
        if call.method == Method::GET && call.path == "/assets/site.css" {
            return stylesheet();
        }
        let (csrf, set_csrf) = web::csrf_token(&call.headers);
        let page = |status: StatusCode,
                    error: Option<&'static str>,
                    identifier: String,
                    return_to: String| {
            let html = render(&pages::Discover {
                shell: Shell {
                    title: "Find your organization",
                    brand: self.settings.product.clone(),
                    logo: None,
                    csrf: csrf.clone(),
                },
                error,
                identifier,
                return_to,
                base_domain: self.settings.base_domain.clone(),
            });
            web::html(Page {
                status,
                html,
                cookies: set_csrf.iter().cloned().collect(),
                form_targets: vec![self.settings.any_org_origin()],
            })
        };
        match call.method {
            Method::GET | Method::HEAD => {
                // A deep link keeps its path through discovery and sign-in.
                let full = match &call.query {
                    Some(q) => format!("{}?{q}", call.path),
                    None => call.path.clone(),
                };
                let return_to = web::local_path(&full)
                    .filter(|p| *p != "/")
                    .unwrap_or_default()
                    .to_owned();
                page(StatusCode::OK, None, String::new(), return_to)
            }
            Method::POST => {
                let Some(form) = call.form().filter(|f| web::csrf_ok(&call.headers, f)) else {
                    return page(
                        StatusCode::FORBIDDEN,
                        Some("This form has expired. Please try again."),
                        String::new(),
                        String::new(),
                    );
                };
                let return_to = form
                    .get("return_to")
                    .and_then(web::local_path)
                    .unwrap_or_default()
                    .to_owned();
                let Some(identifier) = form.text("identifier", 320) else {
                    return page(
                        StatusCode::BAD_REQUEST,
                        Some("Enter your work e-mail address or your organization's name."),
                        String::new(),
                        return_to,
                    );
                };
                if let Err(too_many) = self.allowed(call, Attempt::Discovery, None).await {
                    return with_retry_after(
                        page(
                            StatusCode::TOO_MANY_REQUESTS,
                            Some(TOO_MANY),
                            identifier.to_owned(),
                            return_to,
                        ),
                        too_many,
                    );
                }
                match self.discover(identifier).await {
                    Ok(Some((org, hint))) => {
                        let mut url = format!("{}/login", self.settings.origin(&org.subdomain));
                        let mut sep = '?';
                        if let Some(hint) = hint {
                            url.push_str(&format!("{sep}login_hint={}", web::encode(&hint)));
                            sep = '&';
                        }
                        if !return_to.is_empty() {
                            url.push_str(&format!("{sep}return_to={}", web::encode(&return_to)));
                        }
                        web::redirect(&url, &set_csrf.iter().cloned().collect::<Vec<_>>())
                    }
                    Ok(None) => page(
                        StatusCode::OK,
                        Some("We could not find your organization from that. Check what you typed, or ask your administrator for your organization's sign-in address."),
                        identifier.to_owned(),
                        return_to,
                    ),
                    Err(e) => {
                        tracing::error!(error = %e, "discovery failed");
                        unavailable()
                    }
                }
            }
            _ => web::not_found(),
        }
    }

    /// The organization `identifier` (an e-mail address or a subdomain) leads to, and the
    /// login hint to carry.
    async fn discover(
        &self,
        identifier: &str,
    ) -> Result<Option<(Organization, Option<String>)>, shared::domain::Error> {
        let identifier = identifier.trim().to_ascii_lowercase();
        if identifier.contains('@') {
            let Ok(address) = EmailAddress::parse(&identifier) else {
                return Ok(None);
            };
            let Ok(domain) = EmailDomain::parse(address.domain()) else {
                return Ok(None);
            };
            // A public mail domain is nobody's; an organization's domain counts only once it
            // uses it (proven, or the operator's word): a claim left from before proofs were
            // required sends nobody anywhere.
            if domain.is_public_mail() {
                return Ok(None);
            }
            let org = self.registry.organization_by_email_domain(&domain).await?;
            return Ok(org
                .filter(|o| o.status != OrgStatus::Provisioning && o.uses_domain(domain.as_str()))
                .map(|o| (o, Some(address.as_str().to_owned()))));
        }
        let label = identifier.trim_end_matches('.');
        let label = label
            .strip_suffix(&format!(".{}", self.settings.base_domain))
            .unwrap_or(label);
        let Ok(sub) = Subdomain::parse(label) else {
            return Ok(None);
        };
        Ok(self
            .organization(&sub)
            .await?
            .filter(|o| o.status != OrgStatus::Provisioning)
            .map(|o| (o, None)))
    }

    // ---- an organization's subdomain ----

    async fn org_site(&self, org: &Organization, call: &Call) -> Response<Body> {
        let method = &call.method;
        let path = call.path.as_str();
        if method == Method::GET {
            match path {
                "/assets/theme.css" => return theme(org),
                "/assets/site.css" => return stylesheet(),
                "/.well-known/auth-config" => return self.auth_config(org),
                _ => {}
            }
        }
        let (csrf, set_csrf) = web::csrf_token(&call.headers);
        let ctx = Ctx {
            org,
            csrf,
            set_csrf,
            form_targets: app_urls(org)
                .filter_map(url_origin)
                .map(str::to_owned)
                .collect(),
        };
        // Said openly, before any password is asked.
        if org.status == OrgStatus::Suspended {
            return self.message(
                &ctx,
                StatusCode::FORBIDDEN,
                "Access suspended",
                format!(
                    "{}'s access is suspended. Please contact your administrator.",
                    brand_name(org)
                ),
                None,
            );
        }
        // Migrated from the legacy store but not switched yet (or rolled back): its people
        // still sign in at the legacy sign-in, and no password is asked here.
        if org.sign_in.migration.as_ref().is_some_and(|m| !m.switched) {
            return self.message(
                &ctx,
                StatusCode::OK,
                "Sign-in is not here yet",
                format!(
                    "{}'s sign-in has not moved to this page yet. Please keep signing in where you did before; your administrator will tell you when to use this page.",
                    brand_name(org)
                ),
                None,
            );
        }
        let is_post = method == Method::POST;
        let form =
            if is_post {
                match call.form().filter(|f| web::csrf_ok(&call.headers, f)) {
                    Some(form) => Some(form),
                    None => return self.message(
                        &ctx,
                        StatusCode::FORBIDDEN,
                        "Please try again",
                        "This form has expired or did not come from this page. Please try again."
                            .into(),
                        Some(("/login".into(), "Back to sign-in".into())),
                    ),
                }
            } else {
                None
            };
        match (
            is_post,
            method == Method::GET || method == Method::HEAD,
            path,
            form,
        ) {
            (_, true, "/", _) => self.home(&ctx, call).await,
            (_, true, "/login", _) => self.login_page(&ctx, call).await,
            (true, _, "/login", Some(form)) => self.password(&ctx, call, &form).await,
            (true, _, "/login/new-password", Some(form)) => self.new_password(&ctx, &form).await,
            (true, _, "/login/mfa", Some(form)) => self.mfa_code(&ctx, &form).await,
            (true, _, "/login/mfa-setup", Some(form)) => self.mfa_setup(&ctx, &form).await,
            (_, true, "/forgot-password", _) => {
                let username = call
                    .query("login_hint")
                    .filter(|u| u.chars().count() <= MAX_USERNAME)
                    .unwrap_or_default();
                self.forgot_page(&ctx, StatusCode::OK, None, username)
            }
            (true, _, "/forgot-password", Some(form)) => self.forgot(&ctx, call, &form).await,
            (true, _, "/forgot-password/confirm", Some(form)) => {
                self.forgot_confirm(&ctx, &form).await
            }
            (true, _, "/logout", Some(_)) => self.logout(org, call).await,
            (_, true, "/oauth/callback", _) => self.sso_callback(&ctx, call).await,
            (_, true, p, _) if p.starts_with("/confirm-email/") => {
                self.confirm_email_page(&ctx, &p[15..]).await
            }
            (true, _, p, Some(_)) if p.starts_with("/confirm-email/") => {
                self.confirm_email(&ctx, &p[15..]).await
            }
            (_, true, p, _) if p.starts_with("/activate/") => {
                self.activate_page(&ctx, &p[10..]).await
            }
            (true, _, p, Some(form)) if p.starts_with("/activate/") => {
                self.activate(&ctx, &p[10..], &form).await
            }
            (_, true, p, _) if p.starts_with("/sso/") => self.sso_start(&ctx, &p[5..], call),
            _ => web::not_found(),
        }
    }

    fn auth_config(&self, org: &Organization) -> Response<Body> {
        let mfa = match org.mfa {
            MfaMode::Off => "off",
            MfaMode::Optional => "optional",
            MfaMode::Required => "required",
        };
        let body = serde_json::json!({
            "region": self.settings.region,
            "user_pool_id": org.cognito.user_pool_id,
            "client_id": org.cognito.app_client_id,
            "providers": org.sign_in.providers,
            "mfa": mfa,
        });
        let mut response = web::text(
            StatusCode::OK,
            "application/json",
            body.to_string(),
            "public, max-age=300",
        );
        response.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            lambda_http::http::HeaderValue::from_static("*"),
        );
        response
    }

    fn message(
        &self,
        ctx: &Ctx<'_>,
        status: StatusCode,
        title: &'static str,
        text: String,
        link: Option<(String, String)>,
    ) -> Response<Body> {
        let html = render(&pages::Message {
            shell: ctx.shell(title),
            text,
            alert: status.is_client_error() || status.is_server_error(),
            link,
        });
        ctx.page(status, html, Vec::new())
    }

    /// The person of a valid session cookie of THIS organization's pool.
    async fn session(&self, org: &Organization, call: &Call) -> Option<Identity> {
        let token = web::cookie(&call.headers, web::SESSION)?;
        match self.identify.identify(&token).await {
            Ok(id) if org.cognito.user_pool_id.as_deref() == Some(id.pool_id.as_str()) => Some(id),
            Ok(id) => {
                tracing::warn!(org_id = %org.id, pool_id = %id.pool_id, "a session of another organization's pool");
                None
            }
            Err(reason) => {
                tracing::info!(%reason, "session cookie refused");
                None
            }
        }
    }

    async fn home(&self, ctx: &Ctx<'_>, call: &Call) -> Response<Body> {
        match self.session(ctx.org, call).await {
            Some(id) => {
                let html = render(&pages::SignedIn {
                    shell: ctx.shell("You are signed in"),
                    username: id.username,
                });
                ctx.page(StatusCode::OK, html, Vec::new())
            }
            None => web::redirect("/login", &[]),
        }
    }

    /// A link that cannot be used (any more), said in words, with a way on.
    fn link_refused(&self, ctx: &Ctx<'_>, state: LinkState) -> Response<Body> {
        let (status, title, text) = match state {
            LinkState::Used => (StatusCode::GONE, "Link already used", "This activation link has already been used. Sign in with the password you chose, or ask your administrator to send you a new link."),
            LinkState::Expired => (StatusCode::GONE, "Link expired", "This activation link has expired. Please ask your administrator to send you a new one."),
            LinkState::Valid(_) | LinkState::Unknown => (StatusCode::NOT_FOUND, "Link not valid", "This activation link is not valid here. Check that you opened the whole link from the mail, or ask your administrator to send you a new one."),
        };
        self.message(
            ctx,
            status,
            title,
            text.into(),
            Some(("/login".into(), "Go to sign-in".into())),
        )
    }

    fn activate_form(
        &self,
        ctx: &Ctx<'_>,
        status: StatusCode,
        error: Option<String>,
        username: String,
        token: &str,
    ) -> Response<Body> {
        let html = render(&pages::Activate {
            shell: ctx.shell("Activate your account"),
            error,
            username,
            action: format!("/activate/{token}"),
            rules: password::RULES,
        });
        ctx.page(status, html, Vec::new())
    }

    /// `GET /activate/<token>`: the link of a `link` invitation, for this organization only.
    async fn activate_page(&self, ctx: &Ctx<'_>, token: &str) -> Response<Body> {
        match activation_link_state(self.registry.as_ref(), ctx.org, token).await {
            Ok(LinkState::Valid(person)) => {
                self.activate_form(ctx, StatusCode::OK, None, person.username, token)
            }
            Ok(state) => self.link_refused(ctx, state),
            Err(e) => {
                tracing::error!(error = %e, "reading an activation link failed");
                unavailable()
            }
        }
    }

    /// `POST /activate/<token>`: the chosen password becomes the login's, the link is spent,
    /// and the person is signed in (and recorded active) as after any sign-in.
    async fn activate(&self, ctx: &Ctx<'_>, token: &str, form: &Form) -> Response<Body> {
        let person = match activation_link_state(self.registry.as_ref(), ctx.org, token).await {
            Ok(LinkState::Valid(person)) => *person,
            Ok(state) => return self.link_refused(ctx, state),
            Err(e) => {
                tracing::error!(error = %e, "reading an activation link failed");
                return unavailable();
            }
        };
        let new = match Self::chosen_password(form) {
            Ok(p) => p,
            Err(error) => {
                return self.activate_form(
                    ctx,
                    StatusCode::BAD_REQUEST,
                    Some(error),
                    person.username,
                    token,
                )
            }
        };
        let person = match use_activation_link(
            self.registry.as_ref(),
            self.pools.as_ref(),
            ctx.org,
            token,
            &new,
        )
        .await
        {
            Ok(Ok(person)) => person,
            Ok(Err(state)) => return self.link_refused(ctx, state),
            Err(e) => {
                tracing::error!(error = %e, "using an activation link failed");
                return unavailable();
            }
        };
        let Some(client) = self.app_client(ctx.org) else {
            return unavailable();
        };
        match self
            .cognito
            .password_sign_in(client, &person.username, &new, &UserContext::default())
            .await
        {
            Ok(step) => {
                self.next_step(ctx, step, person.username, String::new())
                    .await
            }
            Err(refusal) => self.refused(ctx, refusal, person.username, String::new()),
        }
    }

    fn email_link_refused(&self, ctx: &Ctx<'_>, state: LinkState) -> Response<Body> {
        let (status, title, text) = match state {
            LinkState::Used => (StatusCode::GONE, "Link already used", "This confirmation link has already been used, or a newer one replaced it. Sign in, or ask your administrator to change your address again."),
            LinkState::Expired => (StatusCode::GONE, "Link expired", "This confirmation link has expired. Please ask your administrator to change your address again."),
            LinkState::Valid(_) | LinkState::Unknown => (StatusCode::NOT_FOUND, "Link not valid", "This confirmation link is not valid here. Check that you opened the whole link from the mail."),
        };
        self.message(
            ctx,
            status,
            title,
            text.into(),
            Some(("/login".into(), "Go to sign-in".into())),
        )
    }

    /// `GET /confirm-email/<token>`: a button, so that a mail scanner opening the link
    /// confirms nothing.
    async fn confirm_email_page(&self, ctx: &Ctx<'_>, token: &str) -> Response<Body> {
        match email_link_state(self.registry.as_ref(), ctx.org, token).await {
            Ok(LinkState::Valid(person)) => {
                let title = match (&person.pending_username, &person.pending_email) {
                    (Some(_), None) => "Confirm your new username",
                    (Some(_), Some(_)) => "Confirm your new username and e-mail address",
                    _ => "Confirm your new e-mail address",
                };
                let html = render(&pages::ConfirmEmail {
                    shell: ctx.shell(title),
                    username: person.sign_in_name().to_owned(),
                    new_email: person.pending_email.map(|e| e.to_string()),
                    new_username: person.pending_username,
                    action: format!("/confirm-email/{token}"),
                });
                ctx.page(StatusCode::OK, html, Vec::new())
            }
            Ok(state) => self.email_link_refused(ctx, state),
            Err(e) => {
                tracing::error!(error = %e, "reading a confirmation link failed");
                unavailable()
            }
        }
    }

    /// `POST /confirm-email/<token>`: the login and the record take the new address.
    async fn confirm_email(&self, ctx: &Ctx<'_>, token: &str) -> Response<Body> {
        match confirm_email_change(self.registry.as_ref(), self.pools.as_ref(), ctx.org, token)
            .await
        {
            Ok(Ok(person)) => self.message(
                ctx,
                StatusCode::OK,
                "Change confirmed",
                format!(
                    "{} is now the e-mail address of your account, and you sign in as {}. You can sign in again.",
                    person.email,
                    person.sign_in_name()
                ),
                Some(("/login".into(), "Sign in".into())),
            ),
            Ok(Err(state)) => self.email_link_refused(ctx, state),
            Err(e) => {
                tracing::error!(error = %e, "confirming an e-mail address failed");
                unavailable()
            }
        }
    }

    /// The SSO buttons: each provider enabled for the organization, once its pool has the
    /// Cognito domain SSO goes through.
    fn providers(&self, org: &Organization, return_to: &str) -> Vec<(String, String)> {
        if org.cognito.domain_prefix.is_none() {
            return Vec::new();
        }
        let suffix = if return_to.is_empty() {
            String::new()
        } else {
            format!("?return_to={}", web::encode(return_to))
        };
        org.sign_in
            .providers
            .iter()
            .filter(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            })
            .map(|p| (provider_label(p).to_owned(), format!("/sso/{p}{suffix}")))
            .collect()
    }

    /// `/sso/<provider>`: off to Cognito's authorize endpoint on the organization's domain,
    /// with PKCE, `state` and `nonce` kept in a short-lived cookie of this subdomain.
    fn sso_start(&self, ctx: &Ctx<'_>, name: &str, call: &Call) -> Response<Body> {
        let org = ctx.org;
        let Some(provider) = org
            .sign_in
            .providers
            .iter()
            .find(|p| p.eq_ignore_ascii_case(name))
        else {
            return web::not_found();
        };
        let (Some(prefix), Some(client)) = (
            org.cognito.domain_prefix.as_deref(),
            org.cognito.app_client_id.as_deref(),
        ) else {
            return web::not_found();
        };
        let state = oauth::random_token();
        let nonce = oauth::random_token();
        let verifier = oauth::random_token();
        let return_to = call
            .query("return_to")
            .filter(|r| self.destination_allowed(org, r))
            .unwrap_or_default();
        let redirect_uri = format!("{}/oauth/callback", self.settings.origin(&org.subdomain));
        let url = oauth::Authorize {
            origin: &oauth::domain_origin(prefix, &self.settings.region),
            client_id: client,
            redirect_uri: &redirect_uri,
            provider,
            state: &state,
            nonce: &nonce,
            code_challenge: &oauth::pkce_challenge(&verifier),
        }
        .url();
        let pending = format!("{state}.{nonce}.{verifier}.{}", web::encode(&return_to));
        web::redirect(&url, &[web::host_cookie(web::OAUTH, pending, 600)])
    }

    /// `/oauth/callback`: the code exchanged for the pool's tokens, the ID token verified
    /// (this organization's pool, our nonce), then signed in as after a password.
    async fn sso_callback(&self, ctx: &Ctx<'_>, call: &Call) -> Response<Body> {
        let org = ctx.org;
        let cleared = web::host_cookie(web::OAUTH, String::new(), 0);
        let failed = |status: StatusCode, error: String| {
            let html = render(&pages::Login {
                shell: ctx.shell("Sign in"),
                notice: None,
                error: Some(error),
                username: String::new(),
                return_to: String::new(),
                password_form: !org.sign_in.sso_only || org.sign_in.admins_keep_password,
                admins_only: org.sign_in.sso_only && org.sign_in.admins_keep_password,
                providers: self.providers(org, ""),
            });
            ctx.page(status, html, vec![cleared.clone()])
        };
        let pending = web::cookie(&call.headers, web::OAUTH).unwrap_or_default();
        let parts: Vec<&str> = pending.split('.').collect();
        let [state, nonce, verifier, return_to] = parts.as_slice() else {
            return failed(
                StatusCode::BAD_REQUEST,
                "That sign-in expired. Please start again.".into(),
            );
        };
        // The state first: a callback this browser did not start (a crafted link) gets one
        // neutral page, and nothing of its query is shown or logged.
        let state_ok = call.query("state").is_some_and(|s| {
            aws_lc_rs::constant_time::verify_slices_are_equal(s.as_bytes(), state.as_bytes())
                .is_ok()
        });
        if !state_ok {
            return failed(
                StatusCode::BAD_REQUEST,
                "That sign-in expired. Please start again.".into(),
            );
        }
        if let Some(error) = call.query("error") {
            let description = call.query("error_description").unwrap_or_default();
            tracing::info!(org_id = %org.id, %error, %description, "the identity provider's sign-in did not finish");
            let text = trigger_message(&description).unwrap_or_else(|| {
                "Signing in with your organization's account did not finish. Please try again, or ask your administrator.".into()
            });
            return failed(StatusCode::FORBIDDEN, text);
        }
        let code = call
            .query("code")
            .filter(|c| !c.is_empty() && c.len() <= 2048);
        let Some(code) = code else {
            return failed(
                StatusCode::BAD_REQUEST,
                "That sign-in expired. Please start again.".into(),
            );
        };
        let (Some(prefix), Some(client)) = (
            org.cognito.domain_prefix.as_deref(),
            org.cognito.app_client_id.as_deref(),
        ) else {
            return web::not_found();
        };
        let redirect_uri = format!("{}/oauth/callback", self.settings.origin(&org.subdomain));
        let origin = oauth::domain_origin(prefix, &self.settings.region);
        let tokens = match self
            .oauth
            .exchange(&origin, client, &code, &redirect_uri, verifier)
            .await
        {
            Ok(tokens) => tokens,
            Err(e) => {
                tracing::warn!(org_id = %org.id, error = %e, "the code exchange failed");
                return failed(
                    StatusCode::BAD_GATEWAY,
                    "Signing in with your organization's account did not finish. Please try again."
                        .into(),
                );
            }
        };
        match self.identify.identify(&tokens.id_token).await {
            Ok(id)
                if org.cognito.user_pool_id.as_deref() == Some(id.pool_id.as_str())
                    && id.nonce.as_deref() == Some(*nonce) => {}
            _ => {
                tracing::warn!(org_id = %org.id, "an OAuth ID token of another pool or with another nonce");
                return failed(
                    StatusCode::BAD_REQUEST,
                    "That sign-in expired. Please start again.".into(),
                );
            }
        }
        let return_to = form_urlencoded::parse(format!("r={return_to}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        self.signed_in(ctx, tokens, &return_to, vec![cleared]).await
    }

    fn login_form(
        &self,
        ctx: &Ctx<'_>,
        status: StatusCode,
        notice: Option<&'static str>,
        error: Option<String>,
        username: String,
        return_to: String,
    ) -> Response<Body> {
        let return_to_for_buttons = return_to.clone();
        let html = render(&pages::Login {
            shell: ctx.shell("Sign in"),
            notice,
            error,
            username,
            return_to,
            password_form: !ctx.org.sign_in.sso_only || ctx.org.sign_in.admins_keep_password,
            admins_only: ctx.org.sign_in.sso_only && ctx.org.sign_in.admins_keep_password,
            providers: self.providers(ctx.org, &return_to_for_buttons),
        });
        ctx.page(status, html, Vec::new())
    }

    async fn login_page(&self, ctx: &Ctx<'_>, call: &Call) -> Response<Body> {
        if self.session(ctx.org, call).await.is_some() {
            return web::redirect("/", &[]);
        }
        let notice = if call.query("signed_out").is_some() {
            Some("You are signed out.")
        } else if call.query("reset").is_some() {
            Some("Your password is changed. Sign in with your new password.")
        } else {
            None
        };
        let username = call
            .query("login_hint")
            .filter(|u| u.chars().count() <= MAX_USERNAME)
            .unwrap_or_default();
        let return_to = call
            .query("return_to")
            .filter(|r| self.destination_allowed(ctx.org, r))
            .unwrap_or_default();
        self.login_form(ctx, StatusCode::OK, notice, None, username, return_to)
    }

    fn destination_allowed(&self, org: &Organization, target: &str) -> bool {
        // Only printable ASCII ever reaches a Location header.
        let printable = target.len() <= 2048
            && target
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"\"'<>`\\".contains(&b));
        web::local_path(target).is_some()
            || printable
                && app_urls(org).any(|u| {
                    target == u
                        || target
                            .strip_prefix(u)
                            .is_some_and(|rest| rest.starts_with('/') || u.ends_with('/'))
                })
    }

    /// Where a completed sign-in goes: the page asked for (on this subdomain or an app URL),
    /// else the organization's first app URL, else its home page.
    fn destination(&self, org: &Organization, return_to: Option<&str>) -> String {
        if let Some(target) = return_to.filter(|t| self.destination_allowed(org, t)) {
            if web::local_path(target).is_some() {
                return format!("{}{target}", self.settings.origin(&org.subdomain));
            }
            return target.to_owned();
        }
        app_urls(org)
            .next()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{}/", self.settings.origin(&org.subdomain)))
    }

    /// The answer to every refusal on the password form (see the module's rule).
    fn refused(
        &self,
        ctx: &Ctx<'_>,
        refusal: SignInRefusal,
        username: String,
        return_to: String,
    ) -> Response<Body> {
        let (status, error) = match refusal {
            SignInRefusal::Credentials
            | SignInRefusal::Code
            | SignInRefusal::PasswordPolicy(_)
            | SignInRefusal::ResetRequired => (StatusCode::UNAUTHORIZED, INCORRECT.to_owned()),
            SignInRefusal::SessionExpired => (StatusCode::UNAUTHORIZED, EXPIRED.to_owned()),
            SignInRefusal::TooManyAttempts => (StatusCode::TOO_MANY_REQUESTS, TOO_MANY.to_owned()),
            SignInRefusal::Refused(text) => (StatusCode::FORBIDDEN, text),
            SignInRefusal::Failed(e) => {
                tracing::error!(error = %e, "sign-in failed");
                return unavailable();
            }
        };
        self.login_form(ctx, status, None, Some(error), username, return_to)
    }

    /// Counts the attempt against the address's and the organization's limits
    /// ([`shared::domain::attempts`]).
    async fn allowed(
        &self,
        call: &Call,
        attempt: Attempt,
        org: Option<&shared::domain::OrgId>,
    ) -> Result<(), TooManyAttempts> {
        let outcome = check_attempt(
            self.attempts.as_ref(),
            &self.limits,
            attempt,
            call.source_ip.as_deref(),
            org,
            shared::domain::now_epoch(),
        )
        .await;
        if let Err(too_many) = &outcome {
            tracing::warn!(
                org_id = org.map(|o| o.to_string()),
                attempt = ?attempt,
                limit = too_many.scope,
                "too many attempts"
            );
        }
        outcome
    }

    fn app_client<'o>(&self, org: &'o Organization) -> Option<&'o str> {
        org.cognito.app_client_id.as_deref()
    }

    async fn password(&self, ctx: &Ctx<'_>, call: &Call, form: &Form) -> Response<Body> {
        let return_to = form.get("return_to").unwrap_or_default().to_owned();
        if ctx.org.sign_in.sso_only && !ctx.org.sign_in.admins_keep_password {
            return self.login_form(
                ctx,
                StatusCode::FORBIDDEN,
                None,
                None,
                String::new(),
                return_to,
            );
        }
        let username = form
            .text("username", MAX_USERNAME)
            .unwrap_or_default()
            .to_owned();
        let password = form
            .get("password")
            .filter(|p| !p.is_empty() && p.chars().count() <= MAX_PASSWORD);
        let (Some(password), false) = (password, username.is_empty()) else {
            return self.login_form(
                ctx,
                StatusCode::BAD_REQUEST,
                None,
                Some("Enter your username and your password.".into()),
                username,
                return_to,
            );
        };
        let Some(client) = self.app_client(ctx.org) else {
            return unavailable();
        };
        if let Err(too_many) = self
            .allowed(call, Attempt::Password, Some(&ctx.org.id))
            .await
        {
            return with_retry_after(
                self.login_form(
                    ctx,
                    StatusCode::TOO_MANY_REQUESTS,
                    None,
                    Some(TOO_MANY.into()),
                    username,
                    return_to,
                ),
                too_many,
            );
        }
        let login = self.login_name(ctx, &username).await;
        let context = call.user_context(form);
        let mut attempt = self
            .cognito
            .password_sign_in(client, &login, password, &context)
            .await;
        if matches!(attempt, Err(SignInRefusal::ResetRequired)) {
            // A lazy person's login that a forgotten-password request made (anyone's): their
            // legacy password still lets them in (shared::domain::lazy_migration).
            match restore_legacy_password(
                self.registry.as_ref(),
                self.legacy.as_ref(),
                self.pools.as_ref(),
                ctx.org,
                &login,
                password,
            )
            .await
            {
                Ok(true) => {
                    tracing::info!(org_id = %ctx.org.id, "legacy password restored at a login waiting for a reset");
                    attempt = self
                        .cognito
                        .password_sign_in(client, &login, password, &context)
                        .await;
                }
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "restoring a legacy password failed"),
            }
        }
        match attempt {
            Ok(step) => self.next_step(ctx, step, login, return_to).await,
            Err(refusal) => self.refused(ctx, refusal, username, return_to),
        }
    }

    /// The Cognito username to sign in with for what the person typed: a renamed person's
    /// new name (their login's `preferred_username`, which Cognito also accepts as an alias)
    /// is looked up here too, so the router never depends on alias resolution. One registry
    /// read for every attempt, known name or not; on a registry fault, what was typed.
    async fn login_name(&self, ctx: &Ctx<'_>, typed: &str) -> String {
        let typed = typed.trim().to_ascii_lowercase();
        match self
            .registry
            .person_by_sign_in_name(&ctx.org.id, &typed)
            .await
        {
            Ok(Some(person)) => person.username,
            Ok(None) => typed,
            Err(e) => {
                tracing::warn!(error = %e, "sign-in names could not be read");
                typed
            }
        }
    }

    /// Shows the page of the challenge Cognito asks for, or finishes the sign-in.
    async fn next_step(
        &self,
        ctx: &Ctx<'_>,
        step: SignInStep,
        username: String,
        return_to: String,
    ) -> Response<Body> {
        match step {
            SignInStep::Done(tokens) => self.signed_in(ctx, tokens, &return_to, Vec::new()).await,
            SignInStep::NewPasswordRequired { session } => {
                self.new_password_page(ctx, StatusCode::OK, None, username, session, return_to)
            }
            SignInStep::MfaCode { session } => {
                self.mfa_code_page(ctx, StatusCode::OK, None, username, session, return_to)
            }
            SignInStep::MfaSetup { session } => match self.cognito.start_totp_setup(&session).await
            {
                Ok((secret, session)) => self.mfa_setup_page(
                    ctx,
                    StatusCode::OK,
                    None,
                    username,
                    session,
                    secret,
                    return_to,
                ),
                Err(refusal) => self.refused(ctx, refusal, username, return_to),
            },
        }
    }

    fn new_password_page(
        &self,
        ctx: &Ctx<'_>,
        status: StatusCode,
        error: Option<String>,
        username: String,
        session: String,
        return_to: String,
    ) -> Response<Body> {
        let html = render(&pages::NewPassword {
            shell: ctx.shell("Choose your password"),
            error,
            username,
            session,
            return_to,
            rules: password::RULES,
        });
        ctx.page(status, html, Vec::new())
    }

    fn mfa_code_page(
        &self,
        ctx: &Ctx<'_>,
        status: StatusCode,
        error: Option<String>,
        username: String,
        session: String,
        return_to: String,
    ) -> Response<Body> {
        let html = render(&pages::MfaCode {
            shell: ctx.shell("Two-step verification"),
            error,
            username,
            session,
            return_to,
        });
        ctx.page(status, html, Vec::new())
    }

    #[allow(clippy::too_many_arguments)]
    fn mfa_setup_page(
        &self,
        ctx: &Ctx<'_>,
        status: StatusCode,
        error: Option<String>,
        username: String,
        session: String,
        secret: String,
        return_to: String,
    ) -> Response<Body> {
        let qr_svg = pages::totp_qr(&brand_name(ctx.org), &username, &secret);
        let html = render(&pages::MfaSetup {
            shell: ctx.shell("Set up two-step verification"),
            error,
            username,
            session,
            return_to,
            secret,
            qr_svg,
        });
        ctx.page(status, html, Vec::new())
    }

    /// The username and Cognito session a challenge form carries back.
    fn challenge_fields(form: &Form) -> Option<(String, String, String)> {
        Some((
            form.text("username", MAX_USERNAME)?.to_owned(),
            form.text("session", MAX_SESSION)?.to_owned(),
            form.get("return_to").unwrap_or_default().to_owned(),
        ))
    }

    /// The sign-in form again, for a challenge form without its session.
    fn start_again(&self, ctx: &Ctx<'_>) -> Response<Body> {
        self.login_form(
            ctx,
            StatusCode::BAD_REQUEST,
            None,
            Some(EXPIRED.into()),
            String::new(),
            String::new(),
        )
    }

    /// Two equal passwords that keep the policy, or the sentence that says what is wrong.
    fn chosen_password(form: &Form) -> Result<String, String> {
        let new = form.get("new_password").unwrap_or_default();
        let again = form.get("confirm_password").unwrap_or_default();
        if new.is_empty() {
            return Err("Enter your new password twice.".into());
        }
        if new.chars().count() > MAX_PASSWORD {
            return Err(format!(
                "Your password may have at most {MAX_PASSWORD} characters."
            ));
        }
        if new != again {
            return Err("The two passwords are not the same.".into());
        }
        if let Some(rule) = password::broken_rule(new) {
            return Err(format!("Your password needs {rule}."));
        }
        Ok(new.to_owned())
    }

    async fn new_password(&self, ctx: &Ctx<'_>, form: &Form) -> Response<Body> {
        let Some((username, session, return_to)) = Self::challenge_fields(form) else {
            return self.start_again(ctx);
        };
        let new = match Self::chosen_password(form) {
            Ok(p) => p,
            Err(error) => {
                return self.new_password_page(
                    ctx,
                    StatusCode::BAD_REQUEST,
                    Some(error),
                    username,
                    session,
                    return_to,
                )
            }
        };
        let Some(client) = self.app_client(ctx.org) else {
            return unavailable();
        };
        match self
            .cognito
            .answer_new_password(client, &username, &session, &new)
            .await
        {
            Ok(step) => self.next_step(ctx, step, username, return_to).await,
            Err(SignInRefusal::PasswordPolicy(why)) => self.new_password_page(
                ctx,
                StatusCode::BAD_REQUEST,
                Some(format!("That password is not accepted: {why}")),
                username,
                session,
                return_to,
            ),
            Err(refusal) => self.refused(ctx, refusal, username, return_to),
        }
    }

    async fn mfa_code(&self, ctx: &Ctx<'_>, form: &Form) -> Response<Body> {
        let Some((username, session, return_to)) = Self::challenge_fields(form) else {
            return self.start_again(ctx);
        };
        let Some(code) = six_digit_code(form) else {
            return self.mfa_code_page(
                ctx,
                StatusCode::BAD_REQUEST,
                Some("Enter the 6 digits your app shows.".into()),
                username,
                session,
                return_to,
            );
        };
        let Some(client) = self.app_client(ctx.org) else {
            return unavailable();
        };
        match self
            .cognito
            .answer_mfa_code(client, &username, &session, code)
            .await
        {
            Ok(step) => self.next_step(ctx, step, username, return_to).await,
            // Cognito ends the session on a wrong code: start again.
            Err(SignInRefusal::Code) => self.login_form(
                ctx,
                StatusCode::UNAUTHORIZED,
                None,
                Some("That code is not right. Please sign in again.".into()),
                username,
                return_to,
            ),
            Err(refusal) => self.refused(ctx, refusal, username, return_to),
        }
    }

    async fn mfa_setup(&self, ctx: &Ctx<'_>, form: &Form) -> Response<Body> {
        let Some((username, session, return_to)) = Self::challenge_fields(form) else {
            return self.start_again(ctx);
        };
        let secret = form
            .text("secret", 128)
            .filter(|s| s.bytes().all(|b| b.is_ascii_alphanumeric()))
            .unwrap_or_default()
            .to_owned();
        let Some(code) = six_digit_code(form) else {
            return self.mfa_setup_page(
                ctx,
                StatusCode::BAD_REQUEST,
                Some("Enter the 6 digits your app shows.".into()),
                username,
                session,
                secret,
                return_to,
            );
        };
        let Some(client) = self.app_client(ctx.org) else {
            return unavailable();
        };
        match self.cognito.finish_totp_setup(client, &username, &session, code).await {
            Ok(step) => self.next_step(ctx, step, username, return_to).await,
            Err(SignInRefusal::Code) => self.mfa_setup_page(ctx, StatusCode::BAD_REQUEST, Some("That code is not right. Check the time on your phone, then enter the code the app shows now.".into()), username, session, secret, return_to),
            Err(refusal) => self.refused(ctx, refusal, username, return_to),
        }
    }

    /// Sets the session and goes on; an invited person's first sign-in makes them active
    /// (Cognito runs no post-confirmation for a changed temporary password).
    async fn signed_in(
        &self,
        ctx: &Ctx<'_>,
        tokens: SignInTokens,
        return_to: &str,
        mut cookies: Vec<String>,
    ) -> Response<Body> {
        let who = match self.identify.identify(&tokens.id_token).await {
            Ok(id) if ctx.org.cognito.user_pool_id.as_deref() == Some(id.pool_id.as_str()) => id,
            Ok(_) | Err(_) => {
                tracing::error!(org_id = %ctx.org.id, "the pool's own ID token did not verify");
                return unavailable();
            }
        };
        let username = who.username.to_ascii_lowercase();
        match self.registry.person(&ctx.org.id, &username).await {
            Ok(Some(person)) if person.status == PersonStatus::Invited => {
                if let Err(e) =
                    record_first_login(self.registry.as_ref(), ctx.org, person, ACTOR).await
                {
                    // Signed in all the same; the next sign-in (or pre-token-generation) records it.
                    tracing::error!(error = %e, "recording the first sign-in failed");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "reading the person failed"),
        }
        cookies.extend(web::session_cookies(
            &tokens.id_token,
            tokens.refresh_token.as_deref(),
            tokens.expires_in,
        ));
        tracing::info!(org_id = %ctx.org.id, "signed in");
        web::redirect(
            &self.destination(ctx.org, Some(return_to).filter(|r| !r.is_empty())),
            &cookies,
        )
    }

    fn forgot_page(
        &self,
        ctx: &Ctx<'_>,
        status: StatusCode,
        error: Option<String>,
        username: String,
    ) -> Response<Body> {
        let html = render(&pages::Forgot {
            shell: ctx.shell("Reset your password"),
            error,
            username,
        });
        ctx.page(status, html, Vec::new())
    }

    fn forgot_confirm_page(
        &self,
        ctx: &Ctx<'_>,
        status: StatusCode,
        notice: Option<&'static str>,
        error: Option<String>,
        username: String,
    ) -> Response<Body> {
        let html = render(&pages::ForgotConfirm {
            shell: ctx.shell("Choose a new password"),
            notice,
            error,
            username,
            rules: password::RULES,
        });
        ctx.page(status, html, Vec::new())
    }

    async fn forgot(&self, ctx: &Ctx<'_>, call: &Call, form: &Form) -> Response<Body> {
        let Some(username) = form.text("username", MAX_USERNAME).map(str::to_owned) else {
            return self.forgot_page(
                ctx,
                StatusCode::BAD_REQUEST,
                Some("Enter your username.".into()),
                String::new(),
            );
        };
        let Some(client) = self.app_client(ctx.org) else {
            return unavailable();
        };
        if let Err(too_many) = self
            .allowed(call, Attempt::ForgotPassword, Some(&ctx.org.id))
            .await
        {
            return with_retry_after(
                self.forgot_page(
                    ctx,
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(TOO_MANY.into()),
                    username,
                ),
                too_many,
            );
        }
        let login = self.login_name(ctx, &username).await;
        match self
            .cognito
            .forgot_password(client, &login, &call.user_context(form))
            .await
        {
            Ok(()) => self.forgot_confirm_page(
                ctx,
                StatusCode::OK,
                Some("If you have an account here, we sent a code to its e-mail address. It is valid for one hour."),
                None,
                username,
            ),
            Err(SignInRefusal::TooManyAttempts) => self.forgot_page(ctx, StatusCode::TOO_MANY_REQUESTS, Some(TOO_MANY.into()), username),
            Err(SignInRefusal::Failed(e)) => {
                tracing::error!(error = %e, "forgot password failed");
                unavailable()
            }
            // Anything else would tell a stranger about the account: the same answer.
            Err(_) => self.forgot_confirm_page(
                ctx,
                StatusCode::OK,
                Some("If you have an account here, we sent a code to its e-mail address. It is valid for one hour."),
                None,
                username,
            ),
        }
    }

    async fn forgot_confirm(&self, ctx: &Ctx<'_>, form: &Form) -> Response<Body> {
        let username = form
            .text("username", MAX_USERNAME)
            .unwrap_or_default()
            .to_owned();
        let code = form
            .text("code", 10)
            .filter(|c| c.bytes().all(|b| b.is_ascii_digit()));
        let (Some(code), false) = (code, username.is_empty()) else {
            return self.forgot_confirm_page(
                ctx,
                StatusCode::BAD_REQUEST,
                None,
                Some("Enter the code from the e-mail.".into()),
                username,
            );
        };
        let new = match Self::chosen_password(form) {
            Ok(p) => p,
            Err(error) => {
                return self.forgot_confirm_page(
                    ctx,
                    StatusCode::BAD_REQUEST,
                    None,
                    Some(error),
                    username,
                )
            }
        };
        let Some(client) = self.app_client(ctx.org) else {
            return unavailable();
        };
        let login = self.login_name(ctx, &username).await;
        match self
            .cognito
            .confirm_forgot_password(client, &login, code, &new)
            .await
        {
            Ok(()) => web::redirect("/login?reset=1", &[]),
            Err(SignInRefusal::PasswordPolicy(why)) => self.forgot_confirm_page(
                ctx,
                StatusCode::BAD_REQUEST,
                None,
                Some(format!("That password is not accepted: {why}")),
                username,
            ),
            Err(SignInRefusal::TooManyAttempts) => self.forgot_confirm_page(
                ctx,
                StatusCode::TOO_MANY_REQUESTS,
                None,
                Some(TOO_MANY.into()),
                username,
            ),
            Err(SignInRefusal::Failed(e)) => {
                tracing::error!(error = %e, "confirm forgot password failed");
                unavailable()
            }
            Err(_) => self.forgot_confirm_page(
                ctx,
                StatusCode::BAD_REQUEST,
                None,
                Some("That code is wrong or has expired. Send a new one.".into()),
                username,
            ),
        }
    }

    async fn logout(&self, org: &Organization, call: &Call) -> Response<Body> {
        // Revoked with the organization's client: the refresh token was issued for it.
        if let (Some(client), Some(refresh)) = (
            org.cognito.app_client_id.as_deref(),
            web::cookie(&call.headers, web::REFRESH),
        ) {
            if let Err(e) = self.cognito.revoke(client, &refresh).await {
                tracing::warn!(error = %e, "revoking the refresh token failed");
            }
        }
        web::redirect("/login?signed_out=1", &web::cleared_session_cookies())
    }
}

/// The 6-digit code of an authenticator app, if the form has one.
fn six_digit_code(form: &Form) -> Option<&str> {
    form.text("code", 6)
        .filter(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
}

fn stylesheet() -> Response<Body> {
    web::text(
        StatusCode::OK,
        "text/css; charset=utf-8",
        include_str!("../assets/site.css").to_owned(),
        "public, max-age=3600",
    )
}

/// A provider's name as people know it.
fn provider_label(provider: &str) -> &str {
    shared::domain::Provider::named(provider).map_or(provider, |p| p.label())
}

/// The organization's colour, and a text colour that reads on it.
fn theme(org: &Organization) -> Response<Body> {
    let css = match org.branding.color() {
        Some(color) => format!(
            ":root {{ --brand: {color}; --on-brand: {}; }}\n",
            on_color(color)
        ),
        None => String::from("/* the product's colours */\n"),
    };
    web::text(
        StatusCode::OK,
        "text/css; charset=utf-8",
        css,
        "public, max-age=300",
    )
}

/// Black or white, whichever contrasts more with `#rrggbb` (WCAG relative luminance).
fn on_color(color: &str) -> &'static str {
    let channel = |i: usize| {
        let v = u8::from_str_radix(&color[i..i + 2], 16).unwrap_or(0) as f64 / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    if (l + 0.05) / 0.05 > 1.05 / (l + 0.05) {
        "#000000"
    } else {
        "#ffffff"
    }
}

/// A 429 page with `Retry-After`: when the window of the limit reached ends.
fn with_retry_after(mut response: Response<Body>, too_many: TooManyAttempts) -> Response<Body> {
    if let Ok(value) =
        lambda_http::http::HeaderValue::from_str(&too_many.retry_after_secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn unavailable() -> Response<Body> {
    web::text(
        StatusCode::SERVICE_UNAVAILABLE,
        "text/plain; charset=utf-8",
        "Signing in is not possible just now. Please try again in a moment.\n".into(),
        "no-store",
    )
}
