//! The TUI event loop, one for every screen (loading, race, replay). It
//! waits on the terminal, the screen's sources and the frame clock, hands
//! what arrives to the pure transitions in `state`, and carries out the
//! effects they return; it decides nothing itself. It redraws only when
//! something changed, at most `fps` times a second, so idle costs next to
//! nothing.
//!
//! A session is one stay on the alternate screen with one `TerminalGuard`.
//! The loading screen and the race screen are two sessions: between them
//! `app` prints the race's set-up to the normal screen (where it stays
//! readable above the results) and warms the engines up with Ctrl-C still a
//! signal.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use ratatui::Frame;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep_until};
use tokio_util::sync::CancellationToken;

use super::keymap::action_for;
use super::loading::{SPINNER_STEP, render_loading};
use super::render::render;
use super::state::{
    Effect, Screen, TuiState, on_input_gone, on_loaded, on_playback, on_snapshot,
    on_stop_requested, on_tick, update,
};
use super::terminal::TerminalGuard;
use super::theme::Theme;
use crate::metrics::RaceSnapshot;
use crate::replay::{Playback, ReplayLink};
use crate::workload::LoadStatus;

/// Loading that ends within this never shows the screen (no flash before
/// the race for the built-in prompts or a small file).
const QUIET_START: Duration = Duration::from_millis(200);

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

/// Shows the loading screen until `work` is done and returns its output,
/// or `None` if the user quit (`q`, Ctrl-C) first. The terminal is restored
/// either way.
pub async fn run_loading<T>(
    status: &LoadStatus,
    race_name: &str,
    options: &TuiOptions,
    work: impl Future<Output = T>,
) -> std::io::Result<Option<T>> {
    tokio::pin!(work);
    if let Ok(out) = tokio::time::timeout(QUIET_START, &mut work).await {
        return Ok(Some(out));
    }
    let sources = Sources {
        load: Some(status),
        ..Sources::default()
    };
    session(TuiState::loading(race_name), options, sources, work).await
}

/// Runs the race screen until the race has ended and the user has seen the
/// result. `stop` ends the race early (first `q`/Ctrl-C); `abort` cuts
/// in-flight requests (second `q`/Ctrl-C). The terminal is restored when
/// this returns, whatever the path.
pub async fn run_tui(
    mut snapshots: watch::Receiver<Arc<RaceSnapshot>>,
    stop: CancellationToken,
    abort: CancellationToken,
    options: TuiOptions,
) -> std::io::Result<()> {
    let first = snapshots.borrow_and_update().clone();
    let replay = options.replay.as_ref().map(|r| *r.playback.borrow());
    let state = TuiState::race(first, replay, options.exit_on_finish);
    let sources = Sources {
        load: None,
        snapshots: Some(snapshots),
        playback: options.replay.as_ref().map(|r| r.playback.clone()),
        stop,
        abort,
    };
    session(state, &options, sources, std::future::pending::<()>()).await?;
    Ok(())
}

/// What a screen listens to besides the terminal; each uses some.
#[derive(Default)]
struct Sources<'a> {
    load: Option<&'a LoadStatus>,
    snapshots: Option<watch::Receiver<Arc<RaceSnapshot>>>,
    playback: Option<watch::Receiver<Playback>>,
    stop: CancellationToken,
    abort: CancellationToken,
}

/// The next snapshot, and whether the source closed after it; never ready
/// without a source.
async fn next_snapshot(
    snapshots: Option<&mut watch::Receiver<Arc<RaceSnapshot>>>,
) -> (Arc<RaceSnapshot>, bool) {
    let Some(rx) = snapshots else {
        return std::future::pending().await;
    };
    // Closed: the aggregator is gone and its last snapshot was final.
    let ended = rx.changed().await.is_err();
    // Clone the `Arc` and drop the borrow at once (STYLE rule 4).
    let latest = rx.borrow_and_update().clone();
    (latest, ended)
}

/// The next playback state of a replay; never ready for a live race.
/// `None` once the replay has gone.
async fn changed_playback(playback: Option<&mut watch::Receiver<Playback>>) -> Option<Playback> {
    match playback {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(*rx.borrow_and_update()),
            Err(_) => None,
        },
        None => std::future::pending().await,
    }
}

/// One session on the alternate screen, from `state` until an effect says
/// leave. Returns `work`'s output if it finished (the loading screen's
/// load; the race screen passes a future that never does).
async fn session<W: Future>(
    mut state: TuiState,
    options: &TuiOptions,
    mut sources: Sources<'_>,
    work: W,
) -> std::io::Result<Option<W::Output>> {
    tokio::pin!(work);
    let mut guard = TerminalGuard::enter()?;
    if let Ok(size) = guard.terminal.size() {
        state.view.screen = (size.width, size.height);
    }
    let mut events = EventStream::new();
    let mut spinner = interval(SPINNER_STEP);
    spinner.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let frame_interval = Duration::from_secs(1) / options.fps.max(1);
    let mut last_draw = Instant::now();
    let mut dirty = true;
    let mut output = None;
    loop {
        let next_frame = last_draw + frame_interval;
        let effect = tokio::select! {
            out = &mut work, if output.is_none() => {
                output = Some(out);
                on_loaded(&mut state)
            }
            (latest, ended) = next_snapshot(sources.snapshots.as_mut()), if !state.source_ended => {
                on_snapshot(&mut state, latest, ended)
            }
            changed = changed_playback(sources.playback.as_mut()) => match changed {
                Some(now) => on_playback(&mut state, now),
                None => {
                    sources.playback = None;
                    Effect::None
                }
            },
            event = events.next(), if !state.input_gone => match event {
                Some(Ok(Event::Key(key))) => match action_for(&state.view, key) {
                    Some(action) => update(&mut state, action),
                    None => Effect::None,
                },
                Some(Ok(Event::Resize(width, height))) => {
                    state.view.screen = (width, height);
                    Effect::Redraw
                }
                Some(Ok(_)) => Effect::None,
                Some(Err(_)) | None => on_input_gone(&mut state),
            },
            () = sources.stop.cancelled(), if !state.stop_seen => on_stop_requested(&mut state),
            _ = spinner.tick(), if state.animates() => {
                on_tick(&mut state, sources.load.and_then(LoadStatus::view))
            }
            () = sleep_until(next_frame), if dirty => {
                guard.terminal.draw(|frame| draw(frame, &state, &options.theme))?;
                last_draw = Instant::now();
                dirty = false;
                Effect::None
            }
        };
        match effect {
            Effect::None => {}
            Effect::Redraw => dirty = true,
            Effect::StopRace => sources.stop.cancel(),
            Effect::AbortRace => sources.abort.cancel(),
            Effect::Playback(command) => {
                if let Some(link) = &options.replay {
                    let _ = link.commands.send(command);
                }
            }
            Effect::Leave => break,
        }
    }
    drop(guard);
    Ok(output)
}

fn draw(frame: &mut Frame, state: &TuiState, theme: &Theme) {
    if let Screen::Loading {
        race_name,
        step,
        spinner,
    } = &state.screen
    {
        render_loading(frame, race_name, step.as_ref(), *spinner, theme);
    } else if let Some(shown) = state.shown() {
        render(frame, shown, &state.view, theme);
    }
}
