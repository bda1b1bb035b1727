//! Changing a person's e-mail address or username. An address of a person who holds a login
//! (invited or active) changes only once the new address is confirmed: until then it waits as
//! `pending_email`, the person cannot sign in (the triggers refuse a pending address), a
//! single-use link goes to the new address and a notice to the old one. Anyone else's address
//! changes at once.
//!
//! A username change works the same way (`pending_username`, the link to the person's
//! address), and keeps the login: Cognito usernames never change, so the new name becomes
//! the login's `preferred_username`, a sign-in alias (see [`super::person`]). One link
//! confirms whatever is pending.

use super::links::{self, LinkState};
use super::mail::EmailChange;
use super::people::Admin;
use super::person::parse_username;
use super::{EmailAddress, Error, Organization, Person, PersonStatus};
use crate::domain::ports::{AuditEvent, Registry, UserPools};

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
            if next.pending_username.is_none() {
                next.email_link = None;
            }
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
            username: person.sign_in_name(),
            new_email: new.as_str(),
            new_username: None,
            confirm_url: Some(&url),
            hours: EMAIL_LINK_HOURS,
        }
        .render()?;
        self.mailer.send(&new, &confirm).await?;
        let notice = EmailChange {
            org_name: org.display_name(),
            username: person.sign_in_name(),
            new_email: new.as_str(),
            new_username: None,
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

impl Admin<'_> {
    /// Asks for `person` to sign in as `new_username` from now on (see the module): at once
    /// for a person without a live login; for an invited or active one, pending until they
    /// confirm it with the link mailed to them.
    pub async fn change_username(
        &self,
        org: &Organization,
        person: &Person,
        new_username: &str,
    ) -> Result<Person, Error> {
        let new = parse_username(new_username)?;
        let current = person.sign_in_name();
        if new == current {
            if person.pending_username.is_none() {
                return Ok(person.clone());
            }
            let mut next = person.clone();
            next.pending_username = None;
            if next.pending_email.is_none() {
                next.email_link = None;
            }
            let audit = AuditEvent::now(
                &org.id,
                self.actor,
                "person.username_change_withdrawn",
                &person.username,
                None,
            );
            return self.registry.save_person(person, &next, Some(&audit)).await;
        }
        let taken = |other: Option<Person>| other.is_some_and(|o| o.id != person.id);
        if taken(self.registry.person(&org.id, &new).await?)
            || taken(self.registry.person_by_sign_in_name(&org.id, &new).await?)
        {
            return Err(Error::not_allowed(
                format!("rename {}", person.sign_in_name()),
                "another person of this organization already signs in with that username",
            ));
        }
        let target = (new != person.username).then(|| new.clone());
        let mut next = person.clone();
        if !matches!(person.status, PersonStatus::Invited | PersonStatus::Active) {
            next.preferred_username = target;
            next.pending_username = None;
            if person.status == PersonStatus::Deactivated {
                if let Some(pool) = org.cognito.user_pool_id.as_deref() {
                    self.pools
                        .set_preferred_username(pool, &person.username, &new)
                        .await?;
                }
            }
            let audit = AuditEvent::now(
                &org.id,
                self.actor,
                "person.username_changed",
                &person.username,
                Some(format!("now signs in as {new}")),
            );
            return self.registry.change_username(person, &next, &audit).await;
        }
        let (token, stored) = links::new_link(person, EMAIL_LINK_HOURS);
        next.pending_username = Some(new.clone());
        next.email_link = Some(stored);
        let audit = AuditEvent::now(
            &org.id,
            self.actor,
            "person.username_change_requested",
            &person.username,
            Some(format!("to sign in as {new}, once confirmed by the link")),
        );
        let saved = self
            .registry
            .save_person(person, &next, Some(&audit))
            .await?;
        let url = format!(
            "{}/confirm-email/{token}",
            org.subdomain.origin(self.base_domain)
        );
        // To the address the link must reach: a pending new one, else the current one.
        let to = person.pending_email.as_ref().unwrap_or(&person.email);
        let confirm = EmailChange {
            org_name: org.display_name(),
            username: person.sign_in_name(),
            new_email: to.as_str(),
            new_username: Some(&new),
            confirm_url: Some(&url),
            hours: EMAIL_LINK_HOURS,
        }
        .render()?;
        self.mailer.send(to, &confirm).await?;
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
            LinkState::Valid(person) if !person.change_pending() => LinkState::Used,
            other => other,
        },
    )
}

