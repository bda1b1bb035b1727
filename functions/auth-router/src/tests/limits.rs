//! Attempt limits per address and per organization across the flows.

use super::*;

#[tokio::test]
async fn passwords_resets_and_discovery_are_limited_per_address_and_organization() {
    let w = world();
    let limits = w.app.limits;
    let retry_after = |a: &Answer| {
        a.headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    // One address guessing passwords: Cognito sees each attempt with the person's address,
    // until the address's limit; then a page that says so, and no Cognito call.
    for _ in 0..limits.password.per_address {
        let a = w
            .post_from(
                "203.0.113.5",
                ACME,
                "/login",
                &[("username", "hank"), ("password", "wrong")],
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let before = w.cognito.calls().len();
    let limited = w
        .post_from(
            "203.0.113.5",
            ACME,
            "/login",
            &[("username", "hank"), ("password", "wrong")],
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited.body.contains("Too many attempts"),
        "{}",
        limited.body
    );
    assert!(limited.body.contains("name=\"password\""), "the form again");
    let wait = retry_after(&limited).expect("Retry-After");
    assert!((1..=limits.window_secs).contains(&wait), "{wait}");
    assert_eq!(w.cognito.calls().len(), before, "Cognito not asked");
    let contexts = w.cognito.contexts.lock().expect("contexts").clone();
    assert!(contexts
        .iter()
        .all(|c| c.ip_address.as_deref() == Some("203.0.113.5")));
    // Another address of the same organization still signs in; an IPv6 neighbour in the
    // same /64 counts as the same address.
    let other = w
        .post_from(
            "198.51.100.7",
            ACME,
            "/login",
            &[("username", "hank"), ("password", "wrong")],
        )
        .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
    for i in 0..=limits.password.per_address {
        let a = w
            .post_from(
                &format!("2001:db8:0:1::{i:x}"),
                ACME,
                "/login",
                &[("username", "hank"), ("password", "wrong")],
            )
            .await;
        let expected = if i < limits.password.per_address {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(a.status, expected, "attempt {i}");
    }

    // Reset codes are mail: fewer per address, with the device data when the page sent it.
    for _ in 0..limits.forgot_password.per_address {
        let a = w
            .post_from(
                "203.0.113.6",
                ACME,
                "/forgot-password",
                &[("username", "hank"), ("user_context_data", "device")],
            )
            .await;
        assert_eq!(a.status, StatusCode::OK);
    }
    let last = w.cognito.contexts.lock().expect("contexts").last().cloned();
    assert_eq!(
        last,
        Some(UserContext {
            ip_address: Some("203.0.113.6".into()),
            encoded_data: Some("device".into())
        })
    );
    let limited = w
        .post_from(
            "203.0.113.6",
            ACME,
            "/forgot-password",
            &[("username", "hank")],
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&limited).is_some());
    assert!(
        limited.body.contains("Too many attempts"),
        "{}",
        limited.body
    );

    // Discovery on the main domain.
    for _ in 0..limits.discovery.per_address {
        let a = w
            .post_from(
                "203.0.113.8",
                "app.example.com",
                "/",
                &[("identifier", "nobody@unknown.example")],
            )
            .await;
        assert_eq!(a.status, StatusCode::OK);
    }
    let limited = w
        .post_from(
            "203.0.113.8",
            "app.example.com",
            "/",
            &[("identifier", "nobody@unknown.example")],
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&limited).is_some());
}

#[tokio::test]
async fn an_organization_under_attack_does_not_take_the_others_quota() {
    let mut w = world();
    w.app.limits.password.per_organization = 5;
    for i in 0..5 {
        let a = w
            .post_from(
                &format!("198.51.100.{i}"),
                ACME,
                "/login",
                &[("username", "hank"), ("password", "wrong")],
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let limited = w
        .post_from(
            "198.51.100.99",
            ACME,
            "/login",
            &[("username", "hank"), ("password", "wrong")],
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    // The organization's counter is its own: another organization's people are not limited.
    let other = w
        .post_from(
            "198.51.100.99",
            "globex.app.example.com",
            "/login",
            &[("username", "hank"), ("password", "wrong")],
        )
        .await;
    assert_ne!(
        other.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        other.body
    );
}
