//! How long the user-migration handler takes to answer a sign-in, by legacy hash scheme, at
//! the costs legacy stores use: bcrypt cost 12, Argon2id with the argon2 crate's default
//! parameters (m=19 MiB, t=2, p=1, OWASP's minimum) and PBKDF2-SHA256 at 600,000 iterations
//! (Django's default since 4.2). Cognito gives a trigger 5 s; the handler gives itself 4 s.
//!
//! `cargo bench -p user-migration --bench verification` (release code: the bench profile is
//! the release one, opt-level "s", without LTO). It prints figures; it asserts nothing about
//! time. The registry is the in-memory one, so the figures are the handler's own work: the
//! password check, plus microseconds of lookups. For each scheme it also times a stranger
//! (a username nobody has) of the same organization, and prints how far apart the medians
//! of a wrong password and a stranger are (the aim: under 10 %). On Lambda, add two DynamoDB reads (a few
//! milliseconds) and scale by the function's CPU share: 1,769 MB is one full vCPU, the
//! figures here are one core of this machine.

use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, SaltString};
use base64::Engine;
use serde_json::Value;
use shared::domain::migration::{LegacyHash, MigrationMode, OrgMigration};
use shared::domain::ports::LegacyPasswords;
use shared::domain::PersonStatus;
use shared::testing::{sample_event, sample_org, sample_person};
use shared::trigger::TriggerDeps;

const PASSWORD: &str = "Legacy-Passw0rd!";
const ROUNDS: usize = 9;

fn hashes() -> Vec<(&'static str, String)> {
    let bcrypt = bcrypt::hash(PASSWORD, 12).expect("bcrypt");
    let salt = SaltString::encode_b64(b"sixteen byte salt").expect("salt");
    let argon2 = argon2::Argon2::default()
        .hash_password(PASSWORD.as_bytes(), &salt)
        .expect("argon2id")
        .to_string();
    let iterations = 600_000;
    let mut derived = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(PASSWORD.as_bytes(), b"s4ltS4lt", iterations, &mut derived);
    let pbkdf2 = format!(
        "pbkdf2_sha256${iterations}$s4ltS4lt${}",
        base64::engine::general_purpose::STANDARD.encode(derived)
    );
    vec![
        ("bcrypt cost 12", bcrypt),
        ("argon2id m=19456,t=2,p=1", argon2),
        ("pbkdf2_sha256 600000", pbkdf2),
    ]
}

fn event(username: &str, password: &str) -> Value {
    let mut event = sample_event("user-migration", "authentication");
    event["request"]["password"] = password.into();
    event["userName"] = username.into();
    event
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "min {:7.1} ms  median {:7.1} ms  max {:7.1} ms",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    )
}

async fn time(deps: &TriggerDeps, username: &str, password: &str) -> (Vec<Duration>, bool) {
    let mut times = Vec::with_capacity(ROUNDS);
    let mut accepted = false;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        accepted = user_migration::handle(deps, event(username, password))
            .await
            .is_ok();
        times.push(start.elapsed());
    }
    (times, accepted)
}

async fn time_once(deps: &TriggerDeps, username: &str, password: &str) -> (Duration, bool) {
    let start = Instant::now();
    let accepted = user_migration::handle(deps, event(username, password))
        .await
        .is_ok();
    (start.elapsed(), accepted)
}

#[tokio::main]
async fn main() {
    let mut org = sample_org();
    org.sign_in.migration = Some(OrgMigration {
        job: "bench".into(),
        legacy_id: "1".into(),
        mode: MigrationMode::Lazy,
        switched: true,
    });
    println!("user-migration handler, {ROUNDS} sign-ins each (one core):");
    for (scheme, hash) in hashes() {
        let (deps, registry, _) = TriggerDeps::in_memory(org.clone());
        registry.insert_person(sample_person(
            "ann",
            "ann@acme.example",
            &["member"],
            PersonStatus::Active,
        ));
        registry
            .put_legacy_hash(&org.id, "ann", &LegacyHash::new(hash))
            .await
            .expect("stored");
        let (right, accepted) = time(&deps, "ann", PASSWORD).await;
        assert!(accepted, "{scheme}: the right password is accepted");
        // A wrong password, and a stranger of the same organization (checked against the
        // organization's own scheme and costs, a sample of its hashes), taken in turns so
        // that the machine's other load weighs on both alike.
        let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let (w, refused) = time_once(&deps, "ann", "not-the-password").await;
            assert!(!refused, "{scheme}: a wrong password is refused");
            let (u, accepted) = time_once(&deps, "stranger", PASSWORD).await;
            assert!(!accepted, "{scheme}: a stranger is refused");
            wrong.push(w);
            unknown.push(u);
        }
        let (w, u) = (median(&wrong), median(&unknown));
        let difference = (u.as_secs_f64() - w.as_secs_f64()).abs() / w.as_secs_f64() * 100.0;
        println!("  {scheme:<26} right password: {}", summary(right));
        println!("  {:<26} wrong password: {}", "", summary(wrong));
        println!("  {:<26} unknown user:   {}", "", summary(unknown));
        println!(
            "  {:<26} p50 unknown vs wrong: {difference:.1} % apart{}",
            "",
            if difference < 10.0 {
                ""
            } else {
                "  (over 10 %!)"
            }
        );
    }
    // An organization with no legacy hash left: the bcrypt stand-in (cost 12).
    let (deps, _, _) = TriggerDeps::in_memory(org);
    let (unknown, accepted) = time(&deps, "stranger", PASSWORD).await;
    assert!(!accepted);
    println!(
        "  {:<26} unknown user:   {}",
        "no hash left: bcrypt 12",
        summary(unknown)
    );
}
