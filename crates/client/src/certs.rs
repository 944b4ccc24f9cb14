//! Keys, CSRs and certificates: the subject the Connector asks for, a P-256 key and its CSR,
//! what a certificate says (serial, validity window), and SHA-256.

use base64::Engine as _;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A client certificate, as far as its holder cares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateInfo {
    /// The serial number, lowercase hex.
    pub serial: String,
    /// Valid from.
    #[serde(with = "rfc3339")]
    pub not_before: OffsetDateTime,
    /// Valid until.
    #[serde(with = "rfc3339")]
    pub not_after: OffsetDateTime,
}

impl CertificateInfo {
    /// When to renew it: at two thirds of its lifetime.
    pub fn renew_at(&self) -> OffsetDateTime {
        self.not_before + (self.not_after - self.not_before) * 2 / 3
    }
}

/// Why a key, CSR or certificate cannot be made or read.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// The subject the Connector named cannot be turned into a CSR.
    #[error("the subject {subject:?} is not understood: {reason}")]
    Subject {
        /// The subject.
        subject: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Key or CSR generation failed.
    #[error("cannot make a key or CSR: {0}")]
    Generate(String),
    /// A certificate or bundle is not what it should be.
    #[error("bad certificate: {0}")]
    Certificate(String),
}

/// Parses a Compass subject (`O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=<id>`) into
/// distinguished-name attributes, in that order. `\,` and `\\` escape a comma and a
/// backslash in a value.
pub fn parse_subject(subject: &str) -> Result<DistinguishedName, CertError> {
    let bad = |reason: &str| CertError::Subject {
        subject: subject.to_owned(),
        reason: reason.to_owned(),
    };
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = subject.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) => current.push(escaped),
                None => return Err(bad("ends with a lone backslash")),
            },
            ',' => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    let mut dn = DistinguishedName::new();
    let mut seen = Vec::new();
    for part in parts {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| bad("a part is not NAME=value"))?;
        let ty = match name.trim() {
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            "L" => DnType::LocalityName,
            "ST" => DnType::StateOrProvinceName,
            "C" => DnType::CountryName,
            "CN" => DnType::CommonName,
            _ => return Err(bad(&format!("unknown attribute {:?}", name.trim()))),
        };
        if seen.contains(&ty) {
            return Err(bad(&format!("{} is given twice", name.trim())));
        }
        if value.is_empty() {
            return Err(bad(&format!("{} is empty", name.trim())));
        }
        seen.push(ty.clone());
        dn.push(ty, value);
    }
    if !seen.contains(&DnType::CommonName) {
        return Err(bad("it has no CN"));
    }
    Ok(dn)
}

/// A new P-256 key and a CSR for `subject`: the key (PKCS#8 PEM) and the CSR as the Connector
/// wants it (base64 of PEM).
pub fn key_and_csr(subject: &str) -> Result<(KeyPair, String), CertError> {
    let dn = parse_subject(subject)?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| CertError::Generate(e.to_string()))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    let csr = params
        .serialize_request(&key)
        .and_then(|csr| csr.pem())
        .map_err(|e| CertError::Generate(e.to_string()))?;
    Ok((
        key,
        base64::engine::general_purpose::STANDARD.encode(csr.as_bytes()),
    ))
}

/// Decodes a base64 PEM field of the Connector's answer.
pub fn decode_pem_field(field: &str, value: &str) -> Result<String, CertError> {
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| CertError::Certificate(format!("{field} is not base64 of PEM")))
}

/// Reads the first certificate of a PEM text: its serial and validity window, and checks that
/// it certifies `key_pem`'s public key (when given).
pub fn certificate_info(
    cert_pem: &str,
    key_pem: Option<&str>,
) -> Result<CertificateInfo, CertError> {
    let bad = |m: String| CertError::Certificate(m);
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .map_err(|e| bad(format!("not PEM: {e}")))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| bad(format!("not an X.509 certificate: {e}")))?;
    let time = |t: &x509_parser::time::ASN1Time| {
        OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|e| bad(e.to_string()))
    };
    let info = CertificateInfo {
        serial: hex(cert.raw_serial()),
        not_before: time(&cert.validity().not_before)?,
        not_after: time(&cert.validity().not_after)?,
    };
    if info.not_after <= info.not_before {
        return Err(bad("its validity window is empty".into()));
    }
    if let Some(key_pem) = key_pem {
        let key = KeyPair::from_pem(key_pem).map_err(|e| bad(format!("unreadable key: {e}")))?;
        if key.public_key_raw() != cert.public_key().subject_public_key.data.as_ref() {
            return Err(bad("it does not certify the key".into()));
        }
    }
    Ok(info)
}

