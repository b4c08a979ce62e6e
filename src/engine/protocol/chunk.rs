//! The JSON of one streamed chunk, decoded in place.
//!
//! Decoded the usual way, with a derived `Deserialize`, each nested value
//! is built, returned and moved into its parent on every token: about a
//! fifth of the client's CPU per token went to copying those structs. The
//! structs here are filled where they lie instead: the chunk is one value
//! on the caller's stack, and each object's fields are written into it as
//! they are read. The rules are the derived ones: unknown fields are
//! skipped, `null` means absent, a field given twice is an error.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// What the decoder reads of a chunk.
#[derive(Default)]
pub(crate) struct ChunkDto<'a> {
    /// The first of `choices`, the only one a request for one answer gets;
    /// any further ones are skipped unread.
    pub choice: Option<ChoiceDto<'a>>,
    pub usage: Option<UsageDto>,
    pub error: Option<serde_json::Value>,
    /// llama.cpp's own figures beside `usage` (older builds: instead of
    /// `prompt_tokens_details`).
    pub timings: Option<TimingsDto>,
}

impl<'a> ChunkDto<'a> {
    /// Decodes one chunk's JSON into `self` (a default value), where it lies.
    pub fn read(&mut self, json: &'a str) -> serde_json::Result<()> {
        let mut de = serde_json::Deserializer::from_str(json);
        Fill(self).deserialize(&mut de)?;
        de.end()
    }
}

/// Counts as numbers of any JSON kind; anything else reads as absent.
#[derive(Deserialize)]
pub(crate) struct UsageDto {
    #[serde(default, deserialize_with = "lenient_number")]
    pub prompt_tokens: Option<f64>,
    #[serde(default, deserialize_with = "lenient_number")]
    pub completion_tokens: Option<f64>,
    /// OpenAI, vLLM, SGLang and llama.cpp: the prompt tokens served from
    /// the server's prefix cache.
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptDetailsDto>,
    /// Anthropic's name, passed through by proxies (LiteLLM).
    #[serde(default, deserialize_with = "lenient_number")]
    pub cache_read_input_tokens: Option<f64>,
}

impl UsageDto {
    /// The cached prompt tokens, in whichever shape the server wrote them.
    pub fn cached_tokens(&self) -> Option<f64> {
        self.prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .or(self.cache_read_input_tokens)
    }
}

#[derive(Deserialize)]
pub(crate) struct PromptDetailsDto {
    #[serde(default, deserialize_with = "lenient_number")]
    pub cached_tokens: Option<f64>,
}

#[derive(Deserialize)]
pub(crate) struct TimingsDto {
    /// Prompt tokens taken from the slot's cache.
    #[serde(default, deserialize_with = "lenient_number")]
    pub cache_n: Option<f64>,
}

pub(super) fn lenient_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<f64>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

#[derive(Default)]
pub(crate) struct ChoiceDto<'a> {
    pub delta: Option<DeltaDto<'a>>,
    /// `/v1/completions` streams `text` instead of a delta.
    pub text: Option<Cow<'a, str>>,
    pub finish_reason: Option<Cow<'a, str>>,
    /// Non-streaming chat answers carry a whole `message` (boxed: rare).
    pub message: Option<Box<DeltaDto<'a>>>,
}

#[derive(Default)]
pub(crate) struct DeltaDto<'a> {
    pub content: Option<Cow<'a, str>>,
    /// vLLM's reasoning parser and DeepSeek.
    pub reasoning_content: Option<Cow<'a, str>>,
    /// vLLM's newer name, and OpenRouter-style proxies.
    pub reasoning: Option<Cow<'a, str>>,
    pub tool_calls: Vec<ToolCallDto<'a>>,
    /// The legacy single function call (boxed: rare).
    pub function_call: Option<Box<FunctionDto<'a>>>,
}

#[derive(Deserialize)]
pub(crate) struct ToolCallDto<'a> {
    #[serde(default, borrow)]
    pub function: Option<FunctionDto<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct FunctionDto<'a> {
    #[serde(default, borrow)]
    pub name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub arguments: Option<Cow<'a, str>>,
}

impl DeltaDto<'_> {
    /// Reasoning text: one of the two names (a proxy sending both sends
    /// the same text twice).
    pub fn reasoning(&self) -> Option<&str> {
        [&self.reasoning_content, &self.reasoning]
            .into_iter()
            .flatten()
            .map(|c| c.as_ref())
            .find(|s| !s.is_empty())
    }

    /// Answer pieces: content, then each tool call's name and arguments.
    pub fn answer_pieces(&self) -> impl Iterator<Item = &str> {
        let functions = self
            .tool_calls
            .iter()
            .filter_map(|call| call.function.as_ref())
            .chain(self.function_call.as_deref());
        self.content.as_deref().into_iter().chain(
            functions.flat_map(|f| f.name.as_deref().into_iter().chain(f.arguments.as_deref())),
        )
    }
}

/// A JSON object read into an existing value, one field at a time.
trait FillFields<'de> {
    const NAME: &'static str;
    const FIELDS: &'static [&'static str];
    /// Reads the value of `FIELDS[field]` from `map` into `self`.
    fn fill<A: MapAccess<'de>>(&mut self, field: usize, map: &mut A) -> Result<(), A::Error>;
}

