//! The validator's words for what serde refused. What a key takes is read
//! from the section's JSON Schema, which the file types make (the same
//! schema `llm-locust schema` prints), not from serde's English: the key
//! lists, the values of an enum and the kind of value wanted all follow the
//! types, so a new key or mode needs no table here and a serde upgrade
//! cannot change the words. Serde's own message is shown only where the
//! schema cannot tell what went wrong.

#[allow(clippy::wildcard_imports)]
use super::*;

use schemars::JsonSchema;
use serde_json::Value as Json;

/// A section's JSON Schema.
pub(super) struct Shape {
    root: Json,
}

impl Shape {
    pub(super) fn of<T: JsonSchema>() -> Shape {
        Shape {
            root: schemars::schema_for!(T).to_value(),
        }
    }

    /// `schema` with references followed and an optional's `null` dropped.
    fn resolve<'s>(&'s self, mut schema: &'s Json) -> &'s Json {
        for _ in 0..16 {
            if let Some(name) = schema
                .get("$ref")
                .and_then(Json::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
            {
                match self.root.get("$defs").and_then(|d| d.get(name)) {
                    Some(def) => schema = def,
                    None => return schema,
                }
                continue;
            }
            let not_null: Vec<&Json> = schema
                .get("anyOf")
                .and_then(Json::as_array)
                .map(|options| {
                    options
                        .iter()
                        .filter(|o| o.get("type").and_then(Json::as_str) != Some("null"))
                        .collect()
                })
                .unwrap_or_default();
            match not_null.as_slice() {
                [only] => schema = only,
                _ => return schema,
            }
        }
        schema
    }

    /// The schema of the value at `segments`, if the types say.
    fn at(&self, segments: &[Segment]) -> Option<&Json> {
        let mut schema = self.resolve(&self.root);
        for segment in segments {
            schema = match segment {
                Segment::Map { key } => schema
                    .get("properties")
                    .and_then(|p| p.get(key.as_str()))
                    .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()))?,
                Segment::Seq { .. } => schema.get("items")?,
                Segment::Enum { .. } => schema,
                Segment::Unknown => return None,
            };
            schema = self.resolve(schema);
        }
        Some(schema)
    }

    /// The keys of the mapping at `segments`, in the order the type
    /// declares them; `None` when it takes any key (or is no mapping).
    fn keys_at(&self, segments: &[Segment]) -> Option<Vec<String>> {
        let schema = self.at(segments)?;
        if schema.get("additionalProperties") != Some(&Json::Bool(false)) {
            return None;
        }
        Some(keys(schema))
    }
}

fn keys(schema: &Json) -> Vec<String> {
    schema
        .get("properties")
        .and_then(Json::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The keys a section type takes.
pub(super) fn keys_of<T: JsonSchema>() -> Vec<String> {
    keys(Shape::of::<T>().resolve(&Shape::of::<T>().root))
}

/// What a key takes, in a person's words.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    OneOf(Vec<String>),
    Whole { non_negative: bool },
    Number,
    Text,
    Bool,
    List,
    Mapping,
}

fn want(schema: &Json) -> Option<Want> {
    let mut values: Vec<String> = Vec::new();
    if let Some(list) = schema.get("enum").and_then(Json::as_array) {
        values.extend(list.iter().filter_map(Json::as_str).map(str::to_owned));
    }
    for key in ["oneOf", "anyOf"] {
        for option in schema
            .get(key)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(v) = option.get("const").and_then(Json::as_str) {
                values.push(v.to_owned());
            }
            if let Some(list) = option.get("enum").and_then(Json::as_array) {
                values.extend(list.iter().filter_map(Json::as_str).map(str::to_owned));
            }
        }
    }
    if !values.is_empty() {
        return Some(Want::OneOf(values));
    }
    let kind = match schema.get("type")? {
        Json::String(t) => t.as_str(),
        Json::Array(types) => types
            .iter()
            .filter_map(Json::as_str)
            .find(|t| *t != "null")?,
        _ => return None,
    };
    Some(match kind {
        "integer" => Want::Whole {
            non_negative: schema
                .get("format")
                .and_then(Json::as_str)
                .is_some_and(|f| f.starts_with("uint"))
                || schema
                    .get("minimum")
                    .and_then(Json::as_f64)
                    .is_some_and(|m| m >= 0.0),
        },
        "number" => Want::Number,
        "string" => Want::Text,
        "boolean" => Want::Bool,
        "array" => Want::List,
        "object" => Want::Mapping,
        _ => return None,
    })
}

fn phrase(want: &Want) -> String {
    match want {
        Want::OneOf(values) => format!("one of: {}", values.join(", ")),
        Want::Whole {
            non_negative: false,
        } => "a whole number".to_owned(),
        Want::Whole { non_negative: true } => "a whole number >= 0".to_owned(),
        Want::Number => "a number".to_owned(),
        Want::Text => "text".to_owned(),
        Want::Bool => "true or false".to_owned(),
        Want::List => "a list".to_owned(),
        Want::Mapping => "a mapping".to_owned(),
    }
}

