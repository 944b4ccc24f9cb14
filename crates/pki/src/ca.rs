//! The root CA: generating it, loading it back, and issuing certificates with it.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::PkiError;
use crate::serial::{random_serial, validity_window};

/// Organisation name put in the subject of every certificate the CA makes.
const ORGANIZATION: &str = "Sextant";

/// A certificate together with its private key, both PEM encoded.
///
/// `Debug` is implemented by hand so that the private key never ends up in a log line.
#[derive(Clone)]
pub struct CertifiedKey {
    /// The certificate (`CERTIFICATE` PEM block).
    pub cert_pem: String,
    /// The private key as PKCS#8 (`PRIVATE KEY` PEM block).
    pub key_pem: String,
}

impl fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Generates a self-signed root CA.
///
/// ECDSA P-256 key, subject `CN = common_name, O = Sextant`, `basicConstraints CA:TRUE`
/// without path length limit, key usages keyCertSign, cRLSign and digitalSignature, a random
/// 16-byte positive serial, valid from five minutes ago (clock skew) until `now + validity`.
pub fn generate_ca(common_name: &str, validity: Duration) -> Result<CertifiedKey, PkiError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(PkiError::KeyGeneration)?;
    let (not_before, not_after) = validity_window(validity)?;

    let mut params = CertificateParams::default();
    params.distinguished_name = subject(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(random_serial()?);
    params.not_before = not_before;
    params.not_after = not_after;

    let cert = params.self_signed(&key).map_err(PkiError::Signing)?;
    Ok(CertifiedKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A loaded CA, able to sign certificates.
pub struct CertificateAuthority {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    /// Subject, key identifier and key of the CA, as rcgen needs them to sign.
    issuer: Issuer<'static, KeyPair>,
    /// SHA-256 of the certificate's DER: names this CA in the records of what it issued.
    fingerprint: [u8; 32],
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The issuer holds the private key, so only the public part is shown.
        f.debug_struct("CertificateAuthority")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Loads a CA from its certificate PEM and PKCS#8 private key PEM.
    ///
    /// Checks that the certificate is a CA and that the key belongs to it, so a mixed-up pair
    /// of files fails at startup instead of producing certificates nobody can verify.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(PkiError::CertificatePem)?;
        let (_, parsed) =
            x509_parser::parse_x509_certificate(&cert_der).map_err(PkiError::from_x509)?;
        if !parsed.is_ca() {
            return Err(PkiError::NotACa);
        }

        let key = KeyPair::from_pem(key_pem).map_err(PkiError::InvalidPrivateKey)?;
        if key.subject_public_key_info() != parsed.public_key().raw {
            return Err(PkiError::KeyMismatch);
        }

        let issuer =
            Issuer::from_ca_cert_der(&cert_der, key).map_err(PkiError::InvalidCaCertificate)?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert_der.as_ref());
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(digest.as_ref());
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            cert_der,
            issuer,
            fingerprint,
        })
    }

    /// SHA-256 of the CA certificate (DER): which CA issued a recorded certificate.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// Whether this CA signed the first certificate of `cert_pem`: its issuer is the CA's
    /// subject and its signature verifies with the CA's key. Anything unreadable is `false`.
    pub fn signed(&self, cert_pem: &str) -> bool {
        let Ok(der) = CertificateDer::from_pem_slice(cert_pem.as_bytes()) else {
            return false;
        };
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(&der) else {
            return false;
        };
        let Ok((_, ca)) = x509_parser::parse_x509_certificate(&self.cert_der) else {
            return false;
        };
        cert.issuer() == ca.subject() && cert.verify_signature(Some(ca.public_key())).is_ok()
    }

    /// What rcgen signs with.
    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// The CA certificate as PEM, exactly as it was loaded.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate as DER, e.g. for a rustls root store.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert_der.clone()
    }

    /// Issues a server certificate for the listeners, with a new P-256 key.
    ///
    /// Subject `CN = names[0], O = Sextant`; one SAN per name (IP literals become IP SANs,
    /// anything else a DNS SAN); EKU serverAuth, key usage digitalSignature, explicitly not a
    /// CA; random serial; valid from five minutes ago until `now + validity`.
    pub fn issue_server_certificate(
        &self,
        names: &[String],
        validity: Duration,
    ) -> Result<CertifiedKey, PkiError> {
        let first = names.first().ok_or(PkiError::NoNames)?;
        let (not_before, not_after) = validity_window(validity)?;

        let mut params = CertificateParams::default();
        params.distinguished_name = subject(first);
        params.subject_alt_names = names
            .iter()
            .map(|name| san(name))
            .collect::<Result<_, _>>()?;
        params.is_ca = IsCa::ExplicitNoCa;
        // digitalSignature is all an ECDSA key needs in (EC)DHE handshakes.
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.serial_number = Some(random_serial()?);
        params.not_before = not_before;
        params.not_after = not_after;
        // Lets verifiers pick the right CA key once the CA has been rotated.
        params.use_authority_key_identifier_extension = true;

        let key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(PkiError::KeyGeneration)?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(PkiError::Signing)?;
        Ok(CertifiedKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

fn subject(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, ORGANIZATION);
    dn
}

fn san(name: &str) -> Result<SanType, PkiError> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    // rcgen only checks that a DNS SAN is ASCII; check the syntax the way rustls will when it
    // matches the name, so a typo in the configuration fails here and not in every client.
    // A leading `*.` wildcard label is allowed (clients match it), rustls' parser does not
    // know wildcards, so only the rest is checked.
    let checked = name.strip_prefix("*.").unwrap_or(name);
    rustls_pki_types::DnsName::try_from(checked).map_err(|source| PkiError::InvalidName {
        name: name.to_owned(),
        source,
    })?;
    // Cannot fail for a syntactically valid DNS name, which is plain ASCII.
    let dns = name.try_into().map_err(PkiError::Signing)?;
    Ok(SanType::DnsName(dns))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{ServerName, UnixTime};
    use time::OffsetDateTime;

    use super::*;
    use crate::certificate_summary;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn ca() -> CertificateAuthority {
        let generated = generate_ca("Sextant test CA", 365 * DAY).unwrap();
        CertificateAuthority::from_pem(&generated.cert_pem, &generated.key_pem).unwrap()
    }

    fn verifier(ca: &CertificateAuthority) -> Arc<WebPkiServerVerifier> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der()).unwrap();
        WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        )
        .build()
        .unwrap()
    }

    #[test]
    fn tells_its_own_certificates_from_another_cas() {
        let (ours, theirs) = (ca(), ca());
        let cert = ours
            .issue_server_certificate(&["localhost".to_owned()], DAY)
            .unwrap();
        assert!(ours.signed(&cert.cert_pem));
        assert!(!theirs.signed(&cert.cert_pem), "same subject, other key");
        assert!(!ours.signed("not a certificate"));
        assert_ne!(ours.fingerprint(), theirs.fingerprint());
        let generated = generate_ca("Sextant test CA", DAY).unwrap();
        let [a, b] = [0, 1].map(|_| {
            CertificateAuthority::from_pem(&generated.cert_pem, &generated.key_pem).unwrap()
        });
        assert_eq!(a.fingerprint(), b.fingerprint(), "stable across loads");
    }

    fn verify(ca: &CertificateAuthority, cert_pem: &str, name: &str) -> Result<(), rustls::Error> {
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        let name = ServerName::try_from(name.to_owned()).unwrap();
        verifier(ca)
            .verify_server_cert(&der, &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    #[test]
    fn ca_generation_and_reload() {
        let generated = generate_ca("Sextant root", 10 * DAY).unwrap();
        assert!(generated.key_pem.contains("-----BEGIN PRIVATE KEY-----"));

        let ca = CertificateAuthority::from_pem(&generated.cert_pem, &generated.key_pem).unwrap();
        assert_eq!(ca.cert_pem(), generated.cert_pem);

        let der = ca.cert_der();
        let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert!(parsed.is_ca());
        assert_eq!(parsed.subject().to_string(), "CN=Sextant root, O=Sextant");
        assert_eq!(parsed.subject(), parsed.issuer());
        let ku = parsed.key_usage().unwrap().unwrap().value;
        assert!(ku.key_cert_sign() && ku.crl_sign() && ku.digital_signature());
        // Self-signed: its own key verifies its signature.
        parsed.verify_signature(None).unwrap();

        let summary = certificate_summary(&generated.cert_pem).unwrap();
        assert_eq!(summary.serial_hex.len(), 32);
        let now = OffsetDateTime::now_utc();
        assert!(summary.not_before < now - time::Duration::minutes(4));
        assert!(summary.not_before > now - time::Duration::minutes(6));
        let expected_end = now + time::Duration::days(10);
        assert!((summary.not_after - expected_end).abs() < time::Duration::minutes(1));
    }

    #[test]
    fn serials_differ() {
        let a = certificate_summary(&generate_ca("a", DAY).unwrap().cert_pem).unwrap();
        let b = certificate_summary(&generate_ca("a", DAY).unwrap().cert_pem).unwrap();
        assert_ne!(a.serial_hex, b.serial_hex);
    }

    #[test]
    fn reload_rejects_a_foreign_key() {
        let one = generate_ca("one", DAY).unwrap();
        let two = generate_ca("two", DAY).unwrap();
        assert!(matches!(
            CertificateAuthority::from_pem(&one.cert_pem, &two.key_pem),
            Err(PkiError::KeyMismatch)
        ));
    }

    #[test]
    fn reload_rejects_a_leaf_certificate() {
        let ca = ca();
        let leaf = ca
            .issue_server_certificate(&["leaf.example".to_owned()], DAY)
            .unwrap();
        assert!(matches!(
            CertificateAuthority::from_pem(&leaf.cert_pem, &leaf.key_pem),
            Err(PkiError::NotACa)
        ));
    }

    #[test]
    fn server_certificate_verifies_against_the_ca() {
        let ca = ca();
        let names = vec![
            "sextant.example".to_owned(),
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let issued = ca.issue_server_certificate(&names, 30 * DAY).unwrap();

        for name in &names {
            verify(&ca, &issued.cert_pem, name).unwrap();
        }
        assert!(verify(&ca, &issued.cert_pem, "other.example").is_err());
        // A different CA must not accept it.
        assert!(verify(&self::tests::ca(), &issued.cert_pem, "localhost").is_err());

        let der = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert!(!parsed.is_ca());
        assert!(
            parsed.basic_constraints().unwrap().is_some(),
            "explicitly not a CA"
        );
        assert_eq!(
            parsed.subject().to_string(),
            "CN=sextant.example, O=Sextant"
        );
        let eku = parsed.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth);

        let summary = certificate_summary(&issued.cert_pem).unwrap();
        assert_eq!(summary.names, names);

        // The key that came with it is the certificate's key.
        let key = KeyPair::from_pem(&issued.key_pem).unwrap();
        assert_eq!(key.subject_public_key_info(), parsed.public_key().raw);
    }

    #[test]
    fn server_certificate_needs_valid_names_and_validity() {
        let ca = ca();
        assert!(matches!(
            ca.issue_server_certificate(&[], DAY),
            Err(PkiError::NoNames)
        ));
        assert!(matches!(
            ca.issue_server_certificate(&["bad name!".to_owned()], DAY),
            Err(PkiError::InvalidName { .. })
        ));
        assert!(matches!(
            ca.issue_server_certificate(&["bücher.example".to_owned()], DAY),
            Err(PkiError::InvalidName { .. })
        ));
        ca.issue_server_certificate(&["*.wild.example".to_owned()], DAY)
            .unwrap();
        assert!(matches!(
            ca.issue_server_certificate(&["ok.example".to_owned()], Duration::ZERO),
            Err(PkiError::InvalidValidity { .. })
        ));
        assert!(matches!(
            ca.issue_server_certificate(&["ok.example".to_owned()], Duration::MAX),
            Err(PkiError::InvalidValidity { .. })
        ));
    }
}
