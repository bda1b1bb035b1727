//! SCIM 2.0 (RFC 7644) for each organization's own directory, at
//! `https://<subdomain>.<BASE_DOMAIN>/scim/v2/`: `Users`, `Groups`, `ServiceProviderConfig`, `Schemas`,
//! `ResourceTypes`. The organization is the one the host names, and the bearer token must be
//! one of that organization's SCIM tokens (`POST /v1/organization/scim-token` of the admin
//! API): until it has one, every request is refused. The protocol and the rules are in
//! `shared::domain::scim`; this crate is the HTTP around them.

pub mod discovery;
pub mod wiring;

use std::sync::Arc;

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use shared::domain::people::Admin;
use shared::domain::ports::{Mailer, Registry, UserPools};
use shared::domain::scim::directory::Directory;
use shared::domain::scim::filter::Filter;
use shared::domain::scim::groups::{group_changes, DesiredGroup, DirectoryGroup};
use shared::domain::scim::patch::{self, PatchRequest};
use shared::domain::scim::user::{etag, project, to_resource, DesiredUser};
use shared::domain::scim::ScimError;
use shared::domain::{now_epoch, EmailAddress, OrgStatus, Organization, Person, Subdomain};

/// Largest body read: a User is a few kilobytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Default and largest page of a list.
pub const DEFAULT_COUNT: usize = 100;
pub const MAX_COUNT: usize = 200;
/// Most people one list request reads without an indexed `eq` term: listing everyone is for
/// small organizations (directories look people up by `userName`, `externalId` or address).
pub const SCAN_LIMIT: usize = 10_000;

pub const SCIM_JSON: &str = "application/scim+json";
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Built once per execution environment.
pub struct App {
    pub registry: Arc<dyn Registry>,
    pub pools: Arc<dyn UserPools>,
    pub mailer: Arc<dyn Mailer>,
    pub base_domain: String,
}

fn scim_json(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error_response(e: &ScimError) -> Response<Body> {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = scim_json(status, &e.body());
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scim\""),
        );
    }
    response
}

fn unauthorized() -> ScimError {
    ScimError::new(
        401,
        None,
        "the bearer token is not valid for this organization's SCIM endpoint",
    )
}

/// The subdomain the host names under `base` (a port allowed), if any.
pub fn subdomain_of(host: &str, base: &str) -> Option<Subdomain> {
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let label = name.strip_suffix(base)?.strip_suffix('.')?;
    if label.contains('.') {
        return None;
    }
    Subdomain::parse(label).ok()
}

/// One request, taken apart.
struct Call<'a> {
    method: Method,
    /// The path from `v2` on, split at `/`.
    segments: Vec<&'a str>,
    query: Vec<(String, String)>,
    body: &'a [u8],
    if_match: Option<String>,
    /// `https://<host>/scim/v2`: the base of the resources' locations.
    base_url: String,
}

impl Call<'_> {
    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.query(name)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn json(&self) -> Result<Value, ScimError> {
        serde_json::from_slice(self.body)
            .map_err(|e| ScimError::invalid_syntax(&format!("the body is not JSON: {e}")))
    }

    fn location(&self, person: &Person) -> String {
        format!("{}/Users/{}", self.base_url, person.id)
    }

    fn user(&self, person: &Person) -> Value {
        project(
            to_resource(person, &self.location(person)),
            &self.list("attributes"),
            &self.list("excludedAttributes"),
        )
    }

    fn user_response(&self, status: StatusCode, person: &Person) -> Response<Body> {
        let mut response = scim_json(status, &self.user(person));
        if let Ok(tag) = HeaderValue::from_str(&etag(person)) {
            response.headers_mut().insert(header::ETAG, tag);
        }
        if status == StatusCode::CREATED {
            if let Ok(location) = HeaderValue::from_str(&self.location(person)) {
                response.headers_mut().insert(header::LOCATION, location);
            }
        }
        response
    }
}

impl App {
    pub async fn handle(&self, request: Request) -> Response<Body> {
        match self.serve(request).await {
            Ok(response) => response,
            Err(e) => {
                if e.status >= 500 {
                    tracing::error!(status = e.status, detail = %e.detail, "SCIM request failed");
                }
                error_response(&e)
            }
        }
    }

