//! The token verifier (`shared::auth`) against real tokens from moto's user pools, with the
//! keys read over HTTP from moto's JWKS endpoint (`<AWS_ENDPOINT_URL>/<pool>/.well-known/
//! jwks.json`), as the admin API reads them. moto signs every pool's tokens with one key
//! (kid `dummy`), so only `iss` tells the pools apart: the cross-pool checks are meaningful.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType};
use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use integration_tests::{free_port, LocalAws, REGION};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{json, Value};
use shared::auth::{HttpJwks, JwksSource, PoolDirectory, Refusal, TokenUse, TokenVerifier};
use shared::domain::Error;

const PASSWORD: &str = "Corr3ct-Horse!x";

/// One pool with its app client and a signed-in user in group `admin`.
struct Pool {
    id: String,
    client: String,
    access: String,
    id_token: String,
}

async fn pool(cognito: &CognitoClient, name: &str, user: &str) -> Pool {
    let id = cognito
        .create_user_pool()
        .pool_name(name)
        .send()
        .await
        .expect("CreateUserPool")
        .user_pool()
        .and_then(|p| p.id())
        .expect("pool id")
        .to_owned();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&id)
        .client_name(format!("{name}-web"))
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .expect("CreateUserPoolClient")
        .user_pool_client()
        .and_then(|c| c.client_id())
        .expect("client id")
        .to_owned();
    cognito
        .create_group()
        .user_pool_id(&id)
        .group_name("admin")
        .send()
        .await
        .expect("CreateGroup");
    cognito
        .admin_create_user()
        .user_pool_id(&id)
        .username(user)
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .expect("AdminCreateUser");
    cognito
        .admin_set_user_password()
        .user_pool_id(&id)
        .username(user)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .expect("AdminSetUserPassword");
    cognito
        .admin_add_user_to_group()
        .user_pool_id(&id)
        .username(user)
        .group_name("admin")
        .send()
        .await
        .expect("AdminAddUserToGroup");
    let auth = cognito
        .admin_initiate_auth()
        .user_pool_id(&id)
        .client_id(&client)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", user)
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .expect("AdminInitiateAuth");
    let result = auth.authentication_result().expect("tokens, no challenge");
    Pool {
        id,
        client,
        access: result.access_token().expect("access token").to_owned(),
        id_token: result.id_token().expect("ID token").to_owned(),
    }
}

/// Two pools, as two organizations would have.
async fn two_pools(aws: &LocalAws) -> (Pool, Pool) {
    let cognito = CognitoClient::new(&aws.sdk().await);
    let acme = pool(&cognito, "acme", "hank").await;
    let globex = pool(&cognito, "globex", "eve").await;
    (acme, globex)
}

/// pool id -> app client, as the registry answers.
struct Directory(HashMap<String, String>);

impl Directory {
    fn of(pools: &[(&str, &str)]) -> Arc<Self> {
        Arc::new(Self(
            pools
                .iter()
                .map(|(p, c)| (p.to_string(), c.to_string()))
                .collect(),
        ))
    }
}

#[async_trait]
impl PoolDirectory for Directory {
    async fn app_client(&self, pool_id: &str) -> Result<Option<String>, Error> {
        Ok(self.0.get(pool_id).cloned())
    }
}

/// The real JWKS reader, counting its reads per pool.
struct Counted {
    inner: HttpJwks,
    reads: std::sync::Mutex<HashMap<String, usize>>,
    total: AtomicUsize,
}

impl Counted {
    fn new(inner: HttpJwks) -> Arc<Self> {
        Arc::new(Self {
            inner,
            reads: Default::default(),
            total: AtomicUsize::new(0),
        })
    }

    fn reads(&self, pool_id: &str) -> usize {
        self.reads
            .lock()
            .expect("lock")
            .get(pool_id)
            .copied()
            .unwrap_or(0)
    }
}

#[async_trait]
impl JwksSource for Counted {
    async fn fetch(&self, pool_id: &str) -> Result<JwkSet, String> {
        *self
            .reads
            .lock()
            .expect("lock")
            .entry(pool_id.to_owned())
            .or_default() += 1;
        self.total.fetch_add(1, Ordering::SeqCst);
        self.inner.fetch(pool_id).await
    }
}

fn moto_jwks(aws: &LocalAws) -> Arc<Counted> {
    // The endpoint is the configured one (AWS_ENDPOINT_URL), never one from a token.
    Counted::new(HttpJwks::for_region(REGION, Some(&aws.endpoint)).expect("JWKS client"))
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("JSON")
}

/// `token` with part `index` (0 header, 1 payload) replaced by `value`, its signature kept.
fn rewritten(token: &str, index: usize, value: &Value) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[index] = URL_SAFE_NO_PAD.encode(value.to_string());
    parts.join(".")
}

