//! One Cognito user pool per organization: creating it and what lives in it.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use aws_sdk_cognitoidentityprovider::error::BuildError;
use aws_sdk_cognitoidentityprovider::types::{
    AccountRecoverySettingType, AdminCreateUserConfigType, AliasAttributeType, AttributeType,
    DeletionProtectionType, ExplicitAuthFlowsType, LambdaConfigType, MessageActionType,
    OAuthFlowType, PasswordPolicyType, PreTokenGenerationLambdaVersionType,
    PreTokenGenerationVersionConfigType, PreventUserExistenceErrorTypes,
    ProviderUserIdentifierType, RecoveryOptionNameType, RecoveryOptionType,
    SoftwareTokenMfaConfigType, TimeUnitsType, TokenValidityUnitsType,
    UserAttributeUpdateSettingsType, UserPoolMfaType, UserPoolPolicyType, UserPoolTierType,
    UsernameConfigurationType, VerifiedAttributeType,
};
use aws_sdk_cognitoidentityprovider::{config, Client};

use super::Endpoint;
use crate::domain::ports::{ClientSpec, NewLogin, PoolSpec, UserPools};
use crate::domain::settings::client_write_attributes;
use crate::domain::{password, Error, MfaMode, SignInSettings};

/// How often creating a pool is retried when Cognito throttles (TooManyRequests), and the
/// first pause; the pause doubles each time.
/// The tag every pool of an organization carries, with the organization's id: the functions'
/// roles may act only on pools that carry it (infra `rust-functions.ts`).
pub const ORG_ID_TAG: &str = "org-id";
const CREATE_POOL_ATTEMPTS: u32 = 5;
const CREATE_POOL_FIRST_PAUSE: Duration = Duration::from_millis(500);

const QUOTA_MESSAGE: &str = "the AWS account has reached its quota of Cognito user pools \
(1,000 by default, up to 10,000 on request): nothing was created. Ask AWS for a higher \
'User pools' quota in Service Quotas, or delete unused pools, then run the command again";

pub struct CognitoPools {
    client: Client,
    endpoint: Endpoint,
}

/// A user attribute for AdminCreateUser and AdminUpdateUserAttributes.
fn attribute(name: &str, value: &str) -> Result<AttributeType, Error> {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(build_error)
}

fn build_error(e: BuildError) -> Error {
    Error::Aws {
        service: "Cognito",
        operation: "build request",
        detail: e.to_string(),
    }
}

impl CognitoPools {
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: Client::new(config),
            endpoint: Endpoint::of("Cognito", config),
        }
    }

    fn policies() -> UserPoolPolicyType {
        UserPoolPolicyType::builder()
            .password_policy(
                PasswordPolicyType::builder()
                    .minimum_length(password::MIN_LENGTH as i32)
                    .require_lowercase(true)
                    .require_uppercase(true)
                    .require_numbers(true)
                    .require_symbols(true)
                    .temporary_password_validity_days(password::TEMPORARY_VALIDITY_DAYS)
                    .build(),
            )
            .build()
    }

    fn lambda_config(spec: &PoolSpec) -> Result<LambdaConfigType, Error> {
        let t = &spec.triggers;
        Ok(LambdaConfigType::builder()
            .pre_sign_up(&t.pre_signup)
            .post_confirmation(&t.post_confirmation)
            .pre_authentication(&t.pre_authentication)
            .post_authentication(&t.post_authentication)
            .pre_token_generation_config(
                PreTokenGenerationVersionConfigType::builder()
                    .lambda_version(PreTokenGenerationLambdaVersionType::V20)
                    .lambda_arn(&t.pre_token_generation)
                    .build()
                    .map_err(build_error)?,
            )
            .user_migration(&t.user_migration)
            .custom_message(&t.custom_message)
            .build())
    }
}

#[async_trait]
impl UserPools for CognitoPools {
    async fn find_pool_by_name(&self, name: &str) -> Result<Option<String>, Error> {
        let mut pages = self
            .client
            .list_user_pools()
            .max_results(60)
            .into_paginator()
            .items()
            .send();
        let mut found = Vec::new();
        while let Some(pool) = pages.next().await {
            let pool = pool.map_err(|e| self.endpoint.error("ListUserPools", e))?;
            if pool.name() == Some(name) {
                found.extend(pool.id().map(str::to_owned));
            }
        }
        if found.len() > 1 {
            tracing::warn!(pool_name = name, pools = ?found, "several pools carry one organization's name; keeping the first");
        }
        Ok(found.into_iter().next())
    }

