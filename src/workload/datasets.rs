//! Reading prompts out of dataset files: the public datasets (ShareGPT,
//! Dolly, BillSum), the samples we ship in their formats, and custom files.
//!
//! One record reader serves them all; the record's shape says what its prompt
//! is:
//! - `{"prompt": ...}`: the prompt (custom files, the demo set);
//! - `{"conversations": [{"from": "human", "value": ...}, ...]}`: ShareGPT,
//!   the first human turn;
//! - `{"instruction": ..., "context": ...}`: Dolly, the instruction followed
//!   by its context when there is one;
//! - a Parquet row with a `text` column: BillSum, the bill framed as a
//!   summarisation request (a `prompt` column is used as is).
//!
//! JSON arrays are read streaming (one record in memory at a time), so the
//! ShareGPT file (~650 MB) is never held whole.

use std::fs::File;
use std::io::{BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};

use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;

use super::WorkloadError;
use super::hub::{HubFile, RepoKind};
pub use crate::config::PublicDataset;

const SHAREGPT_SAMPLE: &[u8] = include_bytes!("../../datasets/sharegpt-sample.json");
const DOLLY_SAMPLE: &[u8] = include_bytes!("../../datasets/dolly-sample.jsonl");
const BILLSUM_SAMPLE: &[u8] = include_bytes!("../../datasets/billsum-sample.parquet");

/// How BillSum bills are turned into prompts (the original's wording).
pub const BILLSUM_INSTRUCTION: &str = "Summarize this legislative bill:";

// The dataset's identity is configuration (`config::PublicDataset`); where
// the hub keeps it and its shipped sample are the workload's.
impl PublicDataset {
    /// The file on the hub (the same files the original downloaded).
    #[must_use]
    pub fn hub_file(self) -> HubFile {
        let (repo, path) = match self {
            PublicDataset::ShareGpt => (
                "anon8231489123/ShareGPT_Vicuna_unfiltered",
                "ShareGPT_V3_unfiltered_cleaned_split.json",
            ),
            PublicDataset::Dolly => (
                "databricks/databricks-dolly-15k",
                "databricks-dolly-15k.jsonl",
            ),
            PublicDataset::BillSum => ("FiscalNote/billsum", "data/test-00000-of-00001.parquet"),
        };
        HubFile {
            kind: RepoKind::Dataset,
            repo: repo.to_owned(),
            path: path.to_owned(),
        }
    }

    /// The small sample we ship in the same format (`<name>-sample`).
    #[must_use]
    pub fn sample(self) -> (&'static [u8], Format) {
        match self {
            PublicDataset::ShareGpt => (SHAREGPT_SAMPLE, Format::JsonArray),
            PublicDataset::Dolly => (DOLLY_SAMPLE, Format::Jsonl),
            PublicDataset::BillSum => (BILLSUM_SAMPLE, Format::Parquet),
        }
    }
}

/// File formats a dataset can come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// One JSON array of objects.
    JsonArray,
    /// One prompt per line.
    Text,
    /// Apache Parquet rows.
    Parquet,
}

impl Format {
    /// The format of a file, from its extension (and first byte for `.json`).
    pub fn of_file(path: &Path) -> Result<Format, WorkloadError> {
        Ok(match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "ndjson") => Format::Jsonl,
            Some("parquet") => Format::Parquet,
            Some("json") => {
                let mut reader = BufReader::new(open(path)?);
                let first = loop {
                    let buf = reader.fill_buf().map_err(read_err(path))?;
                    match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                        Some(i) => break Some(buf[i]),
                        None if buf.is_empty() => break None,
                        None => {
                            let n = buf.len();
                            reader.consume(n);
                        }
                    }
                };
                if first == Some(b'[') {
                    Format::JsonArray
                } else {
                    Format::Jsonl
                }
            }
            _ => Format::Text,
        })
    }
}

/// Prompts read from a dataset, before selection.
#[derive(Debug, Default)]
pub struct Records {
    pub prompts: Vec<String>,
    /// Every record's conversation, when asked for ([`read_file_with`]):
    /// each human turn with the answer recorded after it (empty when none).
    pub conversations: Vec<Vec<(String, String)>>,
    /// Whether to keep [`Records::conversations`].
    pub(super) keep_turns: bool,
    /// Records that could not be read as a prompt.
    pub skipped: usize,
    /// The first problem met, for the error when nothing usable remains.
    pub first_problem: Option<String>,
}

impl Records {
    fn keeping(turns: bool) -> Records {
        Records {
            keep_turns: turns,
            ..Records::default()
        }
    }

