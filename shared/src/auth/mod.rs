//! The one verifier of bearer tokens from the organizations' user pools (the admin API).
//!
//! A token is accepted only when all of these hold. The signature is checked by
//! `jsonwebtoken` (`crypto::verify`, RS256 only); the header and the payload are each read
//! once, here, and every claim is checked below on that one reading (jsonwebtoken's `decode`
//! would read the payload twice more, a fifth of the cost of a verification):
//! - the header says RS256 (nothing else: not `none`, not HS256 with the public key as its
//!   secret) and names a `kid`;
//! - `iss` is exactly `https://cognito-idp.<region>.amazonaws.com/<pool id>` (or the newer
//!   `https://issuer-cognito-idp.<region>.amazonaws.com/<pool id>`) of this Region, and the
//!   pool belongs to an organization ([`PoolDirectory`]): the organization comes from the
//!   issuer, never from anything the caller says;
//! - the signature verifies with the key of that `kid` from that pool's JWKS, which is read
//!   from the configured endpoint (never from the token) and cached per execution
//!   environment. A pool's JWKS is read at most once per [`REFETCH_AFTER`], whatever the
//!   outcome: an unknown `kid` or an unreachable endpoint cannot make us hammer it, and
//!   requests arriving while it is being read wait for that one read;
//! - `exp` has not passed, and neither `nbf` nor `iat` (when present) lies in the future
//!   (a [`LEEWAY_SECS`] leeway);
//! - `token_use` is one the verifier accepts (both by default, see
//!   [`TokenVerifier::accepting`]): `access` with `client_id` equal to the organization's app
//!   client, or `id` with `aud` equal to it.
//!
//! A refusal carries its [`Refusal`] reason for the log (never the token); the caller only
//! learns that the token was not accepted. Verified tokens are remembered by their SHA-256
//! (at most [`CACHE_ENTRIES`], until they expire: a hit checks `exp` again), so a token seen
//! again costs a hash and a map look-up.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::domain::Error;

mod http;
pub mod oauth;
mod parsed_keys;
mod wiring;

pub use http::Https;

pub use wiring::{verifier, RegistryPools};

/// How often an unknown `kid` may make the verifier read a pool's JWKS again.
pub const REFETCH_AFTER: Duration = Duration::from_secs(5);
/// Clock skew allowed on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;
/// Longest token looked at.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Most verified tokens remembered.
pub const CACHE_ENTRIES: usize = 10_000;

/// Why a token was refused: for the log only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a JWT")]
    Malformed,
    #[error("algorithm {0} is not RS256")]
    Algorithm(String),
    #[error("no kid in the header")]
    NoKeyId,
    #[error("issuer is not a user pool of this Region")]
    Issuer,
    #[error("the pool belongs to no organization")]
    UnknownPool,
    #[error("no key with that kid in the pool's JWKS")]
    UnknownKey,
    #[error("the pool's keys could not be read: {0}")]
    KeysUnavailable(String),
    #[error("the signature does not verify")]
    Signature,
    #[error("expired")]
    Expired,
    #[error("not valid yet")]
    NotYetValid,
    #[error("token_use is not access or id")]
    TokenUse,
    #[error("issued for another app client")]
    Client,
    #[error("a required claim is missing or malformed: {0}")]
    Claims(String),
    #[error("the organization registry failed: {0}")]
    Registry(String),
}

impl Refusal {
    /// The token could not be checked (keys or registry unavailable), rather than found bad:
    /// a caller may answer 503 instead of 401 for these.
    pub fn is_outage(&self) -> bool {
        matches!(self, Refusal::KeysUnavailable(_) | Refusal::Registry(_))
    }
}

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub pool_id: String,
    /// The username in the pool (`username` of an access token, `cognito:username` of an ID
    /// token).
    pub username: String,
    pub sub: String,
    pub token_use: TokenUse,
    /// The organization's app client the token was issued for (`client_id` or `aud`).
    pub client_id: String,
    /// `cognito:groups` (the person's roles in the pool), empty when absent.
    pub groups: Vec<String>,
    pub exp: u64,
    /// When the person signed in (`auth_time`; `iat` where a token lacks it): a refresh
    /// keeps it, so a session ended since is told by it.
    pub auth_time: u64,
    /// An ID token's `nonce` (OAuth sign-ins): the caller compares it with the one it sent.
    pub nonce: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenUse {
    Access,
    Id,
}

