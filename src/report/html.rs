//! `report.html`: one self-contained page (styles, scripts and data inline;
//! nothing is fetched when it is viewed) with the race's results after the
//! original's dashboard: verdict and leaderboard, comparison, latency,
//! throughput, reliability, tokens, cost and the configuration. Tables are
//! written here; charts are drawn in the browser by uPlot (vendored in
//! `assets/`, see docs/ARCHITECTURE.md) from the summary's numbers. Nothing
//! is computed here but a bar's length.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::html_escape::escape;
use super::summary::{
    EngineSummary, FEW_SAMPLES_NOTE, LATENCIES, LatencyOf, PROMPT_CACHE_COLUMNS, Percentiles,
    SummaryFile, engines_with,
};
use crate::config::RaceSpec;
use crate::config::color::{EngineColor, NamedColor};
use crate::metrics::ErrorKind;
use crate::metrics::commentary::Tone;
use crate::metrics::snapshot::{NOT_COMPARABLE, TIE_NOTE};

const UPLOT_JS: &str = include_str!("assets/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("assets/uPlot.min.css");
const REPORT_JS: &str = include_str!("assets/report.js");
const REPORT_CSS: &str = include_str!("assets/report.css");

/// Nothing may be fetched: inline styles and scripts only. The first
/// script counts any attempt, so a test can tell the page asked for nothing.
const HEAD: &str = r#"<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<script>document.addEventListener("securitypolicyviolation", function () { var b = document.body; if (b) { b.dataset.blocked = String(Number(b.dataset.blocked || 0) + 1); } });</script>"#;

/// The page for `summary`, with the race's configuration from `spec`.
#[must_use]
pub fn report(summary: &SummaryFile, spec: &RaceSpec) -> String {
    let colors: Vec<String> = summary
        .engines
        .iter()
        .map(|e| {
            spec.engines
                .iter()
                .find(|s| s.name == e.name)
                .map_or_else(|| "#8b949e".to_owned(), |s| css_color(s.color))
        })
        .collect();
    let mut body = String::new();
    header(&mut body, summary);
    leaderboard(&mut body, summary, &colors);
    comparison(&mut body, summary, &colors);
    latency(&mut body, summary);
    pairs(&mut body, summary);
    throughput(&mut body, generates(summary));
    reliability(&mut body, summary);
    commentary(&mut body, summary);
    tokens(&mut body, summary);
    cost(&mut body, summary);
    configuration(&mut body, spec);
    let data = chart_data(summary, &colors);
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n{HEAD}\n<title>{title} · llm-locust</title>\n<style>{UPLOT_CSS}\n{REPORT_CSS}</style>\n</head>\n<body>\n<main>\n{body}</main>\n<script type=\"application/json\" id=\"race-data\">{data}</script>\n<script>{UPLOT_JS}</script>\n<script>{REPORT_JS}</script>\n</body>\n</html>\n",
        title = escape(&summary.race),
    )
}

/// The numbers the charts draw: the summary, with each engine's series as
/// columns (a tenth of the size of a list of points) and its colour.
fn chart_data(summary: &SummaryFile, colors: &[String]) -> String {
    let mut value = serde_json::to_value(summary).unwrap_or(Value::Null);
    if let Some(engines) = value.get_mut("engines").and_then(Value::as_array_mut) {
        for ((engine, e), color) in engines.iter_mut().zip(&summary.engines).zip(colors) {
            if let Some(obj) = engine.as_object_mut() {
                obj.remove("series");
                obj.insert("columns".to_owned(), columns(e));
                obj.insert("color".to_owned(), Value::String(color.clone()));
            }
        }
    }
    if let Some(obj) = value.as_object_mut() {
        let kinds: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        obj.insert("error_kinds".to_owned(), json!(kinds));
    }
    // Inside a <script>, "</script" would end it early. '<' only occurs
    // inside JSON strings, where "\u003c" means the same.
    value.to_string().replace('<', "\\u003c")
}

