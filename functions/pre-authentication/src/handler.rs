//! PreAuthentication: refuses, from the registry's view (not only Cognito's), a person who is
//! deactivated, has no seat, has an unconfirmed new address, or belongs to a suspended
//! organization; and password sign-in where the organization requires SSO. One registry read
//! (the person); the organization comes from the cache.

use aws_lambda_events::event::cognito::CognitoEventUserPoolsPreAuthentication;
use serde_json::Value;
use shared::domain::signin::check_authentication;
use shared::trigger::{answer, parse, username, TriggerDeps, TriggerError};

pub async fn handle(deps: &TriggerDeps, event: Value) -> Result<Value, TriggerError> {
    let event: CognitoEventUserPoolsPreAuthentication = parse(event, "PreAuthentication")?;
    let header = &event.cognito_event_user_pools_header;
    let org = deps.organization(header.user_pool_id.as_deref()).await?;
    let username = username(header.user_name.as_deref(), "PreAuthentication")?;
    let attributes = &event.request.user_attributes;
    // A federated user (or a login linked to one) carries its identities; a sign-in through
    // the provider is what SSO-only organizations allow.
    let federated = attributes.get("cognito:user_status").map(String::as_str)
        == Some("EXTERNAL_PROVIDER")
        || attributes.contains_key("identities");
    let person = deps.registry.person(&org.id, &username).await?;
    check_authentication(&org, person.as_ref(), federated)?;
    answer(&event)
}

#[cfg(test)]
mod tests {

    use super::*;
    use shared::domain::signin::Refusal;
    use shared::domain::{EmailAddress, OrgStatus, Organization, Person, PersonStatus};
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
    async fn an_active_person_signs_in_reading_the_organization_and_the_person() {
        let (result, calls) =
            sign_in(sample_org(), Some(hank(PersonStatus::Active)), event()).await;
        assert!(result.is_ok());
        assert_eq!(calls, ["organization_by_pool", "person"]);
    }

    #[tokio::test]
    async fn each_refusal_has_its_own_message() {
        let deactivated = refusal(
            sign_in(sample_org(), Some(hank(PersonStatus::Deactivated)), event())
                .await
                .0,
        );
        assert_eq!(deactivated, Refusal::Deactivated);
        let no_seat = refusal(
            sign_in(sample_org(), Some(hank(PersonStatus::Added)), event())
                .await
                .0,
        );
        assert_eq!(no_seat, Refusal::NoSeat);
        let mut pending = hank(PersonStatus::Active);
        pending.pending_email = Some(EmailAddress::parse("h@acme.example").expect("valid"));
        assert_eq!(
            refusal(sign_in(sample_org(), Some(pending), event()).await.0),
            Refusal::EmailChangePending
        );
        let mut suspended = sample_org();
        suspended.status = OrgStatus::Suspended;
        assert_eq!(
            refusal(
                sign_in(suspended, Some(hank(PersonStatus::Active)), event())
                    .await
                    .0
            ),
            Refusal::OrganizationUnavailable
        );
        let mut sso = sample_org();
        sso.sign_in.sso_only = true;
        assert_eq!(
            refusal(
                sign_in(sso.clone(), Some(hank(PersonStatus::Active)), event())
                    .await
                    .0
            ),
            Refusal::SsoOnly
        );
        let mut federated = event();
        federated["request"]["userAttributes"]["identities"] =
            r#"[{"providerName":"Microsoft","userId":"x7Kp2Qm"}]"#.into();
        assert!(sign_in(sso, Some(hank(PersonStatus::Active)), federated)
            .await
            .0
            .is_ok());
        let messages: std::collections::HashSet<String> = [
            Refusal::Deactivated,
            Refusal::NoSeat,
            Refusal::EmailChangePending,
            Refusal::OrganizationUnavailable,
            Refusal::SsoOnly,
        ]
        .iter()
        .map(|r| r.to_string())
        .collect();
        assert_eq!(messages.len(), 5);
        assert!(
            messages.iter().all(|m| !m.contains("hank")),
            "no message names the person"
        );
    }

    #[tokio::test]
    async fn a_login_unknown_to_the_registry_is_refused() {
        assert_eq!(
            refusal(sign_in(sample_org(), None, event()).await.0),
            Refusal::NoSeat
        );
    }

    #[tokio::test]
    async fn a_deactivated_person_is_refused_even_if_cognito_still_has_them_enabled() {
        // The event says CONFIRMED (Cognito's view); the registry says deactivated.
        let e = event();
        assert_eq!(
            e["request"]["userAttributes"]["cognito:user_status"],
            "CONFIRMED"
        );
        assert_eq!(
            refusal(
                sign_in(sample_org(), Some(hank(PersonStatus::Deactivated)), e)
                    .await
                    .0
            ),
            Refusal::Deactivated
        );
    }

    #[test]
    fn every_sample_event_is_tested_here() {
        assert_eq!(sample_event_names("pre-authentication"), ["authentication"]);
    }
}
