//! The call log: with `AWS_CALL_LOG=<file>` set, every AWS request the process sends is
//! appended to `<file>` as one JSON line, so that a test can check each call against the IAM
//! role the function is deployed with (`tests/tests/iam_roles.rs`). Unset (as in every
//! deployment), the HTTP client is not even wrapped.
//!
//! It sits in the one HTTP client every SDK client of the suite is built with
//! ([`super::load_config`]), so no adapter can call AWS around it. A line names the function
//! (`AWS_CALL_LOG_FUNCTION`, else `AWS_LAMBDA_FUNCTION_NAME`, else the executable's name), the
//! service (the SigV4 signing name, as IAM prefixes actions), the operation and the request
//! fields that name the resources or carry IAM condition values: table and index, the kind and
//! table of every item of a transaction or batch, pool id, pool name and tags, sender address,
//! configuration set, secret name. Nothing else of a request is kept, so no password, secret
//! value, token or mail body ever reaches the file.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use serde_json::{json, Map, Value};

/// The variable that turns the log on; its value is the file lines are appended to.
pub const LOG_VARIABLE: &str = "AWS_CALL_LOG";
/// The function name the lines carry, when the process is not the function itself (a test
/// calling a function's code in process, `tenantctl` running the worker's code).
pub const FUNCTION_VARIABLE: &str = "AWS_CALL_LOG_FUNCTION";

/// Request fields kept as they are: names of resources and values of condition keys.
const KEPT: [&str; 13] = [
    "TableName",
    "IndexName",
    "UserPoolId",
    "PoolName",
    "UserPoolTags",
    "ResourceArn",
    "TagKeys",
    "FromEmailAddress",
    "ConfigurationSetName",
    "SecretId",
    "Name",
    "stateMachineArn",
    "EmailIdentity",
];

/// `inner`, recording every request when `AWS_CALL_LOG` is set; `inner` itself otherwise.
pub fn recording_if_asked(inner: SharedHttpClient) -> SharedHttpClient {
    match std::env::var_os(LOG_VARIABLE).filter(|v| !v.is_empty()) {
        Some(path) => Recording {
            inner,
            log: Arc::new(CallLog {
                path: PathBuf::from(path),
                function: function_name(),
                lock: Mutex::new(()),
            }),
        }
        .into_shared(),
        None => inner,
    }
}

fn function_name() -> String {
    [FUNCTION_VARIABLE, "AWS_LAMBDA_FUNCTION_NAME"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|v| !v.is_empty())
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_else(|| "unknown".into())
}

#[derive(Debug)]
struct CallLog {
    path: PathBuf,
    function: String,
    lock: Mutex<()>,
}

impl CallLog {
    fn record(&self, request: &HttpRequest) {
        let Some(mut line) = describe(request) else {
            return;
        };
        line.insert("function".into(), Value::from(self.function.as_str()));
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        // One write per line on a file opened for appending: lines of several processes do
        // not interleave.
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = written {
            tracing::warn!(path = %self.path.display(), error = %e, "the AWS call log could not be written");
        }
    }
}

/// What a request asks of which resource; `None` for a request that is no AWS API call.
fn describe(request: &HttpRequest) -> Option<Map<String, Value>> {
    let headers = request.headers();
    let service = headers
        .get("authorization")
        .and_then(signing_name)
        .unwrap_or_default();
    let body: Value = request
        .body()
        .bytes()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or(Value::Null);
    let operation = match headers.get("x-amz-target") {
        Some(target) => target.rsplit('.').next().unwrap_or(target).to_owned(),
        None => rest_operation(request.method(), request.uri())?,
    };
    let mut line = Map::new();
    line.insert("service".into(), Value::from(service));
    line.insert("operation".into(), Value::from(operation));
    if let Some(fields) = body.as_object() {
        for key in KEPT {
            if let Some(v) = fields.get(key) {
                line.insert(key.into(), v.clone());
            }
        }
        if let Some(items) = fields.get("TransactItems").and_then(Value::as_array) {
            line.insert("items".into(), transaction_items(items));
        }
        if let Some(tables) = fields.get("RequestItems").and_then(Value::as_object) {
            line.insert("items".into(), batch_items(tables));
        }
    }
    Some(line)
}

/// The signing name from a SigV4 `Authorization` header: the service part of the
/// credential scope (`.../<date>/<region>/<service>/aws4_request`).
fn signing_name(header: &str) -> Option<String> {
    let scope = header.split("Credential=").nth(1)?.split(',').next()?;
    let parts: Vec<&str> = scope.split('/').collect();
    (parts.len() >= 5).then(|| parts[parts.len() - 2].to_owned())
}

/// The operations of the REST services the suite calls (SES v2; S3 and Step Functions are
/// `tenantctl`'s), by method and path.
fn rest_operation(method: &str, uri: &str) -> Option<String> {
    let path = uri
        .split("://")
        .nth(1)
        .map(|rest| rest.find('/').map(|i| &rest[i..]).unwrap_or("/"))
        .unwrap_or(uri);
    let path = path.split('?').next().unwrap_or(path);
    let operation = match (method, path) {
        ("POST", "/v2/email/outbound-emails") => "SendEmail",
        ("POST", "/v2/email/identities") => "CreateEmailIdentity",
        ("GET", p) if p.starts_with("/v2/email/identities/") => "GetEmailIdentity",
        ("PUT", _) => "PutObject",
        ("GET", _) => "GetObject",
        _ => return Some(format!("{method} {path}")),
    };
    Some(operation.to_owned())
}