fn columns(e: &EngineSummary) -> Value {
    let col = |f: &dyn Fn(&crate::metrics::series::SeriesPoint) -> Value| -> Value {
        Value::Array(e.series.iter().map(f).collect())
    };
    let mut errors = Map::new();
    for (i, kind) in ErrorKind::ALL.iter().enumerate() {
        if e.series.iter().any(|p| p.failed_by_kind[i] > 0) {
            errors.insert(kind.name().to_owned(), col(&|p| json!(p.failed_by_kind[i])));
        }
    }
    let round = |v: f64| json!((v * 1000.0).round() / 1000.0);
    json!({
        "t_s": col(&|p| json!(p.t_s)),
        "requests_ok": col(&|p| json!(p.requests_ok)),
        "requests_failed": col(&|p| json!(p.requests_failed)),
        "output_tokens": col(&|p| json!(p.output_tokens)),
        "ttft_mean_ms": col(&|p| round(p.ttft_mean_ms)),
        "tpot_mean_ms": col(&|p| round(p.tpot_mean_ms)),
        "e2e_mean_ms": col(&|p| round(p.e2e_mean_ms)),
        "ttft_p50_ms": col(&|p| round(p.ttft_p50_ms)),
        "ttft_p99_ms": col(&|p| round(p.ttft_p99_ms)),
        "tpot_p50_ms": col(&|p| round(p.tpot_p50_ms)),
        "tpot_p99_ms": col(&|p| round(p.tpot_p99_ms)),
        "errors": errors,
    })
}

/// Engine colours, made readable on the page's dark background.
fn css_color(c: EngineColor) -> String {
    match c {
        EngineColor::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        EngineColor::Named(n) => match n {
            NamedColor::Black | NamedColor::DarkGray => "#8b949e",
            NamedColor::Red => "#f85149",
            NamedColor::Green => "#3fb950",
            NamedColor::Yellow => "#d29922",
            NamedColor::Blue => "#388bfd",
            NamedColor::Magenta => "#db61a2",
            NamedColor::Cyan => "#39c5cf",
            NamedColor::Gray => "#b1bac4",
            NamedColor::LightRed => "#ffa198",
            NamedColor::LightGreen => "#7ee787",
            NamedColor::LightYellow => "#f2cc60",
            NamedColor::LightBlue => "#79c0ff",
            NamedColor::LightMagenta => "#f778ba",
            NamedColor::LightCyan => "#a5f3fc",
            NamedColor::White => "#f0f6fc",
        }
        .to_owned(),
    }
}

fn header(out: &mut String, s: &SummaryFile) {
    let _ = writeln!(out, "<h1>🏁 {}</h1>", escape(&s.race));
    let with_slo = s.engines.iter().any(|e| !e.slo.is_empty());
    let (class, text) = match (with_slo, s.slo_pass) {
        (false, _) => ("none", "No SLO was set".to_owned()),
        (true, true) => ("pass", "✅ Every SLO held".to_owned()),
        (true, false) => {
            let failed: Vec<String> = s
                .engines
                .iter()
                .filter(|e| !e.slo_pass)
                .map(|e| escape(&e.name))
                .collect();
            ("fail", format!("❌ SLO failed for {}", failed.join(", ")))
        }
    };
    let _ = writeln!(out, "<div class=\"verdict {class}\">{text}</div>");
    let mut facts = vec![
        format!("{:.1} s", s.duration_s),
        format!("load {}", escape(&s.load_mode)),
        format!("started {}", escape(&s.started_at)),
        format!("{} engines", s.engines.len()),
    ];
    if let Some(w) = &s.workload {
        facts.push(format!("dataset {}", escape(&w.dataset)));
    }
    facts.push(escape(&s.tool));
    let _ = writeln!(out, "<p class=\"facts\">{}</p>", facts.join(" · "));
    if let Some(shards) = &s.shards {
        let class = if shards.partial { "warn" } else { "facts" };
        let _ = writeln!(
            out,
            "<p class=\"{class}\">{}{}</p>",
            escape(&shards.label),
            if shards.partial {
                ": the missing shards' load is not in these figures"
            } else {
                ""
            }
        );
    }
    if s.simulated {
        out.push_str("<p class=\"warn\">Simulated: every engine's server was llm-locust's built-in simulator, so these are the simulator's numbers, not the engines'.</p>\n");
    }
    if s.client_saturated {
        let _ = writeln!(
            out,
            "<p class=\"warn\">The load generator was saturated ({}): the numbers may be the client's, not the servers'.</p>",
            escape(s.client.reason.as_deref().unwrap_or("no reason recorded"))
        );
    }
    out.push_str("<nav><a href=\"#leaderboard\">Leaderboard</a><a href=\"#comparison\">Comparison</a><a href=\"#latency\">Latency</a><a href=\"#throughput\">Throughput</a><a href=\"#reliability\">Reliability</a><a href=\"#tokens\">Tokens</a><a href=\"#cost\">Cost</a><a href=\"#configuration\">Configuration</a></nav>\n");
}

fn swatch(color: &str) -> String {
    format!("<span class=\"swatch\" style=\"background:{color}\"></span>")
}

fn ms(p: &Percentiles, v: f64) -> String {
    if p.count == 0 {
        "–".to_owned()
    } else {
        format!("{v:.1}")
    }
}