    /// Keeps a readable record's conversation, if asked to and it has one.
    fn keep_turns_of(&mut self, value: &Value) {
        if self.keep_turns
            && let Some(turns) = turns_of(value)
        {
            self.conversations.push(turns);
        }
    }

    fn take(&mut self, prompt: Result<String, String>, at: impl FnOnce() -> String) {
        match prompt {
            Ok(p) => self.prompts.push(p),
            Err(reason) => {
                self.skipped += 1;
                if self.first_problem.is_none() {
                    self.first_problem = Some(format!("{}: {reason}", at()));
                }
            }
        }
    }

    fn finish(self, path: &Path) -> Result<Records, WorkloadError> {
        if self.prompts.is_empty() {
            return Err(WorkloadError::Empty {
                path: path.to_owned(),
                reason: self
                    .first_problem
                    .unwrap_or_else(|| "the file is empty".to_owned()),
            });
        }
        if self.skipped > 0 {
            // Said to the user once, as a note before the race (see
            // `workload::settle`); the log keeps it for RUST_LOG=debug.
            tracing::debug!(
                file = %path.display(),
                skipped = self.skipped,
                first = self.first_problem.as_deref().unwrap_or(""),
                "dataset records skipped"
            );
        }
        Ok(self)
    }
}

fn open(path: &Path) -> Result<File, WorkloadError> {
    File::open(path).map_err(read_err(path))
}

pub(super) fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> WorkloadError + '_ {
    move |source| WorkloadError::Read {
        path: path.to_owned(),
        source,
    }
}

/// Reads every prompt of a dataset file; its format comes from its name.
pub fn read_file(path: &Path) -> Result<Records, WorkloadError> {
    read_file_with(path, false)
}

/// [`read_file`], keeping each record's whole conversation too when
/// `turns` (a conversation race).
pub fn read_file_with(path: &Path, turns: bool) -> Result<Records, WorkloadError> {
    match Format::of_file(path)? {
        Format::Parquet => read_parquet(open(path)?, path),
        format => read_stream_into(
            Records::keeping(turns),
            BufReader::new(open(path)?),
            format,
            path,
        ),
    }
}

/// Reads a dataset held in memory (the shipped samples); `name` is used in
/// messages.
#[cfg(test)]
pub fn read_bytes(
    bytes: &'static [u8],
    format: Format,
    name: &str,
) -> Result<Records, WorkloadError> {
    read_bytes_with(bytes, format, name, false)
}

/// [`read_bytes`], keeping whole conversations when `turns`.
pub fn read_bytes_with(
    bytes: &'static [u8],
    format: Format,
    name: &str,
    turns: bool,
) -> Result<Records, WorkloadError> {
    let path = PathBuf::from(name);
    match format {
        Format::Parquet => read_parquet(bytes::Bytes::from_static(bytes), &path),
        format => read_stream_into(Records::keeping(turns), bytes, format, &path),
    }
}

/// Longest line a text or JSONL dataset may hold; longer ones are skipped
/// (and counted) without being held in memory.
const MAX_LINE_BYTES: u64 = 16 << 20;

/// Lines of a text or JSONL file, each bounded in size and checked for
/// UTF-8 on its own, so one bad line is one skipped record.
pub(super) struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    /// 1-based number of the line last returned.
    pub(super) number: usize,
}

impl<R: BufRead> Lines<R> {
    pub(super) fn new(reader: R) -> Self {
        Lines {
            reader,
            buf: Vec::new(),
            number: 0,
        }
    }

    /// The next line: `Ok(None)` at the end; the line, or why it is unusable.
    pub(super) fn next_line(&mut self) -> std::io::Result<Option<Result<String, String>>> {
        self.buf.clear();
        let read = (&mut self.reader)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut self.buf)?;
        if read == 0 {
            return Ok(None);
        }
        self.number += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if self.buf.len() as u64 > MAX_LINE_BYTES {
            // Skip the rest of the line, a bounded piece at a time.
            let mut rest = Vec::new();
            loop {
                rest.clear();
                let n = (&mut self.reader)
                    .take(1 << 20)
                    .read_until(b'\n', &mut rest)?;
                if n == 0 || rest.last() == Some(&b'\n') {
                    break;
                }
            }
            return Ok(Some(Err(format!(
                "the line is longer than {} MiB",
                MAX_LINE_BYTES >> 20
            ))));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(
            String::from_utf8(std::mem::take(&mut self.buf))
                .map_err(|_| "the line is not valid UTF-8 text".to_owned()),
        ))
    }
}

#[cfg(test)]
fn read_stream(
    reader: impl BufRead,
    format: Format,
    path: &Path,
) -> Result<Records, WorkloadError> {
    read_stream_into(Records::default(), reader, format, path)
}

