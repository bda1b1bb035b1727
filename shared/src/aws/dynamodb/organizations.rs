//! Organizations and their claims (subdomain, user pool, e-mail domains): `ORG#<id>` / `ORG`
//! and `SUBDOMAIN#`/`POOL#`/`EMAILDOMAIN#<value>` / `CLAIM`, written in one transaction so that
//! a claim never belongs to two organizations.

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

use super::{
    failed, from_item, in_transaction, key, n, org_pk, s, to_item, DynamoRegistry, TransactFailure,
    GSI1,
};
use crate::domain::ports::AuditEvent;
use crate::domain::{now_epoch, EmailDomain, Error, OrgId, Organization, Subdomain};

#[derive(Serialize, Deserialize)]
struct OrgItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(flatten)]
    org: Organization,
}
const ORG_SK: &str = "ORG";
const CLAIM_SK: &str = "CLAIM";

impl DynamoRegistry {
    /// The organization a claim item points to.
    pub(super) async fn claimed(&self, claim_pk: String) -> Result<Option<Organization>, Error> {
        #[derive(Deserialize)]
        struct Claim {
            org_id: OrgId,
        }
        match self.get::<Claim>(claim_pk, CLAIM_SK).await? {
            Some(claim) => self.organization(&claim.org_id).await,
            None => Ok(None),
        }
    }

    pub(super) fn claim_put(&self, pk: String, org: &OrgId) -> Result<TransactWriteItem, Error> {
        let mut item = key(pk, CLAIM_SK);
        item.insert("org_id".into(), s(org.as_str()));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR org_id = :org")
            .expression_attribute_values(":org", s(org.as_str()))
            .build()
            .map_err(|e| self.build_error(e))?;
        Ok(in_transaction(put))
    }

