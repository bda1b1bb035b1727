//! Lazy migration end to end: cognito-local invokes the user-migration trigger, which runs
//! under `cargo lambda watch` (the real Lambda runtime API) with the registry and the legacy
//! hashes in DynamoDB on moto, on USER_PASSWORD_AUTH sign-ins. Post-authentication (which
//! finishes the migration) and pre-token-generation run the same way.
//!
//! Emulator limits, bridged or worked around here and said where:
//! - cognito-local names a migrated user by the answer's `userAttributes.username`, or else a
//!   random UUID (src/services/triggers/userMigration.ts); Cognito keeps the username the
//!   person signed in with, and refuses attributes outside the pool's schema (`username` is
//!   not one), so the function does not send it. A small relay between cognito-local and the
//!   functions adds it to the user-migration answer, as Cognito's own behaviour, and counts
//!   every invocation per function: the proof that a second sign-in no longer calls the
//!   trigger. It also answers a function error as Lambda does (200 and
//!   `X-Amz-Function-Error`), where `cargo lambda watch` answers HTTP 500, which
//!   cognito-local's SDK would retry three times: one refused sign-in, one invocation.
//! - cognito-local turns any user-migration failure into NotAuthorizedException ("Incorrect
//!   username or password"), as Cognito does for our app clients (user-existence errors
//!   prevented); the function's own error (type and message) is checked through the Invoke
//!   API with the event Cognito sends.
//! - cognito-local does not call the trigger for ForgotPassword (a TODO in its
//!   src/targets/forgotPassword.ts): `UserMigration_ForgotPassword` goes through the Invoke
//!   API.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, VerifiedAttributeType};
use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use base64::Engine;
use integration_tests::{free_port, http, CognitoLocal, Functions, LocalAws};
use serde_json::Value;
use shared::aws::dynamodb::DynamoRegistry;
use shared::domain::migration::{LegacyHash, MigrationMode, OrgMigration};
use shared::domain::organization::{CognitoResources, SignInSettings};
use shared::domain::ports::{AuditEvent, LegacyPasswords, Registry};
use shared::domain::{
    EmailAddress, EmailDomain, MfaMode, OrgId, OrgStatus, Organization, Person, PersonStatus, Role,
    Subdomain,
};
use shared::testing::sample_event;

const TABLE: &str = "signin";
// The legacy password and its hashes, made independently with Python (bcrypt at cost 4 and
// a small Argon2id: a debug build checks them quickly; the benchmark measures real costs).
const PASSWORD: &str = "Legacy-Passw0rd!";
const BCRYPT: &str = "$2b$04$71WuvCQWPAynfhlj2qe5Ne9qaf5OvlWf0Q73PpyY3sU7Dvl9N2eCq";
const ARGON2ID: &str = "$argon2id$v=19$m=8192,t=1,p=1$DO7UFf0suVUYxZLy8sREWw$WMnfU5TwMAkCJLueUXpJnSUcTGxzhi62Xtnr6tRAXtY";

/// Relays cognito-local's Lambda Invoke requests to the functions, counting them per
/// function, and names a migrated user as Cognito does (see the module's comment).
struct Relay {
    port: u16,
    invocations: Arc<Mutex<HashMap<String, usize>>>,
}

impl Relay {
    fn start(functions_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("address").port();
        let invocations = Arc::new(Mutex::new(HashMap::new()));
        let counted = invocations.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counted = counted.clone();
                std::thread::spawn(move || relay(stream, functions_port, &counted));
            }
        });
        Self { port, invocations }
    }

    fn invocations(&self, function: &str) -> usize {
        self.invocations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(function)
            .copied()
            .unwrap_or(0)
    }
}

