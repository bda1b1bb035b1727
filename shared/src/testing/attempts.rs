//! Attempt counters in the memory registry.

use async_trait::async_trait;

use super::MemoryRegistry;
use crate::domain::Error;

#[async_trait]
impl crate::domain::ports::AttemptCounter for MemoryRegistry {
    async fn count_attempt(
        &self,
        scope: &str,
        window_start: i64,
        _window_secs: i64,
    ) -> Result<u64, Error> {
        self.call("count_attempt");
        let mut state = self.lock();
        let count = state
            .attempts
            .entry((scope.to_owned(), window_start))
            .or_default();
        *count += 1;
        Ok(*count)
    }
}
