//! An organization's subdomain: the DNS label its people sign in on (`acme.<base domain>`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Error;

/// Labels that belong to the product itself (or look as if they did) and are never given to an
/// organization. `auth` is the one the help pages warn about: people would mistake it for ours.
pub const RESERVED_SUBDOMAINS: &[&str] = &[
    "auth",
    "www",
    "api",
    "admin",
    "app",
    "login",
    "logout",
    "signin",
    "signup",
    "sso",
    "oauth",
    "oauth2",
    "saml",
    "idp",
    "mail",
    "email",
    "smtp",
    "imap",
    "pop",
    "mx",
    "ns",
    "ns1",
    "ns2",
    "dns",
    "ftp",
    "cdn",
    "static",
    "assets",
    "status",
    "support",
    "help",
    "docs",
    "blog",
    "account",
    "accounts",
    "billing",
    "console",
    "dashboard",
    "portal",
    "root",
    "system",
    "internal",
    "test",
    "staging",
    "dev",
    "demo-admin",
    "localhost",
    "security",
    "cognito",
    "aws",
    "amazon",
];

const MIN_LEN: usize = 3;
const MAX_LEN: usize = 63;

/// A validated subdomain label: lower-case `a-z0-9-`, 3..63 characters, no hyphen at either
/// end, not reserved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subdomain(String);

impl Subdomain {
    /// Checks `input` against every rule and names the first one it breaks.
    ///
    /// Upper-case input is refused rather than folded: the operator sees exactly the label
    /// that will be published.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |rule: &'static str| Error::InvalidSubdomain {
            subdomain: input.to_owned(),
            rule,
        };
        if input.len() < MIN_LEN || input.len() > MAX_LEN {
            return Err(invalid("it must be 3 to 63 characters long"));
        }
        if !input
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid(
                "it may contain only lower-case letters a-z, digits 0-9 and hyphens",
            ));
        }
        if input.starts_with('-') || input.ends_with('-') {
            return Err(invalid("it may not start or end with a hyphen"));
        }
        // `xn--` and the like: internationalized (punycode) labels, which browsers show as
        // other letters, a way to make a look-alike of another organization's address.
        if input.get(2..4) == Some("--") {
            return Err(invalid(
                "it may not have hyphens as its third and fourth characters (reserved for internationalized names such as xn--)",
            ));
        }
        if RESERVED_SUBDOMAINS.contains(&input) {
            return Err(Error::ReservedSubdomain {
                subdomain: input.to_owned(),
            });
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The organization's login page: `https://<subdomain>.<base domain>/login`.
    pub fn login_url(&self, base_domain: &str) -> String {
        format!("https://{}.{}/login", self.0, base_domain)
    }

    /// The origin of the organization's pages, used for OAuth callback and logout URLs.
    pub fn origin(&self, base_domain: &str) -> String {
        format!("https://{}.{}", self.0, base_domain)
    }
}

impl fmt::Display for Subdomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Subdomain {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Subdomain> for String {
    fn from(value: Subdomain) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_of(input: &str) -> String {
        match Subdomain::parse(input) {
            Err(Error::InvalidSubdomain { rule, .. }) => rule.to_owned(),
            other => panic!("expected an invalid subdomain for {input:?}, got {other:?}"),
        }
    }

    #[test]
    fn accepts_plain_labels() {
        for ok in ["acme", "a-1", "abc", "x9z", &"a".repeat(63)] {
            assert_eq!(
                Subdomain::parse(ok).map(|s| s.to_string()),
                Ok(ok.to_owned())
            );
        }
    }

    #[test]
    fn names_the_length_rule() {
        assert!(rule_of("ab").contains("3 to 63"));
        assert!(rule_of(&"a".repeat(64)).contains("3 to 63"));
        assert!(rule_of("").contains("3 to 63"));
    }

    #[test]
    fn names_the_character_rule() {
        for bad in ["Acme", "ac_me", "acme.com", "ac me", "acmé"] {
            assert!(rule_of(bad).contains("lower-case"), "{bad}");
        }
    }

    #[test]
    fn names_the_hyphen_rule() {
        assert!(rule_of("-acme").contains("hyphen"));
        assert!(rule_of("acme-").contains("hyphen"));
    }

    #[test]
    fn refuses_reserved_names_with_their_own_reason() {
        for reserved in ["auth", "www", "api", "admin", "app", "login", "mail"] {
            assert_eq!(
                Subdomain::parse(reserved),
                Err(Error::ReservedSubdomain {
                    subdomain: reserved.to_owned()
                })
            );
        }
    }

    #[test]
    fn builds_the_login_url() {
        let sub = Subdomain::parse("acme").expect("valid");
        assert_eq!(
            sub.login_url("app.example.com"),
            "https://acme.app.example.com/login"
        );
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<Subdomain>("\"auth\"").is_err());
        assert!(serde_json::from_str::<Subdomain>("\"acme\"").is_ok());
    }
}
