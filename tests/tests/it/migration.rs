//! `tenantctl migrate` against moto: a generated source of 12 organizations and 500 valid
//! people with bad records mixed in, a run killed with SIGKILL half-way through its people
//! and resumed, the same run again (nothing changes), a rollback; the Lambda worker's item
//! event for one organization; a legacy shared pool as the source. A kill in every other
//! phase, and of the worker, is in `migration_kills.rs`. The same kill-and-resume at 5,000
//! people is the long soak, `make test-long` (ignored by `make test`).
//!
//! moto never throttles: throttling is covered by `shared::rate`'s tests and measured by the
//! `migration` benchmark (a throttling proxy in front of moto).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use integration_tests::tripwire::{Rule, Tripwire, Victim};
use integration_tests::{tenantctl_path, LocalAws, TempDir};
use serde_json::Value;
use shared::aws::dynamodb::DynamoRegistry;
use shared::domain::ports::{LegacyPasswords, MigrationStore, Registry};
use shared::domain::{OrgId, Person, PersonStatus, Subdomain};

const TABLE: &str = "signin";

/// How much the generator writes: valid organizations (at least 10: the bad records name the
/// first ten, the rollback `legacy-07`) and people in each.
#[derive(Clone, Copy)]
struct Size {
    orgs: usize,
    people_per_org: usize,
}

/// `make test`: enough for several batches in flight at once (8 organizations at Cognito)
/// and every kind of bad record; kills in each phase are in `migration_kills.rs`.
const SMALL: Size = Size {
    orgs: 10,
    people_per_org: 50,
};

/// The long soak (`make test-long`): 50 organizations of 100, 420-465 s here (issue 21).
const SOAK: Size = Size {
    orgs: 50,
    people_per_org: 100,
};

use integration_tests::{tenantctl_json as json, tenantctl_run as run};

/// What the generator put in the source, to check the outcome against.
struct Generated {
    /// legacy id -> (subdomain, usernames -> active)
    valid: BTreeMap<String, (String, BTreeMap<String, bool>)>,
    /// Line numbers of records that must be reported as skipped.
    bad_lines: BTreeSet<u64>,
}

fn org_line(id: &Value, sub: &str, name: &str, seats: u32) -> String {
    serde_json::json!({"kind":"organization","id":id,"name":name,"subdomain":sub,
        "email_domains":[format!("{sub}.test")],"mfa":"off","seats":seats})
    .to_string()
}

fn person_line(org: &Value, username: &str, email: &str, roles: &[&str], active: bool) -> String {
    serde_json::json!({"kind":"person","organization":org,"username":username,"email":email,
        "given_name":"Given","family_name":"Family","roles":roles,"active":active,"password_hash":null})
    .to_string()
}

/// `size.orgs` valid organizations of `size.people_per_org` people (four in five active),
/// their records interleaved over the file; two invalid organizations (a reserved subdomain, more active people than seats) with
/// 10 people each; and bad records: invalid e-mails, duplicate usernames and e-mails, unknown
/// organizations, unknown roles, unreadable lines, a duplicate organization record.
fn generate(path: &std::path::Path, gzip: bool, size: Size) -> Generated {
    let mut lines: Vec<(String, bool)> = Vec::new();
    let mut valid = BTreeMap::new();
    let id = |i: usize| -> Value {
        if i.is_multiple_of(2) {
            Value::from(1000 + i as u64)
        } else {
            Value::from(format!("L{i}"))
        }
    };
    let id_str = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // The first half of the organizations up front, the other half at the end.
    for i in 0..size.orgs / 2 {
        lines.push((
            org_line(
                &id(i),
                &format!("legacy-{i:02}"),
                &format!("Legacy {i}"),
                200,
            ),
            false,
        ));
    }
    lines.push((
        org_line(&Value::from("bad-reserved"), "auth", "Reserved Co", 50),
        false,
    ));
    lines.push((
        org_line(&Value::from("bad-seats"), "too-few-seats", "Few Seats", 5),
        false,
    ));
    for j in 0..size.people_per_org {
        for i in 0..size.orgs {
            let username = format!("user{j:03}.o{i}");
            let active = j % 5 != 0;
            let roles: &[&str] = if j % 10 == 0 {
                &["admin", "member"]
            } else {
                &["member"]
            };
            lines.push((
                person_line(
                    &id(i),
                    &username,
                    &format!("{username}@legacy-{i:02}.test"),
                    roles,
                    active,
                ),
                false,
            ));
            valid
                .entry(id_str(&id(i)))
                .or_insert_with(|| (format!("legacy-{i:02}"), BTreeMap::new()))
                .1
                .insert(username, active);
        }
        if j < 10 {
            for bad in ["bad-reserved", "bad-seats"] {
                // Valid people of invalid organizations: skipped with their organization.
                let u = format!("p{j}.{bad}");
                lines.push((
                    person_line(
                        &Value::from(bad),
                        &u,
                        &format!("{u}@x.test"),
                        &["member"],
                        j < 8,
                    ),
                    true,
                ));
            }
            let o = id(j);
            lines.push((
                person_line(
                    &o,
                    &format!("bad-email-{j}"),
                    "not an address",
                    &["member"],
                    true,
                ),
                true,
            ));
            lines.push((
                person_line(
                    &o,
                    &format!("bad-role-{j}"),
                    &format!("r{j}@x.test"),
                    &["boss"],
                    true,
                ),
                true,
            ));
            // Same username as an earlier person, other address.
            lines.push((
                person_line(
                    &o,
                    &format!("USER000.o{j}"),
                    &format!("dup{j}@x.test"),
                    &["member"],
                    true,
                ),
                true,
            ));
            // Same address as an earlier person (user000, written in the first round).
            lines.push((
                person_line(
                    &o,
                    &format!("dupmail-{j}"),
                    &format!("user000.o{j}@legacy-{j:02}.test"),
                    &["member"],
                    true,
                ),
                true,
            ));
        }
        if j < 5 {
            lines.push((
                person_line(
                    &Value::from(999),
                    &format!("orphan{j}"),
                    &format!("o{j}@x.test"),
                    &["member"],
                    true,
                ),
                true,
            ));
        }
        if j < 3 {
            lines.push((format!("{{not json {j}"), true));
        }
    }
    for i in size.orgs / 2..size.orgs {
        lines.push((
            org_line(
                &id(i),
                &format!("legacy-{i:02}"),
                &format!("Legacy {i}"),
                200,
            ),
            false,
        ));
    }
    lines.push((org_line(&id(0), "legacy-again", "Legacy again", 10), true));
    let mut bad_lines = BTreeSet::new();
    let mut text = String::new();
    for (n, (line, bad)) in lines.iter().enumerate() {
        if *bad {
            bad_lines.insert(n as u64 + 1);
        }
        text.push_str(line);
        text.push('\n');
    }
    let bytes = if gzip {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).expect("gzip");
        gz.finish().expect("gzip")
    } else {
        text.into_bytes()
    };
    std::fs::write(path, bytes).expect("write the source");
    Generated { valid, bad_lines }
}

