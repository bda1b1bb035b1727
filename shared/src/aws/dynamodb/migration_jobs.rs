//! Migration jobs and what they track: the job, a checkpoint per organization, staged people
//! (TTL), skipped records and failed people, all under `JOB#<job>`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{from_item, key, n, s, to_item, DynamoRegistry};
use crate::domain::migration_job::{
    MigrationJob, OrgCheckpoint, PersonFailure, SkippedRecord, StagedPerson,
};
use crate::domain::ports::Page;
use crate::domain::{now_epoch, Error};

/// Staged people carry legacy password hashes: DynamoDB removes them 30 days after staging.
const STAGED_RETENTION_SECS: i64 = 30 * 24 * 3600;

fn job_pk(job: &str) -> String {
    format!("JOB#{job}")
}

fn staged_pk(job: &str, legacy_id: &str) -> String {
    format!("JOB#{job}#ORG#{legacy_id}")
}

#[derive(Serialize, Deserialize)]
struct JobItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    job: MigrationJob,
}

#[derive(Serialize, Deserialize)]
struct CheckpointItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    checkpoint: OrgCheckpoint,
}

#[derive(Serialize, Deserialize)]
struct StagedItem {
    pk: String,
    sk: String,
    expires_at: i64,
    #[serde(flatten)]
    person: StagedPerson,
}

#[derive(Serialize, Deserialize)]
struct SkippedItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    record: SkippedRecord,
}

#[derive(Serialize, Deserialize)]
struct FailureItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    failure: PersonFailure,
}

#[async_trait]
impl crate::domain::ports::MigrationStore for DynamoRegistry {
    async fn create_job(&self, job: &MigrationJob) -> Result<Option<MigrationJob>, Error> {
        let item = to_item(&JobItem {
            pk: job_pk(&job.id),
            sk: "JOB".into(),
            job: job.clone(),
        })?;
        if self
            .put_plain(item, Some(("attribute_not_exists(pk)", None)))
            .await?
        {
            Ok(None)
        } else {
            self.job(&job.id).await
        }
    }

    async fn job(&self, id: &str) -> Result<Option<MigrationJob>, Error> {
        Ok(self.get::<JobItem>(job_pk(id), "JOB").await?.map(|i| i.job))
    }

    async fn save_job(&self, job: &MigrationJob) -> Result<(), Error> {
        let item = to_item(&JobItem {
            pk: job_pk(&job.id),
            sk: "JOB".into(),
            job: job.clone(),
        })?;
        self.put_plain(item, None).await.map(|_| ())
    }

    async fn create_checkpoint(&self, checkpoint: &OrgCheckpoint) -> Result<OrgCheckpoint, Error> {
        let mut first = checkpoint.clone();
        first.version = 1;
        let item = to_item(&CheckpointItem {
            pk: job_pk(&first.job),
            sk: format!("ORG#{}", first.legacy_id),
            checkpoint: first.clone(),
        })?;
        if self
            .put_plain(item, Some(("attribute_not_exists(pk)", None)))
            .await?
        {
            return Ok(first);
        }
        self.checkpoint(&first.job, &first.legacy_id)
            .await?
            .ok_or_else(|| Error::Conflict {
                what: "migration checkpoint",
                key: first.legacy_id.clone(),
            })
    }

    async fn checkpoint(&self, job: &str, legacy_id: &str) -> Result<Option<OrgCheckpoint>, Error> {
        Ok(self
            .get::<CheckpointItem>(job_pk(job), &format!("ORG#{legacy_id}"))
            .await?
            .map(|i| i.checkpoint))
    }

    async fn save_checkpoint(&self, checkpoint: &OrgCheckpoint) -> Result<OrgCheckpoint, Error> {
        let mut next = checkpoint.clone();
        next.version = checkpoint.version + 1;
        next.updated_at = now_epoch();
        let item = to_item(&CheckpointItem {
            pk: job_pk(&next.job),
            sk: format!("ORG#{}", next.legacy_id),
            checkpoint: next.clone(),
        })?;
        if self
            .put_plain(
                item,
                Some(("version = :v", Some((":v", n(checkpoint.version))))),
            )
            .await?
        {
            Ok(next)
        } else {
            Err(Error::Conflict {
                what: "migration checkpoint of organization",
                key: checkpoint.legacy_id.clone(),
            })
        }
    }

