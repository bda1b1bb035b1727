//! DNS TXT look-ups (hickory-resolver), for the proofs of organizations' e-mail domains.

use std::net::SocketAddr;

use async_trait::async_trait;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::Resolver;

use crate::config::{ConfigError, Source};
use crate::domain::Error;
use crate::ports::TxtRecords;

/// The system's resolver, or the one `DNS_RESOLVER` names (`<ip>:<port>`, such as a
/// company's own resolver, or a local one).
pub struct Dns {
    resolver: Resolver<TokioRuntimeProvider>,
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
            None => Resolver::builder_tokio().map_err(|e| invalid(e.to_string()))?,
        };
        let resolver = builder.build().map_err(|e| invalid(e.to_string()))?;
        Ok(Self { resolver })
    }
}

#[async_trait]
impl TxtRecords for Dns {
    async fn txt(&self, name: &str) -> Result<Vec<String>, Error> {
        match self.resolver.txt_lookup(name).await {
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
