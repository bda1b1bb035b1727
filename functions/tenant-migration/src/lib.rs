//! The organization worker: the `tenant-migration` Lambda and the operator CLI `tenantctl`
//! share this wiring and the domain operations in the `shared` crate.

pub mod cli;
pub mod handler;
pub mod job;
pub mod migrate;
pub mod output;
pub mod runs;
pub mod source;
pub mod verify;
pub mod wiring;
