//! Per-request CSV files, one per engine, written as requests finish by a
//! dedicated thread (so the aggregator never waits on the disk) and flushed
//! every second, so a crash or Ctrl-C keeps everything measured.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::{RaceEvent, RecordSink};
use crate::metrics::RequestRecord;

/// The original's columns, in its order; ours follow.
pub const COLUMNS: [&str; 20] = [
    "request_id",
    "timestamp",
    "user_id",
    "user_request_num",
    "input_tokens",
    "output_tokens",
    "ttft_ms",
    "tpot_ms",
    "end_to_end_s",
    "total_tokens_per_sec",
    "output_tokens_per_sec",
    "status_code",
    "input_prompt",
    "output_text",
    "error_kind",
    "input_tokens_source",
    "output_tokens_source",
    "send_delay_ms",
    "ttfot_ms",
    "error_message",
];

/// Characters of an error message a row keeps (messages never hold secrets:
/// the client removes them where the message is made).
pub const ERROR_MESSAGE_CHARS: usize = 500;

const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// `{engine}-{YYYYMMDD-HHMMSS}-{race}.csv`, as the original names them.
#[must_use]
pub fn csv_file_name(engine: &str, stamp: &str, race_slug: &str) -> String {
    format!("{engine}-{stamp}-{race_slug}.csv")
}

enum Message {
    /// The wall-clock time of the start signal, which rows are stamped from.
    Start(SystemTime),
    Record(Box<RequestRecord>),
}

/// The aggregator's end of the writer: hands records to the writer thread.
pub struct CsvSink {
    tx: mpsc::Sender<Message>,
}

impl RecordSink for CsvSink {
    fn event(&mut self, _at: Duration, event: &RaceEvent) {
        if let RaceEvent::Finished(record) = event {
            // If the writer thread died (disk error), it reports that on join.
            let _ = self.tx.send(Message::Record(record.clone()));
        }
    }
}

/// The writer thread; `finish` waits for it and returns the files written.
pub struct CsvWriter {
    tx: mpsc::Sender<Message>,
    paths: Vec<PathBuf>,
    thread: JoinHandle<std::io::Result<()>>,
}

impl CsvWriter {
    /// Creates one CSV per engine in `dir` and starts the writer thread.
    /// Rows are written once [`start`](Self::start) has given the time of
    /// the start signal (known only when the race is set up).
    pub fn create(
        dir: &Path,
        engines: &[String],
        stamp: &str,
        race_slug: &str,
    ) -> anyhow::Result<(CsvSink, CsvWriter)> {
        use anyhow::Context as _;
        let mut writers = Vec::new();
        let mut paths = Vec::new();
        for engine in engines {
            let path = dir.join(csv_file_name(engine, stamp, race_slug));
            let file = File::create(&path)
                .with_context(|| format!("cannot create '{}'", path.display()))?;
            let mut writer = csv::Writer::from_writer(BufWriter::new(file));
            writer
                .write_record(COLUMNS)
                .with_context(|| format!("cannot write '{}'", path.display()))?;
            writers.push(writer);
            paths.push(path);
        }
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("csv-writer".into())
            .spawn(move || write_loop(&rx, &mut writers))
            .context("cannot start the CSV writer thread")?;
        Ok((CsvSink { tx: tx.clone() }, CsvWriter { tx, paths, thread }))
    }

    /// `started_at` is the wall-clock time of the start signal.
    pub fn start(&self, started_at: SystemTime) {
        let _ = self.tx.send(Message::Start(started_at));
    }

    /// Waits until every record has been written (the sink must have been
    /// dropped, which happens when the race ends).
    pub fn finish(self) -> anyhow::Result<Vec<PathBuf>> {
        drop(self.tx);
        match self.thread.join() {
            Ok(Ok(())) => Ok(self.paths),
            Ok(Err(e)) => Err(anyhow::anyhow!("writing the per-request CSV failed: {e}")),
            Err(_) => Err(anyhow::anyhow!("the CSV writer thread panicked")),
        }
    }
}

fn write_loop(
    rx: &mpsc::Receiver<Message>,
    writers: &mut [csv::Writer<BufWriter<File>>],
) -> std::io::Result<()> {
    let mut early = Vec::new();
    let started_at = loop {
        match rx.recv() {
            Ok(Message::Start(at)) => break at,
            Ok(Message::Record(record)) => early.push(record),
            // No race started: the files keep their header only.
            Err(mpsc::RecvError) => return flush_all(writers),
        }
    };
    for record in early {
        write_row(writers, &record, started_at)?;
    }
    loop {
        match rx.recv_timeout(FLUSH_EVERY) {
            Ok(Message::Record(record)) => write_row(writers, &record, started_at)?,
            Ok(Message::Start(_)) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => flush_all(writers)?,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    flush_all(writers)
}

fn write_row(
    writers: &mut [csv::Writer<BufWriter<File>>],
    record: &RequestRecord,
    started_at: SystemTime,
) -> std::io::Result<()> {
    match writers.get_mut(record.engine) {
        Some(w) => Ok(w.write_record(row(record, started_at))?),
        None => Ok(()),
    }
}

fn flush_all(writers: &mut [csv::Writer<BufWriter<File>>]) -> std::io::Result<()> {
    for w in writers.iter_mut() {
        w.flush()?;
    }
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// One CSV row. `timestamp` is the scheduled start in Unix seconds.
#[must_use]
pub fn row(r: &RequestRecord, started_at: SystemTime) -> Vec<String> {
    let start = (started_at + r.scheduled_at)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let ok = r.is_ok();
    vec![
        r.request_id.to_string(),
        format!("{:.6}", start.as_secs_f64()),
        r.user_id.to_string(),
        r.user_request_num.to_string(),
        r.input_tokens.to_string(),
        r.output_tokens.to_string(),
        r.ttft().map(ms).unwrap_or_default(),
        r.tpot().map(ms).unwrap_or_default(),
        format!("{:.6}", r.e2e().as_secs_f64()),
        if ok {
            format!("{:.3}", r.total_tokens_per_s())
        } else {
            String::new()
        },
        if ok {
            format!("{:.3}", r.output_tokens_per_s())
        } else {
            String::new()
        },
        r.status.to_string(),
        r.prompt.to_string(),
        r.output_text.clone(),
        r.error
            .as_ref()
            .map(|e| e.kind.name().to_owned())
            .unwrap_or_default(),
        r.input_source.name().to_owned(),
        r.output_source.name().to_owned(),
        ms(r.send_delay()),
        r.ttfot().map(ms).unwrap_or_default(),
        r.error
            .as_ref()
            .map(|e| e.message.chars().take(ERROR_MESSAGE_CHARS).collect())
            .unwrap_or_default(),
    ]
}
