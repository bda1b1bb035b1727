//! The integration tests against the local AWS stack, as one test binary: one link step
//! instead of one per file, and the tests of every file share the harness's threads (a file
//! whose one test waits on moto no longer leaves the other core idle). A test is named after
//! its former file: `cargo it migration_kills::` runs one file's tests, `cargo it <name>` one
//! test (`cargo it` is the alias in `.cargo/config.toml`: `cargo test --workspace --features
//! integration-tests/test-features --test it`, the features `make test` builds with, so nothing
//! is compiled a second time; `-p integration-tests` would resolve other features).
//!
//! Every test here starts its own moto server (and, where it needs them, `cargo lambda watch`
//! and cognito-local) on free loopback ports, and passes all it needs to the programs it
//! starts explicitly: none sets a variable of this process's environment or a global.
//! `iam_roles.rs` sets process environment variables (`AWS_CALL_LOG` among them), so it stays
//! a binary of its own.

mod admin_api;
mod attempt_limits;
mod auth_router;
mod idempotency;
mod lazy_migration;
mod migration;
mod migration_kills;
mod people_index;
mod pool_adoption;
mod provisioning;
mod saml;
mod scim;
mod tenantctl;
mod token_verifier;
mod triggers_e2e;
