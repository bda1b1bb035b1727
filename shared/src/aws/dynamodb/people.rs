//! People of an organization and their claims (e-mail, person id, sign-in name), with the
//! organization's seat count moved in the same transaction.

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use serde::Deserialize;

use super::{
    failed, from_item, in_transaction, key, n, org_pk, s, to_item, unexpected_condition, AuditItem,
    DynamoRegistry, PersonItem, TransactFailure, AUDIT_RETENTION_SECS,
};
use crate::domain::ports::{AuditEvent, Page};
use crate::domain::{now_epoch, EmailAddress, Error, OrgId, Person, PersonId};

/// A sign-in name claim (a person's `preferred_username`).
fn name_sk(name: &str) -> String {
    format!("NAME#{name}")
}

fn no_seat(username: &str) -> Error {
    Error::NoSeatFree {
        username: username.to_owned(),
    }
}

impl DynamoRegistry {
    /// The person a claim item of the organization (e-mail, person id, linked identity)
    /// points to.
    pub(super) async fn person_by_claim(
        &self,
        org: &OrgId,
        claim_sk: &str,
    ) -> Result<Option<Person>, Error> {
        #[derive(Deserialize)]
        struct UsernameClaim {
            username: String,
        }
        match self.get::<UsernameClaim>(org_pk(org), claim_sk).await? {
            Some(claim) => self.person(org, &claim.username).await,
            None => Ok(None),
        }
    }

    /// The put of `after` as the person's next version, on the condition that the stored one
    /// is still `before`'s.
    pub(super) fn person_put(
        &self,
        before: &Person,
        after: &Person,
    ) -> Result<(Put, Person), Error> {
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

    /// `save_person`, and with `guard` on the condition that the organization's record is
    /// still at that version.
    pub(super) async fn save_person_guarded(
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
        // The people counters before the organization's record: who reads the record's new
        // version finds the counters moved too (moto applies the items one by one).
        let (counters, entries) = self.index_writes_split(before, &next)?;
        items.extend(counters);
        // The organization's update (a seat, the guard), when there is one, is item `org`.
        let org = items.len();
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
        items.extend(entries);
        match self.transact(items).await {
            Ok(()) => Ok(next),
            Err(TransactFailure::Cancelled(codes)) if failed(&codes, 0) => Err(Error::Conflict {
                what: "person",
                key: before.username.clone(),
            }),
            Err(TransactFailure::Cancelled(codes)) if takes_seat && failed(&codes, org) => {
                Err(no_seat(&before.username))
            }
            Err(TransactFailure::Cancelled(codes)) if guard.is_some() && failed(&codes, org) => {
                Err(Error::Conflict {
                    what: "organization",
                    key: before.org_id.to_string(),
                })
            }
            Err(TransactFailure::Cancelled(codes)) => Err(unexpected_condition(&codes)),
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }

    pub(super) async fn save_person_plain(
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

    pub(super) async fn import_person(
        &self,
        person: &Person,
        audit: &AuditEvent,
    ) -> Result<(), Error> {
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

    pub(super) async fn create_person(
        &self,
        person: &Person,
        audit: &AuditEvent,
    ) -> Result<(), Error> {
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
        items.extend(self.index_writes(None, person)?);
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
    pub(super) async fn create_people(
        &self,
        people: &[(Person, AuditEvent)],
        seats: Option<u32>,
    ) -> Vec<Result<(), Error>> {
        let _ = seats;
        let mut results = Vec::with_capacity(people.len());
        // Written without their search entries and counts: the counters are incomplete
        // until the migration reindexes the organization (before its switch).
        if let Some((first, _)) = people.first() {
            if let Err(e) = self.mark_counts_incomplete(&first.org_id).await {
                return people.iter().map(|_| Err(e.clone())).collect();
            }
        }
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
    pub(super) async fn save_people(
        &self,
        changes: &[(Person, Person, AuditEvent)],
    ) -> Vec<Result<Person, Error>> {
        let mut results = Vec::with_capacity(changes.len());
        // As for `create_people`: the rollback reindexes the organization when it is done.
        if let Some((first, _, _)) = changes.first() {
            if let Err(e) = self.mark_counts_incomplete(&first.org_id).await {
                return changes.iter().map(|_| Err(e.clone())).collect();
            }
        }
        for chunk in changes.chunks(8) {
            let mut writes = Vec::with_capacity(chunk.len());
            for (before, after, audit) in chunk {
                writes.push(self.save_person_plain(before, after, audit));
            }
            results.extend(futures_util::future::join_all(writes).await);
        }
        results
    }

    pub(super) async fn person(
        &self,
        org: &OrgId,
        username: &str,
    ) -> Result<Option<Person>, Error> {
        Ok(self
            .get::<PersonItem>(org_pk(org), &format!("PERSON#{username}"))
            .await?
            .map(|item| item.person))
    }

    pub(super) async fn person_by_email(
        &self,
        org: &OrgId,
        email: &EmailAddress,
    ) -> Result<Option<Person>, Error> {
        self.person_by_claim(org, &format!("EMAIL#{email}")).await
    }

    pub(super) async fn save_person(
        &self,
        before: &Person,
        after: &Person,
        audit: Option<&AuditEvent>,
    ) -> Result<Person, Error> {
        self.save_person_guarded(before, after, audit, None).await
    }

    pub(super) async fn save_person_if_org_unchanged(
        &self,
        before: &Person,
        after: &Person,
        audit: Option<&AuditEvent>,
        org_version: u64,
    ) -> Result<Person, Error> {
        self.save_person_guarded(before, after, audit, Some(org_version))
            .await
    }

    pub(super) async fn change_email(
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
        let mut items = vec![
            in_transaction(put),
            in_transaction(claim_new),
            TransactWriteItem::builder().delete(free_old).build(),
            self.audit_put(audit)?,
        ];
        items.extend(self.index_writes(Some(before), &next)?);
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

    pub(super) async fn change_username(
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
        items.extend(self.index_writes(Some(before), &next)?);
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

    pub(super) async fn person_by_sign_in_name(
        &self,
        org: &OrgId,
        name: &str,
    ) -> Result<Option<Person>, Error> {
        self.person_by_claim(org, &name_sk(name)).await
    }

    pub(super) async fn person_by_id(
        &self,
        org: &OrgId,
        id: &PersonId,
    ) -> Result<Option<Person>, Error> {
        self.person_by_claim(org, &format!("PERSONID#{id}")).await
    }

    pub(super) async fn people(
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
}