/// Checks that a CA bundle holds at least one certificate, and every block is one.
pub fn check_ca_bundle(ca_pem: &str) -> Result<usize, CertError> {
    let mut count = 0;
    for pem in x509_parser::pem::Pem::iter_from_buffer(ca_pem.as_bytes()) {
        let pem = pem.map_err(|e| CertError::Certificate(format!("CA bundle: {e}")))?;
        pem.parse_x509()
            .map_err(|e| CertError::Certificate(format!("CA bundle: {e}")))?;
        count += 1;
    }
    if count == 0 {
        return Err(CertError::Certificate("the CA bundle is empty".into()));
    }
    Ok(count)
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// Whether `name` is 64 lowercase hex digits (a spec's name).
pub fn is_sha256_hex(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// RFC 3339 (de)serialization of `OffsetDateTime` (`#[serde(with = "…::certs::rfc3339")]`).
pub mod rfc3339 {
    use serde::{Deserialize as _, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    /// Writes the time as RFC 3339 text.
    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = t.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    /// Reads RFC 3339 text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBJECT: &str =
        "O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=0b1e8c1e-38a2-4b8e-9f3e-1c2d3e4f5a6b";

    #[test]
    fn parses_the_compass_subject_in_order() {
        let dn = parse_subject(SUBJECT).unwrap();
        let types: Vec<DnType> = dn.iter().map(|(ty, _)| ty.clone()).collect();
        assert_eq!(
            types,
            vec![
                DnType::OrganizationName,
                DnType::OrganizationalUnitName,
                DnType::LocalityName,
                DnType::StateOrProvinceName,
                DnType::CountryName,
                DnType::CommonName
            ]
        );
        let escaped = parse_subject("O=Acme\\, Inc.,CN=x").unwrap();
        assert_eq!(
            escaped.get(&DnType::OrganizationName),
            Some(&rcgen::DnValue::Utf8String("Acme, Inc.".into()))
        );
    }

    #[test]
    fn refuses_subjects_it_does_not_understand() {
        for bad in [
            "",
            "O=Org",
            "O=Org,CN=",
            "X=1,CN=a",
            "CN=a,CN=b",
            "O=Org,CN=a\\",
            "garbage",
        ] {
            assert!(parse_subject(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn csr_carries_the_subject_and_the_key() {
        use rcgen::PublicKeyData as _;
        let (key, csr_b64) = key_and_csr(SUBJECT).unwrap();
        let pem = decode_pem_field("csr", &csr_b64).unwrap();
        let parsed = rcgen::CertificateSigningRequestParams::from_pem(&pem).unwrap();
        assert_eq!(parsed.public_key.der_bytes(), key.public_key_raw());
        let types: Vec<DnType> = parsed
            .params
            .distinguished_name
            .iter()
            .map(|(ty, _)| ty.clone())
            .collect();
        assert_eq!(types.len(), 6);
        assert_eq!(types[5], DnType::CommonName);
    }

    #[test]
    fn reads_a_certificate_and_checks_its_key() {
        use rcgen::PublicKeyData as _;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        params.not_before = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        params.not_after = OffsetDateTime::from_unix_timestamp(1_700_000_900).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = certificate_info(&cert.pem(), Some(&key.serialize_pem())).unwrap();
        assert_eq!(info.not_before.unix_timestamp(), 1_700_000_000);
        assert_eq!(info.renew_at().unix_timestamp(), 1_700_000_600);
        let other = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        assert!(certificate_info(&cert.pem(), Some(&other.serialize_pem())).is_err());
        assert!(!key.der_bytes().is_empty());
        assert_eq!(
            check_ca_bundle(&format!("{}{}", cert.pem(), cert.pem())).unwrap(),
            2
        );
        assert!(check_ca_bundle("").is_err());
    }

    #[test]
    fn hashes() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(is_sha256_hex(&sha256_hex(b"")));
        assert!(!is_sha256_hex("../../etc/passwd"));
        assert!(!is_sha256_hex(&sha256_hex(b"").to_uppercase()));
    }
}
