//! The functions' IAM roles against the AWS calls they make: the calls recorded by
//! `shared::aws::calls` (`AWS_CALL_LOG`), each turned into the IAM actions it needs, checked
//! against the function's policies in the synthesized CloudFormation template.
//!
//! What a call needs (the Service Authorization Reference and the services' IAM pages):
//! - DynamoDB authorises every item of a `TransactWriteItems` by its own action (Put ->
//!   PutItem, Update -> UpdateItem, Delete -> DeleteItem, ConditionCheck ->
//!   ConditionCheckItem); a Query on an index needs the index's ARN.
//! - Cognito: the operation's own action on the pool (`userpool/<id>`), whose tags give
//!   `aws:ResourceTag/*`; CreateUserPool and ListUserPools have no resource (`*`);
//!   CreateUserPool with tags also needs `TagResource` (request tags as `aws:RequestTag/*`),
//!   UpdateUserPool (which sends the tags back) `TagResource` and `UntagResource`; the
//!   operations a user calls with their own token or none (InitiateAuth, SignUp, ...) are not
//!   governed by IAM.
//! - SES v2 SendEmail: `ses:SendEmail` on the sender's identity and on the configuration set,
//!   with `ses:FromAddress` the sender.
//! - Secrets Manager: the operation's action on `secret:<name>-<6 random characters>`.
//!
//! The policy evaluation covers what the suite's template uses: Allow and Deny, actions with
//! wildcards, resources with wildcards (CloudFormation intrinsics resolved), and the condition
//! operators StringEquals/StringEqualsIgnoreCase/StringLike/StringNotEquals (with
//! ForAllValues/ForAnyValue), Null and Bool. A statement with an operator it does not know
//! never allows (and says so), so the check errs on the side of "denied".

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The account and Region the template's pseudo parameters resolve to (moto's).
pub const ACCOUNT: &str = "123456789012";

/// One recorded AWS call (a line of the call log).
#[derive(Debug, Clone)]
pub struct Call {
    pub function: String,
    pub service: String,
    pub operation: String,
    pub fields: Value,
}

impl Call {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// `service:Operation` and the fields that name what it acted on.
    pub fn describe(&self) -> String {
        let mut named: Vec<String> = [
            "TableName",
            "IndexName",
            "UserPoolId",
            "PoolName",
            "FromEmailAddress",
            "SecretId",
            "Name",
        ]
        .iter()
        .filter_map(|k| self.field(k).map(|v| format!("{k}={v}")))
        .collect();
        if let Some(items) = self.fields.get("items").and_then(Value::as_array) {
            let kinds: Vec<&str> = items.iter().filter_map(|i| i["kind"].as_str()).collect();
            named.push(format!("items=[{}]", kinds.join(",")));
        }
        format!("{}:{} ({})", self.service, self.operation, named.join(" "))
    }
}

/// Reads every call of a call log.
pub fn read_calls(path: &Path) -> Vec<Call> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| Call {
            function: v["function"].as_str().unwrap_or_default().to_owned(),
            service: v["service"].as_str().unwrap_or_default().to_owned(),
            operation: v["operation"].as_str().unwrap_or_default().to_owned(),
            fields: v,
        })
        .collect()
}

/// The IAM request context of one action: its resource and condition keys.
#[derive(Debug, Clone)]
pub struct Need {
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, Vec<String>>,
}

/// What the world looks like to IAM beyond the call itself: the tags of each pool.
pub trait Facts {
    fn region(&self) -> &str;
    /// The tags of pool `pool_id` (for `aws:ResourceTag/*`).
    fn pool_tags(&self, pool_id: &str) -> BTreeMap<String, String>;
}

