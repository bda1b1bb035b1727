//! An organization's SCIM bearer tokens: one current, and the one it replaced for a grace
//! period, so that the directory keeps syncing while its admin pastes the new one in.
//!
//! A token is `scim_<id>_<secret>`: the id names it in the audit log (`scim:<id>`), the
//! secret is 256 random bits. Only the SHA-256 of the whole token is stored: a secret of that
//! size needs no slow password hash. Tokens are compared by their digests, in constant time.

use serde::{Deserialize, Serialize};

use crate::domain::person::LinkToken;
use crate::domain::same_bytes;

/// How long a rotated-out token keeps working: a day, enough for an IT admin to paste the
/// new one into Entra ID or Okta; then only the new one works.
pub const GRACE_SECS: i64 = 24 * 3600;

/// One stored token: its id, its digest, when it was made and, once replaced, until when it
/// still works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    pub id: String,
    pub sha256: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// The organization's SCIM credentials (part of its record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimCredentials {
    pub current: StoredToken,
    /// The token `current` replaced, valid until its `expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<StoredToken>,
}

/// A token as made, shown once: the caller gets `token`; the record keeps the digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub id: String,
    pub token: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh token and its stored form.
pub fn issue(now: i64) -> (IssuedToken, StoredToken) {
    let id = format!("sct-{}", hex(&rand::random::<[u8; 6]>()));
    let secret = hex(&rand::random::<[u8; 32]>());
    let token = format!("scim_{id}_{secret}");
    let stored = StoredToken {
        id: id.clone(),
        sha256: LinkToken::digest(&token),
        created_at: now,
        expires_at: None,
    };
    (IssuedToken { id, token }, stored)
}

impl ScimCredentials {
    /// Credentials after a new token: the current one becomes the previous, valid for
    /// [`GRACE_SECS`] more (an older previous one ends now).
    pub fn rotated(existing: Option<&ScimCredentials>, new: StoredToken, now: i64) -> Self {
        let previous = existing.map(|c| StoredToken {
            expires_at: Some(now + GRACE_SECS),
            ..c.current.clone()
        });
        Self {
            current: new,
            previous,
        }
    }

    /// The id of the token `presented` is, if it is one of these and still valid at `now`.
    pub fn accepts(&self, presented: &str, now: i64) -> Option<&str> {
        let digest = LinkToken::digest(presented);
        let mut found = None;
        // Both compared every time, in constant time each.
        for stored in std::iter::once(&self.current).chain(self.previous.as_ref()) {
            let valid = stored.expires_at.is_none_or(|end| now < end);
            if same_bytes(digest.as_bytes(), stored.sha256.as_bytes()) && valid {
                found = Some(stored.id.as_str());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_accepted_by_its_digest_only() {
        let (issued, stored) = issue(100);
        let creds = ScimCredentials::rotated(None, stored.clone(), 100);
        assert_eq!(creds.accepts(&issued.token, 101), Some(issued.id.as_str()));
        assert!(issued.token.starts_with(&format!("scim_{}_", issued.id)));
        assert_eq!(issued.token.len(), "scim_sct-".len() + 12 + 1 + 64);
        assert_ne!(stored.sha256, issued.token);
        assert!(!stored.sha256.contains(&issued.token[20..]));
        let mut wrong = issued.token.clone();
        wrong.pop();
        wrong.push('x');
        assert_eq!(creds.accepts(&wrong, 101), None);
        assert_eq!(creds.accepts("", 101), None);
    }

    #[test]
    fn a_rotated_token_works_for_the_grace_period_then_not() {
        let (old, old_stored) = issue(0);
        let first = ScimCredentials::rotated(None, old_stored, 0);
        let (new, new_stored) = issue(1000);
        let second = ScimCredentials::rotated(Some(&first), new_stored, 1000);
        assert_eq!(second.accepts(&new.token, 1001), Some(new.id.as_str()));
        assert_eq!(second.accepts(&old.token, 1000 + GRACE_SECS - 1), Some(old.id.as_str()));
        assert_eq!(second.accepts(&old.token, 1000 + GRACE_SECS), None);
        // A second rotation ends the first token at once.
        let (newest, newest_stored) = issue(2000);
        let third = ScimCredentials::rotated(Some(&second), newest_stored, 2000);
        assert_eq!(third.accepts(&old.token, 2001), None);
        assert_eq!(third.accepts(&new.token, 2001), Some(new.id.as_str()));
        assert_eq!(third.accepts(&newest.token, 2001), Some(newest.id.as_str()));
    }
}
