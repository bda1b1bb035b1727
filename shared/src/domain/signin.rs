//! Who may sign up and sign in, and what their tokens say: the rules the Cognito triggers
//! apply, and the registry changes that sign-up and first sign-in make.
//!
//! Cognito shows a trigger's refusal to the person as "<Trigger> failed with error
//! <message>.", so every [`Refusal`] reads as a sentence for them, and none names anyone.

use std::fmt;

use serde::Serialize;

use super::{EmailAddress, Error, OrgStatus, Organization, Person, PersonStatus, Role};
use crate::ports::{AuditEvent, Registry};

/// Why someone may not get in, as the person reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Self sign-up refused, whatever the reason (closed, wrong domain, no seat): one message
    /// so that it reveals nothing else.
    InvitationOnly,
    /// The organization is being set up or is suspended.
    OrganizationUnavailable,
    ProviderNotEnabled {
        provider: String,
    },
    /// A federated first sign-in with no invitation behind it.
    NoInvitation,
    Deactivated,
    EmailChangePending,
    NoSeat,
    SsoOnly,
    /// The pool belongs to no organization we know.
    UnknownOrganization,
    /// A federated identity was just linked to the person's existing account.
    LinkedSignInAgain {
        provider: String,
    },
}

impl Refusal {
    /// A stable name, for logs and the Lambda `errorType`.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::InvitationOnly => "InvitationOnly",
            Refusal::OrganizationUnavailable => "OrganizationUnavailable",
            Refusal::ProviderNotEnabled { .. } => "ProviderNotEnabled",
            Refusal::NoInvitation => "NoInvitation",
            Refusal::Deactivated => "Deactivated",
            Refusal::EmailChangePending => "EmailChangePending",
            Refusal::NoSeat => "NoSeat",
            Refusal::SsoOnly => "SsoOnly",
            Refusal::UnknownOrganization => "UnknownOrganization",
            Refusal::LinkedSignInAgain { .. } => "LinkedSignInAgain",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::InvitationOnly => f.write_str("Sign-up is by invitation: ask your administrator"),
            Refusal::OrganizationUnavailable => f.write_str(
                "Sign-in to this organization is not available at the moment: contact your administrator",
            ),
            Refusal::ProviderNotEnabled { provider } => {
                write!(f, "Sign-in with {provider} is not enabled for this organization: use your password or ask your administrator")
            }
            Refusal::NoInvitation => f.write_str(
                "There is no invitation for this account in this organization: ask your administrator to add you",
            ),
            Refusal::Deactivated => {
                f.write_str("This account is deactivated: ask your administrator to activate it")
            }
            Refusal::EmailChangePending => f.write_str(
                "Confirm your new e-mail address first: follow the link in the mail we sent to it",
            ),
            Refusal::NoSeat => f.write_str(
                "This account has no licence yet: ask your administrator to activate it",
            ),
            Refusal::SsoOnly => f.write_str(
                "This organization signs in with single sign-on: use the single sign-on button on the login page",
            ),
            Refusal::UnknownOrganization => {
                f.write_str("This sign-in page is not set up for any organization: contact support")
            }
            Refusal::LinkedSignInAgain { provider } => write!(
                f,
                "Your {provider} sign-in is now linked to your existing account: sign in again"
            ),
        }
    }
}

/// PreSignUp_SignUp: self sign-up, only where the organization allows it, for its own e-mail
/// domains, while a seat is free.
pub fn check_self_signup(org: &Organization, email: Option<&str>) -> Result<(), Refusal> {
    let allowed = org.status == OrgStatus::Active
        && org.sign_in.self_signup
        && org.seat_free()
        && email
            .and_then(|e| EmailAddress::parse(e).ok())
            .is_some_and(|e| org.owns_address(&e));
    if allowed {
        Ok(())
    } else {
        Err(Refusal::InvitationOnly)
    }
}

/// PreSignUp_AdminCreateUser: logins are created for active organizations only.
pub fn check_admin_create(org: &Organization) -> Result<(), Refusal> {
    if org.status == OrgStatus::Active {
        Ok(())
    } else {
        Err(Refusal::OrganizationUnavailable)
    }
}

