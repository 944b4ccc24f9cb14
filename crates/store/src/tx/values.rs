//! How values without a column type common to both backends are stored: times as
//! microseconds since the epoch (a 64-bit integer on both).

use crate::error::StoreError;

pub(crate) fn to_micros(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

pub(crate) fn from_micros(us: i64) -> Result<time::OffsetDateTime, StoreError> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {us}: {e}")))
}
