//! The verifier as the functions build it: pools known from the registry, keys read from
//! Cognito (or the local AWS).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_config::SdkConfig;

use super::{HttpJwks, PoolDirectory, TokenVerifier};
use crate::config::{ConfigError, Source};
use crate::domain::ports::Registry;
use crate::domain::Error;

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

/// The endpoint Cognito's JWKS are read from: a local AWS when one is configured
/// (`AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`, then `AWS_ENDPOINT_URL`), else AWS.
fn jwks_endpoint(src: &dyn Source) -> Option<String> {
    src.get("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER")
        .or_else(|| src.get("AWS_ENDPOINT_URL"))
        .filter(|v| !v.is_empty())
}

/// The verifier of the organizations' tokens in this Region, with the registry as its pool
/// directory.
pub fn verifier(
    sdk: &SdkConfig,
    src: &dyn Source,
    registry: Arc<dyn Registry>,
) -> Result<TokenVerifier, ConfigError> {
    let region = crate::aws::region(sdk)?;
    let jwks = HttpJwks::for_region(&region, jwks_endpoint(src).as_deref()).map_err(|reason| {
        ConfigError::Invalid {
            name: "AWS_ENDPOINT_URL",
            reason,
        }
    })?;
    Ok(TokenVerifier::new(
        region,
        Arc::new(RegistryPools::new(registry)),
        Arc::new(jwks),
    ))
}
