//! Checking a migration source before anything is created: every rule a record or an
//! organization can break, each problem naming its rule (and, for subdomains, a suggestion).
//!
//! The source is read twice, streamed, so that memory stays flat however many people it has:
//! - pass 1 ([`Planner::observe`]) keeps the organizations (small) and, per organization,
//!   counts of people and active people; duplicates are found with 64-bit fingerprints of
//!   (organization, username) and (organization, e-mail), 16 bytes a person, never the records;
//! - [`Planner::check_organizations`] then checks every organization against the source and
//!   the registry (taken subdomains and e-mail domains) and counts seats;
//! - pass 2 ([`Planner::classify`]) runs the same record checks again in the same order, now
//!   knowing which organizations exist and are valid, and says of every record whether it is
//!   migrated (with the person ready to stage) or skipped, and why.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};

use serde::Serialize;

use super::migration::{LegacyOrganization, LegacyPerson, SourceRecord};
use super::migration_job::{OrgCheckpoint, OrgPhase, StagedPerson};
use super::people::parse_name;
use super::person::parse_username;
use super::provisioning::ProvisionRequest;
use super::subdomain::RESERVED_SUBDOMAINS;
use super::{EmailAddress, EmailDomain, Error, MfaMode, Role, Subdomain};
use crate::domain::ports::Registry;

/// A rule of the source, by its stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The line is not a record of the documented shape.
    UnreadableRecord,
    DuplicateOrganization,
    InvalidSubdomain,
    ReservedSubdomain,
    SubdomainTaken,
    DuplicateSubdomain,
    InvalidOrganizationName,
    InvalidMfa,
    InvalidSeats,
    InvalidEmailDomain,
    /// A public mail service's domain (gmail.com, ...): never an organization's.
    PublicEmailDomain,
    EmailDomainTaken,
    DuplicateEmailDomain,
    InvalidUsername,
    InvalidEmail,
    InvalidName,
    DuplicateUsername,
    DuplicateEmail,
    UnknownOrganization,
    UnknownRole,
    /// An active person needs a role to hold a login.
    RoleRequired,
    SeatsExceeded,
    UnsupportedPasswordHash,
    /// A password hash whose cost is above the caps that the user-migration trigger checks
    /// within Cognito's 5 s (`legacy_password::over_cap`): it would never match.
    PasswordHashOverCap,
    /// The person is fine, their organization is not migrated.
    OrganizationNotMigrated,
}

impl Rule {
    pub fn code(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// One problem: the rule, a sentence for the operator, and what to do where we know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Problem {
    pub rule: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl Problem {
    pub fn new(rule: Rule, message: impl Into<String>) -> Self {
        Self {
            rule: rule.code(),
            message: message.into(),
            suggestion: None,
        }
    }

    fn suggest(mut self, suggestion: Option<String>) -> Self {
        self.suggestion = suggestion;
        self
    }
}

/// A problem of one record, where it is in the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordProblem {
    /// `line 12` of a file, `user jane` of a legacy pool.
    pub position: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub problems: Vec<Problem>,
}

/// What pass 1 knows of one legacy organization id.
#[derive(Debug, Clone, Default)]
pub struct OrgEntry {
    pub record: Option<LegacyOrganization>,
    pub position: Option<String>,
    /// People records naming it, valid or not.
    pub people: u64,
    /// People that pass every record check (migrated when the organization is).
    pub valid_people: u64,
    pub valid_active: u64,
    /// Organization-level problems: when not empty, it is not migrated.
    pub problems: Vec<Problem>,
}

impl OrgEntry {
    pub fn migratable(&self) -> bool {
        self.record.is_some() && self.problems.is_empty()
    }
}

/// What pass 2 says of one record.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// A valid organization record (its checks are at organization level).
    Organization {
        legacy_id: String,
        migrated: bool,
    },
    /// A duplicate or unreadable organization record, or one of an invalid organization.
    OrganizationSkipped(RecordProblem),
    Person {
        legacy_id: String,
        person: Box<StagedPerson>,
    },
    PersonSkipped(RecordProblem),
}

