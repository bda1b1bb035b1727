//! Cognito user pools, as provisioning, activation and the settings need them.

use async_trait::async_trait;

use crate::domain::{EmailAddress, Error, MfaMode, OrgId, SignInSettings, Subdomain};

/// Every trigger ARN a pool is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerArns {
    pub pre_signup: String,
    pub post_confirmation: String,
    pub pre_authentication: String,
    pub post_authentication: String,
    pub pre_token_generation: String,
    pub user_migration: String,
    pub custom_message: String,
}

/// What an organization's user pool is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSpec {
    pub name: String,
    pub org_id: OrgId,
    pub subdomain: Subdomain,
    pub mfa: MfaMode,
    pub triggers: TriggerArns,
}

/// What the organization's app client is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSpec {
    pub name: String,
    pub callback_urls: Vec<String>,
    pub logout_urls: Vec<String>,
}

/// A login to create in a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogin<'a> {
    pub username: &'a str,
    pub email: &'a EmailAddress,
    pub temporary_password: &'a str,
}

/// Cognito user pools, as far as provisioning needs them.
#[async_trait]
pub trait UserPools: Send + Sync {
    /// The pool with exactly this name, if there is one (crash recovery looks here).
    async fn find_pool_by_name(&self, name: &str) -> Result<Option<String>, Error>;
    /// The pool's `org-id` tag: which organization it was made for (`None` when it carries
    /// none, or its tags cannot be read because it carries none: every permission of the
    /// functions on a pool requires the tag). Provisioning adopts a pool found by name only
    /// when this is the organization's id.
    async fn pool_org_tag(&self, pool_id: &str) -> Result<Option<String>, Error>;
    /// Creates the pool and returns its id. Fails at once with [`Error::QuotaExceeded`]
    /// when the account may not have more pools.
    async fn create_pool(&self, spec: &PoolSpec) -> Result<String, Error>;
    /// Sets the pool's multi-factor mode (TOTP); idempotent.
    async fn ensure_mfa(&self, pool_id: &str, mfa: MfaMode) -> Result<(), Error>;
    /// Creates the groups that do not exist yet.
    async fn ensure_groups(&self, pool_id: &str, groups: &[&str]) -> Result<(), Error>;
    /// The id of the app client with this name, created if missing.
    async fn ensure_app_client(&self, pool_id: &str, spec: &ClientSpec) -> Result<String, Error>;
    /// Gives the pool this Cognito prefix domain unless it already has one; returns the
    /// pool's domain.
    async fn ensure_domain(&self, pool_id: &str, prefix: &str) -> Result<String, Error>;
    /// Creates a login that must change its temporary password at first sign-in, without
    /// Cognito's own invitation (we send ours). If it exists already, its temporary password
    /// is reset instead, so that a repeated activation sends a password that works.
    async fn create_login(&self, pool_id: &str, login: &NewLogin<'_>) -> Result<(), Error>;
    async fn add_to_group(&self, pool_id: &str, username: &str, group: &str) -> Result<(), Error>;
    /// Links a federated identity (`provider`, its subject) to an existing login, so that
    /// signing in through the provider signs in as that login.
    async fn link_provider(
        &self,
        pool_id: &str,
        username: &str,
        provider: &str,
        subject: &str,
    ) -> Result<(), Error>;
    async fn remove_from_group(
        &self,
        pool_id: &str,
        username: &str,
        group: &str,
    ) -> Result<(), Error>;
    /// Disables the login and signs it out everywhere (its refresh tokens stop working).
    /// A login that no longer exists counts as done.
    async fn disable_login(&self, pool_id: &str, username: &str) -> Result<(), Error>;
    /// Signs the login out everywhere: its refresh tokens stop working (access and ID tokens
    /// run until they expire: the admin API refuses them by the person's
    /// `sessions_revoked_at`). A login that no longer exists counts as done.
    async fn sign_out_everywhere(&self, pool_id: &str, username: &str) -> Result<(), Error>;
    /// Removes the login. A login that no longer exists counts as done.
    async fn delete_login(&self, pool_id: &str, username: &str) -> Result<(), Error>;
    /// Gives an existing login a new temporary password: the old one stops working and the
    /// next sign-in must choose a new one.
    async fn set_temporary_password(
        &self,
        pool_id: &str,
        username: &str,
        temporary_password: &str,
    ) -> Result<(), Error>;
    /// Sets the password a person chose (an activation link): permanent, no change asked for
    /// at the next sign-in.
    async fn set_password(
        &self,
        pool_id: &str,
        username: &str,
        password: &str,
    ) -> Result<(), Error>;
    /// Creates the identity provider in the pool, or updates it to `spec`.
    async fn ensure_identity_provider(
        &self,
        pool_id: &str,
        spec: &IdentityProviderSpec,
    ) -> Result<(), Error>;
    /// Removes an identity provider; one that is not there counts as done.
    async fn delete_identity_provider(&self, pool_id: &str, name: &str) -> Result<(), Error>;
    /// Sets the app client's callback and logout URLs (everything else stays).
    async fn set_client_urls(
        &self,
        pool_id: &str,
        client_id: &str,
        callback_urls: &[String],
        logout_urls: &[String],
    ) -> Result<(), Error>;
    /// Gives a login a confirmed e-mail address (`email_verified` true).
    async fn set_email(
        &self,
        pool_id: &str,
        username: &str,
        email: &EmailAddress,
    ) -> Result<(), Error>;
    /// Sets a login's `preferred_username`, its sign-in alias (a confirmed username change);
    /// the login's own username removes the alias.
    async fn set_preferred_username(
        &self,
        pool_id: &str,
        username: &str,
        name: &str,
    ) -> Result<(), Error>;
    /// Deletes a group; a group that no longer exists counts as done.
    async fn delete_group(&self, pool_id: &str, group: &str) -> Result<(), Error>;
    /// Applies an organization's sign-in settings to its pool and app client: self sign-up
    /// (`AllowAdminCreateUserOnly` off) and the identity providers the client offers
    /// (`COGNITO`, the password page, unless SSO-only; and each enabled provider that the
    /// pool has). Every other setting of the pool and the client stays as it is. Returns the
    /// enabled providers the pool does not have (yet).
    async fn apply_sign_in(
        &self,
        pool_id: &str,
        client_id: Option<&str>,
        settings: &SignInSettings,
    ) -> Result<Vec<String>, Error>;
}

/// An identity provider of a pool, as Cognito's CreateIdentityProvider takes it.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityProviderSpec {
    /// Its name in the pool (`Microsoft`, `Google`, ...).
    pub name: String,
    /// `OIDC`, `Google`, `SignInWithApple`, `Facebook`, `LoginWithAmazon`.
    pub provider_type: String,
    pub details: Vec<(String, String)>,
    /// Pool attribute -> provider claim.
    pub attribute_mapping: Vec<(String, String)>,
}

impl std::fmt::Debug for IdentityProviderSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The details carry the client secret: never printed.
        f.debug_struct("IdentityProviderSpec")
            .field("name", &self.name)
            .field("provider_type", &self.provider_type)
            .finish_non_exhaustive()
    }
}
