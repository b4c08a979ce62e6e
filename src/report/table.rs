//! The plain-text leaderboard printed at the end of a headless race (and
//! after the TUI closes).

use std::fmt::Write as _;
use std::time::Duration;

use crate::metrics::snapshot::{NOT_COMPARABLE, TIE_NOTE};
use crate::metrics::{LaneSnapshot, LaneState, RaceSnapshot};

fn ms(d: Duration, count: u64) -> String {
    if count == 0 {
        "-".to_owned()
    } else {
        format!("{:.1}", d.as_secs_f64() * 1000.0)
    }
}

/// `line` cut to `width` characters (the last one an ellipsis) when it is
/// longer; whole without a width.
#[must_use]
pub fn fit(line: &str, width: Option<usize>) -> String {
    match width {
        Some(w) if line.chars().count() > w => {
            let mut cut: String = line.chars().take(w.saturating_sub(1)).collect();
            cut.push('…');
            cut
        }
        _ => line.to_owned(),
    }
}

/// `text` wrapped at spaces to lines of at most `width` characters, the
/// lines after the first indented by two (a word longer than a line is
/// cut); whole without a width.
#[must_use]
pub fn wrap(text: &str, width: Option<usize>) -> String {
    let Some(width) = width.filter(|w| *w > 8) else {
        return text.to_owned();
    };
    let mut lines: Vec<String> = vec![String::new()];
    for word in text.split(' ') {
        let line = lines.last_mut().map_or(0, |l| l.chars().count());
        if line > 0 && line + 1 + word.chars().count() > width {
            lines.push("  ".to_owned());
        }
        let Some(line) = lines.last_mut() else { break };
        if !line.trim().is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines
        .iter()
        .map(|l| fit(l, Some(width)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why requests failed: each engine's first few distinct messages, most
/// frequent first, each line cut to `width`. Empty when nothing failed.
#[must_use]
pub fn error_samples(s: &RaceSnapshot, width: Option<usize>) -> String {
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
            let line = format!("  {:>6} × {}: {}", e.count, e.kind.name(), message);
            let _ = writeln!(out, "{}", fit(&line, width));
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
    leaderboard_table_for(s, None)
}

/// The final leaderboard for a terminal `width` wide: columns that do not
/// fit go to a second block (and a third...), each led by the place and
/// the engine, so no row wraps. Without a width, one block.
#[must_use]
pub fn leaderboard_table_for(s: &RaceSnapshot, width: Option<usize>) -> String {
    let columns = columns_of(s);
    let header: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    rows.extend(s.leaderboard.iter().map(|&i| {
        let lane = &s.lanes[i];
        columns
            .iter()
            .map(|(_, cell)| cell(lane))
            .collect::<Vec<_>>()
    }));
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
    let mut table = in_blocks(&rows, &[1, header.len() - 1], width);
    if s.lanes.iter().any(|l| l.too_close_to_call) {
        table.push_str(&wrap(&format!("{TIE_NOTE}\n"), width));
    }
    if s.mixes_embeddings() {
        table.push_str(&wrap(&format!("note: {NOT_COMPARABLE}\n"), width));
    }
    table
}

/// `rows` in blocks no wider than `width`: every block has the first two
/// columns (place and engine), then as many of the others, in order, as
/// fit.
fn in_blocks(rows: &[Vec<String>], left: &[usize], width: Option<usize>) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let Some(limit) = width else {
        return aligned(rows, left);
    };
    let lead = widths[0] + 2 + widths[1];
    let mut blocks: Vec<Vec<usize>> = vec![vec![0, 1]];
    let mut used = lead;
    for (c, w) in widths.iter().enumerate().skip(2) {
        if used + 2 + w > limit && blocks.last().is_some_and(|b| b.len() > 2) {
            blocks.push(vec![0, 1]);
            used = lead;
        }
        if let Some(block) = blocks.last_mut() {
            block.push(c);
        }
        used += 2 + w;
    }
    let parts: Vec<String> = blocks
        .iter()
        .map(|block| {
            let sub: Vec<Vec<String>> = rows
                .iter()
                .map(|r| block.iter().map(|&c| r[c].clone()).collect())
                .collect();
            let sub_left: Vec<usize> = block
                .iter()
                .enumerate()
                .filter(|(_, c)| left.contains(c))
                .map(|(i, _)| i)
                .collect();
            aligned(&sub, &sub_left)
        })
        .collect();
    parts.join("\n")
}

/// One engine's row of the leaderboard.
/// One cell of the final table, drawn from a lane.
type Cell = fn(&LaneSnapshot) -> String;

/// The final table's columns: those of generation when an engine
/// generates, those of embeddings when one embeds; a cell that does not
/// apply to its lane is "-", never a zero.
fn columns_of(s: &RaceSnapshot) -> Vec<(&'static str, Cell)> {
    let generates = s.lanes.iter().any(|l| l.embeddings.is_none());
    let embeds = s.lanes.iter().any(|l| l.embeddings.is_some());
    let mut columns: Vec<(&'static str, Cell)> = vec![
        // "2=": too close to call with the engine above.
        ("#", |l| {
            let tie = if l.too_close_to_call { "=" } else { "" };
            format!("{}{tie}", l.place)
        }),
        ("engine", |l| l.name.clone()),
        ("ok", |l| l.counts.ok.to_string()),
        ("failed", |l| l.counts.failed.to_string()),
        ("dropped", |l| l.arrivals.lost().to_string()),
        ("late", |l| l.arrivals.late.to_string()),
        ("req/s", |l| format!("{:.2}", l.rates.requests_per_s)),
    ];
    if generates {
        columns.push(("out tok/s", |l| {
            generated(l, || format!("{:.1}", l.rates.output_tokens_per_s))
        }));
    }
    if embeds {
        columns.push(("inputs/s", |l| {
            l.embeddings
                .map_or_else(|| "-".to_owned(), |e| format!("{:.1}", e.inputs_per_s))
        }));
        columns.push(("in tok/s", |l| {
            l.embeddings.map_or_else(
                || "-".to_owned(),
                |e| format!("{:.1}", e.input_tokens_per_s),
            )
        }));
    }
    columns.push(("goodput", |l| format!("{:.2}", l.rates.goodput_rps)));
    if generates {
        columns.extend([
            (
                "TTFT p50",
                (|l| ms(l.latencies.ttft.p50, l.latencies.ttft.count)) as Cell,
            ),
            ("TTFT p99", |l| {
                ms(l.latencies.ttft.p99, l.latencies.ttft.count)
            }),
            ("TTFOT p50", |l| {
                ms(l.latencies.ttfot.p50, l.latencies.ttfot.count)
            }),
            ("TPOT p50", |l| {
                ms(l.latencies.tpot.p50, l.latencies.tpot.count)
            }),
        ]);
    }
    if embeds {
        columns.push(("E2E p50", |l| {
            ms(l.latencies.e2e.p50, l.latencies.e2e.count)
        }));
    }
    columns.extend([
        (
            "E2E p99",
            (|l| ms(l.latencies.e2e.p99, l.latencies.e2e.count)) as Cell,
        ),
        ("finish", finish_cell),
        ("SLO", slo_cell),
    ]);
    columns
}

/// `figure` for a lane that generates; "-" for an embeddings lane.
fn generated(l: &LaneSnapshot, figure: impl FnOnce() -> String) -> String {
    if l.embeddings.is_some() {
        "-".to_owned()
    } else {
        figure()
    }
}

fn finish_cell(l: &LaneSnapshot) -> String {
    match (l.state, l.finished_at) {
        (LaneState::Finished, Some(t)) => format!("{:.1}s", t.as_secs_f64()),
        (LaneState::OutOfTime, _) => "DNF".to_owned(),
        (LaneState::Stopped, _) => "stopped".to_owned(),
        _ => "-".to_owned(),
    }
}

fn slo_cell(l: &LaneSnapshot) -> String {
    if l.slo_checks.is_empty() {
        "-".to_owned()
    } else if l.slo_pass && l.slo_checks.iter().any(|c| c.few_samples) {
        "pass (few samples)".to_owned()
    } else if l.slo_pass {
        "pass".to_owned()
    } else {
        let failed: Vec<String> = l
            .slo_checks
            .iter()
            .filter(|c| !c.pass)
            .map(|c| match c.actual {
                Some(_) if c.few_samples => format!("{} (few samples)", c.kind.name()),
                Some(_) => c.kind.name().to_owned(),
                None => format!("{} (no data)", c.kind.name()),
            })
            .collect();
        format!("FAIL {}", failed.join(", "))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_narrow_terminal_gets_the_table_in_blocks_led_by_place_and_engine() {
        let snap = crate::ui::test_support::failing_fixture();
        let whole = leaderboard_table(&snap);
        assert!(whole.lines().any(|l| l.chars().count() > 80), "{whole}");
        let fitted = leaderboard_table_for(&snap, Some(80));
        assert!(fitted.lines().all(|l| l.chars().count() <= 80), "{fitted}");
        let blocks: Vec<&str> = fitted.split("\n\n").collect();
        assert!(blocks.len() >= 2, "{fitted}");
        for block in &blocks {
            assert!(block.starts_with("#  engine"), "{block}");
        }
        // Every column is still there, once.
        for column in [
            "TTFT p50", "TTFT p99", "E2E p99", "finish", "SLO", "goodput",
        ] {
            assert_eq!(fitted.matches(column).count(), 1, "{column} in {fitted}");
        }
        // Without a width, one block as before.
        assert_eq!(leaderboard_table_for(&snap, None), whole);
    }

    #[test]
    fn a_place_too_close_to_call_is_marked_and_explained() {
        let mut snap = crate::ui::test_support::snapshot_fixture(3);
        let second = snap.leaderboard[1];
        snap.lanes[second].too_close_to_call = true;
        let table = leaderboard_table(&snap);
        let row = table
            .lines()
            .find(|l| l.contains(&snap.lanes[second].name))
            .unwrap();
        assert!(row.starts_with("2= "), "{table}");
        assert!(table.contains(TIE_NOTE), "{table}");
        snap.lanes[second].too_close_to_call = false;
        assert!(!leaderboard_table(&snap).contains(TIE_NOTE));
    }

    #[test]
    fn lines_are_cut_and_sentences_wrapped_to_the_width() {
        assert_eq!(fit("abcdef", Some(4)), "abc…");
        assert_eq!(fit("abc", Some(4)), "abc");
        assert_eq!(fit("abcdef", None), "abcdef");
        let text = "race 'Demo', 3 engines (prefill-king, decode-demon, overbooked), 10 users";
        let wrapped = wrap(text, Some(30));
        assert!(
            wrapped.lines().all(|l| l.chars().count() <= 30),
            "{wrapped}"
        );
        assert!(
            wrapped.lines().skip(1).all(|l| l.starts_with("  ")),
            "{wrapped}"
        );
        assert_eq!(
            wrapped.split_whitespace().collect::<Vec<_>>(),
            text.split_whitespace().collect::<Vec<_>>(),
            "no word lost"
        );
    }
}
