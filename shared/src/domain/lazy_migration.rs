//! Lazy migration: a migrated organization in `lazy` mode has its people recorded but no
//! Cognito logins; the user-migration trigger creates each person's login at their first
//! sign-in here, with the password they had in the legacy store (checked against the hash the
//! migration kept, [`crate::domain::ports::LegacyPasswords`]), or at their first forgotten-password
//! request. Post-authentication then finishes the move at the first sign-in with that login
//! ([`complete_lazy_migration`]).
//!
//! Every refusal reads the same to the person ([`super::signin::Refusal::IncorrectCredentials`]),
//! and a person-level refusal takes as long as a wrong password: the password is checked
//! against a stand-in hash when the person or their hash is unknown. The stand-in is one of
//! the organization's own legacy hashes (a sample read on every attempt, known username or
//! not, so that the reads are the same too): an organization whose legacy store used Argon2id
//! or PBKDF2 answers a stranger in the time of its own scheme and costs, not bcrypt's. The
//! sample's result is never used, only its time. The organization's hashes were written by
//! one legacy store, so they share their scheme and costs; where a store changed its costs
//! over the years, a stranger can tell at most "some person with those costs exists", never
//! which username.

use super::migration::{LegacyHash, MigrationMode};
use super::signin::{check_person, check_sign_in_method, TokenSource};
use super::{now_epoch, EmailAddress, Error, OrgStatus, Organization, Person};
use crate::domain::ports::{AuditEvent, LegacyPasswords, Registry, UserPools};

/// A bcrypt hash (cost 12, the legacy store's usual cost) of a random secret that nobody
/// knows: checked in place of a missing hash when the organization has no legacy hash left
/// to take as a sample.
const STAND_IN_HASH: &str = "$2b$12$B0Avh67WXRh9k4DmfGIGHeTYicLMM/9MbWLf46TX2TwSVuxDKZjOi";

/// The hash a password is checked against: the person's own, else the organization's
/// sample (its scheme and costs), else the bcrypt stand-in.
fn hash_to_check(own: Option<LegacyHash>, sample: Option<LegacyHash>) -> LegacyHash {
    own.or(sample)
        .unwrap_or_else(|| LegacyHash::new(STAND_IN_HASH))
}

/// How the person proves who they are.
#[derive(Clone, Copy)]
pub enum LegacyProof<'a> {
    /// `UserMigration_Authentication`: the password typed at sign-in, checked against the
    /// legacy hash.
    Password(&'a str),
    /// `UserMigration_ForgotPassword`: no password; Cognito sends a code to the verified
    /// address, and only its owner can set a new password with it.
    ForgotPassword,
}

impl std::fmt::Debug for LegacyProof<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LegacyProof::Password(_) => "Password(redacted)",
            LegacyProof::ForgotPassword => "ForgotPassword",
        })
    }
}

/// What the new login is created with: the person's recorded address (verified: the legacy
/// store and the migration vouched for it, and a forgotten-password code can only go to a
/// verified address) and names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyLogin {
    pub email: EmailAddress,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

/// Why a person was not migrated: for the log and the tests only. The person is told
/// [`super::signin::Refusal::IncorrectCredentials`] whatever it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotMigrated {
    /// The organization is not a migrated one in `lazy` mode.
    NotLazy,
    /// Lazy, but still signing in at the legacy store (before its switch, or rolled back).
    NotSwitched,
    /// Suspended or still being provisioned.
    OrganizationClosed,
    UnknownPerson,
    /// Known, but no legacy password was kept for them (none in the export, or moved already).
    NoLegacyPassword,
    WrongPassword,
    /// Deactivated, without a seat, unlinked, or with an unconfirmed new address.
    PersonMayNotSignIn,
    /// The organization signs in with SSO only, and the person is not a break-glass admin.
    SsoOnly,
}

