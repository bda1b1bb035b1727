//! The AWS-backed dependencies of the SCIM function, built once per execution environment.

use std::sync::Arc;

use aws_config::SdkConfig;
use shared::aws::cognito::CognitoPools;
use shared::aws::dynamodb::DynamoRegistry;
use shared::aws::ses::SesMailer;
use shared::config::{self, ConfigError, Source};

use crate::App;

pub fn app(sdk: &SdkConfig, src: &dyn Source) -> Result<App, ConfigError> {
    Ok(App {
        registry: Arc::new(DynamoRegistry::new(sdk, config::table_name(src)?)),
        pools: Arc::new(CognitoPools::new(sdk)),
        mailer: Arc::new(SesMailer::new(
            sdk,
            config::mail_from(src)?,
            src.get("SES_CONFIGURATION_SET"),
        )),
        base_domain: config::base_domain(src)?,
    })
}
