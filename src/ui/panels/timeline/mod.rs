//! The timeline (`t`): every engine's recent finished requests as bars on
//! one axis of race time, up to the snapshot's moment. A bar waits (`░`,
//! scheduled → sent), goes to its first token (`▒`) and decodes (`█`) in the
//! engine's colour; a failed one is drawn in the `bad` style and ends in
//! `✗`. Requests that overlap go on rows of their own within their engine's
//! group, the newest first. ↑/↓ select one of the selected engine's
//! requests, whose figures the caption prints. The requests are the
//! snapshot's (`LaneSnapshot::recent`); this only places them on columns
//! and rows.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::latency;
use crate::metrics::RaceSnapshot;
use crate::metrics::recent::{Outcome, RecentRequest};
use crate::ui::theme::Theme;

mod layout;

use layout::{Axis, Placed, allocate, glyph, pack};
pub use layout::{selected, selected_index, step};

/// What the glyphs mean, on the view's last line.
pub const LEGEND: [(&str, &str); 4] = [
    ("░", " waiting  "),
    ("▒", " to first token  "),
    ("█", " decoding  "),
    ("✗", " failed"),
];

/// Rows below the bars: the axis, its labels, the caption, the legend.
const BOTTOM_ROWS: u16 = 4;

pub struct Timeline<'a> {
    pub snap: &'a RaceSnapshot,
    pub selected_lane: usize,
    /// `UiState::timeline_request`: the pinned request, `None` for the
    /// newest.
    pub selected_request: Option<u64>,
    pub theme: &'a Theme,
}

/// Where the bars go: the plot's left column and its axis (and width).
#[derive(Debug, Clone, Copy)]
struct Plot {
    x: u16,
    axis: Axis,
}

