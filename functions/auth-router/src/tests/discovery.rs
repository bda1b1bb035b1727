//! The main domain: finding a person's organization (`crate::discovery`).

use super::*;

#[tokio::test]
async fn discovery_sends_a_person_to_their_organization_and_reveals_no_other() {
    let w = world();
    let page = w.get(BASE, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("name=\"identifier\""));
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp");
    assert!(
        csp.contains("form-action 'self' https://*.app.example.com"),
        "{csp}"
    );
    let a = w
        .post(BASE, "/", &[("identifier", "Hank@ACME.example")])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        a.location(),
        "https://acme.app.example.com/login?login_hint=hank%40acme.example"
    );
    for typed in ["acme", "ACME", "acme.app.example.com"] {
        let a = w.post(BASE, "/", &[("identifier", typed)]).await;
        assert_eq!(
            a.location(),
            "https://acme.app.example.com/login",
            "{typed}"
        );
    }
    // A deep link keeps its path.
    let deep = w.get(BASE, "/projects/42?tab=files").await;
    assert!(deep
        .body
        .contains("name=\"return_to\" value=\"/projects/42?tab=files\""));
    let a = w
        .post(
            BASE,
            "/",
            &[
                ("identifier", "hank@acme.example"),
                ("return_to", "/projects/42?tab=files"),
            ],
        )
        .await;
    assert_eq!(
        a.location(),
        "https://acme.app.example.com/login?login_hint=hank%40acme.example&return_to=%2Fprojects%2F42%3Ftab%3Dfiles"
    );
    // Nothing found: one neutral answer, whatever was typed.
    let neutral: Vec<Answer> = futures_join(
        &w,
        &[
            "someone@nowhere.example",
            "nowhere",
            "auth",
            "pending",
            "not an address@",
            "pending.example@x",
        ],
    )
    .await;
    for a in &neutral {
        assert_eq!(a.status, StatusCode::OK);
        assert!(a.body.contains("could not find your organization"));
        assert!(!a.body.contains("Acme") && !a.body.contains("Globex"));
    }
}

/// A domain claimed before proofs were required but still waiting for its DNS proof (an
/// admin's squat), and a public mail domain claimed all the same: discovery sends nobody to
/// that organization's login page, and shows the one neutral answer.
#[tokio::test]
async fn discovery_trusts_only_domains_in_use() {
    let w = world();
    let mut squatter = org("squat", "org-squat", "eu-west-1_Squat", "Squatter");
    squatter.email_domains = vec![
        shared::domain::EmailDomain::parse("victim.example").expect("domain"),
        shared::domain::EmailDomain::parse("gmail.com").expect("domain"),
    ];
    squatter.domain_proofs = vec![shared::domain::DomainProof::pending(
        &shared::domain::EmailDomain::parse("victim.example").expect("domain"),
    )];
    w.registry.insert_org(squatter.clone());
    for typed in ["ceo@victim.example", "someone@gmail.com"] {
        let a = w.post(BASE, "/", &[("identifier", typed)]).await;
        assert_eq!(a.status, StatusCode::OK, "{typed}");
        assert!(
            a.body.contains("could not find your organization"),
            "{typed}"
        );
        assert!(
            !a.body.contains("Squatter") && !a.body.contains("squat."),
            "{typed}"
        );
    }
    // Once proven, the same domain leads there.
    squatter.domain_proofs[0].verified_at = Some(1);
    w.registry.insert_org(squatter);
    let a = w
        .post(BASE, "/", &[("identifier", "ceo@victim.example")])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(a
        .location()
        .starts_with("https://squat.app.example.com/login"));
}

async fn futures_join(w: &World, typed: &[&str]) -> Vec<Answer> {
    let mut out = Vec::new();
    for t in typed {
        out.push(w.post(BASE, "/", &[("identifier", t)]).await);
    }
    out
}
