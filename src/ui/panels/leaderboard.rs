//! The leaderboard: places in the order the aggregator ranked them, with
//! finishing time (once finished) or the race's score.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Widget};

use super::{car, finished_none, fit, lane_place, names_apart, seconds};
use crate::metrics::{LaneState, RacePhase, RaceSnapshot};
use crate::ui::theme::Theme;

pub struct Leaderboard<'a> {
    pub snap: &'a RaceSnapshot,
    pub theme: &'a Theme,
}

/// Columns of the leaderboard beside the lanes on a wide screen.
const SIDE_WIDTH: u16 = 44;
/// From this screen width on, the leaderboard beside the lanes has room for
/// the cost column.
const WIDE_FOR_COST: u16 = 140;

impl Leaderboard<'_> {
    /// Its width beside the lanes in a screen `screen_width` wide: wider
    /// for the cost column when engines are priced and the lanes keep room.
    #[must_use]
    pub fn side_width(snap: &RaceSnapshot, screen_width: u16) -> u16 {
        if priced(snap) && screen_width >= WIDE_FOR_COST {
            SIDE_WIDTH + CHEAPEST_WIDTH + 2
        } else {
            SIDE_WIDTH
        }
    }

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
            _ if f.requests.is_some() => format!("{} req", l.counts.ok),
            _ if f.output_tokens.is_some() => format!("{} tok", l.counts.output_tokens),
            // `≈`: its goodput's interval overlaps the one above.
            _ if l.too_close_to_call => format!("≈{:.2} good/s", l.rates.goodput_rps),
            _ => format!("{:.2} good/s", l.rates.goodput_rps),
        }
    }
}

impl Leaderboard<'_> {
    /// One row's cells per ranked engine (the name cell still whole), and
    /// the row's style.
    fn cells(&self, priced: bool) -> Vec<(usize, Vec<Line<'static>>, Style)> {
        let t = self.theme;
        self.snap
            .leaderboard
            .iter()
            .enumerate()
            .filter_map(|(rank, &i)| {
                let l = self.snap.lanes.get(i)?;
                let style = if rank == 0 && !finished_none(l) {
                    t.leader
                } else {
                    t.text
                };
                let fail_style = if l.counts.failed > 0 { t.bad } else { t.dim };
                let mut cells = vec![
                    Line::from(lane_place(l)),
                    Line::from(format!("{} {}", car(&l.emoji), l.name)),
                    Line::from(self.score(i)).right_aligned(),
                    Line::from(vec![
                        Span::raw(l.counts.ok.to_string()),
                        Span::styled(" / ", t.dim),
                        Span::styled(l.counts.failed.to_string(), fail_style),
                    ])
                    .right_aligned(),
                ];
                if priced {
                    cells.push(cheapest_cell(l, t));
                }
                Some((i, cells, style))
            })
            .collect()
    }

    /// The name cell in `room` columns: the car, the name kept apart from
    /// the others', and the mark of a failing SLO.
    fn name_cell(&self, i: usize, shown_name: &str, room: usize) -> Line<'static> {
        let Some(l) = self.snap.lanes.get(i) else {
            return Line::default();
        };
        let car = car(&l.emoji);
        let car_width = Span::raw(car).width() + 1;
        // An engine failing an objective says so beside its name: live
        // once a figure is over its limit, and at the end also for an
        // objective with no data.
        let over = l.slo_checks.iter().any(|c| !c.pass && c.actual.is_some());
        let failing = over || (!l.slo_pass && self.snap.phase == RacePhase::Finished);
        let mark = if failing { SLO_FAILED } else { "" };
        let name = fit(
            shown_name,
            room.saturating_sub(car_width + mark.chars().count()),
        );
        Line::from(vec![
            Span::raw(format!("{car} {name}")),
            Span::styled(mark, self.theme.bad),
        ])
    }

    /// The box: one row short, its bottom border gives its row; more, its
    /// last row says how many are left out and where their places are.
    /// Returns where the rows go and how many fit.
    fn frame(&self, area: Rect, buf: &mut Buffer, columns: &'static str) -> (Rect, usize) {
        let t = self.theme;
        let count = self.snap.leaderboard.len();
        let bordered_rows = usize::from(area.height.saturating_sub(2));
        let borders = if count == bordered_rows + 1 {
            Borders::TOP | Borders::LEFT | Borders::RIGHT
        } else {
            Borders::ALL
        };
        let block = Block::default()
            .borders(borders)
            .border_style(t.border)
            .title(Span::styled(" Leaderboard ", t.title))
            .title(Line::from(Span::styled(columns, t.dim)).right_aligned());
        let inner = block.inner(area);
        block.render(area, buf);
        let room = usize::from(inner.height);
        if count > room && room > 0 {
            let shown = room - 1;
            let [table, note] =
                Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(inner);
            let more = format!(
                " +{} more: every place is in the lanes above",
                count - shown
            );
            Paragraph::new(Span::styled(more, t.dim)).render(note, buf);
            (table, shown)
        } else {
            (inner, count)
        }
    }
}

