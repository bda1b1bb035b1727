//! The password policy every organization's pool enforces, and the temporary passwords of
//! welcome mails that satisfy it.

use rand::seq::{IndexedRandom, SliceRandom};

/// The one password policy, written into every pool and obeyed by generated passwords.
pub const MIN_LENGTH: usize = 12;
/// Days a temporary password from a welcome mail stays valid.
pub const TEMPORARY_VALIDITY_DAYS: i32 = 7;
const TEMPORARY_LENGTH: usize = 16;

/// The policy in words, for the pages where people choose a password.
pub const RULES: &[&str] = &[
    "at least 12 characters",
    "a lower-case letter (a-z)",
    "an upper-case letter (A-Z)",
    "a digit (0-9)",
    "a symbol, such as ! # $ % * + - = ? @ ^ _",
];

/// The first rule of the policy that `candidate` breaks, in the words of [`RULES`]; `None`
/// when it keeps them all (Cognito checks again).
pub fn broken_rule(candidate: &str) -> Option<&'static str> {
    let has = |f: fn(&char) -> bool| candidate.chars().any(|c| f(&c));
    if candidate.chars().count() < MIN_LENGTH {
        Some(RULES[0])
    } else if !has(char::is_ascii_lowercase) {
        Some(RULES[1])
    } else if !has(char::is_ascii_uppercase) {
        Some(RULES[2])
    } else if !has(char::is_ascii_digit) {
        Some(RULES[3])
    } else if !has(char::is_ascii_punctuation) {
        Some(RULES[4])
    } else {
        None
    }
}

// Look-alike characters (0/O, 1/l/I) are left out: people type these from a mail.
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"23456789";
// Symbols Cognito accepts, minus those that confuse people or mail clients.
const SYMBOLS: &[u8] = b"!#$%*+-=?@^_";

/// A temporary password with at least one character of every class the policy requires,
/// drawn from the operating system's generator.
pub fn temporary_password() -> String {
    let mut rng = rand::rng();
    let classes = [LOWER, UPPER, DIGITS, SYMBOLS];
    let all: Vec<u8> = classes.concat();
    let mut chars: Vec<u8> = classes
        .iter()
        .filter_map(|class| class.choose(&mut rng).copied())
        .collect();
    while chars.len() < TEMPORARY_LENGTH {
        if let Some(c) = all.choose(&mut rng) {
            chars.push(*c);
        }
    }
    chars.shuffle(&mut rng);
    chars.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_broken_rule_is_named() {
        assert_eq!(broken_rule("Short1!"), Some(RULES[0]));
        assert_eq!(broken_rule("NOLOWERCASE123!"), Some(RULES[1]));
        assert_eq!(broken_rule("nouppercase123!"), Some(RULES[2]));
        assert_eq!(broken_rule("NoDigitsHere!!"), Some(RULES[3]));
        assert_eq!(broken_rule("NoSymbols12345"), Some(RULES[4]));
        assert_eq!(broken_rule("Fine-Password-42"), None);
        for _ in 0..50 {
            assert_eq!(broken_rule(&temporary_password()), None);
        }
    }

    #[test]
    fn temporary_passwords_meet_the_policy_and_differ() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let p = temporary_password();
            assert!(p.len() >= MIN_LENGTH);
            assert!(p.bytes().any(|b| LOWER.contains(&b)), "{p}");
            assert!(p.bytes().any(|b| UPPER.contains(&b)), "{p}");
            assert!(p.bytes().any(|b| DIGITS.contains(&b)), "{p}");
            assert!(p.bytes().any(|b| SYMBOLS.contains(&b)), "{p}");
            seen.insert(p);
        }
        assert_eq!(seen.len(), 200);
    }
}
