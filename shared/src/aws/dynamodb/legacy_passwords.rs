//! Legacy password hashes of people migrated in lazy mode: `ORG#<id>` / `LEGACY#<username>`.

use async_trait::async_trait;
use serde::Deserialize;

use super::{from_item, key, org_pk, s, DynamoRegistry};
use crate::domain::{Error, OrgId};

/// A lazy-migration hash: `ORG#<id>` / `LEGACY#<username>`, attribute `hash`.
fn legacy_sk(username: &str) -> String {
    format!("LEGACY#{username}")
}

#[async_trait]
impl crate::domain::ports::LegacyPasswords for DynamoRegistry {
    async fn put_legacy_hash(
        &self,
        org: &OrgId,
        username: &str,
        hash: &crate::domain::migration::LegacyHash,
    ) -> Result<(), Error> {
        let mut item = key(org_pk(org), &legacy_sk(username));
        item.insert("hash".to_owned(), s(hash.expose()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| self.endpoint.error("PutItem", e))?;
        Ok(())
    }

    async fn sample_legacy_hash(
        &self,
        org: &OrgId,
    ) -> Result<Option<crate::domain::migration::LegacyHash>, Error> {
        #[derive(Deserialize)]
        struct LegacyItem {
            hash: crate::domain::migration::LegacyHash,
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :legacy)")
            .expression_attribute_values(":pk", s(org_pk(org)))
            .expression_attribute_values(":legacy", s("LEGACY#"))
            .limit(1)
            .send()
            .await
            .map_err(|e| self.endpoint.error("Query", e))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(|item| from_item::<LegacyItem>(item).map(|i| i.hash))
            .transpose()
    }

    async fn legacy_hash(
        &self,
        org: &OrgId,
        username: &str,
    ) -> Result<Option<crate::domain::migration::LegacyHash>, Error> {
        #[derive(Deserialize)]
        struct LegacyItem {
            hash: crate::domain::migration::LegacyHash,
        }
        Ok(self
            .get::<LegacyItem>(org_pk(org), &legacy_sk(username))
            .await?
            .map(|item| item.hash))
    }

    async fn delete_legacy_hash(&self, org: &OrgId, username: &str) -> Result<(), Error> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(org), &legacy_sk(username))))
            .send()
            .await
            .map_err(|e| self.endpoint.error("DeleteItem", e))?;
        Ok(())
    }
}
