//! The AWS-backed dependencies of the router, built once per execution environment.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use shared::auth::oauth::TokenEndpoint;
use shared::auth::{verifier, TokenUse, TokenVerifier};
use shared::aws::cognito::CognitoPools;
use shared::aws::dynamodb::DynamoRegistry;
use shared::cache::OrgCache;
use shared::config::{self, ConfigError, Source};
use shared::domain::attempts::AttemptLimits;
use shared::domain::ports::Registry;

use crate::common::{App, Identify, Identity, Settings};

#[async_trait]
impl Identify for TokenVerifier {
    async fn identify(&self, id_token: &str) -> Result<Identity, String> {
        self.verify(id_token)
            .await
            .map(|v| Identity {
                pool_id: v.pool_id,
                username: v.username,
                nonce: v.nonce,
            })
            .map_err(|r| r.to_string())
    }
}

/// `ROUTER_SCHEME` and `ROUTER_PORT`: how the router's own URLs are written. Production
/// leaves both unset (`https`, no port); a local run on `*.localhost` may use `http` and its
/// port.
pub fn settings(src: &dyn Source, region: String) -> Result<Settings, ConfigError> {
    let base_domain = config::base_domain(src)?;
    let local = base_domain == "localhost" || base_domain.ends_with(".localhost");
    let scheme = match src.get("ROUTER_SCHEME").as_deref() {
        None | Some("https") => "https",
        Some("http") if local => "http",
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "ROUTER_SCHEME",
                reason: format!(
                    "'{other}': https, or http only for a BASE_DOMAIN under .localhost"
                ),
            })
        }
    };
    let port =
        match src.get("ROUTER_PORT") {
            None => None,
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                ConfigError::Invalid {
                    name: "ROUTER_PORT",
                    reason: format!("'{p}' is not a port number"),
                }
            })?),
        };
    Ok(Settings {
        base_domain,
        scheme,
        port,
        region,
        product: src.get("PRODUCT_NAME").unwrap_or_else(|| "Sign in".into()),
    })
}

pub fn app(sdk: &SdkConfig, src: &dyn Source) -> Result<App, ConfigError> {
    let table = Arc::new(DynamoRegistry::new(sdk, config::table_name(src)?));
    let registry: Arc<dyn Registry> = table.clone();
    let region = shared::aws::region(sdk)?;
    // Session cookies hold ID tokens: only those are accepted.
    let identify = verifier(sdk, src, registry.clone())?.accepting(&[TokenUse::Id]);
    Ok(App {
        cognito: Arc::new(CognitoPools::new(sdk)),
        pools: Arc::new(CognitoPools::new(sdk)),
        identify: Arc::new(identify),
        oauth: Arc::new(TokenEndpoint::new().map_err(|reason| ConfigError::Invalid {
            name: "SSL_CERT_FILE",
            reason,
        })?),
        settings: settings(src, region)?,
        orgs: OrgCache::new(config::org_cache_ttl(src)?),
        registry,
        attempts: table.clone(),
        legacy: table,
        limits: AttemptLimits::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Env(HashMap<&'static str, &'static str>);
    impl Source for Env {
        fn get(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| v.to_string())
        }
    }

    #[test]
    fn plain_http_only_for_local_base_domains() {
        let env = |pairs: &[(&'static str, &'static str)]| Env(pairs.iter().copied().collect());
        let s = settings(
            &env(&[("BASE_DOMAIN", "app.example.com")]),
            "eu-west-1".into(),
        )
        .expect("ok");
        assert_eq!((s.scheme, s.port), ("https", None));
        let s = settings(
            &env(&[
                ("BASE_DOMAIN", "app.localhost"),
                ("ROUTER_SCHEME", "http"),
                ("ROUTER_PORT", "9000"),
            ]),
            "eu-west-1".into(),
        )
        .expect("ok");
        assert_eq!((s.scheme, s.port), ("http", Some(9000)));
        let refused = settings(
            &env(&[
                ("BASE_DOMAIN", "app.example.com"),
                ("ROUTER_SCHEME", "http"),
            ]),
            "eu-west-1".into(),
        );
        assert!(matches!(
            refused,
            Err(ConfigError::Invalid {
                name: "ROUTER_SCHEME",
                ..
            })
        ));
        let refused = settings(
            &env(&[("BASE_DOMAIN", "app.localhost"), ("ROUTER_PORT", "http")]),
            "eu-west-1".into(),
        );
        assert!(matches!(
            refused,
            Err(ConfigError::Invalid {
                name: "ROUTER_PORT",
                ..
            })
        ));
        assert!(matches!(
            settings(&env(&[]), "eu-west-1".into()),
            Err(ConfigError::Missing {
                name: "BASE_DOMAIN",
                ..
            })
        ));
    }
}
