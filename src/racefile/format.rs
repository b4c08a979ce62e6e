//! The entries of a race file and their encoding (see `docs/RACE_FILE.md`).
//!
//! After the signature and the format version, the file is one gzip stream
//! of frames: a LEB128 length, then one [`Entry`] in postcard encoding.
//! Times are whole microseconds; each event carries the time since the
//! previous event, and a request's own times are deltas from each other, so
//! most numbers take one to three bytes before compression.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::RaceSpec;
use crate::config::secrets::{REDACTED, looks_secret, scrub_url};
use crate::metrics::client::ClientSample;
use crate::metrics::{ErrorKind, RaceEvent, RequestError, RequestRecord, TokenSource};

/// The first eight bytes of every race file.
pub const MAGIC: [u8; 8] = *b"LLMRACE\0";
/// The format this version writes, and the newest it reads. Version 2
/// appended event kinds (see [`EventEntry`]); version 1 files read as before.
pub const FORMAT_VERSION: u16 = 2;

/// Each distinct prompt is kept up to this many characters while the prompt
/// budget lasts...
pub const PROMPT_CHARS: usize = 2_000;
/// ...and up to this many (what the inspector shows) after it.
pub const PROMPT_HEAD_CHARS: usize = crate::metrics::snapshot::TRACE_PROMPT_CHARS;
/// Characters of prompt text kept in full across the whole race.
pub const PROMPT_BUDGET_CHARS: usize = 1 << 20;
/// A response's text is kept up to its first this many characters (as many
/// as the inspector shows)...
pub const OUTPUT_CHARS: usize = crate::metrics::snapshot::TRACE_TEXT_CHARS;
/// ...for each engine's requests until it has used this many characters.
pub const OUTPUT_BUDGET_CHARS: usize = 256 << 10;

/// One frame of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Entry {
    /// Always first.
    Header(Header),
    /// A prompt's text, before the first request that uses it.
    Prompt { id: u32, text: String },
    /// One event, `dt_us` after the previous one (the first: after the start signal).
    Event { dt_us: u64, event: EventEntry },
    /// The race's `summary.json`, written when the race has ended: its
    /// presence marks a complete file.
    Summary { json: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// `llm-locust <version>` that wrote the file.
    pub tool: String,
    /// Wall-clock time of the start signal, microseconds since the Unix epoch.
    pub started_at_unix_us: i64,
    /// The `YYYYMMDD-HHMMSS` stamp in the names of the race's folder and CSVs.
    pub stamp: String,
    /// The race configuration as JSON, secrets removed.
    pub race_json: String,
    /// The URL each engine was raced at, secrets removed.
    pub engine_urls: Vec<String>,
}

/// Postcard encodes a variant by its position: new kinds are appended, and
/// a kind that gains fields gets a new variant, so older files still read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventEntry {
    Started {
        engine: u32,
    },
    /// Version 1's finished request (no answer mark).
    Finished(Box<FinishedEntry>),
    LateArrival {
        engine: u32,
    },
    DroppedArrival {
        engine: u32,
    },
    Cancelled {
        engine: u32,
        count: u64,
    },
    TimeLimit,
    Stopped,
    Ended,
    /// Since version 2: a finished request, the index of its first answer
    /// chunk (+1; 0 for none), and whether it waited for an in-flight slot.
    FinishedV2 {
        request: Box<FinishedEntry>,
        first_answer: u32,
        waited_for_slot: bool,
    },
    /// Since version 2.
    BackedOff {
        engine: u32,
        waited_us: u64,
        retry_after: bool,
    },
    /// Since version 2.
    UnsentArrivals {
        engine: u32,
        count: u64,
    },
    /// Since version 2.
    ConnectionsOpened {
        engine: u32,
        total: u64,
    },
    /// Since version 2.
    ClientSample {
        loop_lag_us: u64,
        queue_depth: u32,
        queue_capacity: u32,
        cpu_permille: u32,
        cores: u32,
    },
}

/// A finished request. Times are whole microseconds, relative to each other
/// and to the event's own time (`at`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishedEntry {
    pub engine: u32,
    pub request_id: u64,
    pub user_id: u32,
    pub user_request_num: u32,
    /// Id of an earlier `Prompt` entry.
    pub prompt: u32,
    /// `at − scheduled_at`.
    pub scheduled_before: i64,
    /// `sent_at − scheduled_at`.
    pub sent_after: i64,
    /// Each chunk's time minus the previous chunk's (the first: minus
    /// `sent_at`). Never negative: the times come from a monotonic clock.
    pub chunk_gaps: Vec<u64>,
    /// `end_at −` the last chunk's time (or `sent_at` without chunks).
    pub end_after: u64,
    pub input_tokens: u32,
    pub input_source: u8,
    pub output_tokens: u32,
    pub output_source: u8,
    pub status: u16,
    pub error: Option<(u8, String)>,
    /// The response text, when the file keeps it (see the budgets above).
    pub output_text: Option<String>,
}

