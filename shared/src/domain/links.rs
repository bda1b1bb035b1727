//! Single-use links mailed to a person (an activation link, an e-mail address to confirm):
//! `<person id>.<64 hex characters>`, of which only the SHA-256 is stored on the person,
//! with its expiry. The organization is the one whose subdomain the link is opened on.

use super::{now_epoch, Error, LinkToken, Organization, Person, PersonId};
use crate::domain::ports::Registry;

/// What a link is, looked at on an organization's subdomain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Valid: the person it belongs to.
    Valid(Box<Person>),
    /// Used already, or replaced by a newer link.
    Used,
    Expired,
    /// Not a link of this organization at all.
    Unknown,
}

/// A new link for `person`, valid `hours`: the token to mail and what is stored of it.
pub fn new_link(person: &Person, hours: i64) -> (String, LinkToken) {
    let secret: String = rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let stored = LinkToken {
        sha256: LinkToken::digest(&secret),
        expires_at: now_epoch() + hours * 3600,
    };
    (format!("{}.{secret}", person.id), stored)
}

/// The state of `token` against the link `which` picks from its person.
pub async fn lookup(
    registry: &dyn Registry,
    org: &Organization,
    token: &str,
    which: fn(&Person) -> Option<&LinkToken>,
) -> Result<LinkState, Error> {
    let Some((id, secret)) = token.split_once('.') else {
        return Ok(LinkState::Unknown);
    };
    let Ok(id) = PersonId::parse(id) else {
        return Ok(LinkState::Unknown);
    };
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(LinkState::Unknown);
    }
    let Some(person) = registry.person_by_id(&org.id, &id).await? else {
        return Ok(LinkState::Unknown);
    };
    Ok(match which(&person) {
        Some(link) if link.accepts(secret, now_epoch()) => LinkState::Valid(Box::new(person)),
        Some(link) if link.sha256 == LinkToken::digest(secret) => LinkState::Expired,
        _ => LinkState::Used,
    })
}
