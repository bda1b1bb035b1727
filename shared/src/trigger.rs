//! What every Cognito trigger function shares: its dependencies (built once per execution
//! environment), the organization lookup by `userPoolId` through a short-lived cache, event
//! parsing that never panics, and errors with a stable `errorType`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use crate::aws::cognito::CognitoPools;
use crate::aws::dynamodb::DynamoRegistry;
use crate::cache::OrgCache;
use crate::config::{self, ConfigError, ProcessEnv, Source};
use crate::domain::lazy_migration::{complete_lazy_migration, migration_pending};
use crate::domain::ports::{LegacyPasswords, Registry, UserPools};
use crate::domain::signin::{record_first_login, record_missing, Refusal};
use crate::domain::{EmailAddress, Error, Organization, Person, PersonStatus};

/// Built once per execution environment; shared by every invocation.
pub struct TriggerDeps {
    pub registry: Arc<dyn Registry>,
    /// The legacy password hashes of lazily migrated people (the same table as `registry`).
    pub legacy_passwords: Arc<dyn LegacyPasswords>,
    pub pools: Arc<dyn UserPools>,
    pub cache: OrgCache,
    /// Organizations sign in at `<subdomain>.<base_domain>`.
    pub base_domain: String,
}

impl TriggerDeps {
    /// The AWS-backed dependencies, configured from the environment.
    pub fn new(sdk: &SdkConfig, src: &dyn Source) -> Result<Self, ConfigError> {
        let registry = Arc::new(DynamoRegistry::new(sdk, config::table_name(src)?));
        Ok(Self {
            registry: registry.clone(),
            legacy_passwords: registry,
            pools: Arc::new(CognitoPools::new(sdk)),
            cache: OrgCache::new(config::org_cache_ttl(src)?),
            base_domain: config::base_domain(src)?,
        })
    }

    /// Dependencies for unit tests: a registry holding `org`, recorded Cognito calls, and
    /// the two fakes to inspect afterwards.
    #[cfg(any(test, feature = "testing"))]
    pub fn in_memory(
        org: Organization,
    ) -> (
        Self,
        Arc<crate::testing::MemoryRegistry>,
        Arc<crate::testing::RecordingPools>,
    ) {
        let registry = Arc::new(crate::testing::MemoryRegistry::with_org(org));
        let pools = Arc::new(crate::testing::RecordingPools::default());
        let deps = Self {
            registry: registry.clone(),
            legacy_passwords: registry.clone(),
            pools: pools.clone(),
            cache: OrgCache::new(Duration::from_secs(30)),
            base_domain: "app.example.com".into(),
        };
        (deps, registry, pools)
    }

    /// The organization that owns the event's pool: from the cache, or one registry read.
    /// An unknown pool is refused (and logged: a pool with our triggers but no record).
    pub async fn organization(&self, pool_id: Option<&str>) -> Result<Organization, TriggerError> {
        let pool_id = pool_id.ok_or_else(|| TriggerError::Malformed {
            expected: "Cognito user pool",
            detail: "it has no userPoolId".into(),
        })?;
        if let Some(org) = self.cache.get(pool_id) {
            return Ok(org);
        }
        match self.registry.organization_by_pool(pool_id).await? {
            Some(org) => {
                self.cache.put(pool_id, org.clone());
                Ok(org)
            }
            None => {
                tracing::error!(
                    pool_id,
                    "a user pool with our triggers belongs to no organization"
                );
                Err(TriggerError::Refused(Refusal::UnknownOrganization))
            }
        }
    }
}

