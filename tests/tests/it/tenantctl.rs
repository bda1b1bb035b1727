//! `tenantctl` as operators run it: the real binary, against moto, reading its environment.

use aws_sdk_cognitoidentityprovider::types::{
    DeletionProtectionType, PreventUserExistenceErrorTypes, UserPoolMfaType,
};
use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use integration_tests::{env_for, trigger_arn, LocalAws};
use serde_json::Value;

const TABLE: &str = "signin";

use integration_tests::tenantctl_run as run;

fn json(env: &[(String, String)], args: &[&str]) -> Value {
    integration_tests::tenantctl_json(env, args, 0)
}

/// Fails with `code`, prints a JSON error with `error_code`, and a message containing `says`.
fn refused(env: &[(String, String)], args: &[&str], code: i32, error_code: &str, says: &str) {
    let mut full = vec!["--output", "json"];
    full.extend_from_slice(args);
    let r = run(env, &full);
    assert_eq!(r.code, code, "{args:?}: {}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("a JSON error");
    assert_eq!(v["error"]["code"], error_code, "{args:?}: {v}");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(says),
        "{args:?}: {message:?} should say {says:?}"
    );
}

async fn pool_count(aws: &LocalAws) -> usize {
    aws.pool_count().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_organizations_their_lookups_and_every_refusal() {
    let aws = LocalAws::start();
    let env = aws.env(TABLE);

    let setup = json(&env, &["setup"]);
    assert_eq!(setup["table"]["created"], true);
    let again = json(&env, &["setup"]);
    assert_eq!(
        again["table"]["created"], false,
        "setup is safe to run again"
    );

    let acme = json(
        &env,
        &[
            "org",
            "create",
            "--subdomain",
            "acme",
            "--name",
            "Acme Inc",
            "--admin-email",
            "Admin@Acme.example",
            "--mfa",
            "required",
            "--seats",
            "10",
            "--email-domain",
            "acme.example",
            "--email-domain",
            "acme-corp.example",
        ],
    );
    assert_eq!(acme["created"], true);
    assert_eq!(acme["admin"]["username"], "admin@acme.example");
    assert_eq!(acme["admin"]["status"], "invited");
    let globex = json(
        &env,
        &[
            "org",
            "create",
            "--subdomain",
            "globex",
            "--name",
            "Globex",
            "--email-domain",
            "globex.example",
        ],
    );
    let acme_org = &acme["organization"];
    let globex_org = &globex["organization"];
    assert_eq!(acme_org["status"], "active");
    assert_eq!(acme_org["seats_used"], 1);
    assert_ne!(
        acme_org["cognito"]["user_pool_id"],
        globex_org["cognito"]["user_pool_id"]
    );
    assert_eq!(pool_count(&aws).await, 2);

    // Acme's pool, as Cognito (moto) has it.
    let cognito = CognitoClient::new(&aws.sdk().await);
    let pool_id = acme_org["cognito"]["user_pool_id"]
        .as_str()
        .expect("pool id");
    let pool = cognito
        .describe_user_pool()
        .user_pool_id(pool_id)
        .send()
        .await
        .expect("pool");
    let pool = pool.user_pool().expect("pool");
    assert_eq!(
        pool.deletion_protection(),
        Some(&DeletionProtectionType::Active)
    );
    let policy = pool
        .policies()
        .and_then(|p| p.password_policy())
        .expect("password policy");
    assert_eq!(policy.temporary_password_validity_days(), 7);
    assert_eq!(policy.minimum_length(), Some(12));
    let update = pool
        .user_attribute_update_settings()
        .expect("update settings");
    assert_eq!(
        update.attributes_require_verification_before_update().len(),
        1
    );
    let lambdas = pool.lambda_config().expect("triggers");
    assert_eq!(
        lambdas.pre_sign_up(),
        Some(trigger_arn("pre-signup").as_str())
    );
    assert_eq!(
        lambdas.custom_message(),
        Some(trigger_arn("custom-message").as_str())
    );
    assert_eq!(
        lambdas
            .pre_token_generation_config()
            .map(|c| c.lambda_arn()),
        Some(trigger_arn("pre-token-generation").as_str())
    );
    assert_eq!(
        pool.user_pool_tags().and_then(|t| t.get("org-id")),
        acme_org["id"].as_str().map(str::to_owned).as_ref()
    );
    assert_eq!(pool.domain(), acme_org["cognito"]["domain_prefix"].as_str());
    let mfa = cognito
        .get_user_pool_mfa_config()
        .user_pool_id(pool_id)
        .send()
        .await
        .expect("mfa");
    assert_eq!(mfa.mfa_configuration(), Some(&UserPoolMfaType::On));
    assert!(mfa
        .software_token_mfa_configuration()
        .is_some_and(|c| c.enabled()));
    let client = cognito
        .describe_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(
            acme_org["cognito"]["app_client_id"]
                .as_str()
                .expect("client id"),
        )
        .send()
        .await
        .expect("client");
    let client = client.user_pool_client().expect("client");
    assert_eq!(
        client.prevent_user_existence_errors(),
        Some(&PreventUserExistenceErrorTypes::Enabled)
    );
    assert_eq!(
        client.callback_urls(),
        ["https://acme.app.example.test/oauth/callback"]
    );
    let groups = cognito
        .list_groups()
        .user_pool_id(pool_id)
        .send()
        .await
        .expect("groups");
    let mut names: Vec<_> = groups
        .groups()
        .iter()
        .filter_map(|g| g.group_name())
        .collect();
    names.sort();
    assert_eq!(names, ["admin", "member"]);

    // The welcome mail: username, temporary password, the subdomain's login link.
    let mails = aws.sent_mails();
    assert_eq!(mails.len(), 1, "one welcome mail, for Acme's administrator");
    let body = mails[0]["body"].as_str().expect("body");
    assert_eq!(
        mails[0]["destinations"]["ToAddresses"][0],
        "admin@acme.example"
    );
    assert!(body.contains("https://acme.app.example.test/login"));
    assert!(body.contains("admin@acme.example"));
    assert!(body.contains("Temporary password"));

    // Lookups: subdomain, pool id, e-mail domain.
    let shown = json(&env, &["org", "show", "acme"]);
    assert_eq!(shown["id"], acme_org["id"]);
    let by_pool = json(
        &env,
        &[
            "org",
            "lookup",
            "--pool-id",
            globex_org["cognito"]["user_pool_id"].as_str().expect("id"),
        ],
    );
    assert_eq!(by_pool["subdomain"], "globex");
    let by_domain = json(
        &env,
        &["org", "lookup", "--email-domain", "ACME-CORP.example"],
    );
    assert_eq!(by_domain["subdomain"], "acme");
    let listed = json(&env, &["org", "list"]);
    let subs: Vec<_> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|o| o["subdomain"].clone())
        .collect();
    assert_eq!(subs, ["acme", "globex"]);

    // Refusals: clear, coded, and nothing changes.
    refused(
        &env,
        &["org", "create", "--subdomain", "acme", "--name", "Acme Two"],
        1,
        "SubdomainTaken",
        "belongs to the organization",
    );
    refused(
        &env,
        &["org", "create", "--subdomain", "auth", "--name", "Auth"],
        2,
        "ReservedSubdomain",
        "reserved",
    );
    refused(
        &env,
        &["org", "create", "--subdomain", "www", "--name", "W"],
        2,
        "ReservedSubdomain",
        "reserved",
    );
    refused(
        &env,
        &["org", "create", "--subdomain", "Acme_2", "--name", "A"],
        2,
        "InvalidSubdomain",
        "lower-case letters",
    );
    refused(
        &env,
        &["org", "create", "--subdomain", "-acme", "--name", "A"],
        2,
        "InvalidSubdomain",
        "hyphen",
    );
    refused(
        &env,
        &["org", "create", "--subdomain", "ab", "--name", "A"],
        2,
        "InvalidSubdomain",
        "3 to 63",
    );
    refused(
        &env,
        &[
            "org",
            "create",
            "--subdomain",
            "initech",
            "--name",
            "Initech",
            "--email-domain",
            "globex.example",
        ],
        1,
        "EmailDomainTaken",
        "globex.example",
    );
    refused(
        &env,
        &[
            "org",
            "create",
            "--subdomain",
            "initech",
            "--name",
            "I",
            "--admin-email",
            "nobody",
        ],
        2,
        "InvalidInput",
        "e-mail address",
    );
    refused(
        &env,
        &["org", "show", "nosuchorg"],
        1,
        "NotFound",
        "nosuchorg",
    );
    refused(
        &env,
        &["org", "lookup", "--pool-id", "us-east-1_nope"],
        1,
        "NotFound",
        "us-east-1_nope",
    );
    assert_eq!(
        pool_count(&aws).await,
        2,
        "no refused command created a pool"
    );
    assert_eq!(
        json(&env, &["org", "list"]).as_array().map(Vec::len),
        Some(2)
    );
    // The refused e-mail-domain claim left the subdomain free.
    json(
        &env,
        &[
            "org",
            "create",
            "--subdomain",
            "initech",
            "--name",
            "Initech",
        ],
    );
    assert_eq!(pool_count(&aws).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_again_changes_nothing_and_suspend_resume_are_audited() {
    let aws = LocalAws::start();
    let env = aws.env(TABLE);
    json(&env, &["setup"]);
    let args = [
        "org",
        "create",
        "--subdomain",
        "umbrella",
        "--name",
        "Umbrella",
        "--admin-email",
        "alice@umbrella.example",
    ];
    let first = json(&env, &args);
    let second = json(&env, &args);
    assert_eq!(second["created"], false);
    assert_eq!(second["organization"]["id"], first["organization"]["id"]);
    assert!(second["admin"].is_null(), "no second invitation");
    assert_eq!(pool_count(&aws).await, 1);
    assert_eq!(aws.sent_mails().len(), 1);
    // The rerun says the organization was complete, not that it resumed.
    let third = run(&env, &args);
    assert_eq!(third.code, 0);
    assert!(
        third.stderr.contains("already complete"),
        "{}",
        third.stderr
    );
    assert!(
        !third.stderr.contains("where it stopped"),
        "{}",
        third.stderr
    );
    // Without a seat limit `seats` is there, null: one shape for scripts.
    assert!(first["organization"]["seats"].is_null());
    assert!(first["organization"]
        .as_object()
        .is_some_and(|o| o.contains_key("seats")));

    let suspended = json(&env, &["org", "suspend", "umbrella"]);
    assert_eq!(suspended["status"], "suspended");
    refused(
        &env,
        &["org", "suspend", "umbrella"],
        1,
        "NotAllowed",
        "already suspended",
    );
    let resumed = json(&env, &["org", "resume", "umbrella"]);
    assert_eq!(resumed["status"], "active");

    let configured = json(
        &env,
        &[
            "org",
            "configure",
            "umbrella",
            "--self-signup",
            "on",
            "--provider",
            "Microsoft",
            "--jit",
            "on",
        ],
    );
    assert_eq!(configured["sign_in"]["self_signup"], true);
    assert_eq!(
        configured["sign_in"]["providers"],
        serde_json::json!(["Microsoft"])
    );
    assert_eq!(configured["sign_in"]["sso_only"], false);
    // Applied to the pool, with every other setting of the pool kept.
    let pool_id = configured["cognito"]["user_pool_id"]
        .as_str()
        .expect("pool")
        .to_owned();
    let cognito = CognitoClient::new(&aws.sdk().await);
    let pool = cognito
        .describe_user_pool()
        .user_pool_id(&pool_id)
        .send()
        .await
        .expect("DescribeUserPool");
    let pool = pool.user_pool().expect("pool");
    assert_eq!(
        pool.admin_create_user_config()
            .map(|c| c.allow_admin_create_user_only()),
        Some(false),
        "self sign-up is open in the pool too"
    );
    assert_eq!(
        pool.deletion_protection(),
        Some(&aws_sdk_cognitoidentityprovider::types::DeletionProtectionType::Active)
    );
    assert!(pool
        .lambda_config()
        .and_then(|l| l.post_authentication())
        .is_some_and(|arn| arn.ends_with(":post-authentication")));
    // SSO-only with no provider: refused, nothing changed.
    let refused_sso = run(
        &env,
        &[
            "org",
            "configure",
            "umbrella",
            "--sso-only",
            "on",
            "--no-providers",
        ],
    );
    assert_eq!(refused_sso.code, 2, "{}", refused_sso.stderr);
    assert!(
        refused_sso.stderr.contains("--provider"),
        "{}",
        refused_sso.stderr
    );
    let bad = run(
        &env,
        &["org", "configure", "umbrella", "--self-signup", "maybe"],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("[possible values: on, off]"),
        "{}",
        bad.stderr
    );

    let audit = json(&env, &["org", "audit", "umbrella"]);
    let actions: Vec<_> = audit
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or("").to_owned())
        .collect();
    for expected in [
        "org.created",
        "org.provisioned",
        "person.added",
        "person.activated",
        "org.suspended",
        "org.resumed",
        "org.sign_in_changed",
    ] {
        assert_eq!(
            actions.iter().filter(|a| *a == expected).count(),
            1,
            "{expected} once in {actions:?}"
        );
    }
    assert_eq!(
        actions.first().map(String::as_str),
        Some("org.sign_in_changed"),
        "newest first"
    );

    // Human output for the same commands.
    let shown = run(&env, &["org", "show", "umbrella"]);
    assert_eq!(shown.code, 0);
    assert!(
        shown.stdout.contains("Status          active"),
        "{}",
        shown.stdout
    );
    let created = run(
        &env,
        &["org", "create", "--subdomain", "stark", "--name", "Stark"],
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert!(
        created.stderr.contains("created user pool"),
        "progress is shown: {}",
        created.stderr
    );
    assert!(
        created
            .stdout
            .contains("https://stark.app.example.test/login"),
        "{}",
        created.stdout
    );

    // An operator changes the invited administrator's address: pending until confirmed.
    let changed = json(
        &env,
        &[
            "person",
            "email",
            "umbrella",
            "alice@umbrella.example",
            "alice.new@umbrella.example",
        ],
    );
    assert_eq!(changed["email"], "alice@umbrella.example", "{changed}");
    assert_eq!(
        changed["pending_email"], "alice.new@umbrella.example",
        "{changed}"
    );
    let confirm = aws.newest_mail_to("alice.new@umbrella.example");
    assert!(confirm["body"]
        .as_str()
        .unwrap_or_default()
        .contains("https://umbrella.app.example.test/confirm-email/"));
    // And her username: pending too; the one link, mailed to the address she must confirm
    // anyway, confirms both.
    let renamed = json(
        &env,
        &[
            "person",
            "username",
            "umbrella",
            "alice@umbrella.example",
            "Alice",
        ],
    );
    assert_eq!(renamed["username"], "alice@umbrella.example", "{renamed}");
    assert_eq!(renamed["pending_username"], "alice", "{renamed}");
    assert_eq!(renamed["pending_email"], "alice.new@umbrella.example");
    let confirm = aws.newest_mail_to("alice.new@umbrella.example");
    assert!(
        confirm["body"]
            .as_str()
            .unwrap_or_default()
            .contains("is to sign in as <code>alice</code>"),
        "{confirm}"
    );
    refused(
        &env,
        &[
            "person",
            "email",
            "umbrella",
            "nobody",
            "x@umbrella.example",
        ],
        1,
        "NotAllowed",
        "no person with that username",
    );
    refused(
        &env,
        &[
            "person",
            "email",
            "umbrella",
            "alice@umbrella.example",
            "not an address",
        ],
        2,
        "InvalidInput",
        "name@domain",
    );
}

#[test]
fn an_unreachable_endpoint_is_named_and_nothing_hangs() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = env_for(&endpoint, TABLE);
    let r = run(&env, &["org", "list"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains(&endpoint), "{}", r.stderr);
    assert!(r.stderr.contains("cannot reach DynamoDB"), "{}", r.stderr);
}

#[test]
fn a_missing_variable_is_named() {
    let mut env = env_for("http://127.0.0.1:9", TABLE);
    env.retain(|(k, _)| k != "PRE_SIGNUP_ARN");
    let r = run(
        &env,
        &["org", "create", "--subdomain", "acme", "--name", "Acme"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("PRE_SIGNUP_ARN"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_address_is_checked_before_anything_is_created() {
    let aws = LocalAws::start();
    let env = aws.env(TABLE);
    json(&env, &["setup"]);
    // A valid address that cannot be a username: refused up front, exit 2, nothing made.
    refused(
        &env,
        &[
            "org",
            "create",
            "--subdomain",
            "muller",
            "--name",
            "Müller",
            "--admin-email",
            "jürgen@muller.test",
        ],
        2,
        "InvalidInput",
        "administrator e-mail",
    );
    assert_eq!(pool_count(&aws).await, 0, "no pool");
    refused(&env, &["org", "show", "muller"], 1, "NotFound", "muller");
    // The same organization with a corrected address is created in full.
    let created = json(
        &env,
        &[
            "org",
            "create",
            "--subdomain",
            "muller",
            "--name",
            "Müller",
            "--admin-email",
            "juergen@muller.test",
        ],
    );
    assert_eq!(created["organization"]["status"], "active");
    // And an apostrophe, as in o'brien@, is an everyday address that works.
    let obrien = json(
        &env,
        &[
            "org",
            "create",
            "--subdomain",
            "obrien",
            "--name",
            "O'Brien",
            "--admin-email",
            "o'brien@obrien.test",
        ],
    );
    assert_eq!(obrien["admin"]["username"], "o'brien@obrien.test");
    assert_eq!(aws.mails_to("o'brien@obrien.test"), 1);
    assert_eq!(pool_count(&aws).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_names_the_first_administrator_until_one_was_invited() {
    let aws = LocalAws::start();
    let env = aws.env(TABLE);
    json(&env, &["setup"]);
    let create = |admin: Option<&'static str>| {
        let mut args = vec!["org", "create", "--subdomain", "wayne", "--name", "Wayne"];
        if let Some(admin) = admin {
            args.extend(["--admin-email", admin]);
        }
        args
    };
    // Created without an administrator, then a rerun names one: taken, audited, invited.
    let first = json(&env, &create(None));
    assert!(first["admin"].is_null(), "{first}");
    let named = json(&env, &create(Some("bruce@wayne.test")));
    assert_eq!(named["admin"]["username"], "bruce@wayne.test", "{named}");
    assert_eq!(named["organization"]["admin_email"], "bruce@wayne.test");
    assert_eq!(aws.mails_to("bruce@wayne.test"), 1);
    let audit = json(&env, &["org", "audit", "wayne"]);
    assert!(
        audit
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["action"] == "org.admin_changed"),
        "{audit}"
    );
    // Invited now: another address is refused, saying who it is and what to do instead.
    refused(
        &env,
        &create(Some("alfred@wayne.test")),
        1,
        "NotAllowed",
        "already bruce@wayne.test",
    );
    refused(
        &env,
        &create(Some("alfred@wayne.test")),
        1,
        "NotAllowed",
        "admin API",
    );
    assert_eq!(aws.mails_to("alfred@wayne.test"), 0);
    // The same address again changes nothing.
    let again = json(&env, &create(Some("bruce@wayne.test")));
    assert!(again["admin"].is_null(), "{again}");
    assert_eq!(aws.mails_to("bruce@wayne.test"), 1);
    assert_eq!(pool_count(&aws).await, 1);
}

/// The pool and its app client as Cognito describes them, and the pool's MFA setting.
async fn pool_and_client(
    cognito: &CognitoClient,
    pool_id: &str,
    client_id: &str,
) -> (
    aws_sdk_cognitoidentityprovider::types::UserPoolType,
    aws_sdk_cognitoidentityprovider::types::UserPoolClientType,
    Option<UserPoolMfaType>,
) {
    let pool = cognito
        .describe_user_pool()
        .user_pool_id(pool_id)
        .send()
        .await
        .expect("DescribeUserPool")
        .user_pool
        .expect("pool");
    let client = cognito
        .describe_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(client_id)
        .send()
        .await
        .expect("DescribeUserPoolClient")
        .user_pool_client
        .expect("client");
    let mfa = cognito
        .get_user_pool_mfa_config()
        .user_pool_id(pool_id)
        .send()
        .await
        .expect("GetUserPoolMfaConfig")
        .mfa_configuration;
    (pool, client, mfa)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configure_changes_the_pool_and_client_in_what_it_names_only() {
    let aws = LocalAws::start();
    let env = aws.env(TABLE);
    json(&env, &["setup"]);
    let created = json(
        &env,
        &[
            "org",
            "create",
            "--subdomain",
            "globex",
            "--name",
            "Globex",
            "--mfa",
            "required",
        ],
    );
    let pool_id = created["organization"]["cognito"]["user_pool_id"]
        .as_str()
        .expect("pool")
        .to_owned();
    let client_id = created["organization"]["cognito"]["app_client_id"]
        .as_str()
        .expect("client")
        .to_owned();
    let cognito = CognitoClient::new(&aws.sdk().await);
    let (pool_before, client_before, mfa_before) =
        pool_and_client(&cognito, &pool_id, &client_id).await;
    assert_eq!(
        pool_before
            .admin_create_user_config()
            .map(|c| c.allow_admin_create_user_only()),
        Some(true),
        "created closed"
    );

    json(&env, &["org", "configure", "globex", "--self-signup", "on"]);
    let (mut pool_after, mut client_after, mfa_after) =
        pool_and_client(&cognito, &pool_id, &client_id).await;
    assert_eq!(
        pool_after
            .admin_create_user_config()
            .map(|c| c.allow_admin_create_user_only()),
        Some(false),
        "self sign-up open in the pool"
    );
    // Everything else exactly as before: policies, triggers (with the V2 pre-token
    // configuration), deletion protection, verification settings, tags, tier, and the
    // client's flows, URLs and PreventUserExistenceErrors.
    pool_after.admin_create_user_config = pool_before.admin_create_user_config.clone();
    pool_after.last_modified_date = pool_before.last_modified_date;
    // moto drops UsernameConfiguration and AliasAttributes on UpdateUserPool, which cannot
    // set them (Cognito keeps them: they are fixed at creation).
    assert_eq!(
        pool_before.alias_attributes(),
        [aws_sdk_cognitoidentityprovider::types::AliasAttributeType::PreferredUsername]
    );
    pool_after.username_configuration = pool_before.username_configuration.clone();
    pool_after.alias_attributes = pool_before.alias_attributes.clone();
    assert_eq!(pool_after, pool_before);
    assert_eq!(mfa_after, mfa_before);
    assert_eq!(mfa_after, Some(UserPoolMfaType::On));
    client_after.last_modified_date = client_before.last_modified_date;
    assert_eq!(client_after, client_before);
    assert_eq!(
        client_before.supported_identity_providers(),
        ["COGNITO".to_owned()]
    );

    // SSO-only with no provider: refused before anything changes.
    refused(
        &env,
        &["org", "configure", "globex", "--sso-only", "on"],
        2,
        "InvalidInput",
        "--provider",
    );
    // SSO-only with a provider the pool does not have (yet): nobody could sign in, so it
    // is refused too, and neither the record nor the pool and client change.
    refused(
        &env,
        &[
            "org",
            "configure",
            "globex",
            "--sso-only",
            "on",
            "--provider",
            "Microsoft",
        ],
        1,
        "NotAllowed",
        "set one up first",
    );
    let shown = json(&env, &["org", "show", "globex"]);
    assert_eq!(shown["sign_in"]["sso_only"], false, "{shown}");
    assert_eq!(
        shown["sign_in"]["providers"],
        serde_json::json!([]),
        "{shown}"
    );
    let (_, client_now, _) = pool_and_client(&cognito, &pool_id, &client_id).await;
    assert_eq!(
        client_now.supported_identity_providers(),
        ["COGNITO".to_owned()],
        "the password page is still offered"
    );
    // Enabled without SSO-only: recorded, and named as not set up in the pool yet.
    let later = run(
        &env,
        &["org", "configure", "globex", "--provider", "Microsoft"],
    );
    assert_eq!(later.code, 0, "{}", later.stderr);
    assert!(
        later.stderr.contains("not yet set up in the pool"),
        "{}",
        later.stderr
    );

    // The other settings, through the same function as the admin API's PATCH.
    let shown = json(
        &env,
        &[
            "org",
            "configure",
            "globex",
            "--mfa",
            "off",
            "--primary-color",
            "#112233",
            "--display-name",
            "Globex",
            "--app-url",
            "https://portal.globex.example/",
            "--admins-keep-password",
            "on",
        ],
    );
    assert_eq!(shown["branding"]["primary_color"], "#112233", "{shown}");
    assert_eq!(shown["branding"]["display_name"], "Globex", "{shown}");
    assert_eq!(
        shown["sign_in"]["app_urls"],
        serde_json::json!(["https://portal.globex.example/"])
    );
    assert_eq!(shown["sign_in"]["admins_keep_password"], true);
    let (_, client_now, mfa) = pool_and_client(&cognito, &pool_id, &client_id).await;
    assert_eq!(mfa, Some(UserPoolMfaType::Off), "the pool's MFA follows");
    assert_eq!(
        client_now.callback_urls(),
        [
            "https://globex.app.example.test/oauth/callback".to_owned(),
            "https://portal.globex.example/".to_owned()
        ],
        "the app URLs become the client's callback URLs after the router's own"
    );
    assert!(client_now
        .logout_urls()
        .contains(&"https://portal.globex.example/".to_owned()));
    refused(
        &env,
        &["org", "configure", "globex", "--primary-color", "blue"],
        2,
        "InvalidInput",
        "#rrggbb",
    );
    refused(
        &env,
        &[
            "org",
            "configure",
            "globex",
            "--logo-url",
            "http://cdn.globex.example/l.png",
        ],
        2,
        "InvalidInput",
        "https://",
    );

    // A social provider: its client id as a flag, its secret only from the environment;
    // the pool gets the identity provider, the answer never the secret; then removed.
    let mut with_secret = env.clone();
    with_secret.push(("SSO_FACEBOOK_CLIENT_SECRET".into(), "fb-app-secret".into()));
    let fb = run(
        &with_secret,
        &[
            "--output",
            "json",
            "org",
            "configure",
            "globex",
            "--sso-client-id",
            "facebook=1234567890",
        ],
    );
    assert_eq!(fb.code, 0, "{}{}", fb.stdout, fb.stderr);
    assert!(!fb.stdout.contains("fb-app-secret") && !fb.stderr.contains("fb-app-secret"));
    let shown: Value = serde_json::from_str(&fb.stdout).expect("json");
    assert!(
        shown["sign_in"]["providers"]
            .as_array()
            .is_some_and(|p| p.contains(&Value::from("Facebook"))),
        "{shown}"
    );
    let idp = cognito
        .describe_identity_provider()
        .user_pool_id(&pool_id)
        .provider_name("Facebook")
        .send()
        .await
        .expect("Facebook in the pool");
    let idp = idp.identity_provider().expect("provider");
    assert_eq!(
        idp.provider_details()
            .and_then(|d| d.get("client_id"))
            .map(String::as_str),
        Some("1234567890")
    );
    refused(
        &env,
        &[
            "org",
            "configure",
            "globex",
            "--sso-client-id",
            "amazon=amzn1.application-oa2-client.1",
        ],
        2,
        "InvalidInput",
        "needs its client secret",
    );
    let bad = run(&env, &["org", "configure", "globex", "--no-sso", "okta"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("google, apple, facebook, amazon"),
        "{}",
        bad.stderr
    );
    json(
        &env,
        &["org", "configure", "globex", "--no-sso", "facebook"],
    );
    assert!(cognito
        .describe_identity_provider()
        .user_pool_id(&pool_id)
        .provider_name("Facebook")
        .send()
        .await
        .is_err());
}

/// The e-mail domains' proofs, looked up in a real DNS server on loopback (dnslib, from the
/// project's .venv) through `DNS_RESOLVER`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_domain_proofs_are_checked_in_dns() {
    use shared::aws::{cognito::CognitoPools, dynamodb::DynamoRegistry, secrets::SecretsManager};
    use shared::domain::ports::Registry;
    use shared::domain::settings::{apply_settings, SettingsDeps, SettingsPatch};
    use shared::domain::Subdomain;

    let aws = LocalAws::start();
    let mut env = aws.env(TABLE);
    json(&env, &["setup"]);
    json(
        &env,
        &[
            "org",
            "create",
            "--subdomain",
            "initech",
            "--name",
            "Initech",
        ],
    );
    // Its admins add an e-mail domain (as PATCH /v1/organization does): it gets a proof.
    let sdk = aws.sdk().await;
    let registry = DynamoRegistry::new(&sdk, TABLE);
    let subdomain = Subdomain::parse("initech").expect("valid");
    let org = registry
        .organization_by_subdomain(&subdomain)
        .await
        .expect("read")
        .expect("initech");
    let deps = SettingsDeps {
        registry: &registry,
        pools: &CognitoPools::new(&sdk),
        secrets: &SecretsManager::new(&sdk),
        base_domain: "app.example.test",
    };
    let patch = SettingsPatch {
        email_domains: Some(vec!["initech.example".into()]),
        ..Default::default()
    };
    let org = apply_settings(&deps, &org, &patch, "test")
        .await
        .expect("domain added")
        .organization;
    let proof = org.domain_proofs[0].clone();
    let initech_example = shared::domain::EmailDomain::parse("initech.example").expect("valid");
    assert!(
        registry
            .organization_by_email_domain(&initech_example)
            .await
            .expect("read")
            .is_none(),
        "pending: not claimed before its proof"
    );
    assert!(!org.uses_domain("initech.example"));

    let dir = integration_tests::TempDir::new("dns");
    let records = dir.0.join("records.json");
    std::fs::write(&records, "{}").expect("write");
    let port = integration_tests::free_port();
    let root = integration_tests::workspace_root();
    let _dns = integration_tests::Group::spawn(
        std::process::Command::new(root.join(".venv/bin/python"))
            .arg(root.join("tests/local/dns_server.py"))
            .arg(port.to_string())
            .arg(&records)
            .stdout(std::process::Stdio::null()),
    );
    // Ready once it holds the port.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the DNS server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    env.push(("DNS_RESOLVER".into(), format!("127.0.0.1:{port}")));

    let first = json(&env, &["org", "verify-domains", "initech"]);
    assert_eq!(first["email_domains"][0]["domain"], "initech.example");
    assert_eq!(first["email_domains"][0]["verified"], false, "{first}");
    assert!(
        first["email_domains"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("no TXT record"),
        "{first}"
    );
    // Someone else's value does not prove it; ours does.
    std::fs::write(
        &records,
        serde_json::json!({ proof.record_name(): ["signin-verification=not-this-one"] })
            .to_string(),
    )
    .expect("write");
    let wrong = json(&env, &["org", "verify-domains", "initech"]);
    assert_eq!(wrong["email_domains"][0]["verified"], false, "{wrong}");
    std::fs::write(
        &records,
        serde_json::json!({ proof.record_name(): ["v=spf1 -all", proof.record_value()] })
            .to_string(),
    )
    .expect("write");
    let proven = run(&env, &["org", "verify-domains", "initech"]);
    assert_eq!(proven.code, 0, "{}", proven.stderr);
    assert!(
        proven.stdout.contains("initech.example: proven"),
        "{}",
        proven.stdout
    );
    let org = registry
        .organization_by_subdomain(&subdomain)
        .await
        .expect("read")
        .expect("initech");
    assert!(org.domain_proofs[0].verified_at.is_some());
    assert!(org.uses_domain("initech.example"));
    assert_eq!(
        registry
            .organization_by_email_domain(&initech_example)
            .await
            .expect("read")
            .map(|o| o.id),
        Some(org.id.clone()),
        "claimed once proven"
    );
    let audit = registry.audit_log(&org.id, 5).await.expect("audit");
    assert_eq!(audit[0].action, "org.email_domains_verified");

    // An operator's domains are their word: claimed at once, recorded as such; a public
    // mail domain is refused before anything is touched (exit 2).
    refused(
        &env,
        &["org", "configure", "initech", "--email-domain", "gmail.com"],
        2,
        "PublicEmailDomain",
        "public mail",
    );
    let vouched = json(
        &env,
        &[
            "org",
            "configure",
            "initech",
            "--email-domain",
            "initech.example",
            "--email-domain",
            "initech.dev",
        ],
    );
    let proofs = vouched["domain_proofs"].as_array().expect("proofs").clone();
    assert!(
        proofs
            .iter()
            .any(|p| p["domain"] == "initech.dev" && p["by"] == "operator"),
        "{vouched}"
    );
    let dev = shared::domain::EmailDomain::parse("initech.dev").expect("valid");
    assert_eq!(
        registry
            .organization_by_email_domain(&dev)
            .await
            .expect("read")
            .map(|o| o.id),
        Some(org.id.clone())
    );
}
