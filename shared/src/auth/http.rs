//! A small HTTPS client for what the SDK does not call: the pools' JWKS and the Cognito
//! domains' OAuth token endpoint. Its connections are the suite's (`aws::https`: rustls with
//! aws-lc, TLS verified, the same roots and TLS settings as the AWS calls).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};

type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

pub struct Https {
    client: Client,
}

impl Https {
    pub fn new() -> Result<Self, String> {
        let connector = crate::aws::https::connector(None).map_err(|e| e.to_string())?;
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        Ok(Self { client })
    }

    /// GET `url`: the status and at most `limit` bytes of body, within `timeout` for each.
    pub async fn get(
        &self,
        url: &str,
        limit: usize,
        timeout: Duration,
    ) -> Result<(u16, Bytes), String> {
        let request = hyper::Request::get(url)
            .body(Full::new(Bytes::new()))
            .map_err(|e| format!("request: {e}"))?;
        self.send(request, limit, timeout).await
    }

    /// POST an `application/x-www-form-urlencoded` body to `url`.
    pub async fn post_form(
        &self,
        url: &str,
        form: String,
        limit: usize,
        timeout: Duration,
    ) -> Result<(u16, Bytes), String> {
        let request = hyper::Request::post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| format!("request: {e}"))?;
        self.send(request, limit, timeout).await
    }

    async fn send(
        &self,
        request: hyper::Request<Full<Bytes>>,
        limit: usize,
        timeout: Duration,
    ) -> Result<(u16, Bytes), String> {
        let response = tokio::time::timeout(timeout, self.client.request(request))
            .await
            .map_err(|_| "no answer in time".to_owned())?
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status().as_u16();
        let body =
            tokio::time::timeout(timeout, Limited::new(response.into_body(), limit).collect())
                .await
                .map_err(|_| "no answer in time".to_owned())?
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
        Ok((status, body))
    }
}
