//! The main domain: a person's organization found from their e-mail address (a proven domain
//! of the organization's) or its name, then on to its login page. Stands on `common` only.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use shared::domain::attempts::Attempt;
use shared::domain::{EmailAddress, EmailDomain, OrgStatus, Organization, Subdomain};

use crate::common::{render, stylesheet, unavailable, with_retry_after, App, Call, TOO_MANY};
use crate::pages::{self, Shell};
use crate::web::{self, Page};

impl App {
    pub(crate) async fn main_site(&self, call: &Call) -> Response<Body> {
        if call.method == Method::GET && call.path == "/assets/site.css" {
            return stylesheet();
        }
        let (csrf, set_csrf) = web::csrf_token(&call.headers);
        let page = |status: StatusCode,
                    error: Option<&'static str>,
                    identifier: String,
                    return_to: String| {
            let html = render(&pages::Discover {
                shell: Shell {
                    title: "Find your organization",
                    brand: self.settings.product.clone(),
                    logo: None,
                    csrf: csrf.clone(),
                },
                error,
                identifier,
                return_to,
                base_domain: self.settings.base_domain.clone(),
            });
            web::html(Page {
                status,
                html,
                cookies: set_csrf.iter().cloned().collect(),
                form_targets: vec![self.settings.any_org_origin()],
            })
        };
        match call.method {
            Method::GET | Method::HEAD => {
                // A deep link keeps its path through discovery and sign-in.
                let full = match &call.query {
                    Some(q) => format!("{}?{q}", call.path),
                    None => call.path.clone(),
                };
                let return_to = web::local_path(&full)
                    .filter(|p| *p != "/")
                    .unwrap_or_default()
                    .to_owned();
                page(StatusCode::OK, None, String::new(), return_to)
            }
            Method::POST => {
                let Some(form) = call.form().filter(|f| web::csrf_ok(&call.headers, f)) else {
                    return page(
                        StatusCode::FORBIDDEN,
                        Some("This form has expired. Please try again."),
                        String::new(),
                        String::new(),
                    );
                };
                let return_to = form
                    .get("return_to")
                    .and_then(web::local_path)
                    .unwrap_or_default()
                    .to_owned();
                let Some(identifier) = form.text("identifier", 320) else {
                    return page(
                        StatusCode::BAD_REQUEST,
                        Some("Enter your work e-mail address or your organization's name."),
                        String::new(),
                        return_to,
                    );
                };
                if let Err(too_many) = self.allowed(call, Attempt::Discovery, None).await {
                    return with_retry_after(
                        page(
                            StatusCode::TOO_MANY_REQUESTS,
                            Some(TOO_MANY),
                            identifier.to_owned(),
                            return_to,
                        ),
                        too_many,
                    );
                }
                match self.discover(identifier).await {
                    Ok(Some((org, hint))) => {
                        let mut url = format!("{}/login", self.settings.origin(&org.subdomain));
                        let mut sep = '?';
                        if let Some(hint) = hint {
                            url.push_str(&format!("{sep}login_hint={}", web::encode(&hint)));
                            sep = '&';
                        }
                        if !return_to.is_empty() {
                            url.push_str(&format!("{sep}return_to={}", web::encode(&return_to)));
                        }
                        web::redirect(&url, &set_csrf.iter().cloned().collect::<Vec<_>>())
                    }
                    Ok(None) => page(
                        StatusCode::OK,
                        Some("We could not find your organization from that. Check what you typed, or ask your administrator for your organization's sign-in address."),
                        identifier.to_owned(),
                        return_to,
                    ),
                    Err(e) => {
                        tracing::error!(error = %e, "discovery failed");
                        unavailable()
                    }
                }
            }
            _ => web::not_found(),
        }
    }

    /// The organization `identifier` (an e-mail address or a subdomain) leads to, and the
    /// login hint to carry.
    async fn discover(
        &self,
        identifier: &str,
    ) -> Result<Option<(Organization, Option<String>)>, shared::domain::Error> {
        let identifier = identifier.trim().to_ascii_lowercase();
        if identifier.contains('@') {
            let Ok(address) = EmailAddress::parse(&identifier) else {
                return Ok(None);
            };
            let Ok(domain) = EmailDomain::parse(address.domain()) else {
                return Ok(None);
            };
            // A public mail domain is nobody's; an organization's domain counts only once it
            // uses it (proven, or the operator's word): a claim left from before proofs were
            // required sends nobody anywhere.
            if domain.is_public_mail() {
                return Ok(None);
            }
            let org = self.registry.organization_by_email_domain(&domain).await?;
            return Ok(org
                .filter(|o| o.status != OrgStatus::Provisioning && o.uses_domain(domain.as_str()))
                .map(|o| (o, Some(address.as_str().to_owned()))));
        }
        let label = identifier.trim_end_matches('.');
        let label = label
            .strip_suffix(&format!(".{}", self.settings.base_domain))
            .unwrap_or(label);
        let Ok(sub) = Subdomain::parse(label) else {
            return Ok(None);
        };
        Ok(self
            .organization(&sub)
            .await?
            .filter(|o| o.status != OrgStatus::Provisioning)
            .map(|o| (o, None)))
    }
}
