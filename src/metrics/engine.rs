//! One engine's metric state: counts, histograms, series, stages, sweep
//! and traces, folded request by request, and its lane of a snapshot.

use std::time::Duration;

use super::breakdown::{Breakdown, BreakdownFold};
use super::cost::Cost;
use super::figures::{
    Arrivals, Connections, Counts, EmbeddingRates, Grades, Latencies, RateIntervals, Rates, Waits,
};
use super::health::{self, Grade};
use super::histogram::{CountHistogram, LatencyHistogram, LatencySummary};
use super::interval;
use super::prompt_cache::PromptCacheFold;
use super::recent::RecentRequests;
use super::record::ConversationEnd;
use super::record::{RequestError, RequestRecord, per_second};
use super::series::Series;
use super::server::ServerFold;
use super::slo;
use super::snapshot::{
    DISTRIBUTION_BINS, Distributions, ERROR_SAMPLE_CHARS, ERROR_SAMPLES, ErrorSample, LaneSnapshot,
    LaneState,
};
use super::standing::Standing;
use super::sweep::Sweep;
use super::trace::TraceBook;
use super::windows::Windows;
use crate::config::color::EngineColor;
use crate::config::{FinishSpec, Pricing, SloSpec};

#[derive(Debug, Clone)]
pub struct EngineStats {
    pub name: String,
    pub model: String,
    pub emoji: String,
    pub color: EngineColor,
    pub(super) counts: Counts,
    latencies: Latencies<LatencyHistogram>,
    input_counts: CountHistogram,
    output_counts: CountHistogram,
    /// The distributions as last binned (once a race second, see
    /// `RaceStats::apply`).
    distributions: Option<std::sync::Arc<Distributions>>,
    /// Open-loop arrivals (`offered` is filled in by the snapshot).
    arrivals: Arrivals,
    waits: Waits,
    pub(super) connections: Connections,
    /// What the server's answers said of its prefix cache.
    prompt_cache: PromptCacheFold,
    /// Figures by turn and prompt length, and how conversations ended.
    breakdown: BreakdownFold,
    /// The server's own metrics, as scraped.
    pub(super) server: ServerFold,
    /// The breakdown as last summarised (once a race second).
    breakdown_figures: Option<std::sync::Arc<Breakdown<LatencySummary>>>,
    error_samples: ErrorSamples,
    pub(super) traces: TraceBook,
    /// The last finished requests, for the timeline.
    recent: RecentRequests,
    /// Figures per stage of a `stages` load.
    pub(super) stages: Windows,
    /// The stress test's steps and verdicts (`sweep` loads).
    pub(super) sweep: Option<Sweep>,
    /// The level the sweep's last judgement asked for next.
    pub(super) sweep_next: Option<f64>,
    /// What the engine's tokens cost (`cost_per_hour` or `price`).
    pub(super) pricing: Option<Pricing>,
    /// An embeddings engine's batch: prompts in one request (`None` for an
    /// engine that generates).
    pub(super) embeddings_batch: Option<u32>,
    series: Series,
    last_end: Duration,
    /// The latest end of a successful request so far.
    last_ok_end: Duration,
    pub(super) state: LaneState,
    finished_at: Option<Duration>,
}

impl EngineStats {
    #[must_use]
    pub fn new(name: &str, model: &str, emoji: &str, color: EngineColor) -> Self {
        EngineStats {
            name: name.to_owned(),
            model: model.to_owned(),
            emoji: emoji.to_owned(),
            color,
            counts: Counts::default(),
            latencies: Latencies::default(),
            input_counts: CountHistogram::default(),
            output_counts: CountHistogram::default(),
            distributions: None,
            arrivals: Arrivals::default(),
            waits: Waits::default(),
            connections: Connections::default(),
            prompt_cache: PromptCacheFold::default(),
            breakdown: BreakdownFold::default(),
            server: ServerFold::default(),
            breakdown_figures: None,
            error_samples: ErrorSamples::default(),
            traces: TraceBook::default(),
            recent: RecentRequests::default(),
            stages: Windows::default(),
            sweep: None,
            sweep_next: None,
            pricing: None,
            embeddings_batch: None,
            series: Series::default(),
            last_end: Duration::ZERO,
            last_ok_end: Duration::ZERO,
            state: LaneState::Running,
            finished_at: None,
        }
    }

