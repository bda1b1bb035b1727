//! Who may sign up and sign in, and what their tokens say: the rules the Cognito triggers
//! apply, and the registry changes that sign-up and first sign-in make.
//!
//! Cognito shows a trigger's refusal to the person as "<Trigger> failed with error
//! <message>.", so every [`Refusal`] reads as a sentence for them, and none names anyone.

use std::fmt;

use serde::Serialize;

use super::{EmailAddress, Error, OrgStatus, Organization, Person, PersonStatus, Role};
use crate::domain::ports::{AuditEvent, Registry};

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
    UsernameChangePending,
    NoSeat,
    SsoOnly,
    /// The pool belongs to no organization we know.
    UnknownOrganization,
    /// A federated identity was just linked to the person's existing account.
    LinkedSignInAgain {
        provider: String,
    },
    /// A federated first sign-in whose address the provider does not vouch for: it is
    /// neither linked to an account nor given one.
    UnverifiedEmail {
        provider: String,
    },
    /// The account with that address is already linked to another identity of the provider.
    IdentityConflict {
        provider: String,
    },
    /// Lazy migration refused (wrong password, unknown person, no legacy password, any state
    /// that may not sign in): one answer for all, Cognito's own words for a wrong password,
    /// so that it tells a stranger nothing about who exists.
    IncorrectCredentials,
    /// A login whose address is not the address of the registry's person of that username:
    /// not the same person, so it gets nothing of theirs.
    LoginMismatch,
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
            Refusal::UsernameChangePending => "UsernameChangePending",
            Refusal::NoSeat => "NoSeat",
            Refusal::SsoOnly => "SsoOnly",
            Refusal::UnknownOrganization => "UnknownOrganization",
            Refusal::LinkedSignInAgain { .. } => "LinkedSignInAgain",
            Refusal::UnverifiedEmail { .. } => "UnverifiedEmail",
            Refusal::IdentityConflict { .. } => "IdentityConflict",
            Refusal::IncorrectCredentials => "IncorrectCredentials",
            Refusal::LoginMismatch => "LoginMismatch",
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
            Refusal::UsernameChangePending => f.write_str(
                "Confirm your new username first: follow the link in the mail we sent you",
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
            Refusal::UnverifiedEmail { provider } => write!(
                f,
                "Your {provider} account does not confirm its e-mail address, so it cannot be matched to an account here: ask your administrator to link it"
            ),
            Refusal::IdentityConflict { provider } => write!(
                f,
                "This account is already linked to another {provider} sign-in: ask your administrator"
            ),
            Refusal::IncorrectCredentials => f.write_str("Incorrect username or password"),
            Refusal::LoginMismatch => f.write_str(
                "This login does not match this organization's record of that name: ask your administrator",
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

/// PreSignUp_SignUp, after [`check_self_signup`]: a self sign-up may take no name and no
/// address that anyone of the registry has: not a person's username, nor a sign-in name
/// (`preferred_username`, pending ones too), nor a person's address. Otherwise the new login
/// would later be bound to that person's record, roles and legacy password. `Ok(false)`:
/// refuse it (with the same [`Refusal::InvitationOnly`], which tells nothing more).
pub async fn self_signup_is_free(
    registry: &dyn Registry,
    org: &Organization,
    username: &str,
    email: Option<&str>,
) -> Result<bool, Error> {
    let username = username.to_ascii_lowercase();
    if registry.person(&org.id, &username).await?.is_some()
        || registry
            .person_by_sign_in_name(&org.id, &username)
            .await?
            .is_some()
    {
        return Ok(false);
    }
    match email.map(EmailAddress::parse) {
        Some(Ok(address)) => Ok(registry.person_by_email(&org.id, &address).await?.is_none()),
        // No valid address: check_self_signup refuses it already.
        _ => Ok(false),
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
    /// `recorded` tells whether the registry already holds the link (a retried attempt).
    LinkTo { username: String, recorded: bool },
    /// Create the person just in time (auto-confirmed, address verified by the provider).
    CreateJustInTime,
}

/// The federated username Cognito sends: `<provider>_<subject>`.
pub fn split_federated_username(user_name: &str) -> Option<(&str, &str)> {
    user_name
        .split_once('_')
        .filter(|(provider, subject)| !provider.is_empty() && !subject.is_empty())
}

/// What a first federated sign-in claims: the provider, its stable subject, the address and
/// whether the provider asserts that the address is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedClaim<'a> {
    pub provider: &'a str,
    pub subject: &'a str,
    pub email: Option<&'a EmailAddress>,
    /// The provider's `email_verified` is "true".
    pub email_verified: bool,
}

impl FederatedClaim<'_> {
    /// Whether the address may identify someone: only when the provider vouches for it
    /// (`email_verified` "true"; for Entra ID the `xms_edov` claim mapped onto it, see
    /// `settings::provider_spec`). Being in the organization's domains is no proof, even
    /// through its own directory: a guest or a user of any tenant can carry any address in
    /// `email` (the "nOAuth" class).
    ///
    /// A SAML connection of the organization (`saml-<name>`) carries no `email_verified`: the
    /// organization's own IdP vouches for addresses in the organization's proven e-mail
    /// domains, and for nothing else (issue 23).
    pub fn trusted_email(&self, org: &Organization) -> Option<&EmailAddress> {
        let saml = org
            .sign_in
            .sso
            .saml
            .iter()
            .any(|c| c.provider_name().eq_ignore_ascii_case(self.provider));
        if saml {
            return self.email.filter(|e| org.uses_domain(e.domain()));
        }
        self.email.filter(|_| self.email_verified)
    }
}

/// PreSignUp_ExternalProvider: only enabled providers. A person already linked to this
/// identity (`by_identity`, found by the provider's subject) is linked again (a retried
/// attempt). Otherwise the address must be trusted ([`FederatedClaim::trusted_email`]): the
/// person who has it (`by_email`) gets the identity linked, and a new person is created only
/// where the organization allows just-in-time accounts for its domains.
pub fn decide_federated_signup(
    org: &Organization,
    claim: &FederatedClaim<'_>,
    by_identity: Option<&Person>,
    by_email: Option<&Person>,
) -> Result<FederatedSignUp, Refusal> {
    if org.status != OrgStatus::Active {
        return Err(Refusal::OrganizationUnavailable);
    }
    if !org.sign_in.provider_enabled(claim.provider) {
        return Err(Refusal::ProviderNotEnabled {
            provider: claim.provider.to_owned(),
        });
    }
    let link_to = |person: &Person, recorded: bool| match person.status {
        PersonStatus::Invited | PersonStatus::Active => Ok(FederatedSignUp::LinkTo {
            username: person.username.clone(),
            recorded,
        }),
        PersonStatus::Added => Err(Refusal::NoSeat),
        PersonStatus::Deactivated | PersonStatus::Unlinked => Err(Refusal::Deactivated),
    };
    if let Some(person) = by_identity {
        return link_to(person, true);
    }
    let Some(email) = claim.trusted_email(org) else {
        return Err(Refusal::UnverifiedEmail {
            provider: claim.provider.to_owned(),
        });
    };
    match by_email {
        Some(person)
            if person
                .identities
                .iter()
                .any(|i| i.provider.eq_ignore_ascii_case(claim.provider)) =>
        {
            Err(Refusal::IdentityConflict {
                provider: claim.provider.to_owned(),
            })
        }
        Some(person) => link_to(person, false),
        None => {
            if org.sign_in.jit_accounts && org.owns_address(email) && org.seat_free() {
                Ok(FederatedSignUp::CreateJustInTime)
            } else {
                Err(Refusal::NoInvitation)
            }
        }
    }
}

/// Whether a trigger event's user is a federated user (created by a provider sign-in): by
/// Cognito's user status `EXTERNAL_PROVIDER`, or where an event lacks the status, by the
/// `<provider>_<subject>` username of a provider the organization enabled (exact case, as
/// the pool names it). Never by the `identities` attribute: a native login linked to a
/// provider carries one too, and signs in with its password.
pub fn is_federated_user(org: &Organization, user_name: &str, user_status: Option<&str>) -> bool {
    match user_status {
        Some(status) => status == "EXTERNAL_PROVIDER",
        None => split_federated_username(user_name)
            .is_some_and(|(provider, _)| org.sign_in.providers.iter().any(|p| p == provider)),
    }
}

/// PreAuthentication, which runs before the password is checked and for unknown usernames
/// too: only what any visitor may learn, the organization's own state.
pub fn check_organization_open(org: &Organization) -> Result<(), Refusal> {
    if org.status == OrgStatus::Active {
        Ok(())
    } else {
        Err(Refusal::OrganizationUnavailable)
    }
}

/// How a token is being issued, from PreTokenGeneration's `triggerSource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// Sign-in through the API with a password or SRP (`TokenGeneration_Authentication`,
    /// `_NewPasswordChallenge`, `_AuthenticateDevice`).
    ApiSignIn,
    /// Sign-in through Cognito's managed login / OAuth (`TokenGeneration_HostedAuth`): where
    /// the app client offers no `COGNITO` password page, a provider sign-in.
    HostedSignIn,
    /// `TokenGeneration_RefreshTokens`: the sign-in was checked when it happened.
    Refresh,
}

