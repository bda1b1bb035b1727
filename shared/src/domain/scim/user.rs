//! The SCIM User as we show it and as we read it: a person's registry record, with what the
//! directory told us about them ([`DirectoryRecord`]), as a `urn:...:core:2.0:User` with the
//! enterprise extension; and a PUT body (or a patched document) as the person it asks for
//! ([`DesiredUser`]).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::filter::{member, ENTERPRISE};
use super::ScimError;
use crate::domain::{EmailAddress, Person};

/// What the organization's directory keeps about a person beyond the registry's own fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DirectoryRecord {
    /// The directory's own id for the person (Entra ID's object id, Okta's user id), unique
    /// in the organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The manager's id as the directory sent it (`manager.value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// When the directory deleted the person (a SCIM DELETE): they are deactivated, kept in
    /// the registry with their audit history, and no longer a SCIM resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
    /// The directory groups the person is a member of (their SCIM ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// Longest directory value we keep (ids, names, departments).
pub const MAX_VALUE_CHARS: usize = 256;

pub(crate) fn rfc3339(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The person's ETag: weak, their record's version.
pub fn etag(person: &Person) -> String {
    format!("W/\"{}\"", person.version)
}

/// Whether the person holds a login (SCIM's `active`).
pub fn is_active(person: &Person) -> bool {
    person.status.holds_seat()
}

/// The person as a SCIM User. `location`: the resource's URL.
pub fn to_resource(person: &Person, location: &str) -> Value {
    let dir = person.directory.clone().unwrap_or_default();
    let mut name = Map::new();
    if let Some(given) = &person.given_name {
        name.insert("givenName".into(), json!(given));
    }
    if let Some(family) = &person.family_name {
        name.insert("familyName".into(), json!(family));
    }
    let mut user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": person.id.as_str(),
        "userName": person.preferred_username.as_deref().unwrap_or(&person.username),
        "active": is_active(person),
        "emails": [{"value": person.email.as_str(), "type": "work", "primary": true}],
        "meta": {
            "resourceType": "User",
            "created": rfc3339(person.created_at),
            "lastModified": rfc3339(person.updated_at),
            "version": etag(person),
            "location": location,
        },
    });
    if !name.is_empty() {
        user["name"] = Value::Object(name);
    }
    if let Some(ext) = &dir.external_id {
        user["externalId"] = json!(ext);
    }
    if let Some(display) = &dir.display_name {
        user["displayName"] = json!(display);
    }
    let mut enterprise = Map::new();
    if let Some(n) = &dir.employee_number {
        enterprise.insert("employeeNumber".into(), json!(n));
    }
    if let Some(d) = &dir.department {
        enterprise.insert("department".into(), json!(d));
    }
    if let Some(m) = &dir.manager {
        enterprise.insert("manager".into(), json!({ "value": m }));
    }
    user[ENTERPRISE] = Value::Object(enterprise);
    user
}

/// The person a PUT body or a patched document asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredUser {
    pub user_name: String,
    pub email: EmailAddress,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// `None`: not said (a create makes the person active; a PUT keeps what they are, so a
    /// directory's PUT that leaves `active` out never switches a login on or off).
    pub active: Option<bool>,
    pub directory: DirectoryRecord,
}

/// A string value (trimmed; empty is none), at most [`MAX_VALUE_CHARS`].
pub(super) fn text(v: Option<&Value>, what: &str) -> Result<Option<String>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.chars().count() > MAX_VALUE_CHARS || s.chars().any(char::is_control) {
                return Err(ScimError::invalid_value(&format!(
                    "{what} must be at most {MAX_VALUE_CHARS} printable characters"
                )));
            }
            Ok((!s.is_empty()).then(|| s.to_owned()))
        }
        Some(_) => Err(ScimError::invalid_value(&format!(
            "{what} must be a string"
        ))),
    }
}

/// `active` as a boolean, or as the strings Entra ID sends (`"True"`, `"False"`).
fn boolean(v: Option<&Value>) -> Result<Option<bool>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(ScimError::invalid_value("active must be true or false")),
    }
}