    async fn pool_org_tag(&self, pool_id: &str) -> Result<Option<String>, Error> {
        match self
            .client
            .describe_user_pool()
            .user_pool_id(pool_id)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .user_pool()
                .and_then(|p| p.user_pool_tags())
                .and_then(|tags| tags.get(ORG_ID_TAG))
                .cloned()),
            // The roles may describe only pools tagged org-id (infra rust-functions.ts): a
            // refusal here means the pool carries no such tag.
            Err(e)
                if e.as_service_error()
                    .and_then(|se| se.meta().code())
                    .is_some_and(|c| c == "AccessDeniedException") =>
            {
                Ok(None)
            }
            Err(e) => Err(self.endpoint.error("DescribeUserPool", e)),
        }
    }

    async fn create_pool(&self, spec: &PoolSpec) -> Result<String, Error> {
        let request = self
            .client
            .create_user_pool()
            .pool_name(&spec.name)
            .policies(Self::policies())
            .deletion_protection(DeletionProtectionType::Active)
            .auto_verified_attributes(VerifiedAttributeType::Email)
            .user_attribute_update_settings(
                UserAttributeUpdateSettingsType::builder()
                    .attributes_require_verification_before_update(VerifiedAttributeType::Email)
                    .build(),
            )
            // A username never changes; a person's new name after a confirmed username
            // change is their `preferred_username`, a sign-in alias (fixed at creation).
            .alias_attributes(AliasAttributeType::PreferredUsername)
            .username_configuration(
                UsernameConfigurationType::builder()
                    .case_sensitive(false)
                    .build()
                    .map_err(build_error)?,
            )
            // Invitation only: people are added by their admins (pre-signup decides the rest).
            .admin_create_user_config(
                AdminCreateUserConfigType::builder()
                    .allow_admin_create_user_only(true)
                    .build(),
            )
            .account_recovery_setting(
                AccountRecoverySettingType::builder()
                    .recovery_mechanisms(
                        RecoveryOptionType::builder()
                            .name(RecoveryOptionNameType::VerifiedEmail)
                            .priority(1)
                            .build()
                            .map_err(build_error)?,
                    )
                    .build(),
            )
            .lambda_config(Self::lambda_config(spec)?)
            // MFA is set by `ensure_mfa` once the pool exists (TOTP needs SetUserPoolMfaConfig).
            .mfa_configuration(UserPoolMfaType::Off)
            // Pre-token-generation V2 (claims in access tokens) needs the Essentials plan.
            .user_pool_tier(UserPoolTierType::Essentials)
            .user_pool_tags(ORG_ID_TAG, spec.org_id.as_str())
            .user_pool_tags("subdomain", spec.subdomain.as_str())
            .user_pool_tags("managed-by", "tenantctl");
        let mut pause = CREATE_POOL_FIRST_PAUSE;
        for attempt in 1..=CREATE_POOL_ATTEMPTS {
            // The SDK's standard retry treats LimitExceededException (the pool quota) as
            // throttling and would retry it for nothing; we retry real throttling ourselves.
            let result = request
                .clone()
                .customize()
                .config_override(config::Config::builder().retry_config(RetryConfig::disabled()))
                .send()
                .await;
            match result {
                Ok(out) => {
                    return out
                        .user_pool()
                        .and_then(|p| p.id())
                        .map(str::to_owned)
                        .ok_or_else(|| Error::Aws {
                            service: "Cognito",
                            operation: "CreateUserPool",
                            detail: "the answer carried no pool id".into(),
                        })
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_limit_exceeded_exception()) =>
                {
                    return Err(Error::QuotaExceeded(QUOTA_MESSAGE.into()))
                }
                Err(e)
                    if attempt < CREATE_POOL_ATTEMPTS
                        && e.as_service_error()
                            .is_some_and(|se| se.is_too_many_requests_exception()) =>
                {
                    tracing::info!(attempt, "Cognito throttled CreateUserPool; retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                Err(e) => return Err(self.endpoint.error("CreateUserPool", e)),
            }
        }
        Err(Error::Aws {
            service: "Cognito",
            operation: "CreateUserPool",
            detail: "still throttled after several attempts; run the command again in a minute"
                .into(),
        })
    }

    async fn ensure_mfa(&self, pool_id: &str, mfa: MfaMode) -> Result<(), Error> {
        let configuration = match mfa {
            MfaMode::Off => UserPoolMfaType::Off,
            MfaMode::Optional => UserPoolMfaType::Optional,
            MfaMode::Required => UserPoolMfaType::On,
        };
        self.client
            .set_user_pool_mfa_config()
            .user_pool_id(pool_id)
            .software_token_mfa_configuration(
                SoftwareTokenMfaConfigType::builder()
                    .enabled(mfa != MfaMode::Off)
                    .build(),
            )
            .mfa_configuration(configuration)
            .send()
            .await
            .map_err(|e| self.endpoint.error("SetUserPoolMfaConfig", e))?;
        Ok(())
    }

    async fn ensure_groups(&self, pool_id: &str, groups: &[&str]) -> Result<(), Error> {
        for group in groups {
            let created = self
                .client
                .create_group()
                .user_pool_id(pool_id)
                .group_name(*group)
                .description(format!("Role {group}"))
                .send()
                .await;
            match created {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_group_exists_exception()) => {}
                Err(e) => return Err(self.endpoint.error("CreateGroup", e)),
            }
        }
        Ok(())
    }

    async fn ensure_app_client(&self, pool_id: &str, spec: &ClientSpec) -> Result<String, Error> {
        let mut pages = self
            .client
            .list_user_pool_clients()
            .user_pool_id(pool_id)
            .max_results(60)
            .into_paginator()
            .items()
            .send();
        while let Some(client) = pages.next().await {
            let client = client.map_err(|e| self.endpoint.error("ListUserPoolClients", e))?;
            if client.client_name() == Some(spec.name.as_str()) {
                if let Some(id) = client.client_id() {
                    // Found after a crash, or from before people's own tokens were limited:
                    // brought to today's write attributes.
                    self.update_client(pool_id, id, None, None).await?;
                    return Ok(id.to_owned());
                }
            }
        }
        let out = self
            .client
            .create_user_pool_client()
            .user_pool_id(pool_id)
            .client_name(&spec.name)
            .generate_secret(false)
            // Without this, sign-in errors tell a stranger whether a username exists.
            .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserSrpAuth)
            // Password sign-in through the API is what lets the migrate-user trigger run.
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .supported_identity_providers("COGNITO")
            // What a person may write with their own access token: their names, never the
            // address or the sign-in alias the registry owns (the default is every standard
            // attribute). Reading stays the default: their own attributes, for their tokens.
            .set_write_attributes(Some(client_write_attributes(&["COGNITO".to_owned()])))
            .set_callback_urls(Some(spec.callback_urls.clone()))
            .set_logout_urls(Some(spec.logout_urls.clone()))
            .allowed_o_auth_flows(OAuthFlowType::Code)
            .allowed_o_auth_scopes("openid")
            .allowed_o_auth_scopes("email")
            .allowed_o_auth_scopes("profile")
            .allowed_o_auth_flows_user_pool_client(true)
            .enable_token_revocation(true)
            .access_token_validity(60)
            .id_token_validity(60)
            .refresh_token_validity(30)
            .token_validity_units(
                TokenValidityUnitsType::builder()
                    .access_token(TimeUnitsType::Minutes)
                    .id_token(TimeUnitsType::Minutes)
                    .refresh_token(TimeUnitsType::Days)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.endpoint.error("CreateUserPoolClient", e))?;
        out.user_pool_client()
            .and_then(|c| c.client_id())
            .map(str::to_owned)
            .ok_or_else(|| Error::Aws {
                service: "Cognito",
                operation: "CreateUserPoolClient",
                detail: "the answer carried no client id".into(),
            })
    }

    async fn ensure_domain(&self, pool_id: &str, prefix: &str) -> Result<String, Error> {
        let pool = self
            .client
            .describe_user_pool()
            .user_pool_id(pool_id)
            .send()
            .await
            .map_err(|e| self.endpoint.error("DescribeUserPool", e))?;
        if let Some(domain) = pool.user_pool().and_then(|p| p.domain()) {
            return Ok(domain.to_owned());
        }
        self.client
            .create_user_pool_domain()
            .user_pool_id(pool_id)
            .domain(prefix)
            .send()
            .await
            .map_err(|e| self.endpoint.error("CreateUserPoolDomain", e))?;
        Ok(prefix.to_owned())
    }

    async fn create_login(&self, pool_id: &str, login: &NewLogin<'_>) -> Result<(), Error> {
        let created = self
            .client
            .admin_create_user()
            .user_pool_id(pool_id)
            .username(login.username)
            .temporary_password(login.temporary_password)
            // Our own welcome mail goes out instead of Cognito's invitation.
            .message_action(MessageActionType::Suppress)
            .user_attributes(attribute("email", login.email.as_str())?)
            // The admin vouches for the address; the welcome mail reaching it confirms it.
            .user_attributes(attribute("email_verified", "true")?)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_username_exists_exception()) =>
            {
                // The login of that name must be this person's before it gets their new
                // password: the same address, or our own disabled login (a deactivated
                // person's) whose address a change made while it was off is brought in step.
                // An enabled login with another address is someone else's.
                let existing = self
                    .client
                    .admin_get_user()
                    .user_pool_id(pool_id)
                    .username(login.username)
                    .send()
                    .await
                    .map_err(|e| self.endpoint.error("AdminGetUser", e))?;
                let address = existing
                    .user_attributes()
                    .iter()
                    .find(|a| a.name() == "email")
                    .and_then(|a| a.value())
                    .and_then(|v| crate::domain::EmailAddress::parse(v).ok());
                if address.as_ref() != Some(login.email) {
                    if existing.enabled() {
                        return Err(Error::LoginOfAnotherPerson {
                            username: login.username.to_owned(),
                        });
                    }
                    self.set_email(pool_id, login.username, login.email).await?;
                }
                self.client
                    .admin_set_user_password()
                    .user_pool_id(pool_id)
                    .username(login.username)
                    .password(login.temporary_password)
                    .permanent(false)
                    .send()
                    .await
                    .map_err(|e| self.endpoint.error("AdminSetUserPassword", e))?;
                self.client
                    .admin_enable_user()
                    .user_pool_id(pool_id)
                    .username(login.username)
                    .send()
                    .await
                    .map_err(|e| self.endpoint.error("AdminEnableUser", e))?;
                Ok(())
            }
            Err(e) => Err(self.endpoint.error("AdminCreateUser", e)),
        }
    }

    async fn add_to_group(&self, pool_id: &str, username: &str, group: &str) -> Result<(), Error> {
        self.client
            .admin_add_user_to_group()
            .user_pool_id(pool_id)
            .username(username)
            .group_name(group)
            .send()
            .await
            .map_err(|e| self.endpoint.error("AdminAddUserToGroup", e))?;
        Ok(())
    }

    async fn link_provider(
        &self,
        pool_id: &str,
        username: &str,
        provider: &str,
        subject: &str,
    ) -> Result<(), Error> {
        let destination = ProviderUserIdentifierType::builder()
            .provider_name("Cognito")
            .provider_attribute_value(username)
            .build();
        let source = ProviderUserIdentifierType::builder()
            .provider_name(provider)
            .provider_attribute_name("Cognito_Subject")
            .provider_attribute_value(subject)
            .build();
        let linked = self
            .client
            .admin_link_provider_for_user()
            .user_pool_id(pool_id)
            .destination_user(destination)
            .source_user(source)
            .send()
            .await;
        match linked {
            Ok(_) => Ok(()),
            // Cognito retries a trigger: an earlier attempt may have made this very link.
            Err(_)
                if self
                    .has_identity(pool_id, username, provider, subject)
                    .await =>
            {
                tracing::info!(
                    pool_id,
                    provider,
                    "identity already linked by an earlier attempt"
                );
                Ok(())
            }
            Err(e) => Err(self.endpoint.error("AdminLinkProviderForUser", e)),
        }
    }

    async fn remove_from_group(
        &self,
        pool_id: &str,
        username: &str,
        group: &str,
    ) -> Result<(), Error> {
        self.remove_from_group_impl(pool_id, username, group).await
    }

    async fn disable_login(&self, pool_id: &str, username: &str) -> Result<(), Error> {
        match self
            .client
            .admin_disable_user()
            .user_pool_id(pool_id)
            .username(username)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_user_not_found_exception()) =>
            {
                return Ok(())
            }
            Err(e) => return Err(self.endpoint.error("AdminDisableUser", e)),
        }
        self.sign_out_everywhere(pool_id, username).await
    }

    async fn sign_out_everywhere(&self, pool_id: &str, username: &str) -> Result<(), Error> {
        match self
            .client
            .admin_user_global_sign_out()
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
            Err(e) => Err(self.endpoint.error("AdminUserGlobalSignOut", e)),
        }
    }

    async fn delete_login(&self, pool_id: &str, username: &str) -> Result<(), Error> {
        match self
            .client
            .admin_delete_user()
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
            Err(e) => Err(self.endpoint.error("AdminDeleteUser", e)),
        }
    }

    async fn set_temporary_password(
        &self,
        pool_id: &str,
        username: &str,
        temporary_password: &str,
    ) -> Result<(), Error> {
        self.client
            .admin_set_user_password()
            .user_pool_id(pool_id)
            .username(username)
            .password(temporary_password)
            .permanent(false)
            .send()
            .await
            .map_err(|e| self.endpoint.error("AdminSetUserPassword", e))?;
        Ok(())
    }

    async fn set_password(
        &self,
        pool_id: &str,
        username: &str,
        password: &str,
    ) -> Result<(), Error> {
        self.client
            .admin_set_user_password()
            .user_pool_id(pool_id)
            .username(username)
            .password(password)
            .permanent(true)
            .send()
            .await
            .map_err(|e| self.endpoint.error("AdminSetUserPassword", e))?;
        Ok(())
    }

    async fn ensure_identity_provider(
        &self,
        pool_id: &str,
        spec: &crate::domain::ports::IdentityProviderSpec,
    ) -> Result<(), Error> {
        use std::collections::HashMap;
        let details: HashMap<String, String> = spec.details.iter().cloned().collect();
        let mapping: HashMap<String, String> = spec.attribute_mapping.iter().cloned().collect();
        let exists = match self
            .client
            .describe_identity_provider()
            .user_pool_id(pool_id)
            .provider_name(&spec.name)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                false
            }
            Err(e) => return Err(self.endpoint.error("DescribeIdentityProvider", e)),
        };
        if exists {
            self.client
                .update_identity_provider()
                .user_pool_id(pool_id)
                .provider_name(&spec.name)
                .set_provider_details(Some(details))
                .set_attribute_mapping(Some(mapping))
                .send()
                .await
                .map_err(|e| self.endpoint.error("UpdateIdentityProvider", e))?;
        } else {
            let provider_type =
                aws_sdk_cognitoidentityprovider::types::IdentityProviderTypeType::from(
                    spec.provider_type.as_str(),
                );
            self.client
                .create_identity_provider()
                .user_pool_id(pool_id)
                .provider_name(&spec.name)
                .provider_type(provider_type)
                .set_provider_details(Some(details))
                .set_attribute_mapping(Some(mapping))
                .send()
                .await
                .map_err(|e| self.endpoint.error("CreateIdentityProvider", e))?;
        }
        Ok(())
    }

    async fn delete_identity_provider(&self, pool_id: &str, name: &str) -> Result<(), Error> {
        match self
            .client
            .delete_identity_provider()
            .user_pool_id(pool_id)
            .provider_name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(self.endpoint.error("DeleteIdentityProvider", e)),
        }
    }

    async fn set_email(
        &self,
        pool_id: &str,
        username: &str,
        email: &crate::domain::EmailAddress,
    ) -> Result<(), Error> {
        self.client
            .admin_update_user_attributes()
            .user_pool_id(pool_id)
            .username(username)
            .user_attributes(attribute("email", email.as_str())?)
            // Confirmed by the link mailed to it.
            .user_attributes(attribute("email_verified", "true")?)
            .send()
            .await
            .map_err(|e| self.endpoint.error("AdminUpdateUserAttributes", e))?;
        Ok(())
    }

    async fn set_preferred_username(
        &self,
        pool_id: &str,
        username: &str,
        name: &str,
    ) -> Result<(), Error> {
        if name.eq_ignore_ascii_case(username) {
            // Back to the login's own name: no alias at all.
            self.client
                .admin_delete_user_attributes()
                .user_pool_id(pool_id)
                .username(username)
                .user_attribute_names("preferred_username")
                .send()
                .await
                .map_err(|e| self.endpoint.error("AdminDeleteUserAttributes", e))?;
            return Ok(());
        }
        self.client
            .admin_update_user_attributes()
            .user_pool_id(pool_id)
            .username(username)
            .user_attributes(attribute("preferred_username", name)?)
            .send()
            .await
            .map_err(|e| self.endpoint.error("AdminUpdateUserAttributes", e))?;
        Ok(())
    }

    async fn apply_sign_in(
        &self,
        pool_id: &str,
        client_id: Option<&str>,
        settings: &SignInSettings,
    ) -> Result<Vec<String>, Error> {
        // Everything is checked before the first change: a refusal changes nothing.
        let in_pool = match client_id {
            Some(_) => self.identity_providers(pool_id).await?,
            None => Vec::new(),
        };
        let mut offered: Vec<String> = Vec::new();
        // Managed login's password page, unless SSO-only. Not for the admins' break-glass
        // either: on that page a person linked to a provider could sign in with a password
        // and pre-token-generation could not tell it from a provider sign-in (both are
        // `TokenGeneration_HostedAuth`). The break-glass is the router's password form,
        // which signs in through the user pools API, open whatever this list says.
        if !settings.sso_only {
            offered.push("COGNITO".into());
        }
        let mut missing = Vec::new();
        for wanted in &settings.providers {
            match in_pool.iter().find(|p| p.eq_ignore_ascii_case(wanted)) {
                Some(name) => offered.push(name.clone()),
                None => missing.push(wanted.clone()),
            }
        }
        if client_id.is_some() && settings.sso_only && offered.is_empty() {
            // The client would offer no way in at all: nobody could sign in.
            return Err(Error::not_allowed(
                "make sign-in single sign-on only",
                format!(
                    "none of the enabled providers ({}) is set up in the organization's user pool yet, so nobody could sign in; set one up first, then run this again. Nothing was changed",
                    settings.providers.join(", ")
                ),
            ));
        }
        self.apply_self_signup(pool_id, settings.self_signup)
            .await?;
        let Some(client_id) = client_id else {
            return Ok(settings.providers.clone());
        };
        self.offer_providers(pool_id, client_id, offered).await?;
        Ok(missing)
    }

    async fn set_client_urls(
        &self,
        pool_id: &str,
        client_id: &str,
        callback_urls: &[String],
        logout_urls: &[String],
    ) -> Result<(), Error> {
        self.update_client(
            pool_id,
            client_id,
            None,
            Some((callback_urls.to_vec(), logout_urls.to_vec())),
        )
        .await
    }

    async fn delete_group(&self, pool_id: &str, group: &str) -> Result<(), Error> {
        match self
            .client
            .delete_group()
            .user_pool_id(pool_id)
            .group_name(group)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(self.endpoint.error("DeleteGroup", e)),
        }
    }
}

