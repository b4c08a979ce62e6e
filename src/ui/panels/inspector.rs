//! The live request inspector: for the selected engine, its few most recent
//! requests — prompt, the response streaming in, the TTFT moment, token
//! count and timing — from the bounded trace ring in the snapshot.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};

use crate::metrics::{LaneSnapshot, RaceSnapshot, RequestTrace};
use crate::ui::state::UiState;
use crate::ui::theme::Theme;

pub struct InspectorPanel<'a> {
    pub lane: Option<&'a LaneSnapshot>,
    /// Time since the start signal, for the age of in-flight requests.
    pub now: std::time::Duration,
    pub theme: &'a Theme,
    /// The timeline's selected request: shown alone when it is traced.
    pub focus: Option<u64>,
}

fn ms(d: std::time::Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

impl InspectorPanel<'_> {
    fn trace_lines(&self, t: &RequestTrace, width: usize) -> Vec<Line<'static>> {
        let theme = self.theme;
        let end = t.ended_at.unwrap_or(self.now);
        let (status, style) = match (&t.error, t.ended_at) {
            (Some(kind), _) => (format!("failed: {kind}"), theme.bad),
            (None, Some(_)) => ("done".to_owned(), theme.good),
            (None, None) => ("streaming…".to_owned(), theme.ok),
        };
        let mut header = vec![
            Span::styled(format!("#{} ", t.request_id), theme.title),
            Span::styled(status, style),
            Span::styled(
                format!(
                    "  {} tokens  {:.1} s",
                    t.chunks,
                    end.saturating_sub(t.sent_at).as_secs_f64()
                ),
                theme.text,
            ),
        ];
        if let Some(ttft) = t.ttft {
            header.push(Span::styled(format!("  TTFT {}", ms(ttft)), theme.leader));
        }
        // Only a reasoning model's answer starts after its first token.
        if let Some(ttfot) = t.ttfot.filter(|&a| Some(a) != t.ttft) {
            header.push(Span::styled(
                format!("  answer {}", ms(ttfot)),
                theme.leader,
            ));
        }
        let prompt: String = t
            .prompt_head
            .chars()
            .take(width.saturating_sub(4))
            .collect();
        let mut lines = vec![
            Line::from(header),
            Line::from(Span::styled(format!("› {prompt}"), theme.dim)),
        ];
        let mut response = vec![];
        if let Some(ttft) = t.ttft {
            response.push(Span::styled(format!("⚑{} ", ms(ttft)), theme.leader));
        } else {
            response.push(Span::styled("waiting for the first token…", theme.dim));
        }
        // The newest text matters most: keep the tail that fits two lines.
        let room = width.saturating_mul(2).saturating_sub(12);
        let count = t.text.chars().count();
        let skip = count.saturating_sub(room);
        // Reasoning is dimmed; the answer's start gets its own mark.
        let answer_at = match (t.answer_starts_at, t.ttfot) {
            (Some(at), Some(ttfot)) if at > 0 => Some((at.max(skip), ttfot)),
            _ => None,
        };
        let piece = |from: usize, to: usize| -> String {
            t.text
                .chars()
                .skip(from)
                .take(to.saturating_sub(from))
                .collect::<String>()
                .replace('\n', " ")
        };
        match answer_at {
            Some((at, ttfot)) => {
                response.push(Span::styled(piece(skip, at), theme.dim));
                response.push(Span::styled(format!(" ✎{} ", ms(ttfot)), theme.leader));
                response.push(Span::styled(piece(at, count), theme.text));
            }
            None if t.ttft.is_some() && t.ttfot.is_none() => {
                response.push(Span::styled(piece(skip, count), theme.dim));
            }
            None => response.push(Span::styled(piece(skip, count), theme.text)),
        }
        if t.ended_at.is_none() && t.ttft.is_some() {
            response.push(Span::styled("▌", theme.leader));
        }
        lines.push(Line::from(response));
        if let Some(message) = &t.error_message {
            lines.push(Line::from(Span::styled(
                format!("! {}", message.replace('\n', " ")),
                theme.bad,
            )));
        }
        lines
    }
}

impl Widget for &InspectorPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let title = match self.lane {
            Some(l) => format!(
                " Inspector — {} {}  (←/→ or Tab switch, i close) ",
                l.emoji, l.name
            ),
            None => " Inspector ".to_owned(),
        };
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(self.theme.border_selected)
            .title(Span::styled(title, self.theme.title));
        let inner = block.inner(area);
        block.render(area, buf);
        let width = usize::from(inner.width);
        let mut lines: Vec<Line<'static>> = Vec::new();
        let focused = self
            .lane
            .zip(self.focus)
            .and_then(|(lane, id)| lane.traces.iter().find(|t| t.request_id == id));
        if let (Some(id), None) = (self.focus, focused) {
            lines.push(Line::from(Span::styled(
                format!(
                    "#{id} has no trace (4 requests an engine are traced at a time); the latest:"
                ),
                self.theme.dim,
            )));
        }
        match (focused, self.lane) {
            (Some(t), _) => lines.extend(self.trace_lines(t, width)),
            (None, Some(lane)) if !lane.traces.is_empty() => {
                for t in &lane.traces {
                    if !lines.is_empty() {
                        lines.push(Line::from(""));
                    }
                    lines.extend(self.trace_lines(t, width));
                }
            }
            _ => lines.push(Line::from(Span::styled("no request yet", self.theme.dim))),
        }
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(inner, buf);
    }
}

/// Draws the inspector for the selected lane into `area`.
pub fn render_inspector_area(
    frame: &mut Frame,
    area: Rect,
    snap: &RaceSnapshot,
    ui: &UiState,
    theme: &Theme,
) {
    let panel = InspectorPanel {
        lane: snap.lanes.get(ui.selected_lane),
        now: snap.elapsed,
        theme,
        focus: None,
    };
    frame.render_widget(&panel, area);
}
