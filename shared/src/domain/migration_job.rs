//! A migration job and the migration of one organization in it: its pool (the foundation's
//! provisioning), its people batch by batch from the staged source, then the switch. The same
//! code serves `tenantctl migrate run/resume` and the Lambda worker (one organization per
//! invocation); every step is checkpointed in the [`MigrationStore`], so that a run killed at
//! any moment carries on where it stopped and creates nobody twice.
//!
//! Per person, every step is idempotent and the batch's checkpoint is written only once all
//! of its people are done: a batch interrupted half-way is done again, and each step then
//! finds its work there (the registry's conditional create, Cognito's UsernameExists on the
//! same address, group membership, the legacy hash put).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use super::activation::{activate_person, Activation};
use super::migration::{LegacyHash, LegacyOrganization, MigrationMode, OrgMigration};
use super::migration_plan::{provision_request, Problem};
use super::provisioning::{ForMigration, Provisioning, Step};
use super::{
    now_epoch, EmailAddress, Error, OrgId, Organization, Person, PersonId, PersonStatus, Role,
};
use crate::domain::ports::{
    AuditEvent, LeaseHolders, LegacyPasswords, Mailer, MigratedLogin, MigrationLogins,
    MigrationStore, Registry, TriggerArns, UnprovenHolders, UserPools,
};

/// A migration job: what the operator asked for. Stored once; `run` with the same id and
/// settings, and `resume`, carry it on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationJob {
    pub id: String,
    /// The source as given (`path.jsonl[.gz]` or `cognito:<pool id>`).
    pub source: String,
    /// The legacy pool's organization attribute (`cognito:` sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_attribute: Option<String>,
    pub mode: MigrationMode,
    /// Only these legacy organizations (ids or subdomains); empty: all.
    #[serde(default)]
    pub only: Vec<String>,
    pub skip_invalid: bool,
    /// Invite mode: welcome mails now instead of later through the admin API.
    pub send_invitations: bool,
    /// Every organization's checkpoint and every person of the selected organizations are
    /// stored: the source is no longer needed.
    pub staged: bool,
    pub created_at: i64,
    pub created_by: String,
}

impl MigrationJob {
    /// Whether a second `run` asks for the same job (then it carries it on).
    pub fn same_request(&self, other: &MigrationJob) -> bool {
        self.source == other.source
            && self.mode == other.mode
            && self.only == other.only
            && self.skip_invalid == other.skip_invalid
            && self.send_invitations == other.send_invitations
            && self.org_attribute == other.org_attribute
    }

    /// Whether the organization is selected by `--orgs`.
    pub fn selects(&self, org: &LegacyOrganization) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|o| *o == org.id || *o == org.subdomain)
    }
}

/// Where an organization of a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgPhase {
    /// Staged, nothing created yet.
    Pending,
    /// Its pool and record exist (not switched yet); people are being migrated.
    Provisioned,
    /// Done: its people sign in at its new pool.
    Switched,
    /// The last attempt stopped on an error (kept in `error`): `resume` tries again.
    Failed,
    /// Not migrated: it broke a rule of the source (`--skip-invalid`).
    Skipped,
    /// Sent back to legacy sign-in by `rollback`; its logins are disabled.
    RolledBack,
    /// Not selected by `--orgs`.
    NotSelected,
}

impl OrgPhase {
    /// Whether a run has nothing more to do for it.
    pub fn settled(self) -> bool {
        matches!(
            self,
            OrgPhase::Switched | OrgPhase::Skipped | OrgPhase::RolledBack | OrgPhase::NotSelected
        )
    }
}

impl std::fmt::Display for OrgPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = serde_json::to_value(self).unwrap_or_default();
        f.write_str(v.as_str().unwrap_or("?"))
    }
}

/// One organization's checkpoint in a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgCheckpoint {
    pub job: String,
    pub legacy_id: String,
    pub organization: LegacyOrganization,
    pub phase: OrgPhase,
    #[serde(default)]
    pub org_id: Option<OrgId>,
    /// The last username of the last finished batch.
    #[serde(default)]
    pub cursor: Option<String>,
    /// People staged for it (valid records).
    pub people_total: u64,
    /// People done (created now, or found done by a repeat), failures not included.
    pub people_done: u64,
    /// Cognito logins created by this job (invite mode).
    pub logins_created: u64,
    pub people_failed: u64,
    /// Why it was skipped, or the last attempt's error.
    #[serde(default)]
    pub problems: Vec<Problem>,
    #[serde(default)]
    pub error: Option<String>,
    /// Which run works on it now, and until when (a dead run's lease runs out).
    #[serde(default)]
    pub lease_holder: Option<String>,
    #[serde(default)]
    pub lease_until: i64,
    pub updated_at: i64,
    pub version: u64,
}

