//! Certificate revocation lists of the CA.

use std::time::Duration;

use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use time::OffsetDateTime;

use crate::{CertificateAuthority, PkiError};

impl CertificateAuthority {
    /// A CRL (DER) listing `revoked` (serial, revocation time), valid from now until
    /// `now + next_update`, numbered `number` (higher for newer lists).
    pub fn crl(
        &self,
        revoked: &[(Vec<u8>, OffsetDateTime)],
        number: u64,
        next_update: Duration,
    ) -> Result<Vec<u8>, PkiError> {
        let now = OffsetDateTime::now_utc();
        let next =
            time::Duration::try_from(next_update).map_err(|_| PkiError::InvalidValidity {
                validity: next_update,
            })?;
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: now + next,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|(serial, at)| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(serial),
                    revocation_time: *at,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(self.issuer()).map_err(PkiError::Signing)?;
        Ok(crl.der().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use x509_parser::prelude::FromDer;

    use super::*;
    use crate::generate_ca;

    #[test]
    fn lists_the_revoked_serials_signed_by_the_ca() {
        let generated = generate_ca("test CA", Duration::from_secs(3600)).unwrap();
        let ca = CertificateAuthority::from_pem(&generated.cert_pem, &generated.key_pem).unwrap();
        let at = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        let der = ca
            .crl(&[(vec![0x41, 2, 3], at)], 7, Duration::from_secs(300))
            .unwrap();
        let (_, crl) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(&der).unwrap();
        let serials: Vec<Vec<u8>> = crl
            .iter_revoked_certificates()
            .map(|r| r.raw_serial().to_vec())
            .collect();
        assert_eq!(serials, vec![vec![0x41, 2, 3]]);
        let ca_der = ca.cert_der();
        let (_, ca_cert) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        assert!(crl.verify_signature(ca_cert.public_key()).is_ok());
        assert!(
            ca.crl(&[], 8, Duration::from_secs(300)).is_ok(),
            "an empty list"
        );
    }
}
