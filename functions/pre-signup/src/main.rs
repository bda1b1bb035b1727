//! The `pre-signup` trigger: the handler in `handler.rs`, the shared start-up in `shared::trigger`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::trigger::serve("pre-signup", pre_signup::handle).await
}
