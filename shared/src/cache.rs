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
    /// Keys known to name no organization, each for `ttl` (bounded: anyone can make up
    /// subdomains).
    missing: Mutex<HashMap<String, Instant>>,
}

/// Most keys remembered as missing.
const MAX_MISSING: usize = 10_000;

impl OrgCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            missing: Mutex::new(HashMap::new()),
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

    /// Whether `key` was found to name no organization within the last `ttl`.
    pub fn is_missing(&self, key: &str) -> bool {
        let missing = self.missing.lock().unwrap_or_else(|p| p.into_inner());
        missing.get(key).is_some_and(|at| at.elapsed() < self.ttl)
    }

    /// Remembers that `key` names no organization (for `ttl`).
    pub fn put_missing(&self, key: &str) {
        let mut missing = self.missing.lock().unwrap_or_else(|p| p.into_inner());
        if missing.len() >= MAX_MISSING {
            let ttl = self.ttl;
            missing.retain(|_, at| at.elapsed() < ttl);
            if missing.len() >= MAX_MISSING {
                missing.clear();
            }
        }
        missing.insert(key.to_owned(), Instant::now());
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

    #[test]
    fn missing_keys_expire_and_stay_bounded() {
        let cache = OrgCache::new(Duration::from_millis(30));
        assert!(!cache.is_missing("nobody"));
        cache.put_missing("nobody");
        assert!(cache.is_missing("nobody"));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!cache.is_missing("nobody"));
        let cache = OrgCache::new(Duration::from_secs(60));
        for i in 0..(MAX_MISSING + 5) {
            cache.put_missing(&format!("k{i}"));
        }
        assert!(cache.missing.lock().expect("lock").len() <= MAX_MISSING);
        assert!(cache.is_missing(&format!("k{}", MAX_MISSING + 4)));
    }
}
