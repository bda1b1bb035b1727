use super::fixtures::{adfs, entra, okta, EXPIRED_CERT, EXPIRING_CERT, GOOD_CERT};
use super::*;

/// 2027-01-01T00:00:00Z: the fixtures' certificates are dated around it.
const NOW: i64 = 1_798_761_600;

fn refusal(xml: &str) -> String {
    match check_metadata(xml, NOW) {
        Err(Error::InvalidInput { rule, .. }) => rule.to_owned(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn okta_entra_and_adfs_metadata_pass_with_their_entity_id_endpoint_and_dates() {
    let o = check_metadata(&okta(GOOD_CERT), NOW).expect("okta");
    assert_eq!(o.entity_id, "http://www.okta.com/exk1fcia6d6EMsf331d8");
    assert!(o.sso_url.starts_with("https://acme.okta.com/"));
    assert_eq!(o.certificates.len(), 1);
    // 2045-01-01T00:00:00Z, read from the certificate itself.
    assert_eq!(o.certificates[0].not_after, 2_366_841_600);
    assert!(o.certificates[0].subject.contains("okta.example.test"));

    let e = check_metadata(&entra(GOOD_CERT), NOW).expect("entra");
    assert_eq!(
        e.entity_id,
        "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/"
    );
    assert_eq!(e.certificates.len(), 1, "a KeyDescriptor without use signs");

    // ADFS: the encryption certificate is not a signing one.
    let a = check_metadata(&adfs(EXPIRING_CERT, EXPIRED_CERT), NOW).expect("adfs");
    assert_eq!(
        a.entity_id,
        "http://adfs.corp.example.test/adfs/services/trust"
    );
    assert_eq!(a.sso_url, "https://adfs.corp.example.test/adfs/ls/");
    assert_eq!(a.certificates.len(), 1);
    assert!(a.certificates[0].subject.contains("adfs.example.test"));
    assert!(a.certificates[0].expiring(NOW), "expires 2027-01-20");
    assert!(!o.certificates[0].expiring(NOW));
}

#[test]
fn a_dtd_is_refused_so_neither_xxe_nor_billion_laughs_get_in() {
    let xxe = format!(
        r#"<?xml version="1.0"?><!DOCTYPE md:EntityDescriptor [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>{}"#,
        okta(GOOD_CERT)
            .trim_start_matches(r#"<?xml version="1.0" encoding="UTF-8"?>"#)
            .replace("exk1fcia6d6EMsf331d8\"", "&xxe;\"")
    );
    assert!(refusal(&xxe).contains("document type declaration"));
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&lol9;"/>"#;
    assert!(refusal(laughs).contains("document type declaration"));
    // Even a harmless internal DTD: nothing with a DOCTYPE is parsed at all.
    let plain_dtd = format!(
        "<!DOCTYPE x>{}",
        okta(GOOD_CERT).trim_start_matches(r#"<?xml version="1.0" encoding="UTF-8"?>"#)
    );
    assert!(refusal(&plain_dtd).contains("document type declaration"));
}

#[test]
fn each_missing_part_is_named() {
    assert!(refusal("<md:EntityDescriptor").contains("not well-formed"));
    let wrong_ns = okta(GOOD_CERT).replace(
        "urn:oasis:names:tc:SAML:2.0:metadata",
        "urn:example:not-saml",
    );
    assert!(refusal(&wrong_ns).contains("not SAML 2.0 metadata"));
    let http = okta(GOOD_CERT).replace("https://acme.okta.com", "http://acme.okta.com");
    assert!(refusal(&http).contains("https://"), "{}", refusal(&http));
    let no_cert = okta(GOOD_CERT).replace(
        &format!("<ds:X509Certificate>{GOOD_CERT}</ds:X509Certificate>"),
        "",
    );
    assert!(refusal(&no_cert).contains("no signing certificate"));
    let only_encryption = okta(GOOD_CERT).replace("use=\"signing\"", "use=\"encryption\"");
    assert!(refusal(&only_encryption).contains("no signing certificate"));
    assert!(refusal(&okta(EXPIRED_CERT)).contains("expired"));
    assert!(refusal(&okta("bm90IGEgY2VydA==")).contains("not a base64 X.509"));
    let no_entity =
        okta(GOOD_CERT).replace("entityID=\"http://www.okta.com/exk1fcia6d6EMsf331d8\"", "");
    assert!(refusal(&no_entity).contains("entity ID"));
    let sp_only =
        adfs(GOOD_CERT, GOOD_CERT).replace("IDPSSODescriptor", "AttributeAuthorityDescriptor");
    assert!(refusal(&sp_only).contains("no identity provider"));
    let big = format!(
        "{}<!--{}-->",
        okta(GOOD_CERT),
        "x".repeat(MAX_METADATA_BYTES)
    );
    assert!(refusal(&big).contains("512 KiB"));
}

#[test]
fn connection_names_cannot_collide_with_each_other_or_the_other_providers() {
    assert_eq!(check_name(" okta ").expect("ok"), "okta");
    assert_eq!(provider_name("corp-adfs"), "saml-corp-adfs");
    for bad in [
        "",
        "Okta",
        "1okta",
        "okta-",
        "ok ta",
        "ok_ta",
        &"a".repeat(28),
    ] {
        assert!(check_name(bad).is_err(), "{bad}");
    }
    let longest = provider_name(&"a".repeat(MAX_NAME));
    assert_eq!(longest.len(), 32, "Cognito's longest provider name");
    // No built-in provider's name has the prefix, so none can be a connection's.
    for builtin in crate::domain::organization::Provider::ALL {
        assert!(!builtin
            .name()
            .to_ascii_lowercase()
            .starts_with(PROVIDER_PREFIX));
    }
}

#[test]
fn claim_names_start_from_the_presets_and_take_the_admins_own() {
    let entra = claim_names(&SamlInput {
        preset: Some("entra".into()),
        ..Default::default()
    })
    .expect("entra");
    assert_eq!(
        entra.0.email,
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
    );
    assert!(entra.0.groups.ends_with("/identity/claims/groups"));
    assert_eq!(entra.1.as_deref(), Some("entra"));
    let adfs = Preset::Adfs.claims();
    assert_eq!(adfs.groups, "http://schemas.xmlsoap.org/claims/Group");
    assert_eq!(Preset::GoogleWorkspace.claims().given_name, "firstName");
    let own = claim_names(&SamlInput {
        preset: Some("okta".into()),
        email_claim: Some("mail".into()),
        ..Default::default()
    })
    .expect("own");
    assert_eq!(own.0.email, "mail");
    assert_eq!(own.0.family_name, "lastName");
    assert!(claim_names(&SamlInput {
        preset: Some("ping".into()),
        ..Default::default()
    })
    .is_err());
}

#[test]
fn the_pool_gets_the_metadata_the_options_and_no_email_verified() {
    let input = SamlInput {
        metadata_xml: Some(okta(GOOD_CERT)),
        sign_requests: true,
        encrypted_assertions: true,
        ..Default::default()
    };
    let c = checked_connection("okta", &input, NOW).expect("checked");
    assert!(!c.idp_initiated, "IdP-initiated sign-in is off by default");
    let (details, mapping) = provider_details(&c, input.metadata_xml.as_deref().unwrap_or(""));
    let get = |k: &str| {
        details
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    assert!(get("MetadataFile").is_some_and(|x| x.contains("exk1fcia6d6EMsf331d8")));
    assert_eq!(get("MetadataURL"), None);
    assert_eq!(get("IDPInit"), Some("false"));
    assert_eq!(get("EncryptedResponses"), Some("true"));
    assert_eq!(get("RequestSigningAlgorithm"), Some("rsa-sha256"));
    assert!(!mapping.iter().any(|(a, _)| a == "email_verified"));
    assert!(mapping.contains(&("email".to_owned(), "email".to_owned())));
    let by_url = SamlInput {
        metadata_url: Some("https://acme.okta.com/app/exk1/sso/saml/metadata".into()),
        ..input.clone()
    };
    let c = checked_connection("okta", &by_url, NOW).expect("by url");
    let (details, _) = provider_details(&c, "");
    assert!(details.iter().any(|(k, _)| k == "MetadataURL"));
    assert!(!details.iter().any(|(k, _)| k == "MetadataFile"));
    for bad in [
        "http://acme.okta.com/metadata",
        "https://user:pw@acme.okta.com/m",
        "https://",
    ] {
        assert!(check_metadata_url(bad).is_err(), "{bad}");
    }
    let missing = SamlInput::default();
    assert!(checked_connection("okta", &missing, NOW).is_err());
    assert_eq!(
        acs_url("acme-1a2b", "eu-west-1"),
        "https://acme-1a2b.auth.eu-west-1.amazoncognito.com/saml2/idpresponse"
    );
    assert_eq!(
        sp_entity_id("eu-west-1_AbC"),
        "urn:amazon:cognito:sp:eu-west-1_AbC"
    );
}
