//! Idempotency keys in the registry table.
//!
//! | item                         | pk         | sk                              |
//! |------------------------------|------------|---------------------------------|
//! | key (TTL)                    | `ORG#<id>` | `IDEMPOTENCY#<key>`             |
//! | further part of an answer (TTL) | `ORG#<id>` | `IDEMPOTENCYPART#<holder>#<n>` |
//!
//! A key is `running` while a request holds it: `holder` (unique per request) and
//! `lease_until`. A request that crashes or times out never stores its answer; once its
//! lease has passed, the next request with the same key and body takes the key over (a
//! conditional put on the lease), instead of answering "still running" for the key's whole
//! life. The answer is stored gzip-compressed with its SHA-256, in parts of at most
//! [`PART_BYTES`]: the first in the key's item, the rest in items of their own written before
//! the key is marked `done`, so no item comes near DynamoDB's 400 KB limit (a 10,000-row import
//! answers about 1 MB of JSON). Parts are named by the holder, so a request that lost its
//! key never overwrites the answer of the one that took it over.

use std::collections::HashMap;
use std::io::{Read, Write};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::Blob;
use sha2::{Digest, Sha256};

use super::{key, n, org_pk, s, DynamoRegistry, TTL_ATTRIBUTE};
use crate::domain::ports::{IdempotentClaim, KeyClaim, StoredAnswer};
use crate::domain::{now_epoch, Error, OrgId};

/// Largest part of a stored answer (compressed bytes), well inside the 400 KB item limit
/// with the key's other attributes.
pub const PART_BYTES: usize = 300 * 1024;

/// How long further parts are kept: beyond any key's life (24 hours), so a part never goes
/// before its key; an orphan (its request lost the key) goes after that.
const PART_TTL_SECS: i64 = 7 * 24 * 3600;

fn key_sk(key_value: &str) -> String {
    format!("IDEMPOTENCY#{key_value}")
}

fn part_sk(holder: &str, part: usize) -> String {
    format!("IDEMPOTENCYPART#{holder}#{part}")
}

/// An answer as stored: its compressed parts and the SHA-256 (hex) of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedAnswer {
    pub parts: Vec<Vec<u8>>,
    pub digest: String,
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn codec_error(detail: impl Into<String>) -> Error {
    Error::Aws {
        service: "DynamoDB",
        operation: "stored idempotent answer",
        detail: detail.into(),
    }
}

/// Compresses `body` and splits it into parts of at most `part_bytes`.
pub fn encode_answer(body: &str, part_bytes: usize) -> Result<EncodedAnswer, Error> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.as_bytes())
        .map_err(|e| codec_error(e.to_string()))?;
    let compressed = gz.finish().map_err(|e| codec_error(e.to_string()))?;
    let mut parts: Vec<Vec<u8>> = compressed
        .chunks(part_bytes.max(1))
        .map(<[u8]>::to_vec)
        .collect();
    if parts.is_empty() {
        parts.push(Vec::new());
    }
    Ok(EncodedAnswer {
        parts,
        digest: hex_digest(body.as_bytes()),
    })
}

/// The body again, from its parts in order; refused when a part is missing or changed.
pub fn decode_answer(parts: &[Vec<u8>], digest: &str) -> Result<String, Error> {
    let compressed = parts.concat();
    let mut body = String::new();
    flate2::read::GzDecoder::new(compressed.as_slice())
        .read_to_string(&mut body)
        .map_err(|e| codec_error(format!("cannot be read: {e}")))?;
    if hex_digest(body.as_bytes()) != digest {
        return Err(codec_error("its digest does not match: a part is missing"));
    }
    Ok(body)
}

