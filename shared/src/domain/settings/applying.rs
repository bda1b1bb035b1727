//! Applying a checked settings change: to the pool and its app client (idempotent), then
//! recorded with its audit event in one versioned write.

use super::checking::{invalid, patched};
use super::providers::{provider_spec, secret_name};
use super::{Configured, SettingsDeps, SettingsPatch};
use crate::domain::organization::Provider;
use crate::domain::ports::AuditEvent;
use crate::domain::{EmailDomain, Error, Organization};

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
    marking.sign_in.pending_change = Some(crate::domain::organization::PendingChange {
        changes: changed.clone(),
        actor: actor.to_owned(),
        since: crate::domain::now_epoch(),
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
    // The SAML connections: each checked above, now its pool identity provider.
    for (name, input) in &patch.saml {
        let provider = crate::domain::saml::provider_name(name.trim());
        match input {
            None => pools.delete_identity_provider(&pool_id, &provider).await?,
            Some(given) => {
                let Some(connection) = next
                    .sign_in
                    .sso
                    .saml
                    .iter()
                    .find(|c| c.provider_name() == provider)
                else {
                    continue;
                };
                let (details, attribute_mapping) = crate::domain::saml::provider_details(
                    connection,
                    given.metadata_xml.as_deref().unwrap_or_default(),
                );
                let spec = crate::domain::ports::IdentityProviderSpec {
                    name: provider,
                    provider_type: "SAML".into(),
                    details,
                    attribute_mapping,
                };
                pools.ensure_identity_provider(&pool_id, &spec).await?;
            }
        }
    }
    let sign_in_touched = !patch.saml.is_empty()
        || patch.self_signup.is_some()
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

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;
    use crate::domain::organization::Invitation;
    use crate::domain::MfaMode;
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

    fn saml_input(xml: String) -> crate::domain::saml::SamlInput {
        crate::domain::saml::SamlInput {
            metadata_xml: Some(xml),
            metadata_url: None,
            preset: Some("okta".into()),
            email_claim: None,
            given_name_claim: None,
            family_name_claim: None,
            groups_claim: None,
            sign_requests: false,
            encrypted_assertions: false,
            idp_initiated: false,
        }
    }

    #[tokio::test]
    async fn a_saml_connection_is_checked_then_made_in_the_pool_and_offered() {
        use crate::domain::saml::fixtures::{okta, EXPIRED_CERT, GOOD_CERT};
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
        // Bad metadata: refused before anything touches the pool.
        let mut bad = SettingsPatch::default();
        bad.saml
            .insert("okta".into(), Some(saml_input("<x/>".into())));
        assert!(apply_settings(&deps, &org, &bad, "boss").await.is_err());
        let mut expired = SettingsPatch::default();
        expired
            .saml
            .insert("okta".into(), Some(saml_input(okta(EXPIRED_CERT))));
        assert!(apply_settings(&deps, &org, &expired, "boss").await.is_err());
        assert!(pools.calls().is_empty(), "{:?}", pools.calls());

        let mut patch = SettingsPatch::default();
        patch
            .saml
            .insert("okta".into(), Some(saml_input(okta(GOOD_CERT))));
        let done = apply_settings(&deps, &org, &patch, "boss")
            .await
            .expect("applied");
        let o = &done.organization;
        assert_eq!(o.sign_in.sso.saml.len(), 1);
        assert_eq!(
            o.sign_in.sso.saml[0].entity_id,
            "http://www.okta.com/exk1fcia6d6EMsf331d8"
        );
        assert!(o.sign_in.providers.contains(&"saml-okta".to_owned()));
        let calls = pools.calls();
        let made = calls
            .iter()
            .position(|c| c == "ensure_identity_provider eu-west-1_AcmePool1 saml-okta SAML")
            .expect("the pool's SAML provider");
        let offered = calls
            .iter()
            .position(|c| c.starts_with("apply_sign_in") && c.contains("saml-okta"))
            .unwrap_or_else(|| panic!("the app client offers it: {calls:?}"));
        assert!(
            made < offered,
            "the provider exists before the client names it: {calls:?}"
        );

        let mut remove = SettingsPatch::default();
        remove.saml.insert("okta".into(), None);
        let done = apply_settings(&deps, o, &remove, "boss")
            .await
            .expect("removed");
        assert!(done.organization.sign_in.sso.saml.is_empty());
        assert!(!done
            .organization
            .sign_in
            .providers
            .contains(&"saml-okta".to_owned()));
        assert!(pools
            .calls()
            .contains(&"delete_identity_provider eu-west-1_AcmePool1 saml-okta".to_owned()));
    }
}