    /// The 95 % intervals of `rates`, from the lane's whole seconds up to
    /// `now` (or its end): `None` before three whole seconds.
    fn rate_intervals(&self, rates: &Rates, now: Duration) -> Option<RateIntervals> {
        let end = self.finished_at.unwrap_or(now).min(now);
        let seconds = u32::try_from(end.as_secs()).unwrap_or(u32::MAX);
        let counts = self.series.counts(seconds);
        let half = |of: fn(&super::series::SecondCounts) -> f64| {
            let values: Vec<f64> = counts.iter().map(of).collect();
            interval::batch_means_half_width(&values)
        };
        let around = |rate: f64, half: f64| [(rate - half).max(0.0), rate + half];
        #[allow(clippy::cast_precision_loss)]
        Some(RateIntervals {
            requests_per_s: around(rates.requests_per_s, half(|c| f64::from(c.ok))?),
            output_tokens_per_s: around(
                rates.output_tokens_per_s,
                half(|c| c.output_tokens as f64)?,
            ),
            goodput_rps: around(rates.goodput_rps, half(|c| f64::from(c.good))?),
        })
    }

    /// An embeddings engine's throughput over `active` time.
    fn embedding_rates(&self, active: Duration) -> Option<EmbeddingRates> {
        let n = self.embeddings_batch?;
        let inputs = self.counts.ok.saturating_mul(u64::from(n));
        Some(EmbeddingRates {
            inputs_per_request: n,
            inputs,
            inputs_per_s: per_second(inputs, active),
            input_tokens_per_s: per_second(self.counts.input_tokens, active),
        })
    }

    /// The server's figures; an embeddings engine generates no token to
    /// count against the server's.
    fn server_snapshot(&self, series_from: u32) -> Option<super::server::ServerSnapshot> {
        let mut s = self
            .server
            .snapshot(series_from, self.counts.output_tokens)?;
        if self.embeddings_batch.is_some() {
            s.token_check = None;
        }
        Some(s)
    }

    /// What its tokens cost over `active` time, if it is priced.
    fn cost(&self, active: Duration) -> Option<Cost> {
        let c = &self.counts;
        self.pricing
            .map(|pricing| Cost::of(pricing, active, c.ok, c.input_tokens, c.output_tokens))
    }

