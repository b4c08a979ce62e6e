//! The TUI's state and the only functions that change it. `UiState` is what
//! the panels read; `TuiState` adds what a session has to remember between
//! events: the screen, the user's quit, the race's end and the snapshot a
//! pause froze. Every change goes through a pure function here that returns
//! the [`Effect`] for the event loop to carry out, so the loop in `run.rs`
//! decides nothing and every transition is tested below without a terminal.

use std::sync::Arc;

use super::action::{Action, ScrollTo};
use super::panels::charts::ChartMetric;
use super::panels::timeline;
use crate::metrics::{RacePhase, RaceSnapshot};
use crate::replay::{Playback, PlaybackCommand};
use crate::workload::LoadView;

/// The view: what the panels draw besides the snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UiState {
    pub help_open: bool,
    pub inspector_open: bool,
    /// The display is frozen on the snapshot taken when pausing.
    pub paused: bool,
    /// Index of the selected lane (inspector, highlights).
    pub selected_lane: usize,
    /// Number of lanes, to wrap the selection.
    pub lane_count: usize,
    /// The race is over; the final leaderboard stays until `q`.
    pub finished: bool,
    /// The race was told to stop (`q`, a signal) and is finishing the
    /// requests in flight.
    pub stopping: bool,
    /// Set when showing a replay: where its playback stands.
    pub replay: Option<Playback>,
    /// What fills the screen below the header: the lanes or a view.
    pub view: View,
    /// The metric the charts show.
    pub chart_metric: ChartMetric,
    /// The explainer's first screen line shown.
    pub explainer_from: usize,
    /// The terminal's size (columns, rows) as last seen: the explainer's
    /// pages and lines depend on it.
    pub screen: (u16, u16),
    /// The timeline's selected request of the selected engine, pinned by
    /// its number with ↑/↓; `None` follows the newest.
    pub timeline_request: Option<u64>,
}

/// What fills the screen below the header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum View {
    /// Lanes and leaderboard.
    #[default]
    Race,
    /// `c`: charts over time.
    Charts,
    /// `d` or Enter: the selected engine in detail.
    Drill,
    /// `e`: what the numbers mean (docs/METRICS.md).
    Explainer,
    /// `t`: every engine's recent requests on a time axis.
    Timeline,
}

/// What the event loop must do after a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    /// The screen changed: draw it at the next frame slot.
    Redraw,
    /// End the race: no new requests; in-flight ones get the grace period.
    StopRace,
    /// Cut the requests still in flight.
    AbortRace,
    /// End the session: restore the terminal and return.
    Leave,
    /// Send a command to the replay.
    Playback(PlaybackCommand),
}

/// What a session shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    /// The dataset and tokenizers are loading.
    Loading {
        race_name: String,
        /// The load's current step, as last read.
        step: Option<LoadView>,
        /// The spinner's animation step.
        spinner: usize,
    },
    /// A live race or a replay.
    Race {
        /// The newest snapshot received.
        latest: Arc<RaceSnapshot>,
        /// While paused: the snapshot taken when pausing, shown instead.
        frozen: Option<Arc<RaceSnapshot>>,
    },
}

/// A TUI session's whole state.
#[derive(Debug, Clone, PartialEq)]
pub struct TuiState {
    pub screen: Screen,
    pub view: UiState,
    /// Leave as soon as the race ends (`--exit-on-finish`).
    pub exit_on_finish: bool,
    /// The first `q` stopped the race: the next one aborts it, and its end
    /// leaves at once.
    pub quitting: bool,
    /// The snapshot source has closed: the last snapshot was final.
    pub source_ended: bool,
    /// The terminal's input has gone: nothing is drawn any more.
    pub input_gone: bool,
    /// The race's stop token has fired (SIGTERM, or our own `StopRace`).
    pub stop_seen: bool,
}

impl TuiState {
    /// The loading screen of the race called `race_name`.
    #[must_use]
    pub fn loading(race_name: &str) -> TuiState {
        TuiState::new(
            Screen::Loading {
                race_name: race_name.to_string(),
                step: None,
                spinner: 0,
            },
            UiState::default(),
            false,
        )
    }

