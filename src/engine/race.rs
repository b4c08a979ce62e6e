//! Orchestration of one race: start simulated engines, build clients, wire
//! drivers and the aggregator together, run the countdown, and tear it all
//! down in order when the race ends.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::aggregator::{Aggregator, SweepControl};
use super::client::{ClientError, EngineClient};
use super::driver::drive;
use super::event::{RaceEvent, RaceStart, RecordSink};
use super::lane::Lane;
use super::opening::OpeningLoad;
use super::probe::ClientProbe;
use super::server_metrics::{Scraper, open_all};
use super::warmup::{WarmupResult, warm_up};
use crate::config::{EngineSpec, EngineTarget, LoadSpec, RaceSpec};
use crate::metrics::record::whole_micros;
use crate::metrics::server::ServerSample;
use crate::metrics::{RacePhase, RaceSnapshot, RaceStats};
use crate::sim::{self, SimHandle};
use crate::workload::PromptSet;

/// Capacity of the event channel between request tasks and the aggregator.
const EVENT_QUEUE: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum RaceError {
    #[error(
        "race.engines[{index}].api_key_env: environment variable '{var}' is not set; export it with the API key for '{engine}'"
    )]
    MissingApiKey {
        index: usize,
        engine: String,
        var: String,
    },
    #[error("cannot start the simulator for engine '{engine}': {source}")]
    Simulator {
        engine: String,
        source: sim::SimError,
    },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("an internal task of the race failed: {0}")]
    Internal(String),
}

impl RaceError {
    /// Whether the error is the user's input (exit code 2).
    #[must_use]
    pub fn is_bad_input(&self) -> bool {
        matches!(self, RaceError::MissingApiKey { .. } | RaceError::Client(_))
    }
}

/// The result of a race that ran to its end (or was stopped).
#[derive(Debug, Clone)]
pub struct RaceOutcome {
    pub snapshot: Arc<RaceSnapshot>,
    /// Wall-clock time of the start signal.
    pub started_at: SystemTime,
}

impl RaceOutcome {
    /// No engine answered a single request: every failure was a connection
    /// failure and nothing succeeded.
    #[must_use]
    pub fn no_engine_reachable(&self) -> bool {
        use crate::metrics::ErrorKind;
        let lanes = &self.snapshot.lanes;
        let ok: u64 = lanes.iter().map(|l| l.counts.ok).sum();
        let failed: u64 = lanes.iter().map(|l| l.counts.failed).sum();
        let connect: u64 = lanes
            .iter()
            .map(|l| {
                l.counts
                    .errors
                    .get(&ErrorKind::Connect)
                    .copied()
                    .unwrap_or(0)
            })
            .sum();
        ok == 0 && failed > 0 && connect == failed
    }
}

/// A race in progress.
pub struct RunningRace {
    pub snapshots: watch::Receiver<Arc<RaceSnapshot>>,
    pub started_at: SystemTime,
    /// The URL each engine is raced at (simulated engines' local addresses).
    pub engine_urls: Vec<String>,
    /// What each engine's warm-up did (empty without `warmup:`).
    pub warmup: Vec<WarmupResult>,
    /// How long after `--start-at` this race was ready to start (it then
    /// started at once); `None` when it was in time or had no `--start-at`.
    pub late_start: Option<Duration>,
    task: tokio::task::JoinHandle<Result<RaceOutcome, RaceError>>,
}

impl RunningRace {
    /// Waits for the race to end.
    pub async fn finish(self) -> Result<RaceOutcome, RaceError> {
        self.task
            .await
            .map_err(|e| RaceError::Internal(e.to_string()))?
    }
}

/// The longest the connections made before the start signal may take (an
/// engine that cannot be reached must not hold the others' start).
const PRECONNECT_LIMIT: Duration = Duration::from_secs(3);

