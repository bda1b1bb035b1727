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
use shared::domain::provisioning::{ProvisionRequest, Provisioning};
use shared::domain::{EmailAddress, Error, MfaMode, OrgStatus, PersonStatus};
use shared::ports::{
    AuditEvent, ClientSpec, Mailer, NewLogin, PoolSpec, Registry, TriggerArns, UserPools,
};

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
        spec: &shared::ports::IdentityProviderSpec,
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
