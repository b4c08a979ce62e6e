//! Server-sent events off a response body, for the decoder in `stream`.
//!
//! eventsource-stream parses the stream. On every token's path, though, it
//! runs its line parser one character at a time over the whole event and
//! allocates strings for it: about a third of the client's CPU per token.
//! Nearly every event a model server sends has one exact shape, a single
//! `data:` line and a blank line (`data: {...}\n\n`), whose meaning the SSE
//! specification fixes: an event of type `message` whose data is the line's
//! value. [`SseEvents`] hands such an event on as its payload's bytes, and
//! only while the parser holds nothing half-read; everything else (comments,
//! `event:` and `id:` lines, data over several lines, `\r` line ends, an
//! event split across reads, a byte-order mark, invalid UTF-8) goes to one
//! eventsource-stream parser that sees all of the stream but those events.
//! A property test checks that the two give the same events for any stream
//! cut anywhere.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use eventsource_stream::{Event, EventStream, Eventsource};
use futures_util::{Stream, StreamExt};

/// One event of the stream.
#[derive(Debug)]
pub(crate) enum SseEvent {
    /// A `message` event of one `data:` line: the line's value, valid UTF-8.
    Data(Bytes),
    /// Any other event, as eventsource-stream parsed it.
    Parsed(Event),
}

impl SseEvent {
    /// The event's type (`message` unless an `event:` line named one).
    pub(crate) fn kind(&self) -> &str {
        match self {
            SseEvent::Data(_) => "message",
            SseEvent::Parsed(event) => &event.event,
        }
    }

    /// The event's data.
    pub(crate) fn data(&self) -> &str {
        match self {
            // Checked when the event was read.
            SseEvent::Data(bytes) => std::str::from_utf8(bytes).unwrap_or_default(),
            SseEvent::Parsed(event) => &event.data,
        }
    }
}

/// Why the stream could not be read.
#[derive(Debug)]
pub(crate) enum SseError<E> {
    /// The body itself failed.
    Transport(E),
    /// Not an event stream (eventsource-stream's own description).
    Invalid(String),
}

/// The pieces waiting for the parser, and whether the body has ended.
#[derive(Default)]
struct Slot {
    pieces: VecDeque<Bytes>,
    closed: bool,
}

/// The parser's input: whatever [`SseEvents`] put in the slot. Shared (the
/// parser owns its input), but only ever touched by one task.
#[derive(Clone, Default)]
struct Feed(Arc<Mutex<Slot>>);

impl Feed {
    fn with<T>(&self, f: impl FnOnce(&mut Slot) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Stream for Feed {
    type Item = Result<Bytes, Infallible>;

    // Pending without a waker is sound here: `SseEvents` polls the parser
    // only right after filling the slot, and waits on the body otherwise.
    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.with(|slot| match slot.pieces.pop_front() {
            Some(piece) => Poll::Ready(Some(Ok(piece))),
            None if slot.closed => Poll::Ready(None),
            None => Poll::Pending,
        })
    }
}

/// The events of an SSE body, each as soon as its blank line has arrived.
/// A last event the body ends without a blank line is dispatched too.
pub(crate) struct SseEvents<S> {
    body: S,
    /// Read but not yet looked at.
    pending: Bytes,
    feed: Feed,
    parser: EventStream<Feed>,
    /// The parser was given input since it last ran dry.
    parser_has_input: bool,
    /// Everything given to the parser so far ended with a blank line, so it
    /// holds nothing half-read and the next event may bypass it.
    parser_idle: bool,
    /// The start of a character cut off at the end of the parser's input.
    utf8_carry: Vec<u8>,
    /// The parser's input was not UTF-8: it gets the rest of the stream.
    invalid_utf8: bool,
    /// Nothing but the start of a byte-order mark has been read yet.
    at_start: bool,
    /// The first bytes, while they may be a byte-order mark.
    head: Vec<u8>,
    /// The body has ended.
    ended: bool,
}

/// UTF-8's byte-order mark, which the SSE specification ignores at the
/// start of a stream.
const BOM: &[u8] = b"\xef\xbb\xbf";

impl<S> SseEvents<S> {
    pub(crate) fn new(body: S) -> Self {
        // The byte-order mark is taken off here: eventsource-stream panics
        // on one (it cuts the character in two), so its first input is a
        // blank line, which dispatches nothing and starts its stream.
        let feed = Feed::default();
        feed.with(|slot| slot.pieces.push_back(Bytes::from_static(b"\n")));
        SseEvents {
            body,
            pending: Bytes::new(),
            parser: feed.clone().eventsource(),
            feed,
            parser_has_input: true,
            parser_idle: true,
            utf8_carry: Vec::new(),
            invalid_utf8: false,
            at_start: true,
            head: Vec::new(),
            ended: false,
        }
    }