/// The whole plan's findings, for the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlanSummary {
    pub organizations: u64,
    pub organizations_valid: u64,
    pub people: u64,
    pub people_valid: u64,
    pub active_people_valid: u64,
    pub records_with_problems: u64,
    pub organization_problems: u64,
}

fn fingerprint(org: &str, value: &str) -> u64 {
    let mut h = DefaultHasher::new();
    org.hash(&mut h);
    0xffu8.hash(&mut h);
    value.hash(&mut h);
    h.finish()
}

/// Streams the checks (see the module's documentation).
#[derive(Debug, Default)]
pub struct Planner {
    pub orgs: BTreeMap<String, OrgEntry>,
    usernames: HashSet<u64>,
    emails: HashSet<u64>,
    seen_orgs: HashSet<String>,
    /// Problems of records found in pass 2 (the plan prints them; a run stores them).
    pub records_with_problems: u64,
    /// A legacy pool has no organization records: each organization named by a person
    /// becomes one (id, name and subdomain its attribute's value).
    implicit_organizations: bool,
}

impl Planner {
    pub fn new() -> Self {
        Self::default()
    }

    /// For sources without organization records (a legacy pool).
    pub fn with_implicit_organizations() -> Self {
        Self {
            implicit_organizations: true,
            ..Self::default()
        }
    }

    /// Pass 1: one record (or why it could not be read).
    pub fn observe(&mut self, position: &str, record: &Result<SourceRecord, String>) {
        match record {
            Ok(SourceRecord::Organization(org)) => {
                let entry = self.orgs.entry(org.id.clone()).or_default();
                if entry.record.is_none() {
                    entry.record = Some(org.clone());
                    entry.position = Some(position.to_owned());
                }
            }
            Ok(SourceRecord::Person(p)) => {
                let ok = self.person_checks(p).1.is_empty();
                let implicit = self.implicit_organizations;
                let entry = self.orgs.entry(p.organization.clone()).or_default();
                if implicit && entry.record.is_none() {
                    entry.record = Some(LegacyOrganization {
                        id: p.organization.clone(),
                        name: p.organization.clone(),
                        subdomain: p.organization.clone(),
                        email_domains: Vec::new(),
                        mfa: None,
                        seats: None,
                    });
                    entry.position = Some(position.to_owned());
                }
                entry.people += 1;
                if ok {
                    entry.valid_people += 1;
                    if p.active {
                        entry.valid_active += 1;
                    }
                }
            }
            Err(_) => {}
        }
    }

