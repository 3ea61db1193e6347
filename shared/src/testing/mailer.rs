//! A mailer in memory that keeps what it was asked to send, and can be told to refuse.

use std::sync::Mutex;

use crate::mail::{Email, MailError, Mailer};

use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<Email>>,
    refusing: AtomicBool,
}

impl MemoryMailer {
    pub fn sent(&self) -> Vec<Email> {
        self.sent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Refuses every e-mail (as SES does when throttling or down) until told otherwise.
    pub fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }
}

impl Mailer for MemoryMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        if self.refusing.load(Ordering::SeqCst) {
            return Err(MailError(
                "the mail service refuses (a test's outage)".into(),
            ));
        }
        self.sent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(email.clone());
        Ok(())
    }
}
