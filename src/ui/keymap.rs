//! Every key binding, in one table: which keys, in which kind of screen
//! (a live race, a replay, or both), what they do, and how the help overlay
//! shows them. `action_for` reads the table top to bottom, so the help
//! cannot drift from the keys.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::{Action, ScrollTo};
use super::state::{UiState, View};
use crate::replay::PlaybackCommand;
use crate::replay::player::{SEEK_LONG, SEEK_SHORT};

/// Where a binding works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Screen {
    Live,
    Replay,
    Both,
}

/// A line of the help overlay: the keys, and what they do.
type HelpLine = (&'static str, &'static str);

/// One binding.
struct Binding {
    screen: Screen,
    /// How the live race's help shows it (`None`: it does not).
    live_help: Option<HelpLine>,
    /// How a replay's help shows it.
    replay_help: Option<HelpLine>,
    /// The action for a key press in this view state, if the binding takes it.
    action: fn(&UiState, KeyEvent) -> Option<Action>,
}

/// The table. Earlier rows win: the views' own keys (the explainer's
/// scrolling, the charts' arrows) come before the rest.
const BINDINGS: &[Binding] = &[
    Binding {
        screen: Screen::Both,
        live_help: Some((
            "q  Ctrl-C",
            "end the race (results are written) / leave the final screen",
        )),
        replay_help: Some(("q  Ctrl-C", "leave the replay")),
        action: |_, key| match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                Some(Action::Quit)
            }
            KeyCode::Char('q' | 'Q') => Some(Action::Quit),
            _ => None,
        },
    },
    Binding {
        screen: Screen::Both,
        live_help: None,
        replay_help: None,
        action: |ui, key| {
            (ui.view == View::Explainer && !ui.help_open)
                .then(|| explainer_scroll(key.code))
                .flatten()
                .map(Action::Scroll)
        },
    },
    Binding {
        screen: Screen::Both,
        live_help: None,
        replay_help: None,
        action: |ui, key| match key.code {
            _ if ui.view != View::Charts || ui.help_open => None,
            KeyCode::Right => Some(Action::NextMetric),
            KeyCode::Left => Some(Action::PreviousMetric),
            _ => None,
        },
    },
    Binding {
        screen: Screen::Both,
        live_help: Some(("?", "show or hide this help")),
        replay_help: Some(("?", "show or hide this help")),
        action: |_, key| (key.code == KeyCode::Char('?')).then_some(Action::ToggleHelp),
    },
    Binding {
        screen: Screen::Live,
        live_help: Some(("p", "pause or resume the display (the race goes on)")),
        replay_help: None,
        action: |_, key| {
            matches!(key.code, KeyCode::Char('p' | 'P')).then_some(Action::TogglePause)
        },
    },
    Binding {
        screen: Screen::Replay,
        live_help: None,
        replay_help: Some(("Space  p", "play or pause")),
        action: |_, key| {
            matches!(key.code, KeyCode::Char(' ' | 'p' | 'P'))
                .then_some(Action::Playback(PlaybackCommand::TogglePlay))
        },
    },
    Binding {
        screen: Screen::Replay,
        live_help: None,
        replay_help: Some(("+  -", "faster / slower (0.25× to 16×)")),
        action: |_, key| match key.code {
            KeyCode::Char('+' | '=') => Some(Action::Playback(PlaybackCommand::Faster)),
            KeyCode::Char('-' | '_') => Some(Action::Playback(PlaybackCommand::Slower)),
            _ => None,
        },
    },
    Binding {
        screen: Screen::Replay,
        live_help: None,
        replay_help: Some(("← →", "back / forward 10 s")),
        action: |_, key| seek(key, false, SEEK_SHORT),
    },
    Binding {
        screen: Screen::Replay,
        live_help: None,
        replay_help: Some(("Shift+← →", "back / forward 60 s")),
        action: |_, key| seek(key, true, SEEK_LONG),
    },
    Binding {
        screen: Screen::Replay,
        live_help: None,
        replay_help: Some(("Home", "back to the start")),
        action: |_, key| {
            (key.code == KeyCode::Home).then_some(Action::Playback(PlaybackCommand::Restart))
        },
    },
    Binding {
        screen: Screen::Both,
        live_help: Some(("i", "open or close the request inspector")),
        replay_help: Some(("i", "open or close the request inspector")),
        action: |_, key| {
            matches!(key.code, KeyCode::Char('i' | 'I')).then_some(Action::ToggleInspector)
        },
    },
    Binding {
        screen: Screen::Both,
        live_help: Some(("c", "charts over time: TTFT, TTFOT, TPOT, output tok/s")),
        replay_help: Some(("c", "charts over time (← → then change the metric)")),
        action: |_, key| {
            matches!(key.code, KeyCode::Char('c' | 'C')).then_some(Action::ToggleCharts)
        },
    },
    Binding {
        screen: Screen::Both,
        live_help: Some((
            "d  Enter",
            "the selected engine in detail: histograms, percentiles, errors",
        )),
        replay_help: Some(("d  Enter", "the selected engine in detail")),
        action: |_, key| {
            matches!(key.code, KeyCode::Char('d' | 'D') | KeyCode::Enter)
                .then_some(Action::ToggleDrill)
        },
    },
    Binding {
        screen: Screen::Live,
        live_help: Some(("t", "timeline of recent requests (↑ ↓ select one)")),
        replay_help: None,
        action: |_, key| timeline(key),
    },
    Binding {
        screen: Screen::Both,
        live_help: Some((
            "e",
            "what each number means (↑ ↓ PgUp PgDn scroll, ← → sections)",
        )),
        replay_help: Some(("e", "what each number means (↑ ↓ scroll, ← → sections)")),
        action: |_, key| {
            matches!(key.code, KeyCode::Char('e' | 'E')).then_some(Action::ToggleExplainer)
        },
    },
    Binding {
        screen: Screen::Replay,
        live_help: None,
        replay_help: Some(("t", "timeline of recent requests (↑ ↓ select one)")),
        action: |_, key| timeline(key),
    },
    Binding {
        screen: Screen::Live,
        live_help: Some((
            "← →  Tab",
            "select the previous / next engine (in charts: the metric)",
        )),
        replay_help: None,
        action: |_, key| match key.code {
            KeyCode::Right | KeyCode::Tab => Some(Action::NextLane),
            KeyCode::Left | KeyCode::BackTab => Some(Action::PreviousLane),
            _ => None,
        },
    },
    Binding {
        screen: Screen::Replay,
        live_help: None,
        replay_help: Some(("Tab  Shift+Tab", "select the next / previous engine")),
        action: |_, key| match key.code {
            KeyCode::Tab => Some(Action::NextLane),
            KeyCode::BackTab => Some(Action::PreviousLane),
            _ => None,
        },
    },
    Binding {
        screen: Screen::Both,
        live_help: Some(("Esc", "close help, or go back from a view")),
        replay_help: Some(("Esc", "close help, or go back from a view")),
        action: |ui, key| {
            (key.code == KeyCode::Esc && (ui.help_open || ui.view != View::Race))
                .then_some(Action::Back)
        },
    },
    // In the timeline, live or replayed, the up and down arrows pick a request.
    Binding {
        screen: Screen::Both,
        live_help: None,
        replay_help: None,
        action: |ui, key| match key.code {
            _ if ui.view != View::Timeline => None,
            KeyCode::Up => Some(Action::NewerRequest),
            KeyCode::Down => Some(Action::OlderRequest),
            _ => None,
        },
    },
];