impl OrgCheckpoint {
    pub fn new(job: &str, org: &LegacyOrganization, phase: OrgPhase, people_total: u64) -> Self {
        Self {
            job: job.to_owned(),
            legacy_id: org.id.clone(),
            organization: org.clone(),
            phase,
            org_id: None,
            cursor: None,
            people_total,
            people_done: 0,
            logins_created: 0,
            people_failed: 0,
            problems: Vec::new(),
            error: None,
            lease_holder: None,
            lease_until: 0,
            updated_at: now_epoch(),
            version: 0,
        }
    }
}

/// A valid person of the source, staged for their organization's migration. The password
/// hash is never printed (see [`LegacyHash`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedPerson {
    /// Lower-cased, checked.
    pub username: String,
    pub email: String,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    pub roles: Vec<String>,
    pub active: bool,
    #[serde(default)]
    pub password_hash: Option<LegacyHash>,
}

/// A record of the source that is not migrated, and why (the report lists every one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedRecord {
    /// Its order in the source (the store's key: the same record always gets the same one).
    pub ordinal: u64,
    pub position: String,
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    pub problems: Vec<Problem>,
}

/// A person the migration could not finish, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonFailure {
    pub legacy_id: String,
    pub username: String,
    pub code: String,
    pub reason: String,
    pub at: i64,
}

/// What every organization's new pool is set up with, as values: the wildcard domain its
/// login pages live under (`<subdomain>.<base_domain>`) and the trigger ARNs attached to it.
/// The caller builds it from its configuration (`config::ProvisioningConfig` converts into
/// it); the domain reads no configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSetup<'a> {
    pub base_domain: &'a str,
    pub triggers: &'a TriggerArns,
}

/// What migrating an organization needs.
pub struct MigrationDeps<'a> {
    pub registry: &'a dyn Registry,
    /// Paced by the caller (the `rate` module's limits).
    pub pools: &'a dyn UserPools,
    pub logins: &'a dyn MigrationLogins,
    pub legacy: &'a dyn LegacyPasswords,
    pub store: &'a dyn MigrationStore,
    pub mailer: &'a dyn Mailer,
    pub base_domain: &'a str,
    pub triggers: &'a TriggerArns,
    pub actor: &'a str,
    /// Turns at Cognito shared by the organizations of one process: a batch's Cognito steps
    /// wait for a turn, its records and the organization's start and switch do not. So
    /// organizations that write to DynamoDB (or switch) leave the quota to others instead of
    /// idling it. None: no turns (one organization, as in the Lambda worker).
    pub cognito_turns: Option<&'a tokio::sync::Semaphore>,
    /// This run's identity as a lease holder, and whether another holder is provably dead.
    pub runs: &'a dyn LeaseHolders,
}

impl<'a> MigrationDeps<'a> {
    /// One store for the registry, the legacy hashes and the job, one (paced) Cognito for the
    /// pools and the logins, and what new pools are set up with (built by the caller from its
    /// configuration: `&ProvisioningConfig` converts).
    pub fn over<S, C>(
        store: &'a S,
        cognito: &'a C,
        mailer: &'a dyn Mailer,
        setup: impl Into<PoolSetup<'a>>,
        actor: &'a str,
    ) -> Self
    where
        S: Registry + LegacyPasswords + MigrationStore,
        C: UserPools + MigrationLogins,
    {
        let setup = setup.into();
        Self {
            registry: store,
            pools: cognito,
            logins: cognito,
            legacy: store,
            store,
            mailer,
            base_domain: setup.base_domain,
            triggers: setup.triggers,
            actor,
            cognito_turns: None,
            runs: &UnprovenHolders,
        }
    }

    /// Leases held as this run, and taken over from runs provably dead (see [`LeaseHolders`]).
    pub fn holding_leases_as(mut self, runs: &'a dyn LeaseHolders) -> Self {
        self.runs = runs;
        self
    }

    /// Batches of several organizations take turns at Cognito (see `cognito_turns`).
    pub fn taking_turns(mut self, turns: &'a tokio::sync::Semaphore) -> Self {
        self.cognito_turns = Some(turns);
        self
    }
}

