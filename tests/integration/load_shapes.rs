//! Load shapes over real HTTP on 127.0.0.1 against the simulator: bursts
//! show in the per-second arrivals, stages in the users running and in the
//! per-stage figures of the final snapshot and summary.json.

use std::time::Duration;

use crate::common::{run, serve_sim, spec};
use llm_locust::config::SimSpec;
use llm_locust::metrics::windows::LevelUnit;

fn fast_sim() -> SimSpec {
    SimSpec {
        ttft: Duration::from_millis(5),
        tpot: Duration::from_millis(2),
        jitter: 0.0,
        prefill_per_token: Duration::ZERO,
        output_tokens: Some(4),
        ..SimSpec::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_show_in_the_arrivals_per_second() {
    let server = serve_sim(fast_sim()).await;
    // 10 req/s on average, ×4 for the last second of every 2: quiet
    // 10 / (1 + 3 × 1/2) = 4/s, bursts 16/s; even arrivals.
    let spec = spec(&format!(
        r"
race:
  name: bursts
  countdown_s: 0
  duration: 6
  load: {{mode: bursts, rate: 10, burst_factor: 4, burst_every_s: 2, burst_length_s: 1, arrivals: constant}}
  engines:
    - {{name: sim, url: {}, model: sim}}
",
        server.base_url()
    ));
    let (outcome, records) = run(&spec, Duration::from_secs(30)).await;
    let mut per_second = [0u32; 6];
    for r in &records {
        let s = r.scheduled_at.as_secs() as usize;
        if s < 6 {
            per_second[s] += 1;
        }
    }
    assert_eq!(per_second, [4, 16, 4, 16, 4, 16], "{per_second:?}");
    assert_eq!(outcome.snapshot.lanes[0].counts.failed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_stages_change_the_users_and_give_figures_per_stage() {
    let server = serve_sim(SimSpec {
        // One user makes about 10 requests a second.
        ttft: Duration::from_millis(50),
        tpot: Duration::from_millis(10),
        output_tokens: Some(6),
        ..fast_sim()
    })
    .await;
    let spec = spec(&format!(
        r"
race:
  name: stages
  countdown_s: 0
  load:
    mode: stages
    stages:
      - {{duration_s: 2, users: 1}}
      - {{duration_s: 2, users: 4}}
      - {{duration_s: 2, users: 2, ramp_s: 1}}
  engines:
    - {{name: sim, url: {}, model: sim}}
",
        server.base_url()
    ));
    assert_eq!(
        spec.finish.duration,
        Duration::from_secs(6),
        "stages set the length"
    );
    let (outcome, records) = run(&spec, Duration::from_secs(30)).await;
    let users_in = |from: u64, to: u64| {
        let mut users: Vec<u32> = records
            .iter()
            .filter(|r| {
                r.scheduled_at >= Duration::from_secs(from)
                    && r.scheduled_at < Duration::from_secs(to)
            })
            .map(|r| r.user_id)
            .collect();
        users.sort_unstable();
        users.dedup();
        users
    };
    assert_eq!(users_in(0, 2), vec![0]);
    assert_eq!(users_in(2, 4), vec![0, 1, 2, 3]);
    // Ramping down from 4 to 2 in the first second of the last stage.
    assert_eq!(users_in(5, 6), vec![0, 1]);
    let snapshot = &outcome.snapshot;
    assert_eq!(snapshot.stage_unit, Some(LevelUnit::Users));
    let stages = &snapshot.lanes[0].stages;
    assert_eq!(stages.len(), 3);
    assert_eq!(
        stages.iter().map(|s| s.level).collect::<Vec<_>>(),
        vec![1.0, 4.0, 2.0]
    );
    let (one, four) = (stages[0].requests_per_s, stages[1].requests_per_s);
    assert!(one > 5.0 && one < 12.0, "1 user: {one} req/s");
    assert!(four > 3.0 * one, "4 users: {four} req/s against {one}");
    // Every successful request due within the stages is in one of them (one
    // sent as the last stage ends belongs to none).
    let total: u64 = stages.iter().map(|s| s.requests_ok).sum();
    let due = records
        .iter()
        .filter(|r| r.is_ok() && r.scheduled_at < Duration::from_secs(6))
        .count() as u64;
    assert_eq!(total, due);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_stages_follow_their_rates_and_end_the_load() {
    let server = serve_sim(fast_sim()).await;
    let spec = spec(&format!(
        r"
race:
  name: rate stages
  countdown_s: 0
  load:
    mode: stages
    arrivals: constant
    stages:
      - {{duration_s: 2, rate: 5}}
      - {{duration_s: 2, rate: 20, ramp_s: 1}}
  engines:
    - {{name: sim, url: {}, model: sim}}
",
        server.base_url()
    ));
    let (outcome, records) = run(&spec, Duration::from_secs(30)).await;
    // 10 in the first stage; 10 in the ramp from 5 to 20, 20 in the hold.
    let due = |from: f64, to: f64| {
        records
            .iter()
            .filter(|r| {
                let t = r.scheduled_at.as_secs_f64();
                t >= from && t < to
            })
            .count()
    };
    assert_eq!(due(0.0, 2.0), 10);
    assert_eq!(due(2.0, 3.0), 13);
    assert_eq!(due(3.0, 4.0), 20);
    assert_eq!(records.len(), 43, "no load after the last stage");
    let stages = &outcome.snapshot.lanes[0].stages;
    assert_eq!(
        stages.iter().map(|s| s.requests_ok).collect::<Vec<_>>(),
        vec![10, 33]
    );
    assert_eq!(outcome.snapshot.stage_unit, Some(LevelUnit::Rate));
}

/// A simulator that serves 8 requests at once, each in 20 + 19 × 5 = 115 ms
/// (no jitter): up to 8 users nothing queues; from 9 on, a request waits for
/// a slot and its TTFT grows by up to a whole request. Rates above 8 / 0.115
/// = 69.6 req/s cannot be served.
fn eight_slots() -> SimSpec {
    SimSpec {
        ttft: Duration::from_millis(20),
        tpot: Duration::from_millis(5),
        jitter: 0.0,
        prefill_per_token: Duration::ZERO,
        output_tokens: Some(20),
        capacity: 8,
        ..SimSpec::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_sweep_finds_the_knee_where_queueing_breaks_the_slo() {
    let server = serve_sim(eight_slots()).await;
    let spec = spec(&format!(
        r"
race:
  name: users sweep
  countdown_s: 0
  load: {{mode: sweep, start: 2, step: 2, max: 16, step_duration_s: 2, warmup_s: 0.3}}
  slo: {{ttft_p99_ms: 80}}
  engines:
    - {{name: sim, url: {}, model: sim}}
",
        server.base_url()
    ));
    let (outcome, _) = run(&spec, Duration::from_secs(60)).await;
    let lane = &outcome.snapshot.lanes[0];
    let sweep = lane.sweep.as_ref().expect("a sweep");
    assert!(sweep.done, "{sweep:?}");
    let levels: Vec<f64> = sweep.steps.iter().map(|s| s.figures.level).collect();
    assert_eq!(
        levels,
        vec![2.0, 4.0, 6.0, 8.0, 10.0],
        "stops at the first broken step"
    );
    let best = sweep.max_sustainable.as_ref().unwrap();
    assert_eq!(best.level, 8.0);
    let (broke, why) = sweep.broke_at.clone().unwrap();
    assert_eq!(broke, 10.0);
    assert!(why.starts_with("SLO ttft_p99_ms"), "{why}");
    // Throughput grows with the users that fit.
    let tput: Vec<f64> = sweep
        .steps
        .iter()
        .map(|s| s.figures.requests_per_s)
        .collect();
    assert!(tput[3] > 3.0 * tput[0], "{tput:?}");
    assert_eq!(lane.state, llm_locust::metrics::LaneState::Finished);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_sweep_refines_its_answer_closer_than_one_step() {
    let server = serve_sim(eight_slots()).await;
    let spec = spec(&format!(
        r"
race:
  name: rate sweep
  countdown_s: 0
  load: {{mode: sweep, of: rate, start: 20, step: 20, max: 120, step_duration_s: 2, warmup_s: 0.3, refine: 3, arrivals: constant}}
  slo: {{ttft_p99_ms: 80}}
  engines:
    - {{name: sim, url: {}, model: sim}}
",
        server.base_url()
    ));
    let (outcome, _) = run(&spec, Duration::from_secs(90)).await;
    let sweep = outcome.snapshot.lanes[0].sweep.clone().expect("a sweep");
    let coarse: Vec<f64> = sweep
        .steps
        .iter()
        .filter(|s| !s.refining)
        .map(|s| s.figures.level)
        .collect();
    assert_eq!(coarse, vec![20.0, 40.0, 60.0, 80.0], "{sweep:?}");
    assert_eq!(sweep.steps.iter().filter(|s| s.refining).count(), 3);
    // The capacity is 69.6 req/s: the coarse steps say 60; bisection between
    // 60 and 80 lands nearer (a step just over the capacity can still hold:
    // its queue has only begun to grow when the step ends).
    let best = sweep.max_sustainable.unwrap().level;
    assert!(best > 60.0 && best < 80.0, "max sustainable {best}");
    let capacity = 8.0 / 0.115;
    assert!(
        (capacity - best).abs() < (capacity - 60.0) / 2.0,
        "{best} is not within half a step's error of {capacity}"
    );
}

/// Cost per 1M output tokens: the engine's hourly price over the tokens it
/// made per hour (the original's formula), checked by hand from the race's
/// own counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_is_the_hourly_price_over_the_tokens_per_hour() {
    let server = serve_sim(fast_sim()).await;
    let spec = spec(&format!(
        r"
race:
  name: cost
  countdown_s: 0
  duration: 2
  users: 2
  engines:
    - {{name: priced, url: {url}, model: sim, cost_per_hour: 3.6}}
    - {{name: free, url: {url}, model: sim}}
    - {{name: api, url: {url}, model: sim, price: {{input_per_1m: 0.5, output_per_1m: 1.5}}}}
",
        url = server.base_url()
    ));
    let (outcome, _) = run(&spec, Duration::from_secs(30)).await;
    let lanes = &outcome.snapshot.lanes;
    let priced = lanes.iter().find(|l| l.name == "priced").unwrap();
    let cost = priced.cost.expect("a cost");
    // 4 output tokens a request; $3.60 an hour is $0.001 a second.
    assert!(priced.counts.output_tokens >= 4 && priced.counts.output_tokens % 4 == 0);
    let spend = 0.001 * priced.active.as_secs_f64();
    assert!((cost.spend - spend).abs() < 1e-12);
    let by_hand = spend / priced.counts.output_tokens as f64 * 1e6;
    assert!((cost.per_million_output.unwrap() - by_hand).abs() < 1e-9);
    let tokens_per_hour = priced.rates.output_tokens_per_s * 3600.0;
    assert!((cost.per_million_output.unwrap() - 3.6 / tokens_per_hour * 1e6).abs() < 1e-6);
    let total = (priced.counts.input_tokens + priced.counts.output_tokens) as f64;
    assert!((cost.per_million_total.unwrap() - spend / total * 1e6).abs() < 1e-9);
    assert!((cost.per_request.unwrap() - spend / priced.counts.ok as f64).abs() < 1e-12);
    assert!(
        lanes
            .iter()
            .find(|l| l.name == "free")
            .unwrap()
            .cost
            .is_none()
    );
    // An API's price list bills its tokens: in × $0.50 + out × $1.50 per 1M.
    let api = lanes.iter().find(|l| l.name == "api").unwrap();
    let api_cost = api.cost.expect("a cost");
    let billed =
        (api.counts.input_tokens as f64 * 0.5 + api.counts.output_tokens as f64 * 1.5) / 1e6;
    assert!((api_cost.spend - billed).abs() < 1e-12);
    assert!(
        (api_cost.per_million_output.unwrap() - billed / api.counts.output_tokens as f64 * 1e6)
            .abs()
            < 1e-9
    );
    assert!(
        (api_cost.per_hour.unwrap() - billed / (api.active.as_secs_f64() / 3600.0)).abs() < 1e-9
    );
    // The cheaper per 1M output tokens places first; the free one has no place.
    let (cheap, dear) = if api_cost.per_million_output < cost.per_million_output {
        (api, priced)
    } else {
        (priced, api)
    };
    assert_eq!((cheap.cheapest, dear.cheapest), (Some(1), Some(2)));
    assert_eq!(
        lanes.iter().find(|l| l.name == "free").unwrap().cheapest,
        None
    );
    // The table gains the column, and summary.json the figures.
    let table = llm_locust::report::table::leaderboard_table(&outcome.snapshot);
    assert!(
        table
            .lines()
            .next()
            .unwrap()
            .ends_with("$/1M out  cheapest"),
        "{table}"
    );
    let json = serde_json::to_value(llm_locust::report::summary::SummaryFile::new(
        &outcome.snapshot,
        outcome.started_at,
    ))
    .unwrap();
    let engines = json["engines"].as_array().unwrap();
    let priced_json = engines.iter().find(|e| e["name"] == "priced").unwrap();
    let per_1m = priced_json["cost"]["per_1m_output_tokens"]
        .as_f64()
        .unwrap();
    assert!((per_1m - by_hand).abs() < 1e-5, "{per_1m} vs {by_hand}");
    assert!(
        engines
            .iter()
            .find(|e| e["name"] == "free")
            .unwrap()
            .get("cost")
            .is_none()
    );
}

/// A constant 2 req/s for 5 s reads 2 req/s, however long each request
/// takes: the rates are over the time the load was offered, and requests
/// still in flight at the time limit count when they end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_constant_rate_reads_as_that_rate_on_a_short_race() {
    let yaml = "race:\n  name: steady\n  countdown_s: 0\n  duration: 5\n  load: {mode: constant, rate: 2}\n  engines:\n    - {name: a, max_tokens: 8, simulate: {ttft_ms: 1500, tpot_ms: 10, jitter: 0}}\n";
    let (outcome, _) =
        crate::common::run(&crate::common::spec(yaml), Duration::from_secs(30)).await;
    let lane = &outcome.snapshot.lanes[0];
    assert_eq!(lane.counts.ok, 10, "{:?}", lane.counts);
    assert!(
        (lane.rates.requests_per_s - 2.0).abs() < 1e-9,
        "{} req/s",
        lane.rates.requests_per_s
    );
    assert_eq!(lane.active, Duration::from_secs(5));
}
