//! The password hashes of the legacy store, checked at a migrated person's first sign-in
//! (the user-migration trigger): bcrypt (`$2a$`, `$2b$`, `$2y$`), Argon2id (`$argon2id$`, PHC
//! string) and Django's PBKDF2-SHA256 (`pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`).
//! Each is checked by its own well-kept crate, in constant time; anything else never matches.
//!
//! Costs are capped ([`over_cap`]): a hash beyond them never matches (checked before any
//! work), and `tenantctl migrate plan` names it, so that no hash, forged or real, can cost
//! more than about a second of the function's one vCPU within Cognito's 5 s. Measured on
//! one core here: bcrypt 12 about 230 ms (each step doubles it), Argon2id 19 MiB x 2 about
//! 35 ms (linear in memory x iterations), PBKDF2-SHA256 600,000 about 320 ms.

use base64::Engine;

/// Highest bcrypt cost accepted (14: about 0.9 s).
pub const MAX_BCRYPT_COST: u32 = 14;
/// Highest Argon2 memory accepted, KiB (64 MiB).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 64 * 1024;
/// Highest Argon2 iteration count accepted (with the memory cap: about 0.8 s).
pub const MAX_ARGON2_ITERATIONS: u32 = 8;
/// Highest Argon2 parallelism accepted (the function verifies on one thread).
pub const MAX_ARGON2_PARALLELISM: u32 = 4;
/// Highest PBKDF2 iteration count accepted (about 1 s).
pub const MAX_PBKDF2_ITERATIONS: u32 = 2_000_000;

/// Why `hash` costs more than the caps allow, if it does: the parameter, its value and the
/// cap, in words for `migrate plan` and the log.
pub fn over_cap(hash: &str) -> Option<String> {
    match scheme(hash)? {
        "bcrypt" => {
            let cost: u32 = hash.get(4..6)?.parse().ok()?;
            (cost > MAX_BCRYPT_COST)
                .then(|| format!("bcrypt cost {cost} is above the cap of {MAX_BCRYPT_COST}"))
        }
        "argon2id" => {
            let parsed = argon2::password_hash::PasswordHash::new(hash).ok()?;
            let param = |name: &str| parsed.params.get_decimal(name).unwrap_or_default();
            let (m, t, p) = (param("m"), param("t"), param("p"));
            if m > MAX_ARGON2_MEMORY_KIB {
                Some(format!(
                    "Argon2 memory {m} KiB is above the cap of {MAX_ARGON2_MEMORY_KIB} KiB"
                ))
            } else if t > MAX_ARGON2_ITERATIONS {
                Some(format!(
                    "Argon2 iterations {t} are above the cap of {MAX_ARGON2_ITERATIONS}"
                ))
            } else if p > MAX_ARGON2_PARALLELISM {
                Some(format!(
                    "Argon2 parallelism {p} is above the cap of {MAX_ARGON2_PARALLELISM}"
                ))
            } else {
                None
            }
        }
        "pbkdf2_sha256" => {
            let iterations: u32 = hash.split('$').nth(1)?.parse().ok()?;
            (iterations > MAX_PBKDF2_ITERATIONS).then(|| {
                format!(
                    "PBKDF2 iterations {iterations} are above the cap of {MAX_PBKDF2_ITERATIONS}"
                )
            })
        }
        _ => None,
    }
}

/// Which kind of hash `hash` is, if one we can check.
pub fn scheme(hash: &str) -> Option<&'static str> {
    if hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$") {
        Some("bcrypt")
    } else if hash.starts_with("$argon2id$") {
        Some("argon2id")
    } else if hash.starts_with("pbkdf2_sha256$") {
        Some("pbkdf2_sha256")
    } else {
        None
    }
}