/// People per batch (one checkpoint each).
pub const BATCH: u32 = 100;
/// People of one organization in flight at once (their Cognito calls; registry writes of one
/// organization are one at a time, since they share its seat counter).
const PEOPLE_IN_FLIGHT: usize = 16;
/// Batches prepared at Cognito that may wait for their records to be written.
const AHEAD: usize = 2;
/// How long a run holds an organization without writing a checkpoint before another run may
/// take it over.
const LEASE_SECS: i64 = 60;
/// How often a run that waits renews its lease.
const LEASE_RENEWAL: Duration = Duration::from_secs(20);

/// Counters shared with a progress display.
#[derive(Debug, Default)]
pub struct Counters {
    pub people_done: AtomicU64,
    pub people_failed: AtomicU64,
    pub orgs_done: AtomicU64,
}

/// What one call of [`migrate_organization`] leaves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrgResult {
    pub checkpoint: OrgCheckpoint,
    /// False: stopped at the deadline (or on an error), to be called again.
    pub finished: bool,
}

/// Whether an error may pass by itself (AWS unreachable or throttling, a lease held, a
/// concurrent change, DynamoDB failing): the organization is worth trying again.
pub fn transient(e: &Error) -> bool {
    matches!(
        e,
        Error::Unreachable { .. } | Error::InProgress { .. } | Error::Conflict { .. }
    ) || e.is_throttling()
        || matches!(e, Error::Aws { service, .. } if *service == "DynamoDB")
}

/// Migrates (or carries on migrating) one organization of `job`, until it is switched or
/// `deadline` passes. An error of the organization is recorded in its checkpoint (phase
/// `failed`) and returned.
pub async fn migrate_organization(
    deps: &MigrationDeps<'_>,
    job: &MigrationJob,
    legacy_id: &str,
    deadline: Option<tokio::time::Instant>,
    counters: &Counters,
) -> Result<OrgResult, Error> {
    run_organization(deps, job, legacy_id, deadline, counters, false).await
}

/// Only the organization itself (pool, record, marked as migrating), no people yet: a run
/// creates every pool before it stages and imports people, while the registry is small.
pub async fn provision_organization(
    deps: &MigrationDeps<'_>,
    job: &MigrationJob,
    legacy_id: &str,
) -> Result<OrgResult, Error> {
    run_organization(deps, job, legacy_id, None, &Counters::default(), true).await
}

async fn run_organization(
    deps: &MigrationDeps<'_>,
    job: &MigrationJob,
    legacy_id: &str,
    deadline: Option<tokio::time::Instant>,
    counters: &Counters,
    provision_only: bool,
) -> Result<OrgResult, Error> {
    let mut cp = deps
        .store
        .checkpoint(&job.id, legacy_id)
        .await?
        .ok_or_else(|| Error::NotFound {
            what: "organization of the job",
            key: format!("{}/{legacy_id}", job.id),
        })?;
    if cp.phase.settled() {
        return Ok(OrgResult {
            checkpoint: cp,
            finished: true,
        });
    }
    let holder = format!("{}#{}", deps.runs.this_run(), uuid::Uuid::now_v7().simple());
    let now = now_epoch();
    // A lease still written here was not given back: its run died, or still works (a live
    // lease). A provably dead run's lease is taken over, with the provisioning lease it may
    // hold; a live or unknown one is waited out (the caller tries again after a pause).
    let dead = cp
        .lease_holder
        .clone()
        .filter(|h| deps.runs.provably_dead(h));
    if let Some(other) = cp.lease_holder.as_deref() {
        if cp.lease_until > now && dead.is_none() {
            return Err(Error::InProgress {
                what: format!(
                    "organization {} of job {} is being migrated by another run ({other}, for {} s more at most)",
                    cp.organization.subdomain,
                    job.id,
                    cp.lease_until - now
                ),
            });
        }
    }
    if let Some(dead) = &dead {
        tracing::info!(job = %job.id, org = %cp.organization.subdomain, holder = %dead, "taking over the lease of a dead run of the job");
    }
    cp.lease_holder = Some(holder.clone());
    cp.lease_until = now + LEASE_SECS;
    cp = deps.store.save_checkpoint(&cp).await?;

    let lease = Held {
        holder: &holder,
        dead: dead.as_deref(),
    };
    let result = migrate_leased(
        deps,
        job,
        &mut cp,
        &lease,
        deadline,
        counters,
        provision_only,
    )
    .await;
    match result {
        Ok(finished) => {
            cp.lease_holder = None;
            cp.lease_until = 0;
            let cp = deps.store.save_checkpoint(&cp).await?;
            Ok(OrgResult {
                checkpoint: cp,
                finished,
            })
        }
        Err(e) => {
            cp.phase = OrgPhase::Failed;
            cp.error = Some(format!("{} ({})", e, e.code()));
            cp.lease_holder = None;
            cp.lease_until = 0;
            if let Err(save) = deps.store.save_checkpoint(&cp).await {
                tracing::warn!(error = %save, "the failure could not be recorded in the checkpoint");
            }
            Err(e)
        }
    }
}

