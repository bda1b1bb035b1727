//! DNS TXT look-ups (hickory-resolver), for the proofs of organizations' e-mail domains.

use std::net::SocketAddr;

use async_trait::async_trait;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::Resolver;

use crate::config::{ConfigError, Source};
use crate::domain::ports::TxtRecords;
use crate::domain::Error;

/// The system's resolver, or the one `DNS_RESOLVER` names (`<ip>:<port>`, such as a
/// company's own resolver, or a local one). A system configuration that cannot be read does
/// not stop the function from starting: each look-up then says why it cannot be made.
pub struct Dns {
    resolver: Result<Resolver<TokioRuntimeProvider>, String>,
}

impl Dns {
    pub fn from_env(src: &dyn Source) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            name: "DNS_RESOLVER",
            reason,
        };
        let builder = match src.get("DNS_RESOLVER") {
            Some(address) => {
                let address: SocketAddr = address
                    .parse()
                    .map_err(|_| invalid(format!("{address:?} is not <ip>:<port>")))?;
                let mut connection = ConnectionConfig::udp();
                connection.port = address.port();
                let mut server = NameServerConfig::udp(address.ip());
                server.connections = vec![connection];
                let config = ResolverConfig::from_parts(None, Vec::new(), vec![server]);
                Resolver::builder_with_config(config, TokioRuntimeProvider::default())
            }
            None => match Resolver::builder_tokio() {
                Ok(builder) => builder,
                Err(e) => {
                    tracing::warn!(error = %e, "the system's DNS configuration cannot be read");
                    return Ok(Self {
                        resolver: Err(format!(
                            "the system's DNS configuration cannot be read: {e}"
                        )),
                    });
                }
            },
        };
        let resolver = builder.build().map_err(|e| e.to_string());
        Ok(Self { resolver })
    }
}

#[async_trait]
impl TxtRecords for Dns {
    async fn txt(&self, name: &str) -> Result<Vec<String>, Error> {
        let resolver = self.resolver.as_ref().map_err(|why| Error::Aws {
            service: "DNS",
            operation: "TXT lookup",
            detail: why.clone(),
        })?;
        match resolver.txt_lookup(name).await {
            Ok(found) => Ok(found
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|part| String::from_utf8_lossy(part))
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(Error::Aws {
                service: "DNS",
                operation: "TXT lookup",
                detail: e.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_resolver_address_must_be_ip_and_port() {
        for bad in ["dns.example:53", "127.0.0.1", "not an address"] {
            match Dns::from_env(&[("DNS_RESOLVER", bad)]) {
                Err(ConfigError::Invalid { name, reason }) => {
                    assert_eq!(name, "DNS_RESOLVER");
                    assert!(reason.contains(bad), "{reason}");
                }
                Err(other) => panic!("{bad}: {other}"),
                Ok(_) => panic!("{bad} accepted"),
            }
        }
        assert!(Dns::from_env(&[("DNS_RESOLVER", "127.0.0.1:5353")]).is_ok());
        // Without one, the system's configuration; it never stops the start.
        assert!(Dns::from_env(&[("OTHER", "x")]).is_ok());
    }
}
