//! Sending through Amazon SES.

use super::{Email, MailError, Mailer};

/// Amazon SES (the v2 API's `SendEmail`), from one verified address, through a configuration
/// set when there is one (its bounces and complaints reach the suppression list and metrics).
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, from: String) -> Self {
        Self {
            client,
            from,
            configuration_set: None,
        }
    }

    /// Sends through the configuration set `name`.
    pub fn with_configuration_set(self, name: Option<String>) -> Self {
        Self {
            configuration_set: name,
            ..self
        }
    }
}

fn content(data: &str) -> Result<aws_sdk_sesv2::types::Content, MailError> {
    aws_sdk_sesv2::types::Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|err| MailError(err.to_string()))
}

impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        use aws_sdk_sesv2::types::{Body, Destination, EmailContent, Message};
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .text(content(&email.text)?)
                    .html(content(&email.html)?)
                    .build(),
            )
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .to_addresses(email.to.as_str())
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|err| MailError(format!("{:?}", err.into_service_error())))?;
        Ok(())
    }
}
