//! The `scim` function: API Gateway (REST API) requests through `App::handle`.

use lambda_http::{service_fn, Request};
use shared::config::ProcessEnv;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let sdk = shared::aws::load_config(shared::aws::Budget::Operator).await?;
    // Lives as long as the execution environment.
    let app: &'static scim::App = Box::leak(Box::new(scim::wiring::app(&sdk, &ProcessEnv)?));
    lambda_http::run_concurrent(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(app.handle(request).await)
    }))
    .await
}
