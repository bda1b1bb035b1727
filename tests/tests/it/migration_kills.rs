//! Issue 20: a kill at any moment loses nobody. `tenantctl migrate run` is killed with
//! SIGKILL at one moment of every phase (recording organizations, creating pools, staging
//! people, creating logins, adding groups, recording people, switching), each time on a
//! small source of its own, then `migrate resume` finishes the job, and `migrate verify`
//! finds no difference, with exact counts against the source. The Lambda worker's item is
//! killed mid-organization and invoked again, as the Distributed Map's retry would.
//!
//! The kills are deterministic, from outside: tenantctl talks to moto through a proxy
//! (`integration_tests::tripwire`) that kills it when the n-th request of the phase's
//! operation passes, before moto does it or after moto did it but before the answer returns.
//! tenantctl has no code path of its own for this.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integration_tests::tripwire::{Rule, Tripwire, Victim};
use integration_tests::{tenantctl_json as json, tenantctl_path, LocalAws, TempDir};
use serde_json::Value;
use shared::domain::ports::MigrationStore;

const TABLE: &str = "signin";
const ORGS: usize = 3;
const PEOPLE: usize = 8;
/// Every organization also has two bad records: an invalid address and a duplicate username.
const BAD: usize = 2;

/// A small source: `ORGS` organizations of `PEOPLE` valid people (three in four active) and
/// `BAD` refused records each, under subdomains of its own (`<tag>-org<i>`).
fn write_source(dir: &std::path::Path, tag: &str, orgs: usize, people: usize) -> String {
    let mut lines = Vec::new();
    for i in 0..orgs {
        lines.push(
            serde_json::json!({"kind":"organization","id":format!("{tag}-{i}"),
            "name":format!("{tag} {i}"),"subdomain":format!("{tag}-org{i}"),
            "email_domains":[format!("{tag}{i}.test")],"mfa":"off","seats":50}),
        );
    }
    for j in 0..people {
        for i in 0..orgs {
            let roles = if j == 0 {
                vec!["admin", "member"]
            } else {
                vec!["member"]
            };
            lines.push(
                serde_json::json!({"kind":"person","organization":format!("{tag}-{i}"),
                "username":format!("p{j}"),"email":format!("p{j}@{tag}{i}.test"),
                "given_name":"Given","family_name":"Family","roles":roles,"active":j % 4 != 0}),
            );
        }
    }
    for i in 0..orgs {
        lines.push(
            serde_json::json!({"kind":"person","organization":format!("{tag}-{i}"),
            "username":"bad","email":"not an address","roles":["member"],"active":true}),
        );
        lines.push(serde_json::json!({"kind":"person","organization":format!("{tag}-{i}"),
            "username":"P1","email":format!("other@{tag}{i}.test"),"roles":["member"],"active":true}));
    }
    let path = dir.join(format!("{tag}.jsonl"));
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(&path, text.join("\n")).expect("write the source");
    path.to_str().expect("utf-8").to_owned()
}

const FAST: [&str; 6] = [
    "--rate",
    "1000",
    "--update-rate",
    "1000",
    "--pool-rate",
    "1000",
];

/// After the resume: complete, verify without a difference, counts exactly the source's.
fn assert_whole(env: &[(String, String)], job: &str, orgs: usize, people: usize, label: &str) {
    let valid = (orgs * people) as u64;
    let active = (orgs * people * 3 / 4) as u64;
    let status = json(env, &["migrate", "status", "--job", job], 0);
    assert_eq!(status["complete"], true, "{label}: {status}");
    assert_eq!(status["people"]["done"], valid, "{label}: {status}");
    assert_eq!(status["people"]["failed"], 0, "{label}: {status}");
    assert_eq!(
        status["people"]["logins_created"], active,
        "{label}: {status}"
    );
    let verified = json(env, &["migrate", "verify", "--job", job], 0);
    assert_eq!(verified["clean"], true, "{label}: {verified}");
    assert_eq!(verified["source"], "read", "{label}");
    let totals = &verified["totals"];
    assert_eq!(
        totals["source_people"],
        valid + (orgs * BAD) as u64,
        "{label}: {totals}"
    );
    assert_eq!(totals["refused"], (orgs * BAD) as u64, "{label}: {totals}");
    assert_eq!(totals["expected_people"], valid, "{label}: {totals}");
    assert_eq!(totals["registry_people"], valid, "{label}: {totals}");
    assert_eq!(totals["cognito_users"], active, "{label}: {totals}");
    for o in verified["organizations"].as_array().expect("orgs") {
        assert_eq!(o["phase"], "switched", "{label}: {o}");
        assert_eq!(o["registry_people"], people as u64, "{label}: {o}");
    }
    // The report lists the refused records with their own reasons, nothing else.
    let report = json(env, &["migrate", "report", "--job", job], 0);
    let skipped = report["records_skipped"].as_array().expect("skipped");
    assert_eq!(skipped.len(), orgs * BAD, "{label}: {report}");
    for r in skipped {
        let rules: Vec<&str> = r["problems"]
            .as_array()
            .expect("problems")
            .iter()
            .filter_map(|p| p["rule"].as_str())
            .collect();
        assert!(
            rules == ["invalid_email"] || rules == ["duplicate_username"],
            "{label}: {r}"
        );
    }
    assert_eq!(report["summary"]["organizations_migrated"], orgs as u64);
}

