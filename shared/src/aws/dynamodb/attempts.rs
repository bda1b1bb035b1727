//! The router's attempt counters: one item per scope and fixed window,
//! `RATE#<scope>` / `WINDOW#<start>`, counted with an atomic `ADD` and removed by TTL after
//! the window.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use super::{key, n, DynamoRegistry, TTL_ATTRIBUTE};
use crate::domain::ports::AttemptCounter;
use crate::domain::Error;

#[async_trait]
impl AttemptCounter for DynamoRegistry {
    async fn count_attempt(
        &self,
        scope: &str,
        window_start: i64,
        window_secs: i64,
    ) -> Result<u64, Error> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                format!("RATE#{scope}"),
                &format!("WINDOW#{window_start}"),
            )))
            .update_expression("ADD hits :one SET #ttl = :expires")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":one", n(1))
            // Kept a window longer than it counts, then removed by TTL.
            .expression_attribute_values(":expires", n(window_start + 2 * window_secs))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| self.endpoint.error("UpdateItem", e))?;
        Ok(out
            .attributes
            .as_ref()
            .and_then(|a| a.get("hits"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(1))
    }
}