/// The organization's lease as this attempt holds it.
struct Held<'a> {
    holder: &'a str,
    /// The provably dead run it was taken over from.
    dead: Option<&'a str>,
}

async fn migrate_leased(
    deps: &MigrationDeps<'_>,
    job: &MigrationJob,
    cp: &mut OrgCheckpoint,
    lease: &Held<'_>,
    deadline: Option<tokio::time::Instant>,
    counters: &Counters,
    provision_only: bool,
) -> Result<bool, Error> {
    let known = match (&cp.org_id, cp.phase) {
        (Some(id), OrgPhase::Provisioned) => deps.registry.organization(id).await?,
        _ => None,
    };
    let org = match known {
        Some(org) if org.sign_in.migration.is_some() && org.cognito.user_pool_id.is_some() => org,
        _ => ensure_organization(deps, job, cp, lease).await?,
    };
    if cp.phase != OrgPhase::Provisioned {
        cp.phase = OrgPhase::Provisioned;
        cp.org_id = Some(org.id.clone());
        cp.error = None;
        *cp = deps.store.save_checkpoint(cp).await?;
    }
    if provision_only {
        return Ok(false);
    }
    let pool_id = org
        .cognito
        .user_pool_id
        .clone()
        .ok_or_else(|| Error::Conflict {
            what: "organization without a pool",
            key: org.subdomain.to_string(),
        })?;
    // Batches flow from Cognito to DynamoDB: the Cognito steps of the next batches go on
    // while earlier batches' records are written and checkpointed (up to AHEAD batches wait
    // between the two), and each batch's people are read while the one before is at Cognito.
    // So a slow DynamoDB write or read never leaves the Cognito quota idle. The checkpoint
    // moves only past recorded batches, in order; a run killed meanwhile finds the prepared
    // batches' logins there (their Cognito steps are idempotent).
    let legacy_id = cp.legacy_id.clone();
    let first_cursor = cp.cursor.clone();
    let (ready_tx, ready_rx) = tokio::sync::mpsc::channel::<(PreparedBatch, String)>(AHEAD);
    let read = |cursor: Option<String>| {
        let legacy_id = &legacy_id;
        async move {
            deps.store
                .staged_people(&job.id, legacy_id, cursor.as_deref(), BATCH)
                .await
        }
    };
    // Ok(true): every batch prepared; Ok(false): stopped (the deadline, or the recording
    // stopped on an error).
    let produce = async {
        let ready = ready_tx;
        let mut batch = read(first_cursor).await?;
        loop {
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                return Ok::<_, Error>(false);
            }
            let Some(last) = batch.last().map(|p| p.username.clone()) else {
                return Ok(true);
            };
            // Never closed: a permit, or none when there are no turns.
            let turn = match deps.cognito_turns {
                Some(turns) => turns.acquire().await.ok(),
                None => None,
            };
            let (prepared, following) = tokio::join!(
                prepare_batch(deps, job, &org, &pool_id, &legacy_id, batch),
                read(Some(last.clone()))
            );
            drop(turn);
            if ready.send((prepared?, last)).await.is_err() {
                return Ok(false);
            }
            batch = following?;
        }
    };
    let record = async {
        let mut ready = ready_rx;
        loop {
            // While the next batch waits for its turn at Cognito, the lease is renewed: this
            // loop is the checkpoint's one writer.
            let (prepared, last) = match tokio::time::timeout(LEASE_RENEWAL, ready.recv()).await {
                Ok(Some(next)) => next,
                Ok(None) => break,
                Err(_) => {
                    cp.lease_until = now_epoch() + LEASE_SECS;
                    *cp = deps.store.save_checkpoint(cp).await?;
                    continue;
                }
            };
            let tally = record_batch(deps, job, &org, &legacy_id, prepared).await?;
            cp.cursor = Some(last);
            cp.people_done += tally.done;
            cp.logins_created += tally.logins;
            cp.people_failed += tally.failed;
            cp.lease_until = now_epoch() + LEASE_SECS;
            *cp = deps.store.save_checkpoint(cp).await?;
            counters
                .people_done
                .fetch_add(tally.done, Ordering::Relaxed);
            counters
                .people_failed
                .fetch_add(tally.failed, Ordering::Relaxed);
        }
        Ok::<_, Error>(())
    };
    let (produced, recorded) = tokio::join!(produce, record);
    recorded?;
    if !produced? {
        return Ok(false);
    }
    // Every person of it in the source is migrated or refused for a reason of their own
    // before its people are sent to the new pool; a count that falls short (people never
    // staged) leaves it unswitched, and the job not complete.
    let settled = cp.people_done + cp.people_failed;
    if settled != cp.people_total {
        return Err(Error::not_allowed(
            format!("switch organization {} of job {}", cp.organization.subdomain, job.id),
            format!(
                "{settled} of its {} people of the source are migrated or refused; the others were not staged. Run `tenantctl migrate resume --job {}` (it stages them again from the source)",
                cp.people_total, job.id
            ),
        ));
    }
    switch(deps, job, cp, &org).await?;
    counters.orgs_done.fetch_add(1, Ordering::Relaxed);
    Ok(true)
}

