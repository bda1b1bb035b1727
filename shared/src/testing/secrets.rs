//! Secrets in memory.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::Error;

/// Secrets in memory.
#[derive(Default)]
pub struct MemorySecrets {
    values: Mutex<std::collections::HashMap<String, String>>,
}

impl MemorySecrets {
    pub fn get(&self, name: &str) -> Option<String> {
        self.values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }
}

#[async_trait]
impl crate::domain::ports::Secrets for MemorySecrets {
    async fn put_secret(&self, name: &str, value: &str) -> Result<(), Error> {
        self.values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.into(), value.into());
        Ok(())
    }
    async fn get_secret(&self, name: &str) -> Result<Option<String>, Error> {
        Ok(self.get(name))
    }
    async fn delete_secret(&self, name: &str) -> Result<(), Error> {
        self.values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        Ok(())
    }
}