/// Starts a race. `stop` ends it early (in-flight requests get the grace
/// period); `abort` also cuts in-flight requests at once. Both leave every
/// measurement made so far in the outcome.
pub async fn start(
    spec: &RaceSpec,
    prompts: PromptSet,
    mut sinks: Vec<Box<dyn RecordSink>>,
    stop: CancellationToken,
    abort: CancellationToken,
) -> Result<RunningRace, RaceError> {
    if matches!(spec.load, LoadSpec::Trace { .. }) && prompts.trace_times().is_none() {
        return Err(RaceError::Internal(
            "mode trace needs its trace, read with the prompts by workload::load".to_owned(),
        ));
    }
    let engines = Engines::resolve(spec).await?;
    let opening = OpeningLoad::of(
        &spec.load,
        spec.seed,
        prompts.trace_times(),
        spec.sharding.shard(),
    );
    let warmup = match spec.warmup_for_shard() {
        Some(warmup) => {
            let at_once = opening.concurrency as usize;
            warm_up(&engines.clients, &prompts, warmup, at_once, &stop).await
        }
        None => Vec::new(),
    };
    preconnect(&engines.clients, opening.preconnects, &stop).await;
    let urls: Vec<&reqwest::Url> = engines.clients.iter().map(EngineClient::url).collect();
    let scrapers = open_all(&spec.engines, &urls, spec.sharding.shard().index == 0).await;
    let signal = StartSignal::set(spec);
    let race_start = RaceStart {
        started_at: signal.started_at,
        engine_urls: engines.urls.clone(),
    };
    for sink in &mut sinks {
        sink.on_start(&race_start);
    }
    let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
    let lanes = spawn_lanes(
        spec,
        engines.clients,
        scrapers,
        prompts,
        &events_tx,
        &signal,
        &stop,
        &abort,
    );
    // The aggregator ends when the last sender is gone: drivers and their
    // request tasks hold the only ones left.
    drop(events_tx);
    let (aggregator, snapshots) = fold(
        spec,
        events,
        &signal,
        lanes.stops,
        lanes.levels,
        stop,
        sinks,
    );
    let task = tokio::spawn(run_to_the_end(
        aggregator,
        lanes.drivers,
        engines.sims,
        signal.started_at,
    ));
    Ok(RunningRace {
        snapshots,
        started_at: signal.started_at,
        engine_urls: engines.urls,
        warmup,
        late_start: signal.late_by,
        task,
    })
}

/// Every engine's client, the URL it is raced at, and the simulators
/// started for `simulate:` engines.
struct Engines {
    clients: Vec<EngineClient>,
    urls: Vec<String>,
    sims: Simulators,
}

/// The simulators started for a race.
#[derive(Default)]
struct Simulators {
    handles: Vec<SimHandle>,
    /// Stops them all at once.
    cancel: CancellationToken,
}

impl Simulators {
    /// Stops every simulator together and waits for each to end.
    async fn shut_down(self) {
        self.cancel.cancel();
        for s in self.handles {
            s.shutdown().await;
        }
    }
}

impl Engines {
    /// Reads each engine's API key, starts its simulator if it has one, and
    /// builds its client. On a failure, the simulators already started are
    /// shut down.
    async fn resolve(spec: &RaceSpec) -> Result<Self, RaceError> {
        let mut engines = Engines {
            clients: Vec::with_capacity(spec.engines.len()),
            urls: Vec::with_capacity(spec.engines.len()),
            sims: Simulators::default(),
        };
        for (index, engine) in spec.engines.iter().enumerate() {
            if let Err(e) = engines.add(spec, index, engine).await {
                engines.sims.shut_down().await;
                return Err(e);
            }
        }
        Ok(engines)
    }

