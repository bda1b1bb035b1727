//! The admin API (`admin-api`): what an organization's admin UI calls. See `app.rs` for who
//! may call and `routes.rs` for the routes; `openapi.json` describes them. Dependencies point
//! one way: `wiring` and `app` (request handling) over `routes` over `import`, all over
//! `context` (the app, the caller, the request) and `problem`.

pub mod app;
pub mod context;
pub mod cors;
pub mod import;
pub mod problem;
pub mod routes;
pub mod sso;
pub mod wiring;

pub use context::{App, Authenticate, NotAccepted, TokenSubject};

#[cfg(test)]
mod tests;
