//! A customer organization: its identity, its own user pool, its sign-in settings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{EmailAddress, EmailDomain, Error, Role, Subdomain};

/// An organization's id: `org-` and a time-ordered UUID. Never derived from the subdomain, so
/// that the record survives a later rename of the subdomain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrgId(String);

impl OrgId {
    pub fn generate() -> Self {
        Self(format!("org-{}", uuid::Uuid::now_v7().simple()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Eight characters of the id's random tail, to make derived global names unique.
    pub fn short(&self) -> &str {
        let tail = self.0.len().saturating_sub(8);
        &self.0[tail..]
    }
}

impl From<String> for OrgId {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an organization is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgStatus {
    /// Recorded, its Cognito resources not all created yet: `org create` resumes it.
    Provisioning,
    /// Its people may sign in.
    Active,
    /// Nobody of it may sign in; everything is kept.
    Suspended,
}

impl fmt::Display for OrgStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OrgStatus::Provisioning => "provisioning",
            OrgStatus::Active => "active",
            OrgStatus::Suspended => "suspended",
        })
    }
}

/// The organization's multi-factor setting (TOTP authenticator apps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaMode {
    #[default]
    Off,
    Optional,
    Required,
}

impl FromStr for MfaMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(MfaMode::Off),
            "optional" => Ok(MfaMode::Optional),
            "required" => Ok(MfaMode::Required),
            other => Err(Error::InvalidInput {
                what: "MFA setting",
                value: other.to_owned(),
                rule: "it must be one of off, optional, required",
            }),
        }
    }
}

impl fmt::Display for MfaMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MfaMode::Off => "off",
            MfaMode::Optional => "optional",
            MfaMode::Required => "required",
        })
    }
}

/// The Cognito resources that belong to one organization.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CognitoResources {
    pub user_pool_id: Option<String>,
    pub app_client_id: Option<String>,
    /// The Cognito prefix domain, used only for OAuth federation (Entra ID, social providers).
    pub domain_prefix: Option<String>,
}

/// How the organization's pages and mails look. Unset fields fall back to its name and the
/// product's look.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Branding {
    /// Shown instead of the organization's name.
    pub display_name: Option<String>,
    /// An `https://` image URL.
    pub logo_url: Option<String>,
    /// `#rrggbb`.
    pub primary_color: Option<String>,
}

impl Branding {
    /// The colour, if it is a well-formed `#rrggbb` (anything else is never put in a page).
    pub fn color(&self) -> Option<&str> {
        self.primary_color.as_deref().filter(|c| {
            c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())
        })
    }

    /// The logo URL, if it is an `https://` URL without characters that could leave an
    /// attribute.
    pub fn logo(&self) -> Option<&str> {
        self.logo_url.as_deref().filter(|u| {
            u.starts_with("https://")
                && u.len() <= 2048
                && u.bytes()
                    .all(|b| b.is_ascii_graphic() && !b"\"'<>`".contains(&b))
        })
    }
}

/// How an organization proves that an e-mail domain is its own: a TXT record
/// `_signin-challenge.<domain>` with the value `signin-verification=<token>`. An admin's
/// domain is pending until DNS shows the record (`verified_at` unset): it is neither claimed
/// nor used for anything meanwhile. An operator's domain (`tenantctl`, a migration) is taken
/// on the operator's word, recorded with `by: operator`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainProof {
    pub domain: String,
    /// Empty for an operator's domain.
    pub token: String,
    pub verified_at: Option<i64>,
    /// Who vouches for the domain; records from before this field are DNS proofs.
    #[serde(default)]
    pub by: ProofBy,
}

/// Who vouches for an organization's e-mail domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProofBy {
    /// The TXT record in the domain's DNS (an admin added the domain).
    #[default]
    Dns,
    /// The operator's word (`tenantctl org create/configure --email-domain`, a migration).
    Operator,
}

impl fmt::Display for ProofBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProofBy::Dns => "dns",
            ProofBy::Operator => "operator",
        })
    }
}

impl DomainProof {
    /// A new domain an admin added: a fresh token to publish, not proven yet.
    pub fn pending(domain: &EmailDomain) -> Self {
        Self {
            domain: domain.to_string(),
            token: rand::random::<[u8; 16]>()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            verified_at: None,
            by: ProofBy::Dns,
        }
    }

