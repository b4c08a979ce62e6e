//! `report.md`: the race's results as GitHub-flavoured Markdown for a pull
//! request comment or a CI step summary. Formats the summary's numbers; it
//! computes none.

use std::fmt::Write as _;

use super::number;
use super::summary::{
    EngineSummary, FEW_SAMPLES_NOTE, LATENCIES, PROMPT_CACHE_COLUMNS, Percentiles, RatioSummary,
    SummaryFile, engines_with,
};
use crate::metrics::snapshot::{NOT_COMPARABLE, TIE_NOTE};

/// Distinct error messages listed per engine.
const ERRORS_SHOWN: usize = 3;

/// The whole report.
#[must_use]
pub fn report(s: &SummaryFile) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## 🏁 {}", cell(&s.race));
    out.push('\n');
    let _ = writeln!(out, "{}", verdict(s));
    out.push('\n');
    let _ = writeln!(out, "{}", facts(s));
    if let Some(shards) = &s.shards {
        out.push('\n');
        if shards.partial {
            let _ = writeln!(
                out,
                "> [!WARNING]\n> {}: the missing shards' load is not in these figures.",
                cell(&shards.label)
            );
        } else {
            let _ = writeln!(out, "_{}_", cell(&shards.label));
        }
    }
    if s.simulated {
        out.push('\n');
        out.push_str(
            "> [!NOTE]\n> Simulated: every engine's server was llm-locust's built-in simulator, \
             so these are the simulator's numbers, not the engines'.\n",
        );
    }
    if s.client_saturated {
        out.push('\n');
        let _ = writeln!(
            out,
            "> [!WARNING]\n> The load generator was saturated ({}): the numbers may be the \
             client's, not the servers'.",
            cell(s.client.reason.as_deref().unwrap_or("no reason recorded"))
        );
    }
    leaderboard(&mut out, s);
    slos(&mut out, s);
    pairs(&mut out, s);
    percentiles(&mut out, s);
    cost(&mut out, s);
    errors(&mut out, s);
    connections(&mut out, s);
    prompt_cache(&mut out, s);
    breakdown(&mut out, s);
    commentary(&mut out, s);
    out
}

/// Conversations, and latencies by turn and prompt length.
fn breakdown(out: &mut String, s: &SummaryFile) {
    let server = super::server::table(s);
    for t in super::breakdown::tables(s).into_iter().chain(server) {
        let _ = write!(out, "\n### {}\n\n{}\n\n", t.title, t.note);
        let header: Vec<&str> = t.header.iter().map(String::as_str).collect();
        table_header(out, &header, 1..header.len());
        for row in &t.rows {
            let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
            table_row(out, &cells);
        }
    }
}

/// What the servers' prefix caches served (only when one reported it).
fn prompt_cache(out: &mut String, s: &SummaryFile) {
    if s.engines.iter().all(|e| e.prompt_cache.is_none()) {
        return;
    }
    out.push_str("\n### Prompt cache\n\n");
    let mut header = vec!["engine"];
    header.extend(PROMPT_CACHE_COLUMNS);
    table_header(out, &header, 1..header.len());
    for e in &s.engines {
        let mut cells = vec![cell(&e.name)];
        match e.prompt_cache_cells() {
            Some(figures) => cells.extend(figures),
            None => cells.extend(["not reported".to_owned()].into_iter().chain(
                std::iter::repeat_n(String::new(), PROMPT_CACHE_COLUMNS.len() - 1),
            )),
        }
        table_row(out, &cells);
    }
}

/// Connections the servers closed under requests (only when one did).
fn connections(out: &mut String, s: &SummaryFile) {
    if !s.engines.iter().any(EngineSummary::reconnected) {
        return;
    }
    out.push_str("\n### Connections\n\n");
    table_header(
        out,
        &["engine", "opened", "retried after a close", "reused"],
        1..3,
    );
    for e in &s.engines {
        table_row(
            out,
            &[
                cell(&e.name),
                e.connections.opened.to_string(),
                e.connections.retries.to_string(),
                e.connections.reuse.in_words().to_owned(),
            ],
        );
    }
}

