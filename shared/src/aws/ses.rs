//! Our own mails, sent through SES v2.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;

use super::Endpoint;
use crate::domain::mail::MailContent;
use crate::domain::ports::Mailer;
use crate::domain::{EmailAddress, Error};

pub struct SesMailer {
    client: Client,
    from: EmailAddress,
    configuration_set: Option<String>,
    endpoint: Endpoint,
}

fn content(data: &str) -> Result<Content, Error> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| Error::Aws {
            service: "SES",
            operation: "build request",
            detail: e.to_string(),
        })
}

impl SesMailer {
    /// `configuration_set`: the SES configuration set (bounces, complaints, metrics), if any.
    pub fn new(config: &SdkConfig, from: EmailAddress, configuration_set: Option<String>) -> Self {
        Self {
            client: Client::new(config),
            from,
            configuration_set,
            endpoint: Endpoint::of("SES", config),
        }
    }

    /// Makes sure SES may send from `MAIL_FROM`'s domain: creates the domain identity unless
    /// it exists. Returns the DKIM tokens to publish in DNS (empty when already verified or
    /// when the identity existed).
    pub async fn ensure_identity(&self) -> Result<Vec<String>, Error> {
        let domain = self.from.domain().to_owned();
        match self
            .client
            .get_email_identity()
            .email_identity(&domain)
            .send()
            .await
        {
            Ok(_) => return Ok(Vec::new()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_not_found_exception()) => {}
            Err(e) => return Err(self.endpoint.error("GetEmailIdentity", e)),
        }
        let created = self
            .client
            .create_email_identity()
            .email_identity(&domain)
            .send()
            .await;
        match created {
            Ok(out) => Ok(out
                .dkim_attributes()
                .map(|d| d.tokens().to_vec())
                .unwrap_or_default()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_already_exists_exception()) =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(self.endpoint.error("CreateEmailIdentity", e)),
        }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, to: &EmailAddress, mail: &MailContent) -> Result<String, Error> {
        let message = Message::builder()
            .subject(content(&mail.subject)?)
            .body(
                Body::builder()
                    .html(content(&mail.html)?)
                    .text(content(&mail.text)?)
                    .build(),
            )
            .build();
        let out = self
            .client
            .send_email()
            .from_email_address(self.from.as_str())
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| self.endpoint.error("SendEmail", e))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}
