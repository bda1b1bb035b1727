//! `tenantctl migrate`: plan, run, status, resume, rollback and report of a migration job.
//!
//! The source is read three times, streamed: twice to check it (see
//! `shared::domain::migration_plan`), and, for a run, once more to stage every valid person
//! into the job's items in DynamoDB. From then on the job needs no source: organizations are
//! migrated from their staged people, by this command or by the Lambda worker.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::json;
use shared::aws::cognito::CognitoPools;
use shared::aws::dynamodb::DynamoRegistry;
use shared::aws::launch::{manifest_items, MigrationLauncher};
use shared::config::Source;
use shared::domain::migration::{MigrationMode, SourceRecord};
use shared::domain::migration_job::{
    migrate_organization, provision_organization, rollback_organization, transient, Counters,
    MigrationDeps, MigrationJob, OrgCheckpoint, OrgPhase, SkippedRecord, StagedPerson,
};
use shared::domain::migration_plan::{PlanSummary, Planner, RecordProblem, Verdict};
use shared::domain::ports::{MigrationStore, Registry};
use shared::domain::{now_epoch, Error};
use shared::rate::{Paced, RateLimits, Rates};

use crate::job::{all_failures, all_skipped, find_job};
use crate::output::{print_json, progress, CliError, Context, Exit};
use crate::source::{SourceReader, SourceSpec};
use crate::wiring::migration_pools;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    Invite,
    Lazy,
}

impl From<Mode> for MigrationMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Invite => MigrationMode::Invite,
            Mode::Lazy => MigrationMode::Lazy,
        }
    }
}

#[derive(Debug, Args)]
pub struct SourceArgs {
    /// A JSON Lines file (`.jsonl`, or gzip-compressed) or `cognito:<user pool id>` (a legacy
    /// shared pool).
    #[arg(long)]
    pub source: String,
    /// With a legacy pool: the user attribute naming each user's organization.
    #[arg(long)]
    pub org_attribute: Option<String>,
}

#[derive(Debug, Args)]
pub struct RateArgs {
    /// People created per second (Cognito's UserCreation quota is 50/s; default 48).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Pool operations per second (pools, clients, domains, groups; quota 15/s; default 14).
    #[arg(long)]
    pub pool_rate: Option<f64>,
    /// Group memberships and other login updates per second (quota 25/s each; default 24).
    #[arg(long)]
    pub update_rate: Option<f64>,
    /// Organizations whose people are sent to Cognito at once (as many more start, write
    /// their records or switch meanwhile).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
}

impl RateArgs {
    fn rates(&self) -> Result<Rates, Error> {
        let mut rates = Rates::default();
        for (value, slot) in [
            (self.rate, &mut rates.user_creation),
            (self.pool_rate, &mut rates.pool_operations),
            (self.update_rate, &mut rates.user_update),
        ] {
            if let Some(v) = value {
                if !(v > 0.0 && v <= 10_000.0) {
                    return Err(Error::InvalidInput {
                        what: "rate",
                        value: v.to_string(),
                        rule: "a rate is a number of requests per second above 0",
                    });
                }
                *slot = v;
            }
        }
        if let Some(v) = self.update_rate {
            rates.user_resource_update = v;
        }
        Ok(rates)
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The job's id (letters, digits, . _ -): `status`, `resume`, `report` and `rollback` name it.
    #[arg(long)]
    pub job: String,
    /// invite: Cognito logins for active people now (message suppressed); lazy: none, the
    /// user-migration trigger moves each person at their first sign-in.
    #[arg(long, value_enum, default_value_t = Mode::Invite)]
    pub mode: Mode,
    /// Only these legacy organizations (ids or subdomains, comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub orgs: Vec<String>,
    /// Migrate what is valid and list every skipped record in the report.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Invite mode: send the welcome mails now (otherwise later, with the admin API's resend).
    #[arg(long)]
    pub send_invitations: bool,
    /// Record the job and stage its people, migrate nothing (the state machine does).
    #[arg(long)]
    pub stage_only: bool,
    #[command(flatten)]
    pub rates: RateArgs,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Check a source: every problem, naming its rule. Exit 0 only when it is clean.
    Plan(SourceArgs),
    /// Migrate the organizations of a source (or carry on a job of the same id).
    Run(RunArgs),
    /// Where a job stands.
    Status {
        #[arg(long)]
        job: String,
    },
    /// Carry on a job where it stopped (after a crash, a kill, or failed organizations).
    Resume {
        #[arg(long)]
        job: String,
        #[command(flatten)]
        rates: RateArgs,
    },
    /// Send one organization back to legacy sign-in; its logins are disabled, nothing deleted.
    Rollback {
        #[arg(long)]
        job: String,
        /// The organization's subdomain (or legacy id).
        #[arg(long)]
        org: String,
    },
    /// Every organization and person not migrated, with the reason.
    Report {
        #[arg(long)]
        job: String,
    },
    /// Reconciles the job with the source, the registry and Cognito: per organization, its
    /// people in the source, in the registry and its logins in Cognito, naming every
    /// difference. Exit 0 only when there is none (the check before switching DNS).
    Verify {
        #[arg(long)]
        job: String,
    },
    /// Hand a staged job (`run --stage-only`) to the migration state machine: writes the
    /// manifest of its organizations still to migrate to MIGRATION_BUCKET and starts an
    /// execution of MIGRATION_STATE_MACHINE_ARN (its Lambda workers migrate them).
    Start {
        #[arg(long)]
        job: String,
    },
}

fn job_id(id: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            what: "job id",
            value: id.to_owned(),
            rule: "it must be 1 to 64 letters, digits, dots, underscores or hyphens",
        })
    }
}