    /// The organization the host names, if the bearer token is one of its SCIM tokens; and
    /// the token's id. Unknown hosts and organizations get the same answer as wrong tokens.
    async fn authenticate(
        &self,
        host: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<(Organization, String), ScimError> {
        let token = authorization
            .and_then(|a| {
                let (scheme, rest) = a.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .ok_or_else(unauthorized)?;
        let sub = host
            .and_then(|h| subdomain_of(h, &self.base_domain))
            .ok_or_else(unauthorized)?;
        let org = self
            .registry
            .organization_by_subdomain(&sub)
            .await?
            .ok_or_else(unauthorized)?;
        let token_id = org
            .scim
            .as_ref()
            .and_then(|c| c.accepts(token, now_epoch()))
            .map(str::to_owned)
            .ok_or_else(unauthorized)?;
        if org.status != OrgStatus::Active {
            return Err(ScimError::new(
                403,
                None,
                "this organization is not active: nothing can be provisioned",
            ));
        }
        Ok((org, token_id))
    }

    async fn serve(&self, request: Request) -> Result<Response<Body>, ScimError> {
        let (parts, body) = request.into_parts();
        let bytes: &[u8] = match &body {
            Body::Empty => &[],
            Body::Text(t) => t.as_bytes(),
            Body::Binary(b) => b,
            _ => &[],
        };
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ScimError::new(413, None, "the body is larger than 256 KB"));
        }
        let header = |name: header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let host = header(header::HOST);
        let (org, token_id) = self
            .authenticate(host.as_deref(), header(header::AUTHORIZATION).as_deref())
            .await?;
        let path = parts.uri.path();
        let Some(start) = path.find("/v2") else {
            return Err(ScimError::not_found());
        };
        let call = Call {
            method: parts.method.clone(),
            segments: path[start + 1..]
                .split('/')
                .filter(|s| !s.is_empty())
                .collect(),
            query: parts
                .uri
                .query()
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
            body: bytes,
            if_match: header(header::IF_MATCH),
            base_url: format!("https://{}.{}/scim/v2", org.subdomain, self.base_domain),
        };
        let actor = format!("scim:{token_id}");
        let directory = Directory {
            admin: Admin {
                registry: self.registry.as_ref(),
                pools: self.pools.as_ref(),
                mailer: self.mailer.as_ref(),
                base_domain: &self.base_domain,
                actor: &actor,
            },
            budget: shared::domain::scim::directory::MEMBER_BUDGET,
        };
        self.route(&org, &directory, &call).await
    }

    async fn route(
        &self,
        org: &Organization,
        directory: &Directory<'_>,
        call: &Call<'_>,
    ) -> Result<Response<Body>, ScimError> {
        match (&call.method, &call.segments[1..]) {
            (&Method::GET, ["ServiceProviderConfig"]) => Ok(scim_json(
                StatusCode::OK,
                &discovery::service_provider_config(),
            )),
            (&Method::GET, ["Schemas"]) => Ok(scim_json(StatusCode::OK, &discovery::schemas())),
            (&Method::GET, ["Schemas", id]) => discovery::schema(id)
                .map(|s| scim_json(StatusCode::OK, &s))
                .ok_or_else(ScimError::not_found),
            (&Method::GET, ["ResourceTypes"]) => {
                Ok(scim_json(StatusCode::OK, &discovery::resource_types()))
            }
            (&Method::GET, ["ResourceTypes", "User"]) => {
                Ok(scim_json(StatusCode::OK, &discovery::user_resource_type()))
            }
            (&Method::GET, ["ResourceTypes", "Group"]) => {
                Ok(scim_json(StatusCode::OK, &discovery::group_resource_type()))
            }
            (&Method::GET, ["Users"]) => self.list(org, call).await,
            (&Method::POST, ["Users"]) => {
                let desired = DesiredUser::read(&call.json()?)?;
                let person = directory.create(org, &desired).await?;
                Ok(call.user_response(StatusCode::CREATED, &person))
            }
            (&Method::GET, ["Users", id]) => {
                let person = directory.get(org, id).await?;
                Ok(call.user_response(StatusCode::OK, &person))
            }
            (&Method::PUT, ["Users", id]) => {
                let person = checked(directory.get(org, id).await?, call)?;
                let desired = DesiredUser::read(&call.json()?)?;
                let saved = directory.update(org, person, &desired).await?;
                Ok(call.user_response(StatusCode::OK, &saved))
            }
            (&Method::PATCH, ["Users", id]) => {
                let person = checked(directory.get(org, id).await?, call)?;
                let request: PatchRequest = serde_json::from_value(call.json()?)
                    .map_err(|e| ScimError::invalid_syntax(&format!("not a PatchOp: {e}")))?;
                let current = to_resource(&person, &call.location(&person));
                let patched = patch::apply(&current, &request)?;
                let desired = DesiredUser::read(&patched)?;
                let saved = directory.update(org, person, &desired).await?;
                Ok(call.user_response(StatusCode::OK, &saved))
            }
            (&Method::DELETE, ["Users", id]) => {
                let person = checked(directory.get(org, id).await?, call)?;
                directory.delete(org, person).await?;
                let mut response = Response::new(Body::Empty);
                *response.status_mut() = StatusCode::NO_CONTENT;
                Ok(response)
            }
            (&Method::GET, ["Groups"]) => self.list_groups(org, directory, call).await,
            (&Method::POST, ["Groups"]) => {
                let desired = DesiredGroup::read(&call.json()?)?;
                let group = directory.create_group(org, &desired).await?;
                self.group_response(org, directory, call, StatusCode::CREATED, &group)
                    .await
            }
            (&Method::GET, ["Groups", id]) => {
                let group = directory.group(org, id).await?;
                self.group_response(org, directory, call, StatusCode::OK, &group)
                    .await
            }
            (&Method::PUT, ["Groups", id]) => {
                let group = group_checked(directory.group(org, id).await?, call)?;
                let desired = DesiredGroup::read(&call.json()?)?;
                let saved = directory.replace_group(org, group, &desired).await?;
                self.group_response(org, directory, call, StatusCode::OK, &saved)
                    .await
            }
            (&Method::PATCH, ["Groups", id]) => {
                let group = group_checked(directory.group(org, id).await?, call)?;
                let request: PatchRequest = serde_json::from_value(call.json()?)
                    .map_err(|e| ScimError::invalid_syntax(&format!("not a PatchOp: {e}")))?;
                let changes = group_changes(&request)?;
                let saved = directory.change_group(org, group, &changes).await?;
                // Entra ID expects 204 to a group PATCH; a body is fine for Okta too.
                self.group_response(org, directory, call, StatusCode::OK, &saved)
                    .await
            }
            (&Method::DELETE, ["Groups", id]) => {
                let group = group_checked(directory.group(org, id).await?, call)?;
                directory.delete_group(org, group).await?;
                let mut response = Response::new(Body::Empty);
                *response.status_mut() = StatusCode::NO_CONTENT;
                Ok(response)
            }
            (&Method::POST, [".search"] | ["Users", ".search"])
            | (&Method::PUT | &Method::PATCH | &Method::DELETE, ["Users"]) => {
                Err(ScimError::new(501, None, "not supported"))
            }
            _ => Err(ScimError::not_found()),
        }
    }

    /// GET /Users: an indexed look-up when the filter has an `eq` term on `userName`,
    /// `externalId` or the e-mail address; otherwise everyone, up to [`SCAN_LIMIT`].
    async fn list(&self, org: &Organization, call: &Call<'_>) -> Result<Response<Body>, ScimError> {
        let filter = match call.query("filter") {
            Some(f) if !f.trim().is_empty() => Some(Filter::parse(f)?),
            _ => None,
        };
        let (start_index, count) = paging(call)?;
        let lookup = filter
            .as_ref()
            .and_then(|f| f.equality(&["userName", "externalId", "emails.value", "emails"]));
        let candidates = match lookup {
            Some((attr, value)) => self.lookup(org, &attr, &value).await?,
            None => self.everyone(org).await?,
        };
        let mut matches: Vec<(Person, Value)> = candidates
            .into_iter()
            .filter(|p| p.directory.as_ref().is_none_or(|d| d.deleted_at.is_none()))
            .map(|p| {
                let resource = to_resource(&p, &call.location(&p));
                (p, resource)
            })
            .filter(|(_, r)| filter.as_ref().is_none_or(|f| f.matches(r)))
            .collect();
        matches.sort_by(|a, b| a.0.username.cmp(&b.0.username));
        let total = matches.len();
        let page: Vec<Value> = matches
            .into_iter()
            .skip(start_index - 1)
            .take(count)
            .map(|(p, _)| call.user(&p))
            .collect();
        Ok(scim_json(
            StatusCode::OK,
            &json!({
                "schemas": [LIST_RESPONSE],
                "totalResults": total,
                "startIndex": start_index,
                "itemsPerPage": page.len(),
                "Resources": page,
            }),
        ))
    }

    /// Whether the answer should list members (not when `excludedAttributes` or
    /// `attributes` leave them out: Entra ID asks with `excludedAttributes=members`).
    fn wants_members(call: &Call<'_>) -> bool {
        let named = |list: Vec<String>| list.iter().any(|a| a.eq_ignore_ascii_case("members"));
        let attributes = call.list("attributes");
        !named(call.list("excludedAttributes")) && (attributes.is_empty() || named(attributes))
    }

    async fn group_resource(
        &self,
        org: &Organization,
        directory: &Directory<'_>,
        call: &Call<'_>,
        group: &DirectoryGroup,
    ) -> Result<Value, ScimError> {
        let members = if Self::wants_members(call) {
            Some(directory.members(org, &group.id).await?)
        } else {
            None
        };
        let location = format!("{}/Groups/{}", call.base_url, group.id);
        Ok(project(
            group.to_resource(&location, members.as_deref()),
            &call.list("attributes"),
            &call.list("excludedAttributes"),
        ))
    }

    async fn group_response(
        &self,
        org: &Organization,
        directory: &Directory<'_>,
        call: &Call<'_>,
        status: StatusCode,
        group: &DirectoryGroup,
    ) -> Result<Response<Body>, ScimError> {
        let mut response = scim_json(
            status,
            &self.group_resource(org, directory, call, group).await?,
        );
        if let Ok(tag) = HeaderValue::from_str(&format!("W/\"{}\"", group.version)) {
            response.headers_mut().insert(header::ETAG, tag);
        }
        Ok(response)
    }

    /// GET /Groups: the organization's groups (few), filtered (`displayName eq`, ...).
    async fn list_groups(
        &self,
        org: &Organization,
        directory: &Directory<'_>,
        call: &Call<'_>,
    ) -> Result<Response<Body>, ScimError> {
        let filter = match call.query("filter") {
            Some(f) if !f.trim().is_empty() => Some(Filter::parse(f)?),
            _ => None,
        };
        let (start_index, count) = paging(call)?;
        let mut groups = self.registry.directory_groups(&org.id).await?;
        groups.sort_by(|a, b| a.display_name.cmp(&b.display_name));
        let matching: Vec<DirectoryGroup> = groups
            .into_iter()
            .filter(|g| {
                filter
                    .as_ref()
                    .is_none_or(|f| f.matches(&g.to_resource("", None)))
            })
            .collect();
        let total = matching.len();
        let mut page = Vec::new();
        for group in matching.iter().skip(start_index - 1).take(count) {
            page.push(self.group_resource(org, directory, call, group).await?);
        }
        Ok(scim_json(
            StatusCode::OK,
            &json!({
                "schemas": [LIST_RESPONSE],
                "totalResults": total,
                "startIndex": start_index,
                "itemsPerPage": page.len(),
                "Resources": page,
            }),
        ))
    }

    async fn lookup(
        &self,
        org: &Organization,
        attr: &str,
        value: &str,
    ) -> Result<Vec<Person>, ScimError> {
        let registry = self.registry.as_ref();
        let found = match attr {
            "externalId" => registry.person_by_external_id(&org.id, value).await?,
            "userName" => {
                let name = value.trim().to_ascii_lowercase();
                match registry.person_by_sign_in_name(&org.id, &name).await? {
                    Some(p) => Some(p),
                    None => registry
                        .person(&org.id, &name)
                        .await?
                        .filter(|p| p.preferred_username.is_none()),
                }
            }
            _ => match EmailAddress::parse(value) {
                Ok(address) => registry.person_by_email(&org.id, &address).await?,
                Err(_) => None,
            },
        };
        Ok(found.into_iter().collect())
    }

    async fn everyone(&self, org: &Organization) -> Result<Vec<Person>, ScimError> {
        let mut everyone = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .registry
                .people(&org.id, &|_: &Person| true, cursor.as_deref(), 1000)
                .await?;
            everyone.extend(page.items);
            if everyone.len() > SCAN_LIMIT {
                return Err(ScimError::new(
                    400,
                    Some("tooMany"),
                    "this organization has too many people to list without a filter: filter by userName, externalId or emails",
                ));
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(everyone),
            }
        }
    }
}

