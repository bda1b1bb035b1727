//! An organization's settings, changed by its admins (`PATCH /v1/organization`) and by
//! operators (`tenantctl org configure`) through this one function: every field is checked
//! first (a refusal names the field and changes nothing), then the change is applied to the
//! pool and its app client (idempotent: a change that failed half-way is finished by sending
//! it again), then recorded with its audit event in one versioned write.

use std::str::FromStr;

use super::organization::Invitation;
use super::{Error, MfaMode, Organization};
use crate::ports::{AuditEvent, Registry, UserPools};

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
    if s.sso_only && s.providers.is_empty() {
        return Err(invalid(
            "sso_only",
            "true",
            "single sign-on only needs an enabled identity provider: enable one first (tenantctl: --provider NAME; admin API: providers)",
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
    registry: &dyn Registry,
    pools: &dyn UserPools,
    org: &Organization,
    patch: &SettingsPatch,
    actor: &str,
) -> Result<Configured, Error> {
    if patch == &SettingsPatch::default() {
        return Err(invalid(
            "settings change",
            "",
            "name at least one setting to change",
        ));
    }
    let (next, changed) = patched(org, patch)?;
    let pool_id = org.cognito.user_pool_id.clone().ok_or_else(|| {
        Error::not_allowed(
            format!("configure {}", org.subdomain),
            "it is still being provisioned; finish it with `tenantctl org create` first",
        )
    })?;
    let sign_in_touched = patch.self_signup.is_some()
        || patch.sso_only.is_some()
        || patch.admins_keep_password.is_some()
        || patch.providers.is_some();
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
    let audit = AuditEvent::now(
        &org.id,
        actor,
        "org.settings_changed",
        org.subdomain.as_str(),
        Some(changed.join(" ")),
    );
    let organization = registry.save_organization(&next, Some(&audit)).await?;
    Ok(Configured {
        organization,
        missing_providers,
    })
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
        let patch = SettingsPatch {
            mfa: Some("required".into()),
            primary_color: Some(Some("#0B5FFF".into())),
            display_name: Some(Some("  Acme  ".into())),
            app_urls: Some(vec!["https://portal.acme.example/home".into()]),
            jit_enabled: Some(true),
            jit_role: Some(Some("admin".into())),
            invitation: Some("link".into()),
            ..Default::default()
        };
        let done = apply_settings(&registry, &pools, &org, &patch, "boss")
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
        assert_eq!(registry.audit_actions(), ["org.settings_changed"]);
    }

    #[tokio::test]
    async fn bad_input_names_the_field_and_changes_nothing() {
        let org = sample_org();
        let registry = MemoryRegistry::with_org(org.clone());
        let pools = RecordingPools::default();
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
        ];
        for (patch, field) in cases {
            let e = apply_settings(&registry, &pools, &org, &patch, "boss")
                .await
                .expect_err("refused");
            assert!(
                e.to_string().to_lowercase().contains(&field.to_lowercase()),
                "{field}: {e}"
            );
        }
        assert!(pools.calls().is_empty());
        assert!(registry.audit_actions().is_empty());
        assert_eq!(registry.org(&org.id), Some(org));
    }
}
