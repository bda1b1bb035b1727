//! The verifier against forged and broken tokens, signed with the test keys in `testdata/`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};

use super::*;

const REGION: &str = "eu-west-1";
const POOL: &str = "eu-west-1_AcmePool1";
const OTHER_POOL: &str = "eu-west-1_GlobexPool";
const CLIENT: &str = "acmeclient123";

struct Directory;

#[async_trait]
impl PoolDirectory for Directory {
    async fn app_client(&self, pool_id: &str) -> Result<Option<String>, Error> {
        Ok(match pool_id {
            POOL => Some(CLIENT.into()),
            OTHER_POOL => Some("globexclient".into()),
            _ => None,
        })
    }
}

#[derive(Default)]
struct Jwks {
    fetches: AtomicUsize,
    /// Answer with an error, as an unreachable endpoint would.
    failing: AtomicBool,
    /// How long each read takes.
    delay: Duration,
}

#[async_trait]
impl JwksSource for Jwks {
    async fn fetch(&self, _pool_id: &str) -> Result<JwkSet, String> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err("connection refused".into());
        }
        let text = include_str!("../../testdata/jwks.json");
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

fn verifier() -> (TokenVerifier, Arc<Jwks>) {
    verifier_with(Jwks::default())
}

fn verifier_with(jwks: Jwks) -> (TokenVerifier, Arc<Jwks>) {
    let jwks = Arc::new(jwks);
    (
        TokenVerifier::new(REGION, Arc::new(Directory), jwks.clone()),
        jwks,
    )
}

fn fetches(jwks: &Jwks) -> usize {
    jwks.fetches.load(Ordering::SeqCst)
}

fn key(name: &str) -> EncodingKey {
    match name {
        "a" => EncodingKey::from_rsa_der(include_bytes!("../../testdata/key-a.der")),
        _ => EncodingKey::from_rsa_der(include_bytes!("../../testdata/key-b.der")),
    }
}

fn now() -> u64 {
    now_secs()
}

fn access_claims() -> Value {
    json!({
        "iss": format!("https://cognito-idp.{REGION}.amazonaws.com/{POOL}"),
        "sub": "d4e8a1b2",
        "client_id": CLIENT,
        "token_use": "access",
        "username": "hank",
        "iat": now(),
        "exp": now() + 3600,
    })
}

fn id_claims() -> Value {
    json!({
        "iss": format!("https://cognito-idp.{REGION}.amazonaws.com/{POOL}"),
        "sub": "d4e8a1b2",
        "aud": CLIENT,
        "token_use": "id",
        "cognito:username": "hank",
        "iat": now(),
        "exp": now() + 3600,
    })
}

fn sign(claims: &Value, kid: &str, with: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &key(with)).expect("signed")
}

fn token(claims: &Value) -> String {
    sign(claims, "kid-a", "a")
}

fn with(mut claims: Value, field: &str, value: Value) -> Value {
    claims[field] = value;
    claims
}

#[tokio::test]
async fn the_sign_in_time_is_auth_time_or_else_iat() {
    let (v, _) = verifier();
    let signed_in = now() - 600;
    let refreshed = with(access_claims(), "auth_time", json!(signed_in));
    let verified = v.verify(&token(&refreshed)).await.expect("valid");
    assert_eq!(verified.auth_time, signed_in);
    let plain = access_claims();
    let verified = v.verify(&token(&plain)).await.expect("valid");
    assert_eq!(Some(verified.auth_time), plain["iat"].as_u64());
}

async fn refusal(v: &TokenVerifier, token: &str) -> Refusal {
    v.verify(token).await.expect_err("refused")
}

