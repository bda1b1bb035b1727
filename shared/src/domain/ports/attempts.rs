//! Attempt counters shared by every execution environment.

use async_trait::async_trait;

use crate::domain::Error;

/// Counts attempts in fixed windows shared by every execution environment (the registry
/// table): the router's limits per address and per organization.
#[async_trait]
pub trait AttemptCounter: Send + Sync {
    /// Counts one attempt of `scope` in the window starting at `window_start` (epoch
    /// seconds, `window_secs` long) and returns the window's count with this one.
    async fn count_attempt(
        &self,
        scope: &str,
        window_start: i64,
        window_secs: i64,
    ) -> Result<u64, Error>;
}
