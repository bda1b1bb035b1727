//! DNS TXT records: the proofs of organizations' e-mail domains.

use async_trait::async_trait;

use crate::domain::Error;

/// DNS TXT records: the proofs of organizations' e-mail domains.
#[async_trait]
pub trait TxtRecords: Send + Sync {
    /// The TXT records of `name` (each one's strings joined); none: empty.
    async fn txt(&self, name: &str) -> Result<Vec<String>, Error>;
}
