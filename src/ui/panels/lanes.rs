//! The race track: one lane per engine, in its colour, with its emoji as
//! the car at its distance toward the finish line, its numbers, and (when
//! there is room) sparklines of the last minute.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::{car, finished_none, health_badge, lane_place, latency, names_apart, pad};
use crate::metrics::{ConnectionReuse, LaneSnapshot};
use crate::ui::theme::Theme;

/// Columns a one-line lane gives its engine's name: at most, and at least
/// (before its track gets its least).
const LINE_NAME_MAX: usize = 12;
const LINE_NAME_MIN: usize = 4;
/// Columns a one-line lane's track keeps before its name gets more.
const LINE_TRACK_MIN: usize = 8;

/// Seconds of history the sparklines show at most.
pub const SPARK_SECONDS: usize = 60;

/// How much room each lane gets, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneMode {
    /// Bordered; track, numbers and sparklines on three lines.
    Full,
    /// Bordered; track with numbers, then sparklines.
    Medium,
    /// No border; track with numbers, then sparklines.
    Compact,
    /// One line, no border, no sparklines.
    Line,
}

impl LaneMode {
    pub const ALL: [LaneMode; 4] = [
        LaneMode::Full,
        LaneMode::Medium,
        LaneMode::Compact,
        LaneMode::Line,
    ];

    /// Rows one lane takes.
    #[must_use]
    pub fn height(self) -> u16 {
        match self {
            LaneMode::Full => 5,
            LaneMode::Medium => 4,
            LaneMode::Compact => 2,
            LaneMode::Line => 1,
        }
    }
}

/// Every lane, stacked.
pub struct LanesPanel<'a> {
    pub lanes: &'a [LaneSnapshot],
    pub selected: usize,
    pub mode: LaneMode,
    pub theme: &'a Theme,
}

impl Widget for &LanesPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let h = self.mode.height();
        let mut panels: Vec<LanePanel> = self
            .lanes
            .iter()
            .enumerate()
            .map(|(i, lane)| LanePanel {
                lane,
                selected: i == self.selected,
                mode: self.mode,
                theme: self.theme,
                short_name: String::new(),
                name_width: 0,
                track_width: None,
            })
            .collect();
        let one_line = matches!(self.mode, LaneMode::Line | LaneMode::Compact);
        let with_metrics = self.mode == LaneMode::Line;
        // The name column takes what the numbers and a usable track leave,
        // up to its most.
        let others = if one_line {
            panels
                .iter()
                .map(|p| p.line_used(with_metrics))
                .max()
                .unwrap_or(0)
        } else {
            0
        };
        let room = usize::from(area.width)
            .saturating_sub(others + LINE_TRACK_MIN)
            .clamp(LINE_NAME_MIN, LINE_NAME_MAX);
        let names: Vec<&str> = self.lanes.iter().map(|l| l.name.as_str()).collect();
        let names = names_apart(&names, room);
        let name_width = names
            .iter()
            .map(|n| Span::raw(n.as_str()).width())
            .max()
            .unwrap_or(0);
        for (p, name) in panels.iter_mut().zip(names) {
            p.short_name = name;
            p.name_width = name_width;
        }
        // One-line tracks are equally long, so the cars' places compare:
        // the longest lane's numbers set every lane's track.
        if one_line {
            let track = panels
                .iter()
                .map(|p| usize::from(area.width).saturating_sub(p.line_used(with_metrics)))
                .min();
            for p in &mut panels {
                p.track_width = track;
            }
        }
        let mut y = area.y;
        for panel in &panels {
            if y.saturating_add(h) > area.bottom() {
                break;
            }
            panel.render_ref(Rect::new(area.x, y, area.width, h), buf);
            y += h;
        }
    }
}

/// One engine's lane.
pub struct LanePanel<'a> {
    pub lane: &'a LaneSnapshot,
    pub selected: bool,
    pub mode: LaneMode,
    pub theme: &'a Theme,
    /// The name a one-line lane shows (kept apart from the others').
    pub short_name: String,
    /// Columns of the one-line lanes' name column.
    pub name_width: usize,
    /// Every one-line lane's track width (`None`: what this lane leaves).
    pub track_width: Option<usize>,
}

