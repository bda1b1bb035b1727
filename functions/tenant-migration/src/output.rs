//! What the commands share below the CLI: their context, how they print (one JSON document
//! on stdout, or progress lines on stderr) and how they end (`CliError`, `Exit`).

use std::io::Write;

use serde::Serialize;
use shared::config::ConfigError;
use shared::domain::Error;

/// What a command needs from the CLI around it.
pub struct Context<'a> {
    pub sdk: &'a aws_config::SdkConfig,
    pub json: bool,
    pub actor: String,
}

/// How the command ended: the exit code (0 clean, 1 something not migrated, 2 refused).
pub type Exit = u8;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Domain(#[from] Error),
    /// The command printed its own answer and ends with this code.
    #[error("exit {0}")]
    Exit(u8),
}

impl CliError {
    pub(crate) fn code(&self) -> &'static str {
        match self {
            CliError::Config(_) => "Configuration",
            CliError::Domain(e) => e.code(),
            CliError::Exit(_) => "Exit",
        }
    }

    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) => 2,
            CliError::Exit(code) => *code,
            CliError::Domain(
                Error::InvalidSubdomain { .. }
                | Error::ReservedSubdomain { .. }
                | Error::InvalidInput { .. }
                | Error::PublicEmailDomain { .. },
            ) => 2,
            CliError::Domain(_) => 1,
        }
    }
}

/// One line of progress on stderr.
pub(crate) fn progress(message: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "  - {message}");
}

/// The result as pretty JSON on stdout.
pub(crate) fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: could not encode the result as JSON: {e}"),
    }
}