    /// The race screen, starting from the source's current snapshot.
    /// `replay` is set for a replay: its playback state.
    #[must_use]
    pub fn race(
        first: Arc<RaceSnapshot>,
        replay: Option<Playback>,
        exit_on_finish: bool,
    ) -> TuiState {
        let view = UiState {
            lane_count: first.lanes.len(),
            replay,
            ..UiState::default()
        };
        TuiState::new(
            Screen::Race {
                latest: first,
                frozen: None,
            },
            view,
            exit_on_finish,
        )
    }

    fn new(screen: Screen, view: UiState, exit_on_finish: bool) -> TuiState {
        TuiState {
            screen,
            view,
            exit_on_finish,
            quitting: false,
            source_ended: false,
            input_gone: false,
            stop_seen: false,
        }
    }

    /// The snapshot on screen: the frozen one while paused, else the newest.
    #[must_use]
    pub fn shown(&self) -> Option<&Arc<RaceSnapshot>> {
        match &self.screen {
            Screen::Loading { .. } => None,
            Screen::Race { latest, frozen } => Some(frozen.as_ref().unwrap_or(latest)),
        }
    }

    /// Whether the screen animates on its own (the loading spinner).
    #[must_use]
    pub fn animates(&self) -> bool {
        matches!(self.screen, Screen::Loading { .. })
    }

    fn is_replay(&self) -> bool {
        self.view.replay.is_some()
    }

    /// After the shown snapshot changed: whether the race is over, and
    /// whether that ends the session.
    fn shown_changed(&mut self) -> Effect {
        let Some(shown) = self.shown() else {
            return Effect::None;
        };
        // Derived each time, not latched: a replay can go back from its end.
        self.view.finished = self.source_ended || shown.phase == RacePhase::Finished;
        // A race stopped with `q` ends on its final screen, as any race
        // does; only --exit-on-finish, or an input gone, leaves by itself.
        if self.view.finished && (self.input_gone || self.exit_on_finish) {
            Effect::Leave
        } else if self.input_gone {
            Effect::None
        } else {
            Effect::Redraw
        }
    }
}

/// Applies a key's action.
pub fn update(state: &mut TuiState, action: Action) -> Effect {
    if matches!(state.screen, Screen::Loading { .. }) {
        // Before the race only quitting means anything: it quits at once,
        // as nothing has been started.
        return if action == Action::Quit {
            Effect::Leave
        } else {
            Effect::None
        };
    }
    let ui = &mut state.view;
    match action {
        Action::Quit => return quit(state),
        Action::TogglePause => return toggle_pause(state),
        Action::Playback(command) => return Effect::Playback(command),
        Action::ToggleHelp => ui.help_open = !ui.help_open,
        Action::Back => {
            if ui.help_open {
                ui.help_open = false;
            } else {
                ui.view = View::Race;
            }
        }
        Action::ToggleCharts => ui.view = toggled(ui.view, View::Charts),
        Action::ToggleDrill => ui.view = toggled(ui.view, View::Drill),
        Action::ToggleExplainer => ui.view = toggled(ui.view, View::Explainer),
        Action::Scroll(to) => ui.explainer_from = scrolled(ui.explainer_from, to, ui.screen),
        Action::ToggleTimeline => ui.view = toggled(ui.view, View::Timeline),
        Action::NewerRequest => return select_request(state, false),
        Action::OlderRequest => return select_request(state, true),
        Action::NextMetric => ui.chart_metric = ui.chart_metric.next(),
        Action::PreviousMetric => ui.chart_metric = ui.chart_metric.previous(),
        Action::ToggleInspector => ui.inspector_open = !ui.inspector_open,
        Action::NextLane => {
            if ui.lane_count > 0 {
                ui.selected_lane = (ui.selected_lane + 1) % ui.lane_count;
            }
            ui.timeline_request = None;
        }
        Action::PreviousLane => {
            if ui.lane_count > 0 {
                ui.selected_lane = (ui.selected_lane + ui.lane_count - 1) % ui.lane_count;
            }
            ui.timeline_request = None;
        }
    }
    Effect::Redraw
}

