//! User intents and the key bindings that produce them. The help overlay
//! is drawn from the same table, so it cannot drift from the keys.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::state::{UiState, View};
use crate::replay::PlaybackCommand;
use crate::replay::player::{SEEK_LONG, SEEK_SHORT};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    ToggleHelp,
    TogglePause,
    ToggleInspector,
    NextLane,
    PreviousLane,
    /// Close the topmost overlay (help), else go back from a view to the race.
    Back,
    /// `c`: open or close the charts.
    ToggleCharts,
    /// `d` or Enter: open or close the selected engine's details.
    ToggleDrill,
    /// `e`: open or close the explainer.
    ToggleExplainer,
    /// In the explainer: move through the text.
    Scroll(ScrollTo),
    /// `t`: open or close the timeline.
    ToggleTimeline,
    /// In the timeline: select a newer / older request.
    NewerRequest,
    OlderRequest,
    /// In the charts: the next / previous metric.
    NextMetric,
    PreviousMetric,
    /// Replay only: control the playback.
    Playback(PlaybackCommand),
}

/// Where a scroll goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrollTo {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    NextSection,
    PreviousSection,
}

/// Every key binding, for the help overlay: (keys, what they do).
pub const KEY_HELP: &[(&str, &str)] = &[
    (
        "q  Ctrl-C",
        "end the race (results are written) / leave the final screen",
    ),
    ("?", "show or hide this help"),
    ("p", "pause or resume the display (the race goes on)"),
    ("i", "open or close the request inspector"),
    ("c", "charts over time: TTFT, TTFOT, TPOT, output tok/s"),
    (
        "d  Enter",
        "the selected engine in detail: histograms, percentiles, errors",
    ),
    ("t", "timeline of recent requests (↑ ↓ select one)"),
    (
        "e",
        "what each number means (↑ ↓ PgUp PgDn scroll, ← → sections)",
    ),
    (
        "← →  Tab",
        "select the previous / next engine (in charts: the metric)",
    ),
    ("Esc", "close help, or go back from a view"),
];

/// The key bindings of a replay, for the help overlay.
pub const REPLAY_KEY_HELP: &[(&str, &str)] = &[
    ("q  Ctrl-C", "leave the replay"),
    ("?", "show or hide this help"),
    ("Space  p", "play or pause"),
    ("+  -", "faster / slower (0.25× to 16×)"),
    ("← →", "back / forward 10 s"),
    ("Shift+← →", "back / forward 60 s"),
    ("Home", "back to the start"),
    ("i", "open or close the request inspector"),
    ("c", "charts over time (← → then change the metric)"),
    ("d  Enter", "the selected engine in detail"),
    ("e", "what each number means (↑ ↓ scroll, ← → sections)"),
    ("t", "timeline of recent requests (↑ ↓ select one)"),
    ("Tab  Shift+Tab", "select the next / previous engine"),
    ("Esc", "close help, or go back from a view"),
];

/// The key bindings in force: a race's or a replay's.
#[must_use]
pub fn key_help(replay: bool) -> &'static [(&'static str, &'static str)] {
    if replay { REPLAY_KEY_HELP } else { KEY_HELP }
}

/// A replay's own keys.
fn replay_action(key: KeyEvent) -> Option<Action> {
    let step = if key.modifiers.contains(KeyModifiers::SHIFT) {
        SEEK_LONG
    } else {
        SEEK_SHORT
    };
    let command = match key.code {
        KeyCode::Char(' ' | 'p' | 'P') => PlaybackCommand::TogglePlay,
        KeyCode::Char('+' | '=') => PlaybackCommand::Faster,
        KeyCode::Char('-' | '_') => PlaybackCommand::Slower,
        KeyCode::Right => PlaybackCommand::Forward(step),
        KeyCode::Left => PlaybackCommand::Back(step),
        KeyCode::Home => PlaybackCommand::Restart,
        _ => return None,
    };
    Some(Action::Playback(command))
}

/// The explainer's own keys (before a replay's, which share some).
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

/// The action for a key press, if any. Only presses count (Windows also
/// reports releases).
#[must_use]
pub fn action_for(ui: &UiState, key: KeyEvent) -> Option<Action> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && matches!(key.code, KeyCode::Char('c')) {
        return Some(Action::Quit);
    }
    if ui.view == View::Explainer
        && !ui.help_open
        && let Some(to) = explainer_scroll(key.code)
    {
        return Some(Action::Scroll(to));
    }
    // In the charts the arrows change the metric, in a replay too.
    if ui.view == View::Charts && !ui.help_open {
        match key.code {
            KeyCode::Right => return Some(Action::NextMetric),
            KeyCode::Left => return Some(Action::PreviousMetric),
            _ => {}
        }
    }
    if ui.replay.is_some()
        && let Some(action) = replay_action(key)
    {
        return Some(action);
    }
    match key.code {
        KeyCode::Char('q' | 'Q') => Some(Action::Quit),
        KeyCode::Char('?') => Some(Action::ToggleHelp),
        KeyCode::Esc if ui.help_open || ui.view != View::Race => Some(Action::Back),
        KeyCode::Char('c' | 'C') => Some(Action::ToggleCharts),
        KeyCode::Char('d' | 'D') | KeyCode::Enter => Some(Action::ToggleDrill),
        KeyCode::Char('e' | 'E') => Some(Action::ToggleExplainer),
        KeyCode::Char('t' | 'T') => Some(Action::ToggleTimeline),
        KeyCode::Up if ui.view == View::Timeline => Some(Action::NewerRequest),
        KeyCode::Down if ui.view == View::Timeline => Some(Action::OlderRequest),
        KeyCode::Char('p' | 'P') => Some(Action::TogglePause),
        KeyCode::Char('i' | 'I') => Some(Action::ToggleInspector),
        KeyCode::Right | KeyCode::Tab => Some(Action::NextLane),
        KeyCode::Left | KeyCode::BackTab => Some(Action::PreviousLane),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
