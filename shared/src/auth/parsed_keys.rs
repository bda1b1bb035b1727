//! jsonwebtoken's aws-lc crypto builds an RSA public key from its modulus and exponent on
//! every verification, which costs about as much again as the verification itself. This
//! provider keeps each key parsed once (by its modulus and exponent) and verifies RS256 with
//! it; every other algorithm and key kind stays jsonwebtoken's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};

/// Most distinct keys kept (pools x key rotation); past it the map starts over.
const MAX_KEYS: usize = 4096;

/// A parsed key and the components it was parsed from.
struct Entry {
    n: Vec<u8>,
    e: Vec<u8>,
    key: Arc<ParsedPublicKey>,
}

/// Parsed keys, found by a short prefix of the modulus and checked against the whole
/// modulus and exponent before use.
fn parsed() -> &'static Mutex<HashMap<[u8; 16], Vec<Entry>>> {
    static KEYS: OnceLock<Mutex<HashMap<[u8; 16], Vec<Entry>>>> = OnceLock::new();
    KEYS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn prefix(n: &[u8]) -> [u8; 16] {
    let mut p = [0u8; 16];
    let take = n.len().min(16);
    p[..take].copy_from_slice(&n[..take]);
    p
}

struct Rs256(Arc<ParsedPublicKey>);

impl signature::Verifier<Vec<u8>> for Rs256 {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        self.0
            .verify_sig(msg, sig)
            .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Rs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

fn verifier_factory(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let (Algorithm::RS256, DecodingKeyKind::RsaModulusExponent { n, e }) = (algorithm, key.kind())
    else {
        return (DEFAULT_PROVIDER.verifier_factory)(algorithm, key);
    };
    let slot = prefix(n);
    let mut keys = parsed().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(found) = keys
        .get(&slot)
        .and_then(|entries| entries.iter().find(|x| x.n == *n && x.e == *e))
    {
        return Ok(Box::new(Rs256(found.key.clone())));
    }
    let parsed = RsaPublicKeyComponents { n, e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .map_err(|_| {
            jsonwebtoken::errors::Error::from(ErrorKind::InvalidRsaKey("rejected".into()))
        })?;
    let parsed = Arc::new(parsed);
    if keys.len() >= MAX_KEYS {
        keys.clear();
    }
    keys.entry(slot).or_default().push(Entry {
        n: n.to_vec(),
        e: e.to_vec(),
        key: parsed.clone(),
    });
    Ok(Box::new(Rs256(parsed)))
}

static PROVIDER: OnceLock<CryptoProvider> = OnceLock::new();

/// Makes this provider jsonwebtoken's for the process, once; if another one was installed
/// first, that one stays (correct, only slower).
pub fn install() {
    let provider = PROVIDER.get_or_init(|| CryptoProvider {
        signer_factory: DEFAULT_PROVIDER.signer_factory,
        verifier_factory,
        key_utils: DEFAULT_PROVIDER.key_utils.clone(),
    });
    let _ = provider.install_default();
}
