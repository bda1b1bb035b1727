//! Switching a person's activation on: a seat, a Cognito login with a temporary password,
//! their role groups, and our own welcome mail with the link to their organization's page.
//! And the other ways a temporary password goes out: the invitation sent again, and a
//! password reset by an administrator.

use super::mail::{Welcome, WelcomeKind};
use super::{now_epoch, password, Error, Organization, Person, PersonStatus};
use crate::ports::{AuditEvent, Mailer, NewLogin, Registry, UserPools};

/// What activation needs.
pub struct Activation<'a> {
    pub registry: &'a dyn Registry,
    pub pools: &'a dyn UserPools,
    pub mailer: &'a dyn Mailer,
    pub base_domain: &'a str,
    pub actor: &'a str,
}

/// What an activation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activated {
    pub person: Person,
    /// Whether a welcome mail went out now (false: the person was activated and mailed
    /// before, and nothing was done again).
    pub mail_sent: bool,
}

fn pool_of<'o>(org: &'o Organization, person: &Person, action: &str) -> Result<&'o str, Error> {
    org.cognito.user_pool_id.as_deref().ok_or_else(|| {
        Error::not_allowed(
            format!("{action} {}", person.username),
            "the organization has no user pool yet; finish it with `tenantctl org create`",
        )
    })
}

/// Activates `person` in `org`. Safe to repeat: a person already activated and mailed is
/// left as they are (no second mail, their password untouched); one who holds a seat but
/// whose welcome mail was not recorded as sent (a failure half-way) gets the rest done, with
/// a fresh temporary password; never a second seat or a second login.
pub async fn activate_person(
    deps: &Activation<'_>,
    org: &Organization,
    person: Person,
) -> Result<Activated, Error> {
    let pool_id = pool_of(org, &person, "activate")?;
    if person.status.holds_seat() && person.welcome_sent_at.is_some() {
        return Ok(Activated {
            person,
            mail_sent: false,
        });
    }
    let person = if person.status.holds_seat() {
        person
    } else {
        person.check_activation()?;
        let mut invited = person.clone();
        invited.status = PersonStatus::Invited;
        invited.welcome_sent_at = None;
        let roles: Vec<&str> = person.roles.iter().map(|r| r.as_str()).collect();
        let audit = AuditEvent::now(
            &org.id,
            deps.actor,
            "person.activated",
            &person.username,
            Some(format!("roles {}", roles.join(", "))),
        );
        deps.registry
            .save_person(&person, &invited, Some(&audit))
            .await?
    };

    let temporary_password = password::temporary_password();
    deps.pools
        .create_login(
            pool_id,
            &NewLogin {
                username: &person.username,
                email: &person.email,
                temporary_password: &temporary_password,
            },
        )
        .await?;
    for role in &person.roles {
        deps.pools
            .add_to_group(pool_id, &person.username, role.as_str())
            .await?;
    }
    let person = mail_and_record(
        deps,
        org,
        person,
        &temporary_password,
        WelcomeKind::Invitation,
        None,
    )
    .await?;
    Ok(Activated {
        person,
        mail_sent: true,
    })
}

/// A fresh temporary password for a person who holds a login, mailed to them: the invitation
/// sent again (`Invitation`: for an invited person who lost the mail or let the password
/// expire) or a reset by an administrator (`PasswordReset`: for an active person; the next
/// sign-in must choose a new password). The earlier password stops working.
pub async fn send_temporary_password(
    deps: &Activation<'_>,
    org: &Organization,
    person: Person,
    kind: WelcomeKind,
) -> Result<Person, Error> {
    let (action, allowed, reason) = match kind {
        WelcomeKind::Invitation => (
            "person.invitation_resent",
            person.status == PersonStatus::Invited,
            "only an invited person who has not signed in yet gets the invitation again; reset the password of an active person instead",
        ),
        WelcomeKind::PasswordReset => (
            "person.password_reset",
            person.status.holds_seat(),
            "the person has no login: switch their activation on instead",
        ),
    };
    if !allowed {
        return Err(Error::not_allowed(
            format!("send {} a new temporary password", person.username),
            reason,
        ));
    }
    let pool_id = pool_of(org, &person, "reset the password of")?;
    let temporary_password = password::temporary_password();
    deps.pools
        .set_temporary_password(pool_id, &person.username, &temporary_password)
        .await?;
    let audit = AuditEvent::now(&org.id, deps.actor, action, &person.username, None);
    mail_and_record(deps, org, person, &temporary_password, kind, Some(&audit)).await
}

/// Sends the mail with the temporary password, then records when it went out (with the
/// change's audit event, if it has one).
async fn mail_and_record(
    deps: &Activation<'_>,
    org: &Organization,
    person: Person,
    temporary_password: &str,
    kind: WelcomeKind,
    audit: Option<&AuditEvent>,
) -> Result<Person, Error> {
    let login_url = org.subdomain.login_url(deps.base_domain);
    let mail = Welcome {
        org_name: &org.name,
        username: &person.username,
        temporary_password,
        login_url: &login_url,
        kind,
    }
    .render()?;
    deps.mailer.send(&person.email, &mail).await?;
    let mut sent = person.clone();
    sent.welcome_sent_at = Some(now_epoch());
    deps.registry.save_person(&person, &sent, audit).await
}
