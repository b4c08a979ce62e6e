//! Charts over time (`c`): TTFT, TTFOT or TPOT (each second's p50 as a
//! line, p99 as dots) or output tokens per second, every engine in its colour, over
//! the series the snapshot carries (the whole race, or its last two minutes
//! live). Also the small chart below the lanes when there is room. Draws the
//! snapshot's per-second figures; computes none.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Widget};

use crate::metrics::series::SeriesPoint;
use crate::metrics::server::ServerFigures;
use crate::metrics::{LaneSnapshot, RaceSnapshot};
use crate::ui::theme::Theme;

/// What the chart shows; `←/→` in the charts view steps through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChartMetric {
    #[default]
    Ttft,
    Ttfot,
    Tpot,
    /// E2E, the one latency of every engine (an embedding's whole latency).
    E2e,
    OutputTokens,
    /// The servers' own figures, where they are scraped.
    ServerWaiting,
    ServerKvUse,
    ServerHitRate,
}

impl ChartMetric {
    pub const ALL: [ChartMetric; 8] = [
        ChartMetric::Ttft,
        ChartMetric::Ttfot,
        ChartMetric::Tpot,
        ChartMetric::E2e,
        ChartMetric::OutputTokens,
        ChartMetric::ServerWaiting,
        ChartMetric::ServerKvUse,
        ChartMetric::ServerHitRate,
    ];

    #[must_use]
    pub fn next(self) -> Self {
        let i = Self::ALL.iter().position(|m| *m == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    #[must_use]
    pub fn previous(self) -> Self {
        let i = Self::ALL.iter().position(|m| *m == self).unwrap_or(0);
        Self::ALL[(i + Self::ALL.len() - 1) % Self::ALL.len()]
    }

    fn title(self) -> &'static str {
        match self {
            ChartMetric::Ttft => "TTFT",
            ChartMetric::Ttfot => "TTFOT",
            ChartMetric::Tpot => "TPOT",
            ChartMetric::E2e => "E2E mean",
            ChartMetric::OutputTokens => "output tok/s",
            ChartMetric::ServerWaiting => "server queue",
            ChartMetric::ServerKvUse => "server KV use",
            ChartMetric::ServerHitRate => "server prefix-cache hit rate",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            ChartMetric::OutputTokens => "tok/s",
            ChartMetric::ServerWaiting => "requests",
            ChartMetric::ServerKvUse | ChartMetric::ServerHitRate => "%",
            _ => "ms",
        }
    }

    /// Whether `lane` has this figure: an embeddings engine has no token.
    fn applies(self, lane: &LaneSnapshot) -> bool {
        match self {
            ChartMetric::Ttft
            | ChartMetric::Ttfot
            | ChartMetric::Tpot
            | ChartMetric::OutputTokens => lane.embeddings.is_none(),
            _ => true,
        }
    }

    /// Whether it is one of the servers' figures (drawn from their scrapes).
    fn is_server(self) -> bool {
        matches!(
            self,
            ChartMetric::ServerWaiting | ChartMetric::ServerKvUse | ChartMetric::ServerHitRate
        )
    }

    /// A server figure's value at one scrape (percentages 0 to 100); `None`
    /// for the client's figures.
    fn server_value(self, f: &ServerFigures) -> Option<Option<f64>> {
        match self {
            ChartMetric::ServerWaiting => Some(f.waiting),
            ChartMetric::ServerKvUse => Some(f.kv_use.map(|v| v * 100.0)),
            ChartMetric::ServerHitRate => Some(f.hit_rate.map(|v| v * 100.0)),
            _ => None,
        }
    }

    /// The lines it draws from one second: (p50, p99) for a latency, the
    /// count for throughput. A second with nothing to show has no point.
    fn values(self, p: &SeriesPoint) -> Option<(f64, Option<f64>)> {
        #[allow(clippy::cast_precision_loss)]
        match self {
            ChartMetric::OutputTokens => Some((p.output_tokens as f64, None)),
            _ if p.requests_ok == 0 => None,
            ChartMetric::Ttft => Some((p.ttft_p50_ms, Some(p.ttft_p99_ms))),
            ChartMetric::Ttfot => Some((p.ttfot_p50_ms, Some(p.ttfot_p99_ms))),
            ChartMetric::Tpot => {
                (p.tpot_p50_ms > 0.0).then_some((p.tpot_p50_ms, Some(p.tpot_p99_ms)))
            }
            ChartMetric::E2e => Some((p.e2e_mean_ms, None)),
            // Drawn from the server's series instead.
            ChartMetric::ServerWaiting | ChartMetric::ServerKvUse | ChartMetric::ServerHitRate => {
                None
            }
        }
    }
}

/// Rows the chart needs to say anything.
pub const MIN_HEIGHT: u16 = 7;

pub struct TimeChart<'a> {
    pub snap: &'a RaceSnapshot,
    pub metric: ChartMetric,
    pub theme: &'a Theme,
    /// The small chart under the lanes: no p99 lines.
    pub compact: bool,
}