/// What a first federated sign-in (PreSignUp_ExternalProvider) leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FederatedSignUp {
    /// Link the identity to this existing login, so the person keeps one account.
    LinkTo { username: String },
    /// Create the person just in time (auto-confirmed, address verified by the provider).
    CreateJustInTime,
}

/// The federated username Cognito sends: `<provider>_<subject>`.
pub fn split_federated_username(user_name: &str) -> Option<(&str, &str)> {
    user_name
        .split_once('_')
        .filter(|(provider, subject)| !provider.is_empty() && !subject.is_empty())
}

/// PreSignUp_ExternalProvider: only enabled providers; an existing person is linked, a new
/// one is created only where the organization allows just-in-time accounts for its domains.
pub fn decide_federated_signup(
    org: &Organization,
    provider: &str,
    email: Option<&EmailAddress>,
    existing: Option<&Person>,
) -> Result<FederatedSignUp, Refusal> {
    if org.status != OrgStatus::Active {
        return Err(Refusal::OrganizationUnavailable);
    }
    if !org.sign_in.provider_enabled(provider) {
        return Err(Refusal::ProviderNotEnabled {
            provider: provider.to_owned(),
        });
    }
    match existing {
        Some(person) if person.status.holds_seat() => Ok(FederatedSignUp::LinkTo {
            username: person.username.clone(),
        }),
        Some(person) if person.status == PersonStatus::Added => Err(Refusal::NoSeat),
        Some(_) => Err(Refusal::Deactivated),
        None => {
            let in_domain = email.is_some_and(|e| org.owns_address(e));
            if org.sign_in.jit_accounts && in_domain && org.seat_free() {
                Ok(FederatedSignUp::CreateJustInTime)
            } else {
                Err(Refusal::NoInvitation)
            }
        }
    }
}

/// PreAuthentication: who may sign in, checked against the registry (not only Cognito's view).
pub fn check_authentication(
    org: &Organization,
    person: Option<&Person>,
    federated: bool,
) -> Result<(), Refusal> {
    if org.status != OrgStatus::Active {
        return Err(Refusal::OrganizationUnavailable);
    }
    if org.sign_in.sso_only && !federated {
        return Err(Refusal::SsoOnly);
    }
    check_person(person)
}

/// The person's own state: deactivated, without a seat, or with an unconfirmed new address.
fn check_person(person: Option<&Person>) -> Result<(), Refusal> {
    let person = person.ok_or(Refusal::NoSeat)?;
    match person.status {
        PersonStatus::Invited | PersonStatus::Active => {}
        PersonStatus::Added => return Err(Refusal::NoSeat),
        PersonStatus::Deactivated | PersonStatus::Unlinked => return Err(Refusal::Deactivated),
    }
    if person.pending_email.is_some() {
        return Err(Refusal::EmailChangePending);
    }
    Ok(())
}

/// The claims every token of the organization carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenClaims {
    pub org_id: String,
    pub org_subdomain: String,
    pub roles: Vec<String>,
}

/// PreTokenGeneration: the organization and the person's roles, from the registry. Runs on
/// every sign-in and every refresh, so a person deactivated since gets no new token.
pub fn token_claims(org: &Organization, person: Option<&Person>) -> Result<TokenClaims, Refusal> {
    if org.status != OrgStatus::Active {
        return Err(Refusal::OrganizationUnavailable);
    }
    check_person(person)?;
    let roles = person
        .map(|p| p.roles.iter().map(|r| r.as_str().to_owned()).collect())
        .unwrap_or_default();
    Ok(TokenClaims {
        org_id: org.id.to_string(),
        org_subdomain: org.subdomain.to_string(),
        roles,
    })
}

/// What a confirmation (PostConfirmation) or a first sign-in changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A new person was recorded (self sign-up or just-in-time SSO account).
    Created,
    /// The person moved from `invited` to `active`.
    Activated,
    /// Nothing to do: a repeated call, or a state that needs no change.
    Unchanged,
}

/// The person as recorded afterwards, and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub person: Person,
    pub change: Change,
}

impl Recorded {
    fn new(person: Person, change: Change) -> Self {
        Self { person, change }
    }
}

