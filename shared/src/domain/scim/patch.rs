//! SCIM PATCH (RFC 7644, section 3.5.2) applied to a resource's JSON representation: `add`,
//! `replace` and `remove`, with or without `path`, value-path filters
//! (`emails[type eq "work"].value`), extension attributes, and the shapes Microsoft Entra ID
//! and Okta really send (operation names in any case, `name.givenName` as a key of a
//! path-less value, the enterprise URN as a key or a path prefix).
//!
//! The patched document is then read like a PUT's body (`user::DesiredUser`), so a PATCH and
//! a PUT change a person through the same code.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::filter::{AttrPath, Filter, ENTERPRISE};
use super::ScimError;

pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Most operations one request may carry.
pub const MAX_OPERATIONS: usize = 100;

#[derive(Debug, Clone, Deserialize)]
pub struct PatchRequest {
    #[serde(default)]
    pub schemas: Vec<String>,
    #[serde(rename = "Operations", alias = "operations")]
    pub operations: Vec<Operation>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Operation {
    pub op: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// A PATCH path: an attribute, maybe narrowed by a filter, maybe to one sub-attribute.
struct Target {
    attr: AttrPath,
    filter: Option<Filter>,
    sub: Option<String>,
}

fn parse_target(path: &str) -> Result<Target, ScimError> {
    let path = path.trim();
    match path.find('[') {
        None => {
            let attr = AttrPath::parse(path)?;
            let sub = attr.sub.clone();
            Ok(Target {
                attr: AttrPath { sub: None, ..attr },
                filter: None,
                sub,
            })
        }
        Some(open) => {
            let close = path
                .rfind(']')
                .filter(|c| *c > open)
                .ok_or_else(|| ScimError::invalid_path(path))?;
            let attr = AttrPath::parse(&path[..open])?;
            let filter =
                Filter::parse(&path[open + 1..close]).map_err(|_| ScimError::invalid_path(path))?;
            let rest = &path[close + 1..];
            let sub = match rest.strip_prefix('.') {
                Some(sub) if !sub.is_empty() => Some(sub.to_owned()),
                None if rest.is_empty() => None,
                _ => return Err(ScimError::invalid_path(path)),
            };
            Ok(Target {
                attr,
                filter: Some(filter),
                sub,
            })
        }
    }
}

/// Applies the request's operations, in order, to `resource`; all or nothing.
pub fn apply(resource: &Value, request: &PatchRequest) -> Result<Value, ScimError> {
    if !request.schemas.is_empty() && !request.schemas.iter().any(|s| s == PATCH_OP) {
        return Err(ScimError::invalid_syntax(&format!(
            "a PATCH's schemas must name {PATCH_OP}"
        )));
    }
    if request.operations.is_empty() || request.operations.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_syntax(
            "a PATCH carries 1 to 100 operations",
        ));
    }
    let mut doc = resource.clone();
    for operation in &request.operations {
        apply_one(&mut doc, operation)?;
    }
    Ok(doc)
}

fn apply_one(doc: &mut Value, operation: &Operation) -> Result<(), ScimError> {
    let op = match operation.op.to_ascii_lowercase().as_str() {
        "add" => Op::Add,
        "replace" => Op::Replace,
        "remove" => Op::Remove,
        other => {
            return Err(ScimError::invalid_syntax(&format!(
                "unknown PATCH operation {other:?}: use add, replace or remove"
            )))
        }
    };
    match (&operation.path, op) {
        (None, Op::Remove) => Err(ScimError::new(
            400,
            Some("noTarget"),
            "a remove operation needs a path",
        )),
        (None, _) => {
            let Some(Value::Object(values)) = &operation.value else {
                return Err(ScimError::invalid_value(
                    "an add or replace without a path needs an object as its value",
                ));
            };
            for (key, value) in values {
                if key.eq_ignore_ascii_case(ENTERPRISE) {
                    let Value::Object(inner) = value else {
                        return Err(ScimError::invalid_value(
                            "the enterprise extension's value must be an object",
                        ));
                    };
                    for (k, v) in inner {
                        let target = parse_target(&format!("{ENTERPRISE}:{k}"))?;
                        set(doc, &target, v.clone(), op)?;
                    }
                } else {
                    set(doc, &parse_target(key)?, value.clone(), op)?;
                }
            }
            Ok(())
        }
        (Some(path), Op::Remove) => remove(doc, &parse_target(path)?),
        (Some(path), _) => {
            let value = operation
                .value
                .clone()
                .ok_or_else(|| ScimError::invalid_value("an add or replace needs a value"))?;
            set(doc, &parse_target(path)?, value, op)
        }
    }
}

