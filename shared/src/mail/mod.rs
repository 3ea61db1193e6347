//! E-mails the service sends (through Amazon SES), and what they say.
//!
//! Each notice is written in English and in French, chosen by the organization's locale (its
//! settings' `locale`, e.g. `fr-FR`; anything else is English), in plain text and HTML. Every
//! value that comes from a user (an organization's name) is escaped in the HTML part.
//!
//! [`messages`] writes them, [`ses`] sends them, and [`outbox`] holds what the mail service
//! refused until a later sweep sends it.

use std::future::Future;

use crate::domain::email::EmailAddress;

/// One message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: EmailAddress,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the e-mail could not be sent: {0}")]
pub struct MailError(pub String);

/// Sends e-mails.
pub trait Mailer: Send + Sync {
    fn send(&self, email: &Email) -> impl Future<Output = Result<(), MailError>> + Send;
}

impl<T: Mailer + ?Sized> Mailer for &T {
    fn send(&self, email: &Email) -> impl Future<Output = Result<(), MailError>> + Send {
        T::send(self, email)
    }
}

pub mod messages;
pub mod outbox;
pub mod ses;

pub use messages::*;
pub use outbox::*;
pub use ses::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Tier;

    fn admin() -> EmailAddress {
        EmailAddress::parse("alice@acme.example").unwrap()
    }

    #[tokio::test]
    async fn an_e_mail_refused_now_is_held_and_sent_later_once() {
        use crate::testing::memory_control::MemoryControl;
        let outbox = MemoryControl::new();
        let ses = crate::testing::mailer::MemoryMailer::default();
        let mailer = Deferring {
            mailer: &ses,
            outbox: &outbox,
        };
        let notice = suspended(
            &admin(),
            "Acme",
            "https://console.example",
            Language::English,
        );
        ses.refuse(true);
        mailer.send(&notice).await.expect("held, not lost");
        assert!(ses.sent().is_empty());
        assert_eq!(outbox.held(10).await.unwrap().len(), 1);
        // Still refused: kept.
        let later = deliver_held(&ses, &outbox, 10).await.unwrap();
        assert_eq!(later, Delivered { sent: 0, kept: 1 });
        ses.refuse(false);
        let later = deliver_held(&ses, &outbox, 10).await.unwrap();
        assert_eq!(later, Delivered { sent: 1, kept: 0 });
        assert_eq!(ses.sent(), vec![notice]);
        assert!(outbox.held(10).await.unwrap().is_empty());
        assert_eq!(
            deliver_held(&ses, &outbox, 10).await.unwrap(),
            Delivered::default()
        );
    }

    #[test]
    fn the_welcome_carries_the_access_data_and_three_first_steps() {
        let email = welcome(&Welcome {
            organization: "Acme <Tea> & Co",
            admin: &admin(),
            sign_in_url: "https://console.example",
            tier: Tier::Standard,
            language: Language::English,
        });
        assert_eq!(email.to, admin());
        for needle in [
            "Acme <Tea> & Co",
            "https://console.example",
            "alice@acme.example",
            "Standard, up to 25 users",
            "Add your first product",
            "Invite your colleagues",
            "Set your logo",
        ] {
            assert!(email.text.contains(needle), "{needle}: {}", email.text);
        }
        assert!(
            email.html.contains("Acme &lt;Tea&gt; &amp; Co") && !email.html.contains("<Tea>"),
            "names are escaped in HTML: {}",
            email.html
        );
        assert_eq!(email.html.matches("<li>").count(), 6);
    }

    #[test]
    fn the_organizations_locale_chooses_the_language() {
        assert_eq!(Language::of(Some("fr-FR")), Language::French);
        assert_eq!(Language::of(Some("fr")), Language::French);
        assert_eq!(Language::of(Some("en-GB")), Language::English);
        assert_eq!(Language::of(Some("de-DE")), Language::English);
        assert_eq!(Language::of(None), Language::English);
        let french = receipt(&admin(), "Acme", 2900, "eur", None, Language::French);
        assert!(french.subject.contains("29,00 EUR"), "{}", french.subject);
        let english = receipt(
            &admin(),
            "Acme",
            2900,
            "eur",
            Some("https://i"),
            Language::English,
        );
        assert!(english.text.contains("29.00 EUR") && english.text.contains("https://i"));
        let notice = payment_failed(
            &admin(),
            "Acme",
            "2026-12-09",
            "https://p",
            Language::English,
        );
        assert!(notice.text.contains("until 2026-12-09"));
        assert!(
            suspended(&admin(), "Acme", "https://p", Language::French)
                .subject
                .contains("suspendue")
        );
    }
}
