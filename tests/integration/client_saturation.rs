//! The client watches itself: a race whose load generator is blocked says
//! so, and one that keeps up is not flagged. In a test binary of their own,
//! one at a time, since CPU is measured for the whole process.

use std::time::Duration;

use crate::common::{run, spec};

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_client_that_cannot_keep_up_says_so() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let yaml = "race:\n  name: busy\n  countdown_s: 0\n  duration: 4.5\n  users: 2\n  spawn_rate: 100\n  engines:\n    - {name: a, max_tokens: 4, simulate: {ttft_ms: 5, tpot_ms: 1, jitter: 0}}\n";
    // Something on the client's only worker thread blocks it for 30 ms at a
    // time: every timer, send and token waits behind it.
    let hog = tokio::spawn(async {
        loop {
            std::thread::sleep(Duration::from_millis(30));
            tokio::task::yield_now().await;
        }
    });
    let (outcome, _) = run(&spec(yaml), Duration::from_secs(30)).await;
    hog.abort();
    let client = &outcome.snapshot.client;
    assert!(client.samples >= 3, "{client:?}");
    assert!(client.saturated, "{client:?}");
    assert!(
        client.worst_loop_lag > Duration::from_millis(10),
        "{client:?}"
    );
    assert!(client.reason.as_deref().unwrap().contains("event loop"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_keeps_up_is_not_flagged() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let yaml = "race:\n  name: calm\n  countdown_s: 0\n  duration: 3.5\n  users: 2\n  spawn_rate: 100\n  engines:\n    - {name: a, max_tokens: 4, simulate: {ttft_ms: 20, tpot_ms: 5, jitter: 0}}\n";
    let (outcome, _) = run(&spec(yaml), Duration::from_secs(30)).await;
    let client = &outcome.snapshot.client;
    assert!(client.samples >= 3, "{client:?}");
    assert!(!client.saturated, "{client:?}");
    let last = client.last.unwrap();
    assert!(last.cores >= 1 && last.cpu_permille <= 1000);
    assert!(client.send_lag.count > 0);
}
