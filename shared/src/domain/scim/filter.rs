//! SCIM filters (RFC 7644, section 3.4.2.2) and attribute paths, parsed, and evaluated
//! against a resource's JSON representation. Attribute names compare without case, as the RFC
//! says; so do string values, except `id` and `externalId` (case-exact).

use serde_json::Value;

use super::ScimError;

/// The enterprise extension's schema URN; its attributes are addressed with it as prefix.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The core User schema URN (a path may carry it as prefix).
pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// An attribute path: `userName`, `name.givenName`, `emails`, or an extension's attribute
/// (`schema` set to the extension URN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub schema: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses `[urn:...:]attr[.sub]`.
    pub fn parse(input: &str) -> Result<Self, ScimError> {
        let input = input.trim();
        let (schema, rest) = split_urn(input);
        let mut parts = rest.splitn(2, '.');
        let attr = parts.next().unwrap_or("").to_owned();
        let sub = parts.next().map(str::to_owned);
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(&attr) || sub.as_deref().is_some_and(|s| !valid(s)) {
            return Err(ScimError::invalid_path(input));
        }
        let schema = schema.filter(|s| !s.eq_ignore_ascii_case(CORE_USER));
        Ok(Self { schema, attr, sub })
    }
}

/// `urn:...:User:employeeNumber` → (`urn:...:User`, `employeeNumber`).
fn split_urn(input: &str) -> (Option<String>, &str) {
    for urn in [ENTERPRISE, CORE_USER] {
        if input.len() > urn.len()
            && input[..urn.len()].eq_ignore_ascii_case(urn)
            && input.as_bytes()[urn.len()] == b':'
        {
            return (Some(urn.to_owned()), &input[urn.len() + 1..]);
        }
    }
    (None, input)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Present(AttrPath),
    Compare(AttrPath, CompareOp, Value),
    /// `attr[filter]` alone (true when an element matches), or `attr[filter].sub op value`.
    ValuePath {
        attr: AttrPath,
        inner: Box<Filter>,
        then: Option<Box<Filter>>,
    },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

/// Longest filter we parse: directories send short ones.
const MAX_FILTER_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

fn tokenize(input: &str) -> Result<Vec<Token>, ScimError> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '[' => {
                chars.next();
                tokens.push(Token::OpenBracket);
            }
            ']' => {
                chars.next();
                tokens.push(Token::CloseBracket);
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(other) => s.push(other),
                            None => break,
                        },
                        other => s.push(other),
                    }
                }
                if !closed {
                    return Err(ScimError::invalid_filter("a string is not closed"));
                }
                tokens.push(Token::Str(s));
            }
            _ => {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "()[]\"".contains(c) {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(w));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }
    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ScimError> {
        if self.keyword("not") {
            self.at += 1;
            return match self.next() {
                Some(Token::Open) => {
                    let inner = self.or()?;
                    self.expect_close(Token::Close)?;
                    Ok(Filter::Not(Box::new(inner)))
                }
                _ => Err(ScimError::invalid_filter("not must be followed by (")),
            };
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                self.expect_close(Token::Close)?;
                Ok(inner)
            }
            Some(Token::Word(word)) => self.attr_expression(&word),
            _ => Err(ScimError::invalid_filter("an attribute name was expected")),
        }
    }

    fn expect_close(&mut self, close: Token) -> Result<(), ScimError> {
        if self.next() == Some(close) {
            Ok(())
        } else {
            Err(ScimError::invalid_filter("a bracket is not closed"))
        }
    }

    fn attr_expression(&mut self, word: &str) -> Result<Filter, ScimError> {
        if self.peek() == Some(&Token::OpenBracket) {
            self.at += 1;
            let attr = AttrPath::parse(word).map_err(|_| ScimError::invalid_filter(word))?;
            let inner = self.or()?;
            self.expect_close(Token::CloseBracket)?;
            // `emails[type eq "work"].value eq "x"`: the sub-attribute comes as a word `.value`.
            let then = match self.peek() {
                Some(Token::Word(w)) if w.starts_with('.') => {
                    let w = w[1..].to_owned();
                    self.at += 1;
                    Some(Box::new(self.attr_expression(&w)?))
                }
                _ => None,
            };
            return Ok(Filter::ValuePath {
                attr,
                inner: Box::new(inner),
                then,
            });
        }
        let path = AttrPath::parse(word).map_err(|_| ScimError::invalid_filter(word))?;
        let op = match self.next() {
            Some(Token::Word(op)) => op.to_ascii_lowercase(),
            _ => return Err(ScimError::invalid_filter("an operator was expected")),
        };
        if op == "pr" {
            return Ok(Filter::Present(path));
        }
        let op = match op.as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            other => {
                return Err(ScimError::invalid_filter(&format!(
                    "unknown operator {other:?}"
                )))
            }
        };
        let value = match self.next() {
            Some(Token::Str(s)) => Value::String(s),
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&w)
                    .map(Value::Number)
                    .map_err(|_| ScimError::invalid_filter(&format!("{w:?} is not a value")))?,
            },
            _ => return Err(ScimError::invalid_filter("a value was expected")),
        };
        Ok(Filter::Compare(path, op, value))
    }
}