    /// A domain an operator set: taken on their word at `at` (epoch seconds).
    pub fn operator(domain: &EmailDomain, at: i64) -> Self {
        Self {
            domain: domain.to_string(),
            token: String::new(),
            verified_at: Some(at),
            by: ProofBy::Operator,
        }
    }

    pub fn record_name(&self) -> String {
        format!("_signin-challenge.{}", self.domain)
    }

    pub fn record_value(&self) -> String {
        format!("signin-verification={}", self.token)
    }

    /// Still waiting for its DNS record.
    pub fn is_pending(&self) -> bool {
        self.verified_at.is_none()
    }
}

/// The identity providers set up for an organization.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SsoSettings {
    /// Microsoft Entra ID, the customer's own tenant (an OIDC provider `Microsoft`).
    pub microsoft: Option<ProviderSetup>,
    /// Google (Cognito's built-in `Google`).
    pub google: Option<ProviderSetup>,
    /// Sign in with Apple (`SignInWithApple`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apple: Option<ProviderSetup>,
    /// Facebook (`Facebook`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facebook: Option<ProviderSetup>,
    /// Login with Amazon (`LoginWithAmazon`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amazon: Option<ProviderSetup>,
    /// SAML 2.0 connections (issue 23), each a pool identity provider `saml-<name>`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub saml: Vec<crate::domain::saml::SamlConnection>,
}

impl SsoSettings {
    pub fn get(&self, provider: Provider) -> Option<&ProviderSetup> {
        self.slot(provider).as_ref()
    }

    fn slot(&self, provider: Provider) -> &Option<ProviderSetup> {
        match provider {
            Provider::Microsoft => &self.microsoft,
            Provider::Google => &self.google,
            Provider::Apple => &self.apple,
            Provider::Facebook => &self.facebook,
            Provider::Amazon => &self.amazon,
        }
    }

    pub fn slot_mut(&mut self, provider: Provider) -> &mut Option<ProviderSetup> {
        match provider {
            Provider::Microsoft => &mut self.microsoft,
            Provider::Google => &mut self.google,
            Provider::Apple => &mut self.apple,
            Provider::Facebook => &mut self.facebook,
            Provider::Amazon => &mut self.amazon,
        }
    }
}

/// The identity providers an organization's admins can set up themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Microsoft,
    Google,
    Apple,
    Facebook,
    Amazon,
}

impl Provider {
    pub const ALL: [Provider; 5] = [
        Provider::Microsoft,
        Provider::Google,
        Provider::Apple,
        Provider::Facebook,
        Provider::Amazon,
    ];

    /// Its name in the pool (the `identity_provider` of the authorize URL).
    pub fn name(self) -> &'static str {
        match self {
            Provider::Microsoft => "Microsoft",
            Provider::Google => "Google",
            Provider::Apple => "SignInWithApple",
            Provider::Facebook => "Facebook",
            Provider::Amazon => "LoginWithAmazon",
        }
    }

    /// Its key in the settings (`sso.<key>`).
    pub fn key(self) -> &'static str {
        match self {
            Provider::Microsoft => "microsoft",
            Provider::Google => "google",
            Provider::Apple => "apple",
            Provider::Facebook => "facebook",
            Provider::Amazon => "amazon",
        }
    }

    /// What its button says.
    pub fn label(self) -> &'static str {
        match self {
            Provider::Microsoft => "Microsoft",
            Provider::Google => "Google",
            Provider::Apple => "Apple",
            Provider::Facebook => "Facebook",
            Provider::Amazon => "Amazon",
        }
    }

    /// The provider of a pool name.
    pub fn named(name: &str) -> Option<Provider> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }
}

/// One identity provider's public settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderSetup {
    /// Entra ID: the customer's tenant id (a GUID; records from before may hold a domain,
    /// which never matched the issuer: set the GUID again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub client_id: String,
    /// Sign in with Apple: the developer team's id and the signing key's id (its private
    /// key is the secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// When its client secret (Apple: private key) was last stored (epoch seconds).
    pub client_secret_updated_at: Option<i64>,
}

/// The invitation style of an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Invitation {
    /// The welcome mail carries a temporary password; the first sign-in changes it.
    #[default]
    Password,
    /// The welcome mail carries a single-use link (72 hours) to choose a password.
    Link,
}

