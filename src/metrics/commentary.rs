//! The commentary feed: short timestamped lines about a race as it runs.
//! Milestones (first to 100 requests, a lead change, a finish) and
//! anomalies found in each engine's complete seconds (a TTFT spike, an
//! error burst, a throughput drop, an SLO about to break). Every rule and
//! threshold is defined in docs/METRICS.md ("Commentary"); the constants
//! here are those numbers.
//!
//! `RaceStats::apply` drives it from the events it folds and the times it
//! applies them at, never a clock or the snapshot rate, so a replay of the
//! same events writes the same lines at the same race times and the race
//! file stores none. Pure: no clock, no I/O.

use std::collections::{BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::ops::Range;
use std::time::Duration;

use super::record::ErrorKind;
use super::series::SeriesPoint;
use super::server::ServerFigures;
use super::slo::{SloCheck, SloKind};
use super::standing::{LaneState, Standing};
use crate::names::{named_enum, serde_by_name};

/// Successful-request counts whose first engine gets a line.
pub const FIRST_TO: [u64; 3] = [100, 1_000, 10_000];
/// Successful requests the leader needs before a lead is announced.
pub const LEAD_MIN_REQUESTS: u64 = 5;
/// At most one lead-change line per this long.
pub const LEAD_CHANGE_COOLDOWN: Duration = Duration::from_secs(10);
/// Seconds before a complete second that its engine's rolling median covers.
pub const ROLLING_SECONDS: u32 = 30;
/// Seconds with data a rolling median needs before a rule compares to it.
pub const MIN_BASELINE_SECONDS: usize = 5;
/// Seconds of a gap between events that are looked at (the last ones).
pub const CATCH_UP_SECONDS: u32 = 60;
/// A second's mean TTFT over this many times the rolling median is a spike...
pub const SPIKE_FACTOR: f64 = 2.0;
/// ... when that second had at least this many successful requests ...
pub const SPIKE_MIN_REQUESTS: u32 = 3;
/// ... and the mean is at least this far above the median.
pub const SPIKE_MIN_RISE_MS: f64 = 100.0;
/// Failures in a second that make a burst ...
pub const BURST_MIN_FAILURES: u32 = 5;
/// ... when they are at least this share of the second's completions.
pub const BURST_MIN_SHARE: f64 = 0.2;
/// A second's output tokens under this share of the rolling median is a drop ...
pub const DROP_FRACTION: f64 = 0.5;
/// ... when the median second completed at least this many requests.
pub const DROP_MIN_REQUESTS: f64 = 5.0;
/// An anomaly of an engine is written again only after its condition has
/// not held for this many complete seconds.
pub const ANOMALY_QUIET_SECONDS: u32 = 30;
/// An objective's figure at this share of its limit is at risk ...
pub const SLO_RISK_FRACTION: f64 = 0.9;
/// ... and has recovered (may be written again) under this share.
pub const SLO_RECOVERED_FRACTION: f64 = 0.8;
/// Requests an objective's figure needs before it is judged.
pub const SLO_MIN_REQUESTS: u64 = 20;
/// What is said, once, when an engine's client stops reusing connections.
pub const RECONNECTING: &str = "server closes connections after each stream: reconnecting";
/// Lines a live snapshot carries (the newest).
pub const SNAPSHOT_LINES: usize = 200;
/// Lines kept for the final snapshot and `summary.json` (the newest).
pub const KEPT_LINES: usize = 1_000;
/// A server queue of at least this many requests, and no fewer than it
/// runs, is why TTFT grows; said again once the queue has emptied.
pub const SERVER_QUEUE_MIN: f64 = 4.0;
/// KV-cache use at or over this with preemptions is a full cache...
pub const KV_FULL: f64 = 0.95;
/// ...cleared under this.
pub const KV_FULL_CLEARED: f64 = 0.9;
/// A hit rate under this share of its mean so far has dropped...
pub const HIT_RATE_DROP: f64 = 0.5;
/// ...when the mean is at least this (a cache that mostly hits)...
pub const HIT_RATE_MEAN_MIN: f64 = 0.2;
/// ...and has recovered at this share of it.
pub const HIT_RATE_RECOVERED: f64 = 0.8;

named_enum! {
    /// What a line is about.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum CommentaryKind {
        /// The first engine to a number of successful requests.
        FirstTo = "first_to",
        /// Another engine leads the leaderboard.
        LeadChange = "lead_change",
        /// An engine crossed its request or token finish line.
        Finished = "finished",
        /// A second's mean TTFT far over the engine's rolling median.
        LatencySpike = "latency_spike",
        /// Many failures in one second.
        ErrorBurst = "error_burst",
        /// A second's output tokens far under the engine's rolling median.
        ThroughputDrop = "throughput_drop",
        /// An SLO figure near (or over) its limit.
        SloAtRisk = "slo_at_risk",
        /// The engine's server closes connections right after its answers;
        /// its client reconnects for every request.
        Reconnecting = "reconnecting",
        /// The engine's server metrics were found, or could not be read.
        ServerMetrics = "server_metrics",
        /// Requests wait at the server: its queue is why TTFT grows.
        ServerQueueing = "server_queueing",
        /// The server's KV cache is full and it preempts requests.
        KvCacheFull = "kv_cache_full",
        /// The server's prefix-cache hit rate fell far under its mean.
        HitRateDrop = "hit_rate_drop",
    }
}

