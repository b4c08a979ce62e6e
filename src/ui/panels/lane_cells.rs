//! A lane's three metric cells: TTFT, TPOT and tokens a second for an
//! engine that generates; E2E p50, p99 and inputs a second for one that
//! embeds. With sparklines of their recent seconds when there is room.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline, Widget};

use super::lanes::{LanePanel, SPARK_SECONDS};
use super::{grade_style, latency, trend_arrow};
use crate::metrics::figures::EmbeddingRates;
use crate::metrics::series::SeriesPoint;
use crate::metrics::{Grade, LaneSnapshot, Trend};

impl LanePanel<'_> {
    /// The three metrics as text only (no sparklines).
    pub(super) fn metrics_text(&self) -> Vec<Span<'static>> {
        let l = self.lane;
        let t = self.theme;
        if let Some(e) = l.embeddings {
            // An embedding has no token: its latency, and its inputs a second.
            return vec![
                Span::styled(" E2E ", t.dim),
                Span::styled(
                    format!("{:>6}", latency(l.latencies.e2e.p50, l.latencies.e2e.count)),
                    t.text,
                ),
                Span::styled(" p99 ", t.dim),
                Span::styled(
                    format!("{:>6}", latency(l.latencies.e2e.p99, l.latencies.e2e.count)),
                    t.text,
                ),
                Span::styled(format!(" {:>5.0}in/s", e.inputs_per_s), t.text),
            ];
        }
        vec![
            Span::styled(" TTFT ", t.dim),
            Span::styled(
                format!(
                    "{:>6}",
                    latency(l.latencies.ttft.p50, l.latencies.ttft.count)
                ),
                grade_style(t, l.grades.ttft_grade),
            ),
            Span::styled(trend_arrow(l.grades.ttft_trend), t.text),
            Span::styled(" TPOT ", t.dim),
            Span::styled(
                format!(
                    "{:>6}",
                    latency(l.latencies.tpot.p50, l.latencies.tpot.count)
                ),
                grade_style(t, l.grades.tpot_grade),
            ),
            Span::styled(trend_arrow(l.grades.tpot_trend), t.text),
            Span::styled(
                format!(
                    " {:>5.0}tok/s{}",
                    l.rates.output_tokens_per_s,
                    approx_marker(&l.counts.output_sources)
                ),
                grade_style(t, l.grades.throughput_grade),
            ),
            Span::styled(trend_arrow(l.grades.throughput_trend), t.text),
        ]
    }

    /// The three metric cells with sparklines, side by side.
    pub(super) fn render_metric_cells(&self, area: Rect, buf: &mut Buffer) {
        let l = self.lane;
        let whole = l.whole_seconds();
        let recent = &whole[whole.len().saturating_sub(SPARK_SECONDS)..];
        let cells = match l.embeddings {
            Some(e) => embedding_cells(l, e, recent),
            None => self.generation_cells(recent),
        };
        let cols = Layout::horizontal([Constraint::Ratio(1, 3); 3]).split(area);
        for ((label, value, trend, grade, data), col) in cells.into_iter().zip(cols.iter()) {
            let style = grade_style(self.theme, grade);
            let text = Line::from(vec![
                Span::styled(format!("{label} "), self.theme.dim),
                Span::styled(value, style),
                Span::styled(format!("{} ", trend_arrow(trend)), self.theme.text),
            ]);
            let text_w = u16::try_from(text.width()).unwrap_or(u16::MAX);
            let [text_area, spark_area] =
                Layout::horizontal([Constraint::Length(text_w), Constraint::Fill(1)]).areas(*col);
            Paragraph::new(text).render(text_area, buf);
            let spark_w = usize::from(spark_area.width.saturating_sub(1));
            if spark_w >= 4 {
                let shown = &data[data.len().saturating_sub(spark_w)..];
                Sparkline::default()
                    .data(shown)
                    .style(style)
                    .render(spark_area, buf);
            }
        }
    }

    /// TTFT, TPOT and tok/s, each with its recent seconds.
    pub(super) fn generation_cells(&self, recent: &[SeriesPoint]) -> [MetricCell; 3] {
        let l = self.lane;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ttft: Vec<u64> = recent
            .iter()
            .map(|p| p.ttft_mean_ms.max(0.0) as u64)
            .collect();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let tpot: Vec<u64> = recent
            .iter()
            .map(|p| (p.tpot_mean_ms.max(0.0) * 10.0) as u64)
            .collect();
        let toks: Vec<u64> = recent.iter().map(|p| p.output_tokens).collect();
        [
            (
                "TTFT",
                latency(l.latencies.ttft.p50, l.latencies.ttft.count),
                l.grades.ttft_trend,
                l.grades.ttft_grade,
                ttft,
            ),
            (
                "TPOT",
                latency(l.latencies.tpot.p50, l.latencies.tpot.count),
                l.grades.tpot_trend,
                l.grades.tpot_grade,
                tpot,
            ),
            (
                "tok/s",
                format!(
                    "{:.0}{}",
                    l.rates.output_tokens_per_s,
                    approx_marker(&l.counts.output_sources)
                ),
                l.grades.throughput_trend,
                l.grades.throughput_grade,
                toks,
            ),
        ]
    }
}

/// A one-column health mark for the one-line lanes.
/// `~` when some output counts are approximate (content chunks, not the
/// server's usage or a tokenizer); see docs/DATASETS.md.
/// A metric cell: its label, value, trend, grade and recent seconds.
type MetricCell = (&'static str, String, Trend, Grade, Vec<u64>);

/// An embeddings lane's cells: E2E p50 and p99 (its latency; no grade, as
/// the grades judge generation) and inputs a second.
fn embedding_cells(l: &LaneSnapshot, e: EmbeddingRates, recent: &[SeriesPoint]) -> [MetricCell; 3] {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let e2e: Vec<u64> = recent
        .iter()
        .map(|p| p.e2e_mean_ms.max(0.0) as u64)
        .collect();
    // A sparkline shows a shape, not a scale: each second's requests draw
    // the inputs' (every request carries the same number).
    let inputs: Vec<u64> = recent.iter().map(|p| u64::from(p.requests_ok)).collect();
    [
        (
            "E2E",
            latency(l.latencies.e2e.p50, l.latencies.e2e.count),
            Trend::Steady,
            Grade::Unknown,
            e2e.clone(),
        ),
        (
            "p99",
            latency(l.latencies.e2e.p99, l.latencies.e2e.count),
            Trend::Steady,
            Grade::Unknown,
            e2e,
        ),
        (
            "in/s",
            format!("{:.0}", e.inputs_per_s),
            Trend::Steady,
            Grade::Unknown,
            inputs,
        ),
    ]
}

fn approx_marker(
    sources: &std::collections::BTreeSet<crate::metrics::TokenSource>,
) -> &'static str {
    use crate::metrics::TokenSource;
    if sources
        .iter()
        .any(|s| matches!(s, TokenSource::Chunks | TokenSource::Estimate))
    {
        "~"
    } else {
        ""
    }
}