pub async fn run(ctx: &Context<'_>, cmd: MigrateCommand) -> Result<Exit, CliError> {
    let env = &shared::config::ProcessEnv;
    let registry = crate::wiring::registry(ctx.sdk, env)?;
    match cmd {
        MigrateCommand::Plan(args) => {
            let spec = SourceSpec::parse(&args.source, args.org_attribute.as_deref())?;
            let pools = migration_pools(ctx.sdk);
            let limits = RateLimits::new(Rates::default());
            let plan = plan(&spec, &pools, &limits, &registry, &[], &[]).await?;
            print_plan(ctx.json, &plan);
            Ok(if plan.clean() { 0 } else { 1 })
        }
        MigrateCommand::Run(args) => {
            job_id(&args.job)?;
            let spec =
                SourceSpec::parse(&args.source.source, args.source.org_attribute.as_deref())?;
            let rates = args.rates.rates()?;
            if args.send_invitations && args.mode == Mode::Lazy {
                return Err(Error::InvalidInput {
                    what: "--send-invitations",
                    value: "lazy".into(),
                    rule: "invitations belong to invite mode; lazy mode creates no logins",
                }
                .into());
            }
            let job = MigrationJob {
                id: args.job.clone(),
                source: args.source.source.clone(),
                org_attribute: args.source.org_attribute.clone(),
                mode: args.mode.into(),
                only: args
                    .orgs
                    .iter()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect(),
                skip_invalid: args.skip_invalid,
                send_invitations: args.send_invitations,
                staged: false,
                created_at: now_epoch(),
                created_by: ctx.actor.clone(),
            };
            let job = match registry.job(&job.id).await? {
                Some(existing) if existing.same_request(&job) => {
                    progress(&format!("job {} exists: carrying it on", job.id));
                    existing
                }
                Some(existing) => {
                    return Err(Error::not_allowed(
                        format!("run job {}", job.id),
                        format!(
                            "a job of that id exists with other settings (source {}, {} mode); use `tenantctl migrate resume --job {}` or another job id",
                            existing.source, existing.mode, existing.id
                        ),
                    )
                    .into())
                }
                None => job,
            };
            let pools = migration_pools(ctx.sdk);
            let limits = RateLimits::new(rates);
            if !job.staged {
                // A job carried on keeps the verdicts it recorded (its own half-created
                // organizations are not "taken").
                let kept = registry.checkpoints(&job.id).await?;
                let plan = plan(&spec, &pools, &limits, &registry, &job.only, &kept).await?;
                if !plan.clean() && !job.skip_invalid {
                    print_plan(ctx.json, &plan);
                    eprintln!(
                        "error: the source has problems (above); nothing was changed. Fix them, or run again with --skip-invalid to migrate the rest and list every skipped record in the report"
                    );
                    return Ok(2);
                }
                prepare(
                    ctx,
                    &spec,
                    &pools,
                    &limits,
                    &registry,
                    &job,
                    plan.planner,
                    !args.stage_only,
                    args.rates.concurrency,
                )
                .await?;
            }
            if args.stage_only {
                match manifest_bucket(env) {
                    Some(bucket) => {
                        let launcher = MigrationLauncher::new(ctx.sdk, &bucket);
                        let (key, count) = write_manifest(&launcher, &registry, &job.id).await?;
                        progress(&format!(
                            "job {}: manifest of {count} organizations written to s3://{bucket}/{key}; `tenantctl migrate start --job {}` starts the state machine",
                            job.id, job.id
                        ));
                    }
                    None => progress(&format!(
                        "job {}: staged; MIGRATION_BUCKET is not set, so no manifest was written (`tenantctl migrate start --job {}` writes it and starts the state machine)",
                        job.id, job.id
                    )),
                }
                return status(ctx, &registry, &job.id).await;
            }
            migrate_all(
                ctx,
                &registry,
                &pools,
                &limits,
                &job,
                args.rates.concurrency,
            )
            .await
        }
        MigrateCommand::Resume { job, rates } => {
            job_id(&job)?;
            let job = find_job(&registry, &job).await?;
            let pools = migration_pools(ctx.sdk);
            let limits = RateLimits::new(rates.rates()?);
            if !job.staged {
                let spec = SourceSpec::parse(&job.source, job.org_attribute.as_deref())?;
                let kept = registry.checkpoints(&job.id).await?;
                let plan = plan(&spec, &pools, &limits, &registry, &job.only, &kept).await?;
                prepare(
                    ctx,
                    &spec,
                    &pools,
                    &limits,
                    &registry,
                    &job,
                    plan.planner,
                    true,
                    rates.concurrency,
                )
                .await?;
            }
            migrate_all(ctx, &registry, &pools, &limits, &job, rates.concurrency).await
        }
        MigrateCommand::Start { job } => {
            job_id(&job)?;
            start(ctx, &registry, &job).await
        }
        MigrateCommand::Status { job } => {
            job_id(&job)?;
            status(ctx, &registry, &job).await
        }
        MigrateCommand::Rollback { job, org } => {
            job_id(&job)?;
            let job = find_job(&registry, &job).await?;
            let pools = migration_pools(ctx.sdk);
            let limits = RateLimits::new(Rates::default());
            let paced = Paced {
                inner: &pools,
                limits: &limits,
            };
            let config = shared::config::ProvisioningConfig::from_env(env)?;
            let mailer = crate::wiring::mailer(ctx.sdk, env)?;
            let deps = MigrationDeps::over(&registry, &paced, &mailer, &config, &ctx.actor);
            let done = rollback_organization(&deps, &job, &org).await?;
            if ctx.json {
                print_json(&done);
            } else {
                println!(
                    "{} ({}) is back on legacy sign-in: {} logins disabled, {} people deactivated; its pool and records are kept",
                    done.checkpoint.organization.subdomain,
                    done.checkpoint.legacy_id,
                    done.logins_disabled,
                    done.people_deactivated
                );
            }
            Ok(0)
        }
        MigrateCommand::Report { job } => {
            job_id(&job)?;
            report(ctx, &registry, &job).await
        }
        MigrateCommand::Verify { job } => {
            job_id(&job)?;
            let job = find_job(&registry, &job).await?;
            let pools = migration_pools(ctx.sdk);
            let limits = RateLimits::new(Rates::default());
            crate::verify::verify(ctx, &registry, &pools, &limits, &job).await
        }
    }
}

