//! The suite's library: the business ([`domain`]), the capabilities it needs ([`ports`]),
//! their AWS implementations ([`aws`]) and typed configuration ([`config`]).

#[cfg(feature = "auth")]
pub mod auth;
pub mod aws;
pub mod cache;
pub mod config;
pub mod dns;
pub mod domain;
pub mod ports;
pub mod rate;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(feature = "lambda")]
pub mod trigger;
