//! Proving an organization's e-mail domains by their DNS TXT records, and claiming the
//! proven ones.

use crate::domain::ports::{AuditEvent, Registry};
use crate::domain::{EmailDomain, Error, Organization};

/// One e-mail domain's proof, as last checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DomainCheck {
    pub domain: String,
    pub verified: bool,
    /// Why it is not (yet): the record is missing or different, or DNS did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Looks up the DNS TXT proof of each of the organization's pending e-mail domains, and
/// for those whose record now holds the value we showed, records the proof and claims the
/// domain for the organization (one owner: a conditional write), in one audited write made
/// only when one became proven. From then on the domain is used (discovery, self sign-up,
/// just-in-time accounts, directory linking). A domain another organization holds, or whose
/// look-up failed, stays pending and says why; the others go on.
pub async fn verify_email_domains(
    registry: &dyn Registry,
    dns: &dyn crate::domain::ports::TxtRecords,
    org: &Organization,
    actor: &str,
) -> Result<(Organization, Vec<DomainCheck>), Error> {
    let mut next = org.clone();
    let mut checks = Vec::new();
    let mut proven = Vec::new();
    let now = crate::domain::now_epoch();
    for proof in &mut next.domain_proofs {
        if !proof.is_pending() {
            checks.push(DomainCheck {
                domain: proof.domain.clone(),
                verified: true,
                detail: None,
            });
            continue;
        }
        if crate::domain::email::is_public_mail_domain(&proof.domain) {
            checks.push(DomainCheck {
                domain: proof.domain.clone(),
                verified: false,
                detail: Some(
                    "a public mail service's domain is never an organization's: remove it".into(),
                ),
            });
            continue;
        }
        let (verified, detail) = match dns.txt(&proof.record_name()).await {
            Ok(records) if records.iter().any(|r| r.trim() == proof.record_value()) => (true, None),
            Ok(records) if records.is_empty() => (
                false,
                Some(format!("no TXT record at {} yet", proof.record_name())),
            ),
            Ok(_) => (
                false,
                Some(format!(
                    "the TXT record at {} does not hold {}",
                    proof.record_name(),
                    proof.record_value()
                )),
            ),
            Err(e) => (false, Some(format!("DNS did not answer: {e}"))),
        };
        if verified {
            proof.verified_at = Some(now);
            proven.push(proof.domain.clone());
        }
        checks.push(DomainCheck {
            domain: proof.domain.clone(),
            verified,
            detail,
        });
    }
    for domain in &proven {
        let domain = EmailDomain::parse(domain)?;
        if !next.email_domains.contains(&domain) {
            next.email_domains.push(domain);
        }
    }
    loop {
        if proven.is_empty() {
            return Ok((org.clone(), checks));
        }
        let audit = AuditEvent::now(
            &org.id,
            actor,
            "org.email_domains_verified",
            org.subdomain.as_str(),
            Some(proven.join(" ")),
        );
        let saved = if next.email_domains != org.email_domains {
            registry.save_organization_domains(org, &next, &audit).await
        } else {
            registry.save_organization(&next, Some(&audit)).await
        };
        match saved {
            Ok(saved) => return Ok((saved, checks)),
            // Proven in DNS, but another organization holds the claim: it stays pending
            // here (an operator settles who owns it), and the others are saved.
            Err(Error::EmailDomainTaken { domain }) if proven.contains(&domain) => {
                proven.retain(|d| *d != domain);
                next.email_domains.retain(|d| d.as_str() != domain);
                for proof in next.domain_proofs.iter_mut().filter(|p| p.domain == domain) {
                    proof.verified_at = None;
                }
                for check in checks.iter_mut().filter(|c| c.domain == domain) {
                    check.verified = false;
                    check.detail = Some(
                        "the TXT record is there, but the domain belongs to another organization: ask support".into(),
                    );
                }
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;
    use crate::domain::organization::DomainProof;
    use crate::testing::{sample_org, MemoryRegistry, RecordingPools};

    /// DNS with fixed TXT records; `None` for a name: DNS does not answer.
    struct FixedDns(Vec<(String, Option<Vec<String>>)>);

    #[async_trait::async_trait]
    impl crate::domain::ports::TxtRecords for FixedDns {
        async fn txt(&self, name: &str) -> Result<Vec<String>, Error> {
            match self.0.iter().find(|(n, _)| n == name) {
                Some((_, Some(records))) => Ok(records.clone()),
                Some((_, None)) => Err(Error::Aws {
                    service: "DNS",
                    operation: "TXT lookup",
                    detail: "timed out".into(),
                }),
                None => Ok(Vec::new()),
            }
        }
    }

    #[tokio::test]
    async fn a_domain_is_proven_by_its_txt_record_and_only_by_it() {
        let mut org = sample_org();
        for domain in ["acme.example", "acme-labs.example", "acme.test", "acme.dev"] {
            org.domain_proofs.push(DomainProof {
                domain: domain.into(),
                token: format!("tok-{domain}"),
                verified_at: None,
                by: Default::default(),
            });
        }
        let registry = MemoryRegistry::with_org(org.clone());
        let p = |i: usize| org.domain_proofs[i].clone();
        let dns = FixedDns(vec![
            (
                p(0).record_name(),
                Some(vec!["v=spf1 -all".into(), p(0).record_value()]),
            ),
            (
                p(1).record_name(),
                Some(vec!["signin-verification=someone-else".into()]),
            ),
            (p(3).record_name(), None),
        ]);
        let (saved, checks) = verify_email_domains(&registry, &dns, &org, "boss")
            .await
            .expect("checked");
        let verified: Vec<(&str, bool)> = checks
            .iter()
            .map(|c| (c.domain.as_str(), c.verified))
            .collect();
        assert_eq!(
            verified,
            [
                ("acme.example", true),
                ("acme-labs.example", false),
                ("acme.test", false),
                ("acme.dev", false)
            ]
        );
        assert!(checks[1]
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("does not hold"));
        assert!(checks[2]
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("no TXT record"));
        assert!(checks[3]
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("did not answer"));
        assert!(saved.domain_proofs[0].verified_at.is_some());
        assert!(saved.domain_proofs[1..]
            .iter()
            .all(|p| p.verified_at.is_none()));
        assert_eq!(registry.org(&org.id), Some(saved.clone()));
        assert_eq!(registry.audit_actions(), ["org.email_domains_verified"]);
        // Checked again: nothing new, nothing written.
        let (again, _) = verify_email_domains(&registry, &dns, &saved, "boss")
            .await
            .expect("checked");
        assert_eq!(again, saved);
        assert_eq!(registry.audit_actions().len(), 1);
    }

    fn domain_deps<'a>(
        registry: &'a MemoryRegistry,
        pools: &'a RecordingPools,
        secrets: &'a crate::testing::MemorySecrets,
    ) -> SettingsDeps<'a> {
        SettingsDeps {
            registry,
            pools,
            secrets,
            base_domain: "app.example.com",
        }
    }

    fn other_org(id: &str, sub: &str, domains: &[&str]) -> Organization {
        let mut other = sample_org();
        other.id = crate::domain::OrgId::from(id.to_owned());
        other.subdomain = crate::domain::Subdomain::parse(sub).expect("valid");
        other.cognito.user_pool_id = Some(format!("eu-west-1_{sub}"));
        other.email_domains = domains
            .iter()
            .map(|d| EmailDomain::parse(d).expect("valid"))
            .collect();
        other
    }

    fn address(a: &str) -> crate::domain::EmailAddress {
        crate::domain::EmailAddress::parse(a).expect("valid")
    }

    #[tokio::test]
    async fn an_admin_s_new_domain_is_pending_unclaimed_and_unused_until_proven() {
        use crate::domain::signin::check_self_signup;
        let mut org = sample_org();
        org.sign_in.self_signup = true;
        let registry = MemoryRegistry::with_org(org.clone());
        registry.insert_org(other_org("org-globex", "globex", &["globex.example"]));
        let (pools, secrets) = (
            RecordingPools::default(),
            crate::testing::MemorySecrets::default(),
        );
        let deps = domain_deps(&registry, &pools, &secrets);
        let add = SettingsPatch {
            email_domains: Some(vec!["acme.example".into(), "Acme-Labs.example".into()]),
            ..Default::default()
        };
        let done = apply_settings(&deps, &org, &add, "boss")
            .await
            .expect("added");
        let o = &done.organization;
        // acme.example was the operator's (no proof record): in use as before.
        assert_eq!(
            o.email_domains,
            [EmailDomain::parse("acme.example").expect("valid")]
        );
        assert_eq!(o.all_domains(), ["acme.example", "acme-labs.example"]);
        assert_eq!(o.pending_domains(), ["acme-labs.example"]);
        assert_eq!(
            o.domain_proofs.len(),
            1,
            "only the new domain needs a proof"
        );
        assert_eq!(
            o.domain_proofs[0].record_name(),
            "_signin-challenge.acme-labs.example"
        );
        assert!(o.domain_proofs[0]
            .record_value()
            .starts_with("signin-verification="));
        // Not claimed, not used: no discovery, no self sign-up, no linking by that domain.
        let labs = EmailDomain::parse("acme-labs.example").expect("valid");
        assert!(registry
            .organization_by_email_domain(&labs)
            .await
            .expect("read")
            .is_none());
        assert!(!o.owns_address(&address("new@acme-labs.example")));
        assert!(check_self_signup(o, Some("new@acme-labs.example")).is_err());
        assert!(check_self_signup(o, Some("new@acme.example")).is_ok());

        // Proven in DNS: claimed for it (one owner) and used from then on.
        let proof = o.domain_proofs[0].clone();
        let dns = FixedDns(vec![(
            proof.record_name(),
            Some(vec![proof.record_value()]),
        )]);
        let (proven, checks) = verify_email_domains(&registry, &dns, o, "boss")
            .await
            .expect("checked");
        assert!(checks.iter().all(|c| c.verified), "{checks:?}");
        assert!(proven.pending_domains().is_empty());
        assert!(proven.owns_address(&address("new@acme-labs.example")));
        assert!(check_self_signup(&proven, Some("new@acme-labs.example")).is_ok());
        assert_eq!(
            registry
                .organization_by_email_domain(&labs)
                .await
                .expect("read")
                .map(|o| o.id),
            Some(org.id.clone())
        );

        // Another organization's domain, or a public mail service's: refused, nothing changed.
        let before = registry.org(&org.id);
        for (domain, code) in [
            ("globex.example", "EmailDomainTaken"),
            ("gmail.com", "PublicEmailDomain"),
            ("GoogleMail.com", "PublicEmailDomain"),
            ("yandex.ru", "PublicEmailDomain"),
        ] {
            let patch = SettingsPatch {
                email_domains: Some(vec!["acme.example".into(), domain.into()]),
                ..Default::default()
            };
            let e = apply_settings(&deps, &proven, &patch, "boss")
                .await
                .expect_err(domain);
            assert_eq!(e.code(), code, "{domain}: {e}");
        }
        assert_eq!(registry.org(&org.id), before);
        let bad = SettingsPatch {
            email_domains: Some(vec!["not a domain".into()]),
            ..Default::default()
        };
        let e = apply_settings(&deps, &proven, &bad, "boss")
            .await
            .expect_err("bad");
        assert!(e.to_string().contains("email_domains"), "{e}");
    }

    #[tokio::test]
    async fn a_domain_two_organizations_wait_for_goes_to_the_first_proven_only() {
        let acme = sample_org();
        let registry = MemoryRegistry::with_org(acme.clone());
        let globex = other_org("org-globex", "globex", &[]);
        registry.insert_org(globex.clone());
        let (pools, secrets) = (
            RecordingPools::default(),
            crate::testing::MemorySecrets::default(),
        );
        let deps = domain_deps(&registry, &pools, &secrets);
        let contested = SettingsPatch {
            email_domains: Some(vec!["initech.example".into()]),
            ..Default::default()
        };
        // Both may ask (neither holds it yet): nothing is claimed by asking.
        let acme = apply_settings(&deps, &acme, &contested, "boss")
            .await
            .expect("acme asks")
            .organization;
        let globex = apply_settings(&deps, &globex, &contested, "boss")
            .await
            .expect("globex asks")
            .organization;
        // Both records published (the domain's owner answered both): the first proof wins.
        let dns = FixedDns(vec![(
            acme.domain_proofs[0].record_name(),
            Some(vec![
                acme.domain_proofs[0].record_value(),
                globex.domain_proofs[0].record_value(),
            ]),
        )]);
        let (globex, checks) = verify_email_domains(&registry, &dns, &globex, "g")
            .await
            .expect("globex proves");
        assert!(checks[0].verified);
        assert!(globex.owns_address(&address("x@initech.example")));
        let (acme, checks) = verify_email_domains(&registry, &dns, &acme, "a")
            .await
            .expect("checked");
        assert!(!checks[0].verified, "{checks:?}");
        assert!(checks[0]
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("another organization"));
        assert_eq!(acme.pending_domains(), ["initech.example"]);
        assert!(!acme.owns_address(&address("x@initech.example")));
        let owner = registry
            .organization_by_email_domain(&EmailDomain::parse("initech.example").expect("valid"))
            .await
            .expect("read")
            .map(|o| o.id);
        assert_eq!(owner, Some(globex.id));
    }

    #[tokio::test]
    async fn an_operator_s_domain_is_their_word_and_vouches_for_a_pending_one() {
        let org = sample_org();
        let registry = MemoryRegistry::with_org(org.clone());
        let (pools, secrets) = (
            RecordingPools::default(),
            crate::testing::MemorySecrets::default(),
        );
        let deps = domain_deps(&registry, &pools, &secrets);
        let admin = SettingsPatch {
            email_domains: Some(vec!["acme.example".into(), "acme.dev".into()]),
            ..Default::default()
        };
        let org = apply_settings(&deps, &org, &admin, "boss")
            .await
            .expect("admin")
            .organization;
        assert_eq!(org.pending_domains(), ["acme.dev"]);
        let operator = SettingsPatch {
            email_domains: Some(vec![
                "acme.example".into(),
                "acme.dev".into(),
                "acme.test".into(),
            ]),
            operator_word: true,
            ..Default::default()
        };
        let org = apply_settings(&deps, &org, &operator, "tenantctl:ops")
            .await
            .expect("operator")
            .organization;
        assert!(org.pending_domains().is_empty());
        for d in ["acme.example", "acme.dev", "acme.test"] {
            assert!(org.uses_domain(d), "{d}");
            let proof = org
                .domain_proofs
                .iter()
                .find(|p| p.domain == d)
                .expect("recorded");
            assert_eq!(proof.by, crate::domain::ProofBy::Operator, "{d}");
            assert!(registry
                .organization_by_email_domain(&EmailDomain::parse(d).expect("valid"))
                .await
                .expect("read")
                .is_some());
        }
        let public = SettingsPatch {
            email_domains: Some(vec!["outlook.com".into()]),
            operator_word: true,
            ..Default::default()
        };
        let e = apply_settings(&deps, &org, &public, "tenantctl:ops")
            .await
            .expect_err("public");
        assert_eq!(e.code(), "PublicEmailDomain");
        // Dropped from the list: the claim is released.
        let fewer = SettingsPatch {
            email_domains: Some(vec!["acme.example".into()]),
            ..Default::default()
        };
        let org = apply_settings(&deps, &org, &fewer, "boss")
            .await
            .expect("fewer")
            .organization;
        assert!(!org.uses_domain("acme.test"));
        assert!(registry
            .organization_by_email_domain(&EmailDomain::parse("acme.test").expect("valid"))
            .await
            .expect("read")
            .is_none());
    }

    /// A record from before proofs were required: an admin's domain claimed at once, its
    /// proof never found. It stays claimed (nobody else can take it meanwhile) but is not
    /// used until its proof is found.
    #[tokio::test]
    async fn a_domain_claimed_before_proofs_counts_only_once_proven() {
        let mut org = sample_org();
        org.email_domains
            .push(EmailDomain::parse("acme-labs.example").expect("valid"));
        org.domain_proofs.push(DomainProof {
            domain: "acme-labs.example".into(),
            token: "legacy".into(),
            verified_at: None,
            by: Default::default(),
        });
        assert!(
            org.uses_domain("acme.example"),
            "no proof record: the operator's"
        );
        assert!(!org.uses_domain("acme-labs.example"));
        assert_eq!(org.pending_domains(), ["acme-labs.example"]);
        let registry = MemoryRegistry::with_org(org.clone());
        let dns = FixedDns(vec![(
            "_signin-challenge.acme-labs.example".into(),
            Some(vec!["signin-verification=legacy".into()]),
        )]);
        let (saved, checks) = verify_email_domains(&registry, &dns, &org, "boss")
            .await
            .expect("checked");
        assert!(checks.iter().all(|c| c.verified));
        assert!(saved.uses_domain("acme-labs.example"));
        assert_eq!(saved.email_domains.len(), 2);
    }
}
