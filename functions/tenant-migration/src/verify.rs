//! `tenantctl migrate verify --job J`: the job reconciled with the source, the registry and
//! Cognito, the check an operator runs before switching DNS. Per organization of the job it
//! counts the people of the source, the people of the registry and the logins of its pool,
//! and names every difference: a person of the source neither migrated nor refused for a
//! reason of their own, a record skipped only because its organization "was not migrated"
//! although the organization is the job's, a registry person not in the source, a login
//! without its person (or a person without their login), an organization switched while its
//! checkpoint says otherwise, and checkpoint counts that disagree with what is there.
//!
//! The source is read again (a file, or the legacy pool); when it can no longer be read, the
//! people the job staged from it stand in for it, and the answer says so.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::json;
use shared::aws::cognito::CognitoPools;
use shared::aws::dynamodb::DynamoRegistry;
use shared::domain::migration::{MigrationMode, SourceRecord};
use shared::domain::migration_job::{MigrationJob, OrgCheckpoint, OrgPhase, SkippedRecord};
use shared::domain::person::parse_username;
use shared::domain::ports::{MigrationLogins, MigrationStore, PoolLogin, Registry};
use shared::domain::{Error, Organization, Person, PersonStatus};
use shared::rate::{Paced, RateLimits};

use crate::job::{all_failures, all_skipped};
use crate::output::{print_json, CliError, Context, Exit};
use crate::source::{SourceReader, SourceSpec};

/// A person record of the source, as verify needs it.
#[derive(Debug, Clone)]
pub struct SourcePerson {
    /// Its order in the source (the skipped records' key); `None` when counted from the
    /// staged people.
    pub ordinal: Option<u64>,
    /// Checked and lower-cased; `None` when invalid (then it must be reported as skipped).
    pub username: Option<String>,
    pub active: bool,
}

/// One difference, with a stable `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub detail: String,
}

fn diff(kind: &'static str, username: Option<&str>, detail: impl Into<String>) -> Difference {
    Difference {
        kind,
        username: username.map(str::to_owned),
        detail: detail.into(),
    }
}

/// One organization's counts and differences.
#[derive(Debug, Clone, Serialize)]
pub struct OrgVerification {
    pub legacy_id: String,
    pub subdomain: String,
    pub phase: OrgPhase,
    /// Person records of the source naming it.
    pub source_people: u64,
    /// Of those, refused for a reason of their own (skipped records, failed people).
    pub refused: u64,
    /// The rest: each must be in the registry.
    pub expected_people: u64,
    pub registry_people: u64,
    /// Invite mode: registry people who hold a login (invited or active); lazy mode: none
    /// expected before a person's first sign-in.
    pub expected_logins: Option<u64>,
    pub cognito_users: u64,
    pub differences: Vec<Difference>,
}

/// What verify compares for one organization of the job.
pub struct OrgFacts<'a> {
    pub checkpoint: &'a OrgCheckpoint,
    pub mode: MigrationMode,
    pub source: &'a [SourcePerson],
    pub skipped: &'a HashMap<u64, &'a SkippedRecord>,
    /// Usernames of the people that failed.
    pub failed: &'a HashSet<String>,
    /// The organization in the registry, when the job made one.
    pub organization: Option<&'a Organization>,
    pub people: &'a [Person],
    pub logins: &'a [PoolLogin],
}

fn only_organization_not_migrated(r: &SkippedRecord) -> bool {
    r.problems
        .iter()
        .all(|p| p.rule == "organization_not_migrated")
}