impl Timeline<'_> {
    /// One request's bar on row `y`; `chosen` when it is the selected one.
    fn paint_bar(
        &self,
        buf: &mut Buffer,
        plot: Plot,
        y: u16,
        lane: usize,
        bar: Placed,
        chosen: bool,
    ) {
        let t = self.theme;
        let l = &self.snap.lanes[lane];
        let r = &l.recent[bar.index];
        let color = Style::new().fg(t.lane_color(l.color));
        for x in bar.from..=bar.to.min(plot.axis.width.saturating_sub(1)) {
            let symbol = if !r.is_ok() && x == bar.to {
                "✗"
            } else {
                glyph(r, plot.axis, x)
            };
            let mut style = match (r.outcome, symbol) {
                (Outcome::Failed(_), _) => t.bad,
                (Outcome::Ok, "░") => t.dim,
                (Outcome::Ok, _) => color,
            };
            if chosen {
                style = style.add_modifier(Modifier::REVERSED);
            }
            if let Some(cell) = buf.cell_mut((plot.x + x, y)) {
                cell.set_symbol(symbol).set_style(style);
            }
        }
    }

    /// The engine's name on its group's first row, marked when selected.
    fn paint_name(&self, buf: &mut Buffer, area: Rect, y: u16, lane: usize, width: u16) {
        let t = self.theme;
        let l = &self.snap.lanes[lane];
        let mut style = Style::new().fg(t.lane_color(l.color));
        let marker = if lane == self.selected_lane {
            style = style.add_modifier(Modifier::BOLD);
            Span::styled("▸", t.border_selected)
        } else {
            Span::raw(" ")
        };
        buf.set_span(area.x, y, &marker, 1);
        buf.set_stringn(area.x + 1, y, &l.name, usize::from(width), style);
    }

    /// A request's number, outcome and figures.
    fn request_spans(&self, r: &RecentRequest) -> Vec<Span<'static>> {
        let t = self.theme;
        let (outcome, style) = match r.outcome {
            Outcome::Ok => ("ok".to_owned(), t.good),
            Outcome::Failed(kind) => (format!("failed: {}", kind.name()), t.bad),
        };
        let ttft = r.ttft().map_or_else(|| "–".to_owned(), |d| latency(d, 1));
        let mut text = format!("  send {} · TTFT {ttft} · ", latency(r.send_delay(), 1));
        if let Some(decode) = r.decode() {
            text.push_str(&format!("decode {} · ", latency(decode, 1)));
        }
        text.push_str(&format!(
            "E2E {} · {} tokens",
            latency(r.e2e(), 1),
            r.output_tokens
        ));
        vec![
            Span::styled(format!("#{} ", r.request_id), t.title),
            Span::styled(outcome, style),
            Span::styled(text, t.text),
        ]
    }

    /// Where the screen leaves room: the selected engine's requests, newest
    /// first, the selected one highlighted and in view.
    fn paint_list(&self, buf: &mut Buffer, area: Rect) {
        let t = self.theme;
        let Some(l) = self.snap.lanes.get(self.selected_lane) else {
            return;
        };
        let Some(chosen) = selected_index(&l.recent, self.selected_request) else {
            return;
        };
        let rows = usize::from(area.height.saturating_sub(1));
        let newest_first: Vec<usize> = (0..l.recent.len()).rev().collect();
        let at = newest_first.len() - 1 - chosen;
        let first = (at + 1).saturating_sub(rows);
        let header = Line::from(vec![
            Span::styled(l.name.clone(), Style::new().fg(t.lane_color(l.color))),
            Span::styled(
                format!(": its last {} requests, newest first", l.recent.len()),
                t.dim,
            ),
        ]);
        buf.set_line(area.x, area.y, &header, area.width);
        for (k, &i) in newest_first.iter().skip(first).take(rows).enumerate() {
            let mut line = Line::from(self.request_spans(&l.recent[i]));
            if i == chosen {
                line = line.patch_style(Modifier::REVERSED);
            }
            let y = area.y + 1 + u16::try_from(k).unwrap_or(u16::MAX);
            buf.set_line(area.x, y, &line, area.width);
        }
    }

    /// The selected request's figures, or why there is none.
    fn caption(&self, drawn: bool) -> Line<'static> {
        let t = self.theme;
        let Some(l) = self.snap.lanes.get(self.selected_lane) else {
            return Line::styled("no engine selected", t.dim);
        };
        let Some(r) = selected(&l.recent, self.selected_request) else {
            return Line::styled(format!("{}: no finished request yet", l.name), t.dim);
        };
        let mut spans = self.request_spans(r);
        if !drawn {
            spans.push(Span::styled("  (no room to draw it)", t.dim));
        }
        if l.traces.iter().any(|tr| tr.request_id == r.request_id) {
            spans.push(Span::styled("  traced: i", t.dim));
        }
        Line::from(spans)
    }

    /// The axis line with its three ticks on row `y`, their labels below.
    fn axis_rows(&self, buf: &mut Buffer, plot: Plot, y: u16, bottom: u16) {
        let t = self.theme;
        let axis = plot.axis;
        if axis.width == 0 {
            return;
        }
        let ticks = [0, axis.width / 2, axis.width - 1];
        if y < bottom {
            for x in 0..plot.axis.width {
                let symbol = if ticks.contains(&x) { "┴" } else { "─" };
                if let Some(cell) = buf.cell_mut((plot.x + x, y)) {
                    cell.set_symbol(symbol).set_style(t.dim);
                }
            }
        }
        let y = y + 1;
        if y >= bottom {
            return;
        }
        let left = format!("{}s", axis.from_s);
        let middle = format!("{}s", axis.from_s + axis.span_s() / 2);
        let right = format!("{}s", axis.to_s);
        let w = |s: &str| u16::try_from(s.len()).unwrap_or(u16::MAX);
        buf.set_stringn(plot.x, y, &left, usize::from(plot.axis.width), t.dim);
        let mid_x = (plot.axis.width / 2).saturating_sub(w(&middle) / 2);
        let right_x = plot.axis.width.saturating_sub(w(&right));
        if mid_x > w(&left) && mid_x + w(&middle) < right_x {
            buf.set_stringn(
                plot.x + mid_x,
                y,
                &middle,
                usize::from(plot.axis.width),
                t.dim,
            );
        }
        if right_x > w(&left) {
            buf.set_stringn(
                plot.x + right_x,
                y,
                &right,
                usize::from(plot.axis.width),
                t.dim,
            );
        }
    }
}

impl Widget for &Timeline<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        let t = self.theme;
        let lanes = &self.snap.lanes;
        let name_w = lanes
            .iter()
            .map(|l| Span::raw(l.name.as_str()).width())
            .max()
            .unwrap_or(0)
            .clamp(4, 16);
        let name_w = u16::try_from(name_w).unwrap_or(16).min(area.width / 4);
        // The marker, the name and a space.
        let plot_x = name_w + 2;
        let inner_w = area.width.saturating_sub(2);
        let axis = Axis::of(self.snap, inner_w.saturating_sub(plot_x));
        let block = Block::bordered().border_style(t.border).title(Line::styled(
            format!(" Timeline — recent requests, last {} s ", axis.span_s()),
            t.title,
        ));
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.is_empty() {
            return;
        }
        if lanes.is_empty() {
            Paragraph::new(Line::styled("no engines in this race", t.dim)).render(inner, buf);
            return;
        }
        let plot = Plot {
            x: inner.x + plot_x.min(inner.width),
            axis,
        };
        let (y, chosen_drawn) = self.paint_bars(buf, inner, plot, name_w);
        // The axis right under the bars, then the caption and the legend.
        self.paint_bottom(buf, inner, plot, y, chosen_drawn);
    }
}

