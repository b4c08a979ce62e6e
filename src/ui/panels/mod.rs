//! The panels the race screen is made of. Each is a small struct borrowing
//! its data and implementing `Widget for &Panel` (STYLE rule 10). Panels
//! only format numbers and pick colours and glyphs; every metric comes
//! precomputed in the snapshot.

pub mod charts;
pub mod commentary;
pub mod drill;
pub mod explainer;
pub mod footer;
pub mod header;
pub mod help;
pub mod inspector;
mod lane_cells;
pub mod lanes;
pub mod leaderboard;
pub mod sweep;
pub mod timeline;

use std::time::Duration;

use ratatui::style::Style;

use super::theme::Theme;
use crate::metrics::{Grade, Health, Trend};

/// `m:ss` (or `h:mm:ss`).
#[must_use]
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A latency: `231ms`, `23.4ms`, `1.23s`; `—` when there is no data.
#[must_use]
pub fn latency(d: Duration, count: u64) -> String {
    if count == 0 {
        return "—".to_string();
    }
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 1000.0 {
        format!("{:.2}s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{ms:.1}ms")
    }
}

/// Seconds with one decimal: `12.3s`.
#[must_use]
pub fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[must_use]
pub fn grade_style(theme: &Theme, grade: Grade) -> Style {
    match grade {
        Grade::Good => theme.good,
        Grade::Ok => theme.ok,
        Grade::Bad => theme.bad,
        Grade::Unknown => theme.dim,
    }
}

#[must_use]
pub fn trend_arrow(trend: Trend) -> &'static str {
    match trend {
        Trend::Rising => "↑",
        Trend::Falling => "↓",
        Trend::Steady => "→",
    }
}

/// The health badge text and style.
#[must_use]
pub fn health_badge(theme: &Theme, health: Health) -> (&'static str, Style) {
    match health {
        Health::Initializing => (" STARTING ", theme.badge_initializing),
        Health::Healthy => (" HEALTHY ", theme.badge_healthy),
        Health::Warning => (" WARNING ", theme.badge_warning),
        Health::Error => (" ERROR ", theme.badge_error),
    }
}

/// A lane's place, or "–" while it has finished no request: nothing is
/// claimed before it happened (no medal at GO).
#[must_use]
pub fn lane_place(l: &crate::metrics::LaneSnapshot) -> String {
    if finished_none(l) {
        place_label(0)
    } else {
        place_label(l.place)
    }
}

/// No request of the lane has finished yet, well or badly.
#[must_use]
pub fn finished_none(l: &crate::metrics::LaneSnapshot) -> bool {
    l.counts.ok == 0 && l.counts.failed == 0
}

/// 🥇🥈🥉 for the podium, then `4.` etc.
#[must_use]
pub fn place_label(place: usize) -> String {
    match place {
        1 => "🥇".to_string(),
        2 => "🥈".to_string(),
        3 => "🥉".to_string(),
        0 => "–".to_string(),
        n => format!("{n}."),
    }
}

/// The lane's emoji, or a plain dot when it has none.
#[must_use]
pub fn car(emoji: &str) -> &str {
    if emoji.trim().is_empty() {
        "●"
    } else {
        emoji
    }
}

/// `line` cut into pieces at most `width` characters wide, at spaces
/// where it can.
pub fn wrap(line: &str, width: usize) -> Vec<String> {
    if width == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut current = String::new();
    for word in line.split(' ') {
        let len = current.chars().count();
        let word_len = word.chars().count();
        if len > 0 && len + 1 + word_len > width {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
        while current.chars().count() > width {
            let head: String = current.chars().take(width).collect();
            current = current.chars().skip(width).collect();
            out.push(head);
        }
    }
    out.push(current);
    out
}

/// `line` in lines of at most `width` columns, broken only after a phrase
/// (at a ` · ` or a double space), each further line indented by two; a
/// phrase longer than the width is cut by the edge.
#[must_use]
pub fn break_between_phrases(
    line: &ratatui::text::Line<'static>,
    width: usize,
) -> Vec<ratatui::text::Line<'static>> {
    use ratatui::text::{Line, Span};
    let cells: Vec<(char, ratatui::style::Style)> = line
        .spans
        .iter()
        .flat_map(|s| s.content.chars().map(move |c| (c, s.style)))
        .collect();
    let text: Vec<char> = cells.iter().map(|(c, _)| *c).collect();
    let col = |from: usize, to: usize| Span::raw(text[from..to].iter().collect::<String>()).width();
    let mut rows: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    let mut indent = 0;
    while col(start, text.len()) + indent > width {
        // The last break that keeps the row in the width.
        // A break is the `·` of ` · `, or the second space of a double
        // space before a word.
        let breaks = (start + 1..text.len().saturating_sub(1)).filter(|&i| {
            let (before, at, after) = (text[i - 1], text[i], text[i + 1]);
            before == ' ' && ((at == '·' && after == ' ') || (at == ' ' && after != ' '))
        });
        let Some(cut) = breaks.rev().find(|&i| col(start, i - 1) + indent <= width) else {
            break;
        };
        rows.push((start, cut - 1));
        start = cut + 1;
        while start < text.len() && text[start] == ' ' {
            start += 1;
        }
        indent = 2;
    }
    rows.push((start, text.len()));
    rows.into_iter()
        .enumerate()
        .map(|(k, (from, to))| {
            let mut spans = Vec::new();
            if k > 0 {
                spans.push(Span::raw("  "));
            }
            for (c, style) in &cells[from..to] {
                match spans.last_mut() {
                    Some(last) if last.style == *style => last.content.to_mut().push(*c),
                    _ => spans.push(Span::styled(c.to_string(), *style)),
                }
            }
            Line::from(spans)
        })
        .collect()
}