/// The explainer's first line after a scroll, in the document as laid
/// out for the screen: a page is the rows it shows, and the last page
/// ends with the document.
fn scrolled(from: usize, to: ScrollTo, screen: (u16, u16)) -> usize {
    use super::panels::explainer::{document, text_size};
    let (width, rows) = text_size(screen);
    // The layout is the same in every theme; mono's is as good as any.
    let doc = document(width, &super::theme::Theme::mono());
    let page = usize::from(rows).max(1);
    let last = doc.len().saturating_sub(page);
    let from = from.min(last);
    match to {
        ScrollTo::Up => from.saturating_sub(1),
        ScrollTo::Down => (from + 1).min(last),
        ScrollTo::PageUp => from.saturating_sub(page),
        ScrollTo::PageDown => (from + page).min(last),
        ScrollTo::Top => 0,
        ScrollTo::NextSection => doc.next_section(from).min(last),
        ScrollTo::PreviousSection => doc.previous_section(from),
    }
}

/// ↑/↓ in the timeline: the next newer or older of the selected engine's
/// recent requests in the snapshot on screen.
fn select_request(state: &mut TuiState, older: bool) -> Effect {
    let ui = &state.view;
    let lane = state.shown().and_then(|s| s.lanes.get(ui.selected_lane));
    let pinned = lane.and_then(|l| timeline::step(&l.recent, ui.timeline_request, older));
    state.view.timeline_request = pinned;
    Effect::Redraw
}

/// `view` opened, or closed back to the race if it is the one showing.
fn toggled(current: View, view: View) -> View {
    if current == view { View::Race } else { view }
}

/// `q`: leave what is over or only replayed; otherwise stop the race, and
/// if it is already stopping, cut its requests.
fn quit(state: &mut TuiState) -> Effect {
    if state.view.finished || state.is_replay() {
        Effect::Leave
    } else if state.quitting {
        Effect::AbortRace
    } else {
        state.quitting = true;
        state.view.stopping = true;
        Effect::StopRace
    }
}

fn toggle_pause(state: &mut TuiState) -> Effect {
    state.view.paused = !state.view.paused;
    if let Screen::Race { latest, frozen } = &mut state.screen {
        *frozen = state.view.paused.then(|| Arc::clone(latest));
    }
    state.shown_changed()
}

/// A new snapshot; `source_ended` when the source has closed after it (the
/// race is over and nothing more will come).
pub fn on_snapshot(
    state: &mut TuiState,
    snapshot: Arc<RaceSnapshot>,
    source_ended: bool,
) -> Effect {
    let Screen::Race { latest, frozen } = &mut state.screen else {
        return Effect::None;
    };
    *latest = snapshot;
    if source_ended {
        state.source_ended = true;
        // The final result is shown even while paused.
        *frozen = None;
    } else if frozen.is_some() {
        return Effect::None;
    }
    state.shown_changed()
}

/// The replay's playback moved (position, speed, playing).
pub fn on_playback(state: &mut TuiState, playback: Playback) -> Effect {
    state.view.replay = Some(playback);
    Effect::Redraw
}

/// The terminal's input has ended (or fails). A live race is stopped as
/// with `q`, and the session leaves when it is over; there is nobody to
/// press a key on the final screen.
pub fn on_input_gone(state: &mut TuiState) -> Effect {
    state.input_gone = true;
    match state.screen {
        // The load goes on; the race screen will find the input gone too.
        Screen::Loading { .. } => Effect::None,
        // Nothing runs behind a replay or a finished race.
        Screen::Race { .. } if state.is_replay() || state.view.finished => Effect::Leave,
        Screen::Race { .. } => {
            state.quitting = true;
            Effect::StopRace
        }
    }
}

