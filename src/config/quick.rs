//! A race of URLs (`llm-locust race URL...`): the race file its flags
//! describe, as text. The race is validated from this text like any race
//! file, and `--write-race` saves the same text, so a quick run and the
//! file it writes are one race.

use std::fmt::Write as _;

use super::EndpointKind;

/// What the flags say about one server.
#[derive(Debug, Clone, PartialEq)]
pub struct QuickEngine {
    pub name: String,
    /// The URL as given.
    pub url: String,
    pub model: String,
    /// The model was the first of the server's list, not `--model`.
    pub discovered: bool,
    pub endpoint: Option<EndpointKind>,
    pub api_key_env: Option<String>,
}

/// What the flags say about the race.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuickRace {
    pub engines: Vec<QuickEngine>,
    pub users: Option<u32>,
    /// Requests a second per engine (open loop).
    pub rate: Option<f64>,
    pub duration_s: Option<f64>,
    pub requests: Option<u32>,
    pub dataset: Option<String>,
    pub input_tokens: Option<u32>,
    pub output_tokens: Option<u32>,
    pub seed: Option<u64>,
    /// The command that described it, for the file's first comment.
    pub command: String,
}

/// A YAML scalar for any text: a JSON string is a valid YAML one once
/// the characters YAML reads otherwise (controls JSON leaves as they are,
/// and the line breaks U+0085, U+2028, U+2029) are escaped too.
fn quoted(text: &str) -> String {
    serde_json::Value::from(text)
        .to_string()
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}') {
                format!("\\u{:04x}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The race file of `race`, commented.
#[must_use]
pub fn race_yaml(race: &QuickRace) -> String {
    let mut y = String::new();
    let _ = writeln!(y, "# The race of URLs that `{}` ran.", race.command);
    y.push_str("# Run it again with: llm-locust race <this file>\n");
    y.push_str("# (every key not set here has its default; see docs/RACE_FILE.md)\n");
    y.push_str("race:\n");
    let names: Vec<&str> = race.engines.iter().map(|e| e.name.as_str()).collect();
    let _ = writeln!(y, "  name: {}", quoted(&names.join(" vs ")));
    if let Some(seed) = race.seed {
        let _ = writeln!(y, "  seed: {seed}");
    }
    match (&race.dataset, race.input_tokens) {
        (Some(dataset), _) => {
            let _ = writeln!(y, "  dataset: {}", quoted(dataset));
        }
        (None, Some(_)) => y.push_str("  dataset: synthetic              # --input-tokens\n"),
        (None, None) => {}
    }
    if let Some(n) = race.input_tokens {
        let _ = writeln!(y, "  target_input_tokens: {n}");
    }
    if let Some(n) = race.output_tokens {
        let _ = writeln!(
            y,
            "  target_output_tokens: {n}            # max_tokens of every request"
        );
    }
    match (race.rate, race.users) {
        (Some(rate), _) => {
            let _ = writeln!(
                y,
                "  load: {{mode: constant, rate: {rate}}}   # requests a second per engine"
            );
        }
        (None, Some(users)) => {
            let _ = writeln!(y, "  users: {users}");
        }
        (None, None) => {}
    }
    if let Some(seconds) = race.duration_s {
        let _ = writeln!(y, "  duration: {seconds}");
    }
    if let Some(n) = race.requests {
        let _ = writeln!(
            y,
            "  finish: {{requests: {n}}}           # answered requests per engine"
        );
    }
    y.push_str("  engines:\n");
    for engine in &race.engines {
        push_engine(&mut y, engine);
    }
    y
}

fn push_engine(y: &mut String, engine: &QuickEngine) {
    let _ = writeln!(y, "    - name: {}", quoted(&engine.name));
    let _ = writeln!(y, "      url: {}", quoted(&engine.url));
    let from = if engine.discovered {
        "   # the first in the server's GET /v1/models"
    } else {
        ""
    };
    let _ = writeln!(y, "      model: {}{from}", quoted(&engine.model));
    if let Some(endpoint) = engine.endpoint {
        let _ = writeln!(y, "      endpoint: {}", endpoint.name());
    }
    if let Some(var) = &engine.api_key_env {
        let _ = writeln!(
            y,
            "      api_key_env: {}   # the variable's name; the key is read from it",
            quoted(var)
        );
    }
}

/// Each URL's default engine name, `host-port`, made unique with `-2`,
/// `-3`, … (names go into file names: no `:` or `/`).
#[must_use]
pub fn default_names(urls: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(urls.len());
    for raw in urls {
        let base = url::Url::parse(raw.trim())
            .ok()
            .and_then(|u| {
                let host = u.host_str()?.trim_matches(['[', ']']).replace(':', ".");
                Some(match u.port_or_known_default() {
                    Some(port) => format!("{host}-{port}"),
                    None => host,
                })
            })
            .unwrap_or_else(|| "engine".to_owned());
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_host_and_port_made_unique() {
        let urls = [
            "http://localhost:8000".to_owned(),
            "http://localhost:8000/v1".to_owned(),
            "https://api.example.com/v1/messages".to_owned(),
        ];
        assert_eq!(
            default_names(&urls),
            ["localhost-8000", "localhost-8000-2", "api.example.com-443"]
        );
    }

    #[test]
    fn any_text_stays_one_yaml_scalar() {
        for text in [
            "a\nrace: {}",
            "tab\there",
            "del\u{7f}",
            "nel\u{85}ls\u{2028}",
            "q\"b\\",
        ] {
            let yaml = format!("k: {}\n", quoted(text));
            let value: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
            assert_eq!(value["k"].as_str(), Some(text), "{yaml}");
        }
    }

    #[test]
    fn the_file_says_what_the_flags_said_and_nothing_else() {
        let race = QuickRace {
            engines: vec![QuickEngine {
                name: "localhost-8000".into(),
                url: "http://localhost:8000".into(),
                model: "sim".into(),
                discovered: true,
                endpoint: Some(EndpointKind::Anthropic),
                api_key_env: Some("KEY".into()),
            }],
            rate: Some(2.5),
            requests: Some(40),
            input_tokens: Some(200),
            command: "llm-locust race http://localhost:8000".into(),
            ..QuickRace::default()
        };
        let yaml = race_yaml(&race);
        assert!(
            yaml.starts_with(
                "# The race of URLs that `llm-locust race http://localhost:8000` ran.\n"
            )
        );
        let value: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        let r = &value["race"];
        assert_eq!(r["name"], "localhost-8000");
        assert_eq!(r["dataset"], "synthetic");
        assert_eq!(r["target_input_tokens"], 200);
        assert_eq!(r["load"]["rate"], 2.5);
        assert_eq!(r["finish"]["requests"], 40);
        assert!(r.get("users").is_none() && r.get("duration").is_none());
        let e = &r["engines"][0];
        assert_eq!(e["endpoint"], "anthropic");
        assert_eq!(e["api_key_env"], "KEY");
        assert_eq!(e["model"], "sim");
    }
}