    async fn checkpoints(&self, job: &str) -> Result<Vec<OrgCheckpoint>, Error> {
        let pk = job_pk(job);
        let items = self
            .query_all(
                || {
                    self.client
                        .query()
                        .table_name(&self.table)
                        .key_condition_expression("pk = :pk AND begins_with(sk, :org)")
                        .expression_attribute_values(":pk", s(&pk))
                        .expression_attribute_values(":org", s("ORG#"))
                        .consistent_read(true)
                },
                None,
            )
            .await?;
        items
            .into_iter()
            .map(|i| from_item::<CheckpointItem>(i).map(|c| c.checkpoint))
            .collect()
    }

    async fn stage_people(
        &self,
        job: &str,
        legacy_id: &str,
        people: &[StagedPerson],
    ) -> Result<(), Error> {
        let expires_at = now_epoch() + STAGED_RETENTION_SECS;
        let items = people
            .iter()
            .map(|p| {
                to_item(&StagedItem {
                    pk: staged_pk(job, legacy_id),
                    sk: format!("PERSON#{}", p.username),
                    expires_at,
                    person: p.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_put(items).await
    }

    async fn staged_people(
        &self,
        job: &str,
        legacy_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StagedPerson>, Error> {
        let cursor = after.map(|u| format!("PERSON#{u}"));
        let (items, _) = self
            .page_of::<StagedItem>(
                staged_pk(job, legacy_id),
                "PERSON#",
                cursor.as_deref(),
                limit,
            )
            .await?;
        Ok(items.into_iter().map(|i| i.person).collect())
    }

    async fn record_skipped(&self, job: &str, records: &[SkippedRecord]) -> Result<(), Error> {
        let items = records
            .iter()
            .map(|r| {
                to_item(&SkippedItem {
                    pk: job_pk(job),
                    sk: format!("SKIP#{:012}", r.ordinal),
                    record: r.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_put(items).await
    }

    async fn skipped(
        &self,
        job: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<SkippedRecord>, Error> {
        let (items, next) = self
            .page_of::<SkippedItem>(job_pk(job), "SKIP#", cursor, limit)
            .await?;
        Ok(Page {
            items: items.into_iter().map(|i| i.record).collect(),
            next,
        })
    }

    async fn forget_skipped(&self, job: &str, ordinals: &[u64]) -> Result<(), Error> {
        for ordinal in ordinals {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(job_pk(job), &format!("SKIP#{ordinal:012}"))))
                .send()
                .await
                .map_err(|e| self.endpoint.error("DeleteItem", e))?;
        }
        Ok(())
    }

    async fn record_failure(&self, job: &str, failure: &PersonFailure) -> Result<(), Error> {
        let item = to_item(&FailureItem {
            pk: job_pk(job),
            sk: format!("FAIL#{}#{}", failure.legacy_id, failure.username),
            failure: failure.clone(),
        })?;
        self.put_plain(item, None).await.map(|_| ())
    }

    async fn clear_failure(&self, job: &str, legacy_id: &str, username: &str) -> Result<(), Error> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(
                job_pk(job),
                &format!("FAIL#{legacy_id}#{username}"),
            )))
            .send()
            .await
            .map_err(|e| self.endpoint.error("DeleteItem", e))?;
        Ok(())
    }

    async fn failures(
        &self,
        job: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<PersonFailure>, Error> {
        let (items, next) = self
            .page_of::<FailureItem>(job_pk(job), "FAIL#", cursor, limit)
            .await?;
        Ok(Page {
            items: items.into_iter().map(|i| i.failure).collect(),
            next,
        })
    }
}