/// Confirms what is pending, the username first, then the address. For each, the login
/// first (repeatable), then the record, which claims the new name or address, frees the old
/// one and (with the last) spends the link in one write. A second use finds the link used.
pub async fn confirm_email_change(
    registry: &dyn Registry,
    pools: &dyn UserPools,
    org: &Organization,
    token: &str,
) -> Result<Result<Person, LinkState>, Error> {
    let mut person = match email_link_state(registry, org, token).await? {
        LinkState::Valid(person) => *person,
        other => return Ok(Err(other)),
    };
    if let Some(name) = person.pending_username.clone() {
        if let Some(pool) = org.cognito.user_pool_id.as_deref() {
            pools
                .set_preferred_username(pool, &person.username, &name)
                .await?;
        }
        let mut next = person.clone();
        next.preferred_username = (name != person.username).then(|| name.clone());
        next.pending_username = None;
        if next.pending_email.is_none() {
            next.email_link = None;
        }
        let audit = AuditEvent::now(
            &org.id,
            &person.username,
            "person.username_changed",
            &person.username,
            Some(format!("now signs in as {name}; confirmed by the link")),
        );
        person = match registry.change_username(&person, &next, &audit).await {
            Ok(saved) => saved,
            Err(Error::Conflict { .. }) => return Ok(Err(LinkState::Used)),
            Err(e) => return Err(e),
        };
    }
    let Some(new) = person.pending_email.clone() else {
        return Ok(Ok(person));
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
    async fn a_username_change_keeps_the_login_and_waits_for_its_confirmation() {
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
        // Someone else's username, and a name that is no username, are refused.
        assert!(admin.change_username(&org, &hank, "ida").await.is_err());
        assert!(admin.change_username(&org, &hank, "h a n k").await.is_err());
        // The same name changes nothing.
        let same = admin
            .change_username(&org, &hank, "HANK")
            .await
            .expect("same");
        assert_eq!(same.version, hank.version);
        let pending = admin
            .change_username(&org, &hank, "Henry")
            .await
            .expect("asked");
        assert_eq!(pending.pending_username.as_deref(), Some("henry"));
        assert_eq!(pending.sign_in_name(), "hank", "not before it is confirmed");
        assert!(
            crate::domain::signin::check_person(Some(&pending)).is_err(),
            "no sign-in while it waits"
        );
        assert!(pools.calls().is_empty(), "the login waits too");
        let sent = mailer.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0.as_str(), "hank@acme.example");
        assert!(
            sent[0].1.subject.contains("username"),
            "{}",
            sent[0].1.subject
        );
        assert!(
            sent[0].1.text.contains("sign in as \"henry\""),
            "{}",
            sent[0].1.text
        );
        let token = token_in(&sent[0].1.text);
        let confirmed = confirm_email_change(&registry, &pools, &org, &token)
            .await
            .expect("no fault")
            .expect("confirmed");
        assert_eq!(confirmed.username, "hank", "the same login");
        assert_eq!(confirmed.preferred_username.as_deref(), Some("henry"));
        assert_eq!(confirmed.sign_in_name(), "henry");
        assert!(confirmed.pending_username.is_none() && confirmed.email_link.is_none());
        assert!(crate::domain::signin::check_person(Some(&confirmed)).is_ok());
        assert_eq!(
            pools.calls(),
            [format!(
                "set_preferred_username {} hank henry",
                org.cognito.user_pool_id.clone().expect("pool")
            )]
        );
        let ida = registry.stored_person("ida").expect("ida");
        assert!(admin.change_username(&org, &ida, "henry").await.is_err());
        assert!(
            admin.change_username(&org, &ida, "hank").await.is_err(),
            "the login name stays hank's"
        );
        assert_eq!(
            confirm_email_change(&registry, &pools, &org, &token)
                .await
                .expect("no fault"),
            Err(LinkState::Used)
        );
        let actions = registry.audit_actions();
        assert!(actions.contains(&"person.username_change_requested".to_owned()));
        assert!(actions.contains(&"person.username_changed".to_owned()));
    }

    #[tokio::test]
    async fn a_person_without_a_login_is_renamed_at_once() {
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
        let renamed = admin
            .change_username(&org, &added, "nora")
            .await
            .expect("renamed");
        assert_eq!(renamed.sign_in_name(), "nora");
        assert!(mailer.sent().is_empty());
        assert!(pools.calls().is_empty());
        // Back to the login name: no alias left.
        let back = admin
            .change_username(&org, &renamed, "newbie")
            .await
            .expect("back");
        assert_eq!(back.preferred_username, None);
        assert_eq!(back.sign_in_name(), "newbie");
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
