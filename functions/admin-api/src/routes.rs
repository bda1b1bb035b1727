//! The routes of the admin API. Field names are the contract with the admin UI.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Response};
use serde::{Deserialize, Deserializer, Serialize};
use shared::domain::people::{Admin, NewPerson, PersonChanges};
use shared::domain::ports::AuditEvent;
use shared::domain::search::{
    decode_cursor, encode_cursor as encode_people_cursor, people_counts, PeopleQuery,
};
use shared::domain::settings::{
    apply_settings, idp_redirect_uri, microsoft_admin_consent_url, verify_email_domains,
    ProviderInput, SettingsDeps, SettingsPatch,
};
use shared::domain::{Error, Organization, Person, PersonId, PersonStatus, Role};

use crate::context::{App, Call, Caller};
use crate::problem::{json, Problem};

/// Every route, as `METHOD /path` with `{parameters}`: the OpenAPI document lists exactly
/// these (a test checks both ways).
pub const ROUTES: [(&str, &str); 21] = [
    ("GET", "/v1/me"),
    ("GET", "/v1/organization"),
    ("PATCH", "/v1/organization"),
    ("POST", "/v1/organization/email-domains/verify"),
    ("GET", "/v1/organization/scim-token"),
    ("POST", "/v1/organization/scim-token"),
    ("DELETE", "/v1/organization/scim-token"),
    ("GET", "/v1/users"),
    ("POST", "/v1/users"),
    ("POST", "/v1/users/import"),
    ("GET", "/v1/users/{id}"),
    ("PATCH", "/v1/users/{id}"),
    ("DELETE", "/v1/users/{id}"),
    ("PUT", "/v1/users/{id}/activation"),
    ("POST", "/v1/users/{id}/activation/resend"),
    ("POST", "/v1/users/{id}/password-reset"),
    ("GET", "/v1/roles"),
    ("POST", "/v1/roles"),
    ("DELETE", "/v1/roles/{name}"),
    ("GET", "/v1/audit"),
    ("GET", "/v1/openapi.json"),
];

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;
const MAX_QUERY_CHARS: usize = 100;

