//! One-second time series of completions, tokens and latencies, for
//! sparklines, charts and the per-second section of the summary.

use std::time::Duration;

use serde::Serialize;

use super::record::{ErrorKind, RequestRecord};

/// The points of whole seconds: a lane's series ends with the second it is
/// in (or ended in), which has had only part of its time, so its counts
/// read low. Trends, sparklines and charts use whole seconds only.
#[must_use]
pub fn whole_seconds(points: &[SeriesPoint]) -> &[SeriesPoint] {
    &points[..points.len().saturating_sub(1)]
}

/// What completed during one second of the race (by the request's end time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct SeriesPoint {
    /// Seconds since the start signal: this point covers `[t_s, t_s + 1)`.
    pub t_s: u32,
    pub requests_ok: u32,
    /// Successful requests that met every latency objective.
    #[serde(default)]
    pub requests_good: u32,
    pub requests_failed: u32,
    pub output_tokens: u64,
    /// Mean TTFT of the successful requests that ended in this second (ms).
    pub ttft_mean_ms: f64,
    /// Mean TPOT of the successful requests that ended in this second (ms).
    pub tpot_mean_ms: f64,
    /// Mean E2E of the successful requests that ended in this second (ms).
    pub e2e_mean_ms: f64,
    /// Mean time to the first answer token (ms).
    pub ttfot_mean_ms: f64,
    /// p50 and p99 of this second's TTFT, TTFOT and TPOT (ms; 0 without any).
    pub ttft_p50_ms: f64,
    pub ttft_p99_ms: f64,
    pub ttfot_p50_ms: f64,
    pub ttfot_p99_ms: f64,
    pub tpot_p50_ms: f64,
    pub tpot_p99_ms: f64,
    /// The failed requests by kind, in `ErrorKind::ALL` order.
    #[serde(
        rename = "errors",
        serialize_with = "errors_by_name",
        deserialize_with = "errors_from_names",
        skip_serializing_if = "no_errors",
        default
    )]
    pub failed_by_kind: [u32; ErrorKind::ALL.len()],
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's signature
fn no_errors(counts: &[u32; ErrorKind::ALL.len()]) -> bool {
    counts.iter().all(|&n| n == 0)
}

/// `{"http_429": 3}`: the kinds that occurred, by name.
fn errors_by_name<S: serde::Serializer>(
    counts: &[u32; ErrorKind::ALL.len()],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap as _;
    let mut map = s.serialize_map(None)?;
    for (kind, &n) in ErrorKind::ALL.iter().zip(counts) {
        if n > 0 {
            map.serialize_entry(kind.name(), &n)?;
        }
    }
    map.end()
}

/// The counts of [`errors_by_name`] read back; an unknown kind is an error.
fn errors_from_names<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<[u32; ErrorKind::ALL.len()], D::Error> {
    use serde::Deserialize as _;
    let by_name = std::collections::BTreeMap::<String, u32>::deserialize(d)?;
    let mut counts = [0; ErrorKind::ALL.len()];
    for (name, n) in by_name {
        let kind = ErrorKind::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error kind '{name}'")))?;
        if let Some(i) = ErrorKind::ALL.iter().position(|k| *k == kind) {
            counts[i] = n;
        }
    }
    Ok(counts)
}

/// One latency's values in a second: kept while the second may still grow,
/// then only its p50 and p99.
#[derive(Debug, Clone, Default)]
struct Spread {
    sum: Duration,
    values_us: Vec<u32>,
    /// (p50, p99) in ms, once the second is sealed.
    sealed: Option<(f64, f64)>,
}

impl Spread {
    fn record(&mut self, d: Duration) {
        self.sum += d;
        let us = u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        match &mut self.sealed {
            // A straggler after sealing moves the mean but not the
            // percentiles (see docs/METRICS.md, "Series").
            Some(_) => {}
            None => self.values_us.push(us),
        }
    }

    fn percentiles(&self) -> (f64, f64) {
        self.sealed.unwrap_or_else(|| {
            let mut sorted = self.values_us.clone();
            sorted.sort_unstable();
            (nearest_rank(&sorted, 0.50), nearest_rank(&sorted, 0.99))
        })
    }

    fn seal(&mut self) {
        if self.sealed.is_none() {
            self.sealed = Some(self.percentiles());
            self.values_us = Vec::new();
        }
    }
}

/// The nearest-rank quantile of sorted microseconds, in ms (0 when empty).
fn nearest_rank(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    f64::from(sorted_us[rank - 1]) / 1000.0
}

#[derive(Debug, Clone, Default)]
struct Bucket {
    ok: u32,
    good: u32,
    failed: u32,
    failed_by_kind: [u32; ErrorKind::ALL.len()],
    output_tokens: u64,
    ttft: Spread,
    ttft_n: u32,
    ttfot: Spread,
    ttfot_n: u32,
    tpot: Spread,
    tpot_n: u32,
    e2e_sum: Duration,
}

/// One second's counts of completed requests (see [`Series::counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondCounts {
    pub ok: u32,
    pub good: u32,
    pub output_tokens: u64,
}

/// Per-second buckets, indexed by whole seconds since the start signal.
#[derive(Debug, Clone, Default)]
pub struct Series {
    buckets: Vec<Bucket>,
    /// Buckets before this one are sealed: their percentiles are fixed.
    sealed: usize,
}

/// Seconds a bucket stays open behind the newest request's second: events
/// reach the fold in about end-time order, not exactly.
const OPEN_SECONDS: usize = 2;

