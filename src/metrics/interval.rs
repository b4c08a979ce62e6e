//! Confidence intervals of percentiles, distribution-free: the 95 %
//! interval of the q-quantile of n samples lies between two order
//! statistics, the l-th and u-th smallest, whose ranks the binomial
//! distribution Bin(n, q) gives (exactly up to [`EXACT_UP_TO`] samples,
//! by the normal approximation beyond). The values at those ranks are read
//! from the same histogram the percentile is, so an interval costs no
//! memory per request. An interval whose rank would lie beyond the sample
//! (a p99 of 37 requests) reaches the sample's edge: the data cannot bound
//! it, and it is marked so.

use serde::Serialize;
use std::time::Duration;

/// Up to this many samples the ranks come from the exact binomial
/// distribution; beyond, from its normal approximation.
pub const EXACT_UP_TO: u64 = 100;

/// The two-sided level.
const ALPHA: f64 = 0.05;
/// The normal quantile of 1 − α/2.
const Z: f64 = 1.959_963_984_540_054;

/// A 95 % interval of one percentile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Interval {
    pub lo: Duration,
    pub hi: Duration,
    /// The interval's rank lies beyond the sample (`hi` is the maximum, or
    /// `lo` the minimum, and the truth may lie further): too few samples to
    /// bound this percentile.
    pub at_edge: bool,
}

/// The 1-based ranks (l, u) of the order statistics around the
/// q-quantile of `n` samples, and whether either falls outside 1..=n
/// (then clamped to it).
#[must_use]
pub fn ranks(n: u64, q: f64) -> (u64, u64, bool) {
    if n == 0 {
        return (0, 0, true);
    }
    let (l, u) = if n <= EXACT_UP_TO {
        exact_ranks(n, q)
    } else {
        normal_ranks(n, q)
    };
    // `l` may be 0 and `u` n + 1: beyond the sample.
    let at_edge = l < 1 || u > n;
    (l.clamp(1, n), u.clamp(1, n), at_edge)
}

/// l: the largest rank with P(B < l) ≤ α/2; u: the smallest with
/// P(B < u) ≥ 1 − α/2, for B ~ Bin(n, q); then P(X(l) ≤ ξ < X(u)) ≥ 95 %.
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
fn exact_ranks(n: u64, q: f64) -> (u64, u64) {
    let q = q.clamp(1e-12, 1.0 - 1e-12);
    let nf = n as f64;
    // pmf(k) in log space, walked upwards: P(B = 0) = (1 − q)^n.
    let ln_q = q.ln();
    let ln_1q = (1.0 - q).ln();
    let mut ln_pmf = nf * ln_1q;
    let mut cdf = 0.0;
    let (mut l, mut u) = (0, n + 1);
    let mut found_l = false;
    for k in 0..=n {
        if k > 0 {
            let kf = k as f64;
            ln_pmf += ((nf - kf + 1.0) / kf).ln() + ln_q - ln_1q;
        }
        // cdf = P(B ≤ k) = P(B < k + 1)
        cdf += ln_pmf.exp();
        if !found_l {
            if cdf <= ALPHA / 2.0 {
                l = k + 1;
            } else {
                found_l = true;
            }
        }
        if cdf >= 1.0 - ALPHA / 2.0 {
            u = k + 1;
            break;
        }
    }
    (l, u)
}

#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
fn normal_ranks(n: u64, q: f64) -> (u64, u64) {
    let nf = n as f64;
    let spread = Z * (nf * q * (1.0 - q)).sqrt();
    let l = (nf * q - spread).floor();
    let u = (nf * q + spread).ceil();
    (l.max(0.0) as u64, (u.min(nf + 1.0)) as u64)
}

/// The 95 % intervals of a summary's percentiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PercentileIntervals {
    pub p50: Interval,
    pub p90: Interval,
    pub p95: Interval,
    pub p99: Interval,
    pub p999: Interval,
}

