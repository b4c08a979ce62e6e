//! Reading an answer's body as it arrives: SSE events, each timed on
//! arrival and handed to the protocol with an [`EventFold`], until the
//! protocol's end event (the rest of the body is then read outside the
//! timing) or the body's end.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::time::Instant;

use super::drain::drain;
use super::protocol::{Flow, Protocol};
use super::sse::{SseError, SseEvents};
use super::stream::{EventFold, Exchange, Observer};
use crate::metrics::ErrorKind;

/// Reads an SSE byte stream until the protocol's end event or the body's
/// end, timestamping each event on arrival. Transport errors are `E`,
/// described by `describe`.
pub(crate) async fn read_sse<S, E>(
    mut body: S,
    protocol: &dyn Protocol,
    ex: &mut Exchange,
    observe: &mut Observer<'_>,
    describe: impl Fn(&E) -> String,
) where
    S: Stream<Item = Result<Bytes, E>> + Unpin + Send + 'static,
    E: std::fmt::Display + 'static,
{
    // The reader borrows the body, so after the end event the rest of the
    // body can still be read, outside the timing.
    let mut events = SseEvents::new(&mut body);
    while let Some(item) = events.next().await {
        let event = match item {
            Ok(event) => event,
            Err(SseError::Transport(e)) => {
                ex.fail(ErrorKind::StreamReset, describe(&e));
                return;
            }
            Err(SseError::Invalid(e)) => {
                ex.fail(ErrorKind::Malformed, e);
                return;
            }
        };
        let mut fold = EventFold::new(ex, observe, Instant::now());
        match protocol.on_event(event.kind(), event.data(), &mut fold) {
            Flow::Continue => {}
            Flow::Failed => return,
            Flow::Done => {
                drop(fold);
                drop(events);
                drain(body).await;
                return;
            }
        }
    }
    drop(events);
    ex.end = Instant::now().max(ex.end);
    protocol.on_stream_end(ex);
}

/// Decodes a whole SSE body of `protocol` that arrives in `pieces`, in
/// order, with no transport error: what the client makes of it, with every
/// output-bearing event timed on arrival. For tests and fuzzing of the
/// decoder.
pub async fn decode_sse_body(
    pieces: Vec<Bytes>,
    protocol: &dyn Protocol,
    count_reasoning: bool,
) -> Exchange {
    let mut ex = Exchange::new(Instant::now());
    let body =
        futures_util::stream::iter(pieces.into_iter().map(Ok::<_, std::convert::Infallible>));
    read_sse(body, protocol, &mut ex, &mut |_, _, _| {}, |e| {
        e.to_string()
    })
    .await;
    ex.check_not_empty(count_reasoning);
    ex
}
