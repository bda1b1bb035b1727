//! HTTP plumbing of the pages: cookies, the CSRF token, form bodies, security headers.

use base64::Engine;
use cookie::{Cookie, SameSite};
use lambda_http::http::{header, HeaderValue, Response, StatusCode};
use lambda_http::Body;

/// The signed-in person's ID token (verified on every request).
pub const SESSION: &str = "__Host-session";
/// The refresh token, kept only to revoke it at sign-out.
pub const REFRESH: &str = "__Host-refresh";
/// A pending SSO sign-in: `state`, `nonce`, PKCE verifier and where to go afterwards.
pub const OAUTH: &str = "__Host-oauth";
/// The CSRF token every form carries back (double submit).
pub const CSRF: &str = "__Host-csrf";
/// Largest form body read.
pub const MAX_FORM_BYTES: usize = 16 * 1024;
/// How long the refresh cookie is kept (Cognito's default refresh token validity).
const REFRESH_SECS: i64 = 30 * 24 * 3600;

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &lambda_http::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_owned()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 8 * 1024)
}

/// A `__Host-` cookie: Secure, HttpOnly, SameSite=Lax, host-only, path `/`.
pub fn host_cookie(name: &'static str, value: String, max_age_secs: i64) -> String {
    Cookie::build((name, value))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(max_age_secs))
        .build()
        .to_string()
}

pub fn session_cookies(id_token: &str, refresh: Option<&str>, expires_in: i64) -> Vec<String> {
    let mut out = vec![host_cookie(
        SESSION,
        id_token.to_owned(),
        expires_in.clamp(60, 24 * 3600),
    )];
    if let Some(refresh) = refresh {
        out.push(host_cookie(REFRESH, refresh.to_owned(), REFRESH_SECS));
    }
    out
}

pub fn cleared_session_cookies() -> Vec<String> {
    vec![
        host_cookie(SESSION, String::new(), 0),
        host_cookie(REFRESH, String::new(), 0),
    ]
}

/// A fresh CSRF token: 32 random bytes.
pub fn new_csrf_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The request's CSRF token if it has a well-formed one, else a new one with the cookie that
/// sets it.
pub fn csrf_token(headers: &lambda_http::http::HeaderMap) -> (String, Option<String>) {
    match cookie(headers, CSRF).filter(|t| t.len() == 43) {
        Some(token) => (token, None),
        None => {
            let token = new_csrf_token();
            let set = host_cookie(CSRF, token.clone(), 24 * 3600);
            (token, Some(set))
        }
    }
}

/// Whether a form's `csrf` field matches the CSRF cookie (constant time).
pub fn csrf_ok(headers: &lambda_http::http::HeaderMap, form: &Form) -> bool {
    match (cookie(headers, CSRF), form.get("csrf")) {
        (Some(cookie), Some(field)) if cookie.len() == 43 => {
            aws_lc_rs::constant_time::verify_slices_are_equal(cookie.as_bytes(), field.as_bytes())
                .is_ok()
        }
        _ => false,
    }
}

/// A parsed `application/x-www-form-urlencoded` body.
#[derive(Debug, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// The body as a form, if it is one within [`MAX_FORM_BYTES`].
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Option<Self> {
        let form_type = content_type
            .map(|c| c.split(';').next().unwrap_or_default().trim())
            .is_some_and(|c| c.eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if !form_type || body.len() > MAX_FORM_BYTES {
            return None;
        }
        Some(Self(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A text field, trimmed, at most `max` characters; empty counts as missing.
    pub fn text(&self, name: &str, max: usize) -> Option<&str> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.chars().count() <= max)
    }
}

/// A query string parameter.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// What a response needs besides its body.
pub struct Page {
    pub status: StatusCode,
    pub html: String,
    pub cookies: Vec<String>,
    /// Extra `form-action` sources (redirect targets after a form).
    pub form_targets: Vec<String>,
}

const CSP_BASE: &str = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'";

fn secure(
    builder: lambda_http::http::response::Builder,
    form_targets: &[String],
) -> lambda_http::http::response::Builder {
    let mut form_action = String::from("form-action 'self'");
    for t in form_targets {
        form_action.push(' ');
        form_action.push_str(t);
    }
    builder
        .header(
            header::CONTENT_SECURITY_POLICY,
            format!("{CSP_BASE}; {form_action}"),
        )
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::X_FRAME_OPTIONS, "DENY")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        )
        .header(header::CACHE_CONTROL, "no-store")
}

