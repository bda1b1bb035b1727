//! A person of one organization and the life of their login.
//!
//! ```text
//!   added ──activate──▶ invited ──first login──▶ active
//!     ▲                   │  ▲                     │
//!     │              deactivate  activate     deactivate
//!     │                   ▼  │                     │
//!     │               deactivated ◀────────────────┘
//!     │                   │
//!     └──── (any) ──delete──▶ unlinked ──activate──▶ invited
//! ```
//! `invited` and `active` hold a licence seat and a Cognito login; the others hold neither.
//! An e-mail or username change sets `pending_email` or `pending_username` until it is
//! confirmed; until then the person cannot sign in (checked after the password).
//!
//! A Cognito username never changes. A person's `username` is their login's Cognito
//! username; a confirmed username change gives them a `preferred_username`, which is also the
//! login's `preferred_username` attribute, a sign-in alias of every pool: the same login, its
//! `sub`, password, MFA, groups and linked identities, under a new name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{EmailAddress, Error, OrgId};

/// A role, which is also the name of a Cognito group in the organization's pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Role(String);

impl Role {
    /// The roles every organization starts with.
    pub const DEFAULTS: [&'static str; 2] = ["admin", "member"];

    pub fn admin() -> Self {
        Self("admin".into())
    }

    pub fn parse(input: &str) -> Result<Self, Error> {
        let ok = !input.is_empty()
            && input.len() <= 64
            && input
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(Error::InvalidInput {
                what: "role",
                value: input.to_owned(),
                rule: "it must be 1 to 64 characters of a-z, 0-9, - and _",
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Role {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Role> for String {
    fn from(value: Role) -> Self {
        value.0
    }
}

/// Where a person's login is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonStatus {
    /// A record only (added by an admin or imported); no login.
    Added,
    /// Login created with a temporary password and the welcome mail sent; the first sign-in
    /// must set a new password.
    Invited,
    /// Has signed in and chosen their own password.
    Active,
    /// Login disabled and signed out everywhere; the seat is free again.
    Deactivated,
    /// Login deleted; the record stays for the organization's data and audit.
    Unlinked,
}

impl PersonStatus {
    /// Whether a person in this state holds a Cognito login and a licence seat.
    pub fn holds_seat(self) -> bool {
        matches!(self, PersonStatus::Invited | PersonStatus::Active)
    }

    /// The allowed transitions of the lifecycle above.
    pub fn can_become(self, next: PersonStatus) -> bool {
        use PersonStatus::*;
        matches!(
            (self, next),
            (Added | Deactivated | Unlinked, Invited)
                | (Invited, Active)
                | (Invited | Active, Deactivated)
                | (Added | Invited | Active | Deactivated, Unlinked)
        )
    }
}

impl fmt::Display for PersonStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PersonStatus::Added => "added",
            PersonStatus::Invited => "invited",
            PersonStatus::Active => "active",
            PersonStatus::Deactivated => "deactivated",
            PersonStatus::Unlinked => "unlinked",
        })
    }
}

impl FromStr for PersonStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| {
            Error::InvalidInput {
                what: "person status",
                value: s.to_owned(),
                rule: "it must be one of added, invited, active, deactivated, unlinked",
            }
        })
    }
}

/// A federated identity linked to a person's login: the provider's name in the pool and the
/// provider's stable subject for that person (Entra ID's `sub`, Google's `sub`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LinkedIdentity {
    pub provider: String,
    pub subject: String,
}

impl LinkedIdentity {
    /// Whether this is the identity `subject` of `provider` (provider names compare without
    /// case, as Cognito's do; subjects exactly).
    pub fn is(&self, provider: &str, subject: &str) -> bool {
        self.provider.eq_ignore_ascii_case(provider) && self.subject == subject
    }
}

/// A person's id: `per-` and a time-ordered UUID. It never changes, even when the username
/// does; the admin API names people by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonId(String);

impl PersonId {
    pub fn generate() -> Self {
        Self(format!("per-{}", uuid::Uuid::now_v7().simple()))
    }