/// Reads a JSON object into the value it borrows.
struct Fill<'s, T>(&'s mut T);

impl<'de, T: FillFields<'de>> DeserializeSeed<'de> for Fill<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: FillFields<'de>> Visitor<'de> for Fill<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "struct {}", T::NAME)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = 0u32;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match T::FIELDS.iter().position(|name| *name == key) {
                Some(field) if seen & (1 << field) != 0 => {
                    return Err(A::Error::duplicate_field(T::FIELDS[field]));
                }
                Some(field) => {
                    seen |= 1 << field;
                    self.0.fill(field, &mut map)?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Reads an object or `null` (absent) into an optional value.
struct FillOption<'s, T>(&'s mut Option<T>);

impl<'de, T: FillFields<'de> + Default> DeserializeSeed<'de> for FillOption<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, T: FillFields<'de> + Default> Visitor<'de> for FillOption<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "struct {} or null", T::NAME)
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        *self.0 = None;
        Ok(())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        Fill(self.0.insert(T::default())).deserialize(deserializer)
    }
}

/// Reads the first element of a list (or `null`) into an optional value.
struct FillFirst<'s, T>(&'s mut Option<T>);

impl<'de, T: FillFields<'de> + Default> DeserializeSeed<'de> for FillFirst<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, T: FillFields<'de> + Default> Visitor<'de> for FillFirst<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of choices")
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        *self.0 = None;
        Ok(())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if seq
            .next_element_seed(Fill(self.0.insert(T::default())))?
            .is_none()
        {
            *self.0 = None;
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

impl<'de: 'a, 'a> FillFields<'de> for ChunkDto<'a> {
    const NAME: &'static str = "ChunkDto";
    const FIELDS: &'static [&'static str] = &["choices", "usage", "error", "timings"];
    fn fill<A: MapAccess<'de>>(&mut self, field: usize, map: &mut A) -> Result<(), A::Error> {
        match field {
            0 => map.next_value_seed(FillFirst(&mut self.choice)),
            1 => map.next_value().map(|v| self.usage = v),
            2 => map.next_value().map(|v| self.error = v),
            _ => map.next_value().map(|v| self.timings = v),
        }
    }
}

impl<'de: 'a, 'a> FillFields<'de> for ChoiceDto<'a> {
    const NAME: &'static str = "ChoiceDto";
    const FIELDS: &'static [&'static str] = &["delta", "text", "finish_reason", "message"];
    fn fill<A: MapAccess<'de>>(&mut self, field: usize, map: &mut A) -> Result<(), A::Error> {
        match field {
            0 => map.next_value_seed(FillOption(&mut self.delta)),
            1 => map.next_value().map(|v| self.text = v),
            2 => map.next_value().map(|v| self.finish_reason = v),
            _ => map.next_value().map(|v: Option<Whole<DeltaDto<'a>>>| {
                self.message = v.map(|w| Box::new(w.0));
            }),
        }
    }
}

impl<'de: 'a, 'a> FillFields<'de> for DeltaDto<'a> {
    const NAME: &'static str = "DeltaDto";
    const FIELDS: &'static [&'static str] = &[
        "content",
        "reasoning_content",
        "reasoning",
        "tool_calls",
        "function_call",
    ];
    fn fill<A: MapAccess<'de>>(&mut self, field: usize, map: &mut A) -> Result<(), A::Error> {
        match field {
            0 => map.next_value().map(|v| self.content = v),
            1 => map.next_value().map(|v| self.reasoning_content = v),
            2 => map.next_value().map(|v| self.reasoning = v),
            3 => map
                .next_value::<Option<Vec<ToolCallDto<'a>>>>()
                .map(|v| self.tool_calls = v.unwrap_or_default()),
            _ => map.next_value().map(|v| self.function_call = v),
        }
    }
}

/// A value read on its own, for the rare fields not worth filling in place.
struct Whole<T>(T);

impl<'de, T: FillFields<'de> + Default> Deserialize<'de> for Whole<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut value = T::default();
        Fill(&mut value).deserialize(deserializer)?;
        Ok(Whole(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> serde_json::Result<ChunkDto<'_>> {
        let mut chunk = ChunkDto::default();
        chunk.read(json).map(|()| chunk)
    }

    #[test]
    fn fields_are_filled_and_the_derived_rules_hold() {
        let chunk = read(
            r#"{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"a\"b","tool_calls":null},"finish_reason":null}],"usage":null}"#,
        )
        .unwrap_or_default();
        let choice = chunk.choice.unwrap_or_default();
        let delta = choice.delta.unwrap_or_default();
        assert_eq!(delta.content.as_deref(), Some("a\"b"));
        assert!(delta.tool_calls.is_empty());
        assert!(choice.finish_reason.is_none());
        assert!(chunk.usage.is_none());

        let twice = read(r#"{"choices":[{"delta":{"content":"a","content":"b"}}]}"#);
        assert!(twice.is_err_and(|e| e.to_string().contains("duplicate field `content`")));
        assert!(read(r#"{"choices":[null]}"#).is_err());
        assert!(read(r#"{"choices":[]} x"#).is_err());
        let message = read(r#"{"choices":[{"message":{"content":"whole"}}]}"#)
            .ok()
            .and_then(|c| c.choice?.message);
        assert_eq!(message.and_then(|m| m.content).as_deref(), Some("whole"));
    }
}
