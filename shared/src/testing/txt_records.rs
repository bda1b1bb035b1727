//! DNS TXT records in memory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::Error;

/// DNS in memory: TXT records by name.
#[derive(Default)]
pub struct MemoryDns {
    records: Mutex<BTreeMap<String, Vec<String>>>,
}

impl MemoryDns {
    /// Publishes `values` as the TXT records of `name`.
    pub fn set(&self, name: &str, values: &[&str]) {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                name.to_owned(),
                values.iter().map(|v| (*v).to_owned()).collect(),
            );
    }
}

#[async_trait]
impl crate::domain::ports::TxtRecords for MemoryDns {
    async fn txt(&self, name: &str) -> Result<Vec<String>, Error> {
        Ok(self
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
            .unwrap_or_default())
    }
}
