//! The inspector's request traces, folded from events like every other
//! number: a request task that holds one of its engine's few trace slots
//! reports its opening and each piece of text as [`TraceEvent`]s, and the
//! `Finished` record ends it. The live aggregator and a replay fold the same
//! events, so they show the same traces at the same moment.

use std::sync::Arc;
use std::time::Duration;

use super::record::RequestRecord;
use super::snapshot::{RequestTrace, TRACE_ERROR_CHARS, TRACE_PROMPT_CHARS, TRACE_TEXT_CHARS};

/// Requests traced at once per engine.
pub const TRACE_SLOTS: usize = 4;
/// How long a finished request stays visible before its slot is reused.
pub const TRACE_LINGER: Duration = Duration::from_millis(300);

/// One step of a traced request, `at` (since the start signal) as the
/// request task measured it.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceEvent {
    pub engine: usize,
    pub request_id: u64,
    pub at: Duration,
    pub step: TraceStep,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TraceStep {
    /// The request was sent with this prompt and holds a slot.
    Opened { prompt: Arc<str> },
    /// A piece of output text arrived; `answer` when it is the answer
    /// rather than reasoning.
    Piece { text: String, answer: bool },
    /// The request was cut off when its engine stopped (a finished request
    /// ends its trace with its `Finished` record instead).
    Cut,
}

/// The error a cut-off request's trace shows.
pub const CUT_KIND: &str = "cancelled";
pub const CUT_MESSAGE: &str = "cut off when the engine stopped";

fn head(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// One engine's traces: at most [`TRACE_SLOTS`].
#[derive(Debug, Clone, Default)]
pub struct TraceBook {
    traces: Vec<RequestTrace>,
}

impl TraceBook {
    fn find(&mut self, request_id: u64) -> Option<&mut RequestTrace> {
        self.traces.iter_mut().find(|t| t.request_id == request_id)
    }

    pub fn apply(&mut self, event: &TraceEvent) {
        match &event.step {
            TraceStep::Opened { prompt } => self.open(event.request_id, prompt, event.at),
            TraceStep::Piece { text, answer } => {
                if let Some(t) = self.find(event.request_id) {
                    add_piece(t, text, *answer, event.at);
                }
            }
            TraceStep::Cut => {
                if let Some(t) = self.find(event.request_id)
                    && t.ended_at.is_none()
                {
                    t.ended_at = Some(event.at);
                    t.error = Some(CUT_KIND.to_owned());
                    t.error_message = Some(CUT_MESSAGE.to_owned());
                }
            }
        }
    }

    /// A traced request's record ends its trace.
    pub fn finish(&mut self, record: &RequestRecord) {
        if let Some(t) = self.find(record.request_id)
            && t.ended_at.is_none()
        {
            t.ended_at = Some(record.end_at);
            t.error = record.error.as_ref().map(|e| e.kind.name().to_owned());
            t.error_message = record
                .error
                .as_ref()
                .map(|e| head(&e.message, TRACE_ERROR_CHARS));
        }
    }

    /// A new trace takes a free slot, else the slot of the request that
    /// ended first, else (never from a well-behaved engine, which claims
    /// slots before opening) the oldest one.
    fn open(&mut self, request_id: u64, prompt: &str, at: Duration) {
        let trace = RequestTrace {
            request_id,
            prompt_head: head(prompt, TRACE_PROMPT_CHARS),
            sent_at: at,
            ..RequestTrace::default()
        };
        if self.traces.len() < TRACE_SLOTS {
            self.traces.push(trace);
            return;
        }
        let oldest = self
            .traces
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| (t.ended_at.is_none(), t.ended_at, t.sent_at))
            .map(|(i, _)| i);
        if let Some(i) = oldest {
            self.traces[i] = trace;
        }
    }

    /// The traces, newest first.
    #[must_use]
    pub fn snapshot(&self) -> Vec<RequestTrace> {
        let mut traces = self.traces.clone();
        traces.sort_by_key(|t| std::cmp::Reverse((t.sent_at, t.request_id)));
        traces
    }
}

