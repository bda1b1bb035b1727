//! Outgoing mail.

use async_trait::async_trait;

use crate::domain::mail::MailContent;
use crate::domain::{EmailAddress, Error};

/// Outgoing mail (SES).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends the mail and returns the provider's message id.
    async fn send(&self, to: &EmailAddress, mail: &MailContent) -> Result<String, Error>;
}
