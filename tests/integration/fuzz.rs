//! Property tests over the three readers of untrusted bytes: the SSE stream
//! decoder, the race file reader and the race YAML loader. Arbitrary input
//! never panics or hangs; a valid stream decodes the same however it is
//! split into reads. Case counts are kept small so `cargo test` stays quick;
//! `PROPTEST_CASES=10000 cargo test --test integration fuzz::` searches harder.
use crate::common;

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use llm_locust::engine::body::decode_sse_body;
use llm_locust::engine::stream::Exchange;
use proptest::prelude::*;

/// Runs a future to its end on a small runtime, failing if it hangs.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), future)
            .await
            .expect("the decoder hung")
    })
}

/// Splits `body` at the sorted, deduplicated `cuts`.
pub(crate) fn split(body: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut pieces = Vec::new();
    let mut last = 0;
    for cut in cuts {
        pieces.push(Bytes::copy_from_slice(&body[last..cut]));
        last = cut;
    }
    pieces.push(Bytes::copy_from_slice(&body[last..]));
    pieces
}

/// What a decode produced, without its times.
#[derive(Debug, PartialEq)]
pub(crate) struct Decoded {
    pub(crate) text: String,
    pub(crate) chunks: usize,
    pub(crate) first_answer: Option<usize>,
    pub(crate) usage: Option<(u32, u32)>,
    pub(crate) finish_reason: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) complete: bool,
}

pub(crate) fn decoded(ex: &Exchange) -> Decoded {
    Decoded {
        text: ex.text.clone(),
        chunks: ex.chunk_times.len(),
        first_answer: ex.first_answer,
        usage: ex.usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
        finish_reason: ex.finish_reason.clone(),
        error: ex
            .error
            .as_ref()
            .map(|e| format!("{}: {}", e.kind.name(), e.message)),
        complete: ex.complete,
    }
}

fn decode(pieces: Vec<Bytes>) -> Decoded {
    let chat = llm_locust::engine::protocol::of(llm_locust::config::EndpointKind::Chat);
    decoded(&block_on(decode_sse_body(pieces, chat, false)))
}

/// One piece of a valid stream.
#[derive(Debug, Clone)]
enum Event {
    Content(String),
    Reasoning(String),
    Tool(String),
    Role,
    Comment,
    Usage(u32, u32),
    Finish,
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

impl Event {
    fn render(&self, crlf: bool) -> String {
        let data = match self {
            Event::Content(t) => format!(
                r#"data: {{"choices":[{{"index":0,"delta":{{"content":{}}},"finish_reason":null}}]}}"#,
                json_string(t)
            ),
            Event::Reasoning(t) => format!(
                r#"data: {{"choices":[{{"delta":{{"reasoning_content":{0},"reasoning":{0}}}}}]}}"#,
                json_string(t)
            ),
            Event::Tool(t) => format!(
                r#"data: {{"choices":[{{"delta":{{"tool_calls":[{{"index":0,"function":{{"arguments":{}}}}}]}}}}]}}"#,
                json_string(t)
            ),
            Event::Role => {
                r#"data: {"choices":[{"delta":{"role":"assistant","content":""}}],"usage":null}"#
                    .to_owned()
            }
            Event::Comment => ": keep-alive".to_owned(),
            Event::Usage(p, c) => format!(
                r#"data: {{"choices":[],"usage":{{"prompt_tokens":{p},"completion_tokens":{c}}}}}"#
            ),
            Event::Finish => {
                r#"data: {"choices":[{"delta":{},"finish_reason":"stop"}]}"#.to_owned()
            }
        };
        let nl = if crlf { "\r\n" } else { "\n" };
        format!("{data}{nl}{nl}")
    }
}

pub(crate) fn text() -> impl Strategy<Value = String> {
    // Multi-byte characters, quotes, backslashes and newlines: the cuts land
    // inside UTF-8 sequences and JSON escapes.
    proptest::string::string_regex("[a-zé€🦀\"\\\\\n ]{1,8}").unwrap()
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => text().prop_map(Event::Content),
        2 => text().prop_map(Event::Reasoning),
        1 => text().prop_map(Event::Tool),
        1 => Just(Event::Role),
        1 => Just(Event::Comment),
        1 => (0u32..5000, 0u32..5000).prop_map(|(p, c)| Event::Usage(p, c)),
    ]
}

