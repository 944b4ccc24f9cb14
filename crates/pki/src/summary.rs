//! Reading back what matters about a stored certificate.

use std::fmt::Write as _;
use std::net::IpAddr;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;

use crate::PkiError;

/// The facts about a certificate that decide whether it must be re-issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateSummary {
    /// Start of the validity period.
    pub not_before: OffsetDateTime,
    /// End of the validity period.
    pub not_after: OffsetDateTime,
    /// The DNS and IP subject alternative names, in certificate order. IP addresses use
    /// their canonical text form (`127.0.0.1`, `::1`); other SAN kinds are left out.
    pub names: Vec<String>,
    /// The serial number as lowercase hex without separators or leading zero bytes.
    pub serial_hex: String,
}

/// Parses the first certificate of a PEM string and summarises it.
pub fn certificate_summary(cert_pem: &str) -> Result<CertificateSummary, PkiError> {
    let der =
        CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(PkiError::CertificatePem)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(PkiError::from_x509)?;

    let validity = cert.validity();
    let names = match cert
        .subject_alternative_name()
        .map_err(PkiError::CertificateParse)?
    {
        Some(san) => san
            .value
            .general_names
            .iter()
            .filter_map(san_to_string)
            .collect(),
        None => Vec::new(),
    };

    Ok(CertificateSummary {
        not_before: validity.not_before.to_datetime(),
        not_after: validity.not_after.to_datetime(),
        names,
        serial_hex: serial_hex(cert.raw_serial()),
    })
}

fn san_to_string(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::DNSName(dns) => Some((*dns).to_owned()),
        GeneralName::IPAddress(bytes) => {
            let ip = match bytes.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(*bytes).ok()?),
                16 => IpAddr::from(<[u8; 16]>::try_from(*bytes).ok()?),
                // IP SANs with another length are malformed; they cannot match a name anyway.
                _ => return None,
            };
            Some(ip.to_string())
        }
        _ => None,
    }
}

/// Hex of a DER integer's content bytes. The leading zero bytes DER adds to keep a number
/// positive are dropped so the same serial always prints the same way.
pub(crate) fn serial_hex(raw: &[u8]) -> String {
    let first_significant = raw
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    let mut hex = String::with_capacity(raw.len() * 2);
    for byte in raw.get(first_significant..).unwrap_or_default() {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_pem_is_an_error() {
        assert!(matches!(
            certificate_summary("this is not a certificate"),
            Err(PkiError::CertificatePem(_))
        ));
    }

    #[test]
    fn pem_with_garbage_der_is_an_error() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            certificate_summary(pem),
            Err(PkiError::CertificateParse(_))
        ));
    }

    #[test]
    fn serial_hex_drops_sign_padding() {
        assert_eq!(serial_hex(&[0x00, 0x80, 0x01]), "8001");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[0x7f, 0x00]), "7f00");
    }
}
