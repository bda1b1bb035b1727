//! The registry of organizations and people, their audit log, idempotency keys and leases.

use async_trait::async_trait;

use crate::domain::scim::groups::DirectoryGroup;
use crate::domain::search::{Entry, PeopleCounts, PeopleQuery};
use crate::domain::{
    EmailAddress, EmailDomain, Error, LinkedIdentity, OrgId, Organization, Person, PersonId,
    Subdomain,
};

/// An entry of an organization's audit log. Every state change writes exactly one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEvent {
    pub org_id: OrgId,
    /// Epoch seconds.
    pub at: i64,
    /// Who did it: an operator (`tenantctl:<user>`), an admin's username, or a function.
    pub actor: String,
    /// What happened, such as `org.created`, `person.activated`.
    pub action: String,
    /// Whom or what it happened to.
    pub target: String,
    /// A short, secret-free detail.
    pub detail: Option<String>,
}

impl AuditEvent {
    /// An event that happens now.
    pub fn now(
        org_id: &OrgId,
        actor: &str,
        action: &str,
        target: &str,
        detail: Option<String>,
    ) -> Self {
        Self {
            org_id: org_id.clone(),
            at: crate::domain::now_epoch(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail,
        }
    }
}

/// The registry of organizations and people (DynamoDB). Every state change takes the audit
/// event that records it and writes both in one transaction: a change that did not happen
/// leaves no event, a repeated one (a retried trigger) none twice.
#[async_trait]
pub trait Registry: Send + Sync {
    /// Records a new organization in `provisioning` status and claims its subdomain and
    /// e-mail domains, all or nothing.
    async fn create_organization(
        &self,
        org: &Organization,
        audit: &AuditEvent,
    ) -> Result<(), Error>;
    /// Records the organization's user pool and claims the pool id, all or nothing. Recording
    /// the same pool again is a no-op; a different one is a [`Error::Conflict`].
    async fn attach_pool(&self, org: &Organization, pool_id: &str) -> Result<Organization, Error>;
    /// Saves a changed organization if nobody saved it since it was read, then its audit
    /// event: not in one transaction. For a writer that owns the organization meanwhile (a
    /// migration's switch, while the bulk import writes beside it without transactions): a
    /// repeat finds the record saved, and a crash between the two loses only the event.
    /// By default the transactional [`Registry::save_organization`].
    async fn save_organization_alone(
        &self,
        org: &Organization,
        audit: &AuditEvent,
    ) -> Result<Organization, Error> {
        self.save_organization(org, Some(audit)).await
    }
    /// Saves a changed organization if nobody saved it since it was read; bumps `version`.
    async fn save_organization(
        &self,
        org: &Organization,
        audit: Option<&AuditEvent>,
    ) -> Result<Organization, Error>;
    /// Saves `org`, whose e-mail domains differ from `before`'s: the added ones are claimed
    /// (each by one organization only) and the removed ones freed, in the same write as the
    /// record (checked against `before`'s version) and its audit event.
    async fn save_organization_domains(
        &self,
        before: &Organization,
        org: &Organization,
        audit: &AuditEvent,
    ) -> Result<Organization, Error>;
    async fn organization(&self, id: &OrgId) -> Result<Option<Organization>, Error>;
    async fn organization_by_subdomain(
        &self,
        sub: &Subdomain,
    ) -> Result<Option<Organization>, Error>;
    async fn organization_by_pool(&self, pool_id: &str) -> Result<Option<Organization>, Error>;
    async fn organization_by_email_domain(
        &self,
        domain: &EmailDomain,
    ) -> Result<Option<Organization>, Error>;
    /// All organizations, ordered by subdomain.
    async fn list_organizations(&self) -> Result<Vec<Organization>, Error>;

