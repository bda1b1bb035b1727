//! Creating an organization: its record, its own user pool and everything in it, its first
//! administrator.
//!
//! Every step first looks at what is already there and only does what is missing, and each
//! result is recorded before the next step starts. A run that dies anywhere is therefore
//! finished by running the same command again, and never leaves a second pool behind: the
//! pool's name carries the organization id, so a pool created just before a crash is found
//! and adopted instead of created anew.

use std::fmt;

use serde::Serialize;

use super::activation::{activate_person, Activation};
use super::migration::OrgMigration;
use super::person::parse_username;
use super::{
    now_epoch, EmailAddress, EmailDomain, Error, MfaMode, OrgId, OrgStatus, Organization, Person,
    PersonStatus, Role, Subdomain,
};
use crate::domain::ports::{
    AuditEvent, ClientSpec, Mailer, PoolSpec, Registry, TriggerArns, UserPools,
};

/// What a run did about the first administrator.
enum AdminOutcome {
    Invited(Person),
    LeftAsIs(Person),
}

/// A provisioning lease this run holds.
struct Lease {
    org_id: OrgId,
    holder: String,
    subdomain: String,
}

impl Lease {
    fn busy(&self) -> Error {
        Error::InProgress {
            what: format!(
                "organization {} is being created by another run",
                self.subdomain
            ),
        }
    }
}

/// The lease two provisioning runs of one organization share (see `Provisioning::provision`).
const PROVISION_LEASE: &str = "provision";
/// How long a lease lasts if its run dies without giving it back.
const LEASE_TTL_SECS: i64 = 120;
/// How long a run waits for another run's pool.
const LEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
const LEASE_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// The name of the app client every organization's login page uses.
pub const APP_CLIENT_NAME: &str = "login";

/// What the operator asks for (`tenantctl org create`, or the worker's event).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize, Serialize)]
pub struct ProvisionRequest {
    pub subdomain: String,
    pub name: String,
    #[serde(default)]
    pub admin_email: Option<String>,
    #[serde(default)]
    pub mfa: MfaMode,
    #[serde(default)]
    pub seats: Option<u32>,
    #[serde(default)]
    pub email_domains: Vec<String>,
}

/// The request, checked: every field valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRequest {
    pub subdomain: Subdomain,
    pub name: String,
    pub admin_email: Option<EmailAddress>,
    /// The first administrator's username: their address, checked as a username too.
    pub admin_username: Option<String>,
    pub mfa: MfaMode,
    pub seats: Option<u32>,
    pub email_domains: Vec<EmailDomain>,
}

impl ProvisionRequest {
    /// Checks every field and names the first one that is wrong.
    pub fn validate(&self) -> Result<ValidRequest, Error> {
        let subdomain = Subdomain::parse(&self.subdomain)?;
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(Error::InvalidInput {
                what: "organization name",
                value: self.name.clone(),
                rule: "it must be 1 to 100 printable characters",
            });
        }
        if self.seats == Some(0) {
            return Err(Error::InvalidInput {
                what: "seats",
                value: "0".into(),
                rule: "an organization needs at least one seat (leave it out for no limit)",
            });
        }
        let admin_email = self
            .admin_email
            .as_deref()
            .map(EmailAddress::parse)
            .transpose()?;
        // Checked here, before anything is written: the address becomes a username.
        let admin_username = admin_email
            .as_ref()
            .map(|e| {
                parse_username(e.as_str()).map_err(|_| Error::InvalidInput {
                    what: "administrator e-mail",
                    value: e.to_string(),
                    rule: "it becomes the administrator's username, which may hold only letters, digits and . _ - @ + '; use another address",
                })
            })
            .transpose()?;
        let mut email_domains = self
            .email_domains
            .iter()
            .map(|d| EmailDomain::parse(d).and_then(EmailDomain::organizational))
            .collect::<Result<Vec<_>, _>>()?;
        email_domains.sort();
        email_domains.dedup();
        Ok(ValidRequest {
            subdomain,
            name: name.to_owned(),
            admin_email,
            admin_username,
            mfa: self.mfa,
            seats: self.seats,
            email_domains,
        })
    }
}

/// What provisioning needs besides the request.
pub struct Provisioning<'a> {
    pub registry: &'a dyn Registry,
    pub pools: &'a dyn UserPools,
    pub mailer: &'a dyn Mailer,
    /// The wildcard domain the organizations' login pages live under (`BASE_DOMAIN`).
    pub base_domain: &'a str,
    pub triggers: &'a TriggerArns,
    /// Who is doing this, for the audit log.
    pub actor: &'a str,
}

