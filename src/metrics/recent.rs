//! Each engine's last finished requests, for the TUI's timeline: when each
//! was scheduled, sent, got its first token and ended, and how it ended. A
//! bounded ring filled by the fold from finished records (never from a
//! clock), so a replay shows the same timeline as the live race. Only the
//! times are kept: no text, no chunk list.

use std::collections::VecDeque;
use std::time::Duration;

use super::record::{ErrorKind, RequestRecord};

/// Finished requests kept per engine.
pub const RECENT_REQUESTS: usize = 64;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed(ErrorKind),
}

/// One finished request's times, all since the start signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecentRequest {
    pub request_id: u64,
    /// When the load shape meant it to go out.
    pub scheduled_at: Duration,
    pub sent_at: Duration,
    /// The first output-bearing chunk, if one came.
    pub first_token_at: Option<Duration>,
    /// The last byte (or when the failure was seen).
    pub ended_at: Duration,
    pub outcome: Outcome,
    pub output_tokens: u32,
}

impl RecentRequest {
    #[must_use]
    pub fn of(record: &RequestRecord) -> Self {
        RecentRequest {
            request_id: record.request_id,
            scheduled_at: record.scheduled_at,
            sent_at: record.sent_at,
            first_token_at: record.chunk_times.first().copied(),
            ended_at: record.end_at,
            outcome: match &record.error {
                None => Outcome::Ok,
                Some(e) => Outcome::Failed(e.kind),
            },
            output_tokens: record.output_tokens,
        }
    }

    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }

    /// Sent − scheduled (the record's send delay).
    #[must_use]
    pub fn send_delay(&self) -> Duration {
        self.sent_at.saturating_sub(self.scheduled_at)
    }

    /// First token − scheduled (the record's TTFT).
    #[must_use]
    pub fn ttft(&self) -> Option<Duration> {
        self.first_token_at
            .map(|t| t.saturating_sub(self.scheduled_at))
    }

    /// End − first token: the bar's decoding part (to the last byte, so a
    /// late usage report or `[DONE]` is in it, unlike TPOT's decode end).
    #[must_use]
    pub fn decode(&self) -> Option<Duration> {
        self.first_token_at.map(|t| self.ended_at.saturating_sub(t))
    }

    /// End − scheduled (the record's E2E).
    #[must_use]
    pub fn e2e(&self) -> Duration {
        self.ended_at.saturating_sub(self.scheduled_at)
    }
}

/// An engine's last [`RECENT_REQUESTS`] finished requests, in the order
/// they were folded (the order they finished in).
#[derive(Debug, Clone, Default)]
pub struct RecentRequests {
    ring: VecDeque<RecentRequest>,
}

impl RecentRequests {
    pub fn observe(&mut self, record: &RequestRecord) {
        if self.ring.len() == RECENT_REQUESTS {
            self.ring.pop_front();
        }
        self.ring.push_back(RecentRequest::of(record));
    }

    /// The kept requests, newest last: a copy of at most 64 small values.
    #[must_use]
    pub fn snapshot(&self) -> Vec<RecentRequest> {
        self.ring.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::record::RequestError;
    use crate::metrics::record::tests::ok_record;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_record_gives_its_times_since_the_start_and_its_outcome() {
        let mut r = ok_record(0, 1000, 80, 10, 5);
        r.request_id = 7;
        r.sent_at = ms(1030);
        r.end_at = ms(1200);
        let recent = RecentRequest::of(&r);
        assert_eq!(
            recent,
            RecentRequest {
                request_id: 7,
                scheduled_at: ms(1000),
                sent_at: ms(1030),
                first_token_at: Some(ms(1080)),
                ended_at: ms(1200),
                outcome: Outcome::Ok,
                output_tokens: 5,
            }
        );
        assert_eq!(recent.send_delay(), r.send_delay());
        assert_eq!(recent.ttft(), r.ttft());
        assert_eq!(recent.e2e(), r.e2e());
        assert_eq!(recent.decode(), Some(ms(120)));
    }

    #[test]
    fn a_failure_keeps_its_kind_and_may_have_no_first_token() {
        let mut r = ok_record(1, 500, 0, 0, 0);
        r.end_at = ms(520);
        r.status = 429;
        r.error = Some(RequestError {
            kind: ErrorKind::Http429,
            message: "Model is overloaded".into(),
        });
        let recent = RecentRequest::of(&r);
        assert_eq!(recent.outcome, Outcome::Failed(ErrorKind::Http429));
        assert!(!recent.is_ok());
        assert_eq!((recent.first_token_at, recent.ttft()), (None, None));
        assert_eq!(recent.decode(), None);
        assert_eq!(recent.e2e(), ms(20));
    }

    #[test]
    fn the_ring_keeps_the_last_64_newest_last() {
        let mut ring = RecentRequests::default();
        assert!(ring.snapshot().is_empty());
        for id in 0..100u64 {
            let mut r = ok_record(0, id * 10, 50, 5, 3);
            r.request_id = id;
            ring.observe(&r);
        }
        let kept = ring.snapshot();
        assert_eq!(kept.len(), RECENT_REQUESTS);
        let ids: Vec<u64> = kept.iter().map(|r| r.request_id).collect();
        assert_eq!(ids, (36..100).collect::<Vec<u64>>());
    }

    #[test]
    fn the_engine_fold_feeds_the_ring_ok_and_failed_alike() {
        use crate::config::color::{EngineColor, NamedColor};
        use crate::config::{FinishSpec, SloSpec};
        use crate::metrics::EngineStats;
        let mut ok = ok_record(0, 100, 50, 5, 3);
        ok.request_id = 1;
        let mut failed = ok_record(0, 200, 0, 0, 0);
        failed.request_id = 2;
        failed.error = Some(RequestError {
            kind: ErrorKind::Timeout,
            message: "timed out".into(),
        });
        let slo = SloSpec::default();
        let mut engine = EngineStats::new("a", "m", "", EngineColor::Named(NamedColor::Cyan));
        engine.observe(&ok, &slo);
        engine.observe(&failed, &slo);
        let finish = FinishSpec {
            duration: Duration::from_secs(10),
            duration_is_finish_line: true,
            requests: None,
            output_tokens: None,
            grace: Duration::from_secs(1),
        };
        let lane = engine.snapshot(&finish, &slo, Duration::from_secs(1), 0, false);
        assert_eq!(
            lane.recent,
            vec![RecentRequest::of(&ok), RecentRequest::of(&failed)]
        );
    }
}
