//! SCIM directory groups: `ORG#<id>` / `GROUP#<group id>`, one item each (their members are
//! on the people: `domain::scim::groups`).

use aws_sdk_dynamodb::types::{Delete, Put};
use serde::{Deserialize, Serialize};

use super::{
    from_item, in_transaction, key, n, org_pk, s, to_item, DynamoRegistry, TransactFailure,
};
use crate::domain::ports::AuditEvent;
use crate::domain::scim::groups::DirectoryGroup;
use crate::domain::{now_epoch, Error, OrgId};

#[derive(Serialize, Deserialize)]
struct GroupItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    group: DirectoryGroup,
}

fn group_sk(id: &str) -> String {
    format!("GROUP#{id}")
}

impl DynamoRegistry {
    pub(super) async fn directory_group(
        &self,
        org: &OrgId,
        id: &str,
    ) -> Result<Option<DirectoryGroup>, Error> {
        Ok(self
            .get::<GroupItem>(org_pk(org), &group_sk(id))
            .await?
            .map(|i| i.group))
    }

    pub(super) async fn directory_groups(&self, org: &OrgId) -> Result<Vec<DirectoryGroup>, Error> {
        let items = self
            .query_all(
                || {
                    self.client
                        .query()
                        .table_name(&self.table)
                        .key_condition_expression("pk = :pk AND begins_with(sk, :group)")
                        .expression_attribute_values(":pk", s(org_pk(org)))
                        .expression_attribute_values(":group", s("GROUP#"))
                },
                None,
            )
            .await?;
        items
            .into_iter()
            .map(|item| from_item::<GroupItem>(item).map(|i| i.group))
            .collect()
    }

    pub(super) async fn save_directory_group(
        &self,
        before: Option<&DirectoryGroup>,
        after: &DirectoryGroup,
        audit: &AuditEvent,
    ) -> Result<DirectoryGroup, Error> {
        let mut next = after.clone();
        next.version = before.map_or(1, |b| b.version + 1);
        next.updated_at = now_epoch();
        let item = to_item(&GroupItem {
            pk: org_pk(&next.org_id),
            sk: group_sk(&next.id),
            group: next.clone(),
        })?;
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = match before {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(b) => put
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(b.version)),
        }
        .build()
        .map_err(|e| self.build_error(e))?;
        match self
            .transact(vec![in_transaction(put), self.audit_put(audit)?])
            .await
        {
            Ok(()) => Ok(next),
            Err(TransactFailure::Cancelled(_)) => Err(Error::Conflict {
                what: "group",
                key: after.id.clone(),
            }),
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }

    pub(super) async fn delete_directory_group(
        &self,
        group: &DirectoryGroup,
        audit: &AuditEvent,
    ) -> Result<(), Error> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(&group.org_id), &group_sk(&group.id))))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(group.version))
            .build()
            .map_err(|e| self.build_error(e))?;
        let delete = aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .delete(delete)
            .build();
        match self.transact(vec![delete, self.audit_put(audit)?]).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Cancelled(_)) => Err(Error::Conflict {
                what: "group",
                key: group.id.clone(),
            }),
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }
}