/// The commentary's lines, as a list (the first `COMMENTARY_SHOWN`).
fn commentary(out: &mut String, s: &SummaryFile) {
    if s.commentary.is_empty() {
        return;
    }
    out.push_str("\n### Commentary\n\n");
    for line in s.commentary.iter().take(COMMENTARY_SHOWN) {
        let _ = writeln!(out, "- {:.0} s: {}", line.at_s, cell(&line.text));
    }
    if s.commentary.len() > COMMENTARY_SHOWN {
        let _ = writeln!(
            out,
            "- … and {} more (report.html lists them all)",
            s.commentary.len() - COMMENTARY_SHOWN
        );
    }
}

/// Commentary lines a PR comment lists.
const COMMENTARY_SHOWN: usize = 20;

/// One line: every SLO held, or which engines failed one.
fn verdict(s: &SummaryFile) -> String {
    let with_slo = s.engines.iter().filter(|e| !e.slo.is_empty()).count();
    if with_slo == 0 {
        return "No SLO was set.".to_owned();
    }
    if s.slo_pass {
        return format!("✅ **Every SLO held** ({with_slo} engines checked).");
    }
    let failed: Vec<String> = s
        .engines
        .iter()
        .filter(|e| !e.slo_pass)
        .map(|e| format!("`{}`", code(&e.name)))
        .collect();
    format!("❌ **SLO failed** for {}.", failed.join(", "))
}

fn facts(s: &SummaryFile) -> String {
    let mut facts = vec![
        format!("{:.1} s", s.duration_s),
        format!("load `{}`", s.load_mode),
        format!("started {}", s.started_at),
    ];
    if let Some(w) = &s.workload {
        facts.push(format!("dataset `{}`", code(&w.dataset)));
    }
    facts.push(cell(&s.tool));
    facts.join(" · ")
}

fn leaderboard(out: &mut String, s: &SummaryFile) {
    let priced = s.engines.iter().any(|e| e.cost.is_some());
    let embeds = s.engines.iter().any(|e| e.embeddings.is_some());
    out.push_str("\n### Leaderboard\n\n");
    let mut header = vec!["#", "engine", "model", "ok", "failed", "req/s", "out tok/s"];
    if embeds {
        header.extend(["inputs/s", "in tok/s"]);
    }
    header.extend(["goodput req/s", "TTFT p50", "TTFT p99", "TPOT p50"]);
    if embeds {
        header.push("E2E p50");
    }
    header.push("E2E p99");
    if priced {
        header.extend(["$/1M out", "cheapest"]);
    }
    header.push("SLO");
    table_header(out, &header, 3..header.len());
    for e in &s.engines {
        let mut row = vec![
            e.place_shown(),
            format!("**{}**", cell(&e.name)),
            format!("`{}`", code(&e.model)),
            e.counts.ok.to_string(),
            e.counts.failed.to_string(),
            format!("{:.2}", e.rates.requests_per_s),
            // An embeddings engine generates nothing: a dash, not a zero.
            match e.embeddings {
                Some(_) => dash(),
                None => format!("{:.1}", e.rates.output_tokens_per_s),
            },
        ];
        if embeds {
            row.extend(match e.embeddings {
                Some(m) => [
                    format!("{:.1}", m.inputs_per_s),
                    format!("{:.1}", m.input_tokens_per_s),
                ],
                None => [dash(), dash()],
            });
        }
        row.extend([
            format!("{:.2}", e.rates.goodput_rps),
            ms(&e.latencies.ttft, e.latencies.ttft.p50),
            ms(&e.latencies.ttft, e.latencies.ttft.p99),
            ms(&e.latencies.tpot, e.latencies.tpot.p50),
        ]);
        if embeds {
            row.push(ms(&e.latencies.e2e, e.latencies.e2e.p50));
        }
        row.push(ms(&e.latencies.e2e, e.latencies.e2e.p99));
        if priced {
            let c = e.cost.as_ref();
            row.push(money(c.and_then(|c| c.per_1m_output_tokens)));
            row.push(
                c.and_then(|c| c.cheapest)
                    .map_or_else(dash, |r| r.to_string()),
            );
        }
        row.push(slo_mark(e));
        table_row(out, &row);
    }
    out.push_str("\nLatencies in ms. Goodput: requests that met every latency SLO, per second.\n");
    if s.engines.iter().any(|e| e.too_close_to_call) {
        let _ = writeln!(out, "{TIE_NOTE}.");
    }
    if embeds {
        out.push_str(
            "An embeddings engine's latency is E2E and its throughput its inputs a second; \
             TTFT, TPOT and output tokens do not apply.\n",
        );
        if s.engines.iter().any(|e| e.embeddings.is_none()) {
            let _ = writeln!(out, "\n> **Note:** {NOT_COMPARABLE}.");
        }
    }
}

