//! A finished sign-in (the session cookies, where it goes) and signing out (`crate::session`).

use super::*;

#[tokio::test]
async fn a_sign_in_sets_a_host_only_session_and_goes_home() {
    let w = world();
    let a = w
        .post(
            ACME,
            "/login",
            &[("username", "hank"), ("password", "Right-Password-1")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location(), "https://acme.app.example.com/");
    let session = a.cookie("__Host-session").expect("session cookie");
    assert_eq!(session, format!("id:{SAMPLE_POOL}:hank"));
    assert!(a.cookie("__Host-refresh").is_some());
    // Signed in on acme...
    let home = w
        .call(
            Method::GET,
            ACME,
            "/",
            &[("__Host-session", &session)],
            None,
        )
        .await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home
        .body
        .contains("You are signed in as <strong>hank</strong>"));
    // ...but the same cookie is nobody on globex.
    let other = w
        .call(
            Method::GET,
            GLOBEX,
            "/",
            &[("__Host-session", &session)],
            None,
        )
        .await;
    assert_eq!(other.status, StatusCode::SEE_OTHER);
    assert_eq!(other.location(), "/login");
    let login = w
        .call(
            Method::GET,
            GLOBEX,
            "/login",
            &[("__Host-session", &session)],
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Globex Inc") && !login.body.contains("hank"));
    // Garbage cookies are nobody.
    let junk = w
        .call(Method::GET, ACME, "/", &[("__Host-session", "junk")], None)
        .await;
    assert_eq!(junk.location(), "/login");
}

#[tokio::test]
async fn sign_in_goes_back_to_the_page_asked_for_or_to_the_app() {
    let w = world();
    let a = w
        .post(
            ACME,
            "/login",
            &[
                ("username", "hank"),
                ("password", "Right-Password-1"),
                ("return_to", "/projects/7?tab=2"),
            ],
        )
        .await;
    assert_eq!(
        a.location(),
        "https://acme.app.example.com/projects/7?tab=2"
    );
    for evil in [
        "//evil.test/x",
        "https://evil.test/",
        "/\\evil.test",
        "javascript:alert(1)",
    ] {
        let a = w
            .post(
                ACME,
                "/login",
                &[
                    ("username", "hank"),
                    ("password", "Right-Password-1"),
                    ("return_to", evil),
                ],
            )
            .await;
        assert_eq!(a.location(), "https://acme.app.example.com/", "{evil}");
    }
    let mut acme = sample_org();
    acme.sign_in.app_urls = vec!["https://portal.acme-app.test/home".into()];
    w.registry.insert_org(acme);
    let w2 = World {
        app: App {
            orgs: OrgCache::new(ORG_TTL),
            ..w.app
        },
        pools: w.pools,
        registry: w.registry,
        cognito: w.cognito,
        exchange: w.exchange,
    };
    let a = w2
        .post(
            ACME,
            "/login",
            &[("username", "hank"), ("password", "Right-Password-1")],
        )
        .await;
    assert_eq!(a.location(), "https://portal.acme-app.test/home");
    let a = w2
        .post(
            ACME,
            "/login",
            &[
                ("username", "hank"),
                ("password", "Right-Password-1"),
                ("return_to", "https://portal.acme-app.test/home/reports"),
            ],
        )
        .await;
    assert_eq!(a.location(), "https://portal.acme-app.test/home/reports");
    // A header break after an allowed prefix is never a redirect target (nor a panic).
    let broken = w2
        .post(
            ACME,
            "/login",
            &[
                ("username", "hank"),
                ("password", "Right-Password-1"),
                (
                    "return_to",
                    "https://portal.acme-app.test/home/\r\nSet-Cookie: x=1",
                ),
            ],
        )
        .await;
    assert_eq!(broken.status, StatusCode::SEE_OTHER);
    assert_eq!(broken.location(), "https://portal.acme-app.test/home");
    let page = w2.get(ACME, "/login").await;
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp");
    assert!(
        csp.contains("form-action 'self' https://portal.acme-app.test"),
        "{csp}"
    );
}

#[tokio::test]
async fn sign_out_revokes_the_refresh_token_and_clears_the_cookies() {
    let w = world();
    let a = w
        .call(
            Method::POST,
            ACME,
            "/logout",
            &[
                ("__Host-csrf", CSRF),
                ("__Host-session", "id:x:hank"),
                ("__Host-refresh", "refresh-hank"),
            ],
            Some(&[("csrf", CSRF)]),
        )
        .await;
    assert_eq!(
        (a.status, a.location()),
        (StatusCode::SEE_OTHER, "/login?signed_out=1")
    );
    assert_eq!(w.cognito.calls(), ["revoke refresh-hank"]);
    for name in ["__Host-session", "__Host-refresh"] {
        let set = a
            .cookies()
            .into_iter()
            .find(|c| c.starts_with(name))
            .expect("cleared");
        assert!(set.contains("Max-Age=0"), "{set}");
    }
    let page = w.get(ACME, "/login?signed_out=1").await;
    assert!(page.body.contains("You are signed out."));
}
