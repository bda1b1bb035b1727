//! SSO: the provider buttons, off to Cognito's authorize endpoint on the organization's
//! domain (PKCE, `state`, `nonce`), and back through `/oauth/callback` to a session. Stands
//! on `session` and `common`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use shared::auth::oauth;
use shared::aws::signin::trigger_message;
use shared::domain::Organization;

use crate::common::{render, App, Call, Ctx};
use crate::pages;
use crate::web;

impl App {
    /// The SSO buttons: each provider enabled for the organization, once its pool has the
    /// Cognito domain SSO goes through.
    pub(crate) fn providers(&self, org: &Organization, return_to: &str) -> Vec<(String, String)> {
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
            .map(|p| (provider_label(org, p), format!("/sso/{p}{suffix}")))
            .collect()
    }

    /// `/sso/<provider>`: off to Cognito's authorize endpoint on the organization's domain,
    /// with PKCE, `state` and `nonce` kept in a short-lived cookie of this subdomain.
    pub(crate) fn sso_start(&self, ctx: &Ctx<'_>, name: &str, call: &Call) -> Response<Body> {
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
    pub(crate) async fn sso_callback(&self, ctx: &Ctx<'_>, call: &Call) -> Response<Body> {
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
}

/// A provider's name as people know it: a SAML connection's by its preset (Okta, Microsoft
/// Entra ID, ...), else "your company account".
fn provider_label(org: &Organization, provider: &str) -> String {
    if let Some(connection) = org
        .sign_in
        .sso
        .saml
        .iter()
        .find(|c| c.provider_name().eq_ignore_ascii_case(provider))
    {
        return connection
            .preset
            .as_deref()
            .and_then(shared::domain::saml::Preset::named)
            .map_or("your company account", |p| p.label())
            .to_owned();
    }
    shared::domain::Provider::named(provider)
        .map_or(provider, |p| p.label())
        .to_owned()
}
