//! Provisioning against moto, in process: a run that dies at any step is finished by running
//! it again, with exactly one user pool, one seat and a welcome mail whose password works.
//!
//! The "crash" wraps the real Cognito adapter and the real mailer: the AWS call really
//! happens, then the run stops as if the process had died right after it.

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType};
use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use integration_tests::{prepared_adapters, trigger_arns, LocalAws};
use shared::aws::cognito::CognitoPools;
use shared::aws::dynamodb::DynamoRegistry;
use shared::aws::ses::SesMailer;
use shared::domain::mail::MailContent;
use shared::domain::ports::{
    AuditEvent, ClientSpec, Mailer, NewLogin, PoolSpec, Registry, TriggerArns, UserPools,
};
use shared::domain::provisioning::{ProvisionRequest, Provisioning};
use shared::domain::{EmailAddress, Error, MfaMode, OrgStatus, PersonStatus};

const BASE_DOMAIN: &str = "app.example.test";

/// Where a simulated crash happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crash {
    /// After the organization is recorded, before any pool exists.
    BeforePool,
    /// After CreateUserPool succeeded, before the pool id is recorded.
    AfterPoolCreated,
    /// After the app client exists, before its id is recorded.
    AfterAppClient,
    /// After the OAuth domain exists, before it is recorded.
    AfterDomain,
    /// After the administrator's login exists, before the welcome mail.
    AfterLogin,
    /// After the welcome mail left, before it is recorded as sent.
    AfterMail,
    /// No crash: only the latency (see `CrashingPools::latency`).
    Never,
}

const ALL_CRASHES: [Crash; 6] = [
    Crash::BeforePool,
    Crash::AfterPoolCreated,
    Crash::AfterAppClient,
    Crash::AfterDomain,
    Crash::AfterLogin,
    Crash::AfterMail,
];

fn crashed() -> Error {
    Error::Aws {
        service: "test",
        operation: "crash",
        detail: "simulated process death".into(),
    }
}

struct CrashingPools<'a> {
    real: &'a CognitoPools,
    crash: Crash,
    /// Added before every pool-level call: moto answers in a millisecond, Cognito in about
    /// a hundred, and races between two runs only show at Cognito's pace.
    latency: std::time::Duration,
}

impl CrashingPools<'_> {
    async fn pace(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
}

