//! The mails we send ourselves (not Cognito's): rendered once here, in HTML and text.

use askama::Template;

use super::{password, Error};

/// A rendered mail, ready for any [`crate::domain::ports::Mailer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailContent {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// What the welcome mail of an activated person says: who they are, how they get in, and
/// the link to their organization's own login page.
pub struct Welcome<'a> {
    pub org_name: &'a str,
    pub username: &'a str,
    pub access: Access<'a>,
    pub login_url: &'a str,
    pub kind: WelcomeKind,
}

/// How the person gets in (the organization's invitation style).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access<'a> {
    /// A temporary password; the first sign-in asks for a new one.
    TemporaryPassword(&'a str),
    /// A single-use link where the person chooses their password, valid `hours`.
    ActivationLink { url: &'a str, hours: i64 },
    /// Only the organization's identity provider (an SSO-only organization).
    SingleSignOn { provider: &'a str },
}

/// Why a temporary password is mailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WelcomeKind {
    /// Activation, or the invitation sent again.
    #[default]
    Invitation,
    /// An administrator reset the person's password.
    PasswordReset,
}

#[derive(Template)]
#[template(path = "welcome.html")]
struct WelcomeHtml<'a> {
    heading: &'a str,
    intro: &'a str,
    org_name: &'a str,
    username: &'a str,
    temporary_password: Option<&'a str>,
    activation_url: Option<&'a str>,
    activation_hours: i64,
    sso_provider: Option<&'a str>,
    login_url: &'a str,
    validity_days: i32,
}

#[derive(Template)]
#[template(path = "welcome.txt")]
struct WelcomeText<'a> {
    heading: &'a str,
    intro: &'a str,
    username: &'a str,
    temporary_password: Option<&'a str>,
    activation_url: Option<&'a str>,
    activation_hours: i64,
    sso_provider: Option<&'a str>,
    login_url: &'a str,
    validity_days: i32,
}

impl Welcome<'_> {
    pub fn render(&self) -> Result<MailContent, Error> {
        let render_failed = |e: askama::Error| Error::Render {
            what: "welcome mail",
            detail: e.to_string(),
        };
        let (temporary_password, activation_url, activation_hours, sso_provider) = match self.access
        {
            Access::TemporaryPassword(p) => (Some(p), None, 0, None),
            Access::ActivationLink { url, hours } => (None, Some(url), hours, None),
            Access::SingleSignOn { provider } => (None, None, 0, Some(provider)),
        };
        let (heading, intro, subject) = match self.kind {
            WelcomeKind::Invitation => (
                format!("Welcome to {}", self.org_name),
                match self.access {
                    Access::ActivationLink { .. } => {
                        "An account has been created for you. Choose your password with this link:"
                    }
                    _ => "An account has been created for you. Sign in on your organization's own page:",
                },
                format!("Your {} account", self.org_name),
            ),
            WelcomeKind::PasswordReset => (
                format!("Your {} password was reset", self.org_name),
                "An administrator reset your password. Sign in on your organization's own page:",
                format!("Your {} password was reset", self.org_name),
            ),
        };
        let html = WelcomeHtml {
            heading: &heading,
            intro,
            org_name: self.org_name,
            username: self.username,
            temporary_password,
            activation_url,
            activation_hours,
            sso_provider,
            login_url: self.login_url,
            validity_days: password::TEMPORARY_VALIDITY_DAYS,
        }
        .render()
        .map_err(render_failed)?;
        let text = WelcomeText {
            heading: &heading,
            intro,
            username: self.username,
            temporary_password,
            activation_url,
            activation_hours,
            sso_provider,
            login_url: self.login_url,
            validity_days: password::TEMPORARY_VALIDITY_DAYS,
        }
        .render()
        .map_err(render_failed)?;
        Ok(MailContent {
            subject,
            html,
            text,
        })
    }
}

/// The mails of an e-mail change: the confirmation link to the new address, and a notice to
/// the old one (`confirm_url` `None`).
pub struct EmailChange<'a> {
    pub org_name: &'a str,
    pub username: &'a str,
    pub new_email: &'a str,
    /// Set for a username change: the name the account is to sign in with.
    pub new_username: Option<&'a str>,
    pub confirm_url: Option<&'a str>,
    pub hours: i64,
}

#[derive(Template)]
#[template(path = "email_change.html")]
struct EmailChangeHtml<'a> {
    subject: &'a str,
    org_name: &'a str,
    username: &'a str,
    new_email: &'a str,
    new_username: Option<&'a str>,
    confirm_url: Option<&'a str>,
    hours: i64,
}

