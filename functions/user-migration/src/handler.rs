//! UserMigration: Cognito calls it when someone signs in with a password (USER_PASSWORD_AUTH)
//! or asks for a password reset with a username that has no login in the pool. For the
//! people of a migrated organization in `lazy` mode, it answers with the login to create:
//!
//! - `UserMigration_Authentication`: the password is checked against the person's legacy
//!   hash (bcrypt, Argon2id or PBKDF2-SHA256, constant time); the login is created
//!   `CONFIRMED` with that password, so the person is signed in at once.
//! - `UserMigration_ForgotPassword`: no password to check; the login is created so that the
//!   reset proceeds, and Cognito sends its code to the verified address.
//!
//! Either way the answer carries the recorded address with `email_verified` "true", the
//! person's names, and `messageAction` SUPPRESS (no Cognito welcome message). Anything else,
//! whatever the reason (wrong password, unknown person, no legacy password, an organization
//! not migrating lazily, a person who may not sign in), is one refusal with one message, so
//! that nobody learns who exists; the reason goes to the log, without the username.
//!
//! Nothing is written here: the legacy hash is deleted, and the role groups given, by
//! post-authentication at the first sign-in with the new login (see
//! `shared::domain::lazy_migration::complete_lazy_migration` for why there).

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsMigrateUser, CognitoEventUserPoolsMigrateUserTriggerSource as Source,
};
use serde_json::Value;
use shared::domain::lazy_migration::{migrate_login, LegacyLogin, LegacyProof, MigrationFailure};
use shared::domain::signin::Refusal;
use shared::trigger::{answer, username, TriggerDeps, TriggerError};

const EXPECTED: &str = "UserMigration";

pub async fn handle(deps: &TriggerDeps, event: Value) -> Result<Value, TriggerError> {
    // Not `shared::trigger::parse`: serde's messages may quote a field's value, and this
    // event carries a password.
    let mut event: CognitoEventUserPoolsMigrateUser =
        serde_json::from_value(event).map_err(|e| TriggerError::Malformed {
            expected: EXPECTED,
            detail: format!(
                "its fields do not fit the UserMigration shape ({:?})",
                e.classify()
            ),
        })?;
    let header = &event.cognito_event_user_pools_header;
    let source = header
        .trigger_source
        .clone()
        .ok_or_else(|| TriggerError::Malformed {
            expected: EXPECTED,
            detail: "it has no triggerSource".into(),
        })?;
    let pool_id = header.user_pool_id.clone();
    let username = username(header.user_name.as_deref(), EXPECTED)?;
    let password = event
        .cognito_event_user_pools_migrate_user_request
        .password
        .take();
    let proof = match (&source, password.as_deref()) {
        (Source::Authentication, Some(password)) => LegacyProof::Password(password),
        (Source::Authentication, None) => {
            return Err(TriggerError::Malformed {
                expected: "UserMigration_Authentication",
                detail: "it has no password".into(),
            })
        }
        (Source::ForgotPassword, _) => LegacyProof::ForgotPassword,
        (_, _) => {
            return Err(TriggerError::Malformed {
                expected: EXPECTED,
                detail: "its triggerSource is not UserMigration_*".into(),
            })
        }
    };
    // An unknown pool is refused like everything else: nothing about the person is known yet.
    let org = match deps.organization(pool_id.as_deref()).await {
        Ok(org) => org,
        Err(TriggerError::Refused(_)) => return Err(Refusal::IncorrectCredentials.into()),
        Err(e) => return Err(e),
    };
    let registry = deps.registry.as_ref();
    let legacy = deps.legacy_passwords.as_ref();
    let login = match migrate_login(registry, legacy, &org, &username, proof).await {
        Ok(login) => login,
        Err(MigrationFailure::Refused(why)) => {
            tracing::info!(
                org_id = %org.id,
                reason = why.reason(),
                "lazy migration refused"
            );
            return Err(Refusal::IncorrectCredentials.into());
        }
        Err(MigrationFailure::Backend(e)) => return Err(e.into()),
    };
    tracing::info!(org_id = %org.id, source = ?source, "lazy migration: login answered");
    let response = &mut event.cognito_event_user_pools_migrate_user_response;
    response.user_attributes = attributes(&login);
    response.message_action = Some("SUPPRESS".into());
    // Signing in: the login is ready, with the password just checked. A forgotten password:
    // left to Cognito, which creates the login for the reset (the developer guide's example
    // sets no status there).
    response.final_user_status = match source {
        Source::Authentication => Some("CONFIRMED".into()),
        _ => None,
    };
    // The answer carries no password back.
    answer(&event)
}

