//! Races over real HTTP on 127.0.0.1 against simulated engines that stream
//! the way real servers and proxies do (LiteLLM, llama.cpp, reasoning
//! models, OpenAI-style proxies): the numbers must stay exact.

use std::time::Duration;

use crate::common::{assert_close_ms, run, spec};
use llm_locust::metrics::{ErrorKind, RequestRecord, TokenSource};

/// A race of the given engines (YAML list items, indented for `engines:`)
/// to `requests` successful requests each, two users per engine.
fn race(requests: u32, extra: &str, engines: &str) -> String {
    race_for(20, requests, extra, engines)
}

/// The same, ending after `duration` seconds (for engines that never
/// reach their finish line).
fn race_for(duration: u32, requests: u32, extra: &str, engines: &str) -> String {
    format!(
        "race:\n  name: quirks\n  countdown_s: 0\n  duration: {duration}\n  users: 2\n  spawn_rate: 100\n  finish:\n    requests: {requests}\n{extra}  engines:\n{engines}"
    )
}

const FAST: &str = "ttft_ms: 20, tpot_ms: 2, jitter: 0, prefill_us_per_token: 0, output_tokens: 12";

async fn records_of(yaml: &str) -> (llm_locust::engine::RaceOutcome, Vec<RequestRecord>) {
    run(&spec(yaml), Duration::from_secs(30)).await
}