impl PercentileIntervals {
    /// Each percentile's name (as `summary.json` spells it) and interval.
    #[must_use]
    pub fn named(&self) -> [(&'static str, Interval); 5] {
        [
            ("p50", self.p50),
            ("p90", self.p90),
            ("p95", self.p95),
            ("p99", self.p99),
            ("p999", self.p999),
        ]
    }
}

/// Student's t quantile of 0.975 for 2 to 9 degrees of freedom.
const T_975: [f64; 8] = [4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262];

/// Batches the per-second values are grouped in (at most).
pub const BATCHES: usize = 10;

/// The half-width of the 95 % interval of a rate from its per-second
/// values, by batch means: the seconds in (at most) ten batches of equal
/// length, and the t interval of the batches' means, so a slow drift or
/// seconds that depend on each other (a closed loop's) widen it rather
/// than hide in it. `None` with fewer than three whole seconds.
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn batch_means_half_width(per_second: &[f64]) -> Option<f64> {
    let k = per_second.len().min(BATCHES);
    if k < 3 {
        return None;
    }
    let size = per_second.len() / k;
    // The latest seconds, whole batches of them.
    let used = &per_second[per_second.len() - k * size..];
    let means: Vec<f64> = used
        .chunks(size)
        .map(|b| b.iter().sum::<f64>() / size as f64)
        .collect();
    let mean = means.iter().sum::<f64>() / k as f64;
    let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
    Some(T_975[k - 3] * (var / k as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_bracket_the_percentile_and_narrow_with_more_samples() {
        let (l, u, edge) = ranks(1000, 0.5);
        assert!(!edge);
        assert!(l < 500 && u > 500, "{l} {u}");
        // Bin(1000, 0.5): ±1.96·15.8 ≈ ±31.
        assert!(
            (468..=472).contains(&l) && (530..=533).contains(&u),
            "{l} {u}"
        );
        let (l2, u2, _) = ranks(100_000, 0.5);
        let width = |l: u64, u: u64, n: f64| (u - l) as f64 / n;
        assert!(width(l2, u2, 100_000.0) < width(l, u, 1000.0));
    }

    #[test]
    fn the_exact_and_the_normal_ranks_meet_where_they_hand_over() {
        let (le, ue) = exact_ranks(100, 0.5);
        let (ln, un) = normal_ranks(100, 0.5);
        assert!(
            le.abs_diff(ln) <= 2 && ue.abs_diff(un) <= 2,
            "{le} {ue} / {ln} {un}"
        );
    }

    #[test]
    fn steady_seconds_give_a_narrow_rate_interval_and_noisy_ones_a_wide_one() {
        let steady = vec![30.0; 20];
        assert_eq!(batch_means_half_width(&steady), Some(0.0));
        let noisy: Vec<f64> = (0..20)
            .map(|i| if i % 4 < 2 { 20.0 } else { 40.0 })
            .collect();
        let half = batch_means_half_width(&noisy).unwrap();
        assert!(half > 1.0, "{half}");
        assert_eq!(batch_means_half_width(&[1.0, 2.0]), None);
    }

    #[test]
    fn a_p99_of_few_samples_reaches_the_edge() {
        assert!(ranks(37, 0.99).2);
        assert!(ranks(100, 0.99).2);
        assert!(!ranks(1000, 0.99).2);
        assert!(!ranks(37, 0.5).2);
        assert_eq!(ranks(0, 0.5), (0, 0, true));
    }
}

/// Coverage: over many seeded samples of latency distributions known
/// exactly (the simulator's uniform jitter, and a long-tailed one), the
/// 95 % intervals, read from the histograms as the races read them, hold
/// the true percentile in 93–97 % of samples.
#[cfg(test)]
mod calibration {
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::time::Duration;

    use crate::metrics::LatencyHistogram;

    const SAMPLES: u32 = 1_000;

    /// The share of `SAMPLES` samples of `n` draws whose interval of the
    /// q-quantile holds `truth` (ms).
    fn coverage(n: u32, q: f64, truth: f64, draw: impl Fn(&mut ChaCha8Rng) -> f64) -> f64 {
        let mut rng = ChaCha8Rng::seed_from_u64(27);
        let mut held = 0;
        for _ in 0..SAMPLES {
            let mut h = LatencyHistogram::new();
            for _ in 0..n {
                h.record(Duration::from_secs_f64(draw(&mut rng) / 1000.0));
            }
            let ci = h.interval(q);
            let (lo, hi) = (ci.lo.as_secs_f64() * 1000.0, ci.hi.as_secs_f64() * 1000.0);
            if lo <= truth && truth <= hi {
                held += 1;
            }
        }
        f64::from(held) / f64::from(SAMPLES)
    }

    #[test]
    fn intervals_of_the_simulators_uniform_jitter_hold_the_truth_95_percent_of_the_time() {
        // TTFT 100 ms with jitter 0.5: uniform on [50, 150].
        let uniform = |rng: &mut ChaCha8Rng| 50.0 + 100.0 * rng.random::<f64>();
        for (n, q) in [(200, 0.5), (1_000, 0.9), (3_000, 0.99)] {
            let c = coverage(n, q, 50.0 + 100.0 * q, uniform);
            assert!((0.93..=0.97).contains(&c), "n {n} q {q}: {c}");
        }
    }

    #[test]
    fn intervals_of_a_long_tail_hold_the_truth_95_percent_of_the_time() {
        // 20 ms plus an exponential of mean 50 ms.
        let tail = |rng: &mut ChaCha8Rng| 20.0 - 50.0 * (1.0 - rng.random::<f64>()).ln();
        for (n, q) in [(500, 0.5), (2_000, 0.95), (3_000, 0.99)] {
            let truth = 20.0 - 50.0 * (1.0_f64 - q).ln();
            let c = coverage(n, q, truth, tail);
            assert!((0.93..=0.97).contains(&c), "n {n} q {q}: {c}");
        }
    }
}