    /// After pass 1: every organization checked against the rules, the rest of the source
    /// and the registry. `ours(org)` says whether an organization found in the registry is
    /// this very legacy organization migrated before (a rerun), which is not "taken".
    pub async fn check_organizations(&mut self, registry: &dyn Registry) -> Result<(), Error> {
        let mut subdomains: HashSet<String> = HashSet::new();
        let mut domains: HashSet<String> = HashSet::new();
        // Taken names, for suggestions that are free.
        let mut taken_names: HashSet<String> = HashSet::new();
        let ids: Vec<String> = self.orgs.keys().cloned().collect();
        for id in &ids {
            let entry = self.orgs.get(id).cloned().unwrap_or_default();
            let Some(org) = &entry.record else {
                continue;
            };
            let mut problems = Vec::new();
            problems.extend(organization_field_problems(org));
            if let Ok(sub) = Subdomain::parse(&org.subdomain) {
                if !subdomains.insert(sub.to_string()) {
                    problems.push(
                        Problem::new(
                            Rule::DuplicateSubdomain,
                            format!(
                                "another organization of the source has the subdomain {sub:?} already"
                            ),
                        )
                        .suggest(suggest_subdomain(&org.subdomain, &|c| {
                            subdomains.contains(c) || taken_names.contains(c)
                        })),
                    );
                } else if let Some(existing) = registry.organization_by_subdomain(&sub).await? {
                    if !is_same_legacy(&existing, id) {
                        taken_names.insert(sub.to_string());
                        let mut suggestion = None;
                        for _ in 0..5 {
                            let candidate = suggest_subdomain(&org.subdomain, &|c| {
                                subdomains.contains(c) || taken_names.contains(c)
                            });
                            if let Some(c) = &candidate {
                                let parsed = Subdomain::parse(c)?;
                                if registry.organization_by_subdomain(&parsed).await?.is_some() {
                                    taken_names.insert(c.clone());
                                    continue;
                                }
                            }
                            suggestion = candidate;
                            break;
                        }
                        problems.push(
                            Problem::new(
                                Rule::SubdomainTaken,
                                format!(
                                    "subdomain {sub:?} is already taken by the organization {:?} (rule: a subdomain belongs to one organization only)",
                                    existing.name
                                ),
                            )
                            .suggest(suggestion),
                        );
                    }
                }
            }
            for d in &org.email_domains {
                let Ok(Ok(domain)) = EmailDomain::parse(d).map(EmailDomain::organizational) else {
                    continue;
                };
                if !domains.insert(domain.to_string()) {
                    problems.push(Problem::new(
                        Rule::DuplicateEmailDomain,
                        format!("another organization of the source has the e-mail domain {domain} already"),
                    ));
                } else if let Some(existing) =
                    registry.organization_by_email_domain(&domain).await?
                {
                    if !is_same_legacy(&existing, id) {
                        problems.push(Problem::new(
                            Rule::EmailDomainTaken,
                            format!(
                                "e-mail domain {domain} already belongs to the organization {:?} (rule: an e-mail domain belongs to one organization only)",
                                existing.name
                            ),
                        ));
                    }
                }
            }
            if let Some(seats) = org.seats {
                if entry.valid_active > u64::from(seats) {
                    problems.push(Problem::new(
                        Rule::SeatsExceeded,
                        format!(
                            "{} active people but {seats} seats (rule: every active person holds a seat); raise seats in the source or mark people inactive",
                            entry.valid_active
                        ),
                    ));
                }
            }
            if let Some(e) = self.orgs.get_mut(id) {
                e.problems = problems;
            }
        }
        Ok(())
    }

    /// A job carried on keeps the verdicts it recorded at its start, whatever the registry
    /// says now: an organization it took on (checkpoint not `skipped`) is the job's, even
    /// while its own half-created organization holds the subdomain and e-mail domains, so
    /// its people are staged and never skipped as `organization_not_migrated`; one it
    /// skipped stays skipped, for the same reasons.
    pub fn keep_verdicts(&mut self, checkpoints: &[OrgCheckpoint]) {
        for cp in checkpoints {
            let Some(entry) = self.orgs.get_mut(&cp.legacy_id) else {
                continue;
            };
            match cp.phase {
                OrgPhase::NotSelected => {}
                OrgPhase::Skipped => {
                    if !cp.problems.is_empty() {
                        entry.problems = cp.problems.clone();
                    }
                }
                _ => entry.problems.clear(),
            }
        }
    }

    /// Starts pass 2 (fingerprints are rebuilt in the same order as pass 1).
    pub fn start_classifying(&mut self) {
        self.usernames.clear();
        self.emails.clear();
        self.seen_orgs.clear();
        self.records_with_problems = 0;
    }

