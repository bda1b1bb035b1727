//! PostConfirmation: keeps the registry in step with Cognito.
//!
//! - `PostConfirmation_ConfirmSignUp` (a self sign-up confirmed, or a first federated
//!   sign-in): the person is recorded as active with the `member` role and a seat, and gets
//!   their role groups; an invited person becomes active.
//! - `PostConfirmation_ConfirmForgotPassword`: an invited person who chose a password this
//!   way becomes active.
//!
//! Cognito may call it up to three times: each change and its audit event are written in one
//! conditional transaction, so a repeat changes nothing and writes no second event.

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsPostConfirmation,
    CognitoEventUserPoolsPostConfirmationTriggerSource as Source,
};
use serde_json::Value;
use shared::domain::signin::{record_confirmation, record_first_login};
use shared::domain::EmailAddress;
use shared::trigger::{answer, parse, username, TriggerDeps, TriggerError};

const ACTOR: &str = "cognito:post-confirmation";

pub async fn handle(deps: &TriggerDeps, event: Value) -> Result<Value, TriggerError> {
    let event: CognitoEventUserPoolsPostConfirmation = parse(event, "PostConfirmation")?;
    let header = &event.cognito_event_user_pools_header;
    let pool_id = header.user_pool_id.as_deref();
    let org = deps.organization(pool_id).await?;
    let username = username(header.user_name.as_deref(), "PostConfirmation")?;
    match header.trigger_source {
        Some(Source::ConfirmSignUp) => {
            let email = event
                .request
                .user_attributes
                .get("email")
                .and_then(|e| EmailAddress::parse(e).ok())
                .ok_or_else(|| TriggerError::Malformed {
                    expected: "PostConfirmation_ConfirmSignUp",
                    detail: "it has no valid email attribute".into(),
                })?;
            let recorded =
                record_confirmation(deps.registry.as_ref(), &org, &username, &email, ACTOR).await?;
            // Groups mirror roles; adding is idempotent, so a repeated call that finds the
            // person already recorded still completes what an earlier attempt began.
            if recorded.person.status.holds_seat() {
                for role in &recorded.person.roles {
                    deps.pools
                        .add_to_group(pool_id.unwrap_or_default(), &username, role.as_str())
                        .await?;
                }
            }
        }
        Some(Source::ConfirmForgotPassword) => {
            if let Some(person) = deps.registry.person(&org.id, &username).await? {
                record_first_login(deps.registry.as_ref(), &org, person, ACTOR).await?;
            }
        }
        _ => {
            return Err(TriggerError::Malformed {
                expected: "PostConfirmation",
                detail: "its triggerSource is missing or not one this function handles".into(),
            })
        }
    }
    answer(&event)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use shared::domain::PersonStatus;
    use shared::testing::{
        sample_event, sample_event_names, sample_org, sample_person, MemoryRegistry, RecordingPools,
    };

    fn fixture() -> (TriggerDeps, Arc<MemoryRegistry>, Arc<RecordingPools>) {
        TriggerDeps::in_memory(sample_org())
    }

    #[tokio::test]
    async fn a_confirmed_sign_up_is_recorded_once_however_often_cognito_calls() {
        let (deps, registry, pools) = fixture();
        for _ in 0..3 {
            handle(&deps, sample_event("post-confirmation", "confirm-sign-up"))
                .await
                .expect("recorded");
        }
        let org = sample_org();
        let jane = registry.stored_person("jane").expect("recorded");
        assert_eq!(jane.status, PersonStatus::Active);
        assert_eq!(jane.email.as_str(), "jane@acme.example");
        assert_eq!(
            jane.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            ["member"]
        );
        let events = registry.audit_actions();
        assert_eq!(
            events,
            ["person.signed_up"],
            "one audit event for three calls"
        );
        assert_eq!(
            registry.org(&org.id).expect("org").seats_used,
            1,
            "one seat for three calls"
        );
        assert!(pools
            .calls()
            .iter()
            .all(|c| c == "add_to_group eu-west-1_AcmePool1 jane member"));
    }

    #[tokio::test]
    async fn an_invited_person_becomes_active_once() {
        let (deps, registry, _) = fixture();
        registry.insert_person(sample_person(
            "jane",
            "jane@acme.example",
            &["admin"],
            PersonStatus::Invited,
        ));
        for _ in 0..2 {
            handle(&deps, sample_event("post-confirmation", "confirm-sign-up"))
                .await
                .expect("ok");
        }
        let jane = registry.stored_person("jane").expect("there");
        assert_eq!(jane.status, PersonStatus::Active);
        let events = registry.audit_actions();
        assert_eq!(events, ["person.first_login"]);
    }

    #[tokio::test]
    async fn a_forgotten_temporary_password_replaced_counts_as_first_login() {
        let (deps, registry, _) = fixture();
        registry.insert_person(sample_person(
            "hank@acme.example",
            "hank@acme.example",
            &["admin"],
            PersonStatus::Invited,
        ));
        handle(
            &deps,
            sample_event("post-confirmation", "confirm-forgot-password"),
        )
        .await
        .expect("ok");
        let hank = registry.stored_person("hank@acme.example").expect("there");
        assert_eq!(hank.status, PersonStatus::Active);
        // An active person resetting a password changes nothing.
        handle(
            &deps,
            sample_event("post-confirmation", "confirm-forgot-password"),
        )
        .await
        .expect("ok");
        assert_eq!(registry.audit_events().len(), 1);
    }

    #[tokio::test]
    async fn a_deactivated_person_is_not_revived_by_a_confirmation() {
        let (deps, registry, _) = fixture();
        registry.insert_person(sample_person(
            "jane",
            "jane@acme.example",
            &["member"],
            PersonStatus::Deactivated,
        ));
        handle(&deps, sample_event("post-confirmation", "confirm-sign-up"))
            .await
            .expect("ok");
        let jane = registry.stored_person("jane").expect("there");
        assert_eq!(jane.status, PersonStatus::Deactivated);
        assert!(registry.audit_events().is_empty());
    }

    #[test]
    fn every_sample_event_is_tested_here() {
        assert_eq!(
            sample_event_names("post-confirmation"),
            ["confirm-forgot-password", "confirm-sign-up"]
        );
    }
}
