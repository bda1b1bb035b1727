//! The organization cache of a trigger's execution environment: Cognito waits at most 5 s,
//! so the organization is read once and kept for a short while, not read on every sign-in.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::Organization;

/// Organizations by user pool id, each kept for `ttl`. A suspension or a settings change
/// reaches the triggers within `ttl`.
pub struct OrgCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Organization)>>,
}

impl OrgCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The cached organization of `pool_id`, if it is still fresh.
    pub fn get(&self, pool_id: &str) -> Option<Organization> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries
            .get(pool_id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, org)| org.clone())
    }

    pub fn put(&self, pool_id: &str, org: Organization) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.insert(pool_id.to_owned(), (Instant::now(), org));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::organization::tests::sample;

    #[test]
    fn entries_expire() {
        let cache = OrgCache::new(Duration::from_millis(30));
        assert!(cache.get("pool").is_none());
        cache.put("pool", sample("acme"));
        assert_eq!(
            cache.get("pool").map(|o| o.subdomain.to_string()),
            Some("acme".into())
        );
        assert!(cache.get("other").is_none());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get("pool").is_none());
    }
}
