//! The user directory (the Cognito user pool), as far as tenant administration needs it.

use std::future::Future;

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::DisplayErrorContext;
use aws_sdk_cognitoidentityprovider::operation::admin_create_user::AdminCreateUserError;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, DeliveryMediumType};

use crate::domain::email::EmailAddress;
use crate::ids::UserId;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// A user with this e-mail address already exists in the pool.
    #[error("a user with this e-mail address already exists")]
    AlreadyExists,
    #[error("no such user")]
    NotFound,
    /// For logs only.
    #[error("user directory failure: {0}")]
    Backend(String),
}

/// The operations on users that tenant administration performs.
/// Who an invitation comes from: the invitation e-mail names them (the custom-message trigger
/// receives this as the `AdminCreateUser` call's client metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitedBy {
    pub organization: String,
    pub inviter: Option<String>,
    /// The organization's locale: the invitation is written in its language.
    pub locale: Option<String>,
}

pub trait UserDirectory: Send + Sync {
    /// Creates a user who must set a new password at first sign-in; Cognito e-mails them a
    /// temporary password, naming who invited them. Returns their `sub`.
    fn create_user(
        &self,
        email: &EmailAddress,
        invited_by: &InvitedBy,
    ) -> impl Future<Output = Result<UserId, DirectoryError>> + Send;
    /// The user whose sign-in address is `email`, if there is one (an invitation that a crash
    /// interrupted may have created it).
    fn find_user(
        &self,
        email: &EmailAddress,
    ) -> impl Future<Output = Result<Option<UserId>, DirectoryError>> + Send;
    /// Undoes [`UserDirectory::create_user`] when the rest of an invitation failed.
    fn delete_user(&self, user: &UserId)
    -> impl Future<Output = Result<(), DirectoryError>> + Send;
    /// Revokes the user's refresh tokens everywhere.
    fn sign_out_everywhere(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<(), DirectoryError>> + Send;
    /// The user's groups as the pool has them now (a token's `cognito:groups` may be older).
    fn groups_of(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Vec<String>, DirectoryError>> + Send;
}

/// The user pool's app clients that API clients are: offboarding deletes an organization's.
pub trait AppClients: Send + Sync {
    /// Deletes the app client (one that is gone already is no error).
    fn delete_app_client(
        &self,
        client: &crate::api_clients::ClientId,
    ) -> impl Future<Output = Result<(), DirectoryError>> + Send;
}

/// Whether a user signs in with a second factor: what sign-in asks the user pool, for the users
/// of tenants that require one.
pub trait SecondFactor: Send + Sync {
    fn uses_totp(
        &self,
        pool_id: &str,
        user: &UserId,
    ) -> impl Future<Output = Result<bool, DirectoryError>> + Send;
}

/// [`SecondFactor`] of a Cognito user pool named per call (the pre-token trigger learns the
/// pool from its event: the template cannot name the pool to a function the pool invokes).
#[derive(Debug, Clone)]
pub struct CognitoSecondFactor {
    client: Client,
}

impl CognitoSecondFactor {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl SecondFactor for CognitoSecondFactor {
    /// One `AdminGetUser`: TOTP counts once it is verified and enabled.
    async fn uses_totp(&self, pool_id: &str, user: &UserId) -> Result<bool, DirectoryError> {
        let output = self
            .client
            .admin_get_user()
            .user_pool_id(pool_id)
            .username(user.as_str())
            .send()
            .await
            .map_err(not_found_or_backend)?;
        Ok(output
            .user_mfa_setting_list()
            .iter()
            .any(|method| method == "SOFTWARE_TOKEN_MFA"))
    }
}

/// A Cognito user pool. Users are addressed by `sub`, which the pool accepts as the username of
/// a pool whose users sign in with their e-mail address.
#[derive(Debug, Clone)]
pub struct CognitoDirectory {
    client: Client,
    pool_id: String,
}

impl CognitoDirectory {
    pub fn new(client: Client, pool_id: String) -> Self {
        Self { client, pool_id }
    }
}

fn backend<E: std::error::Error + 'static, R: std::fmt::Debug>(
    err: aws_sdk_cognitoidentityprovider::error::SdkError<E, R>,
) -> DirectoryError {
    DirectoryError::Backend(DisplayErrorContext(err).to_string())
}

fn not_found_or_backend<E, R>(
    err: aws_sdk_cognitoidentityprovider::error::SdkError<E, R>,
) -> DirectoryError
where
    E: std::error::Error + aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    if err.as_service_error().and_then(|e| e.code()) == Some("UserNotFoundException") {
        DirectoryError::NotFound
    } else {
        backend(err)
    }
}

impl AppClients for CognitoDirectory {
    async fn delete_app_client(
        &self,
        client: &crate::api_clients::ClientId,
    ) -> Result<(), DirectoryError> {
        let deleted = self
            .client
            .delete_user_pool_client()
            .user_pool_id(&self.pool_id)
            .client_id(client.as_str())
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(backend(err)),
        }
    }
}