#[async_trait]
impl UserPools for CrashingPools<'_> {
    async fn find_pool_by_name(&self, name: &str) -> Result<Option<String>, Error> {
        self.pace().await;
        self.real.find_pool_by_name(name).await
    }
    async fn pool_org_tag(&self, pool_id: &str) -> Result<Option<String>, Error> {
        self.pace().await;
        self.real.pool_org_tag(pool_id).await
    }
    async fn create_pool(&self, spec: &PoolSpec) -> Result<String, Error> {
        self.pace().await;
        if self.crash == Crash::BeforePool {
            return Err(crashed());
        }
        let id = self.real.create_pool(spec).await?;
        if self.crash == Crash::AfterPoolCreated {
            return Err(crashed());
        }
        Ok(id)
    }
    async fn ensure_mfa(&self, pool_id: &str, mfa: MfaMode) -> Result<(), Error> {
        self.pace().await;
        self.real.ensure_mfa(pool_id, mfa).await
    }
    async fn ensure_groups(&self, pool_id: &str, groups: &[&str]) -> Result<(), Error> {
        self.pace().await;
        self.real.ensure_groups(pool_id, groups).await
    }
    async fn ensure_app_client(&self, pool_id: &str, spec: &ClientSpec) -> Result<String, Error> {
        self.pace().await;
        let id = self.real.ensure_app_client(pool_id, spec).await?;
        if self.crash == Crash::AfterAppClient {
            return Err(crashed());
        }
        Ok(id)
    }
    async fn ensure_domain(&self, pool_id: &str, prefix: &str) -> Result<String, Error> {
        self.pace().await;
        let domain = self.real.ensure_domain(pool_id, prefix).await?;
        if self.crash == Crash::AfterDomain {
            return Err(crashed());
        }
        Ok(domain)
    }
    async fn create_login(&self, pool_id: &str, login: &NewLogin<'_>) -> Result<(), Error> {
        self.pace().await;
        self.real.create_login(pool_id, login).await?;
        if self.crash == Crash::AfterLogin {
            return Err(crashed());
        }
        Ok(())
    }
    async fn add_to_group(&self, pool_id: &str, username: &str, group: &str) -> Result<(), Error> {
        self.pace().await;
        self.real.add_to_group(pool_id, username, group).await
    }
    async fn link_provider(
        &self,
        pool: &str,
        user: &str,
        provider: &str,
        subject: &str,
    ) -> Result<(), Error> {
        self.real.link_provider(pool, user, provider, subject).await
    }
    async fn remove_from_group(&self, pool: &str, user: &str, group: &str) -> Result<(), Error> {
        self.real.remove_from_group(pool, user, group).await
    }
    async fn disable_login(&self, pool: &str, user: &str) -> Result<(), Error> {
        self.real.disable_login(pool, user).await
    }
    async fn sign_out_everywhere(&self, pool: &str, user: &str) -> Result<(), Error> {
        self.real.sign_out_everywhere(pool, user).await
    }
    async fn delete_login(&self, pool: &str, user: &str) -> Result<(), Error> {
        self.real.delete_login(pool, user).await
    }
    async fn set_temporary_password(
        &self,
        pool: &str,
        user: &str,
        password: &str,
    ) -> Result<(), Error> {
        self.real.set_temporary_password(pool, user, password).await
    }
    async fn set_password(&self, pool: &str, user: &str, password: &str) -> Result<(), Error> {
        self.real.set_password(pool, user, password).await
    }
    async fn ensure_identity_provider(
        &self,
        pool: &str,
        spec: &shared::domain::ports::IdentityProviderSpec,
    ) -> Result<(), Error> {
        self.real.ensure_identity_provider(pool, spec).await
    }
    async fn delete_identity_provider(&self, pool: &str, name: &str) -> Result<(), Error> {
        self.real.delete_identity_provider(pool, name).await
    }
    async fn set_client_urls(
        &self,
        pool: &str,
        client: &str,
        callbacks: &[String],
        logouts: &[String],
    ) -> Result<(), Error> {
        self.real
            .set_client_urls(pool, client, callbacks, logouts)
            .await
    }
    async fn set_email(
        &self,
        pool: &str,
        user: &str,
        email: &shared::domain::EmailAddress,
    ) -> Result<(), Error> {
        self.real.set_email(pool, user, email).await
    }
    async fn set_preferred_username(
        &self,
        pool: &str,
        user: &str,
        name: &str,
    ) -> Result<(), Error> {
        self.real.set_preferred_username(pool, user, name).await
    }
    async fn delete_group(&self, pool: &str, group: &str) -> Result<(), Error> {
        self.real.delete_group(pool, group).await
    }
    async fn apply_sign_in(
        &self,
        pool: &str,
        client: Option<&str>,
        settings: &shared::domain::SignInSettings,
    ) -> Result<Vec<String>, Error> {
        self.real.apply_sign_in(pool, client, settings).await
    }
}

struct CrashingMailer<'a> {
    real: &'a SesMailer,
    crash: Crash,
}

#[async_trait]
impl Mailer for CrashingMailer<'_> {
    async fn send(&self, to: &EmailAddress, mail: &MailContent) -> Result<String, Error> {
        let id = self.real.send(to, mail).await?;
        if self.crash == Crash::AfterMail {
            return Err(crashed());
        }
        Ok(id)
    }
}

struct Stack {
    aws: LocalAws,
    registry: DynamoRegistry,
    pools: CognitoPools,
    mailer: SesMailer,
    cognito: CognitoClient,
    triggers: TriggerArns,
}

async fn stack() -> Stack {
    let aws = LocalAws::start();
    let sdk = aws.sdk().await;
    let (registry, mailer) = prepared_adapters(&sdk, "signin").await;
    Stack {
        registry,
        pools: CognitoPools::new(&sdk),
        mailer,
        cognito: CognitoClient::new(&sdk),
        triggers: trigger_arns(),
        aws,
    }
}

