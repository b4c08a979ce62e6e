//! The servers' own figures, scraped from their Prometheus `/metrics`
//! pages during the race: which families each server calls what (vLLM,
//! SGLang, TGI, llama.cpp), one page read into a [`ServerSample`], and the
//! fold of an engine's samples into what the views show. Defined in
//! docs/METRICS.md ("Server metrics").

use std::time::Duration;

use serde::{Deserialize, Serialize};

mod page;
pub use page::read_page;

/// One scrape: the gauges as the page gave them and the counters' running
/// totals (each summed over the page's series for the engine's model).
/// A histogram as a page gives it: each bucket's upper bound (seconds) and
/// its cumulative count, in order.
pub type Buckets = Vec<(f64, f64)>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSample {
    /// Requests being computed.
    pub running: Option<f64>,
    /// Requests waiting for a place in the batch.
    pub waiting: Option<f64>,
    /// KV-cache use, 0 to 1.
    pub kv_use: Option<f64>,
    /// Prompt tokens the prefix cache served, and prompt tokens it was asked
    /// for (counters).
    pub prefix_hits: Option<f64>,
    pub prefix_queries: Option<f64>,
    /// The server's own hit rate, 0 to 1, where it publishes one (SGLang).
    pub hit_rate: Option<f64>,
    /// Requests preempted (counter).
    pub preemptions: Option<f64>,
    /// Output and prompt tokens the server processed (counters).
    pub output_tokens: Option<f64>,
    pub prompt_tokens: Option<f64>,
    /// The server's own TTFT, inter-token and end-to-end latency
    /// histograms (cumulative).
    pub ttft: Option<Buckets>,
    pub itl: Option<Buckets>,
    pub e2e: Option<Buckets>,
}

/// The figures at one moment: gauges as scraped, rates over the interval
/// since the scrape before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerFigures {
    pub running: Option<f64>,
    pub waiting: Option<f64>,
    /// 0 to 1.
    pub kv_use: Option<f64>,
    /// Prefix-cache hits over queries in the interval, 0 to 1 (the server's
    /// own where it publishes one).
    pub hit_rate: Option<f64>,
    pub preemptions_per_s: Option<f64>,
    pub output_tokens_per_s: Option<f64>,
    pub prompt_tokens_per_s: Option<f64>,
}

impl ServerFigures {
    fn between(
        before: Option<&(Duration, ServerSample)>,
        at: Duration,
        now: &ServerSample,
    ) -> Self {
        let rate = |pick: fn(&ServerSample) -> Option<f64>| {
            let (t0, s0) = before?;
            let dt = at.checked_sub(*t0)?.as_secs_f64();
            let delta = pick(now)? - pick(s0)?;
            // A counter that went down was reset (a restarted server).
            (dt > 0.0 && delta >= 0.0).then(|| delta / dt)
        };
        let hit_rate = now.hit_rate.or_else(|| {
            let (_, s0) = before?;
            let queries = now.prefix_queries? - s0.prefix_queries?;
            let hits = now.prefix_hits? - s0.prefix_hits?;
            (queries > 0.0 && hits >= 0.0).then(|| (hits / queries).min(1.0))
        });
        ServerFigures {
            running: now.running,
            waiting: now.waiting,
            kv_use: now.kv_use,
            hit_rate,
            preemptions_per_s: rate(|s| s.preemptions),
            output_tokens_per_s: rate(|s| s.output_tokens),
            prompt_tokens_per_s: rate(|s| s.prompt_tokens),
        }
    }
}

/// A latency of the server's own, over the race: requests it counted, and
/// its median and 99th percentile (ms), interpolated in the histogram's
/// buckets as Prometheus's `histogram_quantile` does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServerLatency {
    pub count: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The server's TTFT, inter-token and end-to-end latencies over the race,
/// where it publishes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerLatencies {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft: Option<ServerLatency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl: Option<ServerLatency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e: Option<ServerLatency>,
}

impl ServerLatencies {
    fn is_empty(&self) -> bool {
        self.ttft.is_none() && self.itl.is_none() && self.e2e.is_none()
    }
}

/// The `q` quantile of cumulative `buckets`: linear within the bucket it
/// falls in (from the bucket before's bound, or 0); in the `+Inf` bucket,
/// the highest finite bound.
fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut below = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(below.0);
            }
            let share = if count > below.1 {
                (rank - below.1) / (count - below.1)
            } else {
                1.0
            };
            return Some(below.0 + (le - below.0) * share);
        }
        below = (le, count);
    }
    Some(below.0)
}