/// Which app client a pool's tokens must be issued for, if the pool is an organization's.
#[async_trait]
pub trait PoolDirectory: Send + Sync {
    async fn app_client(&self, pool_id: &str) -> Result<Option<String>, Error>;
}

/// Where a pool's public keys come from.
#[async_trait]
pub trait JwksSource: Send + Sync {
    async fn fetch(&self, pool_id: &str) -> Result<JwkSet, String>;
}

struct PoolKeys {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// When the pool's JWKS was last read, or an attempt to read it failed.
    attempted_at: Instant,
    /// Why that last attempt failed, if it did.
    error: Option<String>,
}

/// What the key cache alone can answer.
enum Cached {
    Key(Arc<DecodingKey>),
    Refused(Refusal),
    Fetch,
}

pub struct TokenVerifier {
    region: String,
    directory: Arc<dyn PoolDirectory>,
    source: Arc<dyn JwksSource>,
    accept_access: bool,
    accept_id: bool,
    keys: Mutex<HashMap<String, PoolKeys>>,
    /// One JWKS read at a time per pool; the others wait for it and use its result.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    verified: Mutex<HashMap<[u8; 32], Verified>>,
}

/// The payload, read once. Nothing in it is trusted until the signature has verified with
/// the key of the pool its `iss` names; every check below is on this one reading.
#[derive(Deserialize)]
struct Claims<'a> {
    #[serde(default, borrow)]
    iss: Option<Cow<'a, str>>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    auth_time: Option<u64>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default, borrow)]
    token_use: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    client_id: Option<Cow<'a, str>>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default, rename = "cognito:username")]
    cognito_username: Option<String>,
    #[serde(default, rename = "cognito:groups")]
    groups: Vec<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// `aud`: one value (Cognito's ID tokens) or several (RFC 7519).
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, client: &str) -> bool {
        match self {
            Audience::One(a) => a == client,
            Audience::Many(all) => all.iter().any(|a| a == client),
        }
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A base64url part of the token, decoded.
fn decoded(part: &str) -> Result<Vec<u8>, Refusal> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Refusal::Malformed)
}

/// JSON read from `bytes`, borrowing its strings where it can.
fn json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, Refusal> {
    serde_json::from_slice(bytes).map_err(|_| Refusal::Malformed)
}

#[derive(Deserialize)]
struct UnverifiedHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
}

/// The pool id in an issuer of `region`, if it is one.
pub fn pool_of_issuer<'a>(iss: &'a str, region: &str) -> Option<&'a str> {
    let rest = iss
        .strip_prefix("https://cognito-idp.")
        .or_else(|| iss.strip_prefix("https://issuer-cognito-idp."))?;
    let pool = rest.strip_prefix(region)?.strip_prefix(".amazonaws.com/")?;
    let suffix = pool.strip_prefix(region)?.strip_prefix('_')?;
    let valid = !suffix.is_empty()
        && suffix.len() <= 64
        && suffix.bytes().all(|b| b.is_ascii_alphanumeric());
    valid.then_some(pool)
}

