//! Which certificate authorities the AWS clients trust.
//!
//! On Lambda a function only ever talks to AWS endpoints (DynamoDB, Secrets Manager,
//! `@connections`, S3, SNS), whose certificates all chain to Amazon Trust Services. Trusting
//! those five roots instead of the system bundle (~140 roots, parsed at every cold start) takes
//! about 2 ms off each cold start (docs/PERFORMANCE.md §1). Elsewhere (the local gateway, tests,
//! an endpoint behind a TLS-inspecting proxy) the system store stays the default, and
//! `CHAT_TLS_ROOTS=system` brings it back on Lambda.

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// Amazon Root CA 1–4 and Starfield Services Root CA G2 (PEM, from Debian's ca-certificates).
pub const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

/// The roots the AWS clients trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsRoots {
    /// Amazon Trust Services only: the Lambda default.
    Amazon,
    /// The platform's store (`SSL_CERT_FILE`, or the system bundle and directory).
    System,
}

impl TlsRoots {
    /// `CHAT_TLS_ROOTS` (`amazon` | `system`); unset, Amazon's on Lambda and the system's elsewhere.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        match get("CHAT_TLS_ROOTS").as_deref() {
            Some("amazon") => Ok(Self::Amazon),
            Some("system") => Ok(Self::System),
            Some(_) => Err("CHAT_TLS_ROOTS must be amazon or system".to_owned()),
            None if get("AWS_LAMBDA_FUNCTION_NAME").is_some() => Ok(Self::Amazon),
            None => Ok(Self::System),
        }
    }

    /// The HTTPS client for the AWS SDK; `None` keeps the SDK's default (the system store).
    pub fn http_client(self) -> Option<SharedHttpClient> {
        match self {
            Self::System => None,
            Self::Amazon => {
                // Same provider as the SDK's default client (rustls on aws-lc); only the roots differ.
                let context = TlsContext::builder()
                    .with_trust_store(TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES))
                    .build()
                    .ok()?;
                Some(
                    aws_smithy_http_client::Builder::new()
                        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
                        .tls_context(context)
                        .build_https(),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::{pem::PemObject, CertificateDer};

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn the_amazon_bundle_is_five_roots_that_parse_as_trust_anchors() {
        let certs: Vec<CertificateDer> =
            CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES).collect::<Result<_, _>>().unwrap();
        assert_eq!(certs.len(), 5);
        for cert in &certs {
            webpki::anchor_from_trusted_cert(cert).unwrap();
        }
    }

    #[test]
    fn lambda_trusts_amazon_roots_and_everything_else_the_system_store() {
        assert_eq!(TlsRoots::from_lookup(&lookup(&[("AWS_LAMBDA_FUNCTION_NAME", "users-me")])), Ok(TlsRoots::Amazon));
        assert_eq!(TlsRoots::from_lookup(&lookup(&[])), Ok(TlsRoots::System));
        assert_eq!(
            TlsRoots::from_lookup(&lookup(&[("AWS_LAMBDA_FUNCTION_NAME", "users-me"), ("CHAT_TLS_ROOTS", "system")])),
            Ok(TlsRoots::System)
        );
        assert!(TlsRoots::from_lookup(&lookup(&[("CHAT_TLS_ROOTS", "all")])).is_err());
        assert!(TlsRoots::Amazon.http_client().is_some());
        assert!(TlsRoots::System.http_client().is_none());
    }
}
