//! Enterprise SSO in the admin API (issue 23): the body of `sso.saml.<name>` in
//! `PATCH /v1/organization`, and what `GET /v1/organization` shows of the SAML connections
//! (the values to paste into the IdP, the certificates' expiry).

use serde::{Deserialize, Serialize};
use shared::domain::saml::{acs_url, sp_entity_id, SamlInput};
use shared::domain::Organization;

/// `"sso": {"saml": {"<name>": {...}}}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlBody {
    #[serde(default)]
    metadata_url: Option<String>,
    #[serde(default)]
    metadata_xml: Option<String>,
    #[serde(default)]
    preset: Option<String>,
    #[serde(default)]
    attribute_mapping: Option<MappingBody>,
    #[serde(default)]
    sign_requests: bool,
    #[serde(default)]
    encrypted_assertions: bool,
    #[serde(default)]
    idp_initiated: bool,
}

/// Claim names replacing the preset's.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MappingBody {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
    #[serde(default)]
    groups: Option<String>,
}

impl From<SamlBody> for SamlInput {
    fn from(b: SamlBody) -> Self {
        let m = b.attribute_mapping.unwrap_or_default();
        SamlInput {
            metadata_xml: b.metadata_xml,
            metadata_url: b.metadata_url,
            preset: b.preset,
            email_claim: m.email,
            given_name_claim: m.given_name,
            family_name_claim: m.family_name,
            groups_claim: m.groups,
            sign_requests: b.sign_requests,
            encrypted_assertions: b.encrypted_assertions,
            idp_initiated: b.idp_initiated,
        }
    }
}

/// `sso.saml` in `GET /v1/organization`.
#[derive(Serialize)]
pub struct SamlView {
    /// Where the IdP posts its assertions (the pool domain's ACS URL).
    acs_url: Option<String>,
    /// The pool's SAML service provider entity ID (the audience).
    sp_entity_id: Option<String>,
    connections: Vec<ConnectionView>,
}

#[derive(Serialize)]
struct ConnectionView {
    name: String,
    provider_name: String,
    entity_id: String,
    sso_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata_url: Option<String>,
    preset: Option<String>,
    attribute_mapping: shared::domain::saml::ClaimNames,
    sign_requests: bool,
    encrypted_assertions: bool,
    idp_initiated: bool,
    certificates: Vec<CertificateView>,
    /// A signing certificate expires within 30 days: renew it at the IdP.
    certificate_expiring: bool,
}

#[derive(Serialize)]
struct CertificateView {
    subject: String,
    expires_at: String,
    expiring_soon: bool,
}

impl SamlView {
    pub fn of(org: &Organization, region: &str) -> Self {
        let now = shared::domain::now_epoch();
        Self {
            acs_url: org
                .cognito
                .domain_prefix
                .as_deref()
                .map(|prefix| acs_url(prefix, region)),
            sp_entity_id: org.cognito.user_pool_id.as_deref().map(sp_entity_id),
            connections: org
                .sign_in
                .sso
                .saml
                .iter()
                .map(|c| ConnectionView {
                    name: c.name.clone(),
                    provider_name: c.provider_name(),
                    entity_id: c.entity_id.clone(),
                    sso_url: c.sso_url.clone(),
                    metadata_url: c.metadata_url.clone(),
                    preset: c.preset.clone(),
                    attribute_mapping: c.claims.clone(),
                    sign_requests: c.sign_requests,
                    encrypted_assertions: c.encrypted_assertions,
                    idp_initiated: c.idp_initiated,
                    certificates: c
                        .certificates
                        .iter()
                        .map(|cert| CertificateView {
                            subject: cert.subject.clone(),
                            expires_at: time::OffsetDateTime::from_unix_timestamp(cert.not_after)
                                .ok()
                                .and_then(|t| {
                                    t.format(&time::format_description::well_known::Rfc3339)
                                        .ok()
                                })
                                .unwrap_or_default(),
                            expiring_soon: cert.expiring(now),
                        })
                        .collect(),
                    certificate_expiring: c
                        .latest_expiry()
                        .is_some_and(|t| t - now <= shared::domain::saml::EXPIRY_WARNING_SECS),
                })
                .collect(),
        }
    }
}
