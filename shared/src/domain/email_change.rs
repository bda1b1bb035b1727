//! Changing a person's e-mail address. An address of a person who holds a login (invited or
//! active) changes only once the new address is confirmed: until then it waits as
//! `pending_email`, the person cannot sign in (the triggers refuse a pending address), a
//! single-use link goes to the new address and a notice to the old one. Anyone else's address
//! changes at once.

use super::links::{self, LinkState};
use super::mail::EmailChange;
use super::people::Admin;
use super::{EmailAddress, Error, Organization, Person, PersonStatus};
use crate::ports::{AuditEvent, Registry, UserPools};

/// Hours a confirmation link stays valid.
pub const EMAIL_LINK_HOURS: i64 = 72;

impl Admin<'_> {
    /// Asks for `person`'s address to become `new_email` (see the module).
    pub async fn change_email(
        &self,
        org: &Organization,
        person: &Person,
        new_email: &str,
    ) -> Result<Person, Error> {
        let new = EmailAddress::parse(new_email)?;
        if new == person.email && person.pending_email.is_none() {
            return Ok(person.clone());
        }
        if let Some(other) = self.registry.person_by_email(&org.id, &new).await? {
            if other.username != person.username {
                return Err(Error::not_allowed(
                    format!("change the address of {}", person.username),
                    "another person of this organization already has that e-mail address",
                ));
            }
        }
        let mut next = person.clone();
        if new == person.email {
            // Back to the current address: the pending change is withdrawn.
            next.pending_email = None;
            next.email_link = None;
            let audit = AuditEvent::now(
                &org.id,
                self.actor,
                "person.email_change_withdrawn",
                &person.username,
                None,
            );
            return self.registry.save_person(person, &next, Some(&audit)).await;
        }
        if !matches!(person.status, PersonStatus::Invited | PersonStatus::Active) {
            next.email = new.clone();
            next.pending_email = None;
            next.email_link = None;
            if person.status == PersonStatus::Deactivated {
                if let Some(pool) = org.cognito.user_pool_id.as_deref() {
                    self.pools.set_email(pool, &person.username, &new).await?;
                }
            }
            let audit = AuditEvent::now(
                &org.id,
                self.actor,
                "person.email_changed",
                &person.username,
                None,
            );
            return self.registry.change_email(person, &next, &audit).await;
        }
        let (token, stored) = links::new_link(person, EMAIL_LINK_HOURS);
        next.pending_email = Some(new.clone());
        next.email_link = Some(stored);
        let audit = AuditEvent::now(
            &org.id,
            self.actor,
            "person.email_change_requested",
            &person.username,
            Some("a confirmation link went to the new address".into()),
        );
        let saved = self
            .registry
            .save_person(person, &next, Some(&audit))
            .await?;
        let url = format!(
            "{}/confirm-email/{token}",
            org.subdomain.origin(self.base_domain)
        );
        let confirm = EmailChange {
            org_name: org.display_name(),
            username: &person.username,
            new_email: new.as_str(),
            confirm_url: Some(&url),
            hours: EMAIL_LINK_HOURS,
        }
        .render()?;
        self.mailer.send(&new, &confirm).await?;
        let notice = EmailChange {
            org_name: org.display_name(),
            username: &person.username,
            new_email: new.as_str(),
            confirm_url: None,
            hours: EMAIL_LINK_HOURS,
        }
        .render()?;
        if let Err(e) = self.mailer.send(&person.email, &notice).await {
            // The change goes on; the old address only misses the notice.
            tracing::warn!(error = %e, "the notice to the old address was not sent");
        }
        Ok(saved)
    }
}

/// Looks at a confirmation link's `token` without using it.
pub async fn email_link_state(
    registry: &dyn Registry,
    org: &Organization,
    token: &str,
) -> Result<LinkState, Error> {
    Ok(
        match links::lookup(registry, org, token, |p| p.email_link.as_ref()).await? {
            LinkState::Valid(person) if person.pending_email.is_none() => LinkState::Used,
            other => other,
        },
    )
}

