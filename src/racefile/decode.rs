//! Entries back to events: the inverse of the `format` encoder, checking
//! every value so a damaged or hostile file gives an error, never a panic
//! or an absurd allocation further on.

use std::sync::Arc;
use std::time::Duration;

use super::format::{
    CONVERSATION_ENDS, ERROR_KINDS, EventEntry, FinishedEntry, TOKEN_SOURCES, micros,
};
use crate::config::shape::MAX_TURNS;
use crate::metrics::client::ClientSample;
use crate::metrics::trace::{SlotRule, TraceEvent, TraceStep, events_of};
use crate::metrics::{ConversationTurn, RaceEvent, RequestError, RequestRecord};

/// Why an entry cannot be turned back into an event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("request of engine {engine}, but the race has {engines} engines")]
    NoSuchEngine { engine: u32, engines: usize },
    #[error("request uses prompt {0}, which the file does not define")]
    NoSuchPrompt(u32),
    #[error("unknown {what} code {code}")]
    UnknownCode { what: &'static str, code: u8 },
    #[error("a time before the start signal")]
    NegativeTime,
    #[error("a time of {0:.0} s, long after the race's time limit")]
    TooLate(f64),
    #[error("a request with {0} token times")]
    TooManyChunks(usize),
    #[error("prompt {0} is out of order")]
    PromptOutOfOrder(u32),
    #[error("a request's answer starts at a token time it does not have")]
    NoSuchChunk,
    #[error("a sweep step's level is not a number of users or requests per second")]
    BadLevel,
}

/// Most token times one request may hold (a million-token answer).
pub const MAX_CHUNKS_PER_REQUEST: usize = 1 << 20;
/// How long after the race's time limit and grace period an event may come
/// (requests cut at the end are cancelled well within this).
const LATE_MARGIN: Duration = Duration::from_secs(600);

/// Turns entries back into events; the inverse of [`Encoder`]. Every value
/// is checked, so a damaged or hostile file gives an error, never a panic
/// or an absurd allocation further on.
#[derive(Debug)]
pub struct Decoder {
    engines: usize,
    /// No time in a valid file is later than this.
    latest: Duration,
    at: Duration,
    prompts: Vec<Arc<str>>,
}

fn at_offset(base: Duration, delta: i64) -> Result<Duration, DecodeError> {
    let us = micros(base)
        .checked_add(delta)
        .filter(|us| *us >= 0)
        .ok_or(DecodeError::NegativeTime)?;
    Ok(Duration::from_micros(u64::try_from(us).unwrap_or(0)))
}

fn after(base: Duration, gap_us: u64) -> Duration {
    base.saturating_add(Duration::from_micros(gap_us))
}

fn lookup<T: Copy>(table: &[T], what: &'static str, code: u8) -> Result<T, DecodeError> {
    table
        .get(usize::from(code))
        .copied()
        .ok_or(DecodeError::UnknownCode { what, code })
}

impl Decoder {
    /// For a race of `engines` engines whose events all come before
    /// `time_limit` (its duration plus grace period).
    #[must_use]
    pub fn new(engines: usize, time_limit: Duration) -> Self {
        Decoder {
            engines,
            latest: time_limit.saturating_add(LATE_MARGIN),
            at: Duration::ZERO,
            prompts: Vec::new(),
        }
    }

    fn in_race(&self, t: Duration) -> Result<Duration, DecodeError> {
        if t > self.latest {
            Err(DecodeError::TooLate(t.as_secs_f64()))
        } else {
            Ok(t)
        }
    }

    /// Time of the last event decoded.
    #[must_use]
    pub fn at(&self) -> Duration {
        self.at
    }

    pub fn prompt(&mut self, id: u32, text: String) -> Result<(), DecodeError> {
        if id as usize != self.prompts.len() {
            return Err(DecodeError::PromptOutOfOrder(id));
        }
        self.prompts.push(Arc::from(text));
        Ok(())
    }

    fn engine(&self, engine: u32) -> Result<usize, DecodeError> {
        let i = engine as usize;
        if i < self.engines {
            Ok(i)
        } else {
            Err(DecodeError::NoSuchEngine {
                engine,
                engines: self.engines,
            })
        }
    }

