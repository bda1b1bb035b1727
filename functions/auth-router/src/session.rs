//! The session: who a session cookie names, the signed-in page, a completed sign-in (cookies
//! set, an invited person recorded active, on to the destination) and signing out. Stands on
//! `common` only.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use shared::domain::ports::SignInTokens;
use shared::domain::signin::record_first_login;
use shared::domain::{Organization, PersonStatus};

use crate::common::{app_urls, render, unavailable, App, Call, Ctx, Identity, ACTOR};
use crate::pages;
use crate::web;

impl App {
    /// The person of a valid session cookie of THIS organization's pool.
    pub(crate) async fn session(&self, org: &Organization, call: &Call) -> Option<Identity> {
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

    pub(crate) async fn home(&self, ctx: &Ctx<'_>, call: &Call) -> Response<Body> {
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

    pub(crate) fn destination_allowed(&self, org: &Organization, target: &str) -> bool {
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

    /// Sets the session and goes on; an invited person's first sign-in makes them active
    /// (Cognito runs no post-confirmation for a changed temporary password).
    pub(crate) async fn signed_in(
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

    pub(crate) async fn logout(&self, org: &Organization, call: &Call) -> Response<Body> {
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
