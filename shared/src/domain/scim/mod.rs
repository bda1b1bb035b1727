//! SCIM 2.0 (RFC 7643 and 7644): an organization's own directory (Microsoft Entra ID, Okta,
//! Google Workspace) provisions, changes and deprovisions its people. This module is the
//! protocol's pure part (tokens, filters, PATCH, the User representation) and the
//! [`directory::Directory`] service, which changes people through the same domain rules as
//! the admin API ([`crate::domain::people::Admin`]): no second path to the registry or Cognito.

pub mod directory;
pub mod filter;
pub mod groups;
pub mod patch;
pub mod token;
pub mod user;

pub use token::{ScimCredentials, StoredToken};
pub use user::DirectoryRecord;

/// A SCIM error response (RFC 7644, section 3.12): the HTTP status, the `scimType` where the
/// RFC defines one, and a detail that says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub fn invalid_filter(detail: &str) -> Self {
        Self::new(
            400,
            Some("invalidFilter"),
            format!("the filter is not valid: {detail}"),
        )
    }

    pub fn invalid_path(path: &str) -> Self {
        let shown: String = path.chars().take(200).collect();
        Self::new(
            400,
            Some("invalidPath"),
            format!("the path {shown:?} is not valid"),
        )
    }

    pub fn invalid_value(detail: &str) -> Self {
        Self::new(400, Some("invalidValue"), detail)
    }

    pub fn invalid_syntax(detail: &str) -> Self {
        Self::new(400, Some("invalidSyntax"), detail)
    }

    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some("uniqueness"), detail)
    }

    pub fn not_found() -> Self {
        Self::new(404, None, "no such resource in this organization")
    }

    /// The error body (`urn:ietf:params:scim:api:messages:2.0:Error`).
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(kind) = self.scim_type {
            body["scimType"] = serde_json::Value::String(kind.to_owned());
        }
        body
    }
}

impl From<crate::domain::Error> for ScimError {
    /// A domain refusal as the directory shows it: never an AWS error code or a stack trace.
    fn from(e: crate::domain::Error) -> Self {
        use crate::domain::Error;
        match &e {
            Error::InvalidInput { .. } | Error::PublicEmailDomain { .. } => {
                Self::invalid_value(&e.to_string())
            }
            Error::NotFound { .. } => Self::not_found(),
            Error::Conflict { .. } => Self::new(
                412,
                None,
                "the person was changed meanwhile: read them again and repeat the change",
            ),
            // The directory shows the message and tries again at its next cycle.
            Error::NoSeatFree { .. } => Self::new(
                403,
                None,
                "no licence seat is free in this organization: its admins must deactivate someone or get more seats; the directory's next sync tries again",
            ),
            Error::NotAllowed { .. }
            | Error::RoleRequired { .. }
            | Error::LastAdministrator { .. }
            | Error::LoginOfAnotherPerson { .. } => Self::new(409, None, e.to_string()),
            Error::EmailDomainTaken { .. } => Self::uniqueness(e.to_string()),
            Error::InProgress { .. } | Error::QuotaExceeded(_) => Self::new(
                429,
                None,
                "too many changes at once: try again in a minute",
            ),
            _ => Self::new(
                503,
                None,
                "the service could not finish the change: try again later",
            ),
        }
    }
}
