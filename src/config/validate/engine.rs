//! One validator for each engine: name, URL and endpoint, model, colour,
//! tokenizer, API key variable, headers, limits, and the simulator's knobs.

#[allow(clippy::wildcard_imports)]
use super::*;

// ---------------------------------------------------------------------------
// Engines

/// `simulate_all` is `--simulate`: engines with a `url` are checked as
/// usual, then raced against a simulator (see [`engine_spec`]).
pub(super) fn engine_specs(
    engines: Option<Vec<Value>>,
    seed: u64,
    target_output_tokens: Option<u32>,
    simulate_all: bool,
    from_trace: bool,
    race_body: &serde_json::Map<String, serde_json::Value>,
    p: &mut Problems,
) -> Vec<EngineSpec> {
    const PATH: &str = "race.engines";
    let Some(engines) = engines else {
        p.add(
            PATH,
            "required; list 1 to 10 engines, each with name, url and model (or simulate: {} for the \
             built-in simulator)",
        );
        return Vec::new();
    };
    if engines.is_empty() {
        p.add(PATH, "empty; add at least one engine (name, url, model)");
    } else if engines.len() > MAX_ENGINES {
        p.add(
            PATH,
            format!(
                "{} engines; at most {MAX_ENGINES} can race at once, remove some",
                engines.len()
            ),
        );
    }
    let mut specs = Vec::new();
    let mut names: Vec<(String, usize)> = Vec::new();
    for (i, value) in engines.into_iter().enumerate() {
        let prefix = format!("{PATH}[{i}]");
        if value.is_null() {
            p.add(
                &prefix,
                "empty entry; give the engine's name, url and model",
            );
            continue;
        }
        let Some(mut engine) = lenient::<EngineFile>(value, &prefix, p) else {
            continue;
        };
        if from_trace && engine.max_tokens.is_some() {
            p.add(
                format!("{prefix}.max_tokens"),
                "not used with mode trace: every engine's max_tokens is the trace entry's output_length; remove it",
            );
        }
        let own_body = engine.extra_body.take();
        let mut spec = engine_spec(
            i,
            engine,
            &prefix,
            seed,
            target_output_tokens,
            simulate_all,
            p,
        );
        spec.extra_body = engine_body(race_body, own_body, &spec, &prefix, p);
        dialect::in_dialect(&mut spec.extra_body, spec.endpoint, &prefix, p);

        if !spec.name.is_empty() {
            let lower = spec.name.to_ascii_lowercase();
            if let Some((_, first)) = names.iter().find(|(n, _)| *n == lower) {
                p.add(
                    format!("{prefix}.name"),
                    format!(
                        "'{}' is already the name of {PATH}[{first}]; engine names must be unique",
                        spec.name
                    ),
                );
            } else {
                names.push((lower, i));
            }
        }
        specs.push(spec);
    }
    specs
}

/// The prefix cache of a simulator standing in for a server under
/// `--simulate`.
pub const STAND_IN_PREFIX_CACHE_TOKENS: i64 = 1_000_000;