/// The OpenAPI 3.1 document of these routes.
pub fn openapi() -> Response<Body> {
    let mut response = Response::new(Body::Text(OPENAPI.to_owned()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

use shared::domain::scim::token::{issue_token, revoke_tokens, token_status};

pub const OPENAPI: &str = include_str!("../openapi.json");

pub async fn route(app: &App, caller: &Caller, call: &Call<'_>) -> Result<Response<Body>, Problem> {
    let admin = Admin {
        registry: app.registry.as_ref(),
        pools: app.pools.as_ref(),
        mailer: app.mailer.as_ref(),
        base_domain: &app.base_domain,
        actor: &caller.person.username,
    };
    let org = &caller.org;
    let fail = |e: Error| problem_in(org, e);
    let method = call.method.clone();
    match (method, &call.segments[1..]) {
        (Method::GET, ["me"]) => Ok(person_response(StatusCode::OK, &caller.person)),
        (Method::GET, ["organization"]) => Ok(organization_response(org, app)),
        (Method::PATCH, ["organization"]) => {
            let body: PatchOrgBody = call.json()?;
            if let Some(expected) = call.header(header::IF_MATCH) {
                if expected.trim() != org_etag(org) && expected.trim() != "*" {
                    return Err(Problem::new(
                        StatusCode::PRECONDITION_FAILED,
                        "stale",
                        "Changed meanwhile",
                        "The organization's settings were changed since you loaded them: load them again and repeat your change.",
                    ));
                }
            }
            let deps = SettingsDeps {
                registry: app.registry.as_ref(),
                pools: app.pools.as_ref(),
                secrets: app.secrets.as_ref(),
                base_domain: &app.base_domain,
            };
            let done = apply_settings(&deps, org, &body.into(), &caller.person.username)
                .await
                .map_err(fail)?;
            Ok(organization_response(&done.organization, app))
        }
        (Method::POST, ["organization", "email-domains", "verify"]) => {
            let (_, checks) = verify_email_domains(
                app.registry.as_ref(),
                app.dns.as_ref(),
                org,
                &caller.person.username,
            )
            .await
            .map_err(fail)?;
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({ "email_domains": checks }),
            ))
        }
        (Method::GET, ["organization", "scim-token"]) => {
            Ok(json(StatusCode::OK, &token_status(org)))
        }
        (Method::POST, ["organization", "scim-token"]) => {
            let actor = &caller.person.username;
            let (_, issued, previous_until) = issue_token(app.registry.as_ref(), org, actor)
                .await
                .map_err(fail)?;
            let mut response = json(
                StatusCode::CREATED,
                &serde_json::json!({
                    "token": issued.token,
                    "token_id": issued.id,
                    "scim_base_url": format!("https://{}.{}/scim/v2", org.subdomain, app.base_domain),
                    "previous_token_valid_until": previous_until,
                }),
            );
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        (Method::DELETE, ["organization", "scim-token"]) => {
            let saved = revoke_tokens(app.registry.as_ref(), org, &caller.person.username)
                .await
                .map_err(fail)?;
            Ok(json(StatusCode::OK, &token_status(&saved)))
        }
        (Method::GET, ["users"]) => list_users(app, org, call).await,
        (Method::POST, ["users"]) => {
            let body: NewUserBody = call.json()?;
            let person = admin.add_person(org, &body.into()).await.map_err(fail)?;
            let mut response = person_response(StatusCode::CREATED, &person);
            if let Ok(location) = HeaderValue::from_str(&format!("/v1/users/{}", person.id)) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        (Method::POST, ["users", "import"]) => {
            let answer = crate::import::import(&admin, org, call).await?;
            Ok(json(StatusCode::OK, &answer))
        }
        (Method::GET, ["users", id]) => {
            let person = find(app, org, id).await?;
            Ok(person_response(StatusCode::OK, &person))
        }
        (Method::PATCH, ["users", id]) => {
            let body: PatchUserBody = call.json()?;
            let person = find(app, org, id).await?;
            if let Some(expected) = call.header(header::IF_MATCH) {
                if expected.trim() != etag(&person) && expected.trim() != "*" {
                    return Err(Problem::new(
                        StatusCode::PRECONDITION_FAILED,
                        "stale",
                        "Changed meanwhile",
                        "This person was changed since you loaded them: load them again and repeat your change.",
                    ));
                }
            }
            let changes = PersonChanges {
                given_name: body.given_name,
                family_name: body.family_name,
                roles: body.roles,
            };
            let saved = admin
                .update_person(org, &person, &changes)
                .await
                .map_err(fail)?;
            let saved = match body.username.as_deref() {
                Some(name) => admin
                    .change_username(org, &saved, name)
                    .await
                    .map_err(fail)?,
                None => saved,
            };
            let saved = match body.email.as_deref() {
                Some(email) => admin.change_email(org, &saved, email).await.map_err(fail)?,
                None => saved,
            };
            Ok(person_response(StatusCode::OK, &saved))
        }
        (Method::DELETE, ["users", id]) => {
            let person = find(app, org, id).await?;
            let gone = admin.delete_person(org, person).await.map_err(fail)?;
            Ok(person_response(StatusCode::OK, &gone))
        }
        (Method::PUT, ["users", id, "activation"]) => {
            let body: ActivationBody = call.json()?;
            let person = find(app, org, id).await?;
            let done = admin
                .set_activation(org, person, body.active)
                .await
                .map_err(fail)?;
            Ok(json(
                StatusCode::OK,
                &ActivationView {
                    user: PersonView::of(&done.person),
                    welcome_mail_sent: done.mail_sent,
                },
            ))
        }
        (Method::POST, ["users", id, "activation", "resend"]) => {
            let person = find(app, org, id).await?;
            let person = admin.resend_invitation(org, person).await.map_err(fail)?;
            Ok(person_response(StatusCode::OK, &person))
        }
        (Method::POST, ["users", id, "password-reset"]) => {
            let person = find(app, org, id).await?;
            let person = admin.reset_password(org, person).await.map_err(fail)?;
            Ok(person_response(StatusCode::OK, &person))
        }
        (Method::GET, ["roles"]) => list_roles(app, org).await,
        (Method::POST, ["roles"]) => {
            let body: NewRoleBody = call.json()?;
            admin.add_role(org, &body.name).await.map_err(fail)?;
            Ok(json(
                StatusCode::CREATED,
                &RoleView {
                    name: body.name,
                    members: 0,
                    permanent: false,
                },
            ))
        }
        (Method::DELETE, ["roles", name]) => {
            admin.delete_role(org, name).await.map_err(fail)?;
            let mut response = Response::new(Body::Empty);
            *response.status_mut() = StatusCode::NO_CONTENT;
            Ok(response)
        }
        (Method::GET, ["audit"]) => list_audit(app, org, call).await,
        _ => Err(Problem::not_found("route")),
    }
}

/// A domain error, with the organization's seat limit named where seats ran out.
fn problem_in(org: &Organization, e: Error) -> Problem {
    match (&e, org.seats) {
        (Error::NoSeatFree { .. }, Some(limit)) => {
            let mut p = Problem::from(e);
            p.detail = format!(
                "All {limit} licence seats of your organization are taken: deactivate someone or ask for more seats."
            );
            p
        }
        _ => Problem::from(e),
    }
}

/// The person with this id in the caller's organization (never another's).
async fn find(app: &App, org: &Organization, id: &str) -> Result<Person, Problem> {
    let id = PersonId::parse(id).map_err(|_| Problem::not_found("person"))?;
    app.registry
        .person_by_id(&org.id, &id)
        .await
        .map_err(Problem::from)?
        .ok_or_else(|| Problem::not_found("person"))
}

fn etag(person: &Person) -> String {
    format!("\"{}\"", person.version)
}

fn rfc3339(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[derive(Serialize)]
pub struct PersonView {
    pub id: String,
    pub username: String,
    pub email: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub roles: Vec<String>,
    pub status: PersonStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_username: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl PersonView {
    pub fn of(p: &Person) -> Self {
        Self {
            id: p.id.to_string(),
            username: p.sign_in_name().to_owned(),
            email: p.email.to_string(),
            given_name: p.given_name.clone(),
            family_name: p.family_name.clone(),
            roles: p.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            status: p.status,
            pending_email: p.pending_email.as_ref().map(|e| e.to_string()),
            pending_username: p.pending_username.clone(),
            created_at: rfc3339(p.created_at),
            updated_at: rfc3339(p.updated_at),
        }
    }
}

fn person_response(status: StatusCode, person: &Person) -> Response<Body> {
    let mut response = json(status, &PersonView::of(person));
    if let Ok(tag) = HeaderValue::from_str(&etag(person)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

#[derive(Serialize)]
struct ActivationView {
    user: PersonView,
    welcome_mail_sent: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUserBody {
    username: String,
    email: String,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

impl From<NewUserBody> for NewPerson {
    fn from(b: NewUserBody) -> Self {
        NewPerson {
            username: b.username,
            email: b.email,
            given_name: b.given_name,
            family_name: b.family_name,
            roles: b.roles,
        }
    }
}

/// A field that may be absent (leave it), `null` (clear it) or a value.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchUserBody {
    #[serde(default, deserialize_with = "present")]
    given_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    family_name: Option<Option<String>>,
    #[serde(default)]
    roles: Option<Vec<String>>,
    /// A new address: at once for a person without a login; for an invited or active one,
    /// pending until confirmed with the link mailed to it.
    #[serde(default)]
    email: Option<String>,
    /// A new username: at once for a person without a login; for an invited or active one,
    /// pending until confirmed with the link mailed to them. The login stays the same (the
    /// new name is its sign-in alias).
    #[serde(default)]
    username: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivationBody {
    active: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRoleBody {
    name: String,
}

#[derive(Serialize)]
struct RoleView {
    name: String,
    members: u32,
    permanent: bool,
}

#[derive(Serialize)]
struct OrganizationView<'a> {
    id: &'a str,
    name: &'a str,
    subdomain: &'a str,
    status: String,
    seats: Seats,
    mfa: String,
    /// Every e-mail domain of the organization, in use or pending (the list PATCH replaces).
    email_domains: Vec<String>,
    /// Those of `email_domains` that wait for their DNS proof: not claimed, not used for
    /// discovery, self sign-up, just-in-time accounts or linking until it is found.
    pending_email_domains: Vec<String>,
    login_url: String,
    self_signup: bool,
    sso_only: bool,
    admins_keep_password: bool,
    providers: &'a [String],
    jit: JitView<'a>,
    invitation: String,
    branding: &'a shared::domain::Branding,
    app_urls: &'a [String],
    sso: SsoView<'a>,
    /// The DNS TXT record that proves each e-mail domain its admins added (an operator's
    /// domains need none).
    email_domain_proofs: Vec<DomainProofView>,
    /// SCIM: whether a token exists (its id, never the token), the groups mapped to roles.
    scim: serde_json::Value,
    /// A change that did not finish reaching the pool: send it again to finish it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pending: Option<PendingView<'a>>,
}

#[derive(Serialize)]
struct PendingView<'a> {
    changes: &'a [String],
    by: &'a str,
    since: String,
}

#[derive(Serialize)]
struct DomainProofView {
    domain: String,
    txt_record_name: String,
    txt_record_value: String,
    verified: bool,
}

/// The identity providers, without their secrets: only whether one is set and when.
#[derive(Serialize)]
struct SsoView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    microsoft: Option<ProviderView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    google: Option<ProviderView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apple: Option<ProviderView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    facebook: Option<ProviderView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amazon: Option<ProviderView<'a>>,
    /// The redirect URI to register with the identity provider (the pool domain's).
    redirect_uri: Option<String>,
    /// SAML: the values to paste into the IdP, and the connections.
    saml: crate::sso::SamlView,
}

#[derive(Serialize)]
struct ProviderView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<&'a str>,
    client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    team_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
    /// For Apple: whether its private key is stored.
    client_secret_set: bool,
    client_secret_updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_consent_url: Option<String>,
}

#[derive(Serialize)]
struct JitView<'a> {
    enabled: bool,
    role: &'a str,
}

fn org_etag(org: &Organization) -> String {
    format!("\"{}\"", org.version)
}

fn organization_response(org: &Organization, app: &App) -> Response<Body> {
    let mut response = json(StatusCode::OK, &OrganizationView::of(org, app));
    if let Ok(tag) = HeaderValue::from_str(&org_etag(org)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// `PATCH /v1/organization`: any part of the settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchOrgBody {
    #[serde(default)]
    self_signup: Option<bool>,
    #[serde(default)]
    sso_only: Option<bool>,
    #[serde(default)]
    admins_keep_password: Option<bool>,
    #[serde(default)]
    providers: Option<Vec<String>>,
    #[serde(default)]
    jit: Option<JitBody>,
    #[serde(default)]
    mfa: Option<String>,
    #[serde(default)]
    invitation: Option<String>,
    #[serde(default)]
    branding: Option<BrandingBody>,
    #[serde(default)]
    app_urls: Option<Vec<String>>,
    #[serde(default)]
    sso: Option<SsoBody>,
    #[serde(default)]
    email_domains: Option<Vec<String>>,
    #[serde(default)]
    scim: Option<ScimBody>,
}

/// `"scim": {"group_roles": {"<group>": "<role>"}, "default_role": "member"}`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ScimBody {
    #[serde(default)]
    group_roles: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "present")]
    default_role: Option<Option<String>>,
}

/// `"sso": {"microsoft": {...}}` sets a provider up, `"sso": {"microsoft": null}` removes it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SsoBody {
    #[serde(default, deserialize_with = "present")]
    microsoft: Option<Option<ProviderBody>>,
    #[serde(default, deserialize_with = "present")]
    google: Option<Option<ProviderBody>>,
    #[serde(default, deserialize_with = "present")]
    apple: Option<Option<ProviderBody>>,
    #[serde(default, deserialize_with = "present")]
    facebook: Option<Option<ProviderBody>>,
    #[serde(default, deserialize_with = "present")]
    amazon: Option<Option<ProviderBody>>,
    /// `"saml": {"okta": {...}, "old": null}`: SAML connections by name (issue 23).
    #[serde(default)]
    saml: std::collections::BTreeMap<String, Option<crate::sso::SamlBody>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderBody {
    #[serde(default)]
    tenant: Option<String>,
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    /// Apple: the team's and the key's ids, and the .p8 private key.
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    private_key: Option<String>,
}

impl From<ProviderBody> for ProviderInput {
    fn from(b: ProviderBody) -> Self {
        ProviderInput {
            tenant: b.tenant,
            client_id: b.client_id,
            client_secret: b.client_secret.or(b.private_key),
            team_id: b.team_id,
            key_id: b.key_id,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JitBody {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    role: Option<Option<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BrandingBody {
    #[serde(default, deserialize_with = "present")]
    display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    logo_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    primary_color: Option<Option<String>>,
}

impl From<PatchOrgBody> for SettingsPatch {
    fn from(b: PatchOrgBody) -> Self {
        let (jit_enabled, jit_role) = b.jit.map_or((None, None), |j| (j.enabled, j.role));
        let (display_name, logo_url, primary_color) = b.branding.map_or((None, None, None), |x| {
            (x.display_name, x.logo_url, x.primary_color)
        });
        let provider = |p: Option<Option<ProviderBody>>| p.map(|p| p.map(ProviderInput::from));
        let sso = b.sso.unwrap_or_default();
        let scim = b.scim.unwrap_or_default();
        SettingsPatch {
            scim_group_roles: scim.group_roles,
            scim_default_role: scim.default_role,
            microsoft: provider(sso.microsoft),
            google: provider(sso.google),
            apple: provider(sso.apple),
            facebook: provider(sso.facebook),
            amazon: provider(sso.amazon),
            saml: sso
                .saml
                .into_iter()
                .map(|(name, body)| (name, body.map(Into::into)))
                .collect(),
            self_signup: b.self_signup,
            sso_only: b.sso_only,
            admins_keep_password: b.admins_keep_password,
            providers: b.providers,
            jit_enabled,
            jit_role,
            mfa: b.mfa,
            invitation: b.invitation,
            display_name,
            logo_url,
            primary_color,
            app_urls: b.app_urls,
            email_domains: b.email_domains,
            // An admin's domains wait for their DNS proof; only operators vouch.
            operator_word: false,
        }
    }
}

#[derive(Serialize)]
struct Seats {
    used: u32,
    limit: Option<u32>,
}

impl<'a> OrganizationView<'a> {
    fn of(org: &'a Organization, app: &App) -> Self {
        let base_domain = app.base_domain.as_str();
        let redirect_uri = org
            .cognito
            .domain_prefix
            .as_deref()
            .map(|prefix| idp_redirect_uri(prefix, &app.region));
        let provider = |p: &'a shared::domain::ProviderSetup| ProviderView {
            tenant: p.tenant.as_deref(),
            client_id: &p.client_id,
            team_id: p.team_id.as_deref(),
            key_id: p.key_id.as_deref(),
            client_secret_set: p.client_secret_updated_at.is_some(),
            client_secret_updated_at: p.client_secret_updated_at.map(rfc3339),
            admin_consent_url: match (p.tenant.as_deref(), redirect_uri.as_deref()) {
                (Some(tenant), Some(uri)) => {
                    Some(microsoft_admin_consent_url(tenant, &p.client_id, uri))
                }
                _ => None,
            },
        };
        Self {
            id: org.id.as_str(),
            name: &org.name,
            subdomain: org.subdomain.as_str(),
            status: org.status.to_string(),
            seats: Seats {
                used: org.seats_used,
                limit: org.seats,
            },
            mfa: org.mfa.to_string(),
            email_domains: org.all_domains(),
            pending_email_domains: org
                .pending_domains()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            login_url: org.subdomain.login_url(base_domain),
            self_signup: org.sign_in.self_signup,
            sso_only: org.sign_in.sso_only,
            admins_keep_password: org.sign_in.admins_keep_password,
            providers: &org.sign_in.providers,
            jit: JitView {
                enabled: org.sign_in.jit_accounts,
                role: org.sign_in.jit_role.as_deref().unwrap_or("member"),
            },
            invitation: org.sign_in.invitation.to_string(),
            branding: &org.branding,
            app_urls: &org.sign_in.app_urls,
            email_domain_proofs: org
                .domain_proofs
                .iter()
                .filter(|p| p.by == shared::domain::ProofBy::Dns)
                .map(|p| DomainProofView {
                    domain: p.domain.clone(),
                    txt_record_name: p.record_name(),
                    txt_record_value: p.record_value(),
                    verified: p.verified_at.is_some(),
                })
                .collect(),
            scim: {
                let mut scim = token_status(org);
                scim["group_roles"] = serde_json::json!(org.sign_in.scim_group_roles);
                scim["default_role"] =
                    serde_json::json!(org.sign_in.scim_default_role.as_deref().unwrap_or("member"));
                scim
            },
            pending: org.sign_in.pending_change.as_ref().map(|p| PendingView {
                changes: &p.changes,
                by: &p.actor,
                since: rfc3339(p.since),
            }),
            sso: SsoView {
                microsoft: org.sign_in.sso.microsoft.as_ref().map(provider),
                google: org.sign_in.sso.google.as_ref().map(provider),
                apple: org.sign_in.sso.apple.as_ref().map(provider),
                facebook: org.sign_in.sso.facebook.as_ref().map(provider),
                amazon: org.sign_in.sso.amazon.as_ref().map(provider),
                redirect_uri: redirect_uri.clone(),
                saml: crate::sso::SamlView::of(org, &app.region),
            },
        }
    }
}

fn limit_of(call: &Call<'_>) -> Result<u32, Problem> {
    match call.query("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                Problem::invalid(
                    "limit",
                    format!("limit must be a whole number from 1 to {MAX_LIMIT}."),
                )
            }),
    }
}

fn cursor_of(call: &Call<'_>) -> Result<Option<String>, Problem> {
    call.query("cursor")
        .map(|c| {
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    Problem::invalid(
                        "cursor",
                        "cursor must be the next_cursor of an earlier page.",
                    )
                })
        })
        .transpose()
}

fn encode_cursor(next: Option<String>) -> Option<String> {
    next.map(|n| URL_SAFE_NO_PAD.encode(n))
}

#[derive(Serialize)]
struct UsersPage {
    users: Vec<PersonView>,
    next_cursor: Option<String>,
}

/// `GET /v1/users`: one read of at most 2 x `limit` entries (docs/design.md, "Admin API at
/// scale"); `q` is a prefix of a username, sign-in name, e-mail address, given or family
/// name, without case or accents.
async fn list_users(
    app: &App,
    org: &Organization,
    call: &Call<'_>,
) -> Result<Response<Body>, Problem> {
    let limit = limit_of(call)?;
    let status = call
        .query("status")
        .map(|s| s.parse::<PersonStatus>())
        .transpose()
        .map_err(|e| Problem::invalid("status", e.to_string()))?;
    let role = call
        .query("role")
        .map(Role::parse)
        .transpose()
        .map_err(|e| Problem::invalid("role", e.to_string()))?;
    let q = call.query("q");
    if q.is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS) {
        return Err(Problem::invalid(
            "q",
            format!("q must be at most {MAX_QUERY_CHARS} characters."),
        ));
    }
    let query =
        PeopleQuery::new(q, status, role).map_err(|e| Problem::invalid("q", e.to_string()))?;
    let after = call
        .query("cursor")
        .map(|c| decode_cursor(&query, c))
        .transpose()
        .map_err(|_| {
            Problem::invalid(
                "cursor",
                "cursor must be the next_cursor of an earlier page of the same query.",
            )
        })?;
    let page = app
        .registry
        .find_people(&org.id, &query, after.as_deref(), limit)
        .await
        .map_err(|e| problem_in(org, e))?;
    Ok(json(
        StatusCode::OK,
        &UsersPage {
            users: page.items.iter().map(PersonView::of).collect(),
            next_cursor: page.next.map(|next| encode_people_cursor(&query, &next)),
        },
    ))
}

