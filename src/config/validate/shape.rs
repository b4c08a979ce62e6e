//! What requests hold besides their prompt: the system prompt, shared
//! prefixes and conversations (`race.system_prompt`, `race.prefix`,
//! `race.conversation`), and the keys added to every JSON body
//! (`extra_body` at race and engine level, `tools`, `tool_choice`,
//! `response_format`), refusing the keys the client writes itself.

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::config::file::{
    ConversationFile, CountOrRange, HistoryFile, PrefixFile, SecondsOrMean, TextOrFile, ToolsFile,
};
use crate::config::shape::{
    ConversationSpec, History, MAX_TURNS, PrefixSpec, ShapeSpec, ThinkTime, TurnRange,
};

type Json = serde_json::Value;
type JsonMap = serde_json::Map<String, Json>;

/// Most shared-prefix groups.
const MAX_PREFIX_GROUPS: i64 = 10_000;
/// The longest think time, in seconds.
const MAX_THINK_S: f64 = 3600.0;
/// The largest system prompt or tools file read.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The race's `system_prompt`, `prefix` and `conversation`.
pub(super) fn shape_spec(
    system_prompt: Option<TextOrFile>,
    prefix: Option<PrefixFile>,
    conversation: Option<ConversationFile>,
    load: &LoadSpec,
    file: &Path,
    p: &mut Problems,
) -> ShapeSpec {
    let system_prompt = system_prompt.and_then(|s| system_text(s, file, p));
    let prefix = prefix.and_then(|f| prefix_spec(f, p));
    if prefix.is_some() && system_prompt.is_some() {
        p.add(
            "race.prefix",
            "race.system_prompt is also set, and both are the system message; keep one (a prefix \
             group's text is its system prompt)",
        );
    }
    let conversation = conversation.map(|c| conversation_spec(c, p));
    if conversation.is_some() && matches!(load, LoadSpec::Trace { .. }) {
        p.add(
            "race.conversation",
            "not with mode trace: a trace gives each request on its own; remove one",
        );
    }
    ShapeSpec {
        system_prompt,
        prefix,
        conversation,
    }
}

fn system_text(value: TextOrFile, file: &Path, p: &mut Problems) -> Option<String> {
    const PATH: &str = "race.system_prompt";
    let text = match value {
        TextOrFile::Text(text) => text,
        TextOrFile::File(f) => read_beside(&f.file, file, &format!("{PATH}.file"), p)?,
    };
    if text.trim().is_empty() {
        p.add(
            PATH,
            "empty; give the system prompt's text, or {file: path} to a file holding it",
        );
        return None;
    }
    Some(text)
}

/// A file beside the race file, read whole (a problem at `path` if not).
fn read_beside(raw: &str, file: &Path, path: &str, p: &mut Problems) -> Option<String> {
    let found = match locate(raw.trim(), file) {
        Located::File(found) => found,
        Located::Folder(dir) => {
            p.add(
                path,
                format!("'{}' is a folder; name a file", dir.display()),
            );
            return None;
        }
        Located::Missing(looked) => {
            p.add(
                path,
                format!("no such file (looked for {looked}); check the path"),
            );
            return None;
        }
    };
    let too_big = std::fs::metadata(&found).is_ok_and(|m| m.len() > MAX_FILE_BYTES);
    if too_big {
        p.add(
            path,
            format!(
                "'{}' is over {} MiB; that is not a prompt",
                found.display(),
                MAX_FILE_BYTES >> 20
            ),
        );
        return None;
    }
    match std::fs::read_to_string(&found) {
        Ok(text) => Some(text),
        Err(e) => {
            p.add(path, format!("cannot read '{}': {e}", found.display()));
            None
        }
    }
}

fn prefix_spec(f: PrefixFile, p: &mut Problems) -> Option<PrefixSpec> {
    let groups = match f.groups {
        Some(v) => whole_u32(p, "race.prefix.groups", v, 1, MAX_PREFIX_GROUPS),
        None => {
            p.add(
                "race.prefix.groups",
                "required; how many distinct shared prefixes, e.g. groups: 8",
            );
            0
        }
    };
    let tokens = match f.tokens {
        Some(v) => whole_u32(p, "race.prefix.tokens", v, 1, MAX_PROMPT_TOKENS),
        None => {
            p.add(
                "race.prefix.tokens",
                "required; each shared prefix's length in tokens, e.g. tokens: 2000",
            );
            0
        }
    };
    (groups > 0 && tokens > 0).then_some(PrefixSpec { groups, tokens })
}

