//! The plain-text leaderboard printed at the end of a headless race (and
//! after the TUI closes).

use std::fmt::Write as _;
use std::time::Duration;

use crate::metrics::{LaneSnapshot, LaneState, RaceSnapshot};

fn ms(d: Duration, count: u64) -> String {
    if count == 0 {
        "-".to_owned()
    } else {
        format!("{:.1}", d.as_secs_f64() * 1000.0)
    }
}

/// Why requests failed: each engine's first few distinct messages, most
/// frequent first. Empty when nothing failed.
#[must_use]
pub fn error_samples(s: &RaceSnapshot) -> String {
    let mut out = String::new();
    for &i in &s.leaderboard {
        let l = &s.lanes[i];
        if l.error_samples.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{} failed {} requests:", l.name, l.counts.failed);
        let mut samples: Vec<_> = l.error_samples.iter().collect();
        samples.sort_by_key(|e| std::cmp::Reverse(e.count));
        for e in samples.iter().take(SAMPLES_SHOWN) {
            let message = e.message.replace(['\n', '\r'], " ");
            let _ = writeln!(out, "  {:>6} × {}: {}", e.count, e.kind.name(), message);
        }
    }
    out
}

/// A sweep's answer per engine, in leaderboard order: the maximum
/// sustainable load and where it broke (empty when no engine swept).
#[must_use]
pub fn sweep_answers(s: &RaceSnapshot) -> String {
    let mut out = String::new();
    for &i in &s.leaderboard {
        let l = &s.lanes[i];
        if let Some(sweep) = &l.sweep {
            let tput = sweep
                .max_sustainable
                .as_ref()
                .map_or_else(String::new, |f| {
                    format!(
                        " ({:.2} req/s, {:.1} output tok/s)",
                        f.requests_per_s, f.output_tokens_per_s
                    )
                });
            let _ = writeln!(out, "{}: {}{tput}", l.name, sweep.status());
        }
    }
    out
}

/// Distinct messages printed per engine.
const SAMPLES_SHOWN: usize = 3;

/// The final leaderboard as an aligned table.
#[must_use]
pub fn leaderboard_table(s: &RaceSnapshot) -> String {
    let header = [
        "#",
        "engine",
        "ok",
        "failed",
        "dropped",
        "late",
        "req/s",
        "out tok/s",
        "goodput",
        "TTFT p50",
        "TTFT p99",
        "TTFOT p50",
        "TPOT p50",
        "E2E p99",
        "finish",
        "SLO",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    rows.extend(s.leaderboard.iter().map(|&i| row(&s.lanes[i])));
    // Cost only where an engine has a price: other races' tables stay as they were.
    if s.lanes.iter().any(|l| l.cost.is_some()) {
        rows[0].push("$/1M out".to_owned());
        rows[0].push("cheapest".to_owned());
        for (row, &i) in rows[1..].iter_mut().zip(&s.leaderboard) {
            let lane = &s.lanes[i];
            row.push(
                lane.cost
                    .and_then(|c| c.per_million_output)
                    .map_or_else(|| "-".to_owned(), |c| format!("{c:.2}")),
            );
            row.push(
                lane.cheapest
                    .map_or_else(|| "-".to_owned(), |r| r.to_string()),
            );
        }
    }
    aligned(&rows, &[1, header.len() - 1])
}

/// One engine's row of the leaderboard.
fn row(l: &LaneSnapshot) -> Vec<String> {
    let finish = match (l.state, l.finished_at) {
        (LaneState::Finished, Some(t)) => format!("{:.1}s", t.as_secs_f64()),
        (LaneState::OutOfTime, _) => "DNF".to_owned(),
        (LaneState::Stopped, _) => "stopped".to_owned(),
        _ => "-".to_owned(),
    };
    let slo = if l.slo_checks.is_empty() {
        "-".to_owned()
    } else if l.slo_pass {
        "pass".to_owned()
    } else {
        let failed: Vec<String> = l
            .slo_checks
            .iter()
            .filter(|c| !c.pass)
            .map(|c| match c.actual {
                Some(_) => c.kind.name().to_owned(),
                None => format!("{} (no data)", c.kind.name()),
            })
            .collect();
        format!("FAIL {}", failed.join(", "))
    };
    vec![
        l.place.to_string(),
        l.name.clone(),
        l.counts.ok.to_string(),
        l.counts.failed.to_string(),
        l.arrivals.lost().to_string(),
        l.arrivals.late.to_string(),
        format!("{:.2}", l.rates.requests_per_s),
        format!("{:.1}", l.rates.output_tokens_per_s),
        format!("{:.2}", l.rates.goodput_rps),
        ms(l.latencies.ttft.p50, l.latencies.ttft.count),
        ms(l.latencies.ttft.p99, l.latencies.ttft.count),
        ms(l.latencies.ttfot.p50, l.latencies.ttfot.count),
        ms(l.latencies.tpot.p50, l.latencies.tpot.count),
        ms(l.latencies.e2e.p99, l.latencies.e2e.count),
        finish,
        slo,
    ]
}

/// The rows as columns, two spaces apart, a rule under the first; the
/// `left` columns left-aligned, the rest right-aligned.
fn aligned(rows: &[Vec<String>], left: &[usize]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            if left.contains(&c) {
                let _ = write!(out, "{cell}{}  ", " ".repeat(pad));
            } else {
                let _ = write!(out, "{}{cell}  ", " ".repeat(pad));
            }
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('\n');
        if n == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}