/// The comparison of one organization (no I/O).
pub fn compare(f: &OrgFacts<'_>) -> OrgVerification {
    let cp = f.checkpoint;
    let mut out = OrgVerification {
        legacy_id: cp.legacy_id.clone(),
        subdomain: cp.organization.subdomain.clone(),
        phase: cp.phase,
        source_people: f.source.len() as u64,
        refused: 0,
        expected_people: 0,
        registry_people: f.people.len() as u64,
        expected_logins: None,
        cognito_users: f.logins.len() as u64,
        differences: Vec::new(),
    };
    let d = &mut out.differences;
    let taken_on = !matches!(cp.phase, OrgPhase::Skipped | OrgPhase::NotSelected);
    let switched = f
        .organization
        .and_then(|o| o.sign_in.migration.as_ref())
        .is_some_and(|m| m.switched);
    if !taken_on {
        // Not migrated: every person of it is in the report, and nothing of it signs in.
        for p in f.source {
            match p.ordinal.and_then(|o| f.skipped.get(&o)) {
                Some(_) => out.refused += 1,
                None if p.ordinal.is_some() => d.push(diff(
                    "not_reported",
                    p.username.as_deref(),
                    format!(
                        "the organization is {} but this person of it is not in the report",
                        cp.phase
                    ),
                )),
                None => out.refused += 1,
            }
        }
        if switched {
            d.push(diff(
                "switched_but_not_migrated",
                None,
                format!(
                    "the organization is switched although the job's checkpoint says {}",
                    cp.phase
                ),
            ));
        }
        return out;
    }
    match cp.phase {
        OrgPhase::Switched | OrgPhase::RolledBack => {}
        phase => d.push(diff(
            "not_switched",
            None,
            format!(
                "the organization is {phase}, not switched{}",
                cp.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
        )),
    }
    match (cp.phase, f.organization) {
        (OrgPhase::Switched, None) => d.push(diff(
            "organization_missing",
            None,
            "the checkpoint says switched but the registry has no such organization",
        )),
        (OrgPhase::Switched, Some(_)) if !switched => d.push(diff(
            "registry_not_switched",
            None,
            "the checkpoint says switched but the registry's organization is not",
        )),
        (OrgPhase::Switched, _) => {}
        (phase, _) if switched => d.push(diff(
            "switched_early",
            None,
            format!("the registry's organization is switched although the checkpoint says {phase}"),
        )),
        _ => {}
    }
    let people: HashMap<&str, &Person> =
        f.people.iter().map(|p| (p.username.as_str(), p)).collect();
    let logins: HashMap<&str, &PoolLogin> =
        f.logins.iter().map(|l| (l.username.as_str(), l)).collect();
    let rolled_back = cp.phase == OrgPhase::RolledBack;
    let mut in_source: HashSet<&str> = HashSet::new();
    for p in f.source {
        if let Some(r) = p.ordinal.and_then(|o| f.skipped.get(&o)) {
            if only_organization_not_migrated(r) {
                d.push(diff(
                    "wrongly_skipped",
                    p.username.as_deref(),
                    format!("{}: skipped as organization_not_migrated although the organization is the job's", r.position),
                ));
            } else {
                out.refused += 1;
            }
            continue;
        }
        let Some(username) = p.username.as_deref() else {
            d.push(diff(
                "not_reported",
                None,
                format!(
                    "record {} has an invalid username but is not in the report",
                    p.ordinal.unwrap_or_default()
                ),
            ));
            continue;
        };
        if !in_source.insert(username) {
            // A duplicate the report lacks (a duplicate is always skipped).
            d.push(diff(
                "not_reported",
                Some(username),
                "a second record of this username is not in the report",
            ));
            continue;
        }
        if f.failed.contains(username) && !people.contains_key(username) {
            out.refused += 1;
            continue;
        }
        out.expected_people += 1;
        let Some(person) = people.get(username) else {
            d.push(diff(
                "missing_in_registry",
                Some(username),
                "in the source, neither migrated nor refused",
            ));
            continue;
        };
        if !rolled_back {
            let expected = match (f.mode, p.active) {
                (_, false) => &[PersonStatus::Added][..],
                (MigrationMode::Lazy, true) => &[PersonStatus::Active][..],
                // Invited (with --send-invitations too, once activated), or signed in since.
                (MigrationMode::Invite, true) => &[PersonStatus::Invited, PersonStatus::Active][..],
            };
            if !expected.contains(&person.status) {
                d.push(diff(
                    "wrong_status",
                    Some(username),
                    format!(
                        "{} in the registry, {} in the source",
                        person.status,
                        if p.active { "active" } else { "inactive" }
                    ),
                ));
            }
        }
    }
    for person in f.people {
        if !in_source.contains(person.username.as_str()) {
            d.push(diff(
                "not_in_source",
                Some(&person.username),
                "in the registry, not a person of the source",
            ));
        }
        let login = logins.get(person.username.as_str());
        let owed = f.mode == MigrationMode::Invite && person.status.holds_seat();
        match login {
            Some(l) if l.email != person.email.as_str() => d.push(diff(
                "login_email_differs",
                Some(&person.username),
                format!(
                    "the login's address differs from the registry's ({})",
                    if l.email.is_empty() {
                        "none"
                    } else {
                        "another"
                    }
                ),
            )),
            Some(_) if !owed && !rolled_back && person.status == PersonStatus::Added => {
                d.push(diff(
                    "unexpected_login",
                    Some(&person.username),
                    "a login for a person recorded without one (added)",
                ))
            }
            None if owed => d.push(diff(
                "missing_login",
                Some(&person.username),
                format!("{} in the registry but no login in the pool", person.status),
            )),
            _ => {}
        }
    }
    for l in f.logins {
        if !people.contains_key(l.username.as_str()) {
            d.push(diff(
                "login_without_person",
                Some(&l.username),
                "a login of the pool without a person in the registry",
            ));
        }
    }
    if f.mode == MigrationMode::Invite {
        out.expected_logins = Some(
            f.people
                .iter()
                .filter(|p| {
                    p.status.holds_seat() || (rolled_back && p.status == PersonStatus::Deactivated)
                })
                .count() as u64,
        );
    }
    if cp.phase == OrgPhase::Switched {
        let failed = f.failed.len() as u64;
        if cp.people_done != out.registry_people || cp.people_failed != failed {
            d.push(diff(
                "checkpoint_counts_differ",
                None,
                format!(
                    "the checkpoint counts {} people done and {} failed; the registry holds {} and the report lists {} failed",
                    cp.people_done, cp.people_failed, out.registry_people, failed
                ),
            ));
        }
        if cp.people_total != out.source_people - count_skipped(f) {
            d.push(diff(
                "checkpoint_counts_differ",
                None,
                format!(
                    "the checkpoint counts {} people to migrate; the source has {} not skipped",
                    cp.people_total,
                    out.source_people - count_skipped(f)
                ),
            ));
        }
        if f.mode == MigrationMode::Invite && cp.logins_created != out.cognito_users {
            d.push(diff(
                "checkpoint_counts_differ",
                None,
                format!(
                    "the checkpoint counts {} logins created; the pool holds {}",
                    cp.logins_created, out.cognito_users
                ),
            ));
        }
        if let Some(org) = f.organization {
            let holding = f.people.iter().filter(|p| p.status.holds_seat()).count() as u32;
            if org.seats_used != holding {
                d.push(diff(
                    "seat_count_differs",
                    None,
                    format!(
                        "the organization counts {} seats used; {holding} of its people hold one",
                        org.seats_used
                    ),
                ));
            }
        }
    }
    out
}

fn count_skipped(f: &OrgFacts<'_>) -> u64 {
    f.source
        .iter()
        .filter(|p| p.ordinal.is_some_and(|o| f.skipped.contains_key(&o)))
        .count() as u64
}

/// The source's people per legacy organization, and the records naming an organization
/// the source does not define; `Err` with why when the source cannot be read.
async fn read_source(
    job: &MigrationJob,
    pools: &CognitoPools,
    limits: &RateLimits,
) -> Result<BTreeMap<String, Vec<SourcePerson>>, Error> {
    let spec = SourceSpec::parse(&job.source, job.org_attribute.as_deref())?;
    let mut reader = SourceReader::open(&spec, pools, limits)?;
    let mut people: BTreeMap<String, Vec<SourcePerson>> = BTreeMap::new();
    let mut ordinal = 0u64;
    while let Some((_, record)) = reader.next().await? {
        ordinal += 1;
        if let Ok(SourceRecord::Person(p)) = record {
            people
                .entry(p.organization.clone())
                .or_default()
                .push(SourcePerson {
                    ordinal: Some(ordinal),
                    username: parse_username(&p.username).ok(),
                    active: p.active,
                });
        }
    }
    Ok(people)
}

/// The staged people of an organization, standing in for an unreadable source.
async fn staged_people(
    store: &DynamoRegistry,
    job: &str,
    legacy_id: &str,
) -> Result<Vec<SourcePerson>, Error> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .staged_people(job, legacy_id, after.as_deref(), 500)
            .await?;
        let Some(last) = page.last().map(|p| p.username.clone()) else {
            return Ok(out);
        };
        out.extend(page.into_iter().map(|p| SourcePerson {
            ordinal: None,
            username: Some(p.username),
            active: p.active,
        }));
        after = Some(last);
    }
}

