//! An organization's SCIM bearer tokens: one current, and the one it replaced for a grace
//! period, so that the directory keeps syncing while its admin pastes the new one in.
//!
//! A token is `scim_<id>_<secret>`: the id names it in the audit log (`scim:<id>`), the
//! secret is 256 random bits. Only the SHA-256 of the whole token is stored: a secret of that
//! size needs no slow password hash. Tokens are compared by their digests, in constant time.

use serde::{Deserialize, Serialize};

use crate::domain::person::LinkToken;
use crate::domain::ports::{AuditEvent, Registry};
use crate::domain::{now_epoch, same_bytes, Error, Organization};

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

/// Makes the organization's SCIM token, or a new one in place of the current (which keeps
/// working for [`GRACE_SECS`]): saved (its digest) with its audit event, then shown once.
pub async fn issue_token(
    registry: &dyn Registry,
    org: &Organization,
    actor: &str,
) -> Result<(Organization, IssuedToken, Option<i64>), Error> {
    let now = now_epoch();
    let (issued, stored) = issue(now);
    let mut next = org.clone();
    let creds = ScimCredentials::rotated(org.scim.as_ref(), stored, now);
    let previous_until = creds.previous.as_ref().and_then(|p| p.expires_at);
    next.scim = Some(creds);
    let action = if org.scim.is_some() {
        "scim.token_rotated"
    } else {
        "scim.token_created"
    };
    let audit = AuditEvent::now(&org.id, actor, action, &issued.id, None);
    let saved = registry.save_organization(&next, Some(&audit)).await?;
    Ok((saved, issued, previous_until))
}

/// Ends every SCIM token of the organization at once: its SCIM endpoint is off.
pub async fn revoke_tokens(
    registry: &dyn Registry,
    org: &Organization,
    actor: &str,
) -> Result<Organization, Error> {
    let Some(creds) = &org.scim else {
        return Ok(org.clone());
    };
    let mut next = org.clone();
    next.scim = None;
    let audit = AuditEvent::now(
        &org.id,
        actor,
        "scim.token_revoked",
        &creds.current.id,
        None,
    );
    registry.save_organization(&next, Some(&audit)).await
}

/// What may be shown of the organization's SCIM tokens: ids and times, never a digest.
pub fn token_status(org: &Organization) -> serde_json::Value {
    match &org.scim {
        None => serde_json::json!({ "enabled": false }),
        Some(c) => serde_json::json!({
            "enabled": true,
            "token_id": c.current.id,
            "created_at": c.current.created_at,
            "previous_token_id": c.previous.as_ref().map(|p| p.id.clone()),
            "previous_valid_until": c.previous.as_ref().and_then(|p| p.expires_at),
        }),
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
        assert_eq!(
            second.accepts(&old.token, 1000 + GRACE_SECS - 1),
            Some(old.id.as_str())
        );
        assert_eq!(second.accepts(&old.token, 1000 + GRACE_SECS), None);
        // A second rotation ends the first token at once.
        let (newest, newest_stored) = issue(2000);
        let third = ScimCredentials::rotated(Some(&second), newest_stored, 2000);
        assert_eq!(third.accepts(&old.token, 2001), None);
        assert_eq!(third.accepts(&new.token, 2001), Some(new.id.as_str()));
        assert_eq!(third.accepts(&newest.token, 2001), Some(newest.id.as_str()));
    }

    #[cfg(feature = "testing")]
    #[tokio::test]
    async fn issuing_rotating_and_revoking_are_saved_and_audited() {
        use crate::testing::{sample_org, MemoryRegistry};
        let org = sample_org();
        let registry = MemoryRegistry::with_org(org.clone());
        let (org1, first, none) = issue_token(&registry, &org, "ann").await.expect("issued");
        assert_eq!(none, None);
        let stored = registry.org(&org.id).expect("org");
        assert!(stored
            .scim
            .as_ref()
            .expect("on")
            .accepts(&first.token, now_epoch())
            .is_some());
        assert!(!serde_json::to_string(&stored)
            .expect("json")
            .contains(&first.token));
        assert!(!token_status(&stored)
            .to_string()
            .contains(&stored.scim.as_ref().unwrap().current.sha256));
        let (org2, second, until) = issue_token(&registry, &org1, "ann").await.expect("rotated");
        assert!(until.is_some_and(|u| u > now_epoch()));
        let creds = org2.scim.clone().expect("on");
        assert_eq!(
            creds.accepts(&first.token, now_epoch()),
            Some(first.id.as_str())
        );
        assert_eq!(
            creds.accepts(&second.token, now_epoch()),
            Some(second.id.as_str())
        );
        let off = revoke_tokens(&registry, &org2, "ann")
            .await
            .expect("revoked");
        assert!(off.scim.is_none());
        assert_eq!(
            registry.audit_actions(),
            vec![
                "scim.token_created",
                "scim.token_rotated",
                "scim.token_revoked"
            ]
        );
    }
}
