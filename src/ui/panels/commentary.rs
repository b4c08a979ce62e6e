//! The commentary panel: the newest lines of the race's commentary feed
//! that fit, newest at the bottom, each `m:ss ● text` with the engine's
//! colour dot. Anomalies are drawn in the warning or bad style, finishes in
//! the good one. It only formats `snap.commentary`: every line was written
//! by the metrics.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::{clock, wrap};
use crate::metrics::commentary::Tone;
use crate::metrics::{CommentaryKind, CommentaryLine, RaceSnapshot};
use crate::ui::theme::Theme;

pub struct Commentary<'a> {
    pub snap: &'a RaceSnapshot,
    pub theme: &'a Theme,
}

impl Commentary<'_> {
    fn style(&self, kind: CommentaryKind) -> Style {
        let t = self.theme;
        match kind.tone() {
            Tone::Bad => t.bad,
            Tone::Warning => t.ok,
            Tone::Good => t.good,
            Tone::Neutral => t.text,
        }
    }

    /// A line of the feed, wrapped to `width` columns: the time and the
    /// engine's dot on the first row, the text's rest indented below.
    fn rows(&self, line: &CommentaryLine, width: usize) -> Vec<Line<'static>> {
        let t = self.theme;
        let dot = match line.engine.and_then(|i| self.snap.lanes.get(i)) {
            Some(lane) => Span::styled("●", Style::new().fg(t.lane_color(lane.color))),
            None => Span::styled("·", t.dim),
        };
        let style = self.style(line.kind);
        let pieces = wrap(&line.text, width.saturating_sub(INDENT).max(8));
        let mut rows = Vec::with_capacity(pieces.len());
        for (n, piece) in pieces.into_iter().enumerate() {
            if n == 0 {
                rows.push(Line::from(vec![
                    Span::styled(format!("{:>5}", clock(line.at)), t.dim),
                    Span::raw("  "),
                    dot.clone(),
                    Span::raw(" "),
                    Span::styled(piece, style),
                ]));
            } else {
                rows.push(Line::from(vec![
                    Span::raw(" ".repeat(INDENT)),
                    Span::styled(piece, style),
                ]));
            }
        }
        rows
    }
}

/// Columns before a line's text: `m:ss  ● `.
const INDENT: usize = 10;

impl Widget for &Commentary<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        let t = self.theme;
        let block = Block::bordered()
            .border_style(t.border)
            .title(Span::styled(" Commentary ", t.title));
        let inner = block.inner(area);
        block.render(area, buf);
        let lines = &self.snap.commentary;
        let text: Vec<Line> = if lines.is_empty() {
            vec![Line::from(Span::styled("no news yet", t.dim)).centered()]
        } else {
            // The newest lines that fit, wrapped, newest at the bottom.
            let rows = usize::from(inner.height);
            let width = usize::from(inner.width);
            let mut shown: Vec<Line> = Vec::new();
            for l in lines.iter().rev() {
                let wrapped = self.rows(l, width);
                if shown.len() + wrapped.len() > rows {
                    break;
                }
                shown.splice(0..0, wrapped);
            }
            shown
        };
        Paragraph::new(text).render(inner, buf);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use insta::assert_snapshot;
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::widgets::Widget;

    use super::*;
    use crate::ui::test_support::{buffer_to_string, snapshot_fixture};

    fn line(s: u64, engine: Option<usize>, kind: CommentaryKind, text: &str) -> CommentaryLine {
        CommentaryLine {
            at: Duration::from_secs(s),
            engine,
            kind,
            text: text.to_owned(),
        }
    }

    fn feed() -> RaceSnapshot {
        let mut snap = snapshot_fixture(3);
        snap.commentary = vec![
            line(
                2,
                Some(0),
                CommentaryKind::LeadChange,
                "vllm takes the lead",
            ),
            line(
                9,
                Some(1),
                CommentaryKind::FirstTo,
                "tgi is first to 100 requests",
            ),
            line(
                14,
                Some(2),
                CommentaryKind::LatencySpike,
                "sglang: TTFT spike to 900 ms (7.5× its median 120 ms)",
            ),
            line(
                21,
                Some(1),
                CommentaryKind::LeadChange,
                "tgi takes the lead from vllm",
            ),
            line(
                33,
                Some(2),
                CommentaryKind::ErrorBurst,
                "sglang: 6 failures in a second (http_429)",
            ),
            line(
                40,
                Some(0),
                CommentaryKind::SloAtRisk,
                "vllm: TTFT p99 930 ms, near its 1000 ms SLO",
            ),
            line(
                75,
                Some(1),
                CommentaryKind::Finished,
                "tgi crosses the line in 74.2 s, 1st",
            ),
        ];
        snap
    }

    fn draw(snap: &RaceSnapshot, theme: &Theme, w: u16, h: u16) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        Commentary { snap, theme }.render(buf.area, &mut buf);
        buf
    }

    #[test]
    fn commentary_60x8_shows_the_newest_lines() {
        let text = buffer_to_string(&draw(&feed(), &Theme::default_theme(), 60, 8));
        // Six rows inside the border: the oldest line is left out.
        assert!(!text.contains("0:02"), "{text}");
        assert!(text.lines().nth(6).unwrap().contains("1:15"), "{text}");
        assert_snapshot!(text);
    }

    #[test]
    fn commentary_empty() {
        let snap = snapshot_fixture(3);
        assert_snapshot!(buffer_to_string(&draw(
            &snap,
            &Theme::default_theme(),
            60,
            8
        )));
    }

    #[test]
    fn anomalies_use_the_bad_or_warning_style_and_milestones_do_not() {
        let t = Theme::default_theme();
        let buf = draw(&feed(), &t, 60, 8);
        let row_of = |needle: &str| {
            (0..buf.area.height)
                .find(|&y| {
                    let row: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
                    row.contains(needle)
                })
                .unwrap()
        };
        // The text starts after "m:ss  ● " inside the border.
        let text_x = 1 + 5 + 2 + 2;
        let burst = &buf[(text_x, row_of("6 failures"))];
        assert_eq!(burst.symbol(), "s");
        assert_eq!(burst.fg, t.bad.fg.unwrap());
        assert_eq!(buf[(text_x, row_of("TTFT spike"))].fg, t.ok.fg.unwrap());
        assert_eq!(buf[(text_x, row_of("crosses"))].fg, t.good.fg.unwrap());
        assert_ne!(buf[(text_x, row_of("from vllm"))].fg, t.bad.fg.unwrap());
        // The dot is in the engine's colour.
        let dot = &buf[(text_x - 2, row_of("crosses"))];
        assert_eq!(dot.symbol(), "●");
        assert_eq!(dot.fg, t.lane_color(feed().lanes[1].color));
    }

    #[test]
    fn a_tiny_area_draws_without_panic() {
        for (w, h) in [(0, 0), (1, 1), (2, 2), (10, 3), (60, 2)] {
            draw(&feed(), &Theme::default_theme(), w, h);
        }
    }
}