fn timeline(key: KeyEvent) -> Option<Action> {
    matches!(key.code, KeyCode::Char('t' | 'T')).then_some(Action::ToggleTimeline)
}

/// A replay's seek by `step` on ← and →, with Shift held or not.
fn seek(key: KeyEvent, shift: bool, step: std::time::Duration) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::SHIFT) != shift {
        return None;
    }
    match key.code {
        KeyCode::Right => Some(Action::Playback(PlaybackCommand::Forward(step))),
        KeyCode::Left => Some(Action::Playback(PlaybackCommand::Back(step))),
        _ => None,
    }
}

/// The explainer's own keys.
fn explainer_scroll(code: KeyCode) -> Option<ScrollTo> {
    Some(match code {
        KeyCode::Up | KeyCode::Char('k') => ScrollTo::Up,
        KeyCode::Down | KeyCode::Char('j') => ScrollTo::Down,
        KeyCode::PageUp => ScrollTo::PageUp,
        KeyCode::PageDown => ScrollTo::PageDown,
        KeyCode::Home => ScrollTo::Top,
        KeyCode::Right => ScrollTo::NextSection,
        KeyCode::Left => ScrollTo::PreviousSection,
        _ => return None,
    })
}

impl Screen {
    fn includes(self, replay: bool) -> bool {
        match self {
            Screen::Both => true,
            Screen::Live => !replay,
            Screen::Replay => replay,
        }
    }
}

