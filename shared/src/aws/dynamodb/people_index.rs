//! People's search entries and counters (docs/design.md, "Admin API at scale"):
//!
//! | item | pk | sk |
//! |---|---|---|
//! | search entry (the person's record copied in) | `ORG#<id>` | `SEARCH#<term>#<person id>` |
//! | people counters (`status_*`, `role_*`, `held_*`, `admins_with_login`, `seq`, `complete`) | `ORG#<id>` | `COUNTS` |
//!
//! Every transactional write of a person appends [`DynamoRegistry::index_writes`] to its
//! transaction; writers without transactions mark the counters incomplete, and
//! [`DynamoRegistry::reindex_people`] rebuilds both.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, Put, TransactWriteItem, Update,
    WriteRequest,
};

use super::{
    from_item, in_transaction, jittered, key, n, org_pk, s, to_item, DynamoRegistry, PersonItem,
    TransactFailure, TRANSACT_FIRST_PAUSE,
};
use crate::domain::ports::{Page, Reindexed};
use crate::domain::search::{
    counter_deltas, index_keys, recount, select, Entry, PeopleCounts, PeopleQuery,
};
use crate::domain::{Error, OrgId, Person};

const COUNTS_SK: &str = "COUNTS";
const SEARCH: &str = "SEARCH#";
const PERSON: &str = "PERSON#";
/// How often a reindex reads and counts again when counters moved while it read.
const REINDEX_PASSES: u32 = 5;

fn entry_sk(key: &str) -> String {
    format!("{SEARCH}{key}")
}