/// A line: (lane, p99?, points).
type Plotted = (usize, bool, Vec<(f64, f64)>);

impl TimeChart<'_> {
    /// The figure drawn: the one asked for, or E2E when no engine has it
    /// (a race of embeddings engines).
    fn shown(&self) -> ChartMetric {
        if self.snap.lanes.iter().any(|l| self.metric.applies(l)) {
            self.metric
        } else {
            ChartMetric::E2e
        }
    }

    fn lines(&self) -> Vec<Plotted> {
        let mut out = Vec::new();
        let metric = self.shown();
        for (i, lane) in self.snap.lanes.iter().enumerate() {
            if !metric.applies(lane) {
                continue;
            }
            if metric.is_server() {
                let points: Vec<(f64, f64)> = lane
                    .server
                    .iter()
                    .flat_map(|s| &s.series)
                    .filter_map(|p| {
                        let v = metric.server_value(&p.figures)??;
                        Some((f64::from(p.second), v))
                    })
                    .collect();
                out.push((i, false, points));
                continue;
            }
            let mut p50 = Vec::new();
            let mut p99 = Vec::new();
            for point in lane.whole_seconds() {
                if let Some((a, b)) = metric.values(point) {
                    let t = f64::from(point.t_s);
                    p50.push((t, a));
                    if let Some(b) = b {
                        p99.push((t, b));
                    }
                }
            }
            if !self.compact && !p99.is_empty() {
                out.push((i, true, p99));
            }
            out.push((i, false, p50));
        }
        out
    }
}

impl TimeChart<'_> {
    /// Each engine's name in its colour, as many as a border `width` wide
    /// holds whole, then how many more.
    fn legend(&self, width: u16) -> Line<'static> {
        let t = self.theme;
        let room = usize::from(width).saturating_sub(4);
        let mut legend = vec![Span::raw(" ")];
        let mut used = 1;
        let metric = self.shown();
        let drawn: Vec<&LaneSnapshot> = self
            .snap
            .lanes
            .iter()
            .filter(|l| metric.applies(l))
            .collect();
        for (i, lane) in drawn.iter().enumerate() {
            let entry = lane.name.chars().count() + 4;
            let left = drawn.len() - i;
            let more = if left > 1 { 10 } else { 0 };
            if used + entry + more > room {
                legend.push(Span::styled(format!("+{left} more "), t.dim));
                break;
            }
            let style = Style::new().fg(t.lane_color(lane.color));
            legend.push(Span::styled("━ ", style));
            legend.push(Span::styled(format!("{}  ", lane.name), t.text));
            used += entry;
        }
        Line::from(legend)
    }
}

fn top(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.fold(0.0, f64::max);
    if max > 0.0 { max * 1.1 } else { 1.0 }
}

