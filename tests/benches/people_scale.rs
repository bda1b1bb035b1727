//! People at scale: the admin API's reads for a large organization (issue 26). An organization
//! of N people (1,000, 10,000 and 100,000 by default; `PEOPLE_SCALE_SIZES=1000,10000`) generated in
//! moto through the registry (`DynamoRegistry::load_people`: batch writes of the records,
//! claims, search entries and counters; not through Cognito). For the user list, search and
//! roles routes: DynamoDB requests and items read per call, counted at the SDK's HTTP client
//! (`integration_tests::reads`), and requests per second through the handler in process;
//! "before" is main's way (the registry's filtered scan `people()` the old routes called,
//! with the old infix filter, and the old roles count over everyone), measured up to
//! `PEOPLE_SCALE_BEFORE_MAX` people (1,000 by default: it reads every person per call, and
//! moto takes seconds per Query of a large table).
//! First, the operator's view with 1,000 organizations (`PEOPLE_SCALE_ORGANIZATIONS`, 0 to skip):
//! what `tenantctl org list` reads.
//! Prints Markdown tables. moto sorts the whole table for every Query: its timings grow with
//! the table, whatever the request reads; the counts are what DynamoDB would read.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use admin_api::App;
use async_trait::async_trait;
use integration_tests::{prepared_adapters, reads, trigger_arns, LocalAws};
use lambda_http::Body;
use shared::aws::cognito::CognitoPools;
use shared::aws::dynamodb::DynamoRegistry;
use shared::domain::ports::Registry;
use shared::domain::provisioning::{ProvisionRequest, Provisioning};
use shared::domain::{EmailAddress, OrgId, Person, PersonStatus, Role};

const TABLE: &str = "signin";
const PAGE: u32 = 50;

const GIVEN: [&str; 24] = [
    "Anna", "Björn", "Chloé", "Dário", "Emil", "Frida", "Gösta", "Hélène", "Ida", "Jürgen",
    "Karin", "Lars", "Maja", "Nils", "Olga", "Per", "Renée", "Søren", "Tove", "Ulf", "Vera",
    "Wiebke", "Yusuf", "Zoë",
];
const FAMILY: [&str; 24] = [
    "Andersson",
    "Berg",
    "Carlsson",
    "Dahl",
    "Eklund",
    "Fors",
    "Gustafsson",
    "Holm",
    "Isaksson",
    "Johansson",
    "Karlsson",
    "Lind",
    "Müller",
    "Nilsson",
    "Olsson",
    "Persson",
    "Quist",
    "Ridderstråle",
    "Svensson",
    "Törnqvist",
    "Ullman",
    "Vik",
    "Wallin",
    "Åberg",
];

/// The generated person `i`; one of them has a family name nobody else has.
fn person(org: &OrgId, i: usize) -> Person {
    let given = GIVEN[i % GIVEN.len()];
    let family = if i == 4_242 {
        "Zyskowski-Ørsted"
    } else {
        FAMILY[(i / GIVEN.len()) % FAMILY.len()]
    };
    let roles = match i % 10 {
        3 => vec!["member", "billing"],
        _ if i.is_multiple_of(1_000) => vec!["member", "admin"],
        _ => vec!["member"],
    };
    let status = match i % 10 {
        7 | 8 => PersonStatus::Deactivated,
        9 => PersonStatus::Unlinked,
        _ => PersonStatus::Added,
    };
    let mut p = Person::new(
        org.clone(),
        format!("u{i:06}"),
        EmailAddress::parse(&format!("person{i}@bench.example")).expect("valid"),
        roles
            .iter()
            .map(|r| Role::parse(r).expect("role"))
            .collect(),
        status,
    );
    p.given_name = Some(given.into());
    p.family_name = Some(family.into());
    p
}

struct Trusting(String);

#[async_trait]
impl admin_api::Authenticate for Trusting {
    async fn authenticate(
        &self,
        _token: &str,
    ) -> Result<admin_api::TokenSubject, admin_api::NotAccepted> {
        Ok(admin_api::TokenSubject {
            pool_id: self.0.clone(),
            username: "hank@bench.example".into(),
            signed_in_at: shared::domain::now_epoch() as u64,
        })
    }
}

