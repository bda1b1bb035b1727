//! The one HTTPS client of the suite: every AWS SDK client (through [`super::load_config`])
//! and the JWKS fetch of the token verifier use it.
//!
//! Why not the SDK's default client: that one reads the system's certificate store when
//! each service client is built (on Debian: the bundle and then every file of
//! `/etc/ssl/certs`, some 300 files), parses it into a new root store for every client, and
//! offers HTTP/2, which none of our services speaks, at the price of ~0.3 MiB of code. This
//! one builds its TLS settings once per process from roots compiled in, speaks HTTP/1.1,
//! and keeps what the SDK relies on: connect and read timeouts, errors classified as the
//! SDK's retry rules expect (timeout, I/O, user), and connection poisoning after a failed
//! attempt.
//!
//! TLS is always verified: rustls with aws-lc (TLS 1.2/1.3, post-quantum hybrid key
//! exchange), roots from Mozilla's list (`webpki-roots`, the roots the system bundles are
//! made from). `SSL_CERT_FILE` replaces them with a PEM bundle of one's own (a TLS-inspecting
//! proxy, a private CA); a bad bundle stops the program at start, naming the variable.

use std::borrow::Cow;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;

use crate::config::ConfigError;

type BoxError = Box<dyn StdError + Send + Sync>;

/// HTTPS (and plain HTTP, for a local AWS on loopback) over TCP.
pub type HttpsConnector = hyper_rustls::HttpsConnector<TcpConnector>;

/// The TLS settings of the process, built on first use.
pub fn tls_config() -> Result<Arc<rustls::ClientConfig>, ConfigError> {
    static TLS: OnceLock<Result<Arc<rustls::ClientConfig>, ConfigError>> = OnceLock::new();
    TLS.get_or_init(|| build_tls_config(std::env::var_os("SSL_CERT_FILE")))
        .clone()
}

fn build_tls_config(
    bundle: Option<std::ffi::OsString>,
) -> Result<Arc<rustls::ClientConfig>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name: "SSL_CERT_FILE",
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    match bundle.filter(|b| !b.is_empty()) {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            use rustls::pki_types::{pem::PemObject, CertificateDer};
            let shown = std::path::Path::new(&path).display().to_string();
            let certs = CertificateDer::pem_file_iter(&path)
                .map_err(|e| invalid(format!("{shown}: {e}")))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid(format!("{shown}: {e}")))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(invalid(format!("{shown} holds no usable certificate")));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    // ALPN (http/1.1) is set by the connector.
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(format!("TLS settings: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A connector for HTTPS (verified) and plain HTTP, with the process's TLS settings.
pub fn connector(connect_timeout: Option<Duration>) -> Result<HttpsConnector, ConfigError> {
    let mut tcp = TcpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(connect_timeout);
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls_config()?).clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp))
}

/// The HTTP client of the AWS SDK clients. The TLS settings are built here, at start, so
/// that a bad `SSL_CERT_FILE` stops the program before its first request.
pub fn sdk_client() -> Result<SharedHttpClient, ConfigError> {
    tls_config()?;
    Ok(SdkHttps::default().into_shared())
}

/// One connection pool per distinct timeout settings (the SDK asks per client and
/// operation; ours all share one set).
#[derive(Debug, Default)]
struct SdkHttps {
    connectors: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

/// Connect and read timeouts.
type Timeouts = (Option<Duration>, Option<Duration>);

impl HttpClient for SdkHttps {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self.connectors.lock().unwrap_or_else(|p| p.into_inner());
        connectors
            .entry(key)
            .or_insert_with(|| match connector(key.0) {
                Ok(https) => SdkConnector::new(https, key.0, key.1).into_shared(),
                // sdk_client() built the TLS settings already: this cannot happen, but if it
                // did, every request would fail with the reason instead of a panic.
                Err(e) => Unusable(e.to_string()).into_shared(),
            })
            .clone()
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        Some(
            aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata::new(
                "hyper",
                Some(Cow::Borrowed("1.x")),
            ),
        )
    }
}

#[derive(Debug)]
struct Unusable(String);

impl HttpConnector for Unusable {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Err(ConnectorError::user(self.0.clone().into())))
    }
}

#[derive(Debug, Clone)]
struct SdkConnector {
    client: hyper_util::client::legacy::Client<ConnectTimeout<HttpsConnector>, SdkBody>,
    read_timeout: Option<Duration>,
}

impl SdkConnector {
    fn new(
        https: HttpsConnector,
        connect_timeout: Option<Duration>,
        read_timeout: Option<Duration>,
    ) -> Self {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_timer(hyper_util::rt::TokioTimer::new())
                .build(ConnectTimeout {
                    inner: https,
                    timeout: connect_timeout,
                });
        Self {
            client,
            read_timeout,
        }
    }
}

