//! The `auth-router` function: the main domain's discovery page and every organization's
//! login pages on its own subdomain.

pub mod app;
pub mod host;
pub mod pages;
pub mod web;
pub mod wiring;

pub use app::{App, Identify, Identity, Settings};

#[cfg(test)]
mod tests;
