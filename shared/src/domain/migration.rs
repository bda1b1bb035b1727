//! Moving organizations and their people from the legacy store to their own user pools: the
//! records of a source, how a migrated organization signs in meanwhile, and the legacy
//! password hashes kept for lazy migration.
//!
//! The JSON Lines export (one record a line; records of one organization may be spread over
//! the file):
//! `{"kind":"organization","id":..,"name":..,"subdomain":..,"email_domains":[..],"mfa":"off|optional|required","seats":..}`
//! `{"kind":"person","organization":<legacy org id>,"username":..,"email":..,"given_name":..,"family_name":..,"roles":[..],"active":true|false,"password_hash":..|null}`

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// How a job gives migrated people their login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationMode {
    /// Cognito logins are created for active people (Cognito's own message suppressed);
    /// welcome mails go out with the admin API's resend, or at once when asked.
    #[default]
    Invite,
    /// No login is created: the user-migration trigger moves each person at their first
    /// sign-in, checking their legacy password.
    Lazy,
}

impl fmt::Display for MigrationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MigrationMode::Invite => "invite",
            MigrationMode::Lazy => "lazy",
        })
    }
}

/// Kept on a migrated organization's sign-in settings (`sign_in.migration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgMigration {
    /// The migration job that brought it.
    pub job: String,
    /// Its id in the legacy store.
    pub legacy_id: String,
    pub mode: MigrationMode,
    /// `true` once its people sign in here (the router serves its pages; the user-migration
    /// trigger accepts them in lazy mode); `false` while they still sign in at the legacy
    /// store: before the switch, and after a rollback.
    pub switched: bool,
}

/// One record of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceRecord {
    Organization(LegacyOrganization),
    Person(LegacyPerson),
}

/// An organization as the legacy store exports it. Values are checked by the plan, not here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyOrganization {
    /// Its legacy id (a string or a number in the export).
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub name: String,
    pub subdomain: String,
    #[serde(default)]
    pub email_domains: Vec<String>,
    /// off, optional or required (absent: off).
    #[serde(default)]
    pub mfa: Option<String>,
    /// Licence seats (absent: no limit).
    #[serde(default)]
    pub seats: Option<u32>,
}

/// A person as the legacy store exports it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyPerson {
    /// The legacy id of their organization.
    #[serde(deserialize_with = "id_string")]
    pub organization: String,
    pub username: String,
    pub email: String,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    pub active: bool,
    #[serde(default)]
    pub password_hash: Option<LegacyHash>,
}

impl fmt::Debug for LegacyPerson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyPerson")
            .field("organization", &self.organization)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("roles", &self.roles)
            .field("active", &self.active)
            .field("password_hash", &self.password_hash)
            .finish_non_exhaustive()
    }
}

/// A password hash of the legacy store (bcrypt, Argon2id or Django PBKDF2-SHA256; see
/// [`super::legacy_password`]). Never printed: its `Debug` names only the scheme.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LegacyHash(String);

impl LegacyHash {
    pub fn new(hash: impl Into<String>) -> Self {
        Self(hash.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `password` is the one this hash was made from (constant time; an unknown
    /// scheme never matches).
    pub fn verify(&self, password: &str) -> bool {
        super::legacy_password::verify(&self.0, password)
    }
}

impl fmt::Debug for LegacyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = super::legacy_password::scheme(&self.0).unwrap_or("unknown");
        write!(f, "LegacyHash({scheme}, redacted)")
    }
}

/// Legacy ids come as strings or numbers.
fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        N(serde_json::Number),
    }
    Ok(match Id::deserialize(d)? {
        Id::S(s) => s,
        Id::N(n) => n.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_the_documented_shape_parse() {
        let org: SourceRecord = serde_json::from_str(
            r#"{"kind":"organization","id":17,"name":"Acme","subdomain":"acme","email_domains":["acme.test"],"mfa":"optional","seats":40}"#,
        )
        .expect("a record of the documented shape");
        let SourceRecord::Organization(org) = org else {
            panic!("organization expected")
        };
        assert_eq!(org.id, "17");
        assert_eq!(org.seats, Some(40));
        let person: SourceRecord = serde_json::from_str(
            r#"{"kind":"person","organization":"17","username":"ann","email":"ann@acme.test","given_name":"Ann","family_name":null,"roles":["admin"],"active":true,"password_hash":"$2b$04$abcdefghijklmnopqrstuu5Q8hVvZ4n1bq0cP1RxFx5y5m0y3a1Wy"}"#,
        )
        .expect("a record of the documented shape");
        let SourceRecord::Person(person) = person else {
            panic!("person expected")
        };
        assert_eq!(person.organization, "17");
        assert!(person.password_hash.is_some());
        let shown = format!("{person:?}");
        assert!(!shown.contains("abcdefghij"), "{shown}");
        assert!(shown.contains("bcrypt"), "{shown}");
    }

    #[test]
    fn unknown_kinds_are_refused_and_extra_fields_ignored() {
        assert!(serde_json::from_str::<SourceRecord>(r#"{"kind":"group","id":1}"#).is_err());
        assert!(serde_json::from_str::<SourceRecord>(r#"{"id":1,"name":"A"}"#).is_err());
        let extra: SourceRecord = serde_json::from_str(
            r#"{"kind":"organization","id":1,"name":"A","subdomain":"a","colour":"red"}"#,
        )
        .expect("a record of the documented shape");
        assert!(matches!(extra, SourceRecord::Organization(o) if o.id == "1"));
    }
}
