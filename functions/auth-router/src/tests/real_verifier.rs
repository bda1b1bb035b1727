use super::*;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use shared::auth::{JwksSource, PoolDirectory, TokenUse, TokenVerifier};

struct TestKeys;

#[async_trait]
impl JwksSource for TestKeys {
    async fn fetch(&self, _pool: &str) -> Result<JwkSet, String> {
        serde_json::from_str(include_str!("../../../../shared/testdata/jwks.json"))
            .map_err(|e| e.to_string())
    }
}

struct Pools;

#[async_trait]
impl PoolDirectory for Pools {
    async fn app_client(&self, pool: &str) -> Result<Option<String>, shared::domain::Error> {
        Ok((pool == SAMPLE_POOL).then(|| sample_org().cognito.app_client_id.expect("client")))
    }
}

/// An ID token for the nonce of the sign-in under way.
type TokenFor = Box<dyn Fn(&str) -> String>;

fn id_token(nonce: &str, signing_key: &[u8], pool: &str) -> String {
    let now = shared::domain::now_epoch();
    let claims = serde_json::json!({
        "iss": format!("https://cognito-idp.eu-west-1.amazonaws.com/{pool}"),
        "aud": sample_org().cognito.app_client_id.expect("client"),
        "sub": "5f1c", "token_use": "id", "cognito:username": "hank",
        "nonce": nonce, "iat": now, "exp": now + 3600,
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("kid-a".into());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(signing_key)).expect("signed")
}

#[tokio::test]
async fn the_callback_accepts_only_the_pools_own_token_with_our_nonce() {
    let mut w = world();
    w.app.identify = Arc::new(
        TokenVerifier::new("eu-west-1", Arc::new(Pools), Arc::new(TestKeys))
            .accepting(&[TokenUse::Id]),
    );
    let mut acme = sample_org();
    acme.sign_in.providers = vec!["Microsoft".into()];
    w.registry.insert_org(acme);
    let key_a: &[u8] = include_bytes!("../../../../shared/testdata/key-a.der");
    let key_b: &[u8] = include_bytes!("../../../../shared/testdata/key-b.der");
    let cases: Vec<(TokenFor, bool, &str)> = vec![
        (
            Box::new(move |nonce| id_token(nonce, key_a, SAMPLE_POOL)),
            true,
            "the pool's own token",
        ),
        (
            Box::new(move |_| id_token("someone-elses-nonce", key_a, SAMPLE_POOL)),
            false,
            "another nonce",
        ),
        (
            Box::new(move |nonce| id_token(nonce, key_b, SAMPLE_POOL)),
            false,
            "signed with another key under kid-a",
        ),
        (
            Box::new(move |nonce| id_token(nonce, key_a, GLOBEX_POOL)),
            false,
            "another pool's issuer",
        ),
    ];
    for (token_for, accepted, case) in cases {
        let start = w.get(ACME, "/sso/Microsoft").await;
        let (state, nonce, _, _) = pending(&start);
        let cookie = start.cookie("__Host-oauth").expect("cookie");
        *w.exchange.id_token.lock().expect("token") = token_for(&nonce);
        let back = w
            .call(
                Method::GET,
                ACME,
                &format!("/oauth/callback?code=good&state={state}"),
                &[("__Host-oauth", &cookie)],
                None,
            )
            .await;
        if accepted {
            assert_eq!(back.status, StatusCode::SEE_OTHER, "{case}: {}", back.body);
            let session = back.cookie("__Host-session").expect("a session");
            let home = w
                .call(
                    Method::GET,
                    ACME,
                    "/",
                    &[("__Host-session", &session)],
                    None,
                )
                .await;
            assert!(
                home.body.contains("signed in as <strong>hank</strong>"),
                "{case}"
            );
        } else {
            assert_eq!(
                back.status,
                StatusCode::BAD_REQUEST,
                "{case}: {}",
                back.body
            );
            assert!(back.cookie("__Host-session").is_none(), "{case}");
        }
    }
}