/// The address to use: the primary one, else the work one, else the first.
fn chosen_email(user: &Value) -> Result<Option<String>, ScimError> {
    let Some(emails) = member(user, "emails") else {
        return Ok(None);
    };
    let items: Vec<&Value> = match emails {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        _ => return Err(ScimError::invalid_value("emails must be a list")),
    };
    let is = |item: &&Value, key: &str, expected: &Value| {
        member(item, key).is_some_and(|v| {
            v == expected
                || (v.as_str().zip(expected.as_str()))
                    .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
        })
    };
    let pick = items
        .iter()
        .find(|i| is(i, "primary", &json!(true)) || is(i, "primary", &json!("true")))
        .or_else(|| items.iter().find(|i| is(i, "type", &json!("work"))))
        .or_else(|| items.first());
    match pick {
        Some(item) => text(member(item, "value"), "emails.value"),
        None => Ok(None),
    }
}

impl DesiredUser {
    /// Reads a User document (a POST or PUT body, or a patched representation).
    pub fn read(user: &Value) -> Result<Self, ScimError> {
        if !user.is_object() {
            return Err(ScimError::invalid_syntax("the body must be a JSON object"));
        }
        let user_name = text(member(user, "userName"), "userName")?
            .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
        let email = match chosen_email(user)? {
            Some(address) => address,
            // Entra ID's userName is the user principal name, most often the address.
            None if user_name.contains('@') => user_name.clone(),
            None => {
                return Err(ScimError::invalid_value(
                    "an e-mail address is required (emails[type eq \"work\"].value)",
                ))
            }
        };
        let email =
            EmailAddress::parse(&email).map_err(|e| ScimError::invalid_value(&e.to_string()))?;
        let name = member(user, "name");
        let given_name = text(name.and_then(|n| member(n, "givenName")), "name.givenName")?;
        let family_name = text(
            name.and_then(|n| member(n, "familyName")),
            "name.familyName",
        )?;
        let ext = member(user, ENTERPRISE);
        let manager = match ext.and_then(|e| member(e, "manager")) {
            Some(Value::Object(_)) => text(
                ext.and_then(|e| member(e, "manager"))
                    .and_then(|m| member(m, "value")),
                "manager.value",
            )?,
            other => text(other, "manager")?,
        };
        Ok(Self {
            user_name,
            email,
            given_name,
            family_name,
            active: boolean(member(user, "active"))?,
            directory: DirectoryRecord {
                external_id: text(member(user, "externalId"), "externalId")?,
                display_name: text(member(user, "displayName"), "displayName")?,
                employee_number: text(
                    ext.and_then(|e| member(e, "employeeNumber")),
                    "employeeNumber",
                )?,
                department: text(ext.and_then(|e| member(e, "department")), "department")?,
                manager,
                deleted_at: None,
                groups: Vec::new(),
            },
        })
    }
}

