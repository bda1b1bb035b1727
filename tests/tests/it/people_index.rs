//! People at scale against moto (docs/design.md, "Admin API at scale"): search through
//! `GET /v1/users?q=` in process, counters kept exact by concurrent activations, role changes
//! and deletes, and the backfill (`tenantctl org reindex`) run twice and while people change.

use std::sync::Arc;

use admin_api::App;
use async_trait::async_trait;
use integration_tests::{prepared_adapters, provisioned, LocalAws};
use lambda_http::Body;
use serde_json::Value;
use shared::aws::dynamodb::DynamoRegistry;
use shared::domain::ports::{AuditEvent, Registry};
use shared::domain::search::{recount, PeopleCounts, PeopleQuery};
use shared::domain::{EmailAddress, Organization, Person, PersonStatus, Role};

const TABLE: &str = "signin";

struct Trusting(String, String);

#[async_trait]
impl admin_api::Authenticate for Trusting {
    async fn authenticate(
        &self,
        _token: &str,
    ) -> Result<admin_api::TokenSubject, admin_api::NotAccepted> {
        Ok(admin_api::TokenSubject {
            pool_id: self.0.clone(),
            username: self.1.clone(),
            signed_in_at: shared::domain::now_epoch() as u64,
        })
    }
}

struct World {
    aws: LocalAws,
    registry: Arc<DynamoRegistry>,
    org: Organization,
    app: App,
}

/// An organization provisioned on moto (its first administrator `boss@<sub>.example`
/// invited), without a seat limit, and the admin API in process, trusting its tokens.
async fn world(sub: &str) -> World {
    let aws = LocalAws::start();
    let sdk = aws.sdk().await;
    let (registry, mailer) = prepared_adapters(&sdk, TABLE).await;
    let org = provisioned(&aws, &registry, &mailer, sub, "app.example.test").await;
    let mut unlimited = org.clone();
    unlimited.seats = None;
    let org = registry
        .save_organization(&unlimited, None)
        .await
        .expect("no seat limit");
    let registry = Arc::new(registry);
    let app = App {
        registry: registry.clone(),
        pools: Arc::new(shared::aws::cognito::CognitoPools::new(&sdk)),
        mailer: Arc::new(mailer),
        auth: Arc::new(Trusting(
            org.cognito.user_pool_id.clone().expect("pool"),
            format!("boss@{sub}.example"),
        )),
        secrets: Arc::new(shared::aws::secrets::SecretsManager::new(&sdk)),
        dns: Arc::new(shared::testing::MemoryDns::default()),
        base_domain: "app.example.test".into(),
        region: "us-east-1".into(),
    };
    World {
        aws,
        registry,
        org,
        app,
    }
}

impl World {
    async fn get(&self, path: &str) -> (u16, Value) {
        let request = lambda_http::http::Request::builder()
            .method("GET")
            .uri(format!("https://api.example.test{path}"))
            .header("authorization", "Bearer t")
            .body(Body::Empty)
            .expect("request");
        let response = self.app.handle(request).await;
        let body = match response.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        (response.status().as_u16(), body)
    }

    /// Every username `GET /v1/users` lists for `query` (`q`, `status`, `role` as a query
    /// string), page by page with `limit`, each page checked to hold at most `limit`.
    async fn all_pages(&self, query: &str, limit: u32) -> Vec<String> {
        let mut names = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..200 {
            let mut path = format!("/v1/users?limit={limit}&{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, body) = self.get(&path).await;
            assert_eq!(status, 200, "{path}: {body}");
            let users = body["users"].as_array().expect("users");
            assert!(users.len() <= limit as usize, "{path}: {body}");
            names.extend(
                users
                    .iter()
                    .map(|u| u["username"].as_str().unwrap_or_default().to_owned()),
            );
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return names,
            }
        }
        panic!("{query}: paging did not end");
    }