    pub fn event(
        &mut self,
        dt_us: u64,
        event: EventEntry,
    ) -> Result<(Duration, RaceEvent), DecodeError> {
        self.at = self.in_race(after(self.at, dt_us))?;
        let event = match event {
            EventEntry::Started { engine } => RaceEvent::Started {
                engine: self.engine(engine)?,
            },
            EventEntry::LateArrival { engine } => RaceEvent::LateArrival {
                engine: self.engine(engine)?,
            },
            EventEntry::DroppedArrival { engine } => RaceEvent::DroppedArrival {
                engine: self.engine(engine)?,
            },
            EventEntry::Cancelled { engine, count } => RaceEvent::Cancelled {
                engine: self.engine(engine)?,
                count,
            },
            EventEntry::BackedOff {
                engine,
                waited_us,
                retry_after,
            } => RaceEvent::BackedOff {
                engine: self.engine(engine)?,
                waited: self.in_race(Duration::from_micros(waited_us))?,
                retry_after,
            },
            EventEntry::UnsentArrivals { engine, count } => RaceEvent::UnsentArrivals {
                engine: self.engine(engine)?,
                count,
            },
            EventEntry::ConnectionsOpened { engine, total } => RaceEvent::ConnectionsOpened {
                engine: self.engine(engine)?,
                total,
            },
            EventEntry::ClientSample {
                loop_lag_us,
                queue_depth,
                queue_capacity,
                cpu_permille,
                cores,
            } => RaceEvent::ClientSample(ClientSample {
                loop_lag: self.in_race(Duration::from_micros(loop_lag_us))?,
                queue_depth,
                queue_capacity,
                cpu_permille,
                cores,
            }),
            EventEntry::SweepStep { engine, level } => {
                if !(level.is_finite() && level >= 0.0) {
                    return Err(DecodeError::BadLevel);
                }
                RaceEvent::SweepStep {
                    engine: self.engine(engine)?,
                    level,
                }
            }
            EventEntry::SweepJudged { engine } => RaceEvent::SweepJudged {
                engine: self.engine(engine)?,
            },
            EventEntry::ConnectionRetried { engine } => RaceEvent::ConnectionRetried {
                engine: self.engine(engine)?,
            },
            EventEntry::ConnectionReuseStopped { engine } => RaceEvent::ConnectionReuseStopped {
                engine: self.engine(engine)?,
            },
            EventEntry::TimeLimit => RaceEvent::TimeLimit,
            EventEntry::Stopped => RaceEvent::Stopped,
            EventEntry::Ended => RaceEvent::Ended,
            EventEntry::TraceOpened {
                engine,
                request_id,
                prompt,
                before_us,
            } => {
                let prompt = self
                    .prompts
                    .get(prompt as usize)
                    .cloned()
                    .ok_or(DecodeError::NoSuchPrompt(prompt))?;
                self.trace(engine, request_id, before_us, TraceStep::Opened { prompt })?
            }
            EventEntry::TracePiece {
                engine,
                request_id,
                before_us,
                text,
                answer,
            } => self.trace(
                engine,
                request_id,
                before_us,
                TraceStep::Piece { text, answer },
            )?,
            EventEntry::TraceCut {
                engine,
                request_id,
                before_us,
            } => self.trace(engine, request_id, before_us, TraceStep::Cut)?,
            // Version 1 did not mark the answer: every chunk was answer.
            EventEntry::Finished(f) => {
                let first_answer = (!f.chunk_gaps.is_empty()).then_some(0);
                // Whether it waited for a slot is unknown: its send delay is
                // not taken as the client's lag.
                RaceEvent::Finished(Arc::new(self.record(*f, first_answer, true, None)?))
            }
            EventEntry::FinishedV2 {
                request,
                first_answer,
                waited_for_slot,
            } => self.finished_v2(*request, first_answer, waited_for_slot, None)?,
            EventEntry::FinishedV3 {
                request,
                first_answer,
                waited_for_slot,
                cached_tokens,
                turn,
            } => {
                let conversation = (turn > 0).then(|| ConversationTurn {
                    id: request.request_id / u64::from(MAX_TURNS),
                    turn,
                });
                let mut event = self.finished_v2(
                    *request,
                    first_answer,
                    waited_for_slot,
                    cached_tokens.checked_sub(1),
                )?;
                if let RaceEvent::Finished(record) = &mut event {
                    Arc::make_mut(record).conversation = conversation;
                }
                event
            }
            EventEntry::ServerScrape { engine, sample } => RaceEvent::ServerScrape {
                engine: self.engine(engine)?,
                sample,
            },
            EventEntry::ConversationEnded { engine, how } => RaceEvent::ConversationEnded {
                engine: self.engine(engine)?,
                how: lookup(&CONVERSATION_ENDS, "conversation end", how)?,
            },
        };
        Ok((self.at, event))
    }

    fn trace(
        &self,
        engine: u32,
        request_id: u64,
        before_us: i64,
        step: TraceStep,
    ) -> Result<RaceEvent, DecodeError> {
        let back = before_us.checked_neg().ok_or(DecodeError::NegativeTime)?;
        Ok(RaceEvent::Trace(TraceEvent {
            engine: self.engine(engine)?,
            request_id,
            at: at_offset(self.at, back)?,
            step,
        }))
    }

