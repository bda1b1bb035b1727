//! What every Cognito trigger function shares: its dependencies (built once per execution
//! environment), the organization lookup by `userPoolId` through a short-lived cache, event
//! parsing that never panics, and errors with a stable `errorType`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use crate::aws::cognito::CognitoPools;
use crate::aws::dynamodb::DynamoRegistry;
use crate::cache::OrgCache;
use crate::config::{self, ConfigError, ProcessEnv, Source};
use crate::domain::signin::Refusal;
use crate::domain::{Error, Organization};
use crate::ports::{Registry, UserPools};

/// How long a trigger keeps an organization (`ORG_CACHE_SECONDS`, default 30).
const DEFAULT_CACHE_SECONDS: u64 = 30;

/// Built once per execution environment; shared by every invocation.
pub struct TriggerDeps {
    pub registry: Arc<dyn Registry>,
    pub pools: Arc<dyn UserPools>,
    pub cache: OrgCache,
    /// Organizations sign in at `<subdomain>.<base_domain>`.
    pub base_domain: String,
}

impl TriggerDeps {
    /// The AWS-backed dependencies, configured from the environment.
    pub fn new(sdk: &SdkConfig, src: &dyn Source) -> Result<Self, ConfigError> {
        let ttl = match src.get("ORG_CACHE_SECONDS") {
            None => DEFAULT_CACHE_SECONDS,
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                name: "ORG_CACHE_SECONDS",
                reason: format!("{v:?} is not a whole number of seconds"),
            })?,
        };
        Ok(Self {
            registry: Arc::new(DynamoRegistry::new(sdk, config::table_name(src)?)),
            pools: Arc::new(CognitoPools::new(sdk)),
            cache: OrgCache::new(Duration::from_secs(ttl)),
            base_domain: config::base_domain(src)?,
        })
    }

    /// Dependencies for unit tests: a registry holding `org`, recorded Cognito calls, and
    /// the two fakes to inspect afterwards.
    #[cfg(any(test, feature = "testing"))]
    pub fn in_memory(
        org: Organization,
    ) -> (
        Self,
        Arc<crate::testing::MemoryRegistry>,
        Arc<crate::testing::RecordingPools>,
    ) {
        let registry = Arc::new(crate::testing::MemoryRegistry::with_org(org));
        let pools = Arc::new(crate::testing::RecordingPools::default());
        let deps = Self {
            registry: registry.clone(),
            pools: pools.clone(),
            cache: OrgCache::new(Duration::from_secs(DEFAULT_CACHE_SECONDS)),
            base_domain: "app.example.com".into(),
        };
        (deps, registry, pools)
    }

    /// The organization that owns the event's pool: from the cache, or one registry read.
    /// An unknown pool is refused (and logged: a pool with our triggers but no record).
    pub async fn organization(&self, pool_id: Option<&str>) -> Result<Organization, TriggerError> {
        let pool_id = pool_id.ok_or_else(|| TriggerError::Malformed {
            expected: "Cognito user pool",
            detail: "it has no userPoolId".into(),
        })?;
        if let Some(org) = self.cache.get(pool_id) {
            return Ok(org);
        }
        match self.registry.organization_by_pool(pool_id).await? {
            Some(org) => {
                self.cache.put(pool_id, org.clone());
                Ok(org)
            }
            None => {
                tracing::error!(
                    pool_id,
                    "a user pool with our triggers belongs to no organization"
                );
                Err(TriggerError::Refused(Refusal::UnknownOrganization))
            }
        }
    }
}

/// Why a trigger said no or could not answer.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// A rule refused: the message is for the person (Cognito shows it to them).
    #[error("{0}")]
    Refused(Refusal),
    /// Not the event this function handles.
    #[error("the event is not a {expected} event: {detail}")]
    Malformed {
        expected: &'static str,
        detail: String,
    },
    /// The registry or Cognito failed; the person gets a plain "try again", the log the
    /// details.
    #[error("Sign-in is not available at the moment: please try again in a minute")]
    Backend(#[from] Error),
}

