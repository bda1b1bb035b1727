//! The person-facing Cognito calls ([`UserSignIn`]) on the organization's app client.

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::operation::initiate_auth::InitiateAuthOutput;
use aws_sdk_cognitoidentityprovider::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput;
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, AuthenticationResultType, ChallengeNameType, UserContextDataType,
};

use super::cognito::CognitoPools;
use crate::domain::ports::{SignInRefusal, SignInStep, SignInTokens, UserContext, UserSignIn};

/// Which call an error came from: the same Cognito code means different things in each.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// InitiateAuth: the password is being checked.
    Password,
    /// An answer to a challenge, within Cognito's session.
    Challenge,
    /// Forgotten password and sign-out.
    Other,
}

/// The message a trigger wrote for the person, from Cognito's
/// "<Trigger> failed with error <message>." — only for triggers that run once the password
/// is known to be right (post-authentication, pre-token-generation) or that speak for the
/// whole organization (pre-authentication refuses only suspended organizations), or that run
/// on a first sign-in through an identity provider (pre-sign-up, post-confirmation). Anything
/// from user-migration is a wrong legacy password, and must look like any wrong password.
pub fn trigger_message(message: &str) -> Option<String> {
    let (trigger, rest) = message.split_once(" failed with error ")?;
    // PreSignUp and PostConfirmation speak only on a first sign-in through an identity
    // provider, and their refusals are written for the person ("ask your administrator to
    // link it").
    let shown = [
        "PostAuthentication",
        "PreTokenGeneration",
        "PreAuthentication",
        "PreSignUp",
        "PostConfirmation",
    ];
    if !shown.contains(&trigger.trim()) {
        return None;
    }
    let text = rest.trim().trim_end_matches('.').trim();
    (!text.is_empty()).then(|| format!("{text}."))
}

fn refusal<E, R>(
    pools: &CognitoPools,
    operation: &'static str,
    stage: Stage,
    err: SdkError<E, R>,
) -> SignInRefusal
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let (code, message) = match &err {
        SdkError::ServiceError(service) => (
            service.err().code().unwrap_or_default().to_owned(),
            service.err().message().unwrap_or_default().to_owned(),
        ),
        _ => return SignInRefusal::Failed(pools.endpoint().error(operation, err)),
    };
    match (code.as_str(), stage) {
        ("UserLambdaValidationException", _) => match trigger_message(&message) {
            Some(text) => SignInRefusal::Refused(text),
            None => SignInRefusal::Credentials,
        },
        ("NotAuthorizedException", Stage::Challenge) => SignInRefusal::SessionExpired,
        ("PasswordResetRequiredException", Stage::Password) => SignInRefusal::ResetRequired,
        (
            "NotAuthorizedException" | "UserNotFoundException" | "UserNotConfirmedException",
            Stage::Password,
        ) => SignInRefusal::Credentials,
        ("InvalidPasswordException", _) => SignInRefusal::PasswordPolicy(message),
        (
            "CodeMismatchException" | "ExpiredCodeException" | "EnableSoftwareTokenMFAException",
            _,
        ) => SignInRefusal::Code,
        // With PreventUserExistenceErrors a stranger's username gets the same answers as a
        // real one's; these stay generic for the rest.
        // With PreventUserExistenceErrors ENABLED, Cognito's password recovery answers a
        // stranger's username by turns with a simulated delivery or InvalidParameterException
        // (the developer guide, "Managing user existence error responses"): that exception
        // must look like any other unknown person's answer, not like an outage.
        (
            "UserNotFoundException" | "NotAuthorizedException" | "InvalidParameterException",
            Stage::Other,
        ) => SignInRefusal::Code,
        (
            "TooManyRequestsException"
            | "LimitExceededException"
            | "TooManyFailedAttemptsException",
            _,
        ) => SignInRefusal::TooManyAttempts,
        _ => SignInRefusal::Failed(pools.endpoint().error(operation, err)),
    }
}

/// `UserContextData` for Cognito's threat protection: the person's address and device data,
/// instead of the router's own address that Cognito would otherwise see. (Cognito uses the
/// address only on an app client with EnablePropagateAdditionalUserContextData, which needs
/// a client secret; the device data always.)
fn user_context_data(context: &UserContext) -> Option<UserContextDataType> {
    if context.ip_address.is_none() && context.encoded_data.is_none() {
        return None;
    }
    Some(
        UserContextDataType::builder()
            .set_ip_address(context.ip_address.clone())
            .set_encoded_data(context.encoded_data.clone())
            .build(),
    )
}