fn mean_ms(sum: Duration, n: u32) -> f64 {
    if n == 0 {
        0.0
    } else {
        sum.as_secs_f64() * 1000.0 / f64::from(n)
    }
}

impl Series {
    /// Folds one finished request (`good`: it met every objective).
    pub fn observe(&mut self, record: &RequestRecord, good: bool) {
        let second = usize::try_from(record.end_at.as_secs()).unwrap_or(usize::MAX / 2);
        if self.buckets.len() <= second {
            self.buckets.resize(second + 1, Bucket::default());
        }
        // Seal what can no longer change much, so memory stays per second.
        let sealable = second.saturating_sub(OPEN_SECONDS);
        for b in self.buckets.iter_mut().take(sealable).skip(self.sealed) {
            b.ttft.seal();
            b.ttfot.seal();
            b.tpot.seal();
        }
        self.sealed = self.sealed.max(sealable);
        let b = &mut self.buckets[second];
        if let Some(err) = &record.error {
            b.failed += 1;
            if let Some(i) = ErrorKind::ALL.iter().position(|k| *k == err.kind) {
                b.failed_by_kind[i] += 1;
            }
            return;
        }
        b.ok += 1;
        b.good += u32::from(good);
        b.output_tokens += u64::from(record.output_tokens);
        b.e2e_sum += record.e2e();
        if let Some(ttft) = record.ttft() {
            b.ttft.record(ttft);
            b.ttft_n += 1;
        }
        if let Some(ttfot) = record.ttfot() {
            b.ttfot.record(ttfot);
            b.ttfot_n += 1;
        }
        if let Some(tpot) = record.tpot() {
            b.tpot.record(tpot);
            b.tpot_n += 1;
        }
    }

    /// Each second's successful, good and output-token counts for seconds
    /// `[0, until)`, straight from the buckets (no percentiles built): what
    /// the rates' intervals need, at every snapshot.
    #[must_use]
    pub fn counts(&self, until: u32) -> Vec<SecondCounts> {
        let empty = Bucket::default();
        (0..until)
            .map(|t| {
                let b = self.buckets.get(t as usize).unwrap_or(&empty);
                SecondCounts {
                    ok: b.ok,
                    good: b.good,
                    output_tokens: b.output_tokens,
                }
            })
            .collect()
    }

    /// Points for seconds `[from, until)` (seconds with no data are zero).
    #[must_use]
    pub fn points(&self, from: u32, until: u32) -> Vec<SeriesPoint> {
        let empty = Bucket::default();
        (from..until)
            .map(|t| {
                let b = self.buckets.get(t as usize).unwrap_or(&empty);
                let (ttft_p50_ms, ttft_p99_ms) = b.ttft.percentiles();
                let (ttfot_p50_ms, ttfot_p99_ms) = b.ttfot.percentiles();
                let (tpot_p50_ms, tpot_p99_ms) = b.tpot.percentiles();
                SeriesPoint {
                    t_s: t,
                    requests_ok: b.ok,
                    requests_good: b.good,
                    requests_failed: b.failed,
                    output_tokens: b.output_tokens,
                    ttft_mean_ms: mean_ms(b.ttft.sum, b.ttft_n),
                    tpot_mean_ms: mean_ms(b.tpot.sum, b.tpot_n),
                    e2e_mean_ms: mean_ms(b.e2e_sum, b.ok),
                    ttfot_mean_ms: mean_ms(b.ttfot.sum, b.ttfot_n),
                    ttft_p50_ms,
                    ttft_p99_ms,
                    ttfot_p50_ms,
                    ttfot_p99_ms,
                    tpot_p50_ms,
                    tpot_p99_ms,
                    failed_by_kind: b.failed_by_kind,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::record::tests::ok_record;

    #[test]
    fn requests_land_in_the_second_they_end() {
        let mut s = Series::default();
        s.observe(&ok_record(0, 100, 80, 10, 5), true); // ends at 220 ms
        s.observe(&ok_record(0, 1900, 80, 10, 5), true); // ends at 2.02 s
        let p = s.points(0, 3);
        assert_eq!(p.len(), 3);
        assert_eq!(
            (p[0].requests_ok, p[1].requests_ok, p[2].requests_ok),
            (1, 0, 1)
        );
        assert_eq!(p[0].output_tokens, 5);
        assert!((p[0].ttft_mean_ms - 80.0).abs() < 1e-9);
        assert!((p[2].tpot_mean_ms - 10.0).abs() < 1e-9);
    }

    #[test]
    fn each_second_has_its_own_p50_and_p99_and_keeps_them_once_sealed() {
        let mut s = Series::default();
        // 100 requests ending in second 0, TTFT 1..=100 ms.
        for ttft in 1..=100u64 {
            s.observe(&ok_record(0, 0, ttft, 1, 3), true);
        }
        let p = s.points(0, 1);
        assert!((p[0].ttft_p50_ms - 50.0).abs() < 1e-9, "{p:?}");
        assert!((p[0].ttft_p99_ms - 99.0).abs() < 1e-9, "{p:?}");
        assert!((p[0].ttfot_p50_ms - 50.0).abs() < 1e-9, "{p:?}");
        // A request in second 5 seals second 0: the same figures, no values kept.
        s.observe(&ok_record(0, 5000, 7, 1, 3), true);
        assert!(s.buckets[0].ttft.values_us.is_empty());
        let q = s.points(0, 6);
        assert!((q[0].ttft_p99_ms - 99.0).abs() < 1e-9);
        assert!((q[5].ttft_p50_ms - 7.0).abs() < 1e-9);
        // A second without requests is zero.
        assert!(q[3].ttft_p50_ms.abs() < f64::EPSILON);
    }
}
