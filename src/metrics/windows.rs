//! Figures per stretch of a race: each stage of a `stages` load (and, in
//! time, each step of a sweep). A request belongs to the stretch its
//! scheduled start falls in, wherever it ends; an arrival that was dropped
//! or never sent, to the stretch it was due in. See docs/METRICS.md, "Stages".

use std::time::Duration;

use serde::Serialize;

use super::histogram::{LatencyHistogram, LatencySummary};
use super::record::{RequestRecord, per_second};
use super::slo::{self, SloCheck};
use crate::config::SloSpec;

#[derive(Debug, Clone, Default)]
struct Tally {
    ok: u64,
    failed: u64,
    lost: u64,
    output_tokens: u64,
    ttft: LatencyHistogram,
    tpot: LatencyHistogram,
    e2e: LatencyHistogram,
}

/// What the stretches' levels count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelUnit {
    /// Closed-loop users.
    Users,
    /// Open-loop requests per second.
    Rate,
}

/// The stretch a race is in: which of how many, at what level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StretchNow {
    pub index: usize,
    pub count: usize,
    pub level: f64,
    pub unit: LevelUnit,
}

impl std::fmt::Display for StretchNow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.unit {
            LevelUnit::Users => "users",
            LevelUnit::Rate => "req/s",
        };
        write!(
            f,
            "stage {}/{}: {} {unit}",
            self.index + 1,
            self.count,
            self.level
        )
    }
}

/// A stretch: from `start` to `end`, at `level`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    start: Duration,
    end: Duration,
    level: f64,
}

/// One engine's stretches, in time order; they do not overlap.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    spans: Vec<Span>,
    tallies: Vec<Tally>,
}

/// The figures of one stretch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowFigures {
    /// Users, or requests per second.
    pub level: f64,
    pub start: Duration,
    pub duration: Duration,
    pub requests_ok: u64,
    pub requests_failed: u64,
    /// Offered arrivals due in the stretch that were never sent.
    pub lost_arrivals: u64,
    /// Successful requests per second of the stretch.
    pub requests_per_s: f64,
    pub output_tokens_per_s: f64,
    pub ttft: LatencySummary,
    pub tpot: LatencySummary,
    pub e2e: LatencySummary,
    /// Failed and lost over everything offered in the stretch.
    pub error_rate: f64,
    pub slo_checks: Vec<SloCheck>,
    pub slo_pass: bool,
}

impl Windows {
    /// Stretches between consecutive `bounds` (the last one ends the last
    /// stretch), at `levels`; none when fewer than two bounds.
    #[must_use]
    pub fn new(bounds: Vec<Duration>, levels: Vec<f64>) -> Self {
        let mut windows = Windows::default();
        for (pair, level) in bounds.windows(2).zip(levels) {
            windows.push(pair[0], pair[1], level);
        }
        windows
    }

    /// Adds a stretch after the others (a sweep's next step).
    pub fn push(&mut self, start: Duration, end: Duration, level: f64) {
        self.spans.push(Span { start, end, level });
        self.tallies.push(Tally::default());
    }

