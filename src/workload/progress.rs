//! Where loading (downloads, reading and counting a dataset) shows its
//! progress: bars on stderr in a terminal without the TUI, nothing when
//! stderr is not a terminal, or a shared status that the TUI's loading
//! screen reads and draws.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget};

#[derive(Debug, Clone, Default)]
pub enum Progress {
    #[default]
    Hidden,
    /// indicatif bars on stderr.
    Stderr,
    /// Kept for a reader (the TUI's loading screen); nothing is drawn here.
    Shared(LoadStatus),
}

impl Progress {
    /// Shows `bar` (already styled) with `message`, the way this mode says.
    /// `None` when progress is hidden.
    #[must_use]
    pub fn show(&self, bar: ProgressBar, message: String) -> Option<ProgressBar> {
        // The target first: a bar draws as soon as its message is set, and
        // under the TUI nothing may reach the terminal.
        match self {
            Progress::Hidden => None,
            Progress::Stderr => {
                bar.set_draw_target(ProgressDrawTarget::stderr());
                bar.set_message(message);
                Some(bar)
            }
            Progress::Shared(status) => {
                bar.set_draw_target(ProgressDrawTarget::hidden());
                bar.set_message(message);
                if let Ok(mut current) = status.current.lock() {
                    *current = Some(bar.clone());
                }
                Some(bar)
            }
        }
    }
}

/// The step that loading is on, shared with whoever draws it.
#[derive(Debug, Clone, Default)]
pub struct LoadStatus {
    current: Arc<Mutex<Option<ProgressBar>>>,
}

/// What the loading screen shows: one step and how far it has got.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadView {
    pub message: String,
    /// Bytes (downloads) or items done so far.
    pub done: u64,
    /// The total, when known.
    pub total: Option<u64>,
    /// Per second, over the last few seconds.
    pub per_sec: f64,
    pub eta: Option<Duration>,
}

impl LoadStatus {
    /// The current step, if one is under way.
    #[must_use]
    pub fn view(&self) -> Option<LoadView> {
        let current = self.current.lock().ok()?;
        let bar = current.as_ref().filter(|b| !b.is_finished())?;
        let total = bar.length();
        Some(LoadView {
            message: bar.message(),
            done: bar.position(),
            total,
            per_sec: bar.per_sec(),
            eta: total.map(|_| bar.eta()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_bar_is_seen_until_it_finishes() {
        let status = LoadStatus::default();
        let progress = Progress::Shared(status.clone());
        assert!(status.view().is_none());
        let bar = progress
            .show(
                ProgressBar::new(200),
                "downloading dataset 'sharegpt'".into(),
            )
            .unwrap();
        bar.set_position(50);
        let view = status.view().unwrap();
        assert_eq!(view.message, "downloading dataset 'sharegpt'");
        assert_eq!((view.done, view.total), (50, Some(200)));
        bar.finish_and_clear();
        assert!(status.view().is_none());
        assert!(
            Progress::Hidden
                .show(ProgressBar::new(1), String::new())
                .is_none()
        );
    }
}
