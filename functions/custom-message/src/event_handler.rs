//! `custom-message`: Cognito's own e-mails (the confirmation code of a sign-up, an invitation's
//! temporary password, a password reset, an address change), in the service's words and look.
//!
//! Cognito passes the placeholders `{####}` (the code or temporary password) and `{username}`,
//! which it fills in after this trigger; a message must keep `{####}` (and, for an invitation,
//! `{username}` too) or Cognito sends its default instead. An invitation names the organization
//! and who invited, from the `ClientMetadata` that `users-api` passes to `AdminCreateUser`
//! (`organization`, `inviter`); without them it still reads well. Messages are in French when the
//! organization's locale (`locale` in that metadata) or else the user's own `locale` attribute is
//! French, in English otherwise. Values from users are escaped:
//! the message is HTML. A trigger it does not know (an SMS code) is left to Cognito.
//!
//! The event is handled as JSON, like the other triggers: the emulator's events are not the
//! typed struct's shape.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use shared::mail::{Language, escape_html as escape};

/// What the messages link to.
#[derive(Debug, Clone)]
pub struct Config {
    pub sign_in_url: String,
}

fn page(paragraphs: &[String]) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect();
    format!("<div style=\"font-family:sans-serif;max-width:36rem\">{body}<p>— Tenantry</p></div>")
}

/// The subject and HTML body for a trigger source, or `None` to leave Cognito's default.
fn message(
    config: &Config,
    source: &str,
    metadata: &Value,
    language: Language,
) -> Option<(String, String)> {
    let url = escape(&config.sign_in_url);
    let code = "<strong>{####}</strong>";
    let french = language == Language::French;
    let pick = |en: String, fr: String| if french { fr } else { en };
    Some(match source {
        "CustomMessage_SignUp" | "CustomMessage_ResendCode" => (
            pick(
                "Your Tenantry confirmation code".to_owned(),
                "Votre code de confirmation Tenantry".to_owned(),
            ),
            page(&[
                pick(
                    format!("Welcome to Tenantry. Your confirmation code is {code}."),
                    format!("Bienvenue sur Tenantry. Votre code de confirmation est {code}."),
                ),
                pick(
                    "Enter it to finish creating your organization.".to_owned(),
                    "Saisissez-le pour terminer la création de votre organisation.".to_owned(),
                ),
            ]),
        ),
        "CustomMessage_AdminCreateUser" => {
            let organization = metadata["organization"].as_str().map(escape);
            let inviter = metadata["inviter"].as_str().map(escape);
            let invited = match (&inviter, &organization) {
                (Some(inviter), Some(organization)) => pick(
                    format!("{inviter} invited you to {organization} on Tenantry."),
                    format!("{inviter} vous invite à rejoindre {organization} sur Tenantry."),
                ),
                (None, Some(organization)) => pick(
                    format!("You are invited to {organization} on Tenantry."),
                    format!("Vous êtes invité à rejoindre {organization} sur Tenantry."),
                ),
                _ => pick(
                    "You are invited to Tenantry.".to_owned(),
                    "Vous êtes invité sur Tenantry.".to_owned(),
                ),
            };
            let subject = match &organization {
                Some(organization) => pick(
                    format!("You are invited to {organization} on Tenantry"),
                    format!("Invitation à rejoindre {organization} sur Tenantry"),
                ),
                None => pick(
                    "You are invited to Tenantry".to_owned(),
                    "Invitation sur Tenantry".to_owned(),
                ),
            };
            (
                subject,
                page(&[
                    invited,
                    pick(
                        format!(
                            "Sign in at {url} with this e-mail address and the temporary password {code}; you will choose your own password then."
                        ),
                        format!(
                            "Connectez-vous sur {url} avec cette adresse et le mot de passe temporaire {code} ; vous choisirez alors votre propre mot de passe."
                        ),
                    ),
                    pick(
                        "(Your user name, should you need it: {username}.)".to_owned(),
                        "(Votre identifiant, si on vous le demande : {username}.)".to_owned(),
                    ),
                ]),
            )
        }
        "CustomMessage_ForgotPassword" => (
            pick(
                "Reset your Tenantry password".to_owned(),
                "Réinitialiser votre mot de passe Tenantry".to_owned(),
            ),
            page(&[
                pick(
                    format!("Your code to choose a new password is {code}."),
                    format!("Votre code pour choisir un nouveau mot de passe est {code}."),
                ),
                pick(
                    "If you did not ask for it, ignore this message: your password stays as it is."
                        .to_owned(),
                    "Si vous ne l'avez pas demandé, ignorez ce message : votre mot de passe reste inchangé."
                        .to_owned(),
                ),
            ]),
        ),
        "CustomMessage_UpdateUserAttribute" | "CustomMessage_VerifyUserAttribute" => (
            pick(
                "Confirm your new e-mail address".to_owned(),
                "Confirmez votre nouvelle adresse e-mail".to_owned(),
            ),
            page(&[pick(
                format!(
                    "Your code to confirm this address for Tenantry is {code}. Until you do, you keep signing in with your previous address."
                ),
                format!(
                    "Votre code pour confirmer cette adresse sur Tenantry est {code}. D'ici là, vous vous connectez avec votre adresse précédente."
                ),
            )]),
        ),
        _ => return None,
    })
}

/// The language of a message: the inviting organization's locale (passed by `users-api`), else
/// the user's own `locale` attribute, else English.
fn language_of(event: &Value) -> Language {
    let locale = event["request"]["clientMetadata"]["locale"]
        .as_str()
        .or_else(|| event["request"]["userAttributes"]["locale"].as_str());
    Language::of(locale)
}

