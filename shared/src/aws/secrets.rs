//! Secrets Manager: the identity providers' client secrets of the organizations.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_secretsmanager::Client;

use super::Endpoint;
use crate::domain::ports::Secrets;
use crate::domain::Error;

pub struct SecretsManager {
    client: Client,
    endpoint: Endpoint,
}

impl SecretsManager {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: Client::new(config),
            endpoint: Endpoint::of("Secrets Manager", config),
        }
    }
}

#[async_trait]
impl Secrets for SecretsManager {
    async fn put_secret(&self, name: &str, value: &str) -> Result<(), Error> {
        let updated = self
            .client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                self.client
                    .create_secret()
                    .name(name)
                    .secret_string(value)
                    .description(
                        "An identity provider's client secret of one organization (signin suite)",
                    )
                    .send()
                    .await
                    .map_err(|e| self.endpoint.error("CreateSecret", e))?;
                Ok(())
            }
            Err(e) => Err(self.endpoint.error("PutSecretValue", e)),
        }
    }

    async fn get_secret(&self, name: &str) -> Result<Option<String>, Error> {
        match self.client.get_secret_value().secret_id(name).send().await {
            Ok(out) => Ok(out.secret_string().map(str::to_owned)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.endpoint.error("GetSecretValue", e)),
        }
    }

    async fn delete_secret(&self, name: &str) -> Result<(), Error> {
        match self
            .client
            .delete_secret()
            .secret_id(name)
            // Removing a provider takes its secret away at once.
            .force_delete_without_recovery(true)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(self.endpoint.error("DeleteSecret", e)),
        }
    }
}

/// [`SecretsManager`] built at its first use: most requests of a function never touch a
/// secret, and an SDK client's construction is a noticeable part of a cold start.
pub struct LazySecretsManager {
    config: SdkConfig,
    inner: std::sync::OnceLock<SecretsManager>,
}

impl LazySecretsManager {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            config: config.clone(),
            inner: std::sync::OnceLock::new(),
        }
    }

    fn get(&self) -> &SecretsManager {
        self.inner.get_or_init(|| SecretsManager::new(&self.config))
    }
}

#[async_trait]
impl Secrets for LazySecretsManager {
    async fn put_secret(&self, name: &str, value: &str) -> Result<(), Error> {
        self.get().put_secret(name, value).await
    }
    async fn get_secret(&self, name: &str) -> Result<Option<String>, Error> {
        self.get().get_secret(name).await
    }
    async fn delete_secret(&self, name: &str) -> Result<(), Error> {
        self.get().delete_secret(name).await
    }
}