    /// Pass 2: what becomes of one record.
    pub fn classify(&mut self, position: &str, record: Result<SourceRecord, String>) -> Verdict {
        let skipped =
            |org: Option<String>, username: Option<String>, problems: Vec<Problem>| RecordProblem {
                position: position.to_owned(),
                organization: org,
                username,
                problems,
            };
        match record {
            Err(reason) => {
                self.records_with_problems += 1;
                Verdict::PersonSkipped(skipped(
                    None,
                    None,
                    vec![Problem::new(Rule::UnreadableRecord, reason)],
                ))
            }
            Ok(SourceRecord::Organization(org)) => {
                let entry = self.orgs.get(&org.id);
                if !self.seen_orgs.insert(org.id.clone()) {
                    self.records_with_problems += 1;
                    let first = entry.and_then(|e| e.position.clone()).unwrap_or_default();
                    return Verdict::OrganizationSkipped(skipped(
                        Some(org.id.clone()),
                        None,
                        vec![Problem::new(
                            Rule::DuplicateOrganization,
                            format!(
                                "organization {} is already defined at {first}; this record is ignored",
                                org.id
                            ),
                        )],
                    ));
                }
                let migrated = entry.is_some_and(OrgEntry::migratable);
                Verdict::Organization {
                    legacy_id: org.id,
                    migrated,
                }
            }
            Ok(SourceRecord::Person(p)) => {
                let (person, mut problems) = self.person_checks(&p);
                let entry = self.orgs.get(&p.organization);
                match entry {
                    Some(e) if e.record.is_some() => {}
                    _ => problems.push(Problem::new(
                        Rule::UnknownOrganization,
                        format!(
                            "no organization record with id {:?} in the source",
                            p.organization
                        ),
                    )),
                }
                let org_bad = entry.is_some_and(|e| e.record.is_some() && !e.problems.is_empty());
                let username = Some(p.username.clone());
                match person {
                    Some(person) if problems.is_empty() && !org_bad => Verdict::Person {
                        legacy_id: p.organization,
                        person: Box::new(person),
                    },
                    _ => {
                        if !problems.is_empty() {
                            self.records_with_problems += 1;
                        }
                        if org_bad {
                            problems.push(Problem::new(
                                Rule::OrganizationNotMigrated,
                                format!(
                                    "organization {} is not migrated: {}",
                                    p.organization,
                                    entry
                                        .map(|e| e
                                            .problems
                                            .iter()
                                            .map(|p| p.rule.as_str())
                                            .collect::<Vec<_>>()
                                            .join(", "))
                                        .unwrap_or_default()
                                ),
                            ));
                        }
                        Verdict::PersonSkipped(skipped(Some(p.organization), username, problems))
                    }
                }
            }
        }
    }