fn conversation_spec(c: ConversationFile, p: &mut Problems) -> ConversationSpec {
    const PATH: &str = "race.conversation";
    let turns = c.turns.and_then(|t| turn_range(t, p));
    let think_time =
        match c.think_time_s {
            None => ThinkTime::Constant(Duration::ZERO),
            Some(SecondsOrMean::Seconds(s)) => ThinkTime::Constant(Duration::from_secs_f64(
                within(p, &format!("{PATH}.think_time_s"), s, 0.0, MAX_THINK_S),
            )),
            Some(SecondsOrMean::Mean(m)) => {
                let path = format!("{PATH}.think_time_s.mean");
                let mean = if m.mean > 0.0 {
                    within(p, &path, m.mean, 0.0, MAX_THINK_S)
                } else {
                    p.add(
                        &path,
                        format!(
                            "{} is not above 0; give the mean pause in seconds, or think_time_s: 0 \
                         for none",
                            fmt_num(m.mean)
                        ),
                    );
                    0.0
                };
                ThinkTime::Exponential(Duration::from_secs_f64(mean))
            }
        };
    let history = match c.history {
        None | Some(HistoryFile::Recorded) => History::Recorded,
        Some(HistoryFile::Own) => History::Own,
    };
    let max_context_tokens = c.max_context_tokens.map(|v| {
        whole_u32(
            p,
            &format!("{PATH}.max_context_tokens"),
            v,
            1,
            MAX_PROMPT_TOKENS,
        )
    });
    ConversationSpec {
        turns,
        think_time,
        history,
        max_context_tokens,
    }
}

fn turn_range(t: CountOrRange, p: &mut Problems) -> Option<TurnRange> {
    const PATH: &str = "race.conversation.turns";
    let most = i64::from(MAX_TURNS);
    match t {
        CountOrRange::Count(n) => {
            let n = whole_u32(p, PATH, n, 1, most);
            (n > 0).then_some(TurnRange { min: n, max: n })
        }
        CountOrRange::Range(r) => {
            let min = r
                .min
                .map_or(1, |v| whole_u32(p, &format!("{PATH}.min"), v, 1, most));
            let Some(max) = r.max else {
                p.add(
                    format!("{PATH}.max"),
                    "required; the most turns a conversation has, e.g. turns: {min: 2, max: 6}",
                );
                return None;
            };
            let max = whole_u32(p, &format!("{PATH}.max"), max, 1, most);
            if min > max && max > 0 {
                p.add(
                    format!("{PATH}.min"),
                    format!("{min} is above max ({max}); make min at most max"),
                );
                return None;
            }
            (min > 0 && max > 0).then_some(TurnRange { min, max })
        }
    }
}

/// The race-level keys added to every body: `extra_body`, then `tools`,
/// `tool_choice` and `response_format` (each of which `extra_body` may not
/// also set).
pub(super) fn race_body(
    extra_body: Option<JsonMap>,
    tools: Option<ToolsFile>,
    tool_choice: Option<Json>,
    response_format: Option<JsonMap>,
    file: &Path,
    p: &mut Problems,
) -> JsonMap {
    let mut body = extra_body.unwrap_or_default();
    check_owned_keys(&body, "race.extra_body", p);
    let mut put = |key: &'static str, value: Json, p: &mut Problems| {
        if body.contains_key(key) {
            p.add(
                format!("race.extra_body.{key}"),
                format!("race.{key} is also set; keep one"),
            );
        }
        body.insert(key.to_owned(), value);
    };
    if let Some(tools) = tools.and_then(|t| tool_list(t, file, p)) {
        put("tools", Json::Array(tools), p);
    }
    if let Some(choice) = tool_choice {
        match &choice {
            Json::String(s) if ["auto", "none", "required"].contains(&s.as_str()) => {}
            Json::Object(_) => {}
            other => p.add(
                "race.tool_choice",
                format!(
                    "{other} is not a tool choice; use auto, none, required, or {{type: function, \
                     function: {{name: ...}}}}"
                ),
            ),
        }
        put("tool_choice", choice, p);
    }
    if let Some(format) = response_format {
        if !format.contains_key("type") {
            p.add(
                "race.response_format",
                "has no 'type'; e.g. {type: json_object} or {type: json_schema, json_schema: \
                 {name: ..., schema: {...}}}",
            );
        }
        put("response_format", Json::Object(format), p);
    }
    body
}

