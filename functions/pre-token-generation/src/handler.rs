//! PreTokenGeneration: puts the organization (id and subdomain) and the person's roles into
//! the tokens. The V2 event (version "2", the pools' configuration) gets them in the ID and
//! the access token; a V1 event in the ID token. Runs on every sign-in and refresh, so a
//! person deactivated since gets no new token.
//!
//! SSO-only organizations get no token for a password sign-in: the `triggerSource`, which
//! Cognito sets, tells how the person signed in (a native login linked to a provider is
//! refused with its password, accepted through the provider). Checked here, after the
//! password, so it tells nothing to someone who does not know it.
//!
//! `TokenGeneration_NewPasswordChallenge` is where an invited person's first sign-in is
//! recorded (post-confirmation does not fire for it), and `TokenGeneration_HostedAuth` where
//! a linked invited person's first provider sign-in is. Cognito has accepted the sign-in by
//! then: a failed record is logged, not refused, and the next sign-in records it.
//!
//! The event is read through a small view of its own rather than the full typed event:
//! real events and local emulators differ in which optional parts they send, and the
//! response is written back into the event as received.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{json, Value};
use shared::domain::signin::{
    check_sign_in_method, is_federated_user, token_claims, TokenClaims, TokenSource,
};
use shared::trigger::{username, TriggerDeps, TriggerError};

const ACTOR: &str = "cognito:pre-token-generation";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct View {
    #[serde(default)]
    version: Option<String>,
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
    group_configuration: Option<Groups>,
    #[serde(default)]
    user_attributes: Option<HashMap<String, String>>,
}

/// Cognito's group configuration, sent back unchanged so that `cognito:groups` stays as it is.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Groups {
    groups_to_override: Option<Vec<String>>,
    iam_roles_to_override: Option<Vec<String>>,
    preferred_role: Option<String>,
}

pub async fn handle(deps: &TriggerDeps, mut event: Value) -> Result<Value, TriggerError> {
    let view: View =
        serde_json::from_value(event.clone()).map_err(|e| TriggerError::Malformed {
            expected: "PreTokenGeneration",
            detail: e.to_string(),
        })?;
    if !view.trigger_source.starts_with("TokenGeneration_") {
        return Err(TriggerError::Malformed {
            expected: "PreTokenGeneration",
            detail: "its triggerSource is not TokenGeneration_*".into(),
        });
    }
    let org = deps.organization(view.user_pool_id.as_deref()).await?;
    let user_name = view.user_name.as_deref();
    let username = username(user_name, "PreTokenGeneration")?;
    let attributes = view.request.user_attributes.unwrap_or_default();
    let person = deps
        .person_or_repair(
            &org,
            view.user_pool_id.as_deref().unwrap_or_default(),
            &username,
            &attributes,
            ACTOR,
        )
        .await?;
    let source = TokenSource::of(&view.trigger_source);
    let federated = is_federated_user(
        &org,
        user_name.unwrap_or_default(),
        attributes.get("cognito:user_status").map(String::as_str),
    );
    check_sign_in_method(&org, source, federated, Some(&person))?;
    let claims = token_claims(&org, Some(&person))?;
    let first_sign_in = matches!(
        view.trigger_source.as_str(),
        "TokenGeneration_NewPasswordChallenge" | "TokenGeneration_HostedAuth"
    );
    if first_sign_in {
        deps.record_first_login_later_if_failing(&org, person, ACTOR)
            .await;
    }
    let groups = view.request.group_configuration.unwrap_or_default();
    let group_override = json!({
        "groupsToOverride": groups.groups_to_override.unwrap_or_default(),
        "iamRolesToOverride": groups.iam_roles_to_override.unwrap_or_default(),
        "preferredRole": groups.preferred_role,
    });
    event["response"] = if view.version.as_deref() == Some("2") {
        v2_response(&claims, group_override)
    } else {
        v1_response(&claims, group_override)
    };
    Ok(event)
}

fn v2_response(claims: &TokenClaims, group_override: Value) -> Value {
    let add: HashMap<&str, Value> = HashMap::from([
        ("org_id", json!(claims.org_id)),
        ("org_subdomain", json!(claims.org_subdomain)),
        ("roles", json!(claims.roles)),
    ]);
    json!({
        "claimsAndScopeOverrideDetails": {
            "idTokenGeneration": { "claimsToAddOrOverride": add, "claimsToSuppress": [] },
            "accessTokenGeneration": {
                "claimsToAddOrOverride": add,
                "claimsToSuppress": [],
                "scopesToAdd": [],
                "scopesToSuppress": []
            },
            "groupOverrideDetails": group_override
        }
    })
}

