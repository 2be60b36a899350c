//! TLS to RabbitMQ (`amqps://`) and Redis (`rediss://`), with rustls: the
//! servers' certificates are checked against the system's roots, or against
//! the CA certificates of a file when one is given; a client certificate
//! and key (PEM) are sent when given. Whether a connection uses TLS is the
//! URL's scheme; these settings only say whom to trust and who we are.

use std::path::Path;

use crate::BackendError;

/// Whom to trust and who we are, read from PEM files.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// CA certificates (PEM) that sign the servers' certificates; `None`:
    /// the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// A client certificate (PEM) and its key (PEM, PKCS#8).
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

impl TlsSettings {
    /// Reads the files; a client certificate needs its key and the reverse.
    pub fn from_files(
        ca: Option<&Path>,
        cert: Option<&Path>,
        key: Option<&Path>,
    ) -> Result<TlsSettings, BackendError> {
        let read = |path: &Path| {
            std::fs::read(path)
                .map_err(|e| BackendError::io(format!("TLS file {}", path.display()), e))
        };
        let client = match (cert, key) {
            (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
            (None, None) => None,
            _ => {
                return Err(BackendError::io(
                    "TLS client certificate",
                    std::io::Error::other("tls_cert_file and tls_key_file go together"),
                ))
            }
        };
        let settings = TlsSettings {
            ca_pem: ca.map(read).transpose()?,
            client,
        };
        if let Some(pem) = &settings.ca_pem {
            if !String::from_utf8_lossy(pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(BackendError::io(
                    format!(
                        "TLS file {}",
                        ca.map_or(String::new(), |p| p.display().to_string())
                    ),
                    std::io::Error::other("no PEM certificate in it"),
                ));
            }
        }
        Ok(settings)
    }

    /// True when nothing is set: system roots, no client certificate.
    pub fn is_default(&self) -> bool {
        self.ca_pem.is_none() && self.client.is_none()
    }

    /// For lapin.
    pub(crate) fn amqp(&self) -> lapin::tcp::OwnedTLSConfig {
        install_crypto_provider();
        lapin::tcp::OwnedTLSConfig {
            identity: self
                .client
                .as_ref()
                .map(|(pem, key)| lapin::tcp::OwnedIdentity::PKCS8 {
                    pem: pem.clone(),
                    key: key.clone(),
                }),
            cert_chain: self
                .ca_pem
                .as_ref()
                .map(|pem| String::from_utf8_lossy(pem).into_owned()),
        }
    }

    /// For redis-rs.
    pub(crate) fn redis(&self) -> redis::TlsCertificates {
        install_crypto_provider();
        redis::TlsCertificates {
            client_tls: self
                .client
                .as_ref()
                .map(|(cert, key)| redis::ClientTlsConfig {
                    client_cert: cert.clone(),
                    client_key: key.clone(),
                }),
            root_cert: self.ca_pem.clone(),
        }
    }
}

/// rustls needs one process-wide crypto provider: ring, the one compiled in.
pub(crate) fn install_crypto_provider() {
    // Already installed is fine: it is the same provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A hint added to a connection error that looks like a certificate problem.
pub(crate) fn hint(error: &str) -> &'static str {
    let lower = error.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("tls") {
        " (TLS: is the server's certificate signed by the CA of tls_ca_file, and issued for the host in the URL?)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_and_checked() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = dir.path().join("ca.crt");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .expect("ca");
        let tls = TlsSettings::from_files(Some(&ca), None, None).expect("read");
        assert!(tls.ca_pem.is_some() && tls.client.is_none() && !tls.is_default());
        std::fs::write(&ca, "not a certificate").expect("ca");
        let err = TlsSettings::from_files(Some(&ca), None, None).expect_err("no PEM");
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        let err = TlsSettings::from_files(None, Some(&ca), None).expect_err("no key");
        assert!(err.to_string().contains("go together"), "{err}");
        assert!(TlsSettings::from_files(None, None, None)
            .expect("none")
            .is_default());
    }
}