    /// The race's objectives that apply to this engine: an embeddings
    /// engine has no token, so no TTFT or TPOT to judge.
    pub(super) fn applicable<'s>(&self, slo: &'s SloSpec) -> std::borrow::Cow<'s, SloSpec> {
        if self.embeddings_batch.is_none() {
            return std::borrow::Cow::Borrowed(slo);
        }
        std::borrow::Cow::Owned(SloSpec {
            ttft_p99: None,
            tpot_p99: None,
            ..slo.clone()
        })
    }

    pub fn on_started(&mut self) {
        self.counts.started += 1;
    }

    pub fn on_late_arrival(&mut self) {
        self.arrivals.late += 1;
    }

    pub fn on_dropped_arrival(&mut self, at: Duration) {
        self.arrivals.dropped += 1;
        self.stages.lost(at, 1);
        if let Some(sweep) = &mut self.sweep {
            sweep.lost(at, 1);
        }
    }

    pub fn on_unsent_arrivals(&mut self, count: u64) {
        self.arrivals.unsent = self.arrivals.unsent.saturating_add(count);
    }

    /// A user waited `waited` before its next request.
    pub fn on_backed_off(&mut self, waited: Duration, retry_after: bool) {
        self.waits.backoffs += 1;
        if retry_after {
            self.waits.retry_afters += 1;
        }
        self.waits.time = self.waits.time.saturating_add(waited);
    }

    /// Arrivals that were offered but never became a request.
    #[must_use]
    pub fn lost_arrivals(&self) -> u64 {
        self.arrivals.dropped.saturating_add(self.arrivals.unsent)
    }

    /// Requests that were in flight when the engine was stopped and were
    /// aborted after the grace period: neither successes nor failures.
    pub fn on_cancelled(&mut self, count: u64) {
        self.counts.cancelled = self.counts.cancelled.saturating_add(count);
    }

    /// Folds one finished request into the metrics. Latencies and tokens come
    /// from successful requests only; failures are counted by kind.
    pub fn observe(&mut self, record: &RequestRecord, slo: &SloSpec) {
        let slo = &*self.applicable(slo);
        self.last_end = self.last_end.max(record.end_at);
        if record.is_ok() {
            self.last_ok_end = self.last_ok_end.max(record.end_at);
        }
        self.recent.observe(record);
        self.breakdown.observe(record);
        self.series
            .observe(record, record.is_ok() && slo::request_meets(slo, record));
        self.stages.observe(record);
        if let Some(sweep) = &mut self.sweep {
            sweep.observe(record);
        }
        self.latencies.send_delay.record(record.send_delay());
        if let Some(err) = &record.error {
            self.counts.failed += 1;
            *self.counts.errors.entry(err.kind).or_default() += 1;
            self.error_samples.observe(err);
            return;
        }
        self.counts.ok += 1;
        if slo::request_meets(slo, record) {
            self.counts.good += 1;
        }
        self.counts.input_tokens += u64::from(record.input_tokens);
        self.counts.output_tokens += u64::from(record.output_tokens);
        self.input_counts.record(record.input_tokens);
        self.output_counts.record(record.output_tokens);
        self.counts.input_sources.insert(record.input_source);
        self.counts.output_sources.insert(record.output_source);
        self.prompt_cache.observe(record);
        self.latencies.e2e.record(record.e2e());
        if let Some(ttft) = record.ttft() {
            self.latencies.ttft.record(ttft);
        }
        if let Some(ttfot) = record.ttfot() {
            self.latencies.ttfot.record(ttfot);
        }
        if let Some(tpot) = record.tpot() {
            self.latencies.tpot.record(tpot);
        }
        for gap in record.itls() {
            self.latencies.itl.record(gap);
        }
    }

    /// Bins the live distributions anew (from what has been folded so far).
    pub(super) fn refresh_distributions(&mut self) {
        self.distributions = Some(std::sync::Arc::new(self.distributions()));
        self.breakdown_figures = Some(std::sync::Arc::new(self.breakdown.figures()));
    }

    /// One of its conversations ended.
    pub fn on_conversation_ended(&mut self, how: ConversationEnd) {
        self.breakdown.on_ended(how);
    }

    /// Every latency and token count of the successful requests, binned.
    fn distributions(&self) -> Distributions {
        Distributions {
            ttft_ms: self.latencies.ttft.distribution(DISTRIBUTION_BINS),
            ttfot_ms: self.latencies.ttfot.distribution(DISTRIBUTION_BINS),
            tpot_ms: self.latencies.tpot.distribution(DISTRIBUTION_BINS),
            itl_ms: self.latencies.itl.distribution(DISTRIBUTION_BINS),
            e2e_ms: self.latencies.e2e.distribution(DISTRIBUTION_BINS),
            input_tokens: self.input_counts.distribution(DISTRIBUTION_BINS),
            output_tokens: self.output_counts.distribution(DISTRIBUTION_BINS),
        }
    }

    /// Successful requests so far.
    #[must_use]
    pub fn requests_ok(&self) -> u64 {
        self.counts.ok
    }

    /// The per-second points of seconds `[from, until)`.
    #[must_use]
    pub fn series_points(&self, from: u32, until: u32) -> Vec<super::series::SeriesPoint> {
        self.series.points(from, until)
    }

    #[must_use]
    pub fn in_flight(&self) -> u64 {
        self.counts.started.saturating_sub(
            self.counts
                .ok
                .saturating_add(self.counts.failed)
                .saturating_add(self.counts.cancelled),
        )
    }

    #[must_use]
    pub fn state(&self) -> LaneState {
        self.state
    }

    #[must_use]
    pub fn is_running(&self) -> bool {
        self.state == LaneState::Running
    }

    /// Whether the engine has crossed its request or token finish line.
    #[must_use]
    pub fn crossed_finish_line(&self, finish: &FinishSpec) -> bool {
        finish.requests.is_some_and(|n| self.counts.ok >= n)
            || finish
                .output_tokens
                .is_some_and(|n| self.counts.output_tokens >= n)
    }

    /// When the successful requests so far had all ended: the time an engine
    /// crossing a finish line now crossed it (requests from different users
    /// can reach the fold in another order than they ended).
    #[must_use]
    pub fn last_success_end(&self) -> Duration {
        self.last_ok_end
    }

    /// Ends the engine's race at `at` (once; later calls change nothing).
    pub fn end(&mut self, state: LaneState, at: Duration) {
        if self.state == LaneState::Running {
            self.state = state;
            self.finished_at = Some(at);
        }
    }

    /// Racing time, the window its rates are over: from the start signal to
    /// `now`, or, once the engine has ended, to its end (the time limit, its
    /// finish line, a stop): the time it was offered load. Requests still
    /// in flight then count when they end, as they were offered in it.
    #[must_use]
    pub fn active(&self, now: Duration) -> Duration {
        self.finished_at.map_or(now, |end| end.min(now))
    }

    /// The time its requests span: to `now`, or, once the engine has ended,
    /// to the later of its end and its last request's (the series).
    fn span(&self, now: Duration) -> Duration {
        match self.finished_at {
            Some(end) => end.max(self.last_end).min(now.max(end)),
            None => now,
        }
    }

    pub(super) fn progress(&self, finish: &FinishSpec, now: Duration) -> f64 {
        if self.state == LaneState::Finished {
            return 1.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let fraction = |done: u64, target: u64| done as f64 / target.max(1) as f64;
        let mut p: f64 = 0.0;
        if finish.duration_is_finish_line {
            p = p.max(now.as_secs_f64() / finish.duration.as_secs_f64().max(1e-9));
        }
        if let Some(n) = finish.requests {
            p = p.max(fraction(self.counts.ok, n));
        }
        if let Some(n) = finish.output_tokens {
            p = p.max(fraction(self.counts.output_tokens, n));
        }
        p.clamp(0.0, 1.0)
    }

    /// Where the engine stands at `now`, as its snapshot then would say
    /// (without building one).
    pub(super) fn standing(&self, slo_spec: &SloSpec, now: Duration) -> Standing {
        let slo_spec = &*self.applicable(slo_spec);
        let (ttft, tpot, e2e) = (
            self.latencies.ttft.summary(),
            self.latencies.tpot.summary(),
            self.latencies.e2e.summary(),
        );
        let lost = self.arrivals.lost();
        Standing {
            name: self.name.clone(),
            state: self.state,
            finished_at: self.finished_at,
            ok: self.counts.ok,
            failed: self.counts.failed,
            lost,
            output_tokens: self.counts.output_tokens,
            goodput_rps: per_second(self.counts.good, self.active(now)),
            ttft_p50: (ttft.count > 0).then_some(ttft.p50),
            sweeping: self.sweep.is_some(),
            sustained: self.sweep.as_ref().and_then(|s| {
                let best = s.snapshot().max_sustainable?;
                Some((best.level, best.output_tokens_per_s))
            }),
            slo_checks: slo::evaluate(
                slo_spec,
                &ttft,
                &tpot,
                &e2e,
                self.counts.ok,
                self.counts.failed.saturating_add(lost),
            ),
        }
    }

    pub(super) fn snapshot(
        &self,
        finish: &FinishSpec,
        slo_spec: &SloSpec,
        now: Duration,
        series_from: u32,
        full: bool,
    ) -> LaneSnapshot {
        let slo_spec = &*self.applicable(slo_spec);
        let active = self.active(now);
        let mut latencies = self.latencies.map(LatencyHistogram::summary_with_intervals);
        // ITL's gaps within a request are not independent samples: an
        // interval over them would be far too narrow.
        latencies.itl.ci95 = None;
        let counts = &self.counts;
        let lost = self.arrivals.lost();
        let slo_checks = slo::evaluate(
            slo_spec,
            &latencies.ttft,
            &latencies.tpot,
            &latencies.e2e,
            counts.ok,
            counts.failed.saturating_add(lost),
        );
        let slo_pass = slo_checks.iter().all(|c| c.pass);
        let until = u32::try_from(self.span(now).as_secs())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        let series = self.series.points(series_from.min(until), until);
        let complete = super::series::whole_seconds(&series);
        let grades = grades(
            complete,
            &latencies,
            counts.ok,
            counts.failed.saturating_add(lost),
            slo_pass,
            slo_spec,
        );
        LaneSnapshot {
            name: self.name.clone(),
            model: self.model.clone(),
            emoji: self.emoji.clone(),
            color: self.color,
            state: self.state,
            finished_at: self.finished_at,
            place: 0,
            progress: self.progress(finish, now),
            active,
            counts: counts.clone(),
            rates: rates(counts, lost, active),
            embeddings: self.embedding_rates(active),
            rate_ci95: self.rate_intervals(&rates(counts, lost, active), now),
            too_close_to_call: false,
            latencies,
            arrivals: Arrivals {
                offered: counts.started.saturating_add(lost),
                ..self.arrivals
            },
            waits: self.waits,
            connections: self.connections,
            prompt_cache: self.prompt_cache.figures(),
            server: self.server_snapshot(series_from),
            breakdown: if full {
                Some(std::sync::Arc::new(self.breakdown.figures()))
            } else {
                self.breakdown_figures.clone()
            },
            cost: self.cost(active),
            cheapest: None,
            error_samples: self.error_samples.samples.clone(),
            grades,
            slo_checks,
            slo_pass,
            series,
            distributions: if full {
                Some(std::sync::Arc::new(self.distributions()))
            } else {
                self.distributions.clone()
            },
            traces: self.traces.snapshot(),
            recent: self.recent.snapshot(),
            sweep: self.sweep.as_ref().map(|sweep| {
                let mut now = sweep.snapshot();
                // A stopped engine runs no step, whatever its sweep had planned.
                if !self.is_running() {
                    now.current = None;
                    now.cut_short = !now.done;
                }
                now
            }),
            // Figures per stage cost a summary each: in the final snapshot only.
            stages: if full {
                self.stages.figures(slo_spec)
            } else {
                Vec::new()
            },
        }
    }
}