fn tokens(result: &AuthenticationResultType) -> Result<SignInTokens, SignInRefusal> {
    match (result.id_token(), result.access_token()) {
        (Some(id), Some(access)) => Ok(SignInTokens {
            id_token: id.to_owned(),
            access_token: access.to_owned(),
            refresh_token: result.refresh_token().map(str::to_owned),
            expires_in: i64::from(result.expires_in()),
        }),
        _ => Err(SignInRefusal::Failed(crate::domain::Error::Aws {
            service: "Cognito",
            operation: "InitiateAuth",
            detail: "a sign-in result without tokens".into(),
        })),
    }
}

/// The step an InitiateAuth or RespondToAuthChallenge answer leads to.
fn step(
    result: Option<&AuthenticationResultType>,
    challenge: Option<&ChallengeNameType>,
    session: Option<&str>,
) -> Result<SignInStep, SignInRefusal> {
    if let Some(result) = result {
        return tokens(result).map(SignInStep::Done);
    }
    let session = session.unwrap_or_default().to_owned();
    match challenge {
        Some(ChallengeNameType::NewPasswordRequired) => {
            Ok(SignInStep::NewPasswordRequired { session })
        }
        Some(ChallengeNameType::SoftwareTokenMfa) => Ok(SignInStep::MfaCode { session }),
        Some(ChallengeNameType::MfaSetup) => Ok(SignInStep::MfaSetup { session }),
        other => Err(SignInRefusal::Failed(crate::domain::Error::Aws {
            service: "Cognito",
            operation: "InitiateAuth",
            detail: format!("a challenge the login pages do not offer: {other:?}"),
        })),
    }
}

fn from_initiate(out: InitiateAuthOutput) -> Result<SignInStep, SignInRefusal> {
    step(
        out.authentication_result(),
        out.challenge_name(),
        out.session(),
    )
}

fn from_respond(out: RespondToAuthChallengeOutput) -> Result<SignInStep, SignInRefusal> {
    step(
        out.authentication_result(),
        out.challenge_name(),
        out.session(),
    )
}

#[async_trait]
impl UserSignIn for CognitoPools {
    async fn password_sign_in(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
        context: &UserContext,
    ) -> Result<SignInStep, SignInRefusal> {
        let out = self
            .client()
            .initiate_auth()
            .client_id(client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password)
            .set_user_context_data(user_context_data(context))
            .send()
            .await
            .map_err(|e| refusal(self, "InitiateAuth", Stage::Password, e))?;
        from_initiate(out)
    }

    async fn answer_new_password(
        &self,
        client_id: &str,
        username: &str,
        session: &str,
        new_password: &str,
    ) -> Result<SignInStep, SignInRefusal> {
        let out = self
            .client()
            .respond_to_auth_challenge()
            .client_id(client_id)
            .challenge_name(ChallengeNameType::NewPasswordRequired)
            .session(session)
            .challenge_responses("USERNAME", username)
            .challenge_responses("NEW_PASSWORD", new_password)
            .send()
            .await
            .map_err(|e| refusal(self, "RespondToAuthChallenge", Stage::Challenge, e))?;
        from_respond(out)
    }

    async fn answer_mfa_code(
        &self,
        client_id: &str,
        username: &str,
        session: &str,
        code: &str,
    ) -> Result<SignInStep, SignInRefusal> {
        let out = self
            .client()
            .respond_to_auth_challenge()
            .client_id(client_id)
            .challenge_name(ChallengeNameType::SoftwareTokenMfa)
            .session(session)
            .challenge_responses("USERNAME", username)
            .challenge_responses("SOFTWARE_TOKEN_MFA_CODE", code)
            .send()
            .await
            .map_err(|e| refusal(self, "RespondToAuthChallenge", Stage::Challenge, e))?;
        from_respond(out)
    }

    async fn start_totp_setup(&self, session: &str) -> Result<(String, String), SignInRefusal> {
        let out = self
            .client()
            .associate_software_token()
            .session(session)
            .send()
            .await
            .map_err(|e| refusal(self, "AssociateSoftwareToken", Stage::Challenge, e))?;
        match (out.secret_code(), out.session()) {
            (Some(secret), Some(next)) => Ok((secret.to_owned(), next.to_owned())),
            _ => Err(SignInRefusal::Failed(crate::domain::Error::Aws {
                service: "Cognito",
                operation: "AssociateSoftwareToken",
                detail: "no secret or session in the answer".into(),
            })),
        }
    }