fn sk_of(item: &HashMap<String, AttributeValue>) -> Option<&str> {
    item.get("sk")
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

impl DynamoRegistry {
    /// The item of one search entry: the person's record under the entry's key.
    fn entry_item(
        &self,
        key_of_entry: &str,
        person: &Person,
    ) -> Result<HashMap<String, AttributeValue>, Error> {
        to_item(&PersonItem {
            pk: org_pk(&person.org_id),
            sk: entry_sk(key_of_entry),
            person: person.clone(),
        })
    }

    /// What keeps the search entries and the counters right when `before` (`None`: a new
    /// person) is saved as `after` (with its new version), for the person's own transaction:
    /// entries `before` had and `after` has not are deleted, `after`'s written (they carry
    /// the record), the counters moved by the net change. Appended after the caller's items,
    /// so that their positions (which name a failed condition) stay.
    pub(super) fn index_writes(
        &self,
        before: Option<&Person>,
        after: &Person,
    ) -> Result<Vec<TransactWriteItem>, Error> {
        let mut items = Vec::new();
        let keys = index_keys(after);
        for old in before.map(index_keys).unwrap_or_default() {
            if !keys.contains(&old) {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(org_pk(&after.org_id), &entry_sk(&old))))
                    .build()
                    .map_err(|e| self.build_error(e))?;
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
        }
        for new in &keys {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(self.entry_item(new, after)?))
                .build()
                .map_err(|e| self.build_error(e))?;
            items.push(in_transaction(put));
        }
        if let Some(update) = self.counters_move(before, after)? {
            items.push(update);
        }
        Ok(items)
    }

    /// [`Self::index_writes`] in two parts, for a transaction that must move the counters
    /// before another item (the last-administrator guard reads the organization's record,
    /// then the counters: moto applies a transaction's items one by one, so the counters go
    /// first): the counters' update, and the entries.
    pub(super) fn index_writes_split(
        &self,
        before: &Person,
        after: &Person,
    ) -> Result<(Option<TransactWriteItem>, Vec<TransactWriteItem>), Error> {
        let mut entries = self.index_writes(Some(before), after)?;
        let counters = self.counters_move(Some(before), after)?;
        if counters.is_some() {
            entries.pop();
        }
        Ok((counters, entries))
    }

    fn counters_move(
        &self,
        before: Option<&Person>,
        after: &Person,
    ) -> Result<Option<TransactWriteItem>, Error> {
        self.counters_update(&after.org_id, &counter_deltas(before, Some(after)))
    }

    /// The one update of the counters item in a transaction: `ADD` of each counter's change
    /// and of `seq` (a recount in progress learns from it that counts moved). `None` when no
    /// count moves.
    fn counters_update(
        &self,
        org: &OrgId,
        deltas: &[(String, i64)],
    ) -> Result<Option<TransactWriteItem>, Error> {
        if deltas.is_empty() {
            return Ok(None);
        }
        let mut expression = String::from("ADD seq :one");
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(org), COUNTS_SK)))
            .expression_attribute_values(":one", n(1));
        for (i, (counter, by)) in deltas.iter().enumerate() {
            expression.push_str(&format!(", #c{i} :d{i}"));
            update = update
                .expression_attribute_names(format!("#c{i}"), counter)
                .expression_attribute_values(format!(":d{i}"), n(by));
        }
        let update = update
            .update_expression(expression)
            .build()
            .map_err(|e| self.build_error(e))?;
        Ok(Some(TransactWriteItem::builder().update(update).build()))
    }

    /// The counters item of a new organization: complete, every count at zero.
    pub(super) fn counters_start(&self, org: &OrgId) -> Result<TransactWriteItem, Error> {
        let mut item = key(org_pk(org), COUNTS_SK);
        item.insert("complete".into(), AttributeValue::Bool(true));
        item.insert("seq".into(), n(0));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| self.build_error(e))?;
        Ok(in_transaction(put))
    }

    /// Marks the counters incomplete before people are written without transactions (a
    /// migration's bulk import or rollback): the routes count from the records until a
    /// reindex has rebuilt them.
    pub(super) async fn mark_counts_incomplete(&self, org: &OrgId) -> Result<(), Error> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(org), COUNTS_SK)))
            .update_expression("REMOVE complete ADD seq :one")
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(|e| self.endpoint.error("UpdateItem", e))?;
        Ok(())
    }

    /// The counters item: its counts, `seq`, and whether it is complete.
    async fn counters(&self, org: &OrgId) -> Result<(PeopleCounts, i64, bool), Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(org), COUNTS_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.endpoint.error("GetItem", e))?;
        let item = out.item.unwrap_or_default();
        let number = |v: &AttributeValue| v.as_n().ok().and_then(|n| n.parse::<i64>().ok());
        let seq = item.get("seq").and_then(number).unwrap_or(0);
        let complete = item
            .get("complete")
            .is_some_and(|v| v.as_bool().is_ok_and(|b| *b));
        let counts = item
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "pk" | "sk" | "seq" | "complete"))
            .filter_map(|(name, v)| number(v).map(|n| (name.clone(), n)))
            .collect::<BTreeMap<_, _>>();
        Ok((PeopleCounts(counts), seq, complete))
    }

    pub(super) async fn people_counts(&self, org: &OrgId) -> Result<Option<PeopleCounts>, Error> {
        let (counts, _, complete) = self.counters(org).await?;
        Ok(complete.then_some(counts))
    }

    /// One Query of at most `query.read_budget(limit)` items: the search entries starting
    /// with the folded query, or the person records for a plain list.
    pub(super) async fn find_people(
        &self,
        org: &OrgId,
        query: &PeopleQuery,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Person>, Error> {
        let limit = limit.clamp(1, 500);
        let pk = org_pk(org);
        let (kind, prefix) = match &query.q {
            Some(q) => (SEARCH, format!("{SEARCH}{q}")),
            None => (PERSON, PERSON.to_owned()),
        };
        let start = after.map(|a| key(pk.clone(), &format!("{kind}{a}")));
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s(&prefix))
            .consistent_read(true)
            .limit(query.read_budget(limit) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| self.endpoint.error("Query", e))?;
        let read_on = out
            .last_evaluated_key
            .as_ref()
            .and_then(sk_of)
            .and_then(|sk| sk.strip_prefix(kind))
            .map(str::to_owned);
        let mut entries = Vec::new();
        for item in out.items.unwrap_or_default() {
            let item = from_item::<PersonItem>(item)?;
            let Some(entry_key) = item.sk.strip_prefix(kind) else {
                continue;
            };
            entries.push(Entry {
                key: entry_key.to_owned(),
                person: item.person,
            });
        }
        Ok(select(query, entries, limit as usize, read_on))
    }

    /// Every item of the organization whose sort key starts with `prefix` (consistent).
    async fn all_with_prefix(
        &self,
        org: &OrgId,
        prefix: &str,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, Error> {
        let pk = org_pk(org);
        self.query_all(
            || {
                self.client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":pk", s(&pk))
                    .expression_attribute_values(":prefix", s(prefix))
                    .consistent_read(true)
            },
            None,
        )
        .await
    }

    /// The backfill (docs/design.md): the entries every person should have and does not
    /// (or holds out of date) are written, those no person has deleted, and the counters set
    /// from a recount, on the condition that no count moved while the people were read.
    /// Without `owned`, every write is conditional on what was read (safe while the
    /// organization is in use); with it, plain batch writes (the caller owns it).
    pub(super) async fn reindex_people(
        &self,
        org: &OrgId,
        owned: bool,
    ) -> Result<Reindexed, Error> {
        let mut report = Reindexed::default();
        for pass in 1..=REINDEX_PASSES {
            report.passes = pass;
            let (_, seq, _) = self.counters(org).await?;
            let people: Vec<Person> = self
                .all_with_prefix(org, PERSON)
                .await?
                .into_iter()
                .map(|item| from_item::<PersonItem>(item).map(|i| i.person))
                .collect::<Result<_, _>>()?;
            // What is there: entry key -> the version of the record it carries.
            let mut stored: HashMap<String, u64> = HashMap::new();
            for item in self.all_with_prefix(org, SEARCH).await? {
                let item = from_item::<PersonItem>(item)?;
                if let Some(k) = item.sk.strip_prefix(SEARCH) {
                    stored.insert(k.to_owned(), item.person.version);
                }
            }
            report.people = people.len() as u64;
            let mut wanted: HashMap<String, &Person> = HashMap::new();
            for person in &people {
                for k in index_keys(person) {
                    wanted.insert(k, person);
                }
            }
            for person in &people {
                let missing: Vec<String> = index_keys(person)
                    .into_iter()
                    .filter(|k| stored.get(k) != Some(&person.version))
                    .collect();
                if missing.is_empty() {
                    continue;
                }
                if self.write_entries(person, &missing, owned).await? {
                    report.entries_written += missing.len() as u64;
                } else {
                    report.changed_meanwhile += 1;
                }
            }
            let stale: Vec<(String, u64)> = stored
                .into_iter()
                .filter(|(k, _)| !wanted.contains_key(k))
                .collect();
            report.entries_deleted += self.delete_entries(org, &stale, owned).await?;
            let counts = recount(&people);
            if self.set_counters(org, &counts, seq, owned).await? {
                report.counts = counts;
                return Ok(report);
            }
            tracing::info!(org_id = %org, pass, "counts moved while the people were read; counting again");
        }
        Err(Error::InProgress {
            what: format!(
                "the people of {org} kept changing while they were counted ({REINDEX_PASSES} times); the search entries are written, the counters not"
            ),
        })
    }

    /// Writes a person's entries `keys`. In use: in one transaction with the condition that
    /// the record still has the version read (false: it changed, and that write indexed it).
    async fn write_entries(
        &self,
        person: &Person,
        keys: &[String],
        owned: bool,
    ) -> Result<bool, Error> {
        let items = keys
            .iter()
            .map(|k| self.entry_item(k, person))
            .collect::<Result<Vec<_>, _>>()?;
        if owned {
            self.batch_put(items).await?;
            return Ok(true);
        }
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                org_pk(&person.org_id),
                &format!("{PERSON}{}", person.username),
            )))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(person.version))
            .build()
            .map_err(|e| self.build_error(e))?;
        let mut writes = vec![TransactWriteItem::builder().condition_check(check).build()];
        for item in items {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .build()
                .map_err(|e| self.build_error(e))?;
            writes.push(in_transaction(put));
        }
        match self.transact(writes).await {
            Ok(()) => Ok(true),
            Err(TransactFailure::Cancelled(_)) => Ok(false),
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }

    /// Deletes entries no record has. In use: each on the condition that it still carries
    /// the version read (a write meanwhile may have made it someone's again). Returns how
    /// many went.
    async fn delete_entries(
        &self,
        org: &OrgId,
        stale: &[(String, u64)],
        owned: bool,
    ) -> Result<u64, Error> {
        if owned {
            for chunk in stale.chunks(25) {
                let mut requests = chunk
                    .iter()
                    .map(|(k, _)| {
                        DeleteRequest::builder()
                            .set_key(Some(key(org_pk(org), &entry_sk(k))))
                            .build()
                            .map(|d| WriteRequest::builder().delete_request(d).build())
                            .map_err(|e| self.build_error(e))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let mut pause = TRANSACT_FIRST_PAUSE;
                while !requests.is_empty() {
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
                    if !requests.is_empty() {
                        tokio::time::sleep(jittered(pause)).await;
                        pause *= 2;
                    }
                }
            }
            return Ok(stale.len() as u64);
        }
        let mut deleted = 0;
        for (k, version) in stale {
            let done = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(org_pk(org), &entry_sk(k))))
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(version))
                .send()
                .await;
            match done {
                Ok(_) => deleted += 1,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(self.endpoint.error("DeleteItem", e)),
            }
        }
        Ok(deleted)
    }

    /// Sets the counters to `counts`, complete. In use: only if `seq` is still `seen` (no
    /// count moved since the people were read); false otherwise.
    async fn set_counters(
        &self,
        org: &OrgId,
        counts: &PeopleCounts,
        seen: i64,
        owned: bool,
    ) -> Result<bool, Error> {
        let mut item = key(org_pk(org), COUNTS_SK);
        for (counter, value) in counts.nonzero() {
            item.insert(counter, n(value));
        }
        item.insert("complete".into(), AttributeValue::Bool(true));
        item.insert("seq".into(), n(seen));
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        if !owned {
            put = put
                .condition_expression("attribute_not_exists(pk) OR seq = :seen")
                .expression_attribute_values(":seen", n(seen));
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

    /// Loads people into a new organization in bulk (benchmarks, fixtures): their records,
    /// e-mail and id claims and search entries in batch writes, and their counts added to the
    /// counters. Nothing is checked: not for an organization in use, nor for people that may
    /// exist already.
    pub async fn load_people(&self, people: &[Person]) -> Result<(), Error> {
        let Some(org) = people.first().map(|p| p.org_id.clone()) else {
            return Ok(());
        };
        let mut items = Vec::new();
        for person in people {
            let pk = org_pk(&person.org_id);
            items.push(to_item(&PersonItem {
                pk: pk.clone(),
                sk: format!("{PERSON}{}", person.username),
                person: person.clone(),
            })?);
            for sk in [
                format!("EMAIL#{}", person.email),
                format!("PERSONID#{}", person.id),
            ] {
                let mut claim = key(pk.clone(), &sk);
                claim.insert("username".into(), s(&person.username));
                items.push(claim);
            }
            for k in index_keys(person) {
                items.push(self.entry_item(&k, person)?);
            }
        }
        self.batch_put(items).await?;
        let counts = recount(people);
        let deltas: Vec<(String, i64)> = counts.nonzero().into_iter().collect();
        for chunk in deltas.chunks(50) {
            let mut expression = String::from("ADD seq :one");
            let mut update = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(org_pk(&org), COUNTS_SK)))
                .expression_attribute_values(":one", n(1));
            for (i, (counter, by)) in chunk.iter().enumerate() {
                expression.push_str(&format!(", #c{i} :d{i}"));
                update = update
                    .expression_attribute_names(format!("#c{i}"), counter)
                    .expression_attribute_values(format!(":d{i}"), n(by));
            }
            update
                .update_expression(expression)
                .send()
                .await
                .map_err(|e| self.endpoint.error("UpdateItem", e))?;
        }
        Ok(())
    }
}