/// The new login's attributes: standard ones only (our pools define no custom attributes,
/// and Cognito refuses an attribute that is not in the pool's schema).
fn attributes(login: &LegacyLogin) -> std::collections::HashMap<String, String> {
    let mut attributes = std::collections::HashMap::from([
        ("email".to_owned(), login.email.as_str().to_owned()),
        // Verified: the legacy store's address, and a reset code goes only to a verified one.
        ("email_verified".to_owned(), "true".to_owned()),
    ]);
    if let Some(given) = &login.given_name {
        attributes.insert("given_name".into(), given.clone());
    }
    if let Some(family) = &login.family_name {
        attributes.insert("family_name".into(), family.clone());
    }
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::migration::{LegacyHash, MigrationMode};
    use shared::domain::ports::LegacyPasswords;
    use shared::domain::{Error, OrgStatus, Organization, Person, PersonStatus, Role};
    use shared::testing::legacy_hashes::{ARGON2ID, BCRYPT, PASSWORD, PBKDF2};
    use shared::testing::{
        sample_event, sample_event_names, sample_lazy_org as lazy_org, sample_org, sample_person,
        MemoryRegistry,
    };
    use std::sync::Arc;

    /// The sample events' person: `ann` (signs in as `Ann`), a member with names.
    fn ann(status: PersonStatus) -> Person {
        let mut p = sample_person("ann", "ann@acme.example", &["member"], status);
        p.given_name = Some("Ann".into());
        p.family_name = Some("Lee".into());
        p
    }

    async fn deps_with(
        org: Organization,
        person: Option<Person>,
        hash: Option<&str>,
    ) -> (TriggerDeps, Arc<MemoryRegistry>) {
        let (deps, registry, _) = TriggerDeps::in_memory(org.clone());
        if let Some(p) = person {
            if let Some(h) = hash {
                registry
                    .put_legacy_hash(&org.id, &p.username, &LegacyHash::new(h))
                    .await
                    .expect("stored");
            }
            registry.insert_person(p);
        }
        (deps, registry)
    }

    fn authentication(password: &str) -> Value {
        let mut event = sample_event("user-migration", "authentication");
        event["request"]["password"] = password.into();
        event
    }

    fn forgot_password() -> Value {
        sample_event("user-migration", "forgot-password")
    }

    fn refused(result: Result<Value, TriggerError>) -> TriggerError {
        match result {
            Err(e @ TriggerError::Refused(Refusal::IncorrectCredentials)) => e,
            other => panic!("expected the generic refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_sample_events_have_cognitos_shape() {
        for name in sample_event_names("user-migration") {
            let event = sample_event("user-migration", &name);
            let typed: CognitoEventUserPoolsMigrateUser =
                serde_json::from_value(event.clone()).expect(&name);
            let header = &typed.cognito_event_user_pools_header;
            assert_eq!(
                header.user_pool_id.as_deref(),
                Some(shared::testing::SAMPLE_POOL)
            );
            assert_eq!(header.user_name.as_deref(), Some("Ann"));
            let request = &typed.cognito_event_user_pools_migrate_user_request;
            match name.as_str() {
                "authentication" => {
                    assert_eq!(header.trigger_source, Some(Source::Authentication));
                    assert_eq!(request.password.as_deref(), Some(PASSWORD));
                }
                "forgot-password" => {
                    assert_eq!(header.trigger_source, Some(Source::ForgotPassword));
                    assert_eq!(request.password, None, "no password in a reset");
                }
                other => panic!("untested sample event {other}"),
            }
            // Cognito sends the response with every field null.
            assert!(event["response"]
                .as_object()
                .expect("response")
                .values()
                .all(Value::is_null));
        }
    }

    #[test]
    fn every_sample_event_is_tested_here() {
        assert_eq!(
            sample_event_names("user-migration"),
            ["authentication", "forgot-password"]
        );
    }

    #[tokio::test]
    async fn the_right_password_of_each_scheme_creates_a_confirmed_login() {
        for hash in [BCRYPT, ARGON2ID, PBKDF2] {
            let (deps, registry) =
                deps_with(lazy_org(), Some(ann(PersonStatus::Active)), Some(hash)).await;
            let out = handle(&deps, authentication(PASSWORD)).await.expect(hash);
            let response = &out["response"];
            assert_eq!(response["finalUserStatus"], "CONFIRMED");
            assert_eq!(response["messageAction"], "SUPPRESS");
            assert_eq!(
                response["userAttributes"],
                serde_json::json!({
                    "email": "ann@acme.example",
                    "email_verified": "true",
                    "given_name": "Ann",
                    "family_name": "Lee"
                })
            );
            assert!(
                !out.to_string().contains(PASSWORD),
                "the answer carries no password back"
            );
            // Looked up by the lower-cased username; nothing written, the hash kept.
            assert_eq!(
                registry.calls(),
                [
                    "put_legacy_hash",
                    "organization_by_pool",
                    "person",
                    "legacy_hash",
                    "sample_legacy_hash"
                ]
            );
            assert!(registry
                .legacy_hash(&lazy_org().id, "ann")
                .await
                .expect("read")
                .is_some());
        }
    }

    #[tokio::test]
    async fn names_that_are_not_known_are_left_out() {
        let mut person = ann(PersonStatus::Active);
        person.given_name = None;
        person.family_name = None;
        let (deps, _) = deps_with(lazy_org(), Some(person), Some(BCRYPT)).await;
        let out = handle(&deps, authentication(PASSWORD)).await.expect("ok");
        assert_eq!(
            out["response"]["userAttributes"],
            serde_json::json!({"email": "ann@acme.example", "email_verified": "true"})
        );
    }

    #[tokio::test]
    async fn a_forgotten_password_migrates_without_a_password_so_the_reset_proceeds() {
        // Even for a person exported without a legacy password.
        for hash in [Some(BCRYPT), None] {
            let (deps, _) = deps_with(lazy_org(), Some(ann(PersonStatus::Active)), hash).await;
            let out = handle(&deps, forgot_password()).await.expect("migrated");
            let response = &out["response"];
            assert_eq!(response["messageAction"], "SUPPRESS");
            assert_eq!(response["userAttributes"]["email"], "ann@acme.example");
            assert_eq!(
                response["userAttributes"]["email_verified"], "true",
                "the code can go to the address"
            );
            assert!(response["finalUserStatus"].is_null(), "left to Cognito");
        }
    }

    #[tokio::test]
    async fn every_refusal_is_the_same_answer() {
        let mut messages = std::collections::BTreeSet::new();
        let mut check = |result: Result<Value, TriggerError>| {
            let err = refused(result);
            assert_eq!(err.code(), "IncorrectCredentials");
            messages.insert(lambda_runtime::Diagnostic::from(err).error_message);
        };
        // Wrong password, unknown person, no legacy password.
        let (deps, _) = deps_with(lazy_org(), Some(ann(PersonStatus::Active)), Some(BCRYPT)).await;
        check(handle(&deps, authentication("legacy-passw0rd!")).await);
        let (deps, _) = deps_with(lazy_org(), None, None).await;
        check(handle(&deps, authentication(PASSWORD)).await);
        check(handle(&deps, forgot_password()).await);
        let (deps, _) = deps_with(lazy_org(), Some(ann(PersonStatus::Active)), None).await;
        check(handle(&deps, authentication(PASSWORD)).await);
        // People who may not sign in, with the right password or resetting it.
        let mut pending = ann(PersonStatus::Active);
        pending.pending_email =
            Some(shared::domain::EmailAddress::parse("new@acme.example").expect("valid"));
        for person in [
            ann(PersonStatus::Deactivated),
            ann(PersonStatus::Added),
            ann(PersonStatus::Unlinked),
            pending,
        ] {
            let (deps, _) = deps_with(lazy_org(), Some(person), Some(BCRYPT)).await;
            check(handle(&deps, authentication(PASSWORD)).await);
            check(handle(&deps, forgot_password()).await);
        }
        // Organizations whose people are not migrated lazily now.
        let mut invite = lazy_org();
        invite.sign_in.migration.as_mut().expect("set").mode = MigrationMode::Invite;
        let mut not_switched = lazy_org();
        not_switched
            .sign_in
            .migration
            .as_mut()
            .expect("set")
            .switched = false;
        let mut suspended = lazy_org();
        suspended.status = OrgStatus::Suspended;
        let mut sso_only = lazy_org();
        sso_only.sign_in.sso_only = true;
        for org in [sample_org(), invite, not_switched, suspended, sso_only] {
            let (deps, _) = deps_with(org, Some(ann(PersonStatus::Active)), Some(BCRYPT)).await;
            check(handle(&deps, authentication(PASSWORD)).await);
            check(handle(&deps, forgot_password()).await);
        }
        // A pool that belongs to no organization.
        let (deps, _) = deps_with(lazy_org(), Some(ann(PersonStatus::Active)), Some(BCRYPT)).await;
        let mut elsewhere = authentication(PASSWORD);
        elsewhere["userPoolId"] = "eu-west-1_Unknown".into();
        check(handle(&deps, elsewhere).await);
        assert_eq!(
            messages.into_iter().collect::<Vec<_>>(),
            ["Incorrect username or password"]
        );
    }

    #[tokio::test]
    async fn sso_only_organizations_migrate_their_break_glass_admins_only() {
        let mut org = lazy_org();
        org.sign_in.sso_only = true;
        org.sign_in.admins_keep_password = true;
        let mut admin = ann(PersonStatus::Active);
        admin.roles = vec![Role::admin()];
        let (deps, _) = deps_with(org.clone(), Some(admin), Some(BCRYPT)).await;
        handle(&deps, authentication(PASSWORD))
            .await
            .expect("break-glass admin");
        let (deps, _) = deps_with(org, Some(ann(PersonStatus::Active)), Some(BCRYPT)).await;
        refused(handle(&deps, authentication(PASSWORD)).await);
    }

    #[tokio::test]
    async fn a_registry_failure_is_backend_unavailable_not_a_refusal() {
        struct Failing;
        #[async_trait::async_trait]
        impl LegacyPasswords for Failing {
            async fn put_legacy_hash(
                &self,
                _: &shared::domain::OrgId,
                _: &str,
                _: &LegacyHash,
            ) -> Result<(), Error> {
                Ok(())
            }
            async fn legacy_hash(
                &self,
                _: &shared::domain::OrgId,
                _: &str,
            ) -> Result<Option<LegacyHash>, Error> {
                Err(Error::Unreachable {
                    service: "DynamoDB",
                    endpoint: "local".into(),
                    detail: "throttled".into(),
                })
            }
            async fn delete_legacy_hash(
                &self,
                _: &shared::domain::OrgId,
                _: &str,
            ) -> Result<(), Error> {
                Ok(())
            }
            async fn sample_legacy_hash(
                &self,
                _: &shared::domain::OrgId,
            ) -> Result<Option<LegacyHash>, Error> {
                Ok(None)
            }
        }
        let (mut deps, _) = deps_with(lazy_org(), Some(ann(PersonStatus::Active)), None).await;
        deps.legacy_passwords = Arc::new(Failing);
        let err = handle(&deps, authentication(PASSWORD))
            .await
            .expect_err("fails");
        assert_eq!(err.code(), "BackendUnavailable");
    }

    #[tokio::test]
    async fn malformed_events_never_echo_their_values() {
        let (deps, _) = deps_with(lazy_org(), Some(ann(PersonStatus::Active)), Some(BCRYPT)).await;
        let mut no_password = authentication(PASSWORD);
        no_password["request"]
            .as_object_mut()
            .expect("request")
            .remove("password");
        let err = handle(&deps, no_password).await.expect_err("malformed");
        assert_eq!(err.code(), "MalformedEvent");
        let mut wrong_shape = authentication(PASSWORD);
        wrong_shape["userName"] = serde_json::json!({"secret": PASSWORD});
        let err = handle(&deps, wrong_shape).await.expect_err("malformed");
        assert_eq!(err.code(), "MalformedEvent");
        assert!(!err.detail().contains(PASSWORD), "{}", err.detail());
        let mut other = authentication(PASSWORD);
        other["triggerSource"] = "PreSignUp_SignUp".into();
        assert_eq!(
            handle(&deps, other).await.expect_err("not ours").code(),
            "MalformedEvent"
        );
    }
}
