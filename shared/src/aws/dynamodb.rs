//! The registry in one DynamoDB table.
//!
//! | item                    | pk                      | sk                     | gsi1pk / gsi1sk     |
//! |-------------------------|-------------------------|------------------------|---------------------|
//! | organization            | `ORG#<id>`              | `ORG`                  | `ORGS` / subdomain  |
//! | subdomain claim         | `SUBDOMAIN#<sub>`       | `CLAIM`                |                     |
//! | user pool claim         | `POOL#<pool id>`        | `CLAIM`                |                     |
//! | e-mail domain claim     | `EMAILDOMAIN#<domain>`  | `CLAIM`                |                     |
//! | person                  | `ORG#<id>`              | `PERSON#<username>`    |                     |
//! | person e-mail claim     | `ORG#<id>`              | `EMAIL#<address>`      |                     |
//! | sign-in name claim      | `ORG#<id>`              | `NAME#<name>`          |                     |
//! | person id claim         | `ORG#<id>`              | `PERSONID#<person id>` |                     |
//! | idempotency record (TTL)| `ORG#<id>`              | `IDEMPOTENCY#<key>`    |                     |
//! | stored answer's part (TTL) | `ORG#<id>`           | `IDEMPOTENCYPART#<holder>#<n>` |             |
//! | attempt counter (TTL)   | `RATE#<scope>`          | `WINDOW#<start>`       |                     |
//! | lease (TTL)             | `ORG#<id>`              | `LEASE#<name>`         |                     |
//! | linked identity claim   | `ORG#<id>`              | `IDENTITY#<provider>#<subject>` |            |
//! | audit event             | `ORG#<id>`              | `AUDIT#<time>#<uuid>`  |                     |
//! | legacy password hash    | `ORG#<id>`              | `LEGACY#<username>`    |                     |
//! | migration job           | `JOB#<job>`             | `JOB`                  |                     |
//! | job's organization checkpoint | `JOB#<job>`       | `ORG#<legacy id>`      |                     |
//! | record skipped by a job | `JOB#<job>`             | `SKIP#<ordinal, 12 digits>` |                |
//! | person a job failed     | `JOB#<job>`             | `FAIL#<legacy id>#<username>` |              |
//! | staged person (TTL)     | `JOB#<job>#ORG#<legacy id>` | `PERSON#<username>` |                    |
//!
//! Claims make subdomains, pools and e-mail domains unique: they are written in the same
//! transaction as the record that owns them, each on the condition that it does not exist.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, PointInTimeRecoverySpecification, Projection, ProjectionType, Put,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::Endpoint;
use crate::domain::migration_job::{
    MigrationJob, OrgCheckpoint, PersonFailure, SkippedRecord, StagedPerson,
};
use crate::domain::{
    now_epoch, EmailAddress, EmailDomain, Error, LinkedIdentity, OrgId, Organization, Person,
    PersonId, Subdomain,
};
use crate::ports::{AuditEvent, IdempotentClaim, KeyClaim, Page, Registry, StoredAnswer};

mod attempts;
mod idempotency;

const GSI1: &str = "gsi1";
const TTL_ATTRIBUTE: &str = "expires_at";
/// How long audit events are kept before DynamoDB's TTL removes them.
const AUDIT_RETENTION_SECS: i64 = 400 * 24 * 3600;

pub struct DynamoRegistry {
    client: Client,
    table: String,
    endpoint: Endpoint,
}

#[derive(Serialize, Deserialize)]
struct OrgItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(flatten)]
    org: Organization,
}

#[derive(Serialize, Deserialize)]
struct PersonItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    person: Person,
}

#[derive(Serialize, Deserialize)]
struct AuditItem {
    pk: String,
    sk: String,
    expires_at: i64,
    #[serde(flatten)]
    event: AuditEvent,
}

fn org_pk(id: &OrgId) -> String {
    format!("ORG#{id}")
}

/// A linked identity's claim: provider names compare without case, as Cognito's do.
fn identity_sk(provider: &str, subject: &str) -> String {
    format!("IDENTITY#{}#{subject}", provider.to_ascii_lowercase())
}
/// A sign-in name claim (a person's `preferred_username`).
fn name_sk(name: &str) -> String {
    format!("NAME#{name}")
}
const ORG_SK: &str = "ORG";
const CLAIM_SK: &str = "CLAIM";

fn key(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn to_item<T: Serialize>(value: &T) -> Result<HashMap<String, AttributeValue>, Error> {
    serde_dynamo::to_item(value).map_err(|e| Error::Aws {
        service: "DynamoDB",
        operation: "encode item",
        detail: e.to_string(),
    })
}

fn from_item<T: DeserializeOwned>(item: HashMap<String, AttributeValue>) -> Result<T, Error> {
    serde_dynamo::from_item(item).map_err(|e| Error::Aws {
        service: "DynamoDB",
        operation: "decode item",
        detail: format!("a stored record does not have the expected shape: {e}"),
    })
}

/// Why each item of a cancelled transaction failed ("ConditionalCheckFailed", "None", ...).
fn cancellation_codes(
    err: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
) -> Option<Vec<String>> {
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(e) => Some(
            e.cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_owned())
                .collect(),
        ),
        _ => None,
    }
}

fn in_transaction(put: Put) -> TransactWriteItem {
    TransactWriteItem::builder().put(put).build()
}

fn no_seat(username: &str) -> Error {
    Error::NoSeatFree {
        username: username.to_owned(),
    }
}

/// A failed condition on an item whose failure has no meaning of its own (a seat count
/// that would go below zero, say): reported as it is, never as something it is not.
fn unexpected_condition(codes: &[String]) -> Error {
    Error::Aws {
        service: "DynamoDB",
        operation: "TransactWriteItems",
        detail: format!(
            "a condition failed where none was expected: {}",
            codes.join(", ")
        ),
    }
}

fn failed(codes: &[String], index: usize) -> bool {
    codes.get(index).is_some_and(|c| c == CONDITION_FAILED)
}

