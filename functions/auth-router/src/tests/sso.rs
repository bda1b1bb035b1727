//! SSO: off to the organization's Cognito domain and back through the callback
//! (`crate::sso`).

use super::*;

#[tokio::test]
async fn sso_goes_to_the_organizations_cognito_domain_with_pkce_state_and_nonce() {
    let w = world();
    let mut acme = sample_org();
    acme.sign_in.providers = vec!["Microsoft".into(), "SignInWithApple".into()];
    w.registry.insert_org(acme);
    let page = w.get(ACME, "/login?return_to=%2Fprojects%2F9").await;
    assert!(
        page.body.contains(
            "href=\"/sso/Microsoft?return_to=%2Fprojects%2F9\">Sign in with Microsoft</a>"
        ),
        "{}",
        page.body
    );
    assert!(page.body.contains(">Sign in with Apple</a>"));
    assert!(
        page.body.contains("type=\"password\""),
        "password sign-in stays beside SSO"
    );
    assert_eq!(
        w.get(ACME, "/sso/Google").await.status,
        StatusCode::NOT_FOUND
    );
    let start = w
        .get(ACME, "/sso/microsoft?return_to=%2Fprojects%2F9")
        .await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    let url = start.location().to_owned();
    assert!(
        url.starts_with("https://acme-3a4b5c6d.auth.eu-west-1.amazoncognito.com/oauth2/authorize?"),
        "{url}"
    );
    let (state, nonce, verifier, _) = pending(&start);
    assert_eq!(query_of(&url, "identity_provider"), "Microsoft");
    assert_eq!(query_of(&url, "state"), state);
    assert_eq!(query_of(&url, "nonce"), nonce);
    assert_eq!(query_of(&url, "code_challenge"), pkce_challenge(&verifier));
    assert_eq!(query_of(&url, "code_challenge_method"), "S256");
    assert_eq!(
        query_of(&url, "redirect_uri"),
        "https://acme.app.example.com/oauth/callback"
    );
    let set = start
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-oauth"))
        .expect("cookie");
    assert!(
        set.contains("Max-Age=600") && set.contains("HttpOnly") && set.contains("Secure"),
        "{set}"
    );

    // Back from Cognito with the code: exchanged with the verifier, signed in.
    let cookie = start.cookie("__Host-oauth").expect("cookie");
    *w.exchange.id_token.lock().expect("token") = format!("id:{SAMPLE_POOL}:hank:{nonce}");
    let back = w
        .call(
            Method::GET,
            ACME,
            &format!("/oauth/callback?code=good&state={state}"),
            &[("__Host-oauth", &cookie)],
            None,
        )
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    assert_eq!(back.location(), "https://acme.app.example.com/projects/9");
    assert!(back.cookie("__Host-session").is_some());
    assert_eq!(
        back.cookie("__Host-oauth").as_deref(),
        Some(""),
        "the pending sign-in is cleared"
    );
    let sent = w.exchange.sent.lock().expect("sent").clone();
    assert_eq!(
        sent,
        [(
            "https://acme-3a4b5c6d.auth.eu-west-1.amazoncognito.com".to_owned(),
            "good".to_owned(),
            "https://acme.app.example.com/oauth/callback".to_owned(),
            verifier.clone()
        )]
    );
}

