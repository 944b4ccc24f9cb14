//! Signing a client's certificate signing request (the Connector's job).
//!
//! The CA trusts nothing in a CSR but the public key and the proof that the requester holds
//! its private key (the CSR's signature). It checks that the requested subject is exactly
//! the one it handed out, then sets every security-relevant field itself: not a CA,
//! digitalSignature and clientAuth only, no names or other extensions, a random serial, the
//! validity of its policy, the subject of the pairing record.

use std::time::Duration;

use rcgen::{
    CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose,
};
use rustls_pki_types::CertificateSigningRequestDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use x509_parser::prelude::FromDer;

use crate::CertificateAuthority;
use crate::serial::{random_serial, validity_window};

/// The largest CSR accepted, PEM encoded.
pub const MAX_CSR_PEM_BYTES: usize = 16 * 1024;

/// The subject a client certificate gets, and a CSR must ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSubject {
    /// The client id (the system auth that was paired).
    pub common_name: String,
    pub organization: String,
    pub organizational_unit: String,
    pub locality: String,
    pub province: String,
    pub country: String,
}

impl ClientSubject {
    /// The subject as Compass's Connector writes it in `certificateSigningRequestInfo`:
    /// `O=…,OU=…,L=…,ST=…,C=…,CN=…`.
    pub fn to_compass_string(&self) -> String {
        format!(
            "O={},OU={},L={},ST={},C={},CN={}",
            self.organization,
            self.organizational_unit,
            self.locality,
            self.province,
            self.country,
            self.common_name
        )
    }

    fn distinguished_name(&self) -> DistinguishedName {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, self.organization.as_str());
        dn.push(
            DnType::OrganizationalUnitName,
            self.organizational_unit.as_str(),
        );
        dn.push(DnType::LocalityName, self.locality.as_str());
        dn.push(DnType::StateOrProvinceName, self.province.as_str());
        dn.push(DnType::CountryName, self.country.as_str());
        dn.push(DnType::CommonName, self.common_name.as_str());
        dn
    }

    /// The expected value of each attribute, by its short name and OID.
    fn expected(&self) -> [(&'static str, &'static [u64], &str); 6] {
        [
            ("CN", &[2, 5, 4, 3], &self.common_name),
            ("O", &[2, 5, 4, 10], &self.organization),
            ("OU", &[2, 5, 4, 11], &self.organizational_unit),
            ("L", &[2, 5, 4, 7], &self.locality),
            ("ST", &[2, 5, 4, 8], &self.province),
            ("C", &[2, 5, 4, 6], &self.country),
        ]
    }
}

/// The key of a CSR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKey {
    EcdsaP256,
    Rsa { bits: usize },
}

/// A certificate the CA issued for a client.
#[derive(Clone, Debug, PartialEq)]
pub struct IssuedCertificate {
    /// The certificate (`CERTIFICATE` PEM block).
    pub cert_pem: String,
    /// The serial number, big-endian, as in the certificate (and in CRLs).
    pub serial: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub key: ClientKey,
}

/// Why a CSR was refused. The messages are for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    #[error("CSR: it is larger than {MAX_CSR_PEM_BYTES} bytes")]
    TooLarge,
    #[error("CSR: not a PEM-encoded CERTIFICATE REQUEST")]
    NotPem,
    #[error("CSR: it cannot be parsed")]
    Unparsable,
    #[error("CSR: its signature is not valid")]
    BadSignature,
    #[error(
        "CSR: unsupported key: {0}; use ECDSA P-256 or RSA with 2048 to 4096 bits and exponent 65537"
    )]
    UnsupportedKey(String),
    #[error("CSR: Invalid common name provided.")]
    WrongCommonName,
    #[error("CSR: invalid subject: {0}")]
    WrongSubject(String),
    #[error("CSR: {0}")]
    Unsupported(String),
    #[error("the certificate could not be signed")]
    Signing,
}

