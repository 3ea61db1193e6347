//! `post-confirmation`: onboards a new tenant when someone confirms a self-service sign-up.
//!
//! Cognito waits 5 s for this trigger, retries it, and gives up after three attempts, so the work
//! is one read and one transaction (see [`Onboarding::onboard`]) and is idempotent on the user's
//! `sub`: a retry finds the profile and writes nothing. A sign-up makes a basic (pooled) tenant,
//! so there is nothing slow to hand to a job. The new admin then gets the welcome e-mail with
//! the organization's access data (once: a retry onboards nothing, so it sends nothing); an
//! e-mail that cannot be sent is logged, and the sign-up stands.

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsPostConfirmation, CognitoEventUserPoolsPostConfirmationTriggerSource,
};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

use shared::claims::{SIGN_UP_PLAN, SIGN_UP_TENANT_NAME};
use shared::domain::Tier;
use shared::domain::email::EmailAddress;
use shared::domain::tenant::{Tenant, TenantName, requested_tier};
use shared::ids::UserId;
use shared::mail::{Language, Mailer, Welcome, welcome};
use shared::store::StoreError;
use shared::store::control::{Onboarded, Onboarding};

pub struct Deps<S, M> {
    pub store: S,
    pub mailer: M,
    /// Where the organization's people sign in (the web console).
    pub sign_in_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OnboardingError {
    #[error("The sign-up event is malformed.")]
    MalformedEvent(#[source] serde_json::Error),
    #[error("The sign-up has no valid user id or e-mail address.")]
    MissingIdentity,
    #[error("The organization name or plan is invalid.")]
    InvalidSignUp,
    #[error("This e-mail address is already registered.")]
    EmailTaken,
    #[error("We could not create your organization; please try again.")]
    Store(#[source] StoreError),
}

/// Returns the event it received, as Cognito requires.
pub async fn function_handler<S: Onboarding, M: Mailer>(
    deps: &Deps<S, M>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let payload = event.payload;
    let parsed: CognitoEventUserPoolsPostConfirmation =
        serde_json::from_value(payload.clone()).map_err(OnboardingError::MalformedEvent)?;
    match parsed.cognito_event_user_pools_header.trigger_source {
        Some(CognitoEventUserPoolsPostConfirmationTriggerSource::ConfirmSignUp) => {
            if let Err(err) = onboard(deps, &parsed).await {
                tracing::error!(error = %err, cause = ?std::error::Error::source(&err), "onboarding failed");
                return Err(err.into());
            }
        }
        // A password reset confirms nothing new.
        _ => tracing::info!("not a sign-up confirmation: nothing to do"),
    }
    Ok(payload)
}

async fn onboard<S: Onboarding, M: Mailer>(
    deps: &Deps<S, M>,
    event: &CognitoEventUserPoolsPostConfirmation,
) -> Result<(), OnboardingError> {
    let attributes = &event.request.user_attributes;
    let sub = attributes
        .get("sub")
        .or(event.cognito_event_user_pools_header.user_name.as_ref())
        .ok_or(OnboardingError::MissingIdentity)?;
    let user = UserId::parse(sub).map_err(|_| OnboardingError::MissingIdentity)?;
    let email = attributes
        .get("email")
        .and_then(|raw| EmailAddress::parse(raw).ok())
        .ok_or(OnboardingError::MissingIdentity)?;
    let Some(raw_name) = attributes.get(SIGN_UP_TENANT_NAME) else {
        // Not a self-service sign-up (pre-sign-up requires the name for those): an invited or
        // operator-created user, whose membership, if any, was written by whoever created them.
        tracing::info!(user_id = %user, "confirmed user has no organization name: nothing to onboard");
        return Ok(());
    };
    let name = TenantName::parse(raw_name).map_err(|_| OnboardingError::InvalidSignUp)?;
    // Always basic: pre-sign-up refused any other plan, and the attribute is the user's to
    // rewrite afterwards, so it is not trusted here (paid tiers come from payment or an operator).
    let tier = match requested_tier(attributes.get(SIGN_UP_PLAN).map(String::as_str)) {
        Some(tier) => tier,
        None => {
            tracing::warn!(user_id = %user, "sign-up asked for a paid plan: onboarded as basic");
            Tier::Basic
        }
    };

    let tenant = Tenant::new(name, tier);
    match deps.store.onboard(&tenant, &user, &email).await {
        Ok(Onboarded::Created) => {
            tracing::info!(tenant_id = %tenant.id, user_id = %user, tier = %tier, "tenant onboarded");
            let message = welcome(&Welcome {
                organization: tenant.name.as_str(),
                admin: &email,
                sign_in_url: &deps.sign_in_url,
                tier,
                language: Language::of(None),
            });
            if let Err(err) = deps.mailer.send(&message).await {
                tracing::error!(tenant_id = %tenant.id, error = %err, "the welcome e-mail was not sent");
            }
            Ok(())
        }
        // A retry, or an invited user: the membership keyed by the user decides, nothing to do.
        Ok(Onboarded::AlreadyMember) => {
            tracing::info!(user_id = %user, "user already onboarded");
            Ok(())
        }
        Err(StoreError::EmailTaken { .. }) => Err(OnboardingError::EmailTaken),
        Err(err) => Err(OnboardingError::Store(err)),
    }
}

#[cfg(test)]
mod tests;