impl Filter {
    pub fn parse(input: &str) -> Result<Self, ScimError> {
        if input.len() > MAX_FILTER_LEN {
            return Err(ScimError::invalid_filter("the filter is too long"));
        }
        let mut parser = Parser {
            tokens: tokenize(input)?,
            at: 0,
        };
        let filter = parser.or()?;
        if parser.at != parser.tokens.len() {
            return Err(ScimError::invalid_filter(
                "unexpected text after the filter",
            ));
        }
        Ok(filter)
    }

    /// Whether the resource `r` (a JSON object) matches.
    pub fn matches(&self, r: &Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(r) && b.matches(r),
            Filter::Or(a, b) => a.matches(r) || b.matches(r),
            Filter::Not(a) => !a.matches(r),
            Filter::Present(path) => values_at(r, path).iter().any(present),
            Filter::Compare(path, op, expected) => {
                let exact = is_case_exact(path);
                values_at(r, path)
                    .iter()
                    .any(|v| compare(v, *op, expected, exact))
                    || (*op == CompareOp::Ne && values_at(r, path).is_empty())
            }
            Filter::ValuePath { attr, inner, then } => {
                let elements = elements_of(r, attr);
                elements
                    .iter()
                    .any(|e| inner.matches(e) && then.as_ref().is_none_or(|t| t.matches(e)))
            }
        }
    }

    /// The value an indexed look-up can start from: `attr eq "v"` for one of `names`,
    /// alone or as a term of an `and` (an `or` cannot be narrowed by one term).
    pub fn equality(&self, names: &[&str]) -> Option<(String, String)> {
        match self {
            Filter::Compare(path, CompareOp::Eq, Value::String(v)) if path.schema.is_none() => {
                let full = match &path.sub {
                    Some(sub) => format!("{}.{}", path.attr, sub),
                    None => path.attr.clone(),
                };
                names
                    .iter()
                    .find(|n| n.eq_ignore_ascii_case(&full))
                    .map(|n| ((*n).to_owned(), v.clone()))
            }
            Filter::ValuePath {
                attr,
                then: Some(then),
                ..
            } => match then.as_ref() {
                Filter::Compare(sub, CompareOp::Eq, Value::String(v)) if sub.sub.is_none() => {
                    let full = format!("{}.{}", attr.attr, sub.attr);
                    names
                        .iter()
                        .find(|n| n.eq_ignore_ascii_case(&full))
                        .map(|n| ((*n).to_owned(), v.clone()))
                }
                _ => None,
            },
            Filter::And(a, b) => a.equality(names).or_else(|| b.equality(names)),
            _ => None,
        }
    }
}

fn is_case_exact(path: &AttrPath) -> bool {
    path.schema.is_none()
        && path.sub.is_none()
        && (path.attr.eq_ignore_ascii_case("id") || path.attr.eq_ignore_ascii_case("externalId"))
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// The member of object `v` named `name`, whatever its case.
pub fn member<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The container a path's attribute lives in: the resource, or its extension object.
fn container<'a>(r: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    match &path.schema {
        Some(schema) => member(r, schema),
        None => Some(r),
    }
}

/// The elements of a (multi-valued) attribute; a single value counts as one.
fn elements_of(r: &Value, path: &AttrPath) -> Vec<Value> {
    match container(r, path).and_then(|c| member(c, &path.attr)) {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other.clone()],
    }
}

/// Every value a path names (sub-attributes of each element of a multi-valued attribute).
fn values_at(r: &Value, path: &AttrPath) -> Vec<Value> {
    let elements = elements_of(r, path);
    match &path.sub {
        None => elements,
        Some(sub) => elements
            .iter()
            .filter_map(|e| member(e, sub).cloned())
            .collect(),
    }
}

