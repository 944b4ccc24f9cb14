//! Exponential backoff with full jitter: the n-th retry (from 0) waits a uniformly random time
//! up to `min(cap, base · 2ⁿ)`, but never less than a floor, so that failures never turn into
//! a tight loop and many agents do not retry in lockstep.

use std::time::Duration;

/// The first retry waits up to this.
pub const BASE: Duration = Duration::from_secs(1);
/// No retry waits more than this.
pub const CAP: Duration = Duration::from_secs(30);
/// No retry waits less than this.
pub const FLOOR: Duration = Duration::from_millis(100);

/// The delays of successive retries.
#[derive(Debug)]
pub(crate) struct Backoff {
    attempt: u32,
    base: Duration,
    cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(BASE, CAP)
    }
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            attempt: 0,
            base,
            cap,
        }
    }

    /// The upper bound of the next delay.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let fraction = random_fraction();
        ceiling.mul_f64(fraction).max(FLOOR.min(ceiling))
    }

    /// After a success: the next failure starts over.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A uniformly random number in [0, 1).
fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // Without randomness, the midpoint: still bounded and growing.
        return 0.5;
    }
    // 53 random bits: every value is exactly representable.
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_jitter_and_a_floor() {
        let mut backoff = Backoff::default();
        let ceilings: Vec<u64> = (0..8)
            .map(|_| {
                let ceiling = backoff.ceiling();
                let delay = backoff.next_delay();
                assert!(
                    delay <= ceiling && delay >= FLOOR,
                    "{delay:?} ≤ {ceiling:?}"
                );
                ceiling.as_secs()
            })
            .collect();
        assert_eq!(ceilings, vec![1, 2, 4, 8, 16, 30, 30, 30]);
        for _ in 0..100 {
            backoff.next_delay();
        }
        assert_eq!(backoff.ceiling(), CAP);
        backoff.reset();
        assert_eq!(backoff.ceiling(), BASE);
    }

    #[test]
    fn jitter_spreads_the_delays() {
        let mut delays: Vec<Duration> = (0..50)
            .map(|_| Backoff::new(Duration::from_secs(30), CAP).next_delay())
            .collect();
        delays.sort();
        delays.dedup();
        assert!(delays.len() > 40, "full jitter: different delays");
        assert!(delays.iter().any(|d| *d < Duration::from_secs(15)));
        assert!(delays.iter().any(|d| *d > Duration::from_secs(15)));
    }
}
