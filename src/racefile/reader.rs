//! Reads a race file back into events. A file cut off by a crash is read up
//! to its last complete event (with a notice); a foreign, corrupted or newer
//! file is an error that names the problem.

use std::io::{BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flate2::read::GzDecoder;

use super::decode::Decoder;
use super::decode::rebuild_traces;
use super::format::{Entry, FORMAT_VERSION, Header, MAGIC, TRACES_SINCE};
use crate::config::RaceSpec;
use crate::metrics::RaceEvent;

/// Largest frame a valid file holds (a request with a few hundred thousand
/// chunks); anything larger is corruption.
const MAX_FRAME: usize = 64 << 20;
/// Longest race a file may describe.
const MAX_RACE: Duration = Duration::from_secs(31 * 24 * 3600);
/// Latest start a file may carry (the year 3000).
const MAX_STARTED_AT_US: i64 = 32_503_680_000_000_000;
/// Token times per byte of file beyond which the file is a decompression
/// bomb, not a race (real races store under one per byte).
const MAX_CHUNKS_PER_BYTE: u64 = 64;

#[derive(Debug, thiserror::Error)]
pub enum RaceFileError {
    #[error("cannot read race recording '{}': {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "'{}' is not an llm-locust race recording (it does not start with the recording's signature); give the race.llmrace file from a race's output folder",
        path.display()
    )]
    Foreign { path: PathBuf },
    #[error(
        "race recording '{}' has format version {found}, newer than this llm-locust reads (up to {FORMAT_VERSION}); upgrade llm-locust to replay it",
        path.display()
    )]
    Newer { path: PathBuf, found: u16 },
    #[error("race recording '{}' is cut off before its header ends: there is nothing to replay", path.display())]
    Truncated { path: PathBuf },
    #[error("race recording '{}' is corrupted ({reason}); it cannot be replayed", path.display())]
    Corrupted { path: PathBuf, reason: String },
}

/// A race read back from its file.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The race configuration (secrets were removed when it was written).
    pub spec: RaceSpec,
    /// The tool that wrote the file.
    pub tool: String,
    /// Wall-clock time of the start signal.
    pub started_at: SystemTime,
    /// The stamp in the names of the race's folder and CSVs.
    pub stamp: String,
    pub engine_urls: Vec<String>,
    /// Every event, with the time it was applied at, in order. Always ends
    /// with [`RaceEvent::Ended`] (added when the file was cut off).
    pub events: Vec<(Duration, RaceEvent)>,
    /// The `summary.json` the race wrote, when the file is complete.
    pub summary_json: Option<String>,
    /// Set when the file was cut off: what was read and what is missing.
    pub notice: Option<String>,
}

impl Recording {
    /// Time of the last event (the end of the race).
    #[must_use]
    pub fn length(&self) -> Duration {
        self.events.last().map_or(Duration::ZERO, |(at, _)| *at)
    }
}

/// Remembers whether the compressed stream itself ended early (a file cut
/// off while being written), as opposed to ending cleanly.
struct CutDetector<R> {
    inner: R,
    cut: bool,
}

impl<R: Read> Read for CutDetector<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let result = self.inner.read(buf);
        if let Err(e) = &result
            && e.kind() == ErrorKind::UnexpectedEof
        {
            self.cut = true;
        }
        result
    }
}

enum Frame {
    Entry(Vec<u8>),
    End,
    CutOff,
}

/// Reads one length-prefixed frame. A clean end of stream between frames is
/// `End`; an end in the middle of one (or of the compressed stream) is
/// `CutOff`.
fn read_frame(input: &mut impl Read) -> Result<Frame, String> {
    let mut len: usize = 0;
    let mut shift = 0;
    loop {
        let mut byte = [0u8; 1];
        match input.read(&mut byte) {
            Ok(0) if shift == 0 => return Ok(Frame::End),
            Ok(0) => return Ok(Frame::CutOff),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(Frame::CutOff),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.to_string()),
        }
        len |= usize::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 28 {
            return Err("a frame length is malformed".into());
        }
    }
    if len > MAX_FRAME {
        return Err(format!("a frame claims {len} bytes"));
    }
    let mut body = vec![0u8; len];
    match input.read_exact(&mut body) {
        Ok(()) => Ok(Frame::Entry(body)),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(Frame::CutOff),
        Err(e) => Err(e.to_string()),
    }
}