/// One kill point: the phase, the moment, and what must show that the kill came there.
struct KillPoint {
    phase: &'static str,
    rule: Rule,
}

fn rule(operation: &'static str, body: &[&str], nth: u64, after: bool) -> Rule {
    Rule {
        operation,
        body: body.iter().map(|s| s.to_string()).collect(),
        nth,
        after,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_in_any_phase_resumes_without_losing_anybody() {
    let started = Instant::now();
    let aws = LocalAws::start();
    let env = aws.env(TABLE);
    json(&env, &["setup"], 0);
    let tripwire = Tripwire::start(aws.port()).await;
    let mut through_proxy = env.clone();
    for (k, v) in through_proxy.iter_mut() {
        if k == "AWS_ENDPOINT_URL" {
            *v = tripwire.endpoint.clone();
        }
    }
    let dir = TempDir::new("migration-kills");
    let points = |job: &str| {
        let staged = format!("\"S\":\"JOB#{job}#ORG#");
        let checkpoint = format!("\"S\":\"JOB#{job}\"");
        vec![
            KillPoint {
                phase: "recording organizations",
                rule: rule("PutItem", &[&checkpoint, "\"S\":\"ORG#"], 2, true),
            },
            KillPoint {
                // The case: the organization's record is written, its pool not yet;
                // the dead run holds both leases.
                phase: "creating pools (before the pool)",
                rule: rule("CreateUserPool", &[], 1, false),
            },
            KillPoint {
                // A pool the registry never learnt of: adopted by its name.
                phase: "creating pools (after the pool)",
                rule: rule("CreateUserPool", &[], 2, true),
            },
            KillPoint {
                phase: "staging people",
                rule: rule("BatchWriteItem", &[&staged], 1, true),
            },
            KillPoint {
                phase: "creating logins",
                rule: rule("AdminCreateUser", &[], 5, true),
            },
            KillPoint {
                phase: "adding groups",
                rule: rule("AdminAddUserToGroup", &[], 7, false),
            },
            KillPoint {
                phase: "recording people",
                rule: rule("PutItem", &["person.migrated"], 3, true),
            },
            KillPoint {
                // Switched in the registry, not yet in the checkpoint.
                phase: "switching",
                rule: rule("PutItem", &["\"switched\":{\"BOOL\":true}"], 1, true),
            },
        ]
    };
    for n in 0..8 {
        let tag = format!("k{n}");
        let job = format!("kill{n}");
        let point = points(&job).remove(n);
        let source = write_source(&dir.0, &tag, ORGS, PEOPLE);
        let mut args = vec![
            "migrate",
            "run",
            "--source",
            &source,
            "--job",
            &job,
            "--skip-invalid",
        ];
        args.extend(FAST);
        let child = Command::new(tenantctl_path())
            .args(&args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(through_proxy.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tenantctl runs");
        let child = Arc::new(Mutex::new(child));
        tripwire.arm(point.rule, Victim::Process(child.clone()));
        let tripped = tripwire.tripped_within(Duration::from_secs(60)).await;
        tripwire.disarm();
        let status = child
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .wait()
            .expect("reaped");
        assert!(
            tripped,
            "{}: the run never reached its kill point ({status})",
            point.phase
        );
        assert_eq!(
            status.signal(),
            Some(9),
            "{}: killed with SIGKILL",
            point.phase
        );
        let killed = json(&env, &["migrate", "status", "--job", &job], 1);
        assert_eq!(killed["complete"], false, "{}: {killed}", point.phase);

        let mut resume = vec!["migrate", "resume", "--job", &job];
        resume.extend(FAST);
        let resumed = json(&env, &resume, 0);
        assert_eq!(resumed["complete"], true, "{}: {resumed}", point.phase);
        assert_whole(&env, &job, ORGS, PEOPLE, point.phase);
        eprintln!(
            "{}: killed, resumed, verified after {:?}",
            point.phase,
            started.elapsed()
        );
    }

    // verify names what is missing: a person of a finished job removed from the registry.
    let registry = shared::aws::dynamodb::DynamoRegistry::new(&aws.sdk().await, TABLE);
    let cp = registry
        .checkpoint("kill0", "k0-0")
        .await
        .expect("read")
        .expect("checkpoint");
    let org_id = cp.org_id.expect("created");
    let sdk = aws.sdk().await;
    aws_sdk_dynamodb::Client::new(&sdk)
        .delete_item()
        .table_name(TABLE)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#{org_id}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("PERSON#p3".into()),
        )
        .send()
        .await
        .expect("deleted");
    let found = json(&env, &["migrate", "verify", "--job", "kill0"], 1);
    assert_eq!(found["clean"], false);
    let org = found["organizations"]
        .as_array()
        .expect("orgs")
        .iter()
        .find(|o| o["legacy_id"] == "k0-0")
        .expect("k0-0");
    let kinds: Vec<(&str, &str)> = org["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or(""),
                d["username"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(kinds.contains(&("missing_in_registry", "p3")), "{kinds:?}");
    assert!(kinds.contains(&("login_without_person", "p3")), "{kinds:?}");
    assert_eq!(org["registry_people"], (PEOPLE - 1) as u64);
    eprintln!("whole test took {:?}", started.elapsed());
}

/// The Step Functions side: the worker's invocation for one organization of a staged
/// invite-mode job is killed mid-organization (its task aborted while a group addition is at
/// Cognito), then invoked again as the map's retry would: it waits out the dead invocation's
/// lease (a retry cannot prove it dead), finishes the organization, and verify finds no
/// difference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_killed_mid_organization_is_finished_by_the_retry() {
    let aws = LocalAws::start();
    let env = aws.env(TABLE);
    json(&env, &["setup"], 0);
    let dir = TempDir::new("migration-worker-kill");
    let source = write_source(&dir.0, "wk", 1, 24);
    let staged = json(
        &env,
        &[
            "migrate",
            "run",
            "--source",
            &source,
            "--job",
            "wk1",
            "--skip-invalid",
            "--stage-only",
        ],
        1,
    );
    assert_eq!(staged["job"]["staged"], true);

    struct Env(Vec<(String, String)>);
    impl shared::config::Source for Env {
        fn get(&self, name: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }
    let tripwire = Tripwire::start(aws.port()).await;
    let sdk_at = |endpoint: String| async move {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(integration_tests::REGION))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_cognitoidentityprovider::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .load()
            .await
    };
    let deps_at = |sdk: aws_config::SdkConfig| {
        Arc::new(
            tenant_migration::wiring::ProvisioningDeps::new(&sdk, &Env(env.clone())).expect("deps"),
        )
    };
    let invoke = || {
        let mut context = lambda_runtime::Context::default();
        context.request_id = "req-kill".into();
        context.deadline = (std::time::SystemTime::now() + Duration::from_secs(900))
            .duration_since(std::time::UNIX_EPOCH)
            .expect("now")
            .as_millis() as u64;
        let event = serde_json::json!({"action": "migrate_organization", "job": "wk1",
            "organization": {"id": "wk-0", "name": "wk 0", "subdomain": "wk-org0"}});
        lambda_runtime::LambdaEvent::new(
            serde_json::from_value::<tenant_migration::handler::WorkerEvent>(event)
                .expect("a worker event"),
            context,
        )
    };

    let doomed = deps_at(sdk_at(tripwire.endpoint.clone()).await);
    let task = tokio::spawn({
        let event = invoke();
        async move {
            tenant_migration::handler::handle(&doomed, event)
                .await
                .map_err(|e| e.0)
        }
    });
    tripwire.arm(
        rule("AdminAddUserToGroup", &[], 10, true),
        Victim::Task(task.abort_handle()),
    );
    assert!(
        tripwire.tripped_within(Duration::from_secs(120)).await,
        "the worker never reached its kill point"
    );
    let ended = task.await;
    assert!(
        ended.as_ref().is_err_and(|e| e.is_cancelled()),
        "killed mid-organization: {ended:?}"
    );
    let registry = shared::aws::dynamodb::DynamoRegistry::new(&aws.sdk().await, TABLE);
    let cp = registry
        .checkpoint("wk1", "wk-0")
        .await
        .expect("read")
        .expect("checkpoint");
    assert!(
        cp.lease_holder.is_some(),
        "the dead invocation's lease is left"
    );
    assert_ne!(cp.phase, shared::domain::migration_job::OrgPhase::Switched);

    // The map's retry: a new invocation (another execution environment).
    let retry = deps_at(aws.sdk().await);
    let waited = Instant::now();
    let answer = tenant_migration::handler::handle(&retry, invoke())
        .await
        .map_err(|e| e.0)
        .expect("the retry finishes the organization");
    let answer = serde_json::to_value(&answer).expect("json");
    assert_eq!(answer["finished"], true, "{answer}");
    assert_eq!(answer["phase"], "switched", "{answer}");
    assert_eq!(answer["people_done"], 24, "{answer}");
    assert_eq!(answer["people_failed"], 0, "{answer}");
    eprintln!("the retry waited and finished in {:?}", waited.elapsed());
    assert_whole(&env, "wk1", 1, 24, "worker");
}