impl DynamoRegistry {
    pub fn new(config: &SdkConfig, table: impl Into<String>) -> Self {
        Self {
            client: Client::new(config),
            table: table.into(),
            endpoint: Endpoint::of("DynamoDB", config),
        }
    }

    /// Creates the table with its index, TTL and point-in-time recovery unless it exists.
    /// Returns whether it was created now.
    pub async fn ensure_table(&self) -> Result<bool, Error> {
        let exists = match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                false
            }
            Err(e) => return Err(self.endpoint.error("DescribeTable", e)),
        };
        if !exists {
            let attr = |name: &str| {
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
            };
            let key_el = |name: &str, kind: KeyType| {
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(kind)
                    .build()
            };
            let build_err = |e: aws_sdk_dynamodb::error::BuildError| Error::Aws {
                service: "DynamoDB",
                operation: "CreateTable",
                detail: e.to_string(),
            };
            let gsi = GlobalSecondaryIndex::builder()
                .index_name(GSI1)
                .key_schema(key_el("gsi1pk", KeyType::Hash).map_err(build_err)?)
                .key_schema(key_el("gsi1sk", KeyType::Range).map_err(build_err)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(build_err)?;
            let created = self
                .client
                .create_table()
                .table_name(&self.table)
                .billing_mode(BillingMode::PayPerRequest)
                .deletion_protection_enabled(true)
                .attribute_definitions(attr("pk").map_err(build_err)?)
                .attribute_definitions(attr("sk").map_err(build_err)?)
                .attribute_definitions(attr("gsi1pk").map_err(build_err)?)
                .attribute_definitions(attr("gsi1sk").map_err(build_err)?)
                .key_schema(key_el("pk", KeyType::Hash).map_err(build_err)?)
                .key_schema(key_el("sk", KeyType::Range).map_err(build_err)?)
                .global_secondary_indexes(gsi)
                .send()
                .await;
            match created {
                Ok(_) => {}
                // Someone else created it meanwhile: that is what we wanted.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_resource_in_use_exception()) => {}
                Err(e) => return Err(self.endpoint.error("CreateTable", e)),
            }
        }
        self.wait_active().await?;
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| self.endpoint.error("DescribeTimeToLive", e))?;
        let ttl_on = ttl
            .time_to_live_description()
            .and_then(|d| d.attribute_name())
            .is_some_and(|a| a == TTL_ATTRIBUTE);
        if !ttl_on {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(|e| Error::Aws {
                    service: "DynamoDB",
                    operation: "UpdateTimeToLive",
                    detail: e.to_string(),
                })?;
            self.client
                .update_time_to_live()
                .table_name(&self.table)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|e| self.endpoint.error("UpdateTimeToLive", e))?;
        }
        let pitr = PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(true)
            .build()
            .map_err(|e| Error::Aws {
                service: "DynamoDB",
                operation: "UpdateContinuousBackups",
                detail: e.to_string(),
            })?;
        self.client
            .update_continuous_backups()
            .table_name(&self.table)
            .point_in_time_recovery_specification(pitr)
            .send()
            .await
            .map_err(|e| self.endpoint.error("UpdateContinuousBackups", e))?;
        Ok(!exists)
    }

    async fn wait_active(&self) -> Result<(), Error> {
        for _ in 0..120 {
            let table = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| self.endpoint.error("DescribeTable", e))?;
            if table.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        Err(Error::Aws {
            service: "DynamoDB",
            operation: "CreateTable",
            detail: format!("table {} did not become ACTIVE within a minute", self.table),
        })
    }

    async fn get<T: DeserializeOwned>(&self, pk: String, sk: &str) -> Result<Option<T>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.endpoint.error("GetItem", e))?;
        out.item.map(from_item).transpose()
    }

    /// The person a claim item of the organization (e-mail, person id, linked identity)
    /// points to.
    async fn person_by_claim(&self, org: &OrgId, claim_sk: &str) -> Result<Option<Person>, Error> {
        #[derive(Deserialize)]
        struct UsernameClaim {
            username: String,
        }
        match self.get::<UsernameClaim>(org_pk(org), claim_sk).await? {
            Some(claim) => self.person(org, &claim.username).await,
            None => Ok(None),
        }
    }

    /// The organization a claim item points to.
    async fn claimed(&self, claim_pk: String) -> Result<Option<Organization>, Error> {
        #[derive(Deserialize)]
        struct Claim {
            org_id: OrgId,
        }
        match self.get::<Claim>(claim_pk, CLAIM_SK).await? {
            Some(claim) => self.organization(&claim.org_id).await,
            None => Ok(None),
        }
    }

    fn claim_put(&self, pk: String, org: &OrgId) -> Result<TransactWriteItem, Error> {
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
    fn org_put(
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

    /// The put of `after` as the person's next version, on the condition that the stored one
    /// is still `before`'s.
    fn person_put(&self, before: &Person, after: &Person) -> Result<(Put, Person), Error> {
        let mut next = after.clone();
        next.version = before.version + 1;
        next.updated_at = now_epoch();
        let item = to_item(&PersonItem {
            pk: org_pk(&next.org_id),
            sk: format!("PERSON#{}", next.username),
            person: next.clone(),
        })?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(before.version))
            .build()
            .map_err(|e| self.build_error(e))?;
        Ok((put, next))
    }

    /// A condition, in a transaction, that the item `pk`/`sk` does not exist.
    fn absent(&self, pk: String, sk: &str) -> Result<TransactWriteItem, Error> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| self.build_error(e))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// An audit event's item.
    fn audit_item(event: &AuditEvent) -> Result<HashMap<String, AttributeValue>, Error> {
        to_item(&AuditItem {
            pk: org_pk(&event.org_id),
            sk: format!("AUDIT#{:012}#{}", event.at, uuid::Uuid::now_v7().simple()),
            expires_at: event.at + AUDIT_RETENTION_SECS,
            event: event.clone(),
        })
    }

    /// The put of an audit event, for the transaction of the change it records.
    fn audit_put(&self, event: &AuditEvent) -> Result<TransactWriteItem, Error> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::audit_item(event)?))
            .build()
            .map_err(|e| self.build_error(e))?;
        Ok(in_transaction(put))
    }

    /// The update that takes (`+1`) or frees (`-1`) one of the organization's seats.
    fn seat_update(&self, org: &OrgId, take: bool) -> Result<TransactWriteItem, Error> {
        self.org_update(org, Some(take), None)
    }

    /// The one update of the organization's record in a person's transaction (a transaction
    /// may touch an item once): the seat taken (`Some(true)`) or freed (`Some(false)`), and
    /// on the condition that the record is still at `version` (`guard`); either moves the
    /// record's version on.
    fn org_update(
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

    /// `save_person`, and with `guard` on the condition that the organization's record is
    /// still at that version.
    async fn save_person_guarded(
        &self,
        before: &Person,
        after: &Person,
        audit: Option<&AuditEvent>,
        guard: Option<u64>,
    ) -> Result<Person, Error> {
        if before.email != after.email
            || before.username != after.username
            || before.preferred_username != after.preferred_username
            || before.org_id != after.org_id
        {
            return Err(Error::not_allowed(
                format!("save {}", before.username),
                "an e-mail or username change needs its own confirmation step",
            ));
        }
        let (put, next) = self.person_put(before, after)?;
        let mut items = vec![in_transaction(put)];
        // The organization's update (a seat, the guard), when there is one, is item 1.
        let seat = match (before.status.holds_seat(), after.status.holds_seat()) {
            (false, true) => Some(true),
            (true, false) => Some(false),
            _ => None,
        };
        let takes_seat = seat == Some(true);
        if seat.is_some() || guard.is_some() {
            items.push(self.org_update(&next.org_id, seat, guard)?);
        }
        if let Some(event) = audit {
            items.push(self.audit_put(event)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(next),
            Err(TransactFailure::Cancelled(codes)) if failed(&codes, 0) => Err(Error::Conflict {
                what: "person",
                key: before.username.clone(),
            }),
            Err(TransactFailure::Cancelled(codes)) if takes_seat && failed(&codes, 1) => {
                Err(no_seat(&before.username))
            }
            Err(TransactFailure::Cancelled(codes)) if guard.is_some() && failed(&codes, 1) => {
                Err(Error::Conflict {
                    what: "organization",
                    key: before.org_id.to_string(),
                })
            }
            Err(TransactFailure::Cancelled(codes)) => Err(unexpected_condition(&codes)),
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }

    /// Deletes the item `sk` of the organization if `holder` still holds it (a lease, an
    /// idempotency key); one that another holder took meanwhile is theirs, and left alone.
    pub(crate) async fn delete_if_held(
        &self,
        org: &OrgId,
        sk: &str,
        holder: &str,
    ) -> Result<(), Error> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(org), sk)))
            .condition_expression("holder = :me")
            .expression_attribute_values(":me", s(holder))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(self.endpoint.error("DeleteItem", e)),
        }
    }

    async fn save_person_plain(
        &self,
        before: &Person,
        after: &Person,
        audit: &AuditEvent,
    ) -> Result<Person, Error> {
        let audit_item = to_item(&AuditItem {
            pk: org_pk(&audit.org_id),
            sk: format!("AUDIT#{:012}#{}", audit.at, uuid::Uuid::now_v7().simple()),
            expires_at: audit.at + AUDIT_RETENTION_SECS,
            event: audit.clone(),
        })?;
        let mut next = after.clone();
        next.version = before.version + 1;
        next.updated_at = now_epoch();
        let item = to_item(&PersonItem {
            pk: org_pk(&next.org_id),
            sk: format!("PERSON#{}", next.username),
            person: next.clone(),
        })?;
        if self
            .put_plain(
                item,
                Some(("version = :v", Some((":v", n(before.version))))),
            )
            .await?
        {
            self.put_plain(audit_item, None).await?;
            Ok(next)
        } else {
            Err(Error::Conflict {
                what: "person",
                key: before.username.clone(),
            })
        }
    }

    async fn import_person(&self, person: &Person, audit: &AuditEvent) -> Result<(), Error> {
        let pk = org_pk(&person.org_id);
        let audit_item = to_item(&AuditItem {
            pk: pk.clone(),
            sk: format!("AUDIT#{:012}#{}", audit.at, person.id),
            expires_at: audit.at + AUDIT_RETENTION_SECS,
            event: audit.clone(),
        })?;
        self.put_plain(audit_item, None).await?;
        for (sk, taken) in [
            (
                format!("EMAIL#{}", person.email),
                "another person of this organization already has that e-mail address",
            ),
            (
                format!("PERSONID#{}", person.id),
                "that person id is already used in this organization",
            ),
        ] {
            let mut claim = key(pk.clone(), &sk);
            claim.insert("username".into(), s(&person.username));
            let free = self
                .put_plain(
                    claim,
                    Some((
                        "attribute_not_exists(pk) OR username = :u",
                        Some((":u", s(&person.username))),
                    )),
                )
                .await?;
            if !free {
                return Err(Error::not_allowed(
                    format!("add {}", person.username),
                    taken,
                ));
            }
        }
        let item = to_item(&PersonItem {
            pk,
            sk: format!("PERSON#{}", person.username),
            person: person.clone(),
        })?;
        if self
            .put_plain(item, Some(("attribute_not_exists(pk)", None)))
            .await?
        {
            Ok(())
        } else {
            Err(Error::not_allowed(
                format!("add {}", person.username),
                "that username is already taken in this organization",
            ))
        }
    }

    fn build_error(&self, e: aws_sdk_dynamodb::error::BuildError) -> Error {
        Error::Aws {
            service: "DynamoDB",
            operation: "build request",
            detail: e.to_string(),
        }
    }

    /// Writes `items` all or nothing. Each request carries a `ClientRequestToken`, so that the
    /// SDK's retry of a request whose answer was lost (a timeout after DynamoDB committed)
    /// is answered as the success it was, not reported as a failed condition. A cancellation
    /// for contention (`TransactionConflict`: two seat changes at once) or throttling is
    /// retried with backoff under a fresh token; the caller's deadline bounds the whole.
    /// Returns [`TransactFailure::Cancelled`] only when a condition failed, with the code of
    /// every item, so that callers can name which one.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TransactFailure> {
        let mut pause = TRANSACT_FIRST_PAUSE;
        let mut token = client_request_token();
        for attempt in 1..=TRANSACT_ATTEMPTS {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(&token)
                .send()
                .await;
            let err = match sent {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let retry = match cancellation_codes(&err) {
                Some(codes) if codes.iter().any(|c| c == CONDITION_FAILED) => {
                    return Err(TransactFailure::Cancelled(codes))
                }
                Some(codes)
                    if codes
                        .iter()
                        .any(|c| RETRYABLE_CANCELLATIONS.contains(&c.as_str())) =>
                {
                    tracing::info!(attempt, reasons = ?codes, "transaction cancelled for contention; retrying");
                    // That request is over: the next one is a new request.
                    token = client_request_token();
                    Some(codes)
                }
                Some(codes) => {
                    return Err(TransactFailure::Other(Error::Aws {
                        service: "DynamoDB",
                        operation: "TransactWriteItems",
                        detail: format!("the transaction was cancelled: {}", codes.join(", ")),
                    }))
                }
                // The same request, with the same token, is still being processed.
                None if err
                    .as_service_error()
                    .is_some_and(|e| e.is_transaction_in_progress_exception()) =>
                {
                    None
                }
                None => {
                    return Err(TransactFailure::Other(
                        self.endpoint.error("TransactWriteItems", err),
                    ))
                }
            };
            if attempt == TRANSACT_ATTEMPTS {
                let detail = match retry {
                    Some(codes) => format!(
                        "still contended after {TRANSACT_ATTEMPTS} attempts: {}",
                        codes.join(", ")
                    ),
                    None => "still in progress after several attempts".into(),
                };
                return Err(TransactFailure::Other(Error::Aws {
                    service: "DynamoDB",
                    operation: "TransactWriteItems",
                    detail,
                }));
            }
            tokio::time::sleep(jittered(pause)).await;
            pause *= 2;
        }
        unreachable!("the last attempt returns")
    }

    async fn query_all(
        &self,
        build: impl Fn() -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        limit: Option<usize>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, Error> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = build()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.endpoint.error("Query", e))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() || limit.is_some_and(|l| items.len() >= l) {
                break;
            }
        }
        if let Some(l) = limit {
            items.truncate(l);
        }
        Ok(items)
    }
}