/// One step done, reported as it happens (the CLI prints them; the worker logs them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Recorded {
        org_id: OrgId,
        resumed: bool,
        /// Found already set up (active, with its pool, client and domain): nothing of the
        /// organization itself is created again.
        #[serde(default)]
        complete: bool,
    },
    PoolReady {
        pool_id: String,
        adopted: bool,
    },
    GroupsReady {
        groups: Vec<String>,
    },
    AppClientReady {
        client_id: String,
    },
    DomainReady {
        domain: String,
    },
    Active,
    AdminInvited {
        username: String,
        email: EmailAddress,
    },
    /// A rerun found the first administrator past their invitation (active, deactivated or
    /// deleted): nothing is done to them.
    AdminLeftAsIs {
        username: String,
        status: PersonStatus,
    },
    /// Another run is provisioning this organization; this one waits for it to finish.
    WaitingForOtherRun,
    AdminChanged {
        email: EmailAddress,
        /// The address recorded before, whose person was never welcomed and is deleted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaced: Option<EmailAddress>,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Recorded {
                org_id,
                resumed: false,
                ..
            } => write!(f, "recorded organization {org_id}"),
            Step::Recorded {
                org_id,
                complete: true,
                ..
            } => write!(
                f,
                "organization {org_id} is already complete: checking, nothing is created again"
            ),
            Step::Recorded {
                org_id,
                resumed: true,
                ..
            } => {
                write!(f, "resuming organization {org_id} where it stopped")
            }
            Step::PoolReady {
                pool_id,
                adopted: false,
            } => write!(f, "created user pool {pool_id}"),
            Step::PoolReady {
                pool_id,
                adopted: true,
            } => {
                write!(f, "user pool {pool_id} already there, its org-id tag names this organization: adopted")
            }
            Step::GroupsReady { groups } => write!(f, "role groups ready: {}", groups.join(", ")),
            Step::AppClientReady { client_id } => write!(f, "app client ready: {client_id}"),
            Step::DomainReady { domain } => write!(f, "OAuth domain ready: {domain}"),
            Step::Active => write!(f, "organization is active"),
            Step::AdminInvited { username, email } => {
                write!(
                    f,
                    "administrator {username} invited, welcome mail sent to {email}"
                )
            }
            Step::AdminLeftAsIs { username, status } => {
                write!(f, "administrator {username} is {status}: left as it is")
            }
            Step::WaitingForOtherRun => write!(
                f,
                "another run is provisioning this organization: waiting for it to finish"
            ),
            Step::AdminChanged {
                email,
                replaced: None,
            } => {
                write!(f, "first administrator changed to {email}")
            }
            Step::AdminChanged {
                email,
                replaced: Some(old),
            } => {
                write!(
                    f,
                    "first administrator changed to {email}; {old} was never welcomed and is deleted (the record stays, unlinked)"
                )
            }
        }
    }
}

/// What a migration job's provisioning adds (see [`Provisioning::provision_migrated`]).
pub struct ForMigration<'a> {
    /// Written on the organization's record when it is created.
    pub mark: OrgMigration,
    /// The provisioning lease's holder: the job's lease holder for the organization.
    pub holder: &'a str,
    /// A provably dead run of the job whose provisioning lease may be taken over.
    pub dead_holder: Option<&'a str>,
}

/// The result: the organization as recorded, and whether this run created it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provisioned {
    pub organization: Organization,
    /// False when the organization existed already (finished or resumed).
    pub created: bool,
    pub admin: Option<Person>,
}