/// The object a target's attribute lives in (the resource or its extension), made if absent.
fn container_mut<'a>(
    doc: &'a mut Value,
    attr: &AttrPath,
) -> Result<&'a mut Map<String, Value>, ScimError> {
    let root = doc
        .as_object_mut()
        .ok_or_else(|| ScimError::invalid_value("the resource is not an object"))?;
    match &attr.schema {
        None => Ok(root),
        Some(schema) => {
            let key = key_of(root, schema).unwrap_or_else(|| schema.clone());
            let ext = root.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !ext.is_object() {
                *ext = Value::Object(Map::new());
            }
            ext.as_object_mut()
                .ok_or_else(|| ScimError::invalid_value("the extension is not an object"))
        }
    }
}

/// The stored key matching `name` without case.
fn key_of(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn slot<'a>(map: &'a mut Map<String, Value>, name: &str) -> &'a mut Value {
    let key = key_of(map, name).unwrap_or_else(|| name.to_owned());
    map.entry(key).or_insert(Value::Null)
}

/// Merges `value` into `at`: objects member by member, anything else replaces.
fn merge(at: &mut Value, value: Value) {
    match (at.as_object_mut(), value) {
        (Some(existing), Value::Object(new)) => {
            for (k, v) in new {
                let key = key_of(existing, &k).unwrap_or(k);
                existing.insert(key, v);
            }
        }
        (_, value) => *at = value,
    }
}

fn set(doc: &mut Value, target: &Target, value: Value, op: Op) -> Result<(), ScimError> {
    let map = container_mut(doc, &target.attr)?;
    let at = slot(map, &target.attr.attr);
    match (&target.filter, &target.sub) {
        (None, None) => match (op, at.is_array(), value) {
            // add to a multi-valued attribute: the new values join the old ones.
            (Op::Add, true, Value::Array(new)) => {
                if let Some(items) = at.as_array_mut() {
                    for v in new {
                        if !items.contains(&v) {
                            items.push(v);
                        }
                    }
                }
            }
            (_, _, value) => merge(at, value),
        },
        (None, Some(sub)) => {
            if !at.is_object() {
                *at = Value::Object(Map::new());
            }
            if let Some(obj) = at.as_object_mut() {
                merge(slot(obj, sub), value);
            }
        }
        (Some(filter), sub) => {
            if !at.is_array() {
                *at = Value::Array(Vec::new());
            }
            let Some(items) = at.as_array_mut() else {
                return Ok(());
            };
            let mut matched = false;
            for item in items.iter_mut().filter(|i| filter.matches(i)) {
                matched = true;
                match sub {
                    Some(sub) => {
                        if let Some(obj) = item.as_object_mut() {
                            merge(slot(obj, sub), value.clone());
                        }
                    }
                    None => merge(item, value.clone()),
                }
            }
            if !matched {
                // `emails[type eq "work"].value` with no work address yet: Entra ID means
                // "the work address is this", so the element is made (with its type).
                let mut element = Map::new();
                if let Filter::Compare(path, super::filter::CompareOp::Eq, v) = filter {
                    if path.sub.is_none() {
                        element.insert(path.attr.clone(), v.clone());
                    }
                }
                match sub {
                    Some(sub) => {
                        element.insert(sub.clone(), value);
                    }
                    None => {
                        if let Value::Object(v) = value {
                            element.extend(v);
                        }
                    }
                }
                if element.is_empty() || op == Op::Replace && sub.is_none() && element.len() == 1 {
                    return Err(ScimError::new(
                        400,
                        Some("noTarget"),
                        "the path's filter matches no value",
                    ));
                }
                items.push(Value::Object(element));
            }
        }
    }
    Ok(())
}

