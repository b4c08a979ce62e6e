//! A polite and honest client over real HTTP on 127.0.0.1: rate limits and
//! failing servers are backed off from per user, open-loop load keeps its
//! schedule and counts every arrival it offered, and failures keep their
//! reasons.
use crate::common;

use std::time::Duration;

use crate::common::{headless_race, run, serve_sim, spec};
use llm_locust::config::{FaultKind, SimSpec};
use llm_locust::metrics::ErrorKind;

fn always(kind: FaultKind) -> SimSpec {
    SimSpec {
        ttft: Duration::from_millis(5),
        tpot: Duration::from_millis(1),
        jitter: 0.0,
        faults: [(kind, 1.0)].into(),
        ..SimSpec::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_and_failures_are_backed_off_per_user_without_slowing_other_lanes() {
    let limited = serve_sim(always(FaultKind::Http429)).await;
    let failing = serve_sim(always(FaultKind::Http500)).await;
    let yaml = format!(
        "race:\n  name: polite\n  countdown_s: 0\n  duration: 3\n  spawn_rate: 100\n  engines:\n    - {{name: limited, url: {}, model: m}}\n    - {{name: failing, url: {}, model: m}}\n    - {{name: healthy, max_tokens: 4, simulate: {{ttft_ms: 5, tpot_ms: 1, jitter: 0}}}}\n  load: {{users: 4}}\n",
        limited.base_url(),
        failing.base_url()
    );
    let (outcome, _) = run(&spec(&yaml), Duration::from_secs(30)).await;
    let lanes = &outcome.snapshot.lanes;
    // Retry-After: 1 on every 429: each of 4 users asks about once a second.
    let asked = limited.stats().requests_received;
    assert!(
        asked <= 4 * 5,
        "{asked} requests to a server saying Retry-After: 1"
    );
    assert!(asked >= 4 * 2, "{asked}");
    assert_eq!(
        lanes[0].counts.errors.get(&ErrorKind::Http429),
        Some(&asked)
    );
    assert!(
        lanes[0].waits.retry_afters >= 4 && lanes[0].waits.retry_afters == lanes[0].waits.backoffs
    );
    assert!(lanes[0].waits.time >= Duration::from_secs(4));
    // A 500 with no Retry-After: 100 ms doubling, per user.
    let failed = failing.stats().requests_received;
    assert!(
        failed <= 4 * 8,
        "{failed} requests to a failing server in 3 s"
    );
    assert!(lanes[1].waits.backoffs > 0 && lanes[1].waits.retry_afters == 0);
    // The healthy lane's users never waited, and kept their pace: four
    // users of ~9 ms requests make ~1,300 in 3 s.
    assert_eq!(lanes[2].waits.backoffs, 0);
    assert_eq!(lanes[2].counts.failed, 0);
    assert!(lanes[2].counts.ok > 500, "{}", lanes[2].counts.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_keeps_its_schedule_against_a_rate_limit() {
    let limited = serve_sim(always(FaultKind::Http429)).await;
    let yaml = format!(
        "race:\n  name: open\n  countdown_s: 0\n  load: {{mode: constant, rate: 20, max_in_flight: 4}}\n  finish: {{duration_s: 2, grace_s: 1}}\n  engines:\n    - {{name: limited, url: {}, model: m}}\n",
        limited.base_url()
    );
    let (outcome, _) = run(&spec(&yaml), Duration::from_secs(20)).await;
    let lane = &outcome.snapshot.lanes[0];
    assert!(lane.counts.started >= 38, "{}", lane.counts.started);
    assert_eq!(lane.waits.backoffs, 0, "arrivals are not held back");
    assert_eq!(lane.counts.failed, limited.stats().requests_received);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_offered_arrival_is_counted_and_rates_are_over_them() {
    let yaml = r"
race:
  name: offered
  countdown_s: 0
  load: {mode: constant, rate: 30, max_in_flight: 1}
  finish: {duration_s: 1, grace_s: 3}
  slo: {error_rate_max: 0.5}
  engines:
    - name: slow
      max_tokens: 5
      simulate: {ttft_ms: 1500, tpot_ms: 10, jitter: 0, prefill_us_per_token: 0}
";
    let (outcome, _) = run(&spec(yaml), Duration::from_secs(20)).await;
    let lane = &outcome.snapshot.lanes[0];
    // 30 arrivals in 1 s; the first holds the only slot for 1.5 s, the
    // second waits for it (late) until the stop, the rest are dropped.
    assert_eq!((lane.counts.started, lane.counts.ok), (1, 1));
    assert_eq!(lane.arrivals.late, 1);
    assert_eq!(lane.arrivals.unsent, 1, "the arrival waiting at the stop");
    assert!(lane.arrivals.dropped >= 27, "{}", lane.arrivals.dropped);
    assert_eq!(
        lane.arrivals.offered,
        lane.counts.started + lane.arrivals.dropped + lane.arrivals.unsent
    );
    assert!(
        lane.arrivals.offered >= 29,
        "{} offered",
        lane.arrivals.offered
    );
    #[allow(clippy::cast_precision_loss)]
    let expected = lane.counts.ok as f64 / (lane.arrivals.offered - lane.counts.cancelled) as f64;
    assert!(
        (lane.rates.success_rate - expected).abs() < 1e-9,
        "{}",
        lane.rates.success_rate
    );
    assert!(!lane.slo_pass, "most of the offered load was lost");
    let table = llm_locust::report::table::leaderboard_table(&outcome.snapshot);
    let lost = (lane.arrivals.dropped + lane.arrivals.unsent).to_string();
    assert!(
        table.contains("dropped") && table.contains(&lost),
        "{table}"
    );
    let progress = llm_locust::headless::progress_lines(&outcome.snapshot, false);
    assert!(progress.contains(&format!("dropped {lost}")), "{progress}");
}

#[test]
fn failures_keep_their_reasons_in_the_csv_summary_and_output() {
    let (output, _tmp, out) = headless_race(
        "race:\n  name: reasons\n  countdown_s: 0\n  duration: 1\n  users: 1\n  engines:\n    - {name: broken, max_tokens: 4, simulate: {ttft_ms: 5, tpot_ms: 1, faults: {http_500: 1.0}}}\n",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("broken failed"), "{stdout}");
    assert!(
        stdout.contains("× http_5xx: HTTP 500:") && stdout.contains("simulated internal error"),
        "{stdout}"
    );
    let dir = common::race_dir(&out);
    let summary = common::summary(&dir);
    let samples = &summary["engines"][0]["error_samples"];
    assert_eq!(samples[0]["kind"], "http_5xx");
    assert!(
        samples[0]["message"]
            .as_str()
            .unwrap()
            .contains("simulated internal error")
    );
    let csv = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .unwrap();
    let mut reader = csv::Reader::from_path(csv).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = headers.iter().position(|h| h == "error_message").unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r[column].contains("simulated internal error"))
    );
}
