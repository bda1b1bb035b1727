//! Legacy password hashes of people migrated in lazy mode.

use async_trait::async_trait;

use crate::domain::{Error, OrgId};

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
