//! The AWS-backed dependencies of the admin API, built once per execution environment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_config::SdkConfig;
use shared::auth::{HttpJwks, PoolDirectory, TokenVerifier};
use shared::aws::cognito::CognitoPools;
use shared::aws::dynamodb::DynamoRegistry;
use shared::aws::ses::SesMailer;
use shared::config::{self, ConfigError, Source};
use shared::domain::Error;
use shared::ports::Registry;

use crate::app::{App, Authenticate, NotAccepted, TokenSubject};

/// A pool's app client, from the registry, kept once read (it never changes for a pool).
pub struct RegistryPools {
    registry: Arc<dyn Registry>,
    clients: Mutex<HashMap<String, String>>,
}

impl RegistryPools {
    pub fn new(registry: Arc<dyn Registry>) -> Self {
        Self {
            registry,
            clients: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl PoolDirectory for RegistryPools {
    async fn app_client(&self, pool_id: &str) -> Result<Option<String>, Error> {
        if let Some(client) = self
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(pool_id)
        {
            return Ok(Some(client.clone()));
        }
        let client = self
            .registry
            .organization_by_pool(pool_id)
            .await?
            .and_then(|org| org.cognito.app_client_id);
        if let Some(c) = &client {
            self.clients
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(pool_id.to_owned(), c.clone());
        }
        Ok(client)
    }
}

#[async_trait]
impl Authenticate for TokenVerifier {
    async fn authenticate(&self, token: &str) -> Result<TokenSubject, NotAccepted> {
        self.verify(token)
            .await
            .map(|v| TokenSubject {
                pool_id: v.pool_id,
                username: v.username,
            })
            .map_err(|r| NotAccepted {
                reason: r.to_string(),
                outage: r.is_outage(),
            })
    }
}

/// The endpoint Cognito's JWKS are read from: a local AWS when one is configured
/// (`AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`, then `AWS_ENDPOINT_URL`), else AWS.
fn jwks_endpoint(src: &dyn Source) -> Option<String> {
    src.get("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER")
        .or_else(|| src.get("AWS_ENDPOINT_URL"))
        .filter(|v| !v.is_empty())
}

pub fn app(sdk: &SdkConfig, src: &dyn Source) -> Result<App, ConfigError> {
    let registry: Arc<dyn Registry> = Arc::new(DynamoRegistry::new(sdk, config::table_name(src)?));
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .ok_or(ConfigError::Missing {
            name: "AWS_REGION",
            purpose: "the AWS Region of the suite, such as eu-west-1",
        })?;
    let jwks = HttpJwks::for_region(&region, jwks_endpoint(src).as_deref()).map_err(|reason| {
        ConfigError::Invalid {
            name: "AWS_ENDPOINT_URL",
            reason,
        }
    })?;
    let verifier = TokenVerifier::new(
        region,
        Arc::new(RegistryPools::new(registry.clone())),
        Arc::new(jwks),
    );
    Ok(App {
        pools: Arc::new(CognitoPools::new(sdk)),
        mailer: Arc::new(SesMailer::new(
            sdk,
            config::mail_from(src)?,
            src.get("SES_CONFIGURATION_SET"),
        )),
        auth: Arc::new(verifier),
        base_domain: config::base_domain(src)?,
        registry,
    })
}