/// Rows the header takes.
pub const HEADER_HEIGHT: u16 = 2;

/// The smallest terminal the race screen is drawn in.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Names in at most `width` columns each that stay apart: when one does
/// not fit, the start every name shares (to its last separator) gives way
/// to an ellipsis (`engine-number-1`, `engine-number-10` read `…1`, `…10`),
/// then a name still too long is cut at its end.
#[must_use]
pub fn names_apart(names: &[&str], width: usize) -> Vec<String> {
    let fits = |s: &str| ratatui::text::Span::raw(s).width() <= width;
    let cut_each = || names.iter().map(|n| fit(n, width)).collect();
    if names.len() < 2 || names.iter().all(|n| fits(n)) {
        return cut_each();
    }
    let first: Vec<char> = names[0].chars().collect();
    let shared = names[1..].iter().fold(first.len(), |shared, name| {
        first
            .iter()
            .zip(name.chars())
            .take(shared)
            .take_while(|(a, b)| **a == *b)
            .count()
    });
    // As little of the shared start as makes the longest fit, cut after a
    // separator: `engine-number-1` … `engine-number-10` in 12 columns read
    // `…number-1` … `…number-10`; cutting inside "number" or to the
    // shared "engine-number-1" would leave `…` and `…0`.
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let needed = (longest + 1).saturating_sub(width);
    let boundaries: Vec<usize> = (0..shared)
        .filter(|&i| matches!(first[i], '-' | '_' | ' ' | '.' | '/' | ':'))
        .map(|i| i + 1)
        .collect();
    let cut = boundaries
        .iter()
        .copied()
        .find(|&b| b >= needed)
        .or_else(|| boundaries.last().copied())
        .unwrap_or(shared);
    let rests: Vec<String> = names
        .iter()
        .map(|n| n.chars().skip(cut).collect())
        .collect();
    if cut < 3 || rests.iter().any(String::is_empty) {
        return cut_each();
    }
    rests
        .iter()
        .map(|rest| fit(&format!("…{rest}"), width))
        .collect()
}

/// `s` in at most `width` columns: whole when it fits, else cut with an
/// ellipsis.
#[must_use]
pub fn fit(s: &str, width: usize) -> String {
    if ratatui::text::Span::raw(s).width() <= width {
        return s.to_owned();
    }
    let mut out = String::new();
    for c in s.chars() {
        let next = format!("{out}{c}");
        if ratatui::text::Span::raw(next.as_str()).width() + 1 > width {
            break;
        }
        out = next;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// `s` padded with spaces to `width` display columns.
#[must_use]
pub fn pad(s: &str, width: usize) -> String {
    let w = ratatui::text::Span::raw(s).width();
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_caption_breaks_after_a_phrase() {
        use ratatui::style::Style;
        use ratatui::text::{Line, Span};
        let line = Line::from(vec![
            Span::styled("#222 ", Style::new().bold()),
            Span::raw(
                "failed: stream_reset  send 0.0ms · TTFT 194ms · decode 1.64s · E2E 1.84s · 83 tokens  traced: i",
            ),
        ]);
        let rows: Vec<String> = break_between_phrases(&line, 78)
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(
            rows,
            [
                "#222 failed: stream_reset  send 0.0ms · TTFT 194ms · decode 1.64s · E2E 1.84s",
                "  83 tokens  traced: i",
            ]
        );
        assert!(rows.iter().all(|r| r.chars().count() <= 78));
        // The first span keeps its style.
        assert_eq!(
            break_between_phrases(&line, 78)[0].spans[0].style,
            Style::new().bold()
        );
        // A line that fits is one row.
        assert_eq!(break_between_phrases(&line, 200).len(), 1);
    }

    #[test]
    fn names_that_share_a_start_are_told_apart_by_their_ends() {
        let names: Vec<String> = (1..=10).map(|i| format!("engine-number-{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let shown = names_apart(&names, 12);
        assert_eq!(shown[0], "…number-1");
        assert_eq!(shown[9], "…number-10");
        // Narrower, more of the shared start goes.
        let shown = names_apart(&names, 5);
        assert_eq!((shown[0].as_str(), shown[9].as_str()), ("…1", "…10"));
        // Names that fit are left alone; a name that is the others' start
        // keeps the plain cut.
        assert_eq!(names_apart(&["vllm", "tgi"], 10), ["vllm", "tgi"]);
        assert_eq!(
            names_apart(&["vllm", "vllm-tuned-long-name"], 8),
            ["vllm", "vllm-tu…"]
        );
        assert_eq!(
            names_apart(&["prefill-king", "decode-demon", "overbooked"], 10),
            ["prefill-k…", "decode-de…", "overbooked"]
        );
    }

    #[test]
    fn long_lines_wrap_at_spaces_and_words_longer_than_the_width_are_cut() {
        assert_eq!(
            wrap("time to first token", 10),
            ["time to", "first", "token"]
        );
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 5), [""]);
        assert!(wrap("x", 0).is_empty());
    }
}
