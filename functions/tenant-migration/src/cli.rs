//! `tenantctl`: the operators' command line. Every command prints a human answer, or with
//! `--output json` one JSON document on stdout; progress goes to stderr.
//!
//! Exit codes: 0 done; 1 failed (AWS refused or could not be reached, a conflict); 2 bad
//! input or configuration (nothing was changed).

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};
use shared::config::ProcessEnv;
use shared::domain::ports::{AuditEvent, Registry};
use shared::domain::provisioning::{
    find_organization, set_suspended, ProvisionRequest, Provisioned, Step,
};
use shared::domain::settings::{apply_settings, ProviderInput, SettingsDeps, SettingsPatch};
use shared::domain::{EmailDomain, Error, MfaMode, Organization, Provider, Subdomain};

use crate::output::{print_json, progress, CliError, Context};
use crate::wiring::{self, ProvisioningDeps};

#[derive(Debug, Parser)]
#[command(
    name = "tenantctl",
    version,
    about = "Create and look after the organizations of the sign-in suite",
    after_help = "Environment: AWS_REGION, TABLE_NAME, BASE_DOMAIN, MAIL_FROM, the seven trigger ARNs \
(PRE_SIGNUP_ARN, POST_CONFIRMATION_ARN, PRE_AUTHENTICATION_ARN, POST_AUTHENTICATION_ARN, \
PRE_TOKEN_GENERATION_ARN, USER_MIGRATION_ARN, CUSTOM_MESSAGE_ARN) for `org create`, and AWS_ENDPOINT_URL for a local AWS."
)]
pub struct Cli {
    /// How to print results.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

// Parsed once per run from the command line: the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Prepare an empty AWS account (or the local one) where CDK has not: the table and the
    /// mail identity. Safe to run again.
    Setup,
    /// Organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// People of an organization.
    #[command(subcommand)]
    Person(PersonCommand),
    /// Move organizations and their people from the legacy store to their own user pools.
    #[command(subcommand)]
    Migrate(crate::migrate::MigrateCommand),
}

#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// Change a person's e-mail address, as the admin API's PATCH does: at once for a person
    /// without a login; for an invited or active one, pending until they confirm it with the
    /// link mailed to the new address (the old one gets a notice).
    Email {
        /// The organization's subdomain.
        subdomain: String,
        /// The person's username.
        username: String,
        /// The new address.
        new_email: String,
    },
    /// Change a person's username, as the admin API's PATCH does. The login stays the same
    /// (the new name is its sign-in alias): at once for a person without a login; for an
    /// invited or active one, pending until they confirm it with the link mailed to them.
    Username {
        /// The organization's subdomain.
        subdomain: String,
        /// The person's current username.
        username: String,
        /// The name they are to sign in with.
        new_username: String,
    },
}

