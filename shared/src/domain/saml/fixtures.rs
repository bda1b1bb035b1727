//! SAML metadata written in the shapes Okta, Entra ID and ADFS export (our own test data;
//! the certificates are self-signed, made with Python's `cryptography` for fixed dates).

pub const GOOD_CERT: &str = "MIIBNzCB3qADAgECAhR5DuzhUrTCR+jZIB77KE8/S3FGwzAKBggqhkjOPQQDAjAcMRowGAYDVQQDDBFva3RhLmV4YW1wbGUudGVzdDAeFw0yNTAxMDEwMDAwMDBaFw00NTAxMDEwMDAwMDBaMBwxGjAYBgNVBAMMEW9rdGEuZXhhbXBsZS50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEoZsQPI+9hHq6iO9f1t5jITyY3e5JB0pYDaer/mRVMR+GrxLEgafR2d9MYHP5mBkt45tyeeCYjwFjhJlttExrcDAKBggqhkjOPQQDAgNIADBFAiEAtpOLk2AuOWoDyv4RQxErdF77tZR/KCs/9UsPrnwmpJ8CIE4aeWtzcdUx4A5duOFC59JUS5MDz8hqHG82SaiRQMNE";
pub const EXPIRED_CERT: &str = "MIIBPjCB5KADAgECAhR9UZj9sgfVt2s3DHGYSk6HJugnjDAKBggqhkjOPQQDAjAfMR0wGwYDVQQDDBRvbGQtaWRwLmV4YW1wbGUudGVzdDAeFw0xMDAxMDEwMDAwMDBaFw0xMTAxMDEwMDAwMDBaMB8xHTAbBgNVBAMMFG9sZC1pZHAuZXhhbXBsZS50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEoZsQPI+9hHq6iO9f1t5jITyY3e5JB0pYDaer/mRVMR+GrxLEgafR2d9MYHP5mBkt45tyeeCYjwFjhJlttExrcDAKBggqhkjOPQQDAgNJADBGAiEAs88/ZgEHqHKY8TfgM8yTbwhlVV6CNxs+jVKi7r32pdICIQDCE8g4D9VPRK7Me4d056IeESlZnKEzj/6FZY7oJZv3Dg==";
pub const EXPIRING_CERT: &str = "MIIBNzCB3qADAgECAhQlJBMqKikw1suGJeMnPxJRtmKd8DAKBggqhkjOPQQDAjAcMRowGAYDVQQDDBFhZGZzLmV4YW1wbGUudGVzdDAeFw0yNDAxMDEwMDAwMDBaFw0yNzAxMjAwMDAwMDBaMBwxGjAYBgNVBAMMEWFkZnMuZXhhbXBsZS50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEoZsQPI+9hHq6iO9f1t5jITyY3e5JB0pYDaer/mRVMR+GrxLEgafR2d9MYHP5mBkt45tyeeCYjwFjhJlttExrcDAKBggqhkjOPQQDAgNIADBFAiAuWYGUBTezn8EgFAkaEcPkIDJTLmmjafMOkdWhHaX7dQIhAM489slhVFXV5rAUw8BOxfrt4gQ0+DxhF3Le7JQxgZqj";

/// Okta's app metadata: one EntityDescriptor, a signing certificate, HTTP-POST and
/// HTTP-Redirect endpoints.
pub fn okta(cert: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="http://www.okta.com/exk1fcia6d6EMsf331d8"><md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://acme.okta.com/app/acme_signin_1/exk1fcia6d6EMsf331d8/sso/saml"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://acme.okta.com/app/acme_signin_1/exk1fcia6d6EMsf331d8/sso/saml"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

/// Entra ID's federation metadata: default namespace, a signature element, a
/// RoleDescriptor before the IDPSSODescriptor, the certificate with line breaks, no `use`.
pub fn entra(cert: &str) -> String {
    let wrapped: String = cert
        .as_bytes()
        .chunks(64)
        .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<EntityDescriptor ID="_2b2b4a1e-7c1d-4f0e-9d1a-3c4b5a6d7e8f" entityID="https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/" xmlns="urn:oasis:names:tc:SAML:2.0:metadata">
  <Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></SignedInfo><SignatureValue>AAAA</SignatureValue></Signature>
  <RoleDescriptor xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706" xsi:type="fed:SecurityTokenServiceType" protocolSupportEnumeration="http://docs.oasis-open.org/wsfed/federation/200706"/>
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <KeyDescriptor>
      <KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>
{wrapped}</X509Certificate></X509Data></KeyInfo>
    </KeyDescriptor>
    <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/saml2"/>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/saml2"/>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/saml2"/>
  </IDPSSODescriptor>
</EntityDescriptor>"#
    )
}

/// ADFS's FederationMetadata.xml: an encryption key before the signing one, an SP role too.
pub fn adfs(signing: &str, encryption: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><EntityDescriptor ID="_a1" entityID="http://adfs.corp.example.test/adfs/services/trust" xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://adfs.corp.example.test/adfs/ls/" index="0"/></SPSSODescriptor><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><KeyDescriptor use="encryption"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{encryption}</X509Certificate></X509Data></KeyInfo></KeyDescriptor><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{signing}</X509Certificate></X509Data></KeyInfo></KeyDescriptor><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://adfs.corp.example.test/adfs/ls/"/><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://adfs.corp.example.test/adfs/ls/"/></IDPSSODescriptor></EntityDescriptor>"#
    )
}
