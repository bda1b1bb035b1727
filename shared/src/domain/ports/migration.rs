//! Bulk migration: the Cognito calls of invite mode, leases' holders, jobs and checkpoints.

use async_trait::async_trait;

use super::Page;
use crate::domain::{EmailAddress, Error};

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
