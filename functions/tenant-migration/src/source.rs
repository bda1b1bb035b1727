//! Migration sources, read as a stream of records (memory stays flat however large the
//! source): a JSON Lines file, plain or gzip-compressed, or a legacy shared user pool.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use shared::aws::cognito::CognitoPools;
use shared::aws::migration::LegacyPool;
use shared::domain::migration::SourceRecord;
use shared::domain::Error;
use shared::rate::RateLimits;

/// Where the records come from, as given to `--source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    File(PathBuf),
    /// `cognito:<pool id>`, with the attribute that names each user's organization.
    LegacyPool {
        pool_id: String,
        org_attribute: String,
    },
}

impl SourceSpec {
    pub fn parse(source: &str, org_attribute: Option<&str>) -> Result<Self, Error> {
        if let Some(pool_id) = source.strip_prefix("cognito:") {
            let valid = pool_id.split_once('_').is_some_and(|(region, id)| {
                !region.is_empty()
                    && !id.is_empty()
                    && pool_id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
            if !valid {
                return Err(Error::InvalidInput {
                    what: "source",
                    value: source.to_owned(),
                    rule: "a legacy pool is cognito:<user pool id>, such as cognito:eu-west-1_AbCdEf123",
                });
            }
            let Some(attribute) = org_attribute.filter(|a| !a.trim().is_empty()) else {
                return Err(Error::InvalidInput {
                    what: "source",
                    value: source.to_owned(),
                    rule: "a legacy pool needs --org-attribute, the user attribute naming each user's organization (such as custom:tenant)",
                });
            };
            return Ok(SourceSpec::LegacyPool {
                pool_id: pool_id.to_owned(),
                org_attribute: attribute.trim().to_owned(),
            });
        }
        let path = PathBuf::from(source);
        if !path.is_file() {
            return Err(Error::InvalidInput {
                what: "source",
                value: source.to_owned(),
                rule: "it must be a readable JSON Lines file (.jsonl, or .jsonl.gz) or cognito:<user pool id>",
            });
        }
        Ok(SourceSpec::File(path))
    }
}

/// An open source: call [`SourceReader::next`] until it gives `None`.
pub enum SourceReader<'a> {
    Lines {
        reader: Box<dyn BufRead + Send + 'a>,
        line: u64,
        buf: String,
    },
    Pool(Box<LegacyPool<'a>>),
}

impl<'a> SourceReader<'a> {
    pub fn open(
        spec: &SourceSpec,
        pools: &'a CognitoPools,
        limits: &'a RateLimits,
    ) -> Result<Self, Error> {
        match spec {
            SourceSpec::File(path) => {
                let unreadable = |e: std::io::Error| Error::InvalidInput {
                    what: "source",
                    value: path.display().to_string(),
                    rule: leak_reason(&e),
                };
                let mut file =
                    BufReader::with_capacity(256 * 1024, File::open(path).map_err(unreadable)?);
                // Gzip by its magic bytes, whatever the name.
                let gz = file
                    .fill_buf()
                    .map_err(unreadable)?
                    .starts_with(&[0x1f, 0x8b]);
                let reader: Box<dyn BufRead + Send> = if gz {
                    Box::new(BufReader::with_capacity(
                        256 * 1024,
                        flate2::bufread::MultiGzDecoder::new(file),
                    ))
                } else {
                    Box::new(file)
                };
                Ok(SourceReader::Lines {
                    reader,
                    line: 0,
                    buf: String::new(),
                })
            }
            SourceSpec::LegacyPool {
                pool_id,
                org_attribute,
            } => Ok(SourceReader::Pool(Box::new(LegacyPool::new(
                pools,
                pool_id,
                org_attribute,
                limits,
            )))),
        }
    }

    /// The next record with its position (`line 12`, `user jane`), or why it is not one.
    pub async fn next(&mut self) -> Result<Option<(String, Result<SourceRecord, String>)>, Error> {
        match self {
            SourceReader::Lines { reader, line, buf } => loop {
                buf.clear();
                let read = reader.read_line(buf).map_err(|e| Error::InvalidInput {
                    what: "source",
                    value: format!("line {}", *line + 1),
                    rule: leak_reason(&e),
                })?;
                if read == 0 {
                    return Ok(None);
                }
                *line += 1;
                let text = buf.trim();
                if text.is_empty() {
                    continue;
                }
                let record = serde_json::from_str::<SourceRecord>(text).map_err(|e| readable(&e));
                return Ok(Some((format!("line {line}"), record)));
            },
            SourceReader::Pool(pool) => pool.next_record().await,
        }
    }
}

/// Why a line is not a record, without quoting values (one could be a password hash put in
/// the wrong field).
fn readable(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let mut out = String::with_capacity(text.len());
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            if !quoted {
                out.push_str("\"…\"");
            }
            quoted = !quoted;
            continue;
        }
        if !quoted {
            out.push(c);
        }
    }
    // serde_json quotes strings with " and other values with `.
    let mut cleaned = String::with_capacity(out.len());
    let mut ticked = false;
    for c in out.chars() {
        if c == '`' {
            if !ticked {
                cleaned.push_str("`…`");
            }
            ticked = !ticked;
            continue;
        }
        if !ticked {
            cleaned.push(c);
        }
    }
    format!("not a record of the documented shape: {cleaned}")
}

