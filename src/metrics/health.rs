//! Judgements the live view shows next to the numbers: the lane's health
//! badge, trend arrows, and good / ok / bad grades. Computed here, once, so
//! views only pick colours and glyphs.

use std::time::Duration;

use super::series::SeriesPoint;
use crate::config::SloSpec;

/// Seconds of series the health badge looks back over.
pub const HEALTH_WINDOW_S: usize = 10;
/// Seconds in each half of the trend comparison.
pub const TREND_WINDOW_S: usize = 5;
/// Relative change below which a metric counts as steady.
pub const TREND_THRESHOLD: f64 = 0.10;

/// Default latency grades when the race sets no SLO: (good below, ok below).
pub const DEFAULT_TTFT_GRADE_MS: (f64, f64) = (500.0, 2000.0);
pub const DEFAULT_TPOT_GRADE_MS: (f64, f64) = (50.0, 100.0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Nothing has completed yet.
    Initializing,
    /// No recent failure and every SLO holds.
    Healthy,
    /// Some recent failures, or an SLO is failing.
    Warning,
    /// Most recent requests fail, or nothing has ever succeeded.
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Rising,
    Falling,
    Steady,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grade {
    Good,
    Ok,
    Bad,
    /// No data yet.
    Unknown,
}

/// Health from the last [`HEALTH_WINDOW_S`] seconds and the SLO verdict.
#[must_use]
pub fn health(recent: &[SeriesPoint], ok: u64, failed: u64, slo_pass: bool) -> Health {
    if ok.saturating_add(failed) == 0 {
        return Health::Initializing;
    }
    let window = &recent[recent.len().saturating_sub(HEALTH_WINDOW_S)..];
    let recent_ok: u64 = window.iter().map(|p| u64::from(p.requests_ok)).sum();
    let recent_failed: u64 = window.iter().map(|p| u64::from(p.requests_failed)).sum();
    if ok == 0 || (recent_failed > 0 && recent_failed >= recent_ok) {
        Health::Error
    } else if recent_failed > 0 || !slo_pass {
        Health::Warning
    } else {
        Health::Healthy
    }
}

/// Compares the mean of the last [`TREND_WINDOW_S`] non-zero values with
/// the mean of the [`TREND_WINDOW_S`] before them.
#[must_use]
pub fn trend(values: &[f64]) -> Trend {
    let n = values.len();
    if n < 2 * TREND_WINDOW_S {
        return Trend::Steady;
    }
    let mean = |xs: &[f64]| {
        let nonzero: Vec<f64> = xs.iter().copied().filter(|x| *x > 0.0).collect();
        #[allow(clippy::cast_precision_loss)]
        let m = (!nonzero.is_empty()).then(|| nonzero.iter().sum::<f64>() / nonzero.len() as f64);
        m
    };
    let (Some(before), Some(after)) = (
        mean(&values[n - 2 * TREND_WINDOW_S..n - TREND_WINDOW_S]),
        mean(&values[n - TREND_WINDOW_S..]),
    ) else {
        return Trend::Steady;
    };
    let change = (after - before) / before;
    if change > TREND_THRESHOLD {
        Trend::Rising
    } else if change < -TREND_THRESHOLD {
        Trend::Falling
    } else {
        Trend::Steady
    }
}

/// Grades a latency: good below `good`, ok below `ok`, else bad.
#[must_use]
pub fn latency_grade(value: Duration, count: u64, (good_ms, ok_ms): (f64, f64)) -> Grade {
    if count == 0 {
        return Grade::Unknown;
    }
    let ms = value.as_secs_f64() * 1000.0;
    if ms < good_ms {
        Grade::Good
    } else if ms < ok_ms {
        Grade::Ok
    } else {
        Grade::Bad
    }
}

/// Latency grade thresholds: from the SLO when set (good below half the
/// limit, ok up to the limit), else the defaults above.
#[must_use]
pub fn thresholds(limit: Option<Duration>, default: (f64, f64)) -> (f64, f64) {
    match limit {
        Some(l) => {
            let ms = l.as_secs_f64() * 1000.0;
            (ms * 0.5, ms)
        }
        None => default,
    }
}

/// Throughput grade relative to the best lane: good from 80 % of the best,
/// ok from 50 %.
#[must_use]
pub fn throughput_grade(value: f64, best: f64) -> Grade {
    if best <= 0.0 {
        Grade::Unknown
    } else if value >= 0.8 * best {
        Grade::Good
    } else if value >= 0.5 * best {
        Grade::Ok
    } else {
        Grade::Bad
    }
}

/// The TTFT and TPOT thresholds a race grades by.
#[must_use]
pub fn race_thresholds(slo: &SloSpec) -> ((f64, f64), (f64, f64)) {
    (
        thresholds(slo.ttft_p99, DEFAULT_TTFT_GRADE_MS),
        thresholds(slo.tpot_p99, DEFAULT_TPOT_GRADE_MS),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(ok: u32, failed: u32) -> SeriesPoint {
        SeriesPoint {
            requests_ok: ok,
            requests_failed: failed,
            ..SeriesPoint::default()
        }
    }

    #[test]
    fn health_follows_recent_failures_and_slo() {
        assert_eq!(health(&[], 0, 0, true), Health::Initializing);
        assert_eq!(health(&[point(5, 0)], 5, 0, true), Health::Healthy);
        assert_eq!(health(&[point(5, 0)], 5, 0, false), Health::Warning);
        assert_eq!(health(&[point(5, 1)], 5, 1, true), Health::Warning);
        assert_eq!(health(&[point(1, 4)], 1, 4, true), Health::Error);
        assert_eq!(health(&[point(0, 3)], 0, 3, true), Health::Error);
        // Failures older than the window no longer count.
        let mut old = vec![point(0, 9)];
        old.extend(std::iter::repeat_n(point(3, 0), HEALTH_WINDOW_S));
        assert_eq!(health(&old, 30, 9, true), Health::Healthy);
    }

    #[test]
    fn trend_compares_the_last_five_seconds_with_the_five_before() {
        let rising: Vec<f64> = [100.0; 5].into_iter().chain([150.0; 5]).collect();
        assert_eq!(trend(&rising), Trend::Rising);
        let falling: Vec<f64> = [100.0; 5].into_iter().chain([50.0; 5]).collect();
        assert_eq!(trend(&falling), Trend::Falling);
        let steady: Vec<f64> = [100.0; 5]
            .into_iter()
            .chain([105.0, 0.0, 95.0, 100.0, 100.0])
            .collect();
        assert_eq!(trend(&steady), Trend::Steady);
        assert_eq!(trend(&[1.0, 2.0]), Trend::Steady);
    }

    #[test]
    fn grades_use_the_slo_or_the_defaults() {
        let slo = thresholds(Some(Duration::from_millis(1000)), DEFAULT_TTFT_GRADE_MS);
        assert_eq!(
            latency_grade(Duration::from_millis(400), 1, slo),
            Grade::Good
        );
        assert_eq!(latency_grade(Duration::from_millis(900), 1, slo), Grade::Ok);
        assert_eq!(
            latency_grade(Duration::from_millis(1100), 1, slo),
            Grade::Bad
        );
        assert_eq!(latency_grade(Duration::ZERO, 0, slo), Grade::Unknown);
        assert_eq!(throughput_grade(90.0, 100.0), Grade::Good);
        assert_eq!(throughput_grade(40.0, 100.0), Grade::Bad);
    }
}