/// Returns the event with `response.emailSubject` and `response.emailMessage` set.
pub async fn function_handler(config: &Config, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let mut event = event.payload;
    let source = event["triggerSource"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let metadata = event["request"]["clientMetadata"].clone();
    match message(config, &source, &metadata, language_of(&event)) {
        Some((subject, body)) => {
            if !event["response"].is_object() {
                event["response"] = Value::Object(Default::default());
            }
            event["response"]["emailSubject"] = Value::String(subject);
            event["response"]["emailMessage"] = Value::String(body);
            tracing::info!(source = %source, "message written");
        }
        None => tracing::info!(source = %source, "left to Cognito"),
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use lambda_runtime::Context;
    use serde_json::json;

    use super::*;

    fn config() -> Config {
        Config {
            sign_in_url: "https://console.example".into(),
        }
    }

    async fn invoke(source: &str, metadata: Value) -> Value {
        let event = json!({
            "version": "1", "region": "eu-west-1", "userPoolId": "eu-west-1_x",
            "userName": "0d000000-0000-4000-8000-0000000000d1", "triggerSource": source,
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "c"},
            "request": {"userAttributes": {"email": "dana@delta.example"},
                        "codeParameter": "{####}", "usernameParameter": "{username}",
                        "clientMetadata": metadata},
            "response": {"smsMessage": null, "emailMessage": null, "emailSubject": null}
        });
        function_handler(&config(), LambdaEvent::new(event, Context::default()))
            .await
            .unwrap()["response"]
            .clone()
    }

    #[tokio::test]
    async fn an_invitation_names_the_organization_and_who_invited() {
        let response = invoke(
            "CustomMessage_AdminCreateUser",
            json!({"organization": "Acme <Tea>", "inviter": "alice@acme.example"}),
        )
        .await;
        let body = response["emailMessage"].as_str().unwrap();
        assert!(
            body.contains("alice@acme.example invited you to Acme &lt;Tea&gt;"),
            "{body}"
        );
        assert!(
            body.contains("{username}") && body.contains("{####}"),
            "{body}"
        );
        assert!(body.contains("https://console.example"));
        assert_eq!(
            response["emailSubject"],
            "You are invited to Acme &lt;Tea&gt; on Tenantry"
        );
        let bare = invoke("CustomMessage_AdminCreateUser", Value::Null).await;
        assert!(
            bare["emailMessage"]
                .as_str()
                .unwrap()
                .contains("You are invited to Tenantry.")
        );
    }

    #[tokio::test]
    async fn every_code_message_keeps_the_code() {
        for source in [
            "CustomMessage_SignUp",
            "CustomMessage_ResendCode",
            "CustomMessage_ForgotPassword",
            "CustomMessage_UpdateUserAttribute",
            "CustomMessage_VerifyUserAttribute",
        ] {
            let response = invoke(source, Value::Null).await;
            assert!(
                response["emailMessage"]
                    .as_str()
                    .unwrap()
                    .contains("{####}"),
                "{source}"
            );
            assert!(
                response["emailSubject"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty())
            );
        }
    }

    #[tokio::test]
    async fn the_sample_events_get_the_services_words() {
        for (fixture, expected) in [
            (
                "admin-create-user.json",
                "alice@acme.example invited you to Acme Tea",
            ),
            ("sign-up.json", "Your confirmation code is"),
        ] {
            let text = std::fs::read_to_string(
                shared::testing::events_dir()
                    .join("custom-message")
                    .join(fixture),
            )
            .unwrap();
            let event: Value = serde_json::from_str(&text).unwrap();
            let out = function_handler(&config(), LambdaEvent::new(event, Context::default()))
                .await
                .unwrap();
            let body = out["response"]["emailMessage"].as_str().unwrap();
            assert!(body.contains(expected), "{fixture}: {body}");
        }
    }

    #[tokio::test]
    async fn messages_follow_the_organizations_locale_then_the_users() {
        let invitation = invoke(
            "CustomMessage_AdminCreateUser",
            json!({"organization": "Thé Vert", "inviter": "alice@acme.example", "locale": "fr-FR"}),
        )
        .await;
        assert_eq!(
            invitation["emailSubject"],
            "Invitation à rejoindre Thé Vert sur Tenantry"
        );
        let body = invitation["emailMessage"].as_str().unwrap();
        assert!(
            body.contains("{####}") && body.contains("{username}"),
            "{body}"
        );
        let mut event = json!({
            "triggerSource": "CustomMessage_SignUp",
            "request": {"userAttributes": {"email": "d@delta.example", "locale": "fr"},
                        "codeParameter": "{####}"},
            "response": {}
        });
        let out = function_handler(
            &config(),
            LambdaEvent::new(event.clone(), Context::default()),
        )
        .await
        .unwrap();
        assert_eq!(
            out["response"]["emailSubject"],
            "Votre code de confirmation Tenantry"
        );
        event["request"]["userAttributes"]["locale"] = json!("en-GB");
        let out = function_handler(&config(), LambdaEvent::new(event, Context::default()))
            .await
            .unwrap();
        assert_eq!(
            out["response"]["emailSubject"],
            "Your Tenantry confirmation code"
        );
    }

    #[tokio::test]
    async fn an_unknown_source_is_left_to_cognito() {
        let response = invoke("CustomMessage_Authentication", Value::Null).await;
        assert_eq!(response["emailMessage"], Value::Null);
    }
}
