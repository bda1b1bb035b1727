//! The AWS adapters: the one config loader, and the DynamoDB, Cognito and SES implementations
//! of the domain's ports.

pub mod calls;
pub mod cognito;
pub mod dynamodb;
pub mod https;
#[cfg(feature = "launch")]
pub mod launch;
pub mod migration;
pub mod secrets;
pub mod ses;
pub mod signin;

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::config::ConfigError;
use crate::domain::Error;

/// How long AWS calls may take: an operator command can wait; a trigger must answer Cognito
/// within 5 s, so its calls give up well before that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Operator,
    Trigger,
}

/// Loads the AWS configuration once per process: the standard chain (environment, profile,
/// role), which honours `AWS_ENDPOINT_URL` (and the per-service `AWS_ENDPOINT_URL_<SERVICE>`)
/// for the local stack, and the suite's one HTTPS client ([`https`]). Timeouts keep an
/// unreachable endpoint from hanging a trigger or a command. With `AWS_CALL_LOG` set, every
/// request is also written to that file ([`calls`]), for the test of the IAM roles.
pub async fn load_config(budget: Budget) -> Result<SdkConfig, ConfigError> {
    let timeouts = match budget {
        Budget::Operator => aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(10))
            .build(),
        Budget::Trigger => aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_millis(500))
            .operation_attempt_timeout(Duration::from_millis(1500))
            .operation_timeout(Duration::from_secs(3))
            .build(),
    };
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(calls::recording_if_asked(https::sdk_client()?))
        .timeout_config(timeouts)
        .load()
        .await;
    if config.region().is_none() {
        return Err(ConfigError::Missing {
            name: "AWS_REGION",
            purpose: "the AWS Region of the suite, such as eu-west-1",
        });
    }
    Ok(config)
}

/// The Region of a loaded configuration ([`load_config`] refuses one without).
pub fn region(config: &SdkConfig) -> Result<String, ConfigError> {
    config
        .region()
        .map(|r| r.to_string())
        .ok_or(ConfigError::Missing {
            name: "AWS_REGION",
            purpose: "the AWS Region of the suite, such as eu-west-1",
        })
}

/// Which service an adapter talks to and where, so that errors can name the endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    service: &'static str,
    url: String,
}

impl Endpoint {
    pub(crate) fn of(service: &'static str, config: &SdkConfig) -> Self {
        let url = config.endpoint_url().map(str::to_owned).unwrap_or_else(|| {
            let region = config.region().map(|r| r.to_string()).unwrap_or_default();
            format!("the public {service} endpoint of {region}")
        });
        Self { service, url }
    }

    /// Turns an SDK error into the domain's: unreachable endpoints name the endpoint, service
    /// errors keep AWS's code and message (which carry no secrets of ours).
    pub(crate) fn error<E, R>(&self, operation: &'static str, err: SdkError<E, R>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let unreachable = |detail: &str| Error::Unreachable {
            service: self.service,
            endpoint: self.url.clone(),
            detail: detail.to_owned(),
        };
        match &err {
            SdkError::DispatchFailure(failure) if failure.is_timeout() => {
                unreachable("the connection timed out")
            }
            SdkError::DispatchFailure(failure) if failure.is_io() => {
                unreachable("the connection failed")
            }
            SdkError::DispatchFailure(_) => unreachable("the request could not be sent"),
            SdkError::TimeoutError(_) => unreachable("no answer in time"),
            SdkError::ServiceError(service) => {
                let e = service.err();
                Error::Aws {
                    service: self.service,
                    operation,
                    detail: format!(
                        "{}: {}",
                        e.code().unwrap_or("unknown error"),
                        e.message().unwrap_or("no message")
                    ),
                }
            }
            _ => Error::Aws {
                service: self.service,
                operation,
                detail: aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
            },
        }
    }
}

/// A real SDK configuration whose HTTP layer answers from a script, to see what an adapter
/// sends and how it takes AWS's answers, including ones the local AWS cannot produce
/// (quotas, cancellation reasons, lost answers).
#[cfg(test)]
pub(crate) fn scripted(
    uri: &str,
    answers: Vec<(u16, String)>,
) -> (
    SdkConfig,
    aws_smithy_http_client::test_util::StaticReplayClient,
) {
    use aws_config::Region;
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_types::body::SdkBody;
    let events = answers
        .into_iter()
        .map(|(status, body)| {
            ReplayEvent::new(
                http::Request::builder()
                    .uri(uri)
                    .body(SdkBody::empty())
                    .expect("request"),
                http::Response::builder()
                    .status(status)
                    .body(SdkBody::from(body))
                    .expect("response"),
            )
        })
        .collect();
    let http = StaticReplayClient::new(events);
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::for_tests(),
        ))
        .http_client(http.clone())
        .build();
    (sdk, http)
}