fn relay(mut stream: TcpStream, functions_port: u16, counted: &Mutex<HashMap<String, usize>>) {
    let Some((path, body)) = read_request(&mut stream) else {
        return;
    };
    // /2015-03-31/functions/<name>/invocations
    let function = path.split('/').nth(3).unwrap_or_default().to_owned();
    *counted
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(function.clone())
        .or_default() += 1;
    let (status, headers, mut answer) = http(functions_port, "POST", &path, &body);
    if function == "user-migration" && status == 200 {
        if let (Ok(event), Ok(mut out)) = (
            serde_json::from_str::<Value>(&body),
            serde_json::from_str::<Value>(&answer),
        ) {
            if let Some(attributes) = out
                .pointer_mut("/response/userAttributes")
                .and_then(Value::as_object_mut)
                .filter(|a| !a.is_empty())
            {
                attributes.insert("username".into(), event["userName"].clone());
                answer = out.to_string();
            }
        }
    }
    // A function error: Lambda's Invoke API answers 200 with X-Amz-Function-Error, `cargo
    // lambda watch` answers 500, which cognito-local's SDK retries (three more invocations).
    let function_error = headers.iter().any(|(k, _)| k == "x-amz-function-error")
        || serde_json::from_str::<Value>(&answer).is_ok_and(|v| v.get("errorType").is_some());
    let (status, extra) = if function_error {
        (200, "X-Amz-Function-Error: Unhandled\r\n")
    } else {
        (status, "")
    };
    let reason = if status == 200 { "OK" } else { "Error" };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
}

/// One HTTP request: its path and body.
fn read_request(stream: &mut TcpStream) -> Option<(String, String)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let path = head.split_whitespace().nth(1)?.to_owned();
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while raw.len() < head_end + length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&raw[head_end..]).into_owned();
    Some((path, body))
}

