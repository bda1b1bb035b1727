//! The outside capabilities the domain needs, one small trait each. The AWS adapters in
//! [`crate::aws`] implement them; unit tests implement them in memory.

use async_trait::async_trait;

use crate::domain::mail::MailContent;
use crate::domain::search::{Entry, PeopleCounts, PeopleQuery};
use crate::domain::{
    EmailAddress, EmailDomain, Error, LinkedIdentity, MfaMode, OrgId, Organization, Person,
    PersonId, SignInSettings, Subdomain,
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

/// Every trigger ARN a pool is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerArns {
    pub pre_signup: String,
    pub post_confirmation: String,
    pub pre_authentication: String,
    pub post_authentication: String,
    pub pre_token_generation: String,
    pub user_migration: String,
    pub custom_message: String,
}

/// What an organization's user pool is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSpec {
    pub name: String,
    pub org_id: OrgId,
    pub subdomain: Subdomain,
    pub mfa: MfaMode,
    pub triggers: TriggerArns,
}

/// What the organization's app client is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSpec {
    pub name: String,
    pub callback_urls: Vec<String>,
    pub logout_urls: Vec<String>,
}

/// A login to create in a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogin<'a> {
    pub username: &'a str,
    pub email: &'a EmailAddress,
    pub temporary_password: &'a str,
}

