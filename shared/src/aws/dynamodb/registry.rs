//! The [`Registry`] port, implemented by the inherent methods of each aggregate's file.

use async_trait::async_trait;

use super::DynamoRegistry;
use crate::domain::ports::{
    AuditEvent, IdempotentClaim, KeyClaim, Page, Registry, Reindexed, StoredAnswer,
};
use crate::domain::search::{PeopleCounts, PeopleQuery};
use crate::domain::{
    EmailAddress, EmailDomain, Error, LinkedIdentity, OrgId, Organization, Person, PersonId,
    Subdomain,
};

#[async_trait]
impl Registry for DynamoRegistry {
    async fn create_organization(
        &self,
        org: &Organization,
        audit: &AuditEvent,
    ) -> Result<(), Error> {
        DynamoRegistry::create_organization(self, org, audit).await
    }

    async fn attach_pool(&self, org: &Organization, pool_id: &str) -> Result<Organization, Error> {
        DynamoRegistry::attach_pool(self, org, pool_id).await
    }

    async fn save_organization(
        &self,
        org: &Organization,
        audit: Option<&AuditEvent>,
    ) -> Result<Organization, Error> {
        DynamoRegistry::save_organization(self, org, audit).await
    }

    async fn save_organization_alone(
        &self,
        org: &Organization,
        audit: &AuditEvent,
    ) -> Result<Organization, Error> {
        DynamoRegistry::save_organization_alone(self, org, audit).await
    }

    async fn save_organization_domains(
        &self,
        before: &Organization,
        org: &Organization,
        audit: &AuditEvent,
    ) -> Result<Organization, Error> {
        DynamoRegistry::save_organization_domains(self, before, org, audit).await
    }

    async fn organization(&self, id: &OrgId) -> Result<Option<Organization>, Error> {
        DynamoRegistry::organization(self, id).await
    }

    async fn organization_by_subdomain(
        &self,
        sub: &Subdomain,
    ) -> Result<Option<Organization>, Error> {
        DynamoRegistry::organization_by_subdomain(self, sub).await
    }

    async fn organization_by_pool(&self, pool_id: &str) -> Result<Option<Organization>, Error> {
        DynamoRegistry::organization_by_pool(self, pool_id).await
    }

    async fn organization_by_email_domain(
        &self,
        domain: &EmailDomain,
    ) -> Result<Option<Organization>, Error> {
        DynamoRegistry::organization_by_email_domain(self, domain).await
    }

    async fn list_organizations(&self) -> Result<Vec<Organization>, Error> {
        DynamoRegistry::list_organizations(self).await
    }

    async fn create_person(&self, person: &Person, audit: &AuditEvent) -> Result<(), Error> {
        DynamoRegistry::create_person(self, person, audit).await
    }

    async fn create_people(
        &self,
        people: &[(Person, AuditEvent)],
        seats: Option<u32>,
    ) -> Vec<Result<(), Error>> {
        DynamoRegistry::create_people(self, people, seats).await
    }

    async fn save_people(
        &self,
        changes: &[(Person, Person, AuditEvent)],
    ) -> Vec<Result<Person, Error>> {
        DynamoRegistry::save_people(self, changes).await
    }

    async fn person(&self, org: &OrgId, username: &str) -> Result<Option<Person>, Error> {
        DynamoRegistry::person(self, org, username).await
    }

    async fn person_by_email(
        &self,
        org: &OrgId,
        email: &EmailAddress,
    ) -> Result<Option<Person>, Error> {
        DynamoRegistry::person_by_email(self, org, email).await
    }

    async fn save_person(
        &self,
        before: &Person,
        after: &Person,
        audit: Option<&AuditEvent>,
    ) -> Result<Person, Error> {
        DynamoRegistry::save_person(self, before, after, audit).await
    }

    async fn save_person_if_org_unchanged(
        &self,
        before: &Person,
        after: &Person,
        audit: Option<&AuditEvent>,
        org_version: u64,
    ) -> Result<Person, Error> {
        DynamoRegistry::save_person_if_org_unchanged(self, before, after, audit, org_version).await
    }