#[tokio::test]
async fn real_tokens_of_two_pools_verify_each_as_its_own_pool() {
    let aws = LocalAws::start();
    let (acme, globex) = two_pools(&aws).await;
    // What moto writes as the issuer: the classic Cognito form, with moto's Region.
    assert_eq!(
        payload(&acme.access)["iss"],
        format!("https://cognito-idp.{REGION}.amazonaws.com/{}", acme.id)
    );
    let jwks = moto_jwks(&aws);
    let verifier = TokenVerifier::new(
        REGION,
        Directory::of(&[(&acme.id, &acme.client), (&globex.id, &globex.client)]),
        jwks.clone(),
    );

    for (pool, user) in [(&acme, "hank"), (&globex, "eve")] {
        let access = verifier.verify(&pool.access).await.expect("access token");
        assert_eq!(access.pool_id, pool.id);
        assert_eq!(access.username, user);
        assert_eq!(access.token_use, TokenUse::Access);
        assert_eq!(access.client_id, pool.client);
        assert_eq!(access.groups, ["admin"]);
        assert_eq!(access.sub, payload(&pool.access)["sub"]);
        let id = verifier.verify(&pool.id_token).await.expect("ID token");
        assert_eq!(id.pool_id, pool.id);
        assert_eq!(id.username, user);
        assert_eq!(id.token_use, TokenUse::Id);
        assert_eq!(id.client_id, pool.client);
        assert_eq!(id.groups, ["admin"]);
    }
    // Each pool's JWKS read once, from its own address.
    assert_eq!(
        (jwks.reads(&acme.id), jwks.reads(&globex.id)),
        (1, 1),
        "one read per pool"
    );
    // Seen again: from the verified-token cache, no further reads.
    verifier.verify(&acme.access).await.expect("again");
    assert_eq!(jwks.total.load(Ordering::SeqCst), 2);

    // Only access tokens accepted: moto's ID token is refused.
    let access_only = TokenVerifier::new(
        REGION,
        Directory::of(&[(&acme.id, &acme.client)]),
        moto_jwks(&aws),
    )
    .accepting(&[TokenUse::Access]);
    access_only.verify(&acme.access).await.expect("access");
    assert_eq!(
        access_only.verify(&acme.id_token).await,
        Err(Refusal::TokenUse)
    );
}

#[tokio::test]
async fn a_token_of_one_pool_never_passes_as_another_pools() {
    let aws = LocalAws::start();
    let (acme, globex) = two_pools(&aws).await;
    let jwks = moto_jwks(&aws);
    let verifier = TokenVerifier::new(
        REGION,
        Directory::of(&[(&acme.id, &acme.client), (&globex.id, &globex.client)]),
        jwks.clone(),
    );
    // globex's token verifies as globex, never acme.
    let verified = verifier.verify(&globex.access).await.expect("globex");
    assert_eq!(verified.pool_id, globex.id);
    assert_ne!(verified.pool_id, acme.id);

    // globex's tokens with acme's issuer written in, signature kept: refused.
    for token in [&globex.access, &globex.id_token] {
        let mut claims = payload(token);
        claims["iss"] = json!(format!(
            "https://cognito-idp.{REGION}.amazonaws.com/{}",
            acme.id
        ));
        assert_eq!(
            verifier.verify(&rewritten(token, 1, &claims)).await,
            Err(Refusal::Signature)
        );
        // Even with acme's client written in as well.
        claims["client_id"] = json!(acme.client);
        claims["aud"] = json!(acme.client);
        assert_eq!(
            verifier.verify(&rewritten(token, 1, &claims)).await,
            Err(Refusal::Signature)
        );
    }

    // A registry that maps acme's pool to globex's client: acme's real tokens are refused.
    let confused = TokenVerifier::new(
        REGION,
        Directory::of(&[(&acme.id, &globex.client)]),
        moto_jwks(&aws),
    );
    assert_eq!(confused.verify(&acme.access).await, Err(Refusal::Client));
    assert_eq!(confused.verify(&acme.id_token).await, Err(Refusal::Client));

    // A pool no organization owns: refused before any key is read for it.
    let acme_only = moto_jwks(&aws);
    let only_acme = TokenVerifier::new(
        REGION,
        Directory::of(&[(&acme.id, &acme.client)]),
        acme_only.clone(),
    );
    assert_eq!(
        only_acme.verify(&globex.access).await,
        Err(Refusal::UnknownPool)
    );
    assert_eq!(acme_only.reads(&globex.id), 0);

    // A verifier of another Region refuses every one of them.
    let elsewhere = TokenVerifier::new(
        "eu-west-1",
        Directory::of(&[(&acme.id, &acme.client)]),
        moto_jwks(&aws),
    );
    assert_eq!(elsewhere.verify(&acme.access).await, Err(Refusal::Issuer));
}

#[tokio::test]
async fn unknown_kids_read_the_jwks_at_most_once_per_window_and_an_unreachable_one_is_an_outage() {
    let aws = LocalAws::start();
    let (acme, _) = two_pools(&aws).await;
    let jwks = moto_jwks(&aws);
    let verifier = TokenVerifier::new(
        REGION,
        Directory::of(&[(&acme.id, &acme.client)]),
        jwks.clone(),
    );
    let unknown_kid = |token: &str, kid: &str| {
        let header = json!({"alg": "RS256", "kid": kid});
        rewritten(token, 0, &header)
    };
    // Two unknown-kid tokens in a row on a cold verifier: one read.
    assert_eq!(
        verifier
            .verify(&unknown_kid(&acme.access, "rotated-1"))
            .await,
        Err(Refusal::UnknownKey)
    );
    assert_eq!(
        verifier
            .verify(&unknown_kid(&acme.access, "rotated-2"))
            .await,
        Err(Refusal::UnknownKey)
    );
    assert_eq!(jwks.reads(&acme.id), 1);
    // The real kid was in that read: known without another.
    verifier.verify(&acme.access).await.expect("valid");
    assert_eq!(jwks.reads(&acme.id), 1);

    // Nothing listening where the JWKS should be: refused as an outage, and tried once per
    // window however many tokens come.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let down = Counted::new(HttpJwks::for_region(REGION, Some(&closed)).expect("client"));
    let offline = TokenVerifier::new(
        REGION,
        Directory::of(&[(&acme.id, &acme.client)]),
        down.clone(),
    );
    let start = Instant::now();
    for _ in 0..5 {
        let refusal = offline.verify(&acme.access).await.expect_err("refused");
        assert!(refusal.is_outage(), "{refusal:?}");
    }
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!(down.reads(&acme.id), 1);
}
