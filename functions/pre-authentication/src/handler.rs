//! PreAuthentication: runs before Cognito checks the password, and (our app clients prevent
//! user-existence errors) for unknown usernames too, with `request.userNotFound` true. So it
//! refuses only what any visitor may learn: a suspended organization, whoever asks. An
//! unknown username is passed through untouched, so that Cognito answers "Incorrect username
//! or password" as for a wrong password. Person-level refusals (deactivated, no licence, an
//! unconfirmed new address) come after the password, in post-authentication; SSO-only is
//! enforced where the token is issued, by how the person signed in (pre-token-generation).
//! No registry read beyond the cached organization.

use aws_lambda_events::event::cognito::CognitoEventUserPoolsPreAuthentication;
use serde_json::Value;
use shared::domain::signin::check_organization_open;
use shared::trigger::{parse, user_not_found, TriggerDeps, TriggerError};

pub async fn handle(deps: &TriggerDeps, event: Value) -> Result<Value, TriggerError> {
    let unknown_user = user_not_found(&event);
    let typed: CognitoEventUserPoolsPreAuthentication = parse(event.clone(), "PreAuthentication")?;
    let header = &typed.cognito_event_user_pools_header;
    let org = deps.organization(header.user_pool_id.as_deref()).await?;
    // The same answer for every username, known or not.
    check_organization_open(&org)?;
    if unknown_user {
        tracing::debug!("pre-authentication for an unknown username: passed through");
    }
    // The event as Cognito sent it: its response is empty.
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::signin::Refusal;
    use shared::domain::{OrgStatus, Organization, Person, PersonStatus};
    use shared::testing::{sample_event, sample_event_names, sample_org, sample_person};

    fn hank(status: PersonStatus) -> Person {
        sample_person("hank@acme.example", "hank@acme.example", &["admin"], status)
    }

    async fn sign_in(
        org: Organization,
        person: Option<Person>,
        event: Value,
    ) -> (Result<Value, TriggerError>, Vec<&'static str>) {
        let (deps, registry, _) = TriggerDeps::in_memory(org);
        if let Some(p) = person {
            registry.insert_person(p);
        }
        let result = handle(&deps, event).await;
        (result, registry.calls())
    }

    fn refusal(result: Result<Value, TriggerError>) -> Refusal {
        match result {
            Err(TriggerError::Refused(r)) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn event() -> Value {
        sample_event("pre-authentication", "authentication")
    }

    #[tokio::test]
    async fn a_sign_in_reads_only_the_organization() {
        let (result, calls) =
            sign_in(sample_org(), Some(hank(PersonStatus::Active)), event()).await;
        assert_eq!(
            result.expect("passed"),
            event(),
            "the event comes back unchanged"
        );
        assert_eq!(calls, ["organization_by_pool"]);
    }

    #[tokio::test]
    async fn an_unknown_username_is_passed_through_unchanged() {
        // Before: refused with "no licence", an answer Cognito never gives for a wrong
        // password, so a stranger could tell existing usernames apart.
        let unknown = sample_event("pre-authentication", "user-not-found");
        assert_eq!(unknown["request"]["userNotFound"], true);
        let (result, calls) = sign_in(sample_org(), None, unknown.clone()).await;
        assert_eq!(result.expect("passed through"), unknown);
        assert_eq!(calls, ["organization_by_pool"], "no person is looked up");
    }

    #[tokio::test]
    async fn person_level_states_are_not_revealed_before_the_password() {
        let mut pending = hank(PersonStatus::Active);
        pending.pending_email =
            Some(shared::domain::EmailAddress::parse("h@acme.example").expect("valid"));
        for person in [
            hank(PersonStatus::Deactivated),
            hank(PersonStatus::Added),
            hank(PersonStatus::Unlinked),
            pending,
        ] {
            let (result, _) = sign_in(sample_org(), Some(person.clone()), event()).await;
            assert!(
                result.is_ok(),
                "{:?}: checked after the password",
                person.status
            );
        }
    }

    #[tokio::test]
    async fn a_suspended_organization_is_refused_for_every_username() {
        let mut suspended = sample_org();
        suspended.status = OrgStatus::Suspended;
        for e in [
            event(),
            sample_event("pre-authentication", "user-not-found"),
        ] {
            assert_eq!(
                refusal(sign_in(suspended.clone(), None, e).await.0),
                Refusal::OrganizationUnavailable
            );
        }
    }

    #[tokio::test]
    async fn sso_only_is_not_decided_here_by_the_identities_attribute() {
        // A native login linked to Microsoft carries `identities`; whether it may sign in is
        // decided by how it signs in, at the token (pre-token-generation).
        let mut sso = sample_org();
        sso.sign_in.sso_only = true;
        sso.sign_in.providers = vec!["Microsoft".into()];
        let mut linked = event();
        linked["request"]["userAttributes"]["identities"] =
            r#"[{"providerName":"Microsoft","userId":"x7Kp2Qm"}]"#.into();
        let (plain, _) = sign_in(sso.clone(), Some(hank(PersonStatus::Active)), event()).await;
        let (with_identities, _) = sign_in(sso, Some(hank(PersonStatus::Active)), linked).await;
        assert_eq!(
            plain.is_ok(),
            with_identities.is_ok(),
            "the attribute changes nothing"
        );
    }

    #[test]
    fn every_sample_event_is_tested_here() {
        assert_eq!(
            sample_event_names("pre-authentication"),
            ["authentication", "user-not-found"]
        );
    }
}
