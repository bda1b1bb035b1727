//! The worker's event in, a domain call, its result out. Step Functions (and operators, with
//! `cargo lambda invoke`) send one action per event.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};
use shared::domain::provisioning::{ProvisionRequest, Provisioned, Step};
use shared::domain::Error;

use shared::domain::migration_job::{
    migrate_organization, Counters, MigrationDeps, OrgPhase, WORKER_MARGIN,
};
use shared::domain::ports::MigrationStore;
use shared::rate::Paced;

use crate::wiring::ProvisioningDeps;

/// What the worker is asked to do.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum WorkerEvent {
    /// Create an organization with its own user pool, or finish one a previous run left.
    CreateOrganization { organization: ProvisionRequest },
    /// Migrate one organization of a staged job (`tenantctl migrate run --stage-only`), or
    /// carry it on from its checkpoint: the item processor of the migration state machine.
    /// `organization` is its legacy id, or the legacy organization record (a manifest item)
    /// whose `id` is used.
    MigrateOrganization {
        job: String,
        organization: LegacyOrgRef,
    },
}

/// A legacy organization as the state machine's items name it.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum LegacyOrgRef {
    Id(String),
    Number(serde_json::Number),
    Record { id: serde_json::Value },
}

impl LegacyOrgRef {
    pub fn id(&self) -> String {
        match self {
            LegacyOrgRef::Id(s) => s.clone(),
            LegacyOrgRef::Number(n) => n.to_string(),
            LegacyOrgRef::Record { id } => match id {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        }
    }
}

/// The answer to `migrate_organization`: `finished` false when the worker must be called
/// again with the same event (its time ran out; the checkpoint says where it stopped).
#[derive(Debug, Serialize)]
pub struct OrganizationMigrated {
    pub job: String,
    pub organization: String,
    pub subdomain: String,
    pub phase: OrgPhase,
    pub finished: bool,
    pub people_total: u64,
    pub people_done: u64,
    pub people_failed: u64,
    pub logins_created: u64,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum WorkerResult {
    Provisioned(Box<Provisioned>),
    Migrated(OrganizationMigrated),
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
        WorkerEvent::MigrateOrganization { job, organization } => {
            let legacy_id = organization.id();
            let actor = format!("tenant-migration:{request_id}");
            // Stop in time for the last checkpoint and the answer: a quarter of the time
            // left, at most WORKER_MARGIN.
            let left = event
                .context
                .deadline()
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default();
            let deadline = tokio::time::Instant::now() + left - (left / 4).min(WORKER_MARGIN);
            let migrated = migrate(deps, &job, &legacy_id, &actor, deadline)
                .await
                .map_err(|e| {
                    tracing::error!(job = %job, organization = %legacy_id, error = %e, code = e.code(), "migration of the organization stopped");
                    WorkerError(e)
                })?;
            Ok(WorkerResult::Migrated(migrated))
        }
    }
}

/// One organization of a staged job, until done or `deadline`.
pub async fn migrate(
    deps: &ProvisioningDeps,
    job_id: &str,
    legacy_id: &str,
    actor: &str,
    deadline: tokio::time::Instant,
) -> Result<OrganizationMigrated, Error> {
    let job = deps
        .registry
        .job(job_id)
        .await?
        .ok_or_else(|| Error::NotFound {
            what: "migration job",
            key: job_id.to_owned(),
        })?;
    if !job.staged {
        return Err(Error::not_allowed(
            format!("migrate organization {legacy_id} of job {job_id}"),
            "the job's people are not staged yet: run `tenantctl migrate run --stage-only` first",
        ));
    }
    let paced = Paced {
        inner: &deps.migration_pools,
        limits: &deps.limits,
    };
    let m = MigrationDeps::over(&deps.registry, &paced, &deps.mailer, &deps.config, actor);
    let counters = Counters::default();
    // Another run holds the organization: most often an invocation that died (timed out,
    // killed) whose lease runs out within a minute, since a retry cannot prove it dead. It is
    // waited out here while this invocation has the time, rather than failing the map's
    // item (whose retries are few and may come back before the lease has run out).
    let mut waits = 0;
    let result = loop {
        match migrate_organization(&m, &job, legacy_id, Some(deadline), &counters).await {
            Err(e @ Error::InProgress { .. }) => {
                let wait = match deps.registry.checkpoint(&job.id, legacy_id).await? {
                    Some(cp) => (cp.lease_until - shared::domain::now_epoch()).clamp(1, 65) + 1,
                    None => 5,
                };
                let wait = std::time::Duration::from_secs(wait as u64);
                waits += 1;
                if waits > 10 || tokio::time::Instant::now() + wait >= deadline {
                    return Err(e);
                }
                tracing::info!(job = %job.id, organization = %legacy_id, wait_secs = wait.as_secs(), "another run holds the organization: waiting for its lease to run out");
                tokio::time::sleep(wait).await;
            }
            other => break other?,
        }
    };
    let cp = result.checkpoint;
    Ok(OrganizationMigrated {
        job: job.id,
        organization: cp.legacy_id,
        subdomain: cp.organization.subdomain,
        phase: cp.phase,
        finished: result.finished,
        people_total: cp.people_total,
        people_done: cp.people_done,
        people_failed: cp.people_failed,
        logins_created: cp.logins_created,
    })
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
            match event {
                WorkerEvent::CreateOrganization { organization } => {
                    organization
                        .validate()
                        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                }
                WorkerEvent::MigrateOrganization { job, organization } => {
                    assert!(!job.is_empty(), "{}", path.display());
                    assert!(!organization.id().is_empty(), "{}", path.display());
                }
            }
            seen += 1;
        }
        assert!(seen > 0, "no sample events in {dir}");
    }

    #[test]
    fn a_migration_item_names_its_organization_by_id_or_record() {
        let by_record: WorkerEvent = serde_json::from_str(
            r#"{"action":"migrate_organization","job":"j1","organization":{"id":17,"name":"Acme","subdomain":"acme"}}"#,
        )
        .expect("a manifest item");
        let by_id: WorkerEvent = serde_json::from_str(
            r#"{"action":"migrate_organization","job":"j1","organization":"17"}"#,
        )
        .expect("an id");
        for e in [by_record, by_id] {
            match e {
                WorkerEvent::MigrateOrganization { organization, .. } => {
                    assert_eq!(organization.id(), "17")
                }
                other => panic!("{other:?}"),
            }
        }
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
