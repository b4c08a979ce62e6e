//! The mutable metric state of a race: one `EngineStats` (see `engine`) per engine. Owned by
//! exactly one task (the aggregator, live or replayed), which feeds it events
//! and turns it into [`RaceSnapshot`]s.

use std::time::Duration;

use super::client::ClientStats;
use super::commentary::{Commentary, ROLLING_SECONDS};
use super::event::RaceEvent;
use super::health::{self};
use super::leaderboard;
use super::pairs::PairFold;
use super::record::RequestRecord;
use super::server::ServerSample;
use super::snapshot::{ConnectionReuse, LaneSnapshot, LaneState, RacePhase, RaceSnapshot};
use super::standing::Standing;
use super::sweep::Sweep;
use super::windows::{LevelUnit, Windows};
use crate::config::{
    FinishSpec, LoadMode, LoadSpec, RaceSpec, Sharding, SloSpec, StageLevel, WorkloadFacts,
};

/// How many seconds of series a live snapshot carries.
pub const LIVE_SERIES_SECONDS: u32 = 120;

pub use super::engine::EngineStats;

/// The metric state of every engine in a race.
#[derive(Debug, Clone)]
pub struct RaceStats {
    pub race_name: String,
    pub finish: FinishSpec,
    pub slo: SloSpec,
    pub load_mode: LoadMode,
    pub engines: Vec<EngineStats>,
    pub workload: Option<WorkloadFacts>,
    /// See `RaceSpec::simulated`.
    pub simulated: bool,
    /// See `RaceSpec::sharding`.
    pub sharding: Sharding,
    pub client: ClientStats,
    /// What a `stages` load's levels count.
    stage_unit: Option<LevelUnit>,
    /// The commentary feed, written as the events are folded.
    commentary: Commentary,
    sequence: u64,
    /// Each engine's times by request id, for the paired comparison.
    pairs: PairFold,
    /// The race second the live distributions were last binned at.
    binned_second: u64,
}

impl RaceStats {
    #[must_use]
    pub fn new(spec: &RaceSpec) -> Self {
        let mut stats = RaceStats {
            race_name: spec.name.clone(),
            finish: spec.finish_line(),
            slo: spec.slo.clone(),
            load_mode: spec.load.mode(),
            engines: spec
                .engines
                .iter()
                .map(|e| EngineStats::new(&e.name, &e.model, &e.emoji, e.color))
                .collect(),
            workload: spec.workload.clone(),
            simulated: spec.simulated,
            sharding: spec.sharding.clone(),
            client: ClientStats::default(),
            stage_unit: match &spec.load {
                LoadSpec::Stages { of, .. } => Some(match of {
                    StageLevel::Users => LevelUnit::Users,
                    StageLevel::Rate { .. } => LevelUnit::Rate,
                }),
                _ => None,
            },
            commentary: Commentary::new(spec.engines.len()),
            pairs: PairFold::new(
                &spec
                    .engines
                    .iter()
                    .map(|e| !e.endpoint.generates())
                    .collect::<Vec<_>>(),
            ),
            sequence: 0,
            binned_second: 0,
        };
        let levels: Vec<f64> = match &spec.load {
            LoadSpec::Stages { stages, .. } => stages.iter().map(|s| s.level).collect(),
            _ => Vec::new(),
        };
        for (engine, spec_engine) in stats.engines.iter_mut().zip(&spec.engines) {
            engine.pricing = spec_engine.pricing;
            engine.embeddings_batch =
                (!spec_engine.endpoint.generates()).then_some(spec_engine.inputs_per_request);
            engine.connections.reuse = ConnectionReuse::configured(spec_engine.reuse_connections);
            engine.stages = Windows::new(spec.load.stage_starts(), levels.clone());
            if let LoadSpec::Sweep(sweep) = &spec.load {
                engine.sweep = Some(Sweep::new(sweep.clone()));
            }
        }
        stats
    }

