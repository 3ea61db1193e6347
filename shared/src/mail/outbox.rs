//! E-mails the mail service refused, held in the control table and sent again by a later sweep.

use std::future::Future;

use super::{Email, MailError, Mailer};
use crate::store::StoreError;

/// An e-mail kept for a later attempt, under its outbox id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub id: String,
    pub email: Email,
}

/// Where e-mails that could not be sent wait for another attempt (the control table: see
/// `crate::keys::outbox`), for [`OUTBOX_RETENTION`].
pub trait Outbox: Send + Sync {
    /// Keeps `email` for a later attempt.
    fn hold(&self, email: &Email) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The oldest e-mails waiting, at most `limit`.
    fn held(&self, limit: usize) -> impl Future<Output = Result<Vec<Held>, StoreError>> + Send;

    /// Forgets a held e-mail (it was sent).
    fn release(&self, id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl<T: Outbox + ?Sized> Outbox for &T {
    fn hold(&self, email: &Email) -> impl Future<Output = Result<(), StoreError>> + Send {
        T::hold(self, email)
    }

    fn held(&self, limit: usize) -> impl Future<Output = Result<Vec<Held>, StoreError>> + Send {
        T::held(self, limit)
    }

    fn release(&self, id: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        T::release(self, id)
    }
}

/// How long an e-mail that cannot be sent is retried before it is given up (and logged).
pub const OUTBOX_RETENTION: std::time::Duration = std::time::Duration::from_secs(3 * 24 * 60 * 60);

/// A mailer that loses nothing: an e-mail the mail service refuses (throttling, an outage) is
/// held in the outbox, and `billing-sweep` sends it later ([`deliver_held`]). Only when it can be
/// neither sent nor held is it an error.
#[derive(Debug, Clone)]
pub struct Deferring<M, O> {
    pub mailer: M,
    pub outbox: O,
}

impl<M: Mailer, O: Outbox> Mailer for Deferring<M, O> {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let Err(err) = self.mailer.send(email).await else {
            return Ok(());
        };
        match self.outbox.hold(email).await {
            Ok(()) => {
                tracing::warn!(error = %err, subject = %email.subject, "e-mail held for a later attempt");
                Ok(())
            }
            Err(held) => Err(MailError(format!(
                "{err}; and it could not be held: {held}"
            ))),
        }
    }
}

/// What [`deliver_held`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Delivered {
    pub sent: usize,
    /// Still refused: held for the next attempt.
    pub kept: usize,
}

/// Sends up to `limit` held e-mails; each one sent leaves the outbox.
pub async fn deliver_held<M: Mailer, O: Outbox>(
    mailer: &M,
    outbox: &O,
    limit: usize,
) -> Result<Delivered, StoreError> {
    let mut delivered = Delivered::default();
    for held in outbox.held(limit).await? {
        match mailer.send(&held.email).await {
            Ok(()) => {
                outbox.release(&held.id).await?;
                delivered.sent += 1;
            }
            Err(err) => {
                tracing::warn!(error = %err, outbox_id = %held.id, "a held e-mail is still refused");
                delivered.kept += 1;
            }
        }
    }
    Ok(delivered)
}