/// The first few distinct failure messages of an engine, with how often each
/// came: what a person needs to see why requests failed.
#[derive(Debug, Clone, Default)]
struct ErrorSamples {
    samples: Vec<ErrorSample>,
}

impl ErrorSamples {
    fn observe(&mut self, error: &RequestError) {
        // Compared as kept: messages that differ only past the cut are one.
        let message = match error.message.char_indices().nth(ERROR_SAMPLE_CHARS) {
            Some((cut, _)) => &error.message[..cut],
            None => error.message.as_str(),
        };
        if let Some(s) = self
            .samples
            .iter_mut()
            .find(|s| s.kind == error.kind && s.message == message)
        {
            s.count += 1;
        } else if self.samples.len() < ERROR_SAMPLES {
            self.samples.push(ErrorSample {
                kind: error.kind,
                message: message.to_owned(),
                count: 1,
            });
        }
    }
}

/// Per second of `active` time, and the success rate over offered arrivals.
fn rates(counts: &Counts, lost: u64, active: Duration) -> Rates {
    Rates {
        requests_per_s: per_second(counts.ok, active),
        output_tokens_per_s: per_second(counts.output_tokens, active),
        total_tokens_per_s: per_second(counts.input_tokens + counts.output_tokens, active),
        goodput_rps: per_second(counts.good, active),
        success_rate: 1.0 - slo::error_rate(counts.ok, counts.failed.saturating_add(lost)),
    }
}