fn get(path: &str) -> lambda_http::Request {
    lambda_http::http::Request::builder()
        .method("GET")
        .uri(format!("https://api.example.test{path}"))
        .header("authorization", "Bearer t")
        .body(Body::Empty)
        .expect("request")
}

/// One row: (DynamoDB requests, items read) per call, and calls per second.
struct Measured {
    requests: f64,
    items: f64,
    per_second: f64,
    returned: String,
}

async fn measure<F, Fut>(tally: &reads::Tally, runs: usize, call: F) -> Measured
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let returned = call().await; // warm
    let (r0, i0, _) = tally.now();
    let start = Instant::now();
    for _ in 0..runs {
        call().await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (r1, i1, _) = tally.now();
    Measured {
        requests: (r1 - r0) as f64 / runs as f64,
        items: (i1 - i0) as f64 / runs as f64,
        per_second: runs as f64 / elapsed,
        returned,
    }
}

/// main's `GET /v1/users` filter (infix, lower-cased, no accent folding).
fn old_filter(
    q: Option<&str>,
    status: Option<PersonStatus>,
    role: Option<Role>,
) -> impl Fn(&Person) -> bool + Sync {
    let q = q.map(str::to_lowercase);
    move |p: &Person| {
        status.is_none_or(|s| p.status == s)
            && role.as_ref().is_none_or(|r| p.roles.contains(r))
            && q.as_deref().is_none_or(|q| {
                p.username.contains(q)
                    || p.email.as_str().contains(q)
                    || p.given_name
                        .as_deref()
                        .is_some_and(|n| n.to_lowercase().contains(q))
                    || p.family_name
                        .as_deref()
                        .is_some_and(|n| n.to_lowercase().contains(q))
            })
    }
}

