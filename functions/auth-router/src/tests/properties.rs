use super::*;
use proptest::prelude::*;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Any Host and path: no panic; a redirect only to the host's own organization (or a
    /// relative path); a page of one organization only on its own host.
    #[test]
    fn any_host_and_path_stays_on_the_allowlist(
        host in prop_oneof![
            Just(ACME.to_owned()),
            Just(GLOBEX.to_owned()),
            Just(BASE.to_owned()),
            "[a-zA-Z0-9.:\\[\\]-]{0,80}",
            "[a-z]{1,10}\\.app\\.example\\.com(\\.[a-z]{1,5})?",
        ],
        path in prop_oneof![
            Just("/login".to_owned()),
            Just("/".to_owned()),
            "/[ -~]{0,60}",
        ],
        post in any::<bool>(),
        field in prop_oneof![
            "[ -~]{0,40}",
            // After an allowed app URL: anything, line breaks included.
            "https://portal\\.globex\\.example/[\\x00-\\x7f]{0,20}",
        ],
    ) {
        let w = world();
        let mut globex = w.registry.org(&OrgId::from("org-globex".to_owned())).expect("globex");
        globex.sign_in.app_urls = vec!["https://portal.globex.example/".into()];
        w.registry.insert_org(globex);
        let method = if post { Method::POST } else { Method::GET };
        let Ok(uri) = path.parse::<lambda_http::http::Uri>() else { return Ok(()) };
        let _ = uri;
        let a = block_on(async {
            if post {
                w.post(&host, &path, &[("username", "hank"), ("password", "Right-Password-1"), ("return_to", &field), ("identifier", &field)]).await
            } else {
                w.call(method, &host, &path, &[], None).await
            }
        });
        let location = a.location().to_owned();
        if !location.is_empty() {
            let allowed = location.starts_with('/') && !location.starts_with("//")
                || location.starts_with("https://acme.app.example.com/")
                || location.starts_with("https://globex.app.example.com/")
                || location.starts_with("https://portal.globex.example/")
                    && host.to_ascii_lowercase().starts_with("globex.");
            prop_assert!(allowed, "{host} {path} -> {location}");
            if location.starts_with("https://acme.") {
                prop_assert!(host.to_ascii_lowercase().starts_with("acme.") || host.to_ascii_lowercase().starts_with(BASE), "{host} -> {location}");
            }
        }
        let lower = host.to_ascii_lowercase();
        if a.body.contains("Acme Corporation") {
            prop_assert!(lower.starts_with("acme.app.example.com"), "{host}");
        }
        if a.body.contains("Globex Inc") {
            prop_assert!(lower.starts_with("globex.app.example.com"), "{host}");
        }
    }
}