    /// The first read(s) less a byte-order mark; `None` while what has
    /// arrived could still be the start of one.
    fn start_of_stream(&mut self, bytes: Bytes) -> Option<Bytes> {
        let read = if self.head.is_empty() {
            bytes
        } else {
            self.head.extend_from_slice(&bytes);
            Bytes::from(std::mem::take(&mut self.head))
        };
        if read.len() < BOM.len() && BOM.starts_with(&read) {
            self.head = read.to_vec();
            return None;
        }
        self.at_start = false;
        let rest = read.slice(if read.starts_with(BOM) { BOM.len() } else { 0 }..);
        Some(rest).filter(|rest| !rest.is_empty())
    }

    fn give_parser(&mut self, piece: Bytes) {
        self.parser_idle = self.note_utf8(&piece) && ends_with_blank_line(&piece);
        self.feed.with(|slot| slot.pieces.push_back(piece));
        self.parser_has_input = true;
    }

    /// Follows the UTF-8 of the parser's input across pieces; true when it
    /// is valid and ends on a whole character.
    fn note_utf8(&mut self, piece: &[u8]) -> bool {
        if self.invalid_utf8 {
            return false;
        }
        let joined;
        let text = if self.utf8_carry.is_empty() {
            piece
        } else {
            joined = [std::mem::take(&mut self.utf8_carry).as_slice(), piece].concat();
            &joined
        };
        match std::str::from_utf8(text) {
            Ok(_) => true,
            Err(e) if e.error_len().is_none() => {
                self.utf8_carry = text[e.valid_up_to()..].to_vec();
                false
            }
            Err(_) => {
                self.invalid_utf8 = true;
                false
            }
        }
    }
}

impl<S, E> Stream for SseEvents<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<SseEvent, SseError<E>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.parser_has_input {
                match this.parser.poll_next_unpin(cx) {
                    Poll::Ready(Some(Ok(event))) => {
                        return Poll::Ready(Some(Ok(SseEvent::Parsed(event))));
                    }
                    Poll::Ready(Some(Err(e))) => {
                        return Poll::Ready(Some(Err(SseError::Invalid(e.to_string()))));
                    }
                    Poll::Ready(None) => return Poll::Ready(None),
                    Poll::Pending => this.parser_has_input = false,
                }
            }
            if this.ended {
                return Poll::Ready(None);
            }
            if this.pending.is_empty() {
                match ready!(this.body.poll_next_unpin(cx)) {
                    Some(Ok(bytes)) if bytes.is_empty() => continue,
                    Some(Ok(bytes)) if this.at_start => match this.start_of_stream(bytes) {
                        Some(rest) => this.pending = rest,
                        None => continue,
                    },
                    Some(Ok(bytes)) => this.pending = bytes,
                    Some(Err(e)) => return Poll::Ready(Some(Err(SseError::Transport(e)))),
                    None => {
                        if !this.head.is_empty() {
                            let head = Bytes::from(std::mem::take(&mut this.head));
                            this.give_parser(head);
                        }
                        // A blank line dispatches an event the body did not
                        // end; after a complete stream it changes nothing.
                        this.ended = true;
                        if !this.parser_idle {
                            this.give_parser(Bytes::from_static(b"\n\n"));
                        }
                        this.feed.with(|slot| slot.closed = true);
                        this.parser_has_input = true;
                        continue;
                    }
                }
            }
            let cut = event_end(&this.pending).unwrap_or(this.pending.len());
            let piece = this.pending.split_to(cut);
            if this.parser_idle
                && let Some(value) = lone_data_line(&piece)
            {
                return Poll::Ready(Some(Ok(SseEvent::Data(value))));
            }
            this.give_parser(piece);
        }
    }
}