impl TriggerDeps {
    /// The person signing in, as the registry has them: the record of the login's username,
    /// and only when it has the login's address (or the new address it is confirming): a
    /// record and a login that share a name but not an address are not the same person, and
    /// the login is refused ([`Refusal::LoginMismatch`]). A federated login
    /// (`EXTERNAL_PROVIDER`) is named `<provider>_<subject>` by Cognito, which nobody else
    /// can sign up under (pre-signup refuses a name the registry holds): its name is proof
    /// enough, and its address may follow the provider's since (attribute mapping). A login that Cognito holds and has
    /// just authenticated but the registry lacks (its post-confirmation failed for good) is
    /// recorded now, while a seat is free, with its audit event and role groups; without a
    /// free seat, or without an address to record, the sign-in is refused as having no
    /// licence.
    pub async fn person_or_repair(
        &self,
        org: &Organization,
        pool_id: &str,
        username: &str,
        attributes: &HashMap<String, String>,
        actor: &str,
    ) -> Result<Person, TriggerError> {
        let email = attributes
            .get("email")
            .and_then(|e| EmailAddress::parse(e).ok());
        let federated =
            attributes.get("cognito:user_status").map(String::as_str) == Some("EXTERNAL_PROVIDER");
        if let Some(person) = self.registry.person(&org.id, username).await? {
            let same = federated
                || email.as_ref().is_some_and(|e| {
                    &person.email == e || person.pending_email.as_ref() == Some(e)
                });
            if !same {
                tracing::warn!(
                    org_id = %org.id,
                    pool_id,
                    "a login whose address is not its record's signed in: refused"
                );
                return Err(Refusal::LoginMismatch.into());
            }
            return Ok(person);
        }
        let email = email.ok_or(Refusal::NoSeat)?;
        let recorded = match record_missing(self.registry.as_ref(), org, username, &email, actor)
            .await
        {
            Ok(recorded) => recorded,
            Err(Error::NoSeatFree { .. }) => return Err(Refusal::NoSeat.into()),
            Err(Error::LoginOfAnotherPerson { .. }) => return Err(Refusal::LoginMismatch.into()),
            Err(e) => return Err(e.into()),
        };
        tracing::warn!(
            pool_id,
            "a login without a registry record signed in: recorded now"
        );
        for role in &recorded.person.roles {
            // Groups mirror roles; the tokens' roles come from the registry, so a failure
            // here is logged, not made the person's problem.
            if let Err(e) = self
                .pools
                .add_to_group(pool_id, username, role.as_str())
                .await
            {
                tracing::error!(pool_id, code = e.code(), error = %e, "role group not added");
            }
        }
        Ok(recorded.person)
    }

    /// Records an invited person's first sign-in with a password of their own (or through
    /// their provider). Cognito has accepted the sign-in already: a failure here must not
    /// refuse it, so it is logged and left for the next sign-in, which records it then.
    pub async fn record_first_login_later_if_failing(
        &self,
        org: &Organization,
        person: Person,
        actor: &str,
    ) -> Person {
        if person.status != PersonStatus::Invited {
            return person;
        }
        match record_first_login(self.registry.as_ref(), org, person.clone(), actor).await {
            Ok(recorded) => recorded.person,
            Err(e) => {
                tracing::error!(
                    org_id = %org.id,
                    code = e.code(),
                    error = %e,
                    "first sign-in not recorded; the next sign-in records it"
                );
                person
            }
        }
    }
}

impl TriggerDeps {
    /// The first sign-in with a login that lazy migration created: role groups, the legacy
    /// hash deleted, the record marked ([`complete_lazy_migration`]). Cognito has accepted the
    /// sign-in: a failure is logged and left for the next sign-in, which finishes it.
    pub async fn finish_lazy_migration(
        &self,
        org: &Organization,
        pool_id: &str,
        person: Person,
        actor: &str,
    ) -> Person {
        if !migration_pending(org, &person) {
            return person;
        }
        match complete_lazy_migration(
            self.registry.as_ref(),
            self.legacy_passwords.as_ref(),
            self.pools.as_ref(),
            org,
            pool_id,
            person.clone(),
            actor,
        )
        .await
        {
            Ok(migrated) => {
                tracing::info!(org_id = %org.id, pool_id, "lazy migration finished at the first sign-in");
                migrated
            }
            Err(e) => {
                tracing::error!(
                    org_id = %org.id,
                    pool_id,
                    code = e.code(),
                    error = %e,
                    "lazy migration not finished; the next sign-in finishes it"
                );
                person
            }
        }
    }
}

/// Why a trigger said no or could not answer.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// A rule refused: the message is for the person (Cognito shows it to them).
    #[error("{0}")]
    Refused(Refusal),
    /// Not the event this function handles. Cognito shows the message to the person: it
    /// says only that sign-in is not available; [`TriggerError::detail`] goes to the log.
    #[error("Sign-in is not available at the moment: contact your administrator")]
    Malformed {
        expected: &'static str,
        detail: String,
    },
    /// The registry or Cognito failed; the person gets a plain "try again", the log the
    /// details.
    #[error("Sign-in is not available at the moment: please try again in a minute")]
    Backend(#[from] Error),
    /// The invocation's deadline passed before its AWS calls finished: answered before
    /// Cognito gives up (5 s) and retries.
    #[error("Sign-in is not available at the moment: please try again in a minute")]
    OutOfTime { budget: Duration },
}

