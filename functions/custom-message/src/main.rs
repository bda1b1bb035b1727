//! The `custom-message` trigger: the handler in `handler.rs`, the shared start-up in `shared::trigger`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::trigger::serve("custom-message", custom_message::handle).await
}