/// The action for a key press, if any. Only presses count (Windows also
/// reports releases).
#[must_use]
pub fn action_for(ui: &UiState, key: KeyEvent) -> Option<Action> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    let replay = ui.replay.is_some();
    BINDINGS
        .iter()
        .filter(|b| b.screen.includes(replay))
        .find_map(|b| (b.action)(ui, key))
}

/// The help overlay's lines: a live race's, or a replay's.
#[must_use]
pub fn key_help(replay: bool) -> Vec<HelpLine> {
    BINDINGS
        .iter()
        .filter_map(|b| if replay { b.replay_help } else { b.live_help })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ui::panels::charts::ChartMetric;
    use crate::ui::state::{Effect, TuiState, on_snapshot, update};
    use crate::ui::test_support::snapshot_fixture;

    fn live() -> TuiState {
        TuiState::race(Arc::new(snapshot_fixture(3)), None, false)
    }

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn keys_map_to_actions_and_releases_are_ignored() {
        let ui = UiState::default();
        assert_eq!(
            action_for(&ui, press(KeyCode::Char('q'))),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(
                &ui,
                KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
            ),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(&ui, press(KeyCode::Char('?'))),
            Some(Action::ToggleHelp)
        );
        assert_eq!(action_for(&ui, press(KeyCode::Esc)), None);
        let mut release = press(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(action_for(&ui, release), None);
    }

    #[test]
    fn a_replay_maps_arrows_to_seeking_and_tab_still_selects() {
        let ui = UiState {
            replay: Some(crate::replay::Playback {
                position: std::time::Duration::ZERO,
                length: std::time::Duration::from_secs(60),
                speed: 1.0,
                playing: true,
            }),
            ..UiState::default()
        };
        assert_eq!(
            action_for(&ui, press(KeyCode::Right)),
            Some(Action::Playback(PlaybackCommand::Forward(SEEK_SHORT)))
        );
        assert_eq!(
            action_for(&ui, KeyEvent::new(KeyCode::Left, KeyModifiers::SHIFT)),
            Some(Action::Playback(PlaybackCommand::Back(SEEK_LONG)))
        );
        assert_eq!(
            action_for(&ui, press(KeyCode::Char(' '))),
            Some(Action::Playback(PlaybackCommand::TogglePlay))
        );
        assert_eq!(action_for(&ui, press(KeyCode::Tab)), Some(Action::NextLane));
        assert_eq!(
            action_for(&ui, press(KeyCode::Char('q'))),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(&ui, press(KeyCode::Char('t'))),
            Some(Action::ToggleTimeline)
        );
        // In a replay's timeline the up and down arrows still pick a request.
        let timeline = UiState {
            view: View::Timeline,
            ..ui
        };
        assert_eq!(
            action_for(&timeline, press(KeyCode::Up)),
            Some(Action::NewerRequest)
        );
        assert_eq!(
            action_for(&timeline, press(KeyCode::Down)),
            Some(Action::OlderRequest)
        );
        // Live, the arrows select lanes.
        assert_eq!(
            action_for(&UiState::default(), press(KeyCode::Right)),
            Some(Action::NextLane)
        );
    }

    #[test]
    fn c_opens_the_charts_arrows_change_the_metric_and_esc_goes_back() {
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
        let mut state = live();
        let press = |state: &mut TuiState, code| {
            let action = action_for(&state.view, key(code)).expect("a bound key");
            update(state, action)
        };
        assert_eq!(press(&mut state, KeyCode::Char('c')), Effect::Redraw);
        assert_eq!(state.view.view, View::Charts);
        press(&mut state, KeyCode::Right);
        assert_eq!(state.view.chart_metric, ChartMetric::Ttfot);
        press(&mut state, KeyCode::Left);
        press(&mut state, KeyCode::Left);
        assert_eq!(state.view.chart_metric, ChartMetric::ServerHitRate);
        // The arrows changed the metric, not the engine.
        assert_eq!(state.view.selected_lane, 0);
        // Help on top closes first; then Esc leaves the charts.
        press(&mut state, KeyCode::Char('?'));
        press(&mut state, KeyCode::Esc);
        assert_eq!(
            (state.view.help_open, state.view.view),
            (false, View::Charts)
        );
        press(&mut state, KeyCode::Esc);
        assert_eq!(state.view.view, View::Race);
        // In the race view the arrows select engines again; c toggles.
        press(&mut state, KeyCode::Right);
        assert_eq!(state.view.selected_lane, 1);
        press(&mut state, KeyCode::Char('c'));
        press(&mut state, KeyCode::Char('c'));
        assert_eq!(state.view.view, View::Race);
        assert_eq!(action_for(&state.view, key(KeyCode::Esc)), None);
    }

    #[test]
    fn e_opens_the_explainer_and_its_keys_scroll_within_the_document() {
        use crate::ui::panels::explainer::{document, text_size};
        use crate::ui::theme::Theme;
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        // An 80×24 screen: the explainer shows 19 lines of the document as
        // laid out 78 columns wide.
        let (width, page) = text_size((80, 24));
        let page = usize::from(page);
        let doc = document(width, &Theme::mono());
        let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
        let mut state = live();
        state.view.screen = (80, 24);
        let press = |state: &mut TuiState, code| {
            let action = action_for(&state.view, key(code)).expect("a bound key");
            update(state, action)
        };
        press(&mut state, KeyCode::Char('e'));
        assert_eq!(state.view.view, View::Explainer);
        press(&mut state, KeyCode::Up);
        assert_eq!(state.view.explainer_from, 0, "never above the top");
        press(&mut state, KeyCode::Down);
        press(&mut state, KeyCode::PageDown);
        assert_eq!(
            state.view.explainer_from,
            1 + page,
            "a page is the rows shown"
        );
        press(&mut state, KeyCode::Home);
        press(&mut state, KeyCode::Right);
        assert_eq!(state.view.explainer_from, doc.next_section(0));
        press(&mut state, KeyCode::Left);
        assert_eq!(state.view.explainer_from, 0);
        for _ in 0..1000 {
            press(&mut state, KeyCode::PageDown);
        }
        assert_eq!(
            state.view.explainer_from,
            doc.len() - page,
            "the last page ends with the document"
        );
        // The arrows scrolled; the engine stayed.
        assert_eq!(state.view.selected_lane, 0);
        press(&mut state, KeyCode::Esc);
        assert_eq!(state.view.view, View::Race);
    }

    #[test]
    fn t_opens_the_timeline_arrows_pin_a_request_and_esc_goes_back() {
        use crate::ui::test_support::timeline_fixture;
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
        let press = |state: &mut TuiState, code| {
            let action = action_for(&state.view, key(code)).expect("a bound key");
            update(state, action)
        };
        let snap = timeline_fixture(3);
        let ids: Vec<u64> = snap.lanes[0].recent.iter().map(|r| r.request_id).collect();
        let n = ids.len();
        let mut state = TuiState::race(Arc::new(snap.clone()), None, false);
        assert_eq!(action_for(&state.view, key(KeyCode::Down)), None);
        assert_eq!(press(&mut state, KeyCode::Char('t')), Effect::Redraw);
        assert_eq!(state.view.view, View::Timeline);
        assert_eq!(state.view.timeline_request, None, "the newest");
        press(&mut state, KeyCode::Down);
        press(&mut state, KeyCode::Down);
        assert_eq!(state.view.timeline_request, Some(ids[n - 3]));
        press(&mut state, KeyCode::Up);
        assert_eq!(state.view.timeline_request, Some(ids[n - 2]));
        // A newer request finishing does not move the pinned one.
        let mut newer = snap.clone();
        let mut last = *newer.lanes[0].recent.last().unwrap();
        last.request_id = 999;
        newer.lanes[0].recent.push(last);
        on_snapshot(&mut state, Arc::new(newer), false);
        assert_eq!(state.view.timeline_request, Some(ids[n - 2]));
        press(&mut state, KeyCode::Up);
        assert_eq!(state.view.timeline_request, Some(ids[n - 1]));
        press(&mut state, KeyCode::Up);
        assert_eq!(state.view.timeline_request, None, "the newest again");
        // Another engine: its newest.
        press(&mut state, KeyCode::Down);
        press(&mut state, KeyCode::Right);
        assert_eq!(
            (state.view.selected_lane, state.view.timeline_request),
            (1, None)
        );
        press(&mut state, KeyCode::Esc);
        assert_eq!(state.view.view, View::Race);
        press(&mut state, KeyCode::Char('t'));
        press(&mut state, KeyCode::Char('t'));
        assert_eq!(state.view.view, View::Race);
    }
}