impl NotMigrated {
    pub fn reason(self) -> &'static str {
        match self {
            NotMigrated::NotLazy => "not_lazy",
            NotMigrated::NotSwitched => "not_switched",
            NotMigrated::OrganizationClosed => "organization_closed",
            NotMigrated::UnknownPerson => "unknown_person",
            NotMigrated::NoLegacyPassword => "no_legacy_password",
            NotMigrated::WrongPassword => "wrong_password",
            NotMigrated::PersonMayNotSignIn => "person_may_not_sign_in",
            NotMigrated::SsoOnly => "sso_only",
        }
    }
}

/// The outcome of a migration attempt that did not give a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationFailure {
    /// A rule said no.
    Refused(NotMigrated),
    /// The registry failed: nothing was decided.
    Backend(Error),
}

impl From<Error> for MigrationFailure {
    fn from(value: Error) -> Self {
        MigrationFailure::Backend(value)
    }
}

/// Whether the organization's people are migrated at their first sign-in now.
pub fn check_lazy_organization(org: &Organization) -> Result<(), NotMigrated> {
    let migration = org.sign_in.migration.as_ref().ok_or(NotMigrated::NotLazy)?;
    if migration.mode != MigrationMode::Lazy {
        return Err(NotMigrated::NotLazy);
    }
    if !migration.switched {
        return Err(NotMigrated::NotSwitched);
    }
    if org.status != OrgStatus::Active {
        return Err(NotMigrated::OrganizationClosed);
    }
    Ok(())
}

/// Whether `password` matches `hash`, off the async runtime: bcrypt at cost 12 or Argon2id
/// keep a core busy for a few hundred milliseconds. When the invocation's deadline passes
/// (the trigger's answer is dropped), a check that has not started yet is not started; one
/// that has is bounded by the costs' caps (`legacy_password::over_cap`, about 1 s).
async fn verify_off_runtime(hash: LegacyHash, password: &str) -> bool {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    struct CancelOnDrop(Arc<AtomicBool>);
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let cancelled = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancelled.clone());
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        !cancelled.load(Ordering::Relaxed) && hash.verify(&password)
    })
    .await
    .unwrap_or(false)
}

/// UserMigration: the login to create for `username` of `org`, or why none.
///
/// The organization must be lazy, switched and active; the person known, in a state that may
/// sign in, and allowed to use a password (SSO-only organizations: break-glass admins only).
/// With a password, it must match the legacy hash; a forgotten-password request needs no
/// hash (a person exported without one sets their first password this way). Nothing is
/// written: the trigger may be called up to three times, and Cognito may still fail after
/// the answer, so the hash stays until the login has surely been used
/// ([`complete_lazy_migration`]).
pub async fn migrate_login(
    registry: &dyn Registry,
    legacy: &dyn LegacyPasswords,
    org: &Organization,
    username: &str,
    proof: LegacyProof<'_>,
) -> Result<LegacyLogin, MigrationFailure> {
    check_lazy_organization(org).map_err(MigrationFailure::Refused)?;
    // The same three reads whoever the username is (a stranger's cost no less).
    let (person, hash, sample) = futures_util::future::join3(
        registry.person(&org.id, username),
        legacy.legacy_hash(&org.id, username),
        legacy.sample_legacy_hash(&org.id),
    )
    .await;
    let (person, sample) = (person?, sample?);
    let hash = match &person {
        Some(_) => hash?,
        None => None,
    };
    if let LegacyProof::Password(password) = proof {
        // Checked before anything about the person is decided, against a stand-in of the
        // organization's own scheme and costs when the person or their hash is unknown:
        // every refusal costs the time of a wrong password.
        let checked = hash_to_check(hash.clone(), sample);
        let matches = verify_off_runtime(checked, password).await;
        let refused = match (&person, &hash) {
            (None, _) => Some(NotMigrated::UnknownPerson),
            (Some(_), None) => Some(NotMigrated::NoLegacyPassword),
            _ if !matches => Some(NotMigrated::WrongPassword),
            _ => None,
        };
        if let Some(why) = refused {
            return Err(MigrationFailure::Refused(why));
        }
    }
    let person = person.ok_or(MigrationFailure::Refused(NotMigrated::UnknownPerson))?;
    check_person(Some(&person))
        .map_err(|_| MigrationFailure::Refused(NotMigrated::PersonMayNotSignIn))?;
    // The token source of a password sign-in through the API (USER_PASSWORD_AUTH), which is
    // how every lazy migration signs in.
    check_sign_in_method(org, TokenSource::ApiSignIn, false, Some(&person))
        .map_err(|_| MigrationFailure::Refused(NotMigrated::SsoOnly))?;
    Ok(LegacyLogin {
        email: person.email.clone(),
        given_name: non_empty(person.given_name.as_deref()),
        family_name: non_empty(person.family_name.as_deref()),
    })
}