/// Cognito operations a person calls with their own token, a session or nothing: IAM does
/// not govern them (the Cognito API reference: "unauthenticated" and "token-authorized").
const COGNITO_PUBLIC: [&str; 19] = [
    "InitiateAuth",
    "RespondToAuthChallenge",
    "SignUp",
    "ConfirmSignUp",
    "ResendConfirmationCode",
    "ForgotPassword",
    "ConfirmForgotPassword",
    "RevokeToken",
    "GetUser",
    "ChangePassword",
    "GlobalSignOut",
    "DeleteUser",
    "UpdateUserAttributes",
    "VerifyUserAttribute",
    "GetUserAttributeVerificationCode",
    "AssociateSoftwareToken",
    "VerifySoftwareToken",
    "SetUserMFAPreference",
    "GetTokensFromRefreshToken",
];

/// The IAM actions (with resource and context) a call needs; `Err` for a call this module
/// cannot map (a new service or operation: teach it here).
pub fn needs(call: &Call, facts: &dyn Facts) -> Result<Vec<Need>, String> {
    let region = facts.region();
    let arn = |service: &str, rest: String| format!("arn:aws:{service}:{region}:{ACCOUNT}:{rest}");
    let need = |action: String, resource: String| Need {
        action,
        resource,
        context: BTreeMap::new(),
    };
    match call.service.as_str() {
        "dynamodb" => {
            let table_arn = |t: &str| arn("dynamodb", format!("table/{t}"));
            match call.operation.as_str() {
                "TransactWriteItems" | "TransactGetItems" | "BatchWriteItem" | "BatchGetItem" => {
                    let items = call
                        .fields
                        .get("items")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let mut out = Vec::new();
                    for item in items {
                        let table = item["TableName"].as_str().unwrap_or_default();
                        let action = match (call.operation.as_str(), item["kind"].as_str()) {
                            ("TransactWriteItems", Some("Put")) => "PutItem",
                            ("TransactWriteItems", Some("Update")) => "UpdateItem",
                            ("TransactWriteItems", Some("Delete")) => "DeleteItem",
                            ("TransactWriteItems", Some("ConditionCheck")) => "ConditionCheckItem",
                            ("TransactGetItems", Some("Get")) => "GetItem",
                            ("BatchWriteItem", _) => "BatchWriteItem",
                            ("BatchGetItem", _) => "BatchGetItem",
                            (op, kind) => return Err(format!("{op} item of kind {kind:?}")),
                        };
                        out.push(need(format!("dynamodb:{action}"), table_arn(table)));
                    }
                    Ok(out)
                }
                op => {
                    let table = call
                        .field("TableName")
                        .ok_or_else(|| format!("dynamodb:{op} without a table"))?;
                    let resource = match call.field("IndexName") {
                        Some(index) => format!("{}/index/{index}", table_arn(table)),
                        None => table_arn(table),
                    };
                    Ok(vec![need(format!("dynamodb:{op}"), resource)])
                }
            }
        }
        "cognito-idp" => {
            let op = call.operation.as_str();
            if COGNITO_PUBLIC.contains(&op) {
                return Ok(Vec::new());
            }
            let request_tags: BTreeMap<String, String> = call
                .fields
                .get("UserPoolTags")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            let with_request_tags = |mut n: Need| {
                for (k, v) in &request_tags {
                    n.context
                        .insert(format!("aws:RequestTag/{k}"), vec![v.clone()]);
                }
                n.context
                    .insert("aws:TagKeys".into(), request_tags.keys().cloned().collect());
                n
            };
            let Some(pool) = call.field("UserPoolId") else {
                // CreateUserPool, ListUserPools: no resource.
                let mut out = vec![need(format!("cognito-idp:{op}"), "*".into())];
                if op == "CreateUserPool" && !request_tags.is_empty() {
                    out[0] = with_request_tags(out[0].clone());
                    out.push(with_request_tags(need(
                        "cognito-idp:TagResource".into(),
                        "*".into(),
                    )));
                }
                return Ok(out);
            };
            let pool_arn = arn("cognito-idp", format!("userpool/{pool}"));
            let tags = facts.pool_tags(pool);
            let on_pool = |action: &str| {
                let mut n = need(format!("cognito-idp:{action}"), pool_arn.clone());
                for (k, v) in &tags {
                    n.context
                        .insert(format!("aws:ResourceTag/{k}"), vec![v.clone()]);
                }
                n
            };
            let mut out = vec![on_pool(op)];
            if op == "UpdateUserPool" && !request_tags.is_empty() {
                out.push(with_request_tags(on_pool("TagResource")));
                out.push(with_request_tags(on_pool("UntagResource")));
            }
            Ok(out)
        }
        "ses" => match call.operation.as_str() {
            "SendEmail" => {
                let from = call
                    .field("FromEmailAddress")
                    .ok_or("SendEmail without a sender")?;
                let domain = from.rsplit('@').next().unwrap_or(from);
                let mut out = vec![need(
                    "ses:SendEmail".into(),
                    arn("ses", format!("identity/{domain}")),
                )];
                if let Some(set) = call.field("ConfigurationSetName") {
                    out.push(need(
                        "ses:SendEmail".into(),
                        arn("ses", format!("configuration-set/{set}")),
                    ));
                }
                for n in &mut out {
                    n.context
                        .insert("ses:FromAddress".into(), vec![from.to_owned()]);
                }
                Ok(out)
            }
            op => {
                let identity = call.field("EmailIdentity").unwrap_or("*");
                Ok(vec![need(
                    format!("ses:{op}"),
                    arn("ses", format!("identity/{identity}")),
                )])
            }
        },
        "secretsmanager" => {
            let name = call
                .field("SecretId")
                .or_else(|| call.field("Name"))
                .ok_or_else(|| format!("secretsmanager:{} without a secret", call.operation))?;
            let resource = if name.starts_with("arn:") {
                name.to_owned()
            } else {
                arn("secretsmanager", format!("secret:{name}-AbCdEf"))
            };
            Ok(vec![need(
                format!("secretsmanager:{}", call.operation),
                resource,
            )])
        }
        other => Err(format!(
            "{other}:{} is not mapped to IAM actions",
            call.operation
        )),
    }
}

