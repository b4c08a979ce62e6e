//! The replay player: a virtual clock over a recording's events, folding
//! them into `RaceStats` exactly as the live aggregator did. Synchronous and
//! clock-free (the caller says how much real time passed), so seeking and
//! speed are tested without waiting.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::trace::{TRACE_LINGER, TRACE_SLOTS};
use crate::metrics::snapshot::{TRACE_ERROR_CHARS, TRACE_PROMPT_CHARS};
use crate::metrics::{RaceEvent, RacePhase, RaceSnapshot, RaceStats, RequestRecord, RequestTrace};
use crate::racefile::Recording;

/// Playback speeds, slowest first; `+`/`-` step through them.
pub const SPEEDS: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
const NORMAL_SPEED: usize = 2;
/// Seek step of ←/→, and of Shift+←/→.
pub const SEEK_SHORT: Duration = Duration::from_secs(10);
pub const SEEK_LONG: Duration = Duration::from_secs(60);
/// How far back the inspector looks for requests still on screen.
const TRACE_SCAN: usize = 512;

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
    /// Per engine: indices of its `Finished` events, by send time.
    by_sent: Vec<Vec<usize>>,
}

fn finished(event: &(Duration, RaceEvent)) -> Option<&RequestRecord> {
    match &event.1 {
        RaceEvent::Finished(record) => Some(record),
        _ => None,
    }
}

impl Player {
    #[must_use]
    pub fn new(recording: Arc<Recording>) -> Self {
        let mut by_sent = vec![Vec::new(); recording.spec.engines.len()];
        for (i, event) in recording.events.iter().enumerate() {
            if let Some(r) = finished(event)
                && let Some(list) = by_sent.get_mut(r.engine)
            {
                list.push(i);
            }
        }
        for list in &mut by_sent {
            list.sort_by_key(|&i| finished(&recording.events[i]).map(|r| r.sent_at));
        }
        Player {
            stats: RaceStats::new(&recording.spec),
            recording,
            next: 0,
            position: Duration::ZERO,
            speed: NORMAL_SPEED,
            playing: true,
            by_sent,
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
        let mut snapshot = if self.at_end() {
            self.stats
                .snapshot(RacePhase::Finished, self.recording.length(), true)
        } else {
            self.stats
                .snapshot(RacePhase::Running, self.position, false)
        };
        for (lane, engine) in snapshot.lanes.iter_mut().zip(0..) {
            lane.traces = self.traces(engine);
        }
        snapshot
    }

    /// The inspector's view at the current position: up to [`TRACE_SLOTS`]
    /// requests of the engine that are in flight (or just ended), newest
    /// first, their text revealed chunk by chunk from what the file kept.
    fn traces(&self, engine: usize) -> Vec<RequestTrace> {
        let now = self.position;
        let Some(list) = self.by_sent.get(engine) else {
            return Vec::new();
        };
        let events = &self.recording.events;
        let sent =
            list.partition_point(|&i| finished(&events[i]).is_some_and(|r| r.sent_at <= now));
        list[..sent]
            .iter()
            .rev()
            .take(TRACE_SCAN)
            .filter_map(|&i| finished(&events[i]))
            .filter(|r| r.end_at + TRACE_LINGER >= now)
            .take(TRACE_SLOTS)
            .map(|r| trace_at(r, now))
            .collect()
    }
}

fn trace_at(r: &RequestRecord, now: Duration) -> RequestTrace {
    let total = r.chunk_times.len();
    let seen = r.chunk_times.partition_point(|&t| t <= now);
    let ended = r.end_at <= now;
    let chars = r.output_text.chars().count();
    let shown = if ended || total == 0 {
        chars
    } else {
        chars * seen / total
    };
    RequestTrace {
        request_id: r.request_id,
        prompt_head: r.prompt.chars().take(TRACE_PROMPT_CHARS).collect(),
        text: r.output_text.chars().take(shown).collect(),
        chunks: u32::try_from(seen).unwrap_or(u32::MAX),
        sent_at: r.sent_at,
        ttft: r
            .chunk_times
            .first()
            .filter(|&&t| t <= now)
            .map(|t| t.saturating_sub(r.sent_at)),
        ttfot: r
            .first_answer_chunk
            .and_then(|i| r.chunk_times.get(i as usize))
            .filter(|&&t| t <= now)
            .map(|t| t.saturating_sub(r.sent_at)),
        // The file keeps the text, not where each chunk's text starts: the
        // answer's start is placed in proportion, as the text is revealed.
        answer_starts_at: r
            .first_answer_chunk
            .filter(|&i| (i as usize) < seen)
            .map(|i| chars * i as usize / total.max(1)),
        ended_at: ended.then_some(r.end_at),
        error: ended
            .then(|| r.error.as_ref().map(|e| e.kind.name().to_owned()))
            .flatten(),
        error_message: ended
            .then(|| {
                r.error
                    .as_ref()
                    .map(|e| e.message.chars().take(TRACE_ERROR_CHARS).collect())
            })
            .flatten(),
    }
}