    async fn add(
        &mut self,
        spec: &RaceSpec,
        index: usize,
        engine: &EngineSpec,
    ) -> Result<(), RaceError> {
        let api_key = match &engine.api_key_env {
            // `--simulate`: no server needs the key, so a variable that is
            // not set is no reason to stop (engines that were `simulate:` in
            // the file still get it when it is set).
            Some(var) if spec.simulated => std::env::var(var).ok(),
            Some(var) => Some(std::env::var(var).map_err(|_| RaceError::MissingApiKey {
                index,
                engine: engine.name.clone(),
                var: var.clone(),
            })?),
            None => None,
        };
        let url = match &engine.target {
            EngineTarget::Url(url) => url.clone(),
            EngineTarget::Simulated(sim_spec) => {
                let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
                let handle = sim::serve(sim_spec.clone(), addr, self.sims.cancel.child_token())
                    .await
                    .map_err(|source| RaceError::Simulator {
                        engine: engine.name.clone(),
                        source,
                    })?;
                let url = format!("{}{}", handle.base_url(), engine.endpoint.path());
                self.sims.handles.push(handle);
                url
            }
        };
        self.clients
            .push(EngineClient::new(engine, &url, api_key.as_deref())?);
        self.urls.push(url);
        Ok(())
    }
}

/// Opens `per_engine` connections to every engine before the countdown
/// ends, so no first request pays for TCP and TLS set-up inside its TTFT;
/// an engine that cannot be reached holds the others' start for at most
/// [`PRECONNECT_LIMIT`].
async fn preconnect(clients: &[EngineClient], per_engine: u32, stop: &CancellationToken) {
    let connecting = futures_util::future::join_all(
        clients
            .iter()
            .flat_map(|c| (0..per_engine).map(move |_| c.preconnect())),
    );
    tokio::select! {
        _ = connecting => {}
        () = tokio::time::sleep(PRECONNECT_LIMIT) => {}
        () = stop.cancelled() => {}
    }
}

/// When the race starts.
struct StartSignal {
    /// The start signal on the monotonic clock.
    go: Instant,
    /// ... and on the wall clock, in whole microseconds as the race file
    /// stores it, so reports rebuilt from the file carry the same times.
    started_at: SystemTime,
    countdown: Duration,
    /// How long after `--start-at` the race was ready (it starts at once).
    late_by: Option<Duration>,
}

impl StartSignal {
    /// With `--start-at`, the countdown runs to that wall-clock time; a race
    /// set up after it starts at once, and says how late.
    fn set(spec: &RaceSpec) -> Self {
        let (countdown, late_by) = match spec.start_at {
            Some(at) => match at.duration_since(SystemTime::now()) {
                Ok(wait) => (wait, None),
                Err(past) => (Duration::ZERO, Some(past.duration())),
            },
            None => (spec.countdown, None),
        };
        let go = Instant::now() + countdown;
        let started_at = SystemTime::now() + countdown;
        let started_at =
            UNIX_EPOCH + whole_micros(started_at.duration_since(UNIX_EPOCH).unwrap_or_default());
        StartSignal {
            go,
            started_at,
            countdown,
            late_by,
        }
    }
}

/// Each engine's driver, and what the aggregator steers them by.
struct Lanes {
    drivers: JoinSet<()>,
    /// Each engine's stop token (its finish line).
    stops: Vec<CancellationToken>,
    /// A sweep's level for each engine, set by the aggregator.
    levels: Vec<watch::Sender<f64>>,
}

