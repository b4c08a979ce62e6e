//! The TUI event loop: waits on snapshots, keys, resizes and the frame
//! clock, and redraws only when something changed, at most `fps` times a
//! second. Idle costs next to nothing.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::action::action_for;
use super::render::render;
use super::state::{Effect, UiState, update};
use super::terminal::TerminalGuard;
use super::theme::Theme;
use crate::metrics::{RacePhase, RaceSnapshot};
use crate::replay::ReplayLink;

/// How the TUI is run.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    /// Most redraws per second.
    pub fps: u32,
    /// Leave as soon as the race ends instead of waiting for a key.
    pub exit_on_finish: bool,
    pub theme: Theme,
    /// Set when showing a replay: where playback commands go.
    pub replay: Option<ReplayLink>,
}

/// The next playback state of a replay; never ready for a live race.
/// `None` once the replay has gone.
async fn changed_playback(
    playback: Option<&mut watch::Receiver<crate::replay::Playback>>,
) -> Option<crate::replay::Playback> {
    match playback {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(*rx.borrow_and_update()),
            Err(_) => None,
        },
        None => std::future::pending().await,
    }
}

/// Runs the TUI until the race has ended and the user has seen the result.
/// `stop` ends the race early (first `q`/Ctrl-C); `abort` cuts in-flight
/// requests (second `q`/Ctrl-C). The terminal is restored when this returns,
/// whatever the path.
pub async fn run_tui(
    mut snapshots: watch::Receiver<Arc<RaceSnapshot>>,
    stop: CancellationToken,
    abort: CancellationToken,
    options: TuiOptions,
) -> std::io::Result<()> {
    let mut guard = TerminalGuard::enter()?;
    let mut events = EventStream::new();
    let mut shown = snapshots.borrow_and_update().clone();
    let mut ui = UiState {
        lane_count: shown.lanes.len(),
        replay: options.replay.as_ref().map(|r| *r.playback.borrow()),
        ..UiState::default()
    };
    let mut playback = options.replay.as_ref().map(|r| r.playback.clone());
    let frame_interval = Duration::from_secs(1) / options.fps.max(1);
    let mut last_draw = Instant::now();
    let mut dirty = true;
    let mut race_over = false;
    let mut quitting = false;
    loop {
        let next_frame = last_draw + frame_interval;
        tokio::select! {
            changed = snapshots.changed(), if !race_over => {
                if changed.is_err() {
                    // The aggregator is gone: the last snapshot was final.
                    race_over = true;
                }
                let latest = snapshots.borrow_and_update().clone();
                if !ui.paused || race_over {
                    shown = latest;
                    dirty = true;
                }
                if race_over || shown.phase == RacePhase::Finished {
                    ui.finished = true;
                    if quitting || options.exit_on_finish {
                        break;
                    }
                } else if ui.replay.is_some() {
                    // A replay can go back from its end.
                    ui.finished = false;
                }
            }
            changed = changed_playback(playback.as_mut()) => {
                match changed {
                    Some(now) => ui.replay = Some(now),
                    None => playback = None,
                }
                dirty = true;
            }
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) => {
                    if let Some(action) = action_for(&ui, key) {
                        match update(&mut ui, action) {
                            Effect::Quit if ui.finished || ui.replay.is_some() => break,
                            Effect::Playback(command) => {
                                if let Some(link) = &options.replay {
                                    let _ = link.commands.send(command);
                                }
                            }
                            Effect::Quit if quitting => abort.cancel(),
                            Effect::Quit => {
                                quitting = true;
                                stop.cancel();
                                dirty = true;
                            }
                            Effect::Redraw => {
                                if !ui.paused {
                                    shown = snapshots.borrow().clone();
                                }
                                dirty = true;
                            }
                            Effect::None => {}
                        }
                    }
                }
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                // No terminal input any more: end the race like `q`.
                Some(Err(_)) | None => {
                    if options.replay.is_some() {
                        // Nothing runs behind a replay: just leave.
                        break;
                    }
                    stop.cancel();
                    if !race_over {
                        // Input is gone; wait for the end without polling it.
                        while snapshots.changed().await.is_ok() {}
                    }
                    break;
                }
            },
            // A replay has no race to stop: a stop request (SIGTERM) leaves.
            () = stop.cancelled(), if options.replay.is_some() => break,
            () = sleep_until(next_frame), if dirty => {
                guard.terminal.draw(|frame| render(frame, &shown, &ui, &options.theme))?;
                last_draw = Instant::now();
                dirty = false;
            }
        }
    }
    drop(guard);
    Ok(())
}
