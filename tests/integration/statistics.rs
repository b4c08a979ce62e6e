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