#[tokio::test]
async fn valid_access_and_id_tokens_name_the_pool_and_the_person() {
    let (v, _) = verifier();
    let access = v.verify(&token(&access_claims())).await.expect("access");
    assert_eq!(access.pool_id, POOL);
    assert_eq!(access.username, "hank");
    assert_eq!(access.sub, "d4e8a1b2");
    assert_eq!(access.token_use, TokenUse::Access);
    assert_eq!(access.client_id, CLIENT);
    assert!(access.groups.is_empty());
    let grouped = with(id_claims(), "cognito:groups", json!(["admin", "member"]));
    let id = v.verify(&token(&grouped)).await.expect("id");
    assert_eq!((id.username.as_str(), id.token_use), ("hank", TokenUse::Id));
    assert_eq!(id.client_id, CLIENT);
    assert_eq!(id.groups, ["admin", "member"]);
    let newer = with(
        access_claims(),
        "iss",
        json!(format!(
            "https://issuer-cognito-idp.{REGION}.amazonaws.com/{POOL}"
        )),
    );
    assert!(
        v.verify(&token(&newer)).await.is_ok(),
        "the newer issuer form"
    );
}

#[tokio::test]
async fn forged_and_broken_tokens_are_refused_each_for_its_reason() {
    let (v, _) = verifier();
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    // alg none, no signature.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": "kid-a"})),
        b64(&access_claims())
    );
    assert!(matches!(
        refusal(&v, &none).await,
        Refusal::Algorithm(_) | Refusal::Malformed
    ));
    // HS256 with the public key's modulus as the shared secret.
    let jwks: Value = serde_json::from_str(include_str!("../../testdata/jwks.json")).expect("json");
    let secret = jwks["keys"][0]["n"]
        .as_str()
        .expect("n")
        .as_bytes()
        .to_vec();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("kid-a".into());
    let hs256 = jsonwebtoken::encode(
        &hs,
        &access_claims(),
        &EncodingKey::from_secret(&secret).expect("key"),
    )
    .expect("hs");
    assert!(matches!(refusal(&v, &hs256).await, Refusal::Algorithm(_)));
    // Signed with another key under kid-a.
    assert_eq!(
        refusal(&v, &sign(&access_claims(), "kid-a", "b")).await,
        Refusal::Signature
    );
    // Another pool's issuer that no organization owns; another Region; not Cognito.
    let stranger = with(
        access_claims(),
        "iss",
        json!(format!(
            "https://cognito-idp.{REGION}.amazonaws.com/eu-west-1_Nobody"
        )),
    );
    assert_eq!(refusal(&v, &token(&stranger)).await, Refusal::UnknownPool);
    let region = with(
        access_claims(),
        "iss",
        json!(format!(
            "https://cognito-idp.us-east-1.amazonaws.com/{POOL}"
        )),
    );
    assert_eq!(refusal(&v, &token(&region)).await, Refusal::Issuer);
    let evil = with(
        access_claims(),
        "iss",
        json!(format!(
            "https://cognito-idp.{REGION}.amazonaws.com.evil.example/{POOL}"
        )),
    );
    assert_eq!(refusal(&v, &token(&evil)).await, Refusal::Issuer);
    // Another organization's app client.
    let client = with(access_claims(), "client_id", json!("globexclient"));
    assert_eq!(refusal(&v, &token(&client)).await, Refusal::Client);
    let aud = with(id_claims(), "aud", json!("globexclient"));
    assert_eq!(refusal(&v, &token(&aud)).await, Refusal::Client);
    let no_client = {
        let mut c = access_claims();
        c.as_object_mut().expect("object").remove("client_id");
        c
    };
    assert_eq!(refusal(&v, &token(&no_client)).await, Refusal::Client);
    // token_use.
    let refresh = with(access_claims(), "token_use", json!("refresh"));
    assert_eq!(refusal(&v, &token(&refresh)).await, Refusal::TokenUse);
    // An ID token's claims labelled access: no client_id, so refused.
    let relabelled = with(id_claims(), "token_use", json!("access"));
    assert_eq!(refusal(&v, &token(&relabelled)).await, Refusal::Client);
    // Time.
    let expired = with(access_claims(), "exp", json!(now() - 3600));
    assert_eq!(refusal(&v, &token(&expired)).await, Refusal::Expired);
    let early = with(access_claims(), "nbf", json!(now() + 3600));
    assert_eq!(refusal(&v, &token(&early)).await, Refusal::NotYetValid);
    let issued_later = with(access_claims(), "iat", json!(now() + 3600));
    assert_eq!(
        refusal(&v, &token(&issued_later)).await,
        Refusal::NotYetValid
    );
    // Required claims, now checked by our code on the one reading of the payload.
    for claim in ["exp", "sub"] {
        let mut missing = access_claims();
        missing.as_object_mut().expect("object").remove(claim);
        assert_eq!(
            refusal(&v, &token(&missing)).await,
            Refusal::Claims(claim.into()),
            "{claim}"
        );
    }
    let text_exp = with(access_claims(), "exp", json!("never"));
    assert_eq!(refusal(&v, &token(&text_exp)).await, Refusal::Malformed);
    // An ID token's aud may be a list: it must hold the client.
    let listed = with(id_claims(), "aud", json!(["other", CLIENT]));
    assert!(v.verify(&token(&listed)).await.is_ok());
    let listed_without = with(id_claims(), "aud", json!(["other"]));
    assert_eq!(refusal(&v, &token(&listed_without)).await, Refusal::Client);
    // Within the leeway, both pass.
    let skewed = with(
        with(access_claims(), "iat", json!(now() + 10)),
        "nbf",
        json!(now() + 10),
    );
    assert!(v.verify(&token(&skewed)).await.is_ok());
    let expired_within_leeway = with(access_claims(), "exp", json!(now() - 10));
    assert!(v.verify(&token(&expired_within_leeway)).await.is_ok());
    // Unknown kid, no kid, garbage.
    assert_eq!(
        refusal(&v, &sign(&access_claims(), "kid-z", "a")).await,
        Refusal::UnknownKey
    );
    let mut no_kid = Header::new(Algorithm::RS256);
    no_kid.kid = None;
    let no_kid = jsonwebtoken::encode(&no_kid, &access_claims(), &key("a")).expect("signed");
    assert_eq!(refusal(&v, &no_kid).await, Refusal::NoKeyId);
    for garbage in ["", "abc", "a.b.c", "....", &"x".repeat(20_000)] {
        assert!(v.verify(garbage).await.is_err(), "{garbage:.20}");
    }
}