    async fn finish_totp_setup(
        &self,
        client_id: &str,
        username: &str,
        session: &str,
        code: &str,
    ) -> Result<SignInStep, SignInRefusal> {
        let verified = self
            .client()
            .verify_software_token()
            .session(session)
            .user_code(code)
            .friendly_device_name("Authenticator")
            .send()
            .await
            .map_err(|e| refusal(self, "VerifySoftwareToken", Stage::Challenge, e))?;
        let session = verified.session().unwrap_or(session);
        let out = self
            .client()
            .respond_to_auth_challenge()
            .client_id(client_id)
            .challenge_name(ChallengeNameType::MfaSetup)
            .session(session)
            .challenge_responses("USERNAME", username)
            .send()
            .await
            .map_err(|e| refusal(self, "RespondToAuthChallenge", Stage::Challenge, e))?;
        from_respond(out)
    }

    async fn forgot_password(
        &self,
        client_id: &str,
        username: &str,
        context: &UserContext,
    ) -> Result<(), SignInRefusal> {
        match self
            .client()
            .forgot_password()
            .client_id(client_id)
            .username(username)
            .set_user_context_data(user_context_data(context))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match refusal(self, "ForgotPassword", Stage::Other, e) {
                // Nobody to send a code to, or no verified address: the page says the same.
                SignInRefusal::Code | SignInRefusal::Credentials => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn confirm_forgot_password(
        &self,
        client_id: &str,
        username: &str,
        code: &str,
        new_password: &str,
    ) -> Result<(), SignInRefusal> {
        self.client()
            .confirm_forgot_password()
            .client_id(client_id)
            .username(username)
            .confirmation_code(code)
            .password(new_password)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| refusal(self, "ConfirmForgotPassword", Stage::Other, e))
    }

    async fn revoke(&self, client_id: &str, refresh_token: &str) -> Result<(), SignInRefusal> {
        self.client()
            .revoke_token()
            .client_id(client_id)
            .token(refresh_token)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| refusal(self, "RevokeToken", Stage::Other, e))
    }
}

#[cfg(test)]
mod tests {
    use super::trigger_message;
    use crate::aws::cognito::CognitoPools;
    use crate::domain::ports::{UserContext, UserSignIn};

    fn request_bodies(
        http: &aws_smithy_http_client::test_util::StaticReplayClient,
    ) -> Vec<serde_json::Value> {
        http.actual_requests()
            .map(|r| {
                serde_json::from_slice(r.body().bytes().unwrap_or_default()).unwrap_or_default()
            })
            .collect()
    }

    #[tokio::test]
    async fn sign_ins_and_resets_tell_cognito_who_is_asking() {
        let (sdk, http) = crate::aws::scripted(
            "https://cognito-idp.eu-west-1.amazonaws.com/",
            vec![
                (
                    400,
                    r#"{"__type":"NotAuthorizedException","message":"Incorrect username or password."}"#
                        .to_owned(),
                ),
                (200, r#"{"CodeDeliveryDetails":{}}"#.to_owned()),
                (
                    400,
                    r#"{"__type":"NotAuthorizedException","message":"Incorrect username or password."}"#
                        .to_owned(),
                ),
            ],
        );
        let pools = CognitoPools::new(&sdk);
        let person = UserContext {
            ip_address: Some("203.0.113.9".into()),
            encoded_data: Some("device-data".into()),
        };
        let _ = pools
            .password_sign_in("client", "hank", "wrong", &person)
            .await;
        pools
            .forgot_password("client", "hank", &person)
            .await
            .expect("sent");
        let _ = pools
            .password_sign_in("client", "hank", "wrong", &UserContext::default())
            .await;
        let bodies = request_bodies(&http);
        assert_eq!(bodies.len(), 3);
        for body in &bodies[..2] {
            assert_eq!(
                body["UserContextData"],
                serde_json::json!({"IpAddress": "203.0.113.9", "EncodedData": "device-data"}),
                "{body}"
            );
        }
        assert!(
            bodies[2].get("UserContextData").is_none(),
            "nothing to tell"
        );
    }

    #[test]
    fn only_messages_of_triggers_past_the_password_reach_the_person() {
        assert_eq!(
            trigger_message("PostAuthentication failed with error Your account is deactivated: ask your administrator."),
            Some("Your account is deactivated: ask your administrator.".into())
        );
        assert_eq!(
            trigger_message(
                "PreAuthentication failed with error Your organization's access is suspended."
            ),
            Some("Your organization's access is suspended.".into())
        );
        // A wrong legacy password must look like any wrong password.
        assert_eq!(
            trigger_message("UserMigration failed with error Bad password."),
            None
        );
        assert_eq!(
            trigger_message("PreSignUp failed with error Ask your administrator to link it."),
            Some("Ask your administrator to link it.".into())
        );
        assert_eq!(trigger_message("garbage"), None);
        assert_eq!(
            trigger_message("PostAuthentication failed with error ."),
            None
        );
    }
}
