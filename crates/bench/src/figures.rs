//! The figures a benchmark reports: printed as they come, kept for the closing table, and
//! latencies in milliseconds.

use std::time::Instant;

/// What a run found, in the order found.
#[derive(Default)]
pub struct Figures {
    /// (what, value), as printed.
    pub rows: Vec<(String, String)>,
}

impl Figures {
    /// Prints a figure and keeps it.
    pub fn add(&mut self, what: impl Into<String>, value: impl Into<String>) {
        let (what, value) = (what.into(), value.into());
        println!("  {what}: {value}");
        self.rows.push((what, value));
    }

    /// Prints every figure again as the closing table (Markdown), after an empty line.
    pub fn print_table(&self) {
        println!();
        println!("| figure | value |");
        println!("|---|---:|");
        for (what, value) in &self.rows {
            println!("| {what} | {value} |");
        }
    }
}

/// The `p`-th percentile (nearest rank) of `sorted`, of any kind of value (milliseconds,
/// durations); `None` when it is empty.
pub fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

/// The `p`-th percentile (nearest rank) of `sorted`; NaN when it is empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    nearest_rank(sorted, p).unwrap_or(f64::NAN)
}

/// The largest of `sorted`; NaN when it is empty.
pub fn largest(sorted: &[f64]) -> f64 {
    sorted.last().copied().unwrap_or(f64::NAN)
}

/// `p50 / p99 / max` of `sorted`, each with `decimals` decimals (the reports' latency cell).
pub fn p50_p99_max(sorted: &[f64], decimals: usize) -> String {
    format!(
        "{:.*} / {:.*} / {:.*}",
        decimals,
        percentile(sorted, 50.0),
        decimals,
        percentile(sorted, 99.0),
        decimals,
        largest(sorted)
    )
}

/// `v`, sorted.
pub fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// `a - b` in milliseconds, negative when `a` is earlier.
pub fn ms_between(a: Instant, b: Instant) -> f64 {
    if a >= b {
        a.duration_since(b).as_secs_f64() * 1e3
    } else {
        -(b.duration_since(a).as_secs_f64() * 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v = sorted(vec![5.0, 1.0, 4.0, 2.0, 3.0]);
        assert_eq!(v, vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(percentile(&v, 50.0), 3.0);
        assert_eq!(percentile(&v, 99.0), 5.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn nearest_rank_of_any_value() {
        use std::time::Duration;
        let v: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        assert_eq!(nearest_rank(&v, 50.0), Some(Duration::from_millis(5)));
        assert_eq!(nearest_rank(&v, 99.0), Some(Duration::from_millis(10)));
        assert_eq!(nearest_rank(&v, 0.0), Some(Duration::from_millis(1)));
        assert_eq!(nearest_rank::<Duration>(&[], 50.0), None);
    }

    #[test]
    fn latency_cells() {
        let v = sorted(vec![3.0, 1.25, 2.4]);
        assert_eq!(p50_p99_max(&v, 0), "2 / 3 / 3");
        assert_eq!(p50_p99_max(&v, 2), "2.40 / 3.00 / 3.00");
        assert_eq!(p50_p99_max(&[], 1), "NaN / NaN / NaN");
        assert!(largest(&[]).is_nan());
    }
}