/// The organization of the checkpoint: provisioned (or finished) by the foundation, and
/// marked as migrated but not switched.
async fn ensure_organization(
    deps: &MigrationDeps<'_>,
    job: &MigrationJob,
    cp: &OrgCheckpoint,
    lease: &Held<'_>,
) -> Result<Organization, Error> {
    let request = provision_request(&cp.organization)?;
    let provisioning = Provisioning {
        registry: deps.registry,
        pools: deps.pools,
        mailer: deps.mailer,
        base_domain: deps.base_domain,
        triggers: deps.triggers,
        actor: deps.actor,
    };
    let subdomain = cp.organization.subdomain.clone();
    let log = |step: &Step| tracing::info!(job = %job.id, %subdomain, %step, "provisioning");
    let mark = OrgMigration {
        job: job.id.clone(),
        legacy_id: cp.legacy_id.clone(),
        mode: job.mode,
        switched: false,
    };
    let migration = ForMigration {
        mark,
        holder: lease.holder,
        dead_holder: lease.dead,
    };
    let provisioned = provisioning
        .provision_migrated(&request, &migration, &log)
        .await?;
    let mut org = provisioned.organization;
    match &org.sign_in.migration {
        Some(m) if m.legacy_id == cp.legacy_id => Ok(org),
        Some(m) => Err(Error::not_allowed(
            format!("migrate {} into {}", cp.legacy_id, org.subdomain),
            format!(
                "that organization was brought by job {} from legacy organization {}",
                m.job, m.legacy_id
            ),
        )),
        // Found without a migration's mark: someone else's (the plan refuses that; this is
        // the race of an organization created meanwhile with the same subdomain and name),
        // unless the job's checkpoint names it. The job's own organizations carry its mark
        // from their first write (`provision_migrated`), so an unmarked one created since
        // the job started is not proof of being the job's: it could be anyone's.
        None if !provisioned.created && cp.org_id.as_ref() != Some(&org.id) => {
            Err(Error::SubdomainTaken {
                subdomain: org.subdomain.to_string(),
            })
        }
        None => {
            org.sign_in.migration = Some(OrgMigration {
                job: job.id.clone(),
                legacy_id: cp.legacy_id.clone(),
                mode: job.mode,
                switched: false,
            });
            let audit = AuditEvent::now(
                &org.id,
                deps.actor,
                "org.migration_started",
                org.subdomain.as_str(),
                Some(format!(
                    "job {}, legacy organization {}, {} mode",
                    job.id, cp.legacy_id, job.mode
                )),
            );
            deps.registry.save_organization(&org, Some(&audit)).await
        }
    }
}

