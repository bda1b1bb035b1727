//! Switching a person's activation on: a seat, a Cognito login with a temporary password,
//! their role groups, and our own welcome mail with the link to their organization's page.

use super::mail::Welcome;
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

/// Activates `person` in `org`. Safe to repeat: a person who already holds a seat but whose
/// welcome mail was not recorded as sent gets a fresh temporary password and a new mail (the
/// earlier password stops working), never a second seat.
pub async fn activate_person(
    deps: &Activation<'_>,
    org: &Organization,
    person: Person,
) -> Result<Person, Error> {
    let pool_id = org.cognito.user_pool_id.as_deref().ok_or_else(|| {
        Error::not_allowed(
            format!("activate {}", person.username),
            "the organization has no user pool yet; finish it with `tenantctl org create`",
        )
    })?;
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
    let login_url = org.subdomain.login_url(deps.base_domain);
    let mail = Welcome {
        org_name: &org.name,
        username: &person.username,
        temporary_password: &temporary_password,
        login_url: &login_url,
    }
    .render()?;
    deps.mailer.send(&person.email, &mail).await?;

    // Bookkeeping, not a state change: the activation's audit event was written above.
    let mut sent = person.clone();
    sent.welcome_sent_at = Some(now_epoch());
    let person = deps.registry.save_person(&person, &sent, None).await?;
    Ok(person)
}
