//! Linked identities (federated sign-ins): `ORG#<id>` / `IDENTITY#<provider>#<subject>`, a
//! claim that points to the person it is linked to.

use aws_sdk_dynamodb::types::Put;

use super::{
    failed, in_transaction, key, n, org_pk, s, to_item, DynamoRegistry, PersonItem, TransactFailure,
};
use crate::domain::ports::AuditEvent;
use crate::domain::{now_epoch, Error, LinkedIdentity, OrgId, Person};

/// A linked identity's claim: provider names compare without case, as Cognito's do.
fn identity_sk(provider: &str, subject: &str) -> String {
    format!("IDENTITY#{}#{subject}", provider.to_ascii_lowercase())
}

impl DynamoRegistry {
    pub(super) async fn person_by_identity(
        &self,
        org: &OrgId,
        provider: &str,
        subject: &str,
    ) -> Result<Option<Person>, Error> {
        self.person_by_claim(org, &identity_sk(provider, subject))
            .await
    }

    pub(super) async fn link_identity(
        &self,
        person: &Person,
        identity: &LinkedIdentity,
        audit: &AuditEvent,
    ) -> Result<Person, Error> {
        let mut next = person.clone();
        next.identities.push(identity.clone());
        next.version = person.version + 1;
        next.updated_at = now_epoch();
        let pk = org_pk(&person.org_id);
        let item = to_item(&PersonItem {
            pk: pk.clone(),
            sk: format!("PERSON#{}", person.username),
            person: next.clone(),
        })?;
        let person_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(person.version))
            .build()
            .map_err(|e| self.build_error(e))?;
        let mut claim = key(pk, &identity_sk(&identity.provider, &identity.subject));
        claim.insert("username".into(), s(&person.username));
        let claim_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(claim))
            .condition_expression("attribute_not_exists(pk) OR username = :u")
            .expression_attribute_values(":u", s(&person.username))
            .build()
            .map_err(|e| self.build_error(e))?;
        let mut items = vec![
            in_transaction(person_put),
            in_transaction(claim_put),
            self.audit_put(audit)?,
        ];
        items.extend(self.index_writes(Some(person), &next)?);
        match self.transact(items).await {
            Ok(()) => Ok(next),
            Err(TransactFailure::Cancelled(codes)) if failed(&codes, 1) => Err(Error::not_allowed(
                format!(
                    "link a {} sign-in to {}",
                    identity.provider, person.username
                ),
                "that sign-in is already linked to another person of this organization",
            )),
            Err(TransactFailure::Cancelled(_)) => Err(Error::Conflict {
                what: "person",
                key: person.username.clone(),
            }),
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }
}