enum TransactFailure {
    /// A condition failed: the cancellation code of every item, in order.
    Cancelled(Vec<String>),
    Other(Error),
}

const CONDITION_FAILED: &str = "ConditionalCheckFailed";
/// Cancellation reasons that a later attempt may not meet.
const RETRYABLE_CANCELLATIONS: [&str; 4] = [
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
];
const TRANSACT_ATTEMPTS: u32 = 5;
const TRANSACT_FIRST_PAUSE: std::time::Duration = std::time::Duration::from_millis(25);

fn client_request_token() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// `pause` plus up to half of it again, so that two contending writers part ways.
fn jittered(pause: std::time::Duration) -> std::time::Duration {
    pause + pause.mul_f64(rand::random::<f64>() / 2.0)
}

#[async_trait]
impl Registry for DynamoRegistry {
    async fn create_organization(
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

    async fn attach_pool(&self, org: &Organization, pool_id: &str) -> Result<Organization, Error> {
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

    async fn save_organization(
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

    async fn save_organization_alone(
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

    async fn save_organization_domains(
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

    async fn organization(&self, id: &OrgId) -> Result<Option<Organization>, Error> {
        Ok(self
            .get::<OrgItem>(org_pk(id), ORG_SK)
            .await?
            .map(|item| item.org))
    }

    async fn organization_by_subdomain(
        &self,
        sub: &Subdomain,
    ) -> Result<Option<Organization>, Error> {
        self.claimed(format!("SUBDOMAIN#{sub}")).await
    }

    async fn organization_by_pool(&self, pool_id: &str) -> Result<Option<Organization>, Error> {
        self.claimed(format!("POOL#{pool_id}")).await
    }

    async fn organization_by_email_domain(
        &self,
        domain: &EmailDomain,
    ) -> Result<Option<Organization>, Error> {
        self.claimed(format!("EMAILDOMAIN#{domain}")).await
    }

    async fn list_organizations(&self) -> Result<Vec<Organization>, Error> {
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

    async fn create_person(&self, person: &Person, audit: &AuditEvent) -> Result<(), Error> {
        let pk = org_pk(&person.org_id);
        let item = to_item(&PersonItem {
            pk: pk.clone(),
            sk: format!("PERSON#{}", person.username),
            person: person.clone(),
        })?;
        let person_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| self.build_error(e))?;
        let username_claim = |sk: String| -> Result<TransactWriteItem, Error> {
            let mut claim = key(pk.clone(), &sk);
            claim.insert("username".into(), s(&person.username));
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(claim))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| self.build_error(e))?;
            Ok(in_transaction(put))
        };
        let mut items = vec![
            in_transaction(person_put),
            username_claim(format!("EMAIL#{}", person.email))?,
            username_claim(format!("PERSONID#{}", person.id))?,
            self.audit_put(audit)?,
        ];
        const SEAT: usize = 4;
        if person.status.holds_seat() {
            items.push(self.seat_update(&person.org_id, true)?);
        }
        // Nobody signs in with this username as their new name.
        let name_free = items.len();
        items.push(self.absent(pk.clone(), &name_sk(&person.username))?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Cancelled(codes))
                if failed(&codes, 0) || failed(&codes, name_free) =>
            {
                Err(Error::not_allowed(
                    format!("add {}", person.username),
                    "that username is already taken in this organization",
                ))
            }
            Err(TransactFailure::Cancelled(codes)) if failed(&codes, 1) => Err(Error::not_allowed(
                format!("add {}", person.username),
                "another person of this organization already has that e-mail address",
            )),
            Err(TransactFailure::Cancelled(codes)) if failed(&codes, SEAT) => {
                Err(no_seat(&person.username))
            }
            Err(TransactFailure::Cancelled(codes)) => Err(unexpected_condition(&codes)),
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }

    /// A bulk import without transactions: per person, conditional puts in an order that a
    /// run killed anywhere and repeated finishes: the audit event (its key made of the
    /// event's time and the person's id: the caller gives stable ones, so a repeat overwrites
    /// it), the e-mail and id claims (free, or already this username's), then the record
    /// (only if absent: "username taken" otherwise, as for `create_person`). Seats are not
    /// counted here: the caller sets the organization's count from the records (see
    /// `migration_job`), which it may because nobody else uses a migrating organization.
    async fn create_people(
        &self,
        people: &[(Person, AuditEvent)],
        seats: Option<u32>,
    ) -> Vec<Result<(), Error>> {
        let _ = seats;
        let mut results = Vec::with_capacity(people.len());
        for chunk in people.chunks(8) {
            let mut writes = Vec::with_capacity(chunk.len());
            for (person, audit) in chunk {
                writes.push(self.import_person(person, audit));
            }
            results.extend(futures_util::future::join_all(writes).await);
        }
        results
    }

    /// Without transactions (seats are the caller's): per person, the audit event, then the
    /// record if its version is still `before`'s.
    async fn save_people(
        &self,
        changes: &[(Person, Person, AuditEvent)],
    ) -> Vec<Result<Person, Error>> {
        let mut results = Vec::with_capacity(changes.len());
        for chunk in changes.chunks(8) {
            let mut writes = Vec::with_capacity(chunk.len());
            for (before, after, audit) in chunk {
                writes.push(self.save_person_plain(before, after, audit));
            }
            results.extend(futures_util::future::join_all(writes).await);
        }
        results
    }

    async fn person(&self, org: &OrgId, username: &str) -> Result<Option<Person>, Error> {
        Ok(self
            .get::<PersonItem>(org_pk(org), &format!("PERSON#{username}"))
            .await?
            .map(|item| item.person))
    }

    async fn person_by_email(
        &self,
        org: &OrgId,
        email: &EmailAddress,
    ) -> Result<Option<Person>, Error> {
        self.person_by_claim(org, &format!("EMAIL#{email}")).await
    }

    async fn save_person(
        &self,
        before: &Person,
        after: &Person,
        audit: Option<&AuditEvent>,
    ) -> Result<Person, Error> {
        self.save_person_guarded(before, after, audit, None).await
    }

    async fn save_person_if_org_unchanged(
        &self,
        before: &Person,
        after: &Person,
        audit: Option<&AuditEvent>,
        org_version: u64,
    ) -> Result<Person, Error> {
        self.save_person_guarded(before, after, audit, Some(org_version))
            .await
    }

    async fn change_email(
        &self,
        before: &Person,
        after: &Person,
        audit: &AuditEvent,
    ) -> Result<Person, Error> {
        if before.username != after.username || before.org_id != after.org_id {
            return Err(Error::not_allowed(
                format!("save {}", before.username),
                "only the e-mail address changes here",
            ));
        }
        let pk = org_pk(&before.org_id);
        let (put, next) = self.person_put(before, after)?;
        let mut claim = key(pk.clone(), &format!("EMAIL#{}", next.email));
        claim.insert("username".into(), s(&next.username));
        let claim_new = Put::builder()
            .table_name(&self.table)
            .set_item(Some(claim))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| self.build_error(e))?;
        let free_old = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, &format!("EMAIL#{}", before.email))))
            .condition_expression("username = :u")
            .expression_attribute_values(":u", s(&before.username))
            .build()
            .map_err(|e| self.build_error(e))?;
        let items = vec![
            in_transaction(put),
            in_transaction(claim_new),
            TransactWriteItem::builder().delete(free_old).build(),
            self.audit_put(audit)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(next),
            Err(TransactFailure::Cancelled(codes)) if failed(&codes, 0) => Err(Error::Conflict {
                what: "person",
                key: before.username.clone(),
            }),
            Err(TransactFailure::Cancelled(codes)) if failed(&codes, 1) => Err(Error::not_allowed(
                format!("change the address of {}", before.username),
                "another person of this organization already has that e-mail address",
            )),
            Err(TransactFailure::Cancelled(codes)) => Err(unexpected_condition(&codes)),
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }

    async fn change_username(
        &self,
        before: &Person,
        after: &Person,
        audit: &AuditEvent,
    ) -> Result<Person, Error> {
        if before.username != after.username
            || before.org_id != after.org_id
            || before.email != after.email
        {
            return Err(Error::not_allowed(
                format!("save {}", before.username),
                "only the sign-in name changes here",
            ));
        }
        let pk = org_pk(&before.org_id);
        let (put, next) = self.person_put(before, after)?;
        let mut items = vec![in_transaction(put), self.audit_put(audit)?];
        let mut claimed = None;
        if let Some(name) = next.preferred_username.as_deref() {
            if Some(name) != before.preferred_username.as_deref() {
                let mut claim = key(pk.clone(), &name_sk(name));
                claim.insert("username".into(), s(&next.username));
                let claim = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(claim))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .map_err(|e| self.build_error(e))?;
                claimed = Some(items.len());
                items.push(in_transaction(claim));
                // Nobody has it as their username either.
                items.push(self.absent(pk.clone(), &format!("PERSON#{name}"))?);
            }
        }
        if let Some(old) = before.preferred_username.as_deref() {
            if Some(old) != next.preferred_username.as_deref() {
                let free_old = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(pk, &name_sk(old))))
                    .condition_expression("username = :u")
                    .expression_attribute_values(":u", s(&before.username))
                    .build()
                    .map_err(|e| self.build_error(e))?;
                items.push(TransactWriteItem::builder().delete(free_old).build());
            }
        }
        match self.transact(items).await {
            Ok(()) => Ok(next),
            Err(TransactFailure::Cancelled(codes)) if failed(&codes, 0) => Err(Error::Conflict {
                what: "person",
                key: before.username.clone(),
            }),
            Err(TransactFailure::Cancelled(codes))
                if claimed.is_some_and(|i| failed(&codes, i) || failed(&codes, i + 1)) =>
            {
                Err(Error::not_allowed(
                    format!("rename {}", before.username),
                    "another person of this organization already signs in with that username",
                ))
            }
            Err(TransactFailure::Cancelled(codes)) => Err(unexpected_condition(&codes)),
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }

    async fn person_by_sign_in_name(
        &self,
        org: &OrgId,
        name: &str,
    ) -> Result<Option<Person>, Error> {
        self.person_by_claim(org, &name_sk(name)).await
    }

    async fn person_by_identity(
        &self,
        org: &OrgId,
        provider: &str,
        subject: &str,
    ) -> Result<Option<Person>, Error> {
        self.person_by_claim(org, &identity_sk(provider, subject))
            .await
    }

    async fn link_identity(
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
        let items = vec![
            in_transaction(person_put),
            in_transaction(claim_put),
            self.audit_put(audit)?,
        ];
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

    async fn person_by_id(&self, org: &OrgId, id: &PersonId) -> Result<Option<Person>, Error> {
        self.person_by_claim(org, &format!("PERSONID#{id}")).await
    }

    async fn people(
        &self,
        org: &OrgId,
        filter: &(dyn for<'p> Fn(&'p Person) -> bool + Sync),
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Person>, Error> {
        let limit = limit.clamp(1, 1000) as usize;
        let pk = org_pk(org);
        let mut start = cursor.map(|after| key(pk.clone(), &format!("PERSON#{after}")));
        let mut items = Vec::new();
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :person)")
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":person", s("PERSON#"))
                .consistent_read(true)
                .limit(100)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.endpoint.error("Query", e))?;
            let more = out.last_evaluated_key.is_some();
            let page = out.items.unwrap_or_default();
            let count = page.len();
            for (i, item) in page.into_iter().enumerate() {
                let person = from_item::<PersonItem>(item)?.person;
                if !filter(&person) {
                    continue;
                }
                items.push(person);
                if items.len() == limit {
                    let rest = i + 1 < count || more;
                    let next = rest.then(|| items[limit - 1].username.clone());
                    return Ok(Page { items, next });
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(Page { items, next: None });
            }
        }
    }

    async fn audit_page(
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

    async fn claim_idempotency_key(
        &self,
        org: &OrgId,
        key_value: &str,
        claim: &KeyClaim<'_>,
    ) -> Result<IdempotentClaim, Error> {
        self.claim_key(org, key_value, claim).await
    }

    async fn store_idempotent_answer(
        &self,
        org: &OrgId,
        key_value: &str,
        holder: &str,
        answer: &StoredAnswer,
    ) -> Result<bool, Error> {
        self.store_answer(org, key_value, holder, answer).await
    }

    async fn release_idempotency_key(
        &self,
        org: &OrgId,
        key_value: &str,
        holder: &str,
    ) -> Result<(), Error> {
        self.release_key(org, key_value, holder).await
    }

    async fn acquire_lease(
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

    async fn release_lease(&self, org: &OrgId, name: &str, holder: &str) -> Result<(), Error> {
        // Expired and taken by another run meanwhile: theirs now.
        self.delete_if_held(org, &format!("LEASE#{name}"), holder)
            .await
    }

    async fn audit_log(&self, org: &OrgId, limit: u32) -> Result<Vec<AuditEvent>, Error> {
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

/// A lazy-migration hash: `ORG#<id>` / `LEGACY#<username>`, attribute `hash`.
fn legacy_sk(username: &str) -> String {
    format!("LEGACY#{username}")
}

#[async_trait]
impl crate::ports::LegacyPasswords for DynamoRegistry {
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

/// Staged people carry legacy password hashes: DynamoDB removes them 30 days after staging.
const STAGED_RETENTION_SECS: i64 = 30 * 24 * 3600;

fn job_pk(job: &str) -> String {
    format!("JOB#{job}")
}

fn staged_pk(job: &str, legacy_id: &str) -> String {
    format!("JOB#{job}#ORG#{legacy_id}")
}

#[derive(Serialize, Deserialize)]
struct JobItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    job: MigrationJob,
}

#[derive(Serialize, Deserialize)]
struct CheckpointItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    checkpoint: OrgCheckpoint,
}

#[derive(Serialize, Deserialize)]
struct StagedItem {
    pk: String,
    sk: String,
    expires_at: i64,
    #[serde(flatten)]
    person: StagedPerson,
}

#[derive(Serialize, Deserialize)]
struct SkippedItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    record: SkippedRecord,
}

#[derive(Serialize, Deserialize)]
struct FailureItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    failure: PersonFailure,
}