/// A function's policy statements, resolved.
#[derive(Debug, Clone)]
pub struct Statement {
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    pub conditions: Value,
}

/// Values of the template's parameters and resources, for resolving intrinsics.
pub struct Resolution {
    pub region: String,
    /// Parameter name -> value.
    pub parameters: HashMap<String, String>,
    /// Resource type -> (Ref value, Arn) for the one resource of that type the functions use.
    pub by_type: HashMap<&'static str, (String, String)>,
}

/// The synthesized template of a stage: `infra/cdk.out/<stage>/*.template.json`.
pub struct Template {
    json: Value,
    pub path: PathBuf,
}

impl Template {
    /// The first `*.template.json` in `dir`, or why there is none.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(".template.json"))
            .ok_or_else(|| format!("no *.template.json in {}", dir.display()))?;
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        let json = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        Ok(Self { json, path })
    }

    fn resources(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.json["Resources"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.iter())
    }

    /// The deployed functions, by the crate name in their construct path
    /// (`<stack>/Functions/<name>/Function/Resource`), with their role's logical id.
    pub fn functions(&self) -> BTreeMap<String, String> {
        self.resources()
            .filter(|(_, r)| r["Type"] == "AWS::Lambda::Function")
            .filter_map(|(_, r)| {
                let path = r["Metadata"]["aws:cdk:path"].as_str()?;
                let mut parts = path.split('/');
                let name = parts.find(|p| *p == "Functions").and(parts.next())?;
                let role = r["Properties"]["Role"]["Fn::GetAtt"][0].as_str()?;
                Some((name.to_owned(), role.to_owned()))
            })
            .collect()
    }

    /// The statements of every policy attached to role `role` (inline policies of the role
    /// and AWS::IAM::Policy resources naming it), resolved.
    pub fn statements(&self, role: &str, r: &Resolution) -> Vec<Statement> {
        let mut docs: Vec<&Value> = Vec::new();
        for (id, res) in self.resources() {
            if id == role {
                if let Some(policies) = res["Properties"]["Policies"].as_array() {
                    docs.extend(policies.iter().map(|p| &p["PolicyDocument"]));
                }
            }
            if res["Type"] == "AWS::IAM::Policy"
                && res["Properties"]["Roles"]
                    .as_array()
                    .is_some_and(|roles| roles.iter().any(|x| x["Ref"] == role))
            {
                docs.push(&res["Properties"]["PolicyDocument"]);
            }
        }
        let list = |v: &Value| -> Vec<Value> {
            match v {
                Value::Array(a) => a.clone(),
                Value::Null => Vec::new(),
                other => vec![other.clone()],
            }
        };
        docs.iter()
            .flat_map(|d| list(&d["Statement"]))
            .map(|st| Statement {
                allow: st["Effect"] == "Allow",
                actions: list(&st["Action"])
                    .iter()
                    .map(|a| self.resolve(a, r))
                    .collect(),
                resources: list(&st["Resource"])
                    .iter()
                    .map(|a| self.resolve(a, r))
                    .collect(),
                conditions: self.resolve_value(&st["Condition"], r),
            })
            .collect()
    }

    fn resolve_value(&self, v: &Value, r: &Resolution) -> Value {
        match v {
            Value::Object(m)
                if m.len() == 1
                    && m.keys()
                        .next()
                        .is_some_and(|k| k == "Ref" || k.starts_with("Fn::")) =>
            {
                Value::String(self.resolve(v, r))
            }
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), self.resolve_value(v, r)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.resolve_value(v, r)).collect()),
            other => other.clone(),
        }
    }

    fn resource_type(&self, id: &str) -> Option<&str> {
        self.json["Resources"][id]["Type"].as_str()
    }

    /// A CloudFormation value as a string; what cannot be resolved becomes
    /// `<unresolved ...>`, which matches no request.
    pub fn resolve(&self, v: &Value, r: &Resolution) -> String {
        let unresolved = || format!("<unresolved {v}>");
        match v {
            Value::String(s) => s.clone(),
            Value::Object(m) => {
                if let Some(name) = m.get("Ref").and_then(Value::as_str) {
                    return match name {
                        "AWS::Partition" => "aws".into(),
                        "AWS::Region" => r.region.clone(),
                        "AWS::AccountId" => ACCOUNT.into(),
                        "AWS::URLSuffix" => "amazonaws.com".into(),
                        _ => r
                            .parameters
                            .get(name)
                            .cloned()
                            .or_else(|| {
                                let ty = self.resource_type(name)?;
                                r.by_type.get(ty).map(|(id, _)| id.clone())
                            })
                            .unwrap_or_else(unresolved),
                    };
                }
                if let Some(args) = m.get("Fn::GetAtt").and_then(Value::as_array) {
                    let id = args.first().and_then(Value::as_str).unwrap_or_default();
                    return match (self.resource_type(id), args.get(1).and_then(Value::as_str)) {
                        (Some(ty), Some("Arn")) => r
                            .by_type
                            .get(ty)
                            .map(|(_, arn)| arn.clone())
                            .unwrap_or_else(unresolved),
                        _ => unresolved(),
                    };
                }
                if let Some(args) = m.get("Fn::Join").and_then(Value::as_array) {
                    let sep = args.first().and_then(Value::as_str).unwrap_or_default();
                    let parts: Vec<String> = args
                        .get(1)
                        .and_then(Value::as_array)
                        .map(|a| a.iter().map(|p| self.resolve(p, r)).collect())
                        .unwrap_or_default();
                    return parts.join(sep);
                }
                if let Some(args) = m.get("Fn::Select").and_then(Value::as_array) {
                    let index = args.first().and_then(Value::as_u64).unwrap_or_default() as usize;
                    let list: Vec<String> = match args.get(1) {
                        Some(Value::Array(a)) => a.iter().map(|p| self.resolve(p, r)).collect(),
                        Some(Value::Object(o)) if o.contains_key("Fn::Split") => {
                            let split = &o["Fn::Split"];
                            let sep = split[0].as_str().unwrap_or_default();
                            self.resolve(&split[1], r)
                                .split(sep)
                                .map(str::to_owned)
                                .collect()
                        }
                        _ => Vec::new(),
                    };
                    return list.get(index).cloned().unwrap_or_else(unresolved);
                }
                unresolved()
            }
            _ => unresolved(),
        }
    }
}

