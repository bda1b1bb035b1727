//! PreSignUp: who may get a login in the organization's pool.
//!
//! - `PreSignUp_SignUp`: self sign-up only where the organization allows it, for its e-mail
//!   domains, while a seat is free; otherwise "by invitation", whatever the reason.
//! - `PreSignUp_AdminCreateUser`: active organizations only.
//! - `PreSignUp_ExternalProvider`: enabled providers only. The provider's e-mail claim
//!   counts only when it asserts `email_verified` "true" (for Entra ID, whose `email` is not
//!   verified — the "nOAuth" takeover —, the pool maps its `xms_edov` claim onto
//!   `email_verified`); being in the organization's domains proves nothing, even through its
//!   own directory. A person with that trusted address gets the
//!   federated identity linked to their login (one account, data kept), recorded first in
//!   the registry, so that afterwards the provider's subject finds them, never the address;
//!   a new one is created just in time where the organization allows it for its domains.

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsPreSignup, CognitoEventUserPoolsPreSignupTriggerSource as Source,
};
use serde_json::Value;
use shared::domain::ports::AuditEvent;
use shared::domain::signin::{
    check_admin_create, check_self_signup, decide_federated_signup, self_signup_is_free,
    split_federated_username, FederatedClaim, FederatedSignUp, Refusal,
};
use shared::domain::{EmailAddress, LinkedIdentity};
use shared::trigger::{answer, parse, username, TriggerDeps, TriggerError};

const ACTOR: &str = "cognito:pre-signup";