/// The judgements from the complete seconds of the series and the whole
/// race's figures; the throughput grade is set against the other lanes
/// later, in `RaceStats::snapshot`.
fn grades(
    complete: &[super::series::SeriesPoint],
    latencies: &Latencies<LatencySummary>,
    ok: u64,
    failed: u64,
    slo_pass: bool,
    slo_spec: &SloSpec,
) -> Grades {
    let trend_of = |f: fn(&super::series::SeriesPoint) -> f64| {
        health::trend(&complete.iter().map(f).collect::<Vec<f64>>())
    };
    let (ttft_limits, tpot_limits) = health::race_thresholds(slo_spec);
    let (ttft, tpot) = (&latencies.ttft, &latencies.tpot);
    Grades {
        health: health::health(complete, ok, failed, slo_pass),
        ttft_trend: trend_of(|p| p.ttft_mean_ms),
        tpot_trend: trend_of(|p| p.tpot_mean_ms),
        #[allow(clippy::cast_precision_loss)]
        throughput_trend: trend_of(|p| p.output_tokens as f64),
        ttft_grade: health::latency_grade(ttft.p50, ttft.count, ttft_limits),
        tpot_grade: health::latency_grade(tpot.p50, tpot.count, tpot_limits),
        throughput_grade: Grade::Unknown,
    }
}