impl CognitoPools {
    /// The names of the identity providers set up in the pool.
    async fn identity_providers(&self, pool_id: &str) -> Result<Vec<String>, Error> {
        let mut in_pool = Vec::new();
        let mut pages = self
            .client
            .list_identity_providers()
            .user_pool_id(pool_id)
            .max_results(60)
            .into_paginator()
            .items()
            .send();
        while let Some(provider) = pages.next().await {
            let provider = provider.map_err(|e| self.endpoint.error("ListIdentityProviders", e))?;
            in_pool.extend(provider.provider_name().map(str::to_owned));
        }
        Ok(in_pool)
    }

    /// Self sign-up on or off (`AllowAdminCreateUserOnly`). UpdateUserPool resets every
    /// setting it is not given to its default, so the pool's current settings are read and
    /// given back with the one change.
    async fn apply_self_signup(&self, pool_id: &str, allowed: bool) -> Result<(), Error> {
        let described = self
            .client
            .describe_user_pool()
            .user_pool_id(pool_id)
            .send()
            .await
            .map_err(|e| self.endpoint.error("DescribeUserPool", e))?;
        let pool = described.user_pool().ok_or_else(|| Error::Aws {
            service: "Cognito",
            operation: "DescribeUserPool",
            detail: "the answer carried no pool".into(),
        })?;
        let current = pool.admin_create_user_config();
        let admin_only = current.is_some_and(|c| c.allow_admin_create_user_only());
        if admin_only != allowed {
            return Ok(());
        }
        let admin_create_user = AdminCreateUserConfigType::builder()
            .allow_admin_create_user_only(!allowed)
            .set_invite_message_template(current.and_then(|c| c.invite_message_template()).cloned())
            .build();
        self.client
            .update_user_pool()
            .user_pool_id(pool_id)
            .admin_create_user_config(admin_create_user)
            .set_policies(pool.policies().cloned())
            .set_deletion_protection(pool.deletion_protection().cloned())
            .set_lambda_config(pool.lambda_config().cloned())
            .set_auto_verified_attributes(
                Some(pool.auto_verified_attributes().to_vec()).filter(|v| !v.is_empty()),
            )
            .set_sms_verification_message(pool.sms_verification_message().map(str::to_owned))
            .set_email_verification_message(pool.email_verification_message().map(str::to_owned))
            .set_email_verification_subject(pool.email_verification_subject().map(str::to_owned))
            .set_verification_message_template(pool.verification_message_template().cloned())
            .set_sms_authentication_message(pool.sms_authentication_message().map(str::to_owned))
            .set_user_attribute_update_settings(pool.user_attribute_update_settings().cloned())
            .set_mfa_configuration(pool.mfa_configuration().cloned())
            .set_device_configuration(pool.device_configuration().cloned())
            .set_email_configuration(pool.email_configuration().cloned())
            .set_sms_configuration(pool.sms_configuration().cloned())
            .set_user_pool_tags(pool.user_pool_tags().cloned())
            .set_user_pool_add_ons(pool.user_pool_add_ons().cloned())
            .set_account_recovery_setting(pool.account_recovery_setting().cloned())
            .set_user_pool_tier(pool.user_pool_tier().cloned())
            .set_pool_name(pool.name().map(str::to_owned))
            .set_key_configuration(pool.key_configuration().cloned())
            .set_issuer_configuration(pool.issuer_configuration().cloned())
            // Not AcrConfiguration: we never customize it, DescribeUserPool reports the
            // default names merged in, and giving those back needs the Essentials tier.
            .send()
            .await
            .map_err(|e| self.endpoint.error("UpdateUserPool", e))?;
        Ok(())
    }

