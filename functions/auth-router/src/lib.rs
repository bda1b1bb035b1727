//! The `auth-router` function: the main domain's discovery page and every organization's
//! login pages on its own subdomain.

pub mod app;
mod common;
mod discovery;
pub mod host;
mod links;
pub mod pages;
mod password;
mod session;
mod sso;
pub mod web;
pub mod wiring;

pub use common::{App, Identify, Identity, Settings, ORG_TTL};

#[cfg(test)]
mod tests;
