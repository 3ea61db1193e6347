//! What each notice says, in English and in French, in plain text and HTML.

use super::Email;
use crate::domain::Tier;
use crate::domain::email::EmailAddress;
use crate::plans::PlanLimits;

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