fn with_cookies(mut response: Response<Body>, cookies: &[String]) -> Response<Body> {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

pub fn html(page: Page) -> Response<Body> {
    let response = secure(Response::builder(), &page.form_targets)
        .status(page.status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::Text(page.html))
        .expect("a valid response");
    with_cookies(response, &page.cookies)
}

/// A `303 See Other` to `location`, which the caller built from validated parts only.
pub fn redirect(location: &str, cookies: &[String]) -> Response<Body> {
    // Callers validate their targets; should one still not be a header value, the answer
    // is a plain refusal, never a crash.
    let Ok(location) = HeaderValue::from_str(location) else {
        tracing::error!("a redirect target that is no header value was refused");
        return text(
            StatusCode::BAD_REQUEST,
            "text/plain; charset=utf-8",
            "Bad request\n".into(),
            "no-store",
        );
    };
    let response = secure(Response::builder(), &[])
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .body(Body::Empty)
        .expect("a valid response");
    with_cookies(response, cookies)
}

/// The plain 404 of every host and path that is nobody's: it never echoes the request.
pub fn not_found() -> Response<Body> {
    secure(Response::builder(), &[])
        .status(StatusCode::NOT_FOUND)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::Text("Not found\n".into()))
        .expect("a valid response")
}

pub fn text(
    status: StatusCode,
    content_type: &'static str,
    body: String,
    cache: &'static str,
) -> Response<Body> {
    let mut response = secure(Response::builder(), &[])
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::Text(body))
        .expect("a valid response");
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `path` if it is a path on the same site to come back to after signing in: starts with
/// one `/`, no scheme or authority, no backslash or control character, not too long.
pub fn local_path(path: &str) -> Option<&str> {
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= 1024
        && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    ok.then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_come_back() {
        for good in ["/", "/projects/42", "/a?b=c#d"] {
            assert_eq!(local_path(good), Some(good));
        }
        for bad in [
            "",
            "//evil.test",
            "/\\evil.test",
            "https://evil.test",
            "evil",
            "/a b",
            "/a\nb",
            "/a\\b",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
        assert_eq!(local_path(&format!("/{}", "a".repeat(2000))), None);
    }

    #[test]
    fn session_cookies_are_host_only_secure_and_http_only() {
        for c in session_cookies("id", Some("refresh"), 3600) {
            assert!(c.starts_with("__Host-"), "{c}");
            for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
                assert!(c.contains(attr), "{c} lacks {attr}");
            }
            assert!(!c.to_ascii_lowercase().contains("domain="), "{c}");
        }
    }

    #[test]
    fn forms_need_their_content_type_and_a_bounded_size() {
        assert!(Form::parse(Some("application/x-www-form-urlencoded"), b"a=1").is_some());
        assert!(Form::parse(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            b"a=1"
        )
        .is_some());
        assert!(Form::parse(Some("application/json"), b"a=1").is_none());
        assert!(Form::parse(None, b"a=1").is_none());
        let big = vec![b'a'; MAX_FORM_BYTES + 1];
        assert!(Form::parse(Some("application/x-www-form-urlencoded"), &big).is_none());
        let f = Form::parse(
            Some("application/x-www-form-urlencoded"),
            b"u=+hank+&e=&p=a%26b",
        )
        .expect("form");
        assert_eq!(f.text("u", 10), Some("hank"));
        assert_eq!(f.text("e", 10), None);
        assert_eq!(f.get("p"), Some("a&b"));
        assert_eq!(f.text("u", 3), None);
    }
}
