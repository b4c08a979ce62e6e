//! Latency histograms (HdrHistogram, microsecond resolution, 3 significant
//! digits) and the percentile summary every front end shows.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::interval::{self, Interval, PercentileIntervals};
use serde::Serialize;

/// Largest latency we record: one hour. Longer values saturate.
const MAX_MICROS: u64 = 3_600_000_000;

/// A latency distribution. The mean is kept exactly (sum / count) rather than
/// from the histogram's buckets; percentiles come from the histogram and are
/// accurate to 0.1 %.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    histogram: Histogram<u64>,
    sum_micros: u128,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    #[must_use]
    #[allow(clippy::expect_used)] // constant, valid bounds: creation cannot fail
    pub fn new() -> Self {
        Self::with_digits(3)
    }

    /// Percentiles accurate to 1 % in an eighth of the memory: for the
    /// figures broken down by turn and prompt length, many per engine.
    #[must_use]
    pub fn coarse() -> Self {
        Self::with_digits(2)
    }

    #[allow(clippy::expect_used)] // constant, valid bounds: creation cannot fail
    fn with_digits(digits: u8) -> Self {
        LatencyHistogram {
            histogram: Histogram::new_with_bounds(1, MAX_MICROS, digits)
                .expect("constant histogram bounds are valid"),
            sum_micros: 0,
        }
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(MAX_MICROS);
        // HdrHistogram cannot hold 0 with a lowest bound of 1 µs; 0 and 1 µs
        // are the same for our purposes.
        self.histogram
            .saturating_record(micros.clamp(1, MAX_MICROS));
        self.sum_micros += u128::from(micros);
    }

    #[must_use]
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// Merges another histogram into this one (lossless).
    pub fn merge(&mut self, other: &LatencyHistogram) {
        // Both have the same bounds, so `add` cannot fail.
        let _ = self.histogram.add(&other.histogram);
        self.sum_micros += other.sum_micros;
    }

    #[must_use]
    pub fn quantile(&self, q: f64) -> Duration {
        if self.histogram.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_micros(self.histogram.value_at_quantile(q))
    }

    #[must_use]
    pub fn summary(&self) -> LatencySummary {
        let count = self.count();
        if count == 0 {
            return LatencySummary::default();
        }
        #[allow(clippy::cast_possible_truncation)]
        let mean = Duration::from_micros((self.sum_micros / u128::from(count)) as u64);
        LatencySummary {
            count,
            mean,
            min: Duration::from_micros(self.histogram.min()),
            p50: self.quantile(0.50),
            p90: self.quantile(0.90),
            p95: self.quantile(0.95),
            p99: self.quantile(0.99),
            p999: self.quantile(0.999),
            max: Duration::from_micros(self.histogram.max()),
            ci95: None,
        }
    }

    /// [`summary`](Self::summary) with each percentile's 95 % interval:
    /// ten more reads of the histogram, so for the snapshots the views
    /// show, not for every fold of a request.
    #[must_use]
    pub fn summary_with_intervals(&self) -> LatencySummary {
        let mut summary = self.summary();
        if summary.count > 0 {
            let [p50, p90, p95, p99, p999] = self.intervals([0.50, 0.90, 0.95, 0.99, 0.999]);
            summary.ci95 = Some(PercentileIntervals {
                p50,
                p90,
                p95,
                p99,
                p999,
            });
        }
        summary
    }

    /// The 95 % intervals of several quantiles, their order statistics read
    /// in one pass over the recorded values (the histogram's own quantile
    /// lookup walks every bucket, each time).
    fn intervals<const N: usize>(&self, quantiles: [f64; N]) -> [Interval; N] {
        let n = self.count();
        let bounds = quantiles.map(|q| interval::ranks(n, q));
        // Every rank wanted, ascending, with where its value goes.
        let mut wanted: Vec<(u64, usize)> = bounds
            .iter()
            .enumerate()
            .flat_map(|(i, &(l, u, _))| [(l, 2 * i), (u, 2 * i + 1)])
            .collect();
        wanted.sort_unstable();
        let mut values = vec![0u64; 2 * N];
        let mut next = wanted.iter().peekable();
        let mut seen = 0u64;
        for v in self.histogram.iter_recorded() {
            seen += v.count_at_value();
            while let Some(&&(rank, slot)) = next.peek() {
                if rank > seen {
                    break;
                }
                // The bucket's middle: the rounding neither widens nor
                // narrows the interval on average.
                values[slot] = self.histogram.median_equivalent(v.value_iterated_to());
                next.next();
            }
        }
        std::array::from_fn(|i| Interval {
            lo: Duration::from_micros(values[2 * i]),
            hi: Duration::from_micros(values[2 * i + 1]),
            at_edge: bounds[i].2,
        })
    }

    /// The 95 % interval of the q-quantile: the values at the ranks the
    /// binomial distribution gives (see [`interval::ranks`]).
    #[must_use]
    pub fn interval(&self, q: f64) -> Interval {
        if self.count() == 0 {
            return Interval::default();
        }
        let [interval] = self.intervals([q]);
        interval
    }
}

impl LatencyHistogram {
    /// The distribution in `bins` log-spaced bins, in milliseconds.
    #[must_use]
    pub fn distribution(&self, bins: usize) -> Vec<Bin> {
        log_bins(&self.histogram, 0.001, bins)
    }
}

/// Largest token count we record per request. Larger values saturate.
const MAX_TOKENS: u64 = 10_000_000;

/// A distribution of per-request token counts.
#[derive(Debug, Clone)]
pub struct CountHistogram {
    histogram: Histogram<u64>,
}

