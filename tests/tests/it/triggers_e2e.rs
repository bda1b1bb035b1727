//! The triggers end to end: cognito-local really invokes the functions, which run under
//! `cargo lambda watch` (the real Lambda runtime API) with the registry in DynamoDB on moto.
//! Where cognito-local cannot fire a trigger source (PreAuthentication, AdminCreateUser,
//! ExternalProvider), or ignores a trigger's answer (it logs and ignores PostAuthentication
//! errors, where Cognito fails the sign-in), the running function is invoked through the
//! same Invoke API with the event Cognito would send.

use aws_sdk_cognitoidentityprovider::types::{AttributeType, AuthFlowType, VerifiedAttributeType};
use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use base64::Engine;
use integration_tests::{free_port, CognitoLocal, Functions, LocalAws};
use serde_json::{json, Value};
use shared::aws::dynamodb::DynamoRegistry;
use shared::domain::organization::{CognitoResources, SignInSettings};
use shared::domain::ports::{AuditEvent, Registry};
use shared::domain::{
    EmailDomain, MfaMode, OrgId, OrgStatus, Organization, PersonStatus, Subdomain,
};
use shared::testing::sample_event;

const TABLE: &str = "signin";
const PASSWORD: &str = "Corr3ct-Horse-Battery";

/// Records an organization that owns `pool_id`, as provisioning would have left it.
async fn register(
    registry: &DynamoRegistry,
    subdomain: &str,
    name: &str,
    pool_id: &str,
    sign_in: SignInSettings,
) -> Organization {
    let org = Organization {
        id: OrgId::generate(),
        name: name.into(),
        subdomain: Subdomain::parse(subdomain).expect("valid"),
        status: OrgStatus::Provisioning,
        mfa: MfaMode::Off,
        seats: Some(5),
        seats_used: 0,
        email_domains: vec![EmailDomain::parse(&format!("{subdomain}.example")).expect("valid")],
        admin_email: None,
        cognito: CognitoResources::default(),
        sign_in,
        roles: shared::domain::organization::default_roles(),
        branding: Default::default(),
        domain_proofs: Vec::new(),
        scim: None,
        created_at: 0,
        updated_at: 0,
        version: 1,
    };
    let audit = AuditEvent::now(&org.id, "test", "org.created", subdomain, None);
    registry
        .create_organization(&org, &audit)
        .await
        .expect("recorded");
    let mut org = registry
        .attach_pool(&org, pool_id)
        .await
        .expect("pool attached");
    org.status = OrgStatus::Active;
    registry
        .save_organization(&org, None)
        .await
        .expect("active")
}

async fn pool_with_client(cognito: &CognitoClient, name: &str) -> (String, String) {
    let pool = cognito
        .create_user_pool()
        .pool_name(name)
        // E-mail verified by code, as every organization's pool is.
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .send()
        .await
        .expect("CreateUserPool");
    let pool_id = pool
        .user_pool()
        .and_then(|p| p.id())
        .expect("pool id")
        .to_owned();
    // The role groups provisioning creates in every pool.
    for group in shared::domain::Role::DEFAULTS {
        cognito
            .create_group()
            .user_pool_id(&pool_id)
            .group_name(group)
            .send()
            .await
            .expect("CreateGroup");
    }
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("login")
        .send()
        .await
        .expect("CreateUserPoolClient");
    let client_id = client
        .user_pool_client()
        .and_then(|c| c.client_id())
        .expect("client id")
        .to_owned();
    (pool_id, client_id)
}

fn jwt_payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Checks that Cognito refused because the trigger did. Real Cognito answers
/// UserLambdaValidationException with the trigger's message; cognito-local does the same
/// when the Invoke API reports the function error the way Lambda does (200 and
/// X-Amz-Function-Error), but `cargo lambda watch` answers a function error with HTTP 500,
/// which cognito-local reports as UnexpectedLambdaException. Either way the trigger's
/// refusal stopped Cognito; the message itself is checked by invoking the same running
/// function with the event Cognito sent.
fn refused_by_trigger<E: std::fmt::Debug>(err: E, message: &str) {
    let text = format!("{err:?}");
    let with_message = text.contains("UserLambdaValidationException") && text.contains(message);
    let through_emulator = text.contains("UnexpectedLambdaException");
    assert!(
        with_message || through_emulator,
        "not a trigger refusal: {text}"
    );
}