/// A valid stream: events, a finish, usage, `[DONE]` (its final blank
/// line sometimes missing, as some servers send it).
fn stream() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(event(), 0..12),
        any::<bool>(),
        any::<bool>(),
        (1u32..100, 1u32..100),
    )
        .prop_map(|(events, crlf, terminated, (p, c))| {
            let mut body = String::new();
            for e in events
                .iter()
                .chain([Event::Finish, Event::Usage(p, c)].iter())
            {
                body.push_str(&e.render(crlf));
            }
            body.push_str("data: [DONE]");
            if terminated {
                body.push_str(if crlf { "\r\n\r\n" } else { "\n\n" });
            }
            body.into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_or_hang(
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let _ = decode(split(&body, &cuts));
    }

    #[test]
    fn sse_shaped_noise_never_panics(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("data: ".to_owned()),
                Just("data: [DONE]".to_owned()),
                Just("event: error".to_owned()),
                Just(": c".to_owned()),
                Just("\n".to_owned()),
                Just("\r\n".to_owned()),
                Just(r#"{"choices":[{"delta":{"content":"x"}}]}"#.to_owned()),
                Just(r#"{"choices":null,"usage":{"completion_tokens":1e999}}"#.to_owned()),
                Just(r#"{"choices":[{"finish_reason":""}]}"#.to_owned()),
                "[ -~]{0,20}",
            ],
            0..40,
        ),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let body = lines.concat().into_bytes();
        let _ = decode(split(&body, &cuts));
    }

    #[test]
    fn a_valid_stream_decodes_the_same_however_it_is_split(
        body in stream(),
        cuts in proptest::collection::vec(any::<usize>(), 1..12),
    ) {
        let whole = decode(vec![Bytes::from(body.clone())]);
        prop_assert!(whole.error.is_none() || whole.error.as_deref().unwrap_or("").starts_with("empty_answer"), "{whole:?}");
        prop_assert!(whole.complete);
        prop_assert_eq!(decode(split(&body, &cuts)), whole);
    }
}

#[test]
fn one_stream_cut_at_every_byte_boundary_decodes_the_same() {
    let mut body = String::new();
    for e in [
        Event::Role,
        Event::Comment,
        Event::Reasoning("thinking é🦀".into()),
        Event::Content("Hello \"world\"\n".into()),
        Event::Tool("{\"city\":\"Zürich\"}".into()),
        Event::Finish,
        Event::Usage(12, 3),
    ] {
        body.push_str(&e.render(true));
    }
    body.push_str("data: [DONE]");
    let body = body.into_bytes();
    let whole = decode(vec![Bytes::from(body.clone())]);
    assert_eq!(
        whole.text,
        "thinking é🦀Hello \"world\"\n{\"city\":\"Zürich\"}"
    );
    assert_eq!((whole.chunks, whole.first_answer), (3, Some(1)));
    assert_eq!(whole.usage, Some((12, 3)));
    assert!(whole.error.is_none() && whole.complete, "{whole:?}");
    for cut in 0..=body.len() {
        assert_eq!(decode(split(&body, &[cut])), whole, "cut at byte {cut}");
    }
    // And one byte at a time.
    let bytes: Vec<Bytes> = body.iter().map(|b| Bytes::copy_from_slice(&[*b])).collect();
    assert_eq!(decode(bytes), whole);
}

/// A small real race file, made once by the binary.
fn real_race_file(dir: &Path) -> Vec<u8> {
    let race = dir.join("race.yaml");
    std::fs::write(
        &race,
        "race:\n  name: fuzz\n  countdown_s: 0\n  duration: 1.6\n  users: 2\n  engines:\n    - {name: a, max_tokens: 4, simulate: {ttft_ms: 5, tpot_ms: 1, faults: {http_500: 0.2}}}\n",
    )
    .unwrap();
    let out = dir.join("out");
    let output = common::run_bin(&[
        "race",
        race.to_str().unwrap(),
        "--no-tui",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.code().is_some(), "{output:?}");
    std::fs::read(common::race_dir(&out).join("race.llmrace")).unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn damaged_race_files_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let original = real_race_file(tmp.path());
    let (prefix, compressed) = original.split_at(10);
    let payload = gunzip(compressed);
    let whole =
        llm_locust::racefile::read(&common::race_dir(&tmp.path().join("out")).join("race.llmrace"))
            .unwrap();
    assert!(
        whole
            .events
            .iter()
            .any(|(_, e)| matches!(e, llm_locust::metrics::RaceEvent::ClientSample(_))),
        "the file has every kind of event to damage"
    );
    assert!(
        llm_locust::racefile::read(&common::race_dir(&tmp.path().join("out")).join("race.llmrace"))
            .is_ok()
    );
    let path = tmp.path().join("damaged.llmrace");
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 192,
        ..ProptestConfig::default()
    });
    let damage = (
        proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        proptest::option::of(any::<usize>()),
    );
    runner
        .run(&damage, |(flips, cut)| {
            // Damage inside the compressed stream's content, so the frames
            // (not just the gzip checksum) are what the reader meets.
            let mut damaged = payload.clone();
            for (at, byte) in flips {
                let i = at % damaged.len();
                damaged[i] = byte;
            }
            if let Some(cut) = cut {
                damaged.truncate(cut % (damaged.len() + 1));
            }
            let mut file = prefix.to_vec();
            file.extend(gzip(&damaged));
            std::fs::write(&path, &file).unwrap();
            // Either a recording that replays (its events fold without a
            // panic) or a one-line error; never a panic.
            match llm_locust::racefile::read(&path) {
                Ok(recording) => {
                    let _ = llm_locust::replay::Player::new(std::sync::Arc::new(recording))
                        .run_to_end();
                }
                Err(e) => prop_assert!(!e.to_string().contains('\n'), "{e}"),
            }
            Ok(())
        })
        .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_race_yaml_never_panics(text in "\\PC{0,400}") {
        let _ = llm_locust::config::parse_race(&text, Path::new("fuzz.yaml"));
    }

    #[test]
    fn a_mangled_race_file_is_accepted_or_rejected_never_a_panic(
        edits in proptest::collection::vec((any::<usize>(), "[ -~\\n]{0,3}"), 1..6),
    ) {
        let mut yaml = include_str!("../../races/demo.yaml").to_owned();
        for (at, insert) in edits {
            let mut i = at % (yaml.len() + 1);
            while !yaml.is_char_boundary(i) {
                i -= 1;
            }
            let end = (i + insert.len()).min(yaml.len());
            let mut end = end;
            while !yaml.is_char_boundary(end) {
                end += 1;
            }
            yaml.replace_range(i..end, &insert);
        }
        if let Err(e) = llm_locust::config::parse_race(&yaml, Path::new("fuzz.yaml")) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}
