//! The race header: name, countdown or status, whether the engines are
//! simulated (`--simulate`), clock, finish line and request total.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{car, clock};
use crate::metrics::{RacePhase, RaceSnapshot};
use crate::ui::state::UiState;
use crate::ui::theme::Theme;

pub use super::HEADER_HEIGHT;

pub struct Header<'a> {
    pub snap: &'a RaceSnapshot,
    pub ui: &'a UiState,
    pub theme: &'a Theme,
}

impl Header<'_> {
    fn status(&self) -> Vec<Span<'static>> {
        let t = self.theme;
        let snap = self.snap;
        match snap.phase {
            RacePhase::Countdown { remaining } => {
                let secs = remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0);
                if secs > 3 {
                    return vec![Span::styled(format!("starts in {secs}s"), t.title)];
                }
                let current = t.leader.add_modifier(Modifier::REVERSED);
                let mut spans = Vec::new();
                for (i, step) in ["3", "2", "1", "GO!"].iter().enumerate() {
                    if i > 0 {
                        spans.push(Span::styled(" … ", t.dim));
                    }
                    let this = match *step {
                        "GO!" => secs == 0,
                        s => s == secs.to_string(),
                    };
                    let style = if this { current } else { t.dim };
                    spans.push(Span::styled(format!(" {step} "), style));
                }
                spans
            }
            RacePhase::Running if self.ui.stopping => {
                let n: u64 = snap.lanes.iter().map(|l| l.counts.in_flight()).sum();
                let requests = if n == 1 { "request" } else { "requests" };
                vec![Span::styled(
                    format!("STOPPING — finishing {n} in-flight {requests}"),
                    t.ok,
                )]
            }
            RacePhase::Running => vec![Span::styled("RACING", t.good)],
            RacePhase::Finished => {
                let winner = snap
                    .leaderboard
                    .first()
                    .and_then(|&i| snap.lanes.get(i))
                    .map_or_else(
                        || "none".to_string(),
                        |l| format!("{} {}", car(&l.emoji), l.name),
                    );
                vec![Span::styled(
                    format!("FINISHED — winner: {winner}"),
                    t.leader,
                )]
            }
        }
    }

    fn finish_line(&self) -> String {
        let f = &self.snap.finish;
        if let Some(n) = f.requests {
            format!("finish line: {n} ok requests")
        } else if let Some(n) = f.output_tokens {
            format!("finish line: {n} output tokens")
        } else if f.duration_is_finish_line {
            format!("finish line: {}", clock(f.duration))
        } else {
            format!("time limit: {}", clock(f.duration))
        }
    }
}

/// A replay speed as people write it: `0.25`, `0.5`, `1`, `16`.
fn speed(speed: f64) -> String {
    let text = format!("{speed}");
    text.trim_end_matches(".0").to_owned()
}

