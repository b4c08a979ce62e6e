//! Live figures in the Prometheus text exposition format (version 0.0.4),
//! for `--metrics-addr`: shards running headless in pods can be watched in
//! Grafana while they run. Formats a snapshot's numbers; computes none.
//! The names are documented in docs/METRICS.md ("Prometheus").

use std::fmt::Write as _;
use std::time::Duration;

use crate::metrics::{ErrorKind, LaneSnapshot, LatencySummary, RaceSnapshot};

/// The content type a scraper expects.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A label value with `\`, `"` and line breaks escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// One family's `# HELP` and `# TYPE` lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A summary's quantiles, `_sum` and `_count` for one engine.
fn summary(out: &mut String, name: &str, engine: &str, s: &LatencySummary) {
    for (q, v) in [
        ("0.5", s.p50),
        ("0.9", s.p90),
        ("0.95", s.p95),
        ("0.99", s.p99),
        ("0.999", s.p999),
    ] {
        if s.count > 0 {
            let _ = writeln!(
                out,
                "{name}{{engine=\"{engine}\",quantile=\"{q}\"}} {}",
                seconds(v)
            );
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let sum = seconds(s.mean) * s.count as f64;
    let _ = writeln!(out, "{name}_sum{{engine=\"{engine}\"}} {sum}");
    let _ = writeln!(out, "{name}_count{{engine=\"{engine}\"}} {}", s.count);
}

/// The whole exposition for one snapshot.
#[must_use]
pub fn exposition(s: &RaceSnapshot) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "llm_locust_race_elapsed_seconds",
        "gauge",
        "Time since the start signal.",
    );
    let _ = writeln!(
        out,
        "llm_locust_race_elapsed_seconds {}",
        seconds(s.elapsed)
    );
    let engines: Vec<String> = s.lanes.iter().map(|l| label(&l.name)).collect();
    let lanes = || s.lanes.iter().zip(&engines);
    requests(&mut out, lanes());
    engine_figures(&mut out, &s.lanes, &engines);
    type Of = fn(&LaneSnapshot) -> &LatencySummary;
    let latencies: [(&str, &str, Of); 4] = [
        (
            "llm_locust_ttft_seconds",
            "Time to first token of successful requests.",
            |l| &l.latencies.ttft,
        ),
        (
            "llm_locust_tpot_seconds",
            "Time per output token after the first, per successful request.",
            |l| &l.latencies.tpot,
        ),
        (
            "llm_locust_e2e_seconds",
            "Whole-request latency of successful requests.",
            |l| &l.latencies.e2e,
        ),
        (
            "llm_locust_send_delay_seconds",
            "Time from a request's scheduled start to its send.",
            |l| &l.latencies.send_delay,
        ),
    ];
    for (name, help, of) in latencies {
        family(&mut out, name, "summary", help);
        for (l, e) in lanes() {
            summary(&mut out, name, e, of(l));
        }
    }
    server_figures(&mut out, &s.lanes, &engines);
    client(&mut out, s);
    out
}

/// The servers' own figures, as last scraped, labelled by engine (only
/// engines whose server was read, and only the figures it publishes).
fn server_figures(out: &mut String, lanes: &[LaneSnapshot], engines: &[String]) {
    type Of = fn(&crate::metrics::server::ServerFigures) -> Option<f64>;
    let figures: [(&str, &str, Of); 7] = [
        (
            "llm_locust_server_running",
            "Requests running at the server.",
            |f| f.running,
        ),
        (
            "llm_locust_server_waiting",
            "Requests waiting at the server.",
            |f| f.waiting,
        ),
        (
            "llm_locust_server_kv_cache_usage_ratio",
            "The server's KV-cache use, 0 to 1.",
            |f| f.kv_use,
        ),
        (
            "llm_locust_server_prefix_cache_hit_ratio",
            "The server's prefix-cache hit rate over the last interval, 0 to 1.",
            |f| f.hit_rate,
        ),
        (
            "llm_locust_server_preemptions_per_second",
            "Requests the server preempted per second.",
            |f| f.preemptions_per_s,
        ),
        (
            "llm_locust_server_output_tokens_per_second",
            "Output tokens per second as the server counts them.",
            |f| f.output_tokens_per_s,
        ),
        (
            "llm_locust_server_prompt_tokens_per_second",
            "Prompt tokens per second as the server counts them.",
            |f| f.prompt_tokens_per_s,
        ),
    ];
    for (name, help, of) in figures {
        let values: Vec<(&String, f64)> = lanes
            .iter()
            .zip(engines)
            .filter_map(|(l, e)| Some((e, of(&l.server.as_ref().filter(|s| s.scrapes > 0)?.now)?)))
            .collect();
        if values.is_empty() {
            continue;
        }
        family(out, name, "gauge", help);
        for (e, v) in values {
            let _ = writeln!(out, "{name}{{engine=\"{e}\"}} {v}");
        }
    }
}

/// Requests by outcome and failures by kind, per engine.
fn requests<'a>(
    out: &mut String,
    lanes: impl Iterator<Item = (&'a LaneSnapshot, &'a String)> + Clone,
) {
    family(
        out,
        "llm_locust_requests_total",
        "counter",
        "Finished requests by outcome (ok, failed, cancelled).",
    );
    for (l, e) in lanes.clone() {
        for (outcome, n) in [
            ("ok", l.counts.ok),
            ("failed", l.counts.failed),
            ("cancelled", l.counts.cancelled),
        ] {
            let _ = writeln!(
                out,
                "llm_locust_requests_total{{engine=\"{e}\",outcome=\"{outcome}\"}} {n}"
            );
        }
    }
    family(
        out,
        "llm_locust_errors_total",
        "counter",
        "Failed requests by error kind.",
    );
    for (l, e) in lanes {
        for kind in ErrorKind::ALL {
            let n = l.counts.errors.get(&kind).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "llm_locust_errors_total{{engine=\"{e}\",kind=\"{}\"}} {n}",
                kind.name()
            );
        }
    }
}