/// Cognito user pools, as far as provisioning needs them.
#[async_trait]
pub trait UserPools: Send + Sync {
    /// The pool with exactly this name, if there is one (crash recovery looks here).
    async fn find_pool_by_name(&self, name: &str) -> Result<Option<String>, Error>;
    /// The pool's `org-id` tag: which organization it was made for (`None` when it carries
    /// none, or its tags cannot be read because it carries none: every permission of the
    /// functions on a pool requires the tag). Provisioning adopts a pool found by name only
    /// when this is the organization's id.
    async fn pool_org_tag(&self, pool_id: &str) -> Result<Option<String>, Error>;
    /// Creates the pool and returns its id. Fails at once with [`Error::QuotaExceeded`]
    /// when the account may not have more pools.
    async fn create_pool(&self, spec: &PoolSpec) -> Result<String, Error>;
    /// Sets the pool's multi-factor mode (TOTP); idempotent.
    async fn ensure_mfa(&self, pool_id: &str, mfa: MfaMode) -> Result<(), Error>;
    /// Creates the groups that do not exist yet.
    async fn ensure_groups(&self, pool_id: &str, groups: &[&str]) -> Result<(), Error>;
    /// The id of the app client with this name, created if missing.
    async fn ensure_app_client(&self, pool_id: &str, spec: &ClientSpec) -> Result<String, Error>;
    /// Gives the pool this Cognito prefix domain unless it already has one; returns the
    /// pool's domain.
    async fn ensure_domain(&self, pool_id: &str, prefix: &str) -> Result<String, Error>;
    /// Creates a login that must change its temporary password at first sign-in, without
    /// Cognito's own invitation (we send ours). If it exists already, its temporary password
    /// is reset instead, so that a repeated activation sends a password that works.
    async fn create_login(&self, pool_id: &str, login: &NewLogin<'_>) -> Result<(), Error>;
    async fn add_to_group(&self, pool_id: &str, username: &str, group: &str) -> Result<(), Error>;
    /// Links a federated identity (`provider`, its subject) to an existing login, so that
    /// signing in through the provider signs in as that login.
    async fn link_provider(
        &self,
        pool_id: &str,
        username: &str,
        provider: &str,
        subject: &str,
    ) -> Result<(), Error>;
    async fn remove_from_group(
        &self,
        pool_id: &str,
        username: &str,
        group: &str,
    ) -> Result<(), Error>;
    /// Disables the login and signs it out everywhere (its refresh tokens stop working).
    /// A login that no longer exists counts as done.
    async fn disable_login(&self, pool_id: &str, username: &str) -> Result<(), Error>;
    /// Signs the login out everywhere: its refresh tokens stop working (access and ID tokens
    /// run until they expire: the admin API refuses them by the person's
    /// `sessions_revoked_at`). A login that no longer exists counts as done.
    async fn sign_out_everywhere(&self, pool_id: &str, username: &str) -> Result<(), Error>;
    /// Removes the login. A login that no longer exists counts as done.
    async fn delete_login(&self, pool_id: &str, username: &str) -> Result<(), Error>;
    /// Gives an existing login a new temporary password: the old one stops working and the
    /// next sign-in must choose a new one.
    async fn set_temporary_password(
        &self,
        pool_id: &str,
        username: &str,
        temporary_password: &str,
    ) -> Result<(), Error>;
    /// Sets the password a person chose (an activation link): permanent, no change asked for
    /// at the next sign-in.
    async fn set_password(
        &self,
        pool_id: &str,
        username: &str,
        password: &str,
    ) -> Result<(), Error>;
    /// Creates the identity provider in the pool, or updates it to `spec`.
    async fn ensure_identity_provider(
        &self,
        pool_id: &str,
        spec: &IdentityProviderSpec,
    ) -> Result<(), Error>;
    /// Removes an identity provider; one that is not there counts as done.
    async fn delete_identity_provider(&self, pool_id: &str, name: &str) -> Result<(), Error>;
    /// Sets the app client's callback and logout URLs (everything else stays).
    async fn set_client_urls(
        &self,
        pool_id: &str,
        client_id: &str,
        callback_urls: &[String],
        logout_urls: &[String],
    ) -> Result<(), Error>;
    /// Gives a login a confirmed e-mail address (`email_verified` true).
    async fn set_email(
        &self,
        pool_id: &str,
        username: &str,
        email: &EmailAddress,
    ) -> Result<(), Error>;
    /// Sets a login's `preferred_username`, its sign-in alias (a confirmed username change);
    /// the login's own username removes the alias.
    async fn set_preferred_username(
        &self,
        pool_id: &str,
        username: &str,
        name: &str,
    ) -> Result<(), Error>;
    /// Deletes a group; a group that no longer exists counts as done.
    async fn delete_group(&self, pool_id: &str, group: &str) -> Result<(), Error>;
    /// Applies an organization's sign-in settings to its pool and app client: self sign-up
    /// (`AllowAdminCreateUserOnly` off) and the identity providers the client offers
    /// (`COGNITO`, the password page, unless SSO-only; and each enabled provider that the
    /// pool has). Every other setting of the pool and the client stays as it is. Returns the
    /// enabled providers the pool does not have (yet).
    async fn apply_sign_in(
        &self,
        pool_id: &str,
        client_id: Option<&str>,
        settings: &SignInSettings,
    ) -> Result<Vec<String>, Error>;
}

/// Outgoing mail (SES).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends the mail and returns the provider's message id.
    async fn send(&self, to: &EmailAddress, mail: &MailContent) -> Result<String, Error>;
}

/// The tokens of a completed sign-in. Never logged: `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq)]
pub struct SignInTokens {
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Seconds the ID and access tokens stay valid.
    pub expires_in: i64,
}

impl std::fmt::Debug for SignInTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInTokens")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Where a sign-in stands after one answer to Cognito. A `session` is Cognito's opaque
/// handle of the challenge (valid a few minutes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInStep {
    Done(SignInTokens),
    /// First sign-in with a temporary password: a new password is needed.
    NewPasswordRequired {
        session: String,
    },
    /// The code of the person's authenticator app.
    MfaCode {
        session: String,
    },
    /// The organization requires MFA and the person has no authenticator yet.
    MfaSetup {
        session: String,
    },
}

