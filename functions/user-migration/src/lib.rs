//! The `user-migration` Cognito trigger (see `handler.rs`).

mod handler;

pub use handler::handle;