fn leaderboard(out: &mut String, s: &SummaryFile, colors: &[String]) {
    let priced = s.engines.iter().any(|e| e.cost.is_some());
    let embeds = s.engines.iter().any(|e| e.embeddings.is_some());
    out.push_str("<h2 id=\"leaderboard\">Leaderboard</h2>\n<div class=\"scroll\"><table>\n<tr><th>#</th><th class=\"text\">engine</th><th class=\"text\">model</th><th>ok</th><th>failed</th><th>req/s</th><th>output tok/s</th>");
    if embeds {
        out.push_str("<th>inputs/s</th><th>input tok/s</th>");
    }
    out.push_str(
        "<th>goodput req/s</th><th>TTFT p50 ms</th><th>TTFT p99 ms</th><th>TPOT p50 ms</th>",
    );
    if embeds {
        out.push_str("<th>E2E p50 ms</th>");
    }
    out.push_str("<th>E2E p99 ms</th>");
    if priced {
        out.push_str("<th>$/1M output</th><th>cheapest</th>");
    }
    out.push_str("<th>SLO</th></tr>\n");
    for (e, color) in s.engines.iter().zip(colors) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"text\">{}{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td>",
            e.place_shown(),
            swatch(color),
            escape(&e.name),
            escape(&e.model),
            e.counts.ok,
            e.counts.failed,
            e.rates.requests_per_s,
            // An embeddings engine generates nothing: a dash, not a zero.
            match e.embeddings {
                Some(_) => "–".to_owned(),
                None => format!("{:.1}", e.rates.output_tokens_per_s),
            },
        );
        if embeds {
            let _ = write!(
                out,
                "<td>{}</td><td>{}</td>",
                e.embeddings
                    .map_or_else(|| "–".to_owned(), |m| format!("{:.1}", m.inputs_per_s)),
                e.embeddings.map_or_else(
                    || "–".to_owned(),
                    |m| format!("{:.1}", m.input_tokens_per_s)
                ),
            );
        }
        let _ = write!(
            out,
            "<td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td>",
            e.rates.goodput_rps,
            ms(&e.latencies.ttft, e.latencies.ttft.p50),
            ms(&e.latencies.ttft, e.latencies.ttft.p99),
            ms(&e.latencies.tpot, e.latencies.tpot.p50),
        );
        if embeds {
            let _ = write!(
                out,
                "<td>{}</td>",
                ms(&e.latencies.e2e, e.latencies.e2e.p50)
            );
        }
        let _ = write!(
            out,
            "<td>{}</td>",
            ms(&e.latencies.e2e, e.latencies.e2e.p99)
        );
        if priced {
            let c = e.cost.as_ref();
            let _ = write!(
                out,
                "<td>{}</td><td>{}</td>",
                c.and_then(|c| c.per_1m_output_tokens)
                    .map_or_else(|| "–".to_owned(), |v| format!("${v:.2}")),
                c.and_then(|c| c.cheapest)
                    .map_or_else(|| "–".to_owned(), |r| r.to_string())
            );
        }
        let _ = writeln!(out, "<td>{}</td></tr>", slo_cell(e));
    }
    out.push_str("</table></div>\n<p class=\"note\">Goodput: requests that met every latency SLO, per second of the engine's active time. Definitions: docs/METRICS.md.</p>\n");
    if s.engines.iter().any(|e| e.too_close_to_call) {
        let _ = writeln!(out, "<p class=\"note\">{TIE_NOTE}.</p>");
    }
    if embeds {
        out.push_str("<p class=\"note\">An embeddings engine's latency is E2E and its throughput its inputs a second; TTFT, TPOT and output tokens do not apply.</p>\n");
        if s.engines.iter().any(|e| e.embeddings.is_none()) {
            let _ = writeln!(out, "<p class=\"warn\">Note: {NOT_COMPARABLE}.</p>");
        }
    }
}

/// An engine's SLO verdict: pass, or the objectives it failed.
fn slo_cell(e: &EngineSummary) -> String {
    if e.slo.is_empty() {
        return "–".to_owned();
    }
    let failed: Vec<String> = e
        .slo
        .iter()
        .filter(|c| !c.pass)
        .map(|c| {
            let few = if c.few_samples { " (few samples)" } else { "" };
            format!("{}{few}", c.kind.name())
        })
        .collect();
    let few = e.slo.iter().any(|c| c.pass && c.few_samples);
    match (failed.is_empty(), few) {
        (true, false) => "<span class=\"good\">pass</span>".to_owned(),
        (true, true) => "<span class=\"good\">pass</span> (few samples for a p99)".to_owned(),
        (false, _) => format!("<span class=\"bad\">FAIL {}</span>", failed.join(", ")),
    }
}

