//! An organization's settings, changed by its admins (`PATCH /v1/organization`) and by
//! operators (`tenantctl org configure`) through this one function: every field is checked
//! first (a refusal names the field and changes nothing), then the change is applied to the
//! pool and its app client (idempotent: a change that failed half-way is finished by sending
//! it again), then recorded with its audit event in one versioned write.
//!
//! One file per step: `checking` (every field, the patched organization), `applying` (the
//! pool, the app client, the versioned write), `email_domains` (DNS proofs) and `providers`
//! (the identity provider table). Their public items are re-exported here.

mod applying;
mod checking;
mod email_domains;
mod providers;

pub use applying::apply_settings;
pub use checking::MAX_LOGO_BYTES;
pub use email_domains::{verify_email_domains, DomainCheck};
pub use providers::{
    client_write_attributes, idp_redirect_uri, mapped_attributes, microsoft_admin_consent_url,
    microsoft_issuer, secret_name, GOOGLE, MICROSOFT, SELF_SERVICE_ATTRIBUTES,
};

use super::organization::Provider;
use super::Organization;
use crate::domain::ports::{Registry, Secrets, UserPools};

/// What a settings change needs.
pub struct SettingsDeps<'a> {
    pub registry: &'a dyn Registry,
    pub pools: &'a dyn UserPools,
    pub secrets: &'a dyn Secrets,
    /// Organizations sign in at `<subdomain>.<base_domain>` (the app client's own URLs).
    pub base_domain: &'a str,
}

/// An identity provider's settings as an admin sends them; the secret may be left out to
/// keep the stored one.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ProviderInput {
    pub tenant: Option<String>,
    pub client_id: String,
    /// The client secret; for Apple, the private signing key (.p8).
    pub client_secret: Option<String>,
    /// Apple only.
    pub team_id: Option<String>,
    pub key_id: Option<String>,
}

impl std::fmt::Debug for ProviderInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderInput")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("client_secret_given", &self.client_secret.is_some())
            .finish()
    }
}

/// A change to some settings; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsPatch {
    pub self_signup: Option<bool>,
    pub sso_only: Option<bool>,
    pub admins_keep_password: Option<bool>,
    /// Enabled identity providers, by their name in the pool (the list replaces the current
    /// one).
    pub providers: Option<Vec<String>>,
    pub jit_enabled: Option<bool>,
    /// `Some(None)`: back to `member`.
    pub jit_role: Option<Option<String>>,
    /// SCIM's directory groups to roles (the map replaces the current one).
    pub scim_group_roles: Option<std::collections::BTreeMap<String, String>>,
    /// `Some(None)`: back to `member`.
    pub scim_default_role: Option<Option<String>>,
    pub mfa: Option<String>,
    pub invitation: Option<String>,
    /// `Some(None)` clears a branding field.
    pub display_name: Option<Option<String>>,
    pub logo_url: Option<Option<String>>,
    pub primary_color: Option<Option<String>>,
    pub app_urls: Option<Vec<String>>,
    /// The organization's e-mail domains (the list replaces the current one, pending ones
    /// included): each claimed by one organization only. An admin's new domain gets a DNS
    /// TXT proof to publish and stays pending (unclaimed, unused) until
    /// [`verify_email_domains`] finds it; see `operator_word`. Public mail domains are refused.
    pub email_domains: Option<Vec<String>>,
    /// The e-mail domains above are an operator's word (`tenantctl org configure
    /// --email-domain`): claimed and used at once, recorded with `by: operator`, also
    /// vouching for a pending one. Never set from an admin's request.
    pub operator_word: bool,
    /// `Some(None)` removes the provider (and its secret).
    pub microsoft: Option<Option<ProviderInput>>,
    pub google: Option<Option<ProviderInput>>,
    pub apple: Option<Option<ProviderInput>>,
    pub facebook: Option<Option<ProviderInput>>,
    pub amazon: Option<Option<ProviderInput>>,
    /// SAML connections by name (`sso.saml.<name>`): `None` removes one; the others stay.
    pub saml: std::collections::BTreeMap<String, Option<crate::domain::saml::SamlInput>>,
}

impl SettingsPatch {
    /// The change to one provider: `Some(None)` removes it.
    pub fn provider(&self, provider: Provider) -> Option<&Option<ProviderInput>> {
        match provider {
            Provider::Microsoft => self.microsoft.as_ref(),
            Provider::Google => self.google.as_ref(),
            Provider::Apple => self.apple.as_ref(),
            Provider::Facebook => self.facebook.as_ref(),
            Provider::Amazon => self.amazon.as_ref(),
        }
    }

    /// The change to one provider, to fill in.
    pub fn provider_mut(&mut self, provider: Provider) -> &mut Option<Option<ProviderInput>> {
        match provider {
            Provider::Microsoft => &mut self.microsoft,
            Provider::Google => &mut self.google,
            Provider::Apple => &mut self.apple,
            Provider::Facebook => &mut self.facebook,
            Provider::Amazon => &mut self.amazon,
        }
    }
}

/// What a settings change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configured {
    pub organization: Organization,
    /// Enabled providers the pool has no identity provider for yet: recorded, and offered
    /// on the app client once they are set up.
    pub missing_providers: Vec<String>,
}

/// Longest display name.
pub const MAX_DISPLAY_NAME: usize = 100;
/// Most app URLs.
pub const MAX_APP_URLS: usize = 10;
/// Most directory groups mapped to roles (SCIM).
pub const MAX_GROUP_ROLES: usize = 100;
/// Most e-mail domains.
pub const MAX_EMAIL_DOMAINS: usize = 20;

/// Well-formed Entra ID values for the parts' tests.
#[cfg(test)]
mod fixtures {
    pub(super) const GUID: &str = "8c4f1a2b-3d4e-4f50-9a6b-7c8d9e0f1a2b";
    pub(super) const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
}
