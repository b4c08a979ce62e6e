//! `tools`, `tool_choice` and `response_format` are written in chat's
//! shape (the one most servers take); an engine of the Responses or the
//! Messages API is sent them in its own. What is already in the API's
//! shape is left as it is, and what an API has no place for is refused
//! rather than sent to be ignored.

use serde_json::json;

#[allow(clippy::wildcard_imports)]
use super::*;

type Json = serde_json::Value;
type JsonMap = serde_json::Map<String, Json>;

/// `body` (an engine's whole body keys) in `endpoint`'s shape.
pub(super) fn in_dialect(
    body: &mut JsonMap,
    endpoint: EndpointKind,
    prefix: &str,
    p: &mut Problems,
) {
    if matches!(endpoint, EndpointKind::Chat | EndpointKind::Completions) {
        return;
    }
    if endpoint == EndpointKind::Embeddings {
        for key in ["tools", "tool_choice", "response_format"] {
            if body.contains_key(key) {
                p.add(
                    join(prefix, "endpoint"),
                    format!(
                        "an embeddings engine takes no {key}; remove race.{key}, or race this \
                         engine apart"
                    ),
                );
            }
        }
        return;
    }
    if let Some(Json::Array(tools)) = body.get_mut("tools") {
        for tool in tools.iter_mut() {
            if let Some(function) = tool.get("function").and_then(Json::as_object) {
                *tool = tool_in(endpoint, function);
            }
        }
    }
    if let Some(choice) = body.get_mut("tool_choice") {
        if let Some(converted) = choice_in(endpoint, choice) {
            *choice = converted;
        }
    }
    let Some(format) = body.remove("response_format") else {
        return;
    };
    if endpoint == EndpointKind::Anthropic {
        p.add(
            join(prefix, "endpoint"),
            "the Messages API (anthropic) has no response_format; remove race.response_format, \
             or give this engine another endpoint",
        );
    } else if body.contains_key("text") {
        p.add(
            join(prefix, "extra_body.text"),
            "the Responses API takes response_format as text.format, which extra_body sets too; \
             keep one",
        );
    } else {
        body.insert(
            "text".to_owned(),
            json!({ "format": format_in_responses(format) }),
        );
    }
}

/// A chat tool's `function` as the API declares a tool.
fn tool_in(endpoint: EndpointKind, function: &JsonMap) -> Json {
    if endpoint == EndpointKind::Anthropic {
        let mut tool = JsonMap::new();
        for key in ["name", "description"] {
            if let Some(value) = function.get(key) {
                tool.insert(key.to_owned(), value.clone());
            }
        }
        let schema = function
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        tool.insert("input_schema".to_owned(), schema);
        return Json::Object(tool);
    }
    let mut tool = function.clone();
    tool.insert("type".to_owned(), json!("function"));
    Json::Object(tool)
}

/// Chat's `tool_choice` in the API's words; `None` when it is not chat's.
fn choice_in(endpoint: EndpointKind, choice: &Json) -> Option<Json> {
    let named = choice.get("function").and_then(|f| f.get("name")).cloned();
    match (endpoint, choice.as_str(), named) {
        (EndpointKind::Anthropic, Some(word), _) => {
            let kind = if word == "required" { "any" } else { word };
            Some(json!({ "type": kind }))
        }
        (EndpointKind::Anthropic, None, Some(name)) => Some(json!({"type": "tool", "name": name})),
        (_, None, Some(name)) => Some(json!({"type": "function", "name": name})),
        _ => None,
    }
}

/// Chat's `response_format` as the Responses API's `text.format`: a JSON
/// schema's fields beside its type.
fn format_in_responses(format: Json) -> Json {
    let Json::Object(mut format) = format else {
        return format;
    };
    if let Some(Json::Object(schema)) = format.remove("json_schema") {
        format.extend(schema);
    }
    Json::Object(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn converted(endpoint: EndpointKind, body: Json) -> (Json, Vec<String>) {
        let Json::Object(mut body) = body else {
            unreachable!()
        };
        let mut p = Problems::default();
        in_dialect(&mut body, endpoint, "race.engines[0]", &mut p);
        let problems = p.0.into_iter().map(|p| p.message).collect();
        (Json::Object(body), problems)
    }

    fn chat_body() -> Json {
        json!({
            "tools": [
                {"type": "function", "function": {"name": "get_weather", "description": "d", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
                {"name": "already_anthropic", "input_schema": {"type": "object"}},
            ],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "top_p": 0.5,
        })
    }

    #[test]
    fn chat_tools_become_the_messages_apis() {
        let (body, problems) = converted(EndpointKind::Anthropic, chat_body());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            body["tools"][0],
            json!({"name": "get_weather", "description": "d", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}})
        );
        assert_eq!(body["tools"][1]["name"], "already_anthropic");
        assert_eq!(
            body["tool_choice"],
            json!({"type": "tool", "name": "get_weather"})
        );
        assert_eq!(body["top_p"], 0.5);
        let (body, _) = converted(EndpointKind::Anthropic, json!({"tool_choice": "required"}));
        assert_eq!(body["tool_choice"], json!({"type": "any"}));
        let (_, problems) = converted(
            EndpointKind::Anthropic,
            json!({"response_format": {"type": "json_object"}}),
        );
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("has no response_format"),
            "{problems:?}"
        );
    }

    #[test]
    fn chat_tools_and_formats_become_the_responses_apis() {
        let mut body = chat_body();
        body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": true}});
        let (body, problems) = converted(EndpointKind::Responses, body);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            body["tools"][0],
            json!({"type": "function", "name": "get_weather", "description": "d", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}})
        );
        assert_eq!(
            body["tool_choice"],
            json!({"type": "function", "name": "get_weather"})
        );
        assert_eq!(
            body["text"],
            json!({"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": true}})
        );
        assert!(body.get("response_format").is_none());
        let (body, _) = converted(EndpointKind::Chat, chat_body());
        assert_eq!(body, chat_body(), "chat keeps its own shape");
    }
}
