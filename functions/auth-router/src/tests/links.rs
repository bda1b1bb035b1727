//! Activation links and e-mail or username confirmation links (`crate::links`).

use super::*;

/// An invited person with an activation link; the token of the link.
fn invited_with_link(w: &World, expires_in: i64) -> (shared::domain::Person, String) {
    let mut lia = sample_person(
        "lia",
        "lia@acme.example",
        &["member"],
        PersonStatus::Invited,
    );
    let secret = "ab".repeat(32);
    lia.activation_link = Some(shared::domain::LinkToken {
        sha256: shared::domain::LinkToken::digest(&secret),
        expires_at: shared::domain::now_epoch() + expires_in,
    });
    w.registry.insert_person(lia.clone());
    let token = format!("{}.{secret}", lia.id);
    (lia, token)
}

#[tokio::test]
async fn an_activation_link_lets_the_person_choose_a_password_once() {
    let w = world();
    let (_, token) = invited_with_link(&w, 3600);
    let path = format!("/activate/{token}");
    let page = w.get(ACME, &path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Welcome, <strong>lia</strong>"));
    assert!(page.body.contains(&format!("action=\"{path}\"")));
    let differ = w
        .post(
            ACME,
            &path,
            &[
                ("new_password", "Brand-New-Pass-1"),
                ("confirm_password", "Brand-New-Pass-2"),
            ],
        )
        .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);
    let ok = w
        .post(
            ACME,
            &path,
            &[
                ("new_password", "Brand-New-Pass-1"),
                ("confirm_password", "Brand-New-Pass-1"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert!(ok.cookie("__Host-session").is_some());
    assert_eq!(w.pools.calls(), [format!("set_password {SAMPLE_POOL} lia")]);
    let lia = w.registry.stored_person("lia").expect("lia");
    assert_eq!(lia.status, PersonStatus::Active);
    assert!(lia.activation_link.is_none());
    assert!(w
        .registry
        .audit_actions()
        .contains(&"person.activation_link_used".to_owned()));
    // Once only.
    for again in [
        w.get(ACME, &path).await,
        w.post(
            ACME,
            &path,
            &[
                ("new_password", "Brand-New-Pass-1"),
                ("confirm_password", "Brand-New-Pass-1"),
            ],
        )
        .await,
    ] {
        assert_eq!(again.status, StatusCode::GONE);
        assert!(again.body.contains("already been used"));
    }
    assert_eq!(w.pools.calls().len(), 1);
}

#[tokio::test]
async fn expired_forged_and_foreign_activation_links_say_so() {
    let w = world();
    let (lia, token) = invited_with_link(&w, -1);
    let expired = w.get(ACME, &format!("/activate/{token}")).await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.body.contains("expired") && expired.body.contains("ask your administrator"));
    let posted = w
        .post(
            ACME,
            &format!("/activate/{token}"),
            &[
                ("new_password", "Brand-New-Pass-1"),
                ("confirm_password", "Brand-New-Pass-1"),
            ],
        )
        .await;
    assert_eq!(posted.status, StatusCode::GONE);
    let (_, token) = invited_with_link(&w, 3600);
    for bad in [
        format!("{}.{}", lia.id, "cd".repeat(32)),
        "garbage".to_owned(),
        format!("{}.short", lia.id),
        "per-00000000000000000000000000000000.".to_owned() + &"ab".repeat(32),
    ] {
        let a = w.get(ACME, &format!("/activate/{bad}")).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{bad}");
        assert!(a.body.contains("not valid"));
    }
    // acme's link on globex's subdomain is nobody's.
    let a = w.get(GLOBEX, &format!("/activate/{token}")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(w.pools.calls().is_empty());
}

#[tokio::test]
async fn a_new_address_is_confirmed_with_a_button_once() {
    let w = world();
    let mut hank = sample_person(
        "hank",
        "hank@acme.example",
        &["admin"],
        PersonStatus::Active,
    );
    hank.pending_email =
        Some(shared::domain::EmailAddress::parse("h.new@acme.example").expect("valid"));
    let secret = "cd".repeat(32);
    hank.email_link = Some(shared::domain::LinkToken {
        sha256: shared::domain::LinkToken::digest(&secret),
        expires_at: shared::domain::now_epoch() + 3600,
    });
    w.registry.insert_person(hank.clone());
    let path = format!("/confirm-email/{}.{secret}", hank.id);
    let page = w.get(ACME, &path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<strong>h.new@acme.example</strong>"));
    assert_eq!(
        w.registry
            .stored_person("hank")
            .expect("hank")
            .email
            .as_str(),
        "hank@acme.example",
        "opening the link confirms nothing"
    );
    let done = w.post(ACME, &path, &[]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done
        .body
        .contains("h.new@acme.example is now the e-mail address"));
    let stored = w.registry.stored_person("hank").expect("hank");
    assert_eq!(stored.email.as_str(), "h.new@acme.example");
    assert!(stored.pending_email.is_none());
    assert_eq!(
        w.pools.calls(),
        [format!("set_email {SAMPLE_POOL} hank h.new@acme.example")]
    );
    let again = w.post(ACME, &path, &[]).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert_eq!(w.get(GLOBEX, &path).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_new_username_is_confirmed_and_then_signs_in_to_the_same_login() {
    let w = world();
    let mut hank = sample_person(
        "hank",
        "hank@acme.example",
        &["admin"],
        PersonStatus::Active,
    );
    hank.pending_username = Some("henry".into());
    let secret = "ef".repeat(32);
    hank.email_link = Some(shared::domain::LinkToken {
        sha256: shared::domain::LinkToken::digest(&secret),
        expires_at: shared::domain::now_epoch() + 3600,
    });
    w.registry.insert_person(hank.clone());
    // While it is pending, the new name signs nobody in.
    let early = w
        .post(
            ACME,
            "/login",
            &[("username", "henry"), ("password", "Right-Password-1")],
        )
        .await;
    assert_eq!(early.status, StatusCode::UNAUTHORIZED);
    let path = format!("/confirm-email/{}.{secret}", hank.id);
    let page = w.get(ACME, &path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("signs in as <strong>henry</strong>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("new e-mail address of"));
    let done = w.post(ACME, &path, &[]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("you sign in as henry"), "{}", done.body);
    let stored = w.registry.stored_person("hank").expect("hank");
    assert_eq!(stored.preferred_username.as_deref(), Some("henry"));
    assert!(stored.pending_username.is_none() && stored.email_link.is_none());
    assert_eq!(stored.id, hank.id, "the same person");
    assert_eq!(
        w.pools.calls(),
        [format!("set_preferred_username {SAMPLE_POOL} hank henry")]
    );
    // The new name (any case) signs in to the same Cognito login.
    let signed = w
        .post(
            ACME,
            "/login",
            &[("username", "Henry"), ("password", "Right-Password-1")],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    assert!(signed.cookie("__Host-session").is_some());
    let calls = w.cognito.calls();
    let last = calls
        .iter()
        .rfind(|c| c.starts_with("password "))
        .expect("a sign-in");
    assert!(last.ends_with(" hank"), "{calls:?}");
    assert_eq!(w.post(ACME, &path, &[]).await.status, StatusCode::GONE);
}