impl TriggerError {
    pub fn code(&self) -> &'static str {
        match self {
            TriggerError::Refused(refusal) => refusal.code(),
            TriggerError::Malformed { .. } => "MalformedEvent",
            TriggerError::Backend(_) | TriggerError::OutOfTime { .. } => "BackendUnavailable",
        }
    }

    /// What the log says: the details the person's message leaves out (no secrets: event
    /// shapes, AWS error codes and endpoints).
    pub fn detail(&self) -> String {
        match self {
            TriggerError::Refused(refusal) => refusal.code().to_owned(),
            TriggerError::Malformed { expected, detail } => {
                format!("the event is not a {expected} event: {detail}")
            }
            TriggerError::Backend(e) => format!("{}: {e}", e.code()),
            TriggerError::OutOfTime { budget } => {
                format!("the invocation's AWS calls did not finish within {budget:?}")
            }
        }
    }
}

/// How long one invocation may take, all its AWS calls together: inside Cognito's 5 s, with
/// room for the answer to travel back.
pub const INVOCATION_BUDGET: Duration = Duration::from_millis(4000);
/// Kept free before the Lambda's own deadline, when that comes sooner.
const DEADLINE_MARGIN: Duration = Duration::from_millis(300);

/// The time this invocation has: [`INVOCATION_BUDGET`], or less when the Lambda's deadline
/// (epoch milliseconds) is nearer.
pub fn invocation_budget(lambda_deadline_ms: u64) -> Duration {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    // A deadline already past is not one Lambda sets (emulators send such values): the
    // budget alone holds then.
    if lambda_deadline_ms <= now_ms {
        return INVOCATION_BUDGET;
    }
    let left = Duration::from_millis(lambda_deadline_ms - now_ms).saturating_sub(DEADLINE_MARGIN);
    INVOCATION_BUDGET.min(left)
}

/// Runs one invocation's work under one deadline that all its calls share: whatever is
/// still waiting when it passes is dropped and the answer is `BackendUnavailable`.
pub async fn within<F>(budget: Duration, work: F) -> Result<Value, TriggerError>
where
    F: Future<Output = Result<Value, TriggerError>>,
{
    tokio::time::timeout(budget, work)
        .await
        .unwrap_or(Err(TriggerError::OutOfTime { budget }))
}

/// PreAuthentication's `request.userNotFound` (absent from the typed event): Cognito calls
/// the trigger for unknown usernames too when the app client prevents user-existence
/// errors, and its own answer for them must not change.
pub fn user_not_found(event: &Value) -> bool {
    event
        .pointer("/request/userNotFound")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

impl From<Refusal> for TriggerError {
    fn from(value: Refusal) -> Self {
        TriggerError::Refused(value)
    }
}

impl From<TriggerError> for Diagnostic {
    fn from(value: TriggerError) -> Self {
        Diagnostic {
            error_type: value.code().to_owned(),
            error_message: value.to_string(),
        }
    }
}

/// Reads the event as `T`; a wrong shape is an error, never a panic.
pub fn parse<T: DeserializeOwned>(event: Value, expected: &'static str) -> Result<T, TriggerError> {
    serde_json::from_value(event).map_err(|e| TriggerError::Malformed {
        expected,
        detail: e.to_string(),
    })
}

/// The event's `userName`, lower-cased as our records keep it (every pool's usernames are
/// case-insensitive).
pub fn username(user_name: Option<&str>, expected: &'static str) -> Result<String, TriggerError> {
    user_name
        .filter(|u| !u.is_empty())
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| TriggerError::Malformed {
            expected,
            detail: "it has no userName".into(),
        })
}

/// The answer Cognito gets: the event it sent, with the response filled in.
pub fn answer<T: Serialize>(event: &T) -> Result<Value, TriggerError> {
    serde_json::to_value(event).map_err(|e| TriggerError::Malformed {
        expected: "serializable response",
        detail: e.to_string(),
    })
}

