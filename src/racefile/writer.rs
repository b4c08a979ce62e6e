//! Writes the race file as the race goes: the aggregator's sink hands each
//! event to a writer thread, which encodes, compresses and flushes it at
//! least once a second, so a crash leaves a readable file up to that moment.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use flate2::Compression;
use flate2::write::GzEncoder;

use super::format::{Encoder, Entry, FORMAT_VERSION, Header, MAGIC, scrub_spec};
use crate::config::RaceSpec;
use crate::config::secrets::scrub_url;
use crate::engine::{RaceEvent, RecordSink};

const FLUSH_EVERY: Duration = Duration::from_secs(1);

enum Message {
    Header(Box<Header>),
    Event(Duration, RaceEvent),
    Summary(String),
}

/// The aggregator's end: forwards every event to the writer thread.
pub struct RaceFileSink {
    tx: mpsc::Sender<Message>,
}

impl RecordSink for RaceFileSink {
    fn event(&mut self, at: Duration, event: &RaceEvent) {
        // If the writer failed (disk full), it says so when finished.
        let _ = self.tx.send(Message::Event(at, event.clone()));
    }
}

/// The writer thread. The file is created when the header arrives (once the
/// race has started); events that come first wait for it.
pub struct RaceFileWriter {
    tx: mpsc::Sender<Message>,
    path: PathBuf,
    thread: JoinHandle<std::io::Result<()>>,
}

impl RaceFileWriter {
    pub fn create(path: &Path) -> anyhow::Result<(RaceFileSink, RaceFileWriter)> {
        let (tx, rx) = mpsc::channel();
        let target = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("race-file".into())
            .spawn(move || write_loop(&target, &rx))
            .context("cannot start the race file writer thread")?;
        Ok((
            RaceFileSink { tx: tx.clone() },
            RaceFileWriter {
                tx,
                path: path.to_path_buf(),
                thread,
            },
        ))
    }

    /// Writes the header: the race configuration (secrets removed), the URL
    /// each engine is raced at and the wall-clock time of the start signal.
    pub fn start(
        &self,
        spec: &RaceSpec,
        engine_urls: &[String],
        started_at: SystemTime,
        stamp: &str,
    ) {
        let started_at_unix_us = started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        let header = Header {
            tool: format!("llm-locust {}", env!("CARGO_PKG_VERSION")),
            started_at_unix_us,
            stamp: stamp.to_owned(),
            race_json: serde_json::to_string(&scrub_spec(spec)).unwrap_or_default(),
            engine_urls: engine_urls.iter().map(|u| scrub_url(u)).collect(),
        };
        let _ = self.tx.send(Message::Header(Box::new(header)));
    }

    /// Appends the final summary (`summary.json`'s text) and closes the
    /// file. Call once the race has ended, so every event is already queued.
    pub fn finish(self, summary_json: Option<String>) -> anyhow::Result<PathBuf> {
        if let Some(json) = summary_json {
            let _ = self.tx.send(Message::Summary(json));
        }
        drop(self.tx);
        match self.thread.join() {
            Ok(Ok(())) => Ok(self.path),
            Ok(Err(e)) => Err(anyhow::anyhow!(
                "writing the race file '{}' failed: {e}",
                self.path.display()
            )),
            Err(_) => Err(anyhow::anyhow!("the race file writer thread panicked")),
        }
    }
}

struct Output {
    gz: GzEncoder<BufWriter<File>>,
    encoder: Encoder,
    entries: Vec<Entry>,
    frame: Vec<u8>,
    last_flush: Instant,
}

impl Output {
    fn open(path: &Path, header: Header) -> std::io::Result<Output> {
        let mut file = BufWriter::new(File::create(path)?);
        file.write_all(&MAGIC)?;
        file.write_all(&FORMAT_VERSION.to_le_bytes())?;
        let mut out = Output {
            gz: GzEncoder::new(file, Compression::default()),
            encoder: Encoder::default(),
            entries: Vec::new(),
            frame: Vec::new(),
            last_flush: Instant::now(),
        };
        out.write(&Entry::Header(header))?;
        out.gz.flush()?;
        Ok(out)
    }

    fn write(&mut self, entry: &Entry) -> std::io::Result<()> {
        let body = postcard::to_stdvec(entry).map_err(std::io::Error::other)?;
        self.frame.clear();
        let mut len = body.len();
        loop {
            let byte = u8::try_from(len & 0x7f).unwrap_or(0);
            len >>= 7;
            if len == 0 {
                self.frame.push(byte);
                break;
            }
            self.frame.push(byte | 0x80);
        }
        self.gz.write_all(&self.frame)?;
        self.gz.write_all(&body)
    }

    fn event(&mut self, at: Duration, event: &RaceEvent) -> std::io::Result<()> {
        self.entries.clear();
        self.encoder.encode(at, event, &mut self.entries);
        for entry in std::mem::take(&mut self.entries) {
            self.write(&entry)?;
        }
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    /// Compresses what is pending and hands it to the OS (a sync flush:
    /// a reader can decode everything up to here).
    fn flush(&mut self) -> std::io::Result<()> {
        self.last_flush = Instant::now();
        self.gz.flush()
    }

    fn close(self) -> std::io::Result<()> {
        let mut file = self.gz.finish()?;
        file.flush()
    }
}

fn write_loop(path: &Path, rx: &mpsc::Receiver<Message>) -> std::io::Result<()> {
    let mut early = Vec::new();
    let mut out = loop {
        match rx.recv() {
            Ok(Message::Header(header)) => break Output::open(path, *header)?,
            Ok(Message::Event(at, event)) => early.push((at, event)),
            // No race started (or only a summary): no file.
            Ok(Message::Summary(_)) => {}
            Err(mpsc::RecvError) => return Ok(()),
        }
    };
    for (at, event) in early {
        out.event(at, &event)?;
    }
    loop {
        match rx.recv_timeout(FLUSH_EVERY) {
            Ok(Message::Event(at, event)) => out.event(at, &event)?,
            Ok(Message::Summary(json)) => out.write(&Entry::Summary { json })?,
            Ok(Message::Header(_)) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => out.flush()?,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    out.close()
}