/// `MIGRATION_BUCKET`: the migration state machine's bucket (published by the infra).
fn manifest_bucket(env: &dyn shared::config::Source) -> Option<String> {
    env.get("MIGRATION_BUCKET")
}

/// Writes the job's manifest; returns its key and how many organizations it lists.
async fn write_manifest(
    launcher: &MigrationLauncher,
    registry: &DynamoRegistry,
    job: &str,
) -> Result<(String, usize), Error> {
    let items = manifest_items(&registry.checkpoints(job).await?);
    let key = launcher.write_manifest(job, &items).await?;
    Ok((key, items.len()))
}

/// `migrate start`: the manifest afresh, then an execution over it, unless one is running.
async fn start(ctx: &Context<'_>, registry: &DynamoRegistry, id: &str) -> Result<Exit, CliError> {
    let env = &shared::config::ProcessEnv;
    let bucket = manifest_bucket(env).ok_or(shared::config::ConfigError::Missing {
        name: "MIGRATION_BUCKET",
        purpose: "the migration state machine's bucket, where the job's manifest goes (stack output MigrationBucketName)",
    })?;
    let state_machine =
        env.get("MIGRATION_STATE_MACHINE_ARN")
            .ok_or(shared::config::ConfigError::Missing {
                name: "MIGRATION_STATE_MACHINE_ARN",
                purpose:
                    "the migration state machine to start (stack output MigrationStateMachineArn)",
            })?;
    let job = find_job(registry, id).await?;
    if !job.staged {
        return Err(Error::not_allowed(
            format!("start job {id} on the state machine"),
            "its people are not staged yet: run `tenantctl migrate run ... --stage-only` first",
        )
        .into());
    }
    let launcher = MigrationLauncher::new(ctx.sdk, &bucket);
    if let Some(running) = launcher.running_execution(&state_machine, id).await? {
        return Err(Error::not_allowed(
            format!("start job {id} on the state machine"),
            format!("an execution of it is running ({running}); `tenantctl migrate status --job {id}` follows it"),
        )
        .into());
    }
    let (key, count) = write_manifest(&launcher, registry, id).await?;
    let execution = if count == 0 {
        None
    } else {
        Some(launcher.start(&state_machine, id).await?)
    };
    if ctx.json {
        print_json(&json!({
            "job": id,
            "manifest": {"bucket": bucket, "key": key, "organizations": count},
            "execution_arn": execution,
        }));
    } else {
        println!("manifest: s3://{bucket}/{key} ({count} organizations to migrate)");
        match &execution {
            Some(arn) => println!(
                "execution started: {arn}\n`tenantctl migrate status --job {id}` shows its progress; `tenantctl migrate report --job {id}` what was not migrated"
            ),
            None => println!("nothing to migrate: every organization of job {id} is settled; no execution started"),
        }
    }
    Ok(0)
}

/// A checked source.
pub struct Plan {
    pub planner: Planner,
    pub records: Vec<RecordProblem>,
    pub summary: PlanSummary,
    /// Legacy ids of organizations not selected (their problems do not count).
    pub only: Vec<String>,
}

