//! Where the identity providers' client secrets live.

use async_trait::async_trait;

use crate::domain::Error;

/// Where secrets live (AWS Secrets Manager): the identity providers' client secrets, never
/// in the table, never in an answer or a log.
#[async_trait]
pub trait Secrets: Send + Sync {
    /// Stores `value` under `name`, creating or replacing it.
    async fn put_secret(&self, name: &str, value: &str) -> Result<(), Error>;
    async fn get_secret(&self, name: &str) -> Result<Option<String>, Error>;
    /// Deletes it at once; a secret that is not there counts as done.
    async fn delete_secret(&self, name: &str) -> Result<(), Error>;
}