#[tokio::test]
async fn a_token_of_one_pool_never_verifies_as_another() {
    // One key signs every pool here, as in moto: only the issuer tells them apart.
    let (v, _) = verifier();
    let globex = json!({
        "iss": format!("https://cognito-idp.{REGION}.amazonaws.com/{OTHER_POOL}"),
        "sub": "x", "client_id": "globexclient", "token_use": "access", "username": "eve",
        "exp": now() + 3600,
    });
    let verified = v.verify(&token(&globex)).await.expect("globex's token");
    assert_eq!(verified.pool_id, OTHER_POOL);
    // Its payload with acme's issuer swapped in: the signature no longer matches.
    let signed = token(&globex);
    let parts: Vec<&str> = signed.split('.').collect();
    let swapped = with(
        globex,
        "iss",
        json!(format!("https://cognito-idp.{REGION}.amazonaws.com/{POOL}")),
    );
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(swapped.to_string()),
        parts[2]
    );
    assert_ne!(
        v.verify(&forged).await.map(|t| t.pool_id),
        Ok(POOL.to_owned())
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_kids_read_the_keys_again_at_most_once_per_window() {
    let (v, jwks) = verifier();
    v.verify(&token(&access_claims())).await.expect("valid");
    assert_eq!(fetches(&jwks), 1);
    for _ in 0..5 {
        assert_eq!(
            refusal(&v, &sign(&access_claims(), "kid-new", "a")).await,
            Refusal::UnknownKey
        );
    }
    assert_eq!(fetches(&jwks), 1, "within the window: no refetch");
    // kid-b is in the JWKS the first read got: known without a fetch.
    v.verify(&sign(&access_claims(), "kid-b", "b"))
        .await
        .expect("kid-b");
    assert_eq!(fetches(&jwks), 1);
    // After the window, an unknown kid reads the keys again, once.
    tokio::time::advance(REFETCH_AFTER + Duration::from_secs(1)).await;
    for _ in 0..3 {
        let _ = v.verify(&sign(&access_claims(), "kid-new", "a")).await;
    }
    assert_eq!(fetches(&jwks), 2);
}

#[tokio::test]
async fn unknown_kids_of_a_pool_not_read_yet_read_its_keys_once() {
    let (v, jwks) = verifier();
    for _ in 0..2 {
        assert_eq!(
            refusal(&v, &sign(&access_claims(), "kid-new", "a")).await,
            Refusal::UnknownKey
        );
    }
    assert_eq!(fetches(&jwks), 1);
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_jwks_is_tried_at_most_once_per_window_and_known_keys_stay() {
    let (v, jwks) = verifier_with(Jwks {
        failing: AtomicBool::new(true),
        ..Jwks::default()
    });
    for _ in 0..3 {
        let r = refusal(&v, &token(&access_claims())).await;
        assert!(matches!(r, Refusal::KeysUnavailable(_)), "{r:?}");
        assert!(r.is_outage());
    }
    assert_eq!(fetches(&jwks), 1, "a failed read counts for the window");
    // Reachable again after the window: the keys are read and used.
    jwks.failing.store(false, Ordering::SeqCst);
    tokio::time::advance(REFETCH_AFTER + Duration::from_secs(1)).await;
    v.verify(&token(&access_claims())).await.expect("valid");
    assert_eq!(fetches(&jwks), 2);
    // Unreachable again: an unknown kid is refused, the known keys still verify.
    jwks.failing.store(true, Ordering::SeqCst);
    tokio::time::advance(REFETCH_AFTER + Duration::from_secs(1)).await;
    assert!(matches!(
        refusal(&v, &sign(&access_claims(), "kid-new", "a")).await,
        Refusal::KeysUnavailable(_)
    ));
    assert_eq!(fetches(&jwks), 3);
    let fresh = with(access_claims(), "jti", json!("another token"));
    v.verify(&token(&fresh)).await.expect("kid-a still known");
    v.verify(&sign(&fresh, "kid-b", "b"))
        .await
        .expect("kid-b still known");
    assert_eq!(fetches(&jwks), 3);
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_for_a_pool_not_read_yet_wait_for_one_read() {
    let (v, jwks) = verifier_with(Jwks {
        delay: Duration::from_millis(200),
        ..Jwks::default()
    });
    let v = Arc::new(v);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let v = v.clone();
            let t = token(&with(access_claims(), "jti", json!(i)));
            tokio::spawn(async move { v.verify(&t).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("joined").expect("valid");
    }
    assert_eq!(fetches(&jwks), 1);
}

#[tokio::test]
async fn only_the_accepted_token_uses_pass() {
    let jwks = Arc::new(Jwks::default());
    let access_only = TokenVerifier::new(REGION, Arc::new(Directory), jwks.clone())
        .accepting(&[TokenUse::Access]);
    access_only
        .verify(&token(&access_claims()))
        .await
        .expect("access");
    assert_eq!(
        refusal(&access_only, &token(&id_claims())).await,
        Refusal::TokenUse
    );
    let id_only = TokenVerifier::new(REGION, Arc::new(Directory), jwks).accepting(&[TokenUse::Id]);
    id_only.verify(&token(&id_claims())).await.expect("id");
    assert_eq!(
        refusal(&id_only, &token(&access_claims())).await,
        Refusal::TokenUse
    );
}

#[tokio::test]
async fn a_verified_token_is_remembered_until_it_expires() {
    let (v, jwks) = verifier();
    let t = token(&access_claims());
    for _ in 0..3 {
        v.verify(&t).await.expect("valid");
    }
    assert_eq!(fetches(&jwks), 1);
    assert_eq!(v.verified.lock().expect("lock").len(), 1);
}

fn digest(token: &str) -> [u8; 32] {
    let mut d = [0u8; 32];
    d.copy_from_slice(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref(),
    );
    d
}

fn remembered(exp: u64) -> Verified {
    Verified {
        pool_id: POOL.into(),
        username: "hank".into(),
        sub: "d4e8a1b2".into(),
        token_use: TokenUse::Access,
        client_id: CLIENT.into(),
        groups: vec![],
        exp,
        auth_time: 0,
        nonce: None,
    }
}

#[tokio::test]
async fn a_remembered_token_past_its_exp_is_checked_again_and_refused() {
    let (v, _) = verifier();
    // Signed with the wrong key: only the cache could accept it.
    let t = sign(&access_claims(), "kid-a", "b");
    v.remember(digest(&t), &remembered(now() + 3600));
    assert!(v.verify(&t).await.is_ok(), "served from the cache");
    v.remember(digest(&t), &remembered(now() - LEEWAY_SECS - 1));
    assert_eq!(refusal(&v, &t).await, Refusal::Signature);
}

#[test]
fn the_verified_token_cache_stays_bounded_and_drops_expired_tokens_first() {
    let (v, _) = verifier();
    let live = now() + 3600;
    for i in 0..CACHE_ENTRIES - 1 {
        v.remember(digest(&format!("live {i}")), &remembered(live));
    }
    v.remember(digest("expired"), &remembered(now() - 3600));
    assert_eq!(v.verified.lock().expect("lock").len(), CACHE_ENTRIES);
    // Full: the expired entry goes, the new one fits, every live one stays.
    v.remember(digest("one more"), &remembered(live));
    assert_eq!(v.verified.lock().expect("lock").len(), CACHE_ENTRIES);
    assert!(v.remembered(&digest("expired")).is_none());
    // Full of live tokens: half are forgotten, never more than the bound.
    v.remember(digest("and another"), &remembered(live));
    let len = v.verified.lock().expect("lock").len();
    assert_eq!(len, CACHE_ENTRIES / 2 + 1);
    assert!(v.remembered(&digest("and another")).is_some());
}

#[test]
fn issuers_parse_to_pools_of_the_region_only() {
    let r = "us-east-1";
    assert_eq!(
        pool_of_issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_252ace78545c4bdca399e687ae018fb3", r),
        Some("us-east-1_252ace78545c4bdca399e687ae018fb3")
    );
    for bad in [
        "https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_abc",
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_",
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc/x",
        "http://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc",
        "https://cognito-idp.us-east-1.amazonaws.com.evil/us-east-1_abc",
    ] {
        assert_eq!(pool_of_issuer(bad, r), None, "{bad}");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_strings_are_refused(input in ".{0,400}") {
            let (v, _) = verifier();
            prop_assert!(runtime().block_on(v.verify(&input)).is_err());
        }

        #[test]
        fn arbitrary_headers_and_payloads_are_refused(
            header in prop::collection::btree_map("[a-z]{1,5}", "[ -~]{0,20}", 0..5),
            payload in prop::collection::btree_map("[a-z:_]{1,12}", "[ -~]{0,30}", 0..8),
            signature in "[A-Za-z0-9_-]{0,64}",
        ) {
            let (v, _) = verifier();
            let b64 = |m: &std::collections::BTreeMap<String, String>| {
                URL_SAFE_NO_PAD.encode(serde_json::to_string(m).unwrap_or_default())
            };
            let forged = format!("{}.{}.{}", b64(&header), b64(&payload), signature);
            prop_assert!(runtime().block_on(v.verify(&forged)).is_err());
        }
    }
}
