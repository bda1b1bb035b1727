//! E-mail addresses and e-mail domains (the latter route a person from the main domain to the
//! organization that owns the domain).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Error;

/// An e-mail address, kept lower-case. The check is deliberately shallow (one `@`, a dotted
/// domain, no spaces): the confirmation mail is the real test of an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |rule| Error::InvalidInput {
            what: "e-mail address",
            value: input.to_owned(),
            rule,
        };
        let lowered = input.trim().to_ascii_lowercase();
        let (local, domain) = lowered
            .split_once('@')
            .ok_or_else(|| invalid("it needs the form name@domain"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(invalid("the part before @ must be 1 to 64 characters"));
        }
        if lowered.len() > 254 || lowered.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "it may not contain spaces and must be at most 254 characters",
            ));
        }
        EmailDomain::parse(domain)
            .map_err(|_| invalid("the part after @ must be a domain such as example.com"))?;
        Ok(Self(lowered))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.split_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

/// A DNS domain an organization's people have their addresses in, such as `acme.com`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailDomain(String);

impl EmailDomain {
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |rule| Error::InvalidInput {
            what: "e-mail domain",
            value: input.to_owned(),
            rule,
        };
        let lowered = input.trim().trim_end_matches('.').to_ascii_lowercase();
        if lowered.len() > 253 {
            return Err(invalid("it must be at most 253 characters"));
        }
        let labels: Vec<&str> = lowered.split('.').collect();
        if labels.len() < 2 {
            return Err(invalid("it needs at least two labels, such as example.com"));
        }
        for label in &labels {
            let ok_chars = label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if label.is_empty() || label.len() > 63 || !ok_chars {
                return Err(invalid(
                    "each label must be 1 to 63 characters of a-z, 0-9 and hyphens",
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(invalid("a label may not start or end with a hyphen"));
            }
        }
        Ok(Self(lowered))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailDomain {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailDomain> for String {
    fn from(value: EmailDomain) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_lowered_and_split() {
        let a = EmailAddress::parse(" Jane.Doe@Acme.COM ").expect("valid");
        assert_eq!(a.as_str(), "jane.doe@acme.com");
        assert_eq!(a.domain(), "acme.com");
    }

    #[test]
    fn bad_addresses_are_refused_with_a_reason() {
        for bad in [
            "jane",
            "@acme.com",
            "jane@",
            "jane@acme",
            "ja ne@acme.com",
            "jane@-acme.com",
        ] {
            let err = EmailAddress::parse(bad).expect_err(bad);
            assert_eq!(err.code(), "InvalidInput", "{bad}");
        }
    }

    #[test]
    fn domains_need_two_clean_labels() {
        assert_eq!(
            EmailDomain::parse("Acme.com.").expect("valid").as_str(),
            "acme.com"
        );
        for bad in ["acme", "acme..com", "ac_me.com", "-acme.com", ""] {
            assert!(EmailDomain::parse(bad).is_err(), "{bad}");
        }
    }
}