/// The value of an event that is exactly one `data:` line and a blank line
/// (`\n` line ends, no `\r`), when it is valid UTF-8.
fn lone_data_line(event: &Bytes) -> Option<Bytes> {
    let line = event.strip_prefix(b"data:")?.strip_suffix(b"\n\n")?;
    if memchr::memchr2(b'\n', b'\r', line).is_some() {
        return None;
    }
    std::str::from_utf8(line).ok()?;
    let start = event.len() - 2 - line.len() + usize::from(line.first() == Some(&b' '));
    Some(event.slice(start..event.len() - 2))
}

fn ends_with_blank_line(piece: &[u8]) -> bool {
    piece.ends_with(b"\n\n") || piece.ends_with(b"\n\r\n")
}

/// Just past the first blank line (`\n\n` or `\n\r\n`) in `bytes`.
fn event_end(bytes: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'\n', bytes).find_map(|i| match bytes.get(i + 1..) {
        Some([b'\n', ..]) => Some(i + 2),
        Some([b'\r', b'\n', ..]) => Some(i + 3),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Seen = Vec<Result<(String, String), String>>;

    async fn through_sse_events(pieces: Vec<Bytes>) -> Seen {
        let body = futures_util::stream::iter(pieces.into_iter().map(Ok::<_, Infallible>));
        SseEvents::new(body)
            .take(64)
            .map(|item| match item {
                Ok(event) => Ok((event.kind().to_owned(), event.data().to_owned())),
                Err(SseError::Invalid(e)) => Err(e),
                Err(SseError::Transport(e)) => match e {},
            })
            .collect()
            .await
    }

    /// What eventsource-stream alone makes of the same body, with the
    /// specification's byte-order mark rule applied before it (it would
    /// panic) and the blank line the decoder always adds at the end.
    async fn through_the_parser_alone(body: &[u8], cuts: &[usize]) -> Seen {
        let body = body.strip_prefix(BOM).unwrap_or(body);
        let body = futures_util::stream::iter(
            [Bytes::from_static(b"\n")]
                .into_iter()
                .chain(split(body, cuts))
                .chain([Bytes::from_static(b"\n\n")])
                .map(Ok::<_, Infallible>),
        );
        body.eventsource()
            .take(64)
            .map(|item| match item {
                Ok(event) => Ok((event.event, event.data)),
                Err(e) => Err(e.to_string()),
            })
            .collect()
            .await
    }

    fn split(body: &[u8], cuts: &[usize]) -> Vec<Bytes> {
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
        at.sort_unstable();
        let mut pieces = Vec::new();
        let mut from = 0;
        for cut in at.into_iter().chain([body.len()]) {
            pieces.push(Bytes::copy_from_slice(&body[from..cut]));
            from = cut;
        }
        pieces
    }

    fn line() -> impl Strategy<Value = String> {
        let value = "[a-zé€🦀{}\" :]{0,6}";
        prop_oneof![
            4 => value.prop_map(|v| format!("data: {v}\n")),
            1 => value.prop_map(|v| format!("data:{v}\n")),
            1 => value.prop_map(|v| format!("data: {v}\r\n")),
            1 => value.prop_map(|v| format!("data: {v}\r")),
            1 => value.prop_map(|v| format!("event: {v}\n")),
            1 => value.prop_map(|v| format!(": {v}\n")),
            1 => value.prop_map(|v| format!("id: {v}\n")),
            1 => Just("data\n".to_owned()),
            3 => Just("\n".to_owned()),
            1 => Just("\r\n".to_owned()),
            1 => Just("\u{feff}".to_owned()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn events_are_what_the_parser_alone_reads_however_the_stream_is_cut(
            lines in proptest::collection::vec(line(), 0..16),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
            garbage in proptest::option::of((any::<usize>(), 0x80u8..0xff)),
        ) {
            let mut body = lines.concat().into_bytes();
            if let Some((at, byte)) = garbage {
                let at = at % (body.len() + 1);
                body.insert(at, byte);
            }
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let ours = runtime.block_on(through_sse_events(split(&body, &cuts)));
            let theirs = runtime.block_on(through_the_parser_alone(&body, &cuts));
            prop_assert_eq!(ours, theirs);
        }
    }

    #[tokio::test]
    async fn lone_data_lines_bypass_the_parser_once_it_is_idle() {
        let body =
            b"data: a\n\ndata: {\"x\":1}\n\ndata:b\n\n: ping\n\ndata: c\n\nevent: x\ndata: d\n\n";
        let stream = futures_util::stream::iter([Ok::<_, Infallible>(Bytes::from_static(body))]);
        let kinds: Vec<(bool, String)> = SseEvents::new(stream)
            .map(|e| {
                let e = e.unwrap_or_else(|_| unreachable!());
                (matches!(e, SseEvent::Data(_)), e.data().to_owned())
            })
            .collect()
            .await;
        assert_eq!(
            kinds,
            vec![
                (true, "a".to_owned()),
                (true, "{\"x\":1}".to_owned()),
                (true, "b".to_owned()),
                (true, "c".to_owned()),
                (false, "d".to_owned()),
            ]
        );
    }

    #[tokio::test]
    async fn a_byte_order_mark_at_the_start_is_ignored_even_cut_in_two() {
        let pieces = vec![
            Bytes::from_static(b"\xef"),
            Bytes::from_static(b"\xbb\xbfdata: a\n\n\xef\xbb\xbfdata: b\n\n"),
        ];
        assert_eq!(
            through_sse_events(pieces).await,
            // A mark later on is part of a field name: that line is ignored.
            vec![Ok(("message".to_owned(), "a".to_owned()))]
        );
    }

    #[tokio::test]
    async fn a_body_that_is_only_the_start_of_a_mark_is_not_utf8() {
        for body in [&b"\xef"[..], b"\xef\xbb"] {
            let pieces = vec![Bytes::copy_from_slice(body)];
            let ours = through_sse_events(pieces).await;
            assert_eq!(ours, through_the_parser_alone(body, &[]).await);
            assert!(matches!(ours.as_slice(), [Err(e)] if e.starts_with("UTF8 error")));
        }
    }

    #[test]
    fn reads_are_cut_after_each_blank_line() {
        let mut read = &b"data: 1\n\ndata: 2\r\n\r\n: c\ndata: 3\n\ndata: 4"[..];
        let mut pieces = Vec::new();
        while !read.is_empty() {
            let (piece, rest) = read.split_at(event_end(read).unwrap_or(read.len()));
            pieces.push(piece);
            read = rest;
        }
        assert_eq!(
            pieces,
            vec![
                &b"data: 1\n\n"[..],
                b"data: 2\r\n\r\n",
                b": c\ndata: 3\n\n",
                b"data: 4",
            ]
        );
    }

    #[test]
    fn only_one_exact_shape_is_a_lone_data_line() {
        let value = |s: &'static [u8]| lone_data_line(&Bytes::from_static(s));
        assert_eq!(value(b"data: x\n\n").as_deref(), Some(&b"x"[..]));
        assert_eq!(value(b"data:  x\n\n").as_deref(), Some(&b" x"[..]));
        assert_eq!(value(b"data:\n\n").as_deref(), Some(&b""[..]));
        for other in [
            &b"data: x\r\n\r\n"[..],
            b"data: x\n",
            b"data: a\ndata: b\n\n",
            b"event: error\ndata: x\n\n",
            b": ping\n\n",
            b"data: \xff\n\n",
            b"\xef\xbb\xbfdata: x\n\n",
        ] {
            assert_eq!(value(other), None, "{other:?}");
        }
    }
}
