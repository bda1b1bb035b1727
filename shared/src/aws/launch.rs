//! The migration state machine's side of a job (infra `migration.ts`): the manifest in the
//! migration bucket, the JSON array of organizations its Distributed Map reads, and the
//! executions of the state machine over it. `tenantctl migrate run --stage-only` writes the
//! manifest; `tenantctl migrate start` writes it afresh and starts an execution.

use aws_config::SdkConfig;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{json, Value};

use super::Endpoint;
use crate::domain::migration_job::{OrgCheckpoint, OrgPhase};
use crate::domain::Error;

/// Where a job's manifest is in the bucket; the state machine's input names it.
pub fn manifest_key(job: &str) -> String {
    format!("jobs/{job}/organizations.json")
}

/// The manifest's items: the organizations a worker still has to migrate (pending, created
/// or stopped by an error), each as its legacy id, name and subdomain (the worker reads the
/// id; the others make the map run readable in the console). Switched, skipped, rolled back
/// and unselected organizations are left out.
pub fn manifest_items(checkpoints: &[OrgCheckpoint]) -> Vec<Value> {
    checkpoints
        .iter()
        .filter(|c| {
            matches!(
                c.phase,
                OrgPhase::Pending | OrgPhase::Provisioned | OrgPhase::Failed
            )
        })
        .map(|c| {
            json!({
                "id": c.legacy_id,
                "name": c.organization.name,
                "subdomain": c.organization.subdomain,
            })
        })
        .collect()
}

/// The state machine's input for a job.
pub fn execution_input(job: &str) -> Value {
    json!({"job": job, "manifest_key": manifest_key(job)})
}

/// Executions of a job are named `<job>--<unix milliseconds>`: at most 64 + 2 + 13 characters,
/// under Step Functions' 80, and a job's executions are found by that prefix. A job id's dots
/// become underscores: Step Functions logs to CloudWatch only executions whose names hold
/// nothing but letters, digits, `-` and `_` (StartExecution reference), and the state machine
/// logs.
fn execution_prefix(job: &str) -> String {
    format!("{}--", job.replace('.', "_"))
}

/// The migration bucket and state machine of a deployment.
pub struct MigrationLauncher {
    s3: aws_sdk_s3::Client,
    sfn: aws_sdk_sfn::Client,
    s3_endpoint: Endpoint,
    sfn_endpoint: Endpoint,
    bucket: String,
}

impl MigrationLauncher {
    pub fn new(config: &SdkConfig, bucket: &str) -> Self {
        let mut s3 = aws_sdk_s3::config::Builder::from(config);
        // A local S3 (AWS_ENDPOINT_URL) serves every bucket on its one host.
        if config.endpoint_url().is_some() {
            s3 = s3.force_path_style(true);
        }
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            sfn: aws_sdk_sfn::Client::new(config),
            s3_endpoint: Endpoint::of("S3", config),
            sfn_endpoint: Endpoint::of("Step Functions", config),
            bucket: bucket.to_owned(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Writes the job's manifest (replacing an earlier one); returns its key.
    pub async fn write_manifest(&self, job: &str, items: &[Value]) -> Result<String, Error> {
        let key = manifest_key(job);
        let body = serde_json::to_vec(items).map_err(|e| Error::Aws {
            service: "S3",
            operation: "PutObject",
            detail: format!("the manifest could not be written as JSON: {e}"),
        })?;
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .body(body.into())
            .send()
            .await
            .map_err(|e| self.s3_endpoint.error("PutObject", e))?;
        Ok(key)
    }

    /// A running execution of the job on `state_machine`, if there is one.
    pub async fn running_execution(
        &self,
        state_machine: &str,
        job: &str,
    ) -> Result<Option<String>, Error> {
        let prefix = execution_prefix(job);
        let mut pages = self
            .sfn
            .list_executions()
            .state_machine_arn(state_machine)
            .status_filter(ExecutionStatus::Running)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.sfn_endpoint.error("ListExecutions", e))?;
            if let Some(found) = page
                .executions()
                .iter()
                .find(|e| e.name().starts_with(&prefix))
            {
                return Ok(Some(found.execution_arn().to_owned()));
            }
        }
        Ok(None)
    }

    /// Starts an execution of `state_machine` over the job's manifest; returns its ARN.
    pub async fn start(&self, state_machine: &str, job: &str) -> Result<String, Error> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let started = self
            .sfn
            .start_execution()
            .state_machine_arn(state_machine)
            .name(format!("{}{now}", execution_prefix(job)))
            .input(execution_input(job).to_string())
            .send()
            .await
            .map_err(|e| self.sfn_endpoint.error("StartExecution", e))?;
        Ok(started.execution_arn().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::migration::LegacyOrganization;

    fn checkpoint(id: &str, phase: OrgPhase) -> OrgCheckpoint {
        let org = LegacyOrganization {
            id: id.to_owned(),
            name: format!("Org {id}"),
            subdomain: format!("org-{id}"),
            email_domains: Vec::new(),
            mfa: None,
            seats: None,
        };
        OrgCheckpoint::new("j1", &org, phase, 3)
    }

    #[test]
    fn the_manifest_lists_the_organizations_still_to_migrate() {
        let all = [
            checkpoint("1", OrgPhase::Pending),
            checkpoint("2", OrgPhase::Provisioned),
            checkpoint("3", OrgPhase::Failed),
            checkpoint("4", OrgPhase::Switched),
            checkpoint("5", OrgPhase::Skipped),
            checkpoint("6", OrgPhase::RolledBack),
            checkpoint("7", OrgPhase::NotSelected),
        ];
        let items = manifest_items(&all);
        let ids: Vec<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        assert_eq!(
            items[0],
            json!({"id": "1", "name": "Org 1", "subdomain": "org-1"})
        );
        assert_eq!(execution_prefix("wave-2.eu_1"), "wave-2_eu_1--");
        assert_eq!(
            execution_input("j1"),
            json!({"job": "j1", "manifest_key": "jobs/j1/organizations.json"})
        );
    }
}