/// Why Cognito did not go on. Built so that the pages can keep the enumeration promise:
/// everything a stranger could provoke is [`SignInRefusal::Credentials`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInRefusal {
    /// Unknown username, wrong password, disabled login, lazy migration refused: one answer.
    #[error("incorrect username or password")]
    Credentials,
    /// The new password breaks the pool's policy (Cognito's words).
    #[error("the new password is refused: {0}")]
    PasswordPolicy(String),
    /// A wrong or expired code (MFA, forgotten password).
    #[error("the code is wrong or expired")]
    Code,
    /// The challenge took too long: sign in again.
    #[error("the sign-in session expired")]
    SessionExpired,
    /// The login waits for a password reset (PasswordResetRequiredException): a lazy
    /// person's login that a forgotten-password request created, which anyone can start
    /// for any username. To the person, like [`SignInRefusal::Credentials`].
    #[error("a password reset is required")]
    ResetRequired,
    #[error("too many attempts")]
    TooManyAttempts,
    /// A trigger refused after the password was verified (or for the whole organization):
    /// its message, written for the person.
    #[error("refused: {0}")]
    Refused(String),
    #[error(transparent)]
    Failed(#[from] Error),
}

/// Who is at the other end of a sign-in or a password reset, for Cognito's threat
/// protection (`UserContextData`): the browser's address as API Gateway saw it, and the
/// device data of Cognito's context-data collection script when the page sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserContext {
    pub ip_address: Option<String>,
    pub encoded_data: Option<String>,
}

/// Counts attempts in fixed windows shared by every execution environment (the registry
/// table): the router's limits per address and per organization.
#[async_trait]
pub trait AttemptCounter: Send + Sync {
    /// Counts one attempt of `scope` in the window starting at `window_start` (epoch
    /// seconds, `window_secs` long) and returns the window's count with this one.
    async fn count_attempt(
        &self,
        scope: &str,
        window_start: i64,
        window_secs: i64,
    ) -> Result<u64, Error>;
}

/// The person-facing Cognito calls of an organization's app client (the router's login
/// pages): USER_PASSWORD_AUTH and its challenges, TOTP set-up, forgotten passwords, sign-out.
#[async_trait]
pub trait UserSignIn: Send + Sync {
    /// `context` goes to Cognito as `UserContextData`, so that its threat protection sees
    /// the person, not the router.
    async fn password_sign_in(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
        context: &UserContext,
    ) -> Result<SignInStep, SignInRefusal>;
    async fn answer_new_password(
        &self,
        client_id: &str,
        username: &str,
        session: &str,
        new_password: &str,
    ) -> Result<SignInStep, SignInRefusal>;
    async fn answer_mfa_code(
        &self,
        client_id: &str,
        username: &str,
        session: &str,
        code: &str,
    ) -> Result<SignInStep, SignInRefusal>;
    /// Starts TOTP set-up within a sign-in: the secret to show, and the session to go on with.
    async fn start_totp_setup(&self, session: &str) -> Result<(String, String), SignInRefusal>;
    /// Checks the first code of the new authenticator and finishes the sign-in.
    async fn finish_totp_setup(
        &self,
        client_id: &str,
        username: &str,
        session: &str,
        code: &str,
    ) -> Result<SignInStep, SignInRefusal>;
    /// Sends a code to the person's address, if there is such a person (the answer is the
    /// same either way).
    async fn forgot_password(
        &self,
        client_id: &str,
        username: &str,
        context: &UserContext,
    ) -> Result<(), SignInRefusal>;
    async fn confirm_forgot_password(
        &self,
        client_id: &str,
        username: &str,
        code: &str,
        new_password: &str,
    ) -> Result<(), SignInRefusal>;
    /// Revokes a refresh token and the tokens issued with it.
    async fn revoke(&self, client_id: &str, refresh_token: &str) -> Result<(), SignInRefusal>;
}

/// Where secrets live (AWS Secrets Manager): the identity providers' client secrets, never
/// in the table, never in an answer or a log.
#[async_trait]
pub trait Secrets: Send + Sync {
    /// Stores `value` under `name`, creating or replacing it.
    async fn put_secret(&self, name: &str, value: &str) -> Result<(), Error>;
    async fn get_secret(&self, name: &str) -> Result<Option<String>, Error>;
    /// Deletes it at once; a secret that is not there counts as done.
    async fn delete_secret(&self, name: &str) -> Result<(), Error>;
}

