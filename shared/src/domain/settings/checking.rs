//! Checking a settings change: every field of the patch, a refusal naming the field and
//! changing nothing, and the organization as the patch would leave it.

use std::str::FromStr;

use super::providers::MICROSOFT;
use super::{
    ProviderInput, SettingsPatch, MAX_APP_URLS, MAX_DISPLAY_NAME, MAX_EMAIL_DOMAINS,
    MAX_GROUP_ROLES,
};
use crate::domain::organization::{DomainProof, Invitation, Provider, ProviderSetup};
use crate::domain::{EmailDomain, Error, MfaMode, Organization};

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub(super) fn invalid(what: &'static str, value: impl Into<String>, rule: &'static str) -> Error {
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
pub(super) fn patched(
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
    if let Some(map) = &patch.scim_group_roles {
        if map.len() > MAX_GROUP_ROLES {
            return Err(invalid(
                "scim.group_roles",
                map.len().to_string(),
                "at most 100 groups",
            ));
        }
        let mut checked = std::collections::BTreeMap::new();
        for (group, role) in map {
            let group = group.trim();
            if group.is_empty()
                || group.chars().count() > 256
                || group.chars().any(char::is_control)
            {
                return Err(invalid(
                    "scim.group_roles",
                    group.chars().take(64).collect::<String>(),
                    "a group is named by its display name or id: 1 to 256 printable characters",
                ));
            }
            checked.insert(group.to_owned(), org.role(role)?.as_str().to_owned());
        }
        s.scim_group_roles = checked;
        changed.push(format!("scim.group_roles={}", s.scim_group_roles.len()));
    }
    if let Some(role) = &patch.scim_default_role {
        s.scim_default_role = match role {
            Some(r) => Some(org.role(r)?.as_str().to_owned()),
            None => None,
        };
        changed.push(format!(
            "scim.default_role={}",
            s.scim_default_role.as_deref().unwrap_or("member")
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
    saml_connections(s, patch, &mut changed)?;
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
        let now = crate::domain::now_epoch();
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

/// The SAML connections the patch adds, changes or removes (`sso.saml.<name>`), each
/// checked with its metadata before anything touches the pool; each enabled as the provider
/// `saml-<name>`.
fn saml_connections(
    s: &mut crate::domain::SignInSettings,
    patch: &SettingsPatch,
    changed: &mut Vec<String>,
) -> Result<(), Error> {
    use crate::domain::saml;
    let now = crate::domain::now_epoch();
    for (name, input) in &patch.saml {
        let name = saml::check_name(name)?;
        let provider = saml::provider_name(&name);
        match input {
            None => {
                s.sso.saml.retain(|c| c.name != name);
                s.providers.retain(|p| *p != provider);
                changed.push(format!("sso.saml.{name}=removed"));
            }
            Some(given) => {
                let connection = saml::checked_connection(&name, given, now)?;
                match s.sso.saml.iter_mut().find(|c| c.name == name) {
                    Some(stored) => *stored = connection,
                    None => s.sso.saml.push(connection),
                }
                if !s.providers.contains(&provider) {
                    s.providers.push(provider);
                }
                changed.push(format!("sso.saml.{name}"));
            }
        }
    }
    if s.sso.saml.len() > saml::MAX_CONNECTIONS {
        return Err(invalid(
            "sso.saml",
            s.sso.saml.len().to_string(),
            "at most 10 SAML connections",
        ));
    }
    Ok(())
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
        Some(crate::domain::now_epoch())
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::GUID;
    use super::super::*;
    use super::*;
    use crate::testing::{sample_org, MemoryRegistry, RecordingPools};

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
}
