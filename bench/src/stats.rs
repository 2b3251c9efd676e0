//! Percentiles and units for the reports.

use std::time::Duration;

/// The `p`th percentile (nearest rank) of `sorted`, zero when there is nothing to rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// p50 and p99 of `samples` in milliseconds, sorting them first.
pub fn p50_p99_ms(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    (ms(percentile(samples, 50.0)), ms(percentile(samples, 99.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let (p50, p99) = p50_p99_ms(&mut samples);
        assert_eq!(p50, 51.0);
        assert_eq!(p99, 99.0);
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
