//! The `user-migration` trigger: the handler in `handler.rs`, the shared start-up in `shared::trigger`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::trigger::serve("user-migration", user_migration::handle).await
}
