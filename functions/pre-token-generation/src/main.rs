//! The `pre-token-generation` trigger: the handler in `handler.rs`, the shared start-up in `shared::trigger`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::trigger::serve("pre-token-generation", pre_token_generation::handle).await
}
