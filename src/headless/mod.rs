//! The headless front end (`--no-tui`, and whenever stdout is not a
//! terminal): a countdown and a progress line per engine on stderr while the
//! race runs. It reads snapshots only.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::metrics::commentary::RECONNECTING;
use crate::metrics::{CommentaryKind, ConnectionReuse, ErrorKind, RacePhase, RaceSnapshot};

/// How often progress lines are printed.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// One progress line per engine (`narrow`: in the width of a small
/// terminal).
#[must_use]
pub fn progress_lines(s: &RaceSnapshot, narrow: bool) -> String {
    let width = s
        .lanes
        .iter()
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    if s.client.saturated_now {
        let why = s.client.reason.as_deref().unwrap_or("");
        let _ = writeln!(
            out,
            "[{:>7.1}s] warning: the client is saturated ({why}); numbers may be the load generator's, not the servers'",
            s.elapsed.as_secs_f64()
        );
    }
    if let Some(stage) = &s.stage {
        let _ = writeln!(out, "[{:>7.1}s] {stage}", s.elapsed.as_secs_f64());
    }
    for l in &s.lanes {
        // An embeddings engine's throughput is its inputs, its latency E2E.
        let (per_s, unit, (wide, short), latency) = match l.embeddings {
            None => (
                l.rates.output_tokens_per_s,
                "tok/s",
                ("TTFT p50", "TTFT"),
                &l.latencies.ttft,
            ),
            Some(e) => (
                e.inputs_per_s,
                "in/s ",
                ("E2E p50 ", "E2E "),
                &l.latencies.e2e,
            ),
        };
        let ttft = if latency.count == 0 {
            "-".to_owned()
        } else {
            format!("{:.1} ms", latency.p50.as_secs_f64() * 1000.0)
        };
        let mut trouble = String::new();
        if let Some(n) = l.counts.errors.get(&ErrorKind::Http429) {
            let _ = write!(trouble, "  429 ×{n}");
        }
        if l.waits.backoffs > 0 {
            let _ = write!(trouble, "  backoff {:.1}s", l.waits.time.as_secs_f64());
        }
        let lost = l.arrivals.lost();
        if lost > 0 {
            let _ = write!(trouble, "  dropped {lost}");
        }
        if l.arrivals.late > 0 {
            let _ = write!(trouble, "  late {}", l.arrivals.late);
        }
        if l.connections.retries > 0 {
            let _ = write!(trouble, "  reconnect ×{}", l.connections.retries);
        }
        if let Some(sweep) = &l.sweep {
            let _ = write!(trouble, "  {}", sweep.status());
        }
        if narrow {
            // The same figures in the width of a small terminal.
            let _ = writeln!(
                out,
                "[{:>5.0}s] {:<width$} ok {:>5} fail {:>4} {:>6.1} {unit} {short} {:>8} flight {:>3}{trouble}",
                s.elapsed.as_secs_f64(),
                l.name,
                l.counts.ok,
                l.counts.failed,
                per_s,
                ttft,
                l.counts.in_flight(),
            );
        } else {
            let _ = writeln!(
                out,
                "[{:>7.1}s] {:<width$}  ok {:>6}  failed {:>5}  {:>7.2} req/s  {:>9.1} {unit}  {wide} {:>9}  in flight {:>4}{trouble}",
                s.elapsed.as_secs_f64(),
                l.name,
                l.counts.ok,
                l.counts.failed,
                l.rates.requests_per_s,
                per_s,
                ttft,
                l.counts.in_flight(),
            );
        }
    }
    out
}

/// Terminals narrower than this get the short progress lines.
const NARROW: usize = 130;

/// A line for each engine whose client has stopped reusing connections
/// since the last call (`said`: the engines already told of), at the time
/// the commentary gives it.
#[must_use]
pub fn reconnecting_lines(s: &RaceSnapshot, said: &mut Vec<bool>) -> String {
    said.resize(s.lanes.len(), false);
    let mut out = String::new();
    for (engine, lane) in s.lanes.iter().enumerate() {
        if lane.connections.reuse != ConnectionReuse::Stopped || said[engine] {
            continue;
        }
        said[engine] = true;
        let at = s
            .commentary
            .iter()
            .find(|c| c.kind == CommentaryKind::Reconnecting && c.engine == Some(engine))
            .map_or(s.elapsed, |c| c.at);
        let _ = writeln!(
            out,
            "[{:>7.1}s] {}: {RECONNECTING}",
            at.as_secs_f64(),
            lane.name
        );
    }
    out
}