/// `GET /v1/roles`: the members of each role from the people counters (one read).
async fn list_roles(app: &App, org: &Organization) -> Result<Response<Body>, Problem> {
    let counts = people_counts(app.registry.as_ref(), &org.id)
        .await
        .map_err(Problem::from)?;
    #[derive(Serialize)]
    struct Roles {
        roles: Vec<RoleView>,
    }
    let roles = org
        .roles
        .iter()
        .map(|role| RoleView {
            name: role.as_str().to_owned(),
            members: u32::try_from(counts.role(role).max(0)).unwrap_or(u32::MAX),
            permanent: Organization::permanent_role(role),
        })
        .collect();
    Ok(json(StatusCode::OK, &Roles { roles }))
}

#[derive(Serialize)]
struct EventView {
    at: String,
    actor: String,
    action: String,
    target: String,
    detail: Option<String>,
}

impl EventView {
    fn of(e: &AuditEvent) -> Self {
        Self {
            at: rfc3339(e.at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            detail: e.detail.clone(),
        }
    }
}

async fn list_audit(
    app: &App,
    org: &Organization,
    call: &Call<'_>,
) -> Result<Response<Body>, Problem> {
    let limit = limit_of(call)?;
    let cursor = cursor_of(call)?;
    let page = app
        .registry
        .audit_page(&org.id, cursor.as_deref(), limit)
        .await
        .map_err(|e| match e {
            Error::InvalidInput { .. } => Problem::invalid(
                "cursor",
                "cursor must be the next_cursor of an earlier page.",
            ),
            other => Problem::from(other),
        })?;
    #[derive(Serialize)]
    struct Events {
        events: Vec<EventView>,
        next_cursor: Option<String>,
    }
    Ok(json(
        StatusCode::OK,
        &Events {
            events: page.items.iter().map(EventView::of).collect(),
            next_cursor: encode_cursor(page.next),
        },
    ))
}