/// V1 claims are strings: the roles go comma-separated.
fn v1_response(claims: &TokenClaims, group_override: Value) -> Value {
    json!({
        "claimsOverrideDetails": {
            "claimsToAddOrOverride": {
                "org_id": claims.org_id,
                "org_subdomain": claims.org_subdomain,
                "roles": claims.roles.join(","),
            },
            "claimsToSuppress": [],
            "groupOverrideDetails": group_override
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use shared::domain::PersonStatus;
    use shared::testing::{
        sample_event, sample_event_names, sample_org, sample_person, MemoryRegistry,
    };

    fn fixture(status: PersonStatus) -> (TriggerDeps, Arc<MemoryRegistry>) {
        let (deps, registry, _) = TriggerDeps::in_memory(sample_org());
        registry.insert_person(sample_person(
            "hank@acme.example",
            "hank@acme.example",
            &["admin", "billing"],
            status,
        ));
        (deps, registry)
    }

    #[tokio::test]
    async fn v2_tokens_carry_the_organization_and_roles_in_both_tokens() {
        let (deps, _) = fixture(PersonStatus::Active);
        for name in ["v2-authentication", "v2-refresh-tokens", "v2-hosted-auth"] {
            let out = handle(&deps, sample_event("pre-token-generation", name))
                .await
                .expect(name);
            let details = &out["response"]["claimsAndScopeOverrideDetails"];
            for token in ["idTokenGeneration", "accessTokenGeneration"] {
                let claims = &details[token]["claimsToAddOrOverride"];
                assert_eq!(claims["org_subdomain"], "acme", "{name} {token}");
                assert_eq!(
                    claims["org_id"],
                    sample_org().id.to_string(),
                    "{name} {token}"
                );
                assert_eq!(
                    claims["roles"],
                    json!(["admin", "billing"]),
                    "{name} {token}"
                );
            }
            assert_eq!(
                details["groupOverrideDetails"]["groupsToOverride"],
                json!(["admin"]),
                "groups kept"
            );
            assert_eq!(
                out["userName"], "hank@acme.example",
                "the event is returned whole"
            );
        }
    }

    #[tokio::test]
    async fn v1_tokens_get_string_claims() {
        let (deps, _) = fixture(PersonStatus::Active);
        let out = handle(
            &deps,
            sample_event("pre-token-generation", "v1-authentication"),
        )
        .await
        .expect("v1");
        let claims = &out["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"];
        assert_eq!(claims["roles"], "admin,billing");
        assert_eq!(claims["org_subdomain"], "acme");
    }

    #[tokio::test]
    async fn the_first_sign_in_with_a_new_password_makes_an_invited_person_active_once() {
        let (deps, registry) = fixture(PersonStatus::Invited);
        for _ in 0..3 {
            handle(
                &deps,
                sample_event("pre-token-generation", "v2-new-password-challenge"),
            )
            .await
            .expect("ok");
        }
        let hank = registry.stored_person("hank@acme.example").expect("there");
        assert_eq!(hank.status, PersonStatus::Active);
        let events = registry.audit_actions();
        assert_eq!(events, ["person.first_login"]);
    }

    #[tokio::test]
    async fn a_failed_first_login_record_does_not_refuse_the_token_and_is_recorded_later() {
        let (deps, registry) = fixture(PersonStatus::Invited);
        registry.fail_writes(Some(shared::domain::Error::Unreachable {
            service: "DynamoDB",
            endpoint: "local".into(),
            detail: "throttled".into(),
        }));
        let out = handle(
            &deps,
            sample_event("pre-token-generation", "v2-new-password-challenge"),
        )
        .await
        .expect("Cognito accepted the new password: the token is issued");
        assert_eq!(
            out["response"]["claimsAndScopeOverrideDetails"]["idTokenGeneration"]
                ["claimsToAddOrOverride"]["org_subdomain"],
            "acme"
        );
        assert_eq!(
            registry
                .stored_person("hank@acme.example")
                .expect("there")
                .status,
            PersonStatus::Invited
        );
        // The registry is back: the next sign-in's trigger call records it.
        registry.fail_writes(None);
        handle(
            &deps,
            sample_event("pre-token-generation", "v2-hosted-auth"),
        )
        .await
        .expect("ok");
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
    async fn sso_only_refuses_a_linked_native_login_signing_in_with_its_password() {
        let mut org = sample_org();
        org.sign_in.sso_only = true;
        org.sign_in.providers = vec!["Microsoft".into()];
        let (deps, registry, _) = TriggerDeps::in_memory(org);
        let mut hank = sample_person(
            "hank@acme.example",
            "hank@acme.example",
            &["admin"],
            PersonStatus::Active,
        );
        hank.identities = vec![shared::domain::LinkedIdentity {
            provider: "Microsoft".into(),
            subject: "x7Kp2Qm".into(),
        }];
        registry.insert_person(hank);
        // The login carries `identities`, which once let it through with its password.
        let mut password = sample_event("pre-token-generation", "v2-authentication");
        password["request"]["userAttributes"]["identities"] =
            r#"[{"providerName":"Microsoft","userId":"x7Kp2Qm"}]"#.into();
        let err = handle(&deps, password).await.expect_err("password refused");
        assert_eq!(err.code(), "SsoOnly");
        // Through Microsoft (the managed login), the same login gets its token.
        let mut hosted = sample_event("pre-token-generation", "v2-hosted-auth");
        hosted["request"]["userAttributes"]["identities"] =
            r#"[{"providerName":"Microsoft","userId":"x7Kp2Qm"}]"#.into();
        handle(&deps, hosted).await.expect("provider sign-in");
        // A refresh of a token issued earlier is not a sign-in.
        handle(
            &deps,
            sample_event("pre-token-generation", "v2-refresh-tokens"),
        )
        .await
        .expect("refresh");
    }

    #[tokio::test]
    async fn sso_only_with_break_glass_gives_a_password_token_to_admins_alone() {
        let mut org = sample_org();
        org.sign_in.sso_only = true;
        org.sign_in.admins_keep_password = true;
        org.sign_in.providers = vec!["Microsoft".into()];
        let linked = vec![shared::domain::LinkedIdentity {
            provider: "Microsoft".into(),
            subject: "x7Kp2Qm".into(),
        }];
        for (roles, identities, allowed) in [
            (&["admin"][..], Vec::new(), true),
            (&["admin"][..], linked.clone(), true),
            (&["member"][..], Vec::new(), false),
            (&["member"][..], linked.clone(), false),
        ] {
            let (deps, registry, _) = TriggerDeps::in_memory(org.clone());
            let mut hank = sample_person(
                "hank@acme.example",
                "hank@acme.example",
                roles,
                PersonStatus::Active,
            );
            hank.identities = identities.clone();
            registry.insert_person(hank);
            // A password, at the router's form or straight at the user pools API.
            let got = handle(
                &deps,
                sample_event("pre-token-generation", "v2-authentication"),
            )
            .await;
            assert_eq!(
                got.is_ok(),
                allowed,
                "{roles:?}, linked {}: {got:?}",
                !identities.is_empty()
            );
            // A refresh: a password sign-in from before SSO-only yields nothing more.
            let refreshed = handle(
                &deps,
                sample_event("pre-token-generation", "v2-refresh-tokens"),
            )
            .await;
            assert_eq!(
                refreshed.is_ok(),
                allowed || !identities.is_empty(),
                "refresh {roles:?}: {refreshed:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_login_the_registry_lacks_is_recorded_before_its_token() {
        let (deps, registry, _) = TriggerDeps::in_memory(sample_org());
        let out = handle(
            &deps,
            sample_event("pre-token-generation", "v2-authentication"),
        )
        .await
        .expect("repaired");
        assert_eq!(
            out["response"]["claimsAndScopeOverrideDetails"]["idTokenGeneration"]
                ["claimsToAddOrOverride"]["roles"],
            json!(["member"])
        );
        assert_eq!(registry.audit_actions(), ["person.recorded_at_sign_in"]);
    }

    #[tokio::test]
    async fn a_deactivated_person_gets_no_new_token() {
        let (deps, _) = fixture(PersonStatus::Deactivated);
        let err = handle(
            &deps,
            sample_event("pre-token-generation", "v2-refresh-tokens"),
        )
        .await
        .expect_err("refused");
        assert_eq!(err.code(), "Deactivated");
    }

    #[tokio::test]
    async fn one_registry_read_when_warm() {
        let (deps, registry) = fixture(PersonStatus::Active);
        handle(
            &deps,
            sample_event("pre-token-generation", "v2-authentication"),
        )
        .await
        .expect("cold");
        let cold = registry.calls().len();
        handle(
            &deps,
            sample_event("pre-token-generation", "v2-authentication"),
        )
        .await
        .expect("warm");
        assert_eq!(&registry.calls()[cold..], ["person"]);
    }

    #[tokio::test]
    async fn other_events_are_malformed() {
        let (deps, _) = fixture(PersonStatus::Active);
        let err = handle(&deps, sample_event("pre-signup", "sign-up"))
            .await
            .expect_err("not ours");
        assert_eq!(err.code(), "MalformedEvent");
    }

    #[test]
    fn every_sample_event_is_tested_here() {
        assert_eq!(
            sample_event_names("pre-token-generation"),
            [
                "v1-authentication",
                "v2-authentication",
                "v2-hosted-auth",
                "v2-new-password-challenge",
                "v2-refresh-tokens"
            ]
        );
    }
}