/// Stable one-byte codes: the position in these tables. Append only.
const TOKEN_SOURCES: [TokenSource; 4] = [
    TokenSource::Usage,
    TokenSource::Tokenizer,
    TokenSource::Estimate,
    TokenSource::Chunks,
];
/// `ErrorKind::ALL`'s order is the wire code; a test pins it.
const ERROR_KINDS: [ErrorKind; 10] = ErrorKind::ALL;

fn code<T: PartialEq>(table: &[T], value: &T) -> u8 {
    let index = table.iter().position(|v| v == value).unwrap_or(0);
    u8::try_from(index).unwrap_or(0)
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn signed_delta(later: Duration, earlier: Duration) -> i64 {
    micros(later) - micros(earlier)
}

/// `later − earlier` of two monotonic times (zero if they are not in order).
fn gap(later: Duration, earlier: Duration) -> u64 {
    u64::try_from(later.saturating_sub(earlier).as_micros()).unwrap_or(u64::MAX)
}

fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Turns events into entries: interns prompts, cuts text to the budgets,
/// and encodes times as deltas.
#[derive(Debug, Default)]
pub struct Encoder {
    last_at: Duration,
    prompts: HashMap<Arc<str>, u32>,
    prompt_chars_used: usize,
    output_chars_used: Vec<usize>,
}

fn head(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text.to_owned(),
    }
}

impl Encoder {
    /// The entries for one event applied at `at` (a prompt entry first when
    /// the event uses a prompt not seen before).
    pub fn encode(&mut self, at: Duration, event: &RaceEvent, out: &mut Vec<Entry>) {
        let dt_us = u64::try_from(at.saturating_sub(self.last_at).as_micros()).unwrap_or(0);
        self.last_at = self.last_at.max(at);
        let event = match event {
            RaceEvent::Started { engine } => EventEntry::Started {
                engine: index(*engine),
            },
            RaceEvent::LateArrival { engine } => EventEntry::LateArrival {
                engine: index(*engine),
            },
            RaceEvent::DroppedArrival { engine } => EventEntry::DroppedArrival {
                engine: index(*engine),
            },
            RaceEvent::Cancelled { engine, count } => EventEntry::Cancelled {
                engine: index(*engine),
                count: *count,
            },
            RaceEvent::BackedOff {
                engine,
                waited,
                retry_after,
            } => EventEntry::BackedOff {
                engine: index(*engine),
                waited_us: micros(*waited).unsigned_abs(),
                retry_after: *retry_after,
            },
            RaceEvent::UnsentArrivals { engine, count } => EventEntry::UnsentArrivals {
                engine: index(*engine),
                count: *count,
            },
            RaceEvent::ConnectionsOpened { engine, total } => EventEntry::ConnectionsOpened {
                engine: index(*engine),
                total: *total,
            },
            RaceEvent::ClientSample(s) => EventEntry::ClientSample {
                loop_lag_us: micros(s.loop_lag).unsigned_abs(),
                queue_depth: s.queue_depth,
                queue_capacity: s.queue_capacity,
                cpu_permille: s.cpu_permille,
                cores: s.cores,
            },
            RaceEvent::TimeLimit => EventEntry::TimeLimit,
            RaceEvent::Stopped => EventEntry::Stopped,
            RaceEvent::Ended => EventEntry::Ended,
            RaceEvent::Finished(record) => {
                let prompt = self.intern(&record.prompt, out);
                EventEntry::FinishedV2 {
                    request: Box::new(self.finished(at, record, prompt)),
                    first_answer: record.first_answer_chunk.map_or(0, |i| i.saturating_add(1)),
                    waited_for_slot: record.waited_for_slot,
                }
            }
        };
        out.push(Entry::Event { dt_us, event });
    }

    fn intern(&mut self, prompt: &Arc<str>, out: &mut Vec<Entry>) -> u32 {
        if let Some(&id) = self.prompts.get(prompt) {
            return id;
        }
        let id = index(self.prompts.len());
        let limit = if self.prompt_chars_used < PROMPT_BUDGET_CHARS {
            PROMPT_CHARS
        } else {
            PROMPT_HEAD_CHARS
        };
        let text = head(prompt, limit);
        self.prompt_chars_used += text.chars().count();
        self.prompts.insert(Arc::clone(prompt), id);
        out.push(Entry::Prompt { id, text });
        id
    }

