//! Switching a person's activation on: a seat, a Cognito login with a temporary password,
//! their role groups, and our own welcome mail with the link to their organization's page.
//! And the other ways a temporary password goes out: the invitation sent again, and a
//! password reset by an administrator.

use super::lazy_migration::migration_pending;
use super::links;
pub use super::links::LinkState;
use super::mail::{Access, Welcome, WelcomeKind};
use super::{now_epoch, password, Error, Invitation, Organization, Person, PersonStatus};
use crate::domain::ports::{AuditEvent, Mailer, NewLogin, Registry, UserPools};

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
    ensure_login(deps, pool_id, &person, &temporary_password).await?;
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

/// The person's login with `temporary_password`, their role groups and sign-in name: created,
/// or (already there) given that password and enabled.
async fn ensure_login(
    deps: &Activation<'_>,
    pool_id: &str,
    person: &Person,
    temporary_password: &str,
) -> Result<(), Error> {
    deps.pools
        .create_login(
            pool_id,
            &NewLogin {
                username: &person.username,
                email: &person.email,
                temporary_password,
            },
        )
        .await?;
    for role in &person.roles {
        deps.pools
            .add_to_group(pool_id, &person.username, role.as_str())
            .await?;
    }
    if let Some(name) = &person.preferred_username {
        // Renamed before they had a login: the new login signs in under that name too.
        deps.pools
            .set_preferred_username(pool_id, &person.username, name)
            .await?;
    }
    Ok(())
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
    if matches!(kind, WelcomeKind::PasswordReset) && migration_pending(org, &person) {
        // Migrated lazily and not signed in since: Cognito has no login for them yet (or one
        // that a forgotten-password request migrated). The reset creates it (or resets it),
        // with their groups; their first sign-in with it finishes the migration
        // (post-authentication deletes the legacy hash, which no longer signs in: Cognito
        // asks the user-migration trigger only for people without a login).
        ensure_login(deps, pool_id, &person, &temporary_password).await?;
    } else {
        deps.pools
            .set_temporary_password(pool_id, &person.username, &temporary_password)
            .await?;
        if matches!(kind, WelcomeKind::PasswordReset) {
            // Whoever had the password (the reason for a reset, often) is signed out
            // everywhere, as a deactivation signs out.
            deps.pools
                .sign_out_everywhere(pool_id, &person.username)
                .await?;
        }
    }
    let audit = AuditEvent::now(&org.id, deps.actor, action, &person.username, None);
    mail_and_record(deps, org, person, &temporary_password, kind, Some(&audit)).await
}

/// Hours an activation link (a `link` invitation) stays valid.
pub const ACTIVATION_LINK_HOURS: i64 = 72;

/// Sends the welcome mail, then records when it went out (with the change's audit event,
/// if it has one). An invitation follows the organization's style: the temporary password,
/// or a single-use link to choose a password (the login keeps an unknown temporary password
/// until then), or, for an SSO-only organization, only the way to its provider.
async fn mail_and_record(
    deps: &Activation<'_>,
    org: &Organization,
    person: Person,
    temporary_password: &str,
    kind: WelcomeKind,
    audit: Option<&AuditEvent>,
) -> Result<Person, Error> {
    let login_url = org.subdomain.login_url(deps.base_domain);
    let mut sent = person.clone();
    sent.activation_link = None;
    let link_url;
    let access = match kind {
        WelcomeKind::Invitation if org.sign_in.sso_only => Access::SingleSignOn {
            provider: org
                .sign_in
                .providers
                .first()
                .map(String::as_str)
                .unwrap_or("organization's"),
        },
        WelcomeKind::Invitation if org.sign_in.invitation == Invitation::Link => {
            let (token, stored) = links::new_link(&person, ACTIVATION_LINK_HOURS);
            sent.activation_link = Some(stored);
            link_url = format!(
                "{}/activate/{token}",
                org.subdomain.origin(deps.base_domain)
            );
            Access::ActivationLink {
                url: &link_url,
                hours: ACTIVATION_LINK_HOURS,
            }
        }
        _ => Access::TemporaryPassword(temporary_password),
    };
    let mail = Welcome {
        org_name: org.display_name(),
        username: person.sign_in_name(),
        access,
        login_url: &login_url,
        kind,
    }
    .render()?;
    deps.mailer.send(&person.email, &mail).await?;
    sent.welcome_sent_at = Some(now_epoch());
    if matches!(kind, WelcomeKind::PasswordReset) {
        sent.sessions_revoked_at = sent.welcome_sent_at;
    }
    deps.registry.save_person(&person, &sent, audit).await
}

/// Looks at an activation link's `token` (`<person id>.<secret>`) without using it: valid
/// only for a person still invited.
pub async fn activation_link_state(
    registry: &dyn Registry,
    org: &Organization,
    token: &str,
) -> Result<LinkState, Error> {
    Ok(
        match links::lookup(registry, org, token, |p| p.activation_link.as_ref()).await? {
            LinkState::Valid(person) if person.status != PersonStatus::Invited => LinkState::Used,
            other => other,
        },
    )
}

