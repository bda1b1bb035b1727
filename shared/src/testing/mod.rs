//! Small in-memory fakes of our own ports, for unit tests of handlers and domain code.
//! Integration tests never use them: they run against the local AWS stack.
//!
//! One file per port they fake, as in `domain::ports`; everything is re-exported here. The
//! module is compiled for tests and behind the `testing` feature only (see `lib.rs`), which
//! function crates enable in their `[dev-dependencies]` alone: deployed binaries carry none of
//! it.

mod attempts;
pub mod legacy_hashes;
mod legacy_passwords;
mod mailer;
mod registry;
mod samples;
mod secrets;
mod txt_records;
mod user_pools;

pub use mailer::MemoryMailer;
pub use registry::MemoryRegistry;
pub use samples::{
    sample_event, sample_event_names, sample_lazy_org, sample_org, sample_person, SAMPLE_POOL,
};
pub use secrets::MemorySecrets;
pub use txt_records::MemoryDns;
pub use user_pools::RecordingPools;
