//! What an organization's directory (SCIM) keeps about its people: `ORG#<id>` /
//! `EXTERNAL#<external id>`, a claim that points to the person the directory knows by that id
//! (one person each), written with the person's record.

use aws_sdk_dynamodb::types::{Delete, Put};

use super::{failed, in_transaction, key, org_pk, s, DynamoRegistry, TransactFailure};
use crate::domain::ports::{external_id_taken, AuditEvent};
use crate::domain::{Error, OrgId, Person};

fn external_sk(external_id: &str) -> String {
    format!("EXTERNAL#{external_id}")
}

fn external_of(person: &Person) -> Option<&str> {
    person.directory.as_ref()?.external_id.as_deref()
}

impl DynamoRegistry {
    pub(super) async fn person_by_external_id(
        &self,
        org: &OrgId,
        external_id: &str,
    ) -> Result<Option<Person>, Error> {
        self.person_by_claim(org, &external_sk(external_id)).await
    }

    pub(super) async fn save_directory(
        &self,
        before: &Person,
        after: &Person,
        audit: &AuditEvent,
    ) -> Result<Person, Error> {
        if before.status != after.status || before.username != after.username {
            return Err(Error::not_allowed(
                format!("record the directory's data of {}", before.username),
                "only the directory's record changes here",
            ));
        }
        let (put, next) = self.person_put(before, after)?;
        let pk = org_pk(&before.org_id);
        let mut items = vec![in_transaction(put)];
        let claim_at = items.len();
        if let Some(external) = external_of(after) {
            let mut claim = key(pk.clone(), &external_sk(external));
            claim.insert("username".into(), s(&after.username));
            let claim_put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(claim))
                .condition_expression("attribute_not_exists(pk) OR username = :u")
                .expression_attribute_values(":u", s(&after.username))
                .build()
                .map_err(|e| self.build_error(e))?;
            items.push(in_transaction(claim_put));
        }
        if let Some(old) = external_of(before).filter(|old| Some(*old) != external_of(after)) {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(pk.clone(), &external_sk(old))))
                .condition_expression("username = :u")
                .expression_attribute_values(":u", s(&before.username))
                .build()
                .map_err(|e| self.build_error(e))?;
            items.push(
                aws_sdk_dynamodb::types::TransactWriteItem::builder()
                    .delete(delete)
                    .build(),
            );
        }
        items.push(self.audit_put(audit)?);
        items.extend(self.index_writes(Some(before), &next)?);
        match self.transact(items).await {
            Ok(()) => Ok(next),
            Err(TransactFailure::Cancelled(codes))
                if external_of(after).is_some() && failed(&codes, claim_at) =>
            {
                Err(external_id_taken(&after.username))
            }
            Err(TransactFailure::Cancelled(_)) => Err(Error::Conflict {
                what: "person",
                key: before.username.clone(),
            }),
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }
}
