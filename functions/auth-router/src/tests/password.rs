//! The password form and its enumeration rule, the challenges (new password, MFA code and
//! setup) and the forgotten password (`crate::password`).

use super::*;

#[tokio::test]
async fn the_login_page_has_labelled_fields_and_keeps_the_hint() {
    let w = world();
    let a = w
        .get(
            ACME,
            "/login?login_hint=hank%40acme.example&return_to=%2Fprojects%2F1",
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    for needle in [
        "<label for=\"username\">",
        "id=\"username\" name=\"username\"",
        "<label for=\"password\">",
        "id=\"password\" name=\"password\" type=\"password\"",
        "value=\"hank@acme.example\"",
        "name=\"return_to\" value=\"/projects/1\"",
        "href=\"/assets/theme.css\"",
    ] {
        assert!(a.body.contains(needle), "missing {needle}");
    }
    // A return_to that leaves the site is dropped.
    let a = w.get(ACME, "/login?return_to=%2F%2Fevil.test").await;
    assert!(a.body.contains("name=\"return_to\" value=\"\""));
}

#[tokio::test]
async fn a_stranger_learns_nothing_from_the_password_form() {
    let w = world();
    let unknown = w
        .post(
            ACME,
            "/login",
            &[("username", "nobody"), ("password", "Wrong-Password-1")],
        )
        .await;
    let wrong = w
        .post(
            ACME,
            "/login",
            &[("username", "nobody"), ("password", "Other-Password-2")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.without_csrf(), wrong.without_csrf());
    // The same username typed: a known person with a wrong password, a deactivated one.
    for (user, password) in [
        ("hank", "Wrong-Password-1"),
        ("dora", "Wrong-Password-1"),
        ("dora", "Right-Password-1"),
    ] {
        let known = w
            .post(
                ACME,
                "/login",
                &[("username", user), ("password", password)],
            )
            .await;
        let stranger = w
            .post(ACME, "/login", &[("username", user), ("password", "x")])
            .await;
        assert_eq!(known.status, StatusCode::UNAUTHORIZED, "{user}");
        assert_eq!(known.without_csrf(), stranger.without_csrf(), "{user}");
        assert!(known.body.contains("Incorrect username or password."));
        assert!(known.cookie("__Host-session").is_none());
    }
}

#[tokio::test]
async fn only_a_person_who_proved_the_password_learns_why_not() {
    let w = world();
    let a = w
        .post(
            ACME,
            "/login",
            &[("username", "uli"), ("password", "Right-Password-1")],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("no free licence for you"));
    assert!(a.cookie("__Host-session").is_none());
}

#[tokio::test]
async fn first_sign_in_sets_a_new_password_and_makes_the_person_active() {
    let w = world();
    let a = w
        .post(
            ACME,
            "/login",
            &[("username", "ivy"), ("password", "Temp-Password-1")],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    for needle in [
        "name=\"new_password\"",
        "name=\"confirm_password\"",
        "at least 12 characters",
        "value=\"session-ivy\"",
    ] {
        assert!(a.body.contains(needle), "missing {needle}");
    }
    let fields = |new: &'static str, again: &'static str| {
        vec![
            ("username", "ivy"),
            ("session", "session-ivy"),
            ("new_password", new),
            ("confirm_password", again),
        ]
    };
    let differ = w
        .post(
            ACME,
            "/login/new-password",
            &fields("Brand-New-Pass-1", "Brand-New-Pass-2"),
        )
        .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);
    assert!(differ.body.contains("not the same"));
    let weak = w
        .post(ACME, "/login/new-password", &fields("short", "short"))
        .await;
    assert!(weak
        .body
        .contains("Your password needs at least 12 characters."));
    assert_eq!(
        w.registry.stored_person("ivy").expect("ivy").status,
        PersonStatus::Invited
    );
    let ok = w
        .post(
            ACME,
            "/login/new-password",
            &fields("Brand-New-Pass-1", "Brand-New-Pass-1"),
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert!(ok.cookie("__Host-session").is_some());
    assert_eq!(
        w.registry.stored_person("ivy").expect("ivy").status,
        PersonStatus::Active
    );
    assert!(w
        .registry
        .audit_actions()
        .contains(&"person.first_login".to_owned()));
    let expired = w
        .post(
            ACME,
            "/login/new-password",
            &[
                ("username", "ivy"),
                ("session", "old"),
                ("new_password", "Brand-New-Pass-1"),
                ("confirm_password", "Brand-New-Pass-1"),
            ],
        )
        .await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(expired.body.contains("took too long"));
}

#[tokio::test]
async fn mfa_asks_for_the_code_and_sets_up_an_authenticator() {
    let w = world();
    let a = w
        .post(
            ACME,
            "/login",
            &[("username", "mia"), ("password", "Right-Password-1")],
        )
        .await;
    assert!(a.body.contains("name=\"code\""));
    let wrong = w
        .post(
            ACME,
            "/login/mfa",
            &[
                ("username", "mia"),
                ("session", "session-mia"),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let bad = w
        .post(
            ACME,
            "/login/mfa",
            &[
                ("username", "mia"),
                ("session", "session-mia"),
                ("code", "12ab"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let ok = w
        .post(
            ACME,
            "/login/mfa",
            &[
                ("username", "mia"),
                ("session", "session-mia"),
                ("code", "123456"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);

    let setup = w
        .post(
            ACME,
            "/login",
            &[("username", "max"), ("password", "Right-Password-1")],
        )
        .await;
    assert!(setup.body.contains("<svg"), "a QR code");
    assert!(setup.body.contains("JBSWY3DPEHPK3PXP"));
    assert!(setup.body.contains("value=\"session-max-2\""));
    let wrong = w
        .post(
            ACME,
            "/login/mfa-setup",
            &[
                ("username", "max"),
                ("session", "session-max-2"),
                ("secret", "JBSWY3DPEHPK3PXP"),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("<svg") && wrong.body.contains("not right"));
    let ok = w
        .post(
            ACME,
            "/login/mfa-setup",
            &[
                ("username", "max"),
                ("session", "session-max-2"),
                ("secret", "JBSWY3DPEHPK3PXP"),
                ("code", "654321"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert!(w
        .cognito
        .calls()
        .contains(&"totp-finish max session-max-2 654321".to_owned()));
}

#[tokio::test]
async fn a_forgotten_password_gets_the_same_answer_for_anyone() {
    let w = world();
    let known = w
        .post(ACME, "/forgot-password", &[("username", "hank")])
        .await;
    let unknown = w
        .post(ACME, "/forgot-password", &[("username", "hank")])
        .await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(known.without_csrf(), unknown.without_csrf());
    assert!(known.body.contains("If you have an account here"));
    let confirm = |code: &'static str, new: &'static str| {
        vec![
            ("username", "hank"),
            ("code", code),
            ("new_password", new),
            ("confirm_password", new),
        ]
    };
    let wrong = w
        .post(
            ACME,
            "/forgot-password/confirm",
            &confirm("999999", "Brand-New-Pass-1"),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("wrong or has expired"));
    let weak = w
        .post(
            ACME,
            "/forgot-password/confirm",
            &confirm("111111", "weakpassword"),
        )
        .await;
    assert!(weak.body.contains("Your password needs"));
    let ok = w
        .post(
            ACME,
            "/forgot-password/confirm",
            &confirm("111111", "Brand-New-Pass-1"),
        )
        .await;
    assert_eq!(
        (ok.status, ok.location()),
        (StatusCode::SEE_OTHER, "/login?reset=1")
    );
    let page = w.get(ACME, "/login?reset=1").await;
    assert!(page.body.contains("Your password is changed"));
}

#[tokio::test]
async fn a_strangers_reset_request_does_not_lock_a_lazy_person_out() {
    use shared::domain::migration::LegacyHash;
    use shared::domain::ports::LegacyPasswords;
    use shared::testing::legacy_hashes::{BCRYPT, PASSWORD};
    let w = world();
    w.registry.insert_org(shared::testing::sample_lazy_org());
    let leo = sample_person("leo", "leo@acme.example", &["member"], PersonStatus::Active);
    w.registry
        .put_legacy_hash(&leo.org_id, "leo", &LegacyHash::new(BCRYPT))
        .await
        .expect("stored");
    w.registry.insert_person(leo);
    // A wrong password at the waiting login: the one answer, nothing set.
    let wrong = w
        .post(
            ACME,
            "/login",
            &[("username", "leo"), ("password", "not-it")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Incorrect username or password."));
    assert!(!w
        .pools
        .calls()
        .iter()
        .any(|c| c.starts_with("set_password")));
    // The legacy password: it becomes the login's, and leo is signed in.
    let right = w
        .post(
            ACME,
            "/login",
            &[("username", "leo"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.body);
    assert!(right.cookie("__Host-session").is_some());
    assert!(w
        .pools
        .calls()
        .iter()
        .any(|c| c == &format!("set_password {SAMPLE_POOL} leo")));
}