impl LanePanel<'_> {
    fn render_ref(&self, area: Rect, buf: &mut Buffer) {
        Widget::render(self, area, buf);
    }

    fn lane_style(&self) -> Style {
        Style::new().fg(self.theme.lane_color(self.lane.color))
    }

    fn name_style(&self) -> Style {
        self.lane_style().add_modifier(Modifier::BOLD)
    }

    /// The track: `━━━━🚀·······🏁`, exactly `width` columns (or empty).
    fn track(&self, width: usize) -> Vec<Span<'static>> {
        let car = car(&self.lane.emoji).to_string();
        let car_w = Span::raw(car.as_str()).width();
        let flag = "🏁";
        let flag_w = Span::raw(flag).width();
        if width < car_w + flag_w + 2 {
            return Vec::new();
        }
        let track_len = width - car_w - flag_w;
        let p = if self.lane.progress.is_finite() {
            self.lane.progress.clamp(0.0, 1.0)
        } else {
            0.0
        };
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let pos = ((p * track_len as f64).round() as usize).min(track_len);
        vec![
            Span::styled("━".repeat(pos), self.lane_style()),
            Span::raw(car),
            Span::styled("·".repeat(track_len - pos), self.theme.dim),
            Span::raw(flag),
        ]
    }

    /// ok, failed, req/s, success %, in flight.
    fn stats(&self, compact: bool) -> Vec<Span<'static>> {
        let l = self.lane;
        let t = self.theme;
        let fail_style = if l.counts.failed > 0 { t.bad } else { t.dim };
        let ok = if compact {
            format!("{:>4}", l.counts.ok)
        } else {
            l.counts.ok.to_string()
        };
        let mut spans = vec![Span::styled("ok ", t.dim), Span::styled(ok, t.text)];
        if compact {
            // Fixed widths, so the tracks of one-line lanes line up.
            spans.push(Span::styled(
                format!(" ✗{:<4}", l.counts.failed),
                fail_style,
            ));
            spans.push(Span::styled(
                format!("{:>5.1}r/s", l.rates.requests_per_s),
                t.text,
            ));
            let share = if finished_none(l) {
                "   –".to_owned()
            } else {
                format!(" {:>3.0}%", l.rates.success_rate * 100.0)
            };
            spans.push(Span::styled(share, t.text));
        } else {
            spans.push(Span::styled("  fail ", t.dim));
            spans.push(Span::styled(l.counts.failed.to_string(), fail_style));
            spans.push(Span::styled(
                format!("  {:.1} req/s", l.rates.requests_per_s),
                t.text,
            ));
            if !finished_none(l) {
                spans.push(Span::styled(
                    format!("  {:.1}% ok", l.rates.success_rate * 100.0),
                    t.text,
                ));
            }
            spans.push(Span::styled(
                format!("  {} in flight", l.counts.in_flight()),
                t.dim,
            ));
            if let Some(per_million) = l.cost.and_then(|c| c.per_million_output) {
                spans.push(Span::styled(format!("  ${per_million:.2}/1M out"), t.text));
            }
            if let Some(sweep) = &l.sweep {
                spans.push(Span::styled(format!("  {}", sweep.status()), t.text));
            }
            // A reasoning model's answer starts after its first token.
            if l.latencies.ttfot.count > 0 && l.latencies.ttfot.p50 != l.latencies.ttft.p50 {
                spans.push(Span::styled(
                    format!(
                        "  answer {}",
                        latency(l.latencies.ttfot.p50, l.latencies.ttfot.count)
                    ),
                    t.text,
                ));
            }
            // The server's prefix cache, once its answers report it.
            if let Some(cache) = &l.prompt_cache {
                spans.push(Span::styled(
                    format!("  cache {:.0}%", cache.hit_rate * 100.0),
                    t.text,
                ));
            }
        }
        spans
    }

    /// What a person must see where it happens: rate limits, waiting, and
    /// load that never went out. Empty while there is none.
    fn trouble(&self, compact: bool) -> Vec<Span<'static>> {
        let l = self.lane;
        let t = self.theme;
        let mut notes: Vec<(String, Style)> = Vec::new();
        if let Some(n) = l.counts.errors.get(&crate::metrics::ErrorKind::Http429) {
            notes.push((format!("429 ×{n}"), t.bad));
        }
        if l.waits.backoffs > 0 {
            let secs = l.waits.time.as_secs_f64();
            let text = if compact {
                format!("⏸{secs:.0}s")
            } else {
                format!("backoff {secs:.1}s")
            };
            notes.push((text, t.ok));
        }
        let lost = l.arrivals.lost();
        if lost > 0 {
            notes.push((format!("dropped {lost}"), t.bad));
        }
        if l.arrivals.late > 0 && !compact {
            notes.push((format!("late {}", l.arrivals.late), t.ok));
        }
        // The server closes its connections: not failures, but a cost.
        if l.connections.reuse == ConnectionReuse::Stopped {
            let text = if compact { "↻" } else { "reconnecting" };
            notes.push((text.to_owned(), t.ok));
        } else if l.connections.retries > 0 && !compact {
            notes.push((format!("reconnect ×{}", l.connections.retries), t.ok));
        }
        let mut spans = Vec::new();
        for (text, style) in notes {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(text, style));
        }
        if !spans.is_empty() && !compact {
            spans.push(Span::raw(" "));
        }
        spans
    }

    /// Fills `width` columns: numbers first, then the track gets what is left.
    fn track_and_numbers(&self, width: usize, numbers: Vec<Span<'static>>) -> Line<'static> {
        let numbers_w = Line::from(numbers.clone()).width();
        let track_w = width.saturating_sub(numbers_w + 1);
        let mut spans = self.track(track_w);
        if !spans.is_empty() {
            spans.push(Span::raw(" "));
        }
        spans.extend(numbers);
        Line::from(spans)
    }

    fn block(&self) -> Block<'static> {
        let l = self.lane;
        let t = self.theme;
        let border = if self.selected {
            t.border_selected
        } else {
            t.border
        };
        let (badge, badge_style) = health_badge(t, l.grades.health);
        let left = Line::from(vec![
            Span::raw(" "),
            Span::raw(car(&l.emoji).to_string()),
            Span::raw(" "),
            Span::styled(l.name.clone(), self.name_style()),
            Span::styled(format!(" {} ", l.model), t.dim),
        ]);
        let right = Line::from(vec![
            Span::raw(" "),
            Span::styled(lane_place(l), t.text),
            Span::raw(" "),
            Span::styled(badge, badge_style),
            Span::raw(" "),
        ])
        .right_aligned();
        let mut block = Block::bordered()
            .border_style(border)
            .title(left)
            .title(right)
            .title_bottom(Line::from(self.trouble(false)));
        if let Some(server) = &l.server {
            block = block.title_bottom(
                Line::from(Span::styled(format!(" {} ", server_line(server)), t.dim))
                    .right_aligned(),
            );
        }
        block
    }

    /// A one-line lane's parts around its track: marker, place and name
    /// (with a gap) before it; numbers, health and trouble after it.
    fn line_parts(&self, with_metrics: bool) -> (Vec<Span<'static>>, Vec<Span<'static>>) {
        let l = self.lane;
        let t = self.theme;
        let marker = if self.selected {
            Span::styled("▶", t.border_selected)
        } else {
            Span::raw(" ")
        };
        let name_width = self
            .name_width
            .max(Span::raw(self.short_name.as_str()).width());
        let before = vec![
            marker,
            Span::styled(pad(&lane_place(l), 4), t.text),
            Span::styled(pad(&self.short_name, name_width + 1), self.name_style()),
        ];
        let (badge, badge_style) = short_badge(t, l.grades.health);
        let mut numbers = self.stats(true);
        if with_metrics {
            // One line only: req/s and success % give way to latencies.
            numbers.truncate(3);
            numbers.extend(self.metrics_text());
        }
        numbers.push(Span::raw(" "));
        numbers.push(Span::styled(badge, badge_style));
        numbers.extend(self.trouble(true));
        (before, numbers)
    }

    /// Columns a one-line lane's parts take besides its track.
    fn line_used(&self, with_metrics: bool) -> usize {
        let (before, after) = self.line_parts(with_metrics);
        Line::from(before).width() + Line::from(after).width() + 1
    }

    /// One line: marker, place, name, track, numbers, health.
    fn line_row(&self, width: usize, with_metrics: bool) -> Line<'static> {
        let l = self.lane;
        let (mut spans, numbers) = self.line_parts(with_metrics);
        let track_w = self
            .track_width
            .unwrap_or_else(|| width.saturating_sub(self.line_used(with_metrics)));
        let track = if track_w >= 8 {
            self.track(track_w)
        } else {
            Vec::new()
        };
        if track.is_empty() {
            spans.push(Span::raw(car(&l.emoji).to_string()));
        } else {
            spans.extend(track);
        }
        spans.push(Span::raw(" "));
        spans.extend(numbers);
        Line::from(spans)
    }

    /// Full numbers when the track keeps at least 20 columns, else compact.
    fn stats_for(&self, width: usize) -> Vec<Span<'static>> {
        let full = self.stats(false);
        if Line::from(full.clone()).width() + 21 <= width {
            full
        } else {
            self.stats(true)
        }
    }
}