// Parsed once per run from the command line: the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization with its own user pool (or finish one a failed run left).
    Create(CreateArgs),
    /// Show one organization.
    Show {
        /// Its subdomain.
        subdomain: String,
    },
    /// Find the organization that owns a user pool id or an e-mail domain.
    Lookup {
        #[arg(
            long,
            conflicts_with = "email_domain",
            required_unless_present = "email_domain"
        )]
        pool_id: Option<String>,
        #[arg(long)]
        email_domain: Option<String>,
    },
    /// List all organizations. With --expiring-certificates: instead, every SAML signing
    /// certificate that expires within --within-days (default 30) or has expired, with its
    /// organization and connection.
    List {
        #[arg(long)]
        expiring_certificates: bool,
        #[arg(long, default_value_t = 30, requires = "expiring_certificates")]
        within_days: u32,
    },
    /// Stop everyone of an organization from signing in (everything is kept).
    Suspend { subdomain: String },
    /// Let a suspended organization's people sign in again.
    Resume { subdomain: String },
    /// Change an organization's settings (sign-in, SSO, MFA, invitations, branding, app
    /// URLs): the same checks and the same change as the admin API's PATCH /v1/organization.
    Configure {
        subdomain: String,
        /// People may sign up themselves with an address in the organization's e-mail domains.
        #[arg(long, value_parser = on_off())]
        self_signup: Option<bool>,
        /// Password sign-in is refused: people use the organization's SSO.
        #[arg(long, value_parser = on_off())]
        sso_only: Option<bool>,
        /// An identity provider enabled for the organization, by its name in the pool
        /// (repeatable; the list replaces the current one).
        #[arg(long = "provider")]
        providers: Vec<String>,
        /// Disable every identity provider.
        #[arg(long, conflicts_with = "providers")]
        no_providers: bool,
        /// A first SSO sign-in with an address in the organization's domains creates the person.
        #[arg(long, value_parser = on_off())]
        jit: Option<bool>,
        /// How activated people get in: `password` (a temporary password by mail) or `link`
        /// (a single-use link, valid 72 hours, to choose their password).
        #[arg(long, value_parser = ["password", "link"])]
        invitation: Option<String>,
        /// Break-glass for SSO-only: the organization's admins keep password sign-in.
        #[arg(long, value_parser = on_off())]
        admins_keep_password: Option<bool>,
        /// The role of people created just in time (default member).
        #[arg(long)]
        jit_role: Option<String>,
        /// MFA policy of the pool: off, optional or required (TOTP).
        #[arg(long, value_parser = ["off", "optional", "required"])]
        mfa: Option<String>,
        /// Shown instead of the organization's name on its pages ("" clears it).
        #[arg(long)]
        display_name: Option<String>,
        /// An https:// logo for its pages ("" clears it).
        #[arg(long)]
        logo_url: Option<String>,
        /// The primary colour of its pages, #rrggbb ("" clears it).
        #[arg(long)]
        primary_color: Option<String>,
        /// Where people go after signing in (repeatable; the list replaces the current one;
        /// the first is the default).
        #[arg(long = "app-url")]
        app_urls: Vec<String>,
        /// An e-mail domain of the organization's people (repeatable; the list replaces the
        /// current one). The operator's word: claimed and used at once, without the DNS proof
        /// an admin's domain waits for (this also vouches for one pending). Public mail
        /// domains (gmail.com, outlook.com, ...) are refused.
        #[arg(long = "email-domain")]
        email_domains: Vec<String>,
        /// Microsoft Entra ID: the customer's tenant id (a GUID); with
        /// --microsoft-client-id and the client secret from the environment variable
        /// MICROSOFT_CLIENT_SECRET (never a flag: flags end up in shell histories).
        #[arg(long, requires = "microsoft_client_id")]
        microsoft_tenant: Option<String>,
        /// The application (client) id of the app registration in Entra ID.
        #[arg(long, requires = "microsoft_tenant")]
        microsoft_client_id: Option<String>,
        /// Remove the Microsoft provider and its secret.
        #[arg(long, conflicts_with = "microsoft_tenant")]
        no_microsoft: bool,
        /// A social provider's client id, as <provider>=<client id> with provider one of
        /// google, apple (its Services ID), facebook, amazon (repeatable). Its secret comes
        /// from the environment: SSO_<PROVIDER>_CLIENT_SECRET, for Apple SSO_APPLE_PRIVATE_KEY
        /// (the .p8 key); left unset, the stored one stays.
        #[arg(long = "sso-client-id", value_parser = social_client_id)]
        sso_client_ids: Vec<(Provider, String)>,
        /// Sign in with Apple: the developer team's id (with --sso-client-id apple=...).
        #[arg(long)]
        apple_team_id: Option<String>,
        /// Sign in with Apple: the signing key's id.
        #[arg(long)]
        apple_key_id: Option<String>,
        /// Remove a social provider and its secret (google, apple, facebook, amazon;
        /// repeatable).
        #[arg(long = "no-sso", value_parser = social_provider)]
        no_sso: Vec<Provider>,
    },
    /// Check the DNS TXT proofs of an organization's e-mail domains and record the ones
    /// published (as the admin API's POST /v1/organization/email-domains/verify).
    VerifyDomains { subdomain: String },
    /// Build an organization's search entries and people counters from its records (the
    /// backfill for organizations made before them; safe to run again, and while the
    /// organization is in use).
    Reindex { subdomain: String },
    /// Make the organization's SCIM token, or a new one in place of the current (which keeps
    /// working for 24 hours), as the admin API's POST /v1/organization/scim-token: printed
    /// once, stored as its SHA-256 only. With --revoke: every token ends now (SCIM off);
    /// with --status: only show whether SCIM is on.
    ScimToken {
        subdomain: String,
        #[arg(long, conflicts_with = "status")]
        revoke: bool,
        #[arg(long)]
        status: bool,
    },
    /// Recompute the roles of every person the organization's directory provisioned from
    /// their SCIM groups (after `scim.group_roles` changed; otherwise each person's roles
    /// follow at their next membership change). Safe to repeat.
    SyncRoles { subdomain: String },
    /// Show an organization's audit log, newest first.
    Audit {
        subdomain: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

/// The flags of `org create`: exactly the fields of a [`ProvisionRequest`].
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The organization's subdomain: people sign in at <subdomain>.<BASE_DOMAIN>.
    #[arg(long, allow_hyphen_values = true)]
    subdomain: String,
    /// The organization's display name.
    #[arg(long)]
    name: String,
    /// The first administrator: gets the admin role and a welcome mail.
    #[arg(long)]
    admin_email: Option<String>,
    /// Multi-factor authentication with an authenticator app.
    #[arg(long, value_parser = mfa_modes(), default_value = "off")]
    mfa: MfaMode,
    /// Licence seats: how many people may have a login at once (default: no limit).
    #[arg(long)]
    seats: Option<u32>,
    /// An e-mail domain of the organization's people (repeatable): the main domain sends
    /// people with such addresses to this organization.
    #[arg(long = "email-domain")]
    email_domains: Vec<String>,
}