/// One engine. With `simulate_all` (`--simulate`), an engine with a `url`
/// is validated exactly as without it (so the same files are valid and the
/// messages name the same keys), then served by a simulator with the
/// defaults `simulate: {}` gives: its URL only decides the endpoint kind,
/// and its `api_key_env` is dropped (a simulator needs no key, so none is
/// read or sent). Everything else it keeps. `simulate:` engines are
/// unchanged.
pub(super) fn engine_spec(
    index: usize,
    e: EngineFile,
    prefix: &str,
    race_seed: u64,
    target_output_tokens: Option<u32>,
    simulate_all: bool,
    p: &mut Problems,
) -> EngineSpec {
    let at = |key: &str| join(prefix, key);
    let name = engine_name(e.name.as_deref(), &at("name"), p);
    let endpoint = e.endpoint.map(|k| match k {
        EndpointFile::Chat => EndpointKind::Chat,
        EndpointFile::Completions => EndpointKind::Completions,
        EndpointFile::Responses => EndpointKind::Responses,
        EndpointFile::Anthropic => EndpointKind::Anthropic,
        EndpointFile::Embeddings => EndpointKind::Embeddings,
    });
    let simulated = e.simulate.is_some();
    let replaced = simulate_all && !simulated && e.url.is_some();
    // Each simulator its own seed, so the lanes differ in jitter.
    let seed = race_seed.wrapping_add(index as u64);
    let (target, endpoint) = match (e.url, e.simulate) {
        (Some(_), Some(_)) => {
            p.add(
                at("simulate"),
                "url is also set; an engine is either a real server (url) or simulated (simulate), \
                 remove one",
            );
            (EngineTarget::Url(String::new()), EndpointKind::Chat)
        }
        (None, None) => {
            p.add_unless_seen(
                &at("simulate"),
                at("url"),
                "required; give the server's base URL, e.g. url: http://localhost:8000 (or add \
                 simulate: {} to use the built-in simulator)",
            );
            (EngineTarget::Url(String::new()), EndpointKind::Chat)
        }
        (Some(url), None) => match normalize_url(&url, endpoint) {
            Ok((_, kind)) if replaced => (
                EngineTarget::Simulated(sim_spec(
                    // Real servers cache prompt prefixes by default (vLLM,
                    // SGLang, llama.cpp), so their stand-ins do too.
                    SimulateFile {
                        prefix_cache_tokens: Some(STAND_IN_PREFIX_CACHE_TOKENS),
                        ..SimulateFile::default()
                    },
                    &at("simulate"),
                    seed,
                    p,
                )),
                kind,
            ),
            Ok((full, kind)) => (EngineTarget::Url(full), kind),
            Err(UrlError::Url(message)) => {
                p.add(at("url"), message);
                (EngineTarget::Url(String::new()), EndpointKind::Chat)
            }
            Err(UrlError::Endpoint(message)) => {
                p.add(at("endpoint"), message);
                (EngineTarget::Url(String::new()), EndpointKind::Chat)
            }
        },
        (None, Some(sim)) => (
            EngineTarget::Simulated(sim_spec(sim, &at("simulate"), seed, p)),
            endpoint.unwrap_or(EndpointKind::Chat),
        ),
    };
    check_quirks(&target, endpoint, &at("simulate.quirks"), p);
    let model = match e.model.as_deref().map(str::trim) {
        Some("") => {
            p.add(at("model"), "empty; give the model name the server expects");
            String::new()
        }
        Some(m) => m.to_owned(),
        None if simulated => "sim".to_owned(),
        None => {
            p.add_unless_seen(
                &at("simulate"),
                at("model"),
                "required; the model name the server expects, e.g. model: meta-llama/Llama-3.2-3B-Instruct",
            );
            String::new()
        }
    };
    let color = engine_color(e.color, index, &at("color"), p);
    let tokenizer = match e.tokenizer.as_deref().map(str::trim) {
        Some("") => {
            p.add(at("tokenizer"), "empty; remove it or name a tokenizer");
            None
        }
        t => t.map(str::to_owned),
    };
    let api_key_env = e
        .api_key_env
        .and_then(|v| api_key_env(&v, &at("api_key_env"), p))
        .filter(|_| !replaced);
    let headers = e.headers.unwrap_or_default();
    for (key, value) in &headers {
        check_header(key, value, &at(&format!("headers.{key}")), p);
    }
    let max_tokens = e
        .max_tokens
        .map(|v| whole_u32(p, &at("max_tokens"), v, 1, i64::MAX))
        .or(target_output_tokens)
        .filter(|_| endpoint.generates());
    let temperature = e
        .temperature
        .map(|v| within(p, &at("temperature"), v, 0.0, 2.0));
    let timeout = secs_opt(p, &at("timeout_s"), e.timeout_s, false, DEFAULT_TIMEOUT);
    let pricing = pricing(e.cost_per_hour, e.price, &at, p);
    let generation = [
        ("max_tokens", e.max_tokens.is_some()),
        ("temperature", e.temperature.is_some()),
        ("ignore_eos", e.ignore_eos.is_some()),
        ("count_reasoning", e.count_reasoning.is_some()),
    ];
    let inputs_per_request = embedding_keys(e.inputs_per_request, generation, endpoint, &at, p);
    EngineSpec {
        name,
        model,
        emoji: e.emoji.unwrap_or_else(|| DEFAULT_EMOJI.to_owned()),
        color,
        tokenizer,
        target,
        endpoint,
        api_key_env,
        headers,
        max_tokens,
        temperature,
        ignore_eos: e.ignore_eos.unwrap_or(false),
        count_reasoning: e.count_reasoning.unwrap_or(false),
        inputs_per_request,
        timeout,
        pricing,
        reuse_connections: e.reuse_connections.unwrap_or_default(),
        server_metrics: server_metrics(e.server_metrics, &at("server_metrics"), p),
        extra_body: serde_json::Map::new(),
    }
}

