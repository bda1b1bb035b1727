//! Enterprise SSO over SAML 2.0 (issue 23): an organization's SAML connections, each a
//! Cognito SAML identity provider in its own pool, and the checks its IdP's metadata must
//! pass before anything touches the pool.
//!
//! The metadata is parsed with `roxmltree`, which refuses any document type declaration
//! (`allow_dtd` off, its default): no entity is ever expanded, so neither an external entity
//! (XXE) nor nested entities (billion laughs) can be carried in. Certificates are read with
//! `x509-parser` for their expiry dates only: Cognito checks the assertions' signatures.

use serde::{Deserialize, Serialize};

use super::Error;

/// The prefix of a SAML connection's identity provider name in the pool: no other provider
/// (`Microsoft`, `Google`, `SignInWithApple`, `Facebook`, `LoginWithAmazon`, `oidc-...`)
/// starts with it, and the rest is the connection's own unique name.
pub const PROVIDER_PREFIX: &str = "saml-";
/// Longest connection name: Cognito allows provider names of at most 32 characters.
pub const MAX_NAME: usize = 32 - PROVIDER_PREFIX.len();
/// Most SAML connections per organization (Cognito allows 300 identity providers a pool).
pub const MAX_CONNECTIONS: usize = 10;
/// Largest metadata document accepted (by XML or fetched from its URL).
pub const MAX_METADATA_BYTES: usize = 512 * 1024;
/// A certificate expiring within this many seconds is shown as expiring (30 days).
pub const EXPIRY_WARNING_SECS: i64 = 30 * 24 * 3600;

const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// The claim names an IdP sends, by the pool attribute they fill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimNames {
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    /// The directory groups (stored for the mapping of groups to roles).
    pub groups: String,
}

/// The IdPs whose default claim names we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Okta,
    Entra,
    GoogleWorkspace,
    Adfs,
}

impl Preset {
    pub const ALL: [Preset; 4] = [
        Preset::Okta,
        Preset::Entra,
        Preset::GoogleWorkspace,
        Preset::Adfs,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Preset::Okta => "okta",
            Preset::Entra => "entra",
            Preset::GoogleWorkspace => "google_workspace",
            Preset::Adfs => "adfs",
        }
    }

    pub fn named(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.key() == key)
    }

    /// The IdP's name as people know it (the login page's button).
    pub fn label(self) -> &'static str {
        match self {
            Preset::Okta => "Okta",
            Preset::Entra => "Microsoft Entra ID",
            Preset::GoogleWorkspace => "Google Workspace",
            Preset::Adfs => "your company account (ADFS)",
        }
    }

    /// The claim names the IdP sends by default (or as its setup guide configures them).
    pub fn claims(self) -> ClaimNames {
        const WS: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims";
        let c = |e: &str, g: &str, f: &str, gr: &str| ClaimNames {
            email: e.to_owned(),
            given_name: g.to_owned(),
            family_name: f.to_owned(),
            groups: gr.to_owned(),
        };
        match self {
            // Okta's attribute statements as its SAML app wizard suggests them.
            Preset::Okta => c("email", "firstName", "lastName", "groups"),
            // Entra ID's default claims of an enterprise application.
            Preset::Entra => c(
                &format!("{WS}/emailaddress"),
                &format!("{WS}/givenname"),
                &format!("{WS}/surname"),
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
            ),
            // Google Workspace sends no attributes unless mapped; these are the names our
            // setup instructions ask for.
            Preset::GoogleWorkspace => c("email", "firstName", "lastName", "groups"),
            // ADFS's claim descriptions (the "Send LDAP Attributes as Claims" rule).
            Preset::Adfs => c(
                &format!("{WS}/emailaddress"),
                &format!("{WS}/givenname"),
                &format!("{WS}/surname"),
                "http://schemas.xmlsoap.org/claims/Group",
            ),
        }
    }
}

/// A signing certificate's dates, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateDates {
    pub subject: String,
    /// Epoch seconds.
    pub not_after: i64,
}

impl CertificateDates {
    /// Expires within 30 days of `now` (or has expired).
    pub fn expiring(&self, now: i64) -> bool {
        self.not_after - now <= EXPIRY_WARNING_SECS
    }
}

/// A signing certificate of an organization's SAML connection that expires soon (or has).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiringCertificate {
    pub subdomain: String,
    pub connection: String,
    pub subject: String,
    /// RFC 3339.
    pub expires_at: String,
    pub expired: bool,
}