async fn registry(aws: &LocalAws) -> DynamoRegistry {
    DynamoRegistry::new(&aws.sdk().await, TABLE)
}

async fn all_people(registry: &DynamoRegistry, org: &OrgId) -> Vec<Person> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = registry
            .people(org, &|_: &Person| true, cursor.as_deref(), 1000)
            .await
            .expect("people");
        out.extend(page.items);
        match page.next {
            Some(n) => cursor = Some(n),
            None => return out,
        }
    }
}

/// Every login of a pool: username -> (e-mail, enabled).
async fn logins(cognito: &CognitoClient, pool: &str) -> BTreeMap<String, (String, bool)> {
    let mut out = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let page = cognito
            .list_users()
            .user_pool_id(pool)
            .limit(60)
            .set_pagination_token(token.clone())
            .send()
            .await
            .expect("ListUsers");
        for u in page.users() {
            let email = u
                .attributes()
                .iter()
                .find(|a| a.name() == "email")
                .and_then(|a| a.value())
                .unwrap_or_default()
                .to_owned();
            let name = u.username().unwrap_or_default().to_owned();
            assert!(
                out.insert(name.clone(), (email, u.enabled())).is_none(),
                "{name} listed twice"
            );
        }
        token = page.pagination_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

/// A temporary password signs in, to Cognito's forced change at first sign-in.
async fn asks_a_new_password(
    cognito: &CognitoClient,
    client: &str,
    username: &str,
    password: &str,
) {
    use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType};
    let signed = cognito
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{username}: the temporary password signs in: {e:?}"));
    assert_eq!(
        signed.challenge_name(),
        Some(&ChallengeNameType::NewPasswordRequired),
        "{username}: a new password is asked at first sign-in"
    );
}

