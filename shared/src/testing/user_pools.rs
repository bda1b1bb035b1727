//! Cognito user pools, recorded ([`UserPools`](crate::domain::ports::UserPools)).

use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::organization::SignInSettings;
use crate::domain::ports::{ClientSpec, NewLogin, PoolSpec, UserPools};
use crate::domain::{EmailAddress, Error, MfaMode};

/// Cognito calls, recorded instead of made.
#[derive(Default)]
pub struct RecordingPools {
    calls: Mutex<Vec<String>>,
}

impl RecordingPools {
    /// Each call as `operation arg1 arg2 ...`.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn record(&self, call: String) {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(call);
    }
}

#[async_trait]
impl UserPools for RecordingPools {
    async fn find_pool_by_name(&self, name: &str) -> Result<Option<String>, Error> {
        self.record(format!("find_pool_by_name {name}"));
        Ok(None)
    }
    async fn pool_org_tag(&self, pool_id: &str) -> Result<Option<String>, Error> {
        self.record(format!("pool_org_tag {pool_id}"));
        Ok(None)
    }
    async fn create_pool(&self, spec: &PoolSpec) -> Result<String, Error> {
        self.record(format!("create_pool {}", spec.name));
        Ok(format!("pool-of-{}", spec.subdomain))
    }
    async fn ensure_mfa(&self, pool_id: &str, mfa: MfaMode) -> Result<(), Error> {
        self.record(format!("ensure_mfa {pool_id} {mfa}"));
        Ok(())
    }
    async fn ensure_groups(&self, pool_id: &str, groups: &[&str]) -> Result<(), Error> {
        self.record(format!("ensure_groups {pool_id} {}", groups.join(",")));
        Ok(())
    }
    async fn ensure_app_client(&self, pool_id: &str, spec: &ClientSpec) -> Result<String, Error> {
        self.record(format!("ensure_app_client {pool_id} {}", spec.name));
        Ok("client-1".into())
    }
    async fn ensure_domain(&self, pool_id: &str, prefix: &str) -> Result<String, Error> {
        self.record(format!("ensure_domain {pool_id} {prefix}"));
        Ok(prefix.to_owned())
    }
    async fn create_login(&self, pool_id: &str, login: &NewLogin<'_>) -> Result<(), Error> {
        self.record(format!("create_login {pool_id} {}", login.username));
        Ok(())
    }
    async fn add_to_group(&self, pool_id: &str, username: &str, group: &str) -> Result<(), Error> {
        self.record(format!("add_to_group {pool_id} {username} {group}"));
        Ok(())
    }
    async fn link_provider(
        &self,
        pool_id: &str,
        username: &str,
        provider: &str,
        subject: &str,
    ) -> Result<(), Error> {
        self.record(format!(
            "link_provider {pool_id} {username} {provider} {subject}"
        ));
        Ok(())
    }
    async fn remove_from_group(
        &self,
        pool_id: &str,
        username: &str,
        group: &str,
    ) -> Result<(), Error> {
        self.record(format!("remove_from_group {pool_id} {username} {group}"));
        Ok(())
    }
    async fn disable_login(&self, pool_id: &str, username: &str) -> Result<(), Error> {
        self.record(format!("disable_login {pool_id} {username}"));
        Ok(())
    }
    async fn sign_out_everywhere(&self, pool_id: &str, username: &str) -> Result<(), Error> {
        self.record(format!("sign_out_everywhere {pool_id} {username}"));
        Ok(())
    }
    async fn delete_login(&self, pool_id: &str, username: &str) -> Result<(), Error> {
        self.record(format!("delete_login {pool_id} {username}"));
        Ok(())
    }
    async fn set_temporary_password(
        &self,
        pool_id: &str,
        username: &str,
        _temporary_password: &str,
    ) -> Result<(), Error> {
        self.record(format!("set_temporary_password {pool_id} {username}"));
        Ok(())
    }
    async fn set_password(
        &self,
        pool_id: &str,
        username: &str,
        _password: &str,
    ) -> Result<(), Error> {
        self.record(format!("set_password {pool_id} {username}"));
        Ok(())
    }
    async fn ensure_identity_provider(
        &self,
        pool_id: &str,
        spec: &crate::domain::ports::IdentityProviderSpec,
    ) -> Result<(), Error> {
        self.record(format!(
            "ensure_identity_provider {pool_id} {} {}",
            spec.name, spec.provider_type
        ));
        Ok(())
    }
    async fn delete_identity_provider(&self, pool_id: &str, name: &str) -> Result<(), Error> {
        self.record(format!("delete_identity_provider {pool_id} {name}"));
        Ok(())
    }
    async fn set_client_urls(
        &self,
        pool_id: &str,
        client_id: &str,
        callback_urls: &[String],
        logout_urls: &[String],
    ) -> Result<(), Error> {
        self.record(format!(
            "set_client_urls {pool_id} {client_id} {} | {}",
            callback_urls.join(" "),
            logout_urls.join(" ")
        ));
        Ok(())
    }
    async fn set_email(
        &self,
        pool_id: &str,
        username: &str,
        email: &EmailAddress,
    ) -> Result<(), Error> {
        self.record(format!("set_email {pool_id} {username} {email}"));
        Ok(())
    }
    async fn set_preferred_username(
        &self,
        pool_id: &str,
        username: &str,
        name: &str,
    ) -> Result<(), Error> {
        self.record(format!(
            "set_preferred_username {pool_id} {username} {name}"
        ));
        Ok(())
    }
    async fn delete_group(&self, pool_id: &str, group: &str) -> Result<(), Error> {
        self.record(format!("delete_group {pool_id} {group}"));
        Ok(())
    }
    async fn apply_sign_in(
        &self,
        pool_id: &str,
        client_id: Option<&str>,
        settings: &SignInSettings,
    ) -> Result<Vec<String>, Error> {
        self.record(format!(
            "apply_sign_in {pool_id} {} self_signup={} sso_only={} providers={}",
            client_id.unwrap_or("-"),
            settings.self_signup,
            settings.sso_only,
            settings.providers.join(",")
        ));
        Ok(Vec::new())
    }
}
