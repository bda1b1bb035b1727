//! CustomMessage: every message Cognito sends for an organization's pool carries the
//! organization's name and a link to its own login page, as HTML (the e-mail) and as text
//! (the SMS). Cognito's placeholders (`{####}`, `{username}`) are kept where it needs them.

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsCustomMessage, CognitoEventUserPoolsCustomMessageTriggerSource as Source,
};
use serde_json::Value;
use shared::domain::mail::{CognitoMessage, MessageKind};
use shared::trigger::{answer, parse, TriggerDeps, TriggerError};

pub async fn handle(deps: &TriggerDeps, event: Value) -> Result<Value, TriggerError> {
    let mut event: CognitoEventUserPoolsCustomMessage = parse(event, "CustomMessage")?;
    let header = &event.cognito_event_user_pools_header;
    let org = deps.organization(header.user_pool_id.as_deref()).await?;
    let kind = match header.trigger_source {
        Some(Source::SignUp) => MessageKind::SignUp,
        Some(Source::AdminCreateUser) => MessageKind::AdminCreateUser,
        Some(Source::ResendCode) => MessageKind::ResendCode,
        Some(Source::ForgotPassword) => MessageKind::ForgotPassword,
        Some(Source::UpdateUserAttribute) => MessageKind::UpdateUserAttribute,
        Some(Source::VerifyUserAttribute) => MessageKind::VerifyUserAttribute,
        Some(Source::Authentication) => MessageKind::Authentication,
        _ => {
            return Err(TriggerError::Malformed {
                expected: "CustomMessage",
                detail: "its triggerSource is missing or not one this function handles".into(),
            })
        }
    };
    let code = event.request.code_parameter.as_deref().unwrap_or("{####}");
    // The invitation must show the username placeholder; other messages need none.
    let username = match kind {
        MessageKind::AdminCreateUser => Some(
            event
                .request
                .username_parameter
                .as_deref()
                .unwrap_or("{username}"),
        ),
        _ => None,
    };
    let login_url = org.subdomain.login_url(&deps.base_domain);
    let message = CognitoMessage {
        kind,
        org_name: org.display_name(),
        login_url: &login_url,
        code,
        username,
    }
    .render()?;
    event.response.email_subject = Some(message.subject);
    event.response.email_message = Some(message.html);
    event.response.sms_message = Some(message.text);
    answer(&event)
}

#[cfg(test)]
mod tests {

    use super::*;
    use shared::testing::{sample_event, sample_event_names, sample_org};

    #[tokio::test]
    async fn every_message_carries_the_organization_its_link_and_the_placeholders() {
        let (deps, registry, _) = TriggerDeps::in_memory(sample_org());
        let names = sample_event_names("custom-message");
        assert_eq!(names.len(), 7, "one sample event per source: {names:?}");
        for name in &names {
            let out = handle(&deps, sample_event("custom-message", name))
                .await
                .expect(name);
            let response = &out["response"];
            let html = response["emailMessage"].as_str().expect("html");
            let text = response["smsMessage"].as_str().expect("text");
            let subject = response["emailSubject"].as_str().expect("subject");
            assert!(subject.contains("Acme Corporation"), "{name}: {subject}");
            for part in [html, text] {
                assert!(part.contains("Acme Corporation"), "{name}: {part}");
                assert!(
                    part.contains("https://acme.app.example.com/login"),
                    "{name}: {part}"
                );
                assert!(
                    part.contains("{####}"),
                    "{name}: Cognito needs the code placeholder"
                );
            }
            assert!(html.contains("<html"), "{name}");
            assert_eq!(
                html.contains("{username}"),
                name == "admin-create-user",
                "{name}"
            );
        }
        assert_eq!(
            registry.calls(),
            ["organization_by_pool"],
            "read once, then cached"
        );
    }

    #[tokio::test]
    async fn an_unknown_source_is_malformed() {
        let (deps, _, _) = TriggerDeps::in_memory(sample_org());
        let mut event = sample_event("custom-message", "sign-up");
        event["triggerSource"] = "CustomMessage_Carrier_Pigeon".into();
        assert_eq!(
            handle(&deps, event).await.expect_err("unknown").code(),
            "MalformedEvent"
        );
    }
}
