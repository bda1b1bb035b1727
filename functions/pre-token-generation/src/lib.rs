//! The `pre-token-generation` Cognito trigger (see `handler.rs`).

mod handler;

pub use handler::handle;
