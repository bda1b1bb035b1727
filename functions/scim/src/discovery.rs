//! The SCIM discovery documents (RFC 7643, sections 5 to 7): what this service provider
//! supports, the schemas of its resources and their types.

use serde_json::{json, Value};
use shared::domain::scim::filter::{CORE_USER, ENTERPRISE};
use shared::domain::scim::groups::CORE_GROUP;

use crate::MAX_COUNT;

const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

pub fn service_provider_config() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/org-signin/org-signin#scim-20-directory-sync",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_COUNT},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "The organization's SCIM token (POST /v1/organization/scim-token of the admin API)",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig"}
    })
}

fn attribute(name: &str, kind: &str, extra: Value) -> Value {
    let mut a = json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none"
    });
    if let (Some(a), Value::Object(extra)) = (a.as_object_mut(), extra) {
        a.extend(extra);
    }
    a
}

fn user_schema() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": CORE_USER,
        "name": "User",
        "description": "A person of the organization",
        "attributes": [
            attribute("userName", "string", json!({"required": true, "uniqueness": "server"})),
            attribute("externalId", "string", json!({"caseExact": true, "uniqueness": "server"})),
            attribute("name", "complex", json!({"subAttributes": [
                attribute("givenName", "string", json!({})),
                attribute("familyName", "string", json!({})),
            ]})),
            attribute("displayName", "string", json!({})),
            attribute("active", "boolean", json!({})),
            attribute("emails", "complex", json!({"multiValued": true, "subAttributes": [
                attribute("value", "string", json!({})),
                attribute("type", "string", json!({"canonicalValues": ["work"]})),
                attribute("primary", "boolean", json!({})),
            ]})),
        ],
        "meta": {"resourceType": "Schema", "location": format!("/scim/v2/Schemas/{CORE_USER}")}
    })
}

fn enterprise_schema() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": ENTERPRISE,
        "name": "EnterpriseUser",
        "description": "Enterprise User",
        "attributes": [
            attribute("employeeNumber", "string", json!({})),
            attribute("department", "string", json!({})),
            attribute("manager", "complex", json!({"subAttributes": [
                attribute("value", "string", json!({})),
            ]})),
        ],
        "meta": {"resourceType": "Schema", "location": format!("/scim/v2/Schemas/{ENTERPRISE}")}
    })
}

fn group_schema() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": CORE_GROUP,
        "name": "Group",
        "description": "A directory group; its mapped role follows to its members",
        "attributes": [
            attribute("displayName", "string", json!({"required": true, "uniqueness": "server"})),
            attribute("externalId", "string", json!({"caseExact": true})),
            attribute("members", "complex", json!({"multiValued": true, "subAttributes": [
                attribute("value", "string", json!({})),
            ]})),
        ],
        "meta": {"resourceType": "Schema", "location": format!("/scim/v2/Schemas/{CORE_GROUP}")}
    })
}

pub fn schemas() -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": 3,
        "startIndex": 1,
        "itemsPerPage": 3,
        "Resources": [user_schema(), enterprise_schema(), group_schema()]
    })
}

pub fn schema(id: &str) -> Option<Value> {
    if id.eq_ignore_ascii_case(CORE_USER) {
        Some(user_schema())
    } else if id.eq_ignore_ascii_case(ENTERPRISE) {
        Some(enterprise_schema())
    } else if id.eq_ignore_ascii_case(CORE_GROUP) {
        Some(group_schema())
    } else {
        None
    }
}

pub fn user_resource_type() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "schema": CORE_USER,
        "schemaExtensions": [{"schema": ENTERPRISE, "required": false}],
        "meta": {"resourceType": "ResourceType", "location": "/scim/v2/ResourceTypes/User"}
    })
}

pub fn group_resource_type() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "schema": CORE_GROUP,
        "meta": {"resourceType": "ResourceType", "location": "/scim/v2/ResourceTypes/Group"}
    })
}

pub fn resource_types() -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": 2,
        "startIndex": 1,
        "itemsPerPage": 2,
        "Resources": [user_resource_type(), group_resource_type()]
    })
}
