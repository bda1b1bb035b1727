//! The suite's library: the business ([`domain`]), the capabilities it needs ([`ports`]),
//! their AWS implementations ([`aws`]) and typed configuration ([`config`]).

pub mod aws;
pub mod config;
pub mod domain;
pub mod ports;