/// Switches the organization to its new pool.
async fn switch(
    deps: &MigrationDeps<'_>,
    job: &MigrationJob,
    cp: &mut OrgCheckpoint,
    org: &Organization,
) -> Result<(), Error> {
    let mut org = deps
        .registry
        .organization(&org.id)
        .await?
        .unwrap_or_else(|| org.clone());
    let switched = org.sign_in.migration.as_ref().is_some_and(|m| m.switched);
    if !switched {
        org.seats_used = seats_held(deps, &org).await?;
        // The bulk import wrote records only: their search entries and the people counters
        // are built now, before anyone else can change them.
        deps.registry.reindex_people(&org.id, true).await?;
        org.sign_in.migration = Some(OrgMigration {
            job: job.id.clone(),
            legacy_id: cp.legacy_id.clone(),
            mode: job.mode,
            switched: true,
        });
        let audit = AuditEvent::now(
            &org.id,
            deps.actor,
            "org.migration_switched",
            org.subdomain.as_str(),
            Some(format!(
                "job {}: {} people migrated, {} failed",
                job.id, cp.people_done, cp.people_failed
            )),
        );
        // Not a transaction: the other organizations' people are being written meanwhile
        // (see `save_organization_alone`).
        deps.registry.save_organization_alone(&org, &audit).await?;
    }
    cp.phase = OrgPhase::Switched;
    cp.error = None;
    Ok(())
}

#[derive(Debug, Default)]
struct BatchTally {
    done: u64,
    logins: u64,
    failed: u64,
}

/// A person whose Cognito steps are done, to record.
struct Prepared {
    record: Person,
    login_created: bool,
    /// `--send-invitations`: activate (login, welcome mail) once recorded.
    invite_now: bool,
}

/// A batch whose Cognito steps are done: the people to record, and the tally so far (the
/// people who failed).
struct PreparedBatch {
    ready: Vec<Prepared>,
    tally: BatchTally,
}

/// A batch's Cognito steps and legacy hashes (16 people at once). A transient error (AWS
/// unreachable, DynamoDB failing) is returned and the whole batch is done again; a person's
/// own error is recorded as their failure and the others go on.
async fn prepare_batch(
    deps: &MigrationDeps<'_>,
    job: &MigrationJob,
    org: &Organization,
    pool_id: &str,
    legacy_id: &str,
    batch: Vec<StagedPerson>,
) -> Result<PreparedBatch, Error> {
    let mut tally = BatchTally::default();
    let prepared: Vec<(String, Result<Prepared, Error>)> = stream::iter(batch)
        .map(|p| async move {
            let result = prepare_person(deps, job, org, pool_id, &p).await;
            (p.username, result)
        })
        .buffer_unordered(PEOPLE_IN_FLIGHT)
        .collect()
        .await;
    let mut ready = Vec::with_capacity(prepared.len());
    for (username, result) in prepared {
        match result {
            Ok(p) => ready.push(p),
            Err(e) if transient(&e) => return Err(e),
            Err(e) => {
                fail(deps, job, org, legacy_id, &username, &e).await?;
                tally.failed += 1;
            }
        }
    }
    Ok(PreparedBatch { ready, tally })
}

/// A prepared batch's records, in a few bulk writes, then (with `--send-invitations`) its
/// people's activation.
async fn record_batch(
    deps: &MigrationDeps<'_>,
    job: &MigrationJob,
    org: &Organization,
    legacy_id: &str,
    batch: PreparedBatch,
) -> Result<BatchTally, Error> {
    let PreparedBatch { ready, mut tally } = batch;
    let records: Vec<(Person, AuditEvent)> = ready
        .iter()
        .map(|p| {
            let mut audit = AuditEvent::now(
                &org.id,
                deps.actor,
                "person.migrated",
                &p.record.username,
                Some(format!(
                    "job {}, {} mode, {}",
                    job.id, job.mode, p.record.status
                )),
            );
            // Stable across repeats of the batch (the bulk import keys the event by it).
            audit.at = job.created_at;
            (p.record.clone(), audit)
        })
        .collect();
    let written = deps.registry.create_people(&records, org.seats).await;
    let mut to_invite = Vec::new();
    for (p, result) in ready.into_iter().zip(written) {
        let recorded = match result {
            Ok(()) => p.record.clone(),
            Err(e) => match deps.registry.person(&org.id, &p.record.username).await? {
                // Recorded by an earlier attempt of this job (a run killed after the write).
                Some(existing) if existing.email == p.record.email => existing,
                _ if transient(&e) => return Err(e),
                _ => {
                    fail(deps, job, org, legacy_id, &p.record.username, &e).await?;
                    tally.failed += 1;
                    continue;
                }
            },
        };
        if p.invite_now {
            to_invite.push(recorded);
        } else {
            tally.done += 1;
            tally.logins += u64::from(p.login_created);
        }
    }
    if !to_invite.is_empty() {
        let activation = Activation {
            registry: deps.registry,
            pools: deps.pools,
            mailer: deps.mailer,
            base_domain: deps.base_domain,
            actor: deps.actor,
        };
        // One at a time: each takes a seat of the same organization.
        for person in to_invite {
            let username = person.username.clone();
            let fresh = deps
                .registry
                .organization(&org.id)
                .await?
                .unwrap_or_else(|| org.clone());
            match activate_person(&activation, &fresh, person).await {
                Ok(activated) => {
                    tally.done += 1;
                    tally.logins += u64::from(activated.mail_sent);
                }
                Err(e) if transient(&e) => return Err(e),
                Err(e) => {
                    fail(deps, job, org, legacy_id, &username, &e).await?;
                    tally.failed += 1;
                }
            }
        }
    }
    Ok(tally)
}