#[derive(Template)]
#[template(path = "email_change.txt")]
struct EmailChangeText<'a> {
    subject: &'a str,
    org_name: &'a str,
    username: &'a str,
    new_email: &'a str,
    new_username: Option<&'a str>,
    confirm_url: Option<&'a str>,
    hours: i64,
}

impl EmailChange<'_> {
    pub fn render(&self) -> Result<MailContent, Error> {
        let render_failed = |e: askama::Error| Error::Render {
            what: "e-mail change mail",
            detail: e.to_string(),
        };
        let subject = match (self.new_username, self.confirm_url) {
            (Some(_), _) => format!("Confirm your new {} username", self.org_name),
            (None, Some(_)) => format!("Confirm your new {} e-mail address", self.org_name),
            (None, None) => format!("Your {} e-mail address is being changed", self.org_name),
        };
        let html = EmailChangeHtml {
            subject: &subject,
            org_name: self.org_name,
            username: self.username,
            new_email: self.new_email,
            new_username: self.new_username,
            confirm_url: self.confirm_url,
            hours: self.hours,
        }
        .render()
        .map_err(render_failed)?;
        let text = EmailChangeText {
            subject: &subject,
            org_name: self.org_name,
            username: self.username,
            new_email: self.new_email,
            new_username: self.new_username,
            confirm_url: self.confirm_url,
            hours: self.hours,
        }
        .render()
        .map_err(render_failed)?;
        Ok(MailContent {
            subject,
            html,
            text,
        })
    }
}

/// Which message Cognito is about to send (the custom-message trigger's source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// The confirmation code after a self sign-up.
    SignUp,
    /// Cognito's own invitation (only when an invitation is resent through Cognito).
    AdminCreateUser,
    /// A new confirmation code, asked for again.
    ResendCode,
    ForgotPassword,
    /// The code that confirms a changed e-mail address.
    UpdateUserAttribute,
    VerifyUserAttribute,
    /// A sign-in (MFA) code.
    Authentication,
}

/// A message Cognito sends for an organization, branded with its name and its login page.
/// `code` and `username` are Cognito's placeholders (`{####}`, `{username}`), which Cognito
/// replaces; they must appear in the message.
pub struct CognitoMessage<'a> {
    pub kind: MessageKind,
    pub org_name: &'a str,
    pub login_url: &'a str,
    pub code: &'a str,
    pub username: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "cognito_message.html")]
struct CognitoMessageHtml<'a> {
    subject: &'a str,
    org_name: &'a str,
    intro: &'a str,
    outro: &'a str,
    code: &'a str,
    username: Option<&'a str>,
    login_url: &'a str,
}

#[derive(Template)]
#[template(path = "cognito_message.txt")]
struct CognitoMessageText<'a> {
    org_name: &'a str,
    intro: &'a str,
    code: &'a str,
    username: Option<&'a str>,
    login_url: &'a str,
}