/// Every valid person exactly once in the registry with the right status, every active one
/// exactly once in the organization's pool, nobody else; returns (people, logins).
async fn check_everyone(aws: &LocalAws, generated: &Generated) -> (usize, usize) {
    let registry = registry(aws).await;
    let cognito = CognitoClient::new(&aws.sdk().await);
    let (mut people_total, mut logins_total) = (0, 0);
    for (legacy_id, (sub, people)) in &generated.valid {
        let org = registry
            .organization_by_subdomain(&Subdomain::parse(sub).expect("valid"))
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("{sub} was not created"));
        let migration = org.sign_in.migration.as_ref().expect("marked as migrated");
        assert_eq!(&migration.legacy_id, legacy_id);
        assert!(migration.switched, "{sub} switched");
        let stored = all_people(&registry, &org.id).await;
        let names: BTreeMap<&str, &Person> =
            stored.iter().map(|p| (p.username.as_str(), p)).collect();
        assert_eq!(names.len(), stored.len(), "{sub}: no username twice");
        let emails: BTreeSet<&str> = stored.iter().map(|p| p.email.as_str()).collect();
        assert_eq!(emails.len(), stored.len(), "{sub}: no address twice");
        assert_eq!(
            names.keys().copied().collect::<BTreeSet<_>>(),
            people.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            "{sub}: exactly the valid people"
        );
        for (username, active) in people {
            let p = names[username.as_str()];
            let expected = if *active {
                PersonStatus::Invited
            } else {
                PersonStatus::Added
            };
            assert_eq!(p.status, expected, "{sub}/{username}");
            assert_eq!(
                p.welcome_sent_at, None,
                "{sub}/{username}: the welcome mail is owed"
            );
        }
        let active = people.values().filter(|a| **a).count() as u32;
        assert_eq!(org.seats_used, active, "{sub}: seats of the active people");
        // The switch built the search entries and people counters (issue 26).
        let counts = registry
            .people_counts(&org.id)
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("{sub}: counters complete after the switch"));
        assert_eq!(
            counts.nonzero(),
            shared::domain::search::recount(&stored).nonzero(),
            "{sub}: counters as the records"
        );
        if let Some(someone) = stored.first() {
            let query =
                shared::domain::search::PeopleQuery::new(Some(someone.email.as_str()), None, None)
                    .expect("query");
            let found = registry
                .find_people(&org.id, &query, None, 10)
                .await
                .expect("search");
            assert!(
                found.items.iter().any(|p| p.username == someone.username),
                "{sub}: {} found by address",
                someone.username
            );
        }
        let pool = org.cognito.user_pool_id.as_deref().expect("pool");
        let in_pool = logins(&cognito, pool).await;
        let expected: BTreeSet<&str> = people
            .iter()
            .filter(|(_, a)| **a)
            .map(|(u, _)| u.as_str())
            .collect();
        assert_eq!(
            in_pool.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            expected,
            "{sub}: a login for every active person, nobody else"
        );
        for (u, (email, _)) in &in_pool {
            assert_eq!(email, names[u.as_str()].email.as_str(), "{sub}/{u}");
        }
        people_total += stored.len();
        logins_total += in_pool.len();
    }
    (people_total, logins_total)
}