    /// The identity providers the app client offers. UpdateUserPoolClient resets what it is
    /// not given, so the client's settings are read and given back with the one change.
    async fn offer_providers(
        &self,
        pool_id: &str,
        client_id: &str,
        offered: Vec<String>,
    ) -> Result<(), Error> {
        self.update_client(pool_id, client_id, Some(offered), None)
            .await
    }

    /// Changes the app client's offered providers and/or its callback and logout URLs.
    /// UpdateUserPoolClient resets what it is not given, so everything else is read and
    /// given back; nothing is sent when nothing would change.
    async fn update_client(
        &self,
        pool_id: &str,
        client_id: &str,
        offered: Option<Vec<String>>,
        urls: Option<(Vec<String>, Vec<String>)>,
    ) -> Result<(), Error> {
        let described = self
            .client
            .describe_user_pool_client()
            .user_pool_id(pool_id)
            .client_id(client_id)
            .send()
            .await
            .map_err(|e| self.endpoint.error("DescribeUserPoolClient", e))?;
        let client = described.user_pool_client().ok_or_else(|| Error::Aws {
            service: "Cognito",
            operation: "DescribeUserPoolClient",
            detail: "the answer carried no app client".into(),
        })?;
        let offered = offered.unwrap_or_else(|| client.supported_identity_providers().to_vec());
        let (callbacks, logouts) = urls.unwrap_or_else(|| {
            (
                client.callback_urls().to_vec(),
                client.logout_urls().to_vec(),
            )
        });
        // Sent with every update: what people may write themselves follows what is offered.
        let write_attributes = client_write_attributes(&offered);
        let mut written = client.write_attributes().to_vec();
        written.sort();
        let mut wanted = write_attributes.clone();
        wanted.sort();
        if client.supported_identity_providers() == offered.as_slice()
            && client.callback_urls() == callbacks.as_slice()
            && client.logout_urls() == logouts.as_slice()
            && written == wanted
        {
            return Ok(());
        }
        let some = |v: &[String]| Some(v.to_vec()).filter(|v| !v.is_empty());
        self.client
            .update_user_pool_client()
            .user_pool_id(pool_id)
            .client_id(client_id)
            .set_client_name(client.client_name().map(str::to_owned))
            .set_supported_identity_providers(Some(offered))
            .set_refresh_token_validity(Some(client.refresh_token_validity()).filter(|v| *v > 0))
            .set_access_token_validity(client.access_token_validity())
            .set_id_token_validity(client.id_token_validity())
            .set_token_validity_units(client.token_validity_units().cloned())
            .set_read_attributes(some(client.read_attributes()))
            .set_write_attributes(Some(write_attributes))
            .set_explicit_auth_flows(
                Some(client.explicit_auth_flows().to_vec()).filter(|v| !v.is_empty()),
            )
            .set_callback_urls(some(&callbacks))
            .set_logout_urls(some(&logouts))
            .set_default_redirect_uri(client.default_redirect_uri().map(str::to_owned))
            .set_allowed_o_auth_flows(
                Some(client.allowed_o_auth_flows().to_vec()).filter(|v| !v.is_empty()),
            )
            .set_allowed_o_auth_scopes(some(client.allowed_o_auth_scopes()))
            .set_allowed_o_auth_flows_user_pool_client(
                client.allowed_o_auth_flows_user_pool_client(),
            )
            .set_analytics_configuration(client.analytics_configuration().cloned())
            .set_prevent_user_existence_errors(client.prevent_user_existence_errors().cloned())
            .set_enable_token_revocation(client.enable_token_revocation())
            .set_enable_propagate_additional_user_context_data(
                client.enable_propagate_additional_user_context_data(),
            )
            .set_auth_session_validity(client.auth_session_validity())
            .set_refresh_token_rotation(client.refresh_token_rotation().cloned())
            .send()
            .await
            .map_err(|e| self.endpoint.error("UpdateUserPoolClient", e))?;
        Ok(())
    }

