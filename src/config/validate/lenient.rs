//! The lenient loader: serde stops at its first error, so each section is
//! deserialised with `serde_path_to_error`, and on an error the offending
//! key is reported in a person's words (`messages`), removed, and
//! deserialisation retried.

#[allow(clippy::wildcard_imports)]
use super::*;

// ---------------------------------------------------------------------------
// Lenient deserialisation: report, remove, retry

/// Deserialises `value` as `T`, reporting each serde error (path prefixed
/// with `prefix`) and removing the offending key until the rest fits.
/// `None` when the value as a whole is unusable.
pub(super) fn lenient<T: DeserializeOwned + schemars::JsonSchema>(
    mut value: Value,
    prefix: &str,
    p: &mut Problems,
) -> Option<T> {
    let shape = Shape::of::<T>();
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
            p.add(path, friendly(&message, got, prefix, &segments, &shape));
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
