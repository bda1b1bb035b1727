//! The `auth-router` function: API Gateway (HTTP API) requests on `*.BASE_DOMAIN` and
//! `BASE_DOMAIN` through `App::handle`.

use lambda_http::{service_fn, Request};
use shared::config::ProcessEnv;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let sdk = shared::aws::load_config(shared::aws::Budget::Operator).await?;
    // Lives as long as the execution environment.
    let app: &'static auth_router::App =
        Box::leak(Box::new(auth_router::wiring::app(&sdk, &ProcessEnv)?));
    lambda_http::run_concurrent(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(app.handle(request).await)
    }))
    .await
}