impl fmt::Display for Invitation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Invitation::Password => "password",
            Invitation::Link => "link",
        })
    }
}

impl FromStr for Invitation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "password" => Ok(Invitation::Password),
            "link" => Ok(Invitation::Link),
            other => Err(Error::InvalidInput {
                what: "invitation style",
                value: other.to_owned(),
                rule: "it is password or link",
            }),
        }
    }
}

/// How the organization's people may get in. Stored with the organization; the triggers read
/// it from their cached copy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SignInSettings {
    /// People may sign up themselves, with an address in one of the organization's e-mail
    /// domains, while a seat is free. Off: invitation only (the default).
    pub self_signup: bool,
    /// Password sign-in is refused: people sign in through the organization's SSO.
    pub sso_only: bool,
    /// External identity providers enabled for this organization, by their name in the
    /// pool (such as `Microsoft` or `Google`).
    pub providers: Vec<String>,
    /// A first federated sign-in with an address in one of the organization's e-mail domains
    /// creates the person (just in time) when no one has that address yet.
    pub jit_accounts: bool,
    /// Providers bound to the organization's own directory (its own Entra ID tenant, pinned
    /// by its tenant id). Their e-mail claims count like any provider's: only when verified
    /// (`email_verified` "true"; for Entra ID the mapped `xms_edov` claim), never merely for
    /// being in the organization's domains: a guest or an account of another tenant can carry
    /// any address.
    pub directory_providers: Vec<String>,
    /// How activated people get in: a temporary password by mail (the default), or a
    /// single-use link where they choose their password.
    pub invitation: Invitation,
    /// Break-glass for SSO-only: the organization's admins keep password sign-in, so that
    /// a broken identity provider never locks everyone out.
    pub admins_keep_password: bool,
    /// The role of people created just in time (default `member`).
    pub jit_role: Option<String>,
    /// SCIM: the role each directory group gives (by the group's display name or id); a
    /// person's roles follow their mapped groups (see `domain::scim::groups`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub scim_group_roles: std::collections::BTreeMap<String, String>,
    /// SCIM: the role of a person in no mapped group (default `member`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scim_default_role: Option<String>,
    /// The identity providers the organization's admins set up (their client secrets are in
    /// Secrets Manager, never here).
    pub sso: SsoSettings,
    /// Where people go once signed in (`https://` URLs of the organization's app); the first
    /// is the default, and only these (and the organization's own subdomain) are ever
    /// redirect targets.
    pub app_urls: Vec<String>,
    /// Set on an organization brought by a migration job: its mode, and whether its people
    /// sign in here yet (see [`super::migration::OrgMigration`]). `None`: created here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<super::migration::OrgMigration>,
    /// A settings change being applied to the pool: set before the pool is touched and
    /// cleared with the change's own record, so that one that failed half-way shows (and is
    /// finished by sending it again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_change: Option<PendingChange>,
}

/// A settings change that has not reached the record yet (see `pending_change`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingChange {
    /// What it changes, as the audit event names it (never a secret).
    pub changes: Vec<String>,
    /// Who asked for it.
    pub actor: String,
    /// Epoch seconds.
    pub since: i64,
}

impl SignInSettings {
    pub fn provider_enabled(&self, provider: &str) -> bool {
        self.providers
            .iter()
            .any(|p| p.eq_ignore_ascii_case(provider))
    }

    /// Whether the organization has bound `provider` to its own directory.
    pub fn bound_to_directory(&self, provider: &str) -> bool {
        self.directory_providers
            .iter()
            .any(|p| p.eq_ignore_ascii_case(provider))
    }
}

pub fn default_roles() -> Vec<Role> {
    Role::DEFAULTS
        .iter()
        .map(|r| Role::parse(r).expect("the default roles are valid"))
        .collect()
}