/// Every SAML signing certificate of `orgs` that expires within `window` seconds of `now`
/// (or has expired), soonest first.
pub fn expiring_certificates(
    orgs: &[super::Organization],
    now: i64,
    window: i64,
) -> Vec<ExpiringCertificate> {
    let mut found: Vec<(i64, ExpiringCertificate)> = orgs
        .iter()
        .flat_map(|org| {
            org.sign_in.sso.saml.iter().flat_map(move |c| {
                c.certificates
                    .iter()
                    .filter(move |cert| cert.not_after - now <= window)
                    .map(move |cert| {
                        (
                            cert.not_after,
                            ExpiringCertificate {
                                subdomain: org.subdomain.to_string(),
                                connection: c.name.clone(),
                                subject: cert.subject.clone(),
                                expires_at: super::scim::user::rfc3339(cert.not_after),
                                expired: cert.not_after <= now,
                            },
                        )
                    })
            })
        })
        .collect();
    found.sort_by_key(|(at, _)| *at);
    found.into_iter().map(|(_, c)| c).collect()
}

/// What an IdP's metadata says, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlMetadata {
    pub entity_id: String,
    pub sso_url: String,
    pub certificates: Vec<CertificateDates>,
}

/// A SAML connection as stored with the organization (its metadata document is not: the
/// pool holds it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlConnection {
    /// The connection's name, unique in the organization (`okta`, `corp-adfs`).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<String>,
    pub entity_id: String,
    pub sso_url: String,
    pub certificates: Vec<CertificateDates>,
    pub claims: ClaimNames,
    /// The preset the claim names started from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    pub sign_requests: bool,
    pub encrypted_assertions: bool,
    pub idp_initiated: bool,
    pub updated_at: i64,
}

impl SamlConnection {
    /// Its identity provider's name in the pool.
    pub fn provider_name(&self) -> String {
        provider_name(&self.name)
    }

    /// The signing certificate that lives longest: the IdP is usable until it expires.
    pub fn latest_expiry(&self) -> Option<i64> {
        self.certificates.iter().map(|c| c.not_after).max()
    }
}

/// A connection as an admin sends it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SamlInput {
    /// The metadata document, pasted or uploaded; or fetched from `metadata_url` by the
    /// caller before the change is checked (see `aws::saml_metadata`).
    pub metadata_xml: Option<String>,
    pub metadata_url: Option<String>,
    /// `okta`, `entra`, `google_workspace` or `adfs`; none: `okta`'s plain names.
    pub preset: Option<String>,
    /// Claim names replacing the preset's, each optional.
    pub email_claim: Option<String>,
    pub given_name_claim: Option<String>,
    pub family_name_claim: Option<String>,
    pub groups_claim: Option<String>,
    pub sign_requests: bool,
    pub encrypted_assertions: bool,
    pub idp_initiated: bool,
}

impl std::fmt::Debug for SamlInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlInput")
            .field("metadata_url", &self.metadata_url)
            .field(
                "metadata_xml_bytes",
                &self.metadata_xml.as_ref().map(String::len),
            )
            .field("preset", &self.preset)
            .field("sign_requests", &self.sign_requests)
            .field("encrypted_assertions", &self.encrypted_assertions)
            .field("idp_initiated", &self.idp_initiated)
            .finish()
    }
}

fn invalid(what: &'static str, value: impl Into<String>, rule: &'static str) -> Error {
    Error::InvalidInput {
        what,
        value: value.into(),
        rule,
    }
}

/// The pool's identity provider name of the connection `name`.
pub fn provider_name(name: &str) -> String {
    format!("{PROVIDER_PREFIX}{name}")
}

/// A connection's name: 1 to 27 lower-case letters, digits and hyphens, starting with a
/// letter, not ending with a hyphen; with the prefix it is a valid Cognito provider name
/// (3 to 32 characters) that no other provider of the pool can have.
pub fn check_name(name: &str) -> Result<String, Error> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(invalid(
            "sso.saml",
            name.chars().take(40).collect::<String>(),
            "a connection's name must be 1 to 27 lower-case letters, digits or hyphens, starting with a letter (such as okta or corp-adfs)",
        ))
    }
}

/// The claim names of a connection: the preset's, with the admin's own names over them.
pub fn claim_names(input: &SamlInput) -> Result<(ClaimNames, Option<String>), Error> {
    let preset = match input.preset.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(key) => Some(Preset::named(key).ok_or_else(|| {
            invalid(
                "sso.saml.preset",
                key,
                "it must be okta, entra, google_workspace or adfs",
            )
        })?),
    };
    let mut claims = preset.unwrap_or(Preset::Okta).claims();
    for (given, slot) in [
        (&input.email_claim, &mut claims.email),
        (&input.given_name_claim, &mut claims.given_name),
        (&input.family_name_claim, &mut claims.family_name),
        (&input.groups_claim, &mut claims.groups),
    ] {
        if let Some(name) = given.as_deref().map(str::trim) {
            if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
                return Err(invalid(
                    "sso.saml.attribute_mapping",
                    name.chars().take(64).collect::<String>(),
                    "a claim name is 1 to 256 printable characters",
                ));
            }
            *slot = name.to_owned();
        }
    }
    Ok((claims, preset.map(|p| p.key().to_owned())))
}

