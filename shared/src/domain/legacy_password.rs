//! The password hashes of the legacy store, checked at a migrated person's first sign-in
//! (the user-migration trigger): bcrypt (`$2a$`, `$2b$`, `$2y$`), Argon2id (`$argon2id$`, PHC
//! string) and Django's PBKDF2-SHA256 (`pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`).
//! Each is checked by its own well-kept crate, in constant time; anything else never matches.

use base64::Engine;

/// Highest PBKDF2 iteration count accepted (a forged hash must not cost a trigger's 5 s).
const MAX_PBKDF2_ITERATIONS: u32 = 2_000_000;

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

/// Whether `password` is the one `hash` was made from.
pub fn verify(hash: &str, password: &str) -> bool {
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
        ] {
            assert!(!verify(hash, PASSWORD), "{hash}");
        }
    }
}