/// The race's stop token fired. A replay has no race to stop, so a SIGTERM
/// leaves it (through the loop, so the terminal is restored). A live race
/// then ends by itself, and its end is handled like any other.
pub fn on_stop_requested(state: &mut TuiState) -> Effect {
    state.stop_seen = true;
    if state.is_replay() {
        Effect::Leave
    } else {
        state.view.stopping = true;
        Effect::Redraw
    }
}

/// The loading spinner's clock ticked: the next animation step, and the
/// load's current step.
pub fn on_tick(state: &mut TuiState, step: Option<LoadView>) -> Effect {
    match &mut state.screen {
        Screen::Loading {
            step: shown,
            spinner,
            ..
        } => {
            *spinner = spinner.wrapping_add(1);
            *shown = step;
            Effect::Redraw
        }
        Screen::Race { .. } => Effect::None,
    }
}

/// The work behind the loading screen is done: the race can start.
pub fn on_loaded(_state: &mut TuiState) -> Effect {
    Effect::Leave
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ui::test_support::{finished_fixture, snapshot_fixture};

    fn running(sequence: u64) -> Arc<RaceSnapshot> {
        let mut snap = snapshot_fixture(3);
        snap.sequence = sequence;
        Arc::new(snap)
    }

    fn finished() -> Arc<RaceSnapshot> {
        Arc::new(finished_fixture(3))
    }

    fn live() -> TuiState {
        TuiState::race(running(1), None, false)
    }

    fn replay() -> TuiState {
        let playback = Playback {
            position: Duration::ZERO,
            length: Duration::from_secs(60),
            speed: 1.0,
            playing: true,
        };
        TuiState::race(running(1), Some(playback), false)
    }

    fn shown_sequence(state: &TuiState) -> u64 {
        state.shown().unwrap().sequence
    }

    #[test]
    fn lane_selection_wraps_both_ways() {
        let mut state = live();
        assert_eq!(state.view.lane_count, 3);
        update(&mut state, Action::PreviousLane);
        assert_eq!(state.view.selected_lane, 2);
        update(&mut state, Action::NextLane);
        assert_eq!(state.view.selected_lane, 0);
    }

    #[test]
    fn toggles_and_quit() {
        let mut state = live();
        assert_eq!(update(&mut state, Action::ToggleHelp), Effect::Redraw);
        assert!(state.view.help_open);
        update(&mut state, Action::Back);
        assert!(!state.view.help_open);
        update(&mut state, Action::TogglePause);
        assert!(state.view.paused);
        assert_eq!(update(&mut state, Action::Quit), Effect::StopRace);
    }

    #[test]
    fn the_first_q_stops_the_race_and_the_next_ones_abort_it() {
        let mut state = live();
        assert_eq!(update(&mut state, Action::Quit), Effect::StopRace);
        assert!(state.quitting);
        assert_eq!(update(&mut state, Action::Quit), Effect::AbortRace);
        assert_eq!(update(&mut state, Action::Quit), Effect::AbortRace);
        // The race drains in view: its snapshots still come and are drawn.
        assert_eq!(on_snapshot(&mut state, running(2), false), Effect::Redraw);
    }

    #[test]
    fn a_race_stopped_with_q_says_so_then_ends_on_its_final_screen() {
        let mut state = live();
        assert_eq!(update(&mut state, Action::Quit), Effect::StopRace);
        assert!(state.view.stopping, "the header says it is stopping");
        assert_eq!(on_snapshot(&mut state, finished(), false), Effect::Redraw);
        assert!(state.view.finished);
        assert_eq!(update(&mut state, Action::Quit), Effect::Leave);
    }

    #[test]
    fn the_race_ending_with_exit_on_finish_leaves_at_once() {
        let mut state = TuiState::race(running(1), None, true);
        assert_eq!(on_snapshot(&mut state, running(2), false), Effect::Redraw);
        assert_eq!(on_snapshot(&mut state, finished(), false), Effect::Leave);
    }

    #[test]
    fn the_final_screen_stays_until_q_which_leaves() {
        let mut state = live();
        assert_eq!(on_snapshot(&mut state, finished(), false), Effect::Redraw);
        assert!(state.view.finished);
        assert_eq!(on_snapshot(&mut state, finished(), true), Effect::Redraw);
        assert!(state.source_ended);
        // Other keys still work on the final screen.
        assert_eq!(update(&mut state, Action::ToggleInspector), Effect::Redraw);
        assert_eq!(update(&mut state, Action::Quit), Effect::Leave);
        assert!(!state.quitting, "nothing was stopped");
    }

    #[test]
    fn the_source_closing_ends_the_race_whatever_its_last_phase() {
        let mut state = live();
        assert_eq!(on_snapshot(&mut state, running(2), true), Effect::Redraw);
        assert!(state.view.finished);
        assert_eq!(update(&mut state, Action::Quit), Effect::Leave);
    }

    #[test]
    fn pausing_freezes_the_shown_snapshot_and_resuming_shows_the_latest() {
        let mut state = live();
        on_snapshot(&mut state, running(2), false);
        assert_eq!(update(&mut state, Action::TogglePause), Effect::Redraw);
        assert!(state.view.paused);
        // New snapshots arrive but nothing is drawn: the display is frozen.
        assert_eq!(on_snapshot(&mut state, running(3), false), Effect::None);
        assert_eq!(on_snapshot(&mut state, running(4), false), Effect::None);
        assert_eq!(shown_sequence(&state), 2);
        // Keys still change the view, over the frozen snapshot.
        assert_eq!(update(&mut state, Action::ToggleHelp), Effect::Redraw);
        assert_eq!(shown_sequence(&state), 2);
        assert_eq!(update(&mut state, Action::TogglePause), Effect::Redraw);
        assert!(!state.view.paused);
        assert_eq!(shown_sequence(&state), 4);
        assert_eq!(on_snapshot(&mut state, running(5), false), Effect::Redraw);
        assert_eq!(shown_sequence(&state), 5);
    }

    #[test]
    fn a_race_finishing_behind_a_pause_is_over_once_shown() {
        let mut state = live();
        update(&mut state, Action::TogglePause);
        assert_eq!(on_snapshot(&mut state, finished(), false), Effect::None);
        assert!(!state.view.finished, "the frozen race is still running");
        assert_eq!(update(&mut state, Action::TogglePause), Effect::Redraw);
        assert!(state.view.finished);

        // Quitting while paused: resuming onto the end shows the final
        // screen, which the next q leaves.
        let mut state = live();
        update(&mut state, Action::TogglePause);
        update(&mut state, Action::Quit);
        on_snapshot(&mut state, finished(), false);
        assert_eq!(update(&mut state, Action::TogglePause), Effect::Redraw);
        assert_eq!(update(&mut state, Action::Quit), Effect::Leave);
    }

    #[test]
    fn the_source_closing_shows_the_final_result_even_while_paused() {
        let mut state = live();
        update(&mut state, Action::TogglePause);
        on_snapshot(&mut state, running(2), false);
        assert_eq!(on_snapshot(&mut state, finished(), true), Effect::Redraw);
        assert_eq!(state.shown().unwrap().phase, RacePhase::Finished);
        assert!(state.view.finished);
        assert!(state.view.paused, "the marker stays until p");

        let mut state = live();
        update(&mut state, Action::TogglePause);
        update(&mut state, Action::Quit);
        assert_eq!(on_snapshot(&mut state, running(2), true), Effect::Redraw);
        assert!(state.view.finished);
    }

    #[test]
    fn q_in_a_replay_leaves_at_once() {
        let mut state = replay();
        assert_eq!(update(&mut state, Action::Quit), Effect::Leave);
        assert!(!state.quitting, "a replay has no race to stop");
    }

    #[test]
    fn a_replay_forwards_playback_keys_and_shows_where_it_stands() {
        let mut state = replay();
        assert_eq!(
            update(&mut state, Action::Playback(PlaybackCommand::Faster)),
            Effect::Playback(PlaybackCommand::Faster)
        );
        let mut playback = state.view.replay.unwrap();
        playback.speed = 2.0;
        assert_eq!(on_playback(&mut state, playback), Effect::Redraw);
        assert_eq!(state.view.replay, Some(playback));
    }

    #[test]
    fn a_replay_rewound_from_its_end_is_no_longer_finished() {
        let mut state = replay();
        assert_eq!(on_snapshot(&mut state, finished(), false), Effect::Redraw);
        assert!(state.view.finished);
        assert_eq!(on_snapshot(&mut state, running(2), false), Effect::Redraw);
        assert!(!state.view.finished);
    }

    #[test]
    fn a_replay_reaching_its_end_with_exit_on_finish_leaves() {
        let mut state = replay();
        state.exit_on_finish = true;
        assert_eq!(on_snapshot(&mut state, finished(), false), Effect::Leave);
    }

    #[test]
    fn losing_the_input_stops_the_race_and_leaves_at_its_end_drawing_nothing() {
        let mut state = live();
        assert_eq!(on_input_gone(&mut state), Effect::StopRace);
        assert!(state.input_gone && state.quitting);
        assert_eq!(on_snapshot(&mut state, running(2), false), Effect::None);
        assert_eq!(on_snapshot(&mut state, finished(), false), Effect::Leave);

        let mut state = live();
        on_input_gone(&mut state);
        assert_eq!(on_snapshot(&mut state, running(2), true), Effect::Leave);
    }

    #[test]
    fn losing_the_input_on_the_final_screen_or_in_a_replay_leaves() {
        let mut state = live();
        on_snapshot(&mut state, finished(), false);
        assert_eq!(on_input_gone(&mut state), Effect::Leave);
        assert!(!state.quitting);

        let mut state = replay();
        assert_eq!(on_input_gone(&mut state), Effect::Leave);
    }

    #[test]
    fn a_stop_request_leaves_a_replay_but_lets_a_live_race_end_by_itself() {
        let mut state = replay();
        assert_eq!(on_stop_requested(&mut state), Effect::Leave);

        let mut state = live();
        assert_eq!(on_stop_requested(&mut state), Effect::Redraw);
        assert!(state.stop_seen && state.view.stopping);
        assert!(!state.quitting);
        // Its end shows the final screen, which waits for a key.
        assert_eq!(on_snapshot(&mut state, finished(), true), Effect::Redraw);
        assert_eq!(update(&mut state, Action::Quit), Effect::Leave);
    }

    #[test]
    fn the_loading_screen_quits_on_q_and_ignores_the_race_keys() {
        let mut state = TuiState::loading("Slow to load");
        for action in [
            Action::ToggleHelp,
            Action::TogglePause,
            Action::ToggleInspector,
            Action::NextLane,
        ] {
            assert_eq!(update(&mut state, action), Effect::None);
        }
        assert_eq!(state.view, UiState::default());
        assert_eq!(update(&mut state, Action::Quit), Effect::Leave);
    }

    #[test]
    fn the_loading_spinner_moves_on_each_tick_with_the_current_step() {
        let mut state = TuiState::loading("Slow to load");
        assert!(state.animates());
        assert!(!live().animates());
        let step = LoadView {
            message: "counting tokens".into(),
            done: 10,
            total: Some(256),
            per_sec: 100.0,
            eta: None,
        };
        assert_eq!(on_tick(&mut state, Some(step.clone())), Effect::Redraw);
        assert_eq!(on_tick(&mut state, Some(step.clone())), Effect::Redraw);
        assert_eq!(
            state.screen,
            Screen::Loading {
                race_name: "Slow to load".into(),
                step: Some(step),
                spinner: 2,
            }
        );
        assert_eq!(on_loaded(&mut state), Effect::Leave);
    }

    #[test]
    fn losing_the_input_while_loading_lets_the_load_finish() {
        let mut state = TuiState::loading("Slow to load");
        assert_eq!(on_input_gone(&mut state), Effect::None);
        assert!(state.input_gone);
        assert_eq!(on_tick(&mut state, None), Effect::Redraw);
        assert_eq!(on_loaded(&mut state), Effect::Leave);
    }
}
