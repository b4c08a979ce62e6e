//! Property tests of the typed-event decoders, the Responses and the
//! Messages API's: a valid stream decodes the same however it is split
//! into reads (cut anywhere: inside an event, a UTF-8 sequence, a JSON
//! escape), and shaped noise never panics or hangs.
use bytes::Bytes;
use llm_locust::config::EndpointKind;
use llm_locust::engine::body::decode_sse_body;
use llm_locust::engine::protocol;
use proptest::prelude::*;

use crate::fuzz::{Decoded, block_on, decoded, split, text};

#[derive(Debug, Clone, Copy)]
enum Dialect {
    Responses,
    Anthropic,
}

impl Dialect {
    fn endpoint(self) -> EndpointKind {
        match self {
            Dialect::Responses => EndpointKind::Responses,
            Dialect::Anthropic => EndpointKind::Anthropic,
        }
    }
}

/// One piece of a valid stream.
#[derive(Debug, Clone)]
enum Event {
    Answer(String),
    Reasoning(String),
    Tool(String),
    /// An event that carries no output (an item's start, a ping).
    Quiet,
    Comment,
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn sse(name: &str, data: &str, crlf: bool) -> String {
    let nl = if crlf { "\r\n" } else { "\n" };
    format!("event: {name}{nl}data: {{\"type\":\"{name}\",{data}}}{nl}{nl}")
}

impl Event {
    fn render(&self, dialect: Dialect, crlf: bool) -> String {
        let (name, data) = match (dialect, self) {
            (_, Event::Comment) => {
                let nl = if crlf { "\r\n" } else { "\n" };
                return format!(": keep-alive{nl}{nl}");
            }
            (Dialect::Responses, Event::Answer(t)) => (
                "response.output_text.delta",
                format!(r#""item_id":"m","delta":{}"#, json_string(t)),
            ),
            (Dialect::Responses, Event::Reasoning(t)) => (
                "response.reasoning_text.delta",
                format!(r#""delta":{}"#, json_string(t)),
            ),
            (Dialect::Responses, Event::Tool(t)) => (
                "response.function_call_arguments.delta",
                format!(r#""delta":{}"#, json_string(t)),
            ),
            (Dialect::Responses, Event::Quiet) => (
                "response.output_item.added",
                r#""item":{"type":"message","content":[]}"#.to_owned(),
            ),
            (Dialect::Anthropic, Event::Answer(t)) => (
                "content_block_delta",
                format!(
                    r#""index":0,"delta":{{"type":"text_delta","text":{}}}"#,
                    json_string(t)
                ),
            ),
            (Dialect::Anthropic, Event::Reasoning(t)) => (
                "content_block_delta",
                format!(
                    r#""index":0,"delta":{{"type":"thinking_delta","thinking":{}}}"#,
                    json_string(t)
                ),
            ),
            (Dialect::Anthropic, Event::Tool(t)) => (
                "content_block_delta",
                format!(
                    r#""index":1,"delta":{{"type":"input_json_delta","partial_json":{}}}"#,
                    json_string(t)
                ),
            ),
            (Dialect::Anthropic, Event::Quiet) => ("ping", r#""x":null"#.to_owned()),
        };
        sse(name, &data, crlf)
    }
}

/// A whole valid stream of `events`, with `prompt` and `output` tokens
/// reported where the dialect reports them; its last blank line missing
/// unless `terminated`.
fn render(
    dialect: Dialect,
    events: &[Event],
    crlf: bool,
    terminated: bool,
    (prompt, output): (u32, u32),
) -> Vec<u8> {
    let mut body = String::new();
    if let Dialect::Anthropic = dialect {
        body.push_str(&sse(
            "message_start",
            &format!(
                r#""message":{{"usage":{{"input_tokens":{prompt},"cache_read_input_tokens":0,"output_tokens":1}}}}"#
            ),
            crlf,
        ));
    }
    for e in events {
        body.push_str(&e.render(dialect, crlf));
    }
    let last = match dialect {
        Dialect::Responses => sse(
            "response.completed",
            &format!(
                r#""response":{{"status":"completed","usage":{{"input_tokens":{prompt},"output_tokens":{output}}}}}"#
            ),
            crlf,
        ),
        Dialect::Anthropic => {
            body.push_str(&sse(
                "message_delta",
                &format!(
                    r#""delta":{{"stop_reason":"end_turn"}},"usage":{{"output_tokens":{output}}}"#
                ),
                crlf,
            ));
            sse("message_stop", "\"x\":1", crlf)
        }
    };
    body.push_str(if terminated { &last } else { last.trim_end() });
    body.into_bytes()
}

fn decode(dialect: Dialect, pieces: Vec<Bytes>) -> Decoded {
    decoded(&block_on(decode_sse_body(
        pieces,
        protocol::of(dialect.endpoint()),
        false,
    )))
}

fn dialect() -> impl Strategy<Value = Dialect> {
    prop_oneof![Just(Dialect::Responses), Just(Dialect::Anthropic)]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => text().prop_map(Event::Answer),
        2 => text().prop_map(Event::Reasoning),
        1 => text().prop_map(Event::Tool),
        1 => Just(Event::Quiet),
        1 => Just(Event::Comment),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn a_valid_typed_stream_decodes_the_same_however_it_is_split(
        dialect in dialect(),
        events in proptest::collection::vec(event(), 0..12),
        crlf in any::<bool>(),
        terminated in any::<bool>(),
        usage in (1u32..5000, 1u32..5000),
        cuts in proptest::collection::vec(any::<usize>(), 1..12),
    ) {
        let body = render(dialect, &events, crlf, terminated, usage);
        let whole = decode(dialect, vec![Bytes::from(body.clone())]);
        let answered = events.iter().any(|e| matches!(e, Event::Answer(_) | Event::Tool(_)));
        prop_assert_eq!(whole.error.is_none(), answered, "{:?}", whole);
        prop_assert!(whole.complete);
        prop_assert_eq!(whole.usage, Some(usage));
        prop_assert_eq!(decode(dialect, split(&body, &cuts)), whole);
    }

    #[test]
    fn typed_noise_never_panics(
        dialect in dialect(),
        lines in proptest::collection::vec(
            prop_oneof![
                Just("event: error\n".to_owned()),
                Just("event: message_stop\n".to_owned()),
                Just("data: ".to_owned()),
                Just(r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":7}}"#.to_owned()),
                Just(r#"{"type":"response.completed","response":null}"#.to_owned()),
                Just(r#"{"type":"message_start","message":{"usage":{"input_tokens":1e999}}}"#.to_owned()),
                Just(r#"{"type":"response.output_text.delta","delta":"x"}"#.to_owned()),
                Just("\n".to_owned()),
                "[ -~]{0,20}",
            ],
            0..40,
        ),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let body = lines.concat().into_bytes();
        let _ = decode(dialect, split(&body, &cuts));
    }
}

#[test]
fn one_typed_stream_cut_at_every_byte_boundary_decodes_the_same() {
    let events = [
        Event::Quiet,
        Event::Reasoning("thinking é🦀".into()),
        Event::Comment,
        Event::Answer("Hello \"world\"\n".into()),
        Event::Tool("{\"city\":\"Zürich\"}".into()),
    ];
    for dialect in [Dialect::Responses, Dialect::Anthropic] {
        let body = render(dialect, &events, true, true, (12, 3));
        let whole = decode(dialect, vec![Bytes::from(body.clone())]);
        assert_eq!(
            whole.text,
            "thinking é🦀Hello \"world\"\n{\"city\":\"Zürich\"}"
        );
        assert_eq!((whole.chunks, whole.first_answer), (3, Some(1)));
        assert_eq!(whole.usage, Some((12, 3)));
        assert!(whole.error.is_none() && whole.complete, "{whole:?}");
        for cut in 0..=body.len() {
            assert_eq!(
                decode(dialect, split(&body, &[cut])),
                whole,
                "{dialect:?} cut at byte {cut}"
            );
        }
    }
}