pub async fn handle(deps: &TriggerDeps, event: Value) -> Result<Value, TriggerError> {
    let mut event: CognitoEventUserPoolsPreSignup = parse(event, "PreSignUp")?;
    let header = &event.cognito_event_user_pools_header;
    let org = deps.organization(header.user_pool_id.as_deref()).await?;
    let email = event
        .request
        .user_attributes
        .get("email")
        .map(String::as_str);
    match header.trigger_source {
        Some(Source::SignUp) => {
            check_self_signup(&org, email)?;
            // The registry owns sign-in names: a sign-up may not bring its own alias.
            let user_name = username(header.user_name.as_deref(), "PreSignUp_SignUp")?;
            let alias = event
                .request
                .user_attributes
                .contains_key("preferred_username");
            if alias
                || !self_signup_is_free(deps.registry.as_ref(), &org, &user_name, email).await?
            {
                return Err(Refusal::InvitationOnly.into());
            }
        }
        Some(Source::AdminCreateUser) => check_admin_create(&org)?,
        Some(Source::ExternalProvider) => {
            let user_name = header.user_name.as_deref().unwrap_or_default();
            let (provider, subject) =
                split_federated_username(user_name).ok_or_else(|| TriggerError::Malformed {
                    expected: "PreSignUp_ExternalProvider",
                    detail: "its userName is not <provider>_<subject>".into(),
                })?;
            let attributes = &event.request.user_attributes;
            let email = email.and_then(|e| EmailAddress::parse(e).ok());
            let claim = FederatedClaim {
                provider,
                subject,
                email: email.as_ref(),
                email_verified: attributes.get("email_verified").map(String::as_str)
                    == Some("true"),
            };
            let by_identity = deps
                .registry
                .person_by_identity(&org.id, provider, subject)
                .await?;
            let by_email = match (&by_identity, claim.trusted_email(&org)) {
                (None, Some(address)) => deps.registry.person_by_email(&org.id, address).await?,
                _ => None,
            };
            match decide_federated_signup(&org, &claim, by_identity.as_ref(), by_email.as_ref())? {
                FederatedSignUp::LinkTo { username, recorded } => {
                    if !recorded {
                        if let Some(person) = by_email {
                            let identity = LinkedIdentity {
                                provider: provider.to_owned(),
                                subject: subject.to_owned(),
                            };
                            let audit = AuditEvent::now(
                                &org.id,
                                ACTOR,
                                "person.identity_linked",
                                &username,
                                Some(provider.to_owned()),
                            );
                            deps.registry
                                .link_identity(&person, &identity, &audit)
                                .await?;
                        }
                    }
                    let pool_id = header.user_pool_id.as_deref().unwrap_or_default();
                    deps.pools
                        .link_provider(pool_id, &username, provider, subject)
                        .await?;
                    // The link is in place; Cognito would otherwise also create a second,
                    // federated user now. The next sign-in through the provider lands on the
                    // person's own account.
                    return Err(Refusal::LinkedSignInAgain {
                        provider: provider.to_owned(),
                    }
                    .into());
                }
                FederatedSignUp::CreateJustInTime => {
                    event.response.auto_confirm_user = true;
                    // Only reached with a trusted address.
                    event.response.auto_verify_email = true;
                }
            }
        }
        None => {
            return Err(TriggerError::Malformed {
                expected: "PreSignUp",
                detail: "it has no triggerSource".into(),
            })
        }
        Some(_) => {
            return Err(TriggerError::Malformed {
                expected: "PreSignUp",
                detail: "its triggerSource is not one this function handles".into(),
            })
        }
    }
    answer(&event)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use shared::domain::{OrgStatus, Organization, PersonStatus};
    use shared::testing::{
        sample_event, sample_event_names, sample_org, sample_person, MemoryRegistry, RecordingPools,
    };

    struct Fixture {
        deps: TriggerDeps,
        registry: Arc<MemoryRegistry>,
        pools: Arc<RecordingPools>,
    }

    fn fixture(org: Organization) -> Fixture {
        let (deps, registry, pools) = TriggerDeps::in_memory(org);
        Fixture {
            deps,
            registry,
            pools,
        }
    }

    async fn run(org: Organization, name: &str) -> Result<Value, TriggerError> {
        handle(&fixture(org).deps, sample_event("pre-signup", name)).await
    }

    fn refusal(result: Result<Value, TriggerError>) -> Refusal {
        match result {
            Err(TriggerError::Refused(r)) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn self_sign_up_is_by_invitation_by_default() {
        let r = refusal(run(sample_org(), "sign-up").await);
        assert_eq!(
            r.to_string(),
            "Sign-up is by invitation: ask your administrator"
        );
    }

    #[tokio::test]
    async fn self_sign_up_where_allowed_passes_without_auto_confirming() {
        let mut org = sample_org();
        org.sign_in.self_signup = true;
        let out = run(org.clone(), "sign-up").await.expect("allowed");
        assert_eq!(
            out["response"]["autoConfirmUser"], false,
            "the address is confirmed by code"
        );
        org.email_domains.clear();
        assert_eq!(refusal(run(org, "sign-up").await), Refusal::InvitationOnly);
    }

    #[tokio::test]
    async fn a_self_sign_up_takes_no_name_and_no_address_of_anyone_in_the_registry() {
        let mut org = sample_org();
        org.sign_in.self_signup = true;
        // The sample sign-up is "jane", jane@acme.example. Whoever holds either, in any
        // state (a record only, invited, a lazy-migration person), keeps it.
        for status in [
            PersonStatus::Added,
            PersonStatus::Invited,
            PersonStatus::Active,
            PersonStatus::Deactivated,
            PersonStatus::Unlinked,
        ] {
            let f = fixture(org.clone());
            f.registry.insert_person(sample_person(
                "jane",
                "jane.doe@acme.example",
                &["admin"],
                status,
            ));
            let r = refusal(handle(&f.deps, sample_event("pre-signup", "sign-up")).await);
            assert_eq!(r, Refusal::InvitationOnly, "username of a {status} person");
            let f = fixture(org.clone());
            f.registry.insert_person(sample_person(
                "jd",
                "jane@acme.example",
                &["member"],
                status,
            ));
            let r = refusal(handle(&f.deps, sample_event("pre-signup", "sign-up")).await);
            assert_eq!(r, Refusal::InvitationOnly, "address of a {status} person");
        }
        // Someone who signs in as "jane" after a username change.
        let f = fixture(org.clone());
        let mut renamed = sample_person("jd", "jd@acme.example", &["admin"], PersonStatus::Active);
        renamed.preferred_username = Some("jane".into());
        f.registry.insert_person(renamed);
        let r = refusal(handle(&f.deps, sample_event("pre-signup", "sign-up")).await);
        assert_eq!(r, Refusal::InvitationOnly, "a sign-in name");
        // A sign-up that brings its own sign-in alias.
        let f = fixture(org.clone());
        let mut event = sample_event("pre-signup", "sign-up");
        event["request"]["userAttributes"]["preferred_username"] = "boss".into();
        let r = refusal(handle(&f.deps, event).await);
        assert_eq!(r, Refusal::InvitationOnly, "preferred_username");
        // Names and addresses nobody has pass, in any case.
        let f = fixture(org);
        f.registry.insert_person(sample_person(
            "hank",
            "hank@acme.example",
            &["admin"],
            PersonStatus::Active,
        ));
        let mut event = sample_event("pre-signup", "sign-up");
        event["userName"] = "Jane".into();
        handle(&f.deps, event).await.expect("a free name");
        let mut event = sample_event("pre-signup", "sign-up");
        event["userName"] = "HANK".into();
        event["request"]["userAttributes"]["email"] = "h2@acme.example".into();
        assert_eq!(
            refusal(handle(&f.deps, event).await),
            Refusal::InvitationOnly,
            "usernames compare without case"
        );
    }

    #[tokio::test]
    async fn admin_create_user_needs_an_active_organization() {
        assert!(run(sample_org(), "admin-create-user").await.is_ok());
        let mut suspended = sample_org();
        suspended.status = OrgStatus::Suspended;
        assert_eq!(
            refusal(run(suspended, "admin-create-user").await),
            Refusal::OrganizationUnavailable
        );
    }

    #[tokio::test]
    async fn external_provider_must_be_enabled() {
        let r = refusal(run(sample_org(), "external-provider").await);
        assert_eq!(
            r,
            Refusal::ProviderNotEnabled {
                provider: "Microsoft".into()
            }
        );
    }

    #[tokio::test]
    async fn an_existing_person_gets_the_identity_linked_not_a_second_account() {
        let mut org = sample_org();
        org.sign_in.providers = vec!["Microsoft".into()];
        let f = fixture(org);
        f.registry.insert_person(sample_person(
            "hank",
            "hank@acme.example",
            &["admin"],
            PersonStatus::Active,
        ));
        let r = refusal(handle(&f.deps, sample_event("pre-signup", "external-provider")).await);
        assert_eq!(
            r,
            Refusal::LinkedSignInAgain {
                provider: "Microsoft".into()
            }
        );
        assert_eq!(
            f.pools.calls(),
            ["link_provider eu-west-1_AcmePool1 hank Microsoft x7Kp2QmV9sLr4TnZ8wYb3Hc6Fd1Jg5Ea0Ui"]
        );
        // Recorded before Cognito links: the subject identifies hank from now on.
        let hank = f.registry.stored_person("hank").expect("there");
        assert_eq!(hank.identities.len(), 1);
        assert!(hank.identities[0].is("Microsoft", "x7Kp2QmV9sLr4TnZ8wYb3Hc6Fd1Jg5Ea0Ui"));
        assert_eq!(f.registry.audit_actions(), ["person.identity_linked"]);
    }

    #[tokio::test]
    async fn an_unverified_address_is_never_linked_to_an_administrator() {
        // The reproduction: a Microsoft account of any tenant claims the administrator's
        // address with email_verified "false".
        let mut org = sample_org();
        org.sign_in.providers = vec!["Microsoft".into()];
        org.sign_in.jit_accounts = true;
        let f = fixture(org);
        f.registry.insert_person(sample_person(
            "hank",
            "hank@acme.example",
            &["admin"],
            PersonStatus::Active,
        ));
        let r = refusal(
            handle(
                &f.deps,
                sample_event("pre-signup", "external-provider-unverified"),
            )
            .await,
        );
        assert_eq!(
            r,
            Refusal::UnverifiedEmail {
                provider: "Microsoft".into()
            }
        );
        assert!(r.to_string().contains("ask your administrator"), "{r}");
        assert!(f.pools.calls().is_empty(), "no AdminLinkProviderForUser");
        assert!(f
            .registry
            .stored_person("hank")
            .expect("there")
            .identities
            .is_empty());
        assert!(f.registry.audit_events().is_empty());
    }

    /// The organization's own Entra ID tenant, an address in its own domain, but Entra does
    /// not say the address is verified (no `xms_edov`, so no `email_verified`): a guest or
    /// an account of another tenant can carry any address, so nobody is linked. With Entra's
    /// word (`xms_edov` true, mapped onto `email_verified`), the person is.
    #[tokio::test]
    async fn the_directory_s_address_links_only_when_entra_says_it_is_verified() {
        let mut org = sample_org();
        org.sign_in.providers = vec!["Microsoft".into()];
        org.sign_in.directory_providers = vec!["Microsoft".into()];
        org.sign_in.jit_accounts = true;
        let f = fixture(org);
        f.registry.insert_person(sample_person(
            "hank",
            "hank@acme.example",
            &["admin"],
            PersonStatus::Active,
        ));
        let mut unverified = sample_event("pre-signup", "external-provider");
        let attributes = unverified["request"]["userAttributes"]
            .as_object_mut()
            .expect("attributes");
        attributes.remove("email_verified");
        let r = refusal(handle(&f.deps, unverified.clone()).await);
        assert_eq!(r.code(), "UnverifiedEmail");
        unverified["request"]["userAttributes"]["email"] = "new@acme.example".into();
        assert_eq!(
            refusal(handle(&f.deps, unverified).await).code(),
            "UnverifiedEmail",
            "no just-in-time account either"
        );
        assert!(f.pools.calls().is_empty());
        let r = refusal(handle(&f.deps, sample_event("pre-signup", "external-provider")).await);
        assert_eq!(r.code(), "LinkedSignInAgain");
        assert_eq!(f.pools.calls().len(), 1);
    }

    #[tokio::test]
    async fn a_retried_link_finds_the_person_by_subject_not_by_address() {
        let mut org = sample_org();
        org.sign_in.providers = vec!["Microsoft".into()];
        let f = fixture(org);
        f.registry.insert_person(sample_person(
            "hank",
            "hank@acme.example",
            &["admin"],
            PersonStatus::Active,
        ));
        for _ in 0..2 {
            let r = refusal(handle(&f.deps, sample_event("pre-signup", "external-provider")).await);
            assert_eq!(r.code(), "LinkedSignInAgain");
        }
        // Same subject, the address now unverified and someone else's: still hank's link.
        let mut changed = sample_event("pre-signup", "external-provider");
        changed["request"]["userAttributes"]["email"] = "other@elsewhere.example".into();
        changed["request"]["userAttributes"]["email_verified"] = "false".into();
        let r = refusal(handle(&f.deps, changed).await);
        assert_eq!(r.code(), "LinkedSignInAgain");
        assert_eq!(f.pools.calls().len(), 3);
        assert!(f
            .pools
            .calls()
            .iter()
            .all(|c| c.contains(" hank Microsoft ")));
        assert_eq!(
            f.registry.audit_actions(),
            ["person.identity_linked"],
            "linked once in the registry"
        );
    }

    #[tokio::test]
    async fn another_identity_with_a_linked_persons_address_reaches_nothing() {
        // hank's Microsoft identity is linked. Another account (another Entra tenant's, or a
        // new one in the same tenant) that claims hank's address, even verified, gets no
        // way into hank's account, and neither does a different provider's unverified claim.
        let mut org = sample_org();
        org.sign_in.providers = vec!["Microsoft".into(), "Google".into()];
        let f = fixture(org);
        f.registry.insert_person(sample_person(
            "hank",
            "hank@acme.example",
            &["admin"],
            PersonStatus::Active,
        ));
        let r = refusal(handle(&f.deps, sample_event("pre-signup", "external-provider")).await);
        assert_eq!(r.code(), "LinkedSignInAgain");
        let linked = f.pools.calls();
        let mut other = sample_event("pre-signup", "external-provider");
        other["userName"] = "Microsoft_AnotherTenantsSubject0000000000000".into();
        assert_eq!(
            refusal(handle(&f.deps, other).await),
            Refusal::IdentityConflict {
                provider: "Microsoft".into()
            }
        );
        let mut google = sample_event("pre-signup", "external-provider");
        google["userName"] = "Google_109876543210987654321".into();
        google["request"]["userAttributes"]["email_verified"] = "false".into();
        assert_eq!(
            refusal(handle(&f.deps, google).await),
            Refusal::UnverifiedEmail {
                provider: "Google".into()
            }
        );
        assert_eq!(f.pools.calls(), linked, "nothing more was linked");
        let hank = f.registry.stored_person("hank").expect("there");
        assert_eq!(hank.identities.len(), 1);
    }

    #[tokio::test]
    async fn a_new_person_is_created_just_in_time_only_where_allowed() {
        let mut org = sample_org();
        org.sign_in.providers = vec!["microsoft".into()];
        assert_eq!(
            refusal(run(org.clone(), "external-provider").await),
            Refusal::NoInvitation
        );
        org.sign_in.jit_accounts = true;
        let out = run(org.clone(), "external-provider")
            .await
            .expect("just in time");
        assert_eq!(out["response"]["autoConfirmUser"], true);
        assert_eq!(out["response"]["autoVerifyEmail"], true);
        // Not with an address the provider does not vouch for.
        assert_eq!(
            refusal(run(org, "external-provider-unverified").await).code(),
            "UnverifiedEmail"
        );
    }

    #[tokio::test]
    async fn unknown_pools_and_malformed_events_are_errors_with_a_type() {
        let mut event = sample_event("pre-signup", "sign-up");
        event["userPoolId"] = "eu-west-1_Nobody".into();
        let f = fixture(sample_org());
        let err = handle(&f.deps, event).await.expect_err("unknown pool");
        assert_eq!(err.code(), "UnknownOrganization");
        let err = handle(&f.deps, serde_json::json!({"hello": "world"}))
            .await
            .expect_err("malformed");
        assert_eq!(err.code(), "MalformedEvent");
        let mut event = sample_event("pre-signup", "sign-up");
        event["triggerSource"] = "PreSignUp_Teleport".into();
        assert_eq!(
            handle(&f.deps, event)
                .await
                .expect_err("unknown source")
                .code(),
            "MalformedEvent"
        );
    }

    #[tokio::test]
    async fn the_organization_is_read_once_then_cached() {
        let f = fixture(sample_org());
        for _ in 0..3 {
            handle(&f.deps, sample_event("pre-signup", "admin-create-user"))
                .await
                .expect("allowed");
        }
        assert_eq!(f.registry.calls(), ["organization_by_pool"]);
    }

    #[test]
    fn every_sample_event_is_tested_here() {
        assert_eq!(
            sample_event_names("pre-signup"),
            [
                "admin-create-user",
                "external-provider",
                "external-provider-unverified",
                "sign-up"
            ]
        );
    }
}