/// PostConfirmation_ConfirmSignUp: a person who signed up (or came through SSO just in time)
/// is recorded as active with the `member` role and a seat; an invited person becomes
/// active. Safe to repeat: Cognito may call it three times.
pub async fn record_confirmation(
    registry: &dyn Registry,
    org: &Organization,
    username: &str,
    email: &EmailAddress,
    actor: &str,
) -> Result<Recorded, Error> {
    if let Some(person) = registry.person(&org.id, username).await? {
        return record_first_login(registry, org, person, actor).await;
    }
    let person = Person::new(
        org.id.clone(),
        username.to_owned(),
        email.clone(),
        vec![Role::parse("member")?],
        PersonStatus::Active,
    );
    let audit = AuditEvent::now(&org.id, actor, "person.signed_up", username, None);
    match registry.create_person(&person, &audit).await {
        Ok(()) => Ok(Recorded::new(person, Change::Created)),
        // A concurrent attempt of the same confirmation got there first.
        Err(e) => match registry.person(&org.id, username).await? {
            Some(existing) => Ok(Recorded::new(existing, Change::Unchanged)),
            None => Err(e),
        },
    }
}

/// The first sign-in with an own password (NEW_PASSWORD_REQUIRED answered, or a forgotten
/// temporary password replaced): `invited` becomes `active`. Anything else is left alone.
pub async fn record_first_login(
    registry: &dyn Registry,
    org: &Organization,
    person: Person,
    actor: &str,
) -> Result<Recorded, Error> {
    if person.status != PersonStatus::Invited {
        return Ok(Recorded::new(person, Change::Unchanged));
    }
    let mut active = person.clone();
    active.status = PersonStatus::Active;
    let audit = AuditEvent::now(&org.id, actor, "person.first_login", &person.username, None);
    match registry.save_person(&person, &active, Some(&audit)).await {
        Ok(saved) => Ok(Recorded::new(saved, Change::Activated)),
        // Saved meanwhile by a repeated call: fine if that call did the same.
        Err(Error::Conflict { .. }) => match registry.person(&org.id, &person.username).await? {
            Some(now) if now.status == PersonStatus::Active => {
                Ok(Recorded::new(now, Change::Unchanged))
            }
            _ => Err(Error::Conflict {
                what: "person",
                key: person.username,
            }),
        },
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::organization::tests::sample;
    use crate::domain::{EmailDomain, OrgId};

    fn org() -> Organization {
        let mut org = sample("acme");
        org.email_domains = vec![EmailDomain::parse("acme.com").expect("valid")];
        org
    }

    fn person(status: PersonStatus) -> Person {
        Person::new(
            OrgId::from("org-1".to_owned()),
            "jane".into(),
            EmailAddress::parse("jane@acme.com").expect("valid"),
            vec![Role::admin()],
            status,
        )
    }

    #[test]
    fn self_signup_is_closed_by_default_and_says_only_that() {
        let org = org();
        assert_eq!(
            check_self_signup(&org, Some("jane@acme.com")),
            Err(Refusal::InvitationOnly)
        );
        assert_eq!(
            Refusal::InvitationOnly.to_string(),
            "Sign-up is by invitation: ask your administrator"
        );
    }

    #[test]
    fn self_signup_where_allowed_needs_the_domain_and_a_seat() {
        let mut org = org();
        org.sign_in.self_signup = true;
        assert_eq!(check_self_signup(&org, Some("Jane@ACME.com")), Ok(()));
        assert_eq!(
            check_self_signup(&org, Some("jane@other.com")),
            Err(Refusal::InvitationOnly)
        );
        assert_eq!(check_self_signup(&org, None), Err(Refusal::InvitationOnly));
        org.seats_used = 2;
        assert_eq!(
            check_self_signup(&org, Some("jane@acme.com")),
            Err(Refusal::InvitationOnly)
        );
        org.seats_used = 0;
        org.status = OrgStatus::Suspended;
        assert_eq!(
            check_self_signup(&org, Some("jane@acme.com")),
            Err(Refusal::InvitationOnly)
        );
    }

    #[test]
    fn admin_create_needs_an_active_organization() {
        let mut org = org();
        assert_eq!(check_admin_create(&org), Ok(()));
        org.status = OrgStatus::Provisioning;
        assert_eq!(
            check_admin_create(&org),
            Err(Refusal::OrganizationUnavailable)
        );
    }

    #[test]
    fn federated_first_sign_in() {
        let mut org = org();
        let email = EmailAddress::parse("jane@acme.com").expect("valid");
        assert_eq!(
            decide_federated_signup(&org, "Microsoft", Some(&email), None),
            Err(Refusal::ProviderNotEnabled {
                provider: "Microsoft".into()
            })
        );
        org.sign_in.providers = vec!["microsoft".into()];
        let invited = person(PersonStatus::Invited);
        assert_eq!(
            decide_federated_signup(&org, "Microsoft", Some(&email), Some(&invited)),
            Ok(FederatedSignUp::LinkTo {
                username: "jane".into()
            })
        );
        assert_eq!(
            decide_federated_signup(
                &org,
                "Microsoft",
                Some(&email),
                Some(&person(PersonStatus::Deactivated))
            ),
            Err(Refusal::Deactivated)
        );
        assert_eq!(
            decide_federated_signup(&org, "Microsoft", Some(&email), None),
            Err(Refusal::NoInvitation)
        );
        org.sign_in.jit_accounts = true;
        assert_eq!(
            decide_federated_signup(&org, "Microsoft", Some(&email), None),
            Ok(FederatedSignUp::CreateJustInTime)
        );
        let outsider = EmailAddress::parse("joe@other.com").expect("valid");
        assert_eq!(
            decide_federated_signup(&org, "Microsoft", Some(&outsider), None),
            Err(Refusal::NoInvitation)
        );
    }

    #[test]
    fn federated_usernames_split_at_the_first_underscore() {
        assert_eq!(
            split_federated_username("Microsoft_abc_def"),
            Some(("Microsoft", "abc_def"))
        );
        assert_eq!(split_federated_username("jane"), None);
        assert_eq!(split_federated_username("_x"), None);
    }

    #[test]
    fn authentication_refusals_each_have_their_reason() {
        let mut org = org();
        assert_eq!(
            check_authentication(&org, Some(&person(PersonStatus::Active)), false),
            Ok(())
        );
        assert_eq!(
            check_authentication(&org, Some(&person(PersonStatus::Invited)), false),
            Ok(())
        );
        assert_eq!(
            check_authentication(&org, Some(&person(PersonStatus::Deactivated)), false),
            Err(Refusal::Deactivated)
        );
        assert_eq!(
            check_authentication(&org, Some(&person(PersonStatus::Unlinked)), false),
            Err(Refusal::Deactivated)
        );
        assert_eq!(
            check_authentication(&org, Some(&person(PersonStatus::Added)), false),
            Err(Refusal::NoSeat)
        );
        assert_eq!(
            check_authentication(&org, None, false),
            Err(Refusal::NoSeat)
        );
        let mut pending = person(PersonStatus::Active);
        pending.pending_email = Some(EmailAddress::parse("new@acme.com").expect("valid"));
        assert_eq!(
            check_authentication(&org, Some(&pending), false),
            Err(Refusal::EmailChangePending)
        );
        org.sign_in.sso_only = true;
        assert_eq!(
            check_authentication(&org, Some(&person(PersonStatus::Active)), false),
            Err(Refusal::SsoOnly)
        );
        assert_eq!(
            check_authentication(&org, Some(&person(PersonStatus::Active)), true),
            Ok(())
        );
        org.status = OrgStatus::Suspended;
        assert_eq!(
            check_authentication(&org, Some(&person(PersonStatus::Active)), true),
            Err(Refusal::OrganizationUnavailable)
        );
        // No message names a person or an address.
        for r in [
            Refusal::Deactivated,
            Refusal::NoSeat,
            Refusal::EmailChangePending,
            Refusal::SsoOnly,
        ] {
            assert!(!r.to_string().contains("jane"), "{r}");
        }
    }

    #[test]
    fn tokens_carry_the_organization_and_roles() {
        let org = org();
        let claims = token_claims(&org, Some(&person(PersonStatus::Active))).expect("claims");
        assert_eq!(claims.org_subdomain, "acme");
        assert_eq!(claims.org_id, org.id.to_string());
        assert_eq!(claims.roles, vec!["admin"]);
        assert_eq!(
            token_claims(&org, Some(&person(PersonStatus::Deactivated))),
            Err(Refusal::Deactivated)
        );
    }
}
