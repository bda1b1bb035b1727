//! The links mailed to a person: an activation link (choose a password, then signed in) and
//! an e-mail or username change's confirmation link. Stands on `password` (the chosen
//! password's rules, the sign-in that follows an activation) and `common`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use shared::domain::activation::{activation_link_state, use_activation_link, LinkState};
use shared::domain::email_change::{confirm_email_change, email_link_state};
use shared::domain::password;
use shared::domain::ports::UserContext;

use crate::common::{render, unavailable, App, Ctx};
use crate::pages;
use crate::web::Form;

impl App {
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
    pub(crate) async fn activate_page(&self, ctx: &Ctx<'_>, token: &str) -> Response<Body> {
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
    pub(crate) async fn activate(&self, ctx: &Ctx<'_>, token: &str, form: &Form) -> Response<Body> {
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
    pub(crate) async fn confirm_email_page(&self, ctx: &Ctx<'_>, token: &str) -> Response<Body> {
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
    pub(crate) async fn confirm_email(&self, ctx: &Ctx<'_>, token: &str) -> Response<Body> {
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
}