    pub fn observe(&mut self, record: &RequestRecord) {
        self.client.observe(record);
        self.pairs.observe(record);
        if let Some(engine) = self.engines.get_mut(record.engine) {
            engine.observe(record, &self.slo);
        }
    }

    /// A scrape of an engine's server metrics: folded, and the commentary
    /// told when they are first found (or first fail) and of the causes
    /// they show.
    fn on_server_scrape(
        &mut self,
        at: Duration,
        engine: usize,
        sample: Result<&ServerSample, &str>,
    ) {
        let Some(e) = self.engines.get_mut(engine) else {
            return;
        };
        let (read, failed) = e.server.counts();
        // The mean before this scrape: a drop is against it.
        let mean_hit_rate = e.server.mean_hit_rate();
        e.server.observe(at, sample);
        match sample {
            Ok(_) => {
                if read == 0 {
                    self.commentary.on_server_metrics_found(at, engine, &e.name);
                }
                let now = e.server.now();
                self.commentary
                    .on_server_figures(at, engine, &e.name, &now, mean_hit_rate);
            }
            Err(why) if failed == 0 && read == 0 => {
                self.commentary
                    .on_server_metrics_failed(at, engine, &e.name, why);
            }
            Err(_) => {}
        }
    }

    /// Folds one event, applied `at` (time since the start signal), into the
    /// race. Returns the engine that crossed its finish line with it, if any
    /// (the live aggregator then stops that engine's load).
    pub fn apply(&mut self, at: Duration, event: &RaceEvent) -> Option<usize> {
        // The live distributions are binned when the fold enters a new race
        // second (binning walks the histograms): driven by the events' own
        // times, so a replay bins at the same points as the live race.
        if at.as_secs() > self.binned_second {
            self.binned_second = at.as_secs();
            for e in &mut self.engines {
                e.refresh_distributions();
            }
        }
        // Before the event: the seconds it completes are the ones before it.
        self.comment_on_seconds(at);
        match event {
            RaceEvent::Started { engine } => {
                if let Some(e) = self.engines.get_mut(*engine) {
                    e.on_started();
                }
            }
            RaceEvent::LateArrival { engine } => {
                if let Some(e) = self.engines.get_mut(*engine) {
                    e.on_late_arrival();
                }
            }
            RaceEvent::DroppedArrival { engine } => {
                if let Some(e) = self.engines.get_mut(*engine) {
                    e.on_dropped_arrival(at);
                }
            }
            RaceEvent::Cancelled { engine, count } => {
                if let Some(e) = self.engines.get_mut(*engine) {
                    e.on_cancelled(*count);
                }
            }
            RaceEvent::ClientSample(sample) => self.client.on_sample(*sample),
            RaceEvent::ConnectionsOpened { engine, total } => {
                if let Some(e) = self.engines.get_mut(*engine) {
                    e.connections.opened = e.connections.opened.max(*total);
                }
            }
            RaceEvent::ConnectionRetried { engine } => {
                if let Some(e) = self.engines.get_mut(*engine) {
                    e.connections.retries += 1;
                }
            }
            RaceEvent::ConnectionReuseStopped { engine } => {
                if let Some(e) = self.engines.get_mut(*engine)
                    && e.connections.reuse == ConnectionReuse::Reused
                {
                    e.connections.reuse = ConnectionReuse::Stopped;
                    self.commentary.on_reuse_stopped(at, *engine, &e.name);
                }
            }
            RaceEvent::ServerScrape { engine, sample } => {
                self.on_server_scrape(at, *engine, sample.as_ref().map_err(String::as_str));
            }
            RaceEvent::ConversationEnded { engine, how } => {
                if let Some(e) = self.engines.get_mut(*engine) {
                    e.on_conversation_ended(*how);
                }
            }
            RaceEvent::UnsentArrivals { engine, count } => {
                if let Some(e) = self.engines.get_mut(*engine) {
                    e.on_unsent_arrivals(*count);
                }
            }
            RaceEvent::BackedOff {
                engine,
                waited,
                retry_after,
            } => {
                if let Some(e) = self.engines.get_mut(*engine) {
                    e.on_backed_off(*waited, *retry_after);
                }
            }
            RaceEvent::SweepStep { engine, level } => {
                if let Some(sweep) = self.engines.get_mut(*engine).and_then(|e| e.sweep.as_mut()) {
                    sweep.start_step(at, *level);
                }
            }
            RaceEvent::SweepJudged { engine } => {
                let race_slo = &self.slo;
                if let Some(e) = self.engines.get_mut(*engine) {
                    let slo = e.applicable(race_slo).into_owned();
                    if let Some(sweep) = &mut e.sweep {
                        e.sweep_next = sweep.judge(&slo);
                        if e.sweep_next.is_none() && e.is_running() {
                            e.end(LaneState::Finished, at);
                            return Some(*engine);
                        }
                    }
                }
            }
            RaceEvent::Trace(trace) => {
                if let Some(e) = self.engines.get_mut(trace.engine) {
                    e.traces.apply(trace);
                }
            }
            RaceEvent::Finished(record) => {
                self.observe(record);
                let racing = self.engines.len();
                if let Some(e) = self.engines.get_mut(record.engine) {
                    e.traces.finish(record);
                    if record.is_ok() {
                        let ok = e.requests_ok();
                        self.commentary
                            .on_success(at, record.engine, &e.name, ok, racing);
                    }
                }
                let finish = &self.finish;
                if let Some(e) = self.engines.get_mut(record.engine)
                    && e.is_running()
                    && e.crossed_finish_line(finish)
                {
                    let crossed = e.last_success_end();
                    e.end(LaneState::Finished, crossed);
                    self.commentary
                        .on_finish_line(at, record.engine, &e.name, crossed, racing);
                    return Some(record.engine);
                }
            }
            RaceEvent::TimeLimit => {
                let state = if self.finish.duration_is_finish_line {
                    LaneState::Finished
                } else {
                    LaneState::OutOfTime
                };
                self.end_all(state, self.finish.duration);
            }
            RaceEvent::Stopped => self.end_all(LaneState::Stopped, at),
            RaceEvent::Ended => {
                self.end_all(LaneState::Stopped, at);
                self.commentary.close();
            }
        }
        None
    }