    /// The record checks of a person (all but "unknown organization"), with the duplicate
    /// checks against the people seen before in this pass.
    fn person_checks(&mut self, p: &LegacyPerson) -> (Option<StagedPerson>, Vec<Problem>) {
        let mut problems = Vec::new();
        let username = match parse_username(&p.username) {
            Ok(u) => Some(u),
            Err(e) => {
                problems.push(Problem::new(Rule::InvalidUsername, e.to_string()));
                None
            }
        };
        let email = match EmailAddress::parse(&p.email) {
            Ok(e) => Some(e),
            Err(e) => {
                problems.push(Problem::new(Rule::InvalidEmail, e.to_string()));
                None
            }
        };
        let given = parse_name("given_name", p.given_name.as_deref());
        let family = parse_name("family_name", p.family_name.as_deref());
        for name in [&given, &family] {
            if let Err(e) = name {
                problems.push(Problem::new(Rule::InvalidName, e.to_string()));
            }
        }
        let mut roles: Vec<String> = Vec::new();
        for r in &p.roles {
            if !Role::DEFAULTS.contains(&r.as_str()) {
                problems.push(Problem::new(
                    Rule::UnknownRole,
                    format!(
                        "role {r:?} is not a role of a new organization (rule: roles are {})",
                        Role::DEFAULTS.join(", ")
                    ),
                ));
            } else if !roles.contains(r) {
                roles.push(r.clone());
            }
        }
        if p.active && p.roles.is_empty() {
            problems.push(Problem::new(
                Rule::RoleRequired,
                "an active person needs at least one role (admin or member)",
            ));
        }
        if let Some(hash) = &p.password_hash {
            if super::legacy_password::scheme(hash.expose()).is_none() {
                problems.push(Problem::new(
                    Rule::UnsupportedPasswordHash,
                    "the password hash is none of bcrypt ($2a$/$2b$/$2y$), argon2id ($argon2id$) or pbkdf2_sha256$ (leave it null: the person then sets a password with \"forgot password\")",
                ));
            } else if let Some(why) = super::legacy_password::over_cap(hash.expose()) {
                problems.push(Problem::new(
                    Rule::PasswordHashOverCap,
                    format!("{why}: such a hash is never checked at sign-in (leave it null: the person then sets a password with \"forgot password\")"),
                ));
            }
        }
        // Duplicates only among records that are otherwise valid, the first one wins.
        if let (Some(u), Some(e)) = (&username, &email) {
            if problems.is_empty() {
                let uf = fingerprint(&p.organization, u);
                let ef = fingerprint(&p.organization, e.as_str());
                if self.usernames.contains(&uf) {
                    problems.push(Problem::new(
                        Rule::DuplicateUsername,
                        format!("username {u:?} appears earlier in organization {} (usernames compare without case)", p.organization),
                    ));
                } else if self.emails.contains(&ef) {
                    problems.push(Problem::new(
                        Rule::DuplicateEmail,
                        format!(
                            "e-mail {e} belongs to an earlier person of organization {}",
                            p.organization
                        ),
                    ));
                } else {
                    self.usernames.insert(uf);
                    self.emails.insert(ef);
                }
            }
        }
        let person = match (username, email, given, family) {
            (Some(username), Some(email), Ok(given_name), Ok(family_name))
                if problems.is_empty() =>
            {
                Some(StagedPerson {
                    username,
                    email: email.to_string(),
                    given_name,
                    family_name,
                    roles,
                    active: p.active,
                    password_hash: p.password_hash.clone(),
                })
            }
            _ => None,
        };
        (person, problems)
    }

    pub fn summary(&self) -> PlanSummary {
        let mut s = PlanSummary::default();
        for e in self.orgs.values() {
            if e.record.is_some() {
                s.organizations += 1;
                if e.problems.is_empty() {
                    s.organizations_valid += 1;
                    s.people_valid += e.valid_people;
                    s.active_people_valid += e.valid_active;
                } else {
                    s.organization_problems += e.problems.len() as u64;
                }
            }
            s.people += e.people;
        }
        s.records_with_problems = self.records_with_problems;
        s
    }
}

/// Whether the registry's organization is this legacy organization, brought by a migration.
fn is_same_legacy(existing: &super::Organization, legacy_id: &str) -> bool {
    existing
        .sign_in
        .migration
        .as_ref()
        .is_some_and(|m| m.legacy_id == legacy_id)
}

/// What a migrated organization is provisioned with.
pub fn provision_request(org: &LegacyOrganization) -> Result<ProvisionRequest, Error> {
    Ok(ProvisionRequest {
        subdomain: org.subdomain.clone(),
        name: org.name.clone(),
        admin_email: None,
        mfa: org.mfa.as_deref().unwrap_or("off").parse::<MfaMode>()?,
        seats: org.seats,
        email_domains: org.email_domains.clone(),
    })
}