    /// The put of the organization's next version, on the condition that the stored one is
    /// `expected_version` (or that none is stored, for `None`).
    pub(super) fn org_put(
        &self,
        org: &Organization,
        expected_version: Option<u64>,
    ) -> Result<(Put, Organization), Error> {
        let mut next = org.clone();
        next.version = expected_version.map_or(1, |v| v + 1);
        next.updated_at = now_epoch();
        let item = to_item(&OrgItem {
            pk: org_pk(&org.id),
            sk: ORG_SK.into(),
            gsi1pk: "ORGS".into(),
            gsi1sk: org.subdomain.to_string(),
            org: next.clone(),
        })?;
        let builder = Put::builder().table_name(&self.table).set_item(Some(item));
        let builder = match expected_version {
            None => builder.condition_expression("attribute_not_exists(pk)"),
            Some(v) => builder
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v)),
        };
        Ok((builder.build().map_err(|e| self.build_error(e))?, next))
    }

    /// The update that takes (`+1`) or frees (`-1`) one of the organization's seats.
    pub(super) fn seat_update(&self, org: &OrgId, take: bool) -> Result<TransactWriteItem, Error> {
        self.org_update(org, Some(take), None)
    }

    /// The one update of the organization's record in a person's transaction (a transaction
    /// may touch an item once): the seat taken (`Some(true)`) or freed (`Some(false)`), and
    /// on the condition that the record is still at `version` (`guard`); either moves the
    /// record's version on.
    pub(super) fn org_update(
        &self,
        org: &OrgId,
        seat: Option<bool>,
        guard: Option<u64>,
    ) -> Result<TransactWriteItem, Error> {
        let (set, mut conditions) = match seat {
            Some(true) => (
                "seats_used = seats_used + :one, ",
                vec!["(attribute_not_exists(seats) OR seats_used < seats)"],
            ),
            Some(false) => (
                "seats_used = seats_used - :one, ",
                vec!["seats_used >= :one"],
            ),
            None => ("", Vec::new()),
        };
        if guard.is_some() {
            conditions.push("version = :seen");
        }
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(org), ORG_SK)))
            .update_expression(format!("SET {set}version = version + :one"))
            .condition_expression(if conditions.is_empty() {
                "attribute_exists(pk)".to_owned()
            } else {
                conditions.join(" AND ")
            })
            .expression_attribute_values(":one", n(1));
        if let Some(seen) = guard {
            update = update.expression_attribute_values(":seen", n(seen));
        }
        let update = update.build().map_err(|e| self.build_error(e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
    pub(super) async fn create_organization(
        &self,
        org: &Organization,
        audit: &AuditEvent,
    ) -> Result<(), Error> {
        let (org_put, _) = self.org_put(org, None)?;
        let mut items = vec![
            in_transaction(org_put),
            self.claim_put(format!("SUBDOMAIN#{}", org.subdomain), &org.id)?,
        ];
        for domain in &org.email_domains {
            items.push(self.claim_put(format!("EMAILDOMAIN#{domain}"), &org.id)?);
        }
        items.push(self.audit_put(audit)?);
        // Its people counters, complete at zero (docs/design.md, "Admin API at scale").
        items.push(self.counters_start(&org.id)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Cancelled(codes)) => {
                if failed(&codes, 1) {
                    return Err(Error::SubdomainTaken {
                        subdomain: org.subdomain.to_string(),
                    });
                }
                if let Some(domain) = org
                    .email_domains
                    .iter()
                    .enumerate()
                    .find(|(i, _)| failed(&codes, i + 2))
                {
                    return Err(Error::EmailDomainTaken {
                        domain: domain.1.to_string(),
                    });
                }
                Err(Error::Conflict {
                    what: "organization",
                    key: org.id.to_string(),
                })
            }
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }

    pub(super) async fn attach_pool(
        &self,
        org: &Organization,
        pool_id: &str,
    ) -> Result<Organization, Error> {
        let mut with_pool = org.clone();
        with_pool.cognito.user_pool_id = Some(pool_id.to_owned());
        let (org_put, next) = self.org_put(&with_pool, Some(org.version))?;
        let claim = self.claim_put(format!("POOL#{pool_id}"), &org.id)?;
        match self.transact(vec![in_transaction(org_put), claim]).await {
            Ok(()) => Ok(next),
            Err(TransactFailure::Cancelled(codes)) if failed(&codes, 1) => Err(Error::PoolTaken {
                pool_id: pool_id.to_owned(),
            }),
            Err(TransactFailure::Cancelled(_)) => {
                // Someone saved the organization meanwhile: fine if they recorded this pool.
                match self.organization(&org.id).await? {
                    Some(stored) if stored.cognito.user_pool_id.as_deref() == Some(pool_id) => {
                        Ok(stored)
                    }
                    _ => Err(Error::Conflict {
                        what: "organization",
                        key: org.id.to_string(),
                    }),
                }
            }
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }

    pub(super) async fn save_organization(
        &self,
        org: &Organization,
        audit: Option<&AuditEvent>,
    ) -> Result<Organization, Error> {
        let (put, next) = self.org_put(org, Some(org.version))?;
        let mut items = vec![in_transaction(put)];
        if let Some(event) = audit {
            items.push(self.audit_put(event)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(next),
            Err(TransactFailure::Cancelled(_)) => Err(Error::Conflict {
                what: "organization",
                key: org.subdomain.to_string(),
            }),
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }

    pub(super) async fn save_organization_alone(
        &self,
        org: &Organization,
        audit: &AuditEvent,
    ) -> Result<Organization, Error> {
        // Plain puts: moto rolls a failed transaction back by restoring a copy of the whole
        // table taken before it, which also undoes other writers' puts made meanwhile.
        let (put, next) = self.org_put(org, Some(org.version))?;
        let saved = self
            .put_plain(
                put.item().clone(),
                Some(("version = :v", Some((":v", n(org.version))))),
            )
            .await?;
        if !saved {
            return Err(Error::Conflict {
                what: "organization",
                key: org.subdomain.to_string(),
            });
        }
        self.put_plain(Self::audit_item(audit)?, None).await?;
        Ok(next)
    }

    pub(super) async fn save_organization_domains(
        &self,
        before: &Organization,
        org: &Organization,
        audit: &AuditEvent,
    ) -> Result<Organization, Error> {
        let (put, next) = self.org_put(org, Some(before.version))?;
        let added: Vec<&EmailDomain> = org
            .email_domains
            .iter()
            .filter(|d| !before.email_domains.contains(d))
            .collect();
        let mut items = vec![in_transaction(put)];
        for domain in &added {
            items.push(self.claim_put(format!("EMAILDOMAIN#{domain}"), &org.id)?);
        }
        for domain in before
            .email_domains
            .iter()
            .filter(|d| !org.email_domains.contains(d))
        {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(format!("EMAILDOMAIN#{domain}"), CLAIM_SK)))
                .condition_expression("org_id = :org")
                .expression_attribute_values(":org", s(org.id.as_str()))
                .build()
                .map_err(|e| self.build_error(e))?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        items.push(self.audit_put(audit)?);
        match self.transact(items).await {
            Ok(()) => Ok(next),
            Err(TransactFailure::Cancelled(codes)) => {
                if let Some((_, domain)) = added
                    .iter()
                    .enumerate()
                    .find(|(i, _)| failed(&codes, i + 1))
                {
                    return Err(Error::EmailDomainTaken {
                        domain: domain.to_string(),
                    });
                }
                Err(Error::Conflict {
                    what: "organization",
                    key: org.subdomain.to_string(),
                })
            }
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }

    pub(super) async fn organization(&self, id: &OrgId) -> Result<Option<Organization>, Error> {
        Ok(self
            .get::<OrgItem>(org_pk(id), ORG_SK)
            .await?
            .map(|item| item.org))
    }

    pub(super) async fn organization_by_subdomain(
        &self,
        sub: &Subdomain,
    ) -> Result<Option<Organization>, Error> {
        self.claimed(format!("SUBDOMAIN#{sub}")).await
    }

    pub(super) async fn organization_by_pool(
        &self,
        pool_id: &str,
    ) -> Result<Option<Organization>, Error> {
        self.claimed(format!("POOL#{pool_id}")).await
    }

    pub(super) async fn organization_by_email_domain(
        &self,
        domain: &EmailDomain,
    ) -> Result<Option<Organization>, Error> {
        self.claimed(format!("EMAILDOMAIN#{domain}")).await
    }

    pub(super) async fn list_organizations(&self) -> Result<Vec<Organization>, Error> {
        let items = self
            .query_all(
                || {
                    self.client
                        .query()
                        .table_name(&self.table)
                        .index_name(GSI1)
                        .key_condition_expression("gsi1pk = :orgs")
                        .expression_attribute_values(":orgs", s("ORGS"))
                },
                None,
            )
            .await?;
        items
            .into_iter()
            .map(|item| from_item::<OrgItem>(item).map(|i| i.org))
            .collect()
    }
}
