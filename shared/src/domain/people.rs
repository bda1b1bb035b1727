//! What an organization's admins do to its people and roles (the admin API calls these):
//! add a person, change their names and roles, switch activation on and off, send the
//! invitation again, reset a password, delete (unlink); add and remove roles.
//!
//! Every state change goes through the registry's versioned, audited transactions first;
//! Cognito and the mail follow. Each operation is safe to repeat: a repeat that finds the
//! change made finishes what a failure half-way left undone, and changes nothing else.

use super::activation::{activate_person, send_temporary_password, Activated, Activation};
use super::mail::WelcomeKind;
use super::person::parse_username;
use super::{EmailAddress, Error, Organization, Person, PersonStatus, Role};
use crate::domain::ports::{AuditEvent, Mailer, Registry, UserPools};

/// Longest name part we keep (given or family name).
pub const MAX_NAME_CHARS: usize = 100;

/// Who acts, and with what.
pub struct Admin<'a> {
    pub registry: &'a dyn Registry,
    pub pools: &'a dyn UserPools,
    pub mailer: &'a dyn Mailer,
    pub base_domain: &'a str,
    /// For the audit log: the acting admin's username.
    pub actor: &'a str,
}

/// A person to add (a record only: no login until their activation is switched on).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewPerson {
    pub username: String,
    pub email: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub roles: Vec<String>,
}

/// A change to a person; `None` leaves a field as it is; `Some(None)` clears a name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PersonChanges {
    pub given_name: Option<Option<String>>,
    pub family_name: Option<Option<String>>,
    pub roles: Option<Vec<String>>,
}

/// A name part, trimmed: 1 to [`MAX_NAME_CHARS`] printable characters, or none at all.
pub fn parse_name(what: &'static str, input: Option<&str>) -> Result<Option<String>, Error> {
    let Some(name) = input.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(Error::InvalidInput {
            what,
            value: name.chars().take(MAX_NAME_CHARS).collect(),
            rule: "it must be at most 100 printable characters",
        });
    }
    Ok(Some(name.to_owned()))
}

