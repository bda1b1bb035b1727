//! The `tenant-migration` Lambda: provisioning (and, later, migration) of organizations.

use lambda_runtime::{run_concurrent, service_fn, tracing, Error};
use shared::config::ProcessEnv;
use tenant_migration::{handler, wiring::ProvisioningDeps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let sdk = shared::aws::load_config(shared::aws::Budget::Operator).await?;
    // Lives as long as the execution environment.
    let deps: &'static ProvisioningDeps =
        Box::leak(Box::new(ProvisioningDeps::new(&sdk, &ProcessEnv)?));
    run_concurrent(service_fn(move |event| handler::handle(deps, event))).await
}