impl TriggerError {
    pub fn code(&self) -> &'static str {
        match self {
            TriggerError::Refused(refusal) => refusal.code(),
            TriggerError::Malformed { .. } => "MalformedEvent",
            TriggerError::Backend(_) => "BackendUnavailable",
        }
    }
}

impl From<Refusal> for TriggerError {
    fn from(value: Refusal) -> Self {
        TriggerError::Refused(value)
    }
}

impl From<TriggerError> for Diagnostic {
    fn from(value: TriggerError) -> Self {
        Diagnostic {
            error_type: value.code().to_owned(),
            error_message: value.to_string(),
        }
    }
}

/// Reads the event as `T`; a wrong shape is an error, never a panic.
pub fn parse<T: DeserializeOwned>(event: Value, expected: &'static str) -> Result<T, TriggerError> {
    serde_json::from_value(event).map_err(|e| TriggerError::Malformed {
        expected,
        detail: e.to_string(),
    })
}

/// The event's `userName`, lower-cased as our records keep it (every pool's usernames are
/// case-insensitive).
pub fn username(user_name: Option<&str>, expected: &'static str) -> Result<String, TriggerError> {
    user_name
        .filter(|u| !u.is_empty())
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| TriggerError::Malformed {
            expected,
            detail: "it has no userName".into(),
        })
}

/// The answer Cognito gets: the event it sent, with the response filled in.
pub fn answer<T: Serialize>(event: &T) -> Result<Value, TriggerError> {
    serde_json::to_value(event).map_err(|e| TriggerError::Malformed {
        expected: "serializable response",
        detail: e.to_string(),
    })
}

/// Runs a trigger function: tracing, the AWS config and the dependencies once, then every
/// event through `handler`. Refusals are logged as warnings, failures as errors, with the
/// stable code; never a token or password.
pub async fn serve<F, Fut>(function: &'static str, handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(&'static TriggerDeps, Value) -> Fut,
    Fut: Future<Output = Result<Value, TriggerError>> + Send,
{
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = crate::aws::load_config(crate::aws::Budget::Trigger).await?;
    // Lives as long as the execution environment.
    let deps: &'static TriggerDeps = Box::leak(Box::new(TriggerDeps::new(&sdk, &ProcessEnv)?));
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let pool_id = event.payload.get("userPoolId").and_then(Value::as_str).unwrap_or("").to_owned();
        let source = event.payload.get("triggerSource").and_then(Value::as_str).unwrap_or("").to_owned();
        let answer = handler(deps, event.payload);
        async move {
            let result = answer.await;
            match &result {
                Ok(_) => tracing::info!(function, pool_id, source, "answered"),
                Err(TriggerError::Refused(r)) => {
                    tracing::warn!(function, pool_id, source, code = r.code(), "refused")
                }
                Err(TriggerError::Backend(e)) => {
                    tracing::error!(function, pool_id, source, code = e.code(), error = %e, "failed")
                }
                Err(e) => tracing::error!(function, pool_id, source, error = %e, "malformed event"),
            }
            result
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_report_stable_types_and_person_readable_messages() {
        let refused: Diagnostic = TriggerError::Refused(Refusal::Deactivated).into();
        assert_eq!(refused.error_type, "Deactivated");
        assert!(refused
            .error_message
            .starts_with("This account is deactivated"));
        let backend: Diagnostic = TriggerError::Backend(Error::Unreachable {
            service: "DynamoDB",
            endpoint: "http://10.0.0.1".into(),
            detail: "timed out".into(),
        })
        .into();
        assert_eq!(backend.error_type, "BackendUnavailable");
        assert!(
            !backend.error_message.contains("10.0.0.1"),
            "no internals for the person"
        );
    }

    #[test]
    fn a_malformed_event_is_an_error() {
        let err =
            parse::<std::collections::HashMap<String, u8>>(serde_json::json!([1]), "pre sign-up")
                .expect_err("not a map");
        assert_eq!(err.code(), "MalformedEvent");
    }
}
