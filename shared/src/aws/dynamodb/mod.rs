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
//!
//! One file per aggregate, each adding its own methods to [`DynamoRegistry`]:
//! `organizations` (and their claims), `people`, `links` (linked identities), `audit`,
//! `leases`, `idempotency`, `attempts`, `legacy_passwords`, `migration_jobs`; `registry`
//! implements the [`Registry`](crate::domain::ports::Registry) port with them. This file keeps the
//! client, the table, the transaction and paging helpers and the item codecs that several
//! aggregates share.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, PointInTimeRecoverySpecification, Projection, ProjectionType, Put,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::Endpoint;
use crate::domain::ports::AuditEvent;
use crate::domain::{Error, OrgId, Person};

mod attempts;
mod audit;
mod directory;
mod groups;
mod idempotency;
mod leases;
mod legacy_passwords;
mod links;
mod migration_jobs;
mod organizations;
mod people;
mod people_index;
mod registry;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EmailAddress, PersonStatus, Role};
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
        // The activation's items: the person, the people counters, the organization's seat.
        let (registry, _) =
            registry_answering(vec![cancelled(&["None", "None", "ConditionalCheckFailed"])]);
        let (before, after) = activation();
        let err = registry
            .save_person(&before, &after, None)
            .await
            .expect_err("no seat");
        assert_eq!(err.code(), "NoSeatFree");

        let (registry, _) =
            registry_answering(vec![cancelled(&["None", "ConditionalCheckFailed", "None"])]);
        let err = registry
            .save_person(&before, &after, None)
            .await
            .expect_err("not the seat");
        assert_eq!(err.code(), "AwsError", "{err}");

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