/// A lazy person's legacy password at a login that waits for a password reset.
///
/// A forgotten-password request for a username without a login runs the user-migration
/// trigger (`UserMigration_ForgotPassword`), and Cognito then creates the login in
/// `RESET_REQUIRED`, without a password, and mails a code. Anyone may start that for any
/// username; from then on Cognito asks the trigger nothing more, and answers the person's
/// sign-in with PasswordResetRequiredException. So that a stranger's request does not lock
/// the person out, the router checks the typed password against the legacy hash that is
/// still kept (it goes only once the login has been used), and if it matches, it becomes the
/// login's permanent password and the sign-in goes on; the mailed code keeps working too.
/// Returns whether the password was restored; every refusal is `Ok(false)` (one answer to
/// the person, as for any wrong password).
pub async fn restore_legacy_password(
    registry: &dyn Registry,
    legacy: &dyn LegacyPasswords,
    pools: &dyn UserPools,
    org: &Organization,
    username: &str,
    password: &str,
) -> Result<bool, Error> {
    let Some(pool_id) = org.cognito.user_pool_id.as_deref() else {
        return Ok(false);
    };
    if check_lazy_organization(org).is_err() {
        return Ok(false);
    }
    let Some(person) = registry.person(&org.id, username).await? else {
        return Ok(false);
    };
    if check_person(Some(&person)).is_err()
        || check_sign_in_method(org, TokenSource::ApiSignIn, false, Some(&person)).is_err()
    {
        return Ok(false);
    }
    let Some(hash) = legacy.legacy_hash(&org.id, &person.username).await? else {
        return Ok(false);
    };
    if !verify_off_runtime(hash, password).await {
        return Ok(false);
    }
    pools
        .set_password(pool_id, &person.username, password)
        .await?;
    Ok(true)
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Whether a sign-in of `person` should finish a lazy migration: their organization migrates
/// lazily, they hold a login, and their first sign-in with it was not recorded yet.
pub fn migration_pending(org: &Organization, person: &Person) -> bool {
    org.sign_in
        .migration
        .as_ref()
        .is_some_and(|m| m.mode == MigrationMode::Lazy)
        && person.status.holds_seat()
        && person.lazy_migrated_at.is_none()
}

/// PostAuthentication, at the first sign-in with a login that lazy migration created: the
/// login surely exists now and its password works, so the person's roles become its Cognito
/// groups, the legacy hash is deleted, and the record says when (with its audit event).
///
/// Why here and not in the user-migration answer: Cognito may call that trigger up to three
/// times and may still fail after our answer (its own error, a timeout on its side), and a
/// hash deleted then would leave the person with neither a login nor their legacy password.
/// Each step here is safe to repeat (groups are added idempotently, a missing hash counts as
/// deleted, the record is saved against its version), and the mark is written last: a
/// failure half-way is finished by the next sign-in.
///
/// The person's status and seat do not change: a lazy-mode person is recorded `active`, with
/// a seat, by the migration (their login is theirs the moment they first sign in, with no
/// invitation step and no seat to find then).
pub async fn complete_lazy_migration(
    registry: &dyn Registry,
    legacy: &dyn LegacyPasswords,
    pools: &dyn UserPools,
    org: &Organization,
    pool_id: &str,
    person: Person,
    actor: &str,
) -> Result<Person, Error> {
    if !migration_pending(org, &person) {
        return Ok(person);
    }
    for role in &person.roles {
        pools
            .add_to_group(pool_id, &person.username, role.as_str())
            .await?;
    }
    legacy.delete_legacy_hash(&org.id, &person.username).await?;
    let mut migrated = person.clone();
    migrated.lazy_migrated_at = Some(now_epoch());
    let roles: Vec<&str> = person.roles.iter().map(|r| r.as_str()).collect();
    let audit = AuditEvent::now(
        &org.id,
        actor,
        "person.login_migrated",
        &person.username,
        Some(format!(
            "first sign-in with the legacy password; roles {}",
            roles.join(", ")
        )),
    );
    match registry.save_person(&person, &migrated, Some(&audit)).await {
        Ok(saved) => Ok(saved),
        // A concurrent sign-in recorded it first.
        Err(Error::Conflict { .. }) => match registry.person(&org.id, &person.username).await? {
            Some(now) if now.lazy_migrated_at.is_some() => Ok(now),
            _ => Err(Error::Conflict {
                what: "person",
                key: person.username,
            }),
        },
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PersonStatus, Role};
    use crate::testing::legacy_hashes::{BCRYPT, PASSWORD};
    use crate::testing::{
        sample_lazy_org as lazy_org, sample_org, sample_person, MemoryRegistry, RecordingPools,
    };

    async fn registry_with(person: Option<Person>, hash: Option<&str>) -> MemoryRegistry {
        let registry = MemoryRegistry::with_org(lazy_org());
        if let Some(p) = person {
            if let Some(h) = hash {
                registry
                    .put_legacy_hash(&p.org_id, &p.username, &LegacyHash::new(h))
                    .await
                    .expect("stored");
            }
            registry.insert_person(p);
        }
        registry
    }

    fn ann(status: PersonStatus) -> Person {
        let mut p = sample_person("ann", "ann@acme.example", &["member"], status);
        p.given_name = Some("Ann".into());
        p.family_name = Some(" ".into());
        p
    }

    #[test]
    fn the_stand_in_hash_is_bcrypt_cost_12_and_matches_nothing_typed() {
        assert!(STAND_IN_HASH.starts_with("$2b$12$"));
        for guess in ["", PASSWORD, "password", STAND_IN_HASH] {
            assert!(!LegacyHash::new(STAND_IN_HASH).verify(guess));
        }
    }

    #[tokio::test]
    async fn the_right_password_gives_the_recorded_address_and_names() {
        let registry = registry_with(Some(ann(PersonStatus::Active)), Some(BCRYPT)).await;
        let login = migrate_login(
            &registry,
            &registry,
            &lazy_org(),
            "ann",
            LegacyProof::Password(PASSWORD),
        )
        .await
        .expect("migrated");
        assert_eq!(login.email.as_str(), "ann@acme.example");
        assert_eq!(login.given_name.as_deref(), Some("Ann"));
        assert_eq!(login.family_name, None, "a blank name is left out");
        // Nothing is written: Cognito may call again, or fail after the answer.
        assert_eq!(
            registry.calls(),
            [
                "put_legacy_hash",
                "person",
                "legacy_hash",
                "sample_legacy_hash"
            ]
        );
    }

    #[tokio::test]
    async fn a_stranger_is_checked_against_the_organizations_own_scheme() {
        use crate::testing::legacy_hashes::{ARGON2ID, PBKDF2};
        for scheme_hash in [ARGON2ID, PBKDF2, BCRYPT] {
            let registry = registry_with(Some(ann(PersonStatus::Active)), Some(scheme_hash)).await;
            let sample = registry
                .sample_legacy_hash(&lazy_org().id)
                .await
                .expect("read");
            // The stranger's and a hashless person's check: the organization's scheme.
            assert_eq!(hash_to_check(None, sample.clone()).expose(), scheme_hash);
            // A known person's own hash always.
            assert_eq!(
                hash_to_check(Some(LegacyHash::new(BCRYPT)), sample).expose(),
                BCRYPT
            );
            // The same reads for a stranger as for a person.
            let before = registry.calls().len();
            let refused = migrate_login(
                &registry,
                &registry,
                &lazy_org(),
                "stranger",
                LegacyProof::Password(PASSWORD),
            )
            .await;
            assert_eq!(
                refused,
                Err(MigrationFailure::Refused(NotMigrated::UnknownPerson)),
                "the sample's own password opens nothing for a stranger"
            );
            assert_eq!(
                registry.calls()[before..],
                ["person", "legacy_hash", "sample_legacy_hash"]
            );
        }
        // An organization without hashes left: the bcrypt stand-in.
        assert_eq!(hash_to_check(None, None).expose(), STAND_IN_HASH);
    }

    /// The organization, the person and their hash, the password typed, the reason expected.
    type Case = (
        Organization,
        Option<Person>,
        Option<&'static str>,
        &'static str,
        NotMigrated,
    );

    #[tokio::test]
    async fn every_refusal_has_its_logged_reason() {
        let closed = |f: fn(&mut Organization)| {
            let mut org = lazy_org();
            f(&mut org);
            org
        };
        let cases: Vec<Case> = vec![
            (
                sample_org(),
                Some(ann(PersonStatus::Active)),
                Some(BCRYPT),
                PASSWORD,
                NotMigrated::NotLazy,
            ),
            (
                closed(|o| o.sign_in.migration.as_mut().expect("set").mode = MigrationMode::Invite),
                Some(ann(PersonStatus::Active)),
                Some(BCRYPT),
                PASSWORD,
                NotMigrated::NotLazy,
            ),
            (
                closed(|o| o.sign_in.migration.as_mut().expect("set").switched = false),
                Some(ann(PersonStatus::Active)),
                Some(BCRYPT),
                PASSWORD,
                NotMigrated::NotSwitched,
            ),
            (
                closed(|o| o.status = OrgStatus::Suspended),
                Some(ann(PersonStatus::Active)),
                Some(BCRYPT),
                PASSWORD,
                NotMigrated::OrganizationClosed,
            ),
            (lazy_org(), None, None, PASSWORD, NotMigrated::UnknownPerson),
            (
                lazy_org(),
                Some(ann(PersonStatus::Active)),
                None,
                PASSWORD,
                NotMigrated::NoLegacyPassword,
            ),
            (
                lazy_org(),
                Some(ann(PersonStatus::Active)),
                Some(BCRYPT),
                "legacy-passw0rd!",
                NotMigrated::WrongPassword,
            ),
            (
                lazy_org(),
                Some(ann(PersonStatus::Deactivated)),
                Some(BCRYPT),
                PASSWORD,
                NotMigrated::PersonMayNotSignIn,
            ),
            (
                lazy_org(),
                Some(ann(PersonStatus::Added)),
                Some(BCRYPT),
                PASSWORD,
                NotMigrated::PersonMayNotSignIn,
            ),
            (
                lazy_org(),
                Some(ann(PersonStatus::Unlinked)),
                Some(BCRYPT),
                PASSWORD,
                NotMigrated::PersonMayNotSignIn,
            ),
            (
                closed(|o| o.sign_in.sso_only = true),
                Some(ann(PersonStatus::Active)),
                Some(BCRYPT),
                PASSWORD,
                NotMigrated::SsoOnly,
            ),
        ];
        for (org, person, hash, password, expected) in cases {
            let registry = registry_with(person, hash).await;
            registry.insert_org(org.clone());
            let result = migrate_login(
                &registry,
                &registry,
                &org,
                "ann",
                LegacyProof::Password(password),
            )
            .await;
            assert_eq!(
                result,
                Err(MigrationFailure::Refused(expected)),
                "{expected:?}"
            );
        }
    }

    #[tokio::test]
    async fn sso_only_admins_keep_their_password_when_the_break_glass_is_on() {
        let mut org = lazy_org();
        org.sign_in.sso_only = true;
        org.sign_in.admins_keep_password = true;
        let mut admin = ann(PersonStatus::Active);
        admin.roles = vec![Role::admin()];
        let registry = registry_with(Some(admin), Some(BCRYPT)).await;
        registry.insert_org(org.clone());
        migrate_login(
            &registry,
            &registry,
            &org,
            "ann",
            LegacyProof::Password(PASSWORD),
        )
        .await
        .expect("break-glass admin");
        let member = registry_with(Some(ann(PersonStatus::Active)), Some(BCRYPT)).await;
        member.insert_org(org.clone());
        assert_eq!(
            migrate_login(
                &member,
                &member,
                &org,
                "ann",
                LegacyProof::Password(PASSWORD)
            )
            .await,
            Err(MigrationFailure::Refused(NotMigrated::SsoOnly))
        );
    }

    #[tokio::test]
    async fn a_forgotten_password_needs_no_hash_but_the_same_person_rules() {
        let registry = registry_with(Some(ann(PersonStatus::Active)), None).await;
        let login = migrate_login(
            &registry,
            &registry,
            &lazy_org(),
            "ann",
            LegacyProof::ForgotPassword,
        )
        .await
        .expect("the reset proceeds");
        assert_eq!(login.email.as_str(), "ann@acme.example");
        for (person, expected) in [
            (None, NotMigrated::UnknownPerson),
            (
                Some(ann(PersonStatus::Deactivated)),
                NotMigrated::PersonMayNotSignIn,
            ),
        ] {
            let registry = registry_with(person, Some(BCRYPT)).await;
            assert_eq!(
                migrate_login(
                    &registry,
                    &registry,
                    &lazy_org(),
                    "ann",
                    LegacyProof::ForgotPassword
                )
                .await,
                Err(MigrationFailure::Refused(expected))
            );
        }
    }

    #[tokio::test]
    async fn the_first_sign_in_gives_groups_deletes_the_hash_and_marks_the_record_once() {
        let org = lazy_org();
        let mut person = ann(PersonStatus::Active);
        person.roles = vec![Role::admin(), Role::parse("member").expect("role")];
        let registry = registry_with(Some(person.clone()), Some(BCRYPT)).await;
        let pools = RecordingPools::default();
        let done = complete_lazy_migration(
            &registry,
            &registry,
            &pools,
            &org,
            "eu-west-1_AcmePool1",
            person,
            "test",
        )
        .await
        .expect("completed");
        assert!(done.lazy_migrated_at.is_some());
        assert_eq!(
            done.status,
            PersonStatus::Active,
            "status and seat unchanged"
        );
        assert_eq!(
            pools.calls(),
            [
                "add_to_group eu-west-1_AcmePool1 ann admin",
                "add_to_group eu-west-1_AcmePool1 ann member"
            ]
        );
        assert_eq!(
            registry.legacy_hash(&org.id, "ann").await.expect("read"),
            None
        );
        assert_eq!(registry.audit_actions(), ["person.login_migrated"]);
        assert_eq!(
            registry.org(&org.id).expect("org").seats_used,
            0,
            "no seat moved"
        );
        // The next sign-in does nothing more.
        let again = complete_lazy_migration(
            &registry,
            &registry,
            &pools,
            &org,
            "eu-west-1_AcmePool1",
            done,
            "test",
        )
        .await
        .expect("nothing to do");
        assert!(again.lazy_migrated_at.is_some());
        assert_eq!(pools.calls().len(), 2);
        assert_eq!(registry.audit_actions().len(), 1);
    }

    #[tokio::test]
    async fn organizations_not_migrating_lazily_are_left_alone() {
        let registry = registry_with(Some(ann(PersonStatus::Active)), Some(BCRYPT)).await;
        let pools = RecordingPools::default();
        let person = ann(PersonStatus::Active);
        let same = complete_lazy_migration(
            &registry,
            &registry,
            &pools,
            &sample_org(),
            "p",
            person.clone(),
            "test",
        )
        .await
        .expect("nothing");
        assert_eq!(same, person);
        assert!(pools.calls().is_empty());
        assert!(registry.audit_actions().is_empty());
    }
}