    fn finished(&mut self, at: Duration, r: &RequestRecord, prompt: u32) -> FinishedEntry {
        let mut previous = r.sent_at;
        let chunk_gaps = r
            .chunk_times
            .iter()
            .map(|&t| {
                let gap = gap(t, previous);
                previous = t;
                gap
            })
            .collect();
        if self.output_chars_used.len() <= r.engine {
            self.output_chars_used.resize(r.engine + 1, 0);
        }
        let used = &mut self.output_chars_used[r.engine];
        let output_text = (*used < OUTPUT_BUDGET_CHARS && !r.output_text.is_empty()).then(|| {
            let text = head(&r.output_text, OUTPUT_CHARS);
            *used += text.chars().count();
            text
        });
        FinishedEntry {
            engine: index(r.engine),
            request_id: r.request_id,
            user_id: r.user_id,
            user_request_num: r.user_request_num,
            prompt,
            scheduled_before: signed_delta(at, r.scheduled_at),
            sent_after: signed_delta(r.sent_at, r.scheduled_at),
            chunk_gaps,
            end_after: gap(r.end_at, previous),
            input_tokens: r.input_tokens,
            input_source: code(&TOKEN_SOURCES, &r.input_source),
            output_tokens: r.output_tokens,
            output_source: code(&TOKEN_SOURCES, &r.output_source),
            status: r.status,
            error: r
                .error
                .as_ref()
                .map(|e| (code(&ERROR_KINDS, &e.kind), e.message.clone())),
            output_text,
        }
    }
}

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
            EventEntry::TimeLimit => RaceEvent::TimeLimit,
            EventEntry::Stopped => RaceEvent::Stopped,
            EventEntry::Ended => RaceEvent::Ended,
            // Version 1 did not mark the answer: every chunk was answer.
            EventEntry::Finished(f) => {
                let first_answer = (!f.chunk_gaps.is_empty()).then_some(0);
                // Whether it waited for a slot is unknown: its send delay is
                // not taken as the client's lag.
                RaceEvent::Finished(Arc::new(self.record(*f, first_answer, true)?))
            }
            EventEntry::FinishedV2 {
                request,
                first_answer,
                waited_for_slot,
            } => {
                let first_answer = first_answer.checked_sub(1);
                if first_answer.is_some_and(|i| i as usize >= request.chunk_gaps.len()) {
                    return Err(DecodeError::NoSuchChunk);
                }
                RaceEvent::Finished(Arc::new(self.record(
                    *request,
                    first_answer,
                    waited_for_slot,
                )?))
            }
        };
        Ok((self.at, event))
    }

    fn record(
        &self,
        f: FinishedEntry,
        first_answer_chunk: Option<u32>,
        waited_for_slot: bool,
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
            status: f.status,
            error,
            output_text: f.output_text.unwrap_or_default(),
        })
    }
}