    async fn remove_from_group_impl(
        &self,
        pool_id: &str,
        username: &str,
        group: &str,
    ) -> Result<(), Error> {
        match self
            .client
            .admin_remove_user_from_group()
            .user_pool_id(pool_id)
            .username(username)
            .group_name(group)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error().is_some_and(|se| {
                    se.is_user_not_found_exception() || se.is_resource_not_found_exception()
                }) =>
            {
                Ok(())
            }
            Err(e) => Err(self.endpoint.error("AdminRemoveUserFromGroup", e)),
        }
    }

    /// Whether the login already carries the federated identity (its `identities` attribute).
    async fn has_identity(
        &self,
        pool_id: &str,
        username: &str,
        provider: &str,
        subject: &str,
    ) -> bool {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Identity {
            provider_name: String,
            user_id: String,
        }
        let Ok(user) = self
            .client
            .admin_get_user()
            .user_pool_id(pool_id)
            .username(username)
            .send()
            .await
        else {
            return false;
        };
        user.user_attributes()
            .iter()
            .filter(|a| a.name() == "identities")
            .filter_map(|a| a.value())
            .filter_map(|v| serde_json::from_str::<Vec<Identity>>(v).ok())
            .flatten()
            .any(|i| i.provider_name.eq_ignore_ascii_case(provider) && i.user_id == subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ports::TriggerArns;
    use crate::domain::{OrgId, Subdomain};
    use aws_smithy_http_client::test_util::StaticReplayClient;

    fn spec() -> PoolSpec {
        let arn = |n: &str| format!("arn:aws:lambda:eu-west-1:111122223333:function:{n}");
        PoolSpec {
            name: "tenant-acme-org-1".into(),
            org_id: OrgId::from("org-1".to_owned()),
            subdomain: Subdomain::parse("acme").expect("valid"),
            mfa: MfaMode::Required,
            triggers: TriggerArns {
                pre_signup: arn("pre-signup"),
                post_confirmation: arn("post-confirmation"),
                pre_authentication: arn("pre-authentication"),
                post_authentication: arn("post-authentication"),
                pre_token_generation: arn("pre-token-generation"),
                user_migration: arn("user-migration"),
                custom_message: arn("custom-message"),
            },
        }
    }

    fn pools_answering(answers: Vec<(u16, &str)>) -> (CognitoPools, StaticReplayClient) {
        let answers = answers
            .into_iter()
            .map(|(s, b)| (s, b.to_owned()))
            .collect();
        let (sdk, http) =
            crate::aws::scripted("https://cognito-idp.eu-west-1.amazonaws.com/", answers);
        (CognitoPools::new(&sdk), http)
    }

    #[tokio::test]
    async fn a_repeated_link_is_accepted_when_the_identity_is_already_there() {
        let identities = r#"[{\"userId\":\"abc123\",\"providerName\":\"Microsoft\",\"providerType\":\"OIDC\",\"primary\":false}]"#;
        let get_user = format!(
            r#"{{"Username":"hank","UserAttributes":[{{"Name":"identities","Value":"{identities}"}}]}}"#
        );
        let (pools, http) = pools_answering(vec![
            (
                400,
                r#"{"__type":"InvalidParameterException","message":"already linked"}"#,
            ),
            (200, &get_user),
        ]);
        pools
            .link_provider("eu-west-1_p", "hank", "Microsoft", "abc123")
            .await
            .expect("already linked");
        assert_eq!(http.actual_requests().count(), 2);

        let (pools, _) = pools_answering(vec![
            (
                400,
                r#"{"__type":"InvalidParameterException","message":"no"}"#,
            ),
            (200, r#"{"Username":"hank","UserAttributes":[]}"#),
        ]);
        let err = pools
            .link_provider("eu-west-1_p", "hank", "Microsoft", "abc123")
            .await
            .expect_err("not linked");
        assert!(
            err.to_string().contains("AdminLinkProviderForUser"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn self_signup_is_applied_with_every_other_pool_setting_given_back() {
        // UpdateUserPool resets what it is not given: the request must carry the pool's
        // settings as DescribeUserPool reported them (moto merges, so only a scripted
        // answer shows this).
        let described = r#"{"UserPool":{"Id":"eu-west-1_p","Name":"tenant-acme-org-1",
            "Policies":{"PasswordPolicy":{"MinimumLength":12,"TemporaryPasswordValidityDays":7}},
            "DeletionProtection":"ACTIVE",
            "LambdaConfig":{"PreSignUp":"arn:aws:lambda:eu-west-1:1:function:pre-signup","PostAuthentication":"arn:aws:lambda:eu-west-1:1:function:post-authentication"},
            "AutoVerifiedAttributes":["email"],
            "UserAttributeUpdateSettings":{"AttributesRequireVerificationBeforeUpdate":["email"]},
            "MfaConfiguration":"OPTIONAL",
            "UserPoolTags":{"org-id":"org-1"},
            "AdminCreateUserConfig":{"AllowAdminCreateUserOnly":true},
            "AccountRecoverySetting":{"RecoveryMechanisms":[{"Name":"verified_email","Priority":1}]},
            "UserPoolTier":"ESSENTIALS",
            "KeyConfiguration":{"KeyType":"AWS_OWNED"},
            "AcrConfiguration":{}}}"#;
        let client = r#"{"UserPoolClient":{"UserPoolId":"eu-west-1_p","ClientId":"c1","ClientName":"login",
            "ExplicitAuthFlows":["ALLOW_USER_SRP_AUTH","ALLOW_REFRESH_TOKEN_AUTH"],
            "SupportedIdentityProviders":["COGNITO"],
            "CallbackURLs":["https://acme.app.example.com/oauth/callback"],
            "AllowedOAuthFlows":["code"],"AllowedOAuthScopes":["openid"],"AllowedOAuthFlowsUserPoolClient":true,
            "PreventUserExistenceErrors":"ENABLED","EnableTokenRevocation":true,"RefreshTokenValidity":30,
            "RefreshTokenRotation":{"Feature":"ENABLED","RetryGracePeriodSeconds":10}}}"#;
        let (pools, http) = pools_answering(vec![
            (
                200,
                r#"{"Providers":[{"ProviderName":"Microsoft","ProviderType":"OIDC"}]}"#,
            ),
            (200, described),
            (200, "{}"),
            (200, client),
            (200, "{}"),
        ]);
        let settings = SignInSettings {
            self_signup: true,
            sso_only: true,
            providers: vec!["microsoft".into(), "Google".into()],
            ..Default::default()
        };
        let missing = pools
            .apply_sign_in("eu-west-1_p", Some("c1"), &settings)
            .await
            .expect("applied");
        assert_eq!(missing, ["Google"], "not in the pool yet");
        let requests: Vec<_> = http.actual_requests().collect();
        let body = |i: usize| -> serde_json::Value {
            serde_json::from_slice(requests[i].body().bytes().expect("body")).expect("json")
        };
        let update = body(2);
        assert_eq!(update["PoolName"], "tenant-acme-org-1");
        assert_eq!(update["KeyConfiguration"]["KeyType"], "AWS_OWNED");
        assert_eq!(
            update["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"],
            false
        );
        assert_eq!(update["DeletionProtection"], "ACTIVE");
        assert_eq!(update["MfaConfiguration"], "OPTIONAL");
        assert_eq!(update["Policies"]["PasswordPolicy"]["MinimumLength"], 12);
        assert_eq!(
            update["LambdaConfig"]["PostAuthentication"],
            "arn:aws:lambda:eu-west-1:1:function:post-authentication"
        );
        assert_eq!(update["UserPoolTags"]["org-id"], "org-1");
        assert_eq!(update["UserPoolTier"], "ESSENTIALS");
        assert_eq!(
            update["UserAttributeUpdateSettings"]["AttributesRequireVerificationBeforeUpdate"][0],
            "email"
        );
        let client_update = body(4);
        // SSO-only: no password page; Microsoft as the pool names it.
        assert_eq!(
            client_update["SupportedIdentityProviders"],
            serde_json::json!(["Microsoft"])
        );
        assert_eq!(client_update["PreventUserExistenceErrors"], "ENABLED");
        assert_eq!(
            client_update["CallbackURLs"][0],
            "https://acme.app.example.com/oauth/callback"
        );
        assert_eq!(client_update["ExplicitAuthFlows"][0], "ALLOW_USER_SRP_AUTH");
        assert_eq!(client_update["EnableTokenRevocation"], true);
        assert_eq!(client_update["RefreshTokenRotation"]["Feature"], "ENABLED");
        assert_eq!(client_update["RefreshTokenValidity"], 30);
    }

    #[tokio::test]
    async fn sso_only_with_no_provider_set_up_in_the_pool_changes_nothing() {
        // Enabled in the record, but not (yet) an identity provider of the pool: the client
        // would offer no way in at all.
        let (pools, http) = pools_answering(vec![(200, r#"{"Providers":[]}"#)]);
        let settings = SignInSettings {
            sso_only: true,
            providers: vec!["Microsoft".into()],
            ..Default::default()
        };
        let err = pools
            .apply_sign_in("eu-west-1_p", Some("c1"), &settings)
            .await
            .expect_err("refused");
        assert_eq!(err.code(), "NotAllowed");
        assert!(err.to_string().contains("Microsoft"), "{err}");
        assert!(err.to_string().contains("Nothing was changed"), "{err}");
        assert_eq!(
            http.actual_requests().count(),
            1,
            "only ListIdentityProviders: no UpdateUserPool, no UpdateUserPoolClient"
        );
    }

    #[tokio::test]
    async fn pool_quota_fails_at_once_with_a_clear_message() {
        let (pools, http) = pools_answering(vec![(
            400,
            r#"{"__type":"LimitExceededException","message":"user pool limit exceeded"}"#,
        )]);
        let err = pools.create_pool(&spec()).await.expect_err("quota reached");
        assert_eq!(err.code(), "QuotaExceeded");
        assert!(
            err.to_string().contains("quota of Cognito user pools"),
            "{err}"
        );
        assert!(err.to_string().contains("nothing was created"), "{err}");
        assert_eq!(
            http.actual_requests().count(),
            1,
            "a quota error must not be retried"
        );
    }

    #[tokio::test]
    async fn throttling_is_retried_then_the_pool_is_created() {
        let (pools, http) = pools_answering(vec![
            (
                400,
                r#"{"__type":"TooManyRequestsException","message":"slow down"}"#,
            ),
            (
                200,
                r#"{"UserPool":{"Id":"eu-west-1_abc","Name":"tenant-acme-org-1"}}"#,
            ),
        ]);
        let id = pools
            .create_pool(&spec())
            .await
            .expect("created after one retry");
        assert_eq!(id, "eu-west-1_abc");
        let requests: Vec<_> = http.actual_requests().collect();
        assert_eq!(requests.len(), 2);
        let body: serde_json::Value =
            serde_json::from_slice(requests[1].body().bytes().expect("body")).expect("json");
        assert_eq!(body["DeletionProtection"], "ACTIVE");
        assert_eq!(
            body["UserAttributeUpdateSettings"]["AttributesRequireVerificationBeforeUpdate"][0],
            "email"
        );
        assert_eq!(
            body["Policies"]["PasswordPolicy"]["TemporaryPasswordValidityDays"],
            7
        );
        assert_eq!(
            body["LambdaConfig"]["PreTokenGenerationConfig"]["LambdaVersion"],
            "V2_0"
        );
        assert_eq!(body["UserPoolTags"]["org-id"], "org-1");
        assert_eq!(
            body["LambdaConfig"]["PostAuthentication"],
            "arn:aws:lambda:eu-west-1:111122223333:function:post-authentication"
        );
    }
}
