//! Sample organizations, people and events.

use crate::domain::organization::{CognitoResources, SignInSettings};
use crate::domain::{
    EmailAddress, EmailDomain, MfaMode, OrgId, OrgStatus, Organization, Person, PersonStatus, Role,
    Subdomain,
};

/// [`sample_org`] brought by a lazy-mode migration (job `job-1`, legacy id 17), switched.
pub fn sample_lazy_org() -> Organization {
    let mut org = sample_org();
    org.sign_in.migration = Some(crate::domain::migration::OrgMigration {
        job: "job-1".into(),
        legacy_id: "17".into(),
        mode: crate::domain::migration::MigrationMode::Lazy,
        switched: true,
    });
    org
}

/// The pool id of the sample events in `events/`.
pub const SAMPLE_POOL: &str = "eu-west-1_AcmePool1";

/// The organization the sample events belong to: `acme`, active, 10 seats, `acme.example`.
pub fn sample_org() -> Organization {
    Organization {
        id: OrgId::from("org-0192f0c4d5e67a8b9c0d1e2f3a4b5c6d".to_owned()),
        name: "Acme Corporation".into(),
        subdomain: Subdomain::parse("acme").expect("valid subdomain"),
        status: OrgStatus::Active,
        mfa: MfaMode::Off,
        seats: Some(10),
        seats_used: 0,
        email_domains: vec![EmailDomain::parse("acme.example").expect("valid domain")],
        admin_email: None,
        cognito: CognitoResources {
            user_pool_id: Some(SAMPLE_POOL.into()),
            app_client_id: Some("5a1b2c3d4e5f6g7h8i9j0k1l2m".into()),
            domain_prefix: Some("acme-3a4b5c6d".into()),
        },
        sign_in: SignInSettings::default(),
        roles: crate::domain::organization::default_roles(),
        branding: Default::default(),
        domain_proofs: Vec::new(),
        scim: None,
        created_at: 0,
        updated_at: 0,
        version: 1,
    }
}

/// A person of [`sample_org`].
pub fn sample_person(username: &str, email: &str, roles: &[&str], status: PersonStatus) -> Person {
    Person::new(
        sample_org().id,
        username.into(),
        EmailAddress::parse(email).expect("valid address"),
        roles
            .iter()
            .map(|r| Role::parse(r).expect("valid role"))
            .collect(),
        status,
    )
}

/// A sample event from `events/<function>/<name>.json`, as Cognito sends it.
pub fn sample_event(function: &str, name: &str) -> serde_json::Value {
    let path = format!(
        "{}/../events/{function}/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The names of every sample event of `function`.
pub fn sample_event_names(function: &str) -> Vec<String> {
    let dir = format!("{}/../events/{function}", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            entry
                .file_name()
                .to_str()?
                .strip_suffix(".json")
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}
