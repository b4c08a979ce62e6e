//! Writes the race file as the race goes: the aggregator's sink hands each
//! event to a writer thread, which encodes, compresses and flushes it at
//! least once a second, so a crash leaves a readable file up to that moment.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::Context as _;
use flate2::Compression;
use flate2::write::GzEncoder;

use super::config;
use super::format::{Encoder, Entry, FORMAT_VERSION, Header, MAGIC};
use super::reader::Recording;
use crate::config::RaceSpec;
use crate::config::secrets::scrub_url;
use crate::engine::threaded::{self, EventWriter, FLUSH_EVERY, ThreadedSink, WriterThread};
use crate::engine::{RaceEvent, RaceStart};

/// The aggregator's end of the race file writer: queues every event.
pub type RaceFileSink = ThreadedSink<RaceFileOutput>;

/// The race file writer thread. The file is created when the header
/// arrives (once the race has started); events that come first wait for it.
pub struct RaceFileWriter {
    thread: WriterThread<RaceFileOutput>,
    path: PathBuf,
}

impl RaceFileWriter {
    /// The writer of the race file at `path` for the race `spec`, in the
    /// folder named with `stamp`. The file is created when the engine says
    /// the race has started (`RecordSink::on_start`): a race that never
    /// starts leaves none.
    pub fn create(
        path: &Path,
        spec: &RaceSpec,
        stamp: &str,
    ) -> anyhow::Result<(RaceFileSink, RaceFileWriter)> {
        let output = RaceFileOutput {
            path: path.to_path_buf(),
            race_json: config::to_json(spec),
            stamp: stamp.to_owned(),
            open: None,
        };
        let (sink, thread) = threaded::spawn("race-file", output)
            .context("cannot start the race recording's writer thread")?;
        Ok((
            sink,
            RaceFileWriter {
                thread,
                path: path.to_path_buf(),
            },
        ))
    }

    /// Appends the final summary (`summary.json`'s text) and closes the
    /// file. Call once the race has ended, so every event is already queued.
    pub fn finish(self, summary_json: Option<String>) -> anyhow::Result<PathBuf> {
        let path = self.path;
        self.thread.finish(summary_json).map_err(|e| {
            anyhow::anyhow!(
                "writing the race recording '{}' failed: {e}",
                path.display()
            )
        })?;
        Ok(path)
    }
}

/// The race file on the writer thread: created with its header.
pub struct RaceFileOutput {
    path: PathBuf,
    /// The configuration, secrets removed.
    race_json: String,
    stamp: String,
    open: Option<Output>,
}

impl EventWriter for RaceFileOutput {
    type Close = String;
    type Done = ();

    fn wants(_event: &RaceEvent) -> bool {
        true
    }

    /// Writes the header: the race configuration, the URL each engine is
    /// raced at (secrets removed) and the wall-clock time of the start signal.
    fn start(&mut self, start: &RaceStart) -> std::io::Result<()> {
        let started_at_unix_us = start
            .started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        let header = Header {
            tool: format!("llm-locust {}", env!("CARGO_PKG_VERSION")),
            started_at_unix_us,
            stamp: self.stamp.clone(),
            race_json: std::mem::take(&mut self.race_json),
            engine_urls: start.engine_urls.iter().map(|u| scrub_url(u)).collect(),
        };
        self.open = Some(Output::open(&self.path, header)?);
        Ok(())
    }

    fn event(&mut self, at: Duration, event: &RaceEvent) -> std::io::Result<()> {
        match &mut self.open {
            Some(out) => out.event(at, event),
            None => Ok(()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.open {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }

    /// No race started: no file.
    fn finish(self, summary: Option<String>, _started: bool) -> std::io::Result<()> {
        let Some(mut out) = self.open else {
            return Ok(());
        };
        if let Some(json) = summary {
            out.write(&Entry::Summary { json })?;
        }
        out.close()
    }
}

/// Writes `recording` as a race file at `path`, ending with `summary_json`:
/// what `merge` writes. Written beside it first and renamed, so a reader
/// never sees half a file.
///
/// # Errors
/// The file cannot be written (the message names it).
pub fn write_recording(
    path: &Path,
    recording: &Recording,
    summary_json: &str,
) -> anyhow::Result<()> {
    let name = path.file_name().map_or_else(
        || "race.llmrace".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let header = Header {
            tool: recording.tool.clone(),
            started_at_unix_us: recording
                .started_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
            stamp: recording.stamp.clone(),
            race_json: config::to_json(&recording.spec),
            engine_urls: recording.engine_urls.iter().map(|u| scrub_url(u)).collect(),
        };
        let mut out = Output::open(&tmp, header)?;
        for (at, event) in &recording.events {
            out.event(*at, event)?;
        }
        out.write(&Entry::Summary {
            json: summary_json.to_owned(),
        })?;
        out.close()
    };
    write().with_context(|| format!("cannot write race recording '{}'", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot write race recording '{}'", path.display()))
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
