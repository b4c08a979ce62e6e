//! Service-level objectives: the per-request test behind goodput and the
//! per-engine verdict behind the health badge, reports and exit code.

use std::time::Duration;

use serde::Serialize;

use super::histogram::LatencySummary;
use super::record::RequestRecord;
use crate::config::SloSpec;
use crate::names::{named_enum, serde_by_name};

/// Whether one request met every latency objective that is set. A request
/// that met them counts toward goodput. A failed request never does.
#[must_use]
pub fn request_meets(slo: &SloSpec, record: &RequestRecord) -> bool {
    if !record.is_ok() {
        return false;
    }
    let within = |limit: Option<Duration>, value: Option<Duration>| match (limit, value) {
        (None, _) => true,
        (Some(limit), Some(v)) => v <= limit,
        // TTFT/TPOT undefined (no or one token): nothing violated.
        (Some(_), None) => true,
    };
    within(slo.ttft_p99, record.ttft())
        && within(slo.tpot_p99, record.tpot())
        && within(slo.e2e_p99, Some(record.e2e()))
}

named_enum! {
    /// An objective, named by its race file key.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum SloKind {
        TtftP99 = "ttft_p99_ms",
        TpotP99 = "tpot_p99_ms",
        E2eP99 = "e2e_p99_ms",
        ErrorRate = "error_rate_max",
    }
}

serde_by_name!(SloKind);

impl SloKind {
    /// How the commentary and reports call its figure.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            SloKind::TtftP99 => "TTFT p99",
            SloKind::TpotP99 => "TPOT p99",
            SloKind::E2eP99 => "E2E p99",
            SloKind::ErrorRate => "error rate",
        }
    }
}

/// One objective checked against one engine's results.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SloCheck {
    /// Which objective (`name` in `summary.json`: its race file key).
    #[serde(rename = "name")]
    pub kind: SloKind,
    pub threshold: f64,
    /// The measured value in the key's unit; `None` when there was nothing
    /// to measure (which fails the check).
    pub actual: Option<f64>,
    pub pass: bool,
    /// Judged on a percentile too few samples bound (its 95 % interval
    /// reaches the sample's edge: a p99 of fewer than ~100 requests).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub few_samples: bool,
}

/// Error rate: failed / (ok + failed); 0 when nothing completed. Callers
/// count offered arrivals that were never sent as failed.
#[must_use]
pub fn error_rate(ok: u64, failed: u64) -> f64 {
    let total = ok.saturating_add(failed);
    if total == 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = failed as f64 / total as f64;
    rate
}

/// Checks every objective that is set. An empty list means no SLO was set.
#[must_use]
pub fn evaluate(
    slo: &SloSpec,
    ttft: &LatencySummary,
    tpot: &LatencySummary,
    e2e: &LatencySummary,
    ok: u64,
    failed: u64,
) -> Vec<SloCheck> {
    let mut checks = Vec::new();
    let mut latency = |kind: SloKind, limit: Option<Duration>, s: &LatencySummary| {
        if let Some(limit) = limit {
            let threshold = limit.as_secs_f64() * 1000.0;
            let actual = (s.count > 0).then_some(s.p99.as_secs_f64() * 1000.0);
            let pass = actual.is_some_and(|a| a <= threshold);
            checks.push(SloCheck {
                kind,
                threshold,
                actual,
                pass,
                // Whether a p99 of this many is bounded depends on the count
                // alone: the same in a standing as in its snapshot.
                few_samples: s.count > 0 && super::interval::ranks(s.count, 0.99).2,
            });
        }
    };
    latency(SloKind::TtftP99, slo.ttft_p99, ttft);
    latency(SloKind::TpotP99, slo.tpot_p99, tpot);
    latency(SloKind::E2eP99, slo.e2e_p99, e2e);
    if let Some(max) = slo.error_rate_max {
        let actual = (ok.saturating_add(failed) > 0).then(|| error_rate(ok, failed));
        let pass = actual.is_some_and(|a| a <= max);
        checks.push(SloCheck {
            few_samples: false,
            kind: SloKind::ErrorRate,
            threshold: max,
            actual,
            pass,
        });
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::record::tests::ok_record;
    use crate::metrics::{ErrorKind, LatencyHistogram, RequestError};

    fn slo(ttft_ms: u64) -> SloSpec {
        SloSpec {
            ttft_p99: Some(Duration::from_millis(ttft_ms)),
            ..SloSpec::default()
        }
    }

    #[test]
    fn goodput_counts_only_requests_within_every_objective() {
        let fast = ok_record(0, 0, 80, 10, 5);
        let slow = ok_record(0, 0, 300, 10, 5);
        assert!(request_meets(&slo(100), &fast));
        assert!(!request_meets(&slo(100), &slow));
        let mut failed = fast.clone();
        failed.error = Some(RequestError {
            kind: ErrorKind::Timeout,
            message: String::new(),
        });
        assert!(!request_meets(&SloSpec::default(), &failed));
    }

    #[test]
    fn p99_above_the_threshold_fails_and_no_data_fails() {
        let mut h = LatencyHistogram::new();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        let empty = LatencySummary::default();
        let pass = evaluate(&slo(100), &h.summary(), &empty, &empty, 100, 0);
        assert!(pass[0].pass);
        let fail = evaluate(&slo(50), &h.summary(), &empty, &empty, 100, 0);
        assert!(!fail[0].pass);
        let none = evaluate(&slo(50), &empty, &empty, &empty, 0, 3);
        assert!(!none[0].pass);
        assert_eq!(none[0].actual, None);
    }

    #[test]
    fn error_rate_objective_compares_failed_over_all() {
        let s = SloSpec {
            error_rate_max: Some(0.1),
            ..SloSpec::default()
        };
        let e = LatencySummary::default();
        assert!(evaluate(&s, &e, &e, &e, 90, 10)[0].pass);
        assert!(!evaluate(&s, &e, &e, &e, 89, 11)[0].pass);
        assert!(evaluate(&SloSpec::default(), &e, &e, &e, 0, 5).is_empty());
    }
}
