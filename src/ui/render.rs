//! Draws one frame of the race from a snapshot. `render` mutates nothing
//! but the frame: no I/O, no clock reads, no metrics (STYLE rule 10). The
//! layout comes from `frame.area()` on every draw (rule 11) and degrades
//! with the space: sparklines go first, then borders, then leaderboard
//! rows; below [`MIN_WIDTH`]×[`MIN_HEIGHT`] a "terminal too small" line is
//! all that is drawn.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::keymap::key_help;
use super::panels::charts::{self, TimeChart};
use super::panels::commentary::Commentary;
use super::panels::drill::DrillDown;
use super::panels::explainer::Explainer;
use super::panels::footer::Footer;
use super::panels::header::{CountdownBanner, HEADER_HEIGHT, Header};
use super::panels::help::HelpOverlay;
use super::panels::inspector::{InspectorPanel, render_inspector_area};
use super::panels::lanes::{LaneMode, LanesPanel};
use super::panels::leaderboard::Leaderboard;
use super::panels::sweep::{MIN_HEIGHT as SWEEP_CHART_MIN, SweepChart};
use super::panels::timeline::{self, Timeline};
use super::state::{UiState, View};
use super::theme::Theme;
use crate::metrics::RaceSnapshot;

pub use super::panels::{MIN_HEIGHT, MIN_WIDTH};
/// From this width on, the leaderboard sits beside the lanes.
const WIDE_WIDTH: u16 = 110;
/// Rows the commentary needs: its borders and two lines.
const COMMENTARY_MIN: u16 = 4;
/// Rows the inspector takes at most.
const INSPECTOR_MAX_HEIGHT: u16 = 10;

/// Where everything goes in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    header: Rect,
    lanes: Rect,
    mode: LaneMode,
    leaderboard: Option<Rect>,
    /// A sweep's curve, where there is room for it.
    chart: Option<Rect>,
    /// Room the lanes leave: the live chart.
    extra: Option<Rect>,
    /// The commentary feed, where there is room for it.
    commentary: Option<Rect>,
    inspector: Option<Rect>,
    footer: Rect,
}

/// The layout for `lanes` lanes in `area`, or `None` if it cannot fit.
fn plan(area: Rect, lanes: usize, inspector: bool, chart: bool, board_width: u16) -> Option<Plan> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    let n = u16::try_from(lanes).ok()?;
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(HEADER_HEIGHT),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let (main, inspector) = if inspector {
        let h = (body.height / 2).min(INSPECTOR_MAX_HEIGHT);
        let [main, insp] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(h)]).areas(body);
        (main, Some(insp))
    } else {
        (body, None)
    };
    let edges = Edges {
        header,
        inspector,
        footer,
    };
    if main.width >= WIDE_WIDTH {
        wide_plan(main, n, chart, board_width, edges)
    } else {
        narrow_plan(main, n, chart, edges)
    }
}

/// What every plan has around its body: the header, the inspector (when
/// open) and the footer.
#[derive(Clone, Copy)]
struct Edges {
    header: Rect,
    inspector: Option<Rect>,
    footer: Rect,
}

/// A wide screen: the lanes beside the leaderboard's column (a sweep's
/// chart or the commentary under the leaderboard), a live chart under the
/// lanes when there is room.
fn wide_plan(main: Rect, n: u16, chart: bool, board_width: u16, edges: Edges) -> Option<Plan> {
    let fits =
        |mode: LaneMode, height: u16| n.checked_mul(mode.height()).is_some_and(|h| h <= height);
    let [lanes, board] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(board_width)]).areas(main);
    let mode = LaneMode::ALL.into_iter().find(|m| fits(*m, lanes.height))?;
    let used = n.saturating_mul(mode.height());
    let (lanes, extra) = if lanes.height.saturating_sub(used) >= charts::MIN_HEIGHT {
        let [lanes, rest] =
            Layout::vertical([Constraint::Length(used), Constraint::Fill(1)]).areas(lanes);
        (lanes, Some(rest))
    } else {
        (lanes, None)
    };
    // A sweep's chart, or else the commentary, takes what the leaderboard's
    // rows leave of its column.
    let board_h = n.saturating_add(2);
    let below = |board: Rect| {
        Layout::vertical([Constraint::Length(board_h), Constraint::Fill(1)]).areas::<2>(board)
    };
    let (board, chart, commentary) = if chart && board.height >= board_h + SWEEP_CHART_MIN {
        let [board, chart] = below(board);
        (board, Some(chart), None)
    } else if board.height >= board_h + COMMENTARY_MIN {
        let [board, feed] = below(board);
        (board, None, Some(feed))
    } else {
        (board, None, None)
    };
    Some(Plan {
        header: edges.header,
        lanes,
        mode,
        leaderboard: Some(board),
        chart,
        extra,
        commentary,
        inspector: edges.inspector,
        footer: edges.footer,
    })
}

