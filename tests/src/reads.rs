//! DynamoDB requests and the items they read, counted at the SDK's HTTP client (as
//! [`crate::counting`] counts requests): the admin API benchmark's "items read per call".
//! Items read: a Query's or Scan's `ScannedCount` (what DynamoDB evaluates and bills, filters
//! or not), a GetItem's item, a BatchGetItem's or TransactGetItems' answers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;

/// What the client sent to DynamoDB and read back.
#[derive(Debug, Default)]
pub struct Tally {
    /// DynamoDB requests.
    pub requests: AtomicU64,
    /// Items those requests read.
    pub items: AtomicU64,
    /// Requests to any AWS service.
    pub all_requests: AtomicU64,
}

impl Tally {
    /// (DynamoDB requests, items read, all requests) so far.
    pub fn now(&self) -> (u64, u64, u64) {
        (
            self.requests.load(Ordering::SeqCst),
            self.items.load(Ordering::SeqCst),
            self.all_requests.load(Ordering::SeqCst),
        )
    }
}

#[derive(Debug, Clone)]
struct Counting {
    inner: SharedHttpClient,
    tally: Arc<Tally>,
}

#[derive(Debug)]
struct CountingConnector {
    inner: SharedHttpConnector,
    tally: Arc<Tally>,
}

/// Items a DynamoDB answer carries as read.
fn items_read(operation: &str, body: &[u8]) -> u64 {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return 0;
    };
    match operation {
        "Query" | "Scan" => v["ScannedCount"].as_u64().unwrap_or(0),
        "GetItem" => u64::from(v.get("Item").is_some()),
        "BatchGetItem" => v["Responses"]
            .as_object()
            .map(|tables| {
                tables
                    .values()
                    .map(|items| items.as_array().map_or(0, |a| a.len() as u64))
                    .sum()
            })
            .unwrap_or(0),
        "TransactGetItems" => v["Responses"].as_array().map_or(0, |a| {
            a.iter().filter(|r| r.get("Item").is_some()).count() as u64
        }),
        _ => 0,
    }
}

impl HttpConnector for CountingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.tally.all_requests.fetch_add(1, Ordering::SeqCst);
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.strip_prefix("DynamoDB_20120810."))
            .map(str::to_owned);
        let sent = self.inner.call(request);
        let Some(operation) = operation else {
            return sent;
        };
        self.tally.requests.fetch_add(1, Ordering::SeqCst);
        let tally = self.tally.clone();
        HttpConnectorFuture::new(async move {
            let mut response = sent.await?;
            let body = ByteStream::new(response.take_body())
                .collect()
                .await
                .map_err(|e| ConnectorError::io(e.into()))?
                .into_bytes();
            tally
                .items
                .fetch_add(items_read(&operation, &body), Ordering::SeqCst);
            *response.body_mut() = SdkBody::from(body);
            Ok(response)
        })
    }
}

impl HttpClient for Counting {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(CountingConnector {
            inner: self.inner.http_connector(settings, components),
            tally: self.tally.clone(),
        })
    }
}

/// `sdk` with its HTTP client wrapped: DynamoDB requests and items read are tallied.
pub fn counted(sdk: SdkConfig) -> (SdkConfig, Arc<Tally>) {
    let tally = Arc::new(Tally::default());
    let inner = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .build_https();
    let sdk = sdk
        .into_builder()
        .http_client(Counting {
            inner,
            tally: tally.clone(),
        })
        .build();
    (sdk, tally)
}

#[cfg(test)]
mod tests {
    use super::items_read;

    #[test]
    fn items_read_per_answer() {
        assert_eq!(
            items_read("Query", br#"{"Count":2,"ScannedCount":7,"Items":[]}"#),
            7
        );
        assert_eq!(items_read("GetItem", br#"{"Item":{"pk":{"S":"a"}}}"#), 1);
        assert_eq!(items_read("GetItem", b"{}"), 0);
        assert_eq!(
            items_read("BatchGetItem", br#"{"Responses":{"t":[{},{},{}]}}"#),
            3
        );
        assert_eq!(items_read("PutItem", b"{}"), 0);
    }
}
