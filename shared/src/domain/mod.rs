//! The business: organizations, their subdomains, people and their lifecycle, provisioning.
//! Nothing here knows about Lambda, HTTP or the AWS SDK, nor reads configuration; it talks to
//! the traits in [`ports`], which the adapters (the `aws` module, the fakes in `testing`)
//! implement. The domain is the bottom layer: nothing in it imports from the rest of the crate.

pub mod activation;
pub mod attempts;
pub mod email;
pub mod email_change;
pub mod lazy_migration;
pub mod legacy_password;
pub mod links;
pub mod mail;
pub mod migration;
pub mod migration_job;
pub mod migration_plan;
pub mod organization;
pub mod password;
pub mod people;
pub mod person;
pub mod ports;
pub mod provisioning;
pub mod saml;
pub mod scim;
pub mod search;
pub mod settings;
pub mod signin;
pub mod subdomain;

pub use email::{EmailAddress, EmailDomain};
pub use organization::{
    Branding, DomainProof, Invitation, MfaMode, OrgId, OrgStatus, Organization, ProofBy, Provider,
    ProviderSetup, SignInSettings, SsoSettings,
};
pub use person::{LinkToken, LinkedIdentity, Person, PersonId, PersonStatus, Role};
pub use subdomain::Subdomain;

/// Everything that can go wrong in the domain and at its ports. Every message says what was
/// wrong and, where there is something to do, what to do; none carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("subdomain {subdomain:?} is invalid: {rule}")]
    InvalidSubdomain {
        subdomain: String,
        rule: &'static str,
    },
    #[error("subdomain {subdomain:?} is reserved for the product itself; choose another name")]
    ReservedSubdomain { subdomain: String },
    #[error("subdomain {subdomain:?} is already taken by another organization")]
    SubdomainTaken { subdomain: String },
    #[error("subdomain {subdomain:?} belongs to the organization {name:?}: to finish or check that one, run the command with --name {name:?}; for a new organization, choose another subdomain")]
    SubdomainOfAnotherName { subdomain: String, name: String },
    #[error("e-mail domain {domain:?} already belongs to another organization")]
    EmailDomainTaken { domain: String },
    #[error("e-mail domain {domain:?} is a public mail service's: anyone can have an address there, so it can never identify an organization's people; use the organization's own domain")]
    PublicEmailDomain { domain: String },
    #[error("user pool {pool_id} already belongs to another organization")]
    PoolTaken { pool_id: String },
    #[error("{what} {value:?} is invalid: {rule}")]
    InvalidInput {
        what: &'static str,
        value: String,
        rule: &'static str,
    },
    #[error("{what} {key:?} was not found")]
    NotFound { what: &'static str, key: String },
    #[error("{what} {key:?} was changed by someone else meanwhile; run the command again")]
    Conflict { what: &'static str, key: String },
    #[error("cannot {action}: {reason}")]
    NotAllowed { action: String, reason: String },
    #[error("cannot give {username} a login: no licence seat is free in this organization; add seats or deactivate someone first")]
    NoSeatFree { username: String },
    #[error("cannot activate {username}: give the person at least one role first")]
    RoleRequired { username: String },
    #[error("{what} right now: run the command again in a minute or two")]
    InProgress { what: String },
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("cannot reach {service} at {endpoint}: {detail}. Check that the endpoint is up (AWS_ENDPOINT_URL) and the network allows it")]
    Unreachable {
        service: &'static str,
        endpoint: String,
        detail: String,
    },
    #[error("the {what} could not be rendered: {detail}")]
    Render { what: &'static str, detail: String },
    /// A registry record and a Cognito login share a username but not an address: they are
    /// not the same person, and neither is bound to the other.
    #[error("the login {username:?} carries another e-mail address than the person of that name: it is not theirs, and nothing binds them")]
    LoginOfAnotherPerson { username: String },
    /// The change would leave the organization without an active administrator.
    #[error("cannot {action}: they are the organization's last active administrator; make someone else an administrator first")]
    LastAdministrator { action: String },
    #[error("{service} refused {operation}: {detail}")]
    Aws {
        service: &'static str,
        operation: &'static str,
        detail: String,
    },
}

impl Error {
    /// A stable, machine-readable name for the error, used as the Lambda `errorType` and in
    /// `--output json`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidSubdomain { .. } => "InvalidSubdomain",
            Error::ReservedSubdomain { .. } => "ReservedSubdomain",
            Error::SubdomainTaken { .. } | Error::SubdomainOfAnotherName { .. } => "SubdomainTaken",
            Error::EmailDomainTaken { .. } => "EmailDomainTaken",
            Error::PublicEmailDomain { .. } => "PublicEmailDomain",
            Error::PoolTaken { .. } => "PoolTaken",
            Error::InvalidInput { .. } => "InvalidInput",
            Error::NotFound { .. } => "NotFound",
            Error::Conflict { .. } => "Conflict",
            Error::NotAllowed { .. } => "NotAllowed",
            Error::NoSeatFree { .. } => "NoSeatFree",
            Error::RoleRequired { .. } => "RoleRequired",
            Error::InProgress { .. } => "InProgress",
            Error::QuotaExceeded(_) => "QuotaExceeded",
            Error::Unreachable { .. } => "Unreachable",
            Error::Render { .. } => "RenderFailed",
            Error::LoginOfAnotherPerson { .. } => "LoginOfAnotherPerson",
            Error::LastAdministrator { .. } => "LastAdministrator",
            Error::Aws { .. } => "AwsError",
        }
    }

    pub fn not_allowed(action: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::NotAllowed {
            action: action.into(),
            reason: reason.into(),
        }
    }
}

/// Seconds since the Unix epoch, the one clock of the domain (records, audit, TTL).
/// Whether two byte strings are equal, compared without an early exit (secrets, hashes).
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn now_epoch() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