/// Records a migrated organization that owns `pool_id`, as the migration leaves it.
async fn register(
    registry: &DynamoRegistry,
    subdomain: &str,
    pool_id: &str,
    mode: MigrationMode,
) -> Organization {
    let org = Organization {
        id: OrgId::generate(),
        name: format!("{subdomain} Inc"),
        subdomain: Subdomain::parse(subdomain).expect("valid"),
        status: OrgStatus::Provisioning,
        mfa: MfaMode::Off,
        seats: Some(10),
        seats_used: 0,
        email_domains: vec![EmailDomain::parse(&format!("{subdomain}.example")).expect("valid")],
        admin_email: None,
        cognito: CognitoResources::default(),
        sign_in: SignInSettings {
            migration: Some(OrgMigration {
                job: "job-e2e".into(),
                legacy_id: subdomain.into(),
                mode,
                switched: true,
            }),
            ..Default::default()
        },
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

/// A legacy person as the migration records them in lazy mode: active, with a seat, no
/// login, and their legacy hash kept.
async fn import(
    registry: &DynamoRegistry,
    org: &Organization,
    username: &str,
    roles: &[&str],
    hash: Option<&str>,
) -> Person {
    let mut person = Person::new(
        org.id.clone(),
        username.into(),
        EmailAddress::parse(&format!("{username}@{}.example", org.subdomain)).expect("valid"),
        roles
            .iter()
            .map(|r| Role::parse(r).expect("role"))
            .collect(),
        PersonStatus::Active,
    );
    person.given_name = Some(format!("{username}-given"));
    let audit = AuditEvent::now(&org.id, "test", "person.imported", username, None);
    registry
        .create_person(&person, &audit)
        .await
        .expect("recorded");
    if let Some(hash) = hash {
        registry
            .put_legacy_hash(&org.id, username, &LegacyHash::new(hash))
            .await
            .expect("hash kept");
    }
    person
}

async fn pool_with_client(cognito: &CognitoClient, name: &str) -> (String, String) {
    let pool = cognito
        .create_user_pool()
        .pool_name(name)
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .send()
        .await
        .expect("CreateUserPool");
    let pool_id = pool
        .user_pool()
        .and_then(|p| p.id())
        .expect("pool id")
        .to_owned();
    for group in Role::DEFAULTS {
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

async fn login_exists(cognito: &CognitoClient, pool_id: &str, username: &str) -> bool {
    cognito
        .admin_get_user()
        .user_pool_id(pool_id)
        .username(username)
        .send()
        .await
        .is_ok()
}

async fn groups_of(cognito: &CognitoClient, pool_id: &str, username: &str) -> Vec<String> {
    let mut groups: Vec<String> = cognito
        .admin_list_groups_for_user()
        .user_pool_id(pool_id)
        .username(username)
        .send()
        .await
        .expect("AdminListGroupsForUser")
        .groups()
        .iter()
        .filter_map(|g| g.group_name().map(str::to_owned))
        .collect();
    groups.sort();
    groups
}

fn migration_event(source: &str, pool_id: &str, user_name: &str, password: Option<&str>) -> Value {
    let mut event = sample_event("user-migration", source);
    event["userPoolId"] = pool_id.into();
    event["userName"] = user_name.into();
    if let Some(password) = password {
        event["request"]["password"] = password.into();
    }
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_people_move_at_their_first_sign_in() {
    let aws = LocalAws::start();
    let registry = DynamoRegistry::new(&aws.sdk().await, TABLE);
    registry.ensure_table().await.expect("table");

    let cognito_port = free_port();
    let mut env = aws.env(TABLE);
    // Post-authentication gives the new login its role groups in cognito-local.
    env.push((
        "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER".into(),
        format!("http://127.0.0.1:{cognito_port}"),
    ));
    env.push(("ORG_CACHE_SECONDS".into(), "0".into()));
    let functions = Functions::start(&env);
    // First invocations start the functions (built on demand by `cargo lambda watch`).
    for function in [
        "user-migration",
        "post-authentication",
        "pre-token-generation",
    ] {
        let err = functions
            .invoke(function, &serde_json::json!({"not": "a cognito event"}))
            .expect_err(function);
        assert_eq!(err.error_type, "MalformedEvent", "{function}");
    }
    let relay = Relay::start(functions.port);
    let local = CognitoLocal::start_invoking(
        cognito_port,
        relay.port,
        &[
            ("UserMigration", "user-migration"),
            ("PostAuthentication", "post-authentication"),
            ("PreTokenGeneration", "pre-token-generation"),
        ],
    );
    let cognito = CognitoClient::new(&local.sdk().await);
    let (lazy_pool, lazy_client) = pool_with_client(&cognito, "lazyco").await;
    let (invite_pool, invite_client) = pool_with_client(&cognito, "inviteco").await;
    let lazy = register(&registry, "lazyco", &lazy_pool, MigrationMode::Lazy).await;
    let invite = register(&registry, "inviteco", &invite_pool, MigrationMode::Invite).await;
    import(&registry, &lazy, "ann", &["admin", "member"], Some(BCRYPT)).await;
    import(&registry, &lazy, "bob", &["member"], Some(ARGON2ID)).await;
    import(&registry, &invite, "carl", &["member"], Some(BCRYPT)).await;
    let seats = registry
        .organization(&lazy.id)
        .await
        .expect("read")
        .expect("org")
        .seats_used;
    assert_eq!(seats, 2, "seats are counted at import");

    let sign_in = |client: &str, username: &str, password: &str| {
        cognito
            .initiate_auth()
            .client_id(client)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password)
            .send()
    };

    // Ann (bcrypt): her legacy password signs her in at once, with a token of her
    // organization and roles.
    assert!(!login_exists(&cognito, &lazy_pool, "ann").await);
    let auth = sign_in(&lazy_client, "ann", PASSWORD)
        .await
        .expect("signed in with the legacy password");
    let claims = jwt_payload(
        auth.authentication_result()
            .and_then(|r| r.id_token())
            .expect("id token"),
    );
    assert_eq!(claims["org_id"], lazy.id.to_string());
    assert_eq!(relay.invocations("user-migration"), 1);
    // The login exists, confirmed, with her address verified and her roles as groups; the
    // legacy hash is gone and the record says when she moved.
    let user = cognito
        .admin_get_user()
        .user_pool_id(&lazy_pool)
        .username("ann")
        .send()
        .await
        .expect("a login now");
    assert_eq!(user.user_status().map(|s| s.as_str()), Some("CONFIRMED"));
    let attribute = |name: &str| {
        user.user_attributes()
            .iter()
            .find(|a| a.name() == name)
            .and_then(|a| a.value())
            .map(str::to_owned)
    };
    assert_eq!(attribute("email").as_deref(), Some("ann@lazyco.example"));
    assert_eq!(attribute("email_verified").as_deref(), Some("true"));
    assert_eq!(attribute("given_name").as_deref(), Some("ann-given"));
    assert_eq!(
        groups_of(&cognito, &lazy_pool, "ann").await,
        ["admin", "member"]
    );
    assert_eq!(
        registry.legacy_hash(&lazy.id, "ann").await.expect("read"),
        None,
        "the hash is deleted once the login has been used"
    );
    let ann = registry
        .person(&lazy.id, "ann")
        .await
        .expect("read")
        .expect("there");
    assert!(ann.lazy_migrated_at.is_some());
    assert_eq!(ann.status, PersonStatus::Active);
    let migrated_events = registry
        .audit_log(&lazy.id, 50)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == "person.login_migrated")
        .count();
    assert_eq!(migrated_events, 1);

    // Her second sign-in uses the Cognito login: the trigger is not called again.
    sign_in(&lazy_client, "ann", PASSWORD)
        .await
        .expect("signed in again");
    assert_eq!(relay.invocations("user-migration"), 1, "not called again");
    assert_eq!(
        registry
            .organization(&lazy.id)
            .await
            .expect("read")
            .expect("org")
            .seats_used,
        2,
        "no seat moved"
    );

    // Bob (Argon2id): a wrong password is refused and creates nothing; then his own works.
    let refused = sign_in(&lazy_client, "bob", "legacy-passw0rd!")
        .await
        .expect_err("wrong password");
    assert!(
        format!("{refused:?}").contains("NotAuthorizedException"),
        "{refused:?}"
    );
    assert_eq!(relay.invocations("user-migration"), 2);
    assert!(!login_exists(&cognito, &lazy_pool, "bob").await);
    assert!(registry
        .legacy_hash(&lazy.id, "bob")
        .await
        .expect("read")
        .is_some());
    sign_in(&lazy_client, "bob", PASSWORD)
        .await
        .expect("signed in with the Argon2id password");
    assert_eq!(relay.invocations("user-migration"), 3);
    assert_eq!(groups_of(&cognito, &lazy_pool, "bob").await, ["member"]);
    assert_eq!(
        registry.legacy_hash(&lazy.id, "bob").await.expect("read"),
        None
    );

    // Carl's organization migrated in invite mode: his legacy password is refused and no
    // login is created. So is a stranger in the lazy organization.
    sign_in(&invite_client, "carl", PASSWORD)
        .await
        .expect_err("not a lazy organization");
    assert!(!login_exists(&cognito, &invite_pool, "carl").await);
    sign_in(&lazy_client, "mallory", PASSWORD)
        .await
        .expect_err("unknown");
    assert!(!login_exists(&cognito, &lazy_pool, "mallory").await);
    assert_eq!(relay.invocations("user-migration"), 5);

    // What the function itself answers, for each refusal: one type and one message, the
    // words Cognito uses for a wrong password.
    for (pool, user, password) in [
        (&invite_pool, "carl", PASSWORD),
        (&lazy_pool, "mallory", PASSWORD),
        (&lazy_pool, "dana", "anything"),
    ] {
        let err = functions
            .invoke(
                "user-migration",
                &migration_event("authentication", pool, user, Some(password)),
            )
            .expect_err("refused");
        assert_eq!(
            (err.error_type.as_str(), err.error_message.as_str()),
            ("IncorrectCredentials", "Incorrect username or password"),
            "{user}"
        );
    }

    // A forgotten password (through the Invoke API: cognito-local does not migrate there):
    // Dana, exported without a legacy password, gets a login created for the reset, with her
    // verified address for the code and no Cognito message.
    import(&registry, &lazy, "dana", &["member"], None).await;
    let out = functions
        .invoke(
            "user-migration",
            &migration_event("forgot-password", &lazy_pool, "dana", None),
        )
        .expect("the reset proceeds");
    assert_eq!(
        out["response"]["userAttributes"]["email"],
        "dana@lazyco.example"
    );
    assert_eq!(out["response"]["userAttributes"]["email_verified"], "true");
    assert_eq!(out["response"]["messageAction"], "SUPPRESS");
    let err = functions
        .invoke(
            "user-migration",
            &migration_event("forgot-password", &invite_pool, "carl", None),
        )
        .expect_err("not a lazy organization");
    assert_eq!(err.error_type, "IncorrectCredentials");
}
