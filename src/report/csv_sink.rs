//! Per-request CSV files, one per engine, written as requests finish by a
//! dedicated thread (so the aggregator never waits on the disk) and flushed
//! every second, so a crash or Ctrl-C keeps everything measured.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::threaded::{self, EventWriter, ThreadedSink, WriterThread};
use crate::engine::{RaceEvent, RaceStart};
use crate::metrics::RequestRecord;

/// The original's columns, in its order; ours follow.
pub const COLUMNS: [&str; 23] = [
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
    "cached_tokens",
    "conversation_id",
    "turn",
];

/// Characters of an error message a row keeps (messages never hold secrets:
/// the client removes them where the message is made).
pub const ERROR_MESSAGE_CHARS: usize = 500;

/// `{engine}-{YYYYMMDD-HHMMSS}-{race}.csv`, as the original names them.
#[must_use]
pub fn csv_file_name(engine: &str, stamp: &str, race_slug: &str) -> String {
    format!("{engine}-{stamp}-{race_slug}.csv")
}

/// The aggregator's end of the CSV writer: queues finished requests.
pub type CsvSink = ThreadedSink<CsvFiles>;

/// One CSV per engine, written on the writer thread (see `engine::threaded`).
pub struct CsvFiles {
    writers: Vec<csv::Writer<BufWriter<File>>>,
    paths: Vec<PathBuf>,
    /// The wall-clock time of the start signal, which rows are stamped from.
    started_at: SystemTime,
}

impl EventWriter for CsvFiles {
    type Close = ();
    type Done = Vec<PathBuf>;

    fn wants(event: &RaceEvent) -> bool {
        matches!(event, RaceEvent::Finished(_))
    }

    fn start(&mut self, start: &RaceStart) -> std::io::Result<()> {
        self.started_at = start.started_at;
        Ok(())
    }

    fn event(&mut self, _at: Duration, event: &RaceEvent) -> std::io::Result<()> {
        if let RaceEvent::Finished(record) = event
            && let Some(w) = self.writers.get_mut(record.engine)
        {
            w.write_record(row(record, self.started_at))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        for w in &mut self.writers {
            w.flush()?;
        }
        Ok(())
    }

    /// A race that never started leaves the files with their header only.
    fn finish(mut self, _close: Option<()>, _started: bool) -> std::io::Result<Vec<PathBuf>> {
        self.flush()?;
        Ok(self.paths)
    }
}

/// The CSV writer thread; `finish` waits for it and returns the files written.
pub struct CsvWriter(WriterThread<CsvFiles>);

impl CsvWriter {
    /// Creates one CSV per engine in `dir` and starts the writer thread.
    /// Rows are stamped from the start signal's time, which the sink gets
    /// from the engine (`RecordSink::on_start`) before any request.
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
        let files = CsvFiles {
            writers,
            paths,
            started_at: UNIX_EPOCH,
        };
        let (sink, thread) =
            threaded::spawn("csv-writer", files).context("cannot start the CSV writer thread")?;
        Ok((sink, CsvWriter(thread)))
    }

    /// Waits until every record has been written (the sink must have been
    /// dropped, which happens when the race ends).
    pub fn finish(self) -> anyhow::Result<Vec<PathBuf>> {
        self.0
            .finish(None)
            .map_err(|e| anyhow::anyhow!("writing the per-request CSV failed: {e}"))
    }
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
        r.cached_tokens.map(|n| n.to_string()).unwrap_or_default(),
        r.conversation.map(|c| c.id.to_string()).unwrap_or_default(),
        r.conversation
            .map(|c| c.turn.to_string())
            .unwrap_or_default(),
    ]
}
