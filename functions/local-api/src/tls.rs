//! HTTPS for the local server: the official browser uploader only speaks `https://`.
//!
//! `--tls` generates a self-signed certificate for localhost, 127.0.0.1 and ::1 (plus the bound
//! address) at every start and writes it to `<data-dir>/tls/cert.pem`, so curl, Node or a browser
//! can be told to trust it; `--tls-cert`/`--tls-key` serve your own PEM files instead.

use crate::LocalError;
use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where `--tls` writes the certificate it generated, relative to the data directory.
pub const GENERATED_CERT: &str = "tls/cert.pem";

/// A certificate chain and its key, ready to serve.
#[derive(Debug)]
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// The PEM certificate a client should trust.
    pub certificate: PathBuf,
}

impl Identity {
    /// Reads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_files(cert: &Path, key: &Path) -> Result<Self, LocalError> {
        let bad = |path: &Path, e: rustls::pki_types::pem::Error| {
            LocalError::Tls(format!("{}: {e}", path.display()))
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| bad(cert, e))?;
        if chain.is_empty() {
            return Err(LocalError::Tls(format!(
                "{}: no PEM certificate in it",
                cert.display()
            )));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, e))?;
        Ok(Self {
            chain,
            key,
            certificate: cert.to_owned(),
        })
    }

    /// A new self-signed certificate for the loopback names and `addr`, written to
    /// `<data_dir>/tls/cert.pem`.
    pub fn self_signed(data_dir: &Path, addr: SocketAddr) -> Result<Self, LocalError> {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).into();
        let ip = addr.ip().to_string();
        if !addr.ip().is_unspecified() && !names.contains(&ip) {
            names.push(ip);
        }
        let generated = rcgen::generate_simple_self_signed(names)
            .map_err(|e| LocalError::Tls(format!("cannot generate a certificate: {e}")))?;
        let certificate = data_dir.join(GENERATED_CERT);
        let dir = data_dir.join("tls");
        upload_tokens_core::store::private::create_private_dir(&dir).map_err(|source| {
            LocalError::DataDir {
                path: dir.clone(),
                source,
            }
        })?;
        crate::project::write_private(&certificate, generated.cert.pem().as_bytes()).map_err(
            |source| LocalError::DataDir {
                path: certificate.clone(),
                source,
            },
        )?;
        Ok(Self {
            chain: vec![generated.cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der()).into(),
            certificate,
        })
    }

    /// A rustls server configuration (aws-lc-rs, TLS 1.2 and 1.3, HTTP/1.1 and h2).
    pub fn server_config(self) -> Result<RustlsConfig, LocalError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                b.with_no_client_auth()
                    .with_single_cert(self.chain, self.key)
            })
            .map_err(|e| LocalError::Tls(format!("unusable certificate or key: {e}")))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(RustlsConfig::from_config(Arc::new(config)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_is_written_and_reads_back_as_a_server_identity() {
        let dir = tempfile::tempdir().expect("temp dir");
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        let generated = Identity::self_signed(dir.path(), addr).expect("generated");
        assert_eq!(generated.certificate, dir.path().join(GENERATED_CERT));
        let pem = std::fs::read_to_string(&generated.certificate).expect("written");
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        // The same certificate with a key file: what --tls-cert/--tls-key read.
        let key = dir.path().join("key.pem");
        let der = match &generated.key {
            PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
            _ => panic!("generated keys are PKCS#8"),
        };
        let key_pem = rcgen::KeyPair::try_from(der.as_slice())
            .expect("key")
            .serialize_pem();
        std::fs::write(&key, key_pem).expect("key written");
        let read = Identity::from_files(&generated.certificate, &key).expect("read back");
        assert_eq!(read.chain, generated.chain);
        read.server_config().expect("usable");
    }

    #[test]
    fn missing_or_empty_files_are_clear_errors() {
        let dir = tempfile::tempdir().expect("temp dir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").expect("written");
        let err = Identity::from_files(&empty, &empty).expect_err("no certificate");
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        let err = Identity::from_files(&dir.path().join("nope.pem"), &empty).expect_err("missing");
        assert!(err.to_string().contains("nope.pem"), "{err}");
    }
}
