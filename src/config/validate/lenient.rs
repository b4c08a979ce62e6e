//! The lenient loader: serde stops at its first error, so each section is
//! deserialised with `serde_path_to_error`, and on an error the offending
//! key is reported in a person's words, removed, and deserialisation
//! retried. Also the words: type hints, synonyms, "did you mean".

#[allow(clippy::wildcard_imports)]
use super::*;

// ---------------------------------------------------------------------------
// Lenient deserialisation: report, remove, retry

/// Deserialises `value` as `T`, reporting each serde error (path prefixed
/// with `prefix`) and removing the offending key until the rest fits.
/// `None` when the value as a whole is unusable.
pub(super) fn lenient<T: DeserializeOwned>(
    mut value: Value,
    prefix: &str,
    p: &mut Problems,
) -> Option<T> {
    for _ in 0..MAX_ATTEMPTS {
        let err = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(t) => return Some(t),
            Err(err) => err,
        };
        let segments: Vec<Segment> = err.path().iter().cloned().collect();
        let message = err.inner().to_string();
        if let Some((Segment::Unknown, parent)) = segments.split_last() {
            // A key that is not a string (`1: x`): name each such key.
            let mapping = navigate(&value, parent).and_then(|v| untag(v).as_mapping());
            for key in mapping
                .into_iter()
                .flat_map(|m| m.keys())
                .filter(|k| !k.is_string())
            {
                let shown = match key {
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => "~".to_owned(),
                    _ => "?".to_owned(),
                };
                p.add(
                    join(&render_path(prefix, parent), &shown),
                    "keys must be words, like 'name' or 'url'; remove or rename this one",
                );
            }
        } else {
            let path = render_path(prefix, &segments);
            let got = navigate(&value, &segments);
            p.add(path, friendly(&message, got, prefix, &segments));
        }
        if !remove(&mut value, &segments) {
            return None;
        }
    }
    p.add(
        if prefix.is_empty() { "race" } else { prefix },
        "too many problems here; fix the ones above first",
    );
    None
}

pub(super) fn render_path(prefix: &str, segments: &[Segment]) -> String {
    let mut out = prefix.to_owned();
    for segment in segments {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { .. } => {}
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

pub(super) fn key_matches(key: &Value, name: &str) -> bool {
    match key {
        Value::String(s) => s == name,
        Value::Number(n) => n.to_string() == name,
        Value::Bool(b) => b.to_string() == name,
        Value::Null => name == "~" || name.is_empty(),
        _ => false,
    }
}

pub(super) fn untag(value: &Value) -> &Value {
    match value {
        Value::Tagged(t) => untag(&t.value),
        v => v,
    }
}

pub(super) fn untag_mut(value: &mut Value) -> &mut Value {
    match value {
        Value::Tagged(t) => untag_mut(&mut t.value),
        v => v,
    }
}

pub(super) fn navigate<'v>(value: &'v Value, segments: &[Segment]) -> Option<&'v Value> {
    let mut cur = value;
    for segment in segments {
        cur = match (segment, untag(cur)) {
            (Segment::Map { key }, Value::Mapping(m)) => m
                .iter()
                .find(|(k, _)| key_matches(k, key))
                .map(|(_, v)| v)?,
            (Segment::Seq { index }, Value::Sequence(s)) => s.get(*index)?,
            (Segment::Enum { .. }, _) => cur,
            _ => return None,
        };
    }
    Some(cur)
}

