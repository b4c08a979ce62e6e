//! The servers' own figures, scraped from their Prometheus `/metrics`
//! pages during the race: which families each server calls what (vLLM,
//! SGLang, TGI, llama.cpp), one page read into a [`ServerSample`], and the
//! fold of an engine's samples into what the views show. Defined in
//! docs/METRICS.md ("Server metrics").

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One scrape: the gauges as the page gave them and the counters' running
/// totals (each summed over the page's series for the engine's model).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
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
}

/// Which figure a family gives, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Figure {
    Running,
    Waiting,
    KvUse,
    /// A percentage 0–100 read as a fraction.
    KvUsePercent,
    PrefixHits,
    PrefixQueries,
    HitRate,
    Preemptions,
    OutputTokens,
    PromptTokens,
    /// llama.cpp: prompt tokens computed (not cached): the queries are
    /// these plus the hits.
    UncachedPromptTokens,
}

/// The families each server publishes, by the names of their docs (the
/// newer name first where one was renamed). A counter's `_total` suffix is
/// matched with or without it.
const FAMILIES: &[(&str, Figure)] = &[
    // vLLM (v1 engine; `gpu_` names are v0's)
    ("vllm:num_requests_running", Figure::Running),
    ("vllm:num_requests_waiting", Figure::Waiting),
    ("vllm:kv_cache_usage_perc", Figure::KvUse),
    ("vllm:gpu_cache_usage_perc", Figure::KvUse),
    ("vllm:prefix_cache_hits", Figure::PrefixHits),
    ("vllm:gpu_prefix_cache_hits", Figure::PrefixHits),
    ("vllm:prefix_cache_queries", Figure::PrefixQueries),
    ("vllm:gpu_prefix_cache_queries", Figure::PrefixQueries),
    ("vllm:num_preemptions", Figure::Preemptions),
    ("vllm:generation_tokens", Figure::OutputTokens),
    ("vllm:prompt_tokens", Figure::PromptTokens),
    // SGLang
    ("sglang:num_running_reqs", Figure::Running),
    ("sglang:num_queue_reqs", Figure::Waiting),
    ("sglang:token_usage", Figure::KvUse),
    ("sglang:cache_hit_rate", Figure::HitRate),
    ("sglang:num_retracted_reqs", Figure::Preemptions),
    ("sglang:generation_tokens", Figure::OutputTokens),
    ("sglang:prompt_tokens", Figure::PromptTokens),
    // TGI
    ("tgi_batch_current_size", Figure::Running),
    ("tgi_queue_size", Figure::Waiting),
    ("tgi_request_generated_tokens_sum", Figure::OutputTokens),
    ("tgi_request_input_length_sum", Figure::PromptTokens),
    // llama.cpp
    ("llamacpp:requests_processing", Figure::Running),
    ("llamacpp:requests_deferred", Figure::Waiting),
    ("llamacpp:kv_cache_usage_ratio", Figure::KvUse),
    ("llamacpp:prompt_tokens_cached", Figure::PrefixHits),
    ("llamacpp:tokens_predicted", Figure::OutputTokens),
    ("llamacpp:prompt_tokens", Figure::UncachedPromptTokens),
    // Percent-scaled gauges some exporters add.
    ("tgi_kv_cache_usage_percent", Figure::KvUsePercent),
];

fn figure_of(name: &str) -> Option<Figure> {
    let bare = name.strip_suffix("_total").unwrap_or(name);
    FAMILIES
        .iter()
        .find(|(family, _)| *family == name || *family == bare)
        .map(|(_, figure)| *figure)
}