fn status(env: &[(String, String)], job: &str) -> Option<Value> {
    let r = run(
        env,
        &["--output", "json", "migrate", "status", "--job", job],
    );
    serde_json::from_str(&r.stdout).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_among_its_people_is_resumed_rerun_and_one_organization_rolled_back() {
    killed_resumed_rerun_and_rolled_back(SMALL).await;
}

/// The long soak: the same at 5,000 people. `make test-long` (about 18 minutes, moto-bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the long soak (about 18 minutes): make test-long"]
async fn soak_of_5000_people_killed_and_resumed() {
    killed_resumed_rerun_and_rolled_back(SOAK).await;
}

async fn killed_resumed_rerun_and_rolled_back(size: Size) {
    let Size {
        orgs,
        people_per_org,
    } = size;
    let started = Instant::now();
    let aws = LocalAws::start();
    let env = aws.env(TABLE);
    json(&env, &["setup"], 0);
    let dir = TempDir::new("migration");
    let source = dir.0.join("legacy.jsonl.gz");
    let generated = generate(&source, true, size);
    let source = source.to_str().expect("utf-8").to_owned();
    let valid_people: usize = generated.valid.values().map(|(_, p)| p.len()).sum();
    assert_eq!(valid_people, orgs * people_per_org);

    // The plan names every problem and its rule; exit 1 (not clean).
    let plan = json(&env, &["migrate", "plan", "--source", &source], 1);
    assert_eq!(plan["clean"], false);
    assert_eq!(plan["summary"]["organizations_valid"], orgs as u64);
    assert_eq!(plan["summary"]["people_valid"], valid_people as u64);
    let org_rules: BTreeSet<String> = plan["organizations"]
        .as_array()
        .expect("organizations")
        .iter()
        .flat_map(|o| o["problems"].as_array().cloned().unwrap_or_default())
        .map(|p| p["rule"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(org_rules.contains("reserved_subdomain"), "{org_rules:?}");
    assert!(org_rules.contains("seats_exceeded"), "{org_rules:?}");
    let reserved = plan["organizations"]
        .as_array()
        .expect("organizations")
        .iter()
        .find(|o| o["subdomain"] == "auth")
        .expect("the reserved one");
    assert_eq!(reserved["problems"][0]["suggestion"], "auth-org");
    let record_rules: BTreeSet<String> = plan["records"]
        .as_array()
        .expect("records")
        .iter()
        .flat_map(|r| r["problems"].as_array().cloned().unwrap_or_default())
        .map(|p| p["rule"].as_str().unwrap_or_default().to_owned())
        .collect();
    for rule in [
        "invalid_email",
        "unknown_role",
        "duplicate_username",
        "duplicate_email",
        "unknown_organization",
        "unreadable_record",
        "duplicate_organization",
    ] {
        assert!(record_rules.contains(rule), "{rule} in {record_rules:?}");
    }
    assert!(!plan.to_string().contains("$2b$"), "no hash in answers");

    // A run refuses a source with problems unless told to skip them: nothing is created.
    let refused = run(
        &env,
        &["migrate", "run", "--source", &source, "--job", "j1"],
    );
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("--skip-invalid"),
        "{}",
        refused.stderr
    );
    assert!(status(&env, "j1").is_some_and(|s| s.get("error").is_some()));
    assert_eq!(aws.pool_count().await, 0);

    // Killed with SIGKILL mid-batch, when a fifth of the people's logins exist: tenantctl
    // reaches moto through the tripwire proxy (`integration_tests::tripwire`), which kills it
    // as the n-th AdminCreateUser returns, inside a batch whose Cognito steps are half done
    // and whose records and checkpoint are not written yet.
    let args = [
        "migrate",
        "run",
        "--source",
        &source,
        "--job",
        "j1",
        "--skip-invalid",
        "--rate",
        "5000",
        "--update-rate",
        "5000",
        "--pool-rate",
        "1000",
        "--concurrency",
        "8",
    ];
    let tripwire = Tripwire::start(aws.port()).await;
    let through_proxy: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| match k.as_str() {
            "AWS_ENDPOINT_URL" => (k.clone(), tripwire.endpoint.clone()),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    let child = Command::new(tenantctl_path())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(through_proxy.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tenantctl runs");
    let child = Arc::new(Mutex::new(child));
    let nth = (orgs * people_per_org / 5) as u64;
    tripwire.arm(
        Rule {
            operation: "AdminCreateUser",
            body: Vec::new(),
            nth,
            after: true,
        },
        Victim::Process(child.clone()),
    );
    let tripped = tripwire.tripped_within(Duration::from_secs(900)).await;
    tripwire.disarm();
    let exit = child
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .wait()
        .expect("reaped");
    assert!(tripped, "the run never created {nth} logins ({exit})");
    assert_eq!(exit.signal(), Some(9), "killed with SIGKILL");
    let killed = status(&env, "j1").expect("status");
    assert_eq!(killed["complete"], false, "killed half-way: {killed}");
    // Killed mid-batch: some organization's pool holds logins its checkpoint does not count
    // yet (a batch's Cognito steps done, its records not written), which the resume must
    // take over without a second login.
    let mid_batch = {
        let registry = registry(&aws).await;
        let cognito = CognitoClient::new(&aws.sdk().await);
        let mut mid_batch = Vec::new();
        for o in killed["organizations"].as_array().expect("organizations") {
            let Some(name) = o["subdomain"].as_str() else {
                continue;
            };
            let Ok(sub) = Subdomain::parse(name) else {
                continue;
            };
            let pool = registry
                .organization_by_subdomain(&sub)
                .await
                .expect("read")
                .and_then(|org| org.cognito.user_pool_id);
            let Some(pool) = pool else { continue };
            let in_pool = logins(&cognito, &pool).await.len() as u64;
            if in_pool > o["logins_created"].as_u64().unwrap_or_default() {
                mid_batch.push(format!(
                    "{name}: {in_pool} logins, {} counted",
                    o["logins_created"]
                ));
            }
        }
        mid_batch
    };
    eprintln!("killed mid-batch in {mid_batch:?}");
    assert!(
        !mid_batch.is_empty(),
        "killed with no batch half-done: {killed}"
    );
    eprintln!(
        "killed at login {nth}, {} people recorded, after {:?}",
        killed["people"]["done"],
        started.elapsed()
    );

    // Resumed: every valid person exactly once, every bad record in the report.
    let resumed = run(
        &env,
        &[
            "migrate",
            "resume",
            "--job",
            "j1",
            "--rate",
            "5000",
            "--update-rate",
            "5000",
            "--pool-rate",
            "1000",
        ],
    );
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert!(
        resumed.stderr.contains("people"),
        "progress on stderr: {}",
        resumed.stderr
    );
    let (people, logins_total) = check_everyone(&aws, &generated).await;
    assert_eq!(people, valid_people);
    assert_eq!(logins_total, valid_people * 4 / 5);
    let done = json(&env, &["migrate", "status", "--job", "j1"], 0);
    assert_eq!(done["people"]["done"], valid_people as u64);
    assert_eq!(done["people"]["failed"], 0);
    // The reconciliation agrees: every person of the source migrated or reported.
    let verified = json(&env, &["migrate", "verify", "--job", "j1"], 0);
    assert_eq!(verified["clean"], true, "{verified}");
    assert_eq!(verified["totals"]["registry_people"], valid_people as u64);
    assert_eq!(
        verified["totals"]["cognito_users"],
        (valid_people * 4 / 5) as u64
    );
    eprintln!("resumed and checked after {:?}", started.elapsed());

    let report = json(&env, &["migrate", "report", "--job", "j1"], 1);
    let reported: BTreeSet<u64> = report["records_skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .map(|r| {
            r["position"]
                .as_str()
                .and_then(|p| p.strip_prefix("line "))
                .and_then(|n| n.parse().ok())
                .expect("a line")
        })
        .collect();
    assert_eq!(
        reported, generated.bad_lines,
        "every bad record, nothing else"
    );
    let not_migrated: BTreeSet<String> = report["organizations_not_migrated"]
        .as_array()
        .expect("orgs")
        .iter()
        .map(|o| o["subdomain"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        not_migrated,
        BTreeSet::from(["auth".to_owned(), "too-few-seats".to_owned()])
    );
    assert_eq!(report["people_failed"].as_array().map(Vec::len), Some(0));
    let text = run(&env, &["migrate", "report", "--job", "j1"]);
    assert!(
        text.stdout.contains("reserved_subdomain"),
        "{}",
        text.stdout
    );

    // The same run again changes nothing.
    let pools_before = aws.pool_count().await;
    let again = run(&env, &args);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert_eq!(aws.pool_count().await, pools_before);
    assert_eq!(json(&env, &["migrate", "status", "--job", "j1"], 0), done);
    check_everyone(&aws, &generated).await;

    // Rollback of one organization: back to legacy sign-in, logins disabled, nothing deleted.
    let rolled = json(
        &env,
        &["migrate", "rollback", "--job", "j1", "--org", "legacy-07"],
        0,
    );
    assert_eq!(rolled["logins_disabled"], (people_per_org * 4 / 5) as u64);
    let registry = registry(&aws).await;
    let org = registry
        .organization_by_subdomain(&Subdomain::parse("legacy-07").expect("valid"))
        .await
        .expect("read")
        .expect("kept");
    assert!(!org.sign_in.migration.as_ref().expect("migration").switched);
    assert_eq!(org.seats_used, 0);
    let cognito = CognitoClient::new(&aws.sdk().await);
    let in_pool = logins(&cognito, org.cognito.user_pool_id.as_deref().expect("pool")).await;
    assert_eq!(
        in_pool.len(),
        people_per_org * 4 / 5,
        "disabled, not deleted"
    );
    assert!(in_pool.values().all(|(_, enabled)| !enabled));
    let people = all_people(&registry, &org.id).await;
    assert_eq!(people.len(), people_per_org);
    assert!(people
        .iter()
        .all(|p| matches!(p.status, PersonStatus::Added | PersonStatus::Deactivated)));
    let after = json(&env, &["migrate", "status", "--job", "j1"], 0);
    assert!(after["organizations"]
        .as_array()
        .expect("orgs")
        .iter()
        .any(|o| o["subdomain"] == "legacy-07" && o["phase"] == "rolled_back"));
    // A rolled-back organization stays so when the job is run again.
    let again = run(&env, &args);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    let org = registry
        .organization(&org.id)
        .await
        .expect("read")
        .expect("kept");
    assert!(!org.sign_in.migration.as_ref().expect("migration").switched);
    eprintln!("whole test took {:?}", started.elapsed());
}

/// The state machine's side: a staged lazy-mode job's manifest in the migration bucket and
/// `migrate start` (one execution at a time, the manifest afresh each time); the item event
/// through the worker's handler, one organization per invocation, `finished` true once
/// switched; a second call, with the manifest's item, changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_migrates_one_organization_of_a_staged_lazy_job() {
    let aws = LocalAws::start();
    let mut env = aws.env(TABLE);
    json(&env, &["setup"], 0);
    // The migration state machine's bucket and state machine, as the infra makes them (moto
    // records executions and runs nothing: the worker is called below as the map would).
    let sdk = aws.sdk().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket("migration-bucket")
        .send()
        .await
        .expect("bucket");
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let machine = sfn
        .create_state_machine()
        .name("migration")
        .definition(r#"{"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}"#)
        .role_arn("arn:aws:iam::123456789012:role/migration")
        .send()
        .await
        .expect("state machine")
        .state_machine_arn()
        .to_owned();
    env.push(("MIGRATION_BUCKET".into(), "migration-bucket".into()));
    env.push(("MIGRATION_STATE_MACHINE_ARN".into(), machine.clone()));
    let manifest = || async {
        let object = s3
            .get_object()
            .bucket("migration-bucket")
            .key("jobs/lazy1/organizations.json")
            .send()
            .await
            .expect("the manifest is in the bucket");
        let bytes = object.body.collect().await.expect("read").into_bytes();
        serde_json::from_slice::<Vec<Value>>(&bytes).expect("a JSON array")
    };
    let dir = TempDir::new("migration-worker");
    let source = dir.0.join("lazy.jsonl");
    let hash = "$2b$04$abcdefghijklmnopqrstuu5Q8hVvZ4n1bq0cP1RxFx5y5m0y3a1Wy";
    let mut text = String::new();
    text.push_str(&org_line(
        &Value::from(1017),
        "sample-legacy-org",
        "Sample Legacy Organization",
        50,
    ));
    text.push('\n');
    text.push_str(&org_line(
        &Value::from(1018),
        "other-legacy-org",
        "Other",
        50,
    ));
    text.push('\n');
    for j in 0..30 {
        let mut p: Value = serde_json::from_str(&person_line(
            &Value::from(1017),
            &format!("lazy{j}"),
            &format!("lazy{j}@sample.test"),
            &["member"],
            j % 3 != 0,
        ))
        .expect("json");
        p["password_hash"] = Value::from(hash);
        text.push_str(&p.to_string());
        text.push('\n');
    }
    std::fs::write(&source, text).expect("write");
    let source = source.to_str().expect("utf-8");
    let staged = json(
        &env,
        &[
            "migrate",
            "run",
            "--source",
            source,
            "--job",
            "lazy1",
            "--mode",
            "lazy",
            "--stage-only",
        ],
        1,
    );
    assert_eq!(staged["job"]["staged"], true);
    assert_eq!(
        aws.pool_count().await,
        0,
        "staging creates nothing in Cognito"
    );
    let items = manifest().await;
    assert_eq!(
        items,
        [
            serde_json::json!({"id": "1017", "name": "Sample Legacy Organization", "subdomain": "sample-legacy-org"}),
            serde_json::json!({"id": "1018", "name": "Other", "subdomain": "other-legacy-org"}),
        ],
        "the manifest lists both organizations of the job"
    );

    // `migrate start`: the manifest afresh and an execution over it; a second start while it
    // runs is refused.
    let started = json(&env, &["migrate", "start", "--job", "lazy1"], 0);
    assert_eq!(started["manifest"]["organizations"], 2, "{started}");
    let execution = started["execution_arn"]
        .as_str()
        .expect("an execution")
        .to_owned();
    let described = sfn
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .expect("the execution exists");
    assert_eq!(
        serde_json::from_str::<Value>(described.input().expect("input")).expect("json"),
        serde_json::json!({"job": "lazy1", "manifest_key": "jobs/lazy1/organizations.json"})
    );
    let name = described.name().expect("a name");
    assert!(name.starts_with("lazy1--"), "{name}");
    let again = run(&env, &["migrate", "start", "--job", "lazy1"]);
    assert_eq!(again.code, 1, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stderr.contains("running") && again.stderr.contains(&execution),
        "{}",
        again.stderr
    );

    // The worker's environment, without touching this process's (tests run in parallel).
    struct Env(Vec<(String, String)>);
    impl shared::config::Source for Env {
        fn get(&self, name: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }
    let mut worker_env = env.clone();
    worker_env.push(("MIGRATION_MAX_CONCURRENCY".into(), "5".into()));
    let sdk = aws.sdk().await;
    let deps =
        tenant_migration::wiring::ProvisioningDeps::new(&sdk, &Env(worker_env)).expect("deps");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/tenant-migration/migrate-organization.json"
    ))
    .expect("sample event");
    let mut event: Value = serde_json::from_str(&text).expect("json");
    event["job"] = Value::from("lazy1");
    let invoke = |event: Value| {
        let mut context = lambda_runtime::Context::default();
        context.request_id = "req-1".into();
        context.deadline = (std::time::SystemTime::now() + Duration::from_secs(900))
            .duration_since(std::time::UNIX_EPOCH)
            .expect("now")
            .as_millis() as u64;
        lambda_runtime::LambdaEvent::new(
            serde_json::from_value::<tenant_migration::handler::WorkerEvent>(event)
                .expect("a worker event"),
            context,
        )
    };
    let answer = tenant_migration::handler::handle(&deps, invoke(event.clone()))
        .await
        .map_err(|e| e.0)
        .expect("migrated");
    let answer = serde_json::to_value(&answer).expect("json");
    assert_eq!(answer["finished"], true, "{answer}");
    assert_eq!(answer["phase"], "switched");
    assert_eq!(answer["people_done"], 30);
    assert!(
        !answer.to_string().contains("$2b$"),
        "no hash in the answer"
    );

    let registry = registry(&aws).await;
    let org = registry
        .organization_by_subdomain(&Subdomain::parse("sample-legacy-org").expect("valid"))
        .await
        .expect("read")
        .expect("created");
    let m = org.sign_in.migration.clone().expect("migration");
    assert!(m.switched);
    assert_eq!(m.mode, shared::domain::migration::MigrationMode::Lazy);
    assert_eq!(
        org.seats_used, 20,
        "active lazy people hold their seats at import"
    );
    let people = all_people(&registry, &org.id).await;
    assert_eq!(people.len(), 30);
    for p in &people {
        let active = p
            .username
            .trim_start_matches("lazy")
            .parse::<u32>()
            .expect("n")
            % 3
            != 0;
        assert_eq!(
            p.status,
            if active {
                PersonStatus::Active
            } else {
                PersonStatus::Added
            },
            "{}",
            p.username
        );
        let stored = registry
            .legacy_hash(&org.id, &p.username)
            .await
            .expect("read");
        assert_eq!(
            stored.is_some(),
            active,
            "{}: hash of active people",
            p.username
        );
    }
    let cognito = CognitoClient::new(&aws.sdk().await);
    assert!(
        logins(&cognito, org.cognito.user_pool_id.as_deref().expect("pool"))
            .await
            .is_empty(),
        "lazy mode creates no login"
    );
    // The other organization of the job is untouched by this item.
    let other = registry
        .checkpoint("lazy1", "1018")
        .await
        .expect("read")
        .expect("cp");
    assert_eq!(
        other.phase,
        shared::domain::migration_job::OrgPhase::Pending
    );

    // Called again (Step Functions retries), now with the manifest's item as the map's
    // ItemSelector passes it: nothing more happens.
    assert_eq!(items[0]["id"], "1017");
    let event = serde_json::json!({"action": "migrate_organization", "job": "lazy1", "organization": items[0]});
    let again = tenant_migration::handler::handle(&deps, invoke(event))
        .await
        .map_err(|e| e.0)
        .expect("again");
    let again = serde_json::to_value(&again).expect("json");
    assert_eq!(again["finished"], true);
    assert_eq!(again["people_done"], 30);
    assert_eq!(all_people(&registry, &org.id).await.len(), 30);

    // An administrator's password reset before a lazy person's first sign-in: Cognito has no
    // login for them yet, so the reset creates it (with their group) and mails its
    // temporary password, which signs in to the forced change.
    let pools = shared::aws::cognito::CognitoPools::new(&sdk);
    let mailer = shared::aws::ses::SesMailer::new(
        &sdk,
        shared::domain::EmailAddress::parse("no-reply@app.example.test").expect("valid"),
        None,
    );
    let admin = shared::domain::people::Admin {
        registry: &registry,
        pools: &pools,
        mailer: &mailer,
        base_domain: "app.example.test",
        actor: "boss",
    };
    let lazy1 = registry
        .person(&org.id, "lazy1")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(lazy1.status, PersonStatus::Active);
    let pool = org.cognito.user_pool_id.clone().expect("pool");
    admin
        .reset_password(&org, lazy1)
        .await
        .expect("the reset creates the login");
    assert_eq!(
        logins(&cognito, &pool)
            .await
            .into_keys()
            .collect::<Vec<_>>(),
        ["lazy1"]
    );
    let groups = cognito
        .admin_list_groups_for_user()
        .user_pool_id(&pool)
        .username("lazy1")
        .send()
        .await
        .expect("groups");
    assert_eq!(
        groups
            .groups()
            .iter()
            .filter_map(|g| g.group_name())
            .collect::<Vec<_>>(),
        ["member"]
    );
    let password = aws.newest_temporary_password("lazy1@sample.test");
    let client = org.cognito.app_client_id.as_deref().expect("client");
    asks_a_new_password(&cognito, client, "lazy1", &password).await;

    // Once that execution is over, a new start lists only the organization still to migrate.
    sfn.stop_execution()
        .execution_arn(&execution)
        .send()
        .await
        .expect("stopped");
    let restarted = json(&env, &["migrate", "start", "--job", "lazy1"], 0);
    assert_eq!(restarted["manifest"]["organizations"], 1, "{restarted}");
    assert_ne!(restarted["execution_arn"], started["execution_arn"]);
    let ids: Vec<Value> = manifest().await.iter().map(|i| i["id"].clone()).collect();
    assert_eq!(ids, ["1018"]);
}

/// A legacy shared pool as the source: ListUsers page by page (more than one page), the
/// organization from a custom attribute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_pool_is_read_page_by_page() {
    use aws_sdk_cognitoidentityprovider::types::{
        AttributeDataType, AttributeType, MessageActionType, SchemaAttributeType,
    };
    let aws = LocalAws::start();
    let env = aws.env(TABLE);
    json(&env, &["setup"], 0);
    let cognito = CognitoClient::new(&aws.sdk().await);
    let pool = cognito
        .create_user_pool()
        .pool_name("legacy-shared")
        .schema(
            SchemaAttributeType::builder()
                .name("tenant")
                .attribute_data_type(AttributeDataType::String)
                .mutable(true)
                .build(),
        )
        .send()
        .await
        .expect("pool");
    let pool_id = pool
        .user_pool()
        .and_then(|p| p.id())
        .expect("id")
        .to_owned();
    let attr = |n: &str, v: &str| {
        AttributeType::builder()
            .name(n)
            .value(v)
            .build()
            .expect("attr")
    };
    for i in 0..130 {
        let tenant = if i % 2 == 0 { "north-co" } else { "south-co" };
        cognito
            .admin_create_user()
            .user_pool_id(&pool_id)
            .username(format!("legacy{i}"))
            .message_action(MessageActionType::Suppress)
            .user_attributes(attr("email", &format!("legacy{i}@{tenant}.test")))
            .user_attributes(attr("custom:tenant", tenant))
            .send()
            .await
            .expect("user");
    }
    let source = format!("cognito:{pool_id}");
    let plan = json(
        &env,
        &[
            "migrate",
            "plan",
            "--source",
            &source,
            "--org-attribute",
            "custom:tenant",
        ],
        0,
    );
    assert_eq!(plan["clean"], true, "{plan}");
    assert_eq!(plan["summary"]["people_valid"], 130);
    assert_eq!(plan["summary"]["organizations"], 2);
    let missing = run(&env, &["migrate", "plan", "--source", &source]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("--org-attribute"),
        "{}",
        missing.stderr
    );
    let done = json(
        &env,
        &[
            "migrate",
            "run",
            "--source",
            &source,
            "--org-attribute",
            "custom:tenant",
            "--job",
            "pool1",
            "--mode",
            "lazy",
        ],
        0,
    );
    assert_eq!(done["people"]["done"], 130);
    let registry = registry(&aws).await;
    let north = registry
        .organization_by_subdomain(&Subdomain::parse("north-co").expect("valid"))
        .await
        .expect("read")
        .expect("created");
    assert_eq!(all_people(&registry, &north.id).await.len(), 65);
}

/// `--send-invitations`: active people of an invite-mode job get their login and the welcome
/// mail (username, a temporary password that signs in, the subdomain's link) as the run goes;
/// inactive people get neither; a second run of the job sends nothing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_go_out_with_the_migration_when_asked() {
    let aws = LocalAws::start();
    let env = aws.env(TABLE);
    json(&env, &["setup"], 0);
    let dir = TempDir::new("migration-invitations");
    let source = dir.0.join("invite.jsonl");
    let org = Value::from("inv-1");
    let lines = [
        org_line(&org, "invited-co", "Invited Co", 5),
        person_line(&org, "anna", "anna@invited-co.test", &["admin"], true),
        person_line(&org, "bert", "bert@invited-co.test", &["member"], true),
        person_line(&org, "carl", "carl@invited-co.test", &["member"], false),
    ];
    std::fs::write(&source, lines.join("\n")).expect("write");
    let source = source.to_str().expect("utf-8");
    let args = [
        "migrate",
        "run",
        "--source",
        source,
        "--job",
        "inv1",
        "--mode",
        "invite",
        "--send-invitations",
    ];
    let ran = json(&env, &args, 0);
    assert_eq!(ran["people"]["done"], 3, "{ran}");
    assert_eq!(ran["people"]["failed"], 0, "{ran}");

    let registry = registry(&aws).await;
    let org = registry
        .organization_by_subdomain(&Subdomain::parse("invited-co").expect("valid"))
        .await
        .expect("read")
        .expect("created");
    let pool = org.cognito.user_pool_id.clone().expect("pool");
    let client = org.cognito.app_client_id.clone().expect("client");
    let statuses: BTreeMap<String, PersonStatus> = all_people(&registry, &org.id)
        .await
        .into_iter()
        .map(|p| (p.username, p.status))
        .collect();
    assert_eq!(
        statuses,
        BTreeMap::from([
            ("anna".to_owned(), PersonStatus::Invited),
            ("bert".to_owned(), PersonStatus::Invited),
            ("carl".to_owned(), PersonStatus::Added),
        ])
    );
    assert_eq!(org.seats_used, 2, "the invited hold their seats");
    let cognito = CognitoClient::new(&aws.sdk().await);
    let in_pool: Vec<String> = logins(&cognito, &pool).await.into_keys().collect();
    assert_eq!(
        in_pool,
        ["anna", "bert"],
        "logins of the active people only"
    );

    let mails = aws.sent_mails();
    let to: BTreeSet<&str> = mails
        .iter()
        .filter_map(|m| m["destinations"]["ToAddresses"][0].as_str())
        .collect();
    assert_eq!(
        to,
        BTreeSet::from(["anna@invited-co.test", "bert@invited-co.test"])
    );
    assert_eq!(mails.len(), 2, "one welcome mail each");
    for (username, address) in [
        ("anna", "anna@invited-co.test"),
        ("bert", "bert@invited-co.test"),
    ] {
        let body = aws.newest_mail_to(address)["body"]
            .as_str()
            .expect("body")
            .to_owned();
        assert!(body.contains(username), "{body}");
        assert!(
            body.contains("https://invited-co.app.example.test/login"),
            "{body}"
        );
        // The temporary password is the login's: it signs in, to the forced change.
        let password = aws.newest_temporary_password(address);
        asks_a_new_password(&cognito, &client, username, &password).await;
    }

    // The same run again: the job is done, nobody is invited twice.
    let again = json(&env, &args, 0);
    assert_eq!(again["people"]["done"], 3, "{again}");
    assert_eq!(aws.sent_mails().len(), 2, "no second welcome mail");
    assert_eq!(logins(&cognito, &pool).await.len(), 2);
}