fn engine_records(records: &[RequestRecord], engine: usize) -> Vec<&RequestRecord> {
    records.iter().filter(|r| r.engine == engine).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_usage_never_wins_over_the_real_count() {
    // LiteLLM's completions stream: usage 0 in every chunk, the real usage
    // on the finish chunk. And a chat stream whose real usage report is
    // followed by a zero one.
    let yaml = race(
        6,
        "",
        &format!(
            "    - {{name: litellm, endpoint: completions, simulate: {{{FAST}, quirks: [zero_usage, usage_in_finish_chunk]}}}}\n    - {{name: zero-after, simulate: {{{FAST}, quirks: [zero_usage]}}}}\n    - {{name: zero-only, endpoint: completions, simulate: {{{FAST}, quirks: [zero_usage, no_usage]}}}}\n"
        ),
    );
    let (outcome, records) = records_of(&yaml).await;
    for (i, lane) in outcome.snapshot.lanes.iter().enumerate() {
        assert_eq!(
            lane.counts.failed, 0,
            "{}: {:?}",
            lane.name, lane.counts.errors
        );
        assert!(lane.counts.ok >= 6, "{} finished", lane.name);
        assert_eq!(
            lane.counts.output_tokens,
            12 * lane.counts.ok,
            "{}",
            lane.name
        );
        assert!(lane.latencies.tpot.count > 0, "{} has a TPOT", lane.name);
        for r in engine_records(&records, i) {
            assert_eq!(r.output_tokens, 12, "{}", lane.name);
        }
    }
    // The first two report usage for real; the third only ever says 0, so
    // its counts come from the stream itself.
    assert!(
        engine_records(&records, 0)
            .iter()
            .chain(engine_records(&records, 1).iter())
            .all(|r| r.output_source == TokenSource::Usage)
    );
    assert!(
        engine_records(&records, 2)
            .iter()
            .all(|r| r.output_source == TokenSource::Chunks)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_answer_is_its_own_error_and_never_wins() {
    let yaml = race_for(
        3,
        6,
        "  slo:\n    ttft_p99_ms: 1000\n",
        &format!(
            "    - {{name: real, simulate: {{{FAST}}}}}\n    - {{name: empty, simulate: {{ttft_ms: 1, tpot_ms: 0, jitter: 0, prefill_us_per_token: 0, quirks: [empty_answer]}}}}\n    - {{name: tools, simulate: {{{FAST}, quirks: [tool_calls]}}}}\n"
        ),
    );
    let (outcome, records) = records_of(&yaml).await;
    let snap = &outcome.snapshot;
    let empty = &snap.lanes[1];
    assert_eq!(empty.counts.ok, 0);
    assert!(empty.counts.failed > 0);
    assert_eq!(
        empty.counts.errors.get(&ErrorKind::EmptyAnswer).copied(),
        Some(empty.counts.failed)
    );
    assert_eq!(empty.counts.good, 0);
    assert_eq!(empty.rates.goodput_rps, 0.0);
    assert_ne!(snap.leaderboard[0], 1, "an engine with no answer led");
    assert_eq!(empty.place, 3, "it ranks last");
    // Answers that come only as tool calls are answers.
    let tools = &snap.lanes[2];
    assert_eq!(tools.counts.failed, 0, "{:?}", tools.counts.errors);
    assert!(
        engine_records(&records, 2)
            .iter()
            .all(|r| r.output_tokens == 12
                && r.chunk_times.len() == 12
                && r.first_answer_chunk == Some(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harmless_quirks_do_not_fail_requests() {
    // Both reasoning names in one delta, nulls everywhere, llama.cpp's
    // usage chunk with an empty delta, and a server that never sets a
    // finish reason and ends on a [DONE] with no blank line after it.
    let yaml = race(
        5,
        "",
        &format!(
            "    - {{name: proxy, count_reasoning: true, simulate: {{{FAST}, reasoning_tokens: 4, quirks: [both_reasoning_names, nulls]}}}}\n    - {{name: llamacpp, simulate: {{{FAST}, quirks: [usage_with_empty_delta, no_finish_reason, no_final_newline]}}}}\n"
        ),
    );
    let (outcome, records) = records_of(&yaml).await;
    for (i, lane) in outcome.snapshot.lanes.iter().enumerate() {
        assert_eq!(
            lane.counts.failed, 0,
            "{}: {:?}",
            lane.name, lane.counts.errors
        );
        assert_eq!(lane.counts.output_tokens, 12 * lane.counts.ok);
        for r in engine_records(&records, i) {
            assert_eq!(
                r.chunk_times.len(),
                12,
                "{}: one chunk per token",
                lane.name
            );
            assert_eq!(r.output_source, TokenSource::Usage);
        }
    }
    // The reasoning text arrived once, not twice.
    let proxy = engine_records(&records, 0);
    assert!(proxy.iter().all(|r| r.first_answer_chunk == Some(4)));
    assert!(
        proxy
            .iter()
            .all(|r| r.output_text.split_whitespace().count() == 12)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ends_of_streams_are_judged_right() {
    // An empty finish_reason is no finish: a stream that ends cleanly
    // after it, without [DONE], is cut short. An `event: error` is a server
    // error.
    let yaml = race_for(
        2,
        4,
        "",
        &format!(
            "    - {{name: cut, simulate: {{{FAST}, quirks: [empty_finish_reason], faults: {{early_end: 1.0}}}}}}\n    - {{name: evt, simulate: {{{FAST}, faults: {{event_error: 1.0}}}}}}\n    - {{name: fine, simulate: {{{FAST}, quirks: [empty_finish_reason]}}}}\n"
        ),
    );
    let (outcome, _) = records_of(&yaml).await;
    let lanes = &outcome.snapshot.lanes;
    assert_eq!(lanes[0].counts.ok, 0);
    assert_eq!(
        lanes[0].counts.errors.get(&ErrorKind::StreamReset).copied(),
        Some(lanes[0].counts.failed)
    );
    assert_eq!(lanes[1].counts.ok, 0);
    assert_eq!(
        lanes[1].counts.errors.get(&ErrorKind::ServerError).copied(),
        Some(lanes[1].counts.failed)
    );
    assert!(lanes[1].counts.failed > 0);
    assert_eq!(lanes[2].counts.failed, 0, "{:?}", lanes[2].counts.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tpot_ends_at_the_last_token_not_at_a_late_done() {
    let yaml = race(
        3,
        "",
        "    - {name: late, simulate: {ttft_ms: 30, tpot_ms: 20, jitter: 0, prefill_us_per_token: 0, output_tokens: 10, done_delay_ms: 1100}}\n",
    );
    let (outcome, _) = records_of(&yaml).await;
    let lane = &outcome.snapshot.lanes[0];
    assert_eq!(lane.counts.failed, 0);
    assert_close_ms("TPOT p50", lane.latencies.tpot.p50, 20.0);
    // E2E still runs to the stream's end.
    assert!(lane.latencies.e2e.p50 >= Duration::from_millis(30 + 9 * 20 + 1100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_to_first_answer_token_follows_the_reasoning() {
    let yaml = race_for(
        3,
        4,
        "",
        "    - {name: thinker, count_reasoning: true, simulate: {ttft_ms: 40, tpot_ms: 10, jitter: 0, prefill_us_per_token: 0, output_tokens: 20, reasoning_tokens: 8}}\n    - {name: all-thought, simulate: {ttft_ms: 5, tpot_ms: 1, jitter: 0, prefill_us_per_token: 0, output_tokens: 6, reasoning_tokens: 6}}\n    - {name: all-thought-counted, count_reasoning: true, simulate: {ttft_ms: 5, tpot_ms: 1, jitter: 0, prefill_us_per_token: 0, output_tokens: 6, reasoning_tokens: 6}}\n",
    );
    let (outcome, _) = records_of(&yaml).await;
    let lanes = &outcome.snapshot.lanes;
    let thinker = &lanes[0];
    assert_eq!(thinker.counts.failed, 0);
    // TTFT stops at the first reasoning token; TTFOT at the first answer
    // token, eight tokens (80 ms) later.
    let gap = thinker.latencies.ttfot.p50.as_secs_f64() - thinker.latencies.ttft.p50.as_secs_f64();
    assert!(
        (gap * 1000.0 - 80.0).abs() < 5.0,
        "TTFOT − TTFT = {:.1} ms",
        gap * 1000.0
    );
    assert_eq!(thinker.latencies.ttfot.count, thinker.counts.ok);
    // Reasoning alone is no answer unless the engine counts it.
    assert_eq!(lanes[1].counts.ok, 0);
    assert_eq!(
        lanes[1].counts.errors.get(&ErrorKind::EmptyAnswer).copied(),
        Some(lanes[1].counts.failed)
    );
    assert_eq!(lanes[2].counts.failed, 0);
    assert_eq!(lanes[2].latencies.ttfot.count, 0);
}
