//! What a route runs with: the app's dependencies (`App`, built once), the token check they
//! rest on (`Authenticate`), who is calling (`Caller`) and the request taken apart (`Call`).
//! The routes and the request handling in `app.rs` both stand on these.

use std::sync::Arc;

use async_trait::async_trait;
use lambda_http::http::{header, HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use shared::domain::ports::{Mailer, Registry, UserPools};
use shared::domain::{Organization, Person, Role};

use crate::problem::Problem;

/// Who a verified token names: the pool that issued it and the person's username in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSubject {
    pub pool_id: String,
    pub username: String,
    /// When the person signed in (the token's `auth_time`, epoch seconds).
    pub signed_in_at: u64,
}

/// Why a token was not accepted: the reason goes to the log, never to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAccepted {
    pub reason: String,
    /// The token could not be checked (the pool's keys or the registry did not answer),
    /// rather than found bad: the caller gets 503 and may try again, not 401.
    pub outage: bool,
}

impl NotAccepted {
    pub fn bad(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            outage: false,
        }
    }
}

/// Verifies a bearer token fully (signature, issuer, audience, use, time).
#[async_trait]
pub trait Authenticate: Send + Sync {
    async fn authenticate(&self, token: &str) -> Result<TokenSubject, NotAccepted>;
}

/// Built once per execution environment.
pub struct App {
    pub registry: Arc<dyn Registry>,
    pub pools: Arc<dyn UserPools>,
    pub mailer: Arc<dyn Mailer>,
    pub auth: Arc<dyn Authenticate>,
    /// The identity providers' client secrets (organization settings).
    pub secrets: Arc<dyn shared::domain::ports::Secrets>,
    /// DNS, for the TXT proofs of the organization's e-mail domains.
    pub dns: Arc<dyn shared::domain::ports::TxtRecords>,
    pub base_domain: String,
    /// The suite's Region: the pools' Cognito domains are in it.
    pub region: String,
}

/// The caller of one request: their organization and their own record, as stored now.
pub struct Caller {
    pub org: Organization,
    pub person: Person,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.person.roles.contains(&Role::admin())
    }
}

/// One request, taken apart.
pub struct Call<'a> {
    pub method: &'a Method,
    /// The path from `/v1` on, split at `/`.
    pub segments: Vec<&'a str>,
    pub query: Vec<(String, String)>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl Call<'_> {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The JSON body as `T` (unknown fields refused), after checking its content type.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        let content_type = self.header(header::CONTENT_TYPE).unwrap_or("");
        let media = content_type.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("application/json") {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Send JSON",
                "The body must be application/json.",
            ));
        }
        serde_json::from_slice(self.body).map_err(|e| {
            let message = e.to_string();
            // serde names the field for unknown and missing fields and for wrong types.
            let field = message
                .split('`')
                .nth(1)
                .filter(|_| message.contains("field"))
                .unwrap_or("body")
                .to_owned();
            Problem::invalid(field, format!("The body is not valid: {message}."))
        })
    }
}
