//! One `/metrics` page read into a [`ServerSample`]: which families each
//! server (vLLM, SGLang, TGI, llama.cpp) calls what, the lines about them
//! kept, parsed with `prom_text_format_parser`, and summed for the
//! engine's model.

use super::{Buckets, ServerSample};
use crate::config::{MappedFamily, ServerFigure};

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

/// The server's own latency histograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Latency {
    Ttft,
    Itl,
    E2e,
}

/// Where each server keeps them (the newer name first where renamed).
const HISTOGRAMS: &[(&str, Latency)] = &[
    ("vllm:time_to_first_token_seconds", Latency::Ttft),
    ("vllm:inter_token_latency_seconds", Latency::Itl),
    ("vllm:time_per_output_token_seconds", Latency::Itl),
    ("vllm:e2e_request_latency_seconds", Latency::E2e),
    ("sglang:time_to_first_token_seconds", Latency::Ttft),
    ("sglang:inter_token_latency_seconds", Latency::Itl),
    ("sglang:time_per_output_token_seconds", Latency::Itl),
    ("sglang:e2e_request_latency_seconds", Latency::E2e),
    ("tgi_request_mean_time_per_token_duration", Latency::Itl),
    ("tgi_request_duration", Latency::E2e),
];

/// The histogram a family name (or one of its `_bucket`, `_sum` and
/// `_count` series) belongs to.
fn histogram_of(name: &str) -> Option<Latency> {
    let base = ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name);
    HISTOGRAMS
        .iter()
        .find(|(family, _)| *family == base)
        .map(|(_, latency)| *latency)
}

fn figure_of(name: &str) -> Option<Figure> {
    static BY_NAME: std::sync::OnceLock<std::collections::HashMap<&'static str, Figure>> =
        std::sync::OnceLock::new();
    let by_name = BY_NAME.get_or_init(|| FAMILIES.iter().copied().collect());
    let bare = name.strip_suffix("_total").unwrap_or(name);
    by_name.get(name).or_else(|| by_name.get(bare)).copied()
}

/// The lines of `text` about a known family: its samples, and its `HELP`
/// and `TYPE` lines (a histogram's are left out, so its `_sum` reads as a
/// plain value). A server's page holds hundreds of families; parsing only
/// these keeps a scrape cheap. Also how many families the page declares.
fn known_lines(text: &str, map: &[MappedFamily]) -> (String, usize) {
    let mut kept = String::new();
    let mut declared = 0;
    for line in text.lines() {
        let line = line.trim_start();
        let name = if let Some(rest) = line.strip_prefix('#') {
            let mut words = rest.split_whitespace();
            match words.next() {
                Some("TYPE") => {
                    declared += 1;
                    words.next()
                }
                Some("HELP") => words.next(),
                _ => None,
            }
        } else {
            // The name ends at its labels' brace (written as an escape) or a space.
            line.split(|c: char| c == '\u{7b}' || c.is_whitespace())
                .next()
        };
        let known = |n: &str| {
            figure_of(n).is_some() || histogram_of(n).is_some() || mapped(map, n).next().is_some()
        };
        if name.is_some_and(known) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    (kept, declared)
}

/// Reads one `/metrics` page (Prometheus text format). Series labelled with
/// a model (`model_name`, `model`) count only when the label is `model`,
/// unless no series names it (a server that labels with its own alias).
/// An error when the page is not Prometheus text or holds no family known
/// here.
pub fn read_page(text: &str, model: &str, map: &[MappedFamily]) -> Result<ServerSample, String> {
    let (known, declared) = known_lines(text, map);
    let none_known = || {
        if declared == 0 {
            "not Prometheus metrics".to_owned()
        } else {
            format!("{declared} families, none llm-locust knows (vLLM, SGLang, TGI, llama.cpp)")
        }
    };
    // A page cut or damaged partway still gives the families before it.
    let (metrics, _error) = prom_text_format_parser::parse_scrape(&known);
    if metrics.is_empty() {
        return Err(none_known());
    }
    // Every plain value (a histogram whose `_sum` is a figure had its
    // `TYPE` line left out, so that sum is one of them).
    let values: Vec<(&str, &prom_text_format_parser::Sample)> = metrics
        .iter()
        .filter(|m| {
            !matches!(
                m.kind,
                prom_text_format_parser::Type::Histogram | prom_text_format_parser::Type::Summary
            )
        })
        .flat_map(|m| m.samples.iter().map(move |s| (m.name.as_str(), s)))
        .collect();
    let counts = ForModel::of(&metrics, model);
    let mut sample = ServerSample::default();
    let mut uncached_prompt: Option<f64> = None;
    let mut known = 0usize;
    for (name, s) in &values {
        // A family the user mapped counts as they said (its series with
        // their labels); the others as the table says.
        let user = mapped(map, name).find(|m| {
            m.labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|l| l.key == *k && l.value == *v))
        });
        let figure = match user {
            Some(m) => Some(figure_for(m.figure)),
            None if mapped(map, name).next().is_some() => None,
            None => figure_of(name),
        };
        let Some(figure) = figure else {
            continue;
        };
        if !counts.keeps(s) {
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
    known += read_histograms(&metrics, &counts, &mut sample);
    if let Some(uncached) = uncached_prompt {
        let hits = sample.prefix_hits.unwrap_or(0.0);
        sample.prompt_tokens = Some(uncached + hits);
        sample.prefix_queries = Some(uncached + hits);
    }
    if known == 0 {
        return Err(none_known());
    }
    Ok(sample)
}

/// The user's mappings of family `name` (with or without `_total`).
fn mapped<'m>(map: &'m [MappedFamily], name: &str) -> impl Iterator<Item = &'m MappedFamily> {
    let bare = name.strip_suffix("_total").unwrap_or(name).to_owned();
    let name = name.to_owned();
    map.iter().filter(move |m| {
        m.family == name || m.family == bare || m.family.strip_suffix("_total") == Some(&bare)
    })
}

