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
use super::event::{RaceStart, RecordSink};
use super::lane::Lane;
use super::opening::OpeningLoad;
use super::probe::ClientProbe;
use super::warmup::{WarmupResult, warm_up};
use crate::config::{EngineTarget, LoadSpec, RaceSpec};
use crate::metrics::record::whole_micros;
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
        let ok: u64 = lanes.iter().map(|l| l.requests_ok).sum();
        let failed: u64 = lanes.iter().map(|l| l.requests_failed).sum();
        let connect: u64 = lanes
            .iter()
            .map(|l| l.errors.get(&ErrorKind::Connect).copied().unwrap_or(0))
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
    let sim_cancel = CancellationToken::new();
    let mut sims: Vec<SimHandle> = Vec::new();
    let mut clients = Vec::with_capacity(spec.engines.len());
    let mut engine_urls = Vec::with_capacity(spec.engines.len());
    let setup = async {
        for (index, engine) in spec.engines.iter().enumerate() {
            let api_key = match &engine.api_key_env {
                // `--simulate`: no server needs the key, so a variable that
                // is not set is no reason to stop (engines that were
                // `simulate:` in the file still get it when it is set).
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
                    let handle = sim::serve(sim_spec.clone(), addr, sim_cancel.child_token())
                        .await
                        .map_err(|source| RaceError::Simulator {
                            engine: engine.name.clone(),
                            source,
                        })?;
                    let url = format!("{}{}", handle.base_url(), engine.endpoint.path());
                    sims.push(handle);
                    url
                }
            };
            clients.push(EngineClient::new(engine, &url, api_key.as_deref())?);
            engine_urls.push(url);
        }
        Ok::<(), RaceError>(())
    };
    if let Err(e) = setup.await {
        for s in sims {
            s.shutdown().await;
        }
        return Err(e);
    }

    let shard = spec.sharding.shard();
    let opening = OpeningLoad::of(&spec.load, spec.seed, prompts.trace_times(), shard);
    let warmup = match spec.warmup_for_shard() {
        Some(warmup) => {
            warm_up(
                &clients,
                &prompts,
                warmup,
                opening.concurrency as usize,
                &stop,
            )
            .await
        }
        None => Vec::new(),
    };
    // Connections for the first second's load, before the countdown ends,
    // so no first request pays for TCP and TLS set-up inside its TTFT.
    let preconnects = opening.preconnects;
    let connecting = futures_util::future::join_all(
        clients
            .iter()
            .flat_map(|c| (0..preconnects).map(move |_| c.preconnect())),
    );
    tokio::select! {
        _ = connecting => {}
        () = tokio::time::sleep(PRECONNECT_LIMIT) => {}
        () = stop.cancelled() => {}
    }

    // With `--start-at`, the countdown runs to that wall-clock time; a race
    // set up after it starts at once, and says how late.
    let (countdown, late_by) = match spec.start_at {
        Some(at) => match at.duration_since(SystemTime::now()) {
            Ok(wait) => (wait, None),
            Err(past) => (Duration::ZERO, Some(past.duration())),
        },
        None => (spec.countdown, None),
    };
    let go = Instant::now() + countdown;
    // Whole microseconds, as the race file stores it, so reports rebuilt
    // from the file carry the same timestamps.
    let started_at = SystemTime::now() + countdown;
    let started_at =
        UNIX_EPOCH + whole_micros(started_at.duration_since(UNIX_EPOCH).unwrap_or_default());
    let race_start = RaceStart {
        started_at,
        engine_urls: engine_urls.clone(),
    };
    for sink in &mut sinks {
        sink.on_start(&race_start);
    }
    let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
    let mut stats = RaceStats::new(spec);
    let initial = stats.snapshot(
        RacePhase::Countdown {
            remaining: countdown,
        },
        Duration::ZERO,
        false,
    );
    let (publish, snapshots) = watch::channel(Arc::new(initial));

    let prompts = Arc::new(prompts);
    let mut engine_stop = Vec::new();
    let mut drivers = JoinSet::new();
    // A sweep's level is set by the aggregator, one `watch` per engine.
    let mut levels = Vec::new();
    for (index, client) in clients.into_iter().enumerate() {
        let stop_engine = stop.child_token();
        let abort_engine = abort.child_token();
        engine_stop.push(stop_engine.clone());
        // In-flight requests may finish within the grace period after the
        // engine stops; then they are aborted.
        let grace = spec.finish.grace;
        let (s, a) = (stop_engine.clone(), abort_engine.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = s.cancelled() => {}
                () = a.cancelled() => return,
            }
            tokio::select! {
                () = tokio::time::sleep(grace) => a.cancel(),
                () = a.cancelled() => {}
            }
        });
        let lane = Arc::new(Lane::new(
            index,
            client,
            Arc::clone(&prompts),
            events_tx.clone(),
            go,
            stop_engine,
            abort_engine,
            shard,
        ));
        let level = matches!(spec.load, LoadSpec::Sweep(_)).then(|| {
            let (tx, rx) = watch::channel(0.0);
            levels.push(tx);
            rx
        });
        drivers.spawn(drive(lane, spec.load.clone(), spec.seed, level));
    }
    // The aggregator ends when the last sender is gone: drivers and their
    // request tasks hold the only ones left.
    drop(events_tx);

    let aggregator = Aggregator {
        stats,
        events: events_rx,
        publish,
        go,
        engine_stop,
        race_stop: stop,
        sinks,
        probe: ClientProbe::start(),
        sweep: match &spec.load {
            LoadSpec::Sweep(sweep) => Some(SweepControl::new(sweep, spec.finish.grace, levels)),
            _ => None,
        },
    };
    let task = tokio::spawn(async move {
        let snapshot = aggregator.run().await;
        let mut panics = Vec::new();
        while let Some(result) = drivers.join_next().await {
            if let Err(e) = result
                && e.is_panic()
            {
                panics.push(e.to_string());
            }
        }
        sim_cancel.cancel();
        for s in sims {
            s.shutdown().await;
        }
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
    });
    Ok(RunningRace {
        snapshots,
        started_at,
        engine_urls,
        warmup,
        late_start: late_by,
        task,
    })
}