fn short_badge(theme: &Theme, health: crate::metrics::Health) -> (&'static str, Style) {
    use crate::metrics::Health;
    let (_, style) = health_badge(theme, health);
    let mark = match health {
        Health::Initializing => "…",
        Health::Healthy => "✓",
        Health::Warning => "!",
        Health::Error => "✗",
    };
    (mark, style)
}

/// The server's figures as the lane shows them: `server run 8 · queue 12
/// · KV 93% · hit 41% · 2 preempt/s`.
#[must_use]
pub fn server_line(s: &crate::metrics::server::ServerSnapshot) -> String {
    if s.scrapes == 0 {
        return format!("server metrics: {} failed", s.errors);
    }
    format!("server {}", server_figures(s))
}

/// The last scrape's figures, those the server publishes: `run 8 · queue
/// 12 · KV 93% · hit 41% · 2.0 preempt/s`.
#[must_use]
pub fn server_figures(s: &crate::metrics::server::ServerSnapshot) -> String {
    let n = &s.now;
    let parts = [
        n.running.map(|v| format!("run {v:.0}")),
        n.waiting.map(|v| format!("queue {v:.0}")),
        n.kv_use.map(|v| format!("KV {:.0}%", v * 100.0)),
        n.hit_rate.map(|v| format!("hit {:.0}%", v * 100.0)),
        n.preemptions_per_s
            .filter(|v| *v > 0.0)
            .map(|v| format!("{v:.1} preempt/s")),
    ];
    parts.into_iter().flatten().collect::<Vec<_>>().join(" · ")
}