/// The histogram's counts between two scrapes, and its quantiles.
fn over_race(first: Option<&Buckets>, last: Option<&Buckets>) -> Option<ServerLatency> {
    let last = last?;
    let before = |le: f64| {
        first
            .and_then(|f| f.iter().find(|(b, _)| *b == le))
            .map_or(0.0, |(_, c)| *c)
    };
    let delta: Buckets = last
        .iter()
        .map(|&(le, c)| (le, (c - before(le)).max(0.0)))
        .collect();
    let count = delta.last()?.1;
    Some(ServerLatency {
        count,
        p50_ms: quantile(&delta, 0.5)? * 1000.0,
        p99_ms: quantile(&delta, 0.99)? * 1000.0,
    })
}

/// A figure over the race: its least, mean and most.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub min: f64,
    pub mean: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Accumulator {
    n: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Accumulator {
    fn add(&mut self, v: Option<f64>) {
        let Some(v) = v else { return };
        if self.n == 0 {
            (self.min, self.max) = (v, v);
        }
        self.n += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    #[allow(clippy::cast_precision_loss)]
    fn spread(&self) -> Option<Spread> {
        (self.n > 0).then(|| Spread {
            min: self.min,
            mean: self.sum / self.n as f64,
            max: self.max,
        })
    }
}

/// Each figure's spread over the race.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSpreads {
    pub running: Option<Spread>,
    pub waiting: Option<Spread>,
    pub kv_use: Option<Spread>,
    pub hit_rate: Option<Spread>,
    pub preemptions_per_s: Option<Spread>,
    pub output_tokens_per_s: Option<Spread>,
    pub prompt_tokens_per_s: Option<Spread>,
}

/// One point of the per-second series: the figures of the last scrape in
/// that race second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServerPoint {
    pub second: u32,
    #[serde(flatten)]
    pub figures: ServerFigures,
}

/// What is folded: every scrape of one engine's server.
#[derive(Debug, Clone, Default)]
pub struct ServerFold {
    scrapes: u64,
    errors: u64,
    last_error: Option<String>,
    first: Option<(Duration, ServerSample)>,
    last: Option<(Duration, ServerSample)>,
    now: ServerFigures,
    acc: [Accumulator; 7],
    series: Vec<ServerPoint>,
}

impl ServerFold {
    /// A scrape at `at`: its sample, or why it failed.
    pub fn observe(&mut self, at: Duration, sample: Result<&ServerSample, &str>) {
        let sample = match sample {
            Ok(sample) => sample,
            Err(why) => {
                self.errors += 1;
                self.last_error = Some(why.to_owned());
                return;
            }
        };
        self.scrapes += 1;
        let figures = ServerFigures::between(self.last.as_ref(), at, sample);
        let values = [
            figures.running,
            figures.waiting,
            figures.kv_use,
            figures.hit_rate,
            figures.preemptions_per_s,
            figures.output_tokens_per_s,
            figures.prompt_tokens_per_s,
        ];
        for (acc, v) in self.acc.iter_mut().zip(values) {
            acc.add(v);
        }
        let second = u32::try_from(at.as_secs()).unwrap_or(u32::MAX);
        match self.series.last_mut() {
            Some(p) if p.second == second => p.figures = figures,
            _ => self.series.push(ServerPoint { second, figures }),
        }
        self.now = figures;
        if self.first.is_none() {
            self.first = Some((at, sample.clone()));
        }
        self.last = Some((at, sample.clone()));
    }

    /// The last scrape's figures.
    #[must_use]
    pub fn now(&self) -> ServerFigures {
        self.now
    }

    /// The mean of the hit rates read so far.
    #[must_use]
    pub fn mean_hit_rate(&self) -> Option<f64> {
        self.acc[3].spread().map(|s| s.mean)
    }

    /// Scrapes read so far, and scrapes that failed.
    #[must_use]
    pub fn counts(&self) -> (u64, u64) {
        (self.scrapes, self.errors)
    }