/// The line for `count` seconds to go, if it gets one: the last ten each
/// second, a longer wait (a shard's `--start-at`) when it begins and every
/// ten seconds, so a log shows the wait without a line a second for an hour.
fn countdown_line(count: u64, first: bool) -> Option<String> {
    if count <= 10 {
        Some(format!("{count}…"))
    } else if first || count % 10 == 0 {
        Some(format!("starting in {count} s"))
    } else {
        None
    }
}

/// Prints the countdown and progress lines to `out` until the race ends
/// (the snapshot channel closes or the final snapshot arrives).
pub async fn report_progress(
    mut snapshots: watch::Receiver<Arc<RaceSnapshot>>,
    every: Duration,
    mut out: impl Write,
    width: Option<usize>,
) {
    let mut last_count: Option<u64> = None;
    let mut said_go = false;
    let mut next_progress = every;
    let mut said_reconnecting = vec![false; snapshots.borrow().lanes.len()];
    loop {
        let snap = snapshots.borrow_and_update().clone();
        let _ = write!(out, "{}", reconnecting_lines(&snap, &mut said_reconnecting));
        match snap.phase {
            RacePhase::Countdown { remaining } => {
                let count = remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0);
                if count > 0 && last_count != Some(count) {
                    if let Some(line) = countdown_line(count, last_count.is_none()) {
                        let _ = writeln!(out, "{line}");
                    }
                    last_count = Some(count);
                }
            }
            RacePhase::Running => {
                if !said_go {
                    let _ = writeln!(out, "GO!");
                    said_go = true;
                }
                if snap.elapsed >= next_progress {
                    let narrow = width.is_some_and(|w| w < NARROW);
                    for line in progress_lines(&snap, narrow).lines() {
                        let _ = writeln!(out, "{}", crate::report::table::fit(line, width));
                    }
                    while next_progress <= snap.elapsed {
                        next_progress += every;
                    }
                }
            }
            RacePhase::Finished => break,
        }
        let _ = out.flush();
        if snapshots.changed().await.is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::CommentaryLine;
    use crate::ui::test_support::snapshot_fixture;

    #[test]
    fn a_long_wait_is_said_every_ten_seconds_then_each_second() {
        let lines: Vec<String> = (1..=25)
            .rev()
            .filter_map(|count| countdown_line(count, count == 25))
            .collect();
        let mut expected = vec!["starting in 25 s".to_owned(), "starting in 20 s".to_owned()];
        expected.extend((1..=10).rev().map(|n| format!("{n}…")));
        assert_eq!(lines, expected);
    }

    #[test]
    fn a_stop_of_connection_reuse_is_said_once_at_its_time() {
        let mut snap = snapshot_fixture(2);
        let mut said = Vec::new();
        assert_eq!(reconnecting_lines(&snap, &mut said), "");
        snap.lanes[1].connections.reuse = ConnectionReuse::Stopped;
        snap.commentary.push(CommentaryLine {
            at: Duration::from_millis(3_250),
            engine: Some(1),
            kind: CommentaryKind::Reconnecting,
            text: String::new(),
        });
        let name = &snap.lanes[1].name;
        assert_eq!(
            reconnecting_lines(&snap, &mut said),
            format!(
                "[    3.2s] {name}: server closes connections after each stream: reconnecting\n"
            )
        );
        assert_eq!(reconnecting_lines(&snap, &mut said), "", "said once");
    }
}

#[cfg(test)]
mod embeddings_tests {
    use super::*;
    use crate::metrics::figures::EmbeddingRates;
    use crate::ui::test_support::snapshot_fixture;

    #[test]
    fn an_embeddings_lane_says_its_inputs_and_latency_not_tokens() {
        let mut snap = snapshot_fixture(2);
        snap.lanes[0].embeddings = Some(EmbeddingRates {
            inputs_per_request: 4,
            inputs: 1000,
            inputs_per_s: 123.4,
            input_tokens_per_s: 5000.0,
        });
        for narrow in [false, true] {
            let text = progress_lines(&snap, narrow);
            let lines: Vec<&str> = text.lines().collect();
            assert!(
                lines[0].contains("123.4 in/s") && lines[0].contains("E2E"),
                "{text}"
            );
            assert!(
                !lines[0].contains("tok/s") && !lines[0].contains("TTFT"),
                "{text}"
            );
            assert!(
                lines[1].contains("tok/s") && lines[1].contains("TTFT"),
                "{text}"
            );
        }
    }
}