fn figure_for(figure: ServerFigure) -> Figure {
    match figure {
        ServerFigure::Running => Figure::Running,
        ServerFigure::Waiting => Figure::Waiting,
        ServerFigure::KvUse => Figure::KvUse,
        ServerFigure::PrefixHits => Figure::PrefixHits,
        ServerFigure::PrefixQueries => Figure::PrefixQueries,
        ServerFigure::HitRate => Figure::HitRate,
        ServerFigure::Preemptions => Figure::Preemptions,
        ServerFigure::OutputTokens => Figure::OutputTokens,
        ServerFigure::PromptTokens => Figure::PromptTokens,
    }
}

/// Which series count for the engine: those labelled with its model, when
/// any is (`model_name`, `model`); all of them otherwise.
struct ForModel<'m> {
    model: &'m str,
    any_for_model: bool,
}

fn model_label(s: &prom_text_format_parser::Sample) -> Option<&str> {
    s.labels
        .iter()
        .find(|l| l.key == "model_name" || l.key == "model")
        .map(|l| l.value.as_str())
}

impl<'m> ForModel<'m> {
    fn of(metrics: &[prom_text_format_parser::Metric], model: &'m str) -> Self {
        let any_for_model = metrics
            .iter()
            .flat_map(|m| &m.samples)
            .any(|s| model_label(s) == Some(model));
        ForModel {
            model,
            any_for_model,
        }
    }

    fn keeps(&self, s: &prom_text_format_parser::Sample) -> bool {
        !self.any_for_model || model_label(s).is_none_or(|m| m == self.model)
    }
}