/// Reads one `/metrics` page (Prometheus text format). Series labelled with
/// a model (`model_name`, `model`) count only when the label is `model`,
/// unless no series names it (a server that labels with its own alias).
/// An error when the page is not Prometheus text or holds no family known
/// here.
pub fn read_page(text: &str, model: &str) -> Result<ServerSample, String> {
    // A page cut or damaged partway still gives the families before it.
    let (metrics, _error) = prom_text_format_parser::parse_scrape(text);
    if metrics.is_empty() {
        return Err("not Prometheus metrics".to_owned());
    }
    let model_label = |s: &prom_text_format_parser::Sample| {
        s.labels
            .iter()
            .find(|l| l.key == "model_name" || l.key == "model")
            .map(|l| l.value.clone())
    };
    // (family name as matched, sample) for every plain value and every
    // histogram's or summary's sum.
    let values: Vec<(String, &prom_text_format_parser::Sample)> = metrics
        .iter()
        .flat_map(|m| {
            m.samples.iter().filter_map(move |s| {
                use prom_text_format_parser::{Type, ValueType};
                match (m.kind, s.value.value_type) {
                    (Type::Histogram | Type::Summary, ValueType::Sum) => {
                        Some((format!("{}_sum", m.name), s))
                    }
                    (Type::Histogram | Type::Summary, _) => None,
                    _ => Some((m.name.clone(), s)),
                }
            })
        })
        .collect();
    let any_for_model = values
        .iter()
        .any(|(_, s)| model_label(s).as_deref() == Some(model));
    let mut sample = ServerSample::default();
    let mut uncached_prompt: Option<f64> = None;
    let mut known = 0usize;
    for (name, s) in &values {
        let Some(figure) = figure_of(name) else {
            continue;
        };
        if any_for_model && model_label(s).is_some_and(|m| m != model) {
            continue;
        }
        let Ok(value) = s.value.value.parse::<f64>() else {
            continue;
        };
        if !value.is_finite() {
            continue;
        }
        known += 1;
        let add = |slot: &mut Option<f64>, v: f64| *slot = Some(slot.unwrap_or(0.0) + v);
        match figure {
            Figure::Running => add(&mut sample.running, value),
            Figure::Waiting => add(&mut sample.waiting, value),
            // Several engines (data parallel) each have a cache: the mean
            // would hide a full one, so the fullest counts.
            Figure::KvUse => sample.kv_use = Some(sample.kv_use.unwrap_or(0.0).max(value)),
            Figure::KvUsePercent => {
                sample.kv_use = Some(sample.kv_use.unwrap_or(0.0).max(value / 100.0));
            }
            Figure::PrefixHits => add(&mut sample.prefix_hits, value),
            Figure::PrefixQueries => add(&mut sample.prefix_queries, value),
            Figure::HitRate => sample.hit_rate = Some(value),
            Figure::Preemptions => add(&mut sample.preemptions, value),
            Figure::OutputTokens => add(&mut sample.output_tokens, value),
            Figure::PromptTokens => add(&mut sample.prompt_tokens, value),
            Figure::UncachedPromptTokens => add(&mut uncached_prompt, value),
        }
    }
    if let Some(uncached) = uncached_prompt {
        let hits = sample.prefix_hits.unwrap_or(0.0);
        sample.prompt_tokens = Some(uncached + hits);
        sample.prefix_queries = Some(uncached + hits);
    }
    if known == 0 {
        return Err(format!(
            "{} families, none llm-locust knows (vLLM, SGLang, TGI, llama.cpp)",
            metrics.len()
        ));
    }
    Ok(sample)
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
            self.first = Some((at, *sample));
        }
        self.last = Some((at, *sample));
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
    /// of the engine's successful requests); `None` before any scrape was
    /// tried.
    #[must_use]
    pub fn snapshot(&self, with_series: bool, client_output_tokens: u64) -> Option<ServerSnapshot> {
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
            token_check: counted(|s| s.output_tokens).map(|server| {
                #[allow(clippy::cast_precision_loss)]
                let client = client_output_tokens as f64;
                TokenCheck {
                    server,
                    client: client_output_tokens,
                    matches: (server - client).abs() < 0.5,
                }
            }),
            series: if with_series {
                self.series.clone()
            } else {
                Vec::new()
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
    /// The server's output-token count over the race against the client's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_check: Option<TokenCheck>,
    /// Per race second (the final snapshot's; empty live).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<ServerPoint>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const LLAMA_CPP: &str = include_str!("../../tests/fixtures/metrics/llamacpp-b11434.txt");
    const VLLM: &str = include_str!("../../tests/fixtures/metrics/vllm-0.11.txt");
    const SGLANG: &str = include_str!("../../tests/fixtures/metrics/sglang-0.5.txt");
    const TGI: &str = include_str!("../../tests/fixtures/metrics/tgi-3.3.txt");

    #[test]
    fn llama_cpp_counts_cached_and_computed_prompt_tokens_apart() {
        let s = read_page(LLAMA_CPP, "gemma-3-270m").unwrap();
        assert_eq!((s.running, s.waiting), (Some(0.0), Some(0.0)));
        assert_eq!(s.output_tokens, Some(16.0));
        assert_eq!(s.prefix_hits, Some(10.0));
        assert_eq!(s.prompt_tokens, Some(30.0), "20 computed + 10 cached");
        assert_eq!(s.prefix_queries, Some(30.0));
        assert_eq!(s.kv_use, None, "this build publishes no KV use");
    }

    #[test]
    fn vllm_counts_only_the_engines_model_and_reads_its_cache() {
        let s = read_page(VLLM, "Qwen/Qwen3-0.6B").unwrap();
        assert_eq!((s.running, s.waiting), (Some(8.0), Some(12.0)));
        assert_eq!(s.kv_use, Some(0.93));
        assert_eq!(
            (s.prefix_hits, s.prefix_queries),
            (Some(4100.0), Some(10000.0))
        );
        assert_eq!(s.preemptions, Some(3.0));
        assert_eq!(s.output_tokens, Some(624.0));
        assert_eq!(s.prompt_tokens, Some(10000.0));
        // The other model's series are left out.
        let other = read_page(VLLM, "meta-llama/Llama-3.1-8B").unwrap();
        assert_eq!(other.running, Some(1.0));
    }

    #[test]
    fn sglang_and_tgi_give_their_own_names() {
        let s = read_page(SGLANG, "Qwen/Qwen3-0.6B").unwrap();
        assert_eq!((s.running, s.waiting), (Some(5.0), Some(2.0)));
        assert_eq!((s.kv_use, s.hit_rate), (Some(0.41), Some(0.37)));
        assert_eq!(s.output_tokens, Some(2048.0));
        let t = read_page(TGI, "bigscience/bloom-560m").unwrap();
        assert_eq!((t.running, t.waiting), (Some(4.0), Some(6.0)));
        assert_eq!(t.output_tokens, Some(1280.0));
        assert_eq!(t.prompt_tokens, Some(2560.0));
    }

    #[test]
    fn a_page_of_nothing_known_or_of_no_metrics_is_an_error() {
        let err = read_page("# TYPE up gauge\nup 1\n", "m").unwrap_err();
        assert!(err.contains("none llm-locust knows"), "{err}");
        let err = read_page("<html>not found</html>", "m").unwrap_err();
        assert_eq!(err, "not Prometheus metrics");
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
        assert_eq!(fold.snapshot(false, 0), None);
        fold.observe(Duration::ZERO, Ok(&page(0.0, 1000.0, 0.0, 0.0)));
        fold.observe(Duration::from_secs(1), Ok(&page(4.0, 1100.0, 30.0, 100.0)));
        fold.observe(Duration::from_millis(1500), Err("HTTP 500"));
        fold.observe(Duration::from_secs(2), Ok(&page(2.0, 1300.0, 110.0, 200.0)));
        let s = fold.snapshot(true, 300).unwrap();
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
