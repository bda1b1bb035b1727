//! The AWS-backed dependencies of the admin API, built once per execution environment.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use shared::auth::{verifier, TokenVerifier};
use shared::aws::cognito::CognitoPools;
use shared::aws::dynamodb::DynamoRegistry;
use shared::aws::ses::SesMailer;
use shared::config::{self, ConfigError, Source};
use shared::domain::ports::Registry;

use crate::context::{App, Authenticate, NotAccepted, TokenSubject};

#[async_trait]
impl Authenticate for TokenVerifier {
    async fn authenticate(&self, token: &str) -> Result<TokenSubject, NotAccepted> {
        self.verify(token)
            .await
            .map(|v| TokenSubject {
                pool_id: v.pool_id,
                username: v.username,
                signed_in_at: v.auth_time,
            })
            .map_err(|r| NotAccepted {
                reason: r.to_string(),
                outage: r.is_outage(),
            })
    }
}

pub fn app(sdk: &SdkConfig, src: &dyn Source) -> Result<App, ConfigError> {
    let registry: Arc<dyn Registry> = Arc::new(DynamoRegistry::new(sdk, config::table_name(src)?));
    let verifier = verifier(sdk, src, registry.clone())?;
    Ok(App {
        pools: Arc::new(CognitoPools::new(sdk)),
        mailer: Arc::new(SesMailer::new(
            sdk,
            config::mail_from(src)?,
            src.get("SES_CONFIGURATION_SET"),
        )),
        auth: Arc::new(verifier),
        // Built at the first settings change, not at start-up.
        secrets: Arc::new(shared::aws::secrets::LazySecretsManager::new(sdk)),
        dns: Arc::new(shared::dns::Dns::from_env(src)?),
        base_domain: config::base_domain(src)?,
        region: shared::aws::region(sdk)?,
        registry,
    })
}
