//! The leaderboard: places in the order the aggregator ranked them, with
//! finishing time (once finished) or the race's score.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Row, Table, Widget};

use super::{car, place_label, seconds};
use crate::metrics::{LaneState, RaceSnapshot};
use crate::ui::theme::Theme;

pub struct Leaderboard<'a> {
    pub snap: &'a RaceSnapshot,
    pub theme: &'a Theme,
}

impl Leaderboard<'_> {
    /// What ranks the lane: its finishing time, or the race's score.
    fn score(&self, i: usize) -> String {
        let Some(l) = self.snap.lanes.get(i) else {
            return String::new();
        };
        let f = &self.snap.finish;
        // A sweep ranks by its answer so far: the most load that held.
        if let Some(sweep) = &l.sweep {
            let unit = match sweep.unit {
                crate::metrics::windows::LevelUnit::Users => "users",
                crate::metrics::windows::LevelUnit::Rate => "req/s",
            };
            return sweep
                .max_sustainable
                .as_ref()
                .map_or_else(|| "max –".to_owned(), |b| format!("max {} {unit}", b.level));
        }
        match (l.state, l.finished_at) {
            (LaneState::Finished, Some(at))
                if f.requests.is_some() || f.output_tokens.is_some() =>
            {
                format!("🏁 {}", seconds(at))
            }
            _ if f.requests.is_some() => format!("{} req", l.requests_ok),
            _ if f.output_tokens.is_some() => format!("{} tok", l.output_tokens),
            _ => format!("{:.2} good/s", l.goodput_rps),
        }
    }
}

impl Widget for &Leaderboard<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        let t = self.theme;
        let rows: Vec<Row> = self
            .snap
            .leaderboard
            .iter()
            .enumerate()
            .filter_map(|(rank, &i)| {
                let l = self.snap.lanes.get(i)?;
                let style = if rank == 0 { t.leader } else { t.text };
                let fail_style = if l.requests_failed > 0 { t.bad } else { t.dim };
                Some(
                    Row::new(vec![
                        Line::from(place_label(rank + 1)),
                        Line::from(format!("{} {}", car(&l.emoji), l.name)),
                        Line::from(self.score(i)).right_aligned(),
                        Line::from(vec![
                            Span::raw(l.requests_ok.to_string()),
                            Span::styled(" / ", t.dim),
                            Span::styled(l.requests_failed.to_string(), fail_style),
                        ])
                        .right_aligned(),
                    ])
                    .style(style),
                )
            })
            .collect();
        let table = Table::new(
            rows,
            [
                Constraint::Length(3),
                Constraint::Fill(1),
                Constraint::Length(13),
                Constraint::Length(11),
            ],
        )
        .column_spacing(1)
        .block(
            Block::bordered()
                .border_style(t.border)
                .title(Span::styled(" Leaderboard ", t.title))
                .title(Line::from(Span::styled(" ok / failed ", t.dim)).right_aligned()),
        );
        Widget::render(table, area, buf);
    }
}