    /// A finished request of version 2 on: its first answer chunk is +1
    /// (0: none) and must be one of its chunks.
    fn finished_v2(
        &self,
        request: FinishedEntry,
        first_answer: u32,
        waited_for_slot: bool,
        cached_tokens: Option<u32>,
    ) -> Result<RaceEvent, DecodeError> {
        let first_answer = first_answer.checked_sub(1);
        if first_answer.is_some_and(|i| i as usize >= request.chunk_gaps.len()) {
            return Err(DecodeError::NoSuchChunk);
        }
        let record = self.record(request, first_answer, waited_for_slot, cached_tokens)?;
        Ok(RaceEvent::Finished(Arc::new(record)))
    }

    fn record(
        &self,
        f: FinishedEntry,
        first_answer_chunk: Option<u32>,
        waited_for_slot: bool,
        cached_tokens: Option<u32>,
    ) -> Result<RequestRecord, DecodeError> {
        let engine = self.engine(f.engine)?;
        let prompt = self
            .prompts
            .get(f.prompt as usize)
            .cloned()
            .ok_or(DecodeError::NoSuchPrompt(f.prompt))?;
        if f.chunk_gaps.len() > MAX_CHUNKS_PER_REQUEST {
            return Err(DecodeError::TooManyChunks(f.chunk_gaps.len()));
        }
        let back = f
            .scheduled_before
            .checked_neg()
            .ok_or(DecodeError::NegativeTime)?;
        let scheduled_at = at_offset(self.at, back)?;
        let sent_at = self.in_race(at_offset(scheduled_at, f.sent_after)?)?;
        let mut previous = sent_at;
        let mut chunk_times = Vec::with_capacity(f.chunk_gaps.len());
        for gap in f.chunk_gaps {
            previous = after(previous, gap);
            chunk_times.push(previous);
        }
        let end_at = self.in_race(after(previous, f.end_after))?;
        // Chunks come before the end, so they are in the race too.
        let error = match f.error {
            Some((kind, message)) => Some(RequestError {
                kind: lookup(&ERROR_KINDS, "error kind", kind)?,
                message,
            }),
            None => None,
        };
        Ok(RequestRecord {
            engine,
            request_id: f.request_id,
            user_id: f.user_id,
            user_request_num: f.user_request_num,
            prompt,
            scheduled_at,
            sent_at,
            waited_for_slot,
            chunk_times,
            first_answer_chunk,
            end_at,
            input_tokens: f.input_tokens,
            input_source: lookup(&TOKEN_SOURCES, "token source", f.input_source)?,
            output_tokens: f.output_tokens,
            output_source: lookup(&TOKEN_SOURCES, "token source", f.output_source)?,
            cached_tokens,
            conversation: None,
            status: f.status,
            error,
            output_text: f.output_text.unwrap_or_default(),
        })
    }
}

/// The inspector's traces for a file written before they were recorded:
/// the requests the live slot rule would have traced, opened when sent and
/// their text split over their chunks, merged into the events in time order
/// (each before an event of the same time, so a request's pieces come
/// before its end).
#[must_use]
pub fn rebuild_traces(
    events: Vec<(Duration, RaceEvent)>,
    engines: usize,
) -> Vec<(Duration, RaceEvent)> {
    let mut records: Vec<&RequestRecord> = events
        .iter()
        .filter_map(|(_, e)| match e {
            RaceEvent::Finished(r) => Some(&**r),
            _ => None,
        })
        .collect();
    records.sort_by_key(|r| (r.sent_at, r.request_id));
    let mut rules: Vec<SlotRule> = (0..engines).map(|_| SlotRule::default()).collect();
    let mut traces: Vec<(Duration, RaceEvent)> = Vec::new();
    for r in records {
        let Some(rule) = rules.get_mut(r.engine) else {
            continue;
        };
        if rule.claim(r.request_id, r.sent_at) {
            // Ending now with its future end time keeps the slot busy until
            // then: a claim before `end_at` cannot take it.
            rule.end(r.request_id, r.end_at);
            traces.extend(
                events_of(r)
                    .into_iter()
                    .map(|t| (t.at, RaceEvent::Trace(t))),
            );
        }
    }
    traces.sort_by_key(|(at, _)| *at);
    let mut merged = Vec::with_capacity(events.len() + traces.len());
    let mut traces = traces.into_iter().peekable();
    for (at, event) in events {
        while let Some(trace) = traces.next_if(|(t, _)| *t <= at) {
            merged.push(trace);
        }
        merged.push((at, event));
    }
    merged.extend(traces);
    merged
}