/// A family of one value per engine: its name, type, help, and the value.
type Figure = (
    &'static str,
    &'static str,
    &'static str,
    fn(&LaneSnapshot) -> f64,
);

/// One value per engine: token counters, lost arrivals, in flight, tok/s.
fn engine_figures(out: &mut String, lanes: &[LaneSnapshot], engines: &[String]) {
    #[allow(clippy::cast_precision_loss)]
    let figures: [Figure; 5] = [
        (
            "llm_locust_input_tokens_total",
            "counter",
            "Input tokens of successful requests.",
            |l| l.counts.input_tokens as f64,
        ),
        (
            "llm_locust_output_tokens_total",
            "counter",
            "Output tokens of successful requests.",
            |l| l.counts.output_tokens as f64,
        ),
        (
            "llm_locust_dropped_arrivals_total",
            "counter",
            "Open-loop arrivals dropped because the backlog was full.",
            |l| l.arrivals.dropped as f64,
        ),
        (
            "llm_locust_in_flight",
            "gauge",
            "Requests sent and not yet finished.",
            |l| l.counts.in_flight() as f64,
        ),
        (
            "llm_locust_output_tokens_per_second",
            "gauge",
            "Output tokens per second of the engine's active time.",
            |l| l.rates.output_tokens_per_s,
        ),
    ];
    for (name, kind, help, of) in figures {
        family(out, name, kind, help);
        for (l, e) in lanes.iter().zip(engines) {
            // An embeddings engine generates no token: no sample, not a zero.
            if name.contains("output_tokens") && l.embeddings.is_some() {
                continue;
            }
            let _ = writeln!(out, "{name}{{engine=\"{e}\"}} {}", of(l));
        }
    }
    let embedders: Vec<_> = lanes
        .iter()
        .zip(engines)
        .filter_map(|(l, e)| Some((l.embeddings?, e)))
        .collect();
    if !embedders.is_empty() {
        family(
            out,
            "llm_locust_embedded_inputs_per_second",
            "gauge",
            "An embeddings engine's inputs embedded per second of its active time.",
        );
        for (m, e) in embedders {
            let _ = writeln!(
                out,
                "llm_locust_embedded_inputs_per_second{{engine=\"{e}\"}} {}",
                m.inputs_per_s
            );
        }
    }
}

/// The load generator's own health.
fn client(out: &mut String, s: &RaceSnapshot) {
    family(
        out,
        "llm_locust_client_loop_lag_seconds",
        "gauge",
        "The client's event-loop lag in its latest second (p90 of a 10 ms timer's lateness).",
    );
    let lag = s.client.last.map_or(Duration::ZERO, |c| c.loop_lag);
    let _ = writeln!(out, "llm_locust_client_loop_lag_seconds {}", seconds(lag));
    family(
        out,
        "llm_locust_client_saturated",
        "gauge",
        "1 when the load generator could not keep up (the numbers may be its own).",
    );
    let _ = writeln!(
        out,
        "llm_locust_client_saturated {}",
        u8::from(s.client.saturated)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_has_its_counters_and_summaries_in_valid_lines() {
        let mut snap = crate::ui::test_support::failing_fixture();
        snap.lanes[0].name = "a \"quoted\" \\ name".to_owned();
        snap.lanes[1].counts.errors.insert(ErrorKind::Http429, 7);
        let text = exposition(&snap);
        assert!(text.contains(
            "llm_locust_requests_total{engine=\"a \\\"quoted\\\" \\\\ name\",outcome=\"ok\"} 400"
        ));
        assert!(text.contains("llm_locust_errors_total{engine=\"tgi\",kind=\"http_429\"} 7"));
        assert!(text.contains("llm_locust_ttft_seconds{engine=\"tgi\",quantile=\"0.99\"} 12.6"));
        assert!(text.contains("llm_locust_ttft_seconds_count{engine=\"tgi\"} 12"));
        // Every sample line is `name{labels} value` or `name value`, value a number.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').expect("a value");
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(name.starts_with("llm_locust_"), "{line}");
        }
        // Each family is declared once, before its samples.
        assert_eq!(
            text.matches("# TYPE llm_locust_ttft_seconds summary")
                .count(),
            1
        );
    }

    #[test]
    fn a_scraped_servers_figures_are_exported_by_engine_and_only_those() {
        use crate::metrics::server::{ServerFold, ServerSample};
        let mut snap = crate::ui::test_support::failing_fixture();
        let mut fold = ServerFold::default();
        fold.observe(
            Duration::from_secs(1),
            Ok(&ServerSample {
                running: Some(8.0),
                waiting: Some(12.0),
                kv_use: Some(0.93),
                ..ServerSample::default()
            }),
        );
        snap.lanes[1].server = fold.snapshot(0, 0);
        let text = exposition(&snap);
        assert!(
            text.contains("llm_locust_server_running{engine=\"tgi\"} 8"),
            "{text}"
        );
        assert!(text.contains("llm_locust_server_waiting{engine=\"tgi\"} 12"));
        assert!(text.contains("llm_locust_server_kv_cache_usage_ratio{engine=\"tgi\"} 0.93"));
        assert_eq!(text.matches("llm_locust_server_running{").count(), 1);
        assert!(
            !text.contains("llm_locust_server_prefix_cache_hit_ratio"),
            "not published"
        );
    }
}