/// Normalised bars: each engine's figure against the best of the race.
fn comparison(out: &mut String, s: &SummaryFile, colors: &[String]) {
    type Figure = fn(&EngineSummary) -> Option<f64>;
    let figures: [(&str, &str, bool, Figure); 10] = [
        ("output tokens / s", "", true, |e| {
            e.embeddings
                .is_none()
                .then_some(e.rates.output_tokens_per_s)
        }),
        ("inputs embedded / s", "", true, |e| {
            e.embeddings.map(|m| m.inputs_per_s)
        }),
        ("requests / s", "", true, |e| Some(e.rates.requests_per_s)),
        ("goodput requests / s", "", true, |e| {
            Some(e.rates.goodput_rps)
        }),
        ("success rate", "%", true, |e| {
            Some(e.rates.success_rate * 100.0)
        }),
        ("TTFT p50", " ms", false, |e| {
            pct(&e.latencies.ttft, e.latencies.ttft.p50)
        }),
        ("TTFT p99", " ms", false, |e| {
            pct(&e.latencies.ttft, e.latencies.ttft.p99)
        }),
        ("TPOT p50", " ms", false, |e| {
            pct(&e.latencies.tpot, e.latencies.tpot.p50)
        }),
        ("E2E p99", " ms", false, |e| {
            pct(&e.latencies.e2e, e.latencies.e2e.p99)
        }),
        ("cost per 1M output tokens", "$", false, |e| {
            e.cost.as_ref().and_then(|c| c.per_1m_output_tokens)
        }),
    ];
    out.push_str("<h2 id=\"comparison\">Comparison</h2>\n<p class=\"note\">Each bar is the engine's figure as a share of the largest in the race.</p>\n<div class=\"compare\">\n");
    for (title, unit, higher_better, figure) in figures {
        let values: Vec<Option<f64>> = s.engines.iter().map(figure).collect();
        let max = values.iter().flatten().copied().fold(0.0, f64::max);
        if max <= 0.0 {
            continue;
        }
        let _ = writeln!(
            out,
            "<div><h3>{title} <span class=\"note\">({} is better)</span></h3>\n<div class=\"bars\">",
            if higher_better { "longer" } else { "shorter" }
        );
        for ((e, v), color) in s.engines.iter().zip(&values).zip(colors) {
            let (share, label) = match v {
                Some(v) if unit == "$" => (v / max * 100.0, format!("${v:.2}")),
                Some(v) => (v / max * 100.0, format!("{v:.2}{unit}")),
                None => (0.0, "–".to_owned()),
            };
            let _ = writeln!(
                out,
                "<span>{}{}</span><div class=\"bar\" style=\"width:{share:.1}%;background:{color}\"></div><span class=\"value\">{label}</span>",
                swatch(color),
                escape(&e.name)
            );
        }
        out.push_str("</div></div>\n");
    }
    out.push_str("</div>\n");
}

fn pct(p: &Percentiles, v: f64) -> Option<f64> {
    (p.count > 0).then_some(v)
}

/// Lane against lane: each pair's median ratios with their intervals.
fn pairs(out: &mut String, s: &SummaryFile) {
    if s.pairs.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"pairs\">Lane against lane</h2>\n<div class=\"scroll\"><table>\n<tr><th class=\"text\">engine</th><th class=\"text\">against</th><th>requests</th><th>TTFT ratio</th><th>E2E ratio</th></tr>\n");
    for p in &s.pairs {
        let shown = |r: &Option<super::summary::RatioSummary>| {
            r.as_ref().map_or_else(|| "–".to_owned(), |r| r.shown())
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"text\">{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&p.a),
            escape(&p.b),
            p.e2e.as_ref().map_or(0, |r| r.pairs),
            shown(&p.ttft),
            shown(&p.e2e)
        );
    }
    out.push_str("</table></div>\n<p class=\"note\">The median of the engine's time over the other's, request by request (the same prompt), with its 95 % interval: below 1 it was faster; an interval across 1 is too close to call.</p>\n");
}