/// The engine's colour: as given, or the palette's next.
fn engine_color(raw: Option<String>, index: usize, path: &str, p: &mut Problems) -> EngineColor {
    let Some(c) = raw else {
        return EngineColor::Named(PALETTE[index % PALETTE.len()]);
    };
    parse_color(&c).unwrap_or_else(|| {
        let names = color_names();
        let hint = did_you_mean(&c, &names)
            .map(|n| format!("did you mean '{n}'? "))
            .unwrap_or_default();
        p.add(
            path,
            format!(
                "unknown colour '{}'; {hint}use one of {}, bright_<colour>, or #rrggbb",
                shorten(&c),
                names.join(", ")
            ),
        );
        EngineColor::Named(NamedColor::White)
    })
}

/// The most prompts one embeddings request carries.
const MAX_INPUTS_PER_REQUEST: i64 = 2048;

/// An embeddings engine's batch size, and the keys of generation it may
/// not have (they would be sent to be ignored).
fn embedding_keys(
    inputs_per_request: Option<i64>,
    generation: [(&str, bool); 4],
    endpoint: EndpointKind,
    at: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> u32 {
    if endpoint.generates() {
        if inputs_per_request.is_some() {
            p.add(
                at("inputs_per_request"),
                "only for endpoint: embeddings; remove it",
            );
        }
        return 1;
    }
    for (key, _) in generation.iter().filter(|(_, set)| *set) {
        p.add(at(key), "an embeddings engine generates nothing; remove it");
    }
    inputs_per_request.map_or(1, |n| {
        whole_u32(p, &at("inputs_per_request"), n, 1, MAX_INPUTS_PER_REQUEST)
    })
}

/// A simulator's quirks are of the stream it serves: those of OpenAI's
/// chunks have nothing to change in a Responses or Messages stream.
fn check_quirks(target: &EngineTarget, endpoint: EndpointKind, path: &str, p: &mut Problems) {
    let EngineTarget::Simulated(sim) = target else {
        return;
    };
    if matches!(endpoint, EndpointKind::Chat | EndpointKind::Completions) {
        return;
    }
    for quirk in sim.quirks.iter().filter(|q| q.of_openai_chunks()) {
        p.add(
            path,
            format!(
                "'{}' is a quirk of OpenAI's chunks (chat, completions); the {} stream has no \
                 such field, remove it",
                quirk.name(),
                endpoint.name()
            ),
        );
    }
}

/// `server_metrics:`: on, off, or where and how often.
fn server_metrics(
    value: Option<ServerMetricsFile>,
    path: &str,
    p: &mut Problems,
) -> ServerMetricsSpec {
    let settings = match value {
        None => return ServerMetricsSpec::default(),
        Some(ServerMetricsFile::Enabled(on)) => {
            return ServerMetricsSpec {
                mode: if on {
                    ServerMetricsMode::On
                } else {
                    ServerMetricsMode::Off
                },
                ..ServerMetricsSpec::default()
            };
        }
        Some(ServerMetricsFile::Settings(s)) => s,
    };
    let url = settings.url.and_then(|raw| {
        let raw = raw.trim().to_owned();
        match url::Url::parse(&raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(raw),
            _ => {
                p.add(
                    format!("{path}.url"),
                    format!(
                        "'{raw}' is not an http(s) URL; give the metrics page's whole URL, e.g. \
                         http://localhost:8000/metrics"
                    ),
                );
                None
            }
        }
    });
    let interval = settings.interval_s.map_or(DEFAULT_SCRAPE_INTERVAL, |s| {
        Duration::from_secs_f64(within(p, &format!("{path}.interval_s"), s, 0.2, 60.0))
    });
    let map = settings
        .map
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(key, family)| {
            let at = format!("{path}.map.{key}");
            let Some(figure) = ServerFigure::from_name(&key) else {
                let names: Vec<&str> = ServerFigure::ALL.iter().map(|f| f.name()).collect();
                p.add(
                    at,
                    format!("unknown figure '{key}'; the figures are {}", names.join(", ")),
                );
                return None;
            };
            let (family, labels) = match family {
                FamilyFile::Name(name) => (name, BTreeMap::new()),
                FamilyFile::Filtered { family, labels } => (family, labels),
            };
            let family = family.trim().to_owned();
            if family.is_empty() {
                p.add(at, "empty; name the family that gives it, e.g. running: my_server_running_requests");
                return None;
            }
            Some(MappedFamily {
                figure,
                family,
                labels,
            })
        })
        .collect();
    ServerMetricsSpec {
        mode: ServerMetricsMode::On,
        url,
        interval,
        map,
    }
}

