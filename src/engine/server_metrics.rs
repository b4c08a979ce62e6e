//! Scrapes an engine's server metrics (its Prometheus `/metrics` page)
//! while the race runs: once before the start signal (the counters'
//! baseline, and whether the page is there at all), every interval from
//! the start, and once more after the engine's last request has ended, so
//! the server's token counters cover exactly the race. A scrape is not
//! load: it has a client and connection of its own and a timeout below its
//! interval, and it is never a request. What it reads (or why it could
//! not) goes to the fold as an event; a failing page is counted there and
//! changes nothing else.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_util::sync::CancellationToken;

use super::event::RaceEvent;
use crate::config::{EngineSpec, MappedFamily, ServerMetricsMode, ServerMetricsSpec};
use crate::metrics::server::{ServerSample, read_page};

/// The largest page read: a server's page is tens of kilobytes.
const MAX_PAGE_BYTES: usize = 8 << 20;

/// The longest a scrape may take, whatever the interval.
const MAX_TIMEOUT: Duration = Duration::from_secs(10);

/// Every engine's scraper that found its page (or must scrape anyway),
/// opened at once; `None` for the others. A sharded race's shards other
/// than the first scrape nothing: a server's counters are global.
pub async fn open_all(
    engines: &[EngineSpec],
    urls: &[&reqwest::Url],
    first_shard: bool,
) -> Vec<Option<(Scraper, Result<ServerSample, String>)>> {
    let opening = engines.iter().zip(urls).enumerate().map(|(i, (e, url))| {
        let scraper = first_shard
            .then(|| Scraper::new(i, url, &e.model, &e.server_metrics))
            .flatten();
        async move {
            match scraper {
                Some(s) => s.open().await,
                None => None,
            }
        }
    });
    futures_util::future::join_all(opening).await
}

/// One engine's scraper.
#[derive(Debug)]
pub struct Scraper {
    engine: usize,
    http: reqwest::Client,
    url: reqwest::Url,
    model: String,
    interval: Duration,
    mode: ServerMetricsMode,
    /// The user's families for figures (`server_metrics.map`).
    map: Vec<MappedFamily>,
}

impl Scraper {
    /// A scraper for the engine served at `engine_url` (its completions
    /// URL); `None` when its metrics are off or the page's URL is not one.
    #[must_use]
    pub fn new(
        engine: usize,
        engine_url: &reqwest::Url,
        model: &str,
        spec: &ServerMetricsSpec,
    ) -> Option<Scraper> {
        if spec.mode == ServerMetricsMode::Off {
            return None;
        }
        let url = match &spec.url {
            Some(url) => reqwest::Url::parse(url).ok()?,
            None => engine_url.join("/metrics").ok()?,
        };
        // Below the interval, so a slow page never piles scrapes up.
        let timeout = spec.interval.mul_f64(0.8).min(MAX_TIMEOUT);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .pool_max_idle_per_host(1)
            .build()
            .ok()?;
        Some(Scraper {
            engine,
            http,
            url,
            model: model.to_owned(),
            interval: spec.interval,
            mode: spec.mode,
            map: spec.map.clone(),
        })
    }

    /// One scrape: the page's figures, or why there are none.
    pub async fn scrape(&self) -> Result<ServerSample, String> {
        let response = self.http.get(self.url.clone()).send().await.map_err(|e| {
            if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "could not connect".to_owned()
            } else {
                "the request failed".to_owned()
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_PAGE_BYTES as u64)
        {
            return Err("the page is over 8 MiB".to_owned());
        }
        let body = response
            .bytes()
            .await
            .map_err(|_| "the page was cut off".to_owned())?;
        if body.len() > MAX_PAGE_BYTES {
            return Err("the page is over 8 MiB".to_owned());
        }
        read_page(&String::from_utf8_lossy(&body), &self.model, &self.map)
    }

    /// The first scrape, before the start signal: the counters' baseline.
    /// Without `server_metrics: true`, a page that is not there (or holds
    /// nothing known) means no scraper, quietly.
    pub async fn open(self) -> Option<(Scraper, Result<ServerSample, String>)> {
        let first = self.scrape().await;
        if first.is_err() && self.mode == ServerMetricsMode::Auto {
            return None;
        }
        Some((self, first))
    }

    /// Sends the first scrape's result, then scrapes every interval from
    /// the start signal until `done` (the engine's last request has ended),
    /// and once more.
    pub async fn run(
        self,
        first: Result<ServerSample, String>,
        events: mpsc::Sender<RaceEvent>,
        go: Instant,
        done: CancellationToken,
    ) {
        if !self.send(&events, first).await {
            return;
        }
        let mut ticks = interval_at(go, self.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = done.cancelled() => break,
                _ = ticks.tick() => {}
            }
            let sample = tokio::select! {
                biased;
                () = done.cancelled() => break,
                s = self.scrape() => s,
            };
            if !self.send(&events, sample).await {
                return;
            }
        }
        // After the last request: the counters' final reading.
        let last = self.scrape().await;
        self.send(&events, last).await;
    }

    async fn send(
        &self,
        events: &mpsc::Sender<RaceEvent>,
        sample: Result<ServerSample, String>,
    ) -> bool {
        events
            .send(RaceEvent::ServerScrape {
                engine: self.engine,
                sample,
            })
            .await
            .is_ok()
    }
}
