//! What a directory's SCIM request does to an organization's people, through the admin
//! API's own domain rules ([`Admin`]): adding (a record, then the activation toggle), names,
//! the username and e-mail change rules, activation on and off. The actor of every audit
//! event is `scim:<token id>`.
//!
//! Matching people made by hand: by `externalId` first, then by the e-mail address, and
//! only when the address is in one of the organization's proven e-mail domains; never by
//! display name. A DELETE deactivates the person and hides them from SCIM; their record and
//! audit history stay, and a later create with the same `externalId` takes them back.

use super::groups::{roles_from_groups, DesiredGroup, DirectoryGroup, GroupChanges};
use super::user::{is_active, DesiredUser, DirectoryRecord};
use super::ScimError;
use crate::domain::people::{Admin, NewPerson, PersonChanges};
use crate::domain::person::parse_username;
use crate::domain::ports::AuditEvent;
use crate::domain::{now_epoch, Error, Organization, Person, PersonId};

/// The role a person made by the directory starts with.
pub const DEFAULT_ROLE: &str = "member";

/// What a create asks for: active unless it says otherwise.
fn created(desired: &DesiredUser) -> DesiredUser {
    DesiredUser {
        active: Some(desired.active.unwrap_or(true)),
        ..desired.clone()
    }
}

/// The SCIM side of [`Admin`]: `admin.actor` is `scim:<token id>`.
pub struct Directory<'a> {
    pub admin: Admin<'a>,
    /// How long one request may spend on a group's members before it answers 503 (the
    /// directory sends the same request again, which skips the members done): inside the
    /// function's time limit with room for the answer.
    pub budget: std::time::Duration,
}

/// The budget of one request's member changes: the function has 29 s.
pub const MEMBER_BUDGET: std::time::Duration = std::time::Duration::from_secs(15);

fn external_of(person: &Person) -> Option<&str> {
    person.directory.as_ref()?.external_id.as_deref()
}

fn is_deleted(person: &Person) -> bool {
    person
        .directory
        .as_ref()
        .is_some_and(|d| d.deleted_at.is_some())
}

/// The name the person signs in with now.
fn sign_in_name(person: &Person) -> &str {
    person
        .preferred_username
        .as_deref()
        .unwrap_or(&person.username)
}

