//! Which site a request is for, from its `Host` header: the main domain, or one
//! organization's subdomain. Nothing else is served, and no URL is ever built from the header
//! itself: only from the validated label and the configured base domain.

use shared::domain::Subdomain;

/// Longest host name looked at (DNS's limit).
const MAX_HOST: usize = 253;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Site {
    /// `BASE_DOMAIN` itself: the discovery page.
    Main,
    /// `<label>.BASE_DOMAIN` with a label that could be an organization's.
    Org(Subdomain),
}

/// The site `host` names under `base` (lower-case, as configured), if any: case-insensitive,
/// a port and one trailing dot allowed. IP literals, other domains, deeper names
/// (`a.b.<base>`), reserved and malformed labels and punycode are `None`.
pub fn site(host: &str, base: &str) -> Option<Site> {
    if host.is_empty() || host.len() > MAX_HOST + 7 || !host.is_ascii() {
        return None;
    }
    // `[::1]:443` and the like: never ours.
    if host.starts_with('[') {
        return None;
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) => {
            let valid_port = !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok();
            if !valid_port {
                return None;
            }
            name
        }
        None => host,
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > MAX_HOST {
        return None;
    }
    let name = name.to_ascii_lowercase();
    if name == base {
        return Some(Site::Main);
    }
    let label = name.strip_suffix(base)?.strip_suffix('.')?;
    if label.contains('.') {
        return None;
    }
    Subdomain::parse(label).ok().map(Site::Org)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "app.example.com";

    fn org(label: &str) -> Option<Site> {
        Some(Site::Org(Subdomain::parse(label).expect("valid")))
    }

    #[test]
    fn organizations_and_the_main_domain_in_every_accepted_spelling() {
        for host in [
            "acme.app.example.com",
            "ACME.App.Example.COM",
            "acme.app.example.com:443",
            "acme.app.example.com.",
            "acme.app.example.com.:8443",
        ] {
            assert_eq!(site(host, BASE), org("acme"), "{host}");
        }
        for host in ["app.example.com", "APP.example.com:443", "app.example.com."] {
            assert_eq!(site(host, BASE), Some(Site::Main), "{host}");
        }
    }

    #[test]
    fn everything_else_is_nobodys() {
        let long_label = "a".repeat(64);
        let long_host = format!("{}.app.example.com", "a.".repeat(130));
        for host in [
            "",
            "acme.app.example.com.evil.test",
            "acme.app.example.com.evil.test:443",
            "evil.test",
            "acmeapp.example.com",
            "example.com",
            "a.acme.app.example.com",
            ".app.example.com",
            "..app.example.com",
            "auth.app.example.com",
            "www.app.example.com",
            "xn--80ak6aa92e.app.example.com",
            "ab--cd.app.example.com",
            "-acme.app.example.com",
            "ac_me.app.example.com",
            "ac me.app.example.com",
            "acmé.app.example.com",
            &format!("{long_label}.app.example.com"),
            &long_host,
            "127.0.0.1",
            "127.0.0.1:8080",
            "[::1]",
            "[::1]:443",
            "acme.app.example.com:",
            "acme.app.example.com:99999",
            "acme.app.example.com:x",
            "acme.app.example.com..",
            "acme.app.example.com:443:443",
        ] {
            assert_eq!(site(host, BASE), None, "{host:?}");
        }
    }
}