async fn registry_people(store: &DynamoRegistry, org: &Organization) -> Result<Vec<Person>, Error> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .people(&org.id, &|_: &Person| true, cursor.as_deref(), 1000)
            .await?;
        out.extend(page.items);
        match page.next {
            Some(n) => cursor = Some(n),
            None => return Ok(out),
        }
    }
}

async fn pool_logins(
    pools: &Paced<'_, CognitoPools>,
    pool_id: &str,
) -> Result<Vec<PoolLogin>, Error> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = pools.pool_logins(pool_id, cursor.as_deref()).await?;
        out.extend(page.items);
        match page.next {
            Some(n) => cursor = Some(n),
            None => return Ok(out),
        }
    }
}

/// The job's organization in the registry: the one its checkpoint names, or (killed before
/// the checkpoint learnt it) the one of its subdomain that carries the job's mark.
async fn organization_of(
    store: &DynamoRegistry,
    cp: &OrgCheckpoint,
) -> Result<Option<Organization>, Error> {
    if let Some(id) = &cp.org_id {
        return store.organization(id).await;
    }
    let Ok(sub) = shared::domain::Subdomain::parse(&cp.organization.subdomain) else {
        return Ok(None);
    };
    Ok(store.organization_by_subdomain(&sub).await?.filter(|o| {
        o.sign_in
            .migration
            .as_ref()
            .is_some_and(|m| m.job == cp.job && m.legacy_id == cp.legacy_id)
    }))
}