async fn one_size(size: usize, before_max: usize) {
    let aws = LocalAws::start();
    let (sdk, tally) = reads::counted(aws.sdk().await);
    let (registry, mailer) = prepared_adapters(&sdk, TABLE).await;
    let pools = CognitoPools::new(&sdk);
    let triggers = trigger_arns();
    let done = Provisioning {
        registry: &registry,
        pools: &pools,
        mailer: &mailer,
        base_domain: "app.example.test",
        triggers: &triggers,
        actor: "bench",
    }
    .provision(
        &ProvisionRequest {
            subdomain: "bench".into(),
            name: "Bench".into(),
            admin_email: Some("hank@bench.example".into()),
            ..Default::default()
        },
        &|_| {},
    )
    .await
    .expect("provisioned");
    let mut org = done.organization;
    org.roles.push(Role::parse("billing").expect("role"));
    let org = registry
        .save_organization(&org, None)
        .await
        .expect("billing role");
    let pool = org.cognito.user_pool_id.clone().expect("pool");

    let start = Instant::now();
    let people: Vec<Person> = (0..size).map(|i| person(&org.id, i)).collect();
    for chunk in people.chunks(5_000) {
        registry.load_people(chunk).await.expect("loaded");
    }
    drop(people);
    let loaded = start.elapsed().as_secs_f64();
    let (_, _, writes) = tally.now();
    println!(
        "### {size} people\n\nGenerated in {loaded:.0} s ({writes} AWS requests in all, provisioning included; batch writes of records, claims, search entries).\n"
    );

    let registry = Arc::new(DynamoRegistry::new(&sdk, TABLE));
    let app = App {
        registry: registry.clone(),
        pools: Arc::new(CognitoPools::new(&sdk)),
        mailer: Arc::new(mailer),
        auth: Arc::new(Trusting(pool)),
        secrets: Arc::new(shared::aws::secrets::SecretsManager::new(&sdk)),
        dns: Arc::new(shared::testing::MemoryDns::default()),
        base_domain: "app.example.test".into(),
        region: "us-east-1".into(),
    };
    // moto answers a Query in time proportional to the whole table: few runs for big ones.
    let runs = match size {
        0..=2_000 => 5,
        2_001..=20_000 => 2,
        _ => 1,
    };
    let routes = [
        ("list", "/v1/users?limit=50".to_owned()),
        (
            "list, status filter",
            "/v1/users?limit=50&status=deactivated".to_owned(),
        ),
        (
            "search, common prefix",
            "/v1/users?limit=50&q=ma".to_owned(),
        ),
        ("search, one match", "/v1/users?limit=50&q=zysk".to_owned()),
        (
            "search, accents folded",
            "/v1/users?limit=50&q=S%C3%B8ren%20M%C3%BCl".to_owned(),
        ),
        (
            "search + status + role",
            "/v1/users?limit=50&q=a&status=added&role=billing".to_owned(),
        ),
        ("no match", "/v1/users?limit=50&q=qqq".to_owned()),
        ("roles", "/v1/roles".to_owned()),
        ("organization (seats)", "/v1/organization".to_owned()),
    ];
    println!("After (through the handler, in process; the caller's own reads included: pool claim, organization, person = 3 GetItem):\n");
    println!("| route | people returned | DynamoDB requests / call | items read / call | requests/s (moto) |");
    println!("|---|---|---|---|---|");
    for (name, path) in &routes {
        let m = measure(&tally, runs, || async {
            let r = app.handle(get(path)).await;
            assert_eq!(r.status(), 200, "{path}");
            let body = match r.body() {
                Body::Text(t) => t.clone(),
                _ => String::new(),
            };
            let v: serde_json::Value = serde_json::from_str(&body).expect("json");
            match v["users"].as_array() {
                Some(users) => format!(
                    "{}{}",
                    users.len(),
                    if v["next_cursor"].is_string() {
                        " (+ next)"
                    } else {
                        ""
                    }
                ),
                None => v["roles"]
                    .as_array()
                    .map(|roles| {
                        roles
                            .iter()
                            .map(|r| {
                                format!("{} {}", r["name"].as_str().unwrap_or(""), r["members"])
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_else(|| "-".into()),
            }
        })
        .await;
        println!(
            "| {name} `GET {path}` | {} | {:.1} | {:.1} | {:.3} |",
            m.returned, m.requests, m.items, m.per_second
        );
    }
    println!();

    if size > before_max {
        println!("Before (main's code): not measured at {size} (every such call reads all {size} people; raise PEOPLE_SCALE_BEFORE_MAX to measure).\n");
        return;
    }
    println!("Before (main's code: the registry's filtered scan the old routes called; add the caller's 3 GetItem):\n");
    println!("| route | people returned | DynamoDB requests / call | items read / call | calls/s (moto) |");
    println!("|---|---|---|---|---|");
    type Filters<'a> = (&'a str, Option<&'a str>, Option<PersonStatus>, Option<Role>);
    let before: [Filters; 5] = [
        ("list", None, None, None),
        (
            "list, status filter",
            None,
            Some(PersonStatus::Deactivated),
            None,
        ),
        ("search, common infix", Some("ma"), None, None),
        ("search, one match", Some("zysk"), None, None),
        ("no match", Some("qqq"), None, None),
    ];
    let before_runs = if size > 2_000 { 1 } else { 3 };
    for (name, q, status, role) in before {
        let filter = old_filter(q, status, role);
        let m = measure(&tally, before_runs, || async {
            let page = registry
                .people(&org.id, &filter, None, PAGE)
                .await
                .expect("page");
            format!(
                "{}{}",
                page.items.len(),
                if page.next.is_some() { " (+ next)" } else { "" }
            )
        })
        .await;
        println!(
            "| {name} | {} | {:.1} | {:.1} | {:.2} |",
            m.returned, m.requests, m.items, m.per_second
        );
    }
    let m = measure(&tally, before_runs, || async {
        // main's GET /v1/roles: every person not unlinked, 1,000 per page.
        let mut cursor: Option<String> = None;
        let mut counted = 0usize;
        loop {
            let page = registry
                .people(
                    &org.id,
                    &|p: &Person| p.status != PersonStatus::Unlinked,
                    cursor.as_deref(),
                    1000,
                )
                .await
                .expect("page");
            counted += page.items.len();
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        format!("{counted} counted")
    })
    .await;
    println!(
        "| roles | {} | {:.1} | {:.1} | {:.2} |",
        m.returned, m.requests, m.items, m.per_second
    );
    println!();
    let _ = tally.all_requests.load(Ordering::SeqCst);
}

/// The operator's view with many organizations (the account's default quota is 1,000 user
/// pools): `tenantctl org list` reads them with `Registry::list_organizations`, one Query of
/// the `gsi1` index paged by DynamoDB's 1 MB, no read per organization. One organization is
/// created through the registry; the others are copies of its item (new id, subdomain and
/// keys) written with BatchWriteItem: moto copies the whole table for every transaction, so
/// 1,000 transactional creations would measure moto (and took it past 12 GB of memory).
async fn organizations(count: usize) {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    let aws = LocalAws::start();
    let (sdk, tally) = reads::counted(aws.sdk().await);
    let (registry, _mailer) = prepared_adapters(&sdk, TABLE).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let start = Instant::now();
    let mut first = shared::testing::sample_org();
    first.id = OrgId::generate();
    first.email_domains = Vec::new();
    first.cognito = Default::default();
    let audit =
        shared::domain::ports::AuditEvent::now(&first.id, "bench", "org.created", "acme", None);
    registry
        .create_organization(&first, &audit)
        .await
        .expect("created");
    let template = client
        .get_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(format!("ORG#{}", first.id)))
        .key("sk", AttributeValue::S("ORG".into()))
        .send()
        .await
        .expect("read")
        .item
        .expect("the organization's item");
    let copies: Vec<WriteRequest> = (1..count)
        .map(|i| {
            let id = OrgId::generate();
            let subdomain = format!("org{i:04}");
            let mut item = template.clone();
            item.insert("pk".into(), AttributeValue::S(format!("ORG#{id}")));
            item.insert("id".into(), AttributeValue::S(id.to_string()));
            item.insert("subdomain".into(), AttributeValue::S(subdomain.clone()));
            item.insert("gsi1sk".into(), AttributeValue::S(subdomain));
            item.insert(
                "name".into(),
                AttributeValue::S(format!("Organization {i}")),
            );
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .expect("put"),
                )
                .build()
        })
        .collect();
    for chunk in copies.chunks(25) {
        let mut pending = Some(chunk.to_vec());
        while let Some(requests) = pending.take().filter(|r| !r.is_empty()) {
            let out = client
                .batch_write_item()
                .request_items(TABLE, requests)
                .send()
                .await
                .expect("batch write");
            pending = out.unprocessed_items.and_then(|mut u| u.remove(TABLE));
        }
    }
    let created = start.elapsed().as_secs_f64();
    let listed = measure(&tally, 5, || async {
        let orgs = registry.list_organizations().await.expect("listed");
        assert_eq!(orgs.len(), count, "every organization listed");
        orgs.len().to_string()
    })
    .await;
    println!(
        "### {count} organizations\n\nWritten in {created:.0} s.\n\n\
         | view | requests/call | items read/call | calls/s (moto) | organizations |\n\
         |---|---|---|---|---|\n\
         | `tenantctl org list` (`list_organizations`) | {:.1} | {:.0} | {:.1} | {} |\n",
        listed.requests, listed.items, listed.per_second, listed.returned
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<usize> = std::env::var("PEOPLE_SCALE_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000]);
    let before_max: usize = std::env::var("PEOPLE_SCALE_BEFORE_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    println!("## The admin API at scale (page size {PAGE})\n");
    let organizations_count: usize = std::env::var("PEOPLE_SCALE_ORGANIZATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    if organizations_count > 0 {
        organizations(organizations_count).await;
    }
    for size in sizes {
        one_size(size, before_max).await;
    }
}
