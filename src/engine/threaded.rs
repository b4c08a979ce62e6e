//! One pattern for every sink that writes files: the aggregator's end only
//! queues the event (it must never wait on a disk), and a named thread of
//! the writer's own keeps the events that come before the race's start is
//! known, writes the rest as they come, flushes at least once a second (so
//! a crash keeps everything up to a second ago), and hands its result back
//! when the race is over.

use std::io;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::event::{RaceEvent, RecordSink};

/// How often a writer flushes while events keep coming.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// What a writer thread does. It owns its files.
pub trait EventWriter: Send + 'static {
    /// What it needs before it can write (the start signal's wall-clock
    /// time, a file header); events before it are kept.
    type Start: Send + 'static;
    /// What is added at the very end (a summary), if anything.
    type Close: Send + 'static;
    /// What it returns when done (the files it wrote).
    type Done: Send + 'static;

    /// Whether the writer wants `event` at all (decided on the aggregator's
    /// side, so unwanted events never cross the channel).
    fn wants(event: &RaceEvent) -> bool;
    fn start(&mut self, start: Self::Start) -> io::Result<()>;
    fn event(&mut self, at: Duration, event: &RaceEvent) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
    /// Ends the output; `started` is false when the race never started.
    fn finish(self, close: Option<Self::Close>, started: bool) -> io::Result<Self::Done>;
}

enum Message<W: EventWriter> {
    Start(W::Start),
    // Events are cheap to clone: a finished request is shared, not copied.
    Event(Duration, RaceEvent),
    Close(W::Close),
}

/// The aggregator's end: queues the events the writer wants.
pub struct ThreadedSink<W: EventWriter> {
    tx: mpsc::Sender<Message<W>>,
}

impl<W: EventWriter> RecordSink for ThreadedSink<W> {
    fn event(&mut self, at: Duration, event: &RaceEvent) {
        if W::wants(event) {
            // A writer that failed (a full disk) says so when finished.
            let _ = self.tx.send(Message::Event(at, event.clone()));
        }
    }
}

/// The writer thread's handle.
pub struct WriterThread<W: EventWriter> {
    tx: mpsc::Sender<Message<W>>,
    thread: JoinHandle<io::Result<W::Done>>,
}

/// Starts `writer` on a thread named `name`.
pub fn spawn<W: EventWriter>(
    name: &str,
    writer: W,
) -> io::Result<(ThreadedSink<W>, WriterThread<W>)> {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || write_loop(writer, &rx))?;
    Ok((ThreadedSink { tx: tx.clone() }, WriterThread { tx, thread }))
}

impl<W: EventWriter> WriterThread<W> {
    /// Lets the writer write: what came before is written first.
    pub fn start(&self, start: W::Start) {
        let _ = self.tx.send(Message::Start(start));
    }

    /// Adds `close` (if any) and waits until everything is written. Call
    /// once the race has ended (its sinks dropped), so every event is queued.
    pub fn finish(self, close: Option<W::Close>) -> Result<W::Done, WriterError> {
        if let Some(close) = close {
            let _ = self.tx.send(Message::Close(close));
        }
        drop(self.tx);
        match self.thread.join() {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(e)) => Err(WriterError::Io(e)),
            Err(_) => Err(WriterError::Panicked),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    #[error("{0}")]
    Io(io::Error),
    #[error("its writer thread panicked")]
    Panicked,
}

fn write_loop<W: EventWriter>(
    mut writer: W,
    rx: &mpsc::Receiver<Message<W>>,
) -> io::Result<W::Done> {
    let mut early = Vec::new();
    let mut close = None;
    loop {
        match rx.recv() {
            Ok(Message::Start(start)) => {
                writer.start(start)?;
                break;
            }
            Ok(Message::Event(at, event)) => early.push((at, event)),
            Ok(Message::Close(c)) => close = Some(c),
            // No race started.
            Err(mpsc::RecvError) => return writer.finish(close, false),
        }
    }
    for (at, event) in early {
        writer.event(at, &event)?;
    }
    loop {
        match rx.recv_timeout(FLUSH_EVERY) {
            Ok(Message::Event(at, event)) => writer.event(at, &event)?,
            Ok(Message::Close(c)) => close = Some(c),
            Ok(Message::Start(_)) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => writer.flush()?,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    writer.finish(close, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps what it was given, in order.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl EventWriter for Log {
        type Start = &'static str;
        type Close = &'static str;
        type Done = Vec<String>;

        fn wants(event: &RaceEvent) -> bool {
            !matches!(event, RaceEvent::TimeLimit)
        }
        fn start(&mut self, start: &'static str) -> io::Result<()> {
            self.0.push(format!("start {start}"));
            Ok(())
        }
        fn event(&mut self, at: Duration, event: &RaceEvent) -> io::Result<()> {
            self.0.push(format!("{} {event:?}", at.as_millis()));
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn finish(mut self, close: Option<&'static str>, started: bool) -> io::Result<Vec<String>> {
            self.0.push(format!("finish {close:?} {started}"));
            Ok(self.0)
        }
    }

    #[test]
    fn events_before_the_start_wait_for_it_and_unwanted_ones_never_cross() {
        let (mut sink, thread) = spawn("test-writer", Log::default()).unwrap();
        sink.event(Duration::from_millis(1), &RaceEvent::Stopped);
        sink.event(Duration::from_millis(2), &RaceEvent::TimeLimit);
        thread.start("now");
        sink.event(Duration::from_millis(3), &RaceEvent::Ended);
        drop(sink);
        let log = thread.finish(Some("summary")).unwrap();
        assert_eq!(
            log,
            [
                "start now",
                "1 Stopped",
                "3 Ended",
                "finish Some(\"summary\") true"
            ]
        );
    }

    #[test]
    fn a_race_that_never_started_finishes_unstarted() {
        let (sink, thread) = spawn("test-writer", Log::default()).unwrap();
        drop(sink);
        assert_eq!(thread.finish(None).unwrap(), ["finish None false"]);
    }
}
