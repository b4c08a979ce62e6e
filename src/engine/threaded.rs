//! One pattern for every sink that writes files: the aggregator's end only
//! queues the race's start and its events (it must never wait on a disk),
//! and a named thread of the writer's own writes them as they come, flushes
//! at least once a second (so a crash keeps everything up to a second ago),
//! and hands its result back when the race is over.

use std::io;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::event::{RaceEvent, RaceStart, RecordSink};

/// How often a writer flushes while events keep coming.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// What a writer thread does. It owns its files.
pub trait EventWriter: Send + 'static {
    /// What is added at the very end (a summary), if anything.
    type Close: Send + 'static;
    /// What it returns when done (the files it wrote).
    type Done: Send + 'static;

    /// Whether the writer wants `event` at all (decided on the aggregator's
    /// side, so unwanted events never cross the channel).
    fn wants(event: &RaceEvent) -> bool;
    /// The race is set up (before any event).
    fn start(&mut self, start: &RaceStart) -> io::Result<()>;
    fn event(&mut self, at: Duration, event: &RaceEvent) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
    /// Ends the output; `started` is false when the race never started.
    fn finish(self, close: Option<Self::Close>, started: bool) -> io::Result<Self::Done>;
}

enum Message<W: EventWriter> {
    Start(RaceStart),
    // Events are cheap to clone: a finished request is shared, not copied.
    Event(Duration, RaceEvent),
    Close(W::Close),
}

/// The aggregator's end: queues the events the writer wants.
pub struct ThreadedSink<W: EventWriter> {
    tx: mpsc::Sender<Message<W>>,
}

impl<W: EventWriter> RecordSink for ThreadedSink<W> {
    fn on_start(&mut self, start: &RaceStart) {
        let _ = self.tx.send(Message::Start(start.clone()));
    }

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
    let mut close = None;
    let mut started = false;
    loop {
        match rx.recv_timeout(FLUSH_EVERY) {
            Ok(Message::Start(start)) => {
                writer.start(&start)?;
                started = true;
            }
            Ok(Message::Event(at, event)) => writer.event(at, &event)?,
            Ok(Message::Close(c)) => close = Some(c),
            Err(mpsc::RecvTimeoutError::Timeout) => writer.flush()?,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    writer.finish(close, started)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps what it was given, in order.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl EventWriter for Log {
        type Close = &'static str;
        type Done = Vec<String>;

        fn wants(event: &RaceEvent) -> bool {
            !matches!(event, RaceEvent::TimeLimit)
        }
        fn start(&mut self, start: &RaceStart) -> io::Result<()> {
            self.0
                .push(format!("start {}", start.engine_urls.join(" ")));
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
    fn the_start_and_the_wanted_events_are_written_in_order() {
        let (mut sink, thread) = spawn("test-writer", Log::default()).unwrap();
        sink.on_start(&RaceStart {
            started_at: std::time::SystemTime::UNIX_EPOCH,
            engine_urls: vec!["now".into()],
        });
        sink.event(Duration::from_millis(1), &RaceEvent::Stopped);
        sink.event(Duration::from_millis(2), &RaceEvent::TimeLimit);
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
