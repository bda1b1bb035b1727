//! Errors as RFC 9457 problem details (`application/problem+json`): a stable `type` (and the
//! same slug as `code`), a title, the HTTP status, a detail for the person at the admin UI,
//! and where it applies the `field` that was wrong. No secret and no internal detail goes
//! into one: the log has those.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use shared::domain::Error;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub code: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: format!("/problems/{code}"),
            code,
            title,
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 400: the request is wrong in `field`.
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "The request is not valid",
            detail,
        )
        .with_field(field)
    }

    /// 401, the same for every reason: the log says which check failed.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Sign in again",
            "The access token is missing, invalid or no longer accepted.",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Not allowed",
            "This needs the admin role in your organization.",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("There is no such {what} in your organization."),
        )
    }

    pub fn into_response(self) -> Response<Body> {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&self).unwrap_or_else(|_| "{}".into());
        let mut response = Response::new(Body::Text(body));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        response
    }
}

/// The field a domain error is about, in the API's names.
fn field_of(what: &str) -> &str {
    match what {
        "e-mail address" => "email",
        "person id" => "id",
        "role" => "roles",
        other => other,
    }
}

impl From<Error> for Problem {
    fn from(e: Error) -> Self {
        match &e {
            Error::InvalidInput { what, .. } => Problem::invalid(field_of(what), e.to_string()),
            Error::NotFound { what, .. } => Problem::not_found(what),
            Error::Conflict { .. } => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "changed-meanwhile",
                "Changed meanwhile",
                "Someone changed this meanwhile: load it again and repeat your change.",
            ),
            Error::NoSeatFree { .. } => Problem::new(
                StatusCode::CONFLICT,
                "no-seat",
                "No free seat",
                "Every licence seat of your organization is taken: deactivate someone or ask for more seats.",
            ),
            Error::RoleRequired { .. } => Problem::new(
                StatusCode::CONFLICT,
                "role-required",
                "A role is needed",
                "Assign a role to this person first, then switch the activation on.",
            ),
            Error::NotAllowed { .. } | Error::LoginOfAnotherPerson { .. } => {
                Problem::new(StatusCode::CONFLICT, "not-allowed", "Not possible now", e.to_string())
            }
            Error::PublicEmailDomain { .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "public-email-domain",
                "A public mail domain",
                e.to_string(),
            )
            .with_field("email_domains"),
            Error::LastAdministrator { .. } => Problem::new(
                StatusCode::CONFLICT,
                "last-admin",
                "Last administrator",
                e.to_string(),
            ),
            Error::InvalidSubdomain { .. }
            | Error::ReservedSubdomain { .. }
            | Error::SubdomainTaken { .. }
            | Error::SubdomainOfAnotherName { .. }
            | Error::EmailDomainTaken { .. }
            | Error::PoolTaken { .. } => {
                Problem::new(StatusCode::CONFLICT, "not-allowed", "Not possible now", e.to_string())
            }
            Error::InProgress { .. } => Problem::new(
                StatusCode::CONFLICT,
                "request-in-progress",
                "Still running",
                e.to_string(),
            ),
            Error::QuotaExceeded(_)
            | Error::Unreachable { .. }
            | Error::Render { .. }
            | Error::Aws { .. } => {
                tracing::error!(code = e.code(), error = %e, "backend failed");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "backend-unavailable",
                    "Not finished",
                    "The change could not be finished because a service did not answer: send the same request again to finish it.",
                )
            }
        }
    }
}

/// A JSON answer.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