/// The key of a CSR's subject public key info, if it is one the CA accepts.
pub(crate) fn client_key(
    info: &x509_parser::x509::SubjectPublicKeyInfo<'_>,
) -> Result<ClientKey, CsrError> {
    use x509_parser::public_key::PublicKey;
    const P256: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
    match info.parsed() {
        Ok(PublicKey::EC(_)) => {
            let curve = info
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .and_then(|oid| oid.iter().map(|arcs| arcs.collect::<Vec<u64>>()));
            if curve.as_deref() == Some(P256) {
                Ok(ClientKey::EcdsaP256)
            } else {
                Err(CsrError::UnsupportedKey(
                    "an elliptic curve other than P-256".into(),
                ))
            }
        }
        Ok(PublicKey::RSA(rsa)) => {
            // 65537 only, as the Web PKI requires: small exponents (3) invite attacks on
            // padding, and odd ones are a sign of a home-made key.
            if rsa.try_exponent().ok() != Some(65537) {
                return Err(CsrError::UnsupportedKey(
                    "RSA with a public exponent other than 65537".into(),
                ));
            }
            let bits = modulus_bits(rsa.modulus);
            if (2048..=4096).contains(&bits) {
                Ok(ClientKey::Rsa { bits })
            } else {
                Err(CsrError::UnsupportedKey(format!("RSA with {bits} bits")))
            }
        }
        Ok(_) => Err(CsrError::UnsupportedKey("this key type".into())),
        Err(_) => Err(CsrError::Unparsable),
    }
}

/// The size of an RSA modulus in bits, counted from its most significant set bit (x509-parser's
/// `key_size` assumes a leading zero byte and undercounts moduli whose size is not a multiple
/// of 8, which would let a 4100-bit key pass as 4096).
fn modulus_bits(modulus: &[u8]) -> usize {
    let significant = match modulus.iter().position(|&b| b != 0) {
        Some(first) => &modulus[first..],
        None => return 0,
    };
    let top = significant.first().copied().unwrap_or(0);
    8 * significant.len() - top.leading_zeros() as usize
}

/// Checks that the requested subject is exactly `expected`: the six attributes, each once,
/// nothing else.
fn check_subject(
    subject: &x509_parser::x509::X509Name<'_>,
    expected: &ClientSubject,
) -> Result<(), CsrError> {
    let mut seen: Vec<(Vec<u64>, String)> = Vec::new();
    for attribute in subject.iter_attributes() {
        let oid: Vec<u64> = attribute
            .attr_type()
            .iter()
            .map(|arcs| arcs.collect())
            .ok_or(CsrError::Unparsable)?;
        let value = attribute
            .as_str()
            .map_err(|_| CsrError::WrongSubject("an attribute is not a string".into()))?;
        if seen.iter().any(|(o, _)| *o == oid) {
            return Err(CsrError::WrongSubject("an attribute is given twice".into()));
        }
        seen.push((oid, value.to_owned()));
    }
    for (name, oid, want) in expected.expected() {
        let found = seen
            .iter()
            .find(|(o, _)| o.as_slice() == oid)
            .map(|(_, v)| v);
        match found {
            Some(v) if v == want => {}
            _ if name == "CN" => return Err(CsrError::WrongCommonName),
            Some(v) => {
                return Err(CsrError::WrongSubject(format!(
                    "{name} must be {want:?}, not {v:?}"
                )));
            }
            None => return Err(CsrError::WrongSubject(format!("{name} is missing"))),
        }
    }
    if seen.len() != 6 {
        return Err(CsrError::WrongSubject(
            "only CN, O, OU, L, ST and C may be given".into(),
        ));
    }
    Ok(())
}

impl CertificateAuthority {
    /// Signs a client's CSR (PEM) for `expected`, valid for `validity`.
    pub fn sign_client_csr(
        &self,
        csr_pem: &str,
        expected: &ClientSubject,
        validity: Duration,
    ) -> Result<IssuedCertificate, CsrError> {
        if csr_pem.len() > MAX_CSR_PEM_BYTES {
            return Err(CsrError::TooLarge);
        }
        let der = CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())
            .map_err(|_| CsrError::NotPem)?;
        // Read key and subject first: an oversized or exotic key is refused before any
        // signature is verified with it.
        let (rest, parsed) =
            x509_parser::certification_request::X509CertificationRequest::from_der(der.as_ref())
                .map_err(|_| CsrError::Unparsable)?;
        // Exactly one CSR: trailing bytes would be ignored by one parser and not another.
        if !rest.is_empty() {
            return Err(CsrError::Unparsable);
        }
        let info = &parsed.certification_request_info;
        let key = client_key(&info.subject_pki)?;
        check_subject(&info.subject, expected)?;
        let mut request = CertificateSigningRequestParams::from_der(&der).map_err(|e| match e {
            rcgen::Error::InvalidCertificationRequestSignature => CsrError::BadSignature,
            rcgen::Error::UnsupportedExtension => {
                CsrError::Unsupported("it requests an extension the CA does not support".into())
            }
            rcgen::Error::UnsupportedSignatureAlgorithm => {
                CsrError::UnsupportedKey("its signature algorithm".into())
            }
            _ => CsrError::Unparsable,
        })?;

