//! Building the AWS-backed dependencies once, from the environment.

use aws_config::SdkConfig;
use shared::aws::cognito::CognitoPools;
use shared::aws::dynamodb::DynamoRegistry;
use shared::aws::ses::SesMailer;
use shared::config::{self, ConfigError, ProvisioningConfig, Source};
use shared::domain::provisioning::Provisioning;
use shared::rate::{RateLimits, Rates};

/// `SES_CONFIGURATION_SET`: optional SES configuration set for our mails.
fn configuration_set(src: &dyn Source) -> Option<String> {
    src.get("SES_CONFIGURATION_SET")
}

/// `MIGRATION_MAX_CONCURRENCY`: how many workers migrate at once (the migration map's
/// MaxConcurrency); each takes that share of every Cognito rate. Default 1.
pub fn migration_workers(src: &dyn Source) -> Result<u32, ConfigError> {
    match src.get("MIGRATION_MAX_CONCURRENCY") {
        None => Ok(1),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or(ConfigError::Invalid {
                name: "MIGRATION_MAX_CONCURRENCY",
                reason: "a whole number from 1 to 1000 (the migration map's MaxConcurrency)".into(),
            }),
    }
}

/// The Cognito client of a migration: without the SDK's own retries, so that throttling
/// reaches the rate limiter (which waits it out) instead of failing after three attempts.
pub fn migration_pools(sdk: &aws_config::SdkConfig) -> CognitoPools {
    let config = sdk
        .to_builder()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    CognitoPools::new(&config)
}

/// Everything `org create` and the worker need.
pub struct ProvisioningDeps {
    pub config: ProvisioningConfig,
    pub registry: DynamoRegistry,
    pub pools: CognitoPools,
    pub mailer: SesMailer,
    /// The migration's Cognito client (no SDK retries: throttling goes to `limits`).
    pub migration_pools: CognitoPools,
    /// This worker's share of the Cognito rates.
    pub limits: RateLimits,
}

impl ProvisioningDeps {
    pub fn new(sdk: &SdkConfig, src: &dyn Source) -> Result<Self, ConfigError> {
        let config = ProvisioningConfig::from_env(src)?;
        let workers = migration_workers(src)?;
        Ok(Self {
            migration_pools: migration_pools(sdk),
            limits: RateLimits::new(Rates::default().share(workers)),
            registry: DynamoRegistry::new(sdk, &config.table_name),
            pools: CognitoPools::new(sdk),
            mailer: SesMailer::new(sdk, config.mail_from.clone(), configuration_set(src)),
            config,
        })
    }

    pub fn provisioning<'a>(&'a self, actor: &'a str) -> Provisioning<'a> {
        Provisioning {
            registry: &self.registry,
            pools: &self.pools,
            mailer: &self.mailer,
            base_domain: &self.config.base_domain,
            triggers: &self.config.triggers,
            actor,
        }
    }
}

/// The registry alone, for commands that only read or flip a status.
pub fn registry(sdk: &SdkConfig, src: &dyn Source) -> Result<DynamoRegistry, ConfigError> {
    Ok(DynamoRegistry::new(sdk, config::table_name(src)?))
}

/// The mailer alone, for `setup` (which verifies its identity).
pub fn mailer(sdk: &SdkConfig, src: &dyn Source) -> Result<SesMailer, ConfigError> {
    Ok(SesMailer::new(
        sdk,
        config::mail_from(src)?,
        configuration_set(src),
    ))
}