impl Widget for &Leaderboard<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        // Cost only when an engine has a price and there is room for it:
        // other races keep their room.
        let priced = priced(self.snap) && area.width >= SIDE_WIDTH + CHEAPEST_WIDTH + 2;
        let table = self.cells(priced);
        // The figures take what they need; the names get the rest.
        let snug = |column: usize| {
            let widest = table
                .iter()
                .filter_map(|(_, cells, _)| cells.get(column))
                .map(Line::width)
                .max()
                .unwrap_or(0);
            Constraint::Length(u16::try_from(widest).unwrap_or(u16::MAX))
        };
        let mut widths = vec![Constraint::Length(3), Constraint::Fill(1), snug(2), snug(3)];
        let columns = if priced {
            widths.push(snug(4));
            " ok / failed · cheapest $/1M out "
        } else {
            " ok / failed "
        };
        // What the name column gets: the width less borders, spacing and
        // the other columns; a name cut there ends in an ellipsis.
        let others: u16 = widths
            .iter()
            .map(|c| match c {
                Constraint::Length(n) => *n,
                _ => 0,
            })
            .sum();
        let spacing = 2 * u16::try_from(widths.len().saturating_sub(1)).unwrap_or(0);
        let room = usize::from(area.width.saturating_sub(2 + others + spacing));
        // Names kept apart in the room a car leaves (emoji are two wide).
        let names: Vec<&str> = self.snap.lanes.iter().map(|l| l.name.as_str()).collect();
        let names = names_apart(&names, room.saturating_sub(3));
        let rows: Vec<Row> = table
            .into_iter()
            .map(|(i, mut cells, style)| {
                let name = names.get(i).map_or("", String::as_str);
                cells[1] = self.name_cell(i, name, room);
                Row::new(cells).style(style)
            })
            .collect();
        let (rows_area, shown) = self.frame(area, buf, columns);
        let table = Table::new(rows.into_iter().take(shown), widths).column_spacing(2);
        Widget::render(table, rows_area, buf);
    }
}

/// Beside the name of an engine that fails an SLO.
const SLO_FAILED: &str = " ✗SLO";

fn priced(snap: &RaceSnapshot) -> bool {
    snap.lanes.iter().any(|l| l.cost.is_some())
}

/// Room for "#1 $0.42": the lane's place by cost per 1M output tokens,
/// and that cost.
const CHEAPEST_WIDTH: u16 = 11;

fn cheapest_cell<'a>(l: &crate::metrics::LaneSnapshot, t: &Theme) -> Line<'a> {
    match (l.cheapest, l.cost.and_then(|c| c.per_million_output)) {
        (Some(rank), Some(cost)) => {
            let style = if rank == 1 { t.good } else { t.text };
            Line::from(Span::styled(format!("#{rank} ${cost:.2}"), style)).right_aligned()
        }
        _ => Line::from(Span::styled("–", t.dim)).right_aligned(),
    }
}