    /// The figures so far, beside `client_output_tokens` (the output tokens
    /// of the engine's successful requests), with the series from race
    /// second `series_from` on; `None` before any scrape was tried.
    #[must_use]
    pub fn snapshot(&self, series_from: u32, client_output_tokens: u64) -> Option<ServerSnapshot> {
        if self.scrapes == 0 && self.errors == 0 {
            return None;
        }
        let spread = |i: usize| self.acc[i].spread();
        let counted = |pick: fn(&ServerSample) -> Option<f64>| {
            let (_, first) = self.first.as_ref()?;
            let (_, last) = self.last.as_ref()?;
            Some(pick(last)? - pick(first)?)
        };
        Some(ServerSnapshot {
            scrapes: self.scrapes,
            errors: self.errors,
            last_error: self.last_error.clone(),
            now: self.now,
            spreads: ServerSpreads {
                running: spread(0),
                waiting: spread(1),
                kv_use: spread(2),
                hit_rate: spread(3),
                preemptions_per_s: spread(4),
                output_tokens_per_s: spread(5),
                prompt_tokens_per_s: spread(6),
            },
            output_tokens: counted(|s| s.output_tokens),
            prompt_tokens: counted(|s| s.prompt_tokens),
            latencies: {
                let first = self.first.as_ref().map(|(_, s)| s);
                let last = self.last.as_ref().map(|(_, s)| s);
                let of = |pick: fn(&ServerSample) -> Option<&Buckets>| {
                    over_race(first.and_then(pick), last.and_then(pick))
                };
                ServerLatencies {
                    ttft: of(|s| s.ttft.as_ref()),
                    itl: of(|s| s.itl.as_ref()),
                    e2e: of(|s| s.e2e.as_ref()),
                }
            },
            token_check: counted(|s| s.output_tokens).map(|server| {
                #[allow(clippy::cast_precision_loss)]
                let client = client_output_tokens as f64;
                TokenCheck {
                    server,
                    client: client_output_tokens,
                    matches: (server - client).abs() < 0.5,
                }
            }),
            series: {
                let from = self.series.partition_point(|p| p.second < series_from);
                self.series[from..].to_vec()
            },
        })
    }
}

/// The server's output tokens over the race beside the client's count. A
/// server used by others too counts their tokens as well, and the client
/// counts only successful requests: a match needs a server used by this
/// race alone, with no failures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TokenCheck {
    pub server: f64,
    pub client: u64,
    pub matches: bool,
}

impl ServerFigures {
    fn map(self, f: impl Fn(f64) -> f64) -> ServerFigures {
        ServerFigures {
            running: self.running.map(&f),
            waiting: self.waiting.map(&f),
            kv_use: self.kv_use.map(&f),
            hit_rate: self.hit_rate.map(&f),
            preemptions_per_s: self.preemptions_per_s.map(&f),
            output_tokens_per_s: self.output_tokens_per_s.map(&f),
            prompt_tokens_per_s: self.prompt_tokens_per_s.map(&f),
        }
    }
}

impl ServerSnapshot {
    /// The same figures with every number passed through `f` (rounded, for
    /// `summary.json`).
    #[must_use]
    pub fn map_numbers(&self, f: impl Fn(f64) -> f64 + Copy) -> ServerSnapshot {
        let spread = |s: Option<Spread>| {
            s.map(|s| Spread {
                min: f(s.min),
                mean: f(s.mean),
                max: f(s.max),
            })
        };
        let sp = &self.spreads;
        ServerSnapshot {
            now: self.now.map(f),
            spreads: ServerSpreads {
                running: spread(sp.running),
                waiting: spread(sp.waiting),
                kv_use: spread(sp.kv_use),
                hit_rate: spread(sp.hit_rate),
                preemptions_per_s: spread(sp.preemptions_per_s),
                output_tokens_per_s: spread(sp.output_tokens_per_s),
                prompt_tokens_per_s: spread(sp.prompt_tokens_per_s),
            },
            output_tokens: self.output_tokens.map(f),
            prompt_tokens: self.prompt_tokens.map(f),
            latencies: {
                let l = |v: Option<ServerLatency>| {
                    v.map(|v| ServerLatency {
                        count: f(v.count),
                        p50_ms: f(v.p50_ms),
                        p99_ms: f(v.p99_ms),
                    })
                };
                ServerLatencies {
                    ttft: l(self.latencies.ttft),
                    itl: l(self.latencies.itl),
                    e2e: l(self.latencies.e2e),
                }
            },
            series: self
                .series
                .iter()
                .map(|p| ServerPoint {
                    second: p.second,
                    figures: p.figures.map(f),
                })
                .collect(),
            ..self.clone()
        }
    }
}

