//! User intents: what a key asks for (the keys themselves are in
//! `keymap`), carried out by `state::update`.

use crate::replay::PlaybackCommand;

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