impl DynamoRegistry {
    async fn put_plain(
        &self,
        item: HashMap<String, AttributeValue>,
        condition: Option<(&str, Option<(&str, AttributeValue)>)>,
    ) -> Result<bool, Error> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        if let Some((expr, value)) = condition {
            put = put.condition_expression(expr);
            if let Some((name, v)) = value {
                put = put.expression_attribute_values(name, v);
            }
        }
        match put.send().await {
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

    /// Writes `items` in batches of 25, again for the ones DynamoDB leaves unprocessed.
    async fn batch_put(&self, items: Vec<HashMap<String, AttributeValue>>) -> Result<(), Error> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        for chunk in items.chunks(25) {
            let mut requests = chunk
                .iter()
                .map(|item| {
                    PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map(|put| WriteRequest::builder().put_request(put).build())
                        .map_err(|e| self.build_error(e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut pause = TRANSACT_FIRST_PAUSE;
            for attempt in 0..10 {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests.clone())
                    .send()
                    .await
                    .map_err(|e| self.endpoint.error("BatchWriteItem", e))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt == 9 {
                    return Err(Error::Aws {
                        service: "DynamoDB",
                        operation: "BatchWriteItem",
                        detail: "items still unprocessed after 10 attempts".into(),
                    });
                }
                tokio::time::sleep(jittered(pause)).await;
                pause *= 2;
            }
        }
        Ok(())
    }

    async fn page_of<T: DeserializeOwned>(
        &self,
        pk: String,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<T>, Option<String>), Error> {
        let start = cursor.map(|sk| key(pk.clone(), sk));
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| self.endpoint.error("Query", e))?;
        let next = out
            .last_evaluated_key
            .and_then(|k| k.get("sk").and_then(|v| v.as_s().ok()).cloned());
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<T>, _>>()?;
        Ok((items, next))
    }
}

#[async_trait]
impl crate::ports::MigrationStore for DynamoRegistry {
    async fn create_job(&self, job: &MigrationJob) -> Result<Option<MigrationJob>, Error> {
        let item = to_item(&JobItem {
            pk: job_pk(&job.id),
            sk: "JOB".into(),
            job: job.clone(),
        })?;
        if self
            .put_plain(item, Some(("attribute_not_exists(pk)", None)))
            .await?
        {
            Ok(None)
        } else {
            self.job(&job.id).await
        }
    }

    async fn job(&self, id: &str) -> Result<Option<MigrationJob>, Error> {
        Ok(self.get::<JobItem>(job_pk(id), "JOB").await?.map(|i| i.job))
    }

    async fn save_job(&self, job: &MigrationJob) -> Result<(), Error> {
        let item = to_item(&JobItem {
            pk: job_pk(&job.id),
            sk: "JOB".into(),
            job: job.clone(),
        })?;
        self.put_plain(item, None).await.map(|_| ())
    }

    async fn create_checkpoint(&self, checkpoint: &OrgCheckpoint) -> Result<OrgCheckpoint, Error> {
        let mut first = checkpoint.clone();
        first.version = 1;
        let item = to_item(&CheckpointItem {
            pk: job_pk(&first.job),
            sk: format!("ORG#{}", first.legacy_id),
            checkpoint: first.clone(),
        })?;
        if self
            .put_plain(item, Some(("attribute_not_exists(pk)", None)))
            .await?
        {
            return Ok(first);
        }
        self.checkpoint(&first.job, &first.legacy_id)
            .await?
            .ok_or_else(|| Error::Conflict {
                what: "migration checkpoint",
                key: first.legacy_id.clone(),
            })
    }

    async fn checkpoint(&self, job: &str, legacy_id: &str) -> Result<Option<OrgCheckpoint>, Error> {
        Ok(self
            .get::<CheckpointItem>(job_pk(job), &format!("ORG#{legacy_id}"))
            .await?
            .map(|i| i.checkpoint))
    }

    async fn save_checkpoint(&self, checkpoint: &OrgCheckpoint) -> Result<OrgCheckpoint, Error> {
        let mut next = checkpoint.clone();
        next.version = checkpoint.version + 1;
        next.updated_at = now_epoch();
        let item = to_item(&CheckpointItem {
            pk: job_pk(&next.job),
            sk: format!("ORG#{}", next.legacy_id),
            checkpoint: next.clone(),
        })?;
        if self
            .put_plain(
                item,
                Some(("version = :v", Some((":v", n(checkpoint.version))))),
            )
            .await?
        {
            Ok(next)
        } else {
            Err(Error::Conflict {
                what: "migration checkpoint of organization",
                key: checkpoint.legacy_id.clone(),
            })
        }
    }

    async fn checkpoints(&self, job: &str) -> Result<Vec<OrgCheckpoint>, Error> {
        let pk = job_pk(job);
        let items = self
            .query_all(
                || {
                    self.client
                        .query()
                        .table_name(&self.table)
                        .key_condition_expression("pk = :pk AND begins_with(sk, :org)")
                        .expression_attribute_values(":pk", s(&pk))
                        .expression_attribute_values(":org", s("ORG#"))
                        .consistent_read(true)
                },
                None,
            )
            .await?;
        items
            .into_iter()
            .map(|i| from_item::<CheckpointItem>(i).map(|c| c.checkpoint))
            .collect()
    }

    async fn stage_people(
        &self,
        job: &str,
        legacy_id: &str,
        people: &[StagedPerson],
    ) -> Result<(), Error> {
        let expires_at = now_epoch() + STAGED_RETENTION_SECS;
        let items = people
            .iter()
            .map(|p| {
                to_item(&StagedItem {
                    pk: staged_pk(job, legacy_id),
                    sk: format!("PERSON#{}", p.username),
                    expires_at,
                    person: p.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_put(items).await
    }

    async fn staged_people(
        &self,
        job: &str,
        legacy_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StagedPerson>, Error> {
        let cursor = after.map(|u| format!("PERSON#{u}"));
        let (items, _) = self
            .page_of::<StagedItem>(
                staged_pk(job, legacy_id),
                "PERSON#",
                cursor.as_deref(),
                limit,
            )
            .await?;
        Ok(items.into_iter().map(|i| i.person).collect())
    }

    async fn record_skipped(&self, job: &str, records: &[SkippedRecord]) -> Result<(), Error> {
        let items = records
            .iter()
            .map(|r| {
                to_item(&SkippedItem {
                    pk: job_pk(job),
                    sk: format!("SKIP#{:012}", r.ordinal),
                    record: r.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_put(items).await
    }

    async fn skipped(
        &self,
        job: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<SkippedRecord>, Error> {
        let (items, next) = self
            .page_of::<SkippedItem>(job_pk(job), "SKIP#", cursor, limit)
            .await?;
        Ok(Page {
            items: items.into_iter().map(|i| i.record).collect(),
            next,
        })
    }

    async fn forget_skipped(&self, job: &str, ordinals: &[u64]) -> Result<(), Error> {
        for ordinal in ordinals {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(job_pk(job), &format!("SKIP#{ordinal:012}"))))
                .send()
                .await
                .map_err(|e| self.endpoint.error("DeleteItem", e))?;
        }
        Ok(())
    }

    async fn record_failure(&self, job: &str, failure: &PersonFailure) -> Result<(), Error> {
        let item = to_item(&FailureItem {
            pk: job_pk(job),
            sk: format!("FAIL#{}#{}", failure.legacy_id, failure.username),
            failure: failure.clone(),
        })?;
        self.put_plain(item, None).await.map(|_| ())
    }

    async fn clear_failure(&self, job: &str, legacy_id: &str, username: &str) -> Result<(), Error> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(
                job_pk(job),
                &format!("FAIL#{legacy_id}#{username}"),
            )))
            .send()
            .await
            .map_err(|e| self.endpoint.error("DeleteItem", e))?;
        Ok(())
    }

    async fn failures(
        &self,
        job: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<PersonFailure>, Error> {
        let (items, next) = self
            .page_of::<FailureItem>(job_pk(job), "FAIL#", cursor, limit)
            .await?;
        Ok(Page {
            items: items.into_iter().map(|i| i.failure).collect(),
            next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PersonStatus, Role};
    use aws_smithy_http_client::test_util::StaticReplayClient;

    /// DynamoDB's cancellation reasons, lost answers and throttling, which moto does not
    /// produce, answered from a script.
    fn registry_answering(answers: Vec<(u16, String)>) -> (DynamoRegistry, StaticReplayClient) {
        let (sdk, http) =
            crate::aws::scripted("https://dynamodb.eu-west-1.amazonaws.com/", answers);
        (DynamoRegistry::new(&sdk, "signin"), http)
    }

    fn cancelled(codes: &[&str]) -> (u16, String) {
        let reasons: Vec<_> = codes
            .iter()
            .map(|c| serde_json::json!({"Code": c}))
            .collect();
        let body = serde_json::json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes.join(", ")),
            "CancellationReasons": reasons,
        });
        (400, body.to_string())
    }

    fn ok() -> (u16, String) {
        (200, "{}".into())
    }

    /// Invited -> active needs no seat; added -> invited takes one (item 1).
    fn activation() -> (Person, Person) {
        let before = Person::new(
            OrgId::from("org-1".to_owned()),
            "jane".into(),
            EmailAddress::parse("jane@acme.example").expect("valid"),
            vec![Role::admin()],
            PersonStatus::Added,
        );
        let mut after = before.clone();
        after.status = PersonStatus::Invited;
        (before, after)
    }

    fn tokens(http: &StaticReplayClient) -> Vec<String> {
        http.actual_requests()
            .map(|r| {
                let body: serde_json::Value =
                    serde_json::from_slice(r.body().bytes().expect("body")).expect("json");
                body["ClientRequestToken"]
                    .as_str()
                    .expect("every transaction carries a ClientRequestToken")
                    .to_owned()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_transaction_conflict_is_retried_not_reported_as_no_seat() {
        // Two seat changes of one organization at once: DynamoDB cancels one of them.
        let (registry, http) = registry_answering(vec![
            cancelled(&["None", "TransactionConflict", "None"]),
            ok(),
        ]);
        let (before, after) = activation();
        let saved = registry
            .save_person(&before, &after, None)
            .await
            .expect("the retry commits");
        assert_eq!(saved.status, PersonStatus::Invited);
        let tokens = tokens(&http);
        assert_eq!(tokens.len(), 2);
        assert_ne!(
            tokens[0], tokens[1],
            "a cancelled request is over: a new token"
        );
    }

    #[tokio::test]
    async fn throttling_cancellations_are_retried_too() {
        let (registry, http) = registry_answering(vec![
            cancelled(&["ThrottlingError", "None"]),
            cancelled(&["None", "ProvisionedThroughputExceeded"]),
            ok(),
        ]);
        let (before, after) = activation();
        registry
            .save_person(&before, &after, None)
            .await
            .expect("committed");
        assert_eq!(http.actual_requests().count(), 3);
    }

    #[tokio::test]
    async fn only_a_failed_seat_condition_is_no_seat() {
        let (registry, _) =
            registry_answering(vec![cancelled(&["None", "ConditionalCheckFailed"])]);
        let (before, after) = activation();
        let err = registry
            .save_person(&before, &after, None)
            .await
            .expect_err("no seat");
        assert_eq!(err.code(), "NoSeatFree");

        let (registry, _) =
            registry_answering(vec![cancelled(&["ConditionalCheckFailed", "None"])]);
        let err = registry
            .save_person(&before, &after, None)
            .await
            .expect_err("changed meanwhile");
        assert_eq!(err.code(), "Conflict");

        let (registry, _) = registry_answering(vec![cancelled(&["None", "ValidationError"])]);
        let err = registry
            .save_person(&before, &after, None)
            .await
            .expect_err("invalid");
        assert_eq!(err.code(), "AwsError");
        assert!(err.to_string().contains("ValidationError"), "{err}");
    }

    #[tokio::test]
    async fn contention_that_does_not_end_is_reported_as_contention() {
        let answers = (0..TRANSACT_ATTEMPTS)
            .map(|_| cancelled(&["None", "TransactionConflict"]))
            .collect();
        let (registry, http) = registry_answering(answers);
        let (before, after) = activation();
        let err = registry
            .save_person(&before, &after, None)
            .await
            .expect_err("gave up");
        assert_eq!(err.code(), "AwsError");
        assert!(err.to_string().contains("contended"), "{err}");
        assert_eq!(http.actual_requests().count() as u32, TRANSACT_ATTEMPTS);
    }

    #[tokio::test]
    async fn a_retry_after_a_lost_answer_carries_the_same_token() {
        // DynamoDB committed, the answer was lost (a 500 here); the SDK sends the same
        // request again. With the same token DynamoDB answers the success it was, instead of
        // failing the version condition the first attempt already moved.
        let (registry, http) = registry_answering(vec![
            (
                500,
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"lost"}"#.into(),
            ),
            ok(),
        ]);
        let (before, after) = activation();
        registry
            .save_person(&before, &after, None)
            .await
            .expect("the same transaction, once");
        let tokens = tokens(&http);
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[0], tokens[1]);
    }
}
