//! Certificate serial numbers and validity windows shared by everything the CA signs.

use std::time::Duration;

use rcgen::SerialNumber;
use time::OffsetDateTime;

use crate::PkiError;

/// Length of generated serials. 16 bytes is well above the 64 bits of entropy the CA/Browser
/// Forum asks for and well below RFC 5280's 20-octet limit.
const SERIAL_LEN: usize = 16;

/// How far `not_before` is moved into the past, so that peers whose clock runs a little
/// behind ours accept a certificate that was just issued.
const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// A random, positive serial that always encodes as exactly [`SERIAL_LEN`] bytes.
///
/// The top bit is cleared so DER needs no leading zero byte (the number stays positive), and
/// the next bit is set so the first byte is never zero (which DER would strip). Both keep the
/// serial we store byte-for-byte equal to the one in the certificate, which CRLs rely on.
pub(crate) fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; SERIAL_LEN];
    rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| PkiError::Random)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// `(not_before, not_after)` for a certificate valid for `validity` from now.
pub(crate) fn validity_window(
    validity: Duration,
) -> Result<(OffsetDateTime, OffsetDateTime), PkiError> {
    let invalid = || PkiError::InvalidValidity { validity };
    if validity.is_zero() {
        return Err(invalid());
    }
    let now = OffsetDateTime::now_utc();
    let not_after = time::Duration::try_from(validity)
        .ok()
        .and_then(|v| now.checked_add(v))
        // X.509 GeneralizedTime cannot go past year 9999.
        .filter(|t| t.year() <= 9999)
        .ok_or_else(invalid)?;
    Ok((now - CLOCK_SKEW, not_after))
}
