//! Reading the rest of a body after the answer is complete, off the
//! request's path: a body read to its end lets hyper put the connection
//! back in the pool, so the next request does not pay for a new one. The
//! rest is read raw (no SSE parsing, nothing kept), bounded in bytes and
//! time, in a task of its own so the user sends its next request at once.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

/// How long the user waits for the rest of a body before leaving it to a
/// drain task.
pub const INLINE_DRAIN_LIMIT: Duration = Duration::from_millis(10);
/// How long the rest of a body may take before the connection is dropped.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(1);
/// How much of the rest is read before the connection is dropped.
pub const DRAIN_BYTES: usize = 1 << 20;

/// Reads `rest` to its end: briefly here (a server sends the end of its
/// body with its last event, and a connection back in the pool in time
/// serves the user's next request), then, if it is still coming, on a task
/// of its own so the user does not wait for it.
pub async fn drain<S, E>(mut rest: S)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + Send + 'static,
{
    let deadline = tokio::time::Instant::now() + INLINE_DRAIN_LIMIT;
    let mut read = 0usize;
    loop {
        match tokio::time::timeout_at(deadline, rest.next()).await {
            Ok(Some(Ok(bytes))) => {
                read = read.saturating_add(bytes.len());
                if read > DRAIN_BYTES {
                    return;
                }
            }
            Ok(_) => return,
            Err(_) => return drain_in_background(rest),
        }
    }
}

/// Reads `rest` to its end (within [`DRAIN_LIMIT`] and [`DRAIN_BYTES`]) on a
/// task of its own, then drops it.
pub fn drain_in_background<S, E>(mut rest: S)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + Send + 'static,
{
    // Outside a runtime (never in the client) there is nothing to drain on.
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let _ = tokio::time::timeout(DRAIN_LIMIT, async {
            let mut read = 0usize;
            while let Some(Ok(bytes)) = rest.next().await {
                read = read.saturating_add(bytes.len());
                if read > DRAIN_BYTES {
                    break;
                }
            }
        })
        .await;
    });
}