impl Plan {
    fn selected(&self, legacy_id: &str) -> bool {
        self.only.is_empty()
            || self.only.iter().any(|o| {
                o == legacy_id
                    || self
                        .planner
                        .orgs
                        .get(legacy_id)
                        .and_then(|e| e.record.as_ref())
                        .is_some_and(|r| r.subdomain == *o)
            })
    }

    pub fn clean(&self) -> bool {
        let orgs_ok = self
            .planner
            .orgs
            .iter()
            .filter(|(id, e)| e.record.is_some() && self.selected(id))
            .all(|(_, e)| e.problems.is_empty());
        let records_ok = self.records.iter().all(|r| {
            r.problems
                .iter()
                .all(|p| p.rule == "organization_not_migrated")
                || r.organization.as_deref().is_some_and(|o| !self.selected(o))
        });
        orgs_ok && records_ok
    }
}

/// Passes 1 and 2 over the source: every problem, nothing written.
pub async fn plan(
    spec: &SourceSpec,
    pools: &CognitoPools,
    limits: &RateLimits,
    registry: &dyn Registry,
    only: &[String],
    kept: &[OrgCheckpoint],
) -> Result<Plan, Error> {
    let mut planner = match spec {
        SourceSpec::File(_) => Planner::new(),
        SourceSpec::LegacyPool { .. } => Planner::with_implicit_organizations(),
    };
    let mut reader = SourceReader::open(spec, pools, limits)?;
    while let Some((position, record)) = reader.next().await? {
        planner.observe(&position, &record);
    }
    planner.check_organizations(registry).await?;
    planner.keep_verdicts(kept);
    planner.start_classifying();
    let mut records = Vec::new();
    let mut reader = SourceReader::open(spec, pools, limits)?;
    while let Some((position, record)) = reader.next().await? {
        match planner.classify(&position, record) {
            Verdict::OrganizationSkipped(p) => records.push(p),
            // People of an organization that is not migrated: the organization's problem
            // is reported once, not once per person.
            Verdict::PersonSkipped(p)
                if !p
                    .problems
                    .iter()
                    .all(|p| p.rule == "organization_not_migrated") =>
            {
                records.push(p)
            }
            _ => {}
        }
    }
    let summary = planner.summary();
    Ok(Plan {
        planner,
        records,
        summary,
        only: only.to_vec(),
    })
}

fn print_plan(json: bool, plan: &Plan) {
    let orgs: Vec<_> = plan
        .planner
        .orgs
        .iter()
        .filter(|(_, e)| e.record.is_some())
        .map(|(id, e)| {
            let r = e.record.as_ref();
            json!({
                "legacy_id": id,
                "subdomain": r.map(|r| r.subdomain.clone()),
                "name": r.map(|r| r.name.clone()),
                "people": e.valid_people,
                "active": e.valid_active,
                "selected": plan.selected(id),
                "problems": e.problems,
            })
        })
        .collect();
    if json {
        print_json(&json!({
            "clean": plan.clean(),
            "summary": plan.summary,
            "organizations": orgs,
            "records": plan.records,
        }));
        return;
    }
    let s = &plan.summary;
    println!(
        "{} organizations ({} valid), {} people ({} valid, {} of them active)",
        s.organizations, s.organizations_valid, s.people, s.people_valid, s.active_people_valid
    );
    for (id, e) in plan.planner.orgs.iter().filter(|(_, e)| e.record.is_some()) {
        for p in &e.problems {
            let sub = e
                .record
                .as_ref()
                .map(|r| r.subdomain.as_str())
                .unwrap_or("");
            match &p.suggestion {
                Some(s) => println!(
                    "organization {id} ({sub}): [{}] {} — suggestion: {s}",
                    p.rule, p.message
                ),
                None => println!("organization {id} ({sub}): [{}] {}", p.rule, p.message),
            }
        }
    }
    for r in &plan.records {
        for p in &r.problems {
            println!(
                "{}{}: [{}] {}",
                r.position,
                r.username
                    .as_deref()
                    .map(|u| format!(" ({u})"))
                    .unwrap_or_default(),
                p.rule,
                p.message
            );
        }
    }
    println!(
        "{}",
        if plan.clean() {
            "The source is clean: `tenantctl migrate run` can migrate it."
        } else {
            "The source has problems (above): `migrate run` refuses it unless --skip-invalid."
        }
    );
}

/// Pass 3: the job, a checkpoint per organization, every valid person staged and every
/// skipped record stored. Safe to repeat (a run killed while staging stages again).
async fn record_job(
    store: &DynamoRegistry,
    job: &MigrationJob,
    planner: &Planner,
) -> Result<(), Error> {
    if let Some(existing) = store.create_job(job).await? {
        if !existing.same_request(job) {
            return Err(Error::Conflict {
                what: "migration job",
                key: job.id.clone(),
            });
        }
    }
    progress(&format!("job {}: recording organizations", job.id));
    for entry in planner.orgs.values() {
        let Some(org) = &entry.record else { continue };
        let chosen = job.selects(org);
        let phase = match (chosen, entry.migratable()) {
            (false, _) => OrgPhase::NotSelected,
            (true, true) => OrgPhase::Pending,
            (true, false) => OrgPhase::Skipped,
        };
        let mut cp = OrgCheckpoint::new(&job.id, org, phase, entry.valid_people);
        cp.problems = entry.problems.clone();
        store.create_checkpoint(&cp).await?;
    }
    Ok(())
}