/// Checks an IdP's metadata document: well-formed XML without a DTD, an IdP entity ID, an
/// SSO endpoint over https and at least one signing certificate not yet expired at `now`.
pub fn check_metadata(xml: &str, now: i64) -> Result<SamlMetadata, Error> {
    const WHAT: &str = "sso.saml.metadata";
    if xml.len() > MAX_METADATA_BYTES {
        return Err(invalid(
            WHAT,
            format!("{} bytes", xml.len()),
            "the metadata document may have at most 512 KiB",
        ));
    }
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 100_000,
    };
    let doc = roxmltree::Document::parse_with_options(xml, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => invalid(
            WHAT,
            "<!DOCTYPE ...>",
            "the metadata must not carry a document type declaration (DTD): export it from your identity provider again",
        ),
        other => invalid(
            WHAT,
            other.to_string(),
            "the metadata is not well-formed XML: export it from your identity provider again",
        ),
    })?;
    let is = |n: &roxmltree::Node<'_, '_>, ns: &str, name: &str| {
        n.is_element() && n.tag_name().namespace() == Some(ns) && n.tag_name().name() == name
    };
    let root = doc.root_element();
    if !(is(&root, MD, "EntityDescriptor") || is(&root, MD, "EntitiesDescriptor")) {
        return Err(invalid(
            WHAT,
            root.tag_name().name().chars().take(64).collect::<String>(),
            "the document is not SAML 2.0 metadata (an md:EntityDescriptor)",
        ));
    }
    let entity = root
        .descendants()
        .filter(|n| is(n, MD, "EntityDescriptor"))
        .find(|n| n.children().any(|c| is(&c, MD, "IDPSSODescriptor")))
        .ok_or_else(|| {
            invalid(
                WHAT,
                "",
                "the metadata describes no identity provider (no IDPSSODescriptor): use the identity provider's metadata, not a service provider's",
            )
        })?;
    let entity_id = entity
        .attribute("entityID")
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= 1024)
        .ok_or_else(|| invalid(WHAT, "", "the metadata has no IdP entity ID (entityID)"))?
        .to_owned();
    let idp = entity
        .children()
        .find(|c| is(c, MD, "IDPSSODescriptor"))
        .ok_or_else(|| invalid(WHAT, "", "the metadata describes no identity provider"))?;
    let endpoints: Vec<&str> = idp
        .children()
        .filter(|c| is(c, MD, "SingleSignOnService"))
        .filter_map(|c| c.attribute("Location"))
        .map(str::trim)
        .collect();
    if endpoints.is_empty() {
        return Err(invalid(
            WHAT,
            entity_id,
            "the metadata has no SingleSignOnService endpoint",
        ));
    }
    let sso_url = endpoints
        .iter()
        .find(|l| is_https_url(l))
        .ok_or_else(|| {
            invalid(
                WHAT,
                endpoints[0].chars().take(200).collect::<String>(),
                "the SingleSignOnService endpoint must be an https:// URL",
            )
        })?
        .to_string();
    let mut certificates = Vec::new();
    for key in idp.children().filter(|c| is(c, MD, "KeyDescriptor")) {
        // A KeyDescriptor without `use` serves both signing and encryption.
        if key.attribute("use").is_some_and(|u| u != "signing") {
            continue;
        }
        for cert in key.descendants().filter(|n| is(n, DS, "X509Certificate")) {
            let text: String = cert
                .text()
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            certificates.push(certificate_dates(&text)?);
        }
    }
    if certificates.is_empty() {
        return Err(invalid(
            WHAT,
            entity_id,
            "the metadata has no signing certificate (KeyDescriptor use=\"signing\" with an X509Certificate)",
        ));
    }
    if certificates.iter().all(|c| c.not_after <= now) {
        return Err(invalid(
            WHAT,
            entity_id,
            "every signing certificate in the metadata has expired: renew it at your identity provider and export the metadata again",
        ));
    }
    Ok(SamlMetadata {
        entity_id,
        sso_url,
        certificates,
    })
}

fn is_https_url(url: &str) -> bool {
    url.strip_prefix("https://").is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty()
            && url.len() <= 2048
            && url
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"\"'<>`\\".contains(&b))
    })
}

