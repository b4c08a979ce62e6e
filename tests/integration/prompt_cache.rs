//! The server's prefix cache, read from its usage reports over real HTTP:
//! the race's hit rate is the simulator's truth, and TTFT with and without
//! a hit is what the simulator's prefill cost makes it.

use std::time::Duration;

use llm_locust::config::SimSpec;
use llm_locust::workload::PromptSet;

use crate::common::{assert_close_ms, run_with, serve_sim, spec};

/// Four prompts of 1,200 characters (300 tokens as the simulator counts:
/// 18 whole cache blocks of 16 tokens), each asked three times.
fn long_prompts() -> PromptSet {
    let prompts = (0..4)
        .map(|i| {
            format!("prompt {i}: ")
                .chars()
                .chain(
                    "tell me about the history of prefix caching. "
                        .chars()
                        .cycle(),
                )
                .take(1200)
                .collect()
        })
        .collect();
    PromptSet::from_prompts(prompts, 11)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hit_rate_is_the_servers_truth_and_a_hit_saves_its_prefill() {
    let sim = serve_sim(SimSpec {
        ttft: Duration::from_millis(5),
        tpot: Duration::from_millis(1),
        jitter: 0.0,
        prefill_per_token: Duration::from_micros(1_000),
        prefix_cache_tokens: Some(100_000),
        ..SimSpec::default()
    })
    .await;
    let race = spec(&format!(
        "race:\n  name: cache\n  countdown_s: 0\n  users: 1\n  finish: {{requests: 12}}\n  engines:\n    - {{name: cached, url: {}, model: m, max_tokens: 4}}\n",
        sim.base_url()
    ));
    let (outcome, records) = run_with(&race, long_prompts(), Duration::from_secs(30)).await;
    let lane = &outcome.snapshot.lanes[0];
    // The finish line is crossed at 12; the user may have sent a 13th.
    let n = lane.counts.ok;
    assert!(
        (12..=13).contains(&n) && lane.counts.failed == 0,
        "{:?}",
        lane.counts
    );

    // Every record carries the server's count: a prompt's first time is a
    // miss, its later ones hold its 18 whole blocks.
    let cached: Vec<u32> = records.iter().map(|r| r.cached_tokens.unwrap()).collect();
    assert_eq!(cached.iter().filter(|&&c| c == 0).count(), 4, "{cached:?}");
    assert_eq!(
        cached.iter().filter(|&&c| c == 288).count(),
        records.len() - 4
    );

    // The lane's figures are the server's truth.
    let truth = sim.stats();
    let cache = lane
        .prompt_cache
        .as_ref()
        .expect("the server reported its cache");
    assert_eq!(cache.reported_requests, n);
    assert_eq!(cache.hit_requests, n - 4);
    assert_eq!(cache.prompt_tokens, truth.prompt_tokens);
    assert_eq!(cache.cached_tokens, truth.cached_tokens);
    assert_eq!(
        (truth.prompt_tokens, truth.cached_tokens),
        (n * 300, (n - 4) * 288)
    );
    let expected = truth.cached_tokens as f64 / truth.prompt_tokens as f64;
    assert!(
        (cache.hit_rate - expected).abs() < 1e-12,
        "{}",
        cache.hit_rate
    );

    // A miss prefills 300 tokens at 1 ms each; a hit only the 12 uncached.
    assert_close_ms("TTFT of a miss", cache.ttft_miss.p50, 5.0 + 300.0);
    // (The client's few milliseconds of a debug build show at this size.)
    let hit_ms = cache.ttft_hit.p50.as_secs_f64() * 1000.0;
    assert!(
        (17.0..25.0).contains(&hit_ms),
        "TTFT of a hit: {hit_ms:.3} ms, expected 17"
    );
}
