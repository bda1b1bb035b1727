//! The outside capabilities the domain needs, one small trait each, defined here so that the
//! domain is the bottom layer: the AWS adapters (the `aws` module) implement these traits and
//! depend on the domain; unit tests implement them in memory (the `testing` module). One file
//! per port, with the types that travel through it; everything is re-exported here, so
//! callers write `domain::ports::Registry`.

mod attempts;
mod legacy_passwords;
mod mailer;
mod migration;
mod registry;
mod secrets;
mod sign_in;
mod txt_records;
mod user_pools;

pub use attempts::AttemptCounter;
pub use legacy_passwords::LegacyPasswords;
pub use mailer::Mailer;
pub use migration::{
    LeaseHolders, LoginOutcome, MigratedLogin, MigrationLogins, MigrationStore, PoolLogin,
    UnprovenHolders,
};
pub use registry::{
    external_id_taken, AuditEvent, IdempotentClaim, KeyClaim, Page, Registry, Reindexed,
    StoredAnswer,
};
pub use secrets::Secrets;
pub use sign_in::{SignInRefusal, SignInStep, SignInTokens, UserContext, UserSignIn};
pub use txt_records::TxtRecords;
pub use user_pools::{
    ClientSpec, IdentityProviderSpec, NewLogin, PoolSpec, TriggerArns, UserPools,
};