    async fn change_email(
        &self,
        before: &Person,
        after: &Person,
        audit: &AuditEvent,
    ) -> Result<Person, Error> {
        DynamoRegistry::change_email(self, before, after, audit).await
    }

    async fn change_username(
        &self,
        before: &Person,
        after: &Person,
        audit: &AuditEvent,
    ) -> Result<Person, Error> {
        DynamoRegistry::change_username(self, before, after, audit).await
    }

    async fn person_by_sign_in_name(
        &self,
        org: &OrgId,
        name: &str,
    ) -> Result<Option<Person>, Error> {
        DynamoRegistry::person_by_sign_in_name(self, org, name).await
    }

    async fn person_by_identity(
        &self,
        org: &OrgId,
        provider: &str,
        subject: &str,
    ) -> Result<Option<Person>, Error> {
        DynamoRegistry::person_by_identity(self, org, provider, subject).await
    }

    async fn link_identity(
        &self,
        person: &Person,
        identity: &LinkedIdentity,
        audit: &AuditEvent,
    ) -> Result<Person, Error> {
        DynamoRegistry::link_identity(self, person, identity, audit).await
    }

    async fn person_by_external_id(
        &self,
        org: &OrgId,
        external_id: &str,
    ) -> Result<Option<Person>, Error> {
        DynamoRegistry::person_by_external_id(self, org, external_id).await
    }

    async fn save_directory(
        &self,
        before: &Person,
        after: &Person,
        audit: &AuditEvent,
    ) -> Result<Person, Error> {
        DynamoRegistry::save_directory(self, before, after, audit).await
    }

    async fn directory_group(
        &self,
        org: &OrgId,
        id: &str,
    ) -> Result<Option<crate::domain::scim::groups::DirectoryGroup>, Error> {
        DynamoRegistry::directory_group(self, org, id).await
    }

    async fn directory_groups(
        &self,
        org: &OrgId,
    ) -> Result<Vec<crate::domain::scim::groups::DirectoryGroup>, Error> {
        DynamoRegistry::directory_groups(self, org).await
    }

    async fn save_directory_group(
        &self,
        before: Option<&crate::domain::scim::groups::DirectoryGroup>,
        after: &crate::domain::scim::groups::DirectoryGroup,
        audit: &AuditEvent,
    ) -> Result<crate::domain::scim::groups::DirectoryGroup, Error> {
        DynamoRegistry::save_directory_group(self, before, after, audit).await
    }

    async fn delete_directory_group(
        &self,
        group: &crate::domain::scim::groups::DirectoryGroup,
        audit: &AuditEvent,
    ) -> Result<(), Error> {
        DynamoRegistry::delete_directory_group(self, group, audit).await
    }

    async fn person_by_id(&self, org: &OrgId, id: &PersonId) -> Result<Option<Person>, Error> {
        DynamoRegistry::person_by_id(self, org, id).await
    }

    async fn people(
        &self,
        org: &OrgId,
        filter: &(dyn for<'p> Fn(&'p Person) -> bool + Sync),
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Person>, Error> {
        DynamoRegistry::people(self, org, filter, cursor, limit).await
    }

    async fn find_people(
        &self,
        org: &OrgId,
        query: &PeopleQuery,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Person>, Error> {
        DynamoRegistry::find_people(self, org, query, after, limit).await
    }

    async fn people_counts(&self, org: &OrgId) -> Result<Option<PeopleCounts>, Error> {
        DynamoRegistry::people_counts(self, org).await
    }

    async fn reindex_people(&self, org: &OrgId, owned: bool) -> Result<Reindexed, Error> {
        DynamoRegistry::reindex_people(self, org, owned).await
    }

    async fn audit_page(
        &self,
        org: &OrgId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<AuditEvent>, Error> {
        DynamoRegistry::audit_page(self, org, cursor, limit).await
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
        DynamoRegistry::acquire_lease(self, org, name, holder, ttl_secs).await
    }

    async fn release_lease(&self, org: &OrgId, name: &str, holder: &str) -> Result<(), Error> {
        DynamoRegistry::release_lease(self, org, name, holder).await
    }

    async fn audit_log(&self, org: &OrgId, limit: u32) -> Result<Vec<AuditEvent>, Error> {
        DynamoRegistry::audit_log(self, org, limit).await
    }
}