fn compare(actual: &Value, op: CompareOp, expected: &Value, exact: bool) -> bool {
    use std::cmp::Ordering;
    let fold = |s: &str| {
        if exact {
            s.to_owned()
        } else {
            s.to_lowercase()
        }
    };
    match (actual, expected) {
        (Value::String(a), Value::String(e)) => {
            let (a, e) = (fold(a), fold(e));
            match op {
                CompareOp::Eq => a == e,
                CompareOp::Ne => a != e,
                CompareOp::Co => a.contains(&e),
                CompareOp::Sw => a.starts_with(&e),
                CompareOp::Ew => a.ends_with(&e),
                CompareOp::Gt => a > e,
                CompareOp::Ge => a >= e,
                CompareOp::Lt => a < e,
                CompareOp::Le => a <= e,
            }
        }
        (Value::Bool(a), Value::Bool(e)) => match op {
            CompareOp::Eq => a == e,
            CompareOp::Ne => a != e,
            _ => false,
        },
        // Entra ID sends booleans as strings in places ("False").
        (Value::Bool(a), Value::String(e)) => match (op, e.to_ascii_lowercase().as_str()) {
            (CompareOp::Eq, "true") => *a,
            (CompareOp::Eq, "false") => !*a,
            (CompareOp::Ne, "true") => !*a,
            (CompareOp::Ne, "false") => *a,
            _ => false,
        },
        (Value::Number(a), Value::Number(e)) => {
            let (Some(a), Some(e)) = (a.as_f64(), e.as_f64()) else {
                return false;
            };
            let ord = a.partial_cmp(&e);
            match op {
                CompareOp::Eq => ord == Some(Ordering::Equal),
                CompareOp::Ne => ord != Some(Ordering::Equal),
                CompareOp::Gt => ord == Some(Ordering::Greater),
                CompareOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                CompareOp::Lt => ord == Some(Ordering::Less),
                CompareOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                _ => false,
            }
        }
        (_, Value::Null) => match op {
            CompareOp::Eq => actual.is_null(),
            CompareOp::Ne => !actual.is_null(),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alice() -> Value {
        json!({
            "userName": "Alice@Acme.example",
            "externalId": "E-1",
            "active": true,
            "name": {"givenName": "Alice", "familyName": "Doe"},
            "emails": [
                {"value": "alice@acme.example", "type": "work", "primary": true},
                {"value": "alice@home.example", "type": "home"}
            ],
            ENTERPRISE: {"department": "Finance", "employeeNumber": "42"}
        })
    }

    fn m(filter: &str) -> bool {
        Filter::parse(filter).unwrap().matches(&alice())
    }

    #[test]
    fn the_filters_directories_send_match_as_the_rfc_says() {
        assert!(m(r#"userName eq "alice@acme.example""#));
        assert!(m(r#"USERNAME Eq "ALICE@ACME.EXAMPLE""#));
        assert!(!m(r#"userName eq "bob@acme.example""#));
        assert!(m(r#"externalId eq "E-1""#));
        assert!(!m(r#"externalId eq "e-1""#), "externalId is case-exact");
        assert!(m(r#"emails[type eq "work"].value eq "alice@acme.example""#));
        assert!(!m(
            r#"emails[type eq "home"].value eq "alice@acme.example""#
        ));
        assert!(m(r#"emails[type eq "work" and primary eq true]"#));
        assert!(m(r#"emails.value eq "alice@home.example""#));
        assert!(m(r#"name.familyName sw "do" and active eq true"#));
        assert!(m(r#"userName eq "x" or externalId eq "E-1""#));
        assert!(!m(
            r#"userName eq "x" or (externalId eq "E-1" and active eq false)"#
        ));
        assert!(m(r#"not (active eq false)"#));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "finance""#
        ));
        assert!(!m("title pr"));
        assert!(m("name.givenName pr"));
        assert!(m(r#"userName ew "example" and name.givenName co "lic""#));
    }

    #[test]
    fn bad_filters_are_invalid_filter_errors() {
        for bad in [
            "",
            "userName",
            r#"userName eq"#,
            r#"userName eq "unclosed"#,
            r#"userName zz "x""#,
            r#"(userName eq "x""#,
            r#"userName eq "x" extra"#,
            r#"emails[type eq "work".value eq "x""#,
            r#"not userName eq "x""#,
            r#"user$Name.a.b eq "x""#,
        ] {
            let err = Filter::parse(bad).expect_err(bad);
            assert_eq!(err.scim_type, Some("invalidFilter"), "{bad}");
            assert_eq!(err.status, 400);
        }
        let long = format!(r#"userName eq "{}""#, "a".repeat(3000));
        assert!(Filter::parse(&long).is_err());
    }

    #[test]
    fn an_equality_term_names_the_index_to_start_from() {
        let names = ["userName", "externalId", "emails.value"];
        let eq = |f: &str| Filter::parse(f).unwrap().equality(&names);
        assert_eq!(
            eq(r#"userName eq "a""#),
            Some(("userName".into(), "a".into()))
        );
        assert_eq!(
            eq(r#"active eq true and externalId eq "E""#),
            Some(("externalId".into(), "E".into()))
        );
        assert_eq!(
            eq(r#"emails[type eq "work"].value eq "a@b.c""#),
            Some(("emails.value".into(), "a@b.c".into()))
        );
        assert_eq!(
            eq(r#"emails.value eq "a@b.c""#),
            Some(("emails.value".into(), "a@b.c".into()))
        );
        assert_eq!(eq(r#"userName eq "a" or externalId eq "b""#), None);
        assert_eq!(eq(r#"userName sw "a""#), None);
    }
}