/// An engine's server figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerSnapshot {
    /// Scrapes read, and scrapes that failed (timed out, an error status,
    /// not a metrics page).
    pub scrapes: u64,
    pub errors: u64,
    /// Why the last failed scrape failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The last scrape's figures.
    pub now: ServerFigures,
    pub spreads: ServerSpreads,
    /// Output and prompt tokens the server counted from the first scrape
    /// (before the start signal) to the last (after the engine's last
    /// request).
    pub output_tokens: Option<f64>,
    pub prompt_tokens: Option<f64>,
    /// The server's own latencies over the race, where it publishes them.
    #[serde(default, skip_serializing_if = "ServerLatencies::is_empty")]
    pub latencies: ServerLatencies,
    /// The server's output-token count over the race against the client's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_check: Option<TokenCheck>,
    /// Per race second (live: the last two minutes'; the final snapshot's
    /// whole).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<ServerPoint>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_latencies_are_its_histograms_quantiles_over_the_race() {
        let buckets = vec![(0.02, 1.0), (0.04, 5.0), (f64::INFINITY, 9.0)];
        // Rank 4.5 falls in (0.02, 0.04], 3.5 of its 4: 37.5 ms.
        assert!((quantile(&buckets, 0.5).unwrap() - 0.0375).abs() < 1e-12);
        // Rank 8.91 is in +Inf: the highest finite bound.
        assert_eq!(quantile(&buckets, 0.99), Some(0.04));
        // Over the race: what the counts grew by since the first scrape.
        let mut fold = ServerFold::default();
        let with = |b: Buckets| ServerSample {
            ttft: Some(b),
            ..ServerSample::default()
        };
        fold.observe(
            Duration::ZERO,
            Ok(&with(vec![
                (0.02, 100.0),
                (0.04, 100.0),
                (f64::INFINITY, 100.0),
            ])),
        );
        fold.observe(
            Duration::from_secs(1),
            Ok(&with(vec![
                (0.02, 101.0),
                (0.04, 105.0),
                (f64::INFINITY, 109.0),
            ])),
        );
        let ttft = fold.snapshot(0, 0).unwrap().latencies.ttft.unwrap();
        assert_eq!(ttft.count, 9.0);
        assert!((ttft.p50_ms - 37.5).abs() < 1e-9, "{ttft:?}");
        assert!((ttft.p99_ms - 40.0).abs() < 1e-9);
    }

    #[test]
    fn the_fold_turns_counters_into_rates_and_counts_the_race() {
        let page = |running: f64, out: f64, hits: f64, queries: f64| ServerSample {
            running: Some(running),
            output_tokens: Some(out),
            prefix_hits: Some(hits),
            prefix_queries: Some(queries),
            ..ServerSample::default()
        };
        let mut fold = ServerFold::default();
        assert_eq!(fold.snapshot(0, 0), None);
        fold.observe(Duration::ZERO, Ok(&page(0.0, 1000.0, 0.0, 0.0)));
        fold.observe(Duration::from_secs(1), Ok(&page(4.0, 1100.0, 30.0, 100.0)));
        fold.observe(Duration::from_millis(1500), Err("HTTP 500"));
        fold.observe(Duration::from_secs(2), Ok(&page(2.0, 1300.0, 110.0, 200.0)));
        let s = fold.snapshot(0, 300).unwrap();
        assert_eq!(
            fold.snapshot(2, 300).unwrap().series.len(),
            1,
            "from second 2"
        );
        assert_eq!(
            s.token_check,
            Some(TokenCheck {
                server: 300.0,
                client: 300,
                matches: true
            })
        );
        assert_eq!((s.scrapes, s.errors), (3, 1));
        assert_eq!(s.last_error.as_deref(), Some("HTTP 500"));
        assert_eq!(s.now.output_tokens_per_s, Some(200.0));
        assert_eq!(s.now.hit_rate, Some(0.8));
        assert_eq!(s.output_tokens, Some(300.0));
        let running = s.spreads.running.unwrap();
        assert_eq!((running.min, running.max), (0.0, 4.0));
        assert!((running.mean - 2.0).abs() < 1e-9);
        assert_eq!(s.series.len(), 3);
        assert_eq!(s.series[1].figures.output_tokens_per_s, Some(100.0));
    }
}