#[tokio::test]
async fn a_callback_that_is_not_ours_signs_nobody_in() {
    let w = world();
    let mut acme = sample_org();
    acme.sign_in.providers = vec!["Microsoft".into()];
    w.registry.insert_org(acme);
    let start = w.get(ACME, "/sso/Microsoft").await;
    let (state, nonce, _, _) = pending(&start);
    let cookie = start.cookie("__Host-oauth").expect("cookie");
    let callback = |path: String, with_cookie: bool| {
        let cookie = cookie.clone();
        let w = &w;
        async move {
            let cookies: Vec<(&str, &str)> = if with_cookie {
                vec![("__Host-oauth", cookie.as_str())]
            } else {
                vec![]
            };
            w.call(Method::GET, ACME, &path, &cookies, None).await
        }
    };
    *w.exchange.id_token.lock().expect("token") = format!("id:{SAMPLE_POOL}:hank:{nonce}");
    // No pending sign-in, another state, no code, a code the endpoint refuses.
    for (path, with_cookie, status) in [
        (
            format!("/oauth/callback?code=good&state={state}"),
            false,
            StatusCode::BAD_REQUEST,
        ),
        (
            "/oauth/callback?code=good&state=forged".to_owned(),
            true,
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/oauth/callback?state={state}"),
            true,
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/oauth/callback?code=bad&state={state}"),
            true,
            StatusCode::BAD_GATEWAY,
        ),
    ] {
        let a = callback(path.clone(), with_cookie).await;
        assert_eq!(a.status, status, "{path}");
        assert!(a.cookie("__Host-session").is_none(), "{path}");
    }
    // A token with another nonce, or of another pool.
    for token in [
        format!("id:{SAMPLE_POOL}:hank:other"),
        format!("id:{GLOBEX_POOL}:hank:{nonce}"),
    ] {
        *w.exchange.id_token.lock().expect("token") = token.clone();
        let a = callback(format!("/oauth/callback?code=good&state={state}"), true).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{token}");
        assert!(a.cookie("__Host-session").is_none());
    }
    // The provider's sign-in refused by a trigger: its words for the person.
    let a = callback(
        format!("/oauth/callback?error=access_denied&error_description={}&state={state}", crate::web::encode("PreSignUp failed with error Your Microsoft account does not confirm its e-mail address: ask your administrator to link it. ")),
        true,
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(
        a.body.contains("ask your administrator to link it."),
        "{}",
        a.body
    );
    let a = callback(
        format!("/oauth/callback?error=server_error&error_description=internal&state={state}"),
        true,
    )
    .await;
    assert!(a.body.contains("did not finish") && !a.body.contains("internal"));
}

/// A crafted callback link (no pending sign-in in this browser, or another state) carrying
/// an `error_description` that reads like a trigger's refusal: the state is checked first,
/// and the page is the one neutral "expired" page, with none of the link's words.
#[tokio::test]
async fn a_callback_without_our_state_shows_nothing_of_its_query() {
    let w = world();
    let mut acme = sample_org();
    acme.sign_in.providers = vec!["Microsoft".into()];
    w.registry.insert_org(acme);
    let start = w.get(ACME, "/sso/Microsoft").await;
    let (state, _, _, _) = pending(&start);
    let cookie = start.cookie("__Host-oauth").expect("cookie");
    let planted = crate::web::encode(
        "PreSignUp failed with error Your account moved: call +1 555 0100 to restore it. ",
    );
    let neutral = w
        .call(
            Method::GET,
            ACME,
            "/oauth/callback?code=good&state=forged",
            &[("__Host-oauth", &cookie)],
            None,
        )
        .await;
    for (path, cookies) in [
        (
            format!(
                "/oauth/callback?error=access_denied&error_description={planted}&state={state}"
            ),
            vec![],
        ),
        (
            format!("/oauth/callback?error=access_denied&error_description={planted}&state=forged"),
            vec![("__Host-oauth", cookie.as_str())],
        ),
        (
            format!("/oauth/callback?error=access_denied&error_description={planted}"),
            vec![("__Host-oauth", cookie.as_str())],
        ),
    ] {
        let a = w.call(Method::GET, ACME, &path, &cookies, None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            !a.body.contains("555") && !a.body.contains("moved"),
            "{path}: {}",
            a.body
        );
        assert!(a.body.contains("That sign-in expired"), "{}", a.body);
        // The same page, but for the form's fresh CSRF token.
        let masked = |body: &str| {
            body.lines()
                .filter(|l| !l.contains("name=\"csrf\""))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            masked(&a.body),
            masked(&neutral.body),
            "one neutral page: {path}"
        );
        assert!(a.cookie("__Host-session").is_none());
    }
}

#[tokio::test]
async fn an_sso_only_organization_shows_its_providers_and_no_password_form() {
    let w = world();
    let page = w.get("hooli.app.example.com", "/login").await;
    assert!(page.body.contains(">Sign in with Microsoft</a>"));
    assert!(!page.body.contains("type=\"password\""));
    // Break-glass: the admins keep a password form (the trigger refuses anyone else's).
    let mut hooli = w
        .registry
        .org(&OrgId::from("org-hooli".to_owned()))
        .expect("hooli");
    hooli.sign_in.admins_keep_password = true;
    let w = world();
    w.registry.insert_org(hooli);
    let page = w.get("hooli.app.example.com", "/login").await;
    assert!(page.body.contains("type=\"password\""));
    assert!(page
        .body
        .contains("Password sign-in is for administrators only."));
    let a = w
        .post(
            "hooli.app.example.com",
            "/login",
            &[("username", "nobody"), ("password", "x")],
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::UNAUTHORIZED,
        "the password reaches Cognito"
    );
}

#[tokio::test]
async fn a_saml_connection_is_a_button_named_after_its_idp_and_goes_to_it() {
    use shared::domain::saml::{checked_connection, fixtures, SamlInput};
    let w = world();
    let mut acme = sample_org();
    let input = SamlInput {
        metadata_xml: Some(fixtures::okta(fixtures::GOOD_CERT)),
        preset: Some("okta".into()),
        ..SamlInput::default()
    };
    acme.sign_in
        .sso
        .saml
        .push(checked_connection("corp", &input, 1_700_000_000).expect("connection"));
    acme.sign_in.providers = vec!["saml-corp".into()];
    w.registry.insert_org(acme);
    let page = w.get(ACME, "/login").await;
    assert!(
        page.body
            .contains("href=\"/sso/saml-corp\">Sign in with Okta</a>"),
        "{}",
        page.body
    );
    let start = w.get(ACME, "/sso/saml-corp").await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    assert_eq!(query_of(start.location(), "identity_provider"), "saml-corp");
}
