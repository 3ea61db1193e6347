//! A user pool in memory, for handler tests, that can be told to fail.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::domain::email::EmailAddress;
use crate::identity::{DirectoryError, UserDirectory};
use crate::ids::UserId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub email: EmailAddress,
    pub signed_out: bool,
    pub groups: Vec<String>,
}

#[derive(Debug, Default)]
struct State {
    users: HashMap<UserId, DirectoryUser>,
    fail_next_create: bool,
    /// Everyone ever signed out everywhere, deleted since or not.
    signed_out: std::collections::HashSet<UserId>,
    /// Users with TOTP turned on.
    totp: std::collections::HashSet<UserId>,
    /// Who each created user's invitation named.
    invitations: HashMap<EmailAddress, crate::identity::InvitedBy>,
    /// App clients deleted, in order.
    deleted_app_clients: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct MemoryDirectory {
    state: Arc<Mutex<State>>,
}

impl MemoryDirectory {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next `create_user` fails as if Cognito were unavailable.
    pub fn fail_next_create(&self) {
        self.lock().fail_next_create = true;
    }

    pub fn user(&self, user: &UserId) -> Option<DirectoryUser> {
        self.lock().users.get(user).cloned()
    }

    /// Turns TOTP on or off for a user, as they would through Cognito's own API.
    pub fn set_totp(&self, user: &UserId, enabled: bool) {
        let mut state = self.lock();
        if enabled {
            state.totp.insert(user.clone());
        } else {
            state.totp.remove(user);
        }
    }

    /// Whether the user's refresh tokens were revoked (even if the user was deleted since).
    pub fn was_signed_out(&self, user: &UserId) -> bool {
        self.lock().signed_out.contains(user)
    }

    /// Who the invitation e-mail of `email` named, if the user was created by an invitation.
    pub fn invited_by(&self, email: &EmailAddress) -> Option<crate::identity::InvitedBy> {
        self.lock().invitations.get(email).cloned()
    }

    pub fn user_count(&self) -> usize {
        self.lock().users.len()
    }

    /// Puts a user (adding them if needed) in a group, or takes them out of all groups.
    pub fn set_groups(&self, user: &UserId, groups: &[&str]) {
        if let Some(entry) = self.lock().users.get_mut(user) {
            entry.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        }
    }

    /// Adds a user as sign-up would.
    pub fn insert(&self, user: UserId, email: EmailAddress) {
        self.lock().users.insert(
            user,
            DirectoryUser {
                email,
                signed_out: false,
                groups: Vec::new(),
            },
        );
    }
}

impl MemoryDirectory {
    /// The app clients deleted, in order.
    pub fn deleted_app_clients(&self) -> Vec<String> {
        self.lock().deleted_app_clients.clone()
    }
}

impl crate::identity::AppClients for MemoryDirectory {
    async fn delete_app_client(
        &self,
        client: &crate::api_clients::ClientId,
    ) -> Result<(), DirectoryError> {
        self.lock()
            .deleted_app_clients
            .push(client.as_str().to_owned());
        Ok(())
    }
}

impl crate::identity::SecondFactor for MemoryDirectory {
    async fn uses_totp(&self, _pool_id: &str, user: &UserId) -> Result<bool, DirectoryError> {
        Ok(self.lock().totp.contains(user))
    }
}

impl UserDirectory for MemoryDirectory {
    async fn create_user(
        &self,
        email: &EmailAddress,
        invited_by: &crate::identity::InvitedBy,
    ) -> Result<UserId, DirectoryError> {
        let mut state = self.lock();
        if std::mem::take(&mut state.fail_next_create) {
            return Err(DirectoryError::Backend("injected failure".into()));
        }
        if state.users.values().any(|u| &u.email == email) {
            return Err(DirectoryError::AlreadyExists);
        }
        let user = UserId::parse(&uuid::Uuid::new_v4().to_string())
            .map_err(|e| DirectoryError::Backend(e.to_string()))?;
        state.users.insert(
            user.clone(),
            DirectoryUser {
                email: email.clone(),
                signed_out: false,
                groups: Vec::new(),
            },
        );
        state.invitations.insert(email.clone(), invited_by.clone());
        Ok(user)
    }

    async fn find_user(&self, email: &EmailAddress) -> Result<Option<UserId>, DirectoryError> {
        Ok(self
            .lock()
            .users
            .iter()
            .find(|(_, u)| &u.email == email)
            .map(|(id, _)| id.clone()))
    }

    async fn delete_user(&self, user: &UserId) -> Result<(), DirectoryError> {
        self.lock()
            .users
            .remove(user)
            .map(|_| ())
            .ok_or(DirectoryError::NotFound)
    }

    async fn sign_out_everywhere(&self, user: &UserId) -> Result<(), DirectoryError> {
        let mut state = self.lock();
        let entry = state.users.get_mut(user).ok_or(DirectoryError::NotFound)?;
        entry.signed_out = true;
        state.signed_out.insert(user.clone());
        Ok(())
    }

    async fn groups_of(&self, user: &UserId) -> Result<Vec<String>, DirectoryError> {
        self.lock()
            .users
            .get(user)
            .map(|entry| entry.groups.clone())
            .ok_or(DirectoryError::NotFound)
    }
}