/// `pattern` (IAM wildcards `*` and `?`) against `value`.
pub fn wildcard(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = if ignore_case {
        (
            pattern.to_lowercase().chars().collect(),
            value.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), value.chars().collect())
    };
    // Iterative glob match with backtracking on the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < v.len() {
        if i < p.len() && (p[i] == '?' || p[i] == v[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    while i < p.len() && p[i] == '*' {
        i += 1;
    }
    i == p.len()
}

/// Whether a statement's conditions hold in `context`; `Err` names an operator this module
/// does not evaluate.
pub fn conditions_hold(
    conditions: &Value,
    context: &BTreeMap<String, Vec<String>>,
) -> Result<bool, String> {
    let Some(blocks) = conditions.as_object() else {
        return Ok(true);
    };
    for (operator, keys) in blocks {
        let (set, op) = match operator.split_once(':') {
            Some((set, op)) => (Some(set), op),
            None => (None, operator.as_str()),
        };
        const KNOWN: [&str; 6] = [
            "StringEquals",
            "StringEqualsIgnoreCase",
            "StringLike",
            "StringNotEquals",
            "Bool",
            "Null",
        ];
        if !KNOWN.contains(&op) || set.is_some_and(|s| s != "ForAllValues" && s != "ForAnyValue") {
            return Err(format!("the condition operator {operator}"));
        }
        for (key, expected) in keys.as_object().into_iter().flatten() {
            let expected: Vec<String> = match expected {
                Value::Array(a) => a.iter().map(value_text).collect(),
                v => vec![value_text(v)],
            };
            let actual = context.get(key);
            let one = |a: &str| -> Result<bool, String> {
                Ok(match op {
                    "StringEquals" => expected.iter().any(|e| e == a),
                    "StringEqualsIgnoreCase" => expected.iter().any(|e| e.eq_ignore_ascii_case(a)),
                    "StringLike" => expected.iter().any(|e| wildcard(e, a, false)),
                    "StringNotEquals" => expected.iter().all(|e| e != a),
                    "Bool" => expected.iter().any(|e| e.eq_ignore_ascii_case(a)),
                    other => return Err(format!("the condition operator {other}")),
                })
            };
            let holds = if op == "Null" {
                let absent = actual.is_none_or(|v| v.is_empty());
                expected.iter().any(|e| (e == "true") == absent)
            } else {
                match (set, actual) {
                    (Some("ForAllValues"), None) => true,
                    (Some("ForAllValues"), Some(values)) => {
                        let mut all = true;
                        for v in values {
                            all &= one(v)?;
                        }
                        all
                    }
                    (Some("ForAnyValue"), Some(values)) => {
                        let mut any = false;
                        for v in values {
                            any |= one(v)?;
                        }
                        any
                    }
                    (_, Some(values)) if values.len() == 1 => one(&values[0])?,
                    // A key the request does not carry: false, except for the negated
                    // operators (IAM: "...IfExists" aside).
                    (_, None) => op == "StringNotEquals",
                    (_, Some(_)) => return Err(format!("{operator} on the multivalued {key}")),
                }
            };
            if !holds {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The outcome of one need against a function's statements.
pub enum Decision {
    Allowed,
    Denied(String),
}

pub fn decide(need: &Need, statements: &[Statement]) -> Decision {
    let mut notes = Vec::new();
    let mut allowed = false;
    for st in statements {
        let action = st.actions.iter().any(|a| wildcard(a, &need.action, true));
        let resource = st
            .resources
            .iter()
            .any(|p| wildcard(p, &need.resource, false));
        if !action || !resource {
            continue;
        }
        match conditions_hold(&st.conditions, &need.context) {
            Ok(true) if !st.allow => {
                return Decision::Denied(format!("an explicit Deny ({})", st.conditions))
            }
            Ok(true) => allowed = true,
            Ok(false) => notes.push(format!(
                "a statement allows it but its condition {} does not hold for {:?}",
                st.conditions, need.context
            )),
            Err(e) => notes.push(format!("a statement's condition cannot be evaluated: {e}")),
        }
    }
    if allowed {
        Decision::Allowed
    } else if notes.is_empty() {
        Decision::Denied(format!(
            "no statement allows {} on {}",
            need.action, need.resource
        ))
    } else {
        Decision::Denied(notes.join("; "))
    }
}

/// The result of checking recorded calls against a template.
#[derive(Debug, Default)]
pub struct Report {
    /// "function: call needs action on resource: why".
    pub denied: Vec<String>,
    /// Calls that could not be mapped to IAM actions.
    pub unmapped: Vec<String>,
    /// Function -> granted actions no recorded call needed.
    pub unused: BTreeMap<String, BTreeSet<String>>,
    /// Function -> the actions its recorded calls needed.
    pub needed: BTreeMap<String, BTreeSet<String>>,
    /// Functions of the log that the template does not deploy.
    pub unknown_functions: BTreeSet<String>,
}

/// Checks every call of a function the template deploys against that function's role.
pub fn check(
    calls: &[Call],
    template: &Template,
    resolution: &Resolution,
    facts: &dyn Facts,
) -> Report {
    let functions = template.functions();
    let mut report = Report::default();
    let mut statements = HashMap::new();
    for (name, role) in &functions {
        statements.insert(name.clone(), template.statements(role, resolution));
    }
    let mut seen = BTreeSet::new();
    for call in calls {
        let Some(sts) = statements.get(&call.function) else {
            report.unknown_functions.insert(call.function.clone());
            continue;
        };
        let needs = match needs(call, facts) {
            Ok(n) => n,
            Err(e) => {
                report
                    .unmapped
                    .push(format!("{}: {} ({e})", call.function, call.describe()));
                continue;
            }
        };
        for need in needs {
            report
                .needed
                .entry(call.function.clone())
                .or_default()
                .insert(need.action.clone());
            if let Decision::Denied(why) = decide(&need, sts) {
                let line = format!(
                    "{}: {} needs {} on {}: {why}",
                    call.function,
                    call.describe(),
                    need.action,
                    need.resource
                );
                if seen.insert(line.clone()) {
                    report.denied.push(line);
                }
            }
        }
    }
    for (name, sts) in &statements {
        let needed = report.needed.get(name).cloned().unwrap_or_default();
        let unused: BTreeSet<String> = sts
            .iter()
            .filter(|s| s.allow)
            .flat_map(|s| s.actions.iter())
            .filter(|a| !a.starts_with("logs:"))
            .filter(|a| !needed.iter().any(|n| wildcard(a, n, true)))
            .cloned()
            .collect();
        if !unused.is_empty() {
            report.unused.insert(name.clone(), unused);
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()]))
            .collect()
    }

    #[test]
    fn wildcards_match_as_iam_does() {
        assert!(wildcard("dynamodb:*", "dynamodb:GetItem", true));
        assert!(wildcard(
            "cognito-idp:admin*",
            "cognito-idp:AdminGetUser",
            true
        ));
        assert!(!wildcard("dynamodb:Get*", "dynamodb:PutItem", true));
        assert!(wildcard(
            "arn:aws:cognito-idp:us-east-1:123456789012:userpool/*",
            "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc",
            false
        ));
        assert!(!wildcard(
            "arn:aws:dynamodb:*:table/t",
            "arn:aws:dynamodb:x:table/t/index/i",
            false
        ));
        assert!(wildcard("a?c*", "abcdef", false));
    }

    #[test]
    fn the_sender_condition_is_case_sensitive_unless_it_says_otherwise() {
        let sender = ctx(&[("ses:FromAddress", "no-reply@app.example.com")]);
        let exact = json!({"StringEquals": {"ses:FromAddress": "No-Reply@app.example.com"}});
        let ignoring =
            json!({"StringEqualsIgnoreCase": {"ses:FromAddress": "No-Reply@app.example.com"}});
        assert_eq!(conditions_hold(&exact, &sender), Ok(false));
        assert_eq!(conditions_hold(&ignoring, &sender), Ok(true));
    }

    #[test]
    fn tag_conditions_need_the_tag() {
        let tagged = ctx(&[("aws:ResourceTag/org-id", "o1")]);
        let cond = json!({"Null": {"aws:ResourceTag/org-id": "false"}});
        assert_eq!(conditions_hold(&cond, &tagged), Ok(true));
        assert_eq!(conditions_hold(&cond, &BTreeMap::new()), Ok(false));
        let create = json!({
            "Null": {"aws:RequestTag/org-id": "false"},
            "StringEquals": {"aws:RequestTag/managed-by": "tenantctl"}
        });
        let request = ctx(&[
            ("aws:RequestTag/org-id", "o1"),
            ("aws:RequestTag/managed-by", "tenantctl"),
        ]);
        assert_eq!(conditions_hold(&create, &request), Ok(true));
        let other = ctx(&[
            ("aws:RequestTag/org-id", "o1"),
            ("aws:RequestTag/managed-by", "me"),
        ]);
        assert_eq!(conditions_hold(&create, &other), Ok(false));
        assert!(conditions_hold(
            &json!({"DateGreaterThan": {"aws:CurrentTime": "x"}}),
            &request
        )
        .is_err());
    }

    struct NoTags;
    impl Facts for NoTags {
        fn region(&self) -> &str {
            "us-east-1"
        }
        fn pool_tags(&self, _: &str) -> BTreeMap<String, String> {
            BTreeMap::new()
        }
    }

    #[test]
    fn every_item_of_a_transaction_needs_its_own_action() {
        let call = Call {
            function: "f".into(),
            service: "dynamodb".into(),
            operation: "TransactWriteItems".into(),
            fields: json!({"items": [
                {"kind": "Put", "TableName": "t"},
                {"kind": "ConditionCheck", "TableName": "t"},
                {"kind": "Delete", "TableName": "t"},
                {"kind": "Update", "TableName": "t"}
            ]}),
        };
        let actions: Vec<String> = needs(&call, &NoTags)
            .expect("mapped")
            .into_iter()
            .map(|n| n.action)
            .collect();
        assert_eq!(
            actions,
            [
                "dynamodb:PutItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:DeleteItem",
                "dynamodb:UpdateItem"
            ]
        );
        let granted = Statement {
            allow: true,
            actions: vec![
                "dynamodb:PutItem".into(),
                "dynamodb:DeleteItem".into(),
                "dynamodb:UpdateItem".into(),
            ],
            resources: vec!["arn:aws:dynamodb:us-east-1:123456789012:table/t".into()],
            conditions: Value::Null,
        };
        let denied: Vec<String> = needs(&call, &NoTags)
            .expect("mapped")
            .into_iter()
            .filter(|n| {
                matches!(
                    decide(n, std::slice::from_ref(&granted)),
                    Decision::Denied(_)
                )
            })
            .map(|n| n.action)
            .collect();
        assert_eq!(denied, ["dynamodb:ConditionCheckItem"]);
    }
}