/// An identity provider of a pool, as Cognito's CreateIdentityProvider takes it.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityProviderSpec {
    /// Its name in the pool (`Microsoft`, `Google`, ...).
    pub name: String,
    /// `OIDC`, `Google`, `SignInWithApple`, `Facebook`, `LoginWithAmazon`.
    pub provider_type: String,
    pub details: Vec<(String, String)>,
    /// Pool attribute -> provider claim.
    pub attribute_mapping: Vec<(String, String)>,
}

impl std::fmt::Debug for IdentityProviderSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The details carry the client secret: never printed.
        f.debug_struct("IdentityProviderSpec")
            .field("name", &self.name)
            .field("provider_type", &self.provider_type)
            .finish_non_exhaustive()
    }
}

/// The legacy password hashes of people migrated in lazy mode, kept beside (never inside)
/// their person record until the user-migration trigger has moved them at their first
/// sign-in. Never in an API answer or a log.
#[async_trait]
pub trait LegacyPasswords: Send + Sync {
    /// Stores (or replaces) the hash of the person `username` of `org`.
    async fn put_legacy_hash(
        &self,
        org: &OrgId,
        username: &str,
        hash: &crate::domain::migration::LegacyHash,
    ) -> Result<(), Error>;
    async fn legacy_hash(
        &self,
        org: &OrgId,
        username: &str,
    ) -> Result<Option<crate::domain::migration::LegacyHash>, Error>;
    /// Deletes it; a hash that is not there counts as done.
    async fn delete_legacy_hash(&self, org: &OrgId, username: &str) -> Result<(), Error>;
    /// One of the organization's legacy hashes, any (none left: `None`): its scheme and
    /// costs are the organization's, for a stand-in check that takes as long as a real one.
    async fn sample_legacy_hash(
        &self,
        org: &OrgId,
    ) -> Result<Option<crate::domain::migration::LegacyHash>, Error>;
}

/// DNS TXT records: the proofs of organizations' e-mail domains.
#[async_trait]
pub trait TxtRecords: Send + Sync {
    /// The TXT records of `name` (each one's strings joined); none: empty.
    async fn txt(&self, name: &str) -> Result<Vec<String>, Error>;
}

/// A Cognito login for a migrated person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigratedLogin<'a> {
    pub username: &'a str,
    pub email: &'a EmailAddress,
    pub given_name: Option<&'a str>,
    pub family_name: Option<&'a str>,
}

/// What creating a migrated person's login found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    Created,
    /// The login was there already with the same e-mail address: an earlier attempt (a run
    /// killed after Cognito created it) made it; nothing was changed.
    AlreadyThere,
}

/// The Cognito calls of a bulk migration in invite mode: logins created with Cognito's own
/// message suppressed (the welcome mail goes out later through the admin API's resend).
#[async_trait]
pub trait MigrationLogins: Send + Sync {
    /// Creates the login (an unknown temporary password, `email_verified` true, message
    /// SUPPRESS). A login of that username with the same e-mail address counts as done
    /// ([`LoginOutcome::AlreadyThere`]); one with another address is refused.
    async fn create_migrated_login(
        &self,
        pool_id: &str,
        login: &MigratedLogin<'_>,
    ) -> Result<LoginOutcome, Error>;
    /// Enables a disabled login; a missing one counts as done.
    async fn enable_login(&self, pool_id: &str, username: &str) -> Result<(), Error>;
    async fn login_exists(&self, pool_id: &str, username: &str) -> Result<bool, Error>;
    /// One page (up to 60) of the pool's logins, for `tenantctl migrate verify`.
    async fn pool_logins(
        &self,
        pool_id: &str,
        cursor: Option<&str>,
    ) -> Result<Page<PoolLogin>, Error>;
}

/// A login of a pool as `tenantctl migrate verify` compares it with the registry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PoolLogin {
    pub username: String,
    /// Lower-cased; empty when the login has none.
    pub email: String,
    pub enabled: bool,
}