pub async fn verify(
    ctx: &Context<'_>,
    store: &DynamoRegistry,
    pools: &CognitoPools,
    limits: &RateLimits,
    job: &MigrationJob,
) -> Result<Exit, CliError> {
    let checkpoints = store.checkpoints(&job.id).await?;
    let skipped_records = all_skipped(store, &job.id).await?;
    let skipped: HashMap<u64, &SkippedRecord> =
        skipped_records.iter().map(|r| (r.ordinal, r)).collect();
    let failures = all_failures(store, &job.id).await?;
    let (source, source_note) = match read_source(job, pools, limits).await {
        Ok(people) => (Some(people), "read".to_owned()),
        Err(e) => (
            None,
            format!("not readable ({e}); the people staged from it stand in for it"),
        ),
    };
    let paced = Paced {
        inner: pools,
        limits,
    };
    let mut job_differences: Vec<Difference> = Vec::new();
    if !job.staged {
        job_differences.push(diff(
            "not_staged",
            None,
            "the job's people are not all staged yet",
        ));
    }
    let known: HashSet<&str> = checkpoints.iter().map(|c| c.legacy_id.as_str()).collect();
    if let Some(source) = &source {
        // People naming an organization the source does not define are reported as skipped.
        for (org, people) in source.iter().filter(|(o, _)| !known.contains(o.as_str())) {
            for p in people {
                if !p.ordinal.is_some_and(|o| skipped.contains_key(&o)) {
                    job_differences.push(diff(
                        "not_reported",
                        p.username.as_deref(),
                        format!("a person of unknown organization {org} is not in the report"),
                    ));
                }
            }
        }
    }
    let mut orgs = Vec::new();
    for cp in checkpoints
        .iter()
        .filter(|c| c.phase != OrgPhase::NotSelected)
    {
        let people_of_source = match &source {
            Some(s) => s.get(&cp.legacy_id).cloned().unwrap_or_default(),
            None => {
                let mut staged = staged_people(store, &job.id, &cp.legacy_id).await?;
                staged.extend(
                    skipped_records
                        .iter()
                        .filter(|r| r.organization.as_deref() == Some(cp.legacy_id.as_str()))
                        .map(|r| SourcePerson {
                            ordinal: Some(r.ordinal),
                            username: r.username.as_deref().and_then(|u| parse_username(u).ok()),
                            active: false,
                        }),
                );
                staged
            }
        };
        let organization = organization_of(store, cp).await?;
        let (people, logins) = match &organization {
            Some(org) => {
                let people = registry_people(store, org).await?;
                let logins = match &org.cognito.user_pool_id {
                    Some(pool) => pool_logins(&paced, pool).await?,
                    None => Vec::new(),
                };
                (people, logins)
            }
            None => (Vec::new(), Vec::new()),
        };
        let failed: HashSet<String> = failures
            .iter()
            .filter(|f| f.legacy_id == cp.legacy_id)
            .map(|f| f.username.clone())
            .collect();
        orgs.push(compare(&OrgFacts {
            checkpoint: cp,
            mode: job.mode,
            source: &people_of_source,
            skipped: &skipped,
            failed: &failed,
            organization: organization.as_ref(),
            people: &people,
            logins: &logins,
        }));
    }
    let differences =
        job_differences.len() + orgs.iter().map(|o| o.differences.len()).sum::<usize>();
    let sum = |f: &dyn Fn(&OrgVerification) -> u64| orgs.iter().map(f).sum::<u64>();
    if ctx.json {
        print_json(&json!({
            "job": job.id,
            "source": source_note,
            "clean": differences == 0,
            "differences": differences,
            "totals": {
                "source_people": sum(&|o| o.source_people),
                "refused": sum(&|o| o.refused),
                "expected_people": sum(&|o| o.expected_people),
                "registry_people": sum(&|o| o.registry_people),
                "cognito_users": sum(&|o| o.cognito_users),
            },
            "job_differences": job_differences,
            "organizations": orgs,
        }));
    } else {
        println!(
            "job {} ({} mode): source {source_note}; {} organizations, {differences} differences",
            job.id,
            job.mode,
            orgs.len()
        );
        for d in &job_differences {
            println!("  job: [{}] {}", d.kind, d.detail);
        }
        for o in &orgs {
            println!(
                "  {} ({}) {}: source {}, refused {}, registry {} of {} expected, Cognito {}{}{}",
                o.subdomain,
                o.legacy_id,
                o.phase,
                o.source_people,
                o.refused,
                o.registry_people,
                o.expected_people,
                o.cognito_users,
                o.expected_logins
                    .map(|n| format!(" of {n} expected"))
                    .unwrap_or_default(),
                if o.differences.is_empty() {
                    ": ok"
                } else {
                    ":"
                }
            );
            for d in &o.differences {
                println!(
                    "    [{}]{} {}",
                    d.kind,
                    d.username
                        .as_deref()
                        .map(|u| format!(" {u}:"))
                        .unwrap_or_default(),
                    d.detail
                );
            }
        }
        println!(
            "{}",
            if differences == 0 {
                "No difference: the source, the registry and Cognito agree."
            } else {
                "Differences above: `tenantctl migrate resume` carries on what is pending; see `migrate report` for the refused."
            }
        );
    }
    Ok(if differences == 0 { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::migration::{LegacyOrganization, OrgMigration};
    use shared::domain::migration_plan::{Problem, Rule};
    use shared::domain::{EmailAddress, Role};

    fn legacy() -> LegacyOrganization {
        LegacyOrganization {
            id: "7".into(),
            name: "Acme".into(),
            subdomain: "acme".into(),
            email_domains: vec![],
            mfa: None,
            seats: None,
        }
    }

    fn person(org: &Organization, name: &str, status: PersonStatus) -> Person {
        Person::new(
            org.id.clone(),
            name.into(),
            EmailAddress::parse(&format!("{name}@acme.test")).expect("valid"),
            vec![Role::parse("member").expect("valid")],
            status,
        )
    }

    fn login(name: &str) -> PoolLogin {
        PoolLogin {
            username: name.into(),
            email: format!("{name}@acme.test"),
            enabled: true,
        }
    }

    fn src(ordinal: u64, name: &str, active: bool) -> SourcePerson {
        SourcePerson {
            ordinal: Some(ordinal),
            username: Some(name.into()),
            active,
        }
    }

    fn switched_org() -> Organization {
        let mut org = shared::testing::sample_org();
        org.sign_in.migration = Some(OrgMigration {
            job: "j".into(),
            legacy_id: "7".into(),
            mode: MigrationMode::Invite,
            switched: true,
        });
        org.seats_used = 1;
        org
    }

    fn kinds(v: &OrgVerification) -> Vec<&'static str> {
        v.differences.iter().map(|d| d.kind).collect()
    }

    #[test]
    fn a_complete_organization_has_no_difference() {
        let org = switched_org();
        let mut cp = OrgCheckpoint::new("j", &legacy(), OrgPhase::Switched, 2);
        cp.people_done = 2;
        cp.logins_created = 1;
        let bad = SkippedRecord {
            ordinal: 4,
            position: "line 4".into(),
            organization: Some("7".into()),
            username: Some("x".into()),
            problems: vec![Problem::new(Rule::InvalidEmail, "bad")],
        };
        let skipped = HashMap::from([(4, &bad)]);
        let source = [src(2, "ann", true), src(3, "bob", false), src(4, "x", true)];
        let people = [
            person(&org, "ann", PersonStatus::Invited),
            person(&org, "bob", PersonStatus::Added),
        ];
        let v = compare(&OrgFacts {
            checkpoint: &cp,
            mode: MigrationMode::Invite,
            source: &source,
            skipped: &skipped,
            failed: &HashSet::new(),
            organization: Some(&org),
            people: &people,
            logins: &[login("ann")],
        });
        assert_eq!(kinds(&v), Vec::<&str>::new());
        assert_eq!((v.source_people, v.refused, v.expected_people), (3, 1, 2));
        assert_eq!((v.registry_people, v.cognito_users), (2, 1));
        assert_eq!(v.expected_logins, Some(1));
    }

    /// Issue 20's outcome: switched with people missing, skipped as "not migrated".
    #[test]
    fn every_kind_of_loss_is_named() {
        let org = switched_org();
        let mut cp = OrgCheckpoint::new("j", &legacy(), OrgPhase::Switched, 3);
        cp.people_done = 3;
        cp.logins_created = 2;
        let not_ours = SkippedRecord {
            ordinal: 3,
            position: "line 3".into(),
            organization: Some("7".into()),
            username: Some("cy".into()),
            problems: vec![Problem::new(
                Rule::OrganizationNotMigrated,
                "subdomain_taken",
            )],
        };
        let skipped = HashMap::from([(3, &not_ours)]);
        let source = [src(1, "ann", true), src(2, "bob", true), src(3, "cy", true)];
        let people = [
            person(&org, "ann", PersonStatus::Invited),
            person(&org, "zed", PersonStatus::Added),
        ];
        let v = compare(&OrgFacts {
            checkpoint: &cp,
            mode: MigrationMode::Invite,
            source: &source,
            skipped: &skipped,
            failed: &HashSet::new(),
            organization: Some(&org),
            people: &people,
            logins: &[login("ghost")],
        });
        let k = kinds(&v);
        for expected in [
            "missing_in_registry",
            "wrongly_skipped",
            "not_in_source",
            "missing_login",
            "login_without_person",
            "checkpoint_counts_differ",
        ] {
            assert!(k.contains(&expected), "{expected} in {k:?}");
        }
        let bob = v
            .differences
            .iter()
            .find(|d| d.kind == "missing_in_registry")
            .expect("bob");
        assert_eq!(bob.username.as_deref(), Some("bob"));
    }

    #[test]
    fn an_organization_not_switched_is_a_difference() {
        let mut org = switched_org();
        if let Some(m) = org.sign_in.migration.as_mut() {
            m.switched = false;
        }
        let cp = OrgCheckpoint::new("j", &legacy(), OrgPhase::Provisioned, 0);
        let v = compare(&OrgFacts {
            checkpoint: &cp,
            mode: MigrationMode::Lazy,
            source: &[],
            skipped: &HashMap::new(),
            failed: &HashSet::new(),
            organization: Some(&org),
            people: &[],
            logins: &[],
        });
        assert_eq!(kinds(&v), ["not_switched"]);
    }
}