impl Timeline<'_> {
    /// Each engine's bars, as many rows as it gets; returns the row under
    /// them and whether the selected request's bar was drawn.
    fn paint_bars(&self, buf: &mut Buffer, inner: Rect, plot: Plot, name_w: u16) -> (u16, bool) {
        let t = self.theme;
        let lanes = &self.snap.lanes;
        let axis = plot.axis;
        let bar_rows = inner.height.saturating_sub(BOTTOM_ROWS);
        let packed: Vec<Vec<Placed>> = lanes.iter().map(|l| pack(&l.recent, axis)).collect();
        let needs: Vec<usize> = packed
            .iter()
            .map(|p| p.iter().map(|b| b.row + 1).max().unwrap_or(1))
            .collect();
        let shown = allocate(&needs, usize::from(bar_rows), self.selected_lane);
        // A blank row between engines where the room allows.
        let used: usize = shown.iter().map(|(_, rows)| rows).sum();
        let gap = u16::from(usize::from(bar_rows) >= used + shown.len().saturating_sub(1));
        let mut y = inner.y;
        let mut chosen_drawn = false;
        for (k, &(lane, rows)) in shown.iter().enumerate() {
            if k > 0 {
                y = y.saturating_add(gap);
            }
            self.paint_name(buf, inner, y, lane, name_w);
            let l = &lanes[lane];
            if l.recent.is_empty() && plot.axis.width > 0 {
                buf.set_stringn(
                    plot.x,
                    y,
                    "no finished request yet",
                    usize::from(plot.axis.width),
                    t.dim,
                );
            }
            let chosen = (lane == self.selected_lane)
                .then(|| selected_index(&l.recent, self.selected_request))
                .flatten();
            for bar in packed[lane].iter().filter(|b| b.row < rows) {
                let row = u16::try_from(bar.row).unwrap_or(u16::MAX);
                let is_chosen = chosen == Some(bar.index);
                if axis.width > 0 {
                    self.paint_bar(buf, plot, y.saturating_add(row), lane, *bar, is_chosen);
                }
                chosen_drawn |= is_chosen;
            }
            y = y.saturating_add(u16::try_from(rows).unwrap_or(u16::MAX));
        }
        (y, chosen_drawn)
    }

    /// The axis at row `axis_y`, the caption, the legend and the list.
    fn paint_bottom(
        &self,
        buf: &mut Buffer,
        inner: Rect,
        plot: Plot,
        axis_y: u16,
        chosen_drawn: bool,
    ) {
        let t = self.theme;
        let bottom = inner.bottom();
        self.axis_rows(buf, plot, axis_y, bottom);
        // A caption too long for the width goes on in the legend's row.
        let mut lines =
            super::break_between_phrases(&self.caption(chosen_drawn), usize::from(inner.width));
        lines.truncate(2);
        lines.push(Line::from(
            LEGEND
                .iter()
                .enumerate()
                .flat_map(|(i, (glyph, what))| {
                    let style = match i {
                        0 => t.dim,
                        3 => t.bad,
                        _ => t.text,
                    };
                    [Span::styled(*glyph, style), Span::styled(*what, t.dim)]
                })
                .collect::<Vec<_>>(),
        ));
        lines.truncate(2);
        for (k, line) in lines.iter().enumerate() {
            let y = axis_y.saturating_add(2 + u16::try_from(k).unwrap_or(0));
            if y < bottom {
                buf.set_line(inner.x, y, line, inner.width);
            }
        }
        // A blank row, then the list, if it can show a few requests.
        let list_y = axis_y.saturating_add(5);
        if list_y.saturating_add(3) < bottom {
            let list = Rect {
                y: list_y,
                height: bottom - list_y,
                ..inner
            };
            self.paint_list(buf, list);
        }
    }
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;

    use super::*;
    use crate::metrics::ErrorKind;
    use crate::ui::state::{UiState, View};
    use crate::ui::test_support::{
        buffer_to_string, render_to_buffer, render_to_string, timeline_fixture,
    };

    fn ui(lanes: usize, lane: usize, request: Option<u64>) -> UiState {
        UiState {
            lane_count: lanes,
            selected_lane: lane,
            view: View::Timeline,
            timeline_request: request,
            ..UiState::default()
        }
    }

    fn theme() -> Theme {
        Theme::default_theme()
    }

    #[test]
    fn timeline_80x24() {
        let snap = timeline_fixture(3);
        let text = render_to_string(&snap, &ui(3, 0, None), &theme(), 80, 24);
        for lane in &snap.lanes {
            assert!(text.contains(&lane.name), "{} missing:\n{text}", lane.name);
        }
        assert!(
            text.contains("Timeline — recent requests, last 22 s"),
            "{text}"
        );
        assert!(text.contains("20s") && text.contains("31s") && text.contains("42s"));
        assert_snapshot!(text);
    }

    #[test]
    fn timeline_140x45_a_pinned_failure() {
        let snap = timeline_fixture(3);
        let text = render_to_string(&snap, &ui(3, 1, Some(209)), &theme(), 140, 45);
        assert!(
            text.contains("#209 failed: http_429  send 0.0ms · TTFT – · E2E 15.0ms · 0 tokens"),
            "{text}"
        );
        assert!(text.contains("░ waiting  ▒ to first token  █ decoding  ✗ failed"));
        assert_snapshot!(text);
    }

    #[test]
    fn a_caption_too_long_for_80_columns_goes_on_in_the_next_row() {
        let mut snap = timeline_fixture(3);
        // A long engine-side story: traced, so the caption ends "traced: i".
        snap.lanes[0].traces = vec![crate::metrics::RequestTrace {
            request_id: 222,
            ..Default::default()
        }];
        let text = render_to_string(&snap, &ui(3, 0, Some(222)), &theme(), 80, 24);
        let lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| {
                l.contains(
                    "#222 ok  send 0.0ms · TTFT 194ms · decode 1.64s · E2E 1.84s · 83 tokens ",
                )
            })
            .unwrap_or_else(|| panic!("{text}"));
        assert!(lines[at + 1].starts_with("│  traced: i "), "{text}");
    }

    #[test]
    fn timeline_ten_lanes_80x24() {
        let snap = timeline_fixture(10);
        let text = render_to_string(&snap, &ui(10, 9, None), &theme(), 80, 24);
        // The rows go to the engines around the selected one.
        assert!(text.contains("aphrodite"), "{text}");
        assert_snapshot!(text);
    }

    #[test]
    fn failures_are_drawn_bad_and_decoding_in_the_engines_colour() {
        let snap = timeline_fixture(3);
        let t = theme();
        let buf = render_to_buffer(&snap, &ui(3, 0, None), &t, 140, 45);
        let lane = &snap.lanes[1];
        let color = t.lane_color(lane.color);
        let cells = buf.content();
        let bad = t.bad.fg.unwrap();
        let crosses: Vec<_> = cells.iter().filter(|c| c.symbol() == "✗").collect();
        assert!(!crosses.is_empty(), "{}", buffer_to_string(&buf));
        assert!(crosses.iter().all(|c| c.fg == bad));
        assert!(
            cells.iter().any(|c| c.symbol() == "█" && c.fg == color),
            "lane 1's decoding in its colour"
        );
        assert!(
            cells
                .iter()
                .any(|c| c.symbol() == "░" && c.fg == t.dim.fg.unwrap())
        );
        // The stream cut mid-answer (lane 0, #209): decoding glyphs, bad style.
        assert_eq!(
            snap.lanes[0]
                .recent
                .iter()
                .find(|r| r.request_id == 209)
                .map(|r| r.outcome),
            Some(Outcome::Failed(ErrorKind::StreamReset))
        );
        let selected = render_to_buffer(&snap, &ui(3, 0, Some(209)), &t, 140, 45);
        let reversed: Vec<_> = selected
            .content()
            .iter()
            .filter(|c| c.modifier.contains(Modifier::REVERSED) && "░▒█✗".contains(c.symbol()))
            .collect();
        assert!(reversed.iter().any(|c| c.symbol() == "█"));
        assert!(
            reversed.iter().all(|c| c.fg == bad),
            "the selected bar is the failure"
        );
    }

    #[test]
    fn the_inspector_shows_the_selected_request_when_it_is_traced() {
        let mut snap = timeline_fixture(3);
        let newest = *snap.lanes[0].recent.last().unwrap();
        snap.lanes[0].traces = vec![
            crate::metrics::RequestTrace {
                request_id: 999,
                prompt_head: "Still streaming".into(),
                ..Default::default()
            },
            crate::metrics::RequestTrace {
                request_id: newest.request_id,
                prompt_head: "Explain the CAP theorem".into(),
                text: " Consistency".into(),
                chunks: 1,
                sent_at: newest.sent_at,
                ttft: Some(std::time::Duration::from_millis(200)),
                ended_at: Some(newest.ended_at),
                ..Default::default()
            },
        ];
        let open = UiState {
            inspector_open: true,
            ..ui(3, 0, None)
        };
        let text = render_to_string(&snap, &open, &theme(), 120, 40);
        let id = format!("#{} done", newest.request_id);
        assert!(text.contains(&id), "{text}");
        assert!(
            !text.contains("Still streaming"),
            "only the selected one: {text}"
        );
        assert!(text.contains("traced: i"), "{text}");
        // An older request has no trace: the inspector says so.
        let older = UiState {
            timeline_request: Some(snap.lanes[0].recent[0].request_id),
            ..open
        };
        let text = render_to_string(&snap, &older, &theme(), 120, 40);
        assert!(text.contains("has no trace"), "{text}");
        assert!(text.contains("Still streaming"), "{text}");
    }
}
