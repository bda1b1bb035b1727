//! The `pre-authentication` trigger: the handler in `handler.rs`, the shared start-up in `shared::trigger`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::trigger::serve("pre-authentication", pre_authentication::handle).await
}