impl UserDirectory for CognitoDirectory {
    async fn create_user(
        &self,
        email: &EmailAddress,
        invited_by: &InvitedBy,
    ) -> Result<UserId, DirectoryError> {
        let attribute =
            |name: &str, value: &str| AttributeType::builder().name(name).value(value).build();
        let output = self
            .client
            .admin_create_user()
            .user_pool_id(&self.pool_id)
            .username(email.as_str())
            .user_attributes(
                attribute("email", email.as_str())
                    .map_err(|e| DirectoryError::Backend(e.to_string()))?,
            )
            .user_attributes(
                attribute("email_verified", "true")
                    .map_err(|e| DirectoryError::Backend(e.to_string()))?,
            )
            .desired_delivery_mediums(DeliveryMediumType::Email)
            .set_client_metadata({
                let mut metadata = std::collections::HashMap::new();
                metadata.insert("organization".to_owned(), invited_by.organization.clone());
                if let Some(locale) = &invited_by.locale {
                    metadata.insert("locale".to_owned(), locale.clone());
                }
                if let Some(inviter) = &invited_by.inviter {
                    metadata.insert("inviter".to_owned(), inviter.clone());
                }
                Some(metadata)
            })
            .send()
            .await
            .map_err(|err| match err.as_service_error() {
                Some(AdminCreateUserError::UsernameExistsException(_)) => {
                    DirectoryError::AlreadyExists
                }
                _ => backend(err),
            })?;
        let sub = output
            .user()
            .and_then(|user| user.attributes().iter().find(|a| a.name() == "sub"))
            .and_then(|a| a.value())
            .ok_or_else(|| DirectoryError::Backend("AdminCreateUser returned no sub".into()))?;
        UserId::parse(sub).map_err(|_| {
            DirectoryError::Backend(format!("AdminCreateUser returned an invalid sub {sub:?}"))
        })
    }

    /// `AdminGetUser` by the address (the pool's users sign in with it).
    async fn find_user(&self, email: &EmailAddress) -> Result<Option<UserId>, DirectoryError> {
        let output = match self
            .client
            .admin_get_user()
            .user_pool_id(&self.pool_id)
            .username(email.as_str())
            .send()
            .await
            .map_err(not_found_or_backend)
        {
            Ok(output) => output,
            Err(DirectoryError::NotFound) => return Ok(None),
            Err(err) => return Err(err),
        };
        let sub = output
            .user_attributes()
            .iter()
            .find(|a| a.name() == "sub")
            .and_then(|a| a.value())
            .ok_or_else(|| DirectoryError::Backend("AdminGetUser returned no sub".into()))?;
        UserId::parse(sub).map(Some).map_err(|_| {
            DirectoryError::Backend(format!("AdminGetUser returned an invalid sub {sub:?}"))
        })
    }

    async fn delete_user(&self, user: &UserId) -> Result<(), DirectoryError> {
        self.client
            .admin_delete_user()
            .user_pool_id(&self.pool_id)
            .username(user.as_str())
            .send()
            .await
            .map(|_| ())
            .map_err(not_found_or_backend)
    }

    async fn sign_out_everywhere(&self, user: &UserId) -> Result<(), DirectoryError> {
        self.client
            .admin_user_global_sign_out()
            .user_pool_id(&self.pool_id)
            .username(user.as_str())
            .send()
            .await
            .map(|_| ())
            .map_err(not_found_or_backend)
    }

    /// One `AdminListGroupsForUser` (an operator belongs to a handful of groups: one page).
    async fn groups_of(&self, user: &UserId) -> Result<Vec<String>, DirectoryError> {
        let output = self
            .client
            .admin_list_groups_for_user()
            .user_pool_id(&self.pool_id)
            .username(user.as_str())
            .limit(60)
            .send()
            .await
            .map_err(not_found_or_backend)?;
        Ok(output
            .groups()
            .iter()
            .filter_map(|group| group.group_name().map(str::to_owned))
            .collect())
    }
}
