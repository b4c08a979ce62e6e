//! End-to-end races over real HTTP on 127.0.0.1 against the built-in
//! simulator, checking measured metrics against the injected latencies.
use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::{assert_close_ms, run, serve_sim, serve_sim_with, spec};
use llm_locust::config::SimSpec;
use llm_locust::metrics::{ErrorKind, LaneState, TokenSource};
use llm_locust::sim::SimOptions;
use llm_locust::workload::estimate_tokens;
use tokio_util::sync::CancellationToken;

/// Four users at once against one engine at `url`, for `duration` seconds.
fn one_engine_race(
    name: &str,
    duration: f64,
    url: &str,
    max_tokens: u32,
) -> llm_locust::config::RaceSpec {
    spec(&format!(
        r"
race:
  name: {name}
  countdown_s: 0
  duration: {duration}
  users: 4
  spawn_rate: 100
  engines:
    - name: sim
      url: {url}
      model: sim
      max_tokens: {max_tokens}
"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_ttft_and_tpot_are_measured_within_three_percent() {
    let server = serve_sim(SimSpec {
        ttft: Duration::from_millis(80),
        tpot: Duration::from_millis(12),
        jitter: 0.0,
        prefill_per_token: Duration::ZERO,
        ..SimSpec::default()
    })
    .await;
    let spec = one_engine_race("accuracy", 3.0, &server.base_url(), 20);
    let (outcome, records) = run(&spec, Duration::from_secs(20)).await;
    let lane = &outcome.snapshot.lanes[0];
    assert!(lane.counts.ok >= 20, "only {} requests", lane.counts.ok);
    assert_eq!(lane.counts.failed, 0);
    // The simulator's timers wake a little after their deadlines (tokio's
    // timer wheel has millisecond granularity): its real time to first token
    // is 80 ms plus that lateness, which it measures. The gaps between
    // tokens are unaffected (every wake-up is late by about as much).
    let late = server.stats().mean_first_token_lateness();
    assert!(
        late < Duration::from_millis(5),
        "simulator late by {late:?}"
    );
    let real_ttft = 80.0 + late.as_secs_f64() * 1000.0;
    assert_close_ms("TTFT p50", lane.latencies.ttft.p50, real_ttft);
    assert_close_ms("TPOT p50", lane.latencies.tpot.p50, 12.0);
    assert_close_ms("ITL p50", lane.latencies.itl.p50, 12.0);
    assert_close_ms("E2E p50", lane.latencies.e2e.p50, real_ttft + 19.0 * 12.0);
    // Each second's own p50 is the injected latency too; its p99 lies
    // between that p50 and the slowest request of the race (the
    // simulator's lateness varies a little per request).
    let busy: Vec<_> = lane.series.iter().filter(|p| p.requests_ok > 0).collect();
    assert!(!busy.is_empty());
    let slowest = lane.latencies.ttft.max.as_secs_f64() * 1000.0 + 0.01;
    for p in busy {
        let ms = |v: f64| Duration::from_secs_f64(v / 1000.0);
        assert_close_ms("a second's TTFT p50", ms(p.ttft_p50_ms), real_ttft);
        assert_close_ms("a second's TTFOT p50", ms(p.ttfot_p50_ms), real_ttft);
        assert_close_ms("a second's TPOT p50", ms(p.tpot_p50_ms), 12.0);
        assert!(
            p.ttft_p50_ms <= p.ttft_p99_ms && p.ttft_p99_ms <= slowest,
            "second {}: p50 {} p99 {} slowest {slowest}",
            p.t_s,
            p.ttft_p50_ms,
            p.ttft_p99_ms
        );
    }
    // Counts are exact: every record is counted once, every token once.
    assert_eq!(records.len() as u64, lane.counts.ok);
    assert_eq!(lane.counts.output_tokens, 20 * lane.counts.ok);
    assert!(
        records
            .iter()
            .all(|r| r.output_tokens == 20 && r.chunk_times.len() == 20)
    );
    let input: u64 = records
        .iter()
        .map(|r| u64::from(estimate_tokens(&r.prompt)))
        .sum();
    assert_eq!(lane.counts.input_tokens, input);
    assert_eq!(
        lane.counts
            .output_sources
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        vec![TokenSource::Usage]
    );
    assert_eq!(lane.state, LaneState::Finished);
    server.shutdown().await;
}

/// Against a simulator that writes each token's send time into its text
/// (µs from the request's arrival), every token the client timed must have
/// been seen after it was sent: the request was scheduled before it
/// arrived, and a token is read after it is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_token_is_timed_after_the_server_sent_it() {
    let server = serve_sim_with(
        SimSpec {
            ttft: Duration::from_millis(30),
            tpot: Duration::from_millis(4),
            // Uneven gaps, so a token timed with an earlier one's arrival shows.
            jitter: 0.9,
            prefill_per_token: Duration::ZERO,
            ..SimSpec::default()
        },
        SimOptions { stamp_tokens: true },
    )
    .await;
    let spec = one_engine_race("stamped", 2.0, &server.base_url(), 24);
    let (outcome, records) = run(&spec, Duration::from_secs(20)).await;
    assert!(outcome.snapshot.lanes[0].counts.ok >= 8);
    let mut tokens = 0;
    for record in records.iter().filter(|r| r.is_ok()) {
        let stamps: Vec<u64> = record
            .output_text
            .split_whitespace()
            .map(|w| w.parse().unwrap_or_else(|_| panic!("not a stamp: {w:?}")))
            .collect();
        assert_eq!(stamps.len(), record.chunk_times.len(), "one time per token");
        // Stamps are send times, not arrivals: none before the shortest
        // jittered TTFT (30 ms × 0.1), and in order.
        assert!(stamps[0] >= 3_000, "first token stamped {} µs", stamps[0]);
        assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
        for (i, (seen, sent_us)) in record.chunk_times.iter().zip(&stamps).enumerate() {
            let seen_us = seen.saturating_sub(record.scheduled_at).as_micros();
            assert!(
                seen_us >= u128::from(*sent_us),
                "request {} token {i}: timed {seen_us} µs after its start, sent {sent_us} µs after its arrival",
                record.request_id
            );
            tokens += 1;
        }
    }
    assert_eq!(tokens, 24 * records.iter().filter(|r| r.is_ok()).count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_counts_match_what_the_server_served() {
    let server = serve_sim(SimSpec {
        ttft: Duration::from_millis(5),
        tpot: Duration::from_millis(1),
        jitter: 0.0,
        output_tokens: Some(7),
        ..SimSpec::default()
    })
    .await;
    let spec = spec(&format!(
        r"
race:
  name: counts
  countdown_s: 0
  users: 3
  spawn_rate: 100
  finish: {{requests: 40, grace_s: 5}}
  engines:
    - name: real
      url: {}
      model: sim
",
        server.base_url()
    ));
    let (outcome, records) = run(&spec, Duration::from_secs(20)).await;
    let lane = &outcome.snapshot.lanes[0];
    // The server counts a stream as completed just after its last byte.
    let waiting = std::time::Instant::now();
    while server.stats().requests_completed < lane.counts.ok {
        assert!(
            waiting.elapsed() < Duration::from_secs(5),
            "{:?}",
            server.stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let served = server.stats();
    assert_eq!(lane.state, LaneState::Finished);
    assert!(lane.counts.ok >= 40);
    assert_eq!(
        lane.counts.ok + lane.counts.cancelled,
        served.requests_received
    );
    assert_eq!(lane.counts.ok, served.requests_completed);
    assert_eq!(lane.counts.output_tokens, 7 * lane.counts.ok);
    assert_eq!(records.len() as u64, lane.counts.ok);
    // The finish time is when the 40th success arrived.
    let mut ends: Vec<Duration> = records.iter().map(|r| r.end_at).collect();
    ends.sort();
    assert_eq!(lane.finished_at, Some(ends[39]));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_kind_is_counted_under_its_kind_without_a_hang() {
    let faults = [
        ("http_429", ErrorKind::Http429),
        ("http_500", ErrorKind::Http5xx),
        ("http_503", ErrorKind::Http5xx),
        ("reset", ErrorKind::StreamReset),
        ("stall", ErrorKind::Timeout),
        ("malformed", ErrorKind::Malformed),
        ("stream_error", ErrorKind::ServerError),
        ("event_error", ErrorKind::ServerError),
        ("early_end", ErrorKind::StreamReset),
    ];
    let mut yaml = String::from(
        "race:\n  name: faults\n  countdown_s: 0\n  duration: 1.5\n  users: 2\n  spawn_rate: 100\n  finish: {grace_s: 1}\n  engines:\n",
    );
    for (name, _) in faults {
        yaml.push_str(&format!(
            "    - name: {name}\n      timeout_s: 0.5\n      max_tokens: 8\n      simulate: {{ttft_ms: 10, tpot_ms: 5, jitter: 0, stall_s: 5, faults: {{{name}: 1.0}}}}\n"
        ));
    }
    yaml.push_str("    - name: refused\n      url: http://127.0.0.1:9\n      model: none\n      timeout_s: 2\n");
    let (outcome, _) = run(&spec(&yaml), Duration::from_secs(30)).await;
    let mut expected: Vec<(&str, ErrorKind)> = faults.to_vec();
    expected.push(("refused", ErrorKind::Connect));
    for (lane, (name, kind)) in outcome.snapshot.lanes.iter().zip(expected) {
        assert_eq!(lane.name, name);
        assert_eq!(lane.counts.ok, 0, "{name}");
        assert!(lane.counts.failed > 0, "{name}: no failures");
        let only: BTreeMap<ErrorKind, u64> = [(kind, lane.counts.failed)].into();
        assert_eq!(lane.counts.errors, only, "{name}");
        assert!(!lane.slo_pass || lane.slo_checks.is_empty());
    }
    assert!(!outcome.no_engine_reachable(), "the simulators did answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constant_rate_keeps_its_schedule_against_a_slow_server_and_reports_lateness() {
    let spec = spec(
        r"
race:
  name: open loop
  countdown_s: 0
  load: {mode: constant, rate: 20, max_in_flight: 2}
  finish: {duration_s: 2, grace_s: 2}
  engines:
    - name: slow
      max_tokens: 10
      simulate: {ttft_ms: 300, tpot_ms: 10, jitter: 0, prefill_us_per_token: 0}
",
    );
    let (outcome, records) = run(&spec, Duration::from_secs(20)).await;
    let lane = &outcome.snapshot.lanes[0];
    // 40 arrivals are scheduled in 2 s; two slots of ~390 ms serve about 10.
    let arrivals = lane.counts.started + lane.arrivals.dropped;
    assert!(arrivals >= 38, "the schedule slipped: {arrivals} arrivals");
    assert!(lane.arrivals.late > 0 && lane.arrivals.dropped > 0);
    assert!(
        lane.latencies.send_delay.max > Duration::from_millis(300),
        "lateness {:?}",
        lane.latencies.send_delay.max
    );
    // Latency counts from the scheduled time: queueing is not hidden.
    let late = records
        .iter()
        .filter(|r| r.send_delay() > Duration::from_millis(100))
        .count();
    assert!(late > 0);
    for r in records.iter().filter(|r| r.is_ok()) {
        assert!(
            r.ttft().unwrap()
                >= Duration::from_millis(300) + r.send_delay() - Duration::from_millis(2)
        );
    }
    // Scheduled times are exact multiples of 50 ms, whatever the server did.
    for r in &records {
        let ms = r.scheduled_at.as_secs_f64() * 1000.0;
        assert!(
            (ms / 50.0 - (ms / 50.0).round()).abs() < 0.05,
            "scheduled at {ms} ms"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_engine_gets_the_same_prompts_in_the_same_order() {
    let spec = spec(
        r"
race:
  name: fairness
  countdown_s: 0
  users: 1
  finish: {requests: 12, grace_s: 5}
  engines:
    - name: a
      max_tokens: 3
      simulate: {ttft_ms: 2, tpot_ms: 1, jitter: 0}
    - name: b
      max_tokens: 3
      simulate: {ttft_ms: 9, tpot_ms: 3, jitter: 0}
",
    );
    let (_, records) = run(&spec, Duration::from_secs(20)).await;
    let order = |engine: usize| {
        let mut rs: Vec<_> = records.iter().filter(|r| r.engine == engine).collect();
        rs.sort_by_key(|r| r.request_id);
        rs.iter()
            .take(12)
            .map(|r| r.prompt.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(order(0).len(), 12);
    assert_eq!(order(0), order(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_events_does_not_delay_the_time_limit() {
    let spec = spec(
        r"
race:
  name: flood
  countdown_s: 0
  duration: 1
  users: 200
  spawn_rate: 100000
  finish: {grace_s: 1}
  engines:
    - name: zero-latency
      max_tokens: 64
      simulate: {ttft_ms: 0, tpot_ms: 0, jitter: 0, prefill_us_per_token: 0, capacity: 100000}
",
    );
    let started = std::time::Instant::now();
    let (outcome, _) = run(&spec, Duration::from_secs(15)).await;
    let lane = &outcome.snapshot.lanes[0];
    assert!(lane.counts.ok > 100, "{}", lane.counts.ok);
    assert_eq!(lane.finished_at, Some(Duration::from_secs(1)));
    // One second of racing plus at most the grace period and shutdown.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_carry_live_traces_of_streaming_requests() {
    let spec = spec(
        r"
race:
  name: inspector
  countdown_s: 0
  duration: 1.5
  users: 6
  spawn_rate: 100
  finish: {grace_s: 1}
  engines:
    - name: slow-stream
      max_tokens: 40
      simulate: {ttft_ms: 50, tpot_ms: 20, jitter: 0, prefill_us_per_token: 0}
",
    );
    let running = llm_locust::engine::start(
        &spec,
        common::prompts(),
        Vec::new(),
        CancellationToken::new(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let mut snapshots = running.snapshots.clone();
    let mut seen_streaming = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < deadline && !seen_streaming {
        if snapshots.changed().await.is_err() {
            break;
        }
        let snap = snapshots.borrow_and_update().clone();
        let traces = &snap.lanes[0].traces;
        assert!(traces.len() <= 4, "the trace ring is bounded");
        seen_streaming = traces.iter().any(|t| {
            t.ended_at.is_none()
                && t.chunks > 0
                && !t.text.is_empty()
                && t.ttft.is_some()
                && !t.prompt_head.is_empty()
        });
    }
    assert!(
        seen_streaming,
        "no in-flight request with streamed text was seen"
    );
    let outcome = running.finish().await.unwrap();
    let done = &outcome.snapshot.lanes[0].traces;
    assert!(done.iter().all(|t| t.ended_at.is_some()));
    assert!(
        done.iter()
            .all(|t| t.ttft.is_some_and(|d| d >= Duration::from_millis(50)))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_cut_at_the_end_of_the_grace_period_end_their_traces() {
    let spec = spec(
        r"
race:
  name: cut
  countdown_s: 0
  duration: 0.5
  users: 2
  spawn_rate: 100
  finish: {grace_s: 0}
  engines:
    - name: long
      max_tokens: 200
      simulate: {ttft_ms: 10, tpot_ms: 20, jitter: 0, prefill_us_per_token: 0}
",
    );
    let (outcome, _) = run(&spec, Duration::from_secs(10)).await;
    let lane = &outcome.snapshot.lanes[0];
    assert_eq!(lane.counts.cancelled, 2);
    assert_eq!(lane.counts.in_flight(), 0);
    assert!(!lane.traces.is_empty());
    for t in &lane.traces {
        assert!(
            t.ended_at.is_some(),
            "trace {} still looks in flight",
            t.request_id
        );
        assert_eq!(t.error.as_deref(), Some("cancelled"));
    }
}
