//! Legacy password hashes in the memory registry.

use async_trait::async_trait;

use super::MemoryRegistry;
use crate::domain::{Error, OrgId};

#[async_trait]
impl crate::domain::ports::LegacyPasswords for MemoryRegistry {
    async fn put_legacy_hash(
        &self,
        org: &OrgId,
        username: &str,
        hash: &crate::domain::migration::LegacyHash,
    ) -> Result<(), Error> {
        self.call("put_legacy_hash");
        self.lock()
            .legacy
            .insert((org.to_string(), username.to_owned()), hash.clone());
        Ok(())
    }

    async fn sample_legacy_hash(
        &self,
        org: &OrgId,
    ) -> Result<Option<crate::domain::migration::LegacyHash>, Error> {
        self.call("sample_legacy_hash");
        Ok(self
            .lock()
            .legacy
            .iter()
            .find(|((o, _), _)| o == org.as_str())
            .map(|(_, hash)| hash.clone()))
    }

    async fn legacy_hash(
        &self,
        org: &OrgId,
        username: &str,
    ) -> Result<Option<crate::domain::migration::LegacyHash>, Error> {
        self.call("legacy_hash");
        Ok(self
            .lock()
            .legacy
            .get(&(org.to_string(), username.to_owned()))
            .cloned())
    }

    async fn delete_legacy_hash(&self, org: &OrgId, username: &str) -> Result<(), Error> {
        self.call("delete_legacy_hash");
        self.lock()
            .legacy
            .remove(&(org.to_string(), username.to_owned()));
        Ok(())
    }
}