fn attr_s(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn attr_n(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn attr_b(item: &HashMap<String, AttributeValue>, name: &str) -> Option<Vec<u8>> {
    item.get(name)
        .and_then(|v| v.as_b().ok())
        .map(|b| b.as_ref().to_vec())
}

impl DynamoRegistry {
    async fn get_raw(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.endpoint.error("GetItem", e))?;
        Ok(out.item)
    }

    pub(super) async fn claim_key(
        &self,
        org: &OrgId,
        key_value: &str,
        claim: &KeyClaim<'_>,
    ) -> Result<IdempotentClaim, Error> {
        let now = now_epoch();
        let mut item = key(org_pk(org), &key_sk(key_value));
        item.insert("fingerprint".into(), s(claim.fingerprint));
        item.insert("state".into(), s("running"));
        item.insert("holder".into(), s(claim.holder));
        item.insert("lease_until".into(), n(now + claim.lease_secs));
        item.insert(TTL_ATTRIBUTE.into(), n(now + claim.ttl_secs));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // Free: never used, expired (TTL removes it later), or running past its lease
            // for this same request (its holder crashed or timed out). A key written before
            // leases existed has none: it counts as past.
            .condition_expression(
                "attribute_not_exists(pk) OR expires_at < :now OR \
                 (#state = :running AND fingerprint = :fp AND \
                  (attribute_not_exists(lease_until) OR lease_until < :now))",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":running", s("running"))
            .expression_attribute_values(":fp", s(claim.fingerprint))
            .send()
            .await;
        match put {
            Ok(_) => return Ok(IdempotentClaim::New),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(self.endpoint.error("PutItem", e)),
        }
        let Some(record) = self.get_raw(org_pk(org), &key_sk(key_value)).await? else {
            // Released meanwhile: the caller may try again.
            return Ok(IdempotentClaim::InProgress);
        };
        if attr_s(&record, "fingerprint").as_deref() != Some(claim.fingerprint) {
            return Ok(IdempotentClaim::Mismatch);
        }
        if attr_s(&record, "state").as_deref() != Some("done") {
            return Ok(IdempotentClaim::InProgress);
        }
        let status = attr_n(&record, "status")
            .and_then(|v| u16::try_from(v).ok())
            .unwrap_or(200);
        // An answer stored before answers were compressed: its body as it was.
        if let Some(body) = attr_s(&record, "body") {
            return Ok(IdempotentClaim::Done(StoredAnswer { status, body }));
        }
        let holder = attr_s(&record, "holder").unwrap_or_default();
        let count = attr_n(&record, "parts").unwrap_or(1).max(1) as usize;
        let mut parts = vec![attr_b(&record, "body_gz").unwrap_or_default()];
        for part in 1..count {
            let item = self
                .get_raw(org_pk(org), &part_sk(&holder, part))
                .await?
                .ok_or_else(|| codec_error(format!("part {part} of {count} is missing")))?;
            parts.push(attr_b(&item, "data").unwrap_or_default());
        }
        let digest = attr_s(&record, "digest").unwrap_or_default();
        let body = decode_answer(&parts, &digest)?;
        Ok(IdempotentClaim::Done(StoredAnswer { status, body }))
    }

    pub(super) async fn store_answer(
        &self,
        org: &OrgId,
        key_value: &str,
        holder: &str,
        answer: &StoredAnswer,
    ) -> Result<bool, Error> {
        let encoded = encode_answer(&answer.body, PART_BYTES)?;
        let expires = now_epoch() + PART_TTL_SECS;
        // The further parts first: the key says `done` only once its whole answer is there.
        for (index, data) in encoded.parts.iter().enumerate().skip(1) {
            let mut item = key(org_pk(org), &part_sk(holder, index));
            item.insert("data".into(), AttributeValue::B(Blob::new(data.clone())));
            item.insert(TTL_ATTRIBUTE.into(), n(expires));
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await
                .map_err(|e| self.endpoint.error("PutItem", e))?;
        }
        let first = encoded.parts.first().cloned().unwrap_or_default();
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(org), &key_sk(key_value))))
            .update_expression(
                "SET #state = :done, #status = :status, body_gz = :body, digest = :digest, parts = :parts REMOVE lease_until",
            )
            .condition_expression("holder = :me")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":done", s("done"))
            .expression_attribute_values(":status", n(answer.status))
            .expression_attribute_values(":body", AttributeValue::B(Blob::new(first)))
            .expression_attribute_values(":digest", s(&encoded.digest))
            .expression_attribute_values(":parts", n(encoded.parts.len()))
            .expression_attribute_values(":me", s(holder))
            .send()
            .await;
        match update {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.endpoint.error("UpdateItem", e)),
        }
    }

    pub(super) async fn release_key(
        &self,
        org: &OrgId,
        key_value: &str,
        holder: &str,
    ) -> Result<(), Error> {
        // Another request holds it now: it is not ours to free.
        self.delete_if_held(org, &key_sk(key_value), holder).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_answer_is_split_into_parts_and_read_back_whole() {
        // Incompressible text: about 2 bytes per character survive gzip.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let body: String = (0..700_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b'!' + (seed % 90) as u8)
            })
            .collect();
        let encoded = encode_answer(&body, PART_BYTES).expect("encoded");
        assert!(encoded.parts.len() >= 2, "{} parts", encoded.parts.len());
        assert!(encoded.parts.iter().all(|p| p.len() <= PART_BYTES));
        assert_eq!(
            decode_answer(&encoded.parts, &encoded.digest).expect("decoded"),
            body
        );
        // A part missing is noticed, never answered as a shorter body.
        let missing = &encoded.parts[..encoded.parts.len() - 1];
        assert!(decode_answer(missing, &encoded.digest).is_err());
    }

    #[test]
    fn a_repetitive_import_answer_fits_one_part() {
        let rows: Vec<String> = (1..=10_000)
            .map(|i| format!(r#"{{"row":{i},"result":"created","id":"018f3a2b-0000-7000-8000-{i:012}","username":"person{i}"}}"#))
            .collect();
        let body = format!(r#"{{"created":10000,"rows":[{}]}}"#, rows.join(","));
        assert!(body.len() > 400_000, "larger than an item: {}", body.len());
        let encoded = encode_answer(&body, PART_BYTES).expect("encoded");
        assert_eq!(encoded.parts.len(), 1);
        assert_eq!(
            decode_answer(&encoded.parts, &encoded.digest).expect("decoded"),
            body
        );
        assert_eq!(
            decode_answer(
                &encode_answer("", PART_BYTES).expect("encoded").parts,
                &hex_digest(b"")
            )
            .expect("decoded"),
            ""
        );
    }
}
