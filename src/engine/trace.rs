//! Which requests the inspector follows: each engine has a few trace slots
//! (the rule is `metrics::trace::SlotRule`), and a request that claims one
//! reports its steps as `RaceEvent::Trace` events, which the metrics fold
//! like any other. The rest never pay for tracing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::metrics::trace::SlotRule;

/// The trace slots of one engine, shared by its request tasks.
#[derive(Debug, Clone, Default)]
pub struct TraceSlots {
    rule: Arc<Mutex<SlotRule>>,
}

/// A request's claim on a slot; the slot lingers after [`TraceClaim::end`].
#[derive(Debug)]
pub struct TraceClaim {
    slots: TraceSlots,
    request_id: u64,
}

impl TraceSlots {
    /// Claims a slot for a request sent `now` (since the start signal);
    /// `None` when all are busy.
    pub fn claim(&self, request_id: u64, now: Duration) -> Option<TraceClaim> {
        let claimed = self.rule.lock().ok()?.claim(request_id, now);
        claimed.then(|| TraceClaim {
            slots: self.clone(),
            request_id,
        })
    }
}

impl TraceClaim {
    /// The request ended `at`: its slot is free once it has lingered.
    pub fn end(&self, at: Duration) {
        if let Ok(mut rule) = self.slots.rule.lock() {
            rule.end(self.request_id, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::trace::{TRACE_LINGER, TRACE_SLOTS};

    #[test]
    fn claims_are_bounded_and_freed_after_lingering() {
        let slots = TraceSlots::default();
        let held: Vec<TraceClaim> = (0..TRACE_SLOTS as u64)
            .map(|i| slots.claim(i, Duration::ZERO).unwrap())
            .collect();
        assert!(slots.claim(99, Duration::ZERO).is_none());
        held[1].end(Duration::from_secs(1));
        let just_before = Duration::from_secs(1) + TRACE_LINGER - Duration::from_millis(1);
        assert!(slots.claim(99, just_before).is_none(), "still lingering");
        assert!(
            slots
                .claim(99, Duration::from_secs(1) + TRACE_LINGER)
                .is_some()
        );
    }
}
