//! The registry in memory ([`Registry`](crate::domain::ports::Registry)).

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::ports::{AuditEvent, IdempotentClaim, Page, Registry, StoredAnswer};
use crate::domain::{
    EmailAddress, EmailDomain, Error, LinkedIdentity, OrgId, Organization, Person, PersonId,
    Subdomain,
};

#[derive(Default)]
pub(super) struct State {
    orgs: BTreeMap<String, Organization>,
    people: BTreeMap<(String, String), Person>,
    audit: Vec<AuditEvent>,
    /// (org, name) -> (holder, expires at).
    leases: BTreeMap<(String, String), (String, i64)>,
    /// (scope, window start) -> attempts counted.
    pub(super) attempts: BTreeMap<(String, i64), u64>,
    /// (org, key) -> the key's record.
    idempotency: BTreeMap<(String, String), KeyRecord>,
    /// (org, username) -> legacy password hash.
    pub(super) legacy: BTreeMap<(String, String), crate::domain::migration::LegacyHash>,
    /// (org, group id) -> the SCIM directory group.
    groups: BTreeMap<(String, String), crate::domain::scim::groups::DirectoryGroup>,
}

/// An idempotency key as the memory registry keeps it.
#[derive(Debug, Clone)]
struct KeyRecord {
    fingerprint: String,
    holder: String,
    lease_until: i64,
    answer: Option<StoredAnswer>,
}

/// The registry in memory, with the same conditions as the DynamoDB one (versions, seats,
/// unique usernames and addresses), and a count of reads and writes.
#[derive(Default)]
pub struct MemoryRegistry {
    state: Mutex<State>,
    calls: Mutex<Vec<&'static str>>,
    /// When set, every write fails with this error (a registry that is down or throttled).
    failing_writes: Mutex<Option<Error>>,
}

