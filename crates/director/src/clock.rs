//! The store's clock: the current time at the precision the store keeps.

use time::OffsetDateTime;

/// The current time at the precision the store keeps (microseconds), so that what a mutation
/// returns equals what a later query reads.
pub fn now_micros() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}
