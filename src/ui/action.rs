//! User intents and the key bindings that produce them. The help overlay
//! is drawn from the same table, so it cannot drift from the keys.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::state::UiState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    ToggleHelp,
    TogglePause,
    ToggleInspector,
    NextLane,
    PreviousLane,
    /// Close the topmost overlay (help), or nothing.
    Back,
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
    ("← →  Tab", "select the previous / next engine"),
    ("Esc", "close help"),
];

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
    match key.code {
        KeyCode::Char('q' | 'Q') => Some(Action::Quit),
        KeyCode::Char('?') => Some(Action::ToggleHelp),
        KeyCode::Esc if ui.help_open => Some(Action::Back),
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
}
