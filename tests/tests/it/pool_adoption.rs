//! A pool found by the organization's name (`tenant-<sub>-<id>`: an earlier run created it
//! and died before recording it) is adopted only when its `org-id` tag names the
//! organization: the functions' roles act only on pools carrying that tag, and it is what
//! shows the pool was made for this organization. Against moto, which keeps a pool's tags:
//! the pool is made between the organization's record and the pool step, as a run that died
//! there leaves it.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_cognitoidentityprovider::Client as CognitoClient;
use integration_tests::{prepared_adapters, trigger_arns, LocalAws};
use shared::aws::cognito::CognitoPools;
use shared::domain::provisioning::{ProvisionRequest, Provisioning, Step};
use shared::domain::Error;

const TABLE: &str = "adoption";

/// Provisions `sub`; when its record is made, a pool of its name is created with `tags`
/// (the organization's id stands for `{id}`). Returns the outcome, the pool made beforehand
/// and the steps reported.
async fn provision_over_a_left_pool(
    aws: &LocalAws,
    sub: &str,
    tags: &[(&str, &str)],
) -> (Result<String, Error>, String, Vec<String>) {
    let sdk = aws.sdk().await;
    let (registry, mailer) = prepared_adapters(&sdk, TABLE).await;
    let pools = CognitoPools::new(&sdk);
    let cognito = CognitoClient::new(&sdk);
    let triggers = trigger_arns();
    let left = Mutex::new(String::new());
    let steps = Mutex::new(Vec::new());
    let progress = |step: &Step| {
        steps.lock().expect("steps").push(step.to_string());
        if let Step::Recorded { org_id, .. } = step {
            let tags: HashMap<String, String> = tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.replace("{id}", org_id.as_str())))
                .collect();
            let name = format!("tenant-{sub}-{org_id}");
            let made = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(async {
                    cognito
                        .create_user_pool()
                        .pool_name(name)
                        .set_user_pool_tags(Some(tags).filter(|t| !t.is_empty()))
                        .send()
                        .await
                        .expect("a pool left by a run that died")
                })
            });
            *left.lock().expect("left") = made
                .user_pool()
                .and_then(|p| p.id())
                .expect("id")
                .to_owned();
        }
    };
    let outcome = Provisioning {
        registry: &registry,
        pools: &pools,
        mailer: &mailer,
        base_domain: "app.example.test",
        triggers: &triggers,
        actor: "test",
    }
    .provision(
        &ProvisionRequest {
            subdomain: sub.into(),
            name: format!("{sub} Inc"),
            ..Default::default()
        },
        &progress,
    )
    .await
    .map(|p| p.organization.cognito.user_pool_id.unwrap_or_default());
    let left = left.lock().expect("left").clone();
    let steps = steps.lock().expect("steps").clone();
    (outcome, left, steps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_found_by_name_is_adopted_only_with_its_org_id_tag() {
    let aws = LocalAws::start();

    // Tagged for this organization: adopted, and said so.
    let (outcome, left, steps) = provision_over_a_left_pool(
        &aws,
        "tagged",
        &[("org-id", "{id}"), ("managed-by", "tenantctl")],
    )
    .await;
    assert_eq!(
        outcome.expect("adopted"),
        left,
        "the left pool is the organization's"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.contains(&left) && s.contains("org-id tag names this organization: adopted")),
        "{steps:?}"
    );

    // No tag: refused, naming the pool and what to do; no second pool.
    let before = aws.pool_count().await;
    let (outcome, left, _) = provision_over_a_left_pool(&aws, "untagged", &[]).await;
    let err = outcome.expect_err("an untagged pool is not adopted");
    let text = err.to_string();
    assert!(matches!(err, Error::NotAllowed { .. }), "{err:?}");
    assert!(
        text.contains(&left) && text.contains("no org-id tag") && text.contains("tag-resource"),
        "{text}"
    );
    assert_eq!(
        aws.pool_count().await,
        before + 1,
        "only the left pool exists"
    );

    // Another organization's tag: refused.
    let (outcome, left, _) =
        provision_over_a_left_pool(&aws, "other", &[("org-id", "someone-else")]).await;
    let text = outcome
        .expect_err("another organization's pool")
        .to_string();
    assert!(
        text.contains(&left) && text.contains("org-id=someone-else"),
        "{text}"
    );
}