fn number(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

impl Widget for &TimeChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        let t = self.theme;
        let lines = self.lines();
        let (x_min, x_max) = self
            .snap
            .lanes
            .iter()
            .flat_map(|l| l.whole_seconds().iter().map(|p| f64::from(p.t_s)))
            .fold((f64::MAX, 0.0_f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
        let x_min = if x_min > x_max { 0.0 } else { x_min };
        let x_max = x_max.max(x_min + 1.0);
        let y_max = top(lines.iter().flat_map(|(_, _, p)| p.iter().map(|q| q.1)));
        let datasets: Vec<Dataset> = lines
            .iter()
            .map(|(i, p99, points)| {
                let lane = &self.snap.lanes[*i];
                let style = Style::new().fg(t.lane_color(lane.color));
                let dataset = Dataset::default().style(style).data(points);
                // A chart's points take only a colour, so p99 is told apart
                // by its marker: dots, where p50 is a line.
                if *p99 {
                    dataset.marker(Marker::Dot).graph_type(GraphType::Scatter)
                } else {
                    dataset.marker(Marker::Braille).graph_type(GraphType::Line)
                }
            })
            .collect();
        let metric = self.shown();
        let unit = metric.unit();
        let title = if self.compact {
            format!(" {} ({unit}) · c for charts ", metric.title())
        } else if metric == ChartMetric::OutputTokens {
            " output tokens per second ".to_owned()
        } else if metric.is_server() {
            format!(" {} ({unit}), from the servers' /metrics ", metric.title())
        } else if metric == ChartMetric::E2e {
            " E2E per second: the mean of the requests that ended in it (ms) ".to_owned()
        } else {
            format!(
                " {} per second: p50 line, p99 dots ({unit}) ",
                metric.title()
            )
        };
        let label = |s: String| Span::styled(s, t.dim);
        // The legend on the bottom border, where it covers no data (a box
        // inside the plot hid the points under it); the small live chart's
        // too, so its colours are named.
        let block = Block::bordered()
            .border_style(t.border)
            .title(Line::styled(title, t.title))
            .title_bottom(self.legend(area.width));
        let chart = Chart::new(datasets)
            .block(block)
            .x_axis(
                Axis::default()
                    .title(label(if self.compact {
                        String::new()
                    } else {
                        "s".to_owned()
                    }))
                    .style(t.dim)
                    .bounds([x_min, x_max])
                    .labels([
                        label(format!("{x_min:.0}")),
                        label(format!("{:.0}", f64::midpoint(x_min, x_max))),
                        label(format!("{x_max:.0}")),
                    ]),
            )
            .y_axis(
                Axis::default()
                    .title(label(if self.compact {
                        String::new()
                    } else {
                        unit.to_owned()
                    }))
                    .style(t.dim)
                    .bounds([0.0, y_max])
                    .labels([
                        label("0".to_owned()),
                        label(number(y_max / 2.0)),
                        label(number(y_max)),
                    ]),
            )
            .legend_position(None);
        chart.render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::test_support::snapshot_fixture;

    #[test]
    fn the_second_still_filling_is_not_drawn() {
        let mut snap = snapshot_fixture(2);
        for lane in &mut snap.lanes {
            // The second the race is in has had a tenth of its time.
            let last = lane.series.last_mut().unwrap();
            last.output_tokens = 1;
        }
        let last_second = f64::from(snap.lanes[0].series.last().unwrap().t_s);
        let theme = Theme::mono();
        let chart = TimeChart {
            snap: &snap,
            metric: ChartMetric::OutputTokens,
            theme: &theme,
            compact: false,
        };
        for (_, _, points) in chart.lines() {
            assert!(!points.is_empty());
            assert!(points.iter().all(|&(t, _)| t < last_second), "{points:?}");
            assert!(points.iter().all(|&(_, v)| v > 1.0), "{points:?}");
        }
    }
}