fn percentile_table(out: &mut String, engines: &[&EngineSummary], of: LatencyOf) {
    out.push_str("<div class=\"scroll\"><table>\n<tr><th class=\"text\">engine</th><th>count</th><th>mean</th><th>min</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th><th>p50 95% CI</th><th>p99 95% CI</th></tr>\n");
    for e in engines {
        let p = of(e);
        let _ = write!(
            out,
            "<tr><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td>",
            escape(&e.name),
            p.count,
            ms(p, p.mean),
            ms(p, p.min)
        );
        for (name, v) in p.named() {
            let _ = write!(out, "<td>{}</td>", p.shown(name, v));
        }
        let _ = write!(
            out,
            "<td>{}</td><td>{}</td><td>{}</td>",
            ms(p, p.max),
            p.interval("p50"),
            p.interval("p99")
        );
        out.push_str("</tr>\n");
    }
    let _ = writeln!(
        out,
        "</table></div>\n<p class=\"note\">{FEW_SAMPLES_NOTE}.</p>"
    );
}

fn chart(out: &mut String, id: &str) {
    let _ = writeln!(out, "<div class=\"chart\" id=\"{id}\"></div>");
}

fn latency(out: &mut String, s: &SummaryFile) {
    out.push_str("<h2 id=\"latency\">Latency</h2>\n");
    for (id, title, of) in LATENCIES {
        let engines = engines_with(s, id);
        if engines.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<h3>{title} (ms)</h3>");
        percentile_table(out, &engines, of);
        chart(out, &format!("chart-{id}-dist"));
    }
    if generates(s) {
        out.push_str("<h3>Over time (each second's requests: TTFT and TPOT p50 solid, p99 dashed; E2E mean)</h3>\n");
        for id in ["ttft", "tpot"] {
            chart(out, &format!("chart-{id}-time"));
        }
    } else {
        out.push_str("<h3>Over time (each second's requests: E2E mean)</h3>\n");
    }
    chart(out, "chart-e2e-time");
    let scraped = s
        .engines
        .iter()
        .any(|e| e.server.as_ref().is_some_and(|sv| !sv.series.is_empty()));
    if scraped {
        out.push_str("<h3>Inside the servers (from their /metrics): requests waiting, and KV-cache use</h3>\n");
        chart(out, "chart-server-waiting");
        chart(out, "chart-server-kv");
    }
}

/// Whether an engine of the race generates (not all embed): the figures of
/// generated tokens have something to show.
fn generates(s: &SummaryFile) -> bool {
    s.engines.iter().any(|e| e.embeddings.is_none())
}

fn throughput(out: &mut String, generates: bool) {
    out.push_str("<h2 id=\"throughput\">Throughput over time</h2>\n");
    if generates {
        chart(out, "chart-tokens-time");
    }
    chart(out, "chart-requests-time");
}

fn reliability(out: &mut String, s: &SummaryFile) {
    out.push_str("<h2 id=\"reliability\">Reliability</h2>\n<div class=\"scroll\"><table>\n<tr><th class=\"text\">engine</th><th>ok</th><th>failed</th><th>success rate</th><th>HTTP 429</th><th>Retry-After waits</th><th>backoff s</th><th>dropped arrivals</th><th>late arrivals</th><th>unsent</th><th class=\"text\">failures by kind</th></tr>\n");
    for e in &s.engines {
        let kinds: Vec<String> = e
            .counts
            .errors
            .iter()
            .map(|(k, n)| format!("{} {n}", escape(k)))
            .collect();
        let _ = writeln!(
            out,
            "<tr><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>",
            escape(&e.name),
            e.counts.ok,
            e.counts.failed,
            e.rates.success_rate * 100.0,
            e.counts
                .errors
                .get(ErrorKind::Http429.name())
                .copied()
                .unwrap_or(0),
            e.waits.retry_afters,
            e.waits.time.as_secs_f64(),
            e.arrivals.dropped,
            e.arrivals.late,
            e.arrivals.unsent,
            if kinds.is_empty() {
                "–".to_owned()
            } else {
                kinds.join(", ")
            }
        );
    }
    out.push_str("</table></div>\n");
    connections(out, s);
    prompt_cache(out, s);
    breakdown(out, s);
    chart(out, "chart-failed-time");
    if s.engines.iter().any(|e| !e.counts.errors.is_empty()) {
        chart(out, "chart-errors-time");
    }
    if s.engines.iter().any(|e| !e.error_samples.is_empty()) {
        out.push_str("<h3>Error messages</h3>\n<div class=\"scroll\"><table>\n<tr><th class=\"text\">engine</th><th>count</th><th class=\"text\">kind</th><th class=\"text\">message</th></tr>\n");
        for e in &s.engines {
            for x in &e.error_samples {
                let _ = writeln!(
                    out,
                    "<tr><td class=\"text\">{}</td><td>{}</td><td class=\"text\">{}</td><td class=\"message\">{}</td></tr>",
                    escape(&e.name),
                    x.count,
                    escape(&x.kind),
                    escape(&x.message)
                );
            }
        }
        out.push_str("</table></div>\n");
    }
    if s.engines.iter().any(|e| e.sweep.is_some()) {
        out.push_str("<h3>Stress test: output tokens per second at each load level</h3>\n");
        chart(out, "chart-sweep");
    }
}

