//! An organization's settings, changed by its admins (`PATCH /v1/organization`) and by
//! operators (`tenantctl org configure`) through this one function: every field is checked
//! first (a refusal names the field and changes nothing), then the change is applied to the
//! pool and its app client (idempotent: a change that failed half-way is finished by sending
//! it again), then recorded with its audit event in one versioned write.

use std::str::FromStr;

use super::organization::{DomainProof, Invitation, Provider, ProviderSetup};
use super::{EmailDomain, Error, MfaMode, Organization};
use crate::domain::ports::{AuditEvent, IdentityProviderSpec, Registry, Secrets, UserPools};

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

/// Two providers' names in the pool (see [`Provider`] for all).
pub const MICROSOFT: &str = "Microsoft";
pub const GOOGLE: &str = "Google";

/// Where an organization's client secret of `provider` is kept.
pub fn secret_name(org: &Organization, provider: &str) -> String {
    format!("signin/{}/{}", org.id, provider.to_ascii_lowercase())
}

/// The Entra ID issuer of a tenant.
pub fn microsoft_issuer(tenant: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant}/v2.0")
}

/// The URL the customer's Microsoft global administrator opens once to grant consent.
pub fn microsoft_admin_consent_url(tenant: &str, client_id: &str, redirect_uri: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .finish();
    format!("https://login.microsoftonline.com/{tenant}/adminconsent?{query}")
}

/// The redirect URI to register with the identity provider: the pool domain's.
pub fn idp_redirect_uri(domain_prefix: &str, region: &str) -> String {
    format!("https://{domain_prefix}.auth.{region}.amazoncognito.com/oauth2/idpresponse")
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
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
/// Most e-mail domains.
pub const MAX_EMAIL_DOMAINS: usize = 20;

fn invalid(what: &'static str, value: impl Into<String>, rule: &'static str) -> Error {
    Error::InvalidInput {
        what,
        value: value.into(),
        rule,
    }
}

fn https_url(what: &'static str, url: &str) -> Result<String, Error> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| invalid(what, url, "it must be an https:// URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    let ok = url.len() <= 2048
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':')
        && url
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"'<>`\\".contains(&b));
    if ok {
        Ok(url.to_owned())
    } else {
        Err(invalid(
            what,
            url,
            "it must be an https:// URL of at most 2048 characters, without spaces or quotes",
        ))
    }
}

/// Largest uploaded logo, as a `data:` URL.
pub const MAX_LOGO_BYTES: usize = 64 * 1024;

/// An uploaded logo: a base64 `data:` URL of a PNG, JPEG, GIF or WebP image (no SVG: it can
/// carry script), at most [`MAX_LOGO_BYTES`].
fn uploaded_logo(url: &str) -> Result<String, Error> {
    let field = "branding.logo_url";
    if url.len() > MAX_LOGO_BYTES {
        return Err(invalid(
            field,
            format!("{} bytes", url.len()),
            "an uploaded logo may have at most 64 KiB",
        ));
    }
    let allowed = ["image/png", "image/jpeg", "image/gif", "image/webp"];
    let Some((head, data)) = url.strip_prefix("data:").and_then(|r| r.split_once(',')) else {
        return Err(invalid(
            field,
            "data:...",
            "an uploaded logo must be a data: URL",
        ));
    };
    let kind_ok = head
        .strip_suffix(";base64")
        .is_some_and(|mime| allowed.contains(&mime));
    let data_ok = !data.is_empty()
        && data
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
    if kind_ok && data_ok {
        Ok(url.to_owned())
    } else {
        Err(invalid(
            field,
            head.to_owned(),
            "an uploaded logo must be a base64 PNG, JPEG, GIF or WebP image (data:image/png;base64,...)",
        ))
    }
}

/// The organization as `patch` would leave it, every field checked; and what changed, for
/// the audit event.
fn patched(
    org: &Organization,
    patch: &SettingsPatch,
) -> Result<(Organization, Vec<String>), Error> {
    let mut next = org.clone();
    let mut changed = Vec::new();
    let on_off = |b: bool| if b { "on" } else { "off" };
    let s = &mut next.sign_in;
    if let Some(v) = patch.self_signup {
        s.self_signup = v;
        changed.push(format!("self_signup={}", on_off(v)));
    }
    if let Some(v) = patch.sso_only {
        s.sso_only = v;
        changed.push(format!("sso_only={}", on_off(v)));
    }
    if let Some(v) = patch.admins_keep_password {
        s.admins_keep_password = v;
        changed.push(format!("admins_keep_password={}", on_off(v)));
    }
    if let Some(providers) = &patch.providers {
        if let Some(bad) = providers.iter().find(|p| {
            p.is_empty()
                || p.len() > 32
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }) {
            return Err(invalid(
                "identity provider name",
                bad.clone(),
                "it must be the provider's name in the pool: 1 to 32 letters, digits, hyphens or underscores",
            ));
        }
        s.providers = providers.clone();
        changed.push(format!("providers={}", providers.join(",")));
    }
    if let Some(v) = patch.jit_enabled {
        s.jit_accounts = v;
        changed.push(format!("jit_accounts={}", on_off(v)));
    }
    if let Some(role) = &patch.jit_role {
        s.jit_role = match role {
            Some(r) => Some(org.role(r)?.as_str().to_owned()),
            None => None,
        };
        changed.push(format!(
            "jit_role={}",
            s.jit_role.as_deref().unwrap_or("member")
        ));
    }
    if let Some(v) = &patch.invitation {
        s.invitation = Invitation::from_str(v)?;
        changed.push(format!("invitation={}", s.invitation));
    }
    if let Some(urls) = &patch.app_urls {
        if urls.len() > MAX_APP_URLS {
            return Err(invalid(
                "app_urls",
                urls.len().to_string(),
                "at most 10 app URLs",
            ));
        }
        s.app_urls = urls
            .iter()
            .map(|u| https_url("app_urls", u))
            .collect::<Result<_, _>>()?;
        changed.push("app_urls".into());
    }
    for provider in Provider::ALL {
        let Some(input) = patch.provider(provider) else {
            continue;
        };
        let name = provider.name();
        let stored = s.sso.slot_mut(provider);
        match input {
            None => {
                *stored = None;
                s.providers.retain(|p| !p.eq_ignore_ascii_case(name));
                s.directory_providers
                    .retain(|p| !p.eq_ignore_ascii_case(name));
                changed.push(format!("sso.{}=removed", provider.key()));
            }
            Some(given) => {
                let setup = checked_provider(provider, given, stored.as_ref())?;
                *stored = Some(setup);
                if !s.providers.iter().any(|p| p.eq_ignore_ascii_case(name)) {
                    s.providers.push(name.to_owned());
                }
                // The customer's own tenant is their directory: its addresses are trusted in
                // their domains (linking, just-in-time accounts). The others count an address
                // only when they assert email_verified themselves.
                if provider == Provider::Microsoft
                    && !s.directory_providers.iter().any(|p| p == MICROSOFT)
                {
                    s.directory_providers.push(MICROSOFT.to_owned());
                }
                changed.push(format!(
                    "sso.{}{}",
                    provider.key(),
                    if given.client_secret.is_some() {
                        " (secret replaced)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    if s.sso_only && s.providers.is_empty() {
        return Err(invalid(
            "sso_only",
            "true",
            "single sign-on only needs an enabled identity provider: enable one first (tenantctl: --provider NAME; admin API: providers)",
        ));
    }
    if let Some(domains) = &patch.email_domains {
        if domains.len() > MAX_EMAIL_DOMAINS {
            return Err(invalid(
                "email_domains",
                domains.len().to_string(),
                "at most 20 e-mail domains",
            ));
        }
        let mut parsed: Vec<EmailDomain> = Vec::new();
        for d in domains {
            let domain = EmailDomain::parse(&d.trim().to_ascii_lowercase()).map_err(|_| {
                invalid(
                    "email_domains",
                    d.clone(),
                    "each must be a domain name such as acme.com",
                )
            })?;
            let domain = domain.organizational()?;
            if !parsed.contains(&domain) {
                parsed.push(domain);
            }
        }
        // Gone from the list: its claim is released and its proof forgotten.
        next.email_domains.retain(|d| parsed.contains(d));
        next.domain_proofs
            .retain(|p| parsed.iter().any(|d| d.as_str() == p.domain));
        let now = super::now_epoch();
        for d in &parsed {
            let claimed = next.email_domains.contains(d);
            let proof = next
                .domain_proofs
                .iter()
                .position(|p| p.domain == d.as_str());
            if patch.operator_word {
                // The operator's word: claimed (when the record is saved) and used at once.
                match proof {
                    Some(i) if !next.domain_proofs[i].is_pending() => {}
                    Some(i) => next.domain_proofs[i] = DomainProof::operator(d, now),
                    None => next.domain_proofs.push(DomainProof::operator(d, now)),
                }
                if !claimed {
                    next.email_domains.push(d.clone());
                }
            } else if !claimed && proof.is_none() {
                // An admin's new domain: pending, neither claimed nor used until its DNS
                // record is found.
                next.domain_proofs.push(DomainProof::pending(d));
            }
        }
        let order = |d: &EmailDomain| parsed.iter().position(|p| p == d);
        next.email_domains.sort_by_key(order);
        changed.push(format!(
            "email_domains={}{}",
            parsed
                .iter()
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join(","),
            if patch.operator_word {
                " (operator's word)"
            } else {
                ""
            }
        ));
    }
    if let Some(v) = &patch.mfa {
        next.mfa = MfaMode::from_str(v)?;
        changed.push(format!("mfa={}", next.mfa));
    }
    let b = &mut next.branding;
    if let Some(name) = &patch.display_name {
        b.display_name = match name.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(n) if n.chars().count() > MAX_DISPLAY_NAME || n.chars().any(char::is_control) => {
                return Err(invalid(
                    "branding.display_name",
                    n,
                    "at most 100 printable characters",
                ))
            }
            Some(n) => Some(n.to_owned()),
        };
        changed.push("branding.display_name".into());
    }
    if let Some(url) = &patch.logo_url {
        b.logo_url = match url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) if u.starts_with("data:") => Some(uploaded_logo(u)?),
            Some(u) => Some(https_url("branding.logo_url", u)?),
        };
        changed.push("branding.logo_url".into());
    }
    if let Some(color) = &patch.primary_color {
        b.primary_color = match color.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) => {
                let ok = c.len() == 7
                    && c.starts_with('#')
                    && c[1..].bytes().all(|x| x.is_ascii_hexdigit());
                if !ok {
                    return Err(invalid("branding.primary_color", c, "it must be #rrggbb"));
                }
                Some(c.to_ascii_lowercase())
            }
        };
        changed.push("branding.primary_color".into());
    }
    Ok((next, changed))
}

