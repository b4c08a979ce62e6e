//! The headless front end (`--no-tui`, and whenever stdout is not a
//! terminal): a countdown and a progress line per engine on stderr while the
//! race runs. It reads snapshots only.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::metrics::{ErrorKind, RacePhase, RaceSnapshot};

/// How often progress lines are printed.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// One progress line per engine.
#[must_use]
pub fn progress_lines(s: &RaceSnapshot) -> String {
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
        let ttft = if l.ttft.count == 0 {
            "-".to_owned()
        } else {
            format!("{:.1} ms", l.ttft.p50.as_secs_f64() * 1000.0)
        };
        let mut trouble = String::new();
        if let Some(n) = l.errors.get(&ErrorKind::Http429) {
            let _ = write!(trouble, "  429 ×{n}");
        }
        if l.backoffs > 0 {
            let _ = write!(trouble, "  backoff {:.1}s", l.backoff_time.as_secs_f64());
        }
        let lost = l.lost_arrivals();
        if lost > 0 {
            let _ = write!(trouble, "  dropped {lost}");
        }
        if l.late_arrivals > 0 {
            let _ = write!(trouble, "  late {}", l.late_arrivals);
        }
        if let Some(sweep) = &l.sweep {
            let _ = write!(trouble, "  {}", sweep.status());
        }
        let _ = writeln!(
            out,
            "[{:>7.1}s] {:<width$}  ok {:>6}  failed {:>5}  {:>7.2} req/s  {:>9.1} tok/s  TTFT p50 {:>9}  in flight {:>4}{trouble}",
            s.elapsed.as_secs_f64(),
            l.name,
            l.requests_ok,
            l.requests_failed,
            l.requests_per_s,
            l.output_tokens_per_s,
            ttft,
            l.in_flight,
        );
    }
    out
}

/// Prints the countdown and progress lines to `out` until the race ends
/// (the snapshot channel closes or the final snapshot arrives).
pub async fn report_progress(
    mut snapshots: watch::Receiver<Arc<RaceSnapshot>>,
    every: Duration,
    mut out: impl Write,
) {
    let mut last_count: Option<u64> = None;
    let mut said_go = false;
    let mut next_progress = every;
    loop {
        let snap = snapshots.borrow_and_update().clone();
        match snap.phase {
            RacePhase::Countdown { remaining } => {
                let count = remaining.as_secs_f64().ceil() as u64;
                if count > 0 && last_count != Some(count) {
                    let _ = writeln!(out, "{count}…");
                    last_count = Some(count);
                }
            }
            RacePhase::Running => {
                if !said_go {
                    let _ = writeln!(out, "GO!");
                    said_go = true;
                }
                if snap.elapsed >= next_progress {
                    let _ = write!(out, "{}", progress_lines(&snap));
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
