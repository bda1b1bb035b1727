//! Reading a migration job back from the registry: the job, its skipped records, its failures.

use shared::aws::dynamodb::DynamoRegistry;
use shared::domain::migration_job::{MigrationJob, PersonFailure, SkippedRecord};
use shared::domain::ports::MigrationStore;
use shared::domain::Error;

/// The job of that id, or `NotFound`.
pub(crate) async fn find_job(registry: &DynamoRegistry, id: &str) -> Result<MigrationJob, Error> {
    registry.job(id).await?.ok_or_else(|| Error::NotFound {
        what: "migration job",
        key: id.to_owned(),
    })
}

/// Every skipped record of the job.
pub(crate) async fn all_skipped(
    store: &DynamoRegistry,
    id: &str,
) -> Result<Vec<SkippedRecord>, Error> {
    let mut skipped: Vec<SkippedRecord> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.skipped(id, cursor.as_deref(), 500).await?;
        skipped.extend(page.items);
        match page.next {
            Some(n) => cursor = Some(n),
            None => return Ok(skipped),
        }
    }
}

/// Every person failure of the job.
pub(crate) async fn all_failures(
    store: &DynamoRegistry,
    id: &str,
) -> Result<Vec<PersonFailure>, Error> {
    let mut failures: Vec<PersonFailure> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.failures(id, cursor.as_deref(), 500).await?;
        failures.extend(page.items);
        match page.next {
            Some(n) => cursor = Some(n),
            None => return Ok(failures),
        }
    }
}