    /// Records a new person; their username and e-mail must be free in the organization. A
    /// person created in a seat-holding status takes a seat, refused when none is free.
    async fn create_person(&self, person: &Person, audit: &AuditEvent) -> Result<(), Error>;
    /// Records many new people of one organization (a bulk import), each with its audit
    /// event; one result per person, in order, as [`Registry::create_person`] gives it.
    /// `seats` is the organization's seat limit as last read (a batch takes its seats at
    /// once). Implementations may write several people per transaction; by default one by one.
    async fn create_people(
        &self,
        people: &[(Person, AuditEvent)],
        seats: Option<u32>,
    ) -> Vec<Result<(), Error>> {
        let _ = seats;
        let mut results = Vec::with_capacity(people.len());
        for (person, audit) in people {
            results.push(self.create_person(person, audit).await);
        }
        results
    }
    /// Saves many changed people of one organization in bulk (a migration's rollback), each
    /// checked against its `before`'s version, with its audit event. Unlike
    /// [`Registry::save_person`], implementations may leave the seat count alone: the caller
    /// then sets it from the records. By default one by one with `save_person`.
    async fn save_people(
        &self,
        changes: &[(Person, Person, AuditEvent)],
    ) -> Vec<Result<Person, Error>> {
        let mut results = Vec::with_capacity(changes.len());
        for (before, after, audit) in changes {
            results.push(self.save_person(before, after, Some(audit)).await);
        }
        results
    }
    async fn person(&self, org: &OrgId, username: &str) -> Result<Option<Person>, Error>;
    async fn person_by_email(
        &self,
        org: &OrgId,
        email: &EmailAddress,
    ) -> Result<Option<Person>, Error>;
    /// Saves a changed person if nobody saved them since they were read; bumps `version`.
    /// When the change moves them into or out of a seat-holding status, the organization's
    /// seat count moves with it in the same transaction, refused when no seat is free.
    async fn save_person(
        &self,
        before: &Person,
        after: &Person,
        audit: Option<&AuditEvent>,
    ) -> Result<Person, Error>;
    /// [`Registry::save_person`], on the condition that the organization's record is still
    /// at `org_version`, which the same write moves on: changes that take an active
    /// administrator away are made one at a time, each after counting the others
    /// (`domain::people::save_keeping_an_admin`). [`Error::Conflict`] on `organization` when
    /// the record moved meanwhile.
    async fn save_person_if_org_unchanged(
        &self,
        before: &Person,
        after: &Person,
        audit: Option<&AuditEvent>,
        org_version: u64,
    ) -> Result<Person, Error>;

    /// The person a federated identity was linked to (the provider's subject identifies them
    /// after the first link, never the e-mail address again).
    /// A confirmed e-mail change: `after` differs from `before` only in its address (and
    /// the confirmation state); the new address is claimed and the old one freed in the same
    /// write as the record, checked against `before`'s version, with its audit event.
    async fn change_email(
        &self,
        before: &Person,
        after: &Person,
        audit: &AuditEvent,
    ) -> Result<Person, Error>;
    /// A confirmed username change: `after` differs from `before` only in its
    /// `preferred_username` (and the confirmation state). The new name is claimed (refused
    /// when it is anyone's username or sign-in name) and the old one freed in the same write
    /// as the record, checked against `before`'s version, with its audit event.
    async fn change_username(
        &self,
        before: &Person,
        after: &Person,
        audit: &AuditEvent,
    ) -> Result<Person, Error>;
    /// The person whose sign-in name (`preferred_username`) is `name`.
    async fn person_by_sign_in_name(
        &self,
        org: &OrgId,
        name: &str,
    ) -> Result<Option<Person>, Error>;
    async fn person_by_identity(
        &self,
        org: &OrgId,
        provider: &str,
        subject: &str,
    ) -> Result<Option<Person>, Error>;
    /// Records `identity` as linked to `person`, if nobody saved the person since they were
    /// read and no one else holds that identity; with its audit event, all or nothing.
    async fn link_identity(
        &self,
        person: &Person,
        identity: &LinkedIdentity,
        audit: &AuditEvent,
    ) -> Result<Person, Error>;

    /// The person the organization's directory (SCIM) knows by `external_id`. By default
    /// from every person (for small fakes only).
    async fn person_by_external_id(
        &self,
        org: &OrgId,
        external_id: &str,
    ) -> Result<Option<Person>, Error> {
        let everyone = all_people(self, org).await?;
        Ok(everyone.into_iter().find(|p| {
            p.directory.as_ref().and_then(|d| d.external_id.as_deref()) == Some(external_id)
        }))
    }
    /// Saves `after`, whose directory record differs from `before`'s (checked against its
    /// version), with its audit event; its external id is claimed for this person only (the
    /// previous one freed) in the same write. By default checked against every person, then
    /// [`Registry::save_person`] (for small fakes only).
    async fn save_directory(
        &self,
        before: &Person,
        after: &Person,
        audit: &AuditEvent,
    ) -> Result<Person, Error> {
        let external = after.directory.as_ref().and_then(|d| d.external_id.clone());
        if let Some(external) = external {
            if let Some(holder) = self.person_by_external_id(&after.org_id, &external).await? {
                if holder.id != after.id {
                    return Err(external_id_taken(&after.username));
                }
            }
        }
        self.save_person(before, after, Some(audit)).await
    }

