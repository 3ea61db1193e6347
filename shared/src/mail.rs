//! E-mails the service sends (through Amazon SES), and what they say.
//!
//! Each notice is written in English and in French, chosen by the organization's locale (its
//! settings' `locale`, e.g. `fr-FR`; anything else is English), in plain text and HTML. Every
//! value that comes from a user (an organization's name) is escaped in the HTML part.

use std::future::Future;

use crate::domain::Tier;
use crate::domain::email::EmailAddress;
use crate::plans::PlanLimits;
use crate::store::StoreError;

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

/// The languages notices are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    French,
}

impl Language {
    /// The language of a locale such as `fr-FR` (English unless it is French).
    pub fn of(locale: Option<&str>) -> Self {
        match locale.and_then(|l| l.split(['-', '_']).next()) {
            Some(language) if language.eq_ignore_ascii_case("fr") => Self::French,
            _ => Self::English,
        }
    }
}

/// `text` safe inside HTML text and attribute values.
pub fn escape_html(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            other => other.to_string(),
        })
        .collect()
}

/// A notice's paragraphs, turned into both parts of an e-mail. A paragraph is plain text; a
/// list is several lines.
fn compose(to: &EmailAddress, subject: String, paragraphs: &[Vec<String>]) -> Email {
    let text = paragraphs
        .iter()
        .map(|lines| lines.join("\n"))
        .collect::<Vec<_>>()
        .join("\n\n");
    let html_body = paragraphs
        .iter()
        .map(|lines| match lines.as_slice() {
            [single] => format!("<p>{}</p>", escape_html(single)),
            many => format!(
                "<ul>{}</ul>",
                many.iter()
                    .map(|line| format!("<li>{}</li>", escape_html(line.trim_start_matches("- "))))
                    .collect::<String>()
            ),
        })
        .collect::<String>();
    Email {
        to: to.clone(),
        html: format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head>\
             <body style=\"font-family:sans-serif;max-width:36rem\">{html_body}</body></html>",
            escape_html(&subject)
        ),
        subject,
        text,
    }
}

fn plan_name(tier: Tier, language: Language) -> &'static str {
    match (tier, language) {
        (Tier::Basic, Language::English) => "Basic (free)",
        (Tier::Basic, Language::French) => "Basic (gratuit)",
        (Tier::Standard, _) => "Standard",
        (Tier::Premium, _) => "Premium",
    }
}

/// Formats an amount in minor units (`2900`, `eur`) as `29.00 EUR` (or `29,00 EUR`).
fn money(amount: i64, currency: &str, language: Language) -> String {
    let text = format!("{}.{:02}", amount / 100, (amount % 100).abs());
    let text = match language {
        Language::English => text,
        Language::French => text.replace('.', ","),
    };
    format!("{text} {}", currency.to_uppercase())
}

/// The access data of an organization that is ready: who signs in where, on which plan.
#[derive(Debug, Clone)]
pub struct Welcome<'a> {
    pub organization: &'a str,
    pub admin: &'a EmailAddress,
    pub sign_in_url: &'a str,
    pub tier: Tier,
    pub language: Language,
}

pub fn welcome(notice: &Welcome<'_>) -> Email {
    let limits = PlanLimits::of(notice.tier);
    let plan = plan_name(notice.tier, notice.language);
    let (org, url, who) = (
        notice.organization,
        notice.sign_in_url,
        notice.admin.as_str(),
    );
    match notice.language {
        Language::English => compose(
            notice.admin,
            format!("Welcome to Tenantry: {org} is ready"),
            &[
                vec![format!("Your organization {org} is ready.")],
                vec![
                    format!("- Sign in at: {url}"),
                    format!("- With: {who} and the password you chose"),
                    format!(
                        "- Plan: {plan}, up to {} users, {} products and {} orders a month",
                        limits.max_users, limits.max_products, limits.max_orders_per_month
                    ),
                ],
                vec!["First three things to do:".to_owned()],
                vec![
                    "- Add your first product.".to_owned(),
                    "- Invite your colleagues (Users, then Invite).".to_owned(),
                    "- Set your logo, colour and time zone (Settings).".to_owned(),
                ],
            ],
        ),
        Language::French => compose(
            notice.admin,
            format!("Bienvenue sur Tenantry : {org} est prête"),
            &[
                vec![format!("Votre organisation {org} est prête.")],
                vec![
                    format!("- Connexion : {url}"),
                    format!("- Identifiant : {who} et le mot de passe choisi"),
                    format!(
                        "- Offre : {plan}, jusqu'à {} utilisateurs, {} produits et {} commandes par mois",
                        limits.max_users, limits.max_products, limits.max_orders_per_month
                    ),
                ],
                vec!["Les trois premières choses à faire :".to_owned()],
                vec![
                    "- Ajoutez votre premier produit.".to_owned(),
                    "- Invitez vos collègues (Utilisateurs, puis Inviter).".to_owned(),
                    "- Réglez logo, couleur et fuseau horaire (Paramètres).".to_owned(),
                ],
            ],
        ),
    }
}