impl HttpConnector for SdkConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        // After a failed attempt the SDK poisons the connection, so that its retry does not
        // reuse it.
        let captured = hyper_util::client::legacy::connect::capture_connection(&mut request);
        if let Some(capture) = request.extensions().get::<CaptureSmithyConnection>() {
            capture.set_connection_retriever(move || {
                captured.connection_metadata().as_ref()?;
                let captured = captured.clone();
                Some(
                    ConnectionMetadata::builder()
                        .proxied(false)
                        .poison_fn(move || {
                            if let Some(connected) = captured.connection_metadata().as_ref() {
                                connected.poison();
                            }
                        })
                        .build(),
                )
            });
        }
        let sent = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, sent)
                    .await
                    .map_err(|e| ConnectorError::timeout(e.into()))?,
                None => sent.await,
            }
            .map_err(classify)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// Sorts a failed request as the SDK's retry rules expect: timeouts and I/O failures are
/// retried, a request that could not be made is not.
fn classify(err: hyper_util::client::legacy::Error) -> ConnectorError {
    let connect = err.is_connect();
    let err: BoxError = err.into();
    let timed_out = find::<ConnectTimedOut>(err.as_ref()).is_some()
        || find::<std::io::Error>(err.as_ref())
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut);
    if timed_out {
        return ConnectorError::timeout(err);
    }
    if let Some(hyper) = find::<hyper::Error>(err.as_ref()) {
        if hyper.is_timeout() {
            return ConnectorError::timeout(err);
        }
        if hyper.is_user() {
            return ConnectorError::user(err);
        }
        if hyper.is_closed() || hyper.is_canceled() {
            return ConnectorError::io(err);
        }
        if hyper.is_incomplete_message() {
            return ConnectorError::other(err, Some(ErrorKind::TransientError));
        }
    }
    if connect || find::<std::io::Error>(err.as_ref()).is_some() {
        return ConnectorError::io(err);
    }
    ConnectorError::other(err, None)
}

fn find<'a, E: StdError + 'static>(mut err: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    loop {
        if let Some(found) = err.downcast_ref::<E>() {
            return Some(found);
        }
        err = err.source()?;
    }
}

/// The connection (TCP and TLS handshake) did not complete in time.
#[derive(Debug)]
struct ConnectTimedOut(Duration);

impl std::fmt::Display for ConnectTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no connection within {:?}", self.0)
    }
}

impl StdError for ConnectTimedOut {}

/// Bounds the whole connection set-up, TLS handshake included (the TCP connector's own
/// timeout covers the TCP part only).
#[derive(Debug, Clone)]
struct ConnectTimeout<C> {
    inner: C,
    timeout: Option<Duration>,
}

impl<C> tower_service::Service<hyper::Uri> for ConnectTimeout<C>
where
    C: tower_service::Service<hyper::Uri>,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: hyper::Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let timeout = self.timeout;
        Box::pin(async move {
            match timeout {
                Some(limit) => match tokio::time::timeout(limit, connecting).await {
                    Ok(result) => result.map_err(Into::into),
                    Err(_) => Err(Box::new(ConnectTimedOut(limit)) as BoxError),
                },
                None => connecting.await.map_err(Into::into),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_built_in_unless_a_bundle_is_named() {
        build_tls_config(None).expect("built-in roots");
        connector(Some(Duration::from_secs(1))).expect("a connector with them");
    }

    #[test]
    fn a_bad_bundle_names_the_variable() {
        let err = build_tls_config(Some("/nonexistent/bundle.pem".into())).expect_err("no file");
        assert!(err.to_string().contains("SSL_CERT_FILE"), "{err}");
        let empty = std::env::temp_dir().join(format!("empty-bundle-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").expect("temp file");
        let err = build_tls_config(Some(empty.clone().into())).expect_err("no certificate");
        let _ = std::fs::remove_file(&empty);
        assert!(err.to_string().contains("no usable certificate"), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_an_io_failure_and_a_silent_one_a_timeout() {
        use aws_smithy_runtime_api::client::http::HttpConnector as _;
        // Nothing listens on a port just released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let refused = SdkConnector::new(connector(None).expect("tls"), None, None);
        let request = |port: u16| {
            HttpRequest::try_from(
                http::Request::builder()
                    .uri(format!("http://127.0.0.1:{port}/"))
                    .body(SdkBody::empty())
                    .expect("request"),
            )
            .expect("request")
        };
        let err = refused.call(request(port)).await.expect_err("refused");
        assert!(err.is_io(), "{err:?}");

        // A listener that accepts and never answers: the read timeout applies.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let port = silent.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = silent.accept().await {
                held.push(conn);
            }
        });
        let slow = SdkConnector::new(
            connector(None).expect("tls"),
            None,
            Some(Duration::from_millis(100)),
        );
        let err = slow.call(request(port)).await.expect_err("silent");
        assert!(err.is_timeout(), "{err:?}");

        // HTTPS to it: the TLS handshake never completes, and the connect timeout covers it.
        let handshake = SdkConnector::new(
            connector(Some(Duration::from_millis(100))).expect("tls"),
            Some(Duration::from_millis(100)),
            None,
        );
        let https = HttpRequest::try_from(
            http::Request::builder()
                .uri(format!("https://127.0.0.1:{port}/"))
                .body(SdkBody::empty())
                .expect("request"),
        )
        .expect("request");
        let err = handshake.call(https).await.expect_err("no handshake");
        assert!(err.is_timeout(), "{err:?}");
    }
}
