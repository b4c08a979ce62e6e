//! View state (what the user is looking at), separate from the race data
//! in `RaceSnapshot`, and the one function that changes it.

use super::action::Action;
use crate::replay::{Playback, PlaybackCommand};

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
    /// The race is over; the final leaderboard stays until a key is pressed.
    pub finished: bool,
    /// Set when showing a replay: where its playback stands.
    pub replay: Option<Playback>,
}

/// What the event loop must do after an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    /// Redraw: the view changed.
    Redraw,
    /// End the race (or leave the final screen).
    Quit,
    /// Send a command to the replay.
    Playback(PlaybackCommand),
}

/// Applies an action to the view state.
pub fn update(ui: &mut UiState, action: Action) -> Effect {
    match action {
        Action::Quit => return Effect::Quit,
        Action::Playback(command) => return Effect::Playback(command),
        Action::ToggleHelp => ui.help_open = !ui.help_open,
        Action::Back => ui.help_open = false,
        Action::TogglePause => ui.paused = !ui.paused,
        Action::ToggleInspector => ui.inspector_open = !ui.inspector_open,
        Action::NextLane => {
            if ui.lane_count > 0 {
                ui.selected_lane = (ui.selected_lane + 1) % ui.lane_count;
            }
        }
        Action::PreviousLane => {
            if ui.lane_count > 0 {
                ui.selected_lane = (ui.selected_lane + ui.lane_count - 1) % ui.lane_count;
            }
        }
    }
    Effect::Redraw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_selection_wraps_both_ways() {
        let mut ui = UiState {
            lane_count: 3,
            ..UiState::default()
        };
        update(&mut ui, Action::PreviousLane);
        assert_eq!(ui.selected_lane, 2);
        update(&mut ui, Action::NextLane);
        assert_eq!(ui.selected_lane, 0);
    }

    #[test]
    fn toggles_and_quit() {
        let mut ui = UiState::default();
        assert_eq!(update(&mut ui, Action::ToggleHelp), Effect::Redraw);
        assert!(ui.help_open);
        update(&mut ui, Action::Back);
        assert!(!ui.help_open);
        update(&mut ui, Action::TogglePause);
        assert!(ui.paused);
        assert_eq!(update(&mut ui, Action::Quit), Effect::Quit);
    }
}