fn event_for(function: &str, name: &str, pool_id: &str, user_name: &str) -> Value {
    let mut event = sample_event(function, name);
    event["userPoolId"] = pool_id.into();
    event["userName"] = user_name.into();
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cognito_really_invokes_the_triggers() {
    let aws = LocalAws::start();
    let registry = DynamoRegistry::new(&aws.sdk().await, TABLE);
    registry.ensure_table().await.expect("table");

    let cognito_port = free_port();
    let mut env = aws.env(TABLE);
    env.push((
        "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER".into(),
        format!("http://127.0.0.1:{cognito_port}"),
    ));
    env.push(("ORG_CACHE_SECONDS".into(), "0".into()));
    let functions = Functions::start(&env);
    // First invocations start the functions; a malformed event also shows the error type.
    for function in [
        "pre-signup",
        "post-confirmation",
        "pre-authentication",
        "post-authentication",
        "pre-token-generation",
        "custom-message",
    ] {
        let err = functions
            .invoke(function, &json!({"not": "a cognito event"}))
            .expect_err(function);
        assert_eq!(err.error_type, "MalformedEvent", "{function}: {err:?}");
        // Cognito shows the message to the person: no serde details in it.
        assert_eq!(
            err.error_message, "Sign-in is not available at the moment: contact your administrator",
            "{function}"
        );
    }

    let local = CognitoLocal::start(
        cognito_port,
        &functions,
        &[
            ("PreSignUp", "pre-signup"),
            ("PostConfirmation", "post-confirmation"),
            ("PostAuthentication", "post-authentication"),
            ("PreTokenGeneration", "pre-token-generation"),
            ("CustomMessage", "custom-message"),
        ],
    );
    let cognito = CognitoClient::new(&local.sdk().await);
    let (acme_pool, acme_client) = pool_with_client(&cognito, "acme").await;
    let (globex_pool, globex_client) = pool_with_client(&cognito, "globex").await;
    let open_signup = SignInSettings {
        self_signup: true,
        providers: vec!["Microsoft".into()],
        jit_accounts: true,
        ..Default::default()
    };
    let acme = register(
        &registry,
        "acme",
        "Acme Corporation",
        &acme_pool,
        open_signup,
    )
    .await;
    let globex = register(
        &registry,
        "globex",
        "Globex",
        &globex_pool,
        SignInSettings::default(),
    )
    .await;

    let email = |value: &str| {
        AttributeType::builder()
            .name("email")
            .value(value)
            .build()
            .expect("attribute")
    };

    // Self sign-up refused where the organization is invitation-only.
    let refused = cognito
        .sign_up()
        .client_id(&globex_client)
        .username("mallory")
        .password(PASSWORD)
        .user_attributes(email("mallory@globex.example"))
        .send()
        .await
        .expect_err("invitation only");
    let invitation_only = "Sign-up is by invitation: ask your administrator";
    refused_by_trigger(refused, invitation_only);
    let users = cognito
        .list_users()
        .user_pool_id(&globex_pool)
        .send()
        .await
        .expect("ListUsers");
    assert!(users.users().is_empty(), "no login was created");
    let mut attempt = event_for("pre-signup", "sign-up", &globex_pool, "mallory");
    attempt["request"]["userAttributes"]["email"] = "mallory@globex.example".into();
    let err = functions
        .invoke("pre-signup", &attempt)
        .expect_err("refused");
    assert_eq!(
        (err.error_type.as_str(), err.error_message.as_str()),
        ("InvitationOnly", invitation_only)
    );

    // Self sign-up allowed where it is open, with the organization's own confirmation mail.
    let signed_up = cognito
        .sign_up()
        .client_id(&acme_client)
        .username("jane")
        .password(PASSWORD)
        .user_attributes(email("jane@acme.example"))
        .send()
        .await
        .expect("sign-up allowed");
    assert!(
        !signed_up.user_confirmed(),
        "the address is confirmed by code"
    );
    // cognito-local "delivers" by logging, and writes its log asynchronously.
    let mut log = local.log();
    for _ in 0..50 {
        if log.contains("Confirm your Acme Corporation account") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        log = local.log();
    }
    assert!(
        log.contains("Confirm your Acme Corporation account"),
        "custom subject in:\n{log}"
    );
    assert!(
        log.contains("https://acme.app.example.test/login"),
        "organization link in:\n{log}"
    );

    // Confirming reaches post-confirmation: the person is recorded once.
    let code = local
        .confirmation_code(&acme_pool, "jane")
        .expect("a confirmation code");
    cognito
        .confirm_sign_up()
        .client_id(&acme_client)
        .username("jane")
        .confirmation_code(code)
        .send()
        .await
        .expect("confirmed");
    let jane = registry
        .person(&acme.id, "jane")
        .await
        .expect("read")
        .expect("recorded by post-confirmation");
    assert_eq!(jane.status, PersonStatus::Active);
    // Cognito may call it again: the repeat changes nothing.
    let repeat = event_for("post-confirmation", "confirm-sign-up", &acme_pool, "jane");
    for _ in 0..2 {
        functions
            .invoke("post-confirmation", &repeat)
            .expect("repeat accepted");
    }
    let signed_up_events = registry
        .audit_log(&acme.id, 50)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == "person.signed_up")
        .count();
    assert_eq!(signed_up_events, 1);
    assert_eq!(
        registry
            .organization(&acme.id)
            .await
            .expect("read")
            .expect("org")
            .seats_used,
        1
    );

    // Signing in: the token carries the organization and the roles.
    let auth = cognito
        .initiate_auth()
        .client_id(&acme_client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "jane")
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .expect("signed in");
    let id_token = auth
        .authentication_result()
        .and_then(|r| r.id_token())
        .expect("id token");
    let claims = jwt_payload(id_token);
    assert_eq!(claims["org_id"], acme.id.to_string());
    assert_eq!(claims["org_subdomain"], "acme");
    assert_eq!(claims["roles"], "member");

    // An unknown username: pre-authentication passes the event through untouched, so that
    // Cognito answers "Incorrect username or password" as for a wrong password.
    let unknown = event_for("pre-authentication", "user-not-found", &acme_pool, "nobody");
    assert_eq!(
        functions
            .invoke("pre-authentication", &unknown)
            .expect("passed through"),
        unknown
    );

    // A login Cognito holds but the registry lacks (its post-confirmation failed for good):
    // recorded at its next sign-in, by post-authentication, before its token.
    cognito
        .admin_create_user()
        .user_pool_id(&acme_pool)
        .username("kim")
        .user_attributes(email("kim@acme.example"))
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .expect("AdminCreateUser");
    cognito
        .admin_set_user_password()
        .user_pool_id(&acme_pool)
        .username("kim")
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .expect("AdminSetUserPassword");
    assert!(registry
        .person(&acme.id, "kim")
        .await
        .expect("read")
        .is_none());
    let sign_in_kim = || {
        cognito
            .initiate_auth()
            .client_id(&acme_client)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", "kim")
            .auth_parameters("PASSWORD", PASSWORD)
            .send()
    };
    let auth = sign_in_kim().await.expect("signed in");
    let claims = jwt_payload(
        auth.authentication_result()
            .and_then(|r| r.id_token())
            .expect("id token"),
    );
    assert_eq!(claims["roles"], "member");
    let kim = registry
        .person(&acme.id, "kim")
        .await
        .expect("read")
        .expect("recorded at sign-in");
    assert_eq!(kim.status, PersonStatus::Active);
    let repaired = |events: Vec<AuditEvent>| {
        events
            .into_iter()
            .filter(|e| e.action == "person.recorded_at_sign_in")
            .count()
    };
    sign_in_kim().await.expect("again");
    assert_eq!(
        repaired(registry.audit_log(&acme.id, 50).await.expect("audit")),
        1,
        "recorded once"
    );

    // SSO-only: a native login linked to Microsoft (it carries `identities`) is refused
    // with its password, at the token, after Cognito checked the password.
    let mut sso = registry
        .organization(&acme.id)
        .await
        .expect("read")
        .expect("org");
    sso.sign_in.sso_only = true;
    let sso = registry.save_organization(&sso, None).await.expect("saved");
    let refused = sign_in_kim().await.expect_err("SSO only");
    refused_by_trigger(refused, "This organization signs in with single sign-on");
    let mut linked = event_for(
        "pre-token-generation",
        "v2-authentication",
        &acme_pool,
        "kim",
    );
    linked["request"]["userAttributes"]["identities"] =
        r#"[{"providerName":"Microsoft","userId":"x7Kp2Qm"}]"#.into();
    // kim's own login: her address (a login with another one is not hers at all).
    linked["request"]["userAttributes"]["email"] = "kim@acme.example".into();
    let err = functions
        .invoke("pre-token-generation", &linked)
        .expect_err("password refused");
    assert_eq!(err.error_type, "SsoOnly");
    let mut open_again = sso.clone();
    open_again.sign_in.sso_only = false;
    registry
        .save_organization(&open_again, None)
        .await
        .expect("saved");

    // A Microsoft account of any tenant claiming kim's address without verifying it is
    // neither linked to kim nor given an account.
    let mut takeover = event_for(
        "pre-signup",
        "external-provider-unverified",
        &acme_pool,
        "Microsoft_Mallory0ther7enant1d",
    );
    takeover["request"]["userAttributes"]["email"] = "kim@acme.example".into();
    let err = functions
        .invoke("pre-signup", &takeover)
        .expect_err("unverified");
    assert_eq!(err.error_type, "UnverifiedEmail");
    assert!(err.error_message.contains("ask your administrator"));
    let kim = registry
        .person(&acme.id, "kim")
        .await
        .expect("read")
        .expect("there");
    assert!(kim.identities.is_empty(), "nothing linked");

    // Deactivated in the registry: refused at sign-in, and no new token either.
    let mut deactivated = jane.clone();
    deactivated.status = PersonStatus::Deactivated;
    let audit = AuditEvent::now(&acme.id, "test", "person.deactivated", "jane", None);
    registry
        .save_person(&jane, &deactivated, Some(&audit))
        .await
        .expect("deactivated");
    // Before the password, nothing about the person is told.
    let pre_auth = event_for("pre-authentication", "authentication", &acme_pool, "jane");
    functions
        .invoke("pre-authentication", &pre_auth)
        .expect("no person-level refusal before the password");
    // After it, post-authentication refuses (cognito-local ignores its errors; Cognito
    // fails the sign-in).
    let mut post_auth = event_for("post-authentication", "authentication", &acme_pool, "jane");
    post_auth["request"]["userAttributes"]["email"] = "jane@acme.example".into();
    let err = functions
        .invoke("post-authentication", &post_auth)
        .expect_err("refused");
    assert_eq!(err.error_type, "Deactivated");
    assert_eq!(
        err.error_message,
        "This account is deactivated: ask your administrator to activate it"
    );
    let refused = cognito
        .initiate_auth()
        .client_id(&acme_client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "jane")
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .expect_err("no token for a deactivated person");
    refused_by_trigger(refused, "This account is deactivated");
    let mut token_event = event_for(
        "pre-token-generation",
        "v1-authentication",
        &acme_pool,
        "jane",
    );
    token_event["request"]["userAttributes"]["email"] = "jane@acme.example".into();
    let err = functions
        .invoke("pre-token-generation", &token_event)
        .expect_err("refused");
    assert_eq!(err.error_type, "Deactivated");

    // AdminCreateUser: active organizations only.
    let admin_create = event_for(
        "pre-signup",
        "admin-create-user",
        &globex_pool,
        "hank@globex.example",
    );
    functions
        .invoke("pre-signup", &admin_create)
        .expect("active organization");
    let mut suspended = registry
        .organization(&globex.id)
        .await
        .expect("read")
        .expect("org");
    suspended.suspend().expect("suspend");
    registry
        .save_organization(&suspended, None)
        .await
        .expect("saved");
    let err = functions
        .invoke("pre-signup", &admin_create)
        .expect_err("suspended");
    assert_eq!(err.error_type, "OrganizationUnavailable");

    // A first Microsoft sign-in with an address of the organization: created just in time.
    let external = event_for(
        "pre-signup",
        "external-provider",
        &acme_pool,
        "Microsoft_x7Kp2QmV9sLr4TnZ8wYb3Hc6Fd1Jg5Ea0Ui",
    );
    let mut external = external;
    external["request"]["userAttributes"]["email"] = "sam@acme.example".into();
    let out = functions
        .invoke("pre-signup", &external)
        .expect("just in time");
    assert_eq!(out["response"]["autoConfirmUser"], true);
    // A provider the organization has not enabled.
    let mut google = external.clone();
    google["userName"] = "Google_1093847561234".into();
    let err = functions
        .invoke("pre-signup", &google)
        .expect_err("not enabled");
    assert_eq!(err.error_type, "ProviderNotEnabled");
}