/// Confirms the pending address: the login's address first (repeatable), then the record,
/// which claims the new address, frees the old one and spends the link in one write. A
/// second use finds the link used.
pub async fn confirm_email_change(
    registry: &dyn Registry,
    pools: &dyn UserPools,
    org: &Organization,
    token: &str,
) -> Result<Result<Person, LinkState>, Error> {
    let person = match email_link_state(registry, org, token).await? {
        LinkState::Valid(person) => *person,
        other => return Ok(Err(other)),
    };
    let Some(new) = person.pending_email.clone() else {
        return Ok(Err(LinkState::Used));
    };
    if let Some(pool) = org.cognito.user_pool_id.as_deref() {
        pools.set_email(pool, &person.username, &new).await?;
    }
    let mut next = person.clone();
    next.email = new;
    next.pending_email = None;
    next.email_link = None;
    let audit = AuditEvent::now(
        &org.id,
        &person.username,
        "person.email_changed",
        &person.username,
        Some("confirmed by the link".into()),
    );
    match registry.change_email(&person, &next, &audit).await {
        Ok(saved) => Ok(Ok(saved)),
        Err(Error::Conflict { .. }) => Ok(Err(LinkState::Used)),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use crate::testing::{sample_org, MemoryMailer, MemoryRegistry, RecordingPools};

    fn person(username: &str, email: &str, status: PersonStatus) -> Person {
        let mut p = Person::new(
            sample_org().id,
            username.into(),
            EmailAddress::parse(email).expect("valid"),
            vec![Role::parse("member").expect("role")],
            status,
        );
        p.version = 1;
        p
    }

    fn token_in(text: &str) -> String {
        let start = text.find("/confirm-email/").expect("a link") + "/confirm-email/".len();
        text[start..]
            .split_whitespace()
            .next()
            .expect("token")
            .to_owned()
    }

    #[tokio::test]
    async fn an_active_persons_new_address_waits_for_its_confirmation() {
        let org = sample_org();
        let registry = MemoryRegistry::with_org(org.clone());
        let pools = RecordingPools::default();
        let mailer = MemoryMailer::default();
        let admin = Admin {
            registry: &registry,
            pools: &pools,
            mailer: &mailer,
            base_domain: "app.example.com",
            actor: "boss",
        };
        let hank = person("hank", "hank@acme.example", PersonStatus::Active);
        registry.insert_person(hank.clone());
        registry.insert_person(person("ida", "ida@acme.example", PersonStatus::Active));
        // Another person's address is refused.
        assert!(admin
            .change_email(&org, &hank, "ida@acme.example")
            .await
            .is_err());
        assert!(admin
            .change_email(&org, &hank, "not an address")
            .await
            .is_err());
        let pending = admin
            .change_email(&org, &hank, "h.new@acme.example")
            .await
            .expect("asked");
        assert_eq!(pending.email.as_str(), "hank@acme.example");
        assert_eq!(
            pending.pending_email.as_ref().map(|e| e.as_str()),
            Some("h.new@acme.example")
        );
        let sent = mailer.sent();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].0.as_str(), "h.new@acme.example");
        assert!(sent[0]
            .1
            .text
            .contains("https://acme.app.example.com/confirm-email/"));
        assert_eq!(sent[1].0.as_str(), "hank@acme.example");
        assert!(
            sent[1]
                .1
                .text
                .contains("being changed to\nh.new@acme.example")
                || sent[1].1.text.contains("h.new@acme.example")
        );
        assert!(
            !sent[1].1.text.contains("/confirm-email/"),
            "the old address gets no link"
        );
        assert!(
            pools.calls().is_empty(),
            "the login keeps its address until confirmed"
        );
        let token = token_in(&sent[0].1.text);
        let confirmed = confirm_email_change(&registry, &pools, &org, &token)
            .await
            .expect("no fault")
            .expect("confirmed");
        assert_eq!(confirmed.email.as_str(), "h.new@acme.example");
        assert!(confirmed.pending_email.is_none() && confirmed.email_link.is_none());
        assert_eq!(
            pools.calls(),
            [format!(
                "set_email {} hank h.new@acme.example",
                org.cognito.user_pool_id.clone().expect("pool")
            )]
        );
        assert_eq!(
            confirm_email_change(&registry, &pools, &org, &token)
                .await
                .expect("no fault"),
            Err(LinkState::Used)
        );
        let actions = registry.audit_actions();
        assert!(actions.contains(&"person.email_change_requested".to_owned()));
        assert!(actions.contains(&"person.email_changed".to_owned()));
    }

    #[tokio::test]
    async fn a_person_without_a_login_changes_address_at_once() {
        let org = sample_org();
        let registry = MemoryRegistry::with_org(org.clone());
        let pools = RecordingPools::default();
        let mailer = MemoryMailer::default();
        let admin = Admin {
            registry: &registry,
            pools: &pools,
            mailer: &mailer,
            base_domain: "app.example.com",
            actor: "boss",
        };
        let added = person("newbie", "newbie@acme.example", PersonStatus::Added);
        registry.insert_person(added.clone());
        let changed = admin
            .change_email(&org, &added, "n@acme.example")
            .await
            .expect("changed");
        assert_eq!(changed.email.as_str(), "n@acme.example");
        assert!(mailer.sent().is_empty());
        assert!(pools.calls().is_empty());
    }
}