async fn fail(
    deps: &MigrationDeps<'_>,
    job: &MigrationJob,
    org: &Organization,
    legacy_id: &str,
    username: &str,
    e: &Error,
) -> Result<(), Error> {
    tracing::warn!(job = %job.id, org = %org.subdomain, %username, code = e.code(), "person not migrated");
    let failure = PersonFailure {
        legacy_id: legacy_id.to_owned(),
        username: username.to_owned(),
        code: e.code().to_owned(),
        reason: e.to_string(),
        at: now_epoch(),
    };
    deps.store.record_failure(&job.id, &failure).await
}

/// A person's Cognito steps (invite mode: the login and its groups) and legacy hash (lazy
/// mode), each idempotent; returns the record to write.
async fn prepare_person(
    deps: &MigrationDeps<'_>,
    job: &MigrationJob,
    org: &Organization,
    pool_id: &str,
    staged: &StagedPerson,
) -> Result<Prepared, Error> {
    let email = EmailAddress::parse(&staged.email)?;
    let roles = staged
        .roles
        .iter()
        .map(|r| Role::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    let invite_now = job.mode == MigrationMode::Invite && staged.active && job.send_invitations;
    let status = match (job.mode, staged.active) {
        (_, false) => PersonStatus::Added,
        (MigrationMode::Lazy, true) => PersonStatus::Active,
        // Recorded as added, then activated by the foundation's activation (login, mail).
        (MigrationMode::Invite, true) if invite_now => PersonStatus::Added,
        (MigrationMode::Invite, true) => PersonStatus::Invited,
    };
    let mut login_created = false;
    if status == PersonStatus::Invited {
        // Created now or found (LoginOutcome::AlreadyThere): made by this job either way,
        // the second time by an attempt killed before its checkpoint (the pool is the
        // job's own), so the checkpoint's count of logins agrees with Cognito.
        deps.logins
            .create_migrated_login(
                pool_id,
                &MigratedLogin {
                    username: &staged.username,
                    email: &email,
                    given_name: staged.given_name.as_deref(),
                    family_name: staged.family_name.as_deref(),
                },
            )
            .await?;
        login_created = true;
        for role in &roles {
            deps.pools
                .add_to_group(pool_id, &staged.username, role.as_str())
                .await?;
        }
    }
    if job.mode == MigrationMode::Lazy && staged.active {
        // Before the record: a recorded, active lazy person always has their hash.
        if let Some(hash) = &staged.password_hash {
            deps.legacy
                .put_legacy_hash(&org.id, &staged.username, hash)
                .await?;
        }
    }
    let mut record = Person::new(
        org.id.clone(),
        staged.username.clone(),
        email,
        roles,
        status,
    );
    record.id = migrated_person_id(&org.id, &staged.username)?;
    record.given_name = staged.given_name.clone();
    record.family_name = staged.family_name.clone();
    Ok(Prepared {
        record,
        login_created,
        invite_now,
    })
}

/// A migrated person's id, the same in every attempt (a repeated batch finds its own claims).
fn migrated_person_id(org: &OrgId, username: &str) -> Result<PersonId, Error> {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{org}\n{username}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    PersonId::parse(&format!("per-{hex}"))
}

/// Sets the organization's seat count from its records (the bulk import does not count them
/// one by one); before the switch, while nobody else changes its people.
async fn count_seats(deps: &MigrationDeps<'_>, org: &Organization) -> Result<Organization, Error> {
    let used = seats_held(deps, org).await?;
    if org.seats_used == used {
        return Ok(org.clone());
    }
    let mut counted = org.clone();
    counted.seats_used = used;
    deps.registry.save_organization(&counted, None).await
}

/// How many of the organization's people hold a seat, from their records.
async fn seats_held(deps: &MigrationDeps<'_>, org: &Organization) -> Result<u32, Error> {
    let mut used = 0u32;
    let mut cursor: Option<String> = None;
    loop {
        let page = deps
            .registry
            .people(
                &org.id,
                &|p: &Person| p.status.holds_seat(),
                cursor.as_deref(),
                1000,
            )
            .await?;
        used += page.items.len() as u32;
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(used)
}

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolledBack {
    pub checkpoint: OrgCheckpoint,
    pub logins_disabled: u64,
    pub people_deactivated: u64,
}

/// Sends one organization of the job back to legacy sign-in: `switched` false (the router
/// shows that sign-in is not here yet; the user-migration trigger refuses its people), every
/// login it holds disabled and signed out, its people deactivated (seats freed). Nothing is
/// deleted: the pool, the records and the legacy hashes stay, for a later attempt. Safe to
/// repeat.
pub async fn rollback_organization(
    deps: &MigrationDeps<'_>,
    job: &MigrationJob,
    subdomain_or_id: &str,
) -> Result<RolledBack, Error> {
    let checkpoints = deps.store.checkpoints(&job.id).await?;
    let mut cp = checkpoints
        .into_iter()
        .find(|c| c.organization.subdomain == subdomain_or_id || c.legacy_id == subdomain_or_id)
        .ok_or_else(|| Error::NotFound {
            what: "organization in the job",
            key: subdomain_or_id.to_owned(),
        })?;
    let Some(org_id) = cp.org_id.clone() else {
        return Err(Error::not_allowed(
            format!("roll back {subdomain_or_id}"),
            format!(
                "nothing was created for it in job {} ({})",
                job.id, cp.phase
            ),
        ));
    };
    let mut org = deps
        .registry
        .organization(&org_id)
        .await?
        .ok_or_else(|| Error::NotFound {
            what: "organization",
            key: org_id.to_string(),
        })?;
    if let Some(m) = org.sign_in.migration.as_mut() {
        if m.switched {
            m.switched = false;
            let audit = AuditEvent::now(
                &org.id,
                deps.actor,
                "org.migration_rolled_back",
                org.subdomain.as_str(),
                Some(format!("job {}: back to legacy sign-in", job.id)),
            );
            org = deps.registry.save_organization(&org, Some(&audit)).await?;
        }
    }
    let (mut disabled, mut deactivated) = (0u64, 0u64);
    let pool_id = org.cognito.user_pool_id.clone();
    let mut cursor: Option<String> = None;
    loop {
        let page = deps
            .registry
            .people(
                &org.id,
                &|p: &Person| p.status.holds_seat(),
                cursor.as_deref(),
                100,
            )
            .await?;
        if let Some(pool) = &pool_id {
            let disabling: Vec<Result<(), Error>> = stream::iter(page.items.iter())
                .map(|p| deps.pools.disable_login(pool, &p.username))
                .buffer_unordered(PEOPLE_IN_FLIGHT)
                .collect()
                .await;
            for d in disabling {
                d?;
                disabled += 1;
            }
        }
        let changes: Vec<(Person, Person, AuditEvent)> = page
            .items
            .iter()
            .map(|person| {
                let mut off = person.clone();
                off.status = PersonStatus::Deactivated;
                let audit = AuditEvent::now(
                    &org.id,
                    deps.actor,
                    "person.deactivated",
                    &person.username,
                    Some(format!("rollback of job {}", job.id)),
                );
                (person.clone(), off, audit)
            })
            .collect();
        for saved in deps.registry.save_people(&changes).await {
            saved?;
            deactivated += 1;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let fresh = deps.registry.organization(&org.id).await?.unwrap_or(org);
    deps.registry.reindex_people(&fresh.id, true).await?;
    count_seats(deps, &fresh).await?;
    cp.phase = OrgPhase::RolledBack;
    cp.error = None;
    let cp = deps.store.save_checkpoint(&cp).await?;
    Ok(RolledBack {
        checkpoint: cp,
        logins_disabled: disabled,
        people_deactivated: deactivated,
    })
}

/// Time the Lambda worker keeps for its answer and the last checkpoint.
pub const WORKER_MARGIN: Duration = Duration::from_secs(60);
