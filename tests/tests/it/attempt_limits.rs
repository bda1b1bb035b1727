//! The router's attempt counters against moto's DynamoDB: one window's count is shared by
//! every caller (as by every Lambda environment), each attempt counted once, and the limit
//! refuses the attempt after it.

use integration_tests::{prepared_adapters, LocalAws};
use shared::domain::attempts::{check_attempt, Attempt, AttemptLimits};
use shared::domain::ports::AttemptCounter;
use shared::domain::OrgId;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_are_shared_atomic_and_limit_the_next_attempt() {
    let aws = LocalAws::start();
    let sdk = aws.sdk().await;
    let (registry, _) = prepared_adapters(&sdk, "signin").await;

    // Two execution environments (two clients) count into the same window. (DynamoDB's ADD
    // is atomic; moto's server is not under concurrent first writes of one item, so the
    // attempts here come one after the other.)
    let other = shared::aws::dynamodb::DynamoRegistry::new(&sdk, "signin");
    let mut counts = Vec::new();
    for i in 0..40 {
        let counter: &dyn AttemptCounter = if i % 2 == 0 { &registry } else { &other };
        counts.push(
            counter
                .count_attempt("ip:203.0.113.1:password", 1_800_000_000, 60)
                .await
                .expect("counted"),
        );
    }
    assert_eq!(counts, (1..=40).collect::<Vec<u64>>());
    // Another window starts from one.
    assert_eq!(
        registry
            .count_attempt("ip:203.0.113.1:password", 1_800_000_060, 60)
            .await
            .expect("counted"),
        1
    );

    // The rule over the table: the address's 31st password in a minute is refused.
    let limits = AttemptLimits::default();
    let org = OrgId::generate();
    let now = shared::domain::now_epoch();
    let mut refused = None;
    for i in 1..=limits.password.per_address + 1 {
        if let Err(too_many) = check_attempt(
            &registry,
            &limits,
            Attempt::Password,
            Some("198.51.100.4"),
            Some(&org),
            now,
        )
        .await
        {
            refused = Some((i, too_many));
            break;
        }
    }
    let (at, too_many) = refused.expect("refused at last");
    assert_eq!(at, limits.password.per_address + 1);
    assert_eq!(too_many.scope, "address");
    assert!((1..=60).contains(&too_many.retry_after_secs));
}