/// Connections the servers closed under requests (only when one did).
fn connections(out: &mut String, s: &SummaryFile) {
    if !s.engines.iter().any(EngineSummary::reconnected) {
        return;
    }
    out.push_str("<h3>Connections</h3>\n<p class=\"note\">A request whose reused connection the server closed before answering was sent again, once, on a fresh connection (timed from its first send); not a failure.</p>\n<div class=\"scroll\"><table>\n<tr><th class=\"text\">engine</th><th>opened</th><th>retried after a close</th><th class=\"text\">reused</th></tr>\n");
    for e in &s.engines {
        let _ = writeln!(
            out,
            "<tr><td class=\"text\">{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>",
            escape(&e.name),
            e.connections.opened,
            e.connections.retries,
            e.connections.reuse.in_words()
        );
    }
    out.push_str("</table></div>\n");
}

/// Conversations, and latencies by turn and prompt length.
fn breakdown(out: &mut String, s: &SummaryFile) {
    let server = super::server::table(s);
    for t in super::breakdown::tables(s).into_iter().chain(server) {
        let _ = write!(
            out,
            "<h3>{}</h3>\n<p class=\"note\">{}</p>\n<div class=\"scroll\"><table>\n<tr>",
            escape(t.title),
            escape(&t.note)
        );
        for (i, h) in t.header.iter().enumerate() {
            let class = if i == 0 { " class=\"text\"" } else { "" };
            let _ = write!(out, "<th{class}>{}</th>", escape(h));
        }
        out.push_str("</tr>\n");
        for row in &t.rows {
            out.push_str("<tr>");
            for (i, c) in row.iter().enumerate() {
                let class = if i == 0 { " class=\"text\"" } else { "" };
                let _ = write!(out, "<td{class}>{}</td>", escape(c));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table></div>\n");
    }
}

/// What the servers' prefix caches served (only when one reported it).
fn prompt_cache(out: &mut String, s: &SummaryFile) {
    if s.engines.iter().all(|e| e.prompt_cache.is_none()) {
        return;
    }
    out.push_str("<h3>Prompt cache</h3>\n<p class=\"note\">As the servers' usage reports say it (<code>cached_tokens</code>): the share of prompt tokens served from the prefix cache, and TTFT of requests with a hit and without.</p>\n<div class=\"scroll\"><table>\n<tr><th class=\"text\">engine</th>");
    for column in PROMPT_CACHE_COLUMNS {
        let _ = write!(out, "<th>{}</th>", escape(column));
    }
    out.push_str("</tr>\n");
    for e in &s.engines {
        let _ = write!(out, "<tr><td class=\"text\">{}</td>", escape(&e.name));
        match e.prompt_cache_cells() {
            Some(cells) => {
                for c in cells {
                    let _ = write!(out, "<td>{}</td>", escape(&c));
                }
            }
            None => {
                let _ = write!(
                    out,
                    "<td class=\"text\" colspan=\"{}\">not reported</td>",
                    PROMPT_CACHE_COLUMNS.len()
                );
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></div>\n");
}

/// The race's commentary, as the TUI showed it.
fn commentary(out: &mut String, s: &SummaryFile) {
    if s.commentary.is_empty() {
        return;
    }
    out.push_str("<h3>Commentary</h3>\n<div class=\"scroll\"><table>\n<tr><th>at</th><th class=\"text\">engine</th><th class=\"text\">what happened</th></tr>\n");
    for line in &s.commentary {
        let class = match line.kind.tone() {
            Tone::Bad => " bad",
            Tone::Good => " good",
            Tone::Warning | Tone::Neutral => "",
        };
        let _ = writeln!(
            out,
            "<tr><td>{:.0} s</td><td class=\"text\">{}</td><td class=\"text{class}\">{}</td></tr>",
            line.at_s,
            escape(line.engine.as_deref().unwrap_or("–")),
            escape(&line.text)
        );
    }
    out.push_str("</table></div>\n");
}

fn tokens(out: &mut String, s: &SummaryFile) {
    out.push_str("<h2 id=\"tokens\">Tokens</h2>\n<div class=\"scroll\"><table>\n<tr><th class=\"text\">engine</th><th>input tokens</th><th>output tokens</th><th class=\"text\">input counted by</th><th class=\"text\">output counted by</th></tr>\n");
    for e in &s.engines {
        let _ = writeln!(
            out,
            "<tr><td class=\"text\">{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td></tr>",
            escape(&e.name),
            e.counts.input_tokens,
            e.counts.output_tokens,
            escape(e.counts.input_token_source.as_deref().unwrap_or("–")),
            escape(e.counts.token_source.as_deref().unwrap_or("–")),
        );
    }
    out.push_str("</table></div>\n<p class=\"note\">Counted by: usage (the server's own count), tokenizer (the engine's tokenizer over the text), estimate (characters ÷ 4), chunks (one per streamed piece), mixed.</p>\n");
    chart(out, "chart-input-dist");
    if generates(s) {
        chart(out, "chart-output-dist");
    }
}

fn cost(out: &mut String, s: &SummaryFile) {
    out.push_str("<h2 id=\"cost\">Cost</h2>\n");
    if s.engines.iter().all(|e| e.cost.is_none()) {
        out.push_str("<p class=\"note\">No engine has a price: give it <code>cost_per_hour</code> (a machine you run) or <code>price: {input_per_1m, output_per_1m}</code> (an API's price list).</p>\n");
        return;
    }
    out.push_str("<div class=\"scroll\"><table>\n<tr><th class=\"text\">engine</th><th class=\"text\">price</th><th>per hour</th><th>spend</th><th>per 1M output tokens</th><th>per 1M tokens</th><th>per request</th><th>cheapest</th></tr>\n");
    let money = |v: Option<f64>, places: usize| {
        v.map_or_else(|| "–".to_owned(), |v| format!("${v:.places$}"))
    };
    for e in &s.engines {
        let Some(c) = &e.cost else {
            let _ = writeln!(
                out,
                "<tr><td class=\"text\">{}</td><td class=\"text\">not priced</td></tr>",
                escape(&e.name)
            );
            continue;
        };
        let price = match (c.input_per_1m, c.output_per_1m) {
            (Some(i), Some(o)) => format!("${i:.2} in + ${o:.2} out per 1M tokens"),
            _ => "by the hour".to_owned(),
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"text\">{}</td><td class=\"text\">{price}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&e.name),
            money(c.per_hour, 2),
            money(Some(c.spend), 4),
            money(c.per_1m_output_tokens, 2),
            money(c.per_1m_total_tokens, 2),
            money(c.per_request, 6),
            c.cheapest.map_or_else(|| "–".to_owned(), |r| r.to_string()),
        );
    }
    out.push_str("</table></div>\n");
}

fn configuration(out: &mut String, spec: &RaceSpec) {
    // The race file's stored form: secrets (keys, credential headers, URL
    // passwords) are already removed from it.
    let stored: Value =
        serde_json::from_str(&crate::racefile::config::to_json(spec)).unwrap_or(Value::Null);
    let yaml = serde_yaml::to_string(&stored).unwrap_or_default();
    let _ = writeln!(
        out,
        "<h2 id=\"configuration\">Configuration</h2>\n<p class=\"facts\">{}</p>\n<pre>{}</pre>",
        escape(&spec.describe()),
        escape(&yaml)
    );
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::metrics::histogram::{CountHistogram, LatencyHistogram};
    use crate::ui::test_support::{binned, series, snapshot_fixture};

    fn spec(engines: &[String]) -> RaceSpec {
        let mut yaml = String::from("race:\n  name: t\n  engines:\n");
        for name in engines {
            yaml.push_str(&format!("    - name: \"{name}\"\n      simulate: {{}}\n"));
        }
        crate::config::validate::validate(&yaml, std::path::Path::new("."))
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// A finished race of `lanes` engines over `seconds`, with series and
    /// distributions as full as a real one's.
    fn race(lanes: usize, seconds: u32) -> (SummaryFile, RaceSpec) {
        let mut snap = snapshot_fixture(lanes);
        for (i, lane) in snap.lanes.iter_mut().enumerate() {
            lane.series = series(i, seconds, false);
            let (mut latency, mut counts) = (LatencyHistogram::new(), CountHistogram::default());
            for n in 1..5000u64 {
                latency.record(std::time::Duration::from_micros(n * 997 % 3_000_000));
                counts.record(u32::try_from(n % 2000).unwrap_or(0));
            }
            lane.distributions = Some(binned(&latency, &counts));
        }
        let names: Vec<String> = snap.lanes.iter().map(|l| l.name.clone()).collect();
        (
            SummaryFile::new(&snap, SystemTime::UNIX_EPOCH),
            spec(&names),
        )
    }

    #[test]
    fn a_ten_minute_three_engine_race_is_under_a_megabyte() {
        let (summary, spec) = race(3, 600);
        let page = report(&summary, &spec);
        assert!(page.len() < 1_000_000, "{} bytes", page.len());
        // Ten engines stay within reach too, every one named.
        let (summary, spec) = race(10, 600);
        let page = report(&summary, &spec);
        assert!(page.len() < 2_000_000, "{} bytes", page.len());
        for e in &summary.engines {
            assert!(page.contains(&format!("{}</td>", e.name)), "{}", e.name);
        }
    }

    #[test]
    fn every_chart_has_a_place_and_nothing_is_fetched() {
        let (summary, spec) = race(3, 30);
        let page = report(&summary, &spec);
        for id in [
            "chart-ttft-dist",
            "chart-ttfot-dist",
            "chart-tpot-dist",
            "chart-itl-dist",
            "chart-e2e-dist",
            "chart-ttft-time",
            "chart-tpot-time",
            "chart-e2e-time",
            "chart-tokens-time",
            "chart-requests-time",
            "chart-failed-time",
            "chart-input-dist",
            "chart-output-dist",
        ] {
            assert!(page.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert!(page.contains("default-src 'none'"));
        for fetch in ["src=\"http", "href=\"http", "url(http", "@import"] {
            assert!(!page.contains(fetch), "{fetch}");
        }
    }

    #[test]
    fn the_commentary_is_a_table_of_its_lines() {
        use crate::report::summary::CommentarySummary;
        let (mut summary, spec) = race(2, 5);
        summary.commentary.push(CommentarySummary {
            at_s: 12.0,
            engine: None,
            kind: crate::metrics::CommentaryKind::LeadChange,
            text: "<b>a</b> takes the lead".to_owned(),
        });
        let page = report(&summary, &spec);
        assert!(page.contains("<h3>Commentary</h3>"));
        assert!(page.contains("<td>12 s</td><td class=\"text\">–</td><td class=\"text\">&lt;b&gt;a&lt;/b&gt; takes the lead</td>"));
    }

    #[test]
    fn connections_the_servers_closed_get_a_table_only_when_one_did() {
        let (mut summary, spec) = race(2, 5);
        assert!(!report(&summary, &spec).contains("<h3>Connections</h3>"));
        summary.engines[1].connections.retries = 5;
        summary.engines[1].connections.reuse = crate::metrics::ConnectionReuse::Stopped;
        let page = report(&summary, &spec);
        assert!(page.contains("<h3>Connections</h3>"));
        assert!(page.contains("<td>5</td><td class=\"text\">stopped: the server closes them after each stream</td>"), "{page}");
    }

    #[test]
    fn the_prompt_cache_gets_a_table_only_when_a_server_reported_it() {
        use crate::metrics::prompt_cache::PromptCache;
        let (mut summary, spec) = race(2, 5);
        assert!(!report(&summary, &spec).contains("<h3>Prompt cache</h3>"));
        let p50 = |count: u64, ms: f64| Percentiles {
            count,
            mean: ms,
            min: ms,
            p50: ms,
            p90: ms,
            p95: ms,
            p99: ms,
            p999: ms,
            max: ms,
            ci95: std::collections::BTreeMap::new(),
            few_samples: Vec::new(),
        };
        summary.engines[1].prompt_cache = Some(PromptCache {
            reported_requests: 10,
            hit_requests: 0,
            prompt_tokens: 1000,
            cached_tokens: 0,
            hit_rate: 0.0,
            ttft_hit: p50(0, 0.0),
            ttft_miss: p50(10, 120.0),
        });
        let page = report(&summary, &spec);
        assert!(page.contains("<h3>Prompt cache</h3>"));
        assert!(
            page.contains("<td>0.0%</td><td>0 of 10</td><td>0 / 1000</td><td>–</td><td>120</td>"),
            "{page}"
        );
        assert!(page.contains("<td class=\"text\" colspan=\"5\">not reported</td>"));
    }

    #[test]
    fn names_cannot_end_the_data_script_or_inject_markup() {
        let (mut summary, _) = race(2, 5);
        summary.engines[0].name = "</script><img src=x onerror=alert(1)>".to_owned();
        let spec = spec(&["a".to_owned()]);
        let page = report(&summary, &spec);
        assert!(!page.contains("<img"), "markup got through");
        assert_eq!(
            page.matches("</script>").count(),
            4,
            "only the page's own scripts end"
        );
        assert!(
            page.contains("\\u003c/script>\\u003cimg src=x"),
            "the data keeps the name"
        );
    }
}
