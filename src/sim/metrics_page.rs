//! The simulator's `/metrics` page: its true state in vLLM's metric names,
//! so a race against it shows the server line offline and tests have a
//! server whose queue is known.

use super::stats::SimStats;

/// Its true state in vLLM's metric names: requests running (holding a
/// capacity slot) and waiting, KV use as the share of capacity in use,
/// prompt and generated tokens, and with a prefix cache its queries and
/// hits in tokens.
pub(super) fn page(s: &SimStats, capacity: u32, prefix_cache: bool) -> String {
    use std::fmt::Write as _;
    let label = "{model_name=\"llm-locust-sim\"}";
    let mut page = String::new();
    let mut family = |name: &str, kind: &str, help: &str, value: f64| {
        let _ = writeln!(
            page,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{label} {value}"
        );
    };
    #[allow(clippy::cast_precision_loss)]
    let n = |v: u64| v as f64;
    family(
        "vllm:num_requests_running",
        "gauge",
        "Number of requests in model execution batches.",
        n(s.in_flight),
    );
    family(
        "vllm:num_requests_waiting",
        "gauge",
        "Number of requests waiting to be processed.",
        n(s.queued),
    );
    family(
        "vllm:kv_cache_usage_perc",
        "gauge",
        "KV-cache usage. 1 means 100 percent usage.",
        n(s.in_flight) / f64::from(capacity.max(1)),
    );
    family(
        "vllm:num_preemptions_total",
        "counter",
        "Cumulative number of preemption from the engine.",
        0.0,
    );
    family(
        "vllm:prompt_tokens_total",
        "counter",
        "Number of prefill tokens processed.",
        n(s.prompt_tokens),
    );
    family(
        "vllm:generation_tokens_total",
        "counter",
        "Number of generation tokens processed.",
        n(s.generated_tokens),
    );
    if prefix_cache {
        family(
            "vllm:prefix_cache_queries_total",
            "counter",
            "Prefix cache queries, in terms of number of queried tokens.",
            n(s.prompt_tokens),
        );
        family(
            "vllm:prefix_cache_hits_total",
            "counter",
            "Prefix cache hits, in terms of number of cached tokens.",
            n(s.cached_tokens),
        );
    }
    let _ = writeln!(
        page,
        "# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.\n# TYPE vllm:time_to_first_token_seconds histogram"
    );
    for (le, count) in &s.ttft_buckets {
        let le = if le.is_infinite() {
            "+Inf".to_owned()
        } else {
            le.to_string()
        };
        let _ = writeln!(
            page,
            "vllm:time_to_first_token_seconds_bucket{{model_name=\"llm-locust-sim\",le=\"{le}\"}} {count}"
        );
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_reads_back_as_the_state_it_was_made_from() {
        let stats = SimStats {
            in_flight: 3,
            queued: 5,
            prompt_tokens: 400,
            cached_tokens: 100,
            generated_tokens: 64,
            ..SimStats::default()
        };
        let s = crate::metrics::server::read_page(&page(&stats, 4, true), "m", &[]).unwrap();
        assert_eq!((s.running, s.waiting), (Some(3.0), Some(5.0)));
        assert_eq!(s.kv_use, Some(0.75));
        assert_eq!(
            (s.prefix_hits, s.prefix_queries),
            (Some(100.0), Some(400.0))
        );
        assert_eq!(
            (s.output_tokens, s.prompt_tokens),
            (Some(64.0), Some(400.0))
        );
        let without = crate::metrics::server::read_page(&page(&stats, 4, false), "m", &[]).unwrap();
        assert_eq!(without.prefix_hits, None);
    }
}