/// Reads a whole race file.
pub fn read(path: &Path) -> Result<Recording, RaceFileError> {
    let read_error = |source| RaceFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let file_len = file.metadata().map_err(read_error)?.len();
    let mut input = BufReader::new(file);
    let version = read_prefix(&mut input, path)?;
    let corrupted = |reason: String| RaceFileError::Corrupted {
        path: path.to_path_buf(),
        reason,
    };
    let mut stream = BufReader::new(CutDetector {
        inner: GzDecoder::new(input),
        cut: false,
    });
    let header: Header = match read_frame(&mut stream).map_err(&corrupted)? {
        Frame::Entry(bytes) => match postcard::from_bytes::<Entry>(&bytes) {
            Ok(Entry::Header(h)) => h,
            Ok(_) => return Err(corrupted("it does not begin with a header".into())),
            Err(e) => return Err(corrupted(format!("header: {e}"))),
        },
        Frame::End | Frame::CutOff => {
            return Err(RaceFileError::Truncated {
                path: path.to_path_buf(),
            });
        }
    };
    let spec: RaceSpec = super::config::from_json(&header.race_json)
        .map_err(|e| corrupted(format!("race configuration: {e}")))?;
    if spec.engines.is_empty() || spec.finish.duration > MAX_RACE || spec.finish.grace > MAX_RACE {
        return Err(corrupted(
            "the race configuration is out of range (engines, duration or grace)".into(),
        ));
    }
    let started_at = u64::try_from(header.started_at_unix_us)
        .ok()
        .filter(|_| header.started_at_unix_us <= MAX_STARTED_AT_US)
        .map(|us| UNIX_EPOCH + Duration::from_micros(us))
        .ok_or_else(|| corrupted("the start time is out of range".into()))?;
    let mut body = Body::read(&mut stream, &spec, file_len).map_err(corrupted)?;
    if version < TRACES_SINCE {
        body.events = rebuild_traces(body.events, spec.engines.len());
    }
    let ended = matches!(body.events.last(), Some((_, RaceEvent::Ended)));
    let notice = if ended && body.summary_json.is_some() && !body.cut_off {
        None
    } else {
        if !ended {
            body.events.push((body.last, RaceEvent::Ended));
        }
        Some(format!(
            "race recording '{}' ends early (its race did not finish writing it): replaying the {} events up to {:.1} s",
            path.display(),
            body.events.len() - 1,
            body.last.as_secs_f64()
        ))
    };
    Ok(Recording {
        spec,
        tool: header.tool,
        started_at,
        stamp: header.stamp,
        engine_urls: header.engine_urls,
        events: body.events,
        summary_json: body.summary_json,
        notice,
    })
}

/// Reads the signature and the format version, which it returns.
fn read_prefix(input: &mut impl Read, path: &Path) -> Result<u16, RaceFileError> {
    let mut prefix = [0u8; 10];
    let mut got = 0;
    while got < prefix.len() {
        match input.read(&mut prefix[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(RaceFileError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    let path_buf = || path.to_path_buf();
    // An empty file, or a prefix of the signature, is a file cut off at its
    // very start.
    if prefix[..got.min(8)] != MAGIC[..got.min(8)] {
        return Err(RaceFileError::Foreign { path: path_buf() });
    }
    if got < prefix.len() {
        return Err(RaceFileError::Truncated { path: path_buf() });
    }
    let version = u16::from_le_bytes([prefix[8], prefix[9]]);
    if version > FORMAT_VERSION {
        return Err(RaceFileError::Newer {
            path: path_buf(),
            found: version,
        });
    }
    if version == 0 {
        return Err(RaceFileError::Corrupted {
            path: path_buf(),
            reason: "format version 0".into(),
        });
    }
    Ok(version)
}

/// What follows a race file's header.
struct Body {
    events: Vec<(Duration, RaceEvent)>,
    summary_json: Option<String>,
    /// The compressed stream stopped short: its race did not close it.
    cut_off: bool,
    /// The time of the last event.
    last: Duration,
}

impl Body {
    /// Reads every frame after the header; an error is why it is corrupted.
    fn read(
        stream: &mut BufReader<CutDetector<GzDecoder<BufReader<std::fs::File>>>>,
        spec: &RaceSpec,
        file_len: u64,
    ) -> Result<Body, String> {
        let max_chunks = file_len.saturating_mul(MAX_CHUNKS_PER_BYTE).max(1 << 20);
        let mut chunks: u64 = 0;
        let mut decoder = Decoder::new(
            spec.engines.len(),
            spec.finish.duration.saturating_add(spec.finish.grace),
        );
        let mut body = Body {
            events: Vec::new(),
            summary_json: None,
            cut_off: false,
            last: Duration::ZERO,
        };
        let mut frames = 1u64; // the header
        loop {
            frames += 1;
            let bytes = match read_frame(stream).map_err(|e| format!("frame {frames}: {e}"))? {
                Frame::Entry(bytes) => bytes,
                Frame::End => break,
                // A frame that runs past the end of a complete stream is
                // damage, not a race that stopped writing.
                Frame::CutOff if !stream.get_ref().cut => {
                    return Err(format!("frame {frames} runs past the end of the data"));
                }
                Frame::CutOff => {
                    body.cut_off = true;
                    break;
                }
            };
            let in_frame = |e: &dyn std::fmt::Display| format!("frame {frames}: {e}");
            let entry: Entry = postcard::from_bytes(&bytes).map_err(|e| in_frame(&e))?;
            match entry {
                Entry::Prompt { id, text } => decoder.prompt(id, text).map_err(|e| in_frame(&e))?,
                Entry::Event { dt_us, event } => {
                    let (at, event) = decoder.event(dt_us, event).map_err(|e| in_frame(&e))?;
                    chunks += match &event {
                        RaceEvent::Finished(record) => record.chunk_times.len() as u64,
                        RaceEvent::Trace(_) => 1,
                        _ => 0,
                    };
                    if chunks > max_chunks {
                        return Err(in_frame(
                            &"more token times than a file of this size can hold",
                        ));
                    }
                    body.events.push((at, event));
                }
                Entry::Summary { json } => body.summary_json = Some(json),
                Entry::Header(_) => return Err(in_frame(&"a second header")),
            }
        }
        body.last = decoder.at();
        Ok(body)
    }
}
