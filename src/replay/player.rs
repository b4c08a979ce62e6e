//! The replay player: a virtual clock over a recording's events, folding
//! them into `RaceStats` exactly as the live aggregator did. Synchronous and
//! clock-free (the caller says how much real time passed), so seeking and
//! speed are tested without waiting.

use std::sync::Arc;
use std::time::Duration;

use crate::metrics::{RacePhase, RaceSnapshot, RaceStats};
use crate::racefile::Recording;

/// Playback speeds, slowest first; `+`/`-` step through them.
pub const SPEEDS: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
const NORMAL_SPEED: usize = 2;
/// Seek step of ←/→, and of Shift+←/→.
pub const SEEK_SHORT: Duration = Duration::from_secs(10);
pub const SEEK_LONG: Duration = Duration::from_secs(60);

/// What the user can ask of a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybackCommand {
    TogglePlay,
    Faster,
    Slower,
    Forward(Duration),
    Back(Duration),
    Restart,
}

/// Where a replay stands, for the header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Playback {
    pub position: Duration,
    pub length: Duration,
    pub speed: f64,
    pub playing: bool,
}

pub struct Player {
    recording: Arc<Recording>,
    stats: RaceStats,
    /// Index of the next event to apply.
    next: usize,
    position: Duration,
    speed: usize,
    playing: bool,
}

impl Player {
    #[must_use]
    pub fn new(recording: Arc<Recording>) -> Self {
        Player {
            stats: RaceStats::new(&recording.spec),
            recording,
            next: 0,
            position: Duration::ZERO,
            speed: NORMAL_SPEED,
            playing: true,
        }
    }

    #[must_use]
    pub fn playback(&self) -> Playback {
        Playback {
            position: self.position,
            length: self.recording.length(),
            speed: SPEEDS[self.speed],
            playing: self.playing,
        }
    }

    /// Whether every event has been applied.
    #[must_use]
    pub fn at_end(&self) -> bool {
        self.next >= self.recording.events.len()
    }

    /// Sets the speed to the listed one nearest `speed`.
    pub fn set_speed(&mut self, speed: f64) {
        self.speed = SPEEDS
            .iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| (*a - speed).abs().total_cmp(&(*b - speed).abs()))
            .map_or(NORMAL_SPEED, |(i, _)| i);
    }

    pub fn command(&mut self, command: PlaybackCommand) {
        match command {
            PlaybackCommand::TogglePlay => {
                if self.at_end() {
                    // Play from the start again, like a media player.
                    self.seek_to(Duration::ZERO);
                    self.playing = !self.at_end();
                } else {
                    self.playing = !self.playing;
                }
            }
            PlaybackCommand::Faster => self.speed = (self.speed + 1).min(SPEEDS.len() - 1),
            PlaybackCommand::Slower => self.speed = self.speed.saturating_sub(1),
            PlaybackCommand::Forward(by) => self.seek_to(self.position.saturating_add(by)),
            PlaybackCommand::Back(by) => self.seek_to(self.position.saturating_sub(by)),
            PlaybackCommand::Restart => {
                self.seek_to(Duration::ZERO);
                self.playing = !self.at_end();
            }
        }
    }

    /// `real` time has passed: move the virtual clock on at the current
    /// speed, when playing.
    pub fn tick(&mut self, real: Duration) {
        if self.playing && !self.at_end() {
            let target = self.position + real.mul_f64(SPEEDS[self.speed]);
            self.seek_to(target);
        }
    }

    /// Moves the virtual clock to `to` (clamped to the recording). Going
    /// back folds the events again from the start: cheap next to a race.
    pub fn seek_to(&mut self, to: Duration) {
        let to = to.min(self.recording.length());
        if to < self.position {
            self.stats = RaceStats::new(&self.recording.spec);
            self.next = 0;
        }
        let events = &self.recording.events;
        while let Some((at, event)) = events.get(self.next) {
            if *at > to {
                break;
            }
            self.stats.apply(*at, event);
            self.next += 1;
        }
        self.position = to;
        if self.at_end() {
            // Like a media player: at the end, playback stops.
            self.playing = false;
        }
    }

    /// Applies every remaining event and returns the final snapshot: the
    /// one the race published when it ended.
    pub fn run_to_end(&mut self) -> RaceSnapshot {
        self.seek_to(self.recording.length());
        self.snapshot()
    }

    /// The race as it stood at the current position.
    pub fn snapshot(&mut self) -> RaceSnapshot {
        if self.at_end() {
            self.stats
                .snapshot(RacePhase::Finished, self.recording.length(), true)
        } else {
            self.stats
                .snapshot(RacePhase::Running, self.position, false)
        }
    }
}
