//! Connections a server closed under a request. Many servers and proxies
//! close a kept-alive connection on their own schedule (llama.cpp after
//! every streamed answer, nginx and load balancers when it has idled), and a
//! client that reuses it in the moment before it sees the close writes its
//! next request into a closing socket. That failure is the client's, not
//! the server's: such a request is sent again, once, on a fresh connection
//! (see docs/METRICS.md, "Connections").
//!
//! When the server closes connections right after its answers again and
//! again, reusing them only causes these retries: with `reuse_connections:
//! auto` the client stops reusing its connections for the rest of the race,
//! and every request pays its own connect, measured as such.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use super::connections::local_addr;
use crate::config::ReuseConnections;

/// Closes right after an answer that make `auto` stop reusing connections.
pub const CLOSES_BEFORE_RECONNECTING: u32 = 2;
/// A connection closed under a request this soon after its last answer was
/// closed because of that answer, not because it idled: idle timeouts are
/// seconds (llama.cpp 5, nginx 75).
pub const RIGHT_AFTER_ANSWER: Duration = Duration::from_secs(1);

/// Whether a client reuses its connections, and what made it stop.
#[derive(Debug)]
pub struct ReusePolicy {
    mode: ReuseConnections,
    reusing: AtomicBool,
    closes_after_answer: AtomicU32,
}

impl ReusePolicy {
    #[must_use]
    pub fn new(mode: ReuseConnections) -> Self {
        ReusePolicy {
            mode,
            reusing: AtomicBool::new(mode != ReuseConnections::Never),
            closes_after_answer: AtomicU32::new(0),
        }
    }

    /// Whether requests go over kept-alive connections now.
    #[must_use]
    pub fn reusing(&self) -> bool {
        self.reusing.load(Ordering::Relaxed)
    }

    /// The server closed a reused connection under a request,
    /// `since_answer` after the connection's last answer ended (`None`:
    /// it carried none). True for the one close that makes the client stop
    /// reusing connections.
    pub fn on_closed_under_request(&self, since_answer: Option<Duration>) -> bool {
        if self.mode != ReuseConnections::Auto
            || since_answer.is_none_or(|d| d >= RIGHT_AFTER_ANSWER)
        {
            return false;
        }
        let closes = self
            .closes_after_answer
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        closes >= CLOSES_BEFORE_RECONNECTING && self.reusing.swap(false, Ordering::Relaxed)
    }
}

/// The local address of the connection `error` happened on, when the error
/// is the connection closing (closed, reset, or a broken pipe while writing)
/// before the response's head arrived. `None` for every other failure:
/// refused or timed-out connects, timeouts, and anything after the head.
#[must_use]
pub fn closed_before_answer(error: &reqwest::Error) -> Option<SocketAddr> {
    if error.is_connect() || error.is_timeout() {
        return None;
    }
    let mut local = None;
    let mut closed = false;
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(client) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
            if client.is_connect() {
                return None;
            }
            local = local.or_else(|| client.connect_info().and_then(local_addr));
        } else if let Some(http) = e.downcast_ref::<hyper::Error>() {
            closed |= http.is_incomplete_message();
        } else if let Some(io) = e.downcast_ref::<std::io::Error>() {
            closed |= matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::UnexpectedEof
            );
        }
        source = e.source();
    }
    local.filter(|_| closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOON: Option<Duration> = Some(Duration::from_millis(3));

    #[test]
    fn auto_stops_reusing_on_the_second_close_right_after_an_answer() {
        let policy = ReusePolicy::new(ReuseConnections::Auto);
        assert!(policy.reusing());
        assert!(!policy.on_closed_under_request(SOON));
        assert!(policy.reusing());
        assert!(policy.on_closed_under_request(SOON), "the second close");
        assert!(!policy.reusing());
        assert!(!policy.on_closed_under_request(SOON), "said once");
    }

    #[test]
    fn idle_closes_never_stop_reuse() {
        let policy = ReusePolicy::new(ReuseConnections::Auto);
        for _ in 0..10 {
            assert!(!policy.on_closed_under_request(Some(RIGHT_AFTER_ANSWER)));
            assert!(!policy.on_closed_under_request(None));
        }
        assert!(policy.reusing());
    }

    #[test]
    fn always_keeps_reusing_and_never_reuses_at_all() {
        let always = ReusePolicy::new(ReuseConnections::Always);
        for _ in 0..10 {
            assert!(!always.on_closed_under_request(SOON));
        }
        assert!(always.reusing());
        assert!(!ReusePolicy::new(ReuseConnections::Never).reusing());
    }
}
