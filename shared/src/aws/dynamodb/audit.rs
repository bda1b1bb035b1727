//! Audit events of an organization: `ORG#<id>` / `AUDIT#<time>#<uuid>`, newest first, removed
//! by TTL after [`AUDIT_RETENTION_SECS`](super::AUDIT_RETENTION_SECS).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::{
    from_item, in_transaction, key, org_pk, s, to_item, AuditItem, DynamoRegistry,
    AUDIT_RETENTION_SECS,
};
use crate::domain::ports::{AuditEvent, Page};
use crate::domain::{Error, OrgId};

impl DynamoRegistry {
    /// An audit event's item.
    pub(super) fn audit_item(event: &AuditEvent) -> Result<HashMap<String, AttributeValue>, Error> {
        to_item(&AuditItem {
            pk: org_pk(&event.org_id),
            sk: format!("AUDIT#{:012}#{}", event.at, uuid::Uuid::now_v7().simple()),
            expires_at: event.at + AUDIT_RETENTION_SECS,
            event: event.clone(),
        })
    }

    /// The put of an audit event, for the transaction of the change it records.
    pub(super) fn audit_put(&self, event: &AuditEvent) -> Result<TransactWriteItem, Error> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::audit_item(event)?))
            .build()
            .map_err(|e| self.build_error(e))?;
        Ok(in_transaction(put))
    }

    pub(super) async fn audit_page(
        &self,
        org: &OrgId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<AuditEvent>, Error> {
        let pk = org_pk(org);
        let start = match cursor {
            Some(sk) if sk.starts_with("AUDIT#") => Some(key(pk.clone(), sk)),
            Some(_) => {
                return Err(Error::InvalidInput {
                    what: "cursor",
                    value: String::new(),
                    rule: "it must be the `next` of an earlier page",
                })
            }
            None => None,
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :audit)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":audit", s("AUDIT#"))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| self.endpoint.error("Query", e))?;
        let next = out
            .last_evaluated_key
            .as_ref()
            .and_then(|k| k.get("sk"))
            .and_then(|v| v.as_s().ok())
            .cloned();
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<AuditItem>(item).map(|i| i.event))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next })
    }

    pub(super) async fn audit_log(
        &self,
        org: &OrgId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, Error> {
        let limit = limit.clamp(1, 1000);
        let items = self
            .query_all(
                || {
                    self.client
                        .query()
                        .table_name(&self.table)
                        .key_condition_expression("pk = :pk AND begins_with(sk, :audit)")
                        .expression_attribute_values(":pk", s(org_pk(org)))
                        .expression_attribute_values(":audit", s("AUDIT#"))
                        .scan_index_forward(false)
                        .limit(limit as i32)
                },
                Some(limit as usize),
            )
            .await?;
        items
            .into_iter()
            .map(|item| from_item::<AuditItem>(item).map(|i| i.event))
            .collect()
    }
}