/// The organization's roles named in `names`, each once, in the order given.
fn parse_roles(org: &Organization, names: &[String]) -> Result<Vec<Role>, Error> {
    let mut roles = Vec::with_capacity(names.len());
    for name in names {
        let role = org.role(name)?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(roles)
}

impl NewPerson {
    /// The person this describes, checked field by field (the first wrong field is named).
    pub fn validate(&self, org: &Organization) -> Result<Person, Error> {
        let username = parse_username(&self.username)?;
        let email = EmailAddress::parse(&self.email)?;
        let given_name = parse_name("given_name", self.given_name.as_deref())?;
        let family_name = parse_name("family_name", self.family_name.as_deref())?;
        let roles = parse_roles(org, &self.roles)?;
        let mut person = Person::new(org.id.clone(), username, email, roles, PersonStatus::Added);
        person.given_name = given_name;
        person.family_name = family_name;
        Ok(person)
    }
}

impl Admin<'_> {
    fn activation(&self) -> Activation<'_> {
        Activation {
            registry: self.registry,
            pools: self.pools,
            mailer: self.mailer,
            base_domain: self.base_domain,
            actor: self.actor,
        }
    }

    fn audit(
        &self,
        org: &Organization,
        action: &str,
        person: &Person,
        detail: Option<String>,
    ) -> AuditEvent {
        AuditEvent::now(&org.id, self.actor, action, &person.username, detail)
    }

    fn pool<'o>(&self, org: &'o Organization) -> Result<&'o str, Error> {
        org.cognito.user_pool_id.as_deref().ok_or_else(|| {
            Error::not_allowed(
                "change logins",
                "the organization has no user pool yet; finish it with `tenantctl org create`",
            )
        })
    }

    /// Adds a person: a record only, no login, nothing mailed.
    pub async fn add_person(&self, org: &Organization, new: &NewPerson) -> Result<Person, Error> {
        let person = new.validate(org)?;
        let audit = self.audit(org, "person.added", &person, None);
        self.registry.create_person(&person, &audit).await?;
        Ok(person)
    }

    /// Changes names and roles of the person as the caller last saw them (`person`, whose
    /// version the registry checks). Roles of a person holding a login are mirrored into the
    /// Cognito groups. Changing nothing writes nothing.
    pub async fn update_person(
        &self,
        org: &Organization,
        person: &Person,
        changes: &PersonChanges,
    ) -> Result<Person, Error> {
        let mut next = person.clone();
        let mut changed = Vec::new();
        if let Some(given) = &changes.given_name {
            next.given_name = parse_name("given_name", given.as_deref())?;
            if next.given_name != person.given_name {
                changed.push("given_name");
            }
        }
        if let Some(family) = &changes.family_name {
            next.family_name = parse_name("family_name", family.as_deref())?;
            if next.family_name != person.family_name {
                changed.push("family_name");
            }
        }
        if let Some(roles) = &changes.roles {
            next.roles = parse_roles(org, roles)?;
            if next.roles.is_empty() && person.status.holds_seat() {
                return Err(Error::not_allowed(
                    format!("take every role from {}", person.username),
                    "a person with a login keeps at least one role; switch their activation off first",
                ));
            }
            if next.roles != person.roles {
                changed.push("roles");
            }
        }
        if changed.is_empty() {
            return Ok(person.clone());
        }
        let detail = if changed.contains(&"roles") {
            let names: Vec<&str> = next.roles.iter().map(Role::as_str).collect();
            format!("{}; roles {}", changed.join(", "), names.join(", "))
        } else {
            changed.join(", ")
        };
        let audit = self.audit(org, "person.updated", person, Some(detail));
        let saved = save_keeping_an_admin(
            self.registry,
            person,
            &next,
            Some(&audit),
            "take the admin role from",
        )
        .await?;
        if saved.status.holds_seat() && saved.roles != person.roles {
            self.sync_groups(org, person, &saved).await?;
        }
        Ok(saved)
    }

    async fn sync_groups(
        &self,
        org: &Organization,
        before: &Person,
        after: &Person,
    ) -> Result<(), Error> {
        let pool = self.pool(org)?;
        for role in after.roles.iter().filter(|r| !before.roles.contains(r)) {
            self.pools
                .add_to_group(pool, &after.username, role.as_str())
                .await?;
        }
        for role in before.roles.iter().filter(|r| !after.roles.contains(r)) {
            self.pools
                .remove_from_group(pool, &after.username, role.as_str())
                .await?;
        }
        Ok(())
    }

    /// The activation toggle. ON: a seat, a login with a temporary password, the welcome
    /// mail ([`activate_person`]). OFF: the seat is freed, the login disabled and signed out
    /// everywhere. Repeating the same toggle finishes what a failure left and changes
    /// nothing else, and sends no second mail.
    pub async fn set_activation(
        &self,
        org: &Organization,
        person: Person,
        active: bool,
    ) -> Result<Activated, Error> {
        if active {
            return activate_person(&self.activation(), org, person).await;
        }
        let person = match person.status {
            PersonStatus::Invited | PersonStatus::Active => {
                let mut off = person.clone();
                off.status = PersonStatus::Deactivated;
                off.sessions_revoked_at = Some(super::now_epoch());
                let audit = self.audit(org, "person.deactivated", &person, None);
                save_keeping_an_admin(self.registry, &person, &off, Some(&audit), "deactivate")
                    .await?
            }
            // Already off: the login's side is finished below, nothing else changes.
            PersonStatus::Deactivated => person,
            PersonStatus::Added | PersonStatus::Unlinked => {
                return Ok(Activated {
                    person,
                    mail_sent: false,
                })
            }
        };
        self.pools
            .disable_login(self.pool(org)?, &person.username)
            .await?;
        Ok(Activated {
            person,
            mail_sent: false,
        })
    }

    /// A fresh temporary password and the invitation mail again, for an invited person.
    pub async fn resend_invitation(
        &self,
        org: &Organization,
        person: Person,
    ) -> Result<Person, Error> {
        send_temporary_password(&self.activation(), org, person, WelcomeKind::Invitation).await
    }

    /// An administrator's password reset: a fresh temporary password by mail; the next
    /// sign-in must choose a new one.
    pub async fn reset_password(
        &self,
        org: &Organization,
        person: Person,
    ) -> Result<Person, Error> {
        send_temporary_password(&self.activation(), org, person, WelcomeKind::PasswordReset).await
    }

    /// Deletes the person's login; the record stays (`unlinked`), the seat is freed.
    /// Repeating it finishes the login's removal.
    pub async fn delete_person(&self, org: &Organization, person: Person) -> Result<Person, Error> {
        let person = if person.status == PersonStatus::Unlinked {
            person
        } else {
            person.check_transition(PersonStatus::Unlinked)?;
            let mut unlinked = person.clone();
            unlinked.status = PersonStatus::Unlinked;
            let audit = self.audit(org, "person.deleted", &person, None);
            save_keeping_an_admin(self.registry, &person, &unlinked, Some(&audit), "delete").await?
        };
        self.pools
            .delete_login(self.pool(org)?, &person.username)
            .await?;
        Ok(person)
    }

    /// Adds a role: a Cognito group of the same name, then the organization's record.
    pub async fn add_role(&self, org: &Organization, name: &str) -> Result<Organization, Error> {
        let role = Role::parse(name)?;
        if org.roles.contains(&role) {
            return Err(Error::not_allowed(
                format!("add the role {role}", role = role.as_str()),
                "the organization has that role already",
            ));
        }
        self.pools
            .ensure_groups(self.pool(org)?, &[role.as_str()])
            .await?;
        let mut next = org.clone();
        next.roles.push(role.clone());
        let audit = AuditEvent::now(&org.id, self.actor, "role.added", role.as_str(), None);
        self.registry.save_organization(&next, Some(&audit)).await
    }

    /// Removes a role nobody holds; `admin` and `member` stay.
    pub async fn delete_role(&self, org: &Organization, name: &str) -> Result<Organization, Error> {
        let role = org.role(name)?;
        if Organization::permanent_role(&role) {
            return Err(Error::not_allowed(
                format!("delete the role {}", role.as_str()),
                "admin and member are every organization's own roles and stay",
            ));
        }
        let held = super::search::people_counts(self.registry, &org.id)
            .await?
            .held(&role);
        if held > 0 {
            return Err(Error::not_allowed(
                format!("delete the role {}", role.as_str()),
                "people still hold it; take it from them first",
            ));
        }
        let mut next = org.clone();
        next.roles.retain(|r| r != &role);
        let audit = AuditEvent::now(&org.id, self.actor, "role.deleted", role.as_str(), None);
        let saved = self.registry.save_organization(&next, Some(&audit)).await?;
        self.pools
            .delete_group(self.pool(org)?, role.as_str())
            .await?;
        Ok(saved)
    }
}