    /// Lets the commentary look at the seconds an event applied `at`
    /// completes: each running engine's per-second figures, then the
    /// standings at the end of the last of them. Only the event times
    /// decide when, so a replay writes the same lines at the same times.
    fn comment_on_seconds(&mut self, at: Duration) {
        let seconds = self.commentary.complete_seconds(at);
        if seconds.is_empty() {
            return;
        }
        for second in seconds.clone() {
            for (i, e) in self.engines.iter().enumerate() {
                if !e.is_running() {
                    continue;
                }
                let window = e.series_points(second.saturating_sub(ROLLING_SECONDS), second + 1);
                self.commentary
                    .on_second(i, &e.name, &window, e.in_flight(), e.sweep.is_some());
            }
        }
        // Ranked as a snapshot ranks them.
        let end = Duration::from_secs(u64::from(seconds.end));
        let standings: Vec<Standing> = self
            .engines
            .iter()
            .map(|e| e.standing(&self.slo, end))
            .collect();
        let board = leaderboard::rank(&standings, &self.finish);
        self.commentary.on_standings(end, &standings, &board);
    }

    /// The level the engine's sweep goes to next, after its last judgement
    /// (`None`: it is over, or not sweeping).
    #[must_use]
    pub fn sweep_next(&self, engine: usize) -> Option<f64> {
        self.engines.get(engine).and_then(|e| e.sweep_next)
    }

    /// Requests of an engine still in flight.
    #[must_use]
    pub fn in_flight(&self, engine: usize) -> u64 {
        self.engines.get(engine).map_or(0, EngineStats::in_flight)
    }