impl CreateArgs {
    fn request(&self) -> ProvisionRequest {
        ProvisionRequest {
            subdomain: self.subdomain.clone(),
            name: self.name.clone(),
            admin_email: self.admin_email.clone(),
            mfa: self.mfa,
            seats: self.seats,
            email_domains: self.email_domains.clone(),
        }
    }
}

/// `on` or `off`, listed as the allowed values in `--help` and in the error for anything else.
fn on_off() -> impl clap::builder::TypedValueParser<Value = bool> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["on", "off"]).map(|s| s == "on")
}

/// The MFA settings, listed in `--help` and in the error for anything else.
fn mfa_modes() -> impl clap::builder::TypedValueParser<Value = MfaMode> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["off", "optional", "required"])
        .try_map(|s| s.parse::<MfaMode>())
}

/// Parses the command line, runs the command, prints, and says how to exit.
pub async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() && wants_json(std::env::args()) => {
            print_json(
                &json!({"error": {"code": "Usage", "message": e.kind().to_string(), "usage": e.to_string()}}),
            );
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let output = cli.output;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Exit(code)) => ExitCode::from(code),
        Err(err) => {
            match output {
                Output::Json => {
                    print_json(&json!({"error": {"code": err.code(), "message": err.to_string()}}))
                }
                Output::Text => eprintln!("error: {err}"),
            }
            ExitCode::from(err.exit_code())
        }
    }
}

/// Whether the raw arguments ask for JSON, for errors found before they could be parsed.
fn wants_json(args: impl Iterator<Item = String>) -> bool {
    let args: Vec<String> = args.collect();
    args.windows(2)
        .any(|w| w[0] == "--output" && w[1] == "json")
        || args.iter().any(|a| a == "--output=json")
}