/// One customer organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub subdomain: Subdomain,
    pub status: OrgStatus,
    pub mfa: MfaMode,
    /// Licence seats: how many people may hold a login at once. `None`: no limit. (Left out
    /// of the stored record when `None`: the registry's seat condition tests its absence.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats: Option<u32>,
    /// Seats taken by people whose login exists (invited or active).
    pub seats_used: u32,
    /// The e-mail domains claimed for it in the registry (one owner each): an operator's,
    /// and an admin's once its DNS proof was found. An admin's new domain waits in
    /// `domain_proofs` until then. Use [`Organization::uses_domain`] to trust one.
    pub email_domains: Vec<EmailDomain>,
    /// The first administrator asked for at creation; provisioning creates and invites them.
    pub admin_email: Option<EmailAddress>,
    pub cognito: CognitoResources,
    #[serde(default)]
    pub sign_in: SignInSettings,
    /// The organization's roles, each a Cognito group of the same name in its pool. Every
    /// organization starts with `admin` and `member`, which stay; its admins may add more.
    #[serde(default = "default_roles")]
    pub roles: Vec<Role>,
    /// How its pages and mails look.
    #[serde(default)]
    pub branding: Branding,
    /// Who vouches for each e-mail domain: a DNS TXT record for one its admins added
    /// (pending, unclaimed and unused until found), the operator's word for one set with
    /// `tenantctl` or a migration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domain_proofs: Vec<DomainProof>,
    /// The SCIM bearer tokens of its directory (digests only); `None`: SCIM is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim: Option<super::scim::ScimCredentials>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Optimistic-concurrency counter: every save checks and bumps it.
    pub version: u64,
}

