//! What the router's flows share: the app and its settings, one request read once (`Call`),
//! the organization's page context (`Ctx`), the organization by subdomain (cached), attempt
//! limits, and the plain answers (a message page, 503, 429 with `Retry-After`). The bottom of
//! the router: it uses no flow. Each flow module adds its own `impl App` block, so a flow's
//! use of another is a method call (named in each module's first lines). The calls point one
//! way: `app` routes to every flow; `links` -> `password` -> `sso` -> `session` -> `common`;
//! `discovery` -> `common`.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use async_trait::async_trait;
use lambda_http::http::{header, Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use shared::auth::oauth::CodeExchange;
use shared::cache::OrgCache;
use shared::domain::attempts::{check_attempt, Attempt, AttemptLimits, TooManyAttempts};
use shared::domain::ports::{
    AttemptCounter, LegacyPasswords, Registry, UserContext, UserPools, UserSignIn,
};
use shared::domain::{Organization, Subdomain};

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
    pub(crate) fn any_org_origin(&self) -> String {
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
pub(crate) const ACTOR: &str = "auth-router";
pub(crate) const MAX_USERNAME: usize = 256;
pub(crate) const MAX_PASSWORD: usize = 256;
pub(crate) const MAX_SESSION: usize = 4096;
/// Cognito's encoded device data (its own limit is 128 KiB; the script's is a few KiB).
const MAX_CONTEXT_DATA: usize = 16 * 1024;

pub(crate) const INCORRECT: &str = "Incorrect username or password.";
pub(crate) const TOO_MANY: &str = "Too many attempts. Wait a few minutes, then try again.";
pub(crate) const EXPIRED: &str = "That took too long. Please sign in again.";

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
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: lambda_http::http::HeaderMap,
    pub(crate) body: Vec<u8>,
    /// The browser's address as API Gateway saw it (never from a header).
    pub(crate) source_ip: Option<String>,
}

impl Call {
    pub(crate) fn of(request: Request) -> Self {
        let source_ip = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
            // The deployed router sits behind a REST API (AWS WAF): payload 1.0.
            Some(RequestContext::ApiGatewayV1(context)) => context.identity.source_ip.clone(),
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
    pub(crate) fn user_context(&self, form: &Form) -> UserContext {
        UserContext {
            ip_address: self.source_ip.clone(),
            encoded_data: form
                .text("user_context_data", MAX_CONTEXT_DATA)
                .map(str::to_owned),
        }
    }

    pub(crate) fn form(&self) -> Option<Form> {
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        Form::parse(content_type, &self.body)
    }

    pub(crate) fn query(&self, name: &str) -> Option<String> {
        web::query_param(self.query.as_deref(), name)
    }
}

/// The organization's page context: its name and look, and the CSRF token of this visitor.
pub(crate) struct Ctx<'a> {
    pub(crate) org: &'a Organization,
    pub(crate) csrf: String,
    pub(crate) set_csrf: Option<String>,
    pub(crate) form_targets: Vec<String>,
}

impl Ctx<'_> {
    pub(crate) fn shell(&self, title: &'static str) -> Shell {
        Shell {
            title,
            brand: brand_name(self.org),
            logo: self.org.branding.logo().map(str::to_owned),
            csrf: self.csrf.clone(),
        }
    }

    pub(crate) fn page(
        &self,
        status: StatusCode,
        html: String,
        mut cookies: Vec<String>,
    ) -> Response<Body> {
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

pub(crate) fn brand_name(org: &Organization) -> String {
    org.display_name().to_owned()
}

pub(crate) fn render<T: Template>(page: &T) -> String {
    page.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "a page failed to render");
        "<!doctype html><title>Error</title><p>Something went wrong. Please try again.</p>".into()
    })
}

/// The origin (`scheme://host[:port]`) of an `https://` app URL.
pub(crate) fn url_origin(url: &str) -> Option<&str> {
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
pub(crate) fn app_urls(org: &Organization) -> impl Iterator<Item = &str> {
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
    pub(crate) async fn organization(
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

    pub(crate) fn message(
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

    /// Counts the attempt against the address's and the organization's limits
    /// ([`shared::domain::attempts`]).
    pub(crate) async fn allowed(
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

    pub(crate) fn app_client<'o>(&self, org: &'o Organization) -> Option<&'o str> {
        org.cognito.app_client_id.as_deref()
    }
}

pub(crate) fn stylesheet() -> Response<Body> {
    web::text(
        StatusCode::OK,
        "text/css; charset=utf-8",
        include_str!("../assets/site.css").to_owned(),
        "public, max-age=3600",
    )
}

/// A 429 page with `Retry-After`: when the window of the limit reached ends.
pub(crate) fn with_retry_after(
    mut response: Response<Body>,
    too_many: TooManyAttempts,
) -> Response<Body> {
    if let Ok(value) =
        lambda_http::http::HeaderValue::from_str(&too_many.retry_after_secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

pub(crate) fn unavailable() -> Response<Body> {
    web::text(
        StatusCode::SERVICE_UNAVAILABLE,
        "text/plain; charset=utf-8",
        "Signing in is not possible just now. Please try again in a moment.\n".into(),
        "no-store",
    )
}