        let (not_before, not_after) = validity_window(validity).map_err(|_| CsrError::Signing)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = expected.distinguished_name();
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let serial = random_serial().map_err(|_| CsrError::Signing)?;
        params.serial_number = Some(serial.clone());
        params.not_before = not_before;
        params.not_after = not_after;
        params.use_authority_key_identifier_extension = true;
        request.params = params;
        let cert = request
            .signed_by(self.issuer())
            .map_err(|_| CsrError::Signing)?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            serial: serial.to_bytes(),
            not_before,
            not_after,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PublicKeyData};

    use super::*;
    use crate::generate_ca;

    fn subject(cn: &str) -> ClientSubject {
        ClientSubject {
            common_name: cn.into(),
            organization: "Org".into(),
            organizational_unit: "OrgUnit".into(),
            locality: "Locality".into(),
            province: "State".into(),
            country: "DE".into(),
        }
    }

    fn ca() -> CertificateAuthority {
        let ca = generate_ca("test CA", Duration::from_secs(3600)).unwrap();
        CertificateAuthority::from_pem(&ca.cert_pem, &ca.key_pem).unwrap()
    }

    fn csr(
        key: &KeyPair,
        subject: &ClientSubject,
        tweak: impl FnOnce(&mut CertificateParams),
    ) -> String {
        let mut params = CertificateParams::default();
        params.distinguished_name = subject.distinguished_name();
        tweak(&mut params);
        params.serialize_request(key).unwrap().pem().unwrap()
    }

    fn p256() -> KeyPair {
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
    }

    #[test]
    fn signs_a_p256_csr_with_fields_of_its_own() {
        let ca = ca();
        let key = p256();
        let wanted = subject("client-1");
        // The CSR asks to be a CA, for a server name and for every key usage.
        let pem = csr(&key, &wanted, |p| {
            p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            p.subject_alt_names = vec![rcgen::SanType::DnsName(
                "evil.example.com".try_into().unwrap(),
            )];
        });
        let issued = ca
            .sign_client_csr(&pem, &wanted, Duration::from_secs(90 * 86400))
            .unwrap();
        assert_eq!(issued.key, ClientKey::EcdsaP256);
        let der =
            rustls_pki_types::CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert!(!cert.is_ca(), "the CSR's CA request is ignored");
        assert_eq!(
            cert.subject().to_string(),
            "O=Org, OU=OrgUnit, L=Locality, ST=State, C=DE, CN=client-1"
        );
        assert_eq!(cert.raw_serial(), issued.serial.as_slice());
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth);
        let ku = cert.key_usage().unwrap().unwrap().value;
        assert!(ku.digital_signature() && !ku.key_cert_sign() && !ku.crl_sign());
        assert!(
            cert.subject_alternative_name().unwrap().is_none(),
            "no names from the CSR"
        );
        assert_eq!(
            cert.public_key().raw,
            key.subject_public_key_info().as_slice()
        );
        assert!(
            cert.verify_signature(Some(
                x509_parser::parse_x509_certificate(&ca.cert_der())
                    .unwrap()
                    .1
                    .public_key()
            ))
            .is_ok()
        );
        assert_eq!(
            wanted.to_compass_string(),
            "O=Org,OU=OrgUnit,L=Locality,ST=State,C=DE,CN=client-1"
        );
    }

    #[test]
    fn refuses_wrong_subjects_keys_and_garbage() {
        let ca = ca();
        let wanted = subject("client-1");
        let day = Duration::from_secs(86400);
        let sign = |pem: &str| ca.sign_client_csr(pem, &wanted, day);

        assert_eq!(
            sign(&csr(&p256(), &subject("other"), |_| {})),
            Err(CsrError::WrongCommonName)
        );
        let mut wrong_org = wanted.clone();
        wrong_org.organization = "Evil".into();
        assert!(matches!(
            sign(&csr(&p256(), &wrong_org, |_| {})),
            Err(CsrError::WrongSubject(_))
        ));
        let extra = csr(&p256(), &wanted, |p| {
            p.distinguished_name
                .push(DnType::CustomDnType(vec![2, 5, 4, 5]), "42");
        });
        assert!(matches!(sign(&extra), Err(CsrError::WrongSubject(_))));
        let p384 = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap();
        assert!(matches!(
            sign(&csr(&p384, &wanted, |_| {})),
            Err(CsrError::UnsupportedKey(_))
        ));
        assert_eq!(sign("not a csr"), Err(CsrError::NotPem));
        assert_eq!(
            sign(&"A".repeat(MAX_CSR_PEM_BYTES + 1)),
            Err(CsrError::TooLarge)
        );
        let garbage =
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
        assert_eq!(sign(garbage), Err(CsrError::Unparsable));

        // A valid CSR with one byte of its signature changed.
        let good = csr(&p256(), &wanted, |_| {});
        let der = CertificateSigningRequestDer::from_pem_slice(good.as_bytes()).unwrap();
        let mut bytes = der.as_ref().to_vec();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x55;
        let pem = format!(
            "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
            base64_lines(&bytes)
        );
        assert!(matches!(
            sign(&pem),
            Err(CsrError::BadSignature | CsrError::Unparsable)
        ));
    }

    #[test]
    fn accepts_rsa_2048() {
        let ca = ca();
        let wanted = subject("rsa-client");
        let key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let issued = ca
            .sign_client_csr(
                &csr(&key, &wanted, |_| {}),
                &wanted,
                Duration::from_secs(3600),
            )
            .unwrap();
        assert_eq!(issued.key, ClientKey::Rsa { bits: 2048 });
    }

    #[test]
    fn refuses_rsa_exponents_other_than_65537() {
        let ca = ca();
        let wanted = subject("rsa-client");
        let key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let pem = csr(&key, &wanted, |_| {});
        let der = CertificateSigningRequestDer::from_pem_slice(pem.as_bytes()).unwrap();
        // The exponent ends the RSAPublicKey: INTEGER 65537 (02 03 01 00 01). Change it in
        // place, keeping the encoding's length; the key is checked before the signature.
        let encoded = [0x02, 0x03, 0x01, 0x00, 0x01];
        for replacement in [
            [0x02, 0x03, 0x01, 0x00, 0x03],
            [0x02, 0x03, 0x00, 0xff, 0xff],
        ] {
            let mut bytes = der.as_ref().to_vec();
            let at = bytes
                .windows(encoded.len())
                .position(|w| w == encoded)
                .unwrap();
            bytes[at..at + encoded.len()].copy_from_slice(&replacement);
            let pem = format!(
                "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
                base64_lines(&bytes)
            );
            let refused = ca.sign_client_csr(&pem, &wanted, Duration::from_secs(3600));
            assert!(
                matches!(
                    &refused,
                    Err(CsrError::UnsupportedKey(m)) if m.contains("65537")
                ),
                "{replacement:02x?}: {refused:?}"
            );
        }
    }

    proptest::proptest! {
        /// No input crashes the signer or gets a certificate: random text, and valid CSRs
        /// with random bytes flipped.
        #[test]
        fn arbitrary_input_is_refused_cleanly(text in "\\PC{0,300}", flips in proptest::collection::vec((0usize..2000, 1u8..=255), 1..4)) {
            let ca = ca();
            let wanted = subject("client-1");
            let day = Duration::from_secs(86400);
            let wrapped = format!("-----BEGIN CERTIFICATE REQUEST-----\n{text}\n-----END CERTIFICATE REQUEST-----\n");
            proptest::prop_assert!(ca.sign_client_csr(&text, &wanted, day).is_err());
            proptest::prop_assert!(ca.sign_client_csr(&wrapped, &wanted, day).is_err());
            let good = csr(&p256(), &wanted, |_| {});
            let der = CertificateSigningRequestDer::from_pem_slice(good.as_bytes()).unwrap();
            let mut bytes = der.as_ref().to_vec();
            for (at, x) in flips {
                let i = at % bytes.len();
                bytes[i] ^= x;
            }
            let pem = format!("-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n", base64_lines(&bytes));
            // A flipped byte may land where it changes nothing that is checked (inside an
            // ignored field); whatever is signed must still be exactly the expected subject.
            if let Ok(issued) = ca.sign_client_csr(&pem, &wanted, day) {
                let der = rustls_pki_types::CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
                let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
                proptest::prop_assert!(!cert.is_ca());
                proptest::prop_assert!(cert.subject().to_string().ends_with("CN=client-1"));
            }
        }
    }

    fn base64_lines(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
