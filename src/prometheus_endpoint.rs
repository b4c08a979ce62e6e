//! `--metrics-addr`: serves the race's latest snapshot at `/metrics` in
//! the Prometheus text format while the race runs (the text is
//! `report::prometheus`'s), so a headless shard in a pod can be scraped.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::watch;

use crate::metrics::RaceSnapshot;
use crate::report::prometheus;

/// A listening endpoint; dropping it stops the server.
pub struct Endpoint {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn metrics(State(snapshots): State<watch::Receiver<Arc<RaceSnapshot>>>) -> impl IntoResponse {
    let text = prometheus::exposition(&snapshots.borrow());
    ([(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)], text)
}

/// The endpoint's socket, bound before the race starts (a bad address must
/// stop the race before it begins, not after).
pub struct Bound {
    listener: tokio::net::TcpListener,
    pub addr: SocketAddr,
}

/// Listens on `addr` (port 0: any free port).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<Bound> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--metrics-addr {addr}: cannot listen there"))?;
    let addr = listener
        .local_addr()
        .with_context(|| format!("--metrics-addr {addr}: no local address"))?;
    Ok(Bound { listener, addr })
}

impl Bound {
    /// Serves `snapshots` until the returned endpoint is dropped.
    #[must_use]
    pub fn serve(self, snapshots: watch::Receiver<Arc<RaceSnapshot>>) -> Endpoint {
        let app = Router::new()
            .route("/metrics", get(metrics))
            .with_state(snapshots);
        let listener = self.listener;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("the metrics endpoint stopped: {e}");
            }
        });
        Endpoint {
            addr: self.addr,
            task,
        }
    }
}
