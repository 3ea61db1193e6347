//! `pre-sign-up`: refuses a self-service sign-up whose organization name or plan is invalid,
//! before the account exists. Cognito shows the error's message to the person signing up.

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsPreSignup, CognitoEventUserPoolsPreSignupTriggerSource,
};
use lambda_runtime::{Error, LambdaEvent};

use shared::claims::{SIGN_UP_PLAN as PLAN, SIGN_UP_TENANT_NAME as TENANT_NAME};
use shared::domain::tenant::{TenantName, requested_tier};

#[derive(Debug, thiserror::Error)]
pub enum SignUpRefused {
    #[error("Organization name is required (attribute custom:tenant_name).")]
    MissingTenantName,
    #[error("Organization name {0}.")]
    InvalidTenantName(String),
    #[error("Sign-up creates a basic organization; paid plans are chosen once signed in.")]
    InvalidPlan,
    #[error("Sign-up through an external identity provider is not supported.")]
    ExternalProvider,
}

pub fn check(event: &CognitoEventUserPoolsPreSignup) -> Result<(), SignUpRefused> {
    let attributes = &event.request.user_attributes;
    match event.cognito_event_user_pools_header.trigger_source {
        // A self-service sign-up creates an organization: it needs a valid name and plan.
        Some(CognitoEventUserPoolsPreSignupTriggerSource::SignUp) | None => {
            let name = attributes
                .get(TENANT_NAME)
                .ok_or(SignUpRefused::MissingTenantName)?;
            TenantName::parse(name).map_err(|err| SignUpRefused::InvalidTenantName(err.message))?;
            requested_tier(attributes.get(PLAN).map(String::as_str))
                .ok_or(SignUpRefused::InvalidPlan)?;
            Ok(())
        }
        // An invited user joins an existing organization: nothing to check here.
        Some(CognitoEventUserPoolsPreSignupTriggerSource::AdminCreateUser) => Ok(()),
        Some(_) => Err(SignUpRefused::ExternalProvider),
    }
}

pub async fn function_handler(
    event: LambdaEvent<CognitoEventUserPoolsPreSignup>,
) -> Result<CognitoEventUserPoolsPreSignup, Error> {
    match check(&event.payload) {
        Ok(()) => Ok(event.payload),
        Err(refused) => {
            tracing::info!(reason = %refused, "sign-up refused");
            Err(refused.into())
        }
    }
}

#[cfg(test)]
mod tests;