/// A narrow screen: the lanes in the first mode that fits, the leaderboard
/// under them, then a sweep's chart, or the live chart beside the
/// commentary.
fn narrow_plan(main: Rect, n: u16, chart: bool, edges: Edges) -> Option<Plan> {
    let board_full = n.saturating_add(2);
    for mode in LaneMode::ALL {
        let lanes_h = n.saturating_mul(mode.height());
        if lanes_h > main.height {
            continue;
        }
        let rest = main.height - lanes_h;
        if rest < board_full.min(5) && mode != LaneMode::Line {
            continue;
        }
        let board_h = if rest >= 3 { rest.min(board_full) } else { 0 };
        let [lanes, board, rest] = Layout::vertical([
            Constraint::Length(lanes_h),
            Constraint::Length(board_h),
            Constraint::Fill(1),
        ])
        .areas(main);
        let chart = (chart && rest.height >= SWEEP_CHART_MIN).then_some(rest);
        let rest = (chart.is_none() && rest.height >= charts::MIN_HEIGHT).then_some(rest);
        // The live chart and the feed side by side.
        let (extra, commentary) = match rest {
            Some(rest) => {
                let [a, b] = Layout::horizontal([Constraint::Percentage(55), Constraint::Fill(1)])
                    .areas(rest);
                (Some(a), Some(b))
            }
            None => (None, None),
        };
        return Some(Plan {
            header: edges.header,
            lanes,
            mode,
            leaderboard: (board_h > 0).then_some(board),
            chart,
            extra,
            commentary,
            inspector: edges.inspector,
            footer: edges.footer,
        });
    }
    None
}

/// Draws the race screen for `snap` into the whole frame.
pub fn render(frame: &mut Frame, snap: &RaceSnapshot, ui: &UiState, theme: &Theme) {
    let area = frame.area();
    let sweeping = snap.lanes.iter().any(|l| l.sweep.is_some());
    let board_width = Leaderboard::side_width(snap, area.width);
    let Some(plan) = plan(
        area,
        snap.lanes.len(),
        ui.inspector_open,
        sweeping,
        board_width,
    ) else {
        render_too_small(frame, area, theme);
        return;
    };
    frame.render_widget(&Header { snap, ui, theme }, plan.header);
    match ui.view {
        View::Charts => return render_charts(frame, area, plan, snap, ui, theme),
        View::Drill => return render_drill(frame, area, plan, snap, ui, theme),
        View::Explainer => {
            let body = body_of(area, plan);
            let explainer = Explainer {
                from: ui.explainer_from,
                theme,
            };
            frame.render_widget(&explainer, body);
            return render_overlays(frame, area, body, plan, snap, ui, theme);
        }
        View::Timeline => return render_timeline(frame, area, plan, snap, ui, theme),
        View::Race => {}
    }
    if snap.lanes.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                "no engines in this race",
                theme.dim,
            )))
            .centered(),
            plan.lanes,
        );
    } else {
        frame.render_widget(
            &LanesPanel {
                lanes: &snap.lanes,
                selected: ui.selected_lane,
                mode: plan.mode,
                theme,
            },
            plan.lanes,
        );
    }
    if let Some(board) = plan.leaderboard {
        frame.render_widget(&Leaderboard { snap, theme }, board);
    }
    if let Some(chart) = plan.chart {
        frame.render_widget(&SweepChart { snap, theme }, chart);
    }
    if let Some(feed) = plan.commentary {
        frame.render_widget(&Commentary { snap, theme }, feed);
    }
    if let Some(extra) = plan.extra {
        frame.render_widget(
            &TimeChart {
                snap,
                metric: ui.chart_metric,
                theme,
                compact: true,
            },
            extra,
        );
    }
    if let Some(insp) = plan.inspector {
        render_inspector_area(frame, insp, snap, ui, theme);
    }
    render_overlays(frame, area, body_of(area, plan), plan, snap, ui, theme);
}

