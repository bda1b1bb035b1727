//! CORS headers for the admin UI's origin on every answer.
//!
//! Behind a REST API (AWS WAF), API Gateway answers the preflights (`OPTIONS`, a mock
//! integration the CDK app configures) but leaves the headers of the real answers to the
//! function: without `Access-Control-Allow-Origin` the browser hides them from the admin UI.
//! The one allowed origin is `ADMIN_UI_ORIGIN` (the stack's `AdminUiOrigin`); unset (local
//! runs), no CORS header is added and only same-origin callers can read the answers.

use lambda_http::http::{header, HeaderValue};
use lambda_http::{Body, Response};
use shared::config::Source;

/// What the admin UI may read besides the CORS-safelisted headers (the CDK app's list).
const EXPOSED: &str = "etag, location, idempotent-replay, www-authenticate, retry-after";

#[derive(Debug, Clone, Default)]
pub struct Cors {
    origin: Option<HeaderValue>,
}

impl Cors {
    /// `ADMIN_UI_ORIGIN`, when set and a valid header value.
    pub fn from_env(src: &dyn Source) -> Self {
        Self::new(src.get("ADMIN_UI_ORIGIN").as_deref())
    }

    pub fn new(origin: Option<&str>) -> Self {
        let origin = origin
            .map(|o| o.trim().trim_end_matches('/'))
            .filter(|o| !o.is_empty())
            .and_then(|o| HeaderValue::from_str(o).ok());
        Self { origin }
    }

    /// Adds the CORS headers when the request's `Origin` is the admin UI's. Answers depend on
    /// the `Origin` header, so caches are told (`Vary: Origin`).
    pub fn apply(&self, request_origin: Option<&HeaderValue>, response: &mut Response<Body>) {
        let Some(allowed) = &self.origin else { return };
        let headers = response.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("origin"));
        if request_origin == Some(allowed) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed.clone());
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> Response<Body> {
        Response::builder()
            .status(200)
            .body(Body::Empty)
            .expect("response")
    }

    fn from(origin: Option<&str>) -> Option<HeaderValue> {
        origin.map(|o| HeaderValue::from_str(o).expect("origin"))
    }

    #[test]
    fn the_admin_uis_origin_may_read_the_answer_and_its_headers() {
        let cors = Cors::new(Some("https://admin.example.com/"));
        let mut r = answer();
        cors.apply(from(Some("https://admin.example.com")).as_ref(), &mut r);
        assert_eq!(
            r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://admin.example.com"
        );
        let exposed = r.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS]
            .to_str()
            .expect("ascii");
        for h in ["etag", "location", "idempotent-replay"] {
            assert!(exposed.contains(h), "{exposed}");
        }
        assert_eq!(r.headers()[header::VARY], "origin");
    }

    #[test]
    fn another_origin_or_none_gets_no_allow_header() {
        let cors = Cors::new(Some("https://admin.example.com"));
        for origin in [Some("https://evil.example.net"), Some("null"), None] {
            let mut r = answer();
            cors.apply(from(origin).as_ref(), &mut r);
            assert!(
                r.headers()
                    .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                    .is_none(),
                "{origin:?}"
            );
            assert_eq!(r.headers()[header::VARY], "origin");
        }
    }

    #[test]
    fn without_a_configured_origin_nothing_is_added() {
        let cors = Cors::new(None);
        let mut r = answer();
        cors.apply(from(Some("https://admin.example.com")).as_ref(), &mut r);
        assert!(r.headers().is_empty());
        assert!(Cors::new(Some("  ")).origin.is_none());
    }
}