/// Uses an activation link: the person's chosen password becomes their login's, and the
/// link is spent first (one save, checked against the version read), so that a second use,
/// even at the same moment, finds it used. If Cognito refuses the password, the link is
/// given back.
pub async fn use_activation_link(
    registry: &dyn Registry,
    pools: &dyn UserPools,
    org: &Organization,
    token: &str,
    new_password: &str,
) -> Result<Result<Person, LinkState>, Error> {
    let person = match activation_link_state(registry, org, token).await? {
        LinkState::Valid(person) => *person,
        other => return Ok(Err(other)),
    };
    let pool_id = pool_of(org, &person, "activate")?;
    let mut spent = person.clone();
    spent.activation_link = None;
    let audit = AuditEvent::now(
        &org.id,
        &person.username,
        "person.activation_link_used",
        &person.username,
        None,
    );
    let spent = match registry.save_person(&person, &spent, Some(&audit)).await {
        Ok(saved) => saved,
        Err(Error::Conflict { .. }) => return Ok(Err(LinkState::Used)),
        Err(e) => return Err(e),
    };
    if let Err(e) = pools
        .set_password(pool_id, &person.username, new_password)
        .await
    {
        let mut restored = spent.clone();
        restored.activation_link = person.activation_link.clone();
        if let Err(again) = registry.save_person(&spent, &restored, None).await {
            tracing::error!(error = %again, "giving the activation link back failed");
        }
        return Err(e);
    }
    Ok(Ok(spent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use crate::testing::{sample_org, MemoryMailer, MemoryRegistry, RecordingPools};

    fn link_of(text: &str) -> String {
        let start = text.find("/activate/").expect("a link") + "/activate/".len();
        text[start..]
            .split(|c: char| c.is_whitespace() || c == '"' || c == '<')
            .next()
            .expect("token")
            .to_owned()
    }

    #[tokio::test]
    async fn a_link_invitation_mails_a_single_use_link_instead_of_a_password() {
        let mut org = sample_org();
        org.sign_in.invitation = Invitation::Link;
        let registry = MemoryRegistry::with_org(org.clone());
        let pools = RecordingPools::default();
        let mailer = MemoryMailer::default();
        let deps = Activation {
            registry: &registry,
            pools: &pools,
            mailer: &mailer,
            base_domain: "app.example.com",
            actor: "admin",
        };
        let mut lia = Person::new(
            org.id.clone(),
            "lia".into(),
            crate::domain::EmailAddress::parse("lia@acme.example").expect("valid"),
            vec![Role::parse("member").expect("role")],
            PersonStatus::Added,
        );
        lia.version = 1;
        registry.insert_person(lia.clone());
        let done = activate_person(&deps, &org, lia).await.expect("activated");
        let (_, mail) = mailer.sent().pop().expect("a mail");
        assert!(mail.text.contains("https://acme.app.example.com/activate/"));
        assert!(!mail.text.to_lowercase().contains("temporary password"));
        let token = link_of(&mail.text);
        assert!(token.starts_with(&done.person.id.to_string()));
        let stored = done.person.activation_link.clone().expect("stored");
        assert_ne!(stored.sha256, token, "only its hash is stored");
        assert!(matches!(
            activation_link_state(&registry, &org, &token)
                .await
                .expect("read"),
            LinkState::Valid(_)
        ));
        // The invitation sent again: a new link, the old one no longer works.
        let again = send_temporary_password(&deps, &org, done.person, WelcomeKind::Invitation)
            .await
            .expect("resent");
        let (_, second) = mailer.sent().pop().expect("a mail");
        let new_token = link_of(&second.text);
        assert_ne!(new_token, token);
        assert_eq!(
            activation_link_state(&registry, &org, &token)
                .await
                .expect("read"),
            LinkState::Used
        );
        let used = use_activation_link(&registry, &pools, &org, &new_token, "Brand-New-Pass-1")
            .await
            .expect("no fault")
            .expect("used");
        assert!(used.activation_link.is_none());
        assert_eq!(again.username, used.username);
        assert_eq!(
            use_activation_link(&registry, &pools, &org, &new_token, "Brand-New-Pass-1")
                .await
                .expect("no fault"),
            Err(LinkState::Used)
        );
    }
}

#[cfg(test)]
mod branding_tests {
    use super::*;
    use crate::domain::Role;
    use crate::testing::{sample_org, MemoryMailer, MemoryRegistry, RecordingPools};

    #[tokio::test]
    async fn the_welcome_mail_carries_the_display_name() {
        let mut org = sample_org();
        org.branding.display_name = Some("Acme Labs".into());
        let registry = MemoryRegistry::with_org(org.clone());
        let (pools, mailer) = (RecordingPools::default(), MemoryMailer::default());
        let deps = Activation {
            registry: &registry,
            pools: &pools,
            mailer: &mailer,
            base_domain: "app.example.com",
            actor: "admin",
        };
        let mut ann = Person::new(
            org.id.clone(),
            "ann".into(),
            crate::domain::EmailAddress::parse("ann@acme.example").expect("valid"),
            vec![Role::parse("member").expect("role")],
            PersonStatus::Added,
        );
        ann.version = 1;
        registry.insert_person(ann.clone());
        activate_person(&deps, &org, ann).await.expect("activated");
        let (_, mail) = mailer.sent().pop().expect("a mail");
        assert_eq!(mail.subject, "Your Acme Labs account");
        assert!(!mail.text.contains("Acme Corporation"));
    }
}