impl Directory<'_> {
    fn audit(
        &self,
        org: &Organization,
        action: &str,
        person: &Person,
        detail: Option<String>,
    ) -> AuditEvent {
        AuditEvent::now(&org.id, self.admin.actor, action, &person.username, detail)
    }

    /// The person with this SCIM id (their person id), unless the directory deleted them.
    pub async fn get(&self, org: &Organization, id: &str) -> Result<Person, ScimError> {
        let id = PersonId::parse(id).map_err(|_| ScimError::not_found())?;
        match self.admin.registry.person_by_id(&org.id, &id).await? {
            Some(person) if !is_deleted(&person) => Ok(person),
            _ => Err(ScimError::not_found()),
        }
    }

    /// Whether a person found by name or address may become the directory's: nobody's in a
    /// directory yet (or deleted by it), and their address, the same as the directory's, is
    /// in one of the organization's proven domains.
    fn adoptable(org: &Organization, person: &Person, desired: &DesiredUser) -> bool {
        (external_of(person).is_none() || is_deleted(person))
            && person.email == desired.email
            && org.uses_domain(person.email.domain())
    }

    /// POST /Users.
    pub async fn create(
        &self,
        org: &Organization,
        desired: &DesiredUser,
    ) -> Result<Person, ScimError> {
        let registry = self.admin.registry;
        if let Some(external) = &desired.directory.external_id {
            if let Some(person) = registry.person_by_external_id(&org.id, external).await? {
                if is_deleted(&person) {
                    return self.update(org, person, &created(desired)).await;
                }
                return Err(ScimError::uniqueness(
                    "a user with this externalId exists already",
                ));
            }
        }
        let username = parse_username(&desired.user_name)
            .map_err(|e| ScimError::invalid_value(&e.to_string()))?;
        let by_name = match registry.person(&org.id, &username).await? {
            Some(person) => Some(person),
            None => registry.person_by_sign_in_name(&org.id, &username).await?,
        };
        let by_email = match &by_name {
            Some(_) => None,
            None => registry.person_by_email(&org.id, &desired.email).await?,
        };
        if let Some(person) = by_name.or(by_email) {
            if Self::adoptable(org, &person, desired) {
                return self.update(org, person, &created(desired)).await;
            }
            return Err(ScimError::uniqueness(
                "a user with this userName or e-mail address exists already",
            ));
        }
        let new = NewPerson {
            username,
            email: desired.email.as_str().to_owned(),
            given_name: desired.given_name.clone(),
            family_name: desired.family_name.clone(),
            roles: roles_from_groups(org, &[]).unwrap_or_else(|| vec![DEFAULT_ROLE.to_owned()]),
        };
        let person = self.admin.add_person(org, &new).await?;
        self.update(org, person, &created(desired)).await
    }

    /// PUT /Users/{id}, and PATCH once applied: the person becomes what `desired` says.
    /// Changing nothing writes nothing; a retry finishes what a failure left.
    pub async fn update(
        &self,
        org: &Organization,
        person: Person,
        desired: &DesiredUser,
    ) -> Result<Person, ScimError> {
        let mut person = self.save_record(org, person, desired).await?;
        let changes = PersonChanges {
            given_name: Some(desired.given_name.clone()),
            family_name: Some(desired.family_name.clone()),
            roles: None,
        };
        person = self.admin.update_person(org, &person, &changes).await?;
        let name = parse_username(&desired.user_name)
            .map_err(|e| ScimError::invalid_value(&e.to_string()))?;
        if name != sign_in_name(&person) && person.pending_username.as_deref() != Some(&name) {
            person = self.admin.change_username(org, &person, &name).await?;
        }
        if desired.email != person.email && person.pending_email.as_ref() != Some(&desired.email) {
            person = self
                .admin
                .change_email(org, &person, desired.email.as_str())
                .await?;
        }
        if let Some(active) = desired.active.filter(|a| *a != is_active(&person)) {
            person = self.set_active(org, person, active).await?;
        }
        Ok(person)
    }

    /// The directory's record of the person (external id, enterprise attributes), saved
    /// when it changed; a deleted person comes back.
    async fn save_record(
        &self,
        org: &Organization,
        person: Person,
        desired: &DesiredUser,
    ) -> Result<Person, ScimError> {
        let current = person.directory.clone().unwrap_or_default();
        // Group memberships are the groups' business, not the user's body's.
        let mut next = DirectoryRecord {
            deleted_at: None,
            groups: current.groups.clone(),
            ..desired.directory.clone()
        };
        match (&current.external_id, &next.external_id) {
            (Some(old), Some(new)) if old != new => {
                return Err(ScimError::new(
                    400,
                    Some("mutability"),
                    "externalId cannot change once set: delete the user and create it again",
                ))
            }
            // A PUT without externalId keeps the one we know.
            (Some(old), None) => next.external_id = Some(old.clone()),
            _ => {}
        }
        if person.directory.as_ref() == Some(&next) {
            return Ok(person);
        }
        let action = if person.directory.is_none() {
            "person.directory_linked"
        } else {
            "person.directory_updated"
        };
        let mut after = person.clone();
        after.directory = Some(next);
        let audit = self.audit(org, action, &person, None);
        Ok(self
            .admin
            .registry
            .save_directory(&person, &after, &audit)
            .await?)
    }

    /// The activation toggle; a refusal for want of a seat is written to the audit log
    /// (the directory only shows its own log), then answered.
    async fn set_active(
        &self,
        org: &Organization,
        person: Person,
        active: bool,
    ) -> Result<Person, ScimError> {
        match self.admin.set_activation(org, person.clone(), active).await {
            Ok(done) => Ok(done.person),
            Err(Error::NoSeatFree { username }) => {
                let detail = match org.seats {
                    Some(limit) => format!("no licence seat free: {limit} of {limit} used"),
                    None => "no licence seat free".to_owned(),
                };
                let audit = self.audit(org, "person.activation_refused", &person, Some(detail));
                // The same record again, for its audit event: a failure here loses only the
                // entry, never the answer.
                if let Err(e) = self
                    .admin
                    .registry
                    .save_directory(&person, &person, &audit)
                    .await
                {
                    tracing::warn!(error = %e, "the refused activation was not audited");
                }
                Err(Error::NoSeatFree { username }.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// DELETE /Users/{id}: deactivated, kept, and no longer a SCIM resource.
    pub async fn delete(&self, org: &Organization, person: Person) -> Result<(), ScimError> {
        let person = if is_active(&person) {
            self.set_active(org, person, false).await?
        } else {
            person
        };
        let mut after = person.clone();
        let mut record = person.directory.clone().unwrap_or_default();
        record.deleted_at = Some(now_epoch());
        after.directory = Some(record);
        let audit = self.audit(org, "person.directory_deleted", &person, None);
        self.admin
            .registry
            .save_directory(&person, &after, &audit)
            .await?;
        Ok(())
    }
}

/// Most members one group lists or changes in one request.
pub const MAX_MEMBERS: usize = 10_000;

impl Directory<'_> {
    /// The group with this id.
    pub async fn group(&self, org: &Organization, id: &str) -> Result<DirectoryGroup, ScimError> {
        self.admin
            .registry
            .directory_group(&org.id, id)
            .await?
            .ok_or_else(ScimError::not_found)
    }

    /// The ids of the group's members (people whose record names the group).
    pub async fn members(&self, org: &Organization, group: &str) -> Result<Vec<String>, ScimError> {
        let mut members = Vec::new();
        let mut cursor: Option<String> = None;
        let is_member = |p: &Person| {
            p.directory
                .as_ref()
                .is_some_and(|d| d.groups.iter().any(|g| g == group))
        };
        loop {
            let page = self
                .admin
                .registry
                .people(&org.id, &is_member, cursor.as_deref(), 1000)
                .await?;
            members.extend(page.items.into_iter().map(|p| p.id.to_string()));
            if members.len() > MAX_MEMBERS {
                return Err(ScimError::new(
                    400,
                    Some("tooMany"),
                    "the group has too many members to list: ask with excludedAttributes=members",
                ));
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(members),
            }
        }
    }

    /// POST /Groups: a new group (its name and external id each one group's), then its members.
    pub async fn create_group(
        &self,
        org: &Organization,
        desired: &DesiredGroup,
    ) -> Result<DirectoryGroup, ScimError> {
        let existing = self.admin.registry.directory_groups(&org.id).await?;
        if existing.iter().any(|g| {
            g.display_name.eq_ignore_ascii_case(&desired.display_name)
                || (desired.external_id.is_some() && g.external_id == desired.external_id)
        }) {
            return Err(ScimError::uniqueness(
                "a group with this displayName or externalId exists already",
            ));
        }
        let group = DirectoryGroup::new(
            org.id.clone(),
            desired.display_name.clone(),
            desired.external_id.clone(),
        );
        let audit = AuditEvent::now(
            &org.id,
            self.admin.actor,
            "group.created",
            &group.id,
            Some(group.display_name.clone()),
        );
        let saved = self
            .admin
            .registry
            .save_directory_group(None, &group, &audit)
            .await?;
        let changes = GroupChanges {
            add: desired.members.clone().unwrap_or_default(),
            ..GroupChanges::default()
        };
        self.change_group(org, saved, &changes).await
    }

    /// PUT /Groups/{id}: its name and external id; its members when the body lists them.
    pub async fn replace_group(
        &self,
        org: &Organization,
        group: DirectoryGroup,
        desired: &DesiredGroup,
    ) -> Result<DirectoryGroup, ScimError> {
        let changes = GroupChanges {
            display_name: Some(desired.display_name.clone()),
            external_id: desired.external_id.clone(),
            add: desired.members.clone().unwrap_or_default(),
            remove: Vec::new(),
            remove_all: desired.members.is_some(),
        };
        self.change_group(org, group, &changes).await
    }

    /// A group's changes: its record first, then each member whose membership changes
    /// (each a write of that person, with their roles following). Safe to repeat.
    pub async fn change_group(
        &self,
        org: &Organization,
        group: DirectoryGroup,
        changes: &GroupChanges,
    ) -> Result<DirectoryGroup, ScimError> {
        if changes.add.len() + changes.remove.len() > MAX_MEMBERS {
            return Err(ScimError::new(
                400,
                Some("tooMany"),
                "too many member changes in one request",
            ));
        }
        let mut next = group.clone();
        if let Some(name) = &changes.display_name {
            next.display_name = name.clone();
        }
        if changes.external_id.is_some() {
            next.external_id = changes.external_id.clone();
        }
        let renamed = next.display_name != group.display_name;
        let group = if next != group {
            let audit = AuditEvent::now(
                &org.id,
                self.admin.actor,
                "group.updated",
                &group.id,
                Some(next.display_name.clone()),
            );
            self.admin
                .registry
                .save_directory_group(Some(&group), &next, &audit)
                .await?
        } else {
            group
        };
        let mut leaving: Vec<String> = if changes.remove_all {
            self.members(org, &group.id).await?
        } else {
            changes.remove.clone()
        };
        leaving.retain(|id| !changes.add.contains(id));
        let started = std::time::Instant::now();
        let work: Vec<(&String, bool)> = leaving
            .iter()
            .map(|id| (id, false))
            .chain(changes.add.iter().map(|id| (id, true)))
            .collect();
        // The budget counts writes: members already as asked cost a read, and a retry
        // passes them quickly.
        let mut written = 0;
        for (i, (id, member)) in work.iter().enumerate() {
            if written > 0 && started.elapsed() >= self.budget {
                return Err(ScimError::new(
                    503,
                    None,
                    format!(
                        "{written} member changes made, {} left: send the same request again to finish",
                        work.len() - i
                    ),
                ));
            }
            if self.set_membership(org, &group, id, *member).await? {
                written += 1;
            }
        }
        if renamed && !org.sign_in.scim_group_roles.is_empty() {
            // A new name may map to another role: every member's roles again.
            for id in self.members(org, &group.id).await? {
                if let Ok(person) = self.get(org, &id).await {
                    self.sync_roles(org, person).await?;
                }
            }
        }
        Ok(group)
    }

    /// DELETE /Groups/{id}: every member leaves (their roles follow), then the group goes.
    pub async fn delete_group(
        &self,
        org: &Organization,
        group: DirectoryGroup,
    ) -> Result<(), ScimError> {
        let group = self
            .change_group(
                org,
                group,
                &GroupChanges {
                    remove_all: true,
                    ..GroupChanges::default()
                },
            )
            .await?;
        let audit = AuditEvent::now(
            &org.id,
            self.admin.actor,
            "group.deleted",
            &group.id,
            Some(group.display_name.clone()),
        );
        self.admin
            .registry
            .delete_directory_group(&group, &audit)
            .await?;
        Ok(())
    }

    /// Puts the person `id` in the group or takes them out; their roles follow. Whether it
    /// wrote (false: already so).
    async fn set_membership(
        &self,
        org: &Organization,
        group: &DirectoryGroup,
        id: &str,
        member: bool,
    ) -> Result<bool, ScimError> {
        let person = match PersonId::parse(id) {
            Ok(pid) => self.admin.registry.person_by_id(&org.id, &pid).await?,
            Err(_) => None,
        };
        let Some(person) = person else {
            if member {
                return Err(ScimError::invalid_value(&format!(
                    "the member {:?} is not a user of this organization",
                    id.chars().take(64).collect::<String>()
                )));
            }
            return Ok(false);
        };
        let mut record = person.directory.clone().unwrap_or_default();
        let has = record.groups.iter().any(|g| g == &group.id);
        if has == member {
            return Ok(false);
        }
        if member {
            record.groups.push(group.id.clone());
        } else {
            record.groups.retain(|g| g != &group.id);
        }
        let mut after = person.clone();
        after.directory = Some(record);
        let action = if member {
            "person.group_joined"
        } else {
            "person.group_left"
        };
        let audit = AuditEvent::now(
            &org.id,
            self.admin.actor,
            action,
            &person.username,
            Some(group.display_name.clone()),
        );
        let saved = self
            .admin
            .registry
            .save_directory(&person, &after, &audit)
            .await?;
        self.sync_roles(org, saved).await?;
        Ok(true)
    }

    /// Every directory person's roles again from their groups (after the organization's
    /// `scim.group_roles` changed): how many people's roles changed, and the refusals (such
    /// as the last administrator's), by username. Safe to repeat.
    pub async fn sync_all_roles(
        &self,
        org: &Organization,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<(usize, Vec<(String, String)>), ScimError> {
        let mut changed = 0;
        let mut refused = Vec::new();
        let mut cursor: Option<String> = None;
        let mut seen = 0;
        let in_directory =
            |p: &Person| p.directory.as_ref().is_some_and(|d| d.deleted_at.is_none());
        loop {
            let page = self
                .admin
                .registry
                .people(&org.id, &in_directory, cursor.as_deref(), 200)
                .await?;
            for person in page.items {
                seen += 1;
                let before = person.roles.clone();
                let username = person.username.clone();
                match self.sync_roles(org, person).await {
                    Ok(after) if after.roles != before => changed += 1,
                    Ok(_) => {}
                    Err(e) if e.status < 500 => refused.push((username, e.detail)),
                    Err(e) => return Err(e),
                }
            }
            progress(seen);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok((changed, refused)),
            }
        }
    }

    /// The person's roles as their groups give them (when the organization maps groups).
    pub async fn sync_roles(
        &self,
        org: &Organization,
        person: Person,
    ) -> Result<Person, ScimError> {
        if org.sign_in.scim_group_roles.is_empty() {
            return Ok(person);
        }
        let mut groups = Vec::new();
        for id in person.directory.iter().flat_map(|d| d.groups.iter()) {
            if let Some(g) = self.admin.registry.directory_group(&org.id, id).await? {
                groups.push(g);
            }
        }
        let Some(roles) = roles_from_groups(org, &groups) else {
            return Ok(person);
        };
        let changes = PersonChanges {
            roles: Some(roles),
            ..PersonChanges::default()
        };
        Ok(self.admin.update_person(org, &person, &changes).await?)
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::PersonStatus;
    use crate::testing::{sample_org, sample_person, MemoryMailer, MemoryRegistry, RecordingPools};

    struct World {
        registry: MemoryRegistry,
        pools: RecordingPools,
        mailer: MemoryMailer,
    }

    impl World {
        fn new(org: &Organization) -> Self {
            Self {
                registry: MemoryRegistry::with_org(org.clone()),
                pools: RecordingPools::default(),
                mailer: MemoryMailer::default(),
            }
        }

        fn directory(&self) -> Directory<'_> {
            Directory {
                admin: Admin {
                    registry: &self.registry,
                    pools: &self.pools,
                    mailer: &self.mailer,
                    base_domain: "app.example.com",
                    actor: "scim:sct-000000000001",
                },
                budget: MEMBER_BUDGET,
            }
        }

        fn org(&self, org: &Organization) -> Organization {
            self.registry.org(&org.id).expect("org")
        }
    }

    fn desired(value: serde_json::Value) -> DesiredUser {
        DesiredUser::read(&value).expect("valid user")
    }

    fn alice(active: bool) -> DesiredUser {
        desired(json!({
            "userName": "alice@acme.example",
            "externalId": "E-alice",
            "active": active,
            "name": {"givenName": "Alice", "familyName": "Doe"},
            "emails": [{"value": "alice@acme.example", "type": "work", "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Finance"}
        }))
    }

    #[tokio::test]
    async fn a_directorys_user_gets_a_login_and_repeats_change_nothing() {
        let org = sample_org();
        let w = World::new(&org);
        let dir = w.directory();
        let person = dir.create(&org, &alice(true)).await.expect("created");
        assert_eq!(person.status, PersonStatus::Invited);
        assert_eq!(person.roles[0].as_str(), DEFAULT_ROLE);
        let record = person.directory.clone().expect("directory record");
        assert_eq!(record.external_id.as_deref(), Some("E-alice"));
        assert_eq!(record.department.as_deref(), Some("Finance"));
        assert_eq!(w.mailer.sent().len(), 1, "one welcome mail");
        assert_eq!(w.org(&org).seats_used, 1);
        let events = w.registry.audit_events();
        assert!(events.iter().all(|e| e.actor == "scim:sct-000000000001"));
        let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
        assert!(actions.contains(&"person.added"), "{actions:?}");
        assert!(actions.contains(&"person.directory_linked"), "{actions:?}");

        // The directory's retry of the create: 409 uniqueness, nothing changed.
        let again = dir.create(&org, &alice(true)).await.expect_err("exists");
        assert_eq!((again.status, again.scim_type), (409, Some("uniqueness")));
        // The same state twice: nothing written the second time.
        let same = dir
            .update(&org, person.clone(), &alice(true))
            .await
            .expect("same");
        assert_eq!(same.version, person.version);
        assert_eq!(w.registry.audit_events().len(), events.len());
        assert_eq!(w.mailer.sent().len(), 1);
    }

    #[tokio::test]
    async fn active_false_frees_the_seat_and_true_reenables_the_same_login() {
        let org = sample_org();
        let w = World::new(&org);
        let dir = w.directory();
        let person = dir.create(&org, &alice(true)).await.expect("created");
        let off = dir
            .update(&w.org(&org), person, &alice(false))
            .await
            .expect("off");
        assert_eq!(off.status, PersonStatus::Deactivated);
        assert_eq!(w.org(&org).seats_used, 0);
        assert!(
            w.pools
                .calls()
                .iter()
                .any(|c| c.starts_with("disable_login")),
            "{:?}",
            w.pools.calls()
        );
        let on = dir
            .update(&w.org(&org), off, &alice(true))
            .await
            .expect("on");
        assert_eq!(on.status, PersonStatus::Invited);
        assert_eq!(w.org(&org).seats_used, 1);
        assert_eq!(on.username, "alice@acme.example");
    }

    #[tokio::test]
    async fn hand_made_people_are_matched_only_by_a_proven_domains_address() {
        let org = sample_org();
        let w = World::new(&org);
        // Made by hand as "alice", same address in the proven acme.example.
        w.registry.insert_person(sample_person(
            "alice",
            "alice@acme.example",
            &["member"],
            PersonStatus::Added,
        ));
        let dir = w.directory();
        let adopted = dir.create(&org, &alice(false)).await.expect("adopted");
        assert_eq!(adopted.username, "alice");
        assert_eq!(
            adopted.directory.and_then(|d| d.external_id).as_deref(),
            Some("E-alice")
        );
        // An address outside the proven domains is never matched.
        w.registry.insert_person(sample_person(
            "bob",
            "bob@elsewhere.example",
            &["member"],
            PersonStatus::Added,
        ));
        let bob = desired(json!({"userName": "bob@elsewhere.example", "externalId": "E-bob"}));
        let err = dir.create(&org, &bob).await.expect_err("not adopted");
        assert_eq!(err.scim_type, Some("uniqueness"));
        // Nor is a person whose name matches but whose address differs.
        let imposter = desired(json!({"userName": "alice", "externalId": "E-x",
            "emails": [{"value": "mallory@acme.example"}]}));
        assert_eq!(
            dir.create(&org, &imposter).await.expect_err("taken").status,
            409
        );
    }

    #[tokio::test]
    async fn no_free_seat_is_an_error_the_audit_log_explains() {
        let mut org = sample_org();
        org.seats = Some(1);
        let w = World::new(&org);
        let dir = w.directory();
        dir.create(&org, &alice(true)).await.expect("first");
        let bob =
            desired(json!({"userName": "bob@acme.example", "externalId": "E-bob", "active": true}));
        let err = dir.create(&w.org(&org), &bob).await.expect_err("no seat");
        assert_eq!(err.status, 403);
        assert!(err.detail.contains("no licence seat"), "{}", err.detail);
        let stored = w
            .registry
            .stored_person("bob@acme.example")
            .expect("recorded");
        assert_eq!(stored.status, PersonStatus::Added);
        let refused = w
            .registry
            .audit_events()
            .into_iter()
            .find(|e| e.action == "person.activation_refused")
            .expect("audited");
        assert_eq!(
            refused.detail.as_deref(),
            Some("no licence seat free: 1 of 1 used")
        );
    }

    #[tokio::test]
    async fn delete_deactivates_keeps_the_record_and_a_new_create_takes_it_back() {
        let org = sample_org();
        let w = World::new(&org);
        let dir = w.directory();
        let person = dir.create(&org, &alice(true)).await.expect("created");
        dir.delete(&w.org(&org), person.clone())
            .await
            .expect("deleted");
        let kept = w
            .registry
            .stored_person("alice@acme.example")
            .expect("kept");
        assert_eq!(kept.status, PersonStatus::Deactivated);
        assert_eq!(
            dir.get(&org, person.id.as_str())
                .await
                .expect_err("gone")
                .status,
            404
        );
        let back = dir.create(&w.org(&org), &alice(true)).await.expect("back");
        assert_eq!(back.id, person.id);
        assert_eq!(back.status, PersonStatus::Invited);
        assert!(dir.get(&org, person.id.as_str()).await.is_ok());
    }

    #[tokio::test]
    async fn an_external_id_never_changes_and_is_one_persons() {
        let org = sample_org();
        let w = World::new(&org);
        let dir = w.directory();
        let person = dir.create(&org, &alice(false)).await.expect("created");
        let mut changed = alice(false);
        // A PUT that leaves `active` out leaves the login as it is.
        let mut unsaid = alice(false);
        unsaid.active = None;
        let same = dir
            .update(&org, person.clone(), &unsaid)
            .await
            .expect("kept");
        assert_eq!(same.status, person.status);
        changed.directory.external_id = Some("E-other".into());
        let err = dir
            .update(&org, person, &changed)
            .await
            .expect_err("immutable");
        assert_eq!(err.scim_type, Some("mutability"));
        let bob = desired(json!({"userName": "bob@acme.example", "externalId": "E-alice"}));
        assert_eq!(
            dir.create(&org, &bob).await.expect_err("taken").scim_type,
            Some("uniqueness")
        );
    }

    #[tokio::test]
    async fn roles_follow_mapped_groups_through_membership_rename_and_delete() {
        let mut org = sample_org();
        org.sign_in
            .scim_group_roles
            .insert("Admins".into(), "admin".into());
        let w = World::new(&org);
        // Another administrator (made by hand), so that alice is never the last one.
        w.registry.insert_person(sample_person(
            "boss",
            "boss@acme.example",
            &["admin"],
            PersonStatus::Active,
        ));
        let dir = w.directory();
        let alice = dir.create(&org, &alice(true)).await.expect("alice");
        assert_eq!(alice.roles[0].as_str(), "member");
        let group = |name: &str, members: Vec<String>| DesiredGroup {
            display_name: name.into(),
            external_id: None,
            members: Some(members),
        };
        let admins = dir
            .create_group(&org, &group("Admins", vec![alice.id.to_string()]))
            .await
            .expect("group");
        let stored = || {
            w.registry
                .stored_person("alice@acme.example")
                .expect("alice")
        };
        assert_eq!(
            stored()
                .roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>(),
            ["admin"]
        );
        assert_eq!(
            dir.members(&org, &admins.id).await.expect("members"),
            vec![alice.id.to_string()]
        );
        assert_eq!(
            dir.create_group(&org, &group("admins", vec![]))
                .await
                .expect_err("taken")
                .scim_type,
            Some("uniqueness")
        );
        // Renamed to an unmapped name: back to the default role.
        let renamed = dir
            .change_group(
                &org,
                admins,
                &GroupChanges {
                    display_name: Some("Staff".into()),
                    ..GroupChanges::default()
                },
            )
            .await
            .expect("renamed");
        assert_eq!(stored().roles[0].as_str(), "member");
        let back = dir
            .change_group(
                &org,
                renamed,
                &GroupChanges {
                    display_name: Some("Admins".into()),
                    ..GroupChanges::default()
                },
            )
            .await
            .expect("back");
        assert_eq!(stored().roles[0].as_str(), "admin");
        // The same add again changes nothing.
        let writes = w.registry.audit_events().len();
        let back = dir
            .change_group(
                &org,
                back,
                &GroupChanges {
                    add: vec![alice.id.to_string()],
                    ..GroupChanges::default()
                },
            )
            .await
            .expect("again");
        assert_eq!(w.registry.audit_events().len(), writes);
        // An unknown member is refused; deleting the group takes the role with it.
        let err = dir
            .change_group(
                &org,
                back.clone(),
                &GroupChanges {
                    add: vec!["per-00000000000000000000000000000000".into()],
                    ..GroupChanges::default()
                },
            )
            .await
            .expect_err("unknown");
        assert_eq!(err.scim_type, Some("invalidValue"));
        dir.delete_group(&org, back).await.expect("deleted");
        assert_eq!(stored().roles[0].as_str(), "member");
        assert!(stored().directory.expect("record").groups.is_empty());
        let actions = w.registry.audit_actions();
        for action in [
            "group.created",
            "person.group_joined",
            "group.updated",
            "person.group_left",
            "group.deleted",
        ] {
            assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
        }
    }

    #[tokio::test]
    async fn a_large_member_change_stops_at_its_budget_and_the_retry_finishes_it() {
        let org = sample_org();
        let w = World::new(&org);
        let mut dir = w.directory();
        let mut ids = Vec::new();
        for name in ["a", "b", "c"] {
            let user =
                desired(json!({"userName": format!("{name}@acme.example"), "active": false}));
            ids.push(dir.create(&org, &user).await.expect("user").id.to_string());
        }
        let group = dir
            .create_group(
                &org,
                &DesiredGroup {
                    display_name: "All".into(),
                    external_id: None,
                    members: None,
                },
            )
            .await
            .expect("group");
        dir.budget = std::time::Duration::ZERO;
        let changes = GroupChanges {
            add: ids.clone(),
            ..GroupChanges::default()
        };
        let mut answers = Vec::new();
        for _ in 0..5 {
            let group = dir.group(&org, &group.id).await.expect("group");
            match dir.change_group(&org, group, &changes).await {
                Ok(_) => break,
                Err(e) => answers.push((e.status, e.detail)),
            }
        }
        // One more member each time (a member already in costs no write), then done.
        assert_eq!(answers.len(), 2, "{answers:?}");
        assert!(answers.iter().all(|(status, _)| *status == 503));
        assert!(
            answers[0].1.starts_with("1 member changes made, 2 left"),
            "{answers:?}"
        );
        let mut members = dir.members(&org, &group.id).await.expect("members");
        members.sort();
        ids.sort();
        assert_eq!(members, ids);
    }

    #[tokio::test]
    async fn a_new_mapping_reaches_everyone_with_sync_all_roles() {
        let org = sample_org();
        let w = World::new(&org);
        w.registry.insert_person(sample_person(
            "boss",
            "boss@acme.example",
            &["admin"],
            PersonStatus::Active,
        ));
        let dir = w.directory();
        let alice = dir.create(&org, &alice(true)).await.expect("alice");
        dir.create_group(
            &org,
            &DesiredGroup {
                display_name: "Admins".into(),
                external_id: None,
                members: Some(vec![alice.id.to_string()]),
            },
        )
        .await
        .expect("group");
        assert_eq!(
            w.registry
                .stored_person("alice@acme.example")
                .expect("a")
                .roles[0]
                .as_str(),
            "member"
        );
        let mut mapped = w.org(&org);
        mapped
            .sign_in
            .scim_group_roles
            .insert("Admins".into(), "admin".into());
        let seen = std::sync::Mutex::new(0);
        let (changed, refused) = dir
            .sync_all_roles(&mapped, &|n| *seen.lock().unwrap() = n)
            .await
            .expect("synced");
        assert_eq!((changed, refused.len()), (1, 0));
        assert_eq!(
            *seen.lock().unwrap(),
            1,
            "only directory people are read back"
        );
        assert_eq!(
            w.registry
                .stored_person("alice@acme.example")
                .expect("a")
                .roles[0]
                .as_str(),
            "admin"
        );
        let again = dir.sync_all_roles(&mapped, &|_| {}).await.expect("again");
        assert_eq!(again.0, 0);
    }
}
