//! The admin API: who is calling (a verified token of their organization's own pool, and
//! their person record, read on every request), what they may do (everything but
//! `GET /v1/me`, their own record, needs the `admin` role), idempotency keys, and the routes.
//!
//! The organization is the token issuer's, never taken from the path, a header or the body:
//! every lookup below is scoped to `caller.org`, so a person id of another organization is
//! simply not found.

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};
use shared::domain::ports::{IdempotentClaim, KeyClaim, StoredAnswer};
use shared::domain::PersonStatus;

use crate::context::{App, Call, Caller};
use crate::problem::Problem;
use crate::routes;

/// Largest request body accepted (413 above).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;
/// How long a running request holds its idempotency key: longer than the function may run
/// (29 s, within API Gateway's 30 s), so a live request is never taken over; a crashed or
/// timed-out one frees its key for the same request after this.
pub const IDEMPOTENCY_LEASE_SECS: i64 = 60;

/// A request's fingerprint for its idempotency key: method, path, caller and body.
pub fn request_fingerprint(method: &str, segments: &[&str], username: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method);
    hasher.update([0]);
    hasher.update(segments.join("/"));
    hasher.update([0]);
    hasher.update(username.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl App {
    /// Answers one HTTP request. Never panics on input; every refusal is problem+json.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let bytes: &[u8] = match &body {
            Body::Empty => &[],
            Body::Text(t) => t.as_bytes(),
            Body::Binary(b) => b,
            _ => &[],
        };
        if bytes.len() > MAX_BODY_BYTES {
            return Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Too large",
                "The body is larger than 1 MB.",
            )
            .into_response();
        }
        let path = parts.uri.path();
        let Some(start) = path
            .find("/v1/")
            .or_else(|| path.ends_with("/v1").then(|| path.len() - 3))
        else {
            return Problem::not_found("route").into_response();
        };
        let segments: Vec<&str> = path[start + 1..]
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let query = parts
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let call = Call {
            method: &parts.method,
            segments,
            query,
            headers: &parts.headers,
            body: bytes,
        };
        // The API's own description needs no token.
        if call.method == Method::GET && call.segments == ["v1", "openapi.json"] {
            return routes::openapi();
        }
        let caller = match self.caller(&call).await {
            Ok(caller) => caller,
            Err(problem) => return problem.into_response(),
        };
        // People data, settings, roles and the audit log are the administrators'; anyone
        // else of the organization reads only their own record.
        let own_record = call.method == Method::GET && call.segments == ["v1", "me"];
        if !own_record && !caller.is_admin() {
            return Problem::forbidden().into_response();
        }
        let mutation = call.method != Method::GET;
        match (
            mutation,
            call.header(header::HeaderName::from_static("idempotency-key")),
        ) {
            // A new SCIM token is shown once and never stored: not under a key either (a
            // repeat makes another; the one before keeps working for the grace period).
            (true, Some(_)) if call.segments == ["v1", "organization", "scim-token"] => {
                self.route(&caller, &call).await
            }
            (true, Some(key)) => self.idempotent(&caller, &call, key.to_owned()).await,
            _ => self.route(&caller, &call).await,
        }
    }

    async fn route(&self, caller: &Caller, call: &Call<'_>) -> Response<Body> {
        routes::route(self, caller, call)
            .await
            .unwrap_or_else(Problem::into_response)
    }

    /// The caller, from the bearer token and the registry: the token's issuer names the
    /// organization; the person must exist there and hold a login (a deactivated, deleted
    /// or unknown person's still-valid token is refused).
    async fn caller(&self, call: &Call<'_>) -> Result<Caller, Problem> {
        let token = call
            .header(header::AUTHORIZATION)
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                tracing::info!(reason = "no bearer token", "refused");
                Problem::unauthorized()
            })?;
        let subject = self.auth.authenticate(token).await.map_err(|refused| {
            if refused.outage {
                tracing::error!(reason = %refused.reason, "token could not be checked");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "backend-unavailable",
                    "Try again",
                    "Your sign-in could not be checked just now: send the same request again in a moment.",
                )
            } else {
                tracing::info!(reason = %refused.reason, "token refused");
                Problem::unauthorized()
            }
        })?;
        let org = self
            .registry
            .organization_by_pool(&subject.pool_id)
            .await
            .map_err(Problem::from)?
            .ok_or_else(|| {
                tracing::warn!(
                    pool_id = subject.pool_id,
                    "a valid token of a pool no organization owns"
                );
                Problem::unauthorized()
            })?;
        if org.status != shared::domain::OrgStatus::Active {
            tracing::info!(org_id = %org.id, status = %org.status, "organization not active");
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "organization-unavailable",
                "Organization not available",
                "Your organization's access is suspended or not set up yet: contact the vendor's support.",
            ));
        }
        let username = subject.username.to_ascii_lowercase();
        let person = self
            .registry
            .person(&org.id, &username)
            .await
            .map_err(Problem::from)?
            .filter(|p| matches!(p.status, PersonStatus::Invited | PersonStatus::Active))
            .ok_or_else(|| {
                tracing::info!(org_id = %org.id, reason = "no person with a login", "refused");
                Problem::unauthorized()
            })?;
        // A session ended since (a password reset, a deactivation): its tokens stay valid
        // at Cognito until they expire, not here.
        if person
            .sessions_revoked_at
            .is_some_and(|at| (subject.signed_in_at as i64) < at)
        {
            tracing::info!(org_id = %org.id, reason = "signed in before the sessions were ended", "refused");
            return Err(Problem::unauthorized());
        }
        Ok(Caller { org, person })
    }

    /// A mutation with an `Idempotency-Key`: the first request runs and its answer is kept
    /// (any size); a repeat gets the same answer and changes nothing. A failure of ours (5xx)
    /// frees the key, so the same request can be sent again to finish; a request that never
    /// answered (crashed, timed out) holds the key for [`IDEMPOTENCY_LEASE_SECS`], after which
    /// the same request takes it over.
    async fn idempotent(&self, caller: &Caller, call: &Call<'_>, key: String) -> Response<Body> {
        let valid = (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Problem::invalid(
                "Idempotency-Key",
                "The Idempotency-Key header must be 1 to 255 visible ASCII characters.",
            )
            .into_response();
        }
        let fingerprint = request_fingerprint(
            call.method.as_str(),
            &call.segments,
            &caller.person.username,
            call.body,
        );
        let holder = uuid::Uuid::now_v7().to_string();
        let claim = self
            .registry
            .claim_idempotency_key(
                &caller.org.id,
                &key,
                &KeyClaim {
                    fingerprint: &fingerprint,
                    holder: &holder,
                    ttl_secs: IDEMPOTENCY_TTL_SECS,
                    lease_secs: IDEMPOTENCY_LEASE_SECS,
                },
            )
            .await;
        match claim {
            Err(e) => return Problem::from(e).into_response(),
            Ok(IdempotentClaim::Done(answer)) => return stored(answer),
            Ok(IdempotentClaim::InProgress) => {
                return Problem::new(
                    StatusCode::CONFLICT,
                    "request-in-progress",
                    "Still running",
                    "A request with this Idempotency-Key is still running: wait a moment and send it again.",
                )
                .into_response()
            }
            Ok(IdempotentClaim::Mismatch) => {
                return Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency-key-reused",
                    "Key used for another request",
                    "This Idempotency-Key was used for a different request: use a new key.",
                )
                .with_field("Idempotency-Key")
                .into_response()
            }
            Ok(IdempotentClaim::New) => {}
        }
        let response = self.route(caller, call).await;
        let status = response.status();
        let outcome = if status.is_server_error() {
            self.registry
                .release_idempotency_key(&caller.org.id, &key, &holder)
                .await
        } else {
            let body = match response.body() {
                Body::Text(t) => t.clone(),
                Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
                _ => String::new(),
            };
            self.registry
                .store_idempotent_answer(
                    &caller.org.id,
                    &key,
                    &holder,
                    &StoredAnswer {
                        status: status.as_u16(),
                        body,
                    },
                )
                .await
                .map(|stored| {
                    if !stored {
                        tracing::warn!(
                            org_id = %caller.org.id,
                            "idempotency key taken over by a later request: its answer is kept"
                        );
                    }
                })
        };
        if let Err(e) = outcome {
            tracing::error!(code = e.code(), error = %e, "idempotency record not updated");
        }
        response
    }
}

/// A stored answer, given again.
fn stored(answer: StoredAnswer) -> Response<Body> {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let problem = !status.is_success();
    let mut response = Response::new(if answer.body.is_empty() {
        Body::Empty
    } else {
        Body::Text(answer.body)
    });
    *response.status_mut() = status;
    let content_type = if problem {
        "application/problem+json"
    } else {
        "application/json"
    };
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response.headers_mut().insert(
        "idempotent-replay",
        header::HeaderValue::from_static("true"),
    );
    response
}