/// Pass 3: every valid person of the selected organizations staged, every skipped record
/// stored, then the job marked staged.
async fn stage_people(
    spec: &SourceSpec,
    pools: &CognitoPools,
    limits: &RateLimits,
    store: &DynamoRegistry,
    job: &MigrationJob,
    mut planner: Planner,
) -> Result<(), Error> {
    let selected: HashMap<String, bool> = planner
        .orgs
        .iter()
        .filter_map(|(id, e)| {
            let org = e.record.as_ref()?;
            Some((id.clone(), job.selects(org) && e.migratable()))
        })
        .collect();
    progress(&format!("job {}: staging people", job.id));
    // Records skipped by an earlier staging of this job: one now staged (its organization
    // became the job's) must leave the report.
    let mut skipped_before: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.skipped(&job.id, cursor.as_deref(), 500).await?;
        skipped_before.extend(page.items.iter().map(|r| r.ordinal));
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let mut no_longer_skipped: Vec<u64> = Vec::new();
    planner.start_classifying();
    let mut reader = SourceReader::open(spec, pools, limits)?;
    let mut people: HashMap<String, Vec<StagedPerson>> = HashMap::new();
    let mut skipped: Vec<SkippedRecord> = Vec::new();
    let mut ordinal = 0u64;
    let mut staged = 0u64;
    while let Some((position, record)) = reader.next().await? {
        ordinal += 1;
        let org_of = |r: &Result<SourceRecord, String>| match r {
            Ok(SourceRecord::Person(p)) => Some(p.organization.clone()),
            _ => None,
        };
        let in_job = org_of(&record).is_none_or(|o| {
            planner
                .orgs
                .get(&o)
                .and_then(|e| e.record.as_ref())
                .is_none_or(|org| job.selects(org))
        });
        match planner.classify(&position, record) {
            Verdict::Person { legacy_id, person } if selected.get(&legacy_id) == Some(&true) => {
                if skipped_before.contains(&ordinal) {
                    no_longer_skipped.push(ordinal);
                }
                let batch = people.entry(legacy_id.clone()).or_default();
                batch.push(*person);
                if batch.len() >= 25 {
                    store.stage_people(&job.id, &legacy_id, batch).await?;
                    staged += batch.len() as u64;
                    batch.clear();
                }
            }
            Verdict::Person { .. } | Verdict::Organization { .. } => {}
            Verdict::PersonSkipped(p) | Verdict::OrganizationSkipped(p) if in_job => {
                skipped.push(SkippedRecord {
                    ordinal,
                    position: p.position,
                    organization: p.organization,
                    username: p.username,
                    problems: p.problems,
                });
                if skipped.len() >= 25 {
                    store.record_skipped(&job.id, &skipped).await?;
                    skipped.clear();
                }
            }
            Verdict::PersonSkipped(_) | Verdict::OrganizationSkipped(_) => {}
        }
        if ordinal.is_multiple_of(20_000) {
            progress(&format!("staged {staged} people ({ordinal} records read)"));
        }
    }
    for (legacy_id, batch) in people.iter().filter(|(_, b)| !b.is_empty()) {
        store.stage_people(&job.id, legacy_id, batch).await?;
        staged += batch.len() as u64;
    }
    if !skipped.is_empty() {
        store.record_skipped(&job.id, &skipped).await?;
    }
    store.forget_skipped(&job.id, &no_longer_skipped).await?;
    let mut done = job.clone();
    done.staged = true;
    store.save_job(&done).await?;
    progress(&format!("job {}: {staged} people staged", job.id));
    Ok(())
}

