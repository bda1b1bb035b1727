//! The `admin-api` function: API Gateway (REST API) requests through `App::handle`, with the
//! admin UI's CORS headers on every answer.

use lambda_http::{service_fn, Request};
use shared::config::ProcessEnv;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let sdk = shared::aws::load_config(shared::aws::Budget::Operator).await?;
    // Lives as long as the execution environment.
    let app: &'static admin_api::App =
        Box::leak(Box::new(admin_api::wiring::app(&sdk, &ProcessEnv)?));
    let cors: &'static admin_api::cors::Cors =
        Box::leak(Box::new(admin_api::cors::Cors::from_env(&ProcessEnv)));
    lambda_http::run_concurrent(service_fn(move |request: Request| async move {
        // Only the Origin header is kept past the handler, not the whole request's headers.
        let origin = request
            .headers()
            .get(lambda_http::http::header::ORIGIN)
            .cloned();
        let mut response = app.handle(request).await;
        cors.apply(origin.as_ref(), &mut response);
        Ok::<_, std::convert::Infallible>(response)
    }))
    .await
}