/// Why `got` is not what is wanted (a hint for the message), or `None`
/// when it is.
fn mismatch(want: &Want, got: &Value) -> Option<&'static str> {
    let number_hint = |s: &str| match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => "; write the number without quotes",
        Ok(_) => "; that is too large",
        Err(_) => "",
    };
    match (want, got) {
        (Want::Whole { non_negative }, Value::Number(n)) => {
            if n.is_f64() {
                let v = n.as_f64().unwrap_or(0.0);
                Some(if v.is_finite() && v.fract() == 0.0 && v.abs() >= 9.0e15 {
                    "; that is too large"
                } else {
                    "; write a whole number"
                })
            } else if *non_negative && n.as_i64().is_some_and(|v| v < 0) {
                Some("; it cannot be negative")
            } else if !*non_negative && n.as_i64().is_none() {
                Some("; that is too large")
            } else {
                None
            }
        }
        (Want::Whole { .. } | Want::Number, Value::String(s)) => Some(number_hint(s)),
        (Want::Number, Value::Number(_))
        | (Want::Text, Value::String(_))
        | (Want::Bool, Value::Bool(_))
        | (Want::List, Value::Sequence(_))
        | (Want::Mapping, Value::Mapping(_)) => None,
        (Want::OneOf(values), Value::String(s)) if values.contains(s) => None,
        (Want::Text, Value::Number(_) | Value::Bool(_)) => Some("; put it in quotes"),
        _ => Some(""),
    }
}

/// The message for serde's refusal of the value at `segments` (below
/// `prefix`): an unknown key, an unknown value of a set, or a value of the
/// wrong kind; serde's own `message` when the schema cannot say.
pub(super) fn friendly(
    message: &str,
    got: Option<&Value>,
    prefix: &str,
    segments: &[Segment],
    shape: &Shape,
) -> String {
    if let Some((Segment::Map { key }, parent)) = segments.split_last()
        && let Some(keys) = shape.keys_at(parent)
        && !keys.contains(key)
    {
        return unknown_key(key, &keys, &render_path(prefix, parent));
    }
    let Some(want) = shape.at(segments).and_then(want) else {
        return message.to_owned();
    };
    let Some(got) = got.map(untag) else {
        return format!("expected {}", phrase(&want));
    };
    if let (Want::OneOf(values), Value::String(name)) = (&want, got)
        && !values.contains(name)
    {
        return format!(
            "unknown value '{}'; expected one of: {}{}",
            shorten(name),
            values.join(", "),
            did_you_mean(name, values)
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default()
        );
    }
    match mismatch(&want, got) {
        Some(hint) => format!("expected {}, got {}{hint}", phrase(&want), describe(got)),
        None => message.to_owned(),
    }
}

/// Describes a YAML value for a message: scalars quoted, others by kind.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".to_owned(),
        Value::Bool(b) => format!("'{b}'"),
        Value::Number(n) => format!("'{n}'"),
        Value::String(s) => format!("'{}'", shorten(s)),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(t) => format!("a value tagged '{}'", t.tag),
    }
}

pub(super) fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

/// Keys people write for another key.
const SYNONYMS: [(&str, &str); 24] = [
    ("concurrency", "users"),
    ("concurrent_users", "users"),
    ("num_users", "users"),
    ("api_key", "api_key_env"),
    ("apikey", "api_key_env"),
    ("key", "api_key_env"),
    ("token", "api_key_env"),
    ("timeout", "timeout_s"),
    ("duration", "duration_s"),
    ("grace", "grace_s"),
    ("countdown", "countdown_s"),
    ("time", "duration"),
    ("qps", "rate"),
    ("rps", "rate"),
    ("base_url", "url"),
    ("endpoint_url", "url"),
    ("colour", "color"),
    ("ttft", "ttft_ms"),
    ("tpot", "tpot_ms"),
    ("temp", "temperature"),
    ("max_output_tokens", "max_tokens"),
    ("sim", "simulate"),
    ("simulator", "simulate"),
    ("header", "headers"),
];

/// The nested sections and their keys (from their types), for "it belongs
/// under ..." hints: race-level sections, then the engine's `simulate:`.
fn sections() -> [(&'static str, Vec<String>); 6] {
    [
        ("load", keys_of::<LoadFile>()),
        ("finish", keys_of::<FinishFile>()),
        ("slo", keys_of::<SloFile>()),
        ("warmup", keys_of::<WarmupFile>()),
        ("synthetic", keys_of::<SyntheticFile>()),
        ("simulate", keys_of::<SimulateFile>()),
    ]
}

pub(super) fn similar(a: &str, b: &str) -> f64 {
    strsim::normalized_damerau_levenshtein(&a.to_ascii_lowercase(), b)
}

/// The closest of `options` to `name`, if close enough to be a typo.
pub(super) fn did_you_mean(name: &str, options: &[impl AsRef<str>]) -> Option<String> {
    options
        .iter()
        .map(|o| (similar(name, o.as_ref()), o.as_ref()))
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, o)| o.to_owned())
}

pub(super) fn unknown_key(name: &str, expected: &[String], parent: &str) -> String {
    let synonym = SYNONYMS
        .iter()
        .filter(|(alias, target)| {
            similar(name, alias) >= 0.8 && expected.iter().any(|e| e == target)
        })
        .map(|(_, target)| (*target).to_owned())
        .next();
    if let Some(suggestion) = synonym.or_else(|| did_you_mean(name, expected)) {
        let note = if suggestion == "api_key_env" {
            " (it takes the NAME of an environment variable holding the key, never the key itself)"
        } else {
            ""
        };
        return format!("unknown key; did you mean '{suggestion}'?{note}");
    }
    let is_race_level = parent == "race";
    let is_engine_level = parent
        .strip_prefix("race.engines[")
        .is_some_and(|rest| !rest.contains('.'));
    for (section, keys) in sections() {
        let applies = match section {
            "simulate" => is_engine_level,
            _ => is_race_level,
        };
        if applies && keys.iter().any(|k| k == name) {
            return format!(
                "unknown key here; it belongs under '{section}:' ({parent}.{section}.{name})"
            );
        }
    }
    if is_race_level && keys_of::<EngineFile>().iter().any(|k| k == name) {
        return "unknown key here; it belongs to an engine, under 'engines:'".to_owned();
    }
    if expected.is_empty() {
        "unknown key; this section takes no keys".to_owned()
    } else {
        format!("unknown key; expected one of: {}", expected.join(", "))
    }
}
