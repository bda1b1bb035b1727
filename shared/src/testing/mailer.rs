//! Mail, kept instead of sent.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::mail::MailContent;
use crate::domain::ports::Mailer;
use crate::domain::{EmailAddress, Error};

/// Mail, kept instead of sent.
#[derive(Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<(EmailAddress, MailContent)>>,
}

impl MemoryMailer {
    pub fn sent(&self) -> Vec<(EmailAddress, MailContent)> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, to: &EmailAddress, mail: &MailContent) -> Result<String, Error> {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.push((to.clone(), mail.clone()));
        Ok(format!("message-{}", sent.len()))
    }
}
