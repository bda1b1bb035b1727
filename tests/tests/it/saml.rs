//! A SAML connection set up through the organization's settings against moto's Cognito: the
//! pool gets the SAML identity provider from the checked metadata, and the app client offers
//! it; removed, both go.

use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use integration_tests::{prepared_adapters, provisioned, LocalAws};
use shared::aws::cognito::CognitoPools;
use shared::domain::saml::fixtures::{okta, GOOD_CERT};
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
            metadata_xml: Some(okta(GOOD_CERT)),
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
