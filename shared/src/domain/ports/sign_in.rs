//! The person-facing sign-in calls of an organization's app client.

use async_trait::async_trait;

use crate::domain::Error;

/// The tokens of a completed sign-in. Never logged: `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq)]
pub struct SignInTokens {
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Seconds the ID and access tokens stay valid.
    pub expires_in: i64,
}

impl std::fmt::Debug for SignInTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInTokens")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Where a sign-in stands after one answer to Cognito. A `session` is Cognito's opaque
/// handle of the challenge (valid a few minutes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInStep {
    Done(SignInTokens),
    /// First sign-in with a temporary password: a new password is needed.
    NewPasswordRequired {
        session: String,
    },
    /// The code of the person's authenticator app.
    MfaCode {
        session: String,
    },
    /// The organization requires MFA and the person has no authenticator yet.
    MfaSetup {
        session: String,
    },
}

/// Why Cognito did not go on. Built so that the pages can keep the enumeration promise:
/// everything a stranger could provoke is [`SignInRefusal::Credentials`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInRefusal {
    /// Unknown username, wrong password, disabled login, lazy migration refused: one answer.
    #[error("incorrect username or password")]
    Credentials,
    /// The new password breaks the pool's policy (Cognito's words).
    #[error("the new password is refused: {0}")]
    PasswordPolicy(String),
    /// A wrong or expired code (MFA, forgotten password).
    #[error("the code is wrong or expired")]
    Code,
    /// The challenge took too long: sign in again.
    #[error("the sign-in session expired")]
    SessionExpired,
    /// The login waits for a password reset (PasswordResetRequiredException): a lazy
    /// person's login that a forgotten-password request created, which anyone can start
    /// for any username. To the person, like [`SignInRefusal::Credentials`].
    #[error("a password reset is required")]
    ResetRequired,
    #[error("too many attempts")]
    TooManyAttempts,
    /// A trigger refused after the password was verified (or for the whole organization):
    /// its message, written for the person.
    #[error("refused: {0}")]
    Refused(String),
    #[error(transparent)]
    Failed(#[from] Error),
}

/// Who is at the other end of a sign-in or a password reset, for Cognito's threat
/// protection (`UserContextData`): the browser's address as API Gateway saw it, and the
/// device data of Cognito's context-data collection script when the page sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserContext {
    pub ip_address: Option<String>,
    pub encoded_data: Option<String>,
}

/// The person-facing Cognito calls of an organization's app client (the router's login
/// pages): USER_PASSWORD_AUTH and its challenges, TOTP set-up, forgotten passwords, sign-out.
#[async_trait]
pub trait UserSignIn: Send + Sync {
    /// `context` goes to Cognito as `UserContextData`, so that its threat protection sees
    /// the person, not the router.
    async fn password_sign_in(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
        context: &UserContext,
    ) -> Result<SignInStep, SignInRefusal>;
    async fn answer_new_password(
        &self,
        client_id: &str,
        username: &str,
        session: &str,
        new_password: &str,
    ) -> Result<SignInStep, SignInRefusal>;
    async fn answer_mfa_code(
        &self,
        client_id: &str,
        username: &str,
        session: &str,
        code: &str,
    ) -> Result<SignInStep, SignInRefusal>;
    /// Starts TOTP set-up within a sign-in: the secret to show, and the session to go on with.
    async fn start_totp_setup(&self, session: &str) -> Result<(String, String), SignInRefusal>;
    /// Checks the first code of the new authenticator and finishes the sign-in.
    async fn finish_totp_setup(
        &self,
        client_id: &str,
        username: &str,
        session: &str,
        code: &str,
    ) -> Result<SignInStep, SignInRefusal>;
    /// Sends a code to the person's address, if there is such a person (the answer is the
    /// same either way).
    async fn forgot_password(
        &self,
        client_id: &str,
        username: &str,
        context: &UserContext,
    ) -> Result<(), SignInRefusal>;
    async fn confirm_forgot_password(
        &self,
        client_id: &str,
        username: &str,
        code: &str,
        new_password: &str,
    ) -> Result<(), SignInRefusal>;
    /// Revokes a refresh token and the tokens issued with it.
    async fn revoke(&self, client_id: &str, refresh_token: &str) -> Result<(), SignInRefusal>;
}
