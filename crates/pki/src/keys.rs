//! The ES256 key pair used to sign JWTs.

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256};

use crate::PkiError;

/// A fresh P-256 key pair for signing JWTs (ES256).
///
/// Returns `(private key as PKCS#8 PEM, public key as SubjectPublicKeyInfo PEM)`.
pub fn generate_signing_key() -> Result<(String, String), PkiError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(PkiError::KeyGeneration)?;
    Ok((key.serialize_pem(), key.public_key_pem()))
}

/// The SubjectPublicKeyInfo PEM for a PKCS#8 private key PEM, to reload a signing key from disk.
///
/// Only P-256 keys are accepted: they are the only ones that can sign ES256, so anything else
/// is a misconfiguration better reported here than at the first token.
pub fn public_key_pem(private_pkcs8_pem: &str) -> Result<String, PkiError> {
    let key = KeyPair::from_pkcs8_pem_and_sign_algo(private_pkcs8_pem, &PKCS_ECDSA_P256_SHA256)
        .map_err(PkiError::InvalidPrivateKey)?;
    Ok(key.public_key_pem())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_key_round_trip() {
        let (private_pem, public_pem) = generate_signing_key().unwrap();
        assert!(private_pem.contains("-----BEGIN PRIVATE KEY-----"));
        assert!(public_pem.contains("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(public_key_pem(&private_pem).unwrap(), public_pem);
    }

    #[test]
    fn garbage_private_key_is_an_error() {
        assert!(matches!(
            public_key_pem("not a key"),
            Err(PkiError::InvalidPrivateKey(_))
        ));
    }
}