/// `cost_per_hour` (a machine) or `price` (an API's price list), not both.
fn pricing(
    cost_per_hour: Option<f64>,
    price: Option<PriceFile>,
    at: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> Option<Pricing> {
    let dollars = |p: &mut Problems, key: &str, v: f64| {
        if v >= 0.0 && v.is_finite() {
            v
        } else {
            p.add(
                at(key),
                format!("must be a number >= 0, got '{}'", fmt_num(v)),
            );
            0.0
        }
    };
    match (cost_per_hour, price) {
        (Some(_), Some(_)) => {
            p.add(
                at("price"),
                "cost_per_hour is also set; give cost_per_hour for a machine you run or price \
                 for an API's price list, not both",
            );
            None
        }
        (Some(per_hour), None) => Some(Pricing::Hourly {
            per_hour: dollars(p, "cost_per_hour", per_hour),
        }),
        (None, Some(price)) => {
            let per_1m = |p: &mut Problems, key: &str, v: Option<f64>| match v {
                Some(v) => dollars(p, &format!("price.{key}"), v),
                None => {
                    p.add(
                        at(&format!("price.{key}")),
                        "required; give the price per 1,000,000 tokens in dollars (0 if free)",
                    );
                    0.0
                }
            };
            let input_per_1m = per_1m(p, "input_per_1m", price.input_per_1m);
            let output_per_1m = per_1m(p, "output_per_1m", price.output_per_1m);
            Some(Pricing::Tokens {
                input_per_1m,
                output_per_1m,
            })
        }
        (None, None) => None,
    }
}

pub(super) fn engine_name(name: Option<&str>, path: &str, p: &mut Problems) -> String {
    let Some(name) = name else {
        p.add(
            path,
            "required; give the engine a short name, e.g. name: vllm",
        );
        return String::new();
    };
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() {
        p.add(path, "empty; give the engine a short name, e.g. name: vllm");
    } else if !name.chars().all(ok_char) {
        let suggestion: String = name
            .trim()
            .chars()
            .map(|c| if ok_char(c) { c } else { '-' })
            .collect();
        p.add(
            path,
            format!(
                "'{}' may only use letters, digits, '-', '_' and '.' (it goes into file names); \
                 e.g. '{}'",
                shorten(name),
                shorten(&suggestion)
            ),
        );
    } else if name == "." || name == ".." {
        p.add(
            path,
            format!("'{name}' cannot be a name (it goes into file names); e.g. 'vllm'"),
        );
    } else if name.len() > 64 {
        p.add(path, "too long; at most 64 characters");
    }
    name.to_owned()
}

/// Checks an environment variable name. The value is never echoed: it might
/// be a key.
pub(super) fn api_key_env(value: &str, path: &str, p: &mut Problems) -> Option<String> {
    if looks_like_key(value) {
        p.add(
            path,
            "this looks like a key, not a variable name; put the key in an environment variable \
             and write its name here",
        );
        return None;
    }
    let mut chars = value.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        p.add(
            path,
            "not an environment variable name (letters, digits and '_', not starting with a digit), \
             e.g. api_key_env: OPENAI_API_KEY",
        );
        return None;
    }
    Some(value.to_owned())
}