/// Whether `password` is the one `hash` was made from. A hash over the caps never matches,
/// and costs nothing.
pub fn verify(hash: &str, password: &str) -> bool {
    if over_cap(hash).is_some() {
        return false;
    }
    match scheme(hash) {
        Some("bcrypt") => bcrypt::verify(password, hash).unwrap_or(false),
        Some("argon2id") => {
            use argon2::password_hash::{PasswordHash, PasswordVerifier};
            PasswordHash::new(hash)
                .map(|parsed| {
                    argon2::Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        }
        Some("pbkdf2_sha256") => verify_pbkdf2(hash, password),
        _ => false,
    }
}

fn verify_pbkdf2(hash: &str, password: &str) -> bool {
    let mut parts = hash.splitn(4, '$');
    let (Some(_), Some(iterations), Some(salt), Some(expected)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        return false;
    };
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
        return false;
    }
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(expected) else {
        return false;
    };
    if expected.is_empty() || expected.len() > 64 {
        return false;
    }
    let mut derived = vec![0u8; expected.len()];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut derived,
    );
    super::same_bytes(&derived, &expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::legacy_hashes::{ARGON2ID, BCRYPT, PASSWORD, PBKDF2};

    #[test]
    fn each_scheme_accepts_its_password_and_nothing_else() {
        for hash in [BCRYPT, ARGON2ID, PBKDF2] {
            assert!(verify(hash, PASSWORD), "{hash}");
            assert!(!verify(hash, "legacy-passw0rd!"), "{hash}");
            assert!(!verify(hash, ""), "{hash}");
        }
        assert_eq!(scheme(BCRYPT), Some("bcrypt"));
        assert_eq!(scheme(ARGON2ID), Some("argon2id"));
        assert_eq!(scheme(PBKDF2), Some("pbkdf2_sha256"));
    }

    #[test]
    fn unknown_broken_and_costly_hashes_never_match() {
        for hash in [
            "",
            PASSWORD,
            "md5$abc$def",
            "$argon2i$v=19$m=8192,t=1,p=1$DO7UFf0suVUYxZLy8sREWw$WMnfU5TwMAkCJLueUXpJnSUcTGxzhi62Xtnr6tRAXtY",
            "$2b$04$short",
            "pbkdf2_sha256$x$s4ltS4lt$Oi17",
            "pbkdf2_sha256$1000$s4ltS4lt$not base64!",
            "pbkdf2_sha256$999999999$s4ltS4lt$Oi178muyMHa0EEnSkr2Q/o0rHNGpR7AlESBGAAQIafI=",
            "pbkdf2_sha256$0$s4ltS4lt$Oi178muyMHa0EEnSkr2Q/o0rHNGpR7AlESBGAAQIafI=",
            "pbkdf2_sha256$2000001$s4ltS4lt$Oi178muyMHa0EEnSkr2Q/o0rHNGpR7AlESBGAAQIafI=",
        ] {
            assert!(!verify(hash, PASSWORD), "{hash}");
        }
    }

    #[test]
    fn costs_over_the_caps_are_named_and_never_worked_on() {
        let within = [BCRYPT, ARGON2ID, PBKDF2];
        for hash in within {
            assert_eq!(over_cap(hash), None, "{hash}");
        }
        // Each over its cap; checking one returns at once instead of working for seconds.
        let over = [
            ("$2b$15$B0Avh67WXRh9k4DmfGIGHeTYicLMM/9MbWLf46TX2TwSVuxDKZjOi", "bcrypt cost 15"),
            ("$argon2id$v=19$m=65537,t=2,p=1$DO7UFf0suVUYxZLy8sREWw$WMnfU5TwMAkCJLueUXpJnSUcTGxzhi62Xtnr6tRAXtY", "Argon2 memory 65537 KiB"),
            ("$argon2id$v=19$m=19456,t=9,p=1$DO7UFf0suVUYxZLy8sREWw$WMnfU5TwMAkCJLueUXpJnSUcTGxzhi62Xtnr6tRAXtY", "Argon2 iterations 9"),
            ("$argon2id$v=19$m=19456,t=2,p=5$DO7UFf0suVUYxZLy8sREWw$WMnfU5TwMAkCJLueUXpJnSUcTGxzhi62Xtnr6tRAXtY", "Argon2 parallelism 5"),
            ("pbkdf2_sha256$2000001$s4ltS4lt$Oi178muyMHa0EEnSkr2Q/o0rHNGpR7AlESBGAAQIafI=", "PBKDF2 iterations 2000001"),
        ];
        for (hash, why) in over {
            let named = over_cap(hash).unwrap_or_default();
            assert!(named.starts_with(why), "{hash}: {named}");
            let started = std::time::Instant::now();
            assert!(!verify(hash, PASSWORD));
            assert!(
                started.elapsed() < std::time::Duration::from_millis(20),
                "{hash}"
            );
        }
    }
}