impl Stack {
    fn provisioning<'a>(
        &'a self,
        pools: &'a dyn UserPools,
        mailer: &'a dyn Mailer,
    ) -> Provisioning<'a> {
        Provisioning {
            registry: &self.registry,
            pools,
            mailer,
            base_domain: BASE_DOMAIN,
            triggers: &self.triggers,
            actor: "integration-test",
        }
    }

    async fn pools_named_for(&self, subdomain: &str) -> Vec<String> {
        let prefix = format!("tenant-{subdomain}-org-");
        let out = self
            .cognito
            .list_user_pools()
            .max_results(60)
            .send()
            .await
            .expect("ListUserPools");
        out.user_pools()
            .iter()
            .filter(|p| p.name().is_some_and(|n| n.starts_with(&prefix)))
            .filter_map(|p| p.id().map(str::to_owned))
            .collect()
    }

    /// The temporary password of the newest welcome mail to `to`.
    fn newest_temporary_password(&self, to: &str) -> String {
        self.aws.newest_temporary_password(to)
    }

    fn mails_to(&self, to: &str) -> usize {
        self.aws.mails_to(to)
    }
}

fn request(subdomain: &str) -> ProvisionRequest {
    ProvisionRequest {
        subdomain: subdomain.into(),
        name: format!("Org {subdomain}"),
        admin_email: Some(format!("boss@{subdomain}.example")),
        mfa: MfaMode::Optional,
        seats: Some(3),
        email_domains: vec![format!("{subdomain}.example")],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_dies_anywhere_is_finished_by_running_it_again() {
    let stack = stack().await;
    for (i, crash) in ALL_CRASHES.into_iter().enumerate() {
        let subdomain = format!("crash{i}");
        let req = request(&subdomain);
        let admin = format!("boss@{subdomain}.example");

        let crashing_pools = CrashingPools {
            real: &stack.pools,
            crash,
            latency: std::time::Duration::ZERO,
        };
        let crashing_mailer = CrashingMailer {
            real: &stack.mailer,
            crash,
        };
        let first = stack
            .provisioning(&crashing_pools, &crashing_mailer)
            .provision(&req, &|_| {})
            .await;
        assert_eq!(
            first.map(|_| ()),
            Err(crashed()),
            "{crash:?}: the first run dies"
        );

        let done = stack
            .provisioning(&stack.pools, &stack.mailer)
            .provision(&req, &|_| {})
            .await
            .unwrap_or_else(|e| panic!("{crash:?}: the rerun finishes, got {e}"));
        assert!(
            !done.created,
            "{crash:?}: the rerun resumes the recorded organization"
        );

        let org = done.organization;
        let pools = stack.pools_named_for(&subdomain).await;
        assert_eq!(pools.len(), 1, "{crash:?}: exactly one pool, got {pools:?}");
        assert_eq!(
            org.cognito.user_pool_id.as_deref(),
            Some(pools[0].as_str()),
            "{crash:?}"
        );
        assert_eq!(org.status, OrgStatus::Active, "{crash:?}");
        assert_eq!(
            org.seats_used, 1,
            "{crash:?}: one seat for the administrator, not two"
        );

        let found = stack
            .registry
            .organization_by_pool(&pools[0])
            .await
            .expect("lookup")
            .expect("the pool is claimed by the organization");
        assert_eq!(found.id, org.id);

        let clients = stack
            .cognito
            .list_user_pool_clients()
            .user_pool_id(&pools[0])
            .send()
            .await
            .expect("clients");
        assert_eq!(
            clients.user_pool_clients().len(),
            1,
            "{crash:?}: one app client"
        );

        let admin_record = stack
            .registry
            .person_by_email(&org.id, &EmailAddress::parse(&admin).expect("valid"))
            .await
            .expect("read")
            .expect("the administrator is recorded");
        assert_eq!(admin_record.status, PersonStatus::Invited, "{crash:?}");
        assert!(admin_record.welcome_sent_at.is_some(), "{crash:?}");
        let expected_mails = if crash == Crash::AfterMail { 2 } else { 1 };
        assert_eq!(stack.mails_to(&admin), expected_mails, "{crash:?}");

        // The newest mail's password is the one that works, and it must be changed at once.
        let password = stack.newest_temporary_password(&admin);
        let auth = stack
            .cognito
            .initiate_auth()
            .client_id(org.cognito.app_client_id.clone().expect("client"))
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", &admin)
            .auth_parameters("PASSWORD", &password)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{crash:?}: sign-in with the mailed password: {e:?}"));
        assert_eq!(
            auth.challenge_name(),
            Some(&ChallengeNameType::NewPasswordRequired),
            "{crash:?}"
        );

        // A third run finds everything done and changes nothing.
        let again = stack
            .provisioning(&stack.pools, &stack.mailer)
            .provision(&req, &|_| {})
            .await
            .expect("third run");
        assert!(again.admin.is_none(), "{crash:?}: no second invitation");
        assert_eq!(stack.mails_to(&admin), expected_mails, "{crash:?}");
        assert_eq!(
            stack.pools_named_for(&subdomain).await.len(),
            1,
            "{crash:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_login_forces_a_new_password_and_then_signs_in() {
    let stack = stack().await;
    let done = stack
        .provisioning(&stack.pools, &stack.mailer)
        .provision(&request("initech"), &|_| {})
        .await
        .expect("provisioned");
    let client_id = done
        .organization
        .cognito
        .app_client_id
        .clone()
        .expect("client");
    let admin = "boss@initech.example";
    let password = stack.newest_temporary_password(admin);
    let auth = stack
        .cognito
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", admin)
        .auth_parameters("PASSWORD", &password)
        .send()
        .await
        .expect("first sign-in");
    let tokens = stack
        .cognito
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(auth.session().expect("session"))
        .challenge_responses("USERNAME", admin)
        .challenge_responses("NEW_PASSWORD", "N3w-Passw0rd!x")
        .send()
        .await
        .expect("new password accepted");
    assert!(tokens
        .authentication_result()
        .and_then(|r| r.id_token())
        .is_some());

    let groups = stack
        .cognito
        .admin_list_groups_for_user()
        .user_pool_id(
            done.organization
                .cognito
                .user_pool_id
                .as_deref()
                .expect("pool"),
        )
        .username(admin)
        .send()
        .await
        .expect("groups");
    let names: Vec<_> = groups
        .groups()
        .iter()
        .filter_map(|g| g.group_name())
        .collect();
    assert_eq!(names, vec!["admin"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_are_enforced_atomically() {
    let stack = stack().await;
    let mut req = request("hooli");
    req.seats = Some(1);
    let done = stack
        .provisioning(&stack.pools, &stack.mailer)
        .provision(&req, &|_| {})
        .await
        .expect("provisioned");
    assert_eq!(done.organization.seats_used, 1);

    // A second person cannot be activated: the only seat is the administrator's.
    let org = done.organization;
    let second = shared::domain::Person::new(
        org.id.clone(),
        "gavin".into(),
        EmailAddress::parse("gavin@hooli.example").expect("valid"),
        vec![shared::domain::Role::parse("member").expect("valid")],
        PersonStatus::Added,
    );
    let added = AuditEvent::now(&org.id, "integration-test", "person.added", "gavin", None);
    stack
        .registry
        .create_person(&second, &added)
        .await
        .expect("recorded");
    let mut invited = second.clone();
    invited.status = PersonStatus::Invited;
    let err = stack
        .registry
        .save_person(
            &second,
            &invited,
            Some(&AuditEvent::now(
                &org.id,
                "t",
                "person.activated",
                "gavin",
                None,
            )),
        )
        .await
        .expect_err("no seat left");
    assert!(err.to_string().contains("no licence seat is free"), "{err}");
    let stored = stack
        .registry
        .person(&org.id, "gavin")
        .await
        .expect("read")
        .expect("still there");
    assert_eq!(stored.status, PersonStatus::Added, "nothing changed");
    let log = stack.registry.audit_log(&org.id, 100).await.expect("audit");
    let gavin: Vec<_> = log
        .iter()
        .filter(|e| e.target.starts_with("gavin"))
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        gavin,
        ["person.added"],
        "a refused change leaves no audit event"
    );

    // The same e-mail address cannot be used twice in one organization.
    let mut twin = second.clone();
    twin.username = "gavin2".into();
    let err = stack
        .registry
        .create_person(
            &twin,
            &AuditEvent::now(&org.id, "t", "person.added", "gavin2", None),
        )
        .await
        .expect_err("duplicate e-mail");
    assert!(
        err.to_string().contains("already has that e-mail address"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_make_one_pool() {
    let stack = stack().await;
    // A brand-new organization, created by two runs at the same moment.
    let p1 = stack.provisioning(&stack.pools, &stack.mailer);
    let p2 = stack.provisioning(&stack.pools, &stack.mailer);
    let req = request("umbrella");
    let (a, b) = tokio::join!(p1.provision(&req, &|_| {}), p2.provision(&req, &|_| {}));
    // And an organization a first run left without its pool, resumed by two runs at once.
    let crashing = CrashingPools {
        real: &stack.pools,
        crash: Crash::BeforePool,
        latency: std::time::Duration::ZERO,
    };
    let resumed = request("hooli");
    stack
        .provisioning(&crashing, &stack.mailer)
        .provision(&resumed, &|_| {})
        .await
        .expect_err("died before its pool");
    let (c, d) = tokio::join!(
        p1.provision(&resumed, &|_| {}),
        p2.provision(&resumed, &|_| {})
    );
    assert_eq!(stack.aws.pool_count().await, 2, "one pool per organization");
    for (name, result) in [
        ("umbrella 1", a),
        ("umbrella 2", b),
        ("hooli 1", c),
        ("hooli 2", d),
    ] {
        match result {
            Ok(done) => assert_eq!(done.organization.status, OrgStatus::Active, "{name}"),
            Err(e) => assert_eq!(e.code(), "InProgress", "{name}: {e}"),
        }
    }
    // Each organization has one administrator invitation.
    assert_eq!(stack.mails_to("boss@umbrella.example"), 1);
    assert_eq!(stack.mails_to("boss@hooli.example"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_at_cognitos_pace_make_one_of_everything() {
    let stack = stack().await;
    // Every pool-level call takes 150 ms, as Cognito's do: the second run's steps overlap
    // the first's if nothing keeps them apart.
    let paced = CrashingPools {
        real: &stack.pools,
        crash: Crash::Never,
        latency: std::time::Duration::from_millis(150),
    };
    let p1 = stack.provisioning(&paced, &stack.mailer);
    let p2 = stack.provisioning(&paced, &stack.mailer);
    let req = request("stark");
    let (a, b) = tokio::join!(p1.provision(&req, &|_| {}), p2.provision(&req, &|_| {}));
    let pools = stack.pools_named_for("stark").await;
    assert_eq!(pools.len(), 1, "one pool: {pools:?}");
    let clients = stack
        .cognito
        .list_user_pool_clients()
        .user_pool_id(&pools[0])
        .send()
        .await
        .expect("clients");
    assert_eq!(clients.user_pool_clients().len(), 1, "one app client");
    let mut succeeded = 0;
    for (name, result) in [("run 1", a), ("run 2", b)] {
        match result {
            Ok(done) => {
                succeeded += 1;
                let org = done.organization;
                assert_eq!(org.status, OrgStatus::Active, "{name}");
                assert_eq!(org.cognito.user_pool_id.as_deref(), Some(pools[0].as_str()));
                assert_eq!(
                    org.cognito.app_client_id.as_deref(),
                    clients.user_pool_clients()[0].client_id(),
                    "{name}: the client in the pool"
                );
            }
            Err(e) => assert_eq!(e.code(), "InProgress", "{name}: {e}"),
        }
    }
    assert!(succeeded >= 1, "at least one run finishes");
    let stored = stack
        .registry
        .organization_by_pool(&pools[0])
        .await
        .expect("read")
        .expect("claimed");
    assert_eq!(stored.seats_used, 1, "one seat for the administrator");
    assert_eq!(stack.mails_to("boss@stark.example"), 1, "one welcome mail");
    // The mailed temporary password works: no second run reset it after the mail.
    let password = stack.newest_temporary_password("boss@stark.example");
    let auth = stack
        .cognito
        .initiate_auth()
        .client_id(stored.cognito.app_client_id.clone().expect("client"))
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "boss@stark.example")
        .auth_parameters("PASSWORD", &password)
        .send()
        .await
        .expect("the mailed password signs in");
    assert_eq!(
        auth.challenge_name(),
        Some(&ChallengeNameType::NewPasswordRequired)
    );
}

/// What a lease promises, whichever registry keeps it.
async fn lease_semantics(registry: &dyn Registry, label: &str) {
    let org = shared::domain::OrgId::generate();
    let other_org = shared::domain::OrgId::generate();
    let take =
        |holder: &'static str, ttl: i64| registry.acquire_lease(&org, "provision", holder, ttl);
    assert!(
        take("a", 120).await.expect("acquire"),
        "{label}: a free lease is taken"
    );
    assert!(
        !take("b", 120).await.expect("acquire"),
        "{label}: held by a"
    );
    assert!(
        take("a", 120).await.expect("acquire"),
        "{label}: the holder renews it"
    );
    assert!(
        registry
            .acquire_lease(&org, "another", "b", 120)
            .await
            .expect("acquire"),
        "{label}: another name is another lease"
    );
    assert!(
        registry
            .acquire_lease(&other_org, "provision", "b", 120)
            .await
            .expect("acquire"),
        "{label}: another organization's lease is another lease"
    );
    registry
        .release_lease(&org, "provision", "b")
        .await
        .expect("release");
    assert!(
        !take("b", 120).await.expect("acquire"),
        "{label}: only the holder gives it back"
    );
    registry
        .release_lease(&org, "provision", "a")
        .await
        .expect("release");
    assert!(
        take("b", -5).await.expect("acquire"),
        "{label}: given back, free"
    );
    assert!(
        take("a", 120).await.expect("acquire"),
        "{label}: expired, free"
    );
    registry
        .release_lease(&org, "provision", "b")
        .await
        .expect("a late release of a lease taken over is no error");
    assert!(
        !take("b", 120).await.expect("acquire"),
        "{label}: still a's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_has_one_holder_until_given_back_or_expired() {
    let stack = stack().await;
    lease_semantics(&stack.registry, "DynamoDB").await;
    lease_semantics(&shared::testing::MemoryRegistry::default(), "memory").await;
}

/// An activation that finds a login of the person's username already in the pool gives it the
/// person's new password only when it is theirs: the same address, or our own disabled login
/// (a deactivated person's) whose address is brought in step. An enabled login with another
/// address (a stranger's self sign-up) is refused and keeps its address and password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activation_never_hands_over_a_login_that_carries_another_address() {
    let stack = stack().await;
    let done = stack
        .provisioning(&stack.pools, &stack.mailer)
        .provision(&request("umbrella"), &|_| {})
        .await
        .expect("provisioned");
    let pool = done
        .organization
        .cognito
        .user_pool_id
        .clone()
        .expect("pool");
    let attribute = |name: &str, value: &str| {
        aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
            .name(name)
            .value(value)
            .build()
            .expect("attribute")
    };
    stack
        .cognito
        .admin_create_user()
        .user_pool_id(&pool)
        .username("jane")
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .user_attributes(attribute("email", "stranger@elsewhere.example"))
        .user_attributes(attribute("email_verified", "true"))
        .send()
        .await
        .expect("a stranger's login");
    stack
        .cognito
        .admin_set_user_password()
        .user_pool_id(&pool)
        .username("jane")
        .password("Stranger-Password-1!")
        .permanent(true)
        .send()
        .await
        .expect("the stranger's password");
    let jane = EmailAddress::parse("jane@umbrella.example").expect("valid");
    let login = NewLogin {
        username: "jane",
        email: &jane,
        temporary_password: "Temporary-Pass-1!",
    };
    let read = || async {
        let user = stack
            .cognito
            .admin_get_user()
            .user_pool_id(&pool)
            .username("jane")
            .send()
            .await
            .expect("the login");
        let value = |name: &str| {
            user.user_attributes()
                .iter()
                .find(|a| a.name() == name)
                .and_then(|a| a.value())
                .map(str::to_owned)
        };
        (
            value("email"),
            value("email_verified"),
            user.user_status().map(|s| s.as_str().to_owned()),
            user.enabled(),
        )
    };
    let refused = stack.pools.create_login(&pool, &login).await;
    assert!(
        matches!(refused, Err(Error::LoginOfAnotherPerson { .. })),
        "{refused:?}"
    );
    assert_eq!(
        read().await,
        (
            Some("stranger@elsewhere.example".into()),
            Some("true".into()),
            Some("CONFIRMED".into()),
            true
        ),
        "the stranger's login is left as it was"
    );
    // Our own disabled login whose address changed meanwhile: brought in step and reset.
    stack
        .cognito
        .admin_disable_user()
        .user_pool_id(&pool)
        .username("jane")
        .send()
        .await
        .expect("disabled");
    stack
        .pools
        .create_login(&pool, &login)
        .await
        .expect("the person's own login");
    assert_eq!(
        read().await,
        (
            Some("jane@umbrella.example".into()),
            Some("true".into()),
            Some("FORCE_CHANGE_PASSWORD".into()),
            true
        )
    );
    // The same address: a repeated activation, done again.
    stack
        .pools
        .create_login(&pool, &login)
        .await
        .expect("repeated");
}

/// Two administrators deactivating each other at the same moment, against DynamoDB (moto):
/// one of them goes, the other is refused as the last active administrator, every round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_deactivating_each_other_at_once_leave_one() {
    use shared::domain::people::{Admin, NewPerson};
    let stack = stack().await;
    let done = stack
        .provisioning(&stack.pools, &stack.mailer)
        .provision(&request("wayne"), &|_| {})
        .await
        .expect("provisioned");
    let org = done.organization;
    let admin = |actor: &'static str| Admin {
        registry: &stack.registry,
        pools: &stack.pools,
        mailer: &stack.mailer,
        base_domain: BASE_DOMAIN,
        actor,
    };
    let stored = |name: String| {
        let registry = &stack.registry;
        let org_id = org.id.clone();
        async move {
            registry
                .person(&org_id, &name)
                .await
                .expect("read")
                .expect("there")
        }
    };
    // The administrator before each round (the first one, then each round's survivor)
    // leaves once the round's pair is active: the pair are the only active admins.
    let mut before = "boss@wayne.example".to_owned();
    for round in 0..4 {
        let names = [format!("ada{round}"), format!("bo{round}")];
        let mut pair = Vec::new();
        for name in &names {
            let added = admin("test")
                .add_person(
                    &org,
                    &NewPerson {
                        username: name.clone(),
                        email: format!("{name}@wayne.example"),
                        roles: vec!["admin".into()],
                        ..Default::default()
                    },
                )
                .await
                .expect("added");
            let on = admin("test")
                .set_activation(&org, added, true)
                .await
                .expect("activated");
            pair.push(on.person);
        }
        admin("test")
            .delete_person(&org, stored(before.clone()).await)
            .await
            .expect("two other admins remain");
        let (by_bo, by_ada) = (admin("bo"), admin("ada"));
        let (first, second) = tokio::join!(
            by_bo.set_activation(&org, pair[0].clone(), false),
            by_ada.set_activation(&org, pair[1].clone(), false),
        );
        let outcomes = [first.map(|_| ()), second.map(|_| ())];
        let refused = outcomes
            .iter()
            .filter(|r| matches!(r, Err(Error::LastAdministrator { .. })))
            .count();
        let done = outcomes.iter().filter(|r| r.is_ok()).count();
        assert_eq!((done, refused), (1, 1), "round {round}: {outcomes:?}");
        let mut survivors = Vec::new();
        for name in &names {
            if stored(name.clone()).await.is_active_admin() {
                survivors.push(name.clone());
            }
        }
        assert_eq!(survivors.len(), 1, "round {round}: {survivors:?}");
        before = survivors.remove(0);
    }
}

/// What a person's own access token may write (moto does not enforce WriteAttributes on
/// UpdateUserAttributes, so the client's configuration as Cognito holds it is checked): the
/// new client allows their names only; offering an identity provider adds exactly what its
/// mapping writes (Cognito's rule), never `preferred_username`; and a client from before
/// (no WriteAttributes: every standard attribute) is brought to that when found again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_s_own_tokens_may_not_write_what_the_registry_owns() {
    use shared::domain::ports::IdentityProviderSpec;
    let stack = stack().await;
    let done = stack
        .provisioning(&stack.pools, &stack.mailer)
        .provision(&request("hooli"), &|_| {})
        .await
        .expect("provisioned");
    let org = done.organization;
    let pool = org.cognito.user_pool_id.clone().expect("pool");
    let client = org.cognito.app_client_id.clone().expect("client");
    let written = |pool: String, client: String| {
        let cognito = stack.cognito.clone();
        async move {
            let mut w = cognito
                .describe_user_pool_client()
                .user_pool_id(pool)
                .client_id(client)
                .send()
                .await
                .expect("DescribeUserPoolClient")
                .user_pool_client()
                .expect("client")
                .write_attributes()
                .to_vec();
            w.sort();
            w
        }
    };
    assert_eq!(
        written(pool.clone(), client.clone()).await,
        ["family_name", "given_name", "locale", "zoneinfo"]
    );

    // Microsoft offered: its mapped attributes become writable, nothing else.
    stack
        .pools
        .ensure_identity_provider(
            &pool,
            &IdentityProviderSpec {
                name: "Microsoft".into(),
                provider_type: "OIDC".into(),
                details: vec![
                    ("client_id".into(), "0f8fad5b-d9cb-469f-a165-70867728950e".into()),
                    ("client_secret".into(), "s".into()),
                    ("authorize_scopes".into(), "openid email profile".into()),
                    (
                        "oidc_issuer".into(),
                        "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0".into(),
                    ),
                    ("attributes_request_method".into(), "GET".into()),
                ],
                attribute_mapping: vec![
                    ("email".into(), "email".into()),
                    ("email_verified".into(), "xms_edov".into()),
                    ("username".into(), "oid".into()),
                ],
            },
        )
        .await
        .expect("provider");
    let mut sign_in = org.sign_in.clone();
    sign_in.providers = vec!["Microsoft".into()];
    stack
        .pools
        .apply_sign_in(&pool, Some(&client), &sign_in)
        .await
        .expect("offered");
    let with_microsoft = written(pool.clone(), client.clone()).await;
    assert_eq!(
        with_microsoft,
        [
            "email",
            "email_verified",
            "family_name",
            "given_name",
            "locale",
            "zoneinfo"
        ]
    );

    // A client made before (no WriteAttributes) is limited once ensure_app_client finds it.
    let old = stack
        .cognito
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("legacy-login")
        .send()
        .await
        .expect("old client");
    let old_id = old
        .user_pool_client()
        .and_then(|c| c.client_id())
        .expect("id")
        .to_owned();
    assert!(written(pool.clone(), old_id.clone()).await.is_empty());
    let found = stack
        .pools
        .ensure_app_client(
            &pool,
            &shared::domain::ports::ClientSpec {
                name: "legacy-login".into(),
                callback_urls: vec![],
                logout_urls: vec![],
            },
        )
        .await
        .expect("found");
    assert_eq!(found, old_id);
    let limited = written(pool, old_id).await;
    assert!(!limited.contains(&"email".to_owned()), "{limited:?}");
    assert!(
        !limited.contains(&"preferred_username".to_owned()),
        "{limited:?}"
    );
}