fn read_stream_into(
    mut records: Records,
    reader: impl BufRead,
    format: Format,
    path: &Path,
) -> Result<Records, WorkloadError> {
    match format {
        Format::Text => {
            let mut lines = Lines::new(reader);
            while let Some(line) = lines.next_line().map_err(read_err(path))? {
                let n = lines.number;
                match line.map(|l| l.trim().to_owned()) {
                    Ok(l) if l.is_empty() => {}
                    prompt => records.take(prompt, || format!("line {n}")),
                }
            }
        }
        Format::Jsonl => {
            let mut lines = Lines::new(reader);
            while let Some(line) = lines.next_line().map_err(read_err(path))? {
                let n = lines.number;
                let prompt = line.and_then(|line| {
                    if line.trim().is_empty() {
                        return Ok(None);
                    }
                    serde_json::from_str::<Value>(&line)
                        .map_err(|e| not_json(&line, &e))
                        .and_then(|v| {
                            let prompt = prompt_of(&v)?;
                            records.keep_turns_of(&v);
                            Ok(prompt)
                        })
                        .map(Some)
                });
                match prompt {
                    Ok(None) => {}
                    Ok(Some(p)) => records.take(Ok(p), String::new),
                    Err(reason) => records.take(Err(reason), || format!("line {n}")),
                }
            }
        }
        Format::JsonArray => {
            let mut de = serde_json::Deserializer::from_reader(reader);
            let parsed = de
                .deserialize_seq(ArrayVisitor {
                    records: &mut records,
                })
                .and_then(|()| de.end());
            if let Err(e) = parsed {
                return Err(WorkloadError::Parse {
                    path: path.to_owned(),
                    line: e.line(),
                    reason: format!("not a JSON array of prompt records: {e}"),
                });
            }
        }
        Format::Parquet => unreachable_parquet(path)?,
    }
    records.finish(path)
}

fn unreachable_parquet(path: &Path) -> Result<(), WorkloadError> {
    Err(WorkloadError::Empty {
        path: path.to_owned(),
        reason: "a Parquet file cannot be read as text".to_owned(),
    })
}

/// Takes the records of a JSON array one at a time.
struct ArrayVisitor<'a> {
    records: &'a mut Records,
}

impl<'de> Visitor<'de> for ArrayVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        while let Some(value) = seq.next_element::<Value>()? {
            let prompt = prompt_of(&value);
            if prompt.is_ok() {
                self.records.keep_turns_of(&value);
            }
            self.records.take(prompt, || format!("item {i}"));
            i += 1;
        }
        Ok(())
    }
}