impl CommentaryKind {
    /// How its news reads: the TUI and report.html colour a line by it.
    #[must_use]
    pub fn tone(self) -> Tone {
        match self {
            CommentaryKind::ErrorBurst | CommentaryKind::SloAtRisk => Tone::Bad,
            CommentaryKind::LatencySpike
            | CommentaryKind::ThroughputDrop
            | CommentaryKind::Reconnecting
            | CommentaryKind::ServerQueueing
            | CommentaryKind::HitRateDrop => Tone::Warning,
            CommentaryKind::KvCacheFull => Tone::Bad,
            CommentaryKind::Finished => Tone::Good,
            CommentaryKind::FirstTo
            | CommentaryKind::LeadChange
            | CommentaryKind::ServerMetrics => Tone::Neutral,
        }
    }
}

serde_by_name!(CommentaryKind);

/// How a line's news reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    /// Something to watch: slower, fewer tokens, reconnecting.
    Warning,
    /// Something failed or is about to.
    Bad,
    Neutral,
}

/// One line of the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct CommentaryLine {
    /// When it was written: race time since the start signal.
    pub at: Duration,
    /// The engine it is about (its index in the race), if one.
    pub engine: Option<usize>,
    pub kind: CommentaryKind,
    pub text: String,
}

/// The per-second anomalies, in the order of `EngineWatch::last_seen`.
const SECOND_RULES: [CommentaryKind; 3] = [
    CommentaryKind::LatencySpike,
    CommentaryKind::ErrorBurst,
    CommentaryKind::ThroughputDrop,
];

/// What the feed remembers about one engine.
#[derive(Debug, Clone, Default)]
struct EngineWatch {
    /// The last complete second each of `SECOND_RULES` held in.
    last_seen: [Option<u32>; SECOND_RULES.len()],
    /// Objectives written about that have not recovered since.
    slo_warned: BTreeSet<SloKind>,
    /// Server causes written about that have not cleared since.
    server_causes: BTreeSet<CommentaryKind>,
}

/// The feed's state: the lines so far and what its rules remember.
#[derive(Debug, Clone, Default)]
pub struct Commentary {
    lines: VecDeque<CommentaryLine>,
    engines: Vec<EngineWatch>,
    /// The first second not looked at yet.
    next_second: u32,
    /// The race has ended: no more seconds to look at.
    closed: bool,
    /// How many of `FIRST_TO` have been reached.
    first_to_reached: usize,
    /// Engines that crossed their finish line so far.
    finishers: usize,
    /// The leader last announced, and when.
    leader: Option<usize>,
    lead_line_at: Option<Duration>,
}

impl Commentary {
    #[must_use]
    pub fn new(engines: usize) -> Self {
        Commentary {
            engines: vec![EngineWatch::default(); engines],
            ..Commentary::default()
        }
    }

    /// The lines for a snapshot, oldest first: the last [`SNAPSHOT_LINES`],
    /// or (`full`) every kept one.
    #[must_use]
    pub fn lines(&self, full: bool) -> Vec<CommentaryLine> {
        let keep = if full { KEPT_LINES } else { SNAPSHOT_LINES };
        let skip = self.lines.len().saturating_sub(keep);
        self.lines.iter().skip(skip).cloned().collect()
    }

    fn write(&mut self, at: Duration, engine: Option<usize>, kind: CommentaryKind, text: String) {
        if self.lines.len() == KEPT_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(CommentaryLine {
            at,
            engine,
            kind,
            text,
        });
    }

    /// The seconds an event applied `at` completes: every second before
    /// `at`'s that has not been looked at (at most the last
    /// [`CATCH_UP_SECONDS`]). Each second is returned once.
    pub fn complete_seconds(&mut self, at: Duration) -> Range<u32> {
        if self.closed {
            return 0..0;
        }
        let now = u32::try_from(at.as_secs()).unwrap_or(u32::MAX);
        if now <= self.next_second {
            return 0..0;
        }
        let from = self.next_second.max(now - CATCH_UP_SECONDS.min(now));
        self.next_second = now;
        from..now
    }

    /// The race has ended: later events complete no second.
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// An engine's successful requests reached `ok` (`engines`: how many
    /// race).
    pub fn on_success(&mut self, at: Duration, engine: usize, name: &str, ok: u64, engines: usize) {
        while let Some(&goal) = FIRST_TO.get(self.first_to_reached) {
            if ok < goal {
                break;
            }
            self.first_to_reached += 1;
            let text = if engines > 1 {
                format!("{name} is first to {} requests", thousands(goal))
            } else {
                format!("{name} reaches {} requests", thousands(goal))
            };
            self.write(at, Some(engine), CommentaryKind::FirstTo, text);
        }
    }

    /// An engine crossed its finish line at `finished_at`.
    pub fn on_finish_line(
        &mut self,
        at: Duration,
        engine: usize,
        name: &str,
        finished_at: Duration,
        engines: usize,
    ) {
        self.finishers += 1;
        if self.finishers == 1 {
            // First across the line leads from now on, and its line says so.
            self.leader = Some(engine);
        }
        let mut text = format!(
            "{name} crosses the line in {:.1} s",
            finished_at.as_secs_f64()
        );
        if engines > 1 {
            let _ = write!(text, ", {}", ordinal(self.finishers));
        }
        self.write(at, Some(engine), CommentaryKind::Finished, text);
    }

