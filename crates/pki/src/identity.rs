//! What a client certificate presented on the mTLS listener claims: its client id (the CN)
//! and its serial. The caller still has to check both against what the CA recorded.

/// Why a client certificate names no client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The bytes are not one DER certificate.
    #[error("the client certificate cannot be read")]
    Unreadable,
    /// The subject has no CN, or the CN is not a client id.
    #[error("the client certificate names no client")]
    NoClient,
}

/// The identity a client certificate claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedIdentity {
    /// The CN, parsed as the client id (a UUID).
    pub client_id: uuid::Uuid,
    /// The serial number's bytes as in the certificate (and in the CA's records and CRLs).
    pub serial: Vec<u8>,
}

/// Reads the identity a DER client certificate claims. Any input, however malformed, gives an
/// answer or an error; nothing is trusted here beyond parsing (the TLS layer verified the
/// chain, the caller checks the records).
pub fn client_certificate_identity(der: &[u8]) -> Result<ClaimedIdentity, IdentityError> {
    let (rest, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|_| IdentityError::Unreadable)?;
    if !rest.is_empty() {
        return Err(IdentityError::Unreadable);
    }
    let mut names = cert.subject().iter_common_name();
    let client_id = match (names.next(), names.next()) {
        // Exactly one CN: a second one could make two readers disagree on who this is.
        (Some(cn), None) => cn
            .as_str()
            .ok()
            .and_then(|cn| uuid::Uuid::parse_str(cn).ok())
            .ok_or(IdentityError::NoClient)?,
        _ => return Err(IdentityError::NoClient),
    };
    Ok(ClaimedIdentity {
        client_id,
        serial: cert.raw_serial().to_vec(),
    })
}