impl TokenVerifier {
    pub fn new(
        region: impl Into<String>,
        directory: Arc<dyn PoolDirectory>,
        source: Arc<dyn JwksSource>,
    ) -> Self {
        parsed_keys::install();
        Self {
            region: region.into(),
            directory,
            source,
            accept_access: true,
            accept_id: true,
            keys: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// Accepts only tokens of these uses (both by default); others are refused with
    /// [`Refusal::TokenUse`].
    pub fn accepting(mut self, uses: &[TokenUse]) -> Self {
        self.accept_access = uses.contains(&TokenUse::Access);
        self.accept_id = uses.contains(&TokenUse::Id);
        self
    }

    /// Verifies `token` fully; see the module's rules.
    pub async fn verify(&self, token: &str) -> Result<Verified, Refusal> {
        if token.len() > MAX_TOKEN_BYTES || token.bytes().filter(|b| *b == b'.').count() != 2 {
            return Err(Refusal::Malformed);
        }
        let mut digest = [0u8; 32];
        digest.copy_from_slice(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref(),
        );
        if let Some(hit) = self.remembered(&digest) {
            return Ok(hit);
        }
        let verified = self.verify_fully(token).await?;
        self.remember(digest, &verified);
        Ok(verified)
    }

    fn remembered(&self, digest: &[u8; 32]) -> Option<Verified> {
        let cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(digest)
            .filter(|v| v.exp + LEEWAY_SECS > now_secs())
            .cloned()
    }

    fn remember(&self, digest: [u8; 32], verified: &Verified) {
        let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_ENTRIES {
            let now = now_secs();
            cache.retain(|_, v| v.exp + LEEWAY_SECS > now);
            if cache.len() >= CACHE_ENTRIES {
                // Still full of live tokens: forget an arbitrary half rather than grow.
                let dropped: Vec<[u8; 32]> =
                    cache.keys().take(CACHE_ENTRIES / 2).copied().collect();
                for digest in dropped {
                    cache.remove(&digest);
                }
            }
        }
        cache.insert(digest, verified.clone());
    }

    async fn verify_fully(&self, token: &str) -> Result<Verified, Refusal> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
            return Err(Refusal::Malformed);
        };
        let header = decoded(header)?;
        let header: UnverifiedHeader = json(&header)?;
        if header.alg != "RS256" {
            return Err(Refusal::Algorithm(header.alg.into_owned()));
        }
        let kid = header.kid.ok_or(Refusal::NoKeyId)?;
        // Read once; before the signature has verified, it only says which pool's key and
        // client to check against.
        let payload = decoded(payload)?;
        let claims: Claims = json(&payload)?;
        let token_use = match claims.token_use.as_deref() {
            Some("access") if self.accept_access => TokenUse::Access,
            Some("id") if self.accept_id => TokenUse::Id,
            _ => return Err(Refusal::TokenUse),
        };
        let iss = claims.iss.as_deref().ok_or(Refusal::Issuer)?;
        let pool_id = pool_of_issuer(iss, &self.region)
            .ok_or(Refusal::Issuer)?
            .to_owned();
        let client = self
            .directory
            .app_client(&pool_id)
            .await
            .map_err(|e| Refusal::Registry(e.to_string()))?
            .ok_or(Refusal::UnknownPool)?;
        let key = self.key(&pool_id, &kid).await?;

        // jsonwebtoken's RS256 check of the signature over `header.payload`, with the key of
        // that kid from that pool's JWKS.
        let (message, signature) = token.rsplit_once('.').ok_or(Refusal::Malformed)?;
        match jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, Algorithm::RS256) {
            Ok(true) => {}
            Ok(false) | Err(_) => return Err(Refusal::Signature),
        }