fn add_piece(t: &mut RequestTrace, text: &str, answer: bool, at: Duration) {
    if t.ttft.is_none() {
        t.ttft = Some(at.saturating_sub(t.sent_at));
    }
    if answer && t.ttfot.is_none() {
        t.ttfot = Some(at.saturating_sub(t.sent_at));
        t.answer_starts_at = Some(t.text.chars().count());
    }
    t.chunks = t.chunks.saturating_add(1);
    t.text.push_str(text);
    // Byte length bounds the character count: only count characters (a
    // scan of the whole text) once the text may be too long.
    if t.text.len() > TRACE_TEXT_CHARS {
        let excess = t.text.chars().count().saturating_sub(TRACE_TEXT_CHARS);
        if let Some((cut, _)) = t.text.char_indices().nth(excess) {
            t.text.drain(..cut);
            t.answer_starts_at = t.answer_starts_at.map(|a| a.saturating_sub(excess));
        }
    }
}

/// The trace events a request with this record would have sent, for race
/// files written before traces were recorded: opened when sent, the text
/// split evenly over its chunks (those files keep the text, not where each
/// chunk's text starts).
#[must_use]
pub fn events_of(record: &RequestRecord) -> Vec<TraceEvent> {
    let event = |at, step| TraceEvent {
        engine: record.engine,
        request_id: record.request_id,
        at,
        step,
    };
    let mut events = vec![event(
        record.sent_at,
        TraceStep::Opened {
            prompt: Arc::clone(&record.prompt),
        },
    )];
    let chars: Vec<char> = record.output_text.chars().collect();
    let total = record.chunk_times.len();
    for (i, &at) in record.chunk_times.iter().enumerate() {
        let text: String = chars[chars.len() * i / total..chars.len() * (i + 1) / total]
            .iter()
            .collect();
        let answer = record.first_answer_chunk.is_some_and(|a| i >= a as usize);
        events.push(event(at, TraceStep::Piece { text, answer }));
    }
    events
}

/// Which requests an engine would have traced: the slot rule of the live
/// engine (a free slot, or one whose request ended [`TRACE_LINGER`] before),
/// replayed over records in the order they were sent.
#[derive(Debug, Default)]
pub struct SlotRule {
    /// The end of each held slot's request; `None` while in flight.
    held: Vec<(u64, Option<Duration>)>,
}

impl SlotRule {
    /// Claims a slot for `request_id` sent `now`; false when all are busy.
    pub fn claim(&mut self, request_id: u64, now: Duration) -> bool {
        if self.held.len() < TRACE_SLOTS {
            self.held.push((request_id, None));
            return true;
        }
        let reusable = self
            .held
            .iter()
            .enumerate()
            .filter_map(|(i, (_, end))| end.map(|end| (i, end)))
            .filter(|(_, end)| now.saturating_sub(*end) >= TRACE_LINGER)
            .min_by_key(|(_, end)| *end)
            .map(|(i, _)| i);
        match reusable {
            Some(i) => {
                self.held[i] = (request_id, None);
                true
            }
            None => false,
        }
    }

