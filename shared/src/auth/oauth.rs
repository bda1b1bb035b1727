//! Cognito's OAuth 2.0 endpoints on an organization's pool domain, for sign-in through an
//! identity provider (Microsoft Entra ID, Google, ...): the authorize URL with PKCE (S256),
//! `state` and `nonce`, and the exchange of the code for tokens.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;

use super::Https;
use crate::domain::ports::SignInTokens;

/// The origin of a pool's Cognito prefix domain.
pub fn domain_origin(prefix: &str, region: &str) -> String {
    format!("https://{prefix}.auth.{region}.amazoncognito.com")
}

/// A random URL-safe value of 32 bytes (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system's random generator");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The S256 challenge of a PKCE verifier (RFC 7636).
pub fn pkce_challenge(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// What goes into the authorize URL.
pub struct Authorize<'a> {
    pub origin: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    /// The identity provider's name in the pool (`Microsoft`, `Google`, ...).
    pub provider: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    pub code_challenge: &'a str,
}

impl Authorize<'_> {
    pub fn url(&self) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", self.client_id)
            .append_pair("redirect_uri", self.redirect_uri)
            .append_pair("identity_provider", self.provider)
            .append_pair("scope", "openid email profile")
            .append_pair("state", self.state)
            .append_pair("nonce", self.nonce)
            .append_pair("code_challenge", self.code_challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        format!("{}/oauth2/authorize?{query}", self.origin)
    }
}

/// Exchanges an authorization code for the pool's tokens.
#[async_trait]
pub trait CodeExchange: Send + Sync {
    async fn exchange(
        &self,
        origin: &str,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<SignInTokens, String>;
}

/// The token endpoint (`/oauth2/token`) of a pool's Cognito domain, over HTTPS.
pub struct TokenEndpoint {
    https: Https,
}

impl TokenEndpoint {
    pub fn new() -> Result<Self, String> {
        Ok(Self {
            https: Https::new()?,
        })
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
    error: Option<String>,
}

const TOKEN_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_TOKEN_ANSWER: usize = 64 * 1024;

#[async_trait]
impl CodeExchange for TokenEndpoint {
    async fn exchange(
        &self,
        origin: &str,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<SignInTokens, String> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("client_id", client_id)
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_verifier", verifier)
            .finish();
        let url = format!("{origin}/oauth2/token");
        let (status, body) = self
            .https
            .post_form(&url, form, MAX_TOKEN_ANSWER, TOKEN_TIMEOUT)
            .await?;
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| format!("the token endpoint answered {status} without JSON"))?;
        match (status, answer.id_token, answer.access_token) {
            (200..=299, Some(id_token), Some(access_token)) => Ok(SignInTokens {
                id_token,
                access_token,
                refresh_token: answer.refresh_token,
                expires_in: answer.expires_in.unwrap_or(3600),
            }),
            _ => Err(format!(
                "the token endpoint answered {status}: {}",
                answer.error.unwrap_or_else(|| "no tokens".into())
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorize_url_carries_pkce_state_nonce_and_the_provider() {
        let verifier = random_token();
        assert_eq!(verifier.len(), 43);
        assert_ne!(verifier, random_token());
        // BASE64URL(SHA256(verifier)), computed independently with Python's hashlib.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mJ92K1PTBY8kgtbTjs5aO0q8IHTVH0"),
            "yxfPOjVWq7X4CXTMj78PniXOteV_TGmQCbFeIXXOZAY"
        );
        let url = Authorize {
            origin: &domain_origin("acme-1a2b", "eu-west-1"),
            client_id: "client1",
            redirect_uri: "https://acme.app.example.com/oauth/callback",
            provider: "Microsoft",
            state: "st",
            nonce: "no",
            code_challenge: "ch",
        }
        .url();
        assert_eq!(
            url,
            "https://acme-1a2b.auth.eu-west-1.amazoncognito.com/oauth2/authorize?response_type=code&client_id=client1&redirect_uri=https%3A%2F%2Facme.app.example.com%2Foauth%2Fcallback&identity_provider=Microsoft&scope=openid+email+profile&state=st&nonce=no&code_challenge=ch&code_challenge_method=S256"
        );
    }
}
