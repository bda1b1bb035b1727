//! The mails we send ourselves (not Cognito's): rendered once here, in HTML and text.

use askama::Template;

use super::{password, Error};

/// A rendered mail, ready for any [`crate::ports::Mailer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailContent {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// What the welcome mail of an activated person says: who they are, their temporary
/// password and the link to their organization's own login page.
pub struct Welcome<'a> {
    pub org_name: &'a str,
    pub username: &'a str,
    pub temporary_password: &'a str,
    pub login_url: &'a str,
}

#[derive(Template)]
#[template(path = "welcome.html")]
struct WelcomeHtml<'a> {
    org_name: &'a str,
    username: &'a str,
    temporary_password: &'a str,
    login_url: &'a str,
    validity_days: i32,
}

#[derive(Template)]
#[template(path = "welcome.txt")]
struct WelcomeText<'a> {
    org_name: &'a str,
    username: &'a str,
    temporary_password: &'a str,
    login_url: &'a str,
    validity_days: i32,
}

impl Welcome<'_> {
    pub fn render(&self) -> Result<MailContent, Error> {
        let render_failed = |e: askama::Error| Error::InvalidInput {
            what: "welcome mail",
            value: self.org_name.to_owned(),
            rule: if matches!(e, askama::Error::Fmt) {
                "it could not be rendered"
            } else {
                "its template failed"
            },
        };
        let html = WelcomeHtml {
            org_name: self.org_name,
            username: self.username,
            temporary_password: self.temporary_password,
            login_url: self.login_url,
            validity_days: password::TEMPORARY_VALIDITY_DAYS,
        }
        .render()
        .map_err(render_failed)?;
        let text = WelcomeText {
            org_name: self.org_name,
            username: self.username,
            temporary_password: self.temporary_password,
            login_url: self.login_url,
            validity_days: password::TEMPORARY_VALIDITY_DAYS,
        }
        .render()
        .map_err(render_failed)?;
        Ok(MailContent {
            subject: format!("Your {} account", self.org_name),
            html,
            text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welcome_carries_username_password_and_link_in_both_parts() {
        let mail = Welcome {
            org_name: "Acme <Ltd>",
            username: "jane@acme.com",
            temporary_password: "Xy3!abcdEFGH2345",
            login_url: "https://acme.app.example.com/login",
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
}
