//! SCIM Groups: the organization's directory groups, and the roles they give. A group is a
//! record of its own (`DirectoryGroup`); its members are kept on the people
//! (`DirectoryRecord::groups`), so that a person's roles are computed from their own record
//! and a membership change is one person's write. When the organization's admin maps groups
//! to roles (`scim.group_roles`), a person's roles are the mapped roles of their groups, or
//! the default role (`member`) when none of their groups is mapped; with no mapping, SCIM
//! leaves roles to the admins.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::filter::member;
use super::user::text;
use super::ScimError;
use crate::domain::{OrgId, Organization, Role};

pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// One directory group of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryGroup {
    /// `grp-` and a time-ordered UUID: the SCIM id.
    pub id: String,
    pub org_id: OrgId,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: u64,
}

impl DirectoryGroup {
    pub fn new(org_id: OrgId, display_name: String, external_id: Option<String>) -> Self {
        let now = crate::domain::now_epoch();
        Self {
            id: format!("grp-{}", uuid::Uuid::now_v7().simple()),
            org_id,
            display_name,
            external_id,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// The group as a SCIM Group; `members`: the people's ids, when asked for.
    pub fn to_resource(&self, location: &str, members: Option<&[String]>) -> Value {
        let mut group = json!({
            "schemas": [CORE_GROUP],
            "id": self.id,
            "displayName": self.display_name,
            "meta": {
                "resourceType": "Group",
                "created": super::user::rfc3339(self.created_at),
                "lastModified": super::user::rfc3339(self.updated_at),
                "version": format!("W/\"{}\"", self.version),
                "location": location,
            },
        });
        if let Some(ext) = &self.external_id {
            group["externalId"] = json!(ext);
        }
        if let Some(members) = members {
            group["members"] = members.iter().map(|m| json!({ "value": m })).collect();
        }
        group
    }
}

/// A group as a POST or PUT body asks for it: its name, its external id, its members' ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredGroup {
    pub display_name: String,
    pub external_id: Option<String>,
    /// `None`: not said (a PUT without `members` leaves them).
    pub members: Option<Vec<String>>,
}

/// The ids of a `members` value (`[{"value": "<id>"}, ...]`).
pub fn member_ids(value: &Value) -> Result<Vec<String>, ScimError> {
    let items = match value {
        Value::Array(items) => items.iter().collect::<Vec<_>>(),
        Value::Object(_) => vec![value],
        Value::Null => Vec::new(),
        _ => {
            return Err(ScimError::invalid_value(
                "members must be a list of {\"value\": id}",
            ))
        }
    };
    items
        .into_iter()
        .map(|m| {
            text(member(m, "value"), "members.value")?
                .ok_or_else(|| ScimError::invalid_value("a member needs its value (the user's id)"))
        })
        .collect()
}

impl DesiredGroup {
    pub fn read(group: &Value) -> Result<Self, ScimError> {
        if !group.is_object() {
            return Err(ScimError::invalid_syntax("the body must be a JSON object"));
        }
        Ok(Self {
            display_name: text(member(group, "displayName"), "displayName")?
                .ok_or_else(|| ScimError::invalid_value("displayName is required"))?,
            external_id: text(member(group, "externalId"), "externalId")?,
            members: member(group, "members").map(member_ids).transpose()?,
        })
    }
}

/// The roles the groups give under the organization's mapping (by display name, then id),
/// each once, in the organization's order; the default role when none is mapped. `None`: the
/// organization maps no group (roles stay the admins').
pub fn roles_from_groups(org: &Organization, groups: &[DirectoryGroup]) -> Option<Vec<String>> {
    let map = &org.sign_in.scim_group_roles;
    if map.is_empty() {
        return None;
    }
    let mapped: Vec<&String> = groups
        .iter()
        .filter_map(|g| map.get(&g.display_name).or_else(|| map.get(&g.id)))
        .collect();
    let mut roles: Vec<String> = org
        .roles
        .iter()
        .map(Role::as_str)
        .filter(|r| mapped.iter().any(|m| m.as_str() == *r))
        .map(str::to_owned)
        .collect();
    if roles.is_empty() {
        roles.push(
            org.sign_in
                .scim_default_role
                .clone()
                .unwrap_or_else(|| super::directory::DEFAULT_ROLE.to_owned()),
        );
    }
    Some(roles)
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;

    fn org() -> Organization {
        let mut org = crate::testing::sample_org();
        org.roles.push(Role::parse("finance").unwrap());
        org.sign_in
            .scim_group_roles
            .insert("Admins".into(), "admin".into());
        org.sign_in
            .scim_group_roles
            .insert("grp-finance".into(), "finance".into());
        org
    }

    fn group(name: &str, id: &str) -> DirectoryGroup {
        let mut g = DirectoryGroup::new(org().id, name.into(), None);
        g.id = id.into();
        g
    }

    #[test]
    fn roles_follow_mapped_groups_by_name_or_id_and_default_otherwise() {
        let org = org();
        let both = [
            group("Admins", "grp-1"),
            group("Money", "grp-finance"),
            group("Other", "grp-3"),
        ];
        assert_eq!(
            roles_from_groups(&org, &both),
            Some(vec!["admin".into(), "finance".into()])
        );
        assert_eq!(
            roles_from_groups(&org, &[group("Other", "grp-3")]),
            Some(vec!["member".into()])
        );
        let mut pilot = org.clone();
        pilot.sign_in.scim_default_role = Some("finance".into());
        assert_eq!(roles_from_groups(&pilot, &[]), Some(vec!["finance".into()]));
        let mut unmapped = org.clone();
        unmapped.sign_in.scim_group_roles.clear();
        assert_eq!(roles_from_groups(&unmapped, &both), None);
    }

    #[test]
    fn entra_ids_group_bodies_read() {
        let body = json!({
            "schemas": [CORE_GROUP],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Group1DisplayName",
            "meta": {"resourceType": "Group"},
            "members": [{"value": "per-1"}, {"value": "per-2"}]
        });
        let g = DesiredGroup::read(&body).unwrap();
        assert_eq!(g.display_name, "Group1DisplayName");
        assert_eq!(g.members, Some(vec!["per-1".into(), "per-2".into()]));
        assert!(DesiredGroup::read(&json!({"members": []})).is_err());
        assert!(DesiredGroup::read(&json!({"displayName": "x", "members": [{}]})).is_err());
        assert_eq!(
            DesiredGroup::read(&json!({"displayName": "x"}))
                .unwrap()
                .members,
            None
        );
    }
}

/// What a group PATCH asks for: a new name or external id, members added and removed, or
/// the members replaced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupChanges {
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    pub add: Vec<String>,
    pub remove: Vec<String>,
    /// Every member removed first (`remove` of `members` without a filter, or `replace`).
    pub remove_all: bool,
}