/// The latency histograms of the page into `sample`; how many were read.
fn read_histograms(
    metrics: &[prom_text_format_parser::Metric],
    counts: &ForModel<'_>,
    sample: &mut ServerSample,
) -> usize {
    let mut known = 0;
    for m in metrics {
        let Some(latency) =
            histogram_of(&m.name).filter(|_| m.kind == prom_text_format_parser::Type::Histogram)
        else {
            continue;
        };
        let mut buckets: Buckets = Vec::new();
        for s in &m.samples {
            if s.value.value_type != prom_text_format_parser::ValueType::Sample || !counts.keeps(s)
            {
                continue;
            }
            let le = s
                .labels
                .iter()
                .find(|l| l.key == "le")
                .map(|l| l.value.as_str());
            let (Some(Ok(le)), Ok(count)) =
                (le.map(str::parse::<f64>), s.value.value.parse::<f64>())
            else {
                continue;
            };
            // Several series (engines, models) add up bucket by bucket.
            match buckets.iter_mut().find(|(b, _)| *b == le) {
                Some(bucket) => bucket.1 += count,
                None => buckets.push((le, count)),
            }
        }
        if buckets.is_empty() {
            continue;
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        known += 1;
        let slot = match latency {
            Latency::Ttft => &mut sample.ttft,
            Latency::Itl => &mut sample.itl,
            Latency::E2e => &mut sample.e2e,
        };
        slot.get_or_insert(buckets);
    }
    known
}

#[cfg(test)]
mod tests {
    use super::*;

    const LLAMA_CPP: &str = include_str!("../../../tests/fixtures/metrics/llamacpp-b11434.txt");
    const VLLM: &str = include_str!("../../../tests/fixtures/metrics/vllm-0.11.txt");
    const SGLANG: &str = include_str!("../../../tests/fixtures/metrics/sglang-0.5.txt");
    const TGI: &str = include_str!("../../../tests/fixtures/metrics/tgi-3.3.txt");

    #[test]
    fn llama_cpp_counts_cached_and_computed_prompt_tokens_apart() {
        let s = read_page(LLAMA_CPP, "gemma-3-270m", &[]).unwrap();
        assert_eq!((s.running, s.waiting), (Some(0.0), Some(0.0)));
        assert_eq!(s.output_tokens, Some(16.0));
        assert_eq!(s.prefix_hits, Some(10.0));
        assert_eq!(s.prompt_tokens, Some(30.0), "20 computed + 10 cached");
        assert_eq!(s.prefix_queries, Some(30.0));
        assert_eq!(s.kv_use, None, "this build publishes no KV use");
    }

    #[test]
    fn vllm_counts_only_the_engines_model_and_reads_its_cache() {
        let s = read_page(VLLM, "Qwen/Qwen3-0.6B", &[]).unwrap();
        assert_eq!((s.running, s.waiting), (Some(8.0), Some(12.0)));
        assert_eq!(s.kv_use, Some(0.93));
        assert_eq!(
            (s.prefix_hits, s.prefix_queries),
            (Some(4100.0), Some(10000.0))
        );
        assert_eq!(s.preemptions, Some(3.0));
        assert_eq!(s.output_tokens, Some(624.0));
        assert_eq!(s.prompt_tokens, Some(10000.0));
        assert_eq!(
            s.ttft,
            Some(vec![(0.02, 1.0), (0.04, 5.0), (f64::INFINITY, 9.0)]),
            "the TTFT histogram, its buckets in order"
        );
        // The other model's series are left out.
        let other = read_page(VLLM, "meta-llama/Llama-3.1-8B", &[]).unwrap();
        assert_eq!(other.running, Some(1.0));
    }

    #[test]
    fn sglang_and_tgi_give_their_own_names() {
        let s = read_page(SGLANG, "Qwen/Qwen3-0.6B", &[]).unwrap();
        assert_eq!((s.running, s.waiting), (Some(5.0), Some(2.0)));
        assert_eq!((s.kv_use, s.hit_rate), (Some(0.41), Some(0.37)));
        assert_eq!(s.output_tokens, Some(2048.0));
        let t = read_page(TGI, "bigscience/bloom-560m", &[]).unwrap();
        assert_eq!((t.running, t.waiting), (Some(4.0), Some(6.0)));
        assert_eq!(t.output_tokens, Some(1280.0));
        assert_eq!(t.prompt_tokens, Some(2560.0));
    }

    #[test]
    fn a_family_the_user_maps_gives_its_figure_from_the_series_asked_for() {
        let page = "# TYPE my_active gauge\nmy_active 3\n# TYPE my_queue gauge\nmy_queue{pool=\"a\"} 5\nmy_queue{pool=\"b\"} 7\n# TYPE my_tokens_total counter\nmy_tokens_total 99\n";
        let map = |figure, family: &str, labels: &[(&str, &str)]| MappedFamily {
            figure,
            family: family.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        let mapped = [
            map(ServerFigure::Running, "my_active", &[]),
            map(ServerFigure::Waiting, "my_queue", &[("pool", "b")]),
            map(ServerFigure::OutputTokens, "my_tokens", &[]),
        ];
        let s = read_page(page, "m", &mapped).unwrap();
        assert_eq!((s.running, s.waiting), (Some(3.0), Some(7.0)));
        assert_eq!(s.output_tokens, Some(99.0));
        // Unmapped, the page holds nothing known.
        assert!(read_page(page, "m", &[]).is_err());
    }

    #[test]
    fn a_page_of_nothing_known_or_of_no_metrics_is_an_error() {
        let err = read_page("# TYPE up gauge\nup 1\n", "m", &[]).unwrap_err();
        assert!(err.contains("none llm-locust knows"), "{err}");
        let err = read_page("<html>not found</html>", "m", &[]).unwrap_err();
        assert_eq!(err, "not Prometheus metrics");
    }
}
