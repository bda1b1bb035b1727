//! The worker's event in, a domain call, its result out. Step Functions (and operators, with
//! `cargo lambda invoke`) send one action per event.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};
use shared::domain::provisioning::{ProvisionRequest, Provisioned, Step};
use shared::domain::Error;

use crate::wiring::ProvisioningDeps;

/// What the worker is asked to do.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum WorkerEvent {
    /// Create an organization with its own user pool, or finish one a previous run left.
    CreateOrganization { organization: ProvisionRequest },
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum WorkerResult {
    Provisioned(Box<Provisioned>),
}

/// An error the runtime reports with a stable `errorType` (the domain error's code).
#[derive(Debug)]
pub struct WorkerError(pub Error);

impl From<WorkerError> for Diagnostic {
    fn from(value: WorkerError) -> Self {
        Diagnostic {
            error_type: value.0.code().to_owned(),
            error_message: value.0.to_string(),
        }
    }
}

pub async fn handle(
    deps: &ProvisioningDeps,
    event: LambdaEvent<WorkerEvent>,
) -> Result<WorkerResult, WorkerError> {
    let request_id = event.context.request_id.clone();
    match event.payload {
        WorkerEvent::CreateOrganization { organization } => {
            let actor = format!("tenant-migration:{request_id}");
            let log_step = |step: &Step| tracing::info!(subdomain = %organization.subdomain, %step, "provisioning");
            let provisioned = deps
                .provisioning(&actor)
                .provision(&organization, &log_step)
                .await
                .map_err(|e| {
                    tracing::error!(subdomain = %organization.subdomain, error = %e, code = e.code(), "provisioning failed");
                    WorkerError(e)
                })?;
            Ok(WorkerResult::Provisioned(Box::new(provisioned)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_events_parse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/tenant-migration");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).expect("events folder") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("readable");
            let event: WorkerEvent =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let WorkerEvent::CreateOrganization { organization } = event;
            organization
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            seen += 1;
        }
        assert!(seen > 0, "no sample events in {dir}");
    }

    #[test]
    fn unknown_actions_are_refused() {
        let err = serde_json::from_str::<WorkerEvent>(r#"{"action":"drop_everything"}"#)
            .expect_err("unknown");
        assert!(err.to_string().contains("drop_everything"), "{err}");
    }

    #[test]
    fn errors_keep_their_code() {
        let d: Diagnostic = WorkerError(Error::SubdomainTaken {
            subdomain: "acme".into(),
        })
        .into();
        assert_eq!(d.error_type, "SubdomainTaken");
        assert!(d.error_message.contains("acme"));
    }
}