    /// An id as a client sends it: `per-` and 32 lower-case hex digits, nothing else.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let ok = input.strip_prefix("per-").is_some_and(|hex| {
            hex.len() == 32
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(Error::InvalidInput {
                what: "person id",
                value: input.chars().take(64).collect(),
                rule: "it must be per- and 32 lower-case hexadecimal digits",
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One person of one organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Stable for the person's whole life in the organization.
    pub id: PersonId,
    pub org_id: OrgId,
    /// The Cognito username, unique within the organization, kept lower-case.
    pub username: String,
    pub email: EmailAddress,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    pub roles: Vec<Role>,
    pub status: PersonStatus,
    /// A new address waiting for its confirmation; sign-in is refused until then.
    pub pending_email: Option<EmailAddress>,
    /// The name the person signs in with, when a username change gave them one (see the
    /// module); `None`: their `username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// A new sign-in name waiting for its confirmation; sign-in is refused until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_username: Option<String>,
    /// When the last welcome mail went out (epoch seconds); `None` while one is owed.
    pub welcome_sent_at: Option<i64>,
    /// The activation link of a `link` invitation, until it is used (its token hashed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_link: Option<LinkToken>,
    /// The link that confirms `pending_email`, until it is used (its token hashed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_link: Option<LinkToken>,
    /// Federated identities linked to this person's login. After the first link the
    /// provider's stable subject identifies the person, never the e-mail address again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<LinkedIdentity>,
    /// Lazy migration: when the Cognito login that the user-migration trigger created from
    /// the person's legacy password was first signed in with, and its role groups given and
    /// the legacy hash deleted (epoch seconds). `None`: not migrated that way, or not yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lazy_migrated_at: Option<i64>,
    /// When the person's sessions were last ended: an administrator's password reset or a
    /// deactivation (epoch seconds). Cognito then refuses their refresh tokens; our API
    /// refuses tokens of a sign-in before it (their `auth_time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_revoked_at: Option<i64>,
    /// What the organization's directory (SCIM) keeps about the person: its id for them,
    /// enterprise attributes, whether it deleted them. `None`: never sent by a directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<super::scim::DirectoryRecord>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: u64,
}

/// A single-use link's token, stored as its SHA-256 (hex), with its expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkToken {
    pub sha256: String,
    /// Epoch seconds.
    pub expires_at: i64,
}

impl LinkToken {
    /// The SHA-256 (hex) of a token.
    pub fn digest(token: &str) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `token` is this link's and it has not expired at `now`.
    pub fn accepts(&self, token: &str, now: i64) -> bool {
        super::same_bytes(Self::digest(token).as_bytes(), self.sha256.as_bytes())
            && now < self.expires_at
    }
}

impl Person {
    /// A new record, created now.
    pub fn new(
        org_id: OrgId,
        username: String,
        email: EmailAddress,
        roles: Vec<Role>,
        status: PersonStatus,
    ) -> Self {
        let now = super::now_epoch();
        Self {
            id: PersonId::generate(),
            org_id,
            username,
            email,
            given_name: None,
            family_name: None,
            roles,
            status,
            pending_email: None,
            preferred_username: None,
            pending_username: None,
            welcome_sent_at: None,
            activation_link: None,
            email_link: None,
            identities: Vec::new(),
            lazy_migrated_at: None,
            sessions_revoked_at: None,
            directory: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// An active administrator: a login and the `admin` role. A change of address or name
    /// waiting for its confirmation pauses their sign-in but takes nothing away: the link
    /// mailed to them restores it, and an operator may have to fix the only administrator's
    /// wrong address that way.
    pub fn is_active_admin(&self) -> bool {
        self.status.holds_seat() && self.roles.iter().any(|r| r.as_str() == "admin")
    }

    /// The name the person signs in with and is shown under.
    pub fn sign_in_name(&self) -> &str {
        self.preferred_username.as_deref().unwrap_or(&self.username)
    }

    /// Whether a change of address or name waits for its confirmation.
    pub fn change_pending(&self) -> bool {
        self.pending_email.is_some() || self.pending_username.is_some()
    }

    /// Checks a move to `next`, naming the reason when it is not allowed.
    pub fn check_transition(&self, next: PersonStatus) -> Result<(), Error> {
        if self.status.can_become(next) {
            Ok(())
        } else {
            Err(Error::not_allowed(
                format!("change {} from {} to {}", self.username, self.status, next),
                "that step is not part of a person's lifecycle",
            ))
        }
    }

    /// The conditions for switching activation on: a role, and a lifecycle that allows it.
    /// (The free seat is checked atomically by the registry.)
    pub fn check_activation(&self) -> Result<(), Error> {
        if self.roles.is_empty() {
            return Err(Error::RoleRequired {
                username: self.username.clone(),
            });
        }
        self.check_transition(PersonStatus::Invited)
    }
}

/// Validates a username: what people type at sign-in, so kept simple and lower-case.
pub fn parse_username(input: &str) -> Result<String, Error> {
    let lowered = input.trim().to_ascii_lowercase();
    let ok = (1..=128).contains(&lowered.len())
        && lowered
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@+'".contains(&b));
    if ok {
        Ok(lowered)
    } else {
        Err(Error::InvalidInput {
            what: "username",
            value: input.to_owned(),
            rule: "it must be 1 to 128 characters of letters, digits and . _ - @ + '",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::PersonStatus::*;
    use super::*;

    const ALL: [PersonStatus; 5] = [Added, Invited, Active, Deactivated, Unlinked];

    #[test]
    fn lifecycle_allows_exactly_the_drawn_transitions() {
        let allowed = [
            (Added, Invited),
            (Deactivated, Invited),
            (Unlinked, Invited),
            (Invited, Active),
            (Invited, Deactivated),
            (Active, Deactivated),
            (Added, Unlinked),
            (Invited, Unlinked),
            (Active, Unlinked),
            (Deactivated, Unlinked),
        ];
        for from in ALL {
            for to in ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn only_logins_hold_seats() {
        let holding: Vec<_> = ALL.into_iter().filter(|s| s.holds_seat()).collect();
        assert_eq!(holding, vec![Invited, Active]);
    }

    fn person(roles: &[&str], status: PersonStatus) -> Person {
        Person {
            id: PersonId::generate(),
            org_id: OrgId::from("org-1".to_owned()),
            username: "jane".into(),
            email: EmailAddress::parse("jane@acme.com").expect("valid"),
            given_name: None,
            family_name: None,
            roles: roles
                .iter()
                .map(|r| Role::parse(r).expect("valid"))
                .collect(),
            status,
            pending_email: None,
            preferred_username: None,
            pending_username: None,
            welcome_sent_at: None,
            activation_link: None,
            email_link: None,
            identities: Vec::new(),
            lazy_migrated_at: None,
            sessions_revoked_at: None,
            directory: None,
            created_at: 0,
            updated_at: 0,
            version: 1,
        }
    }

    #[test]
    fn activation_needs_a_role() {
        let err = person(&[], Added).check_activation().expect_err("no role");
        assert!(err.to_string().contains("at least one role"), "{err}");
        assert!(person(&["member"], Added).check_activation().is_ok());
        assert!(person(&["member"], Active).check_activation().is_err());
    }

    #[test]
    fn statuses_round_trip_as_words() {
        for s in ALL {
            assert_eq!(s.to_string().parse::<PersonStatus>(), Ok(s));
        }
        assert!("sleeping".parse::<PersonStatus>().is_err());
    }

    #[test]
    fn person_ids_are_generated_unique_and_parsed_strictly() {
        let a = PersonId::generate();
        assert_ne!(a, PersonId::generate());
        assert_eq!(PersonId::parse(a.as_str()), Ok(a.clone()));
        for bad in [
            "",
            "per-",
            "per-XYZ",
            "org-0192f0c4d5e67a8b9c0d1e2f3a4b5c6d",
            &format!("{a}0"),
        ] {
            assert!(PersonId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usernames_and_roles() {
        assert_eq!(
            parse_username(" Jane.Doe@Acme.com "),
            Ok("jane.doe@acme.com".into())
        );
        assert!(parse_username("jane doe").is_err());
        // Every valid address is a valid username: o'brien@ too.
        assert_eq!(
            parse_username("O'Brien@OBrien.test"),
            Ok("o'brien@obrien.test".into())
        );
        assert!(parse_username("").is_err());
        assert!(Role::parse("billing-admin").is_ok());
        assert!(Role::parse("Admin").is_err());
    }
}
