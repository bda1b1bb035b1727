//! PostAuthentication: runs after Cognito verified the password (or the provider signed the
//! person in), and an error here fails the sign-in. So the refusals that concern one person
//! live here, where only someone who knows the password learns them: deactivated (even
//! where Cognito still has the login enabled), no licence seat, an unconfirmed new address.
//!
//! It also repairs: a login that Cognito holds but the registry lacks (its post-confirmation
//! failed for good) is recorded now while a seat is free; an invited person whose first
//! sign-in was not recorded (the record failed after Cognito accepted the new password) and
//! who now signs in with their own password is recorded as active.
//!
//! And it finishes a lazy migration: the first sign-in with a login that the user-migration
//! trigger created gives the login its role groups, deletes the legacy password hash and
//! marks the record (`shared::domain::lazy_migration::complete_lazy_migration`, where the
//! choice of this moment is explained). Not a refusal when it fails: the next sign-in
//! finishes it.
//!
//! The event is read through a small view: the typed event requires `newDeviceUsed`, which
//! emulators leave out; the answer is the event as received (its response is empty).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use shared::domain::signin::{check_organization_open, check_person};
use shared::trigger::{username, TriggerDeps, TriggerError};

const ACTOR: &str = "cognito:post-authentication";
const SOURCE: &str = "PostAuthentication_Authentication";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct View {
    trigger_source: String,
    user_pool_id: Option<String>,
    user_name: Option<String>,
    #[serde(default)]
    request: RequestView,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RequestView {
    #[serde(default)]
    user_attributes: Option<HashMap<String, String>>,
}

pub async fn handle(deps: &TriggerDeps, event: Value) -> Result<Value, TriggerError> {
    let view: View =
        serde_json::from_value(event.clone()).map_err(|e| TriggerError::Malformed {
            expected: "PostAuthentication",
            detail: e.to_string(),
        })?;
    if view.trigger_source != SOURCE {
        return Err(TriggerError::Malformed {
            expected: "PostAuthentication",
            detail: format!("its triggerSource is not {SOURCE}"),
        });
    }
    let pool_id = view.user_pool_id.as_deref().unwrap_or_default();
    let org = deps.organization(view.user_pool_id.as_deref()).await?;
    check_organization_open(&org)?;
    let username = username(view.user_name.as_deref(), "PostAuthentication")?;
    let attributes = view.request.user_attributes.unwrap_or_default();
    let person = deps
        .person_or_repair(&org, pool_id, &username, &attributes, ACTOR)
        .await?;
    check_person(Some(&person))?;
    // An invited person whose Cognito login is CONFIRMED has chosen their own password:
    // their first sign-in was not recorded when it happened.
    let person = if attributes.get("cognito:user_status").map(String::as_str) == Some("CONFIRMED") {
        deps.record_first_login_later_if_failing(&org, person, ACTOR)
            .await
    } else {
        person
    };
    deps.finish_lazy_migration(&org, pool_id, person, ACTOR)
        .await;
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::signin::Refusal;
    use shared::domain::{EmailAddress, Error, OrgStatus, PersonStatus};
    use shared::testing::{sample_event, sample_event_names, sample_org, sample_person};

    fn event() -> Value {
        sample_event("post-authentication", "authentication")
    }

    fn refusal(result: Result<Value, TriggerError>) -> Refusal {
        match result {
            Err(TriggerError::Refused(r)) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn hank(status: PersonStatus) -> shared::domain::Person {
        sample_person("hank@acme.example", "hank@acme.example", &["admin"], status)
    }

    #[tokio::test]
    async fn an_active_person_passes_with_the_event_unchanged() {
        let (deps, registry, _) = TriggerDeps::in_memory(sample_org());
        registry.insert_person(hank(PersonStatus::Active));
        assert_eq!(handle(&deps, event()).await.expect("passes"), event());
        assert_eq!(registry.calls(), ["organization_by_pool", "person"]);
    }

    #[tokio::test]
    async fn person_level_refusals_come_after_the_password() {
        let mut pending = hank(PersonStatus::Active);
        pending.pending_email = Some(EmailAddress::parse("h@acme.example").expect("valid"));
        let mut renaming = hank(PersonStatus::Active);
        renaming.pending_username = Some("henry".into());
        for (person, expected) in [
            (hank(PersonStatus::Deactivated), Refusal::Deactivated),
            (hank(PersonStatus::Unlinked), Refusal::Deactivated),
            (hank(PersonStatus::Added), Refusal::NoSeat),
            (pending, Refusal::EmailChangePending),
            (renaming, Refusal::UsernameChangePending),
        ] {
            let (deps, registry, _) = TriggerDeps::in_memory(sample_org());
            registry.insert_person(person);
            assert_eq!(refusal(handle(&deps, event()).await), expected);
        }
        let mut suspended = sample_org();
        suspended.status = OrgStatus::Suspended;
        let (deps, registry, _) = TriggerDeps::in_memory(suspended);
        registry.insert_person(hank(PersonStatus::Active));
        assert_eq!(
            refusal(handle(&deps, event()).await),
            Refusal::OrganizationUnavailable
        );
    }

    #[tokio::test]
    async fn a_login_the_registry_lacks_is_recorded_at_its_next_sign_in() {
        let (deps, registry, pools) = TriggerDeps::in_memory(sample_org());
        handle(&deps, event()).await.expect("repaired");
        let hank = registry
            .stored_person("hank@acme.example")
            .expect("recorded");
        assert_eq!(hank.status, PersonStatus::Active);
        assert_eq!(registry.audit_actions(), ["person.recorded_at_sign_in"]);
        assert_eq!(
            registry.org(&sample_org().id).expect("org").seats_used,
            1,
            "a seat"
        );
        assert_eq!(
            pools.calls(),
            ["add_to_group eu-west-1_AcmePool1 hank@acme.example member"]
        );
        // The next sign-in finds the record: nothing more happens.
        handle(&deps, event()).await.expect("passes");
        assert_eq!(registry.audit_actions().len(), 1);
    }

    #[tokio::test]
    async fn no_repair_without_a_free_seat() {
        let mut full = sample_org();
        full.seats = Some(1);
        full.seats_used = 1;
        let (deps, registry, _) = TriggerDeps::in_memory(full);
        assert_eq!(refusal(handle(&deps, event()).await), Refusal::NoSeat);
        assert!(registry.stored_person("hank@acme.example").is_none());
        assert!(registry.audit_events().is_empty());
    }

    #[tokio::test]
    async fn a_first_sign_in_missed_earlier_is_recorded_now() {
        let (deps, registry, _) = TriggerDeps::in_memory(sample_org());
        registry.insert_person(hank(PersonStatus::Invited));
        handle(&deps, event()).await.expect("passes");
        assert_eq!(
            registry
                .stored_person("hank@acme.example")
                .expect("there")
                .status,
            PersonStatus::Active
        );
        assert_eq!(registry.audit_actions(), ["person.first_login"]);
    }

    #[tokio::test]
    async fn a_registry_failure_is_backend_unavailable_not_a_refusal() {
        let (deps, registry, _) = TriggerDeps::in_memory(sample_org());
        registry.fail_writes(Some(Error::Unreachable {
            service: "DynamoDB",
            endpoint: "local".into(),
            detail: "throttled".into(),
        }));
        let err = handle(&deps, event()).await.expect_err("fails");
        assert_eq!(err.code(), "BackendUnavailable");
    }

    fn lazy(org: &mut shared::domain::Organization) {
        org.sign_in.migration = Some(shared::domain::migration::OrgMigration {
            job: "job-1".into(),
            legacy_id: "17".into(),
            mode: shared::domain::migration::MigrationMode::Lazy,
            switched: true,
        });
    }

    #[tokio::test]
    async fn the_first_sign_in_of_a_lazily_migrated_person_finishes_the_migration() {
        use shared::domain::migration::LegacyHash;
        use shared::domain::ports::LegacyPasswords;
        let mut org = sample_org();
        lazy(&mut org);
        let (deps, registry, pools) = TriggerDeps::in_memory(org.clone());
        registry.insert_person(hank(PersonStatus::Active));
        registry
            .put_legacy_hash(&org.id, "hank@acme.example", &LegacyHash::new("$2b$04$x"))
            .await
            .expect("stored");
        assert_eq!(handle(&deps, event()).await.expect("passes"), event());
        assert_eq!(
            registry
                .legacy_hash(&org.id, "hank@acme.example")
                .await
                .expect("read"),
            None,
            "the legacy hash is gone once the login has been used"
        );
        assert_eq!(
            pools.calls(),
            ["add_to_group eu-west-1_AcmePool1 hank@acme.example admin"]
        );
        assert_eq!(registry.audit_actions(), ["person.login_migrated"]);
        let hank = registry.stored_person("hank@acme.example").expect("there");
        assert!(hank.lazy_migrated_at.is_some());
        // Later sign-ins: nothing more.
        handle(&deps, event()).await.expect("passes");
        assert_eq!(pools.calls().len(), 1);
        assert_eq!(registry.audit_actions().len(), 1);
    }

    #[tokio::test]
    async fn a_login_with_another_address_gets_nothing_of_the_record_of_its_name() {
        // A lazy-migration person "hank@acme.example" with a legacy hash, and a login of the
        // same name whose address is someone else's (a self sign-up that got through
        // before, say): refused, the record and the legacy hash untouched.
        use shared::domain::migration::LegacyHash;
        use shared::domain::ports::LegacyPasswords;
        let mut org = sample_org();
        lazy(&mut org);
        let (deps, registry, pools) = TriggerDeps::in_memory(org.clone());
        let mut theirs = sample_person(
            "hank@acme.example",
            "hank.real@acme.example",
            &["admin"],
            PersonStatus::Active,
        );
        theirs.version = 2;
        registry.insert_person(theirs.clone());
        registry
            .put_legacy_hash(&org.id, "hank@acme.example", &LegacyHash::new("$2b$04$x"))
            .await
            .expect("stored");
        assert_eq!(
            refusal(handle(&deps, event()).await),
            Refusal::LoginMismatch
        );
        assert!(registry
            .legacy_hash(&org.id, "hank@acme.example")
            .await
            .expect("read")
            .is_some());
        assert_eq!(registry.stored_person("hank@acme.example"), Some(theirs));
        assert!(pools.calls().is_empty());
        assert!(registry.audit_actions().is_empty());
        // The login without an address is no more theirs.
        let mut event = event();
        event["request"]["userAttributes"]
            .as_object_mut()
            .expect("attributes")
            .remove("email");
        assert_eq!(refusal(handle(&deps, event).await), Refusal::LoginMismatch);
    }

    #[tokio::test]
    async fn a_federated_login_whose_provider_changed_its_address_is_still_its_persons() {
        // Cognito names the login `<provider>_<subject>` and maps the provider's address on
        // every sign-in: the name, which nobody else can sign up under, identifies them.
        let (deps, registry, _) = TriggerDeps::in_memory(sample_org());
        registry.insert_person(sample_person(
            "microsoft_x7kp2qm",
            "old@acme.example",
            &["member"],
            PersonStatus::Active,
        ));
        let mut federated = event();
        federated["userName"] = "Microsoft_x7Kp2Qm".into();
        federated["request"]["userAttributes"]["cognito:user_status"] = "EXTERNAL_PROVIDER".into();
        handle(&deps, federated.clone())
            .await
            .expect("their own login");
        // The same name as a native login with another address is not theirs.
        federated["request"]["userAttributes"]["cognito:user_status"] = "CONFIRMED".into();
        assert_eq!(
            refusal(handle(&deps, federated).await),
            Refusal::LoginMismatch
        );
    }

    #[tokio::test]
    async fn a_failure_to_finish_the_migration_does_not_refuse_the_sign_in() {
        let mut org = sample_org();
        lazy(&mut org);
        let (deps, registry, _) = TriggerDeps::in_memory(org);
        registry.insert_person(hank(PersonStatus::Active));
        registry.fail_writes(Some(Error::Unreachable {
            service: "DynamoDB",
            endpoint: "local".into(),
            detail: "throttled".into(),
        }));
        assert_eq!(handle(&deps, event()).await.expect("passes"), event());
        registry.fail_writes(None);
        assert!(registry
            .stored_person("hank@acme.example")
            .expect("there")
            .lazy_migrated_at
            .is_none());
        // The next sign-in finishes it.
        handle(&deps, event()).await.expect("passes");
        assert!(registry
            .stored_person("hank@acme.example")
            .expect("there")
            .lazy_migrated_at
            .is_some());
    }

    #[test]
    fn every_sample_event_is_tested_here() {
        assert_eq!(
            sample_event_names("post-authentication"),
            ["authentication"]
        );
    }
}