impl Default for CountHistogram {
    #[allow(clippy::expect_used)] // constant, valid bounds: creation cannot fail
    fn default() -> Self {
        CountHistogram {
            histogram: Histogram::new_with_bounds(1, MAX_TOKENS, 3)
                .expect("constant histogram bounds are valid"),
        }
    }
}

impl CountHistogram {
    pub fn record(&mut self, count: u32) {
        // 0 tokens (an empty prompt) sits with 1 in the lowest bin.
        self.histogram
            .saturating_record(u64::from(count).clamp(1, MAX_TOKENS));
    }

    /// The distribution in `bins` log-spaced bins, in tokens.
    #[must_use]
    pub fn distribution(&self, bins: usize) -> Vec<Bin> {
        log_bins(&self.histogram, 1.0, bins)
    }
}

/// One bin of a distribution: `count` values in `[lo, hi)` (the last bin
/// holds `hi` too), in the metric's unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Bin {
    pub lo: f64,
    pub hi: f64,
    pub count: u64,
}

/// `bins` bins between the smallest and largest value, log-spaced (latency
/// and token counts span decades); one bin when every value is the same.
/// Values are the histogram's (accurate to 0.1 %), times `scale`.
fn log_bins(h: &Histogram<u64>, scale: f64, bins: usize) -> Vec<Bin> {
    if h.is_empty() || bins == 0 {
        return Vec::new();
    }
    #[allow(clippy::cast_precision_loss)]
    let (lo, hi) = (h.min() as f64, h.max() as f64);
    if hi <= lo {
        return vec![Bin {
            lo: lo * scale,
            hi: hi * scale,
            count: h.len(),
        }];
    }
    let ratio = (hi / lo).ln();
    #[allow(clippy::cast_precision_loss)]
    let n = bins as f64;
    let edge = |i: usize| {
        #[allow(clippy::cast_precision_loss)]
        let f = i as f64 / n;
        lo * (ratio * f).exp() * scale
    };
    let mut out: Vec<Bin> = (0..bins)
        .map(|i| Bin {
            lo: edge(i),
            hi: edge(i + 1),
            count: 0,
        })
        .collect();
    for v in h.iter_recorded() {
        #[allow(clippy::cast_precision_loss)]
        let value = (v.value_iterated_to() as f64).clamp(lo, hi);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = (((value / lo).ln() / ratio * n) as usize).min(bins - 1);
        out[i].count += v.count_at_value();
    }
    out
}

/// Percentiles of one latency metric. All zero when `count` is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean: Duration,
    pub min: Duration,
    pub p50: Duration,
    pub p90: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
    /// Each percentile's 95 % interval, where computed (an engine's
    /// whole-race figures in a snapshot).
    pub ci95: Option<PercentileIntervals>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_uniform_range_are_within_a_tenth_of_a_percent() {
        let mut h = LatencyHistogram::new();
        for ms in 1..=1000 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.summary();
        assert_eq!(s.count, 1000);
        let close =
            |d: Duration, ms: f64| (d.as_secs_f64() * 1000.0 - ms).abs() <= ms * 0.001 + 0.001;
        assert!(close(s.p50, 500.0), "{:?}", s.p50);
        assert!(close(s.p90, 900.0), "{:?}", s.p90);
        assert!(close(s.p99, 990.0), "{:?}", s.p99);
        assert_eq!(s.mean, Duration::from_micros(500_500));
        assert_eq!(s.min, Duration::from_millis(1));
    }

    #[test]
    fn distribution_bins_are_log_spaced_and_hold_every_value() {
        let mut h = LatencyHistogram::new();
        for ms in [1u64, 10, 10, 100, 1000] {
            h.record(Duration::from_millis(ms));
        }
        let bins = h.distribution(3);
        assert_eq!(bins.len(), 3);
        // 1 ms to 1 s in three bins: 1–10, 10–100, 100–1000 ms.
        for (bin, (lo, hi)) in bins
            .iter()
            .zip([(1.0, 10.0), (10.0, 100.0), (100.0, 1000.0)])
        {
            assert!(
                (bin.lo - lo).abs() < lo * 0.002 && (bin.hi - hi).abs() < hi * 0.002,
                "{bins:?}"
            );
        }
        assert_eq!(bins.iter().map(|b| b.count).sum::<u64>(), 5);
        assert_eq!(bins[0].count, 1, "{bins:?}");
        assert_eq!(bins[2].count, 2, "{bins:?}");
        // One value: one bin; nothing: no bins.
        let mut one = CountHistogram::default();
        one.record(64);
        one.record(64);
        assert_eq!(
            one.distribution(24),
            vec![Bin {
                lo: 64.0,
                hi: 64.0,
                count: 2
            }]
        );
        assert!(CountHistogram::default().distribution(24).is_empty());
    }

    #[test]
    fn empty_histogram_summarises_to_zero() {
        assert_eq!(LatencyHistogram::new().summary(), LatencySummary::default());
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        let mut all = LatencyHistogram::new();
        for i in 0..500u64 {
            let d = Duration::from_micros(i * 37 + 5);
            if i % 2 == 0 {
                a.record(d)
            } else {
                b.record(d)
            }
            all.record(d);
        }
        a.merge(&b);
        assert_eq!(a.summary(), all.summary());
    }

    #[test]
    fn overlong_latency_saturates_instead_of_failing() {
        let mut h = LatencyHistogram::new();
        h.record(Duration::from_secs(10 * 3600));
        assert_eq!(h.count(), 1);
    }
}