/// Records the job and its checkpoints, creates the organizations' pools (unless the Lambda
/// worker will: `--stage-only`), then stages the people. Pools first: while the registry is
/// small, and so that people wait for no pool.
#[allow(clippy::too_many_arguments)]
async fn prepare(
    ctx: &Context<'_>,
    spec: &SourceSpec,
    pools: &CognitoPools,
    limits: &RateLimits,
    registry: &DynamoRegistry,
    job: &MigrationJob,
    planner: Planner,
    provision: bool,
    concurrency: usize,
) -> Result<(), CliError> {
    record_job(registry, job, &planner).await?;
    if provision {
        let env = &shared::config::ProcessEnv;
        let config = shared::config::ProvisioningConfig::from_env(env)?;
        let mailer = crate::wiring::mailer(ctx.sdk, env)?;
        let paced = Paced {
            inner: pools,
            limits,
        };
        let deps = MigrationDeps::over(registry, &paced, &mailer, &config, &ctx.actor)
            .holding_leases_as(crate::runs::this_process());
        let pending: Vec<String> = registry
            .checkpoints(&job.id)
            .await?
            .into_iter()
            .filter(|c| matches!(c.phase, OrgPhase::Pending | OrgPhase::Failed))
            .map(|c| c.legacy_id)
            .collect();
        progress(&format!(
            "job {}: creating {} organizations",
            job.id,
            pending.len()
        ));
        let results: Vec<(String, Result<_, Error>)> = stream::iter(pending.iter())
            .map(|id| {
                let deps = &deps;
                async move { (id.clone(), provision_organization(deps, job, id).await) }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        for (id, r) in results {
            if let Err(e) = r {
                // Tried again with its people; recorded in its checkpoint.
                progress(&format!("organization {id} could not be created yet: {e}"));
            }
        }
    }
    stage_people(spec, pools, limits, registry, job, planner).await?;
    Ok(())
}

/// Attempts of an organization stopped by a passing error (about eight minutes of pauses).
const ATTEMPTS: u64 = 30;

/// Migrates every organization of the job that is not settled, `concurrency` at once; one
/// organization's failure never stops the others. Progress on stderr.
async fn migrate_all(
    ctx: &Context<'_>,
    registry: &DynamoRegistry,
    pools: &CognitoPools,
    limits: &RateLimits,
    job: &MigrationJob,
    concurrency: usize,
) -> Result<Exit, CliError> {
    let env = &shared::config::ProcessEnv;
    let config = shared::config::ProvisioningConfig::from_env(env)?;
    let mailer = crate::wiring::mailer(ctx.sdk, env)?;
    let paced = Paced {
        inner: pools,
        limits,
    };
    // `concurrency` organizations' batches at Cognito at once, and as many more starting,
    // writing their records or switching meanwhile: the quota never waits for DynamoDB.
    let turns = tokio::sync::Semaphore::new(concurrency.max(1));
    let deps = MigrationDeps::over(registry, &paced, &mailer, &config, &ctx.actor)
        .taking_turns(&turns)
        .holding_leases_as(crate::runs::this_process());
    let checkpoints = registry.checkpoints(&job.id).await?;
    let todo: Vec<&OrgCheckpoint> = checkpoints.iter().filter(|c| !c.phase.settled()).collect();
    let people_total: u64 = todo
        .iter()
        .map(|c| {
            c.people_total
                .saturating_sub(c.people_done + c.people_failed)
        })
        .sum();
    let counters = Arc::new(Counters::default());
    let ticker = tokio::spawn(show_progress(
        counters.clone(),
        todo.len() as u64,
        people_total,
    ));
    // A run killed a moment ago still holds its organization's lease (a minute at most, two
    // for a pool being created): such organizations are tried again after a pause.
    // Each organization stopped by a passing error is tried again by itself after a pause,
    // while the others go on.
    let todo: Vec<String> = todo.iter().map(|c| c.legacy_id.clone()).collect();
    let mut results: Vec<(String, Result<bool, Error>)> = stream::iter(todo.iter())
        .map(|legacy_id| {
            let deps = &deps;
            let counters = &counters;
            async move {
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    let r = migrate_organization(deps, job, legacy_id, None, counters)
                        .await
                        .map(|r| r.finished);
                    let e = match &r {
                        Err(e) if transient(e) && attempt < ATTEMPTS => e,
                        _ => return (legacy_id.clone(), r),
                    };
                    let pause = match e {
                        Error::InProgress { .. } => 15,
                        _ => (3 * attempt).min(20),
                    };
                    progress(&format!(
                        "organization {legacy_id} stopped on a passing error ({e}); trying it again in {pause} s"
                    ));
                    tokio::time::sleep(Duration::from_secs(pause)).await;
                }
            }
        })
        .buffer_unordered(concurrency.max(1) * 2)
        .collect()
        .await;
    // A checkpoint write lost on the way (seen against an overloaded moto) leaves an
    // organization unsettled although its attempt ended well: one more pass settles it from
    // the registry (a switched organization is only marked so).
    let unsettled: Vec<String> = registry
        .checkpoints(&job.id)
        .await?
        .into_iter()
        .filter(|c| !c.phase.settled() && c.phase != OrgPhase::Failed)
        .map(|c| c.legacy_id)
        .collect();
    for legacy_id in &unsettled {
        let mut r = Ok(false);
        // Its own lease, written by the attempt whose last write was lost, runs out first.
        for _ in 0..6 {
            r = migrate_organization(&deps, job, legacy_id, None, &counters)
                .await
                .map(|r| r.finished);
            if !matches!(r, Err(Error::InProgress { .. })) {
                break;
            }
            tokio::time::sleep(Duration::from_secs(15)).await;
        }
        if let Some(slot) = results.iter_mut().find(|(id, _)| id == legacy_id) {
            slot.1 = r;
        }
    }
    for (legacy_id, r) in &results {
        if let Err(e) = r {
            progress(&format!(
                "organization {legacy_id} stopped: {e}; `tenantctl migrate resume --job {}` tries again",
                job.id
            ));
        }
    }
    ticker.abort();
    let failed_orgs = results.iter().filter(|(_, r)| r.is_err()).count();
    tracing::info!(
        throttled = limits.throttled(),
        failed_orgs,
        "migration pass finished"
    );
    progress(&format!(
        "done: {} organizations, {} people in this pass; Cognito throttled {} times (waited out)",
        counters.orgs_done.load(Ordering::Relaxed),
        counters.people_done.load(Ordering::Relaxed),
        limits.throttled()
    ));
    let exit = status(ctx, registry, &job.id).await?;
    Ok(exit)
}

async fn show_progress(counters: Arc<Counters>, orgs: u64, people: u64) {
    let start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let done = counters.people_done.load(Ordering::Relaxed)
            + counters.people_failed.load(Ordering::Relaxed);
        let secs = start.elapsed().as_secs_f64();
        let rate = done as f64 / secs.max(0.001);
        let left = if rate > 0.0 {
            let s = (people.saturating_sub(done) as f64 / rate) as u64;
            format!("about {}m{:02}s left", s / 60, s % 60)
        } else {
            "time left unknown".into()
        };
        progress(&format!(
            "organizations {}/{orgs} · people {done}/{people} · {rate:.1}/s · {left}",
            counters.orgs_done.load(Ordering::Relaxed)
        ));
    }
}