/// A paid invoice.
pub fn receipt(
    to: &EmailAddress,
    organization: &str,
    amount: i64,
    currency: &str,
    invoice_url: Option<&str>,
    language: Language,
) -> Email {
    let paid = money(amount, currency, language);
    let link = invoice_url.unwrap_or("-");
    match language {
        Language::English => compose(
            to,
            format!("Receipt: {paid} paid for {organization}"),
            &[
                vec![format!("We received {paid} for {organization}. Thank you.")],
                vec![format!("The invoice: {link}")],
            ],
        ),
        Language::French => compose(
            to,
            format!("Reçu : {paid} payés pour {organization}"),
            &[
                vec![format!(
                    "Nous avons reçu {paid} pour {organization}. Merci."
                )],
                vec![format!("La facture : {link}")],
            ],
        ),
    }
}

/// A failed payment, and until when the plan stays.
pub fn payment_failed(
    to: &EmailAddress,
    organization: &str,
    deadline: &str,
    portal_hint: &str,
    language: Language,
) -> Email {
    match language {
        Language::English => compose(
            to,
            format!("Payment failed for {organization}"),
            &[
                vec![format!(
                    "The latest payment for {organization} failed. Your plan stays in place until {deadline}; after that the organization is suspended until it is paid."
                )],
                vec![format!(
                    "Update your card in the billing portal: {portal_hint}"
                )],
            ],
        ),
        Language::French => compose(
            to,
            format!("Échec du paiement pour {organization}"),
            &[
                vec![format!(
                    "Le dernier paiement pour {organization} a échoué. Votre offre reste active jusqu'au {deadline} ; ensuite l'organisation est suspendue jusqu'au paiement."
                )],
                vec![format!(
                    "Mettez à jour votre carte dans le portail de facturation : {portal_hint}"
                )],
            ],
        ),
    }
}

/// The organization is suspended for non-payment.
pub fn suspended(
    to: &EmailAddress,
    organization: &str,
    portal_hint: &str,
    language: Language,
) -> Email {
    match language {
        Language::English => compose(
            to,
            format!("{organization} is suspended"),
            &[
                vec![format!(
                    "{organization} is suspended: its payment is overdue. Its data is kept; pay the open invoice and it is active again at once."
                )],
                vec![format!("The billing portal: {portal_hint}")],
            ],
        ),
        Language::French => compose(
            to,
            format!("{organization} est suspendue"),
            &[
                vec![format!(
                    "{organization} est suspendue : son paiement est en retard. Ses données sont conservées ; réglez la facture en attente et elle redevient active aussitôt."
                )],
                vec![format!("Le portail de facturation : {portal_hint}")],
            ],
        ),
    }
}

/// An organization's webhook endpoint failed for a whole day and was disabled.
pub fn webhook_disabled(
    to: &EmailAddress,
    organization: &str,
    url: &str,
    language: Language,
) -> Email {
    match language {
        Language::English => compose(
            to,
            format!("{organization}: a webhook endpoint was disabled"),
            &[
                vec![format!(
                    "The endpoint {url} failed every delivery for 24 hours, so {organization} no longer sends it events."
                )],
                vec![
                    "Once it answers again, enable it (PATCH /webhooks/{id} with \"enabled\": true). Its recent attempts are at GET /webhooks/{id}/deliveries.".to_owned(),
                ],
            ],
        ),
        Language::French => compose(
            to,
            format!("{organization} : un point de réception de webhooks a été désactivé"),
            &[
                vec![format!(
                    "Le point de réception {url} a refusé toutes les livraisons pendant 24 heures : {organization} ne lui envoie plus d'événements."
                )],
                vec![
                    "Quand il répond de nouveau, réactivez-le (PATCH /webhooks/{id} avec \"enabled\": true). Ses tentatives récentes sont sous GET /webhooks/{id}/deliveries.".to_owned(),
                ],
            ],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