pub(super) fn navigate_mut<'v>(
    value: &'v mut Value,
    segments: &[Segment],
) -> Option<&'v mut Value> {
    let mut cur = value;
    for segment in segments {
        if matches!(segment, Segment::Enum { .. }) {
            continue;
        }
        cur = match (segment, untag_mut(cur)) {
            (Segment::Map { key }, Value::Mapping(m)) => m
                .iter_mut()
                .find(|(k, _)| key_matches(k, key))
                .map(|(_, v)| v)?,
            (Segment::Seq { index }, Value::Sequence(s)) => s.get_mut(*index)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Removes the value at `segments` (or, for a bad non-string key, every
/// non-string key of its mapping). `false` when nothing could be removed.
pub(super) fn remove(value: &mut Value, segments: &[Segment]) -> bool {
    let mut segments = segments;
    while let Some((Segment::Enum { .. }, rest)) = segments.split_last() {
        segments = rest;
    }
    let Some((last, parent)) = segments.split_last() else {
        return false;
    };
    let Some(parent) = navigate_mut(value, parent) else {
        return false;
    };
    match (last, untag_mut(parent)) {
        (Segment::Map { key }, Value::Mapping(m)) => {
            let found = m.keys().find(|k| key_matches(k, key)).cloned();
            found.is_some_and(|k| m.remove(&k).is_some())
        }
        (Segment::Unknown, Value::Mapping(m)) => {
            let before = m.len();
            m.retain(|k, _| matches!(k, Value::String(_)));
            m.len() < before
        }
        (Segment::Seq { index }, Value::Sequence(s)) if *index < s.len() => {
            s.remove(*index);
            true
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Friendly messages

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

/// The names between backticks in a serde message.
pub(super) fn backticked(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

pub(super) fn friendly(
    message: &str,
    got: Option<&Value>,
    prefix: &str,
    segments: &[Segment],
) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (name, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let parent = render_path(prefix, segments.split_last().map_or(&[], |(_, p)| p));
        return unknown_key(name, &backticked(tail), &parent);
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (name, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let options = backticked(tail);
        return format!(
            "unknown value '{}'; expected one of: {}{}",
            shorten(name),
            options.join(", "),
            did_you_mean(name, &options)
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default()
        );
    }
    let is_type_error =
        message.starts_with("invalid type: ") || message.starts_with("invalid value: ");
    if let (true, Some((_, expected))) = (is_type_error, message.rsplit_once(", expected ")) {
        if expected == "field identifier" {
            return "keys must be words, like 'name' or 'url'; remove this entry".to_owned();
        }
        let key = segments.iter().rev().find_map(|s| match s {
            Segment::Map { key } => Some(key.as_str()),
            _ => None,
        });
        let want = match (expected.contains("enum"), key) {
            (true, Some("mode")) => expected_phrase("enum LoadMode"),
            (true, Some("endpoint")) => expected_phrase("enum EndpointFile"),
            _ => expected_phrase(expected),
        };
        let Some(got) = got else {
            return format!("expected {want}");
        };
        let hint = type_hint(expected, got);
        return format!("expected {want}, got {}{hint}", describe(got));
    }
    message.to_owned()
}

pub(super) fn expected_phrase(expected: &str) -> String {
    match expected {
        "i8" | "i16" | "i32" | "i64" | "i128" | "u8" | "u16" | "u32" => "a whole number".to_owned(),
        "u64" | "u128" | "usize" => "a whole number >= 0".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a string" => "text".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a sequence" => "a list".to_owned(),
        "a map" => "a mapping of names to values".to_owned(),
        "enum LoadMode" => "one of: users, constant, poisson".to_owned(),
        "enum EndpointFile" => "one of: chat, completions".to_owned(),
        e if e.starts_with("struct ") => "a mapping of keys".to_owned(),
        e => e.to_owned(),
    }
}

pub(super) fn type_hint(expected: &str, got: &Value) -> &'static str {
    let wants_number = matches!(
        expected,
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "f32" | "f64"
    );
    match got {
        Value::String(s) if wants_number => match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => "; write the number without quotes",
            Ok(_) => "; that is too large",
            Err(_) => "",
        },
        Value::Number(n) if wants_number && n.is_f64() => {
            let v = n.as_f64().unwrap_or(0.0);
            if v.is_finite() && v.fract() == 0.0 && v.abs() >= 9.0e15 {
                "; that is too large"
            } else {
                "; write a whole number"
            }
        }
        Value::Number(n) if expected == "u64" && n.as_i64().is_some_and(|v| v < 0) => {
            "; it cannot be negative"
        }
        Value::Number(_) | Value::Bool(_) if expected == "a string" => "; put it in quotes",
        _ => "",
    }
}

/// Keys people write for another key.
pub(super) const SYNONYMS: [(&str, &str); 24] = [
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

/// Keys of the nested sections, for "it belongs under ..." hints.
pub(super) const SECTION_KEYS: [(&str, &[&str]); 5] = [
    ("load", &["mode", "rate", "max_in_flight"]),
    (
        "finish",
        &["duration_s", "requests", "output_tokens", "grace_s"],
    ),
    (
        "slo",
        &["ttft_p99_ms", "tpot_p99_ms", "e2e_p99_ms", "error_rate_max"],
    ),
    ("warmup", &["requests", "seconds"]),
    (
        "simulate",
        &[
            "ttft_ms",
            "tpot_ms",
            "jitter",
            "prefill_us_per_token",
            "capacity",
            "error_rate",
            "faults",
            "stall_s",
            "reasoning_tokens",
            "done_delay_ms",
            "quirks",
        ],
    ),
];

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
    for (section, keys) in SECTION_KEYS {
        let applies = match section {
            "simulate" => is_engine_level,
            _ => is_race_level,
        };
        if applies && keys.contains(&name) {
            return format!(
                "unknown key here; it belongs under '{section}:' ({parent}.{section}.{name})"
            );
        }
    }
    if is_race_level && ["url", "model", "emoji", "color", "tokenizer"].contains(&name) {
        return "unknown key here; it belongs to an engine, under 'engines:'".to_owned();
    }
    if expected.is_empty() {
        "unknown key; this section takes no keys".to_owned()
    } else {
        format!("unknown key; expected one of: {}", expected.join(", "))
    }
}