#[derive(Serialize)]
struct PhaseCount {
    phase: OrgPhase,
    organizations: u64,
}

/// Exit 0 when every organization of the job that can be migrated is switched and nobody
/// failed; 1 otherwise.
async fn status(ctx: &Context<'_>, store: &DynamoRegistry, id: &str) -> Result<Exit, CliError> {
    let job = find_job(store, id).await?;
    let checkpoints = store.checkpoints(id).await?;
    let mut phases: Vec<PhaseCount> = Vec::new();
    for cp in &checkpoints {
        match phases.iter_mut().find(|p| p.phase == cp.phase) {
            Some(p) => p.organizations += 1,
            None => phases.push(PhaseCount {
                phase: cp.phase,
                organizations: 1,
            }),
        }
    }
    let total: u64 = checkpoints
        .iter()
        .filter(|c| c.phase != OrgPhase::NotSelected && c.phase != OrgPhase::Skipped)
        .map(|c| c.people_total)
        .sum();
    let done: u64 = checkpoints.iter().map(|c| c.people_done).sum();
    let failed: u64 = checkpoints.iter().map(|c| c.people_failed).sum();
    let logins: u64 = checkpoints.iter().map(|c| c.logins_created).sum();
    let left = what_is_left(store, &job, &checkpoints).await?;
    let complete = left.nothing() && failed == 0;
    if ctx.json {
        print_json(&json!({
            "job": job,
            "complete": complete,
            "left": left,
            "phases": phases,
            "people": {"total": total, "done": done, "failed": failed, "logins_created": logins},
            "organizations": checkpoints.iter().map(|c| json!({
                "legacy_id": c.legacy_id,
                "subdomain": c.organization.subdomain,
                "org_id": c.org_id,
                "phase": c.phase,
                "people_total": c.people_total,
                "people_done": c.people_done,
                "people_failed": c.people_failed,
                "logins_created": c.logins_created,
                "error": c.error,
            })).collect::<Vec<_>>(),
        }));
    } else {
        println!(
            "job {} ({} mode, source {}): {}",
            job.id,
            job.mode,
            job.source,
            if complete { "complete" } else { "not complete" }
        );
        for p in &phases {
            println!(
                "  {:<13} {} organizations",
                p.phase.to_string(),
                p.organizations
            );
        }
        println!("  people: {done} of {total} done, {failed} failed, {logins} logins created");
        if !job.staged {
            println!("  left: the source is not fully staged yet");
        }
        for o in &left.organizations {
            println!(
                "  left: {} ({}): {}, {} of {} people migrated or refused{}",
                o.subdomain,
                o.legacy_id,
                o.phase,
                o.people_settled,
                o.people_total,
                o.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
        }
        if left.records_wrongly_skipped > 0 {
            println!(
                "  left: {} records skipped as organization_not_migrated although their organization is the job's (`migrate resume` stages them)",
                left.records_wrongly_skipped
            );
        }
        if failed > 0 {
            println!("  {failed} people failed: `tenantctl migrate report --job {}` lists them with the reason", job.id);
        }
        if !complete {
            println!(
                "  `tenantctl migrate resume --job {}` carries on what is left",
                job.id
            );
        }
    }
    Ok(if complete { 0 } else { 1 })
}

/// An organization whose migration is not finished.
#[derive(Serialize)]
struct OrgLeft {
    legacy_id: String,
    subdomain: String,
    phase: OrgPhase,
    people_total: u64,
    /// Migrated or refused for a reason of their own.
    people_settled: u64,
    error: Option<String>,
}

/// What keeps a job from being complete (people who failed aside).
#[derive(Serialize)]
struct Left {
    staged: bool,
    organizations: Vec<OrgLeft>,
    /// People of organizations taken on by the job, neither migrated nor refused yet.
    people_pending: u64,
    /// Records skipped because their organization "was not migrated" while it is the job's:
    /// never a final state (a resume stages them).
    records_wrongly_skipped: u64,
}

impl Left {
    fn nothing(&self) -> bool {
        self.staged
            && self.organizations.is_empty()
            && self.people_pending == 0
            && self.records_wrongly_skipped == 0
    }
}

async fn what_is_left(
    store: &DynamoRegistry,
    job: &MigrationJob,
    checkpoints: &[OrgCheckpoint],
) -> Result<Left, Error> {
    let taken_on =
        |c: &OrgCheckpoint| !matches!(c.phase, OrgPhase::Skipped | OrgPhase::NotSelected);
    let organizations: Vec<OrgLeft> = checkpoints
        .iter()
        .filter(|c| {
            !c.phase.settled()
                || (c.phase == OrgPhase::Switched
                    && c.people_done + c.people_failed != c.people_total)
        })
        .map(|c| OrgLeft {
            legacy_id: c.legacy_id.clone(),
            subdomain: c.organization.subdomain.clone(),
            phase: c.phase,
            people_total: c.people_total,
            people_settled: c.people_done + c.people_failed,
            error: c.error.clone(),
        })
        .collect();
    let people_pending = checkpoints
        .iter()
        .filter(|c| taken_on(c) && c.phase != OrgPhase::RolledBack)
        .map(|c| {
            c.people_total
                .saturating_sub(c.people_done + c.people_failed)
        })
        .sum();
    let ours: std::collections::HashSet<&str> = checkpoints
        .iter()
        .filter(|c| taken_on(c))
        .map(|c| c.legacy_id.as_str())
        .collect();
    let records_wrongly_skipped = all_skipped(store, &job.id)
        .await?
        .iter()
        .filter(|r| {
            r.organization.as_deref().is_some_and(|o| ours.contains(o))
                && r.problems
                    .iter()
                    .all(|p| p.rule == "organization_not_migrated")
        })
        .count() as u64;
    Ok(Left {
        staged: job.staged,
        organizations,
        people_pending,
        records_wrongly_skipped,
    })
}

async fn report(ctx: &Context<'_>, store: &DynamoRegistry, id: &str) -> Result<Exit, CliError> {
    let job = find_job(store, id).await?;
    let checkpoints = store.checkpoints(id).await?;
    let skipped = all_skipped(store, id).await?;
    let failures = all_failures(store, id).await?;
    let not_migrated: Vec<&OrgCheckpoint> = checkpoints
        .iter()
        .filter(|c| c.phase != OrgPhase::Switched && c.phase != OrgPhase::NotSelected)
        .collect();
    let migrated = checkpoints
        .iter()
        .filter(|c| c.phase == OrgPhase::Switched)
        .count();
    let people_done: u64 = checkpoints.iter().map(|c| c.people_done).sum();
    if ctx.json {
        print_json(&json!({
            "job": job,
            "summary": {
                "organizations": checkpoints.len(),
                "organizations_migrated": migrated,
                "organizations_not_migrated": not_migrated.len(),
                "people_migrated": people_done,
                "records_skipped": skipped.len(),
                "people_failed": failures.len(),
            },
            "organizations_not_migrated": not_migrated.iter().map(|c| json!({
                "legacy_id": c.legacy_id,
                "subdomain": c.organization.subdomain,
                "phase": c.phase,
                "problems": c.problems,
                "error": c.error,
            })).collect::<Vec<_>>(),
            "records_skipped": skipped,
            "people_failed": failures,
        }));
    } else {
        println!(
            "job {}: {migrated} of {} organizations migrated, {people_done} people; {} records skipped, {} people failed",
            job.id,
            checkpoints.len(),
            skipped.len(),
            failures.len()
        );
        for c in &not_migrated {
            let why = c.error.clone().unwrap_or_else(|| {
                c.problems
                    .iter()
                    .map(|p| format!("[{}] {}", p.rule, p.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            println!(
                "organization {} ({}): {} — {why}",
                c.organization.subdomain, c.legacy_id, c.phase
            );
        }
        for r in &skipped {
            let why: Vec<String> = r
                .problems
                .iter()
                .map(|p| format!("[{}] {}", p.rule, p.message))
                .collect();
            println!(
                "skipped {}{}{}: {}",
                r.position,
                r.organization
                    .as_deref()
                    .map(|o| format!(" organization {o}"))
                    .unwrap_or_default(),
                r.username
                    .as_deref()
                    .map(|u| format!(" {u}"))
                    .unwrap_or_default(),
                why.join("; ")
            );
        }
        for f in &failures {
            println!(
                "failed {} of organization {}: [{}] {}",
                f.username, f.legacy_id, f.code, f.reason
            );
        }
    }
    Ok(if not_migrated.is_empty() && failures.is_empty() {
        0
    } else {
        1
    })
}