/// Row `i` of `area` (empty when `area` has fewer rows).
fn row(area: Rect, i: u16) -> Rect {
    if i >= area.height {
        return Rect::new(area.x, area.y, 0, 0);
    }
    Rect::new(area.x, area.y + i, area.width, 1)
}

impl Widget for &LanePanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        let width = usize::from(area.width);
        if self.mode == LaneMode::Line || area.height < 2 {
            Paragraph::new(self.line_row(width, true)).render(row(area, 0), buf);
            return;
        }
        if self.mode == LaneMode::Compact || area.height < 4 {
            Paragraph::new(self.line_row(width, false)).render(row(area, 0), buf);
            let cells = row(area, 1);
            let indent = 4.min(cells.width);
            let cells = Rect {
                x: cells.x + indent,
                width: cells.width - indent,
                ..cells
            };
            self.render_metric_cells(cells, buf);
            return;
        }
        let block = self.block();
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.is_empty() {
            return;
        }
        let width = usize::from(inner.width);
        if self.mode == LaneMode::Full && inner.height >= 3 {
            Paragraph::new(Line::from(self.track(width))).render(row(inner, 0), buf);
            Paragraph::new(Line::from(self.stats(false))).render(row(inner, 1), buf);
            self.render_metric_cells(row(inner, 2), buf);
        } else {
            let line = self.track_and_numbers(width, self.stats_for(width));
            Paragraph::new(line).render(row(inner, 0), buf);
            self.render_metric_cells(row(inner, 1), buf);
        }
    }
}