/// `attributes` / `excludedAttributes` (RFC 7644, section 3.4.2.5): `id` and `schemas` are
/// always returned; names compare without case; `name.givenName` selects a sub-attribute,
/// and an extension's URN its whole object or, with `:attr`, one of its attributes.
pub fn project(resource: Value, attributes: &[String], excluded: &[String]) -> Value {
    let Value::Object(all) = resource else {
        return resource;
    };
    let always = |k: &str| k == "id" || k == "schemas";
    let named = |list: &[String], key: &str| -> Vec<Option<String>> {
        list.iter()
            .filter_map(|a| {
                let a = a.trim();
                if a.eq_ignore_ascii_case(key) {
                    return Some(None);
                }
                let (head, tail) = if key.starts_with("urn:") {
                    (a.get(..key.len())?, a.get(key.len()..)?.strip_prefix(':')?)
                } else {
                    let (h, t) = a.split_once('.')?;
                    (h, t)
                };
                head.eq_ignore_ascii_case(key)
                    .then(|| Some(tail.to_owned()))
            })
            .collect()
    };
    let mut out = Map::new();
    for (key, value) in all {
        if always(&key) {
            out.insert(key, value);
            continue;
        }
        let value = if attributes.is_empty() {
            Some(value)
        } else {
            let wanted = named(attributes, &key);
            if wanted.contains(&None) {
                Some(value)
            } else if wanted.is_empty() {
                None
            } else {
                let subs: Vec<String> = wanted.into_iter().flatten().collect();
                match value {
                    Value::Object(o) => Some(Value::Object(
                        o.into_iter()
                            .filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
                            .collect(),
                    )),
                    other => Some(other),
                }
            }
        };
        let Some(value) = value else { continue };
        let dropped = named(excluded, &key);
        if dropped.contains(&None) {
            continue;
        }
        let value = match value {
            Value::Object(o) if !dropped.is_empty() => Value::Object(
                o.into_iter()
                    .filter(|(k, _)| !dropped.iter().flatten().any(|s| s.eq_ignore_ascii_case(k)))
                    .collect(),
            ),
            other => other,
        };
        out.insert(key, value);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OrgId, PersonStatus, Role};

    fn person() -> Person {
        let mut p = Person::new(
            OrgId::generate(),
            "alice@acme.example".into(),
            EmailAddress::parse("alice@acme.example").unwrap(),
            vec![Role::parse("member").unwrap()],
            PersonStatus::Active,
        );
        p.given_name = Some("Alice".into());
        p.directory = Some(DirectoryRecord {
            external_id: Some("E-1".into()),
            department: Some("Finance".into()),
            manager: Some("per-9".into()),
            ..DirectoryRecord::default()
        });
        p
    }

    #[test]
    fn a_person_reads_back_as_the_user_it_was_made_from() {
        let resource = to_resource(&person(), "https://acme.example.test/scim/v2/Users/x");
        assert_eq!(resource["active"], json!(true));
        assert_eq!(resource["externalId"], json!("E-1"));
        assert_eq!(resource[ENTERPRISE]["manager"]["value"], json!("per-9"));
        assert_eq!(resource["meta"]["version"], json!("W/\"1\""));
        assert!(resource["meta"]["created"].as_str().unwrap().ends_with('Z'));
        let back = DesiredUser::read(&resource).unwrap();
        assert_eq!(back.user_name, "alice@acme.example");
        assert_eq!(back.email.as_str(), "alice@acme.example");
        assert_eq!(back.given_name.as_deref(), Some("Alice"));
        assert_eq!(back.active, Some(true));
        assert_eq!(back.directory.department.as_deref(), Some("Finance"));
        assert_eq!(back.directory.manager.as_deref(), Some("per-9"));
    }

    #[test]
    fn entra_ids_create_body_reads() {
        // The body Microsoft's SCIM validator sends (its tutorial's "Create User" request).
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
            "active": "True",
            "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": [],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "42", "department": "Dev"}
        });
        let user = DesiredUser::read(&body).unwrap();
        assert_eq!(user.active, Some(true));
        assert_eq!(user.email.as_str(), "test_user_fd0ea19b@testuser.com");
        assert_eq!(
            user.directory.external_id.as_deref(),
            Some("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")
        );
        assert_eq!(user.directory.employee_number.as_deref(), Some("42"));
        let inactive =
            DesiredUser::read(&json!({"userName": "a@b.example", "active": "False"})).unwrap();
        assert_eq!(inactive.active, Some(false));
        let unsaid = DesiredUser::read(&json!({"userName": "a@b.example"})).unwrap();
        assert_eq!(unsaid.active, None);
        assert_eq!(inactive.email.as_str(), "a@b.example");
    }

    #[test]
    fn bad_users_are_invalid_values() {
        for bad in [
            json!({}),
            json!({"userName": 5}),
            json!({"userName": "nomail"}),
            json!({"userName": "a@b.example", "active": "maybe"}),
            json!({"userName": "a@b.example", "emails": "x"}),
            json!({"userName": "a@b.example", "emails": [{"value": "not an address"}]}),
            json!({"userName": "x".repeat(300)}),
        ] {
            let err = DesiredUser::read(&bad).expect_err(&bad.to_string());
            assert_eq!(err.status, 400, "{bad}");
        }
        assert!(DesiredUser::read(&json!("x")).is_err());
    }

    #[test]
    fn attributes_and_excluded_attributes_select() {
        let r = to_resource(&person(), "l");
        let only = project(
            r.clone(),
            &["userName".into(), "name.givenName".into()],
            &[],
        );
        let keys: Vec<&String> = only.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
        assert_eq!(only["name"], json!({"givenName": "Alice"}));
        assert!(only.get("emails").is_none());
        let without = project(
            r.clone(),
            &[],
            &["emails".into(), format!("{ENTERPRISE}:manager")],
        );
        assert!(without.get("emails").is_none());
        assert!(without[ENTERPRISE].get("manager").is_none());
        assert_eq!(without[ENTERPRISE]["department"], json!("Finance"));
        assert_eq!(without["id"], r["id"]);
    }
}
