//! The connections a client opens: a layer around reqwest's connector, so
//! "connections opened" is what the client really did, not a guess from
//! request counts (a client that reuses its connections opens one per
//! concurrent request; one that does not, one per request), and a ledger of
//! when each connection was opened and last carried an answer, so a request
//! that failed can tell whether its connection was fresh or reused.
//!
//! A connection is known by its local address (hyper hands it back with
//! every error and response); a new connection on a recycled port replaces
//! the old one's entry, so the ledger never holds more entries than there are
//! ports.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::{Connected, Connection, HttpInfo};
use tokio::time::Instant;

/// Counts the connections a client establishes and keeps their ledger.
#[derive(Debug, Clone, Default)]
pub struct ConnectionLedger {
    inner: Arc<LedgerInner>,
}

#[derive(Debug, Default)]
struct LedgerInner {
    opened: AtomicU64,
    by_local: Mutex<HashMap<SocketAddr, ConnectionTimes>>,
}

/// When one connection was opened and when it last carried an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionTimes {
    pub opened: Instant,
    /// The end of the last exchange on it (its body read), if any.
    pub last_answer: Option<Instant>,
}

impl ConnectionLedger {
    /// Connections established so far.
    #[must_use]
    pub fn opened(&self) -> u64 {
        self.inner.opened.load(Ordering::Relaxed)
    }

    fn note_opened(&self, connected: &Connected) {
        self.inner.opened.fetch_add(1, Ordering::Relaxed);
        if let Some(local) = local_addr(connected) {
            let times = ConnectionTimes {
                opened: Instant::now(),
                last_answer: None,
            };
            self.entries().insert(local, times);
        }
    }

    /// An exchange on the connection at `local` ended at `at`.
    pub fn note_answer(&self, local: SocketAddr, at: Instant) {
        if let Some(times) = self.entries().get_mut(&local) {
            times.last_answer = Some(at);
        }
    }

    /// What the ledger knows of the connection at `local`.
    #[must_use]
    pub fn times(&self, local: SocketAddr) -> Option<ConnectionTimes> {
        self.entries().get(&local).copied()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, ConnectionTimes>> {
        // A panic while holding the lock leaves a map that is still whole.
        self.inner
            .by_local
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The local address of a connection, as hyper describes it.
#[must_use]
pub fn local_addr(connected: &Connected) -> Option<SocketAddr> {
    let mut extensions = http::Extensions::new();
    connected.get_extras(&mut extensions);
    extensions.get::<HttpInfo>().map(HttpInfo::local_addr)
}

impl<S> tower_layer::Layer<S> for ConnectionLedger {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            ledger: self.clone(),
        }
    }
}

/// A connector whose successful connections are counted and noted.
#[derive(Debug, Clone)]
pub struct Counted<S> {
    inner: S,
    ledger: ConnectionLedger,
}

impl<S, R> tower_service::Service<R> for Counted<S>
where
    S: tower_service::Service<R>,
    S::Response: Connection,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let connecting = self.inner.call(request);
        let ledger = self.ledger.clone();
        // One box per connection, not per request: negligible.
        Box::pin(async move {
            let connection = connecting.await?;
            ledger.note_opened(&connection.connected());
            Ok(connection)
        })
    }
}
