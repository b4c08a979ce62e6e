//! One-second time series of completions, tokens and latencies, for
//! sparklines, charts and the per-second section of the summary.

use std::time::Duration;

use serde::Serialize;

use super::record::{ErrorKind, RequestRecord};

/// What completed during one second of the race (by the request's end time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SeriesPoint {
    /// Seconds since the start signal: this point covers `[t_s, t_s + 1)`.
    pub t_s: u32,
    pub requests_ok: u32,
    pub requests_failed: u32,
    pub output_tokens: u64,
    /// Mean TTFT of the successful requests that ended in this second (ms).
    pub ttft_mean_ms: f64,
    /// Mean TPOT of the successful requests that ended in this second (ms).
    pub tpot_mean_ms: f64,
    /// Mean E2E of the successful requests that ended in this second (ms).
    pub e2e_mean_ms: f64,
    /// The failed requests by kind, in `ErrorKind::ALL` order.
    #[serde(
        rename = "errors",
        serialize_with = "errors_by_name",
        skip_serializing_if = "no_errors"
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

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    ok: u32,
    failed: u32,
    failed_by_kind: [u32; ErrorKind::ALL.len()],
    output_tokens: u64,
    ttft_sum: Duration,
    ttft_n: u32,
    tpot_sum: Duration,
    tpot_n: u32,
    e2e_sum: Duration,
}

/// Per-second buckets, indexed by whole seconds since the start signal.
#[derive(Debug, Clone, Default)]
pub struct Series {
    buckets: Vec<Bucket>,
}

fn mean_ms(sum: Duration, n: u32) -> f64 {
    if n == 0 {
        0.0
    } else {
        sum.as_secs_f64() * 1000.0 / f64::from(n)
    }
}

impl Series {
    pub fn observe(&mut self, record: &RequestRecord) {
        let second = usize::try_from(record.end_at.as_secs()).unwrap_or(usize::MAX / 2);
        if self.buckets.len() <= second {
            self.buckets.resize(second + 1, Bucket::default());
        }
        let b = &mut self.buckets[second];
        if let Some(err) = &record.error {
            b.failed += 1;
            if let Some(i) = ErrorKind::ALL.iter().position(|k| *k == err.kind) {
                b.failed_by_kind[i] += 1;
            }
            return;
        }
        b.ok += 1;
        b.output_tokens += u64::from(record.output_tokens);
        b.e2e_sum += record.e2e();
        if let Some(ttft) = record.ttft() {
            b.ttft_sum += ttft;
            b.ttft_n += 1;
        }
        if let Some(tpot) = record.tpot() {
            b.tpot_sum += tpot;
            b.tpot_n += 1;
        }
    }

    /// Points for seconds `[from, until)` (seconds with no data are zero).
    #[must_use]
    pub fn points(&self, from: u32, until: u32) -> Vec<SeriesPoint> {
        (from..until)
            .map(|t| {
                let b = self.buckets.get(t as usize).copied().unwrap_or_default();
                SeriesPoint {
                    t_s: t,
                    requests_ok: b.ok,
                    requests_failed: b.failed,
                    output_tokens: b.output_tokens,
                    ttft_mean_ms: mean_ms(b.ttft_sum, b.ttft_n),
                    tpot_mean_ms: mean_ms(b.tpot_sum, b.tpot_n),
                    e2e_mean_ms: mean_ms(b.e2e_sum, b.ok),
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
        s.observe(&ok_record(0, 100, 80, 10, 5)); // ends at 220 ms
        s.observe(&ok_record(0, 1900, 80, 10, 5)); // ends at 2.02 s
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
}
