//! A SAML connection set up through the organization's settings against moto's Cognito: the
//! pool gets the SAML identity provider from the checked metadata, and the app client offers
//! it; removed, both go.

use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use integration_tests::{prepared_adapters, provisioned, tenantctl_json, LocalAws};
use serde_json::json;
use shared::aws::cognito::CognitoPools;
use shared::domain::saml::fixtures::{okta, EXPIRING_CERT, GOOD_CERT};
use shared::domain::saml::SamlInput;
use shared::domain::settings::{apply_settings, SettingsDeps, SettingsPatch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saml_connection_reaches_the_pool_and_its_app_client() {
    let aws = LocalAws::start();
    let sdk = aws.sdk().await;
    let (registry, mailer) = prepared_adapters(&sdk, "signin").await;
    let org = provisioned(&aws, &registry, &mailer, "acme", "app.example.test").await;
    let pools = CognitoPools::new(&sdk);
    let secrets = shared::aws::secrets::SecretsManager::new(&sdk);
    let deps = SettingsDeps {
        registry: &registry,
        pools: &pools,
        secrets: &secrets,
        base_domain: "app.example.test",
    };
    let mut patch = SettingsPatch::default();
    patch.saml.insert(
        "okta".into(),
        Some(SamlInput {
            // Two signing certificates: one valid until 2045, one that expires in January 2027.
            metadata_xml: Some(okta(GOOD_CERT).replace(
                "<md:NameIDFormat>",
                &format!(
                    r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{EXPIRING_CERT}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:NameIDFormat>"#
                ),
            )),
            preset: Some("okta".into()),
            ..SamlInput::default()
        }),
    );
    let done = apply_settings(&deps, &org, &patch, "test")
        .await
        .expect("applied");
    let pool = org.cognito.user_pool_id.clone().expect("pool");
    let client = org.cognito.app_client_id.clone().expect("client");
    let cognito = CognitoClient::new(&sdk);
    let provider = cognito
        .describe_identity_provider()
        .user_pool_id(&pool)
        .provider_name("saml-okta")
        .send()
        .await
        .expect("the SAML provider exists")
        .identity_provider
        .expect("provider");
    assert_eq!(provider.provider_type().map(|t| t.as_str()), Some("SAML"));
    let details = provider.provider_details().expect("details");
    assert!(details
        .get("MetadataFile")
        .is_some_and(|m| m.contains("exk1fcia6d6EMsf331d8")));
    assert_eq!(details.get("IDPInit").map(String::as_str), Some("false"));
    let mapping = provider.attribute_mapping().expect("mapping");
    assert!(mapping.contains_key("email"), "{mapping:?}");
    let offered = cognito
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&client)
        .send()
        .await
        .expect("client")
        .user_pool_client
        .expect("client")
        .supported_identity_providers
        .unwrap_or_default();
    assert!(offered.contains(&"saml-okta".to_owned()), "{offered:?}");

    // The operator's list of certificates to renew: the one of January 2027 (within ten
    // years), never the one of 2045.
    let env = aws.env("signin");
    let soon = tenantctl_json(
        &env,
        &[
            "org",
            "list",
            "--expiring-certificates",
            "--within-days",
            "3650",
        ],
        0,
    );
    let rows = soon.as_array().expect("a list");
    assert_eq!(rows.len(), 1, "{soon}");
    assert_eq!(rows[0]["subdomain"], json!("acme"));
    assert_eq!(rows[0]["connection"], json!("okta"));
    assert!(rows[0]["expires_at"]
        .as_str()
        .is_some_and(|t| t.starts_with("2027-01-20")));
    tenantctl_json(&env, &["org", "list", "--expiring-certificates"], 0);

    let mut remove = SettingsPatch::default();
    remove.saml.insert("okta".into(), None);
    apply_settings(&deps, &done.organization, &remove, "test")
        .await
        .expect("removed");
    let gone = cognito
        .describe_identity_provider()
        .user_pool_id(&pool)
        .provider_name("saml-okta")
        .send()
        .await;
    assert!(gone.is_err(), "the provider is gone");
}
