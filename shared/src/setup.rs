//! Cold-start wiring shared by every function's `main`: configuration is read once, the SDK
//! configuration is loaded once, and each client is built from it.

use aws_config::{BehaviorVersion, SdkConfig};

use crate::config::{ConfigError, DataConfig, required};
use std::future::Future;
use std::sync::Arc;

use crate::store::dynamo::{DynamoControl, DynamoStore};
use crate::tenancy::access::{SystemClock, TenantAccess};

/// The SDK configuration from the environment (region, credentials, and endpoint overrides such
/// as `AWS_ENDPOINT_URL_DYNAMODB`, which the local stack sets), with one HTTPS client that every
/// SDK client built from it shares: one connection pool, so a tenant-scoped DynamoDB client
/// reuses the connections (and TLS sessions) the others opened.
pub async fn aws_config() -> SdkConfig {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await
}

/// What every function does first at cold start: logging set up, then the SDK configuration
/// loaded (see [`aws_config`]).
pub async fn cold_start() -> SdkConfig {
    crate::telemetry::init();
    aws_config().await
}

/// Serves an HTTP function's events with `handler`, one at a time, for the life of the
/// execution environment. Its dependencies live as long: kept once, at cold start, so that each
/// invocation borrows them.
pub async fn serve_http<D, H, F>(deps: D, handler: H) -> Result<(), lambda_http::Error>
where
    D: Sync + 'static,
    H: Fn(&'static D, lambda_http::Request) -> F,
    F: Future<Output = Result<lambda_http::Response<lambda_http::Body>, lambda_http::Error>> + Send,
{
    let deps: &'static D = Box::leak(Box::new(deps));
    lambda_http::run(lambda_http::service_fn(move |event| handler(deps, event))).await
}

/// The data store of a function that serves tenant data: tenant-scoped credentials from
/// `TENANT_ROLE_ARN`, tenant records from `CONTROL_TABLE`, the pooled table `DATA_TABLE`. Opens
/// its connections before returning (see [`TenantAccess::warm_up`]).
pub async fn data_store(sdk: &SdkConfig) -> Result<DynamoStore<TenantAccess>, ConfigError> {
    let config = DataConfig::from_env()?;
    let access = TenantAccess::new(
        sdk.clone(),
        required("TENANT_ROLE_ARN")?,
        control_store(sdk)?,
        config.data_table,
        Arc::new(SystemClock),
    );
    access.warm_up().await;
    Ok(DynamoStore::new(access))
}

/// The control store, with its connection opened during init (a read of a membership that
/// cannot exist), for the functions on the sign-in path.
pub async fn warm_control_store(sdk: &SdkConfig) -> Result<DynamoControl, ConfigError> {
    let control = control_store(sdk)?;
    if let Err(err) =
        crate::store::control::MembershipLookup::profile(&control, &crate::ids::UserId::nil()).await
    {
        tracing::warn!(error = %err, "DynamoDB warm-up failed");
    }
    Ok(control)
}

/// The control-table store of a function that manages tenants (`CONTROL_TABLE`).
pub fn control_store(sdk: &SdkConfig) -> Result<DynamoControl, ConfigError> {
    Ok(DynamoControl::new(
        aws_sdk_dynamodb::Client::new(sdk),
        required("CONTROL_TABLE")?,
    ))
}

/// The SecureString of SSM Parameter Store that the variable `variable` names, read once at
/// cold start. Its value is never logged and never in an error.
pub async fn secret_parameter(
    sdk: &SdkConfig,
    variable: &'static str,
) -> Result<String, ConfigError> {
    let name = required(variable)?;
    aws_sdk_ssm::Client::new(sdk)
        .get_parameter()
        .name(&name)
        .with_decryption(true)
        .send()
        .await
        .ok()
        .and_then(|output| output.parameter?.value)
        .ok_or_else(|| ConfigError::Invalid {
            name: variable,
            reason: format!("the parameter {name} cannot be read"),
        })
}

/// The payment provider: Stripe's API at `STRIPE_API_URL`, with the key in the parameter
/// `STRIPE_API_KEY_PARAMETER`.
pub async fn payment_provider(
    sdk: &SdkConfig,
) -> Result<crate::billing::provider::Stripe, ConfigError> {
    let key = secret_parameter(sdk, "STRIPE_API_KEY_PARAMETER").await?;
    crate::billing::provider::Stripe::new(required("STRIPE_API_URL")?, key).map_err(|err| {
        ConfigError::Invalid {
            name: "STRIPE_API_URL",
            reason: err.to_string(),
        }
    })
}

/// The queue of tenant jobs: asynchronous invocations of `TENANT_JOBS_FUNCTION`.
pub fn job_queue(sdk: &SdkConfig) -> Result<crate::tenancy::jobs::LambdaJobQueue, ConfigError> {
    Ok(crate::tenancy::jobs::LambdaJobQueue::new(
        aws_sdk_lambda::Client::new(sdk),
        required("TENANT_JOBS_FUNCTION")?,
    ))
}

/// The user pools' second-factor lookups (the pool comes with each trigger event).
pub fn second_factor(sdk: &SdkConfig) -> crate::identity::CognitoSecondFactor {
    crate::identity::CognitoSecondFactor::new(aws_sdk_cognitoidentityprovider::Client::new(sdk))
}

/// The user pool's directory (`USER_POOL_ID`).
pub fn user_directory(sdk: &SdkConfig) -> Result<crate::identity::CognitoDirectory, ConfigError> {
    Ok(crate::identity::CognitoDirectory::new(
        aws_sdk_cognitoidentityprovider::Client::new(sdk),
        required("USER_POOL_ID")?,
    ))
}

/// The mailer: Amazon SES, from `MAIL_FROM` (an address SES verified).
pub fn mailer(sdk: &SdkConfig) -> Result<crate::mail::SesMailer, ConfigError> {
    Ok(
        crate::mail::SesMailer::new(aws_sdk_sesv2::Client::new(sdk), required("MAIL_FROM")?)
            .with_configuration_set(crate::config::optional("MAIL_CONFIGURATION_SET")),
    )
}