/// `startIndex` (1-based) and `count` (default 100, at most 200).
fn paging(call: &Call<'_>) -> Result<(usize, usize), ScimError> {
    let start_index = match call.query("startIndex") {
        None => 1,
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| ScimError::invalid_value("startIndex must be a number"))?
            .max(1) as usize,
    };
    let count = match call.query("count") {
        None => DEFAULT_COUNT,
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| ScimError::invalid_value("count must be a number"))?
            .clamp(0, MAX_COUNT as i64) as usize,
    };
    Ok((start_index, count))
}

/// The group, if `If-Match` (when sent) names its current version.
fn group_checked(group: DirectoryGroup, call: &Call<'_>) -> Result<DirectoryGroup, ScimError> {
    match call.if_match.as_deref().map(str::trim) {
        Some(expected) if expected != "*" && expected != format!("W/\"{}\"", group.version) => {
            Err(ScimError::new(
                412,
                None,
                "the group was changed since that version: read it again and repeat the change",
            ))
        }
        _ => Ok(group),
    }
}

/// The person, if `If-Match` (when sent) names their current version.
fn checked(person: Person, call: &Call<'_>) -> Result<Person, ScimError> {
    match call.if_match.as_deref().map(str::trim) {
        Some(expected) if expected != "*" && expected != etag(&person) => Err(ScimError::new(
            412,
            None,
            "the user was changed since that version: read it again and repeat the change",
        )),
        _ => Ok(person),
    }
}

#[cfg(test)]
mod tests;
