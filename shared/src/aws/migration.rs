//! Cognito for bulk migration: migrated people's logins (invite mode), and reading a legacy
//! shared user pool page by page as a migration source.

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType, UserStatusType};

use super::cognito::CognitoPools;
use crate::domain::migration::{LegacyPerson, SourceRecord};
use crate::domain::ports::{LoginOutcome, MigratedLogin, MigrationLogins, Page, PoolLogin};
use crate::domain::{password, Error};
use crate::rate::{Category, RateLimits};

fn attribute(name: &str, value: &str) -> Result<AttributeType, Error> {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(|e| Error::Aws {
            service: "Cognito",
            operation: "build request",
            detail: e.to_string(),
        })
}

#[async_trait]
impl MigrationLogins for CognitoPools {
    async fn create_migrated_login(
        &self,
        pool_id: &str,
        login: &MigratedLogin<'_>,
    ) -> Result<LoginOutcome, Error> {
        let mut request = self
            .client()
            .admin_create_user()
            .user_pool_id(pool_id)
            .username(login.username)
            // Nobody learns it: the welcome mail (admin API's resend, or --send-invitations)
            // sets a fresh one.
            .temporary_password(password::temporary_password())
            .message_action(MessageActionType::Suppress)
            .user_attributes(attribute("email", login.email.as_str())?)
            .user_attributes(attribute("email_verified", "true")?);
        if let Some(given) = login.given_name {
            request = request.user_attributes(attribute("given_name", given)?);
        }
        if let Some(family) = login.family_name {
            request = request.user_attributes(attribute("family_name", family)?);
        }
        match request.send().await {
            Ok(_) => Ok(LoginOutcome::Created),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_username_exists_exception()) =>
            {
                // A retry after a run killed between Cognito's answer and our checkpoint:
                // done, if it is the same person.
                let existing = self
                    .client()
                    .admin_get_user()
                    .user_pool_id(pool_id)
                    .username(login.username)
                    .send()
                    .await
                    .map_err(|e| self.endpoint().error("AdminGetUser", e))?;
                let email = existing
                    .user_attributes()
                    .iter()
                    .find(|a| a.name() == "email")
                    .and_then(|a| a.value())
                    .map(str::to_ascii_lowercase);
                if email.as_deref() == Some(login.email.as_str()) {
                    Ok(LoginOutcome::AlreadyThere)
                } else {
                    Err(Error::not_allowed(
                        format!("create the login {}", login.username),
                        "the pool already has a login of that username with another e-mail address",
                    ))
                }
            }
            Err(e) => Err(self.endpoint().error("AdminCreateUser", e)),
        }
    }

    async fn enable_login(&self, pool_id: &str, username: &str) -> Result<(), Error> {
        match self
            .client()
            .admin_enable_user()
            .user_pool_id(pool_id)
            .username(username)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_user_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(self.endpoint().error("AdminEnableUser", e)),
        }
    }

    async fn login_exists(&self, pool_id: &str, username: &str) -> Result<bool, Error> {
        match self
            .client()
            .admin_get_user()
            .user_pool_id(pool_id)
            .username(username)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_user_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.endpoint().error("AdminGetUser", e)),
        }
    }

    async fn pool_logins(
        &self,
        pool_id: &str,
        cursor: Option<&str>,
    ) -> Result<Page<PoolLogin>, Error> {
        let out = self
            .client()
            .list_users()
            .user_pool_id(pool_id)
            .limit(60)
            .set_pagination_token(cursor.map(str::to_owned))
            .send()
            .await
            .map_err(|e| self.endpoint().error("ListUsers", e))?;
        let items = out
            .users()
            .iter()
            .map(|u| PoolLogin {
                username: u.username().unwrap_or_default().to_owned(),
                email: u
                    .attributes()
                    .iter()
                    .find(|a| a.name() == "email")
                    .and_then(|a| a.value())
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                enabled: u.enabled(),
            })
            .collect();
        Ok(Page {
            items,
            next: out.pagination_token().map(str::to_owned),
        })
    }
}

/// A legacy shared user pool read as a migration source: ListUsers page by page (60 users, the
/// most Cognito gives), each user a person of the organization named by `org_attribute`
/// (such as `custom:tenant`). Custom attributes cannot be ListUsers filters (API reference),
/// so every user is read and the attribute looked at here. Roles come from `custom:roles`
/// (comma-separated) when the pool has it, otherwise `member`; `active` is the user's
/// Enabled flag. Cognito exports no password hashes: `password_hash` is null.
pub struct LegacyPool<'a> {
    pools: &'a CognitoPools,
    pool_id: String,
    org_attribute: String,
    limits: &'a RateLimits,
    next: Option<String>,
    page: std::vec::IntoIter<aws_sdk_cognitoidentityprovider::types::UserType>,
    done: bool,
}

impl<'a> LegacyPool<'a> {
    pub fn new(
        pools: &'a CognitoPools,
        pool_id: &str,
        org_attribute: &str,
        limits: &'a RateLimits,
    ) -> Self {
        Self {
            pools,
            pool_id: pool_id.to_owned(),
            org_attribute: org_attribute.to_owned(),
            limits,
            next: None,
            page: Vec::new().into_iter(),
            done: false,
        }
    }

    /// The next user as a record (with where it is: `user <username>`), or `None` at the end.
    pub async fn next_record(
        &mut self,
    ) -> Result<Option<(String, Result<SourceRecord, String>)>, Error> {
        loop {
            if let Some(user) = self.page.next() {
                return Ok(Some(self.record(user)));
            }
            if self.done {
                return Ok(None);
            }
            let token = self.next.clone();
            let out = self
                .limits
                .paced(Category::UserList, || async {
                    self.pools
                        .client()
                        .list_users()
                        .user_pool_id(&self.pool_id)
                        .limit(60)
                        .set_pagination_token(token.clone())
                        .send()
                        .await
                        .map_err(|e| self.pools.endpoint().error("ListUsers", e))
                })
                .await?;
            self.next = out.pagination_token().map(str::to_owned);
            self.done = self.next.is_none();
            self.page = out.users.unwrap_or_default().into_iter();
        }
    }

    fn record(
        &self,
        user: aws_sdk_cognitoidentityprovider::types::UserType,
    ) -> (String, Result<SourceRecord, String>) {
        let username = user.username().unwrap_or_default().to_owned();
        let position = format!("user {username}");
        let attr = |name: &str| {
            user.attributes()
                .iter()
                .find(|a| a.name() == name)
                .and_then(|a| a.value())
                .map(str::to_owned)
        };
        let Some(organization) = attr(&self.org_attribute) else {
            return (
                position,
                Err(format!(
                    "the user has no {} attribute: its organization is unknown",
                    self.org_attribute
                )),
            );
        };
        let roles = attr("custom:roles")
            .map(|r| {
                r.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_else(|| vec!["member".to_owned()]);
        let confirmed = !matches!(user.user_status(), Some(UserStatusType::Archived));
        let person = LegacyPerson {
            organization,
            username,
            email: attr("email").unwrap_or_default(),
            given_name: attr("given_name"),
            family_name: attr("family_name"),
            roles,
            active: user.enabled() && confirmed,
            password_hash: None,
        };
        (position, Ok(SourceRecord::Person(person)))
    }
}