fn slo_mark(e: &EngineSummary) -> String {
    if e.slo.is_empty() {
        dash()
    } else if e.slo_pass {
        "✅".to_owned()
    } else {
        "❌".to_owned()
    }
}

fn slos(out: &mut String, s: &SummaryFile) {
    if s.engines.iter().all(|e| e.slo.is_empty()) {
        return;
    }
    out.push_str("\n### SLOs\n\n");
    table_header(out, &["engine", "objective", "limit", "measured", ""], 2..4);
    for e in &s.engines {
        for check in &e.slo {
            table_row(
                out,
                &[
                    cell(&e.name),
                    format!("`{}`", check.kind.name()),
                    number(check.threshold),
                    match check.actual {
                        None => "nothing measured".to_owned(),
                        Some(v) if check.few_samples => {
                            format!("≈{} (too few requests to bound a p99)", number(v))
                        }
                        Some(v) => number(v),
                    },
                    if check.pass { "✅" } else { "❌" }.to_owned(),
                ],
            );
        }
    }
}

/// Lane against lane: each pair's median ratios with their intervals.
fn pairs(out: &mut String, s: &SummaryFile) {
    if s.pairs.is_empty() {
        return;
    }
    out.push_str("\n### Lane against lane (paired by request)\n\n");
    table_header(
        out,
        &["engine", "against", "requests", "TTFT ratio", "E2E ratio"],
        2..5,
    );
    for p in &s.pairs {
        let pairs = p.e2e.as_ref().map_or(0, |r| r.pairs);
        let shown = |r: &Option<RatioSummary>| r.as_ref().map_or_else(dash, RatioSummary::shown);
        table_row(
            out,
            &[
                cell(&p.a),
                cell(&p.b),
                pairs.to_string(),
                shown(&p.ttft),
                shown(&p.e2e),
            ],
        );
    }
    out.push_str("\nThe median of the engine's time over the other's, request by request (the same prompt), with its 95 % interval: below 1 it was faster; an interval across 1 is too close to call.\n");
}

fn percentiles(out: &mut String, s: &SummaryFile) {
    out.push_str("\n### Latency percentiles (ms)\n");
    for (id, title, of) in LATENCIES {
        let engines = engines_with(s, id);
        if engines.is_empty() {
            continue;
        }
        let _ = write!(out, "\n**{title}**\n\n");
        table_header(
            out,
            &[
                "engine",
                "count",
                "mean",
                "min",
                "p50",
                "p90",
                "p95",
                "p99",
                "p99.9",
                "max",
                "p50 95% CI",
                "p99 95% CI",
            ],
            1..12,
        );
        for e in engines {
            let p = of(e);
            let mut row = vec![
                cell(&e.name),
                p.count.to_string(),
                ms(p, p.mean),
                ms(p, p.min),
            ];
            row.extend(p.named().into_iter().map(|(name, v)| p.shown(name, v)));
            row.extend([ms(p, p.max), p.interval("p50"), p.interval("p99")]);
            table_row(out, &row);
        }
    }
    let _ = writeln!(out, "\n{FEW_SAMPLES_NOTE}.");
}

fn cost(out: &mut String, s: &SummaryFile) {
    if s.engines.iter().all(|e| e.cost.is_none()) {
        return;
    }
    out.push_str("\n### Cost (USD)\n\n");
    table_header(
        out,
        &[
            "engine",
            "price",
            "spend",
            "per 1M output tokens",
            "per 1M tokens",
            "per request",
            "cheapest",
        ],
        2..7,
    );
    for e in &s.engines {
        let Some(c) = &e.cost else {
            table_row(out, &[cell(&e.name), "not priced".to_owned()]);
            continue;
        };
        let price = match (c.input_per_1m, c.output_per_1m) {
            (Some(input), Some(output)) => {
                format!("${input:.2} in + ${output:.2} out per 1M")
            }
            _ => c.per_hour.map_or_else(dash, |h| format!("${h:.2} an hour")),
        };
        table_row(
            out,
            &[
                cell(&e.name),
                price,
                format!("${:.4}", c.spend),
                money(c.per_1m_output_tokens),
                money(c.per_1m_total_tokens),
                c.per_request.map_or_else(dash, |v| format!("${v:.6}")),
                c.cheapest.map_or_else(dash, |r| r.to_string()),
            ],
        );
    }
}