/// The charts view: the chart over the body, beside the leaderboard on a
/// wide screen; the countdown and help still on top.
fn render_charts(
    frame: &mut Frame,
    area: Rect,
    plan: Plan,
    snap: &RaceSnapshot,
    ui: &UiState,
    theme: &Theme,
) {
    let body = body_of(area, plan);
    let chart = match plan.leaderboard {
        Some(board) if board.x > body.x => {
            let [chart, side] =
                Layout::horizontal([Constraint::Fill(1), Constraint::Length(board.width)])
                    .areas(body);
            let rows = u16::try_from(snap.lanes.len())
                .unwrap_or(u16::MAX)
                .saturating_add(2);
            let [board, _] =
                Layout::vertical([Constraint::Length(rows), Constraint::Fill(1)]).areas(side);
            frame.render_widget(&Leaderboard { snap, theme }, board);
            chart
        }
        _ => body,
    };
    frame.render_widget(
        &TimeChart {
            snap,
            metric: ui.chart_metric,
            theme,
            compact: false,
        },
        chart,
    );
    render_overlays(frame, area, body, plan, snap, ui, theme);
}

/// The selected engine in detail, over the body.
fn render_drill(
    frame: &mut Frame,
    area: Rect,
    plan: Plan,
    snap: &RaceSnapshot,
    ui: &UiState,
    theme: &Theme,
) {
    let body = body_of(area, plan);
    frame.render_widget(
        &DrillDown {
            snap,
            lane: ui.selected_lane,
            theme,
        },
        body,
    );
    render_overlays(frame, area, body, plan, snap, ui, theme);
}

/// The timeline over the body; with the inspector open, below it the
/// selected request's trace (or the engine's latest, when it has none).
fn render_timeline(
    frame: &mut Frame,
    area: Rect,
    plan: Plan,
    snap: &RaceSnapshot,
    ui: &UiState,
    theme: &Theme,
) {
    let body = body_of(area, plan);
    let bars = match plan.inspector {
        Some(insp) => Rect {
            height: insp.y.saturating_sub(body.y),
            ..body
        },
        None => body,
    };
    frame.render_widget(
        &Timeline {
            snap,
            selected_lane: ui.selected_lane,
            selected_request: ui.timeline_request,
            theme,
        },
        bars,
    );
    if let Some(insp) = plan.inspector {
        let lane = snap.lanes.get(ui.selected_lane);
        let panel = InspectorPanel {
            lane,
            now: snap.elapsed,
            theme,
            focus: lane
                .and_then(|l| timeline::selected(&l.recent, ui.timeline_request))
                .map(|r| r.request_id),
        };
        frame.render_widget(&panel, insp);
    }
    render_overlays(frame, area, body, plan, snap, ui, theme);
}

/// Between the header and the footer.
fn body_of(area: Rect, plan: Plan) -> Rect {
    Rect {
        y: plan.header.bottom(),
        height: plan.footer.y.saturating_sub(plan.header.bottom()),
        ..area
    }
}

/// What every view has on top: the footer, the countdown and the help.
fn render_overlays(
    frame: &mut Frame,
    area: Rect,
    body: Rect,
    plan: Plan,
    snap: &RaceSnapshot,
    ui: &UiState,
    theme: &Theme,
) {
    frame.render_widget(&Footer { ui, theme }, plan.footer);
    frame.render_widget(&CountdownBanner { snap, theme }, body);
    if ui.help_open {
        frame.render_widget(
            &HelpOverlay {
                theme,
                keys: &key_help(ui.replay.is_some()),
            },
            area,
        );
    }
}

fn render_too_small(frame: &mut Frame, area: Rect, theme: &Theme) {
    if area.is_empty() {
        return;
    }
    let text = vec![
        Line::from(Span::styled(
            format!("terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT})"),
            theme.bad,
        )),
        Line::from(Span::styled(
            format!(
                "now {}×{} — enlarge the window or press q",
                area.width, area.height
            ),
            theme.dim,
        )),
    ];
    let rect = area.centered_vertically(Constraint::Length(2.min(area.height)));
    frame.render_widget(
        Paragraph::new(text).centered().wrap(Wrap { trim: true }),
        rect,
    );
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