fn nonempty(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Why a line is not a record: that it is not JSON, where the parser
/// stopped, and how the line starts (a log line, a CSV row and a
/// pretty-printed object look different at a glance).
pub(super) fn not_json(line: &str, error: &serde_json::Error) -> String {
    const SHOWN: usize = 40;
    let where_ = match error.classify() {
        serde_json::error::Category::Eof => "ends mid-record".to_owned(),
        _ => format!("from column {}", error.column()),
    };
    let start: String = line.trim().chars().take(SHOWN).collect();
    let more = if line.trim().chars().count() > SHOWN {
        "…"
    } else {
        ""
    };
    format!("not JSON ({where_}): \"{start}{more}\"")
}

/// The prompt of one JSON record, or why there is none.
fn prompt_of(value: &Value) -> Result<String, String> {
    if !value.is_object() {
        return Err("not a JSON object".to_owned());
    }
    if let Some(p) = value.get("prompt") {
        return nonempty(Some(p))
            .map(str::to_owned)
            .ok_or_else(|| "'prompt' is not a non-empty string".to_owned());
    }
    if let Some(turns) = value.get("conversations") {
        let turns = turns
            .as_array()
            .ok_or_else(|| "'conversations' is not an array".to_owned())?;
        return turns
            .iter()
            .find(|t| {
                matches!(
                    t.get("from").and_then(Value::as_str),
                    Some("human" | "user")
                )
            })
            .and_then(|t| nonempty(t.get("value")))
            .map(str::to_owned)
            .ok_or_else(|| "no human turn with a non-empty 'value'".to_owned());
    }
    if let Some(instruction) = value.get("instruction") {
        let instruction = nonempty(Some(instruction))
            .ok_or_else(|| "'instruction' is not a non-empty string".to_owned())?;
        return Ok(match nonempty(value.get("context")) {
            Some(context) => format!("{instruction}\n\n{context}"),
            None => instruction.to_owned(),
        });
    }
    Err("no 'prompt', 'conversations' or 'instruction' field".to_owned())
}

/// A ShareGPT record's turns: each human message with the next assistant
/// message (empty when none follows); `None` when it has no conversation.
fn turns_of(value: &Value) -> Option<Vec<(String, String)>> {
    let mut turns: Vec<(String, String)> = Vec::new();
    for message in value.get("conversations")?.as_array()? {
        let Some(text) = nonempty(message.get("value")) else {
            continue;
        };
        match message.get("from").and_then(Value::as_str) {
            Some("human" | "user") => turns.push((text.to_owned(), String::new())),
            Some("gpt" | "assistant" | "chatgpt" | "bard" | "bing") => {
                // An answer before any question (a greeting) has no turn.
                if let Some(last) = turns.last_mut().filter(|(_, a)| a.is_empty()) {
                    last.1 = text.to_owned();
                }
            }
            _ => {}
        }
    }
    (!turns.is_empty()).then_some(turns)
}

fn read_parquet<R>(source: R, path: &Path) -> Result<Records, WorkloadError>
where
    R: parquet::file::reader::ChunkReader + 'static,
{
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    let bad = |reason: String| WorkloadError::Empty {
        path: path.to_owned(),
        reason,
    };
    let reader = SerializedFileReader::new(source)
        .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    let rows = reader
        .get_row_iter(None)
        .map_err(|e| bad(format!("cannot read its rows: {e}")))?;
    let mut records = Records::default();
    for (i, row) in rows.enumerate() {
        let prompt = match row {
            Err(e) => Err(e.to_string()),
            Ok(row) => {
                let mut prompt = None;
                let mut text = None;
                for (name, field) in row.get_column_iter() {
                    if let Field::Str(s) = field {
                        match name.as_str() {
                            "prompt" => prompt = Some(s.trim().to_owned()),
                            "text" => text = Some(s.trim().to_owned()),
                            _ => {}
                        }
                    }
                }
                match (prompt, text) {
                    (Some(p), _) if !p.is_empty() => Ok(p),
                    (_, Some(t)) if !t.is_empty() => Ok(format!("{BILLSUM_INSTRUCTION}\n\n{t}")),
                    _ => Err("no non-empty 'prompt' or 'text' column".to_owned()),
                }
            }
        };
        records.take(prompt, || format!("row {}", i + 1));
    }
    records.finish(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_line_that_is_not_utf8_is_one_skipped_record() {
        let jsonl: &[u8] =
            b"{\"prompt\": \"one\"}\n{\"prompt\": \"t\xffo\"}\r\n{\"prompt\": \"three\"}";
        let records =
            super::read_stream(jsonl, super::Format::Jsonl, std::path::Path::new("x")).unwrap();
        assert_eq!(records.prompts, ["one", "three"]);
        assert_eq!(records.skipped, 1);
        let text: &[u8] = b"alpha\n\xfe\xff\n\n  beta  \r\n";
        let records =
            super::read_stream(text, super::Format::Text, std::path::Path::new("x")).unwrap();
        assert_eq!(records.prompts, ["alpha", "beta"]);
        assert_eq!(records.skipped, 1);
        assert!(records.first_problem.unwrap().starts_with("line 2"));
    }

    use super::*;

    #[test]
    fn record_shapes_give_their_prompts() {
        let v: Value = serde_json::from_str(
            r#"{"conversations":[{"from":"gpt","value":"hi"},{"from":"human","value":" Q "},{"from":"human","value":"later"}]}"#,
        )
        .unwrap();
        assert_eq!(prompt_of(&v).unwrap(), "Q");
        let v: Value =
            serde_json::from_str(r#"{"instruction":"Sum up","context":"Some text"}"#).unwrap();
        assert_eq!(prompt_of(&v).unwrap(), "Sum up\n\nSome text");
        let v: Value = serde_json::from_str(r#"{"instruction":"Why?","context":""}"#).unwrap();
        assert_eq!(prompt_of(&v).unwrap(), "Why?");
        assert!(prompt_of(&serde_json::json!({"text": "x"})).is_err());
    }

    #[test]
    fn shipped_samples_load() {
        for d in PublicDataset::ALL {
            let (bytes, format) = d.sample();
            let records = read_bytes(bytes, format, d.name()).unwrap();
            assert!(records.prompts.len() >= 5, "{}", d.name());
        }
        let (bytes, format) = PublicDataset::BillSum.sample();
        let records = read_bytes(bytes, format, "billsum").unwrap();
        assert!(records.prompts[0].starts_with(BILLSUM_INSTRUCTION));
    }

    #[test]
    fn a_broken_json_array_names_the_line() {
        let err = read_stream(
            "[{\"prompt\":\"a\"},\n{\"prompt\": oops}]".as_bytes(),
            Format::JsonArray,
            Path::new("x.json"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("x.json") && err.contains("line 2"), "{err}");
    }
}