/// A metadata URL: https only, no credentials or spaces in it.
pub fn check_metadata_url(url: &str) -> Result<String, Error> {
    let url = url.trim();
    if is_https_url(url)
        && !url["https://".len()..]
            .split('/')
            .next()
            .unwrap_or("")
            .contains('@')
    {
        Ok(url.to_owned())
    } else {
        Err(invalid(
            "sso.saml.metadata_url",
            url.chars().take(200).collect::<String>(),
            "it must be an https:// URL of at most 2048 characters, without spaces, quotes or credentials",
        ))
    }
}

fn certificate_dates(base64_der: &str) -> Result<CertificateDates, Error> {
    use base64::Engine;
    let bad = || {
        invalid(
            "sso.saml.metadata",
            base64_der.chars().take(24).collect::<String>(),
            "a signing certificate in the metadata is not a base64 X.509 certificate",
        )
    };
    let der = base64::engine::general_purpose::STANDARD
        .decode(base64_der)
        .map_err(|_| bad())?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|_| bad())?;
    Ok(CertificateDates {
        subject: cert.subject().to_string().chars().take(256).collect(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// A connection checked: its name, its metadata (from the XML; a URL's document fetched by
/// the caller), its claim names and options.
pub fn checked_connection(
    name: &str,
    input: &SamlInput,
    now: i64,
) -> Result<SamlConnection, Error> {
    let name = check_name(name)?;
    let metadata_url = input
        .metadata_url
        .as_deref()
        .map(check_metadata_url)
        .transpose()?;
    let xml = input.metadata_xml.as_deref().ok_or_else(|| {
        invalid(
            "sso.saml.metadata",
            name.clone(),
            "give the identity provider's metadata document as metadata_xml (a metadata_url alone is not fetched yet; given beside the document, Cognito follows the IdP's changes from it)",
        )
    })?;
    let metadata = check_metadata(xml, now)?;
    let (claims, preset) = claim_names(input)?;
    Ok(SamlConnection {
        name,
        metadata_url,
        entity_id: metadata.entity_id,
        sso_url: metadata.sso_url,
        certificates: metadata.certificates,
        claims,
        preset,
        sign_requests: input.sign_requests,
        encrypted_assertions: input.encrypted_assertions,
        idp_initiated: input.idp_initiated,
        updated_at: now,
    })
}

/// The pool attributes a SAML connection's sign-in writes (its attribute mapping).
pub const MAPPED_ATTRIBUTES: [&str; 3] = ["email", "given_name", "family_name"];

/// Names and values, in order (ProviderDetails, an attribute mapping).
pub type Pairs = Vec<(String, String)>;

/// The pool's identity provider for a connection: `ProviderDetails` as Cognito's
/// CreateIdentityProvider takes them for SAML, and the attribute mapping.
pub fn provider_details(connection: &SamlConnection, metadata_xml: &str) -> (Pairs, Pairs) {
    let flag = |b: bool| if b { "true" } else { "false" }.to_owned();
    let mut details = Vec::new();
    match &connection.metadata_url {
        // Cognito fetches the document itself and follows its changes (new certificates).
        Some(url) => details.push(("MetadataURL".to_owned(), url.clone())),
        None => details.push(("MetadataFile".to_owned(), metadata_xml.to_owned())),
    }
    details.push(("IDPSignout".to_owned(), "false".to_owned()));
    details.push(("IDPInit".to_owned(), flag(connection.idp_initiated)));
    details.push((
        "EncryptedResponses".to_owned(),
        flag(connection.encrypted_assertions),
    ));
    if connection.sign_requests {
        // The only algorithm Cognito signs SAML requests with.
        details.push((
            "RequestSigningAlgorithm".to_owned(),
            "rsa-sha256".to_owned(),
        ));
    }
    // No `email_verified`: a SAML assertion's address is not proof by itself.
    let mapping = vec![
        ("email".to_owned(), connection.claims.email.clone()),
        (
            "given_name".to_owned(),
            connection.claims.given_name.clone(),
        ),
        (
            "family_name".to_owned(),
            connection.claims.family_name.clone(),
        ),
    ];
    (details, mapping)
}

/// The URL the IdP posts its assertions to (the pool domain's ACS endpoint).
pub fn acs_url(domain_prefix: &str, region: &str) -> String {
    format!("https://{domain_prefix}.auth.{region}.amazoncognito.com/saml2/idpresponse")
}

/// The pool's SAML service provider entity ID.
pub fn sp_entity_id(pool_id: &str) -> String {
    format!("urn:amazon:cognito:sp:{pool_id}")
}

/// Metadata in the shapes real IdPs export, for tests (ours and other crates').
#[cfg(any(test, feature = "testing"))]
pub mod fixtures;

#[cfg(test)]
mod tests;