    /// The engine's client stopped reusing connections (see
    /// [`RaceEvent::ConnectionReuseStopped`](super::RaceEvent)).
    pub fn on_reuse_stopped(&mut self, at: Duration, engine: usize, name: &str) {
        let text = format!("{name}: {RECONNECTING}");
        self.write(at, Some(engine), CommentaryKind::Reconnecting, text);
    }

    /// The engine's server's figures at a scrape: says a cause once when it
    /// appears (the queue, a full KV cache, a hit rate drop), again only
    /// after it has cleared. `mean_hit_rate` is its hit rate's mean so far.
    pub fn on_server_figures(
        &mut self,
        at: Duration,
        engine: usize,
        name: &str,
        now: &ServerFigures,
        mean_hit_rate: Option<f64>,
    ) {
        let (waiting, running) = (now.waiting.unwrap_or(0.0), now.running.unwrap_or(0.0));
        let queueing = (waiting >= SERVER_QUEUE_MIN && waiting >= running).then(|| {
            format!(
                "{name}: {waiting:.0} requests wait at the server ({running:.0} running): TTFT is \
                 queueing"
            )
        });
        let kv = now.kv_use.unwrap_or(0.0);
        let preempting = now.preemptions_per_s.unwrap_or(0.0);
        let kv_full = (kv >= KV_FULL && preempting > 0.0).then(|| {
            format!(
                "{name}: KV cache full ({:.0}%), the server preempts {preempting:.1} requests/s",
                kv * 100.0
            )
        });
        let drop = match (now.hit_rate, mean_hit_rate) {
            (Some(rate), Some(mean))
                if mean >= HIT_RATE_MEAN_MIN && rate < mean * HIT_RATE_DROP =>
            {
                Some(format!(
                    "{name}: prefix-cache hit rate fell to {:.0}% (mean {:.0}%)",
                    rate * 100.0,
                    mean * 100.0
                ))
            }
            _ => None,
        };
        let cleared = [
            waiting < 1.0,
            kv < KV_FULL_CLEARED,
            now.hit_rate
                .zip(mean_hit_rate)
                .is_none_or(|(rate, mean)| rate >= mean * HIT_RATE_RECOVERED),
        ];
        let causes = [
            (CommentaryKind::ServerQueueing, queueing),
            (CommentaryKind::KvCacheFull, kv_full),
            (CommentaryKind::HitRateDrop, drop),
        ];
        for ((kind, text), cleared) in causes.into_iter().zip(cleared) {
            let Some(watch) = self.engines.get_mut(engine) else {
                return;
            };
            match text {
                Some(text) if watch.server_causes.insert(kind) => {
                    self.write(at, Some(engine), kind, text);
                }
                None if cleared => {
                    watch.server_causes.remove(&kind);
                }
                _ => {}
            }
        }
    }

    /// The engine's server metrics were read for the first time.
    pub fn on_server_metrics_found(&mut self, at: Duration, engine: usize, name: &str) {
        let text = format!("{name}: server metrics found");
        self.write(at, Some(engine), CommentaryKind::ServerMetrics, text);
    }

    /// The engine's server metrics could not be read, the first time.
    pub fn on_server_metrics_failed(&mut self, at: Duration, engine: usize, name: &str, why: &str) {
        let text = format!("{name}: server metrics not read ({why}); counted, the race goes on");
        self.write(at, Some(engine), CommentaryKind::ServerMetrics, text);
    }

    /// One complete second of a running engine. `window` holds its points
    /// for up to [`ROLLING_SECONDS`] before it and, last, the second itself;
    /// `in_flight` is what the engine has in flight now.
    pub fn on_second(
        &mut self,
        engine: usize,
        name: &str,
        window: &[SeriesPoint],
        in_flight: u64,
        sweeping: bool,
    ) {
        let Some((now, baseline)) = window.split_last() else {
            return;
        };
        let second = now.t_s;
        let at = Duration::from_secs(u64::from(second) + 1);
        let found: [Option<String>; SECOND_RULES.len()] = [
            latency_spike(baseline, now).map(|(mean, median)| {
                format!(
                    "{name}: TTFT spike to {} ({:.1}× its median {})",
                    ms(mean),
                    mean / median,
                    ms(median)
                )
            }),
            error_burst(now).map(|(failed, kind)| {
                format!("{name}: {failed} failures in a second ({})", kind.name())
            }),
            (!sweeping && in_flight > 0)
                .then(|| throughput_drop(baseline, now))
                .flatten()
                .map(|(tokens, median)| {
                    format!(
                        "{name}: throughput drops to {tokens} tok/s (median {median:.0}), {in_flight} in flight"
                    )
                }),
        ];
        for (rule, text) in found.into_iter().enumerate() {
            let Some(text) = text else { continue };
            let Some(watch) = self.engines.get_mut(engine) else {
                return;
            };
            let quiet = watch.last_seen[rule]
                .is_none_or(|seen| second.saturating_sub(seen) > ANOMALY_QUIET_SECONDS);
            watch.last_seen[rule] = Some(second);
            if quiet {
                self.write(at, Some(engine), SECOND_RULES[rule], text);
            }
        }
    }

    /// The standings at the end of a complete second, `at`: each engine's,
    /// and the leaderboard as a snapshot ranks them.
    pub fn on_standings(&mut self, at: Duration, lanes: &[Standing], leaderboard: &[usize]) {
        self.lead(at, lanes, leaderboard);
        for (engine, lane) in lanes.iter().enumerate() {
            if lane.state != LaneState::Running {
                continue;
            }
            for check in &lane.slo_checks {
                self.slo(at, engine, lane, check);
            }
        }
    }