    /// Ends every engine still running.
    pub fn end_all(&mut self, state: LaneState, at: Duration) {
        for engine in &mut self.engines {
            engine.end(state, at);
        }
    }

    /// Builds a snapshot. `now` is the time since the start signal; `full`
    /// includes the whole per-second series (for the final summary) instead
    /// of the last [`LIVE_SERIES_SECONDS`].
    pub fn snapshot(&mut self, phase: RacePhase, now: Duration, full: bool) -> RaceSnapshot {
        self.sequence += 1;
        #[allow(clippy::cast_possible_truncation)]
        let series_from = if full {
            0
        } else {
            (now.as_secs() as u32).saturating_sub(LIVE_SERIES_SECONDS - 1)
        };
        let mut lanes: Vec<LaneSnapshot> = self
            .engines
            .iter()
            .map(|e| e.snapshot(&self.finish, &self.slo, now, series_from, full))
            .collect();
        let best = lanes
            .iter()
            .map(|l| l.rates.output_tokens_per_s)
            .fold(0.0, f64::max);
        for lane in &mut lanes {
            lane.grades.throughput_grade =
                health::throughput_grade(lane.rates.output_tokens_per_s, best);
        }
        let costs: Vec<_> = lanes.iter().map(|l| l.cost).collect();
        for (lane, rank) in lanes.iter_mut().zip(super::cost::cheapest_ranks(&costs)) {
            lane.cheapest = rank;
        }
        let standings: Vec<Standing> = lanes.iter().map(LaneSnapshot::standing).collect();
        leaderboard::time_boxed_progress(&mut lanes, &standings, &self.finish);
        let leaderboard = leaderboard::rank(&standings, &self.finish);
        for (place, &lane) in leaderboard.iter().enumerate() {
            lanes[lane].place = place + 1;
        }
        leaderboard::mark_ties(&mut lanes, &leaderboard, &self.finish);
        // The stage runs while load is offered: not once every engine has
        // ended (a duration shorter than the stages, the grace period).
        let offering = self.engines.iter().any(EngineStats::is_running);
        let stage = match (self.stage_unit, self.engines.first()) {
            (Some(unit), Some(e)) if phase == RacePhase::Running && offering => {
                e.stages.current(now, unit)
            }
            _ => None,
        };
        RaceSnapshot {
            race_name: self.race_name.clone(),
            stage,
            stage_unit: self.stage_unit,
            phase,
            elapsed: now,
            finish: self.finish.clone(),
            load_mode: self.load_mode,
            lanes,
            leaderboard,
            workload: self.workload.clone(),
            simulated: self.simulated,
            sharding: self.sharding.clone(),
            client: self.client.health(),
            commentary: self.commentary.lines(full),
            sequence: self.sequence,
            pairs: if full {
                self.pairs.comparisons()
            } else {
                Vec::new()
            },
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::color::{EngineColor, NamedColor};

    const CYAN: EngineColor = EngineColor::Named(NamedColor::Cyan);
    use crate::metrics::record::tests::ok_record;
    use crate::metrics::{CommentaryKind, ErrorKind, RequestError};
    use std::sync::Arc;

    /// An empty lane for ranking tests.
    pub(crate) fn lane(name: &str) -> LaneSnapshot {
        let mut stats = EngineStats::new(name, "m", "🏎️", CYAN);
        stats.state = LaneState::Running;
        let finish = FinishSpec {
            duration: Duration::from_secs(60),
            duration_is_finish_line: true,
            requests: None,
            output_tokens: None,
            grace: Duration::from_secs(5),
        };
        stats.snapshot(
            &finish,
            &SloSpec::default(),
            Duration::from_secs(1),
            0,
            false,
        )
    }

    fn finish() -> FinishSpec {
        FinishSpec {
            duration: Duration::from_secs(10),
            duration_is_finish_line: true,
            requests: Some(3),
            output_tokens: None,
            grace: Duration::from_secs(5),
        }
    }

    /// A fold for the race in `yaml`.
    fn stats_of(yaml: &str) -> RaceStats {
        let spec = crate::config::validate::validate(yaml, std::path::Path::new("t.yaml"))
            .expect("a valid test race");
        RaceStats::new(&spec)
    }

    #[test]
    fn a_stopped_engine_runs_no_sweep_step() {
        let mut stats = stats_of(
            "race:\n  name: t\n  load: {mode: sweep, start: 2, step: 2, max: 8, step_duration_s: 10}\n  engines:\n    - {name: a, simulate: {}}\n",
        );
        stats.apply(
            Duration::ZERO,
            &RaceEvent::SweepStep {
                engine: 0,
                level: 2.0,
            },
        );
        let running = stats.snapshot(RacePhase::Running, Duration::from_secs(1), false);
        assert_eq!(
            running.lanes[0].sweep.as_ref().unwrap().current,
            Some((0, 2.0))
        );
        stats.apply(Duration::from_secs(3), &RaceEvent::Stopped);
        let stopped = stats.snapshot(RacePhase::Running, Duration::from_secs(4), false);
        assert_eq!(stopped.lanes[0].sweep.as_ref().unwrap().current, None);
    }

    #[test]
    fn the_stage_shows_while_load_is_offered() {
        let mut stats = stats_of(
            "race:\n  name: t\n  duration: 20\n  load: {mode: stages, stages: [{duration_s: 10, users: 1}, {duration_s: 20, users: 2}]}\n  engines:\n    - {name: a, simulate: {}}\n",
        );
        let at = |s| Duration::from_secs(s);
        let shown = |stats: &mut RaceStats, s| {
            stats
                .snapshot(RacePhase::Running, at(s), false)
                .stage
                .map(|st| (st.index, st.level))
        };
        assert_eq!(shown(&mut stats, 5), Some((0, 1.0)));
        assert_eq!(shown(&mut stats, 15), Some((1, 2.0)));
        // The time limit cut the stages short: in the grace period after it,
        // no stage runs.
        stats.apply(at(20), &RaceEvent::TimeLimit);
        assert_eq!(shown(&mut stats, 22), None);
    }

    #[test]
    fn retries_are_counted_and_a_stop_of_reuse_is_said_once() {
        let mut stats = stats_of(
            "race:\n  name: t\n  engines:\n    - {name: a, simulate: {}}\n    - {name: b, reuse_connections: never, simulate: {}}\n",
        );
        let at = Duration::from_millis(1_500);
        for _ in 0..3 {
            stats.apply(at, &RaceEvent::ConnectionRetried { engine: 0 });
        }
        for _ in 0..2 {
            stats.apply(at, &RaceEvent::ConnectionReuseStopped { engine: 0 });
        }
        let s = stats.snapshot(RacePhase::Running, Duration::from_secs(2), false);
        assert_eq!(s.lanes[0].connections.retries, 3);
        assert_eq!(s.lanes[0].connections.reuse, ConnectionReuse::Stopped);
        assert_eq!(s.lanes[1].connections.reuse, ConnectionReuse::Never);
        let said: Vec<_> = s
            .commentary
            .iter()
            .filter(|c| c.kind == CommentaryKind::Reconnecting)
            .collect();
        assert_eq!(said.len(), 1);
        assert_eq!((said[0].at, said[0].engine), (at, Some(0)));
        assert_eq!(
            said[0].text,
            "a: server closes connections after each stream: reconnecting"
        );
    }

    /// A two-engine race to 120 requests: `fast` finishes 12 a second,
    /// `failing` fails most of its requests from second 2 on.
    fn commentary_race() -> RaceStats {
        stats_of(
            "race:\n  name: t\n  finish: {requests: 120}\n  engines:\n    - {name: fast, simulate: {}}\n    - {name: failing, simulate: {}}\n",
        )
    }

    #[test]
    fn the_fold_writes_commentary_at_event_times_whatever_the_snapshots() {
        let mut stats = commentary_race();
        let mut quiet = commentary_race();
        let failed = |start_ms: u64| {
            let mut r = ok_record(1, start_ms, 40, 5, 3);
            r.error = Some(RequestError {
                kind: ErrorKind::Http429,
                message: "overloaded".into(),
            });
            Arc::new(r)
        };
        let mut events = Vec::new();
        for k in 0..120u64 {
            // Ends 80 + 10 + 10 ms after its start; applied 5 ms later.
            let start = 40 + k * 83;
            let ok = Arc::new(ok_record(0, start, 80, 10, 3));
            events.push((
                ok.end_at + Duration::from_millis(5),
                RaceEvent::Finished(ok),
            ));
            let other = if start >= 2000 {
                failed(start)
            } else {
                Arc::new(ok_record(1, start, 90, 10, 3))
            };
            events.push((
                other.end_at + Duration::from_millis(5),
                RaceEvent::Finished(other),
            ));
        }
        events.sort_by_key(|(at, _)| *at);
        for (at, event) in &events {
            stats.apply(*at, &RaceEvent::Started { engine: 0 });
            stats.apply(*at, event);
            quiet.apply(*at, &RaceEvent::Started { engine: 0 });
            quiet.apply(*at, event);
            // Snapshots at any rate change nothing in the feed.
            stats.snapshot(RacePhase::Running, *at, false);
        }
        let end = events.last().unwrap().0;
        stats.apply(end, &RaceEvent::Ended);
        quiet.apply(end, &RaceEvent::Ended);
        let lines = stats.snapshot(RacePhase::Finished, end, true).commentary;
        assert_eq!(
            lines,
            quiet.snapshot(RacePhase::Finished, end, true).commentary
        );
        let kinds: Vec<_> = lines.iter().map(|l| (l.kind, l.engine)).collect();
        use crate::metrics::CommentaryKind as K;
        assert!(kinds.contains(&(K::LeadChange, Some(0))), "{lines:#?}");
        assert!(kinds.contains(&(K::FirstTo, Some(0))), "{lines:#?}");
        assert!(kinds.contains(&(K::ErrorBurst, Some(1))), "{lines:#?}");
        let finished = lines.iter().find(|l| l.kind == K::Finished).unwrap();
        assert_eq!(finished.engine, Some(0));
        assert!(
            finished
                .text
                .starts_with("fast crosses the line in 10.0 s, 1st"),
            "{}",
            finished.text
        );
        // A milestone is stamped with its event's time; a second's anomaly
        // with the end of that second.
        let first = lines.iter().find(|l| l.kind == K::FirstTo).unwrap();
        assert!(events.iter().any(|(at, _)| *at == first.at));
        let burst = lines.iter().find(|l| l.kind == K::ErrorBurst).unwrap();
        assert_eq!(burst.at, Duration::from_secs(3));
        assert!(burst.text.ends_with("(http_429)"), "{}", burst.text);
        assert!(lines.windows(2).all(|w| w[0].at <= w[1].at), "{lines:#?}");
    }

    #[test]
    fn the_fold_stands_where_its_snapshot_says() {
        let mut e = EngineStats::new("a", "m", "x", CYAN);
        let slo = SloSpec {
            ttft_p99: Some(Duration::from_millis(100)),
            error_rate_max: Some(0.1),
            ..SloSpec::default()
        };
        for i in 0..6 {
            e.on_started();
            e.observe(&ok_record(0, i * 100, 60 + i * 20, 10, 11), &slo);
        }
        let mut bad = ok_record(0, 0, 500, 10, 11);
        bad.error = Some(RequestError {
            kind: ErrorKind::Timeout,
            message: "slow".into(),
        });
        e.on_started();
        e.observe(&bad, &slo);
        e.on_dropped_arrival(Duration::from_millis(900));
        let now = Duration::from_secs(3);
        let standing = e.standing(&slo, now);
        assert_eq!(
            standing,
            e.snapshot(&finish(), &slo, now, 0, false).standing()
        );
        assert_eq!((standing.ok, standing.failed, standing.lost), (6, 1, 1));
        assert_eq!(standing.slo_checks.len(), 2);
        e.end(LaneState::Finished, Duration::from_secs(2));
        let standing = e.standing(&slo, now);
        assert_eq!(
            standing,
            e.snapshot(&finish(), &slo, now, 0, false).standing()
        );
    }

    #[test]
    fn counts_rates_and_latencies_come_from_successful_requests() {
        let mut e = EngineStats::new("a", "m", "x", CYAN);
        let slo = SloSpec {
            ttft_p99: Some(Duration::from_millis(100)),
            ..SloSpec::default()
        };
        for i in 0..4 {
            e.on_started();
            e.observe(&ok_record(0, i * 100, 80, 10, 11), &slo);
        }
        e.on_started();
        let mut bad = ok_record(0, 0, 500, 10, 11);
        bad.error = Some(RequestError {
            kind: ErrorKind::Http5xx,
            message: "boom".into(),
        });
        e.observe(&bad, &slo);
        e.on_started();
        let s = e.snapshot(&finish(), &slo, Duration::from_secs(2), 0, false);
        assert_eq!(
            (s.counts.ok, s.counts.failed, s.counts.in_flight()),
            (4, 1, 1)
        );
        assert_eq!(s.counts.errors.get(&ErrorKind::Http5xx), Some(&1));
        assert_eq!(s.counts.output_tokens, 44);
        assert_eq!(s.counts.good, 4);
        assert!((s.rates.requests_per_s - 2.0).abs() < 1e-9);
        assert!((s.rates.output_tokens_per_s - 22.0).abs() < 1e-9);
        assert!((s.rates.success_rate - 0.8).abs() < 1e-9);
        // HdrHistogram reports the bucket's highest equivalent value (≤ 0.1 % above).
        assert!(
            s.latencies.ttft.p50 >= Duration::from_millis(80)
                && s.latencies.ttft.p50 <= Duration::from_micros(80_080)
        );
        assert_eq!(s.latencies.ttft.mean, Duration::from_millis(80));
        assert_eq!(s.latencies.tpot.count, 4);
        assert_eq!(s.latencies.itl.count, 40);
    }

    #[test]
    fn finish_line_and_active_time() {
        let mut e = EngineStats::new("a", "m", "x", CYAN);
        let f = finish();
        for i in 0..3 {
            assert!(!e.crossed_finish_line(&f));
            e.observe(&ok_record(0, i * 100, 80, 10, 2), &SloSpec::default());
        }
        assert!(e.crossed_finish_line(&f));
        e.end(LaneState::Finished, Duration::from_millis(290));
        e.end(LaneState::Stopped, Duration::from_secs(5)); // ignored: already ended
        assert_eq!(e.state(), LaneState::Finished);
        assert_eq!(e.active(Duration::from_secs(9)), Duration::from_millis(290));
        assert!((e.progress(&f, Duration::from_secs(9)) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_finish_line_is_crossed_when_the_successes_had_all_ended() {
        let mut stats = stats_of(
            "race:\n  name: t\n  finish: {requests: 2}\n  engines:\n    - {name: a, simulate: {}}\n",
        );
        // Two users' requests reach the fold in another order than they
        // ended: the later end (100 + 80 + 2 × 10 ms) is applied first.
        let later = ok_record(0, 100, 80, 10, 3);
        let earlier = ok_record(0, 0, 80, 10, 3);
        let at = Duration::from_millis(300);
        stats.apply(at, &RaceEvent::Finished(std::sync::Arc::new(later.clone())));
        stats.apply(
            at,
            &RaceEvent::Finished(std::sync::Arc::new(earlier.clone())),
        );
        assert!(earlier.end_at < later.end_at);
        let lane = &stats.snapshot(RacePhase::Running, at, false).lanes[0];
        assert_eq!(lane.state, LaneState::Finished);
        assert_eq!(lane.finished_at, Some(later.end_at));
    }
}