/// The field rules of an organization record, each broken one named.
fn organization_field_problems(org: &LegacyOrganization) -> Vec<Problem> {
    let mut problems = Vec::new();
    match Subdomain::parse(&org.subdomain) {
        Ok(_) => {}
        Err(e @ Error::ReservedSubdomain { .. }) => problems.push(
            Problem::new(
                Rule::ReservedSubdomain,
                format!("{e} (rule: reserved names belong to the product)"),
            )
            .suggest(suggest_subdomain(&org.subdomain, &|_| false)),
        ),
        Err(e) => problems.push(
            Problem::new(Rule::InvalidSubdomain, e.to_string())
                .suggest(suggest_subdomain(&org.subdomain, &|_| false)),
        ),
    }
    let mfa = org.mfa.as_deref().unwrap_or("off");
    if let Err(e) = mfa.parse::<MfaMode>() {
        problems.push(Problem::new(Rule::InvalidMfa, e.to_string()));
    }
    // The other fields through provisioning's own checks, one at a time.
    let base = ProvisionRequest {
        subdomain: "valid-name".into(),
        name: org.name.clone(),
        ..Default::default()
    };
    if let Err(e) = base.validate() {
        problems.push(Problem::new(Rule::InvalidOrganizationName, e.to_string()));
    }
    if org.seats == Some(0) {
        problems.push(Problem::new(
            Rule::InvalidSeats,
            "seats is 0: an organization needs at least one seat (leave it out for no limit)",
        ));
    }
    for d in &org.email_domains {
        match EmailDomain::parse(d).map(EmailDomain::organizational) {
            Err(e) => problems.push(Problem::new(Rule::InvalidEmailDomain, e.to_string())),
            Ok(Err(e)) => problems.push(Problem::new(
                Rule::PublicEmailDomain,
                format!("{e} (rule: discovery and sign-up never trust a public mail domain; drop it from the record)"),
            )),
            Ok(Ok(_)) => {}
        }
    }
    problems
}

