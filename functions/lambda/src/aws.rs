//! The AWS SDK configuration the functions share, with an HTTPS client that trusts the Amazon
//! Trust Services roots compiled into the binary.
//!
//! The SDK's default client loads the platform's trust store when it is built: it reads the CA
//! bundle and then opens every file of the certificate directory (about 300 on Debian), a few
//! milliseconds of every cold start spent on roots no AWS endpoint uses. Every AWS service
//! endpoint chains to Amazon Trust Services (Amazon Root CA 1–4, cross-signed by Starfield
//! Services Root G2), so those five are all a function needs. Setting `SSL_CERT_FILE` (the
//! standard variable: a proxy that re-signs TLS, a private endpoint) switches back to the
//! platform's roots.

use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

/// Amazon Root CA 1–4 and Starfield Services Root Certificate Authority – G2.
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

/// The HTTPS client: rustls on ring (a fraction of aws-lc-rs's size in every binary), trusting
/// the Amazon Trust Services roots (or the platform's, when `SSL_CERT_FILE` is set).
fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    let trust = if std::env::var_os("SSL_CERT_FILE").is_some() {
        TrustStore::default()
    } else {
        TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(AMAZON_TRUST_SERVICES)
    };
    // `build` only stores what it is given: it cannot fail (else: the platform's roots).
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .unwrap_or_default();
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https()
}

/// The shared AWS configuration; nothing is fetched until a client first sends a request.
///
/// In Lambda the region and the function's credentials are environment variables, always: read
/// them directly rather than walking the SDK's default provider chains (profile files, SSO,
/// web identity, ECS, IMDS), which costs about 0.4 ms of every cold start to find what is in the
/// environment anyway. Without credentials in the environment, the default chains.
pub async fn aws_config() -> aws_config::SdkConfig {
    let http = https_client();
    let in_environment = ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .all(|name| std::env::var_os(name).is_some());
    if in_environment {
        let mut config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(
                std::env::var("AWS_REGION")
                    .ok()
                    .map(aws_config::Region::new),
            )
            .credentials_provider(SharedCredentialsProvider::new(
                EnvironmentVariableCredentialsProvider::new(),
            ));
        config.set_endpoint_url(std::env::var("AWS_ENDPOINT_URL").ok());
        return config.http_client(http).build();
    }
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await
}
#[cfg(test)]
mod tests {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn the_embedded_roots_are_five_parsable_certificates() {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(super::AMAZON_TRUST_SERVICES)
            .collect::<Result<_, _>>()
            .expect("valid PEM");
        assert_eq!(certs.len(), 5);
        let mut roots = rustls::RootCertStore::empty();
        let (valid, invalid) = roots.add_parsable_certificates(certs);
        assert_eq!((valid, invalid), (5, 0));
    }
}