    async fn add(&self, username: &str, given: &str, family: &str, roles: &[&str]) -> Person {
        let mut person = Person::new(
            self.org.id.clone(),
            username.into(),
            EmailAddress::parse(&format!("{username}@{}.example", self.org.subdomain))
                .expect("valid"),
            roles
                .iter()
                .map(|r| Role::parse(r).expect("role"))
                .collect(),
            PersonStatus::Added,
        );
        person.given_name = Some(given.into());
        person.family_name = Some(family.into());
        let audit = AuditEvent::now(&self.org.id, "test", "person.added", username, None);
        self.registry
            .create_person(&person, &audit)
            .await
            .expect("created");
        person
    }

    /// Every person of the organization, read from the records.
    async fn everyone(&self) -> Vec<Person> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .registry
                .people(&self.org.id, &|_: &Person| true, cursor.as_deref(), 1000)
                .await
                .expect("people");
            all.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return all,
            }
        }
    }

    async fn counters(&self) -> Option<PeopleCounts> {
        self.registry
            .people_counts(&self.org.id)
            .await
            .expect("counters")
    }

    /// The counters agree with a recount of the records, and the seat count with the people
    /// holding a seat.
    async fn assert_counts_exact(&self) -> PeopleCounts {
        let everyone = self.everyone().await;
        let counted = self.counters().await.expect("complete counters");
        assert_eq!(counted.nonzero(), recount(&everyone).nonzero());
        let org = self
            .registry
            .organization(&self.org.id)
            .await
            .expect("read")
            .expect("org");
        assert_eq!(
            org.seats_used as usize,
            everyone.iter().filter(|p| p.status.holds_seat()).count()
        );
        counted
    }

    /// Makes the organization look as one written before search entries and counters: its
    /// entries and counters item deleted.
    async fn forget_index(&self) {
        let client = aws_sdk_dynamodb::Client::new(&self.aws.sdk().await);
        let pk = format!("ORG#{}", self.org.id);
        let out = client
            .query()
            .table_name(TABLE)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(pk.clone()),
            )
            .send()
            .await
            .expect("query");
        for item in out.items() {
            let sk = item["sk"].as_s().expect("sk").clone();
            if sk.starts_with("SEARCH#") || sk == "COUNTS" {
                client
                    .delete_item()
                    .table_name(TABLE)
                    .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.clone()))
                    .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk))
                    .send()
                    .await
                    .expect("deleted");
            }
        }
    }
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_matches_prefixes_without_case_or_accents_and_pages_with_a_cursor() {
    let w = world("acme").await;
    w.add("jmuller", "Jürgen", "Müller-Lüdenscheidt", &["member"])
        .await;
    w.add("soren", "Søren", "Kierkegaard", &["member", "admin"])
        .await;
    w.add("anna.k", "Anna", "Karlsson", &["member"]).await;
    w.add("annette", "Annette", "Ångström", &["member"]).await;
    w.add("bob", "Bob", "Annan", &["member"]).await;
    let jmuller = w
        .registry
        .person(&w.org.id, "jmuller")
        .await
        .expect("read")
        .expect("there");
    let mut active = jmuller.clone();
    active.status = PersonStatus::Invited;
    w.registry
        .save_person(&jmuller, &active, None)
        .await
        .expect("invited");

    for (query, expected) in [
        ("q=MULLER", vec!["jmuller"]),
        ("q=l%C3%BCdensch", vec!["jmuller"]),
        ("q=jurgen%20m", vec!["jmuller"]),
        ("q=soren", vec!["soren"]),
        ("q=S%C3%98REN", vec!["soren"]),
        ("q=ann", vec!["anna.k", "annette", "bob"]),
        ("q=angstr", vec!["annette"]),
        ("q=anna.k%40acme", vec!["anna.k"]),
        ("q=ann&role=admin", vec![]),
        ("q=k&role=admin", vec!["soren"]),
        ("q=j&status=invited", vec!["jmuller"]),
        ("q=j&status=added", vec![]),
        // Prefixes only: no infix match, and an address's domain is not a term of its own.
        ("q=ller", vec![]),
        ("q=acme.example", vec![]),
    ] {
        for limit in [1, 2, 50] {
            assert_eq!(
                sorted(w.all_pages(query, limit).await),
                expected,
                "{query} by {limit}"
            );
        }
    }
    // Without q: everyone in username order, the administrator too.
    assert_eq!(
        w.all_pages("", 2).await,
        vec![
            "anna.k",
            "annette",
            "bob",
            "boss@acme.example",
            "jmuller",
            "soren"
        ]
    );
    assert_eq!(
        w.all_pages("status=invited", 1).await,
        vec!["boss@acme.example", "jmuller"]
    );

    // A cursor belongs to its query.
    let (_, first) = w.get("/v1/users?limit=1&q=ann").await;
    let cursor = first["next_cursor"].as_str().expect("more").to_owned();
    let (status, body) = w
        .get(&format!("/v1/users?limit=1&q=bob&cursor={cursor}"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "cursor", "{body}");

    // A changed name moves the person's entries: the old one finds nobody.
    let bob = w
        .registry
        .person(&w.org.id, "bob")
        .await
        .expect("read")
        .expect("bob");
    let mut renamed = bob.clone();
    renamed.family_name = Some("Zola".into());
    w.registry
        .save_person(&bob, &renamed, None)
        .await
        .expect("saved");
    assert_eq!(w.all_pages("q=annan", 5).await, Vec::<String>::new());
    assert_eq!(w.all_pages("q=zol", 5).await, vec!["bob"]);

    // Roles: the members from the counters.
    let (status, roles) = w.get("/v1/roles").await;
    assert_eq!(status, 200);
    let members = |name: &str| {
        roles["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| r["members"].as_i64().unwrap_or(-1))
    };
    assert_eq!(members("admin"), Some(2), "{roles}");
    assert_eq!(members("member"), Some(5), "{roles}");
    w.assert_counts_exact().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_stay_exact_under_concurrent_activations_role_changes_and_deletes() {
    let w = world("busy").await;
    let mut people = Vec::new();
    for i in 0..24 {
        people.push(
            w.add(&format!("p{i:02}"), "Pat", &format!("Doe{i}"), &["member"])
                .await,
        );
    }
    let before = w.assert_counts_exact().await;
    assert_eq!(before.status(PersonStatus::Added), 24);
    // Each person changes once or twice, all at once: activations (a seat), role changes,
    // deletes; a reindex runs meanwhile too.
    let changes: Vec<_> = people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let registry = w.registry.clone();
            let p = p.clone();
            tokio::spawn(async move {
                let mut next = p.clone();
                match i % 4 {
                    0 => next.status = PersonStatus::Invited,
                    1 => next.roles = vec![Role::admin(), Role::parse("member").expect("role")],
                    2 => next.status = PersonStatus::Unlinked,
                    _ => {
                        next.status = PersonStatus::Invited;
                        next.roles.push(Role::admin());
                    }
                }
                let saved = registry.save_person(&p, &next, None).await.expect("saved");
                if i % 4 == 0 {
                    let mut off = saved.clone();
                    off.status = PersonStatus::Deactivated;
                    registry.save_person(&saved, &off, None).await.expect("off");
                }
            })
        })
        .collect();
    let reindex = {
        let registry = w.registry.clone();
        let org = w.org.id.clone();
        tokio::spawn(async move { registry.reindex_people(&org, false).await })
    };
    for change in changes {
        change.await.expect("changed");
    }
    let reindexed = reindex.await.expect("ran");
    match reindexed {
        Ok(done) => assert_eq!(
            done.entries_written, 0,
            "every entry was written with its person"
        ),
        // People kept changing through every pass: a refusal that says so is right too.
        Err(shared::domain::Error::InProgress { .. }) => {}
        Err(e) => panic!("reindex: {e}"),
    }
    let after = w.assert_counts_exact().await;
    assert_eq!(after.status(PersonStatus::Deactivated), 6);
    assert_eq!(after.status(PersonStatus::Unlinked), 6);
    assert_eq!(
        after.status(PersonStatus::Invited),
        7,
        "six and the administrator"
    );
    assert_eq!(
        after.role(&Role::admin()),
        13,
        "twelve and the administrator"
    );
    assert_eq!(after.admins_with_login(), 7);
    // Unlinked people keep their roles in the record, not as members.
    assert_eq!(after.role(&Role::parse("member").expect("role")), 18);
    assert_eq!(after.held(&Role::parse("member").expect("role")), 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_builds_what_older_organizations_lack_twice_alike_and_while_people_change() {
    let w = world("legacy").await;
    for i in 0..10 {
        w.add(
            &format!("old{i}"),
            "Olga",
            &format!("Ölund{i}"),
            &["member"],
        )
        .await;
    }
    w.forget_index().await;
    // A stray entry no record has.
    w.registry
        .load_people(&[{
            let mut ghost = Person::new(
                w.org.id.clone(),
                "ghost".into(),
                EmailAddress::parse("ghost@legacy.example").expect("valid"),
                vec![],
                PersonStatus::Added,
            );
            ghost.version = 7;
            ghost
        }])
        .await
        .expect("loaded");
    let client = aws_sdk_dynamodb::Client::new(&w.aws.sdk().await);
    for sk in ["PERSON#ghost", "COUNTS"] {
        client
            .delete_item()
            .table_name(TABLE)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#{}", w.org.id)),
            )
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk.into()))
            .send()
            .await
            .expect("deleted");
    }
    assert_eq!(w.counters().await, None, "no counters: not complete");
    assert_eq!(w.all_pages("q=olga", 5).await, Vec::<String>::new());
    // Roles are counted from the records meanwhile.
    let (_, roles) = w.get("/v1/roles").await;
    assert!(
        roles["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .any(|r| r["name"] == "member" && r["members"] == 10),
        "{roles}"
    );

    // While new people come and change (others than the ones being indexed).
    let newcomers = async {
        for i in 0..6 {
            let p = w
                .add(&format!("new{i}"), "Nils", "Nyberg", &["member"])
                .await;
            let mut on = p.clone();
            on.status = PersonStatus::Invited;
            w.registry
                .save_person(&p, &on, None)
                .await
                .expect("invited");
        }
    };
    let env = w.aws.env(TABLE);
    let first = async {
        tokio::task::spawn_blocking(move || {
            integration_tests::tenantctl_json(&env, &["org", "reindex", "legacy"], 0)
        })
        .await
        .expect("ran")
    };
    let ((), first) = tokio::join!(newcomers, first);
    assert!(
        first["entries_written"].as_u64().unwrap_or(0) >= 10,
        "{first}"
    );
    assert!(
        first["entries_deleted"].as_u64().unwrap_or(0) >= 1,
        "the stray one: {first}"
    );
    let counted = w.assert_counts_exact().await;
    assert_eq!(counted.status(PersonStatus::Added), 10);
    assert_eq!(counted.status(PersonStatus::Invited), 7);
    assert_eq!(
        sorted(w.all_pages("q=olund", 3).await),
        (0..10).map(|i| format!("old{i}")).collect::<Vec<_>>()
    );
    assert_eq!(w.all_pages("q=ghost", 3).await, Vec::<String>::new());

    // Again: nothing to write, the same counts.
    let env = w.aws.env(TABLE);
    let second = tokio::task::spawn_blocking(move || {
        integration_tests::tenantctl_json(&env, &["org", "reindex", "legacy"], 0)
    })
    .await
    .expect("ran");
    assert_eq!(second["entries_written"], 0, "{second}");
    assert_eq!(second["entries_deleted"], 0, "{second}");
    assert_eq!(second["people"], 17, "{second}");
    assert_eq!(w.assert_counts_exact().await, counted);
    // The query the route uses reads within its budget.
    let q = PeopleQuery::new(Some("o"), None, None).expect("query");
    let page = w
        .registry
        .find_people(&w.org.id, &q, None, 4)
        .await
        .expect("page");
    assert_eq!(page.items.len(), 4);
}