/// The race configuration as stored: header values and URL parts that may
/// be secrets are replaced. API keys are never in it (only the name of the
/// variable that holds one).
#[must_use]
pub fn scrub_spec(spec: &RaceSpec) -> RaceSpec {
    let mut spec = spec.clone();
    for engine in &mut spec.engines {
        for (name, value) in &mut engine.headers {
            if looks_secret(name) {
                REDACTED.clone_into(value);
            }
        }
        if let crate::config::EngineTarget::Url(url) = &mut engine.target {
            *url = scrub_url(url);
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_byte_codes_never_change() {
        let errors: Vec<&str> = ERROR_KINDS.iter().map(|k| k.name()).collect();
        assert_eq!(
            errors,
            [
                "http_429",
                "http_4xx",
                "http_5xx",
                "connect",
                "timeout",
                "stream_reset",
                "malformed",
                "server_error",
                "empty_answer",
                "internal"
            ]
        );
        let sources: Vec<&str> = TOKEN_SOURCES.iter().map(|s| s.name()).collect();
        assert_eq!(sources, ["usage", "tokenizer", "estimate", "chunks"]);
    }

    fn record(engine: usize, prompt: &str) -> RequestRecord {
        RequestRecord {
            engine,
            request_id: 7,
            user_id: 2,
            user_request_num: 3,
            prompt: Arc::from(prompt),
            scheduled_at: Duration::from_micros(1_000),
            sent_at: Duration::from_micros(1_250),
            waited_for_slot: true,
            chunk_times: vec![
                Duration::from_micros(81_250),
                Duration::from_micros(93_000),
                Duration::from_micros(105_001),
            ],
            first_answer_chunk: Some(1),
            end_at: Duration::from_micros(105_100),
            input_tokens: 12,
            input_source: TokenSource::Estimate,
            output_tokens: 3,
            output_source: TokenSource::Usage,
            status: 200,
            error: Some(RequestError {
                kind: ErrorKind::StreamReset,
                message: "cut".into(),
            }),
            output_text: "a b c".into(),
        }
    }

    #[test]
    fn events_survive_encoding_exactly_and_prompts_are_stored_once() {
        let events = vec![
            (Duration::from_micros(900), RaceEvent::Started { engine: 1 }),
            (
                Duration::from_micros(106_000),
                RaceEvent::Finished(Arc::new(record(1, "hello"))),
            ),
            (
                Duration::from_micros(106_000),
                RaceEvent::Finished(Arc::new(record(0, "hello"))),
            ),
            (
                Duration::from_micros(150_000),
                RaceEvent::BackedOff {
                    engine: 1,
                    waited: Duration::from_micros(100_123),
                    retry_after: true,
                },
            ),
            (
                Duration::from_micros(155_000),
                RaceEvent::ConnectionsOpened {
                    engine: 1,
                    total: 9,
                },
            ),
            (
                Duration::from_micros(158_000),
                RaceEvent::ClientSample(ClientSample {
                    loop_lag: Duration::from_micros(1_234),
                    queue_depth: 17,
                    queue_capacity: 8192,
                    cpu_permille: 456,
                    cores: 2,
                }),
            ),
            (
                Duration::from_micros(160_000),
                RaceEvent::UnsentArrivals {
                    engine: 0,
                    count: 2,
                },
            ),
            (
                Duration::from_micros(200_000),
                RaceEvent::Cancelled {
                    engine: 0,
                    count: 4,
                },
            ),
            (Duration::from_micros(250_000), RaceEvent::Ended),
        ];
        let mut encoder = Encoder::default();
        let mut entries = Vec::new();
        for (at, event) in &events {
            encoder.encode(*at, event, &mut entries);
        }
        let prompts = entries
            .iter()
            .filter(|e| matches!(e, Entry::Prompt { .. }))
            .count();
        assert_eq!(prompts, 1);
        let mut decoder = Decoder::new(2, Duration::from_secs(60));
        let mut decoded = Vec::new();
        for entry in entries {
            let bytes = postcard::to_stdvec(&entry).unwrap();
            match postcard::from_bytes::<Entry>(&bytes).unwrap() {
                Entry::Prompt { id, text } => decoder.prompt(id, text).unwrap(),
                Entry::Event { dt_us, event } => decoded.push(decoder.event(dt_us, event).unwrap()),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(decoded, events);
    }

    #[test]
    fn a_request_of_an_engine_the_race_does_not_have_is_rejected() {
        let mut encoder = Encoder::default();
        let mut entries = Vec::new();
        let event = RaceEvent::Finished(Arc::new(record(3, "p")));
        encoder.encode(Duration::from_millis(200), &event, &mut entries);
        let mut decoder = Decoder::new(2, Duration::from_secs(60));
        let mut result = None;
        for entry in entries {
            match entry {
                Entry::Prompt { id, text } => decoder.prompt(id, text).unwrap(),
                Entry::Event { dt_us, event } => result = Some(decoder.event(dt_us, event)),
                _ => {}
            }
        }
        assert!(matches!(
            result,
            Some(Err(DecodeError::NoSuchEngine { engine: 3, .. }))
        ));
    }

    #[test]
    fn long_text_is_cut_to_the_budget() {
        let mut encoder = Encoder::default();
        let mut long = record(0, &"p".repeat(5_000));
        long.output_text = "o".repeat(5_000);
        let mut entries = Vec::new();
        encoder.encode(
            Duration::from_secs(1),
            &RaceEvent::Finished(Arc::new(long)),
            &mut entries,
        );
        let Entry::Prompt { text, .. } = &entries[0] else {
            panic!("prompt first")
        };
        assert_eq!(text.chars().count(), PROMPT_CHARS);
        let Entry::Event {
            event: EventEntry::FinishedV2 { request: f, .. },
            ..
        } = &entries[1]
        else {
            panic!("then the request")
        };
        assert_eq!(f.output_text.as_deref().map(str::len), Some(OUTPUT_CHARS));
    }
}