/// Error texts must be `'static` in [`Error::InvalidInput`]: the common I/O kinds.
fn leak_reason(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound => "the file does not exist",
        std::io::ErrorKind::PermissionDenied => "the file may not be read (permissions)",
        std::io::ErrorKind::InvalidData => {
            "the file is not valid UTF-8 text, or its gzip data is damaged"
        }
        std::io::ErrorKind::UnexpectedEof => "the gzip data ends early (a truncated file?)",
        _ => "the file could not be read",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp(name: &str, bytes: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!("tenantctl-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).expect("write");
        path
    }

    async fn records(path: &std::path::Path) -> Vec<(String, Result<SourceRecord, String>)> {
        let sdk = aws_config::SdkConfig::builder().build();
        let pools = CognitoPools::new(&sdk);
        let limits = RateLimits::new(Default::default());
        let spec = SourceSpec::parse(path.to_str().expect("utf-8"), None).expect("a file");
        let mut reader = SourceReader::open(&spec, &pools, &limits).expect("open");
        let mut out = Vec::new();
        while let Some(r) = reader.next().await.expect("read") {
            out.push(r);
        }
        out
    }

    const LINES: &str = concat!(
        r#"{"kind":"organization","id":1,"name":"Acme","subdomain":"acme"}"#,
        "\n\n",
        r#"{"kind":"person","organization":1,"username":"ann","email":"ann@a.test","roles":["member"],"active":"$2b$12$secretsecret"}"#,
        "\n",
        r#"{"kind":"person","organization":1,"username":"bob","email":"bob@a.test","roles":["member"],"active":true}"#,
        "\n"
    );

    #[tokio::test]
    async fn plain_and_gzip_files_give_the_same_records_with_line_numbers() {
        let plain = temp("plain.jsonl", LINES.as_bytes());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(LINES.as_bytes()).expect("gzip");
        let gz = temp("source.jsonl.gz", &gz.finish().expect("gzip"));
        let a = records(&plain).await;
        let b = records(&gz).await;
        assert_eq!(a.len(), 3);
        assert_eq!(a, b);
        assert_eq!(a[2].0, "line 4", "blank lines count");
        let bad = a[1].1.as_ref().expect_err("a string is not a boolean");
        assert!(!bad.contains("secret"), "{bad}");
        assert!(bad.contains("documented shape"), "{bad}");
    }

    #[test]
    fn sources_are_checked_before_anything_is_read() {
        let err = SourceSpec::parse("cognito:eu-west-1_abc", None).expect_err("attribute");
        assert!(err.to_string().contains("--org-attribute"), "{err}");
        assert!(SourceSpec::parse("cognito:nope", Some("custom:tenant")).is_err());
        assert!(SourceSpec::parse("/no/such/file.jsonl", None).is_err());
        assert_eq!(
            SourceSpec::parse("cognito:eu-west-1_abc", Some("custom:tenant")),
            Ok(SourceSpec::LegacyPool {
                pool_id: "eu-west-1_abc".into(),
                org_attribute: "custom:tenant".into()
            })
        );
    }
}
