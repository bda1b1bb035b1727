//! The suite's library: the business ([`domain`], with the capabilities it needs as traits in
//! [`domain::ports`]), their AWS implementations ([`aws`]) and typed configuration
//! ([`config`]). Dependencies point one way: functions -> `auth`, `trigger`, `aws`, `config`
//! -> `domain`; the domain imports none of them.

#[cfg(feature = "auth")]
pub mod auth;
pub mod aws;
pub mod cache;
pub mod config;
pub mod dns;
pub mod domain;
pub mod rate;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(feature = "lambda")]
pub mod trigger;