impl Organization {
    /// The name its pages and mails show: the branding's display name, else its name.
    pub fn display_name(&self) -> &str {
        self.branding
            .display_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.name)
    }

    /// The user pool's name: the id makes it findable again after a crash between creating
    /// the pool and recording it, the subdomain makes it readable in the console.
    pub fn pool_name(&self) -> String {
        format!("tenant-{}-{}", self.subdomain, self.id)
    }

    /// The Cognito prefix domain: readable where Cognito allows it (it refuses prefixes that
    /// contain `aws`, `amazon` or `cognito`), unique through the id's tail either way.
    pub fn domain_prefix(&self) -> String {
        let sub = self.subdomain.as_str();
        let forbidden = ["aws", "amazon", "cognito"].iter().any(|w| sub.contains(w));
        if forbidden {
            format!("org-{}", self.id.short())
        } else {
            let keep = sub.len().min(63 - 9);
            format!("{}-{}", sub[..keep].trim_end_matches('-'), self.id.short())
        }
    }

    /// Whether the address is in one of the e-mail domains the organization uses (see
    /// [`Organization::uses_domain`]): what self sign-up, just-in-time accounts and directory
    /// linking trust.
    pub fn owns_address(&self, email: &EmailAddress) -> bool {
        self.uses_domain(email.domain())
    }

    /// Whether the organization uses `domain` (discovery, self sign-up, just-in-time
    /// accounts, directory linking): claimed for it (`email_domains`), not waiting for its DNS
    /// proof, and not a public mail service's. A domain without a proof record was set by an
    /// operator before proofs were recorded: the operator's word.
    pub fn uses_domain(&self, domain: &str) -> bool {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        self.email_domains.iter().any(|d| d.as_str() == domain)
            && !self
                .domain_proofs
                .iter()
                .any(|p| p.domain == domain && p.is_pending())
            && !super::email::is_public_mail_domain(&domain)
    }

    /// The e-mail domains the organization uses (see [`Organization::uses_domain`]).
    pub fn domains_in_use(&self) -> Vec<&EmailDomain> {
        self.email_domains
            .iter()
            .filter(|d| self.uses_domain(d.as_str()))
            .collect()
    }

    /// The e-mail domains waiting for their DNS proof: not used (and, but for domains
    /// claimed before proofs were required, not claimed) until it is found.
    pub fn pending_domains(&self) -> Vec<&str> {
        self.domain_proofs
            .iter()
            .filter(|p| p.is_pending())
            .map(|p| p.domain.as_str())
            .collect()
    }

    /// Every e-mail domain of the organization, in use or pending, as its admins see the
    /// list (and send it back changed).
    pub fn all_domains(&self) -> Vec<String> {
        let mut all: Vec<String> = self.email_domains.iter().map(|d| d.to_string()).collect();
        for pending in self.pending_domains() {
            if !all.iter().any(|d| d == pending) {
                all.push(pending.to_owned());
            }
        }
        all
    }

    /// The organization's role with this name, or a clear "unknown role".
    pub fn role(&self, name: &str) -> Result<Role, Error> {
        let role = Role::parse(name)?;
        if self.roles.contains(&role) {
            Ok(role)
        } else {
            Err(Error::InvalidInput {
                what: "role",
                value: name.to_owned(),
                rule: "it is not one of the organization's roles (GET /v1/roles lists them)",
            })
        }
    }

    /// The roles every organization keeps.
    pub fn permanent_role(role: &Role) -> bool {
        Role::DEFAULTS.contains(&role.as_str())
    }

    pub fn seat_free(&self) -> bool {
        self.seats.is_none_or(|limit| self.seats_used < limit)
    }

    /// Suspends sign-in for the whole organization.
    pub fn suspend(&mut self) -> Result<(), Error> {
        match self.status {
            OrgStatus::Active => {
                self.status = OrgStatus::Suspended;
                Ok(())
            }
            OrgStatus::Suspended => Err(Error::not_allowed(
                format!("suspend {}", self.subdomain),
                "it is already suspended",
            )),
            OrgStatus::Provisioning => Err(Error::not_allowed(
                format!("suspend {}", self.subdomain),
                "it is still being provisioned; finish it with `tenantctl org create` first",
            )),
        }
    }

    /// Lets the organization's people sign in again.
    pub fn resume(&mut self) -> Result<(), Error> {
        match self.status {
            OrgStatus::Suspended => {
                self.status = OrgStatus::Active;
                Ok(())
            }
            OrgStatus::Active => Err(Error::not_allowed(
                format!("resume {}", self.subdomain),
                "it is not suspended",
            )),
            OrgStatus::Provisioning => Err(Error::not_allowed(
                format!("resume {}", self.subdomain),
                "it is still being provisioned; finish it with `tenantctl org create` first",
            )),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(subdomain: &str) -> Organization {
        Organization {
            id: OrgId::from("org-0192f0c4d5e67a8b9c0d1e2f3a4b5c6d".to_owned()),
            name: "Acme".into(),
            subdomain: Subdomain::parse(subdomain).expect("valid subdomain"),
            status: OrgStatus::Active,
            mfa: MfaMode::Off,
            seats: Some(2),
            seats_used: 0,
            email_domains: vec![],
            admin_email: None,
            cognito: CognitoResources::default(),
            sign_in: SignInSettings::default(),
            roles: default_roles(),
            branding: Default::default(),
            domain_proofs: Vec::new(),
            scim: None,
            created_at: 0,
            updated_at: 0,
            version: 1,
        }
    }

    #[test]
    fn generated_ids_are_unique_and_prefixed() {
        let (a, b) = (OrgId::generate(), OrgId::generate());
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("org-"));
        assert_eq!(a.short().len(), 8);
    }

    #[test]
    fn domain_prefix_is_readable_and_valid() {
        let org = sample("acme");
        assert_eq!(org.domain_prefix(), "acme-3a4b5c6d");
        let long = sample(&"a".repeat(63));
        assert!(long.domain_prefix().len() <= 63);
        let aws = sample("myaws-shop");
        assert_eq!(aws.domain_prefix(), "org-3a4b5c6d");
    }

    #[test]
    fn pool_name_carries_the_id() {
        let org = sample("acme");
        assert_eq!(org.pool_name(), format!("tenant-acme-{}", org.id));
    }

    #[test]
    fn suspend_and_resume_follow_the_status() {
        let mut org = sample("acme");
        org.suspend().expect("active can be suspended");
        assert_eq!(org.status, OrgStatus::Suspended);
        assert_eq!(org.suspend().map_err(|e| e.code()), Err("NotAllowed"));
        org.resume().expect("suspended can be resumed");
        assert_eq!(org.status, OrgStatus::Active);
        assert!(org.resume().is_err());
        org.status = OrgStatus::Provisioning;
        assert!(org.suspend().is_err());
    }

    #[test]
    fn seats() {
        let mut org = sample("acme");
        assert!(org.seat_free());
        org.seats_used = 2;
        assert!(!org.seat_free());
        org.seats = None;
        assert!(org.seat_free());
    }

    #[test]
    fn mfa_parses_the_cli_words() {
        assert_eq!("required".parse::<MfaMode>(), Ok(MfaMode::Required));
        assert!("sometimes".parse::<MfaMode>().is_err());
    }
}