pub(super) fn check_header(name: &str, value: &str, path: &str, p: &mut Problems) {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(tchar) {
        p.add(
            path,
            format!(
                "'{}' is not a valid header name; use letters, digits and '-', e.g. X-Team",
                shorten(name)
            ),
        );
        return;
    }
    if value
        .chars()
        .any(|c| (c.is_control() && c != '\t') || c == '\u{7f}')
    {
        p.add(
            path,
            "the value contains a line break or control character; remove it",
        );
        return;
    }
    // The names whose values the race file redacts are the ones whose
    // values must not be keys.
    let credential_header = looks_secret(name);
    let bare = value
        .trim()
        .trim_start_matches("Bearer ")
        .trim_start_matches("Basic ");
    if looks_like_key(value) || looks_like_key(bare) || (credential_header && bare.len() >= 16) {
        p.add(
            path,
            "this looks like a credential; keys don't belong in a race config: put it in an \
             environment variable and name that variable in api_key_env",
        );
    }
}

/// Why a URL was refused: the URL itself, or a contradicting `endpoint:`.
#[derive(Debug, PartialEq)]
pub enum UrlError {
    Url(String),
    Endpoint(String),
}

/// Turns an engine's `url` (a base URL, a `/v1` URL or a full completions
/// URL) into the full URL of the completions route and the endpoint kind.
/// Parsed by the `url` crate, as the HTTP client parses it again.
pub fn normalize_url(
    raw: &str,
    endpoint: Option<EndpointKind>,
) -> Result<(String, EndpointKind), UrlError> {
    let s = raw.trim();
    let bad = |m: String| Err(UrlError::Url(m));
    if s.is_empty() {
        return bad("empty; give the server's base URL, e.g. http://localhost:8000".to_owned());
    }
    let shown = shorten(s);
    // The url crate drops tabs and line breaks silently; a URL with them
    // was mistyped.
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad(format!(
            "'{shown}' contains spaces or control characters; remove them"
        ));
    }
    // `localhost:8000` parses as a URL of scheme `localhost`: what was
    // meant is a host without a scheme.
    if !s.contains("://") {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("http:") || lower.starts_with("https:") {
            return bad(format!(
                "'{shown}' is missing '//' after the scheme; write e.g. http://localhost:8000"
            ));
        }
        return bad(format!("'{shown}' has no scheme; write http://{shown}"));
    }
    let mut url = match url::Url::parse(s) {
        Ok(url) => url,
        Err(url::ParseError::EmptyHost) => {
            return bad(format!(
                "'{shown}' has no host; write e.g. http://localhost:8000"
            ));
        }
        Err(url::ParseError::InvalidPort) => {
            return bad(format!(
                "'{shown}' has an invalid port; a port is a number from 1 to 65535"
            ));
        }
        Err(url::ParseError::InvalidIpv6Address) => {
            return bad(format!("'{shown}' has an invalid IPv6 host"));
        }
        Err(e) => return bad(format!("'{shown}' is not a valid URL: {e}")),
    };
    if url.scheme() != "http" && url.scheme() != "https" {
        return bad(format!(
            "'{shown}' has scheme '{}'; only http and https are supported",
            shorten(url.scheme())
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Never echo the URL: the part before '@' may be a password.
        return bad(
            "contains credentials ('user:password@'); put the key in an environment variable and \
             name it in api_key_env"
                .to_owned(),
        );
    }
    if url.fragment().is_some() {
        return bad(format!("'{shown}' has a fragment ('#...'); remove it"));
    }
    if url.port() == Some(0) {
        return bad(format!(
            "'{shown}' has an invalid port '0'; a port is a number from 1 to 65535"
        ));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    let from_url = EndpointKind::of_path(&path);
    let (kind, full_path) = match (from_url, endpoint) {
        (Some(url_kind), Some(kind)) if url_kind != kind => {
            return Err(UrlError::Endpoint(format!(
                "'{}' contradicts the url, which ends in '{}'; remove endpoint or change the url",
                kind.name(),
                url_kind.path().trim_start_matches("/v1")
            )));
        }
        (Some(url_kind), _) => (url_kind, path),
        (None, kind) => {
            let kind = kind.unwrap_or(EndpointKind::Chat);
            let full = if path.ends_with("/v1") {
                format!("{path}{}", kind.path().trim_start_matches("/v1"))
            } else {
                format!("{path}{}", kind.path())
            };
            (kind, full)
        }
    };
    url.set_path(&full_path);
    Ok((url.into(), kind))
}
