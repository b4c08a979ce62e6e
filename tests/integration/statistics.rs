//! Numbers with error bars: every percentile of a race carries its 95 %
//! interval in `summary.json` and the reports, and one that too few
//! requests bound is marked so, with the objective judged on it.
use crate::common;

#[test]
fn percentiles_carry_their_intervals_and_a_p99_of_few_requests_says_so() {
    let yaml = "race:\n  name: stats\n  countdown_s: 0\n  users: 2\n  finish: {requests: 30}\n  slo: {ttft_p99_ms: 5000}\n  engines:\n    - {name: sim, max_tokens: 4, simulate: {ttft_ms: 20, tpot_ms: 1, jitter: 0.3}}\n";
    let (output, _tmp, out) = common::headless_race(yaml);
    common::assert_success(&output);
    let dir = common::race_dir(&out);
    let summary = common::summary(&dir);
    let engine = &summary["engines"][0];
    let ttft = &engine["ttft_ms"];
    for name in ["p50", "p90", "p95", "p99", "p999"] {
        let [lo, hi] = [0, 1].map(|i| ttft["ci95"][name][i].as_f64().unwrap());
        let value = ttft[name].as_f64().unwrap();
        // The percentile and its interval come from one histogram: the
        // interval holds it (to the histogram's 0.1 %).
        assert!(
            lo <= value * 1.001 && value <= hi * 1.001,
            "{name}: {value} in [{lo}, {hi}]"
        );
    }
    let few: Vec<&str> = ttft["few_samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(few.contains(&"p99") && few.contains(&"p999"), "{few:?}");
    assert!(!few.contains(&"p50"), "{few:?}");
    let check = &engine["slo"][0];
    assert_eq!(
        (check["pass"].as_bool(), check["few_samples"].as_bool()),
        (Some(true), Some(true))
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("pass (few samples)"), "{stdout}");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("p99 95% CI") && md.contains(", n="), "{md}");
}

/// Two identical engines and one a fifth faster, in a race the clock
/// ends: the twins are too close to call, the faster one is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_engines_tie_and_a_faster_one_does_not() {
    let engine = |name: &str, ttft: u32, tpot: u32| {
        format!(
            "    - {{name: {name}, max_tokens: 16, simulate: {{ttft_ms: {ttft}, tpot_ms: {tpot}, jitter: 0.1, prefill_us_per_token: 0}}}}\n"
        )
    };
    let yaml = format!(
        "race:\n  name: ties\n  countdown_s: 0\n  duration: 10\n  users: 4\n  spawn_rate: 1000\n  engines:\n{}{}{}",
        engine("twin-a", 50, 5),
        engine("twin-b", 50, 5),
        engine("fast", 40, 4),
    );
    let (outcome, _) = common::run(&common::spec(&yaml), std::time::Duration::from_secs(60)).await;
    let s = &outcome.snapshot;
    let by_place: Vec<&llm_locust::metrics::LaneSnapshot> =
        s.leaderboard.iter().map(|&i| &s.lanes[i]).collect();
    assert_eq!(by_place[0].name, "fast");
    for lane in &by_place {
        let ci = lane.rate_ci95.expect("ten whole seconds");
        let [lo, hi] = ci.goodput_rps;
        assert!(
            lo <= lane.rates.goodput_rps && lane.rates.goodput_rps <= hi,
            "{ci:?}"
        );
    }
    assert!(
        !by_place[1].too_close_to_call,
        "{:?}",
        by_place[1].rate_ci95
    );
    assert!(
        by_place[2].too_close_to_call,
        "{:?} vs {:?}",
        by_place[1].rate_ci95, by_place[2].rate_ci95
    );
    // Request by request: each twin is slower than the fast engine, and
    // the twins' median ratio is about 1.
    use llm_locust::metrics::pairs::Verdict;
    let index = |name: &str| s.lanes.iter().position(|l| l.name == name).unwrap();
    let (a, b, fast) = (index("twin-a"), index("twin-b"), index("fast"));
    assert_eq!(s.pairs.len(), 3);
    for pair in &s.pairs {
        let e2e = pair.e2e.expect("both answered");
        assert!(e2e.pairs > 100, "{e2e:?}");
        if (pair.a, pair.b) == (a, b) {
            assert!((0.95..=1.05).contains(&e2e.median), "{e2e:?}");
        } else {
            // `fast` is last in the file: it is `b`, and `a` is slower.
            assert_eq!(pair.b, fast);
            assert_eq!(e2e.verdict(), Verdict::Slower, "{e2e:?}");
            assert_eq!(pair.ttft.unwrap().verdict(), Verdict::Slower);
            assert!((1.15..=1.35).contains(&e2e.median), "{e2e:?}");
        }
    }
}