/// Who holds a migration lease (an organization of a job), and whether that holder is
/// provably gone, so that its lease may be taken over instead of waited out.
pub trait LeaseHolders: Send + Sync {
    /// This run's identity: the leases it takes are held as `<this run>#<attempt>`.
    fn this_run(&self) -> &str;
    /// True only when the run that wrote `holder` provably no longer runs (a process of this
    /// machine that has ended); false when that cannot be known.
    fn provably_dead(&self, holder: &str) -> bool;
}

/// Holders of which nothing can be proven (the Lambda worker): leases are waited out.
pub struct UnprovenHolders;

impl LeaseHolders for UnprovenHolders {
    fn this_run(&self) -> &str {
        "run"
    }
    fn provably_dead(&self, _holder: &str) -> bool {
        false
    }
}

/// Migration jobs and their checkpoints (DynamoDB): the job, one checkpoint per organization,
/// the people of each organization staged from the source, the records skipped and the
/// people that failed. Lets a run killed at any moment, or the Lambda worker without the
/// source file, carry on where the last checkpoint left off.
#[async_trait]
pub trait MigrationStore: Send + Sync {
    /// Records a new job, unless one with its id exists: then that one is returned, unchanged.
    async fn create_job(
        &self,
        job: &crate::domain::migration_job::MigrationJob,
    ) -> Result<Option<crate::domain::migration_job::MigrationJob>, Error>;
    async fn job(
        &self,
        id: &str,
    ) -> Result<Option<crate::domain::migration_job::MigrationJob>, Error>;
    async fn save_job(&self, job: &crate::domain::migration_job::MigrationJob)
        -> Result<(), Error>;
    /// Records the checkpoint unless the organization has one in this job; returns the one
    /// stored.
    async fn create_checkpoint(
        &self,
        checkpoint: &crate::domain::migration_job::OrgCheckpoint,
    ) -> Result<crate::domain::migration_job::OrgCheckpoint, Error>;
    async fn checkpoint(
        &self,
        job: &str,
        legacy_id: &str,
    ) -> Result<Option<crate::domain::migration_job::OrgCheckpoint>, Error>;
    /// Saves the checkpoint if nobody saved it since it was read ([`Error::Conflict`]
    /// otherwise); returns it with its version bumped.
    async fn save_checkpoint(
        &self,
        checkpoint: &crate::domain::migration_job::OrgCheckpoint,
    ) -> Result<crate::domain::migration_job::OrgCheckpoint, Error>;
    /// Every checkpoint of the job, in legacy id order.
    async fn checkpoints(
        &self,
        job: &str,
    ) -> Result<Vec<crate::domain::migration_job::OrgCheckpoint>, Error>;
    /// Stores people of one organization for the job (a repeat overwrites with the same).
    async fn stage_people(
        &self,
        job: &str,
        legacy_id: &str,
        people: &[crate::domain::migration_job::StagedPerson],
    ) -> Result<(), Error>;
    /// Up to `limit` staged people of the organization in username order, after `after`.
    async fn staged_people(
        &self,
        job: &str,
        legacy_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<crate::domain::migration_job::StagedPerson>, Error>;
    async fn record_skipped(
        &self,
        job: &str,
        records: &[crate::domain::migration_job::SkippedRecord],
    ) -> Result<(), Error>;
    async fn skipped(
        &self,
        job: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<crate::domain::migration_job::SkippedRecord>, Error>;
    async fn record_failure(
        &self,
        job: &str,
        failure: &crate::domain::migration_job::PersonFailure,
    ) -> Result<(), Error>;
    /// Forgets skipped records (by ordinal) that a later staging migrates after all: their
    /// organization became the job's.
    async fn forget_skipped(&self, job: &str, ordinals: &[u64]) -> Result<(), Error>;
    /// Forgets a failure once a later attempt migrated the person.
    async fn clear_failure(&self, job: &str, legacy_id: &str, username: &str) -> Result<(), Error>;
    async fn failures(
        &self,
        job: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<crate::domain::migration_job::PersonFailure>, Error>;
}
