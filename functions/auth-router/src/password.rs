//! Password sign-in: the login page, the password form, Cognito's challenges (new password,
//! MFA code, MFA setup) and the forgotten password. Stands on `sso` (the provider buttons of
//! the login page), `session` (a finished sign-in) and `common`.
//!
//! Enumeration: every answer a stranger can provoke on the password form (unknown username,
//! wrong password, disabled login, wrong legacy password) is the same page with the same
//! status; only what Cognito's triggers say after the password was verified, and what holds
//! for the whole organization (suspended, SSO only), is shown in words.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use shared::domain::attempts::Attempt;
use shared::domain::lazy_migration::restore_legacy_password;
use shared::domain::password;
use shared::domain::ports::{SignInRefusal, SignInStep};

use crate::common::{
    brand_name, render, unavailable, with_retry_after, App, Call, Ctx, EXPIRED, INCORRECT,
    MAX_PASSWORD, MAX_SESSION, MAX_USERNAME, TOO_MANY,
};
use crate::pages;
use crate::web::{self, Form};

impl App {
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

    pub(crate) async fn login_page(&self, ctx: &Ctx<'_>, call: &Call) -> Response<Body> {
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

    /// The answer to every refusal on the password form (see the module's rule).
    pub(crate) fn refused(
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

    pub(crate) async fn password(&self, ctx: &Ctx<'_>, call: &Call, form: &Form) -> Response<Body> {
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
    pub(crate) async fn next_step(
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
    pub(crate) fn chosen_password(form: &Form) -> Result<String, String> {
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

    pub(crate) async fn new_password(&self, ctx: &Ctx<'_>, form: &Form) -> Response<Body> {
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

    pub(crate) async fn mfa_code(&self, ctx: &Ctx<'_>, form: &Form) -> Response<Body> {
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

    pub(crate) async fn mfa_setup(&self, ctx: &Ctx<'_>, form: &Form) -> Response<Body> {
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

    pub(crate) fn forgot_page(
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

    pub(crate) async fn forgot(&self, ctx: &Ctx<'_>, call: &Call, form: &Form) -> Response<Body> {
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

    pub(crate) async fn forgot_confirm(&self, ctx: &Ctx<'_>, form: &Form) -> Response<Body> {
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
}

/// The 6-digit code of an authenticator app, if the form has one.
fn six_digit_code(form: &Form) -> Option<&str> {
    form.text("code", 6)
        .filter(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
}