/// `[{"kind": "Put", "TableName": ...}, ...]` of a TransactWriteItems/TransactGetItems.
fn transaction_items(items: &[Value]) -> Value {
    Value::Array(
        items
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|item| item.iter().next())
            .map(|(kind, body)| json!({"kind": kind, "TableName": body.get("TableName")}))
            .collect(),
    )
}

/// `[{"kind": "PutRequest", "TableName": ...}, ...]` of a BatchWriteItem/BatchGetItem.
fn batch_items(tables: &Map<String, Value>) -> Value {
    let mut out = Vec::new();
    for (table, requests) in tables {
        match requests.as_array() {
            Some(requests) => {
                for kind in requests
                    .iter()
                    .filter_map(Value::as_object)
                    .filter_map(|r| r.keys().next())
                {
                    let item = json!({"kind": kind, "TableName": table});
                    if !out.contains(&item) {
                        out.push(item);
                    }
                }
            }
            // BatchGetItem: {"table": {"Keys": [...]}}
            None => out.push(json!({"kind": "Get", "TableName": table})),
        }
    }
    Value::Array(out)
}

#[derive(Debug)]
struct Recording {
    inner: SharedHttpClient,
    log: Arc<CallLog>,
}

#[derive(Debug)]
struct RecordingConnector {
    inner: SharedHttpConnector,
    log: Arc<CallLog>,
}

impl HttpClient for Recording {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        RecordingConnector {
            inner: self.inner.http_connector(settings, components),
            log: self.log.clone(),
        }
        .into_shared()
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

impl HttpConnector for RecordingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.log.record(&request);
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::body::SdkBody;

    fn request(target: Option<&str>, uri: &str, body: &str) -> HttpRequest {
        let mut builder = http::Request::builder()
            .method("POST")
            .uri(uri)
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20261202/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=abc",
            );
        if let Some(target) = target {
            builder = builder.header("x-amz-target", target);
        }
        HttpRequest::try_from(builder.body(SdkBody::from(body)).expect("request"))
            .expect("smithy request")
    }

    #[test]
    fn a_transaction_is_recorded_with_its_items_kinds_and_nothing_else() {
        let body = json!({
            "TransactItems": [
                {"Put": {"TableName": "signin", "Item": {"pk": {"S": "secret-ish"}}}},
                {"ConditionCheck": {"TableName": "signin", "Key": {}}},
                {"Delete": {"TableName": "signin", "Key": {}}}
            ],
            "ClientRequestToken": "t"
        });
        let line = describe(&request(
            Some("DynamoDB_20120810.TransactWriteItems"),
            "http://127.0.0.1:5000/",
            &body.to_string(),
        ))
        .expect("an AWS call");
        assert_eq!(line["service"], "dynamodb");
        assert_eq!(line["operation"], "TransactWriteItems");
        assert_eq!(
            line["items"],
            json!([
                {"kind": "Put", "TableName": "signin"},
                {"kind": "ConditionCheck", "TableName": "signin"},
                {"kind": "Delete", "TableName": "signin"}
            ])
        );
        let text = Value::Object(line).to_string();
        assert!(!text.contains("secret-ish") && !text.contains("ClientRequestToken"));
    }

    #[test]
    fn passwords_never_reach_the_log() {
        let body = json!({"UserPoolId": "us-east-1_x", "Username": "ann", "Password": "Hunter2!x", "Permanent": true});
        let line = describe(&request(
            Some("AWSCognitoIdentityProviderService.AdminSetUserPassword"),
            "https://cognito-idp.us-east-1.amazonaws.com/",
            &body.to_string(),
        ))
        .expect("an AWS call");
        assert_eq!(line["operation"], "AdminSetUserPassword");
        assert_eq!(line["UserPoolId"], "us-east-1_x");
        assert!(!Value::Object(line).to_string().contains("Hunter2"));
    }

    #[test]
    fn rest_calls_are_named_by_method_and_path() {
        let body = json!({"FromEmailAddress": "no-reply@example.com", "Content": {"Simple": {}}});
        let line = describe(&request(
            None,
            "https://email.us-east-1.amazonaws.com/v2/email/outbound-emails",
            &body.to_string(),
        ))
        .expect("an AWS call");
        assert_eq!(line["operation"], "SendEmail");
        assert_eq!(line["FromEmailAddress"], "no-reply@example.com");
        assert!(line.get("Content").is_none());
        assert_eq!(
            signing_name("AWS4-HMAC-SHA256 Credential=AKID/20261202/eu-west-1/ses/aws4_request, SignedHeaders=host"),
            Some("ses".into())
        );
    }

    #[test]
    fn batch_writes_name_each_kind_once_per_table() {
        let body = json!({"RequestItems": {"signin": [
            {"PutRequest": {"Item": {}}}, {"PutRequest": {"Item": {}}}, {"DeleteRequest": {"Key": {}}}
        ]}});
        let line = describe(&request(
            Some("DynamoDB_20120810.BatchWriteItem"),
            "http://127.0.0.1:5000/",
            &body.to_string(),
        ))
        .expect("an AWS call");
        assert_eq!(
            line["items"],
            json!([
                {"kind": "PutRequest", "TableName": "signin"},
                {"kind": "DeleteRequest", "TableName": "signin"}
            ])
        );
    }
}