impl CognitoMessage<'_> {
    /// Subject, HTML body (the e-mail) and a short text version (the SMS).
    pub fn render(&self) -> Result<MailContent, Error> {
        let (subject, intro, outro) = match self.kind {
            MessageKind::SignUp | MessageKind::ResendCode => (
                format!("Confirm your {} account", self.org_name),
                "Your confirmation code:",
                "Enter it to finish, then sign in at",
            ),
            MessageKind::AdminCreateUser => (
                format!("Your {} account", self.org_name),
                "An account has been created for you. Your temporary password:",
                "Sign in and choose your own password at",
            ),
            MessageKind::ForgotPassword => (
                format!("Reset your {} password", self.org_name),
                "Your code to choose a new password:",
                "Enter it on your organization's page:",
            ),
            MessageKind::UpdateUserAttribute | MessageKind::VerifyUserAttribute => (
                format!("Confirm your e-mail address for {}", self.org_name),
                "Your code to confirm this e-mail address:",
                "Until it is confirmed you cannot sign in. Enter it at",
            ),
            MessageKind::Authentication => (
                format!("Your {} sign-in code", self.org_name),
                "Your sign-in code:",
                "It was asked for on",
            ),
        };
        let render_failed = |e: askama::Error| Error::Render {
            what: "Cognito message",
            detail: e.to_string(),
        };
        let html = CognitoMessageHtml {
            subject: &subject,
            org_name: self.org_name,
            intro,
            outro,
            code: self.code,
            username: self.username,
            login_url: self.login_url,
        }
        .render()
        .map_err(render_failed)?;
        let text = CognitoMessageText {
            org_name: self.org_name,
            intro,
            code: self.code,
            username: self.username,
            login_url: self.login_url,
        }
        .render()
        .map_err(render_failed)?;
        Ok(MailContent {
            subject,
            html,
            text: text.trim_end().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cognito_messages_keep_the_placeholders_and_carry_the_organization() {
        let kinds = [
            MessageKind::SignUp,
            MessageKind::AdminCreateUser,
            MessageKind::ResendCode,
            MessageKind::ForgotPassword,
            MessageKind::UpdateUserAttribute,
            MessageKind::VerifyUserAttribute,
            MessageKind::Authentication,
        ];
        for kind in kinds {
            let username = (kind == MessageKind::AdminCreateUser).then_some("{username}");
            let mail = CognitoMessage {
                kind,
                org_name: "Acme & Co",
                login_url: "https://acme.app.example.com/login",
                code: "{####}",
                username,
            }
            .render()
            .expect("renders");
            for part in [&mail.html, &mail.text] {
                assert!(part.contains("{####}"), "{kind:?}: {part}");
                assert!(
                    part.contains("https://acme.app.example.com/login"),
                    "{kind:?}"
                );
                assert_eq!(part.contains("{username}"), username.is_some(), "{kind:?}");
            }
            assert!(
                mail.html.contains("Acme &amp; Co") || mail.html.contains("Acme &#38; Co"),
                "{kind:?}"
            );
            assert!(
                mail.text.starts_with("Acme & Co: "),
                "{kind:?}: {}",
                mail.text
            );
            assert!(mail.subject.contains("Acme & Co"));
            assert!(mail.html.len() < 20_000, "Cognito's limit");
        }
    }

    #[test]
    fn welcome_carries_username_password_and_link_in_both_parts() {
        let mail = Welcome {
            org_name: "Acme <Ltd>",
            username: "jane@acme.com",
            access: Access::TemporaryPassword("Xy3!abcdEFGH2345"),
            login_url: "https://acme.app.example.com/login",
            kind: WelcomeKind::Invitation,
        }
        .render()
        .expect("renders");
        assert_eq!(mail.subject, "Your Acme <Ltd> account");
        for part in [&mail.html, &mail.text] {
            assert!(part.contains("jane@acme.com"));
            assert!(part.contains("Xy3!abcdEFGH2345"));
            assert!(part.contains("https://acme.app.example.com/login"));
        }
        // The organization's name is escaped in HTML, verbatim in text.
        assert!(mail.html.contains("Acme &#60;Ltd&#62;") || mail.html.contains("Acme &lt;Ltd&gt;"));
        assert!(mail.text.contains("Welcome to Acme <Ltd>"));
    }

    #[test]
    fn a_password_reset_says_so() {
        let mail = Welcome {
            org_name: "Acme",
            username: "jane",
            access: Access::TemporaryPassword("Xy3!abcdEFGH2345"),
            login_url: "https://acme.app.example.com/login",
            kind: WelcomeKind::PasswordReset,
        }
        .render()
        .expect("renders");
        assert_eq!(mail.subject, "Your Acme password was reset");
        for part in [&mail.html, &mail.text] {
            assert!(part.contains("An administrator reset your password"));
            assert!(part.contains("Xy3!abcdEFGH2345"));
        }
    }

    #[test]
    fn a_link_invitation_carries_the_link_and_no_password() {
        let mail = Welcome {
            org_name: "Acme",
            username: "jane",
            access: Access::ActivationLink {
                url: "https://acme.app.example.com/activate/per-1.tok",
                hours: 72,
            },
            login_url: "https://acme.app.example.com/login",
            kind: WelcomeKind::Invitation,
        }
        .render()
        .expect("renders");
        for part in [&mail.html, &mail.text] {
            assert!(part.contains("https://acme.app.example.com/activate/per-1.tok"));
            assert!(part.contains("72 hours"));
            assert!(part.contains("jane"));
            assert!(!part.to_lowercase().contains("temporary password"));
        }
        let sso = Welcome {
            org_name: "Acme",
            username: "jane",
            access: Access::SingleSignOn {
                provider: "Microsoft",
            },
            login_url: "https://acme.app.example.com/login",
            kind: WelcomeKind::Invitation,
        }
        .render()
        .expect("renders");
        for part in [&sso.html, &sso.text] {
            assert!(part.contains("Microsoft"));
            assert!(part.contains("https://acme.app.example.com/login"));
            assert!(!part.to_lowercase().contains("password"), "{part}");
        }
    }
}