    fn lead(&mut self, at: Duration, lanes: &[Standing], leaderboard: &[usize]) {
        let Some((first, lane)) = leaderboard.first().and_then(|&i| Some((i, lanes.get(i)?)))
        else {
            return;
        };
        if lanes.len() < 2 || lane.ok < LEAD_MIN_REQUESTS || self.leader == Some(first) {
            return;
        }
        if self
            .lead_line_at
            .is_some_and(|last| at.saturating_sub(last) < LEAD_CHANGE_COOLDOWN)
        {
            return;
        }
        let text = match self.leader.and_then(|i| lanes.get(i)) {
            Some(before) => format!("{} takes the lead from {}", lane.name, before.name),
            None => format!("{} takes the lead", lane.name),
        };
        self.leader = Some(first);
        self.lead_line_at = Some(at);
        self.write(at, Some(first), CommentaryKind::LeadChange, text);
    }

    fn slo(&mut self, at: Duration, engine: usize, lane: &Standing, check: &SloCheck) {
        let counted = if check.kind == SloKind::ErrorRate {
            lane.ok + lane.failed + lane.lost
        } else {
            lane.ok
        };
        let Some(watch) = self.engines.get_mut(engine) else {
            return;
        };
        match slo_risk(check, counted) {
            SloRisk::AtRisk(actual) if watch.slo_warned.insert(check.kind) => {
                let text = slo_text(&lane.name, check, actual);
                self.write(at, Some(engine), CommentaryKind::SloAtRisk, text);
            }
            SloRisk::Recovered => {
                watch.slo_warned.remove(&check.kind);
            }
            SloRisk::AtRisk(_) | SloRisk::Neither => {}
        }
    }
}

/// The median of `values` (`None` when empty).
fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 0 {
        f64::midpoint(values[mid - 1], values[mid])
    } else {
        values[mid]
    })
}

/// The rolling median of `f` over the baseline seconds `keep` admits, if
/// there are enough of them.
fn rolling(
    baseline: &[SeriesPoint],
    keep: fn(&SeriesPoint) -> bool,
    f: fn(&SeriesPoint) -> f64,
) -> Option<f64> {
    let start = baseline.len().saturating_sub(ROLLING_SECONDS as usize);
    let values: Vec<f64> = baseline[start..]
        .iter()
        .filter(|p| keep(p))
        .map(f)
        .collect();
    if values.len() < MIN_BASELINE_SECONDS {
        return None;
    }
    median(values)
}

/// A TTFT spike in `now`: (its mean, the rolling median), in ms.
fn latency_spike(baseline: &[SeriesPoint], now: &SeriesPoint) -> Option<(f64, f64)> {
    if now.requests_ok < SPIKE_MIN_REQUESTS {
        return None;
    }
    let median = rolling(
        baseline,
        |p| p.requests_ok > 0 && p.ttft_mean_ms > 0.0,
        |p| p.ttft_mean_ms,
    )?;
    let mean = now.ttft_mean_ms;
    (median > 0.0 && mean > SPIKE_FACTOR * median && mean - median >= SPIKE_MIN_RISE_MS)
        .then_some((mean, median))
}

/// An error burst in `now`: its failures and their commonest kind.
fn error_burst(now: &SeriesPoint) -> Option<(u32, ErrorKind)> {
    let failed = now.requests_failed;
    let completed = f64::from(now.requests_ok) + f64::from(failed);
    if failed < BURST_MIN_FAILURES || f64::from(failed) < BURST_MIN_SHARE * completed {
        return None;
    }
    // The commonest kind; on a tie, the first in `ErrorKind::ALL`.
    let (kind, _) = ErrorKind::ALL
        .iter()
        .zip(now.failed_by_kind)
        .rev()
        .max_by_key(|(_, n)| *n)?;
    Some((failed, *kind))
}

/// A throughput drop in `now`: its output tokens and the rolling median.
fn throughput_drop(baseline: &[SeriesPoint], now: &SeriesPoint) -> Option<(u64, f64)> {
    let requests = rolling(baseline, |_| true, |p| f64::from(p.requests_ok))?;
    #[allow(clippy::cast_precision_loss)]
    let median = rolling(baseline, |_| true, |p| p.output_tokens as f64)?;
    #[allow(clippy::cast_precision_loss)]
    let tokens = now.output_tokens as f64;
    (requests >= DROP_MIN_REQUESTS && median > 0.0 && tokens < DROP_FRACTION * median)
        .then_some((now.output_tokens, median))
}

enum SloRisk {
    /// At or over [`SLO_RISK_FRACTION`] of the limit: the figure.
    AtRisk(f64),
    /// Under [`SLO_RECOVERED_FRACTION`] of the limit.
    Recovered,
    Neither,
}

/// Where an objective's figure stands against its limit, once `counted`
/// requests back it.
fn slo_risk(check: &SloCheck, counted: u64) -> SloRisk {
    let Some(actual) = check.actual else {
        return SloRisk::Neither;
    };
    if counted < SLO_MIN_REQUESTS {
        return SloRisk::Neither;
    }
    // An error rate of 0 is never at risk, whatever the limit.
    if actual > 0.0 && actual >= SLO_RISK_FRACTION * check.threshold {
        SloRisk::AtRisk(actual)
    } else if actual < SLO_RECOVERED_FRACTION * check.threshold {
        SloRisk::Recovered
    } else {
        SloRisk::Neither
    }
}

