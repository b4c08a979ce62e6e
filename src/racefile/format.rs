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

use crate::metrics::server::ServerSample;
use crate::metrics::trace::TraceStep;
use crate::metrics::{ConversationEnd, ErrorKind, RaceEvent, RequestRecord, TokenSource};

/// The first eight bytes of every race file.
pub const MAGIC: [u8; 8] = *b"LLMRACE\0";
/// The format this version writes, and the newest it reads. Versions 2 to
/// 5 appended event kinds (see [`EventEntry`]); older files read as
/// before, their inspector traces rebuilt from the finished requests.
pub const FORMAT_VERSION: u16 = 5;
/// The first version that records the inspector's traces.
pub const TRACES_SINCE: u16 = 3;

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
    /// The race configuration as JSON in its stored shape (`racefile::config`),
    /// secrets removed.
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
    /// Since version 3: a traced request was sent with an earlier `Prompt`
    /// entry, `before_us` before the event's own time.
    TraceOpened {
        engine: u32,
        request_id: u64,
        prompt: u32,
        before_us: i64,
    },
    /// Since version 3: a piece of a traced request's text.
    TracePiece {
        engine: u32,
        request_id: u64,
        before_us: i64,
        text: String,
        answer: bool,
    },
    /// Since version 3: a traced request was cut off.
    TraceCut {
        engine: u32,
        request_id: u64,
        before_us: i64,
    },
    /// Since version 3: a sweep step started.
    SweepStep {
        engine: u32,
        level: f64,
    },
    /// Since version 3: a sweep step was judged.
    SweepJudged {
        engine: u32,
    },
    /// Since version 4: a request was sent again on a fresh connection.
    ConnectionRetried {
        engine: u32,
    },
    /// Since version 4: the engine's client stopped reusing connections.
    ConnectionReuseStopped {
        engine: u32,
    },
    /// Since version 5: a finished request as in version 2, the prompt
    /// tokens the server served from its cache (+1; 0 when it did not say),
    /// and its turn in a conversation race (0: none; its conversation is
    /// `request_id / MAX_TURNS`).
    FinishedV3 {
        request: Box<FinishedEntry>,
        first_answer: u32,
        waited_for_slot: bool,
        cached_tokens: u32,
        turn: u32,
    },
    /// Since version 5: a conversation ended (a `CONVERSATION_ENDS` code).
    ConversationEnded {
        engine: u32,
        how: u8,
    },
    /// Since version 5: a scrape of an engine's server metrics, or why it
    /// failed.
    ServerScrape {
        engine: u32,
        sample: Result<ServerSample, String>,
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
pub(super) const TOKEN_SOURCES: [TokenSource; 4] = [
    TokenSource::Usage,
    TokenSource::Tokenizer,
    TokenSource::Estimate,
    TokenSource::Chunks,
];
/// `ErrorKind::ALL`'s order is the wire code; a test pins it.
pub(super) const ERROR_KINDS: [ErrorKind; 10] = ErrorKind::ALL;
pub(super) const CONVERSATION_ENDS: [ConversationEnd; 4] = ConversationEnd::ALL;

fn code<T: PartialEq>(table: &[T], value: &T) -> u8 {
    let index = table.iter().position(|v| v == value).unwrap_or(0);
    u8::try_from(index).unwrap_or(0)
}

pub(super) fn micros(d: Duration) -> i64 {
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
            RaceEvent::ServerScrape { engine, sample } => EventEntry::ServerScrape {
                engine: index(*engine),
                sample: sample.clone(),
            },
            RaceEvent::ConversationEnded { engine, how } => EventEntry::ConversationEnded {
                engine: index(*engine),
                how: code(&CONVERSATION_ENDS, how),
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
            RaceEvent::SweepStep { engine, level } => EventEntry::SweepStep {
                engine: index(*engine),
                level: *level,
            },
            RaceEvent::SweepJudged { engine } => EventEntry::SweepJudged {
                engine: index(*engine),
            },
            RaceEvent::ConnectionRetried { engine } => EventEntry::ConnectionRetried {
                engine: index(*engine),
            },
            RaceEvent::ConnectionReuseStopped { engine } => EventEntry::ConnectionReuseStopped {
                engine: index(*engine),
            },
            RaceEvent::TimeLimit => EventEntry::TimeLimit,
            RaceEvent::Stopped => EventEntry::Stopped,
            RaceEvent::Ended => EventEntry::Ended,
            RaceEvent::Trace(trace) => self.trace_entry(at, trace, out),
            RaceEvent::Finished(record) => self.finished_entry(at, record, out),
        };
        out.push(Entry::Event { dt_us, event });
    }

    /// A traced request's step (its prompt interned on opening).
    fn trace_entry(
        &mut self,
        at: Duration,
        trace: &crate::metrics::trace::TraceEvent,
        out: &mut Vec<Entry>,
    ) -> EventEntry {
        let (engine, request_id) = (index(trace.engine), trace.request_id);
        let before_us = signed_delta(at, trace.at);
        match &trace.step {
            TraceStep::Opened { prompt } => EventEntry::TraceOpened {
                engine,
                request_id,
                prompt: self.intern(prompt, out),
                before_us,
            },
            TraceStep::Piece { text, answer } => EventEntry::TracePiece {
                engine,
                request_id,
                before_us,
                text: text.clone(),
                answer: *answer,
            },
            TraceStep::Cut => EventEntry::TraceCut {
                engine,
                request_id,
                before_us,
            },
        }
    }

    /// A finished request (its prompt interned).
    fn finished_entry(
        &mut self,
        at: Duration,
        record: &RequestRecord,
        out: &mut Vec<Entry>,
    ) -> EventEntry {
        let prompt = self.intern(&record.prompt, out);
        EventEntry::FinishedV3 {
            request: Box::new(self.finished(at, record, prompt)),
            first_answer: record.first_answer_chunk.map_or(0, |i| i.saturating_add(1)),
            waited_for_slot: record.waited_for_slot,
            cached_tokens: record.cached_tokens.map_or(0, |n| n.saturating_add(1)),
            turn: record.conversation.map_or(0, |c| c.turn),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::RequestError;
    use crate::metrics::client::ClientSample;
    use crate::racefile::decode::{DecodeError, Decoder};

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
            cached_tokens: Some(8),
            conversation: Some(crate::metrics::ConversationTurn {
                id: 7 / u64::from(crate::config::shape::MAX_TURNS),
                // Request 7 is turn 8 of conversation 0.
                turn: 8,
            }),
            status: 200,
            error: Some(RequestError {
                kind: ErrorKind::StreamReset,
                message: "cut".into(),
            }),
            output_text: "a b c".into(),
        }
    }

    fn trace(engine: usize, at_us: u64, step: TraceStep) -> RaceEvent {
        RaceEvent::Trace(crate::metrics::trace::TraceEvent {
            engine,
            request_id: 5,
            at: Duration::from_micros(at_us),
            step,
        })
    }

    #[test]
    fn events_survive_encoding_exactly_and_prompts_are_stored_once() {
        let events = vec![
            (Duration::from_micros(900), RaceEvent::Started { engine: 1 }),
            (
                Duration::from_micros(1_000),
                trace(
                    1,
                    800,
                    TraceStep::Opened {
                        prompt: Arc::from("hello"),
                    },
                ),
            ),
            (
                Duration::from_micros(30_000),
                trace(
                    1,
                    29_950,
                    TraceStep::Piece {
                        text: "héllo".into(),
                        answer: true,
                    },
                ),
            ),
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
                Duration::from_micros(159_000),
                RaceEvent::ConnectionReuseStopped { engine: 1 },
            ),
            (
                Duration::from_micros(159_000),
                RaceEvent::ConnectionRetried { engine: 1 },
            ),
            (
                Duration::from_micros(160_000),
                RaceEvent::UnsentArrivals {
                    engine: 0,
                    count: 2,
                },
            ),
            (
                Duration::from_micros(199_000),
                trace(1, 198_990, TraceStep::Cut),
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
            event: EventEntry::FinishedV3 { request: f, .. },
            ..
        } = &entries[1]
        else {
            panic!("then the request")
        };
        assert_eq!(f.output_text.as_deref().map(str::len), Some(OUTPUT_CHARS));
    }
}