fn remove(doc: &mut Value, target: &Target) -> Result<(), ScimError> {
    let map = container_mut(doc, &target.attr)?;
    let Some(key) = key_of(map, &target.attr.attr) else {
        return Ok(());
    };
    match (&target.filter, &target.sub) {
        (None, None) => {
            map.remove(&key);
        }
        (None, Some(sub)) => {
            if let Some(obj) = map.get_mut(&key).and_then(Value::as_object_mut) {
                if let Some(k) = key_of(obj, sub) {
                    obj.remove(&k);
                }
            }
        }
        (Some(filter), sub) => {
            if let Some(items) = map.get_mut(&key).and_then(Value::as_array_mut) {
                match sub {
                    None => items.retain(|i| !filter.matches(i)),
                    Some(sub) => {
                        for item in items.iter_mut().filter(|i| filter.matches(i)) {
                            if let Some(obj) = item.as_object_mut() {
                                if let Some(k) = key_of(obj, sub) {
                                    obj.remove(&k);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "per-1",
            "userName": "alice@acme.example",
            "active": true,
            "name": {"givenName": "Alice", "familyName": "Doe"},
            "emails": [{"value": "alice@acme.example", "type": "work", "primary": true}]
        })
    }

    fn patch(ops: Value) -> Result<Value, ScimError> {
        let request: PatchRequest = serde_json::from_value(json!({
            "schemas": [PATCH_OP],
            "Operations": ops
        }))
        .unwrap();
        apply(&user(), &request)
    }

    #[test]
    fn entra_ids_shapes_apply() {
        // Entra ID: capitalised op names, active as a string, one op per attribute.
        let done = patch(json!([
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "alice.doe@acme.example"},
            {"op": "Replace", "path": "name.givenName", "value": "Ally"},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Finance"},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "per-9"},
        ]))
        .unwrap();
        assert_eq!(done["active"], json!("False"));
        assert_eq!(done["emails"][0]["value"], json!("alice.doe@acme.example"));
        assert_eq!(done["emails"][0]["primary"], json!(true));
        assert_eq!(done["name"]["givenName"], json!("Ally"));
        assert_eq!(done["name"]["familyName"], json!("Doe"));
        assert_eq!(done[ENTERPRISE]["department"], json!("Finance"));
        assert_eq!(done[ENTERPRISE]["manager"], json!("per-9"));
    }

    #[test]
    fn okta_and_pathless_shapes_apply() {
        // Okta: a path-less replace with the whole object; deactivation as a bool.
        let done = patch(json!([
            {"op": "replace", "value": {"active": false, "name.familyName": "Roe",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7"}}}
        ]))
        .unwrap();
        assert_eq!(done["active"], json!(false));
        assert_eq!(done["name"]["familyName"], json!("Roe"));
        assert_eq!(done["name"]["givenName"], json!("Alice"));
        assert_eq!(done[ENTERPRISE]["employeeNumber"], json!("7"));
    }

    #[test]
    fn add_remove_and_value_paths() {
        let done = patch(json!([
            {"op": "add", "path": "emails", "value": [{"value": "a@home.example", "type": "home"}]},
            {"op": "add", "path": "emails[type eq \"other\"].value", "value": "a@other.example"},
        ]))
        .unwrap();
        assert_eq!(done["emails"].as_array().unwrap().len(), 3);
        let removed = apply(
            &done,
            &serde_json::from_value(json!({"Operations": [
                {"op": "remove", "path": "emails[type eq \"home\"]"},
                {"op": "Remove", "path": "name.familyName"},
            ]}))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(removed["emails"].as_array().unwrap().len(), 2);
        assert!(removed["name"].get("familyName").is_none());
        // The same PATCH twice gives the same document.
        let ops = json!([{"op": "replace", "path": "name.givenName", "value": "Al"}]);
        let once = patch(ops.clone()).unwrap();
        let request: PatchRequest = serde_json::from_value(json!({"Operations": ops})).unwrap();
        assert_eq!(apply(&once, &request).unwrap(), once);
    }

    #[test]
    fn bad_patches_are_scim_errors() {
        let cases = [
            (
                json!([{"op": "move", "path": "active", "value": true}]),
                "invalidSyntax",
            ),
            (json!([{"op": "remove"}]), "noTarget"),
            (json!([{"op": "replace", "value": "x"}]), "invalidValue"),
            (
                json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]),
                "invalidPath",
            ),
            (
                json!([{"op": "replace", "path": "a.b.c", "value": "x"}]),
                "invalidPath",
            ),
            (json!([{"op": "add", "path": "active"}]), "invalidValue"),
            (json!([]), "invalidSyntax"),
        ];
        for (ops, kind) in cases {
            let err = patch(ops.clone()).expect_err(&ops.to_string());
            assert_eq!(err.scim_type, Some(kind), "{ops}");
        }
        let wrong_schema: PatchRequest = serde_json::from_value(
            json!({"schemas": ["urn:x"], "Operations": [{"op": "add", "path": "active", "value": true}]}),
        )
        .unwrap();
        assert!(apply(&user(), &wrong_schema).is_err());
    }
}