/// A valid, unreserved subdomain close to `input` that `taken` does not know, if one can be
/// made: lower-cased, other characters as hyphens, at least 3 characters, `-org` after a
/// reserved name, `-2`, `-3`, ... after a taken one.
pub fn suggest_subdomain(input: &str, taken: &dyn Fn(&str) -> bool) -> Option<String> {
    let mut s = String::new();
    for c in input.trim().to_lowercase().chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && s.ends_with('-')) {
            s.push(c);
        }
    }
    let mut s = s.trim_matches('-').to_owned();
    if s.get(2..4) == Some("--") {
        s.replace_range(2..4, "-");
    }
    s.truncate(56);
    let s = s.trim_matches('-').to_owned();
    let base = if s.is_empty() {
        "org".to_owned()
    } else if s.len() < 3 || RESERVED_SUBDOMAINS.contains(&s.as_str()) {
        format!("{s}-org")
    } else {
        s
    };
    let candidates = std::iter::once(base.clone()).chain((2..100).map(|n| format!("{base}-{n}")));
    candidates
        .filter(|c| Subdomain::parse(c).is_ok())
        .find(|c| c != input && !taken(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryRegistry;

    fn rec(line: &str) -> Result<SourceRecord, String> {
        serde_json::from_str(line).map_err(|e| e.to_string())
    }

    #[test]
    fn suggestions_follow_the_rules() {
        let none = |_: &str| false;
        assert_eq!(
            suggest_subdomain("Acme Corp", &none).as_deref(),
            Some("acme-corp")
        );
        assert_eq!(
            suggest_subdomain("auth", &none).as_deref(),
            Some("auth-org")
        );
        assert_eq!(suggest_subdomain("ab", &none).as_deref(), Some("ab-org"));
        assert_eq!(suggest_subdomain("-x--y-", &none).as_deref(), Some("x-y"));
        assert_eq!(suggest_subdomain("-x-", &none).as_deref(), Some("x-org"));
        assert_eq!(
            suggest_subdomain("acme", &|c| c == "acme").as_deref(),
            Some("acme-2")
        );
    }

    async fn planned(lines: &[&str]) -> (Planner, Vec<Verdict>) {
        let registry = MemoryRegistry::default();
        let mut planner = Planner::new();
        for (i, l) in lines.iter().enumerate() {
            planner.observe(&format!("line {}", i + 1), &rec(l));
        }
        planner
            .check_organizations(&registry)
            .await
            .expect("checks");
        planner.start_classifying();
        let verdicts = lines
            .iter()
            .enumerate()
            .map(|(i, l)| planner.classify(&format!("line {}", i + 1), rec(l)))
            .collect();
        (planner, verdicts)
    }

    fn rules(v: &Verdict) -> Vec<String> {
        match v {
            Verdict::PersonSkipped(p) | Verdict::OrganizationSkipped(p) => {
                p.problems.iter().map(|p| p.rule.clone()).collect()
            }
            _ => vec![],
        }
    }

    #[tokio::test]
    async fn every_rule_is_named() {
        let (planner, v) = planned(&[
            r#"{"kind":"person","organization":1,"username":"ann","email":"ann@a.test","roles":["member"],"active":true}"#,
            r#"{"kind":"organization","id":1,"name":"Acme","subdomain":"acme","seats":1}"#,
            r#"{"kind":"organization","id":2,"name":"Auth","subdomain":"auth"}"#,
            r#"{"kind":"person","organization":1,"username":"ANN","email":"other@a.test","roles":["member"],"active":false}"#,
            r#"{"kind":"person","organization":1,"username":"bob","email":"ann@a.test","roles":["member"],"active":false}"#,
            r#"{"kind":"person","organization":1,"username":"cy","email":"not-an-address","roles":["member"],"active":false}"#,
            r#"{"kind":"person","organization":9,"username":"dan","email":"dan@a.test","roles":["member"],"active":false}"#,
            r#"{"kind":"person","organization":1,"username":"eve","email":"eve@a.test","roles":["boss"],"active":false}"#,
            r#"{"kind":"person","organization":2,"username":"fay","email":"fay@a.test","roles":["member"],"active":true}"#,
            r#"{"kind":"person","organization":1,"username":"gus","email":"gus@a.test","roles":["member"],"active":true,"password_hash":"md5$x"}"#,
            r#"{"kind":"organization","id":1,"name":"Acme again","subdomain":"acme2"}"#,
            r#"not json"#,
            r#"{"kind":"person","organization":1,"username":"hal","email":"hal@a.test","roles":["member"],"active":true,"password_hash":"$2b$16$B0Avh67WXRh9k4DmfGIGHeTYicLMM/9MbWLf46TX2TwSVuxDKZjOi"}"#,
        ])
        .await;
        assert!(matches!(&v[0], Verdict::Person { legacy_id, .. } if legacy_id == "1"));
        assert!(matches!(
            &v[1],
            Verdict::Organization { migrated: true, .. }
        ));
        assert!(matches!(
            &v[2],
            Verdict::Organization {
                migrated: false,
                ..
            }
        ));
        assert_eq!(rules(&v[3]), ["duplicate_username"]);
        assert_eq!(rules(&v[4]), ["duplicate_email"]);
        assert_eq!(rules(&v[5]), ["invalid_email"]);
        assert_eq!(rules(&v[6]), ["unknown_organization"]);
        assert_eq!(rules(&v[7]), ["unknown_role"]);
        assert_eq!(rules(&v[8]), ["organization_not_migrated"]);
        assert_eq!(rules(&v[9]), ["unsupported_password_hash"]);
        assert_eq!(rules(&v[10]), ["duplicate_organization"]);
        assert_eq!(rules(&v[11]), ["unreadable_record"]);
        assert_eq!(rules(&v[12]), ["password_hash_over_cap"]);
        let auth = &planner.orgs["2"].problems;
        assert_eq!(auth[0].rule, "reserved_subdomain");
        assert_eq!(auth[0].suggestion.as_deref(), Some("auth-org"));
        assert!(
            planner.orgs["1"].problems.is_empty(),
            "one active, one seat"
        );
    }

    #[tokio::test]
    async fn more_active_people_than_seats_stops_the_organization() {
        let (planner, v) = planned(&[
            r#"{"kind":"organization","id":"a","name":"Acme","subdomain":"acme","seats":1}"#,
            r#"{"kind":"person","organization":"a","username":"ann","email":"ann@a.test","roles":["member"],"active":true}"#,
            r#"{"kind":"person","organization":"a","username":"bob","email":"bob@a.test","roles":["admin"],"active":true}"#,
        ])
        .await;
        assert_eq!(planner.orgs["a"].problems[0].rule, "seats_exceeded");
        assert_eq!(rules(&v[1]), ["organization_not_migrated"]);
    }

    /// Issue 20: a resumed job's own half-created organization (its record written before
    /// the job's mark) holds the subdomain and e-mail domain; the job's recorded verdict
    /// wins, so its people are staged, not skipped as `organization_not_migrated`.
    #[tokio::test]
    async fn a_resumed_job_keeps_its_organizations() {
        let registry = MemoryRegistry::default();
        let mut half_made = crate::testing::sample_org();
        half_made.subdomain = Subdomain::parse("acme").expect("valid");
        registry.insert_org(half_made);
        let lines = [
            r#"{"kind":"organization","id":"a","name":"Acme","subdomain":"acme"}"#,
            r#"{"kind":"person","organization":"a","username":"ann","email":"ann@a.test","roles":["member"],"active":true}"#,
            r#"{"kind":"organization","id":"b","name":"Auth","subdomain":"auth"}"#,
        ];
        let mut planner = Planner::new();
        for (i, l) in lines.iter().enumerate() {
            planner.observe(&format!("line {}", i + 1), &rec(l));
        }
        planner
            .check_organizations(&registry)
            .await
            .expect("checks");
        assert_eq!(planner.orgs["a"].problems[0].rule, "subdomain_taken");
        let org_a = planner.orgs["a"].record.clone().expect("record");
        let org_b = planner.orgs["b"].record.clone().expect("record");
        let mut skipped = OrgCheckpoint::new("j", &org_b, OrgPhase::Skipped, 0);
        skipped.problems = vec![Problem::new(Rule::ReservedSubdomain, "reserved")];
        planner.keep_verdicts(&[
            OrgCheckpoint::new("j", &org_a, OrgPhase::Pending, 1),
            skipped,
        ]);
        assert!(planner.orgs["a"].migratable());
        assert!(!planner.orgs["b"].migratable());
        planner.start_classifying();
        let v = planner.classify("line 2", rec(lines[1]));
        assert!(
            matches!(&v, Verdict::Person { legacy_id, .. } if legacy_id == "a"),
            "{v:?}"
        );
    }

    #[tokio::test]
    async fn a_subdomain_taken_in_the_registry_gets_a_free_suggestion() {
        let registry = MemoryRegistry::default();
        let mut taken = crate::testing::sample_org();
        taken.subdomain = Subdomain::parse("acme").expect("valid");
        registry.insert_org(taken);
        let mut planner = Planner::new();
        planner.observe(
            "line 1",
            &rec(r#"{"kind":"organization","id":"a","name":"Acme","subdomain":"acme"}"#),
        );
        planner
            .check_organizations(&registry)
            .await
            .expect("checks");
        let p = &planner.orgs["a"].problems[0];
        assert_eq!(p.rule, "subdomain_taken");
        assert_eq!(p.suggestion.as_deref(), Some("acme-2"));
    }

    #[tokio::test]
    async fn a_public_mail_domain_stops_the_organization() {
        let (planner, _) = planned(&[
            r#"{"kind":"organization","id":"a","name":"Acme","subdomain":"acme","email_domains":["acme.test","GMail.com"]}"#,
        ])
        .await;
        let rules: Vec<&str> = planner.orgs["a"]
            .problems
            .iter()
            .map(|p| p.rule.as_str())
            .collect();
        assert_eq!(rules, ["public_email_domain"]);
    }
}