fn tool_list(tools: ToolsFile, file: &Path, p: &mut Problems) -> Option<Vec<Json>> {
    const PATH: &str = "race.tools";
    let list = match tools {
        ToolsFile::Inline(list) => list,
        ToolsFile::File(raw) => {
            let text = read_beside(&raw, file, PATH, p)?;
            // YAML reads JSON too.
            match serde_yaml::from_str::<Vec<Json>>(&text) {
                Ok(list) => list,
                Err(e) => {
                    p.add(
                        PATH,
                        format!("'{raw}' is not a JSON or YAML list of tools: {e}"),
                    );
                    return None;
                }
            }
        }
    };
    if list.is_empty() {
        p.add(PATH, "empty; list the function definitions, or remove it");
        return None;
    }
    for (i, tool) in list.iter().enumerate() {
        let named = tool
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Json::as_str)
            .is_some_and(|n| !n.is_empty());
        if !tool.is_object() || !named {
            p.add(
                format!("{PATH}[{i}]"),
                "not a function definition; each tool is {type: function, function: {name: ..., \
                 description: ..., parameters: {...}}}",
            );
            return None;
        }
    }
    Some(list)
}

/// What to use instead of a key the client writes itself.
fn owned_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "model" => "the engine's model key sets it",
        "messages" | "prompt" | "input" | "instructions" | "system" => {
            "the prompts come from race.dataset (a system message from race.system_prompt)"
        }
        "stream" | "stream_options" => "llm-locust always streams and asks for the usage report",
        _ => return None,
    })
}

fn check_owned_keys(body: &JsonMap, path: &str, p: &mut Problems) {
    for key in body.keys() {
        if let Some(instead) = owned_key(key) {
            p.add(
                format!("{path}.{key}"),
                format!("llm-locust sets '{key}' itself; remove it ({instead})"),
            );
        }
    }
}

/// An engine's whole body keys: the race's, then its own `extra_body` (its
/// keys win). A setting the engine gives by its own key (`max_tokens`,
/// `temperature`, `ignore_eos`) may not come in `extra_body` as well.
pub(super) fn engine_body(
    race: &JsonMap,
    own: Option<JsonMap>,
    spec: &EngineSpec,
    prefix: &str,
    p: &mut Problems,
) -> JsonMap {
    let own_path = join(prefix, "extra_body");
    if let Some(own) = &own {
        check_owned_keys(own, &own_path, p);
    }
    // The Messages API requires max_tokens: llm-locust always sends it.
    let (length_key, length_set) = match spec.endpoint {
        EndpointKind::Responses => ("max_output_tokens", spec.max_tokens.is_some()),
        EndpointKind::Anthropic => ("max_tokens", true),
        EndpointKind::Chat | EndpointKind::Completions | EndpointKind::Embeddings => {
            ("max_tokens", spec.max_tokens.is_some())
        }
    };
    let set = [
        (
            length_key,
            length_set,
            "max_tokens or race.target_output_tokens",
        ),
        ("temperature", spec.temperature.is_some(), "temperature"),
        ("ignore_eos", spec.ignore_eos, "ignore_eos"),
    ];
    for (key, by_key, which) in set {
        if !by_key {
            continue;
        }
        let from = if own.as_ref().is_some_and(|o| o.contains_key(key)) {
            Some(format!("{own_path}.{key}"))
        } else if race.contains_key(key) {
            Some(format!("race.extra_body.{key}"))
        } else {
            None
        };
        if let Some(path) = from {
            p.add(
                path,
                format!(
                    "engine '{}' already sends {key} (from its {which}); remove one of the two",
                    spec.name
                ),
            );
        }
    }
    let mut body = race.clone();
    for (key, value) in own.unwrap_or_default() {
        body.insert(key, value);
    }
    body
}
