//! Typed configuration from the environment, read once at start. A missing or bad variable
//! stops the program at once with its name.

use crate::domain::migration_job::PoolSetup;
use crate::domain::ports::TriggerArns;
use crate::domain::EmailAddress;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is not set: {purpose}")]
    Missing {
        name: &'static str,
        purpose: &'static str,
    },
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where variables come from: the process environment, or a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<const N: usize> Source for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

fn required(
    src: &dyn Source,
    name: &'static str,
    purpose: &'static str,
) -> Result<String, ConfigError> {
    src.get(name).ok_or(ConfigError::Missing { name, purpose })
}

/// `TABLE_NAME`: the one DynamoDB table of the suite.
pub fn table_name(src: &dyn Source) -> Result<String, ConfigError> {
    required(src, "TABLE_NAME", "the DynamoDB table of the registry")
}

/// `ORG_CACHE_SECONDS` (default 30): how long a function keeps an organization it read, so
/// that a suspension or a settings change reaches it within that time.
pub fn org_cache_ttl(src: &dyn Source) -> Result<std::time::Duration, ConfigError> {
    match src.get("ORG_CACHE_SECONDS") {
        None => Ok(std::time::Duration::from_secs(30)),
        Some(v) => {
            v.parse()
                .map(std::time::Duration::from_secs)
                .map_err(|_| ConfigError::Invalid {
                    name: "ORG_CACHE_SECONDS",
                    reason: format!("{v:?} is not a whole number of seconds"),
                })
        }
    }
}

/// `BASE_DOMAIN`: organizations sign in at `<subdomain>.<BASE_DOMAIN>`.
pub fn base_domain(src: &dyn Source) -> Result<String, ConfigError> {
    let value = required(
        src,
        "BASE_DOMAIN",
        "the domain organizations' subdomains live under, such as app.example.com",
    )?;
    if value.starts_with('.') || value.contains('/') || !value.contains('.') {
        return Err(ConfigError::Invalid {
            name: "BASE_DOMAIN",
            reason: format!("{value:?} must be a bare domain such as app.example.com"),
        });
    }
    Ok(value.trim().to_ascii_lowercase())
}

/// `MAIL_FROM`: the sender of our own mails.
pub fn mail_from(src: &dyn Source) -> Result<EmailAddress, ConfigError> {
    let raw = required(src, "MAIL_FROM", "the sender address of welcome mails")?;
    EmailAddress::parse(&raw).map_err(|e| ConfigError::Invalid {
        name: "MAIL_FROM",
        reason: e.to_string(),
    })
}

/// What provisioning and activation need besides the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningConfig {
    pub table_name: String,
    /// `BASE_DOMAIN`: organizations sign in at `<subdomain>.<BASE_DOMAIN>`.
    pub base_domain: String,
    /// `MAIL_FROM`: the sender of our own mails; its identity must be verified in SES.
    pub mail_from: EmailAddress,
    pub triggers: TriggerArns,
}

impl ProvisioningConfig {
    pub fn from_env(src: &dyn Source) -> Result<Self, ConfigError> {
        let base_domain = base_domain(src)?;
        let mail_from = mail_from(src)?;
        let arn = |name: &'static str| -> Result<String, ConfigError> {
            let value = required(
                src,
                name,
                "the ARN of a trigger function attached to every new user pool",
            )?;
            if value.starts_with("arn:") {
                Ok(value)
            } else {
                Err(ConfigError::Invalid {
                    name,
                    reason: format!("{value:?} is not an ARN (arn:aws:lambda:<region>:<account>:function:<name>)"),
                })
            }
        };
        Ok(Self {
            table_name: table_name(src)?,
            base_domain,
            mail_from,
            triggers: TriggerArns {
                pre_signup: arn("PRE_SIGNUP_ARN")?,
                post_confirmation: arn("POST_CONFIRMATION_ARN")?,
                pre_authentication: arn("PRE_AUTHENTICATION_ARN")?,
                post_authentication: arn("POST_AUTHENTICATION_ARN")?,
                pre_token_generation: arn("PRE_TOKEN_GENERATION_ARN")?,
                user_migration: arn("USER_MIGRATION_ARN")?,
                custom_message: arn("CUSTOM_MESSAGE_ARN")?,
            },
        })
    }
}

/// The values the domain needs of this configuration to set up an organization's pool.
impl<'a> From<&'a ProvisioningConfig> for PoolSetup<'a> {
    fn from(config: &'a ProvisioningConfig) -> Self {
        PoolSetup {
            base_domain: &config.base_domain,
            triggers: &config.triggers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: [(&str, &str); 10] = [
        ("TABLE_NAME", "signin"),
        ("BASE_DOMAIN", "App.Example.com"),
        ("MAIL_FROM", "no-reply@example.com"),
        (
            "PRE_SIGNUP_ARN",
            "arn:aws:lambda:eu-west-1:1:function:pre-signup",
        ),
        (
            "POST_CONFIRMATION_ARN",
            "arn:aws:lambda:eu-west-1:1:function:post-confirmation",
        ),
        (
            "PRE_AUTHENTICATION_ARN",
            "arn:aws:lambda:eu-west-1:1:function:pre-authentication",
        ),
        (
            "POST_AUTHENTICATION_ARN",
            "arn:aws:lambda:eu-west-1:1:function:post-authentication",
        ),
        (
            "PRE_TOKEN_GENERATION_ARN",
            "arn:aws:lambda:eu-west-1:1:function:pre-token-generation",
        ),
        (
            "USER_MIGRATION_ARN",
            "arn:aws:lambda:eu-west-1:1:function:user-migration",
        ),
        (
            "CUSTOM_MESSAGE_ARN",
            "arn:aws:lambda:eu-west-1:1:function:custom-message",
        ),
    ];

    #[test]
    fn reads_a_full_environment() {
        let cfg = ProvisioningConfig::from_env(&FULL).expect("complete");
        assert_eq!(cfg.base_domain, "app.example.com");
        assert_eq!(cfg.triggers.custom_message, FULL[9].1);
        assert_eq!(cfg.triggers.post_authentication, FULL[6].1);
    }

    #[test]
    fn names_the_missing_variable() {
        for skip in 0..FULL.len() {
            let mut partial = FULL;
            partial[skip] = ("UNRELATED", "x");
            let err = ProvisioningConfig::from_env(&partial).expect_err("incomplete");
            assert!(err.to_string().contains(FULL[skip].0), "{err}");
        }
    }

    #[test]
    fn refuses_values_of_the_wrong_shape() {
        let mut bad = FULL;
        bad[3] = ("PRE_SIGNUP_ARN", "pre-signup");
        let err = ProvisioningConfig::from_env(&bad).expect_err("not an arn");
        assert!(err.to_string().contains("PRE_SIGNUP_ARN"));
        let mut bad = FULL;
        bad[1] = ("BASE_DOMAIN", "https://app.example.com");
        assert!(ProvisioningConfig::from_env(&bad).is_err());
        let mut bad = FULL;
        bad[2] = ("MAIL_FROM", "nobody");
        assert!(ProvisioningConfig::from_env(&bad).is_err());
    }
}