impl MemoryRegistry {
    pub fn with_org(org: Organization) -> Self {
        let registry = Self::default();
        registry.lock().orgs.insert(org.id.to_string(), org);
        registry
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn call(&self, name: &'static str) {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(name);
    }

    /// Makes every later write fail with `error` (`None`: writes work again).
    pub fn fail_writes(&self, error: Option<Error>) {
        *self
            .failing_writes
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = error;
    }

    fn injected_failure(&self) -> Result<(), Error> {
        match &*self
            .failing_writes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
        {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// The registry operations called so far, in order.
    pub fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Adds (or replaces) an organization.
    pub fn insert_org(&self, org: Organization) {
        self.lock().orgs.insert(org.id.to_string(), org);
    }

    pub fn insert_person(&self, person: Person) {
        self.lock()
            .people
            .insert((person.org_id.to_string(), person.username.clone()), person);
    }

    pub fn audit_events(&self) -> Vec<AuditEvent> {
        self.lock().audit.clone()
    }

    /// Ends the lease of every running idempotency key, as if its request had crashed
    /// longer ago than the lease.
    pub fn expire_idempotency_leases(&self) {
        for record in self.lock().idempotency.values_mut() {
            record.lease_until = i64::MIN;
        }
    }

    /// The actions of the audit events so far, oldest first.
    pub fn audit_actions(&self) -> Vec<String> {
        self.lock().audit.iter().map(|e| e.action.clone()).collect()
    }

    /// A person of any organization as stored now, without counting a registry call.
    pub fn stored_person(&self, username: &str) -> Option<Person> {
        self.lock()
            .people
            .values()
            .find(|p| p.username == username)
            .cloned()
    }

    pub fn org(&self, id: &OrgId) -> Option<Organization> {
        self.lock().orgs.get(id.as_str()).cloned()
    }

    fn save_person_guarded(
        &self,
        before: &Person,
        after: &Person,
        audit: Option<&AuditEvent>,
        org_version: Option<u64>,
    ) -> Result<Person, Error> {
        self.injected_failure()?;
        let mut state = self.lock();
        let key = (before.org_id.to_string(), before.username.clone());
        if state.people.get(&key).map(|p| p.version) != Some(before.version) {
            return Err(Error::Conflict {
                what: "person",
                key: before.username.clone(),
            });
        }
        if let Some(expected) = org_version {
            let org = state
                .orgs
                .get_mut(before.org_id.as_str())
                .ok_or(Error::NotFound {
                    what: "organization",
                    key: before.org_id.to_string(),
                })?;
            if org.version != expected {
                return Err(Error::Conflict {
                    what: "organization",
                    key: before.org_id.to_string(),
                });
            }
            org.version += 1;
        }
        Self::move_seat(
            &mut state,
            &before.org_id,
            &before.username,
            before.status.holds_seat(),
            after.status.holds_seat(),
        )?;
        let mut next = after.clone();
        next.version = before.version + 1;
        state.people.insert(key, next.clone());
        state.audit.extend(audit.cloned());
        Ok(next)
    }

    fn move_seat(
        state: &mut State,
        org: &OrgId,
        username: &str,
        before: bool,
        after: bool,
    ) -> Result<(), Error> {
        let org = state.orgs.get_mut(org.as_str()).ok_or(Error::NotFound {
            what: "organization",
            key: org.to_string(),
        })?;
        match (before, after) {
            (false, true) if !org.seat_free() => {
                return Err(Error::NoSeatFree {
                    username: username.to_owned(),
                })
            }
            (false, true) => org.seats_used += 1,
            (true, false) => org.seats_used = org.seats_used.saturating_sub(1),
            _ => return Ok(()),
        }
        org.version += 1;
        Ok(())
    }
}

fn username_taken(username: &str) -> Error {
    Error::not_allowed(
        format!("rename {username}"),
        "another person of this organization already signs in with that username",
    )
}

#[async_trait]
impl Registry for MemoryRegistry {
    async fn create_organization(
        &self,
        org: &Organization,
        audit: &AuditEvent,
    ) -> Result<(), Error> {
        self.call("create_organization");
        let mut state = self.lock();
        if state.orgs.values().any(|o| o.subdomain == org.subdomain) {
            return Err(Error::SubdomainTaken {
                subdomain: org.subdomain.to_string(),
            });
        }
        state.orgs.insert(org.id.to_string(), org.clone());
        state.audit.push(audit.clone());
        Ok(())
    }

    async fn attach_pool(&self, org: &Organization, pool_id: &str) -> Result<Organization, Error> {
        self.call("attach_pool");
        let mut next = org.clone();
        next.cognito.user_pool_id = Some(pool_id.to_owned());
        next.version += 1;
        self.lock().orgs.insert(org.id.to_string(), next.clone());
        Ok(next)
    }

    async fn directory_group(
        &self,
        org: &OrgId,
        id: &str,
    ) -> Result<Option<crate::domain::scim::groups::DirectoryGroup>, Error> {
        self.call("directory_group");
        Ok(self
            .lock()
            .groups
            .get(&(org.to_string(), id.to_owned()))
            .cloned())
    }

    async fn directory_groups(
        &self,
        org: &OrgId,
    ) -> Result<Vec<crate::domain::scim::groups::DirectoryGroup>, Error> {
        self.call("directory_groups");
        Ok(self
            .lock()
            .groups
            .iter()
            .filter(|((o, _), _)| o == org.as_str())
            .map(|(_, g)| g.clone())
            .collect())
    }

    async fn save_directory_group(
        &self,
        before: Option<&crate::domain::scim::groups::DirectoryGroup>,
        after: &crate::domain::scim::groups::DirectoryGroup,
        audit: &AuditEvent,
    ) -> Result<crate::domain::scim::groups::DirectoryGroup, Error> {
        self.call("save_directory_group");
        let mut state = self.lock();
        let k = (after.org_id.to_string(), after.id.clone());
        let stored = state.groups.get(&k).map(|g| g.version);
        if stored != before.map(|b| b.version) {
            return Err(Error::Conflict {
                what: "group",
                key: after.id.clone(),
            });
        }
        let mut next = after.clone();
        next.version = before.map_or(1, |b| b.version + 1);
        state.groups.insert(k, next.clone());
        state.audit.push(audit.clone());
        Ok(next)
    }

    async fn delete_directory_group(
        &self,
        group: &crate::domain::scim::groups::DirectoryGroup,
        audit: &AuditEvent,
    ) -> Result<(), Error> {
        self.call("delete_directory_group");
        let mut state = self.lock();
        let k = (group.org_id.to_string(), group.id.clone());
        if state.groups.get(&k).map(|g| g.version) != Some(group.version) {
            return Err(Error::Conflict {
                what: "group",
                key: group.id.clone(),
            });
        }
        state.groups.remove(&k);
        state.audit.push(audit.clone());
        Ok(())
    }

    async fn save_organization(
        &self,
        org: &Organization,
        audit: Option<&AuditEvent>,
    ) -> Result<Organization, Error> {
        self.call("save_organization");
        let mut state = self.lock();
        let stored = state.orgs.get(org.id.as_str()).map(|o| o.version);
        if stored != Some(org.version) {
            return Err(Error::Conflict {
                what: "organization",
                key: org.subdomain.to_string(),
            });
        }
        let mut next = org.clone();
        next.version += 1;
        state.orgs.insert(org.id.to_string(), next.clone());
        state.audit.extend(audit.cloned());
        Ok(next)
    }

    async fn organization(&self, id: &OrgId) -> Result<Option<Organization>, Error> {
        self.call("organization");
        Ok(self.lock().orgs.get(id.as_str()).cloned())
    }

    async fn save_organization_domains(
        &self,
        before: &Organization,
        org: &Organization,
        audit: &AuditEvent,
    ) -> Result<Organization, Error> {
        self.call("save_organization_domains");
        self.injected_failure()?;
        let mut state = self.lock();
        if let Some(domain) = org.email_domains.iter().find(|d| {
            state
                .orgs
                .values()
                .any(|o| o.id != org.id && o.email_domains.contains(d))
        }) {
            return Err(Error::EmailDomainTaken {
                domain: domain.to_string(),
            });
        }
        if state.orgs.get(org.id.as_str()).map(|o| o.version) != Some(before.version) {
            return Err(Error::Conflict {
                what: "organization",
                key: org.subdomain.to_string(),
            });
        }
        let mut next = org.clone();
        next.version = before.version + 1;
        state.orgs.insert(org.id.to_string(), next.clone());
        state.audit.push(audit.clone());
        Ok(next)
    }

    async fn organization_by_subdomain(
        &self,
        sub: &Subdomain,
    ) -> Result<Option<Organization>, Error> {
        self.call("organization_by_subdomain");
        Ok(self
            .lock()
            .orgs
            .values()
            .find(|o| &o.subdomain == sub)
            .cloned())
    }

    async fn organization_by_pool(&self, pool_id: &str) -> Result<Option<Organization>, Error> {
        self.call("organization_by_pool");
        Ok(self
            .lock()
            .orgs
            .values()
            .find(|o| o.cognito.user_pool_id.as_deref() == Some(pool_id))
            .cloned())
    }

    async fn organization_by_email_domain(
        &self,
        domain: &EmailDomain,
    ) -> Result<Option<Organization>, Error> {
        self.call("organization_by_email_domain");
        Ok(self
            .lock()
            .orgs
            .values()
            .find(|o| o.email_domains.contains(domain))
            .cloned())
    }

    async fn list_organizations(&self) -> Result<Vec<Organization>, Error> {
        self.call("list_organizations");
        let mut orgs: Vec<_> = self.lock().orgs.values().cloned().collect();
        orgs.sort_by(|a, b| a.subdomain.cmp(&b.subdomain));
        Ok(orgs)
    }

    async fn create_person(&self, person: &Person, audit: &AuditEvent) -> Result<(), Error> {
        self.call("create_person");
        self.injected_failure()?;
        let mut state = self.lock();
        let key = (person.org_id.to_string(), person.username.clone());
        let taken = state.people.contains_key(&key)
            || state.people.values().any(|p| {
                p.org_id == person.org_id
                    && (p.email == person.email
                        || p.preferred_username.as_deref() == Some(person.username.as_str()))
            });
        if taken {
            return Err(Error::not_allowed(
                format!("add {}", person.username),
                "that username or e-mail address is already taken in this organization",
            ));
        }
        Self::move_seat(
            &mut state,
            &person.org_id,
            &person.username,
            false,
            person.status.holds_seat(),
        )?;
        state.people.insert(key, person.clone());
        state.audit.push(audit.clone());
        Ok(())
    }

    async fn person(&self, org: &OrgId, username: &str) -> Result<Option<Person>, Error> {
        self.call("person");
        Ok(self
            .lock()
            .people
            .get(&(org.to_string(), username.to_owned()))
            .cloned())
    }

    async fn person_by_email(
        &self,
        org: &OrgId,
        email: &EmailAddress,
    ) -> Result<Option<Person>, Error> {
        self.call("person_by_email");
        Ok(self
            .lock()
            .people
            .values()
            .find(|p| &p.org_id == org && &p.email == email)
            .cloned())
    }

    async fn save_person(
        &self,
        before: &Person,
        after: &Person,
        audit: Option<&AuditEvent>,
    ) -> Result<Person, Error> {
        self.call("save_person");
        self.save_person_guarded(before, after, audit, None)
    }

    async fn save_person_if_org_unchanged(
        &self,
        before: &Person,
        after: &Person,
        audit: Option<&AuditEvent>,
        org_version: u64,
    ) -> Result<Person, Error> {
        self.call("save_person_if_org_unchanged");
        self.save_person_guarded(before, after, audit, Some(org_version))
    }

    async fn change_email(
        &self,
        before: &Person,
        after: &Person,
        audit: &AuditEvent,
    ) -> Result<Person, Error> {
        self.call("change_email");
        self.injected_failure()?;
        let mut state = self.lock();
        let key = (before.org_id.to_string(), before.username.clone());
        if state.people.get(&key).map(|p| p.version) != Some(before.version) {
            return Err(Error::Conflict {
                what: "person",
                key: before.username.clone(),
            });
        }
        let taken = state.people.values().any(|p| {
            p.org_id == after.org_id && p.username != after.username && p.email == after.email
        });
        if taken {
            return Err(Error::not_allowed(
                format!("change the address of {}", before.username),
                "another person of this organization already has that e-mail address",
            ));
        }
        let mut next = after.clone();
        next.version = before.version + 1;
        state.people.insert(key, next.clone());
        state.audit.push(audit.clone());
        Ok(next)
    }

    async fn change_username(
        &self,
        before: &Person,
        after: &Person,
        audit: &AuditEvent,
    ) -> Result<Person, Error> {
        self.call("change_username");
        self.injected_failure()?;
        let mut state = self.lock();
        let key = (before.org_id.to_string(), before.username.clone());
        if state.people.get(&key).map(|p| p.version) != Some(before.version) {
            return Err(Error::Conflict {
                what: "person",
                key: before.username.clone(),
            });
        }
        if let Some(name) = &after.preferred_username {
            let taken = state.people.values().any(|p| {
                p.org_id == after.org_id
                    && p.username != after.username
                    && (&p.username == name || p.preferred_username.as_ref() == Some(name))
            });
            if taken {
                return Err(username_taken(&before.username));
            }
        }
        let mut next = after.clone();
        next.version = before.version + 1;
        state.people.insert(key, next.clone());
        state.audit.push(audit.clone());
        Ok(next)
    }

    async fn person_by_sign_in_name(
        &self,
        org: &OrgId,
        name: &str,
    ) -> Result<Option<Person>, Error> {
        self.call("person_by_sign_in_name");
        Ok(self
            .lock()
            .people
            .values()
            .find(|p| &p.org_id == org && p.preferred_username.as_deref() == Some(name))
            .cloned())
    }

    async fn person_by_identity(
        &self,
        org: &OrgId,
        provider: &str,
        subject: &str,
    ) -> Result<Option<Person>, Error> {
        self.call("person_by_identity");
        Ok(self
            .lock()
            .people
            .values()
            .find(|p| &p.org_id == org && p.identities.iter().any(|i| i.is(provider, subject)))
            .cloned())
    }

    async fn link_identity(
        &self,
        person: &Person,
        identity: &LinkedIdentity,
        audit: &AuditEvent,
    ) -> Result<Person, Error> {
        self.call("link_identity");
        self.injected_failure()?;
        let mut state = self.lock();
        let held_elsewhere = state.people.values().any(|p| {
            p.org_id == person.org_id
                && p.username != person.username
                && p.identities
                    .iter()
                    .any(|i| i.is(&identity.provider, &identity.subject))
        });
        let key = (person.org_id.to_string(), person.username.clone());
        if held_elsewhere || state.people.get(&key).map(|p| p.version) != Some(person.version) {
            return Err(Error::Conflict {
                what: "person",
                key: person.username.clone(),
            });
        }
        let mut next = person.clone();
        next.identities.push(identity.clone());
        next.version += 1;
        state.people.insert(key, next.clone());
        state.audit.push(audit.clone());
        Ok(next)
    }

    async fn audit_log(&self, org: &OrgId, limit: u32) -> Result<Vec<AuditEvent>, Error> {
        self.call("audit_log");
        let state = self.lock();
        Ok(state
            .audit
            .iter()
            .rev()
            .filter(|e| &e.org_id == org)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn person_by_id(&self, org: &OrgId, id: &PersonId) -> Result<Option<Person>, Error> {
        self.call("person_by_id");
        Ok(self
            .lock()
            .people
            .values()
            .find(|p| &p.org_id == org && &p.id == id)
            .cloned())
    }

    async fn people(
        &self,
        org: &OrgId,
        filter: &(dyn for<'p> Fn(&'p Person) -> bool + Sync),
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Person>, Error> {
        self.call("people");
        let state = self.lock();
        let mut matching = state
            .people
            .values()
            .filter(|p| &p.org_id == org)
            .filter(|p| cursor.is_none_or(|after| p.username.as_str() > after))
            .filter(|p| filter(p));
        let items: Vec<Person> = matching.by_ref().take(limit as usize).cloned().collect();
        let next = matching
            .next()
            .and(items.last())
            .map(|p| p.username.clone());
        Ok(Page { items, next })
    }

    async fn audit_page(
        &self,
        org: &OrgId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<AuditEvent>, Error> {
        self.call("audit_page");
        let state = self.lock();
        let skip: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        let all: Vec<_> = state
            .audit
            .iter()
            .rev()
            .filter(|e| &e.org_id == org)
            .collect();
        let items: Vec<AuditEvent> = all
            .iter()
            .skip(skip)
            .take(limit as usize)
            .map(|e| (*e).clone())
            .collect();
        let end = skip + items.len();
        let next = (end < all.len()).then(|| end.to_string());
        Ok(Page { items, next })
    }

    async fn claim_idempotency_key(
        &self,
        org: &OrgId,
        key: &str,
        claim: &crate::domain::ports::KeyClaim<'_>,
    ) -> Result<IdempotentClaim, Error> {
        self.call("claim_idempotency_key");
        let now = crate::domain::now_epoch();
        let mut state = self.lock();
        let slot = (org.to_string(), key.to_owned());
        let new = KeyRecord {
            fingerprint: claim.fingerprint.to_owned(),
            holder: claim.holder.to_owned(),
            lease_until: now + claim.lease_secs,
            answer: None,
        };
        Ok(match state.idempotency.get(&slot) {
            None => {
                state.idempotency.insert(slot, new);
                IdempotentClaim::New
            }
            Some(r) if r.fingerprint != claim.fingerprint => IdempotentClaim::Mismatch,
            Some(KeyRecord {
                answer: Some(answer),
                ..
            }) => IdempotentClaim::Done(answer.clone()),
            // Running past its lease: taken over, as the DynamoDB registry does.
            Some(r) if r.lease_until < now => {
                state.idempotency.insert(slot, new);
                IdempotentClaim::New
            }
            Some(_) => IdempotentClaim::InProgress,
        })
    }

    async fn store_idempotent_answer(
        &self,
        org: &OrgId,
        key: &str,
        holder: &str,
        answer: &StoredAnswer,
    ) -> Result<bool, Error> {
        self.call("store_idempotent_answer");
        match self
            .lock()
            .idempotency
            .get_mut(&(org.to_string(), key.to_owned()))
        {
            Some(record) if record.holder == holder => {
                record.answer = Some(answer.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn acquire_lease(
        &self,
        org: &OrgId,
        name: &str,
        holder: &str,
        ttl_secs: i64,
    ) -> Result<bool, Error> {
        self.call("acquire_lease");
        let now = crate::domain::now_epoch();
        let mut state = self.lock();
        let slot = (org.to_string(), name.to_owned());
        match state.leases.get(&slot) {
            Some((h, expires)) if h != holder && *expires >= now => Ok(false),
            _ => {
                state
                    .leases
                    .insert(slot, (holder.to_owned(), now + ttl_secs));
                Ok(true)
            }
        }
    }

    async fn release_lease(&self, org: &OrgId, name: &str, holder: &str) -> Result<(), Error> {
        self.call("release_lease");
        let mut state = self.lock();
        let slot = (org.to_string(), name.to_owned());
        if state.leases.get(&slot).is_some_and(|(h, _)| h == holder) {
            state.leases.remove(&slot);
        }
        Ok(())
    }

    async fn release_idempotency_key(
        &self,
        org: &OrgId,
        key: &str,
        holder: &str,
    ) -> Result<(), Error> {
        self.call("release_idempotency_key");
        let mut state = self.lock();
        let slot = (org.to_string(), key.to_owned());
        if state
            .idempotency
            .get(&slot)
            .is_some_and(|r| r.holder == holder)
        {
            state.idempotency.remove(&slot);
        }
        Ok(())
    }
}
