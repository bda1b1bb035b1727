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
use shared::domain::signin::{
    is_federated_user, record_confirmation, record_first_login, split_federated_username, Refusal,
    SignUpKind,
};
use shared::domain::{EmailAddress, Error};
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
            // A federated first sign-in (`<provider>_<subject>`, EXTERNAL_PROVIDER): the
            // organization's `jit.role` is for its directory provider's accounts only.
            let status = event
                .request
                .user_attributes
                .get("cognito:user_status")
                .map(String::as_str);
            let user_name = header.user_name.as_deref().unwrap_or_default();
            let kind = if is_federated_user(&org, user_name, status) {
                SignUpKind::Federated {
                    directory: split_federated_username(user_name)
                        .is_some_and(|(provider, _)| org.sign_in.bound_to_directory(provider)),
                }
            } else {
                SignUpKind::Password
            };
            let recorded =
                record_confirmation(deps.registry.as_ref(), &org, &username, &email, kind, ACTOR)
                    .await
                    .map_err(|e| match e {
                        Error::LoginOfAnotherPerson { .. } => {
                            TriggerError::from(Refusal::LoginMismatch)
                        }
                        e => e.into(),
                    })?;
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
    async fn a_record_of_that_name_with_another_address_is_not_the_logins() {
        // A login "jane" confirmed for jane@acme.example; the registry's jane (a lazy
        // migration person, say) has another address: not bound, not activated, no roles.
        let (deps, registry, pools) = fixture();
        let mut theirs = sample_person(
            "jane",
            "jane.doe@acme.example",
            &["admin"],
            PersonStatus::Invited,
        );
        theirs.version = 3;
        registry.insert_person(theirs.clone());
        let result = handle(&deps, sample_event("post-confirmation", "confirm-sign-up")).await;
        match result {
            Err(TriggerError::Refused(Refusal::LoginMismatch)) => {}
            other => panic!("expected LoginMismatch, got {other:?}"),
        }
        assert_eq!(registry.stored_person("jane"), Some(theirs), "unchanged");
        assert!(
            pools.calls().is_empty(),
            "no role groups: {:?}",
            pools.calls()
        );
        assert!(registry.audit_actions().is_empty());
    }

    #[tokio::test]
    async fn the_jit_role_is_for_the_directory_providers_accounts_only() {
        let mut org = sample_org();
        org.roles
            .push(shared::domain::Role::parse("staff").expect("role"));
        org.sign_in.jit_role = Some("staff".into());
        org.sign_in.jit_accounts = true;
        org.sign_in.providers = vec!["Microsoft".into(), "Google".into()];
        org.sign_in.directory_providers = vec!["Microsoft".into()];
        let federated = |name: &str| {
            let mut event = sample_event("post-confirmation", "confirm-sign-up");
            event["userName"] = name.into();
            event["request"]["userAttributes"]["cognito:user_status"] = "EXTERNAL_PROVIDER".into();
            event["request"]["userAttributes"]["email"] =
                format!("{}@acme.example", name.to_ascii_lowercase()).into();
            event
        };
        let roles_of = |registry: &MemoryRegistry, name: &str| -> Vec<String> {
            registry
                .stored_person(name)
                .expect("recorded")
                .roles
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect()
        };
        let (deps, registry, _) = TriggerDeps::in_memory(org);
        handle(&deps, federated("Microsoft_abc"))
            .await
            .expect("jit");
        assert_eq!(roles_of(&registry, "microsoft_abc"), ["staff"]);
        handle(&deps, federated("Google_def")).await.expect("jit");
        assert_eq!(roles_of(&registry, "google_def"), ["member"]);
        // A password sign-up named like a provider's account is a password sign-up.
        let mut event = federated("Microsoft_ghi");
        event["request"]["userAttributes"]["cognito:user_status"] = "CONFIRMED".into();
        handle(&deps, event).await.expect("signed up");
        assert_eq!(roles_of(&registry, "microsoft_ghi"), ["member"]);
        handle(&deps, sample_event("post-confirmation", "confirm-sign-up"))
            .await
            .expect("signed up");
        assert_eq!(roles_of(&registry, "jane"), ["member"]);
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
