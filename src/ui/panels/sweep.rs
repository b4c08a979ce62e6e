//! The stress test's curve: for each engine, output throughput against TTFT
//! p99 at each judged step, so the knee shows as the steps go (the point
//! where latency climbs while throughput stops growing).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Widget};

use crate::metrics::RaceSnapshot;
use crate::ui::theme::Theme;

/// Rows the chart needs to say anything.
pub const MIN_HEIGHT: u16 = 8;

pub struct SweepChart<'a> {
    pub snap: &'a RaceSnapshot,
    pub theme: &'a Theme,
}

impl SweepChart<'_> {
    /// Each sweeping engine's points: (output tok/s, TTFT p99 in ms).
    fn curves(&self) -> Vec<(usize, Vec<(f64, f64)>)> {
        self.snap
            .lanes
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                let sweep = l.sweep.as_ref()?;
                let points = sweep
                    .steps
                    .iter()
                    .filter(|s| s.figures.ttft.count > 0)
                    .map(|s| {
                        (
                            s.figures.output_tokens_per_s,
                            s.figures.ttft.p99.as_secs_f64() * 1000.0,
                        )
                    })
                    .collect();
                Some((i, points))
            })
            .collect()
    }
}

fn top(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.fold(0.0, f64::max);
    if max > 0.0 { max * 1.1 } else { 1.0 }
}

impl Widget for &SweepChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let curves = self.curves();
        let x_max = top(curves.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
        let y_max = top(curves.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)));
        let datasets: Vec<Dataset> = curves
            .iter()
            .map(|(i, points)| {
                let lane = &self.snap.lanes[*i];
                Dataset::default()
                    .name(lane.name.clone())
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(Style::new().fg(t.lane_color(lane.color)))
                    .data(points)
            })
            .collect();
        let label = |v: f64| Span::styled(format!("{v:.0}"), t.dim);
        Chart::new(datasets)
            .block(
                Block::bordered()
                    .border_style(t.border)
                    .title(Line::styled(" Sweep: output tok/s → TTFT p99 ms ", t.title)),
            )
            .x_axis(
                Axis::default()
                    .style(t.dim)
                    .bounds([0.0, x_max])
                    .labels([label(0.0), label(x_max)]),
            )
            .y_axis(
                Axis::default()
                    .style(t.dim)
                    .bounds([0.0, y_max])
                    .labels([label(0.0), label(y_max)]),
            )
            .render(area, buf);
    }
}