impl Provisioning<'_> {
    /// Creates the organization, or finishes one a previous run left half-done.
    ///
    /// Everything after the organization's record is done under its provisioning lease:
    /// two runs at once (an operator and the migration worker, say) take turns, so that
    /// neither creates a second pool, app client or login nor resets the password the
    /// other one mailed. The second run finds the first one's work done.
    pub async fn provision(
        &self,
        request: &ProvisionRequest,
        progress: &(dyn Fn(&Step) + Sync),
    ) -> Result<Provisioned, Error> {
        self.provision_with(request, None, progress).await
    }

    /// [`Self::provision`] for a migration job: the record carries the job's mark
    /// (`sign_in.migration`, not switched) from its first write, so a half-created
    /// organization is provably the job's; the provisioning lease is held as `holder` (the
    /// job's lease holder), and one left by a provably dead run of the job is taken over.
    pub async fn provision_migrated(
        &self,
        request: &ProvisionRequest,
        migration: &ForMigration<'_>,
        progress: &(dyn Fn(&Step) + Sync),
    ) -> Result<Provisioned, Error> {
        self.provision_with(request, Some(migration), progress)
            .await
    }

    async fn provision_with(
        &self,
        request: &ProvisionRequest,
        migration: Option<&ForMigration<'_>>,
        progress: &(dyn Fn(&Step) + Sync),
    ) -> Result<Provisioned, Error> {
        let req = request.validate()?;
        let (org, created) = self.record(&req, migration.map(|m| &m.mark)).await?;
        let lease = self.take_lease(&org, migration, progress).await?;
        let result = self.under_lease(org, created, &req, &lease, progress).await;
        if let Err(e) = self
            .registry
            .release_lease(&lease.org_id, PROVISION_LEASE, &lease.holder)
            .await
        {
            tracing::warn!(org_id = %lease.org_id, error = %e, "provisioning lease not released; it expires by itself");
        }
        result
    }

    /// The organization-level steps and the first administrator, with the lease held.
    async fn under_lease(
        &self,
        org: Organization,
        created: bool,
        req: &ValidRequest,
        lease: &Lease,
        progress: &(dyn Fn(&Step) + Sync),
    ) -> Result<Provisioned, Error> {
        // Read again under the lease: a run that held it before may have done everything.
        let org = self.registry.organization(&org.id).await?.unwrap_or(org);
        let mut org = if created {
            org
        } else {
            self.take_admin(org, req, progress).await?
        };
        progress(&Step::Recorded {
            org_id: org.id.clone(),
            resumed: !created,
            complete: !created
                && org.status != OrgStatus::Provisioning
                && org.cognito.user_pool_id.is_some()
                && org.cognito.app_client_id.is_some()
                && org.cognito.domain_prefix.is_some(),
        });

        let pool_id = match org.cognito.user_pool_id.clone() {
            Some(id) => id,
            None => {
                org = self.pool_step(&org, progress).await?;
                self.renew(lease).await?;
                org.cognito
                    .user_pool_id
                    .clone()
                    .ok_or_else(|| Error::Conflict {
                        what: "organization",
                        key: org.subdomain.to_string(),
                    })?
            }
        };

        // Checked on every run: a pool adopted after a crash may have missed it.
        self.pools.ensure_mfa(&pool_id, org.mfa).await?;
        self.pools.ensure_groups(&pool_id, &Role::DEFAULTS).await?;
        progress(&Step::GroupsReady {
            groups: Role::DEFAULTS.iter().map(|g| g.to_string()).collect(),
        });

        if org.cognito.app_client_id.is_none() {
            let spec = ClientSpec {
                name: APP_CLIENT_NAME.into(),
                callback_urls: vec![format!(
                    "{}/oauth/callback",
                    org.subdomain.origin(self.base_domain)
                )],
                logout_urls: vec![org.subdomain.login_url(self.base_domain)],
            };
            let client_id = self.pools.ensure_app_client(&pool_id, &spec).await?;
            org.cognito.app_client_id = Some(client_id.clone());
            org = self.registry.save_organization(&org, None).await?;
            progress(&Step::AppClientReady { client_id });
        }

        if org.cognito.domain_prefix.is_none() {
            let domain = self
                .pools
                .ensure_domain(&pool_id, &org.domain_prefix())
                .await?;
            org.cognito.domain_prefix = Some(domain.clone());
            org = self.registry.save_organization(&org, None).await?;
            progress(&Step::DomainReady { domain });
        }

        // Active before the administrator is invited: the pre-signup trigger lets
        // AdminCreateUser through for active organizations only.
        if org.status == OrgStatus::Provisioning {
            org.status = OrgStatus::Active;
            let audit = self.audit(
                &org,
                "org.provisioned",
                org.subdomain.as_str(),
                Some(format!("user pool {pool_id}")),
            );
            org = self.registry.save_organization(&org, Some(&audit)).await?;
            progress(&Step::Active);
        }

        let admin = match org.admin_email.clone() {
            Some(email) if org.status == OrgStatus::Active => {
                self.renew(lease).await?;
                let admin = self.invite_admin(&mut org, &email).await?;
                match &admin {
                    AdminOutcome::Invited(person) => progress(&Step::AdminInvited {
                        username: person.username.clone(),
                        email: person.email.clone(),
                    }),
                    AdminOutcome::LeftAsIs(person) if person.status != PersonStatus::Invited => {
                        progress(&Step::AdminLeftAsIs {
                            username: person.username.clone(),
                            status: person.status,
                        })
                    }
                    AdminOutcome::LeftAsIs(_) => {}
                }
                match admin {
                    AdminOutcome::Invited(person) => Some(person),
                    AdminOutcome::LeftAsIs(_) => None,
                }
            }
            _ => None,
        };
        Ok(Provisioned {
            organization: org,
            created,
            admin,
        })
    }

    /// Finds the organization a previous run recorded for this subdomain, or records it now.
    async fn record(
        &self,
        req: &ValidRequest,
        mark: Option<&OrgMigration>,
    ) -> Result<(Organization, bool), Error> {
        if let Some(existing) = self.existing(req).await? {
            return Ok((existing, false));
        }
        let now = now_epoch();
        let sign_in = super::organization::SignInSettings {
            migration: mark.cloned(),
            ..Default::default()
        };
        let org = Organization {
            id: OrgId::generate(),
            name: req.name.clone(),
            subdomain: req.subdomain.clone(),
            status: OrgStatus::Provisioning,
            mfa: req.mfa,
            seats: req.seats,
            seats_used: 0,
            email_domains: req.email_domains.clone(),
            admin_email: req.admin_email.clone(),
            cognito: Default::default(),
            sign_in,
            roles: super::organization::default_roles(),
            branding: Default::default(),
            // The operator's word: claimed and used from the start.
            domain_proofs: req
                .email_domains
                .iter()
                .map(|d| super::organization::DomainProof::operator(d, now))
                .collect(),
            scim: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let audit = self.audit(
            &org,
            "org.created",
            org.subdomain.as_str(),
            Some(org.name.clone()),
        );
        match self.registry.create_organization(&org, &audit).await {
            Ok(()) => Ok((org, true)),
            // Another run recorded the same organization a moment ago: carry on with it.
            // Which of its claims a lost race names is DynamoDB's choice (a concurrent
            // transaction on the same items may be reported on the e-mail domain's claim
            // alone), so a taken e-mail domain is checked the same way.
            Err(e @ (Error::SubdomainTaken { .. } | Error::EmailDomainTaken { .. })) => {
                match self.existing(req).await? {
                    Some(existing) => Ok((existing, false)),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The organization a previous (or concurrent) run recorded for this subdomain, if it is
    /// this one (same name); another organization's subdomain is taken.
    async fn existing(&self, req: &ValidRequest) -> Result<Option<Organization>, Error> {
        match self
            .registry
            .organization_by_subdomain(&req.subdomain)
            .await?
        {
            Some(existing) if existing.name != req.name => Err(Error::SubdomainOfAnotherName {
                subdomain: req.subdomain.to_string(),
                name: existing.name,
            }),
            other => Ok(other),
        }
    }

    /// A rerun naming another first administrator (the first run's address was wrong, say)
    /// takes the new one while the recorded one was never invited (no welcome mail left:
    /// never activated, or the mail failed); the earlier person is then deleted (unlinked:
    /// the record stays, the login goes, the seat is free). Once the recorded one was
    /// invited, the organization has its administrator, and more come through the admin API.
    async fn take_admin(
        &self,
        org: Organization,
        req: &ValidRequest,
        progress: &(dyn Fn(&Step) + Sync),
    ) -> Result<Organization, Error> {
        let Some(new) = &req.admin_email else {
            return Ok(org);
        };
        if org.admin_email.as_ref() == Some(new) {
            return Ok(org);
        }
        let earlier = match &org.admin_email {
            Some(old) => self.registry.person_by_email(&org.id, old).await?,
            None => None,
        };
        if let (Some(old), Some(person)) = (&org.admin_email, &earlier) {
            let invited = person.welcome_sent_at.is_some()
                || matches!(
                    person.status,
                    PersonStatus::Active | PersonStatus::Deactivated
                );
            if invited {
                return Err(Error::not_allowed(
                    format!("make {new} the first administrator of {}", org.subdomain),
                    format!(
                        "its first administrator is already {old} ({}); add more administrators through the admin API",
                        person.status
                    ),
                ));
            }
        }
        // The earlier person first: a run that dies between the two steps finds them
        // unlinked and never welcomed, which a rerun replaces again.
        let replaced = earlier.as_ref().map(|p| p.email.clone());
        let org = match earlier {
            Some(person) => {
                self.unlink_replaced(&org, person, new).await?;
                // The freed seat changed the organization's record.
                self.registry.organization(&org.id).await?.unwrap_or(org)
            }
            None => org,
        };
        let mut changed = org.clone();
        changed.admin_email = Some(new.clone());
        let audit = self.audit(
            &org,
            "org.admin_changed",
            org.subdomain.as_str(),
            Some(format!("first administrator {new}")),
        );
        let saved = self
            .registry
            .save_organization(&changed, Some(&audit))
            .await?;
        progress(&Step::AdminChanged {
            email: new.clone(),
            replaced,
        });
        Ok(saved)
    }

    /// Deletes a first administrator who was never welcomed, replaced by `new`: unlinked
    /// (with its audit event, the seat freed in the same write), then their login removed.
    async fn unlink_replaced(
        &self,
        org: &Organization,
        person: Person,
        new: &EmailAddress,
    ) -> Result<(), Error> {
        let had_login = person.status.holds_seat();
        if person.status != PersonStatus::Unlinked {
            let mut unlinked = person.clone();
            unlinked.status = PersonStatus::Unlinked;
            let audit = self.audit(
                org,
                "person.deleted",
                &person.username,
                Some(format!("never welcomed; first administrator is now {new}")),
            );
            self.registry
                .save_person(&person, &unlinked, Some(&audit))
                .await?;
        }
        if let Some(pool_id) = &org.cognito.user_pool_id {
            if had_login || person.status == PersonStatus::Unlinked {
                self.pools.delete_login(pool_id, &person.username).await?;
            }
        }
        Ok(())
    }

    /// Takes the organization's provisioning lease. While another run holds it, waits for
    /// that run to finish, up to [`LEASE_WAIT`], then says that the creation is in progress.
    async fn take_lease(
        &self,
        org: &Organization,
        migration: Option<&ForMigration<'_>>,
        progress: &(dyn Fn(&Step) + Sync),
    ) -> Result<Lease, Error> {
        let lease = Lease {
            org_id: org.id.clone(),
            holder: match migration {
                Some(m) => m.holder.to_owned(),
                None => uuid::Uuid::now_v7().simple().to_string(),
            },
            subdomain: org.subdomain.to_string(),
        };
        // A dead run of the same job cannot give its lease back: it is released for it (only
        // if that run still holds it), instead of waiting for it to expire.
        if let Some(dead) = migration.and_then(|m| m.dead_holder) {
            self.registry
                .release_lease(&lease.org_id, PROVISION_LEASE, dead)
                .await?;
        }
        let started = tokio::time::Instant::now();
        let mut told = false;
        while !self
            .registry
            .acquire_lease(
                &lease.org_id,
                PROVISION_LEASE,
                &lease.holder,
                LEASE_TTL_SECS,
            )
            .await?
        {
            if started.elapsed() >= LEASE_WAIT {
                return Err(lease.busy());
            }
            if !told {
                progress(&Step::WaitingForOtherRun);
                told = true;
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
        Ok(lease)
    }

    /// Extends the lease before a long step. A run so slow that its lease expired and
    /// another run took it over stops here rather than work beside that run.
    async fn renew(&self, lease: &Lease) -> Result<(), Error> {
        if self
            .registry
            .acquire_lease(
                &lease.org_id,
                PROVISION_LEASE,
                &lease.holder,
                LEASE_TTL_SECS,
            )
            .await?
        {
            Ok(())
        } else {
            Err(lease.busy())
        }
    }

    async fn pool_step(
        &self,
        org: &Organization,
        progress: &(dyn Fn(&Step) + Sync),
    ) -> Result<Organization, Error> {
        let (id, adopted) = match self.pools.find_pool_by_name(&org.pool_name()).await? {
            Some(id) => {
                self.check_adoptable(org, &id).await?;
                (id, true)
            }
            None => (self.pools.create_pool(&self.pool_spec(org)).await?, false),
        };
        let org = self.registry.attach_pool(org, &id).await?;
        progress(&Step::PoolReady {
            pool_id: id,
            adopted,
        });
        Ok(org)
    }

    /// A pool found by the organization's name is adopted (an earlier run created it and
    /// died before recording it) only when its `org-id` tag names this organization: the
    /// functions' roles act only on pools with that tag, and the tag is what shows that the
    /// pool was made for this organization and not by hand or for another one.
    async fn check_adoptable(&self, org: &Organization, pool_id: &str) -> Result<(), Error> {
        let action = format!("adopt the user pool {pool_id} named {}", org.pool_name());
        match self.pools.pool_org_tag(pool_id).await? {
            Some(tag) if tag == org.id.as_str() => Ok(()),
            Some(other) => Err(Error::not_allowed(
                action,
                format!(
                    "it is tagged org-id={other}, another organization's: rename or delete that pool, then run again"
                ),
            )),
            None => Err(Error::not_allowed(
                action,
                format!(
                    "it carries no org-id tag, so nothing shows it was made for this organization and the functions may not act on it: \
                     if it is this organization's, tag it (aws cognito-idp tag-resource --resource-arn <its ARN> --tags org-id={id},managed-by=tenantctl,subdomain={sub}); \
                     otherwise rename or delete it; then run again",
                    id = org.id,
                    sub = org.subdomain
                ),
            )),
        }
    }

    fn pool_spec(&self, org: &Organization) -> PoolSpec {
        PoolSpec {
            name: org.pool_name(),
            org_id: org.id.clone(),
            subdomain: org.subdomain.clone(),
            mfa: org.mfa,
            triggers: self.triggers.clone(),
        }
    }

    /// Makes sure the first administrator exists, holds the admin role and got their welcome
    /// mail. Only someone never invited (or whose invitation did not finish) is invited: an
    /// administrator who is active, deactivated or deleted since is left as they are (a
    /// rerun never re-activates them nor resets a password they chose).
    async fn invite_admin(
        &self,
        org: &mut Organization,
        email: &EmailAddress,
    ) -> Result<AdminOutcome, Error> {
        let person = match self.registry.person_by_email(&org.id, email).await? {
            Some(person) => person,
            None => {
                let person = Person::new(
                    org.id.clone(),
                    parse_username(email.as_str())?,
                    email.clone(),
                    vec![Role::admin()],
                    PersonStatus::Added,
                );
                let audit = self.audit(
                    org,
                    "person.added",
                    &person.username,
                    Some("first administrator".into()),
                );
                match self.registry.create_person(&person, &audit).await {
                    Ok(()) => person,
                    // A concurrent run recorded them a moment ago.
                    Err(e) => self
                        .registry
                        .person_by_email(&org.id, email)
                        .await?
                        .ok_or(e)?,
                }
            }
        };
        let owed = match person.status {
            PersonStatus::Added => true,
            PersonStatus::Invited => person.welcome_sent_at.is_none(),
            PersonStatus::Active | PersonStatus::Deactivated | PersonStatus::Unlinked => false,
        };
        if !owed {
            return Ok(AdminOutcome::LeftAsIs(person));
        }
        let activation = Activation {
            registry: self.registry,
            pools: self.pools,
            mailer: self.mailer,
            base_domain: self.base_domain,
            actor: self.actor,
        };
        let person = activate_person(&activation, org, person).await?.person;
        // The seat count changed in the registry; keep the caller's copy current.
        if let Some(fresh) = self.registry.organization(&org.id).await? {
            *org = fresh;
        }
        Ok(AdminOutcome::Invited(person))
    }

    fn audit(
        &self,
        org: &Organization,
        action: &str,
        target: &str,
        detail: Option<String>,
    ) -> AuditEvent {
        AuditEvent::now(&org.id, self.actor, action, target, detail)
    }
}

/// The organization with this subdomain, or a clear "not found".
pub async fn find_organization(
    registry: &dyn Registry,
    subdomain: &str,
) -> Result<Organization, Error> {
    let sub = Subdomain::parse(subdomain)?;
    registry
        .organization_by_subdomain(&sub)
        .await?
        .ok_or_else(|| Error::NotFound {
            what: "organization with subdomain",
            key: sub.to_string(),
        })
}

/// Suspends or resumes an organization, with its audit event.
pub async fn set_suspended(
    registry: &dyn Registry,
    subdomain: &str,
    suspended: bool,
    actor: &str,
) -> Result<Organization, Error> {
    let mut org = find_organization(registry, subdomain).await?;
    if suspended {
        org.suspend()?;
    } else {
        org.resume()?;
    }
    let action = if suspended {
        "org.suspended"
    } else {
        "org.resumed"
    };
    let audit = AuditEvent::now(&org.id, actor, action, org.subdomain.as_str(), None);
    let org = registry.save_organization(&org, Some(&audit)).await?;
    Ok(org)
}

/// A change to an organization's sign-in settings; `None` leaves a setting as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignInChanges {
    pub self_signup: Option<bool>,
    pub sso_only: Option<bool>,
    pub providers: Option<Vec<String>>,
    pub jit_accounts: Option<bool>,
    /// How activated people get in: a temporary password or a single-use link.
    pub invitation: Option<super::Invitation>,
}

pub use super::settings::Configured;

/// Changes how an organization's people may get in: applied to its pool and app client
/// first (self sign-up, the providers the client offers), then recorded with its audit event.
/// A failure half-way changes nothing the same command, run again, does not finish. The
/// triggers see the change once their cached copy expires (`ORG_CACHE_SECONDS`).
pub async fn configure_sign_in(
    registry: &dyn Registry,
    pools: &dyn UserPools,
    subdomain: &str,
    changes: &SignInChanges,
    actor: &str,
) -> Result<Configured, Error> {
    let org = find_organization(registry, subdomain).await?;
    let patch = super::settings::SettingsPatch {
        self_signup: changes.self_signup,
        sso_only: changes.sso_only,
        providers: changes.providers.clone(),
        jit_enabled: changes.jit_accounts,
        invitation: changes.invitation.map(|i| i.to_string()),
        ..Default::default()
    };
    let deps = super::settings::SettingsDeps {
        registry,
        pools,
        secrets: &NoSecrets,
        // Sign-in changes leave the app client's URLs alone.
        base_domain: "",
    };
    super::settings::apply_settings(&deps, &org, &patch, actor).await
}

/// The secret store of a change that sets up no provider's secret ([`SignInChanges`] has
/// none): never called.
struct NoSecrets;

#[async_trait::async_trait]
impl crate::domain::ports::Secrets for NoSecrets {
    async fn put_secret(&self, _: &str, _: &str) -> Result<(), Error> {
        Err(Error::not_allowed("store a secret", "no secret store here"))
    }
    async fn get_secret(&self, _: &str) -> Result<Option<String>, Error> {
        Ok(None)
    }
    async fn delete_secret(&self, _: &str) -> Result<(), Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{sample_org, MemoryRegistry};

    #[tokio::test]
    async fn sign_in_settings_change_with_one_audit_event_and_reach_the_pool() {
        let registry = MemoryRegistry::with_org(sample_org());
        let pools = crate::testing::RecordingPools::default();
        let changes = SignInChanges {
            self_signup: Some(true),
            providers: Some(vec!["Microsoft".into()]),
            ..Default::default()
        };
        let done = configure_sign_in(&registry, &pools, "acme", &changes, "op")
            .await
            .expect("changed");
        let org = done.organization;
        assert!(org.sign_in.self_signup);
        assert_eq!(org.sign_in.providers, ["Microsoft"]);
        assert!(!org.sign_in.sso_only, "untouched");
        assert_eq!(
            pools.calls(),
            ["apply_sign_in eu-west-1_AcmePool1 5a1b2c3d4e5f6g7h8i9j0k1l2m self_signup=true sso_only=false providers=Microsoft"]
        );
        let events = registry.audit_events();
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].detail.as_deref(),
            Some("self_signup=on providers=Microsoft")
        );
        let none =
            configure_sign_in(&registry, &pools, "acme", &SignInChanges::default(), "op").await;
        assert_eq!(none.map_err(|e| e.code()).err(), Some("InvalidInput"));
        let bad = SignInChanges {
            providers: Some(vec!["Micro soft".into()]),
            ..Default::default()
        };
        assert!(configure_sign_in(&registry, &pools, "acme", &bad, "op")
            .await
            .is_err());
    }

    #[tokio::test]
    async fn sso_only_is_refused_while_no_provider_is_enabled() {
        let registry = MemoryRegistry::with_org(sample_org());
        let pools = crate::testing::RecordingPools::default();
        let sso = SignInChanges {
            sso_only: Some(true),
            ..Default::default()
        };
        let err = configure_sign_in(&registry, &pools, "acme", &sso, "op")
            .await
            .expect_err("no provider");
        assert!(err.to_string().contains("--provider"), "{err}");
        assert!(pools.calls().is_empty() && registry.audit_events().is_empty());
        let with_provider = SignInChanges {
            sso_only: Some(true),
            providers: Some(vec!["Microsoft".into()]),
            ..Default::default()
        };
        configure_sign_in(&registry, &pools, "acme", &with_provider, "op")
            .await
            .expect("allowed");
        let none = SignInChanges {
            providers: Some(vec![]),
            ..Default::default()
        };
        assert!(
            configure_sign_in(&registry, &pools, "acme", &none, "op")
                .await
                .is_err(),
            "the last provider cannot go while SSO-only is on"
        );
    }

    fn triggers() -> TriggerArns {
        let arn = |n: &str| format!("arn:aws:lambda:eu-west-1:1:function:{n}");
        TriggerArns {
            pre_signup: arn("a"),
            post_confirmation: arn("b"),
            pre_authentication: arn("c"),
            post_authentication: arn("c2"),
            pre_token_generation: arn("d"),
            user_migration: arn("e"),
            custom_message: arn("f"),
        }
    }

    struct Fakes {
        registry: MemoryRegistry,
        pools: crate::testing::RecordingPools,
        mailer: crate::testing::MemoryMailer,
        triggers: TriggerArns,
    }

    impl Fakes {
        fn new() -> Self {
            Self {
                registry: MemoryRegistry::default(),
                pools: crate::testing::RecordingPools::default(),
                mailer: crate::testing::MemoryMailer::default(),
                triggers: triggers(),
            }
        }

        fn provisioning(&self) -> Provisioning<'_> {
            Provisioning {
                registry: &self.registry,
                pools: &self.pools,
                mailer: &self.mailer,
                base_domain: "app.example.com",
                triggers: &self.triggers,
                actor: "op",
            }
        }
    }

    fn acme(admin: &str) -> ProvisionRequest {
        ProvisionRequest {
            subdomain: "acme".into(),
            name: "Acme".into(),
            admin_email: Some(admin.into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn everything_is_validated_before_the_first_write() {
        let f = Fakes::new();
        // A valid address whose username would not be: refused before anything exists.
        for admin in ["jo\"hn@acme.example", "jöhn@acme.example"] {
            let err = f
                .provisioning()
                .provision(&acme(admin), &|_| {})
                .await
                .expect_err("refused");
            assert_eq!(err.code(), "InvalidInput", "{admin}: {err}");
            assert!(err.to_string().contains("administrator e-mail"), "{err}");
        }
        assert!(f.registry.calls().is_empty(), "nothing read or written");
        assert!(f.pools.calls().is_empty(), "no pool");
        // An apostrophe is fine: o'brien@ is an everyday address.
        let done = f
            .provisioning()
            .provision(&acme("o'brien@obrien.test"), &|_| {})
            .await
            .expect("provisioned");
        assert_eq!(done.admin.expect("invited").username, "o'brien@obrien.test");
    }

    #[tokio::test]
    async fn a_rerun_never_reactivates_nor_resets_the_first_administrator() {
        let f = Fakes::new();
        let p = f.provisioning();
        let done = p
            .provision(&acme("boss@acme.example"), &|_| {})
            .await
            .expect("done");
        let boss = done.admin.expect("invited");
        // Boss signed in and chose a password: active.
        let mut active = boss.clone();
        active.status = PersonStatus::Active;
        let active = f
            .registry
            .save_person(&boss, &active, None)
            .await
            .expect("saved");
        let logins_before = f
            .pools
            .calls()
            .iter()
            .filter(|c| c.starts_with("create_login"))
            .count();
        let steps = std::sync::Mutex::new(Vec::new());
        let again = p
            .provision(&acme("boss@acme.example"), &|s| {
                steps.lock().expect("lock").push(s.to_string())
            })
            .await
            .expect("again");
        assert!(again.admin.is_none());
        assert!(steps
            .lock()
            .expect("lock")
            .iter()
            .any(|s| s.contains("is active: left as it is")));
        // Later deactivated: a rerun leaves them so.
        let mut off = active.clone();
        off.status = PersonStatus::Deactivated;
        f.registry
            .save_person(&active, &off, None)
            .await
            .expect("saved");
        p.provision(&acme("boss@acme.example"), &|_| {})
            .await
            .expect("again");
        let stored = f
            .registry
            .stored_person("boss@acme.example")
            .expect("there");
        assert_eq!(stored.status, PersonStatus::Deactivated);
        let logins_after = f
            .pools
            .calls()
            .iter()
            .filter(|c| c.starts_with("create_login"))
            .count();
        assert_eq!(
            logins_before, logins_after,
            "no login created or password reset"
        );
        assert_eq!(f.mailer.sent().len(), 1, "one welcome mail in all");
    }

    #[tokio::test]
    async fn a_rerun_with_a_corrected_address_takes_it_until_the_first_was_invited() {
        let f = Fakes::new();
        let p = f.provisioning();
        // The first run recorded a mistyped address and died before the invitation.
        let org = Organization {
            admin_email: Some(EmailAddress::parse("bos@acme.example").expect("valid")),
            ..crate::testing::sample_org()
        };
        let mut org = org;
        org.status = OrgStatus::Provisioning;
        org.cognito = Default::default();
        org.subdomain = Subdomain::parse("acme").expect("valid");
        org.name = "Acme".into();
        f.registry
            .create_organization(
                &org,
                &AuditEvent::now(&org.id, "op", "org.created", "acme", None),
            )
            .await
            .expect("recorded");
        let done = p
            .provision(&acme("boss@acme.example"), &|_| {})
            .await
            .expect("done");
        assert_eq!(
            done.admin.expect("invited").email.as_str(),
            "boss@acme.example"
        );
        assert!(f
            .registry
            .audit_actions()
            .contains(&"org.admin_changed".to_owned()));
        // Now boss is invited: another address is refused, saying why.
        let err = p
            .provision(&acme("someone@acme.example"), &|_| {})
            .await
            .expect_err("refused");
        assert_eq!(err.code(), "NotAllowed");
        assert!(
            err.to_string().contains("already boss@acme.example"),
            "{err}"
        );
        assert!(err.to_string().contains("admin API"), "{err}");
    }

    /// A mailer that refuses every address (SES rejecting a mistyped domain, say).
    struct RefusingMailer;

    #[async_trait::async_trait]
    impl Mailer for RefusingMailer {
        async fn send(
            &self,
            to: &EmailAddress,
            _: &crate::domain::mail::MailContent,
        ) -> Result<String, Error> {
            Err(Error::Aws {
                service: "SES",
                operation: "SendEmail",
                detail: format!("MessageRejected: {to}"),
            })
        }
    }

    #[tokio::test]
    async fn a_first_administrator_whose_welcome_never_left_is_replaced_seat_and_login_too() {
        let f = Fakes::new();
        // One seat, and the first run's welcome mail to a mistyped address fails.
        let typo = ProvisionRequest {
            seats: Some(1),
            ..acme("boss@acme.exmaple")
        };
        let failing = Provisioning {
            mailer: &RefusingMailer,
            ..f.provisioning()
        };
        failing
            .provision(&typo, &|_| {})
            .await
            .expect_err("the mail failed");
        let stuck = f
            .registry
            .stored_person("boss@acme.exmaple")
            .expect("there");
        assert_eq!(stuck.status, PersonStatus::Invited);
        assert!(stuck.welcome_sent_at.is_none(), "never welcomed");
        // The corrected rerun replaces them: their login goes, their seat is free again.
        let steps = std::sync::Mutex::new(Vec::new());
        let fixed = ProvisionRequest {
            seats: Some(1),
            ..acme("boss@acme.example")
        };
        let done = f
            .provisioning()
            .provision(&fixed, &|s| steps.lock().expect("lock").push(s.to_string()))
            .await
            .expect("the corrected address is taken");
        assert_eq!(
            done.admin.expect("invited").email.as_str(),
            "boss@acme.example"
        );
        assert_eq!(done.organization.seats_used, 1);
        let old = f.registry.stored_person("boss@acme.exmaple").expect("kept");
        assert_eq!(
            old.status,
            PersonStatus::Unlinked,
            "the record stays, unlinked"
        );
        assert!(f.pools.calls().contains(&format!(
            "delete_login {} boss@acme.exmaple",
            done.organization
                .cognito
                .user_pool_id
                .as_deref()
                .expect("pool")
        )));
        let actions = f.registry.audit_actions();
        assert!(
            actions.contains(&"person.deleted".to_owned()),
            "{actions:?}"
        );
        assert!(
            actions.contains(&"org.admin_changed".to_owned()),
            "{actions:?}"
        );
        assert!(
            steps
                .lock()
                .expect("lock")
                .iter()
                .any(|s| s.contains("boss@acme.exmaple")),
            "the replaced address is named"
        );
        assert_eq!(f.mailer.sent().len(), 1);
    }

    #[tokio::test]
    async fn a_run_waits_for_the_lease_another_run_holds() {
        let f = Fakes::new();
        let p = f.provisioning();
        // Record the organization without its pool, then let "another run" hold the lease.
        let req = acme("boss@acme.example");
        let valid = req.validate().expect("valid");
        let (org, _) = p.record(&valid, None).await.expect("recorded");
        assert!(f
            .registry
            .acquire_lease(&org.id, PROVISION_LEASE, "someone-else", 3600)
            .await
            .expect("lease"));
        tokio::time::pause();
        let err = p.provision(&req, &|_| {}).await.expect_err("busy");
        assert_eq!(err.code(), "InProgress");
        assert!(
            err.to_string().contains("being created by another run"),
            "{err}"
        );
        assert!(
            !f.pools.calls().iter().any(|c| c.starts_with("create_pool")),
            "no second pool while another run holds the lease"
        );
        f.registry
            .release_lease(&org.id, PROVISION_LEASE, "someone-else")
            .await
            .expect("released");
        p.provision(&req, &|_| {}).await.expect("now it runs");
        assert_eq!(
            f.pools
                .calls()
                .iter()
                .filter(|c| c.starts_with("create_pool"))
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn provisioning_with_fakes_creates_everything_once() {
        let registry = MemoryRegistry::default();
        let pools = crate::testing::RecordingPools::default();
        let mailer = crate::testing::MemoryMailer::default();
        let arn = |n: &str| format!("arn:aws:lambda:eu-west-1:1:function:{n}");
        let triggers = TriggerArns {
            pre_signup: arn("a"),
            post_confirmation: arn("b"),
            pre_authentication: arn("c"),
            post_authentication: arn("c2"),
            pre_token_generation: arn("d"),
            user_migration: arn("e"),
            custom_message: arn("f"),
        };
        let provisioning = Provisioning {
            registry: &registry,
            pools: &pools,
            mailer: &mailer,
            base_domain: "app.example.com",
            triggers: &triggers,
            actor: "op",
        };
        let request = ProvisionRequest {
            subdomain: "acme".into(),
            name: "Acme".into(),
            admin_email: Some("Boss@Acme.example".into()),
            ..Default::default()
        };
        let steps = std::sync::Mutex::new(Vec::new());
        let record = |s: &Step| steps.lock().expect("lock").push(s.to_string());
        let done = provisioning
            .provision(&request, &record)
            .await
            .expect("provisioned");
        assert!(done.created);
        assert_eq!(done.organization.status, OrgStatus::Active);
        assert_eq!(done.organization.seats_used, 1);
        let sent = mailer.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0.as_str(), "boss@acme.example");
        assert!(sent[0]
            .1
            .text
            .contains("https://acme.app.example.com/login"));
        assert!(
            steps.lock().expect("lock").len() >= 6,
            "progress is reported step by step"
        );
        // Running it again finds everything done.
        let calls_before = pools.calls().len();
        let again = provisioning
            .provision(&request, &|_| {})
            .await
            .expect("again");
        assert!(!again.created && again.admin.is_none());
        let new_calls = &pools.calls()[calls_before..];
        assert!(
            new_calls.iter().all(|c| !c.starts_with("create_")),
            "{new_calls:?}"
        );
        assert_eq!(mailer.sent().len(), 1);
        // Another name on the same subdomain is refused.
        let other = ProvisionRequest {
            name: "Other".into(),
            ..request.clone()
        };
        assert_eq!(
            provisioning
                .provision(&other, &|_| {})
                .await
                .map_err(|e| e.code())
                .err(),
            Some("SubdomainTaken")
        );
        let err = provisioning
            .provision(&other, &|_| {})
            .await
            .expect_err("another name");
        assert!(
            err.to_string()
                .contains("belongs to the organization \"Acme\""),
            "{err}"
        );
    }
}
