//! The admin API (`admin-api`): what an organization's admin UI calls. See `app.rs` for who
//! may call and `routes.rs` for the routes; `openapi.json` describes them.

pub mod app;
pub mod cors;
pub mod import;
pub mod problem;
pub mod routes;
pub mod wiring;

pub use app::{App, Authenticate, NotAccepted, TokenSubject};

#[cfg(test)]
mod tests;