    /// The organization's directory group `id` (SCIM).
    async fn directory_group(
        &self,
        org: &OrgId,
        id: &str,
    ) -> Result<Option<DirectoryGroup>, Error> {
        let _ = (org, id);
        Err(no_groups())
    }
    /// All of the organization's directory groups, by id.
    async fn directory_groups(&self, org: &OrgId) -> Result<Vec<DirectoryGroup>, Error> {
        let _ = org;
        Err(no_groups())
    }
    /// Saves a group (`before`: as read, its version checked; `None`: a new one, its id
    /// free), with its audit event.
    async fn save_directory_group(
        &self,
        before: Option<&DirectoryGroup>,
        after: &DirectoryGroup,
        audit: &AuditEvent,
    ) -> Result<DirectoryGroup, Error> {
        let _ = (before, after, audit);
        Err(no_groups())
    }
    /// Deletes a group as read (its version checked), with its audit event.
    async fn delete_directory_group(
        &self,
        group: &DirectoryGroup,
        audit: &AuditEvent,
    ) -> Result<(), Error> {
        let _ = (group, audit);
        Err(no_groups())
    }

    /// The newest `limit` events of an organization, newest first.
    async fn audit_log(&self, org: &OrgId, limit: u32) -> Result<Vec<AuditEvent>, Error>;

