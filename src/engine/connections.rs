//! Counting the connections a client opens: a layer around reqwest's
//! connector, so "connections opened" is what the client really did, not a
//! guess from request counts. A client that reuses its connections opens
//! one per concurrent request; one that does not, one per request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

/// Wraps a connector so every connection it establishes is counted.
#[derive(Debug, Clone, Default)]
pub struct CountConnections {
    opened: Arc<AtomicU64>,
}

impl CountConnections {
    /// Connections established so far.
    #[must_use]
    pub fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }
}

impl<S> tower_layer::Layer<S> for CountConnections {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            opened: Arc::clone(&self.opened),
        }
    }
}

/// A connector whose successful connections are counted.
#[derive(Debug, Clone)]
pub struct Counted<S> {
    inner: S,
    opened: Arc<AtomicU64>,
}

impl<S, R> tower_service::Service<R> for Counted<S>
where
    S: tower_service::Service<R>,
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
        let opened = Arc::clone(&self.opened);
        // One box per connection, not per request: negligible.
        Box::pin(async move {
            let connection = connecting.await?;
            opened.fetch_add(1, Ordering::Relaxed);
            Ok(connection)
        })
    }
}