fn actor() -> String {
    let who = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    format!("tenantctl:{who}")
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let output = cli.output;
    // Inputs are checked before AWS is touched: a typo never waits for a network.
    if let Command::Org(cmd) = &cli.command {
        precheck(cmd)?;
    }
    if let Command::Person(PersonCommand::Email {
        subdomain,
        new_email,
        ..
    }) = &cli.command
    {
        Subdomain::parse(subdomain)?;
        shared::domain::EmailAddress::parse(new_email)?;
    }
    let sdk = shared::aws::load_config(shared::aws::Budget::Operator).await?;
    match cli.command {
        Command::Migrate(cmd) => {
            let ctx = Context {
                sdk: &sdk,
                json: output == Output::Json,
                actor: actor(),
            };
            match crate::migrate::run(&ctx, cmd).await? {
                0 => {}
                code => return Err(CliError::Exit(code)),
            }
        }
        Command::Setup => {
            let registry = wiring::registry(&sdk, &ProcessEnv)?;
            let mailer = wiring::mailer(&sdk, &ProcessEnv)?;
            progress("checking the registry table");
            let created = registry.ensure_table().await?;
            progress("checking the mail identity");
            let dkim = mailer.ensure_identity().await?;
            let table = shared::config::table_name(&ProcessEnv)?;
            let from = shared::config::mail_from(&ProcessEnv)?;
            match output {
                Output::Json => print_json(&json!({
                    "table": {"name": table, "created": created},
                    "mail_identity": {"domain": from.domain(), "dkim_tokens": dkim},
                })),
                Output::Text => {
                    println!(
                        "table {table}: {}",
                        if created { "created" } else { "already there" }
                    );
                    println!("mail identity {}: ready", from.domain());
                    for token in &dkim {
                        println!(
                            "  publish CNAME {token}._domainkey.{} -> {token}.dkim.amazonses.com",
                            from.domain()
                        );
                    }
                }
            }
        }
        Command::Org(OrgCommand::Create(args)) => {
            let deps = ProvisioningDeps::new(&sdk, &ProcessEnv)?;
            let request = args.request();
            let actor = actor();
            let show_step = |step: &Step| progress(&step.to_string());
            let provisioned = deps
                .provisioning(&actor)
                .provision(&request, &show_step)
                .await?;
            print_provisioned(output, &provisioned, &deps.config.base_domain);
        }
        Command::Org(OrgCommand::Show { subdomain }) => {
            let registry = wiring::registry(&sdk, &ProcessEnv)?;
            let org = find_organization(&registry, &subdomain).await?;
            print_org(output, &org);
        }
        Command::Org(OrgCommand::Lookup {
            pool_id,
            email_domain,
        }) => {
            let registry = wiring::registry(&sdk, &ProcessEnv)?;
            let (org, key) = match (pool_id, email_domain) {
                (Some(pool), _) => (registry.organization_by_pool(&pool).await?, pool),
                (None, Some(domain)) => {
                    let parsed = EmailDomain::parse(&domain)?;
                    (
                        registry.organization_by_email_domain(&parsed).await?,
                        domain,
                    )
                }
                (None, None) => {
                    return Err(Error::InvalidInput {
                        what: "lookup",
                        value: String::new(),
                        rule: "give --pool-id or --email-domain",
                    }
                    .into())
                }
            };
            let org = org.ok_or(Error::NotFound {
                what: "organization owning",
                key,
            })?;
            print_org(output, &org);
        }
        Command::Org(OrgCommand::List {
            expiring_certificates,
            within_days,
        }) => {
            let registry = wiring::registry(&sdk, &ProcessEnv)?;
            let orgs = registry.list_organizations().await?;
            if expiring_certificates {
                let rows = shared::domain::saml::expiring_certificates(
                    &orgs,
                    shared::domain::now_epoch(),
                    i64::from(within_days) * 24 * 3600,
                );
                match output {
                    Output::Json => print_json(&rows),
                    Output::Text => {
                        if rows.is_empty() {
                            println!(
                                "no SAML signing certificate expires within {within_days} days"
                            );
                        }
                        for r in &rows {
                            println!(
                                "{}\t{}\t{}\t{}{}",
                                r.subdomain,
                                r.connection,
                                r.expires_at,
                                r.subject,
                                if r.expired { "\tEXPIRED" } else { "" }
                            );
                        }
                    }
                }
            } else {
                print_list(output, &orgs);
            }
        }
        Command::Org(OrgCommand::Suspend { subdomain }) => {
            let registry = wiring::registry(&sdk, &ProcessEnv)?;
            let org = set_suspended(&registry, &subdomain, true, &actor()).await?;
            print_org(output, &org);
        }
        Command::Org(OrgCommand::Resume { subdomain }) => {
            let registry = wiring::registry(&sdk, &ProcessEnv)?;
            let org = set_suspended(&registry, &subdomain, false, &actor()).await?;
            print_org(output, &org);
        }
        Command::Org(OrgCommand::Configure {
            subdomain,
            self_signup,
            sso_only,
            providers,
            no_providers,
            jit,
            invitation,
            admins_keep_password,
            jit_role,
            mfa,
            display_name,
            logo_url,
            primary_color,
            app_urls,
            email_domains,
            microsoft_tenant,
            microsoft_client_id,
            no_microsoft,
            sso_client_ids,
            apple_team_id,
            apple_key_id,
            no_sso,
        }) => {
            let registry = wiring::registry(&sdk, &ProcessEnv)?;
            let pools = shared::aws::cognito::CognitoPools::new(&sdk);
            let clearable = |v: Option<String>| v.map(|v| Some(v).filter(|v| !v.trim().is_empty()));
            let mut patch = SettingsPatch {
                self_signup,
                sso_only,
                admins_keep_password,
                providers: if no_providers {
                    Some(Vec::new())
                } else {
                    (!providers.is_empty()).then_some(providers)
                },
                jit_enabled: jit,
                jit_role: clearable(jit_role),
                scim_group_roles: None,
                scim_default_role: None,
                mfa,
                invitation,
                display_name: clearable(display_name),
                logo_url: clearable(logo_url),
                primary_color: clearable(primary_color),
                app_urls: (!app_urls.is_empty()).then_some(app_urls),
                operator_word: !email_domains.is_empty(),
                email_domains: (!email_domains.is_empty()).then_some(email_domains),
                microsoft: if no_microsoft {
                    Some(None)
                } else {
                    microsoft_client_id.map(|client_id| {
                        Some(ProviderInput {
                            tenant: microsoft_tenant,
                            client_id,
                            client_secret: std::env::var("MICROSOFT_CLIENT_SECRET")
                                .ok()
                                .filter(|s| !s.is_empty()),
                            ..Default::default()
                        })
                    })
                },
                ..Default::default()
            };
            for (provider, client_id) in sso_client_ids {
                let (team_id, key_id, variable) = if provider == Provider::Apple {
                    (
                        apple_team_id.clone(),
                        apple_key_id.clone(),
                        "SSO_APPLE_PRIVATE_KEY".to_owned(),
                    )
                } else {
                    (
                        None,
                        None,
                        format!("SSO_{}_CLIENT_SECRET", provider.key().to_ascii_uppercase()),
                    )
                };
                *patch.provider_mut(provider) = Some(Some(ProviderInput {
                    client_id,
                    client_secret: std::env::var(variable).ok().filter(|s| !s.is_empty()),
                    team_id,
                    key_id,
                    ..Default::default()
                }));
            }
            for provider in no_sso {
                *patch.provider_mut(provider) = Some(None);
            }
            let org = find_organization(&registry, &subdomain).await?;
            let secrets = shared::aws::secrets::SecretsManager::new(&sdk);
            let deps = SettingsDeps {
                registry: &registry,
                pools: &pools,
                secrets: &secrets,
                base_domain: &shared::config::base_domain(&ProcessEnv)?,
            };
            let done = apply_settings(&deps, &org, &patch, &actor()).await?;
            if !done.missing_providers.is_empty() {
                progress(&format!(
                    "enabled, but not yet set up in the pool (offered once they are): {}",
                    done.missing_providers.join(", ")
                ));
            }
            print_org(output, &done.organization);
        }
        Command::Org(OrgCommand::ScimToken {
            subdomain,
            revoke,
            status,
        }) => {
            use shared::domain::scim::token::{issue_token, revoke_tokens, token_status};
            let registry = wiring::registry(&sdk, &ProcessEnv)?;
            let org = find_organization(&registry, &subdomain).await?;
            if status || revoke {
                let org = if revoke {
                    revoke_tokens(&registry, &org, &actor()).await?
                } else {
                    org
                };
                let shown = token_status(&org);
                match output {
                    Output::Json => print_json(&shown),
                    Output::Text => println!(
                        "{}: SCIM {}",
                        org.subdomain.as_str(),
                        match shown["token_id"].as_str() {
                            Some(id) => format!("on (token {id})"),
                            None => "off (no token)".to_owned(),
                        }
                    ),
                }
            } else {
                let base = shared::config::base_domain(&ProcessEnv)?;
                let (_, issued, previous_until) = issue_token(&registry, &org, &actor()).await?;
                let url = format!("https://{}.{base}/scim/v2", org.subdomain.as_str());
                match output {
                    Output::Json => print_json(&serde_json::json!({
                        "token": issued.token,
                        "token_id": issued.id,
                        "scim_base_url": url,
                        "previous_token_valid_until": previous_until,
                    })),
                    Output::Text => {
                        progress(
                            "shown once: paste it into the directory now (only its digest is kept)",
                        );
                        if previous_until.is_some() {
                            progress("the token it replaces keeps working for 24 hours");
                        }
                        println!(
                            "SCIM base URL: {url}\nToken ({}): {}",
                            issued.id, issued.token
                        );
                    }
                }
            }
        }
        Command::Org(OrgCommand::SyncRoles { subdomain }) => {
            let registry = wiring::registry(&sdk, &ProcessEnv)?;
            let org = find_organization(&registry, &subdomain).await?;
            let pools = shared::aws::cognito::CognitoPools::new(&sdk);
            let mailer = wiring::mailer(&sdk, &ProcessEnv)?;
            let base = shared::config::base_domain(&ProcessEnv)?;
            let actor = actor();
            let directory = shared::domain::scim::directory::Directory {
                admin: shared::domain::people::Admin {
                    registry: &registry,
                    pools: &pools,
                    mailer: &mailer,
                    base_domain: &base,
                    actor: &actor,
                },
                budget: std::time::Duration::MAX,
            };
            let (changed, refused) = directory
                .sync_all_roles(&org, &|n| progress(&format!("{n} people read")))
                .await
                .map_err(|e| shared::domain::Error::not_allowed("recompute roles", e.detail))?;
            match output {
                Output::Json => print_json(&serde_json::json!({
                    "roles_changed": changed,
                    "refused": refused
                        .iter()
                        .map(|(u, why)| serde_json::json!({"username": u, "why": why}))
                        .collect::<Vec<_>>(),
                })),
                Output::Text => {
                    println!(
                        "{}: roles changed for {changed} people",
                        org.subdomain.as_str()
                    );
                    for (u, why) in &refused {
                        println!("  {u}: refused: {why}");
                    }
                }
            }
        }
        Command::Org(OrgCommand::Reindex { subdomain }) => {
            let registry = wiring::registry(&sdk, &ProcessEnv)?;
            let org = find_organization(&registry, &subdomain).await?;
            let done = registry.reindex_people(&org.id, false).await?;
            match output {
                Output::Json => print_json(&done),
                Output::Text => println!(
                    "{}: {} people, {} search entries written, {} deleted, counters set in {} pass(es): {}",
                    org.subdomain.as_str(),
                    done.people,
                    done.entries_written,
                    done.entries_deleted,
                    done.passes,
                    done.counts
                        .nonzero()
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        Command::Org(OrgCommand::Audit { subdomain, limit }) => {
            let registry = wiring::registry(&sdk, &ProcessEnv)?;
            let org = find_organization(&registry, &subdomain).await?;
            let events = registry.audit_log(&org.id, limit).await?;
            print_audit(output, &events);
        }
        Command::Org(OrgCommand::VerifyDomains { subdomain }) => {
            let registry = wiring::registry(&sdk, &ProcessEnv)?;
            let dns = shared::dns::Dns::from_env(&ProcessEnv)?;
            let org = find_organization(&registry, &subdomain).await?;
            let (_, checks) =
                shared::domain::settings::verify_email_domains(&registry, &dns, &org, &actor())
                    .await?;
            match output {
                Output::Json => print_json(&json!({ "email_domains": checks })),
                Output::Text => {
                    for check in &checks {
                        match (&check.verified, &check.detail) {
                            (true, _) => println!("{}: proven", check.domain),
                            (false, Some(why)) => println!("{}: not proven: {why}", check.domain),
                            (false, None) => println!("{}: not proven", check.domain),
                        }
                    }
                    if checks.is_empty() {
                        println!("{subdomain} has no e-mail domain to prove");
                    }
                }
            }
        }
        Command::Person(command) => person_command(&sdk, output, command).await?,
    }
    Ok(())
}

/// `person email` and `person username`: the admin API's PATCH, for operators.
async fn person_command(
    sdk: &aws_config::SdkConfig,
    output: Output,
    command: PersonCommand,
) -> Result<(), CliError> {
    let (PersonCommand::Email {
        subdomain,
        username,
        ..
    }
    | PersonCommand::Username {
        subdomain,
        username,
        ..
    }) = &command;
    let registry = wiring::registry(sdk, &ProcessEnv)?;
    let mailer = wiring::mailer(sdk, &ProcessEnv)?;
    let pools = shared::aws::cognito::CognitoPools::new(sdk);
    let org = find_organization(&registry, subdomain).await?;
    let name = username.trim().to_ascii_lowercase();
    let person = match registry.person_by_sign_in_name(&org.id, &name).await? {
        Some(person) => Some(person),
        None => registry.person(&org.id, &name).await?,
    }
    .ok_or_else(|| {
        Error::not_allowed(
            format!("change {name}"),
            format!("{subdomain} has no person with that username"),
        )
    })?;
    let base_domain = shared::config::base_domain(&ProcessEnv)?;
    let actor = actor();
    let admin = shared::domain::people::Admin {
        registry: &registry,
        pools: &pools,
        mailer: &mailer,
        base_domain: &base_domain,
        actor: &actor,
    };
    let saved = match &command {
        PersonCommand::Email { new_email, .. } => {
            admin.change_email(&org, &person, new_email).await?
        }
        PersonCommand::Username { new_username, .. } => {
            admin.change_username(&org, &person, new_username).await?
        }
    };
    let name = saved.sign_in_name();
    match output {
        Output::Json => print_json(&json!({
            "username": name,
            "email": saved.email.as_str(),
            "pending_email": saved.pending_email.as_ref().map(|e| e.as_str()),
            "pending_username": saved.pending_username,
        })),
        Output::Text => {
            println!("{name}: {}", saved.email);
            if let Some(pending) = &saved.pending_email {
                println!("  new address {pending} waits for its confirmation (a link went to it, a notice to {})", saved.email);
            }
            if let Some(pending) = &saved.pending_username {
                println!(
                    "  new username {pending} waits for its confirmation (a link went to {})",
                    saved.pending_email.as_ref().unwrap_or(&saved.email)
                );
            }
        }
    }
    Ok(())
}

/// `--no-sso`: a social provider by its settings key (Microsoft has its own flags).
fn social_provider(key: &str) -> Result<Provider, String> {
    Provider::ALL
        .into_iter()
        .filter(|p| *p != Provider::Microsoft)
        .find(|p| p.key().eq_ignore_ascii_case(key.trim()))
        .ok_or_else(|| format!("{key:?} is not one of google, apple, facebook, amazon"))
}

/// `--sso-client-id <provider>=<client id>`.
fn social_client_id(value: &str) -> Result<(Provider, String), String> {
    let (key, id) = value
        .split_once('=')
        .ok_or_else(|| format!("{value:?} must be <provider>=<client id>, such as google=123.apps.googleusercontent.com"))?;
    Ok((social_provider(key)?, id.trim().to_owned()))
}

/// Checks what can be checked without AWS.
fn precheck(cmd: &OrgCommand) -> Result<(), CliError> {
    match cmd {
        OrgCommand::Create(args) => {
            args.request().validate()?;
        }
        OrgCommand::Show { subdomain }
        | OrgCommand::Suspend { subdomain }
        | OrgCommand::Resume { subdomain }
        | OrgCommand::Audit { subdomain, .. }
        | OrgCommand::Reindex { subdomain }
        | OrgCommand::ScimToken { subdomain, .. }
        | OrgCommand::SyncRoles { subdomain }
        | OrgCommand::VerifyDomains { subdomain } => {
            Subdomain::parse(subdomain)?;
        }
        OrgCommand::Configure {
            subdomain,
            email_domains,
            ..
        } => {
            Subdomain::parse(subdomain)?;
            for d in email_domains {
                EmailDomain::parse(d)?.organizational()?;
            }
        }
        OrgCommand::Lookup {
            email_domain: Some(d),
            ..
        } => {
            EmailDomain::parse(d)?;
        }
        OrgCommand::Lookup { .. } | OrgCommand::List { .. } => {}
    }
    Ok(())
}

fn when(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| epoch.to_string())
}

fn seats(org: &Organization) -> String {
    match org.seats {
        Some(limit) => format!("{} of {limit} used", org.seats_used),
        None => format!("{} used, no limit", org.seats_used),
    }
}

/// An organization as JSON, every field present (`seats` is `null` without a limit), so that
/// scripts can rely on one shape.
fn org_json(org: &Organization) -> Value {
    let mut value = serde_json::to_value(org).unwrap_or(Value::Null);
    if let Some(fields) = value.as_object_mut() {
        fields.entry("seats").or_insert(Value::Null);
    }
    value
}

fn print_org(output: Output, org: &Organization) {
    if output == Output::Json {
        return print_json(&org_json(org));
    }
    let none = || "-".to_owned();
    let mut domains: Vec<String> = org.domains_in_use().iter().map(|d| d.to_string()).collect();
    domains.extend(
        org.pending_domains()
            .iter()
            .map(|d| format!("{d} (pending its DNS proof: not used)")),
    );
    let rows = [
        ("Organization", format!("{} ({})", org.name, org.id)),
        ("Subdomain", org.subdomain.to_string()),
        ("Status", org.status.to_string()),
        ("MFA", org.mfa.to_string()),
        ("Seats", seats(org)),
        (
            "E-mail domains",
            if domains.is_empty() {
                none()
            } else {
                domains.join(", ")
            },
        ),
        (
            "Administrator",
            org.admin_email
                .as_ref()
                .map_or_else(none, |e| e.to_string()),
        ),
        (
            "User pool",
            org.cognito.user_pool_id.clone().unwrap_or_else(none),
        ),
        (
            "App client",
            org.cognito.app_client_id.clone().unwrap_or_else(none),
        ),
        (
            "OAuth domain",
            org.cognito.domain_prefix.clone().unwrap_or_else(none),
        ),
        ("Sign-in", sign_in_summary(org)),
        ("Created", when(org.created_at)),
    ];
    for (label, value) in rows {
        println!("{label:<15} {value}");
    }
}

fn sign_in_summary(org: &Organization) -> String {
    let s = &org.sign_in;
    let on_off = |b: bool| if b { "on" } else { "off" };
    let providers = if s.providers.is_empty() {
        "none".to_owned()
    } else {
        s.providers.join(", ")
    };
    format!(
        "self sign-up {}, SSO only {}, providers {}, just-in-time accounts {}, invitation by {}",
        on_off(s.self_signup),
        on_off(s.sso_only),
        providers,
        on_off(s.jit_accounts),
        s.invitation
    )
}

fn print_provisioned(output: Output, provisioned: &Provisioned, base_domain: &str) {
    if output == Output::Json {
        let mut value = serde_json::to_value(provisioned).unwrap_or(Value::Null);
        value["organization"] = org_json(&provisioned.organization);
        return print_json(&value);
    }
    let org = &provisioned.organization;
    println!(
        "{} {} ({})",
        if provisioned.created {
            "Created"
        } else {
            "Finished"
        },
        org.name,
        org.subdomain
    );
    print_org(output, org);
    println!("Login page      {}", org.subdomain.login_url(base_domain));
}

fn print_list(output: Output, orgs: &[Organization]) {
    if output == Output::Json {
        return print_json(&orgs.iter().map(org_json).collect::<Vec<_>>());
    }
    if orgs.is_empty() {
        println!(
            "No organizations yet. Create one with `tenantctl org create --subdomain S --name N`."
        );
        return;
    }
    println!(
        "{:<24} {:<30} {:<13} {:<22} USER POOL",
        "SUBDOMAIN", "NAME", "STATUS", "SEATS"
    );
    for org in orgs {
        println!(
            "{:<24} {:<30} {:<13} {:<22} {}",
            org.subdomain.as_str(),
            org.name,
            org.status.to_string(),
            seats(org),
            org.cognito.user_pool_id.as_deref().unwrap_or("-")
        );
    }
}

fn print_audit(output: Output, events: &[AuditEvent]) {
    if output == Output::Json {
        return print_json(&events);
    }
    for e in events {
        println!(
            "{}  {:<20} {:<28} {:<24} {}",
            when(e.at),
            e.action,
            e.actor,
            e.target,
            e.detail.as_deref().unwrap_or("")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tenantctl").chain(args.iter().copied()))
    }

    #[test]
    fn create_takes_the_documented_flags() {
        let cli = parse(&[
            "--output",
            "json",
            "org",
            "create",
            "--subdomain",
            "acme",
            "--name",
            "Acme",
            "--admin-email",
            "a@acme.com",
            "--mfa",
            "required",
            "--seats",
            "10",
            "--email-domain",
            "acme.com",
            "--email-domain",
            "acme.org",
        ])
        .expect("parses");
        assert_eq!(cli.output, Output::Json);
        match cli.command {
            Command::Org(OrgCommand::Create(args)) => {
                assert_eq!(args.mfa, MfaMode::Required);
                assert_eq!(args.seats, Some(10));
                assert_eq!(args.email_domains, vec!["acme.com", "acme.org"]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bad_mfa_names_the_choices() {
        let err = parse(&[
            "org",
            "create",
            "--subdomain",
            "acme",
            "--name",
            "A",
            "--mfa",
            "always",
        ])
        .expect_err("bad");
        assert!(err.to_string().contains("off, optional, required"), "{err}");
    }

    #[test]
    fn usage_errors_can_still_answer_in_json() {
        let args = |a: &[&str]| {
            a.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .into_iter()
        };
        assert!(wants_json(args(&[
            "tenantctl",
            "--output",
            "json",
            "org",
            "nope"
        ])));
        assert!(wants_json(args(&["tenantctl", "org", "--output=json"])));
        assert!(!wants_json(args(&["tenantctl", "org", "list"])));
    }

    #[test]
    fn a_subdomain_may_start_with_a_hyphen_to_be_refused_clearly() {
        let cli = parse(&["org", "create", "--subdomain", "-acme", "--name", "A"]).expect("parses");
        let Command::Org(cmd) = cli.command else {
            panic!("org command")
        };
        let err = precheck(&cmd).expect_err("invalid");
        assert!(err.to_string().contains("hyphen"), "{err}");
    }

    #[test]
    fn prechecks_refuse_bad_subdomains_before_aws() {
        let cmd = OrgCommand::Show {
            subdomain: "auth".into(),
        };
        let err = precheck(&cmd).expect_err("reserved");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("reserved"));
    }

    #[test]
    fn public_mail_domains_are_refused_before_aws() {
        for args in [
            &[
                "org",
                "create",
                "--subdomain",
                "acme",
                "--name",
                "A",
                "--email-domain",
                "gmail.com",
            ][..],
            &[
                "org",
                "configure",
                "acme",
                "--email-domain",
                "acme.com",
                "--email-domain",
                "Outlook.com",
            ][..],
        ] {
            let cli = parse(args).expect("parses");
            let Command::Org(cmd) = cli.command else {
                panic!("org command")
            };
            let err = precheck(&cmd).expect_err("public");
            assert_eq!(err.exit_code(), 2, "{args:?}");
            assert_eq!(err.code(), "PublicEmailDomain", "{args:?}");
            assert!(err.to_string().contains("public mail"), "{err}");
        }
    }
}