/// Applies `patch` to `org` (see the module). An empty patch is refused.
pub async fn apply_settings(
    deps: &SettingsDeps<'_>,
    org: &Organization,
    patch: &SettingsPatch,
    actor: &str,
) -> Result<Configured, Error> {
    let (registry, pools) = (deps.registry, deps.pools);
    if patch == &SettingsPatch::default() {
        return Err(invalid(
            "settings change",
            "",
            "name at least one setting to change",
        ));
    }
    let (mut next, changed) = patched(org, patch)?;
    // A domain another organization holds is refused now, rather than after its owner's
    // DNS record was published for nothing.
    for proof in next
        .domain_proofs
        .iter()
        .filter(|p| p.is_pending() && !org.domain_proofs.iter().any(|o| o.domain == p.domain))
    {
        let domain = EmailDomain::parse(&proof.domain)?;
        if let Some(owner) = registry.organization_by_email_domain(&domain).await? {
            if owner.id != org.id {
                return Err(Error::EmailDomainTaken {
                    domain: proof.domain.clone(),
                });
            }
        }
    }
    let pool_id = org.cognito.user_pool_id.clone().ok_or_else(|| {
        Error::not_allowed(
            format!("configure {}", org.subdomain),
            "it is still being provisioned; finish it with `tenantctl org create` first",
        )
    })?;
    // Marked as pending before the pool is touched: should a step below fail, the record
    // says so until the change is sent again (every step is idempotent) and finishes.
    let mut marking = org.clone();
    marking.sign_in.pending_change = Some(super::organization::PendingChange {
        changes: changed.clone(),
        actor: actor.to_owned(),
        since: super::now_epoch(),
    });
    let marked = registry.save_organization(&marking, None).await?;
    next.version = marked.version;
    next.sign_in.pending_change = None;
    let org = &marked;
    // The providers first (the secret, then the pool's identity provider), so that the app
    // client below can offer them.
    for provider in Provider::ALL {
        let name = provider.name();
        match (patch.provider(provider), next.sign_in.sso.get(provider)) {
            (Some(None), _) => {
                pools.delete_identity_provider(&pool_id, name).await?;
                deps.secrets.delete_secret(&secret_name(org, name)).await?;
            }
            (Some(Some(given)), Some(setup)) => {
                let secret_name = secret_name(org, name);
                let secret = match &given.client_secret {
                    Some(secret) => {
                        let secret = secret.trim();
                        deps.secrets.put_secret(&secret_name, secret).await?;
                        secret.to_owned()
                    }
                    None => deps
                        .secrets
                        .get_secret(&secret_name)
                        .await?
                        .ok_or_else(|| {
                            invalid(
                                "client_secret",
                                "",
                                "the stored secret is gone: send it again",
                            )
                        })?,
                };
                pools
                    .ensure_identity_provider(&pool_id, &provider_spec(provider, setup, &secret))
                    .await?;
            }
            _ => {}
        }
    }
    let sign_in_touched = patch.self_signup.is_some()
        || patch.sso_only.is_some()
        || patch.admins_keep_password.is_some()
        || patch.providers.is_some()
        || Provider::ALL
            .into_iter()
            .any(|p| patch.provider(p).is_some());
    let missing_providers = if sign_in_touched {
        pools
            .apply_sign_in(
                &pool_id,
                org.cognito.app_client_id.as_deref(),
                &next.sign_in,
            )
            .await?
    } else {
        Vec::new()
    };
    if patch.mfa.is_some() {
        pools.ensure_mfa(&pool_id, next.mfa).await?;
    }
    if let (Some(_), Some(client)) = (&patch.app_urls, org.cognito.app_client_id.as_deref()) {
        // The router's own URLs first, then the app's, for apps that use the pool's OAuth
        // endpoints themselves.
        let origin = org.subdomain.origin(deps.base_domain);
        let mut callbacks = vec![format!("{origin}/oauth/callback")];
        let mut logouts = vec![org.subdomain.login_url(deps.base_domain)];
        callbacks.extend(next.sign_in.app_urls.iter().cloned());
        logouts.extend(next.sign_in.app_urls.iter().cloned());
        pools
            .set_client_urls(&pool_id, client, &callbacks, &logouts)
            .await?;
    }
    // A change of how people get in only keeps the action name it always had.
    let sign_in_only = patch.mfa.is_none()
        && patch.display_name.is_none()
        && patch.logo_url.is_none()
        && patch.primary_color.is_none()
        && patch.app_urls.is_none()
        && patch.email_domains.is_none();
    let audit = AuditEvent::now(
        &org.id,
        actor,
        if sign_in_only {
            "org.sign_in_changed"
        } else {
            "org.settings_changed"
        },
        org.subdomain.as_str(),
        Some(changed.join(" ")),
    );
    let organization = if next.email_domains != org.email_domains {
        registry
            .save_organization_domains(org, &next, &audit)
            .await?
    } else {
        registry.save_organization(&next, Some(&audit)).await?
    };
    Ok(Configured {
        organization,
        missing_providers,
    })
}

/// One e-mail domain's proof, as last checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DomainCheck {
    pub domain: String,
    pub verified: bool,
    /// Why it is not (yet): the record is missing or different, or DNS did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Looks up the DNS TXT proof of each of the organization's pending e-mail domains, and