impl Widget for &Header<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let snap = self.snap;
        let mut first = vec![
            Span::raw(" 🏁 "),
            Span::styled(snap.race_name.clone(), t.title),
            Span::raw("   "),
        ];
        first.extend(self.status());
        // `--simulate`: the numbers are the simulator's, not the engines'.
        if snap.simulated {
            first.push(Span::raw("   "));
            first.push(Span::styled(" SIMULATED ", t.badge_warning));
        }
        // `history: own`: each lane resends its own answers, so the lanes'
        // prompts differ from the second turn on.
        let own_history = snap
            .workload
            .as_ref()
            .and_then(|w| w.shape.as_ref())
            .and_then(|s| s.conversation.as_ref())
            .is_some_and(|c| c.prompts_differ_per_lane);
        if own_history {
            first.push(Span::raw("   "));
            first.push(Span::styled(
                " OWN HISTORY: prompts differ per lane ",
                t.badge_initializing,
            ));
        }
        // A shard's lanes are its part of the load only.
        if let Some(label) = snap.sharding.label() {
            let style = if snap.sharding.is_partial() {
                t.badge_warning
            } else {
                t.badge_initializing
            };
            first.push(Span::raw("   "));
            first.push(Span::styled(format!(" {} ", label.to_uppercase()), style));
        }
        if let Some(playback) = &self.ui.replay {
            let symbol = if playback.playing { "▶" } else { "⏸" };
            first.push(Span::raw("   "));
            first.push(Span::styled(
                format!(
                    " REPLAY {symbol} {}× {} / {} ",
                    speed(playback.speed),
                    clock(playback.position),
                    clock(playback.length)
                ),
                t.badge_warning,
            ));
        }
        if self.ui.paused {
            first.push(Span::raw("   "));
            first.push(Span::styled(" PAUSED ", t.badge_warning));
        }
        // When the load generator cannot keep up, its numbers are its own.
        if snap.client.saturated || snap.client.saturated_now {
            first.push(Span::raw("   "));
            first.push(Span::styled(
                " ⚠ CLIENT SATURATED: numbers may be the load generator's ",
                t.badge_error,
            ));
        }
        let sep = || Span::styled(" │ ", t.dim);
        let mut second = vec![
            Span::styled(" elapsed ", t.dim),
            Span::styled(clock(snap.elapsed), t.text),
            sep(),
            Span::styled("remaining ", t.dim),
            Span::styled(clock(snap.remaining()), t.text),
            sep(),
            Span::styled(self.finish_line(), t.text),
            sep(),
            Span::styled("requests ", t.dim),
            Span::styled(snap.total_requests().to_string(), t.text),
        ];
        if let Some(stage) = &snap.stage {
            second.push(sep());
            second.push(Span::styled(stage.to_string(), t.text));
        }
        // Said where it fits whole (the final table and the reports say it
        // too): a note cut mid-word says nothing.
        const NOT_THE_SAME: &str = "embeddings and generation: not the same figures";
        let used = Line::from(second.clone()).width() + 3;
        if snap.mixes_embeddings() && used + NOT_THE_SAME.len() <= usize::from(area.width) {
            second.push(sep());
            second.push(Span::styled(NOT_THE_SAME, t.ok));
        }
        Paragraph::new(vec![Line::from(first), Line::from(second)]).render(area, buf);
    }
}

/// Big block letters for the countdown, five rows each.
fn glyph(c: char) -> [&'static str; 5] {
    match c {
        '1' => ["  ██  ", "████  ", "  ██  ", "  ██  ", "██████"],
        '2' => ["█████ ", "    ██", " ████ ", "██    ", "██████"],
        '3' => ["█████ ", "    ██", " ████ ", "    ██", "█████ "],
        'G' => [" █████", "██    ", "██  ██", "██  ██", " ████ "],
        'O' => [" ████ ", "██  ██", "██  ██", "██  ██", " ████ "],
        '!' => ["██", "██", "██", "  ", "██"],
        _ => ["", "", "", "", ""],
    }
}

/// The big "3", "2", "1", "GO!" in the middle of the screen before the
/// start (nothing once the race runs).
pub struct CountdownBanner<'a> {
    pub snap: &'a RaceSnapshot,
    pub theme: &'a Theme,
}

impl Widget for &CountdownBanner<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let RacePhase::Countdown { remaining } = self.snap.phase else {
            return;
        };
        let secs = remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0);
        let text = if secs == 0 {
            "GO!".to_string()
        } else {
            secs.to_string()
        };
        let mut rows = [
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ];
        for c in text.chars() {
            for (row, part) in rows.iter_mut().zip(glyph(c)) {
                if !row.is_empty() {
                    row.push(' ');
                }
                row.push_str(part);
            }
        }
        let width = rows.iter().map(|r| r.chars().count()).max().unwrap_or(0);
        let w = u16::try_from(width + 14).unwrap_or(u16::MAX);
        let rect = area.centered(
            ratatui::layout::Constraint::Length(w.min(area.width)),
            ratatui::layout::Constraint::Length(7.min(area.height)),
        );
        if rect.width < w || rect.height < 7 {
            return;
        }
        ratatui::widgets::Clear.render(rect, buf);
        let lines: Vec<Line> = rows
            .into_iter()
            .map(|r| Line::from(Span::styled(r, self.theme.leader)))
            .collect();
        Paragraph::new(lines)
            .centered()
            .block(
                ratatui::widgets::Block::bordered()
                    .border_style(self.theme.border_selected)
                    .title(Line::from(Span::styled(" get ready ", self.theme.title)).centered()),
            )
            .render(rect, buf);
    }
}