/// Runs a trigger function: tracing, the AWS config and the dependencies once, then every
/// event through `handler`. Refusals are logged as warnings, failures as errors, with the
/// stable code; never a token or password.
pub async fn serve<F, Fut>(function: &'static str, handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(&'static TriggerDeps, Value) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, TriggerError>> + Send + 'static,
{
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = crate::aws::load_config(crate::aws::Budget::Trigger).await?;
    // Lives as long as the execution environment.
    let deps: &'static TriggerDeps = Box::leak(Box::new(TriggerDeps::new(&sdk, &ProcessEnv)?));
    // Sequential, or one poller per slot where Lambda runs the function with managed
    // concurrency (AWS_LAMBDA_MAX_CONCURRENCY): the dependencies are shared either way.
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Value>| {
        let pool_id = event
            .payload
            .get("userPoolId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let source = event
            .payload
            .get("triggerSource")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let budget = invocation_budget(event.context.deadline);
        let answer = within(budget, handler(deps, event.payload));
        async move {
            let result = answer.await;
            match &result {
                Ok(_) => tracing::info!(function, pool_id, source, "answered"),
                Err(TriggerError::Refused(r)) => {
                    tracing::warn!(function, pool_id, source, code = r.code(), "refused")
                }
                Err(e @ TriggerError::Malformed { .. }) => {
                    tracing::error!(
                        function,
                        pool_id,
                        source,
                        detail = e.detail(),
                        "malformed event"
                    )
                }
                Err(e) => tracing::error!(function, pool_id, source, detail = e.detail(), "failed"),
            }
            result
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_report_stable_types_and_person_readable_messages() {
        let refused: Diagnostic = TriggerError::Refused(Refusal::Deactivated).into();
        assert_eq!(refused.error_type, "Deactivated");
        assert!(refused
            .error_message
            .starts_with("This account is deactivated"));
        let backend: Diagnostic = TriggerError::Backend(Error::Unreachable {
            service: "DynamoDB",
            endpoint: "http://10.0.0.1".into(),
            detail: "timed out".into(),
        })
        .into();
        assert_eq!(backend.error_type, "BackendUnavailable");
        assert!(
            !backend.error_message.contains("10.0.0.1"),
            "no internals for the person"
        );
    }

    #[test]
    fn a_malformed_event_is_an_error_whose_details_stay_in_the_log() {
        let err =
            parse::<std::collections::HashMap<String, u8>>(serde_json::json!([1]), "pre sign-up")
                .expect_err("not a map");
        assert_eq!(err.code(), "MalformedEvent");
        let shown: Diagnostic = TriggerError::Malformed {
            expected: "pre sign-up",
            detail: "invalid type: sequence, expected a map".into(),
        }
        .into();
        assert_eq!(
            shown.error_message,
            "Sign-in is not available at the moment: contact your administrator"
        );
        assert!(err.detail().contains("expected a map"), "{}", err.detail());
    }

    #[tokio::test(start_paused = true)]
    async fn one_deadline_bounds_all_the_calls_of_an_invocation() {
        // Three calls of 1.5 s each, every one within its own timeout, 4.5 s together.
        let slow_calls = async {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
            Ok(Value::Null)
        };
        let started = tokio::time::Instant::now();
        let err = within(INVOCATION_BUDGET, slow_calls)
            .await
            .expect_err("out of time");
        assert_eq!(err.code(), "BackendUnavailable");
        assert_eq!(started.elapsed(), INVOCATION_BUDGET);
        assert!(within(INVOCATION_BUDGET, async { Ok(Value::Null) })
            .await
            .is_ok());
    }

    #[test]
    fn the_budget_shrinks_to_the_lambda_deadline() {
        assert_eq!(invocation_budget(0), INVOCATION_BUDGET);
        assert_eq!(
            invocation_budget(1_000),
            INVOCATION_BUDGET,
            "a deadline in the past"
        );
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64;
        assert_eq!(invocation_budget(now_ms + 60_000), INVOCATION_BUDGET);
        let near = invocation_budget(now_ms + 1_300);
        assert!(near <= Duration::from_millis(1000), "{near:?}");
    }

    #[test]
    fn user_not_found_is_read_from_the_raw_event() {
        assert!(user_not_found(
            &serde_json::json!({"request": {"userNotFound": true}})
        ));
        assert!(!user_not_found(&serde_json::json!({"request": {}})));
    }
}