fn errors(out: &mut String, s: &SummaryFile) {
    if s.engines.iter().all(|e| e.error_samples.is_empty()) {
        return;
    }
    out.push_str("\n### Top error messages\n\n");
    table_header(out, &["engine", "count", "kind", "message"], 1..2);
    for e in &s.engines {
        let mut samples: Vec<_> = e.error_samples.iter().collect();
        samples.sort_by_key(|x| std::cmp::Reverse(x.count));
        for x in samples.into_iter().take(ERRORS_SHOWN) {
            table_row(
                out,
                &[
                    cell(&e.name),
                    x.count.to_string(),
                    format!("`{}`", x.kind),
                    cell(&x.message),
                ],
            );
        }
    }
}

/// A header row and its separator; the `numbers` columns are right-aligned.
fn table_header(out: &mut String, header: &[&str], numbers: std::ops::Range<usize>) {
    let cells: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    table_row(out, &cells);
    let align: Vec<&str> = (0..header.len())
        .map(|i| if numbers.contains(&i) { "---:" } else { "---" })
        .collect();
    let _ = writeln!(out, "| {} |", align.join(" | "));
}

fn table_row(out: &mut String, cells: &[String]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

/// Text made safe for a table cell: one line, pipes escaped, and no HTML or
/// Markdown a server's message (or a name) could inject.
pub(crate) fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '|' | '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '~' | '!' | '&' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text inside backticks: one line, no backticks or pipes.
fn code(text: &str) -> String {
    text.replace(['\n', '\r', '`'], " ").replace('|', "\\|")
}

fn ms(p: &Percentiles, v: f64) -> String {
    if p.count == 0 {
        dash()
    } else {
        format!("{v:.1}")
    }
}

fn money(v: Option<f64>) -> String {
    v.map_or_else(dash, |v| format!("${v:.2}"))
}

fn dash() -> String {
    "–".to_owned()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::config::Pricing;
    use crate::metrics::ErrorKind;
    use crate::metrics::cost::Cost;
    use crate::metrics::slo::SloCheck;
    use crate::metrics::snapshot::ErrorSample;

    /// The UI's failing race, finished, with SLOs, prices and errors: a
    /// summary whose every section has something to show.
    fn summary() -> SummaryFile {
        let mut snap = crate::ui::test_support::failing_fixture();
        let hour = Duration::from_secs(3600);
        snap.lanes[0].cost = Some(Cost::of(
            Pricing::Hourly { per_hour: 2.5 },
            hour,
            400,
            0,
            1_000_000,
        ));
        snap.lanes[0].cheapest = Some(2);
        snap.lanes[2].cost = Some(Cost::of(
            Pricing::Tokens {
                input_per_1m: 0.1,
                output_per_1m: 0.4,
            },
            hour,
            340,
            2_000_000,
            1_000_000,
        ));
        snap.lanes[2].cheapest = Some(1);
        for (i, lane) in snap.lanes.iter_mut().enumerate() {
            lane.slo_checks = vec![SloCheck {
                few_samples: false,
                kind: crate::metrics::slo::SloKind::TtftP99,
                threshold: 2500.0,
                actual: Some(lane.latencies.ttft.p99.as_secs_f64() * 1000.0),
                pass: i != 1,
            }];
            lane.slo_pass = i != 1;
        }
        snap.lanes[1].error_samples = vec![
            ErrorSample {
                kind: ErrorKind::Http5xx,
                message: "HTTP 503: {\"error\": \"overloaded | try later\"}".to_owned(),
                count: 200,
            },
            ErrorSample {
                kind: ErrorKind::StreamReset,
                message: "stream ended before [DONE]".to_owned(),
                count: 30,
            },
        ];
        let mut s = SummaryFile::new(&snap, SystemTime::UNIX_EPOCH);
        s.started_at = "2026-12-01T14:00:00.000+00:00".to_owned();
        s.tool = "llm-locust (test)".to_owned();
        s.slo_pass = false;
        s
    }

    #[test]
    fn the_commentary_is_listed_and_long_feeds_are_cut() {
        use crate::report::summary::CommentarySummary;
        let mut s = summary();
        assert!(!report(&s).contains("### Commentary"), "none: no section");
        for n in 0..25 {
            s.commentary.push(CommentarySummary {
                at_s: f64::from(n),
                engine: Some("tgi".to_owned()),
                kind: crate::metrics::CommentaryKind::ErrorBurst,
                text: format!("tgi: {n} failures in a second (http_5xx) | *boom*"),
            });
        }
        let text = report(&s);
        assert!(text.contains("\n### Commentary\n\n- 0 s: tgi: 0 failures in a second (http\\_5xx) \\| \\*boom\\*\n"), "{text}");
        assert!(
            text.contains("- 19 s: ") && !text.contains("- 20 s: "),
            "{text}"
        );
        assert!(
            text.contains("- … and 5 more (report.html lists them all)"),
            "{text}"
        );
    }

    #[test]
    fn connections_the_servers_closed_get_a_table_only_when_one_did() {
        use crate::metrics::ConnectionReuse;
        let mut s = summary();
        assert!(!report(&s).contains("### Connections"), "none: no section");
        s.engines[0].connections.retries = 3;
        s.engines[1].connections.reuse = ConnectionReuse::Stopped;
        s.engines[2].connections.reuse = ConnectionReuse::Never;
        let text = report(&s);
        let rows = [
            "| engine | opened | retried after a close | reused |",
            "| vllm | 4 | 3 | yes |",
            "| sglang | 4 | 0 | stopped: the server closes them after each stream |",
            "| tgi | 4 | 0 | no (reuse_connections: never) |",
        ];
        for row in rows {
            assert!(text.contains(row), "{row}\n{text}");
        }
    }

    #[test]
    fn the_prompt_cache_gets_a_table_only_when_a_server_reported_it() {
        use crate::metrics::prompt_cache::PromptCache;
        let mut s = summary();
        assert!(!report(&s).contains("### Prompt cache"), "none: no section");
        let percentiles = |count: u64, p50: f64| Percentiles {
            count,
            mean: p50,
            min: p50,
            p50,
            p90: p50,
            p95: p50,
            p99: p50,
            p999: p50,
            max: p50,
            ci95: std::collections::BTreeMap::new(),
            few_samples: Vec::new(),
        };
        s.engines[0].prompt_cache = Some(PromptCache {
            reported_requests: 12,
            hit_requests: 8,
            prompt_tokens: 3600,
            cached_tokens: 2304,
            hit_rate: 0.64,
            ttft_hit: percentiles(8, 17.4),
            ttft_miss: percentiles(4, 305.0),
        });
        let text = report(&s);
        let rows = [
            "| engine | cached of prompt tokens | requests with a hit | cached / prompt tokens | TTFT p50, hit (ms) | TTFT p50, miss (ms) |",
            "| vllm | 64.0% | 8 of 12 | 2304 / 3600 | 17.4 | 305 |",
            "| sglang | not reported |  |  |  |  |",
        ];
        for row in rows {
            assert!(text.contains(row), "{row}\n{text}");
        }
    }

    #[test]
    fn report_reads_as_a_pull_request_comment() {
        insta::assert_snapshot!(report(&summary()));
    }

    #[test]
    fn a_race_without_slos_prices_or_errors_says_so_and_leaves_those_sections_out() {
        let snap = crate::ui::test_support::snapshot_fixture(2);
        let text = report(&SummaryFile::new(&snap, SystemTime::UNIX_EPOCH));
        assert!(text.contains("No SLO was set."), "{text}");
        for section in ["### SLOs", "### Cost", "### Top error messages", "cheapest"] {
            assert!(!text.contains(section), "{section} in:\n{text}");
        }
        assert!(text.contains("### Leaderboard") && text.contains("**TTFT: time to first token**"));
    }

    #[test]
    fn server_text_cannot_break_the_table_or_inject_markup() {
        assert_eq!(
            cell("a|b\n<script>*x*</script>"),
            "a\\|b \\<script\\>\\*x\\*\\</script\\>"
        );
        assert_eq!(code("m`x|y"), "m x\\|y");
    }
}
