//! Request rates within Cognito's quotas: one token bucket per quota category, shared by every
//! task of a process, and a decorator that paces the Cognito ports through them.
//!
//! Cognito's request-rate quotas are per account and Region, shared by all pools (developer
//! guide, "Quotas"): pool operations 15 RPS, UserCreation 50, UserUpdate 25,
//! UserResourceUpdate (group membership) 25, UserList 30. A call above its category's rate is
//! answered `TooManyRequestsException`. The buckets keep a migration a little below each quota
//! (room for live sign-ups and admins); a throttling answer all the same (another process
//! sharing the quota) is waited out with a growing pause and tried again, never reported as a
//! failure.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::domain::ports::{
    ClientSpec, IdentityProviderSpec, LoginOutcome, MigratedLogin, MigrationLogins, NewLogin,
    PoolSpec, UserPools,
};
use crate::domain::{EmailAddress, Error, MfaMode, SignInSettings};

/// Cognito's quota categories that a migration uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Pool, app client, domain and group creation and updates (15 RPS each category).
    PoolOperations,
    /// AdminCreateUser (50 RPS).
    UserCreation,
    /// AdminDisableUser, AdminEnableUser, AdminSetUserPassword, sign-outs (25 RPS).
    UserUpdate,
    /// AdminAddUserToGroup, AdminRemoveUserFromGroup (25 RPS).
    UserResourceUpdate,
    /// ListUsers, AdminGetUser (30 RPS).
    UserList,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::PoolOperations,
        Category::UserCreation,
        Category::UserUpdate,
        Category::UserResourceUpdate,
        Category::UserList,
    ];

    /// Cognito's default quota (requests per second).
    pub fn quota(self) -> f64 {
        match self {
            Category::PoolOperations => 15.0,
            Category::UserCreation => 50.0,
            Category::UserUpdate | Category::UserResourceUpdate => 25.0,
            Category::UserList => 30.0,
        }
    }

    /// Our default: a little below the quota (93 to 96 %), leaving a request or two per
    /// second to live sign-ups and admins (whose SDK retries a throttled call in any case).
    pub fn default_rate(self) -> f64 {
        match self {
            Category::PoolOperations => 14.0,
            Category::UserCreation => 48.0,
            Category::UserUpdate | Category::UserResourceUpdate => 24.0,
            Category::UserList => 28.0,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A token bucket: `rate` requests per second on average, at most `burst` at once. Waiters
/// reserve their token in turn (the count may go below zero), so that many tasks sharing a
/// bucket are spaced evenly instead of waking together.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64) -> Self {
        let rate = rate.max(0.01);
        let burst = burst.max(1.0);
        Self {
            rate,
            burst,
            // Starts with one token: a fresh process does not send a burst at once.
            state: Mutex::new((1.0, Instant::now())),
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Waits until this caller may send one request.
    pub async fn acquire(&self) {
        let wait = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let (tokens, last) = *state;
            let refilled =
                (tokens + now.duration_since(last).as_secs_f64() * self.rate).min(self.burst);
            let left = refilled - 1.0;
            *state = (left, now);
            if left >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-left / self.rate)
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The rates a process keeps to, one bucket per category.
#[derive(Debug)]
pub struct RateLimits {
    buckets: Vec<TokenBucket>,
    throttled: std::sync::atomic::AtomicU64,
}

/// The rate of each category, requests per second.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Rates {
    pub pool_operations: f64,
    pub user_creation: f64,
    pub user_update: f64,
    pub user_resource_update: f64,
    pub user_list: f64,
}

impl Default for Rates {
    fn default() -> Self {
        Self {
            pool_operations: Category::PoolOperations.default_rate(),
            user_creation: Category::UserCreation.default_rate(),
            user_update: Category::UserUpdate.default_rate(),
            user_resource_update: Category::UserResourceUpdate.default_rate(),
            user_list: Category::UserList.default_rate(),
        }
    }
}

impl Rates {
    pub fn get(&self, category: Category) -> f64 {
        match category {
            Category::PoolOperations => self.pool_operations,
            Category::UserCreation => self.user_creation,
            Category::UserUpdate => self.user_update,
            Category::UserResourceUpdate => self.user_resource_update,
            Category::UserList => self.user_list,
        }
    }

    /// This process's share when `workers` processes run at once against the same quotas
    /// (the migration map's MaxConcurrency).
    pub fn share(&self, workers: u32) -> Rates {
        let w = f64::from(workers.max(1));
        Rates {
            pool_operations: self.pool_operations / w,
            user_creation: self.user_creation / w,
            user_update: self.user_update / w,
            user_resource_update: self.user_resource_update / w,
            user_list: self.user_list / w,
        }
    }
}

impl RateLimits {
    pub fn new(rates: Rates) -> Self {
        Self {
            // No burst: requests go out evenly spaced at the rate, even after a pause, so that
            // no second holds more than the rate, wherever Cognito's seconds begin. (A burst of
            // ten, tried first, sent 34 in the second after a pause: throttled.)
            buckets: Category::ALL
                .iter()
                .map(|c| TokenBucket::new(rates.get(*c), 1.0))
                .collect(),
            throttled: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub fn bucket(&self, category: Category) -> &TokenBucket {
        &self.buckets[category.index()]
    }

    /// How many throttling answers were waited out so far.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `call` when its category allows, again after a pause while Cognito throttles
    /// (without end: throttling is never a failure; the caller's deadline bounds the whole),
    /// and a few times when the endpoint could not be reached.
    pub async fn paced<T, F, Fut>(&self, category: Category, call: F) -> Result<T, Error>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let mut pause = FIRST_PAUSE;
        let mut unreachable = 0;
        loop {
            self.bucket(category).acquire().await;
            match call().await {
                Err(e) if e.is_throttling() => {
                    self.throttled
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::debug!(?category, "Cognito throttled; waiting before the next try");
                }
                Err(Error::Unreachable { .. }) if unreachable < UNREACHABLE_TRIES => {
                    unreachable += 1;
                }
                other => return other,
            }
            tokio::time::sleep(pause.mul_f64(1.0 + rand::random::<f64>() / 2.0)).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }
}

const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(10);
const UNREACHABLE_TRIES: u32 = 3;

impl Error {
    /// Whether AWS answered that requests come too fast (Cognito's TooManyRequestsException,
    /// the SDK's generic throttling codes), as opposed to a quota of resources.
    pub fn is_throttling(&self) -> bool {
        match self {
            Error::Aws { detail, .. } => {
                detail.starts_with("TooManyRequestsException")
                    || detail.starts_with("ThrottlingException")
                    || detail.starts_with("Throttling")
            }
            _ => false,
        }
    }
}

/// The Cognito ports, paced: every call waits for its category's bucket and throttling is
/// retried. Build the inner adapter on an SDK configuration without retries (the SDK's own
/// retry would hide throttling from the buckets and give up after three attempts).
pub struct Paced<'a, P: ?Sized> {
    pub inner: &'a P,
    pub limits: &'a RateLimits,
}

use Category::{PoolOperations as Pool, UserCreation as Create, UserList as List};
use Category::{UserResourceUpdate as Groups, UserUpdate as Update};

#[async_trait]
impl<P: UserPools + ?Sized> UserPools for Paced<'_, P> {
    async fn find_pool_by_name(&self, name: &str) -> Result<Option<String>, Error> {
        self.limits
            .paced(Pool, || self.inner.find_pool_by_name(name))
            .await
    }
    async fn pool_org_tag(&self, pool_id: &str) -> Result<Option<String>, Error> {
        self.limits
            .paced(Pool, || self.inner.pool_org_tag(pool_id))
            .await
    }
    async fn create_pool(&self, spec: &PoolSpec) -> Result<String, Error> {
        self.limits
            .paced(Pool, || self.inner.create_pool(spec))
            .await
    }
    async fn ensure_mfa(&self, pool_id: &str, mfa: MfaMode) -> Result<(), Error> {
        self.limits
            .paced(Pool, || self.inner.ensure_mfa(pool_id, mfa))
            .await
    }
    async fn ensure_groups(&self, pool_id: &str, groups: &[&str]) -> Result<(), Error> {
        self.limits
            .paced(Pool, || self.inner.ensure_groups(pool_id, groups))
            .await
    }
    async fn ensure_app_client(&self, pool_id: &str, spec: &ClientSpec) -> Result<String, Error> {
        self.limits
            .paced(Pool, || self.inner.ensure_app_client(pool_id, spec))
            .await
    }
    async fn ensure_domain(&self, pool_id: &str, prefix: &str) -> Result<String, Error> {
        self.limits
            .paced(Pool, || self.inner.ensure_domain(pool_id, prefix))
            .await
    }
    async fn create_login(&self, pool_id: &str, login: &NewLogin<'_>) -> Result<(), Error> {
        self.limits
            .paced(Create, || self.inner.create_login(pool_id, login))
            .await
    }
    async fn add_to_group(&self, pool_id: &str, username: &str, group: &str) -> Result<(), Error> {
        self.limits
            .paced(Groups, || self.inner.add_to_group(pool_id, username, group))
            .await
    }
    async fn link_provider(
        &self,
        pool_id: &str,
        username: &str,
        provider: &str,
        subject: &str,
    ) -> Result<(), Error> {
        self.limits
            .paced(Update, || {
                self.inner
                    .link_provider(pool_id, username, provider, subject)
            })
            .await
    }
    async fn remove_from_group(
        &self,
        pool_id: &str,
        username: &str,
        group: &str,
    ) -> Result<(), Error> {
        self.limits
            .paced(Groups, || {
                self.inner.remove_from_group(pool_id, username, group)
            })
            .await
    }
    async fn disable_login(&self, pool_id: &str, username: &str) -> Result<(), Error> {
        self.limits
            .paced(Update, || self.inner.disable_login(pool_id, username))
            .await
    }
    async fn sign_out_everywhere(&self, pool_id: &str, username: &str) -> Result<(), Error> {
        self.limits
            .paced(Update, || self.inner.sign_out_everywhere(pool_id, username))
            .await
    }
    async fn delete_login(&self, pool_id: &str, username: &str) -> Result<(), Error> {
        self.limits
            .paced(Update, || self.inner.delete_login(pool_id, username))
            .await
    }
    async fn set_temporary_password(
        &self,
        pool_id: &str,
        username: &str,
        temporary_password: &str,
    ) -> Result<(), Error> {
        self.limits
            .paced(Update, || {
                self.inner
                    .set_temporary_password(pool_id, username, temporary_password)
            })
            .await
    }
    async fn set_password(
        &self,
        pool_id: &str,
        username: &str,
        password: &str,
    ) -> Result<(), Error> {
        self.limits
            .paced(Update, || {
                self.inner.set_password(pool_id, username, password)
            })
            .await
    }
    async fn ensure_identity_provider(
        &self,
        pool_id: &str,
        spec: &IdentityProviderSpec,
    ) -> Result<(), Error> {
        self.limits
            .paced(Pool, || self.inner.ensure_identity_provider(pool_id, spec))
            .await
    }
    async fn delete_identity_provider(&self, pool_id: &str, name: &str) -> Result<(), Error> {
        self.limits
            .paced(Pool, || self.inner.delete_identity_provider(pool_id, name))
            .await
    }
    async fn set_client_urls(
        &self,
        pool_id: &str,
        client_id: &str,
        callback_urls: &[String],
        logout_urls: &[String],
    ) -> Result<(), Error> {
        self.limits
            .paced(Pool, || {
                self.inner
                    .set_client_urls(pool_id, client_id, callback_urls, logout_urls)
            })
            .await
    }
    async fn set_email(
        &self,
        pool_id: &str,
        username: &str,
        email: &EmailAddress,
    ) -> Result<(), Error> {
        self.limits
            .paced(Update, || self.inner.set_email(pool_id, username, email))
            .await
    }
    async fn set_preferred_username(
        &self,
        pool_id: &str,
        username: &str,
        name: &str,
    ) -> Result<(), Error> {
        self.limits
            .paced(Update, || {
                self.inner.set_preferred_username(pool_id, username, name)
            })
            .await
    }
    async fn delete_group(&self, pool_id: &str, group: &str) -> Result<(), Error> {
        self.limits
            .paced(Pool, || self.inner.delete_group(pool_id, group))
            .await
    }
    async fn apply_sign_in(
        &self,
        pool_id: &str,
        client_id: Option<&str>,
        settings: &SignInSettings,
    ) -> Result<Vec<String>, Error> {
        self.limits
            .paced(Pool, || {
                self.inner.apply_sign_in(pool_id, client_id, settings)
            })
            .await
    }
}

#[async_trait]
impl<P: MigrationLogins + ?Sized> MigrationLogins for Paced<'_, P> {
    async fn create_migrated_login(
        &self,
        pool_id: &str,
        login: &MigratedLogin<'_>,
    ) -> Result<LoginOutcome, Error> {
        // The creation and, after UsernameExists, the look at the existing login: the
        // creation's category is the scarce one.
        self.limits
            .paced(Create, || self.inner.create_migrated_login(pool_id, login))
            .await
    }
    async fn enable_login(&self, pool_id: &str, username: &str) -> Result<(), Error> {
        self.limits
            .paced(Update, || self.inner.enable_login(pool_id, username))
            .await
    }
    async fn login_exists(&self, pool_id: &str, username: &str) -> Result<bool, Error> {
        self.limits
            .paced(List, || self.inner.login_exists(pool_id, username))
            .await
    }
    async fn pool_logins(
        &self,
        pool_id: &str,
        cursor: Option<&str>,
    ) -> Result<crate::domain::ports::Page<crate::domain::ports::PoolLogin>, Error> {
        self.limits
            .paced(List, || self.inner.pool_logins(pool_id, cursor))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_bucket_spaces_requests_at_its_rate() {
        let bucket = TokenBucket::new(10.0, 1.0);
        let start = Instant::now();
        for _ in 0..21 {
            bucket.acquire().await;
        }
        // The first is free, the next 20 take 2 s at 10/s.
        let took = start.elapsed().as_secs_f64();
        assert!((1.9..2.2).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_waited_out_and_never_a_failure() {
        let limits = RateLimits::new(Rates::default());
        let tries = std::sync::atomic::AtomicU32::new(0);
        let result = limits
            .paced(Category::UserCreation, || async {
                if tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 6 {
                    Err(Error::Aws {
                        service: "Cognito",
                        operation: "AdminCreateUser",
                        detail: "TooManyRequestsException: Too many requests".into(),
                    })
                } else {
                    Ok(7)
                }
            })
            .await;
        assert_eq!(result, Ok(7));
        assert_eq!(limits.throttled(), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_are_returned_at_once() {
        let limits = RateLimits::new(Rates::default());
        let tries = std::sync::atomic::AtomicU32::new(0);
        let result: Result<(), Error> = limits
            .paced(Category::UserCreation, || async {
                tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Err(Error::Aws {
                    service: "Cognito",
                    operation: "AdminCreateUser",
                    detail: "InvalidParameterException: bad e-mail".into(),
                })
            })
            .await;
        assert!(result.is_err());
        assert_eq!(tries.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn a_worker_takes_its_share() {
        let share = Rates::default().share(5);
        assert!((share.user_creation - 9.6).abs() < 1e-9);
        assert!((share.user_resource_update - 4.8).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_pause_a_second_holds_no_more_than_the_rate() {
        let limits = RateLimits::new(Rates::default());
        let bucket = limits.bucket(Category::UserResourceUpdate);
        bucket.acquire().await;
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        let start = Instant::now();
        let mut in_first_second = 0;
        for _ in 0..60 {
            bucket.acquire().await;
            if start.elapsed() < std::time::Duration::from_secs(1) {
                in_first_second += 1;
            }
        }
        // 24/s evenly spaced: 24 in the second after the pause, never Cognito's 25.
        assert_eq!(in_first_second, 24);
    }
}
