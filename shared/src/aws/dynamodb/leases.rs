//! Leases (a migration run's hold on an organization): `ORG#<id>` / `LEASE#<name>`, taken with a
//! conditional put, expired by `expires_at`.

use super::{key, n, org_pk, s, DynamoRegistry, TTL_ATTRIBUTE};
use crate::domain::{now_epoch, Error, OrgId};

impl DynamoRegistry {
    pub(super) async fn acquire_lease(
        &self,
        org: &OrgId,
        name: &str,
        holder: &str,
        ttl_secs: i64,
    ) -> Result<bool, Error> {
        let now = now_epoch();
        let mut item = key(org_pk(org), &format!("LEASE#{name}"));
        item.insert("holder".into(), s(holder));
        item.insert(TTL_ATTRIBUTE.into(), n(now + ttl_secs));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now OR holder = :me")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":me", s(holder))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.endpoint.error("PutItem", e)),
        }
    }

    pub(super) async fn release_lease(
        &self,
        org: &OrgId,
        name: &str,
        holder: &str,
    ) -> Result<(), Error> {
        // Expired and taken by another run meanwhile: theirs now.
        self.delete_if_held(org, &format!("LEASE#{name}"), holder)
            .await
    }
}