    /// The person with this id (stable even when the username changes).
    async fn person_by_id(&self, org: &OrgId, id: &PersonId) -> Result<Option<Person>, Error>;
    /// A page of the organization's people in username order, starting after `cursor` (a
    /// `next` of an earlier page); `filter` keeps the matching ones, and the page is filled
    /// up to `limit` with matches.
    async fn people(
        &self,
        org: &OrgId,
        filter: &(dyn for<'p> Fn(&'p Person) -> bool + Sync),
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Person>, Error>;
    /// One page of the people `query` asks for (see `domain::search`): up to `limit`, each
    /// once, starting after `after` (the `next` of an earlier page of the same query). Reads
    /// at most `query.read_budget(limit)` entries, in one request for the registry table.
    /// By default from [`Registry::people`] (every person read: for small fakes only).
    async fn find_people(
        &self,
        org: &OrgId,
        query: &PeopleQuery,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Person>, Error> {
        let everyone = all_people(self, org).await?;
        let mut entries: Vec<Entry> = everyone
            .into_iter()
            .filter_map(|person| {
                let key = query.position(&person)?;
                Some(Entry { key, person })
            })
            .filter(|e| after.is_none_or(|a| e.key.as_str() > a))
            .collect();
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        let budget = query.read_budget(limit) as usize;
        let read_on = (entries.len() > budget).then(|| entries[budget - 1].key.clone());
        entries.truncate(budget);
        Ok(crate::domain::search::select(
            query,
            entries,
            limit as usize,
            read_on,
        ))
    }
    /// The organization's people counters, when they are complete (`None`: not built yet, or
    /// a bulk writer changed people without them: count from the records, and run
    /// [`Registry::reindex_people`]). By default counted from the records.
    async fn people_counts(&self, org: &OrgId) -> Result<Option<PeopleCounts>, Error> {
        let everyone = all_people(self, org).await?;
        Ok(Some(crate::domain::search::recount(&everyone)))
    }
    /// Builds the organization's search entries and counters from its people (the backfill
    /// of `tenantctl org reindex`): safe to repeat, and while the organization is in use.
    /// `owned`: the caller owns the organization meanwhile (a migration): plain writes.
    /// By default there is nothing to build.
    async fn reindex_people(&self, org: &OrgId, owned: bool) -> Result<Reindexed, Error> {
        let _ = owned;
        let everyone = all_people(self, org).await?;
        Ok(Reindexed {
            people: everyone.len() as u64,
            counts: crate::domain::search::recount(&everyone),
            ..Reindexed::default()
        })
    }
    /// A page of the audit log, newest first, starting after `cursor`.
    async fn audit_page(
        &self,
        org: &OrgId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<AuditEvent>, Error>;

    /// Claims an idempotency key for a request: the first claim wins
    /// ([`IdempotentClaim::New`]); a later one gets the stored answer, or learns that the
    /// first is still running or that the key came with another request. A running claim
    /// holds the key for `lease_secs` only: a request that crashed or timed out leaves it
    /// running, and the next claim with the same request after the lease takes it over
    /// (also [`IdempotentClaim::New`]). Keys and answers expire after `ttl_secs`.
    async fn claim_idempotency_key(
        &self,
        org: &OrgId,
        key: &str,
        claim: &KeyClaim<'_>,
    ) -> Result<IdempotentClaim, Error>;
    /// Stores the answer given under a claimed key, if `holder` still holds it. Returns
    /// whether it did (false: the lease ran out and another request took the key over, whose
    /// answer counts). Answers of any size are kept (compressed, split over items within
    /// DynamoDB's 400 KB item limit).
    async fn store_idempotent_answer(
        &self,
        org: &OrgId,
        key: &str,
        holder: &str,
        answer: &StoredAnswer,
    ) -> Result<bool, Error>;
    /// Gives up a claimed key whose request failed without changing anything, so that it
    /// can be sent again (only while `holder` holds it).
    async fn release_idempotency_key(
        &self,
        org: &OrgId,
        key: &str,
        holder: &str,
    ) -> Result<(), Error>;

    /// Takes the organization's lease `name` for `ttl_secs` unless another holder has it (an
    /// expired lease is free; the same holder may take it again). Returns whether it did.
    async fn acquire_lease(
        &self,
        org: &OrgId,
        name: &str,
        holder: &str,
        ttl_secs: i64,
    ) -> Result<bool, Error>;
    /// Gives the lease back, if `holder` still has it.
    async fn release_lease(&self, org: &OrgId, name: &str, holder: &str) -> Result<(), Error>;
}

fn no_groups() -> Error {
    Error::not_allowed("keep directory groups", "this registry keeps none")
}

/// The refusal of an external id that another person of the organization holds.
pub fn external_id_taken(username: &str) -> Error {
    Error::not_allowed(
        format!("record the directory's id of {username}"),
        "another person of this organization already has that externalId",
    )
}

/// Every person of an organization, page by page (for fakes and recounts).
async fn all_people<R: Registry + ?Sized>(registry: &R, org: &OrgId) -> Result<Vec<Person>, Error> {
    let mut everyone = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = registry
            .people(org, &|_: &Person| true, cursor.as_deref(), 1000)
            .await?;
        everyone.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(everyone),
        }
    }
}

/// What a reindex did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Reindexed {
    /// People read.
    pub people: u64,
    /// Search entries written (missing or out of date).
    pub entries_written: u64,
    /// Search entries deleted (no current record has them).
    pub entries_deleted: u64,
    /// People whose record changed while they were indexed (their own write indexed them).
    pub changed_meanwhile: u64,
    /// The counters as set.
    #[serde(serialize_with = "counts_as_map")]
    pub counts: PeopleCounts,
    /// How many times the people were read and counted (a change meanwhile: again).
    pub passes: u32,
}

fn counts_as_map<S: serde::Serializer>(counts: &PeopleCounts, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&counts.0, s)
}

/// One page of a listing and where the next one starts (`None`: this was the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// An answer given under an idempotency key, to give again for a repeated request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredAnswer {
    pub status: u16,
    pub body: String,
}

/// A request's claim on an idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyClaim<'a> {
    /// The request's fingerprint: a key sent again with another request is refused.
    pub fingerprint: &'a str,
    /// Names this request while it holds the key (unique per request).
    pub holder: &'a str,
    /// How long the key and its answer are kept.
    pub ttl_secs: i64,
    /// How long a running request holds the key (longer than a request can run).
    pub lease_secs: i64,
}

/// What claiming an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotentClaim {
    /// Nobody used the key (or the request holding it outlived its lease): run the
    /// request, then store its answer.
    New,
    /// The request ran already: this was its answer.
    Done(StoredAnswer),
    /// The first request with this key is still running.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}