    /// How many stretches there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// The level of stretch `i`.
    #[must_use]
    pub fn level_of(&self, i: usize) -> f64 {
        self.spans[i].level
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    fn index(&self, at: Duration) -> Option<usize> {
        let i = self
            .spans
            .partition_point(|s| s.start <= at)
            .checked_sub(1)?;
        (at < self.spans[i].end).then_some(i)
    }

    /// The stretch running at `at`.
    #[must_use]
    pub fn current(&self, at: Duration, unit: LevelUnit) -> Option<StretchNow> {
        self.index(at).map(|index| StretchNow {
            index,
            count: self.spans.len(),
            level: self.spans[index].level,
            unit,
        })
    }

    pub fn observe(&mut self, record: &RequestRecord) {
        let Some(i) = self.index(record.scheduled_at) else {
            return;
        };
        let tally = &mut self.tallies[i];
        if record.error.is_some() {
            tally.failed += 1;
            return;
        }
        tally.ok += 1;
        tally.output_tokens += u64::from(record.output_tokens);
        tally.e2e.record(record.e2e());
        if let Some(ttft) = record.ttft() {
            tally.ttft.record(ttft);
        }
        if let Some(tpot) = record.tpot() {
            tally.tpot.record(tpot);
        }
    }

    /// `count` offered arrivals due `at` were never sent.
    pub fn lost(&mut self, at: Duration, count: u64) {
        if let Some(i) = self.index(at) {
            self.tallies[i].lost += count;
        }
    }

    /// Every stretch's figures, judged against `slo`.
    #[must_use]
    pub fn figures(&self, slo: &SloSpec) -> Vec<WindowFigures> {
        (0..self.spans.len())
            .map(|i| self.figures_of(i, slo))
            .collect()
    }

    /// One stretch's figures, judged against `slo`.
    #[must_use]
    pub fn figures_of(&self, i: usize, slo: &SloSpec) -> WindowFigures {
        let t = &self.tallies[i];
        let Span { start, end, level } = self.spans[i];
        let duration = end.saturating_sub(start);
        let (ttft, tpot, e2e) = (t.ttft.summary(), t.tpot.summary(), t.e2e.summary());
        let failed = t.failed.saturating_add(t.lost);
        let slo_checks = slo::evaluate(slo, &ttft, &tpot, &e2e, t.ok, failed);
        WindowFigures {
            level,
            start,
            duration,
            requests_ok: t.ok,
            requests_failed: t.failed,
            lost_arrivals: t.lost,
            requests_per_s: per_second(t.ok, duration),
            output_tokens_per_s: per_second(t.output_tokens, duration),
            ttft,
            tpot,
            e2e,
            error_rate: slo::error_rate(t.ok, failed),
            slo_pass: slo_checks.iter().all(|c| c.pass),
            slo_checks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::record::tests::ok_record;
    use crate::metrics::{ErrorKind, RequestError};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn requests_count_in_the_stretch_they_were_due_in() {
        let mut w = Windows::new(vec![secs(0), secs(10), secs(30)], vec![4.0, 8.0]);
        // Due at 9 s, ending at 12 s: the first stage's.
        let mut late = ok_record(0, 9000, 100, 10, 11);
        late.end_at = secs(12);
        w.observe(&late);
        w.observe(&ok_record(0, 10_000, 300, 10, 21));
        w.observe(&ok_record(0, 15_000, 300, 10, 21));
        let mut failed = ok_record(0, 20_000, 300, 10, 1);
        failed.error = Some(RequestError {
            kind: ErrorKind::Http5xx,
            message: String::new(),
        });
        w.observe(&failed);
        w.lost(secs(25), 1);
        // After the last stage: no stage's.
        w.observe(&ok_record(0, 31_000, 300, 10, 5));
        let slo = SloSpec {
            ttft_p99: Some(Duration::from_millis(200)),
            ..SloSpec::default()
        };
        let f = w.figures(&slo);
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].requests_ok, f[0].duration), (1, secs(10)));
        assert!(f[0].slo_pass);
        assert!((f[0].output_tokens_per_s - 1.1).abs() < 1e-9);
        assert_eq!(
            (f[1].requests_ok, f[1].requests_failed, f[1].lost_arrivals),
            (2, 1, 1)
        );
        assert!((f[1].requests_per_s - 0.1).abs() < 1e-9);
        assert!((f[1].error_rate - 0.5).abs() < 1e-9);
        assert!(!f[1].slo_pass, "TTFT 300 ms over 200 ms");
        assert_eq!(
            w.current(secs(12), LevelUnit::Users),
            Some(StretchNow {
                index: 1,
                count: 2,
                level: 8.0,
                unit: LevelUnit::Users
            })
        );
        assert_eq!(w.current(secs(30), LevelUnit::Users), None);
        assert_eq!(f[1].level, 8.0);
    }
}