/// Spawns one driver per engine, each on its lane, with its stop and abort
/// tokens: a stopped engine's in-flight requests are aborted after the
/// grace period.
#[allow(clippy::too_many_arguments)]
fn spawn_lanes(
    spec: &RaceSpec,
    clients: Vec<EngineClient>,
    scrapers: Vec<Option<(Scraper, Result<ServerSample, String>)>>,
    prompts: PromptSet,
    events: &mpsc::Sender<RaceEvent>,
    signal: &StartSignal,
    stop: &CancellationToken,
    abort: &CancellationToken,
) -> Lanes {
    let prompts = Arc::new(prompts);
    let mut lanes = Lanes {
        drivers: JoinSet::new(),
        stops: Vec::new(),
        levels: Vec::new(),
    };
    for ((index, client), scraper) in clients.into_iter().enumerate().zip(scrapers) {
        let stop_engine = stop.child_token();
        let abort_engine = abort.child_token();
        lanes.stops.push(stop_engine.clone());
        tokio::spawn(abort_after_grace(
            stop_engine.clone(),
            abort_engine.clone(),
            spec.finish.grace,
        ));
        let lane = Arc::new(Lane::new(
            index,
            client,
            Arc::clone(&prompts),
            events.clone(),
            signal.go,
            signal.go + spec.finish.duration,
            stop_engine,
            abort_engine,
            spec.sharding.shard(),
        ));
        let level = matches!(spec.load, LoadSpec::Sweep(_)).then(|| {
            let (tx, rx) = watch::channel(0.0);
            lanes.levels.push(tx);
            rx
        });
        // The scraper reads the server once more after the driver (and so
        // every request of the engine) has ended.
        let driven = CancellationToken::new();
        if let Some((scraper, first)) = scraper {
            tokio::spawn(scraper.run(first, events.clone(), signal.go, driven.clone()));
        }
        let load = spec.load.clone();
        let seed = spec.seed;
        lanes.drivers.spawn(async move {
            drive(lane, load, seed, level).await;
            driven.cancel();
        });
    }
    lanes
}

/// In-flight requests may finish within the grace period after their
/// engine stops; then they are aborted.
async fn abort_after_grace(stop: CancellationToken, abort: CancellationToken, grace: Duration) {
    tokio::select! {
        () = stop.cancelled() => {}
        () = abort.cancelled() => return,
    }
    tokio::select! {
        () = tokio::time::sleep(grace) => abort.cancel(),
        () = abort.cancelled() => {}
    }
}

/// The aggregator that folds the race's events, and the snapshots it
/// publishes (the countdown's first).
fn fold(
    spec: &RaceSpec,
    events: mpsc::Receiver<RaceEvent>,
    signal: &StartSignal,
    engine_stop: Vec<CancellationToken>,
    levels: Vec<watch::Sender<f64>>,
    race_stop: CancellationToken,
    sinks: Vec<Box<dyn RecordSink>>,
) -> (Aggregator, watch::Receiver<Arc<RaceSnapshot>>) {
    let mut stats = RaceStats::new(spec);
    let countdown = RacePhase::Countdown {
        remaining: signal.countdown,
    };
    let (publish, snapshots) =
        watch::channel(Arc::new(stats.snapshot(countdown, Duration::ZERO, false)));
    let sweep = match &spec.load {
        LoadSpec::Sweep(sweep) => Some(SweepControl::new(sweep, spec.finish.grace, levels)),
        _ => None,
    };
    let aggregator = Aggregator {
        stats,
        events,
        publish,
        go: signal.go,
        engine_stop,
        race_stop,
        sinks,
        probe: ClientProbe::start(),
        sweep,
    };
    (aggregator, snapshots)
}

/// Folds the race until its last request has ended, then waits for the
/// drivers and shuts the simulators down.
async fn run_to_the_end(
    aggregator: Aggregator,
    mut drivers: JoinSet<()>,
    sims: Simulators,
    started_at: SystemTime,
) -> Result<RaceOutcome, RaceError> {
    let snapshot = aggregator.run().await;
    let mut panics = Vec::new();
    while let Some(result) = drivers.join_next().await {
        if let Err(e) = result
            && e.is_panic()
        {
            panics.push(e.to_string());
        }
    }
    sims.shut_down().await;
    if panics.is_empty() {
        Ok(RaceOutcome {
            snapshot,
            started_at,
        })
    } else {
        Err(RaceError::Internal(format!(
            "a load driver panicked: {}",
            panics.join("; ")
        )))
    }
}