        // The claims, now that they are the pool's own.
        let now = now_secs();
        let exp = claims.exp.ok_or_else(|| Refusal::Claims("exp".into()))?;
        if exp + LEEWAY_SECS <= now {
            return Err(Refusal::Expired);
        }
        let future = |t: Option<u64>| t.is_some_and(|t| t > now + LEEWAY_SECS);
        if future(claims.nbf) || future(claims.iat) {
            return Err(Refusal::NotYetValid);
        }
        let sub = claims
            .sub
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Refusal::Claims("sub".into()))?;
        let username = match token_use {
            TokenUse::Access => {
                if claims.client_id.as_deref() != Some(client.as_str()) {
                    return Err(Refusal::Client);
                }
                claims.username
            }
            TokenUse::Id => {
                if !claims.aud.is_some_and(|aud| aud.contains(&client)) {
                    return Err(Refusal::Client);
                }
                claims.cognito_username
            }
        }
        .filter(|u| !u.is_empty())
        .ok_or_else(|| Refusal::Claims("username".into()))?;
        Ok(Verified {
            pool_id,
            username,
            sub,
            token_use,
            client_id: client,
            groups: claims.groups,
            exp,
            auth_time: claims.auth_time.or(claims.iat).unwrap_or(0),
            nonce: claims.nonce,
        })
    }

    /// The pool's key `kid`: cached, or read with the pool's JWKS when unknown. A pool's
    /// JWKS is read at most once per [`REFETCH_AFTER`] (successful or not), so that unknown
    /// kids or an unreachable endpoint cannot make us hammer it; concurrent requests for a
    /// pool wait for the one read in progress.
    async fn key(&self, pool_id: &str, kid: &str) -> Result<Arc<DecodingKey>, Refusal> {
        match self.cached_key(pool_id, kid) {
            Cached::Key(key) => return Ok(key),
            Cached::Refused(refusal) => return Err(refusal),
            Cached::Fetch => {}
        }
        let lock = self
            .fetching
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(pool_id.to_owned())
            .or_default()
            .clone();
        let _reading = lock.lock().await;
        // Another request may have read the keys while this one waited.
        match self.cached_key(pool_id, kid) {
            Cached::Key(key) => return Ok(key),
            Cached::Refused(refusal) => return Err(refusal),
            Cached::Fetch => {}
        }
        let fetched = self.source.fetch(pool_id).await;
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let pool = keys.entry(pool_id.to_owned()).or_insert_with(|| PoolKeys {
            keys: HashMap::new(),
            attempted_at: Instant::now(),
            error: None,
        });
        pool.attempted_at = Instant::now();
        match fetched {
            Ok(set) => {
                pool.keys = rsa_keys(&set);
                pool.error = None;
                pool.keys.get(kid).cloned().ok_or(Refusal::UnknownKey)
            }
            Err(e) => {
                // The keys read before stay in use (only an unknown kid comes here).
                pool.error = Some(e.clone());
                Err(Refusal::KeysUnavailable(e))
            }
        }
    }

    fn cached_key(&self, pool_id: &str, kid: &str) -> Cached {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let Some(pool) = keys.get(pool_id) else {
            return Cached::Fetch;
        };
        if let Some(key) = pool.keys.get(kid) {
            return Cached::Key(key.clone());
        }
        if pool.attempted_at.elapsed() < REFETCH_AFTER {
            return Cached::Refused(match &pool.error {
                Some(e) => Refusal::KeysUnavailable(e.clone()),
                None => Refusal::UnknownKey,
            });
        }
        Cached::Fetch
    }
}

/// The RSA keys of a JWKS that name a `kid`, by `kid`.
fn rsa_keys(set: &JwkSet) -> HashMap<String, Arc<DecodingKey>> {
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let rsa = matches!(
            jwk.algorithm,
            jsonwebtoken::jwk::AlgorithmParameters::RSA(_)
        );
        if let (true, Some(id)) = (rsa, jwk.common.key_id.clone()) {
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(id, Arc::new(key));
            }
        }
    }
    keys
}

/// Reads a pool's JWKS over HTTP(S) from `<base>/<pool id>/.well-known/jwks.json`, where
/// `base` is the Cognito endpoint (`https://cognito-idp.<region>.amazonaws.com`, or the
/// local AWS's `AWS_ENDPOINT_URL`), through the suite's HTTPS client (`aws::https`: TLS
/// verified, the same roots as the AWS calls).
pub struct HttpJwks {
    base: String,
    https: Https,
}

/// Largest JWKS document read.
const MAX_JWKS_BYTES: usize = 64 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

impl HttpJwks {
    pub fn new(base: impl Into<String>) -> Result<Self, String> {
        Ok(Self {
            base: base.into().trim_end_matches('/').to_owned(),
            https: Https::new()?,
        })
    }

    /// The JWKS base of `region`, or of a local AWS (`AWS_ENDPOINT_URL`).
    pub fn for_region(region: &str, endpoint_url: Option<&str>) -> Result<Self, String> {
        match endpoint_url {
            Some(url) => Self::new(url),
            None => Self::new(format!("https://cognito-idp.{region}.amazonaws.com")),
        }
    }
}

#[async_trait]
impl JwksSource for HttpJwks {
    async fn fetch(&self, pool_id: &str) -> Result<JwkSet, String> {
        let url = format!("{}/{pool_id}/.well-known/jwks.json", self.base);
        let (status, body) = self.https.get(&url, MAX_JWKS_BYTES, FETCH_TIMEOUT).await?;
        if !(200..300).contains(&status) {
            return Err(format!("answered {status}"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("not a JWKS: {e}"))
    }
}

#[cfg(test)]
mod tests;