/// How often a change that takes an active administrator away is tried again when another
/// such change (or any change of the organization's record) came between.
const ADMIN_GUARD_ATTEMPTS: usize = 4;

/// Saves `after` over `before`. A change that takes an active administrator away (demoted,
/// deactivated, deleted) is made only while another active
/// administrator remains, and such changes are made one at a time: each counts the others
/// after reading the organization's record and writes on the condition that the record has
/// not moved since (every such change moves it). Two admins demoting each other at once: one
/// of them is refused with [`Error::LastAdministrator`].
pub(crate) async fn save_keeping_an_admin(
    registry: &dyn Registry,
    before: &Person,
    after: &Person,
    audit: Option<&AuditEvent>,
    action: &str,
) -> Result<Person, Error> {
    if !before.is_active_admin() || after.is_active_admin() {
        return registry.save_person(before, after, audit).await;
    }
    for _ in 0..ADMIN_GUARD_ATTEMPTS {
        let org = registry
            .organization(&before.org_id)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "organization",
                key: before.org_id.to_string(),
            })?;
        // `before` is one of them: the others are the rest (read after the organization's
        // record, whose version the write checks).
        let others = super::search::people_counts(registry, &before.org_id)
            .await?
            .admins_with_login()
            - 1;
        if others <= 0 {
            return Err(Error::LastAdministrator {
                action: format!("{action} {}", before.sign_in_name()),
            });
        }
        match registry
            .save_person_if_org_unchanged(before, after, audit, org.version)
            .await
        {
            Err(Error::Conflict {
                what: "organization",
                ..
            }) => continue,
            done => return done,
        }
    }
    Err(Error::Conflict {
        what: "organization",
        key: before.org_id.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{sample_org, MemoryMailer, MemoryRegistry, RecordingPools};

    struct World {
        registry: MemoryRegistry,
        pools: RecordingPools,
        mailer: MemoryMailer,
    }

    impl World {
        fn new() -> Self {
            Self {
                registry: MemoryRegistry::with_org(sample_org()),
                pools: RecordingPools::default(),
                mailer: MemoryMailer::default(),
            }
        }

        fn admin(&self) -> Admin<'_> {
            Admin {
                registry: &self.registry,
                pools: &self.pools,
                mailer: &self.mailer,
                base_domain: "app.example.com",
                actor: "boss",
            }
        }
    }

    fn jane() -> NewPerson {
        NewPerson {
            username: "Jane".into(),
            email: "jane@acme.example".into(),
            given_name: Some(" Jane ".into()),
            family_name: Some("Doe".into()),
            roles: vec!["member".into()],
        }
    }

    #[tokio::test]
    async fn the_last_active_administrator_stays_one() {
        let w = World::new();
        let org = sample_org();
        let admin = w.admin();
        let add = |name: &str, roles: &[&str]| NewPerson {
            username: name.into(),
            email: format!("{name}@acme.example"),
            given_name: None,
            family_name: None,
            roles: roles.iter().map(|r| r.to_string()).collect(),
        };
        let on = |p: Person| async { admin.set_activation(&org, p, true).await };
        let ann = admin
            .add_person(&org, &add("ann", &["admin"]))
            .await
            .expect("ann");
        let ann = on(ann).await.expect("on").person;
        // A member, and an administrator without a login, count for nothing.
        let bob = admin
            .add_person(&org, &add("bob", &["member"]))
            .await
            .expect("bob");
        on(bob).await.expect("on");
        admin
            .add_person(&org, &add("cy", &["admin"]))
            .await
            .expect("cy");
        let last = |r: Result<Person, Error>| match r {
            Err(Error::LastAdministrator { action }) => action,
            other => panic!("expected LastAdministrator, got {other:?}"),
        };
        let demote = PersonChanges {
            roles: Some(vec!["member".into()]),
            ..Default::default()
        };
        assert_eq!(
            last(admin.update_person(&org, &ann, &demote).await),
            "take the admin role from ann"
        );
        assert_eq!(
            last(
                admin
                    .set_activation(&org, ann.clone(), false)
                    .await
                    .map(|a| a.person)
            ),
            "deactivate ann"
        );
        assert_eq!(
            last(admin.delete_person(&org, ann.clone()).await),
            "delete ann"
        );
        let stored = w.registry.stored_person("ann").expect("ann");
        assert_eq!(stored, ann, "nothing changed");
        // Her names and other roles still change.
        let named = PersonChanges {
            given_name: Some(Some("Ann".into())),
            roles: Some(vec!["admin".into(), "member".into()]),
            ..Default::default()
        };
        let ann = admin
            .update_person(&org, &ann, &named)
            .await
            .expect("named");
        // With a second active administrator, she may go; then he is the last.
        let dan = admin
            .add_person(&org, &add("dan", &["admin"]))
            .await
            .expect("dan");
        let dan = on(dan).await.expect("on").person;
        admin
            .set_activation(&org, ann, false)
            .await
            .expect("ann deactivated");
        assert_eq!(last(admin.delete_person(&org, dan).await), "delete dan");
    }

    #[tokio::test]
    async fn added_people_are_records_only() {
        let w = World::new();
        let jane = w
            .admin()
            .add_person(&sample_org(), &jane())
            .await
            .expect("added");
        assert_eq!(jane.username, "jane");
        assert_eq!(jane.given_name.as_deref(), Some("Jane"));
        assert_eq!(jane.status, PersonStatus::Added);
        assert!(w.pools.calls().is_empty(), "no login");
        assert!(w.mailer.sent().is_empty());
        assert_eq!(w.registry.audit_actions(), ["person.added"]);
    }

    #[tokio::test]
    async fn unknown_roles_and_bad_fields_are_named() {
        let w = World::new();
        let org = sample_org();
        for (new, field) in [
            (
                NewPerson {
                    roles: vec!["boss".into()],
                    ..jane()
                },
                "role",
            ),
            (
                NewPerson {
                    email: "no-at".into(),
                    ..jane()
                },
                "e-mail",
            ),
            (
                NewPerson {
                    username: "a b".into(),
                    ..jane()
                },
                "username",
            ),
            (
                NewPerson {
                    given_name: Some("x".repeat(101)),
                    ..jane()
                },
                "given_name",
            ),
        ] {
            let err = w.admin().add_person(&org, &new).await.expect_err("refused");
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
        assert!(w.registry.audit_events().is_empty(), "nothing changed");
    }

    #[tokio::test]
    async fn the_toggle_on_and_off_and_on_again_is_one_login_and_repeats_change_nothing() {
        let w = World::new();
        let org = sample_org();
        let admin = w.admin();
        let jane = admin.add_person(&org, &jane()).await.expect("added");
        let on = admin.set_activation(&org, jane, true).await.expect("on");
        assert!(on.mail_sent);
        assert_eq!(on.person.status, PersonStatus::Invited);
        let again = admin
            .set_activation(&org, on.person.clone(), true)
            .await
            .expect("repeat");
        assert!(!again.mail_sent, "no second mail");
        assert_eq!(w.mailer.sent().len(), 1);
        let off = admin
            .set_activation(&org, again.person, false)
            .await
            .expect("off");
        assert_eq!(off.person.status, PersonStatus::Deactivated);
        assert_eq!(
            w.registry.org(&org.id).expect("org").seats_used,
            0,
            "seat freed"
        );
        let off_again = admin
            .set_activation(&org, off.person, false)
            .await
            .expect("repeat off");
        let on_again = admin
            .set_activation(&org, off_again.person, true)
            .await
            .expect("on again");
        assert!(on_again.mail_sent);
        assert_eq!(w.mailer.sent().len(), 2);
        let creates = w
            .pools
            .calls()
            .iter()
            .filter(|c| c.starts_with("create_login"))
            .count();
        assert_eq!(creates, 2, "the same login, re-enabled by create_login");
        assert_eq!(
            w.pools
                .calls()
                .iter()
                .filter(|c| c.starts_with("disable_login"))
                .count(),
            2,
            "a repeated OFF finishes the login's side"
        );
        assert_eq!(
            w.registry.audit_actions(),
            [
                "person.added",
                "person.activated",
                "person.deactivated",
                "person.activated"
            ]
        );
    }

    #[tokio::test]
    async fn activation_needs_a_role() {
        let w = World::new();
        let org = sample_org();
        let nobody = w
            .admin()
            .add_person(
                &org,
                &NewPerson {
                    roles: vec![],
                    ..jane()
                },
            )
            .await
            .expect("added");
        let err = w
            .admin()
            .set_activation(&org, nobody, true)
            .await
            .expect_err("no role");
        assert!(err.to_string().contains("at least one role"), "{err}");
        assert!(w.mailer.sent().is_empty());
    }

    #[tokio::test]
    async fn roles_of_a_person_with_a_login_follow_into_groups() {
        let w = World::new();
        let mut org = sample_org();
        org.roles.push(Role::parse("billing").expect("valid"));
        let admin = w.admin();
        let jane = admin.add_person(&org, &jane()).await.expect("added");
        let jane = admin
            .set_activation(&org, jane, true)
            .await
            .expect("on")
            .person;
        let changes = PersonChanges {
            roles: Some(vec!["billing".into(), "billing".into()]),
            ..Default::default()
        };
        let jane = admin
            .update_person(&org, &jane, &changes)
            .await
            .expect("changed");
        assert_eq!(jane.roles, [Role::parse("billing").expect("valid")]);
        let calls = w.pools.calls();
        assert!(calls.contains(&"add_to_group eu-west-1_AcmePool1 jane billing".to_owned()));
        assert!(calls.contains(&"remove_from_group eu-west-1_AcmePool1 jane member".to_owned()));
        let none = PersonChanges {
            roles: Some(vec![]),
            ..Default::default()
        };
        assert!(admin.update_person(&org, &jane, &none).await.is_err());
        // A stale copy is refused: someone saved the person meanwhile.
        let stale = admin
            .update_person(
                &org,
                &jane,
                &PersonChanges {
                    family_name: Some(None),
                    ..Default::default()
                },
            )
            .await
            .expect("saved");
        assert_ne!(stale.version, jane.version);
        let err = admin
            .update_person(
                &org,
                &jane,
                &PersonChanges {
                    given_name: Some(None),
                    ..Default::default()
                },
            )
            .await
            .expect_err("stale");
        assert_eq!(err.code(), "Conflict");
    }

    #[tokio::test]
    async fn resend_and_reset_mail_a_fresh_temporary_password() {
        let w = World::new();
        let org = sample_org();
        let admin = w.admin();
        let jane = admin.add_person(&org, &jane()).await.expect("added");
        let err = admin
            .resend_invitation(&org, jane.clone())
            .await
            .expect_err("no login");
        assert_eq!(err.code(), "NotAllowed");
        let jane = admin
            .set_activation(&org, jane, true)
            .await
            .expect("on")
            .person;
        let jane = admin.resend_invitation(&org, jane).await.expect("resent");
        let jane = admin.reset_password(&org, jane).await.expect("reset");
        let sent = w.mailer.sent();
        assert_eq!(sent.len(), 3);
        assert_eq!(
            sent[2].1.subject,
            "Your Acme Corporation password was reset"
        );
        assert_ne!(sent[0].1.text, sent[1].1.text, "a fresh password");
        assert_eq!(
            w.pools
                .calls()
                .iter()
                .filter(|c| c.starts_with("set_temporary_password"))
                .count(),
            2
        );
        assert!(w.registry.audit_actions().ends_with(&[
            "person.invitation_resent".to_owned(),
            "person.password_reset".to_owned()
        ]));
        assert_eq!(jane.status, PersonStatus::Invited);
    }

    #[tokio::test]
    async fn a_reset_creates_the_login_of_a_lazily_migrated_person_who_never_signed_in() {
        let org = crate::testing::sample_lazy_org();
        let w = World {
            registry: MemoryRegistry::with_org(org.clone()),
            pools: RecordingPools::default(),
            mailer: MemoryMailer::default(),
        };
        let admin = w.admin();
        // As the migration records a lazy person: active, with a seat, no login yet.
        let added = admin.add_person(&org, &jane()).await.expect("added");
        let mut active = added.clone();
        active.status = PersonStatus::Active;
        let jane = w
            .registry
            .save_person(&added, &active, None)
            .await
            .expect("active");
        let jane = admin.reset_password(&org, jane).await.expect("reset");
        let pool = org.cognito.user_pool_id.as_deref().expect("pool");
        assert_eq!(
            w.pools.calls(),
            [
                format!("create_login {pool} jane"),
                format!("add_to_group {pool} jane member"),
            ],
            "the login is created with its groups, not a password set on a missing login"
        );
        let sent = w.mailer.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].1.subject,
            "Your Acme Corporation password was reset"
        );
        assert_eq!(jane.status, PersonStatus::Active);

        // Once their first sign-in finished the migration, a reset is the plain one.
        let mut migrated = jane.clone();
        migrated.lazy_migrated_at = Some(1);
        let migrated = w
            .registry
            .save_person(&jane, &migrated, None)
            .await
            .expect("migrated");
        admin.reset_password(&org, migrated).await.expect("reset");
        let calls = w.pools.calls();
        assert_eq!(
            calls[calls.len() - 2..],
            [
                format!("set_temporary_password {pool} jane"),
                format!("sign_out_everywhere {pool} jane"),
            ],
            "a plain reset, and every session of the login ended"
        );
    }

    #[tokio::test]
    async fn delete_unlinks_keeps_the_record_and_frees_the_seat() {
        let w = World::new();
        let org = sample_org();
        let admin = w.admin();
        let jane = admin.add_person(&org, &jane()).await.expect("added");
        let jane = admin
            .set_activation(&org, jane, true)
            .await
            .expect("on")
            .person;
        let gone = admin.delete_person(&org, jane).await.expect("deleted");
        assert_eq!(gone.status, PersonStatus::Unlinked);
        assert_eq!(w.registry.org(&org.id).expect("org").seats_used, 0);
        let again = admin.delete_person(&org, gone).await.expect("repeat");
        assert_eq!(again.status, PersonStatus::Unlinked);
        assert_eq!(
            w.pools
                .calls()
                .iter()
                .filter(|c| c.starts_with("delete_login"))
                .count(),
            2
        );
        assert_eq!(
            w.registry
                .audit_actions()
                .iter()
                .filter(|a| *a == "person.deleted")
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn roles_are_added_and_removed_while_nobody_holds_them() {
        let w = World::new();
        let org = sample_org();
        let admin = w.admin();
        let org = admin.add_role(&org, "billing").await.expect("added");
        assert!(org.roles.iter().any(|r| r.as_str() == "billing"));
        assert!(admin.add_role(&org, "billing").await.is_err(), "once");
        let jane = admin
            .add_person(
                &org,
                &NewPerson {
                    roles: vec!["billing".into()],
                    ..jane()
                },
            )
            .await
            .expect("added");
        let err = admin.delete_role(&org, "billing").await.expect_err("held");
        assert!(err.to_string().contains("still hold"), "{err}");
        admin
            .update_person(
                &org,
                &jane,
                &PersonChanges {
                    roles: Some(vec![]),
                    ..Default::default()
                },
            )
            .await
            .expect("taken away");
        let org = admin.delete_role(&org, "billing").await.expect("deleted");
        assert!(!org.roles.iter().any(|r| r.as_str() == "billing"));
        assert!(admin.delete_role(&org, "admin").await.is_err(), "permanent");
        assert!(w
            .pools
            .calls()
            .contains(&"delete_group eu-west-1_AcmePool1 billing".to_owned()));
    }
}
