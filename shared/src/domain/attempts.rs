//! How many password sign-ins, forgotten-password requests and discovery look-ups one
//! address and one organization may make: Cognito's UserAuthentication quota (120 requests/s)
//! is per account and Region, shared by every organization, so one abuser must not be able
//! to spend it for all, nor mail-bomb people with reset codes.
//!
//! Fixed windows counted in the registry table, not token buckets per execution environment:
//! Lambda runs as many environments as there are concurrent requests, and a flood spreads
//! over all of them, so a bucket per environment would allow its limit times the
//! concurrency. One conditional-free counter update per attempt and scope (a few ms) is the
//! price; a window allows up to twice its limit across a boundary, which is fine for these
//! limits. A counter that cannot be read lets the attempt through (logged): an outage of
//! the counter must not lock everybody out.

use std::net::IpAddr;

use super::{Error, OrgId};
use crate::domain::ports::AttemptCounter;

/// What is being attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// `POST /login` on an organization's subdomain (InitiateAuth).
    Password,
    /// `POST /forgot-password` (ForgotPassword: a mail to the person).
    ForgotPassword,
    /// `POST /` on the main domain (a registry look-up; no organization yet).
    Discovery,
}

impl Attempt {
    fn name(self) -> &'static str {
        match self {
            Attempt::Password => "password",
            Attempt::ForgotPassword => "forgot",
            Attempt::Discovery => "discovery",
        }
    }
}

/// Most attempts per window from one address and in one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub per_address: u64,
    pub per_organization: u64,
}

/// The router's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimits {
    pub window_secs: i64,
    pub password: Limit,
    pub forgot_password: Limit,
    pub discovery: Limit,
}

impl Default for AttemptLimits {
    /// Per minute. An office behind one address signs in together in the morning: 30
    /// passwords a minute from one address leaves it room, and stops a guesser at 43,200 a
    /// day. 600 a minute (10/s) per organization keeps any one organization, attacked or
    /// not, to a twelfth of the account's UserAuthentication quota. Reset codes are mail:
    /// fewer. Discovery costs no Cognito call; its organization limit applies to the main
    /// domain as a whole.
    fn default() -> Self {
        Self {
            window_secs: 60,
            password: Limit {
                per_address: 30,
                per_organization: 600,
            },
            forgot_password: Limit {
                per_address: 10,
                per_organization: 120,
            },
            discovery: Limit {
                per_address: 30,
                per_organization: 3_000,
            },
        }
    }
}

impl AttemptLimits {
    fn of(&self, attempt: Attempt) -> Limit {
        match attempt {
            Attempt::Password => self.password,
            Attempt::ForgotPassword => self.forgot_password,
            Attempt::Discovery => self.discovery,
        }
    }
}

/// Refused: too many attempts; the window ends in `retry_after_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyAttempts {
    pub retry_after_secs: i64,
    /// Which limit was reached: `address` or `organization` (for the log).
    pub scope: &'static str,
}

/// The address an attempt is counted under: an IPv4 address as it is, an IPv6 address by
/// its /64 (one subscriber's network: anyone holding one has 2^64 addresses). Anything
/// unreadable is not counted per address.
pub fn address_key(ip: &str) -> Option<String> {
    match ip.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(v4.to_string()),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return Some(v4.to_string());
            }
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
        }
    }
}

/// Counts the attempt against the address's and the organization's limits (`org` `None`:
/// the main domain) and says whether it may go on.
pub async fn check_attempt(
    counter: &dyn AttemptCounter,
    limits: &AttemptLimits,
    attempt: Attempt,
    ip: Option<&str>,
    org: Option<&OrgId>,
    now: i64,
) -> Result<(), TooManyAttempts> {
    let window = limits.window_secs.max(1);
    let start = now - now.rem_euclid(window);
    let retry_after_secs = (start + window - now).max(1);
    let limit = limits.of(attempt);
    let org_scope = match org {
        Some(org) => format!("org:{org}:{}", attempt.name()),
        None => format!("main:{}", attempt.name()),
    };
    let mut scopes = vec![(org_scope, limit.per_organization, "organization")];
    if let Some(address) = ip.and_then(address_key) {
        scopes.push((
            format!("ip:{address}:{}", attempt.name()),
            limit.per_address,
            "address",
        ));
    }
    let counts = futures_util::future::join_all(
        scopes
            .iter()
            .map(|(scope, _, _)| counter.count_attempt(scope, start, window)),
    )
    .await;
    for ((_, max, name), count) in scopes.iter().zip(counts) {
        match count {
            Ok(count) if count > *max => {
                return Err(TooManyAttempts {
                    retry_after_secs,
                    scope: name,
                })
            }
            Ok(_) => {}
            Err(e) => log_counter_fault(&e),
        }
    }
    Ok(())
}

fn log_counter_fault(e: &Error) {
    tracing::warn!(code = e.code(), error = %e, "attempt counter unavailable: attempt let through");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryRegistry;

    #[test]
    fn addresses_are_counted_by_ipv4_or_ipv6_slash_64() {
        assert_eq!(address_key("203.0.113.7").as_deref(), Some("203.0.113.7"));
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1"),
            address_key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(
            address_key("2001:db8:1:2::1"),
            address_key("2001:db8:1:3::1")
        );
        assert_eq!(
            address_key("::ffff:203.0.113.7").as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(address_key("not an address"), None);
    }

    #[tokio::test]
    async fn one_address_and_one_organization_each_have_their_limit() {
        let counter = MemoryRegistry::default();
        let limits = AttemptLimits {
            window_secs: 60,
            password: Limit {
                per_address: 3,
                per_organization: 5,
            },
            ..AttemptLimits::default()
        };
        let org = OrgId::generate();
        let now = 1_000_000_050; // 30 s into a window (windows start at multiples of 60)
        for _ in 0..3 {
            check_attempt(
                &counter,
                &limits,
                Attempt::Password,
                Some("198.51.100.1"),
                Some(&org),
                now,
            )
            .await
            .expect("within the limit");
        }
        let refused = check_attempt(
            &counter,
            &limits,
            Attempt::Password,
            Some("198.51.100.1"),
            Some(&org),
            now,
        )
        .await
        .expect_err("the address's fourth attempt");
        assert_eq!(refused.scope, "address");
        assert_eq!(refused.retry_after_secs, 30);
        // Another address of the same organization goes on, until the organization's limit.
        check_attempt(
            &counter,
            &limits,
            Attempt::Password,
            Some("198.51.100.2"),
            Some(&org),
            now,
        )
        .await
        .expect("another address");
        let org_refused = check_attempt(
            &counter,
            &limits,
            Attempt::Password,
            Some("198.51.100.3"),
            Some(&org),
            now,
        )
        .await
        .expect_err("the organization's sixth attempt");
        assert_eq!(org_refused.scope, "organization");
        // Other organizations, other actions and the next window are not affected.
        check_attempt(
            &counter,
            &limits,
            Attempt::Password,
            Some("198.51.100.1"),
            Some(&OrgId::generate()),
            now,
        )
        .await
        .expect_err("same address, still over its own limit");
        check_attempt(
            &counter,
            &limits,
            Attempt::ForgotPassword,
            Some("198.51.100.1"),
            Some(&org),
            now,
        )
        .await
        .expect("another action");
        check_attempt(
            &counter,
            &limits,
            Attempt::Password,
            Some("198.51.100.1"),
            Some(&org),
            now + 30,
        )
        .await
        .expect("the next window");
    }
}
