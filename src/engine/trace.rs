//! Live request traces for the inspector: a few slots per engine that
//! request tasks write their streaming text into, and the aggregator copies
//! into each snapshot. Only requests that hold a slot pay for it (one lock
//! per chunk); the rest never touch it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::metrics::RequestTrace;
use crate::metrics::snapshot::{TRACE_ERROR_CHARS, TRACE_PROMPT_CHARS, TRACE_TEXT_CHARS};

/// Requests traced at once per engine.
pub const TRACE_SLOTS: usize = 4;
/// How long a finished request stays visible before its slot is reused.
pub const TRACE_LINGER: Duration = Duration::from_millis(300);

#[derive(Debug, Default)]
struct Slots {
    traces: Vec<RequestTrace>,
}

/// The trace slots of one engine.
#[derive(Debug, Clone, Default)]
pub struct TraceSlots {
    inner: Arc<Mutex<Slots>>,
}

/// A request's claim on a slot.
#[derive(Debug)]
pub struct TraceSlot {
    slots: TraceSlots,
    request_id: u64,
}

fn head(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

impl TraceSlots {
    /// Claims a slot for a request sent at `now` (since the start signal):
    /// a free one, or the one whose request ended longest ago if that was
    /// more than [`TRACE_LINGER`] ago. `None` when all are busy.
    pub fn claim(&self, request_id: u64, prompt: &str, now: Duration) -> Option<TraceSlot> {
        let mut slots = self.inner.lock().ok()?;
        let trace = RequestTrace {
            request_id,
            prompt_head: head(prompt, TRACE_PROMPT_CHARS),
            sent_at: now,
            ..RequestTrace::default()
        };
        if slots.traces.len() < TRACE_SLOTS {
            slots.traces.push(trace);
        } else {
            let reusable = slots
                .traces
                .iter()
                .enumerate()
                .filter_map(|(i, t)| t.ended_at.map(|end| (i, end)))
                .filter(|(_, end)| now.saturating_sub(*end) >= TRACE_LINGER)
                .min_by_key(|(_, end)| *end)
                .map(|(i, _)| i)?;
            slots.traces[reusable] = trace;
        }
        Some(TraceSlot {
            slots: self.clone(),
            request_id,
        })
    }

    /// The traces, newest first.
    #[must_use]
    pub fn snapshot(&self) -> Vec<RequestTrace> {
        let mut traces = self
            .inner
            .lock()
            .map(|s| s.traces.clone())
            .unwrap_or_default();
        traces.sort_by_key(|t| std::cmp::Reverse(t.sent_at));
        traces
    }
}

impl TraceSlot {
    fn with(&self, f: impl FnOnce(&mut RequestTrace)) {
        if let Ok(mut slots) = self.slots.inner.lock()
            && let Some(t) = slots
                .traces
                .iter_mut()
                .find(|t| t.request_id == self.request_id)
        {
            f(t);
        }
    }

    /// A piece of output arrived `at` (since the start signal); `answer`
    /// when it is the answer rather than reasoning.
    pub fn chunk(&self, text: &str, answer: bool, at: Duration) {
        self.with(|t| {
            if t.ttft.is_none() {
                t.ttft = Some(at.saturating_sub(t.sent_at));
            }
            if answer && t.ttfot.is_none() {
                t.ttfot = Some(at.saturating_sub(t.sent_at));
                t.answer_starts_at = Some(t.text.chars().count());
            }
            t.chunks += 1;
            t.text.push_str(text);
            // Byte length bounds the character count: only count characters
            // (a scan of the whole text) once the text may be too long.
            if t.text.len() > TRACE_TEXT_CHARS {
                let excess = t.text.chars().count().saturating_sub(TRACE_TEXT_CHARS);
                if let Some((cut, _)) = t.text.char_indices().nth(excess) {
                    t.text.drain(..cut);
                    t.answer_starts_at = t.answer_starts_at.map(|a| a.saturating_sub(excess));
                }
            }
        });
    }

    /// The request ended; `error` is its kind and message when it failed.
    pub fn end(&self, at: Duration, error: Option<(&str, &str)>) {
        self.with(|t| {
            t.ended_at = Some(at);
            t.error = error.map(|(kind, _)| kind.to_owned());
            t.error_message = error.map(|(_, message)| head(message, TRACE_ERROR_CHARS));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_and_reused_after_lingering() {
        let slots = TraceSlots::default();
        let held: Vec<TraceSlot> = (0..TRACE_SLOTS as u64)
            .map(|i| slots.claim(i, "p", Duration::ZERO).unwrap())
            .collect();
        assert!(slots.claim(99, "p", Duration::ZERO).is_none());
        held[1].end(Duration::from_secs(1), None);
        assert!(
            slots.claim(99, "p", Duration::from_millis(1100)).is_none(),
            "still lingering"
        );
        let reused = slots.claim(99, "p", Duration::from_secs(5)).unwrap();
        reused.chunk(" hi", true, Duration::from_millis(5300));
        let snap = slots.snapshot();
        assert_eq!(snap.len(), TRACE_SLOTS);
        assert_eq!(snap[0].request_id, 99);
        assert_eq!(snap[0].ttft, Some(Duration::from_millis(300)));
        assert_eq!(snap[0].text, " hi");
    }

    #[test]
    fn text_and_prompt_are_bounded() {
        let slots = TraceSlots::default();
        let slot = slots.claim(1, &"x".repeat(5000), Duration::ZERO).unwrap();
        for _ in 0..3000 {
            slot.chunk("ab", true, Duration::from_millis(1));
        }
        let t = &slots.snapshot()[0];
        assert_eq!(t.prompt_head.chars().count(), TRACE_PROMPT_CHARS);
        assert_eq!(t.text.chars().count(), TRACE_TEXT_CHARS);
        assert_eq!(t.chunks, 3000);
    }
}
