//! The router: the `Host` names the site (see [`crate::host`]); the main domain finds a
//! person's organization (`discovery`), each organization's subdomain serves its own login
//! pages against its own pool. This module routes a request to its flow: `password` (sign-in,
//! challenges, forgotten password), `sso`, `links` (activation, e-mail confirmation) and
//! `session` (signed in, signed out), all over `common`.

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::domain::{MfaMode, OrgStatus, Organization};

use crate::common::{
    app_urls, brand_name, stylesheet, unavailable, url_origin, App, Call, Ctx, MAX_USERNAME,
};
use crate::host::{site, Site};
use crate::web;

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