/// Reads a group PATCH (the shapes Entra ID and Okta send): `add`/`remove` of `members`
/// with a value list, `remove` with `members[value eq "<id>"]`, `replace` of `members`,
/// `displayName` or `externalId`, with or without a path; op names in any case.
pub fn group_changes(request: &super::patch::PatchRequest) -> Result<GroupChanges, ScimError> {
    use super::filter::{CompareOp, Filter};
    let mut changes = GroupChanges::default();
    if request.operations.is_empty() || request.operations.len() > super::patch::MAX_OPERATIONS {
        return Err(ScimError::invalid_syntax(
            "a PATCH carries 1 to 100 operations",
        ));
    }
    for op in &request.operations {
        let kind = op.op.to_ascii_lowercase();
        let path = op.path.as_deref().map(str::trim);
        match (kind.as_str(), path) {
            ("add" | "replace", None) => {
                let Some(Value::Object(values)) = &op.value else {
                    return Err(ScimError::invalid_value(
                        "a path-less operation needs an object",
                    ));
                };
                for (k, v) in values {
                    match k.to_ascii_lowercase().as_str() {
                        "displayname" => changes.display_name = text(Some(v), "displayName")?,
                        "externalid" => changes.external_id = text(Some(v), "externalId")?,
                        "members" => {
                            if kind == "replace" {
                                changes.remove_all = true;
                            }
                            changes.add.extend(member_ids(v)?);
                        }
                        "id" | "schemas" | "meta" => {}
                        other => {
                            return Err(ScimError::invalid_path(other));
                        }
                    }
                }
            }
            (k @ ("add" | "replace"), Some(p)) if p.eq_ignore_ascii_case("members") => {
                if k == "replace" {
                    changes.remove_all = true;
                }
                changes
                    .add
                    .extend(member_ids(op.value.as_ref().unwrap_or(&Value::Null))?);
            }
            ("add" | "replace", Some(p)) if p.eq_ignore_ascii_case("displayName") => {
                changes.display_name = text(op.value.as_ref(), "displayName")?;
            }
            ("add" | "replace", Some(p)) if p.eq_ignore_ascii_case("externalId") => {
                changes.external_id = text(op.value.as_ref(), "externalId")?;
            }
            ("remove", Some(p)) if p.eq_ignore_ascii_case("members") => match &op.value {
                None | Some(Value::Null) => changes.remove_all = true,
                Some(v) => changes.remove.extend(member_ids(v)?),
            },
            ("remove", Some(p)) if p.len() > 8 && p[..8].eq_ignore_ascii_case("members[") => {
                let inner = p[8..]
                    .strip_suffix(']')
                    .ok_or_else(|| ScimError::invalid_path(p))?;
                match Filter::parse(inner).map_err(|_| ScimError::invalid_path(p))? {
                    Filter::Compare(attr, CompareOp::Eq, Value::String(id))
                        if attr.attr.eq_ignore_ascii_case("value") && attr.sub.is_none() =>
                    {
                        changes.remove.push(id)
                    }
                    _ => return Err(ScimError::invalid_path(p)),
                }
            }
            ("add" | "replace" | "remove", Some(p)) => return Err(ScimError::invalid_path(p)),
            (other, _) => {
                return Err(ScimError::invalid_syntax(&format!(
                    "unknown PATCH operation {other:?}: use add, replace or remove"
                )))
            }
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod patch_tests {
    use super::*;
    use crate::domain::scim::patch::PatchRequest;

    fn read(ops: Value) -> Result<GroupChanges, ScimError> {
        let request: PatchRequest = serde_json::from_value(json!({"Operations": ops})).unwrap();
        group_changes(&request)
    }

    #[test]
    fn entra_and_okta_group_patches_read() {
        // Entra ID: add and remove members, capitalised.
        let c = read(json!([
            {"op": "Add", "path": "members", "value": [{"value": "per-1"}, {"value": "per-2"}]},
            {"op": "Remove", "path": "members", "value": [{"value": "per-3"}]},
            {"op": "Replace", "path": "displayName", "value": "Finance"}
        ]))
        .unwrap();
        assert_eq!(c.add, vec!["per-1", "per-2"]);
        assert_eq!(c.remove, vec!["per-3"]);
        assert_eq!(c.display_name.as_deref(), Some("Finance"));
        assert!(!c.remove_all);
        // Okta: remove by value filter; replace the whole list; path-less rename.
        let c = read(json!([
            {"op": "remove", "path": "members[value eq \"per-9\"]"},
            {"op": "replace", "value": {"id": "grp-1", "displayName": "Sales"}}
        ]))
        .unwrap();
        assert_eq!(c.remove, vec!["per-9"]);
        assert_eq!(c.display_name.as_deref(), Some("Sales"));
        let c = read(json!([{"op": "replace", "path": "members", "value": [{"value": "per-1"}]}]))
            .unwrap();
        assert!(c.remove_all);
        assert_eq!(c.add, vec!["per-1"]);
        let c = read(json!([{"op": "remove", "path": "members"}])).unwrap();
        assert!(c.remove_all);
        for bad in [
            json!([{"op": "remove", "path": "members[display eq \"x\"]"}]),
            json!([{"op": "add", "path": "owner", "value": "x"}]),
            json!([{"op": "move", "path": "members"}]),
            json!([{"op": "add", "path": "members", "value": [{"display": "x"}]}]),
            json!([]),
        ] {
            assert!(read(bad.clone()).is_err(), "{bad}");
        }
    }
}