    /// The request holding a slot ended `at`.
    pub fn end(&mut self, request_id: u64, at: Duration) {
        if let Some(slot) = self.held.iter_mut().find(|(id, _)| *id == request_id) {
            slot.1 = Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::record::tests::ok_record;

    fn opened(request_id: u64, at_ms: u64) -> TraceEvent {
        TraceEvent {
            engine: 0,
            request_id,
            at: Duration::from_millis(at_ms),
            step: TraceStep::Opened {
                prompt: Arc::from("x".repeat(5000)),
            },
        }
    }

    fn piece(request_id: u64, at_ms: u64, text: &str, answer: bool) -> TraceEvent {
        TraceEvent {
            engine: 0,
            request_id,
            at: Duration::from_millis(at_ms),
            step: TraceStep::Piece {
                text: text.to_owned(),
                answer,
            },
        }
    }

    #[test]
    fn pieces_give_text_ttft_ttfot_and_where_the_answer_starts() {
        let mut book = TraceBook::default();
        book.apply(&opened(7, 100));
        book.apply(&piece(7, 150, "think", false));
        book.apply(&piece(7, 180, " ok", true));
        book.apply(&piece(7, 190, "!", true));
        let t = &book.snapshot()[0];
        assert_eq!(t.prompt_head.chars().count(), TRACE_PROMPT_CHARS);
        assert_eq!(t.text, "think ok!");
        assert_eq!(t.ttft, Some(Duration::from_millis(50)));
        assert_eq!(t.ttfot, Some(Duration::from_millis(80)));
        assert_eq!(t.answer_starts_at, Some(5));
        assert_eq!(t.chunks, 3);
        assert_eq!(t.ended_at, None);
    }

    #[test]
    fn text_keeps_its_tail_and_the_answer_mark_follows() {
        let mut book = TraceBook::default();
        book.apply(&opened(1, 0));
        book.apply(&piece(1, 1, "r", false));
        book.apply(&piece(1, 2, "a", true));
        for _ in 0..3000 {
            book.apply(&piece(1, 3, "bc", true));
        }
        let t = &book.snapshot()[0];
        assert_eq!(t.text.chars().count(), TRACE_TEXT_CHARS);
        assert!(t.text.ends_with("bcbc"));
        assert_eq!(t.answer_starts_at, Some(0), "the answer start scrolled off");
        assert_eq!(t.chunks, 3002);
    }

    #[test]
    fn a_new_trace_takes_the_slot_of_the_request_that_ended_first() {
        let mut book = TraceBook::default();
        for id in 0..TRACE_SLOTS as u64 {
            book.apply(&opened(id, id));
        }
        let mut ended = ok_record(0, 0, 100, 10, 5);
        ended.request_id = 2;
        book.finish(&ended);
        let mut later = ok_record(0, 0, 100, 10, 5);
        later.request_id = 1;
        later.end_at = ended.end_at + Duration::from_millis(5);
        book.finish(&later);
        book.apply(&opened(9, 1000));
        let ids: Vec<u64> = book.snapshot().iter().map(|t| t.request_id).collect();
        assert_eq!(ids, vec![9, 3, 1, 0], "newest first; request 2 gave way");
    }

    #[test]
    fn a_failed_or_cut_request_shows_why() {
        let mut book = TraceBook::default();
        book.apply(&opened(1, 0));
        book.apply(&opened(2, 0));
        let mut failed = ok_record(0, 0, 10, 10, 1);
        failed.request_id = 1;
        failed.error = Some(crate::metrics::RequestError {
            kind: crate::metrics::ErrorKind::Http5xx,
            message: "y".repeat(1000),
        });
        book.finish(&failed);
        book.apply(&TraceEvent {
            engine: 0,
            request_id: 2,
            at: Duration::from_secs(3),
            step: TraceStep::Cut,
        });
        let traces = book.snapshot();
        let by_id = |id| traces.iter().find(|t| t.request_id == id).unwrap();
        assert_eq!(by_id(1).error.as_deref(), Some("http_5xx"));
        assert_eq!(
            by_id(1).error_message.as_ref().map(|m| m.chars().count()),
            Some(TRACE_ERROR_CHARS)
        );
        assert_eq!(by_id(2).error.as_deref(), Some(CUT_KIND));
        assert_eq!(by_id(2).ended_at, Some(Duration::from_secs(3)));
    }

    #[test]
    fn slots_are_bounded_and_reused_after_lingering() {
        let mut rule = SlotRule::default();
        for id in 0..TRACE_SLOTS as u64 {
            assert!(rule.claim(id, Duration::ZERO));
        }
        assert!(!rule.claim(99, Duration::ZERO));
        rule.end(1, Duration::from_secs(1));
        assert!(
            !rule.claim(99, Duration::from_millis(1100)),
            "still lingering"
        );
        assert!(rule.claim(99, Duration::from_millis(1300)));
        assert!(!rule.claim(100, Duration::from_secs(5)));
    }

    #[test]
    fn a_record_splits_its_text_over_its_chunks() {
        let mut record = ok_record(0, 0, 10, 10, 4);
        record.output_text = "abcdefgh".into();
        record.first_answer_chunk = Some(2);
        let events = events_of(&record);
        assert_eq!(events.len(), 5);
        assert_eq!(events[0].at, record.sent_at);
        let pieces: Vec<(String, bool)> = events[1..]
            .iter()
            .map(|e| match &e.step {
                TraceStep::Piece { text, answer } => (text.clone(), *answer),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            pieces,
            vec![
                ("ab".into(), false),
                ("cd".into(), false),
                ("ef".into(), true),
                ("gh".into(), true)
            ]
        );
        assert_eq!(events[4].at, record.chunk_times[3]);
    }
}
