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

    /// Whether this is a public mail service's domain (anyone can have an address there),
    /// which never identifies an organization's people: see [`is_public_mail_domain`].
    pub fn is_public_mail(&self) -> bool {
        is_public_mail_domain(&self.0)
    }

    /// This domain, unless it is a public mail service's: the refusal every path that
    /// records an organization's e-mail domains gives (admin API, `tenantctl`, migration).
    pub fn organizational(self) -> Result<Self, Error> {
        if self.is_public_mail() {
            Err(Error::PublicEmailDomain { domain: self.0 })
        } else {
            Ok(self)
        }
    }
}

/// Public mail services: anyone may get an address in these, so an organization can never
/// own one of them (discovery, self sign-up, just-in-time accounts, linking). Not complete,
/// and need not be: a domain not listed here still needs its DNS proof before it is used.
pub const PUBLIC_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "outlook.de",
    "outlook.fr",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.de",
    "hotmail.fr",
    "hotmail.it",
    "live.com",
    "live.co.uk",
    "live.de",
    "live.fr",
    "live.nl",
    "msn.com",
    "passport.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.co.jp",
    "yahoo.de",
    "yahoo.fr",
    "yahoo.es",
    "yahoo.it",
    "ymail.com",
    "rocketmail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "aim.com",
    "gmx.de",
    "gmx.net",
    "gmx.com",
    "gmx.at",
    "gmx.ch",
    "web.de",
    "t-online.de",
    "freenet.de",
    "posteo.de",
    "mailbox.org",
    "proton.me",
    "protonmail.com",
    "protonmail.ch",
    "pm.me",
    "tutanota.com",
    "tutanota.de",
    "tuta.io",
    "tuta.com",
    "fastmail.com",
    "hey.com",
    "zoho.com",
    "zohomail.com",
    "mail.com",
    "email.com",
    "mail.ru",
    "inbox.ru",
    "list.ru",
    "bk.ru",
    "ya.ru",
    "qq.com",
    "foxmail.com",
    "163.com",
    "126.com",
    "yeah.net",
    "sina.com",
    "sohu.com",
    "naver.com",
    "daum.net",
    "hanmail.net",
    "orange.fr",
    "wanadoo.fr",
    "free.fr",
    "laposte.net",
    "sfr.fr",
    "libero.it",
    "virgilio.it",
    "seznam.cz",
    "wp.pl",
    "o2.pl",
    "interia.pl",
    "onet.pl",
    "comcast.net",
    "verizon.net",
    "att.net",
    "btinternet.com",
    "rediffmail.com",
];

/// Whether `domain` is a public mail service's: listed in [`PUBLIC_MAIL_DOMAINS`], Yandex's
/// under any country's ending (`yandex.ru`, `yandex.com`, ...), or a subdomain of one.
pub fn is_public_mail_domain(domain: &str) -> bool {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let listed = |d: &str| {
        PUBLIC_MAIL_DOMAINS.contains(&d)
            || d.strip_prefix("yandex.")
                .is_some_and(|tld| !tld.is_empty() && !tld.contains('.') || tld == "com.tr")
    };
    // The domain itself or any parent of it (mail.gmail.com is Google's as much).
    let mut rest = domain.as_str();
    loop {
        if listed(rest) {
            return true;
        }
        match rest.split_once('.') {
            Some((_, parent)) if parent.contains('.') => rest = parent,
            _ => return false,
        }
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

    #[test]
    fn public_mail_domains_are_never_an_organization_s() {
        for public in [
            "gmail.com",
            "GoogleMail.com",
            "outlook.com",
            "hotmail.com",
            "live.com",
            "msn.com",
            "yahoo.com",
            "ymail.com",
            "icloud.com",
            "me.com",
            "mac.com",
            "aol.com",
            "gmx.de",
            "gmx.net",
            "gmx.com",
            "web.de",
            "proton.me",
            "protonmail.com",
            "mail.com",
            "yandex.ru",
            "yandex.com",
            "yandex.com.tr",
            "qq.com",
            "163.com",
            "mail.gmail.com",
        ] {
            assert!(is_public_mail_domain(public), "{public}");
            let domain = EmailDomain::parse(public).expect("well-formed");
            assert_eq!(
                domain.organizational().map_err(|e| e.code()),
                Err("PublicEmailDomain"),
                "{public}"
            );
        }
        for own in [
            "acme.com",
            "gmail.acme.com",
            "notgmail.com",
            "yandex-team.example",
            "web.design",
            "mail.company.de",
        ] {
            assert!(!is_public_mail_domain(own), "{own}");
        }
    }
}
