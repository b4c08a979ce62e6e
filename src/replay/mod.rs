//! Replaying a race file: the [`Player`] folds the recorded events on a
//! virtual clock; [`spawn`] runs it as a task that publishes snapshots at the
//! live rate, so the TUI draws a replay exactly as it draws a race.

pub mod player;

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior, interval};

pub use player::{Playback, PlaybackCommand, Player};

use crate::engine::aggregator::PUBLISH_INTERVAL;
use crate::metrics::RaceSnapshot;
use crate::racefile::Recording;

/// The TUI's side of a running replay.
#[derive(Debug, Clone)]
pub struct ReplayLink {
    pub commands: mpsc::UnboundedSender<PlaybackCommand>,
    pub playback: watch::Receiver<Playback>,
}

/// Starts playing `recording` at `speed`. The task ends when the link's
/// command sender is dropped (the TUI has quit).
#[must_use]
pub fn spawn(
    recording: Arc<Recording>,
    speed: f64,
) -> (watch::Receiver<Arc<RaceSnapshot>>, ReplayLink) {
    let mut player = Player::new(recording);
    player.set_speed(speed);
    let (snapshot_tx, snapshots) = watch::channel(Arc::new(player.snapshot()));
    let (playback_tx, playback) = watch::channel(player.playback());
    let (commands, mut command_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut tick = interval(PUBLISH_INTERVAL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last = Instant::now();
        loop {
            tokio::select! {
                command = command_rx.recv() => match command {
                    Some(command) => {
                        player.command(command);
                        // Keys held down queue up: apply them all, draw once.
                        while let Ok(command) = command_rx.try_recv() {
                            player.command(command);
                        }
                        // Time spent seeking is not playback time.
                        last = Instant::now();
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    let now = Instant::now();
                    player.tick(now - last);
                    last = now;
                }
            }
            let playback = player.playback();
            // Nothing moves while paused: no new snapshot to draw.
            if playback != *playback_tx.borrow() || playback.playing {
                snapshot_tx.send_replace(Arc::new(player.snapshot()));
                playback_tx.send_replace(playback);
            }
        }
    });
    (snapshots, ReplayLink { commands, playback })
}