impl TokenSource {
    pub fn of(trigger_source: &str) -> Self {
        match trigger_source {
            "TokenGeneration_HostedAuth" => TokenSource::HostedSignIn,
            "TokenGeneration_RefreshTokens" => TokenSource::Refresh,
            _ => TokenSource::ApiSignIn,
        }
    }
}

/// SSO-only organizations: no token for a sign-in with a password, but the administrators'
/// break-glass where the organization keeps it. Checked when the token is issued, after
/// Cognito verified the password, so that it tells nothing to someone who does not know it;
/// and by the token's source, which Cognito sets, so that a native login linked to a
/// provider is refused with its password and accepted through the provider.
///
/// - API sign-in (the router's password form, or anyone calling InitiateAuth with the
///   public client id): a password, so only a break-glass administrator.
/// - Managed login: the app client of an SSO-only organization offers no `COGNITO` password
///   page there (see `apply_sign_in`), so a native login arrives only through a provider
///   linked to it.
/// - Refresh: continues a sign-in that one of the two allowed; a refresh token from a
///   password sign-in before the organization became SSO-only yields nothing more.
pub fn check_sign_in_method(
    org: &Organization,
    source: TokenSource,
    federated_user: bool,
    person: Option<&Person>,
) -> Result<(), Refusal> {
    if !org.sign_in.sso_only || federated_user {
        return Ok(());
    }
    let break_glass = org.sign_in.admins_keep_password
        && person.is_some_and(|p| p.roles.iter().any(|r| r.as_str() == "admin"));
    let linked = person.is_some_and(|p| !p.identities.is_empty());
    let allowed = match source {
        TokenSource::ApiSignIn => break_glass,
        TokenSource::HostedSignIn => linked,
        TokenSource::Refresh => linked || break_glass,
    };
    if allowed {
        Ok(())
    } else {
        Err(Refusal::SsoOnly)
    }
}