fn slo_text(name: &str, check: &SloCheck, actual: f64) -> String {
    let label = check.kind.label();
    let (figure, limit) = match check.kind {
        SloKind::ErrorRate => (percent(actual), percent(check.threshold)),
        // As the race file set it.
        SloKind::TtftP99 | SloKind::TpotP99 | SloKind::E2eP99 => {
            (ms(actual), format!("{} ms", check.threshold))
        }
    };
    if actual > check.threshold {
        format!("{name}: {label} {figure} breaks its {limit} SLO")
    } else {
        format!("{name}: {label} {figure}, near its {limit} SLO")
    }
}

/// `850 ms`, `1.23 s`.
fn ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.0} ms")
    }
}

/// `9.5 %`.
fn percent(share: f64) -> String {
    let p = share * 100.0;
    if (p - p.round()).abs() < 0.05 {
        format!("{p:.0} %")
    } else {
        format!("{p:.1} %")
    }
}

/// `10,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1st`, `2nd`, `3rd`, `4th`, `11th`, `21st`.
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::stats::tests::lane;

    /// A steady second: 10 successes, 120 ms mean TTFT, 1,000 tokens.
    fn steady(t_s: u32) -> SeriesPoint {
        SeriesPoint {
            t_s,
            requests_ok: 10,
            output_tokens: 1000,
            ttft_mean_ms: 120.0,
            ..SeriesPoint::default()
        }
    }

    /// Feeds seconds `0..points.len()` one by one, each with up to
    /// `ROLLING_SECONDS` before it, as `RaceStats` does.
    fn feed(c: &mut Commentary, points: &[SeriesPoint], in_flight: u64) {
        for s in 0..points.len() {
            let from = s.saturating_sub(ROLLING_SECONDS as usize);
            c.on_second(0, "vllm", &points[from..=s], in_flight, false);
        }
    }

    fn kinds(c: &Commentary) -> Vec<(u64, CommentaryKind)> {
        c.lines(true)
            .iter()
            .map(|l| (l.at.as_secs(), l.kind))
            .collect()
    }

    #[test]
    fn a_steady_series_never_fires() {
        let mut c = Commentary::new(1);
        let points: Vec<SeriesPoint> = (0..120).map(steady).collect();
        feed(&mut c, &points, 8);
        assert!(c.lines(true).is_empty(), "{:?}", c.lines(true));
        // Nor does the same race with a little noise in every figure.
        let noisy: Vec<SeriesPoint> = (0..120)
            .map(|t| SeriesPoint {
                ttft_mean_ms: 120.0 + f64::from(t % 7) * 15.0,
                output_tokens: 900 + u64::from(t % 5) * 60,
                requests_failed: t % 3,
                ..steady(t)
            })
            .collect();
        let mut c = Commentary::new(1);
        feed(&mut c, &noisy, 8);
        assert!(c.lines(true).is_empty(), "{:?}", c.lines(true));
    }

    #[test]
    fn a_spike_fires_once_and_not_again_inside_its_cooldown() {
        let mut points: Vec<SeriesPoint> = (0..100).map(steady).collect();
        let spike = |p: &mut SeriesPoint| p.ttft_mean_ms = 900.0;
        // A spike at 20 s, another 10 s later (inside the quiet time), and
        // one after 40 quiet seconds.
        for s in [20, 30, 71] {
            spike(&mut points[s]);
        }
        let mut c = Commentary::new(1);
        feed(&mut c, &points, 8);
        assert_eq!(
            kinds(&c),
            vec![
                (21, CommentaryKind::LatencySpike),
                (72, CommentaryKind::LatencySpike)
            ]
        );
        let first = &c.lines(true)[0];
        assert_eq!(first.engine, Some(0));
        assert_eq!(
            first.text,
            "vllm: TTFT spike to 900 ms (7.5× its median 120 ms)"
        );
    }

    #[test]
    fn a_spike_needs_requests_a_rise_and_a_baseline() {
        let few = SeriesPoint {
            requests_ok: SPIKE_MIN_REQUESTS - 1,
            ttft_mean_ms: 900.0,
            ..steady(10)
        };
        let baseline: Vec<SeriesPoint> = (0..10).map(steady).collect();
        assert_eq!(latency_spike(&baseline, &few), None);
        // Tripled, but only 40 ms above a 20 ms median.
        let fast: Vec<SeriesPoint> = (0..10)
            .map(|t| SeriesPoint {
                ttft_mean_ms: 20.0,
                ..steady(t)
            })
            .collect();
        let small = SeriesPoint {
            ttft_mean_ms: 60.0,
            ..steady(10)
        };
        assert_eq!(latency_spike(&fast, &small), None);
        let big = SeriesPoint {
            ttft_mean_ms: 900.0,
            ..steady(10)
        };
        assert_eq!(latency_spike(&baseline[..4], &big), None, "4 s of baseline");
        assert_eq!(latency_spike(&baseline, &big), Some((900.0, 120.0)));
    }

    #[test]
    fn an_error_burst_names_its_top_kind() {
        let mut p = steady(3);
        p.requests_ok = 3;
        p.requests_failed = 6;
        p.failed_by_kind[0] = 5; // http_429
        p.failed_by_kind[2] = 1; // http_5xx
        let mut c = Commentary::new(1);
        c.on_second(0, "overbooked", &[p], 4, false);
        let lines = c.lines(true);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].kind, CommentaryKind::ErrorBurst);
        assert_eq!(lines[0].at, Duration::from_secs(4));
        assert_eq!(
            lines[0].text,
            "overbooked: 6 failures in a second (http_429)"
        );
        // Four failures, or five among many successes, are no burst.
        p.requests_failed = 4;
        assert_eq!(error_burst(&p), None);
        p.requests_failed = 5;
        p.requests_ok = 30;
        assert_eq!(error_burst(&p), None);
        p.requests_ok = 20;
        assert!(error_burst(&p).is_some(), "5 of 25 is 20 %");
    }

    #[test]
    fn a_sustained_error_burst_gives_one_line() {
        let points: Vec<SeriesPoint> = (0..90)
            .map(|t| SeriesPoint {
                requests_failed: 8,
                failed_by_kind: {
                    let mut k = [0; ErrorKind::ALL.len()];
                    k[4] = 8; // timeout
                    k
                },
                ..steady(t)
            })
            .collect();
        let mut c = Commentary::new(1);
        feed(&mut c, &points, 8);
        assert_eq!(kinds(&c), vec![(1, CommentaryKind::ErrorBurst)]);
        assert!(c.lines(true)[0].text.ends_with("(timeout)"));
    }

    #[test]
    fn a_throughput_drop_fires_only_with_requests_in_flight() {
        let mut points: Vec<SeriesPoint> = (0..40).map(steady).collect();
        points[35].output_tokens = 300;
        points[35].requests_ok = 3;
        let mut c = Commentary::new(1);
        feed(&mut c, &points, 8);
        assert_eq!(kinds(&c), vec![(36, CommentaryKind::ThroughputDrop)]);
        assert_eq!(
            c.lines(true)[0].text,
            "vllm: throughput drops to 300 tok/s (median 1000), 8 in flight"
        );
        // Nothing in flight: the engine has simply run out of work.
        let mut idle = Commentary::new(1);
        feed(&mut idle, &points, 0);
        assert!(idle.lines(true).is_empty());
        // A sweep drains between its steps on purpose.
        let mut sweep = Commentary::new(1);
        sweep.on_second(0, "vllm", &points[5..=35], 8, true);
        assert!(sweep.lines(true).is_empty());
        // A slow engine's seconds vary too much to judge.
        let slow: Vec<SeriesPoint> = points
            .iter()
            .map(|p| SeriesPoint {
                requests_ok: 2,
                ..*p
            })
            .collect();
        assert_eq!(throughput_drop(&slow[..35], &slow[35]), None);
    }

    #[test]
    fn first_to_100_fires_once_for_the_first_engine_only() {
        let mut c = Commentary::new(2);
        let at = Duration::from_secs;
        for ok in 95..=100 {
            c.on_success(at(3), 1, "tgi", ok, 2);
        }
        for ok in 95..=120 {
            c.on_success(at(4), 0, "vllm", ok, 2);
        }
        c.on_success(at(5), 1, "tgi", 101, 2);
        let lines = c.lines(true);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0].engine, Some(1));
        assert_eq!(lines[0].text, "tgi is first to 100 requests");
        c.on_success(at(60), 0, "vllm", 1_000, 2);
        assert_eq!(c.lines(true)[1].text, "vllm is first to 1,000 requests");
        // Alone in a race, an engine is not first: it reaches.
        let mut alone = Commentary::new(1);
        alone.on_success(at(3), 0, "vllm", 100, 1);
        assert_eq!(alone.lines(true)[0].text, "vllm reaches 100 requests");
    }

    #[test]
    fn finishers_are_told_their_time_and_place() {
        let mut c = Commentary::new(3);
        c.on_finish_line(
            Duration::from_secs(43),
            2,
            "sglang",
            Duration::from_millis(42_130),
            3,
        );
        c.on_finish_line(
            Duration::from_secs(44),
            0,
            "vllm",
            Duration::from_millis(43_900),
            3,
        );
        let texts: Vec<String> = c.lines(true).into_iter().map(|l| l.text).collect();
        assert_eq!(
            texts,
            vec![
                "sglang crosses the line in 42.1 s, 1st",
                "vllm crosses the line in 43.9 s, 2nd"
            ]
        );
        // The first across the line is the leader: no line repeats it.
        c.on_standings(
            Duration::from_secs(45),
            &lanes_of(&["vllm", "tgi", "sglang"], [40, 40, 40]),
            &[2, 0, 1],
        );
        assert_eq!(c.lines(true).len(), 2);
        assert_eq!(ordinal(12), "12th");
        assert_eq!(ordinal(23), "23rd");
    }

    fn lanes(ok: [u64; 2]) -> Vec<Standing> {
        lanes_of(&["vllm", "tgi"], ok)
    }

    fn lanes_of<const N: usize>(names: &[&str; N], ok: [u64; N]) -> Vec<Standing> {
        names
            .iter()
            .zip(ok)
            .map(|(&name, ok)| {
                let mut l = lane(name);
                l.counts.ok = ok;
                l.standing()
            })
            .collect()
    }

    #[test]
    fn a_lead_change_fires_once_when_the_leader_changes_and_not_while_it_holds() {
        let mut c = Commentary::new(2);
        let at = Duration::from_secs;
        // Too few requests to lead anything yet.
        c.on_standings(at(1), &lanes([3, 1]), &[0, 1]);
        assert!(c.lines(true).is_empty());
        for s in 2..20 {
            c.on_standings(at(s), &lanes([10, 6]), &[0, 1]);
        }
        for s in 20..40 {
            c.on_standings(at(s), &lanes([30, 40]), &[1, 0]);
        }
        let texts: Vec<(u64, String)> = c
            .lines(true)
            .into_iter()
            .map(|l| (l.at.as_secs(), l.text))
            .collect();
        assert_eq!(
            texts,
            vec![
                (2, "vllm takes the lead".to_owned()),
                (20, "tgi takes the lead from vllm".to_owned())
            ]
        );
        // One engine leads nothing.
        let mut alone = Commentary::new(1);
        alone.on_standings(at(5), &lanes([10, 0])[..1], &[0]);
        assert!(alone.lines(true).is_empty());
    }

    #[test]
    fn leaders_trading_places_every_second_give_one_line_per_cooldown() {
        let mut c = Commentary::new(2);
        for s in 1..=60 {
            let board = if s % 2 == 0 { [0, 1] } else { [1, 0] };
            c.on_standings(Duration::from_secs(s), &lanes([50, 50]), &board);
        }
        let lines = c.lines(true);
        let cooldown = LEAD_CHANGE_COOLDOWN.as_secs();
        assert!(lines.len() <= 60 / usize::try_from(cooldown).unwrap() + 1);
        for pair in lines.windows(2) {
            assert!(pair[1].at - pair[0].at >= LEAD_CHANGE_COOLDOWN);
        }
    }

    fn with_check(kind: SloKind, threshold: f64, actual: f64, ok: u64) -> Standing {
        let mut l = lane("vllm");
        l.counts.ok = ok;
        l.slo_checks = vec![SloCheck {
            few_samples: false,
            kind,
            threshold,
            actual: Some(actual),
            pass: actual <= threshold,
        }];
        l.standing()
    }

    #[test]
    fn slo_at_risk_fires_near_the_limit_and_not_far_from_it() {
        let at = Duration::from_secs;
        let mut c = Commentary::new(1);
        c.on_standings(
            at(5),
            &[with_check(SloKind::TtftP99, 1000.0, 700.0, 50)],
            &[0],
        );
        assert!(c.lines(true).is_empty(), "70 % of the limit");
        c.on_standings(
            at(6),
            &[with_check(SloKind::TtftP99, 1000.0, 930.0, 50)],
            &[0],
        );
        c.on_standings(
            at(7),
            &[with_check(SloKind::TtftP99, 1000.0, 1200.0, 50)],
            &[0],
        );
        let lines = c.lines(true);
        assert_eq!(lines.len(), 1, "once until it recovers: {lines:?}");
        assert_eq!(lines[0].kind, CommentaryKind::SloAtRisk);
        assert_eq!(lines[0].text, "vllm: TTFT p99 930 ms, near its 1000 ms SLO");
        // Back under 80 %, then over the limit: written again.
        c.on_standings(
            at(8),
            &[with_check(SloKind::TtftP99, 1000.0, 750.0, 80)],
            &[0],
        );
        c.on_standings(
            at(9),
            &[with_check(SloKind::TtftP99, 1000.0, 1500.0, 80)],
            &[0],
        );
        assert_eq!(
            c.lines(true)[1].text,
            "vllm: TTFT p99 1.50 s breaks its 1000 ms SLO"
        );
        // Too few requests to judge.
        let mut early = Commentary::new(1);
        early.on_standings(
            at(1),
            &[with_check(SloKind::TtftP99, 1000.0, 990.0, 3)],
            &[0],
        );
        assert!(early.lines(true).is_empty());
        // The error rate, and an error rate of 0 under a limit of 0.
        let mut errors = Commentary::new(1);
        errors.on_standings(
            at(3),
            &[with_check(SloKind::ErrorRate, 0.1, 0.095, 100)],
            &[0],
        );
        let lines = errors.lines(true);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text, "vllm: error rate 9.5 %, near its 10 % SLO");
        let mut none = Commentary::new(1);
        none.on_standings(
            at(4),
            &[with_check(SloKind::ErrorRate, 0.0, 0.0, 100)],
            &[0],
        );
        assert!(none.lines(true).is_empty());
        // A finished engine's figures are final: nothing to warn about.
        let mut done = with_check(SloKind::TtftP99, 1000.0, 990.0, 50);
        done.state = LaneState::Finished;
        let mut after = Commentary::new(1);
        after.on_standings(at(3), &[done], &[0]);
        assert!(after.lines(true).is_empty());
    }

    #[test]
    fn seconds_complete_once_and_a_long_gap_is_cut() {
        let mut c = Commentary::new(1);
        let at = Duration::from_millis;
        assert_eq!(c.complete_seconds(at(300)), 0..0);
        assert_eq!(c.complete_seconds(at(900)), 0..0);
        assert_eq!(c.complete_seconds(at(1_000)), 0..1);
        assert_eq!(c.complete_seconds(at(1_500)), 0..0);
        assert_eq!(c.complete_seconds(at(4_200)), 1..4);
        assert_eq!(
            c.complete_seconds(at(3_600_000)),
            3600 - CATCH_UP_SECONDS..3600
        );
        c.close();
        assert_eq!(c.complete_seconds(at(3_700_000)), 0..0);
        // An absurd time completes no more than the catch-up either.
        let mut far = Commentary::new(1);
        assert_eq!(far.complete_seconds(Duration::MAX).len(), 60);
    }

    #[test]
    fn snapshots_carry_the_newest_lines_and_the_summary_more() {
        let mut c = Commentary::new(1);
        for i in 0..(KEPT_LINES + 5) {
            let text = i.to_string();
            c.write(
                Duration::from_secs(i as u64),
                None,
                CommentaryKind::FirstTo,
                text,
            );
        }
        let live = c.lines(false);
        assert_eq!(live.len(), SNAPSHOT_LINES);
        assert_eq!(live.last().unwrap().text, (KEPT_LINES + 4).to_string());
        let full = c.lines(true);
        assert_eq!(full.len(), KEPT_LINES);
        assert_eq!(full[0].text, "5");
    }

    /// docs/METRICS.md is the one definition of the rules: every constant
    /// here appears there, in the "Commentary" section.
    #[test]
    fn the_documented_thresholds_are_the_constants() {
        let doc = include_str!("../../docs/METRICS.md");
        let start = doc.find("\n## Commentary").expect("a Commentary section");
        let section = &doc[start + 1..];
        let section = &section[..section[1..].find("\n## ").map_or(section.len(), |e| e + 1)];
        let firsts: Vec<String> = FIRST_TO.iter().map(|&n| thousands(n)).collect();
        let pct = |x: f64| format!("{:.0} %", x * 100.0);
        let phrases = [
            format!("{}, {} and {}", firsts[0], firsts[1], firsts[2]),
            format!("at least {LEAD_MIN_REQUESTS} successful requests"),
            format!("one line per {} s", LEAD_CHANGE_COOLDOWN.as_secs()),
            format!("previous {ROLLING_SECONDS} seconds"),
            format!("at least {MIN_BASELINE_SECONDS} such seconds"),
            format!("the last {CATCH_UP_SECONDS} seconds"),
            format!("over {SPIKE_FACTOR}×"),
            format!("at least {SPIKE_MIN_REQUESTS} successful requests in the second"),
            format!("at least {SPIKE_MIN_RISE_MS} ms above"),
            format!("at least {BURST_MIN_FAILURES} failures"),
            format!("at least {} of its completed", pct(BURST_MIN_SHARE)),
            format!(
                "under {} of the engine's rolling median",
                pct(DROP_FRACTION)
            ),
            format!("completed at least {DROP_MIN_REQUESTS} requests"),
            format!("{ANOMALY_QUIET_SECONDS} complete seconds"),
            format!("reaches {} of its limit", pct(SLO_RISK_FRACTION)),
            format!("under {} of the limit", pct(SLO_RECOVERED_FRACTION)),
            format!("at least {SLO_MIN_REQUESTS} requests"),
            format!("the last {SNAPSHOT_LINES} lines"),
            format!("the last {} lines", thousands(KEPT_LINES as u64)),
        ];
        for phrase in phrases {
            assert!(
                section.contains(&phrase),
                "docs/METRICS.md lacks {phrase:?}"
            );
        }
    }

    #[test]
    fn server_causes_are_said_once_and_again_only_after_clearing() {
        let mut c = Commentary::new(1);
        let figures = |waiting: f64, kv: f64, preempt: f64, hit: Option<f64>| ServerFigures {
            running: Some(4.0),
            waiting: Some(waiting),
            kv_use: Some(kv),
            hit_rate: hit,
            preemptions_per_s: Some(preempt),
            ..ServerFigures::default()
        };
        let at = |s: u64| Duration::from_secs(s);
        let texts = |c: &Commentary| {
            c.lines(true)
                .into_iter()
                .map(|l| (l.kind, l.text))
                .collect::<Vec<_>>()
        };
        // Calm: nothing.
        c.on_server_figures(
            at(1),
            0,
            "vllm",
            &figures(2.0, 0.5, 0.0, Some(0.6)),
            Some(0.6),
        );
        assert!(texts(&c).is_empty());
        // A queue as long as the batch, a full cache that preempts, and a
        // hit rate under half its mean: each said once.
        let bad = figures(12.0, 0.97, 2.0, Some(0.2));
        c.on_server_figures(at(2), 0, "vllm", &bad, Some(0.6));
        c.on_server_figures(at(3), 0, "vllm", &bad, Some(0.55));
        let said = texts(&c);
        assert_eq!(said.len(), 3, "{said:?}");
        assert_eq!(
            said[0],
            (
                CommentaryKind::ServerQueueing,
                "vllm: 12 requests wait at the server (4 running): TTFT is queueing".to_owned()
            )
        );
        assert_eq!(
            said[1].1,
            "vllm: KV cache full (97%), the server preempts 2.0 requests/s"
        );
        assert_eq!(
            said[2].1,
            "vllm: prefix-cache hit rate fell to 20% (mean 60%)"
        );
        assert_eq!(CommentaryKind::KvCacheFull.tone(), Tone::Bad);
        // Cleared (queue empty, KV under 90 %, hit rate back), then again.
        c.on_server_figures(
            at(4),
            0,
            "vllm",
            &figures(0.0, 0.5, 0.0, Some(0.6)),
            Some(0.5),
        );
        c.on_server_figures(at(5), 0, "vllm", &bad, Some(0.6));
        assert_eq!(texts(&c).len(), 6);
    }
}