/// for those whose record now holds the value we showed, records the proof and claims the
/// domain for the organization (one owner: a conditional write), in one audited write made
/// only when one became proven. From then on the domain is used (discovery, self sign-up,
/// just-in-time accounts, directory linking). A domain another organization holds, or whose
/// look-up failed, stays pending and says why; the others go on.
pub async fn verify_email_domains(
    registry: &dyn Registry,
    dns: &dyn crate::domain::ports::TxtRecords,
    org: &Organization,
    actor: &str,
) -> Result<(Organization, Vec<DomainCheck>), Error> {
    let mut next = org.clone();
    let mut checks = Vec::new();
    let mut proven = Vec::new();
    let now = super::now_epoch();
    for proof in &mut next.domain_proofs {
        if !proof.is_pending() {
            checks.push(DomainCheck {
                domain: proof.domain.clone(),
                verified: true,
                detail: None,
            });
            continue;
        }
        if super::email::is_public_mail_domain(&proof.domain) {
            checks.push(DomainCheck {
                domain: proof.domain.clone(),
                verified: false,
                detail: Some(
                    "a public mail service's domain is never an organization's: remove it".into(),
                ),
            });
            continue;
        }
        let (verified, detail) = match dns.txt(&proof.record_name()).await {
            Ok(records) if records.iter().any(|r| r.trim() == proof.record_value()) => (true, None),
            Ok(records) if records.is_empty() => (
                false,
                Some(format!("no TXT record at {} yet", proof.record_name())),
            ),
            Ok(_) => (
                false,
                Some(format!(
                    "the TXT record at {} does not hold {}",
                    proof.record_name(),
                    proof.record_value()
                )),
            ),
            Err(e) => (false, Some(format!("DNS did not answer: {e}"))),
        };
        if verified {
            proof.verified_at = Some(now);
            proven.push(proof.domain.clone());
        }
        checks.push(DomainCheck {
            domain: proof.domain.clone(),
            verified,
            detail,
        });
    }
    for domain in &proven {
        let domain = EmailDomain::parse(domain)?;
        if !next.email_domains.contains(&domain) {
            next.email_domains.push(domain);
        }
    }
    loop {
        if proven.is_empty() {
            return Ok((org.clone(), checks));
        }
        let audit = AuditEvent::now(
            &org.id,
            actor,
            "org.email_domains_verified",
            org.subdomain.as_str(),
            Some(proven.join(" ")),
        );
        let saved = if next.email_domains != org.email_domains {
            registry.save_organization_domains(org, &next, &audit).await
        } else {
            registry.save_organization(&next, Some(&audit)).await
        };
        match saved {
            Ok(saved) => return Ok((saved, checks)),
            // Proven in DNS, but another organization holds the claim: it stays pending
            // here (an operator settles who owns it), and the others are saved.
            Err(Error::EmailDomainTaken { domain }) if proven.contains(&domain) => {
                proven.retain(|d| *d != domain);
                next.email_domains.retain(|d| d.as_str() != domain);
                for proof in next.domain_proofs.iter_mut().filter(|p| p.domain == domain) {
                    proof.verified_at = None;
                }
                for check in checks.iter_mut().filter(|c| c.domain == domain) {
                    check.verified = false;
                    check.detail = Some(
                        "the TXT record is there, but the domain belongs to another organization: ask support".into(),
                    );
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// The fields of a provider's settings, as a refusal names them (`sso.<key>.<field>`), in
/// the order of [`Provider::ALL`].
const FIELD_NAMES: [&str; 6] = [
    "tenant",
    "client_id",
    "client_secret",
    "team_id",
    "key_id",
    "private_key",
];
macro_rules! fields_of {
    ($key:literal) => {
        [
            concat!("sso.", $key, ".tenant"),
            concat!("sso.", $key, ".client_id"),
            concat!("sso.", $key, ".client_secret"),
            concat!("sso.", $key, ".team_id"),
            concat!("sso.", $key, ".key_id"),
            concat!("sso.", $key, ".private_key"),
        ]
    };
}
const FIELDS: [[&str; 6]; 5] = [
    fields_of!("microsoft"),
    fields_of!("google"),
    fields_of!("apple"),
    fields_of!("facebook"),
    fields_of!("amazon"),
];

/// A provider's settings, checked field by field (a refusal names the field).
fn checked_provider(
    provider: Provider,
    given: &ProviderInput,
    stored: Option<&ProviderSetup>,
) -> Result<ProviderSetup, Error> {
    let field = |f: &str| -> &'static str {
        let column = FIELD_NAMES.iter().position(|n| *n == f).unwrap_or(0);
        FIELDS[provider as usize][column]
    };
    let tenant = match (provider, given.tenant.as_deref().map(str::trim)) {
        // Only the tenant id: Entra ID's v2.0 tokens carry the issuer
        // https://login.microsoftonline.com/<tenant id>/v2.0, so a pool set up with a domain
        // name (contoso.com, contoso.onmicrosoft.com) would refuse every token.
        (Provider::Microsoft, Some(t)) if is_guid(t) => Some(t.to_ascii_lowercase()),
        (Provider::Microsoft, t) => {
            return Err(invalid(
                field("tenant"),
                t.unwrap_or_default(),
                "it must be the customer's Entra ID tenant id, a GUID (Microsoft Entra admin center > Overview > Tenant ID); a domain name, common or organizations never matches the issuer of its tokens",
            ))
        }
        (_, None) => None,
        (_, Some(t)) => return Err(invalid(field("tenant"), t, "only Microsoft takes a tenant")),
    };
    let client_id = given.client_id.trim();
    let (valid_client, client_rule) = match provider {
        Provider::Microsoft => (
            is_guid(client_id),
            "it must be the app registration's application (client) id, a GUID",
        ),
        Provider::Apple => (
            printable(client_id, 256),
            "it must be the Services ID (such as com.example.signin), up to 256 printable characters",
        ),
        _ => (
            printable(client_id, 256),
            "it must be the OAuth client id, up to 256 printable characters",
        ),
    };
    if !valid_client {
        return Err(invalid(field("client_id"), client_id, client_rule));
    }
    let apple_id = |value: &Option<String>, f: &str| -> Result<Option<String>, Error> {
        let value = value.as_deref().map(str::trim);
        match (provider, value) {
            (Provider::Apple, Some(v))
                if v.len() == 10
                    && v.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
            {
                Ok(Some(v.to_owned()))
            }
            (Provider::Apple, v) => Err(invalid(
                field(f),
                v.unwrap_or_default(),
                "it must be the 10-character id Apple shows (capital letters and digits)",
            )),
            (_, None) => Ok(None),
            (_, Some(v)) => Err(invalid(field(f), v, "only Apple takes it")),
        }
    };
    let team_id = apple_id(&given.team_id, "team_id")?;
    let key_id = apple_id(&given.key_id, "key_id")?;
    let secret_field = field(if provider == Provider::Apple {
        "private_key"
    } else {
        "client_secret"
    });
    match given.client_secret.as_deref() {
        Some(key) if provider == Provider::Apple => {
            let key = key.trim();
            if !(key.starts_with("-----BEGIN PRIVATE KEY-----")
                && key.ends_with("-----END PRIVATE KEY-----")
                && key.len() <= 4096)
            {
                return Err(invalid(
                    secret_field,
                    "(hidden)",
                    "it must be the .p8 signing key Apple gave you, from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY-----",
                ));
            }
        }
        Some(secret)
            if secret.is_empty() || secret.len() > 1024 || secret.chars().any(char::is_control) =>
        {
            return Err(invalid(
                secret_field,
                "(hidden)",
                "it must be 1 to 1024 characters",
            ))
        }
        None if stored.and_then(|p| p.client_secret_updated_at).is_none() => {
            return Err(invalid(
                secret_field,
                "",
                if provider == Provider::Apple {
                    "a new provider needs its private key"
                } else {
                    "a new provider needs its client secret"
                },
            ))
        }
        _ => {}
    }
    let client_secret_updated_at = if given.client_secret.is_some() {
        Some(super::now_epoch())
    } else {
        stored.and_then(|p| p.client_secret_updated_at)
    };
    Ok(ProviderSetup {
        tenant,
        client_id: client_id.to_owned(),
        team_id,
        key_id,
        client_secret_updated_at,
    })
}

fn printable(value: &str, max: usize) -> bool {
    !value.is_empty() && value.len() <= max && value.bytes().all(|b| b.is_ascii_graphic())
}

/// What a signed-in person may change about themselves with their own access token
/// (UpdateUserAttributes): their names and preferences. Nothing the registry owns: not
/// `email` (changed through a confirmed change), not `preferred_username` (the sign-in
/// alias, unique through the registry), nor `name`, `phone_number` or anything else.
pub const SELF_SERVICE_ATTRIBUTES: [&str; 4] = ["given_name", "family_name", "locale", "zoneinfo"];

/// The pool attributes each provider's sign-in writes (its attribute mapping, see
/// [`provider_spec`], without `username`).
pub fn mapped_attributes(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Microsoft | Provider::Google | Provider::Apple => {
            &["email", "email_verified", "given_name", "family_name"]
        }
        Provider::Facebook => &["email", "given_name", "family_name"],
        Provider::Amazon => &["email", "name"],
    }
}

/// The app client's `WriteAttributes` when it offers `offered` (its supported identity
/// providers, `COGNITO` for the password page): [`SELF_SERVICE_ATTRIBUTES`], and, because
/// Cognito refuses a federated sign-in whose mapped attributes the client may not write, the
/// attributes every offered provider maps. An organization without a provider keeps its
/// people's own tokens away from `email` entirely; with one, a changed `email` still takes
/// effect only once the code sent to the new address is confirmed (the pool's
/// AttributesRequireVerificationBeforeUpdate), and the registry, not Cognito, says who has
/// which address.
pub fn client_write_attributes(offered: &[String]) -> Vec<String> {
    let mut attributes: Vec<String> = SELF_SERVICE_ATTRIBUTES
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    for provider in offered.iter().filter_map(|name| Provider::named(name)) {
        for attribute in mapped_attributes(provider) {
            if !attributes.iter().any(|a| a == attribute) {
                attributes.push((*attribute).to_owned());
            }
        }
    }
    attributes
}

/// The pool's identity provider for `provider`: its details and attribute mapping (pool
/// attribute <- provider claim), the `username` being the provider's stable subject.
fn provider_spec(provider: Provider, setup: &ProviderSetup, secret: &str) -> IdentityProviderSpec {
    let pairs = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    let id = setup.client_id.as_str();
    let (provider_type, details, mapping): (&str, Vec<(String, String)>, _) = match provider {
        Provider::Microsoft => (
            "OIDC",
            pairs(&[
                ("client_id", id),
                ("client_secret", secret),
                ("authorize_scopes", "openid email profile"),
                (
                    "oidc_issuer",
                    &microsoft_issuer(setup.tenant.as_deref().unwrap_or_default()),
                ),
                ("attributes_request_method", "GET"),
            ]),
            // Entra ID's `email` is not verified (the "nOAuth" class): its optional claim
            // `xms_edov` ("email domain owner verified") says whether the address's domain is
            // verified by the tenant the account lives in. Mapped onto `email_verified`, it is
            // the only thing that lets the address link or create an account
            // (FederatedClaim::trusted_email); the app registration must add `xms_edov` (and
            // `email`) to its ID token's optional claims.
            pairs(&[
                ("email", "email"),
                ("email_verified", "xms_edov"),
                ("given_name", "given_name"),
                ("family_name", "family_name"),
                ("username", "oid"),
            ]),
        ),
        Provider::Google => (
            "Google",
            pairs(&[
                ("client_id", id),
                ("client_secret", secret),
                ("authorize_scopes", "openid email profile"),
            ]),
            pairs(&[
                ("email", "email"),
                ("email_verified", "email_verified"),
                ("given_name", "given_name"),
                ("family_name", "family_name"),
                ("username", "sub"),
            ]),
        ),
        Provider::Apple => (
            "SignInWithApple",
            pairs(&[
                ("client_id", id),
                ("team_id", setup.team_id.as_deref().unwrap_or_default()),
                ("key_id", setup.key_id.as_deref().unwrap_or_default()),
                ("private_key", secret),
                ("authorize_scopes", "email name"),
            ]),
            pairs(&[
                ("email", "email"),
                ("email_verified", "email_verified"),
                ("given_name", "firstName"),
                ("family_name", "lastName"),
                ("username", "sub"),
            ]),
        ),
        Provider::Facebook => (
            "Facebook",
            pairs(&[
                ("client_id", id),
                ("client_secret", secret),
                ("authorize_scopes", "public_profile,email"),
            ]),
            pairs(&[
                ("email", "email"),
                ("given_name", "first_name"),
                ("family_name", "last_name"),
                ("username", "id"),
            ]),
        ),
        Provider::Amazon => (
            "LoginWithAmazon",
            pairs(&[
                ("client_id", id),
                ("client_secret", secret),
                ("authorize_scopes", "profile"),
            ]),
            pairs(&[
                ("email", "email"),
                ("name", "name"),
                ("username", "user_id"),
            ]),
        ),
    };
    IdentityProviderSpec {
        name: provider.name().into(),
        provider_type: provider_type.into(),
        details,
        attribute_mapping: mapping,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{sample_org, MemoryRegistry, RecordingPools};

    #[tokio::test]
    async fn a_change_is_checked_whole_applied_to_the_pool_and_audited_once() {
        let org = sample_org();
        let registry = MemoryRegistry::with_org(org.clone());
        let pools = RecordingPools::default();
        let secrets = crate::testing::MemorySecrets::default();
        let deps = SettingsDeps {
            registry: &registry,
            pools: &pools,
            secrets: &secrets,
            base_domain: "app.example.com",
        };
        let patch = SettingsPatch {
            mfa: Some("required".into()),
            primary_color: Some(Some("#0B5FFF".into())),
            logo_url: Some(Some("data:image/png;base64,iVBORw0KGgo=".into())),
            display_name: Some(Some("  Acme  ".into())),
            app_urls: Some(vec!["https://portal.acme.example/home".into()]),
            jit_enabled: Some(true),
            jit_role: Some(Some("admin".into())),
            invitation: Some("link".into()),
            ..Default::default()
        };
        let done = apply_settings(&deps, &org, &patch, "boss")
            .await
            .expect("applied");
        let o = &done.organization;
        assert_eq!(o.mfa, MfaMode::Required);
        assert_eq!(o.branding.primary_color.as_deref(), Some("#0b5fff"));
        assert_eq!(o.branding.display_name.as_deref(), Some("Acme"));
        assert_eq!(o.sign_in.app_urls, ["https://portal.acme.example/home"]);
        assert_eq!(o.sign_in.jit_role.as_deref(), Some("admin"));
        assert_eq!(o.sign_in.invitation, Invitation::Link);
        assert!(
            pools.calls().iter().any(|c| c.starts_with("ensure_mfa")),
            "{:?}",
            pools.calls()
        );
        assert!(
            pools.calls().contains(&"set_client_urls eu-west-1_AcmePool1 5a1b2c3d4e5f6g7h8i9j0k1l2m https://acme.app.example.com/oauth/callback https://portal.acme.example/home | https://acme.app.example.com/login https://portal.acme.example/home".to_owned()),
            "{:?}",
            pools.calls()
        );
        assert_eq!(registry.audit_actions(), ["org.settings_changed"]);
    }

    #[tokio::test]
    async fn bad_input_names_the_field_and_changes_nothing() {
        let org = sample_org();
        let registry = MemoryRegistry::with_org(org.clone());
        let pools = RecordingPools::default();
        let secrets = crate::testing::MemorySecrets::default();
        let deps = SettingsDeps {
            registry: &registry,
            pools: &pools,
            secrets: &secrets,
            base_domain: "app.example.com",
        };
        let cases: Vec<(SettingsPatch, &str)> = vec![
            (
                SettingsPatch {
                    primary_color: Some(Some("red".into())),
                    ..Default::default()
                },
                "branding.primary_color",
            ),
            (
                SettingsPatch {
                    logo_url: Some(Some("http://x.example/l.png".into())),
                    ..Default::default()
                },
                "branding.logo_url",
            ),
            (
                SettingsPatch {
                    logo_url: Some(Some("https://x.example/a\"b".into())),
                    ..Default::default()
                },
                "branding.logo_url",
            ),
            (
                SettingsPatch {
                    app_urls: Some(vec!["javascript:alert(1)".into()]),
                    ..Default::default()
                },
                "app_urls",
            ),
            (
                SettingsPatch {
                    mfa: Some("sometimes".into()),
                    ..Default::default()
                },
                "MFA",
            ),
            (
                SettingsPatch {
                    sso_only: Some(true),
                    ..Default::default()
                },
                "sso_only",
            ),
            (
                SettingsPatch {
                    jit_role: Some(Some("pilot".into())),
                    ..Default::default()
                },
                "role",
            ),
            (
                SettingsPatch {
                    invitation: Some("carrier pigeon".into()),
                    ..Default::default()
                },
                "invitation",
            ),
            (
                SettingsPatch {
                    providers: Some(vec!["Micro soft".into()]),
                    ..Default::default()
                },
                "identity provider",
            ),
            (
                SettingsPatch {
                    display_name: Some(Some("x".repeat(101))),
                    ..Default::default()
                },
                "display_name",
            ),
            (SettingsPatch::default(), "settings change"),
            (
                SettingsPatch {
                    logo_url: Some(Some("data:image/svg+xml;base64,PHN2Zz4=".into())),
                    ..Default::default()
                },
                "branding.logo_url",
            ),
            (
                SettingsPatch {
                    logo_url: Some(Some(format!(
                        "data:image/png;base64,{}",
                        "A".repeat(70_000)
                    ))),
                    ..Default::default()
                },
                "64 KiB",
            ),
            (
                SettingsPatch {
                    microsoft: Some(Some(ProviderInput {
                        tenant: Some("common".into()),
                        client_id: GUID.into(),
                        client_secret: Some("s".into()),
                        ..Default::default()
                    })),
                    ..Default::default()
                },
                "sso.microsoft.tenant",
            ),
            (
                SettingsPatch {
                    microsoft: Some(Some(ProviderInput {
                        tenant: Some("not a tenant!".into()),
                        client_id: GUID.into(),
                        client_secret: Some("s".into()),
                        ..Default::default()
                    })),
                    ..Default::default()
                },
                "sso.microsoft.tenant",
            ),
            (
                SettingsPatch {
                    microsoft: Some(Some(ProviderInput {
                        tenant: Some(GUID.into()),
                        client_id: "app".into(),
                        client_secret: Some("s".into()),
                        ..Default::default()
                    })),
                    ..Default::default()
                },
                "sso.microsoft.client_id",
            ),
            (
                SettingsPatch {
                    microsoft: Some(Some(ProviderInput {
                        tenant: Some(GUID.into()),
                        client_id: GUID.into(),
                        client_secret: None,
                        ..Default::default()
                    })),
                    ..Default::default()
                },
                "sso.microsoft.client_secret",
            ),
            (
                SettingsPatch {
                    google: Some(Some(ProviderInput {
                        tenant: Some("x.example".into()),
                        client_id: "g".into(),
                        client_secret: Some("s".into()),
                        ..Default::default()
                    })),
                    ..Default::default()
                },
                "sso.google.tenant",
            ),
        ];
        for (patch, field) in cases {
            let e = apply_settings(&deps, &org, &patch, "boss")
                .await
                .expect_err("refused");
            assert!(
                e.to_string().to_lowercase().contains(&field.to_lowercase()),
                "{field}: {e}"
            );
        }
        assert!(pools.calls().is_empty());
        assert!(registry.audit_actions().is_empty());
        assert!(secrets.get(&secret_name(&org, MICROSOFT)).is_none());
        assert_eq!(registry.org(&org.id), Some(org));
    }

    const GUID: &str = "8c4f1a2b-3d4e-4f50-9a6b-7c8d9e0f1a2b";
    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[tokio::test]
    async fn the_microsoft_tenant_is_its_id_never_a_domain_name() {
        let org = sample_org();
        let registry = MemoryRegistry::with_org(org.clone());
        let (pools, secrets) = (
            RecordingPools::default(),
            crate::testing::MemorySecrets::default(),
        );
        let deps = SettingsDeps {
            registry: &registry,
            pools: &pools,
            secrets: &secrets,
            base_domain: "app.example.com",
        };
        for tenant in [
            "contoso.onmicrosoft.com",
            "contoso.com",
            "common",
            "organizations",
            "consumers",
            "72f988bf86f141af91ab2d7cd011db47",
        ] {
            let patch = SettingsPatch {
                microsoft: Some(Some(ProviderInput {
                    tenant: Some(tenant.into()),
                    client_id: GUID.into(),
                    client_secret: Some("s".into()),
                    ..Default::default()
                })),
                ..Default::default()
            };
            match apply_settings(&deps, &org, &patch, "boss").await {
                Err(Error::InvalidInput { what, rule, .. }) => {
                    assert_eq!(what, "sso.microsoft.tenant", "{tenant}");
                    assert!(rule.contains("GUID"), "{rule}");
                }
                other => panic!("{tenant}: {other:?}"),
            }
        }
        assert!(pools.calls().is_empty());
    }

    /// DNS with fixed TXT records; `None` for a name: DNS does not answer.
    struct FixedDns(Vec<(String, Option<Vec<String>>)>);

    #[async_trait::async_trait]
    impl crate::domain::ports::TxtRecords for FixedDns {
        async fn txt(&self, name: &str) -> Result<Vec<String>, Error> {
            match self.0.iter().find(|(n, _)| n == name) {
                Some((_, Some(records))) => Ok(records.clone()),
                Some((_, None)) => Err(Error::Aws {
                    service: "DNS",
                    operation: "TXT lookup",
                    detail: "timed out".into(),
                }),
                None => Ok(Vec::new()),
            }
        }
    }

    #[tokio::test]
    async fn a_domain_is_proven_by_its_txt_record_and_only_by_it() {
        let mut org = sample_org();
        for domain in ["acme.example", "acme-labs.example", "acme.test", "acme.dev"] {
            org.domain_proofs.push(DomainProof {
                domain: domain.into(),
                token: format!("tok-{domain}"),
                verified_at: None,
                by: Default::default(),
            });
        }
        let registry = MemoryRegistry::with_org(org.clone());
        let p = |i: usize| org.domain_proofs[i].clone();
        let dns = FixedDns(vec![
            (
                p(0).record_name(),
                Some(vec!["v=spf1 -all".into(), p(0).record_value()]),
            ),
            (
                p(1).record_name(),
                Some(vec!["signin-verification=someone-else".into()]),
            ),
            (p(3).record_name(), None),
        ]);
        let (saved, checks) = verify_email_domains(&registry, &dns, &org, "boss")
            .await
            .expect("checked");
        let verified: Vec<(&str, bool)> = checks
            .iter()
            .map(|c| (c.domain.as_str(), c.verified))
            .collect();
        assert_eq!(
            verified,
            [
                ("acme.example", true),
                ("acme-labs.example", false),
                ("acme.test", false),
                ("acme.dev", false)
            ]
        );
        assert!(checks[1]
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("does not hold"));
        assert!(checks[2]
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("no TXT record"));
        assert!(checks[3]
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("did not answer"));
        assert!(saved.domain_proofs[0].verified_at.is_some());
        assert!(saved.domain_proofs[1..]
            .iter()
            .all(|p| p.verified_at.is_none()));
        assert_eq!(registry.org(&org.id), Some(saved.clone()));
        assert_eq!(registry.audit_actions(), ["org.email_domains_verified"]);
        // Checked again: nothing new, nothing written.
        let (again, _) = verify_email_domains(&registry, &dns, &saved, "boss")
            .await
            .expect("checked");
        assert_eq!(again, saved);
        assert_eq!(registry.audit_actions().len(), 1);
    }

    /// A secret store that is down.
    struct DownSecrets;

    #[async_trait::async_trait]
    impl Secrets for DownSecrets {
        async fn put_secret(&self, _: &str, _: &str) -> Result<(), Error> {
            Err(Error::Aws {
                service: "Secrets Manager",
                operation: "PutSecretValue",
                detail: "unreachable".into(),
            })
        }
        async fn get_secret(&self, _: &str) -> Result<Option<String>, Error> {
            Ok(None)
        }
        async fn delete_secret(&self, _: &str) -> Result<(), Error> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_change_that_failed_half_way_shows_as_pending_until_sent_again() {
        let org = sample_org();
        let registry = MemoryRegistry::with_org(org.clone());
        let pools = RecordingPools::default();
        let patch = SettingsPatch {
            google: Some(Some(ProviderInput {
                client_id: "123-abc.apps.googleusercontent.com".into(),
                client_secret: Some("g-secret".into()),
                ..Default::default()
            })),
            mfa: Some("optional".into()),
            ..Default::default()
        };
        let down = SettingsDeps {
            registry: &registry,
            pools: &pools,
            secrets: &DownSecrets,
            base_domain: "app.example.com",
        };
        assert!(apply_settings(&down, &org, &patch, "boss").await.is_err());
        let stuck = registry.org(&org.id).expect("org");
        let pending = stuck.sign_in.pending_change.clone().expect("pending");
        assert_eq!(pending.actor, "boss");
        assert!(
            pending.changes.iter().any(|c| c.starts_with("sso.google")),
            "{pending:?}"
        );
        assert!(stuck.sign_in.sso.google.is_none(), "not recorded as done");
        assert!(!format!("{pending:?}").contains("g-secret"));
        // Sent again with the store back: finished, and nothing pending any more.
        let secrets = crate::testing::MemorySecrets::default();
        let deps = SettingsDeps {
            secrets: &secrets,
            ..down
        };
        let done = apply_settings(&deps, &stuck, &patch, "boss")
            .await
            .expect("finished");
        assert!(done.organization.sign_in.pending_change.is_none());
        assert!(done.organization.sign_in.sso.google.is_some());
        assert_eq!(done.organization.mfa, MfaMode::Optional);
        assert_eq!(registry.org(&org.id), Some(done.organization));
        assert_eq!(
            registry.audit_actions(),
            ["org.settings_changed"],
            "audited once, when done"
        );
    }

    #[tokio::test]
    async fn apple_facebook_and_amazon_are_set_up_with_what_each_needs() {
        let org = sample_org();
        let registry = MemoryRegistry::with_org(org.clone());
        let pools = RecordingPools::default();
        let secrets = crate::testing::MemorySecrets::default();
        let deps = SettingsDeps {
            registry: &registry,
            pools: &pools,
            secrets: &secrets,
            base_domain: "app.example.com",
        };
        let key = "-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg\n-----END PRIVATE KEY-----\n";
        let apple =
            |team: Option<&str>, key_id: Option<&str>, private_key: Option<&str>| SettingsPatch {
                apple: Some(Some(ProviderInput {
                    client_id: "com.acme.signin".into(),
                    team_id: team.map(str::to_owned),
                    key_id: key_id.map(str::to_owned),
                    client_secret: private_key.map(str::to_owned),
                    ..Default::default()
                })),
                ..Default::default()
            };
        // Each refusal names its field; nothing is applied.
        for (patch, field) in [
            (
                apple(None, Some("KEY1234567"), Some(key)),
                "sso.apple.team_id",
            ),
            (
                apple(Some("team"), Some("KEY1234567"), Some(key)),
                "sso.apple.team_id",
            ),
            (
                apple(Some("TEAM123456"), Some("K1"), Some(key)),
                "sso.apple.key_id",
            ),
            (
                apple(Some("TEAM123456"), Some("KEY1234567"), Some("not a key")),
                "sso.apple.private_key",
            ),
            (
                apple(Some("TEAM123456"), Some("KEY1234567"), None),
                "sso.apple.private_key",
            ),
            (
                SettingsPatch {
                    facebook: Some(Some(ProviderInput {
                        client_id: "1234567890".into(),
                        team_id: Some("TEAM123456".into()),
                        client_secret: Some("fb".into()),
                        ..Default::default()
                    })),
                    ..Default::default()
                },
                "sso.facebook.team_id",
            ),
            (
                SettingsPatch {
                    amazon: Some(Some(ProviderInput {
                        client_id: "amzn1.application-oa2-client.1".into(),
                        tenant: Some("contoso.com".into()),
                        client_secret: Some("az".into()),
                        ..Default::default()
                    })),
                    ..Default::default()
                },
                "sso.amazon.tenant",
            ),
        ] {
            match apply_settings(&deps, &org, &patch, "boss").await {
                Err(Error::InvalidInput { what, .. }) => assert_eq!(what, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(pools.calls().is_empty());
        assert!(!format!("{:?}", apple(None, None, Some(key))).contains("MIGTAgEA"));

        let mut patch = apple(Some("TEAM123456"), Some("KEY1234567"), Some(key));
        patch.facebook = Some(Some(ProviderInput {
            client_id: "1234567890".into(),
            client_secret: Some("fb-secret".into()),
            ..Default::default()
        }));
        patch.amazon = Some(Some(ProviderInput {
            client_id: "amzn1.application-oa2-client.1".into(),
            client_secret: Some("amazon-secret".into()),
            ..Default::default()
        }));
        let done = apply_settings(&deps, &org, &patch, "boss")
            .await
            .expect("applied");
        let s = &done.organization.sign_in;
        assert_eq!(
            s.providers,
            ["SignInWithApple", "Facebook", "LoginWithAmazon"]
        );
        assert!(
            s.directory_providers.is_empty(),
            "none is the organization's directory"
        );
        let apple = s.sso.apple.clone().expect("apple");
        assert_eq!(apple.team_id.as_deref(), Some("TEAM123456"));
        assert_eq!(apple.key_id.as_deref(), Some("KEY1234567"));
        assert_eq!(
            secrets
                .get(&secret_name(&org, "SignInWithApple"))
                .as_deref(),
            Some(key.trim())
        );
        assert_eq!(
            secrets.get(&secret_name(&org, "Facebook")).as_deref(),
            Some("fb-secret")
        );
        let calls = pools.calls();
        for expected in [
            "SignInWithApple SignInWithApple",
            "Facebook Facebook",
            "LoginWithAmazon LoginWithAmazon",
        ] {
            assert!(
                calls.contains(&format!(
                    "ensure_identity_provider {} {expected}",
                    org.cognito.user_pool_id.clone().expect("pool")
                )),
                "{calls:?}"
            );
        }
        let stored = serde_json::to_string(&registry.org(&org.id)).expect("json");
        assert!(!stored.contains("MIGTAgEA") && !stored.contains("fb-secret"));
        // What Cognito gets for Apple: its ids, the key, and the subject as username.
        let spec = provider_spec(Provider::Apple, &apple, key.trim());
        let detail = |k: &str| {
            spec.details
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(detail("team_id").as_deref(), Some("TEAM123456"));
        assert_eq!(detail("private_key").as_deref(), Some(key.trim()));
        assert!(detail("client_secret").is_none());
        assert!(spec
            .attribute_mapping
            .contains(&("username".to_owned(), "sub".to_owned())));
    }

    #[tokio::test]
    async fn microsoft_is_set_up_with_its_secret_in_the_secret_store_only() {
        let org = sample_org();
        let registry = MemoryRegistry::with_org(org.clone());
        let pools = RecordingPools::default();
        let secrets = crate::testing::MemorySecrets::default();
        let deps = SettingsDeps {
            registry: &registry,
            pools: &pools,
            secrets: &secrets,
            base_domain: "app.example.com",
        };
        let patch = SettingsPatch {
            microsoft: Some(Some(ProviderInput {
                tenant: Some(TENANT.to_ascii_uppercase()),
                client_id: GUID.into(),
                client_secret: Some("s3cr3t~value".into()),
                ..Default::default()
            })),
            sso_only: Some(true),
            ..Default::default()
        };
        let done = apply_settings(&deps, &org, &patch, "boss")
            .await
            .expect("applied");
        let s = &done.organization.sign_in;
        let ms = s.sso.microsoft.clone().expect("recorded");
        assert_eq!(ms.tenant.as_deref(), Some(TENANT));
        // Its pool provider: the tenant's own issuer, and the address verified only by
        // Entra's xms_edov.
        let spec = provider_spec(Provider::Microsoft, &ms, "s3cr3t~value");
        assert!(spec.details.contains(&(
            "oidc_issuer".to_owned(),
            format!("https://login.microsoftonline.com/{TENANT}/v2.0")
        )));
        assert!(spec
            .attribute_mapping
            .contains(&("email_verified".to_owned(), "xms_edov".to_owned())));
        assert!(ms.client_secret_updated_at.is_some());
        assert_eq!(s.providers, ["Microsoft"]);
        assert_eq!(s.directory_providers, ["Microsoft"]);
        assert!(s.sso_only);
        assert_eq!(
            secrets.get(&secret_name(&org, MICROSOFT)).as_deref(),
            Some("s3cr3t~value")
        );
        let stored = serde_json::to_string(&registry.org(&org.id)).expect("json");
        assert!(
            !stored.contains("s3cr3t"),
            "the secret is not in the record"
        );
        assert!(!format!("{:?}", registry.audit_events()).contains("s3cr3t"));
        assert!(
            !format!("{patch:?}").contains("s3cr3t"),
            "nor in a debug print"
        );
        let calls = pools.calls();
        let idp = calls.iter().position(|c| {
            c.starts_with("ensure_identity_provider") && c.contains("Microsoft OIDC")
        });
        let client = calls.iter().position(|c| c.starts_with("apply_sign_in"));
        assert!(
            idp.is_some() && client.is_some() && idp < client,
            "{calls:?}"
        );
        // A change without the secret keeps it; removing the provider removes it.
        let org = registry.org(&org.id).expect("org");
        let keep = SettingsPatch {
            microsoft: Some(Some(ProviderInput {
                tenant: Some(GUID.into()),
                client_id: GUID.into(),
                client_secret: None,
                ..Default::default()
            })),
            ..Default::default()
        };
        apply_settings(&deps, &org, &keep, "boss")
            .await
            .expect("kept");
        assert_eq!(
            secrets.get(&secret_name(&org, MICROSOFT)).as_deref(),
            Some("s3cr3t~value")
        );
        let org = registry.org(&org.id).expect("org");
        let remove_while_sso_only = SettingsPatch {
            microsoft: Some(None),
            ..Default::default()
        };
        assert!(
            apply_settings(&deps, &org, &remove_while_sso_only, "boss")
                .await
                .is_err(),
            "SSO-only would keep nobody a way in"
        );
        let remove = SettingsPatch {
            microsoft: Some(None),
            sso_only: Some(false),
            ..Default::default()
        };
        let done = apply_settings(&deps, &org, &remove, "boss")
            .await
            .expect("removed");
        assert!(done.organization.sign_in.sso.microsoft.is_none());
        assert!(done.organization.sign_in.providers.is_empty());
        assert!(secrets.get(&secret_name(&org, MICROSOFT)).is_none());
        assert!(pools
            .calls()
            .iter()
            .any(|c| c.starts_with("delete_identity_provider")));
    }

    fn domain_deps<'a>(
        registry: &'a MemoryRegistry,
        pools: &'a RecordingPools,
        secrets: &'a crate::testing::MemorySecrets,
    ) -> SettingsDeps<'a> {
        SettingsDeps {
            registry,
            pools,
            secrets,
            base_domain: "app.example.com",
        }
    }

    fn other_org(id: &str, sub: &str, domains: &[&str]) -> Organization {
        let mut other = sample_org();
        other.id = crate::domain::OrgId::from(id.to_owned());
        other.subdomain = crate::domain::Subdomain::parse(sub).expect("valid");
        other.cognito.user_pool_id = Some(format!("eu-west-1_{sub}"));
        other.email_domains = domains
            .iter()
            .map(|d| EmailDomain::parse(d).expect("valid"))
            .collect();
        other
    }

    fn address(a: &str) -> crate::domain::EmailAddress {
        crate::domain::EmailAddress::parse(a).expect("valid")
    }

    #[tokio::test]
    async fn an_admin_s_new_domain_is_pending_unclaimed_and_unused_until_proven() {
        use crate::domain::signin::check_self_signup;
        let mut org = sample_org();
        org.sign_in.self_signup = true;
        let registry = MemoryRegistry::with_org(org.clone());
        registry.insert_org(other_org("org-globex", "globex", &["globex.example"]));
        let (pools, secrets) = (
            RecordingPools::default(),
            crate::testing::MemorySecrets::default(),
        );
        let deps = domain_deps(&registry, &pools, &secrets);
        let add = SettingsPatch {
            email_domains: Some(vec!["acme.example".into(), "Acme-Labs.example".into()]),
            ..Default::default()
        };
        let done = apply_settings(&deps, &org, &add, "boss")
            .await
            .expect("added");
        let o = &done.organization;
        // acme.example was the operator's (no proof record): in use as before.
        assert_eq!(
            o.email_domains,
            [EmailDomain::parse("acme.example").expect("valid")]
        );
        assert_eq!(o.all_domains(), ["acme.example", "acme-labs.example"]);
        assert_eq!(o.pending_domains(), ["acme-labs.example"]);
        assert_eq!(
            o.domain_proofs.len(),
            1,
            "only the new domain needs a proof"
        );
        assert_eq!(
            o.domain_proofs[0].record_name(),
            "_signin-challenge.acme-labs.example"
        );
        assert!(o.domain_proofs[0]
            .record_value()
            .starts_with("signin-verification="));
        // Not claimed, not used: no discovery, no self sign-up, no linking by that domain.
        let labs = EmailDomain::parse("acme-labs.example").expect("valid");
        assert!(registry
            .organization_by_email_domain(&labs)
            .await
            .expect("read")
            .is_none());
        assert!(!o.owns_address(&address("new@acme-labs.example")));
        assert!(check_self_signup(o, Some("new@acme-labs.example")).is_err());
        assert!(check_self_signup(o, Some("new@acme.example")).is_ok());

        // Proven in DNS: claimed for it (one owner) and used from then on.
        let proof = o.domain_proofs[0].clone();
        let dns = FixedDns(vec![(
            proof.record_name(),
            Some(vec![proof.record_value()]),
        )]);
        let (proven, checks) = verify_email_domains(&registry, &dns, o, "boss")
            .await
            .expect("checked");
        assert!(checks.iter().all(|c| c.verified), "{checks:?}");
        assert!(proven.pending_domains().is_empty());
        assert!(proven.owns_address(&address("new@acme-labs.example")));
        assert!(check_self_signup(&proven, Some("new@acme-labs.example")).is_ok());
        assert_eq!(
            registry
                .organization_by_email_domain(&labs)
                .await
                .expect("read")
                .map(|o| o.id),
            Some(org.id.clone())
        );

        // Another organization's domain, or a public mail service's: refused, nothing changed.
        let before = registry.org(&org.id);
        for (domain, code) in [
            ("globex.example", "EmailDomainTaken"),
            ("gmail.com", "PublicEmailDomain"),
            ("GoogleMail.com", "PublicEmailDomain"),
            ("yandex.ru", "PublicEmailDomain"),
        ] {
            let patch = SettingsPatch {
                email_domains: Some(vec!["acme.example".into(), domain.into()]),
                ..Default::default()
            };
            let e = apply_settings(&deps, &proven, &patch, "boss")
                .await
                .expect_err(domain);
            assert_eq!(e.code(), code, "{domain}: {e}");
        }
        assert_eq!(registry.org(&org.id), before);
        let bad = SettingsPatch {
            email_domains: Some(vec!["not a domain".into()]),
            ..Default::default()
        };
        let e = apply_settings(&deps, &proven, &bad, "boss")
            .await
            .expect_err("bad");
        assert!(e.to_string().contains("email_domains"), "{e}");
    }

    #[tokio::test]
    async fn a_domain_two_organizations_wait_for_goes_to_the_first_proven_only() {
        let acme = sample_org();
        let registry = MemoryRegistry::with_org(acme.clone());
        let globex = other_org("org-globex", "globex", &[]);
        registry.insert_org(globex.clone());
        let (pools, secrets) = (
            RecordingPools::default(),
            crate::testing::MemorySecrets::default(),
        );
        let deps = domain_deps(&registry, &pools, &secrets);
        let contested = SettingsPatch {
            email_domains: Some(vec!["initech.example".into()]),
            ..Default::default()
        };
        // Both may ask (neither holds it yet): nothing is claimed by asking.
        let acme = apply_settings(&deps, &acme, &contested, "boss")
            .await
            .expect("acme asks")
            .organization;
        let globex = apply_settings(&deps, &globex, &contested, "boss")
            .await
            .expect("globex asks")
            .organization;
        // Both records published (the domain's owner answered both): the first proof wins.
        let dns = FixedDns(vec![(
            acme.domain_proofs[0].record_name(),
            Some(vec![
                acme.domain_proofs[0].record_value(),
                globex.domain_proofs[0].record_value(),
            ]),
        )]);
        let (globex, checks) = verify_email_domains(&registry, &dns, &globex, "g")
            .await
            .expect("globex proves");
        assert!(checks[0].verified);
        assert!(globex.owns_address(&address("x@initech.example")));
        let (acme, checks) = verify_email_domains(&registry, &dns, &acme, "a")
            .await
            .expect("checked");
        assert!(!checks[0].verified, "{checks:?}");
        assert!(checks[0]
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("another organization"));
        assert_eq!(acme.pending_domains(), ["initech.example"]);
        assert!(!acme.owns_address(&address("x@initech.example")));
        let owner = registry
            .organization_by_email_domain(&EmailDomain::parse("initech.example").expect("valid"))
            .await
            .expect("read")
            .map(|o| o.id);
        assert_eq!(owner, Some(globex.id));
    }

    #[tokio::test]
    async fn an_operator_s_domain_is_their_word_and_vouches_for_a_pending_one() {
        let org = sample_org();
        let registry = MemoryRegistry::with_org(org.clone());
        let (pools, secrets) = (
            RecordingPools::default(),
            crate::testing::MemorySecrets::default(),
        );
        let deps = domain_deps(&registry, &pools, &secrets);
        let admin = SettingsPatch {
            email_domains: Some(vec!["acme.example".into(), "acme.dev".into()]),
            ..Default::default()
        };
        let org = apply_settings(&deps, &org, &admin, "boss")
            .await
            .expect("admin")
            .organization;
        assert_eq!(org.pending_domains(), ["acme.dev"]);
        let operator = SettingsPatch {
            email_domains: Some(vec![
                "acme.example".into(),
                "acme.dev".into(),
                "acme.test".into(),
            ]),
            operator_word: true,
            ..Default::default()
        };
        let org = apply_settings(&deps, &org, &operator, "tenantctl:ops")
            .await
            .expect("operator")
            .organization;
        assert!(org.pending_domains().is_empty());
        for d in ["acme.example", "acme.dev", "acme.test"] {
            assert!(org.uses_domain(d), "{d}");
            let proof = org
                .domain_proofs
                .iter()
                .find(|p| p.domain == d)
                .expect("recorded");
            assert_eq!(proof.by, crate::domain::ProofBy::Operator, "{d}");
            assert!(registry
                .organization_by_email_domain(&EmailDomain::parse(d).expect("valid"))
                .await
                .expect("read")
                .is_some());
        }
        let public = SettingsPatch {
            email_domains: Some(vec!["outlook.com".into()]),
            operator_word: true,
            ..Default::default()
        };
        let e = apply_settings(&deps, &org, &public, "tenantctl:ops")
            .await
            .expect_err("public");
        assert_eq!(e.code(), "PublicEmailDomain");
        // Dropped from the list: the claim is released.
        let fewer = SettingsPatch {
            email_domains: Some(vec!["acme.example".into()]),
            ..Default::default()
        };
        let org = apply_settings(&deps, &org, &fewer, "boss")
            .await
            .expect("fewer")
            .organization;
        assert!(!org.uses_domain("acme.test"));
        assert!(registry
            .organization_by_email_domain(&EmailDomain::parse("acme.test").expect("valid"))
            .await
            .expect("read")
            .is_none());
    }

    /// A record from before proofs were required: an admin's domain claimed at once, its
    /// proof never found. It stays claimed (nobody else can take it meanwhile) but is not
    /// used until its proof is found.
    #[tokio::test]
    async fn a_domain_claimed_before_proofs_counts_only_once_proven() {
        let mut org = sample_org();
        org.email_domains
            .push(EmailDomain::parse("acme-labs.example").expect("valid"));
        org.domain_proofs.push(DomainProof {
            domain: "acme-labs.example".into(),
            token: "legacy".into(),
            verified_at: None,
            by: Default::default(),
        });
        assert!(
            org.uses_domain("acme.example"),
            "no proof record: the operator's"
        );
        assert!(!org.uses_domain("acme-labs.example"));
        assert_eq!(org.pending_domains(), ["acme-labs.example"]);
        let registry = MemoryRegistry::with_org(org.clone());
        let dns = FixedDns(vec![(
            "_signin-challenge.acme-labs.example".into(),
            Some(vec!["signin-verification=legacy".into()]),
        )]);
        let (saved, checks) = verify_email_domains(&registry, &dns, &org, "boss")
            .await
            .expect("checked");
        assert!(checks.iter().all(|c| c.verified));
        assert!(saved.uses_domain("acme-labs.example"));
        assert_eq!(saved.email_domains.len(), 2);
    }

    #[test]
    fn people_write_only_their_names_unless_a_provider_needs_its_mapping() {
        let password_only = client_write_attributes(&["COGNITO".to_owned()]);
        assert_eq!(
            password_only,
            ["given_name", "family_name", "locale", "zoneinfo"]
        );
        for owned in [
            "email",
            "email_verified",
            "preferred_username",
            "name",
            "phone_number",
        ] {
            assert!(!password_only.iter().any(|a| a == owned), "{owned}");
        }
        let with_microsoft =
            client_write_attributes(&["COGNITO".to_owned(), "Microsoft".to_owned()]);
        assert!(with_microsoft.iter().any(|a| a == "email"));
        assert!(!with_microsoft.iter().any(|a| a == "preferred_username"));
        // Every attribute a provider's mapping writes is writable when it is offered
        // (Cognito refuses the federated sign-in otherwise).
        for provider in Provider::ALL {
            let setup = ProviderSetup {
                tenant: Some(TENANT.into()),
                client_id: GUID.into(),
                team_id: Some("TEAM123456".into()),
                key_id: Some("KEY1234567".into()),
                client_secret_updated_at: Some(1),
            };
            let writable = client_write_attributes(&[provider.name().to_owned()]);
            for (attribute, _) in provider_spec(provider, &setup, "s").attribute_mapping {
                if attribute != "username" {
                    assert!(
                        writable.contains(&attribute),
                        "{}: {attribute}",
                        provider.name()
                    );
                }
            }
        }
    }

    #[test]
    fn the_consent_and_redirect_urls() {
        assert_eq!(
            microsoft_admin_consent_url("contoso.onmicrosoft.com", GUID, &idp_redirect_uri("acme-1a2b", "eu-west-1")),
            format!("https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id={GUID}&redirect_uri=https%3A%2F%2Facme-1a2b.auth.eu-west-1.amazoncognito.com%2Foauth2%2Fidpresponse")
        );
    }
}