/// The person's own state: deactivated, without a seat, or with an unconfirmed new address.
/// Checked after the password (post-authentication) and at every token (refresh included),
/// never before: only someone who knows the password learns it.
pub fn check_person(person: Option<&Person>) -> Result<(), Refusal> {
    let person = person.ok_or(Refusal::NoSeat)?;
    match person.status {
        PersonStatus::Invited | PersonStatus::Active => {}
        PersonStatus::Added => return Err(Refusal::NoSeat),
        PersonStatus::Deactivated | PersonStatus::Unlinked => return Err(Refusal::Deactivated),
    }
    if person.pending_email.is_some() {
        return Err(Refusal::EmailChangePending);
    }
    if person.pending_username.is_some() {
        return Err(Refusal::UsernameChangePending);
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

/// How a confirmed sign-up came about, which decides the role a new person gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignUpKind {
    /// A self sign-up with a password.
    Password,
    /// A first sign-in through a federated provider (just in time).
    Federated {
        /// The provider is bound to the organization's own directory: the organization's
        /// `jit.role` applies (its directory vouches for the person).
        directory: bool,
    },
}

/// PostConfirmation_ConfirmSignUp: a person who signed up (or came through SSO just in time)
/// is recorded as active with a seat and the `member` role (just-in-time accounts of the
/// organization's directory provider: its `jit.role`); an invited person becomes active.
/// A record of that username is the login's only when it has the login's confirmed address
/// ([`Error::LoginOfAnotherPerson`] otherwise: nothing of theirs is given to the login).
/// Safe to repeat: Cognito may call it three times.
pub async fn record_confirmation(
    registry: &dyn Registry,
    org: &Organization,
    username: &str,
    email: &EmailAddress,
    kind: SignUpKind,
    actor: &str,
) -> Result<Recorded, Error> {
    if let Some(person) = registry.person(&org.id, username).await? {
        if &person.email != email {
            return Err(Error::LoginOfAnotherPerson {
                username: username.to_owned(),
            });
        }
        return record_first_login(registry, org, person, actor).await;
    }
    let role = match kind {
        SignUpKind::Federated { directory: true } => jit_role(org)?,
        SignUpKind::Federated { directory: false } | SignUpKind::Password => Role::parse("member")?,
    };
    create_member(
        registry,
        org,
        username,
        email,
        role,
        actor,
        "person.signed_up",
        None,
    )
    .await
}

/// The role of a just-in-time account of the organization's directory provider.
fn jit_role(org: &Organization) -> Result<Role, Error> {
    org.sign_in
        .jit_role
        .as_deref()
        .and_then(|r| org.role(r).ok())
        .map_or_else(|| Role::parse("member"), Ok)
}

/// A login that Cognito holds and has just let sign in, but that the registry lacks: its
/// post-confirmation failed for good. The person is recorded now (active, role `member`, a
/// seat) with an audit event that says so; [`Error::NoSeatFree`] when no seat is free.
pub async fn record_missing(
    registry: &dyn Registry,
    org: &Organization,
    username: &str,
    email: &EmailAddress,
    actor: &str,
) -> Result<Recorded, Error> {
    create_member(
        registry,
        org,
        username,
        email,
        Role::parse("member")?,
        actor,
        "person.recorded_at_sign_in",
        Some("the login existed in Cognito without a record".into()),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn create_member(
    registry: &dyn Registry,
    org: &Organization,
    username: &str,
    email: &EmailAddress,
    role: Role,
    actor: &str,
    action: &str,
    detail: Option<String>,
) -> Result<Recorded, Error> {
    let person = Person::new(
        org.id.clone(),
        username.to_owned(),
        email.clone(),
        vec![role],
        PersonStatus::Active,
    );
    let audit = AuditEvent::now(&org.id, actor, action, username, detail);
    match registry.create_person(&person, &audit).await {
        Ok(()) => Ok(Recorded::new(person, Change::Created)),
        // A concurrent attempt of the same call got there first; a record of that name
        // with another address is someone else's.
        Err(e) => match registry.person(&org.id, username).await? {
            Some(existing) if &existing.email == email => {
                Ok(Recorded::new(existing, Change::Unchanged))
            }
            Some(_) => Err(Error::LoginOfAnotherPerson {
                username: username.to_owned(),
            }),
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

    fn claim<'a>(email: &'a EmailAddress, verified: bool) -> FederatedClaim<'a> {
        FederatedClaim {
            provider: "Microsoft",
            subject: "x7Kp2Qm",
            email: Some(email),
            email_verified: verified,
        }
    }

    #[test]
    fn a_saml_address_is_trusted_in_the_organizations_proven_domains_only() {
        use crate::domain::saml::{checked_connection, fixtures, SamlInput};
        let mut org = org();
        let input = SamlInput {
            metadata_xml: Some(fixtures::okta(fixtures::GOOD_CERT)),
            ..SamlInput::default()
        };
        let connection = checked_connection("okta", &input, 1_700_000_000).expect("connection");
        org.sign_in.sso.saml.push(connection);
        org.sign_in.providers = vec!["saml-okta".into()];
        let saml = |email| FederatedClaim {
            provider: "saml-okta",
            subject: "00u1abcd",
            email: Some(email),
            // A SAML assertion has no email_verified: never what decides.
            email_verified: false,
        };
        let own = EmailAddress::parse("jane@acme.com").expect("valid");
        let other = EmailAddress::parse("jane@elsewhere.example").expect("valid");
        assert_eq!(saml(&own).trusted_email(&org), Some(&own));
        assert_eq!(saml(&other).trusted_email(&org), None);
        let invited = person(PersonStatus::Invited);
        assert_eq!(
            decide_federated_signup(&org, &saml(&own), None, Some(&invited)),
            Ok(FederatedSignUp::LinkTo {
                username: "jane".into(),
                recorded: false
            })
        );
        assert_eq!(
            decide_federated_signup(&org, &saml(&other), None, None),
            Err(Refusal::UnverifiedEmail {
                provider: "saml-okta".into()
            })
        );
        // Any other provider still needs its own email_verified, in the domains or not.
        let microsoft = FederatedClaim {
            provider: "Microsoft",
            subject: "x",
            email: Some(&own),
            email_verified: false,
        };
        assert_eq!(microsoft.trusted_email(&org), None);
    }

    #[test]
    fn federated_first_sign_in() {
        let mut org = org();
        let email = EmailAddress::parse("jane@acme.com").expect("valid");
        assert_eq!(
            decide_federated_signup(&org, &claim(&email, true), None, None),
            Err(Refusal::ProviderNotEnabled {
                provider: "Microsoft".into()
            })
        );
        org.sign_in.providers = vec!["microsoft".into()];
        let invited = person(PersonStatus::Invited);
        assert_eq!(
            decide_federated_signup(&org, &claim(&email, true), None, Some(&invited)),
            Ok(FederatedSignUp::LinkTo {
                username: "jane".into(),
                recorded: false
            })
        );
        assert_eq!(
            decide_federated_signup(
                &org,
                &claim(&email, true),
                None,
                Some(&person(PersonStatus::Deactivated))
            ),
            Err(Refusal::Deactivated)
        );
        assert_eq!(
            decide_federated_signup(&org, &claim(&email, true), None, None),
            Err(Refusal::NoInvitation)
        );
        org.sign_in.jit_accounts = true;
        assert_eq!(
            decide_federated_signup(&org, &claim(&email, true), None, None),
            Ok(FederatedSignUp::CreateJustInTime)
        );
        let outsider = EmailAddress::parse("joe@other.com").expect("valid");
        assert_eq!(
            decide_federated_signup(&org, &claim(&outsider, true), None, None),
            Err(Refusal::NoInvitation)
        );
    }

    #[test]
    fn an_unverified_address_neither_links_nor_creates() {
        let mut org = org();
        org.sign_in.providers = vec!["Microsoft".into()];
        org.sign_in.jit_accounts = true;
        let email = EmailAddress::parse("jane@acme.com").expect("valid");
        let admin = person(PersonStatus::Active);
        let unverified = Err(Refusal::UnverifiedEmail {
            provider: "Microsoft".into(),
        });
        // Anyone at any Entra ID tenant can put an administrator's address in `email`.
        assert_eq!(
            decide_federated_signup(&org, &claim(&email, false), None, Some(&admin)),
            unverified
        );
        assert_eq!(
            decide_federated_signup(&org, &claim(&email, false), None, None),
            unverified
        );
        assert!(unverified
            .clone()
            .unwrap_err()
            .to_string()
            .contains("ask your administrator"));
        // Not even through the organization's own directory, in its own domains: only
        // Entra's word (xms_edov, mapped onto email_verified) counts.
        org.sign_in.directory_providers = vec!["microsoft".into()];
        assert_eq!(
            decide_federated_signup(&org, &claim(&email, false), None, Some(&admin)),
            unverified
        );
        assert_eq!(
            decide_federated_signup(&org, &claim(&email, true), None, Some(&admin)),
            Ok(FederatedSignUp::LinkTo {
                username: "jane".into(),
                recorded: false
            })
        );
        let outsider = EmailAddress::parse("jane@other.com").expect("valid");
        assert_eq!(
            decide_federated_signup(&org, &claim(&outsider, false), None, None),
            unverified
        );
    }

    #[test]
    fn after_the_first_link_the_subject_identifies_the_person() {
        let mut org = org();
        org.sign_in.providers = vec!["Microsoft".into()];
        let mut linked = person(PersonStatus::Active);
        linked.identities = vec![crate::domain::LinkedIdentity {
            provider: "Microsoft".into(),
            subject: "x7Kp2Qm".into(),
        }];
        // Found by the subject: the address (now someone else's, or unverified) plays no part.
        let other = EmailAddress::parse("someone@else.com").expect("valid");
        assert_eq!(
            decide_federated_signup(&org, &claim(&other, false), Some(&linked), None),
            Ok(FederatedSignUp::LinkTo {
                username: "jane".into(),
                recorded: true
            })
        );
        // Another Microsoft subject with the linked person's verified address is not linked.
        let email = EmailAddress::parse("jane@acme.com").expect("valid");
        let mut second = claim(&email, true);
        second.subject = "another-subject";
        assert_eq!(
            decide_federated_signup(&org, &second, None, Some(&linked)),
            Err(Refusal::IdentityConflict {
                provider: "Microsoft".into()
            })
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
    fn person_refusals_each_have_their_reason() {
        assert_eq!(check_person(Some(&person(PersonStatus::Active))), Ok(()));
        assert_eq!(check_person(Some(&person(PersonStatus::Invited))), Ok(()));
        assert_eq!(
            check_person(Some(&person(PersonStatus::Deactivated))),
            Err(Refusal::Deactivated)
        );
        assert_eq!(
            check_person(Some(&person(PersonStatus::Unlinked))),
            Err(Refusal::Deactivated)
        );
        assert_eq!(
            check_person(Some(&person(PersonStatus::Added))),
            Err(Refusal::NoSeat)
        );
        assert_eq!(check_person(None), Err(Refusal::NoSeat));
        let mut pending = person(PersonStatus::Active);
        pending.pending_email = Some(EmailAddress::parse("new@acme.com").expect("valid"));
        assert_eq!(
            check_person(Some(&pending)),
            Err(Refusal::EmailChangePending)
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
    fn only_the_organization_state_is_checked_before_the_password() {
        let mut org = org();
        assert_eq!(check_organization_open(&org), Ok(()));
        org.sign_in.sso_only = true;
        assert_eq!(
            check_organization_open(&org),
            Ok(()),
            "SSO-only: at the token"
        );
        org.status = OrgStatus::Suspended;
        assert_eq!(
            check_organization_open(&org),
            Err(Refusal::OrganizationUnavailable)
        );
    }

    #[test]
    fn sso_only_refuses_passwords_by_the_token_source_not_the_identities_attribute() {
        let mut org = org();
        org.sign_in.providers = vec!["Microsoft".into()];
        let native = person(PersonStatus::Active);
        let mut linked = person(PersonStatus::Active);
        linked.identities = vec![crate::domain::LinkedIdentity {
            provider: "Microsoft".into(),
            subject: "x7Kp2Qm".into(),
        }];
        let api = TokenSource::of("TokenGeneration_Authentication");
        let hosted = TokenSource::of("TokenGeneration_HostedAuth");
        let refresh = TokenSource::of("TokenGeneration_RefreshTokens");
        assert_eq!(
            check_sign_in_method(&org, api, false, Some(&native)),
            Ok(())
        );
        org.sign_in.sso_only = true;
        assert_eq!(
            check_sign_in_method(&org, api, false, Some(&linked)),
            Err(Refusal::SsoOnly),
            "a linked native login signing in with its password"
        );
        assert_eq!(
            check_sign_in_method(
                &org,
                TokenSource::of("TokenGeneration_NewPasswordChallenge"),
                false,
                Some(&native)
            ),
            Err(Refusal::SsoOnly)
        );
        assert_eq!(
            check_sign_in_method(&org, hosted, false, Some(&linked)),
            Ok(())
        );
        assert_eq!(
            check_sign_in_method(&org, hosted, false, Some(&native)),
            Err(Refusal::SsoOnly)
        );
        assert_eq!(check_sign_in_method(&org, hosted, true, None), Ok(()));
        // A refresh token from a password sign-in before the switch to SSO-only.
        assert_eq!(
            check_sign_in_method(&org, refresh, false, Some(&native)),
            Err(Refusal::SsoOnly)
        );
        assert_eq!(
            check_sign_in_method(&org, refresh, false, Some(&linked)),
            Ok(())
        );
        // Break-glass: admins keep their password, nobody else, linked or not.
        org.sign_in.admins_keep_password = true;
        assert_eq!(
            check_sign_in_method(&org, api, false, Some(&native)),
            Ok(())
        );
        assert_eq!(
            check_sign_in_method(&org, refresh, false, Some(&native)),
            Ok(())
        );
        let mut member = person(PersonStatus::Active);
        member.roles = vec![Role::parse("member").expect("role")];
        assert_eq!(
            check_sign_in_method(&org, api, false, Some(&member)),
            Err(Refusal::SsoOnly)
        );
        let mut linked_member = linked.clone();
        linked_member.roles = member.roles.clone();
        assert_eq!(
            check_sign_in_method(&org, api, false, Some(&linked_member)),
            Err(Refusal::SsoOnly),
            "a linked member's password, on any page or API"
        );
        assert_eq!(
            check_sign_in_method(&org, refresh, false, Some(&member)),
            Err(Refusal::SsoOnly)
        );
        assert_eq!(
            check_sign_in_method(&org, api, false, None),
            Err(Refusal::SsoOnly)
        );
    }

    #[test]
    fn federated_users_are_told_apart_by_status_or_prefixed_username() {
        let mut org = org();
        org.sign_in.providers = vec!["Microsoft".into()];
        assert!(is_federated_user(
            &org,
            "Microsoft_abc",
            Some("EXTERNAL_PROVIDER")
        ));
        assert!(!is_federated_user(&org, "jane", Some("CONFIRMED")));
        // A native login whose name looks federated is native by its status.
        assert!(!is_federated_user(&org, "Microsoft_abc", Some("CONFIRMED")));
        assert!(is_federated_user(&org, "Microsoft_abc", None));
        assert!(!is_federated_user(&org, "microsoft_abc", None));
        assert!(!is_federated_user(&org, "Google_abc", None));
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
