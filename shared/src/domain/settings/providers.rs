//! The identity provider table: each provider's names, URLs, secret, attribute mapping and
//! pool identity provider, and the attributes an app client lets people write.

use crate::domain::organization::{Provider, ProviderSetup};
use crate::domain::ports::IdentityProviderSpec;
use crate::domain::Organization;

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
    let saml = offered
        .iter()
        .any(|name| name.starts_with(crate::domain::saml::PROVIDER_PREFIX))
        .then_some(&crate::domain::saml::MAPPED_ATTRIBUTES[..]);
    for mapped in offered
        .iter()
        .filter_map(|name| Provider::named(name))
        .map(mapped_attributes)
        .chain(saml)
    {
        for attribute in mapped {
            if !attributes.iter().any(|a| a == attribute) {
                attributes.push((*attribute).to_owned());
            }
        }
    }
    attributes
}

/// The pool's identity provider for `provider`: its details and attribute mapping (pool
/// attribute <- provider claim), the `username` being the provider's stable subject.
pub(super) fn provider_spec(
    provider: Provider,
    setup: &ProviderSetup,
    secret: &str,
) -> IdentityProviderSpec {
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
    use super::super::fixtures::{GUID, TENANT};
    use super::super::*;
    use super::*;
    use crate::domain::Error;
    use crate::testing::{sample_org, MemoryRegistry, RecordingPools};

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
