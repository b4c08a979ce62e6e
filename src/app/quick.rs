//! `race URL...`: a race without a file. The flags become a race file's
//! text (`config::quick`), each server's model found in its model list
//! unless `--model` names it, and that text is validated like any race
//! file (and saved with `--write-race`).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};

use super::front_end::tell;
use crate::cli::{QuickArgs, RaceArgs};
use crate::config::quick::{QuickEngine, QuickRace, default_names, race_yaml};
use crate::config::validate::{Overrides, UrlError, normalize_url};
use crate::config::{ConfigError, EndpointKind, RaceSpec};
use crate::engine::discover::{DiscoverError, first_model};
use crate::error::{AppError, Exit};

/// Whether `targets` are URLs (else one race file).
pub(super) fn is_race_of_urls(targets: &[String]) -> Result<bool, AppError> {
    let urls = targets.iter().filter(|t| t.contains("://")).count();
    match (targets, urls) {
        ([_], 0) => {
            let only = &targets[0];
            let looks_like_host = only.contains(':') && !only.contains(['/', '\\']);
            if looks_like_host && !Path::new(only).exists() {
                return Err(AppError::bad_input(anyhow!(
                    "'{only}' is neither a race file nor a URL; write http://{only}"
                )));
            }
            Ok(false)
        }
        (_, n) if n == targets.len() => Ok(true),
        _ => {
            let odd = targets
                .iter()
                .find(|t| !t.contains("://"))
                .map_or("", |t| t);
            Err(AppError::bad_input(anyhow!(
                "'{odd}' is not a URL: give one race file, or the servers' URLs (http://host:port)"
            )))
        }
    }
}

/// A race file's flags given with a race file: each names what only a race
/// of URLs takes from the command line.
pub(super) fn refuse_quick_flags(quick: &QuickArgs) -> Result<(), AppError> {
    let given = [
        ("--model", !quick.model.is_empty()),
        ("--endpoint", !quick.endpoint.is_empty()),
        ("--api-key-env", !quick.api_key_env.is_empty()),
        ("--name", !quick.name.is_empty()),
        ("--rate", quick.rate.is_some()),
        ("--requests", quick.requests.is_some()),
        ("--input-tokens", quick.input_tokens.is_some()),
        ("--output-tokens", quick.output_tokens.is_some()),
        ("--write-race", quick.write_race.is_some()),
    ];
    match given.iter().find(|(_, set)| *set) {
        Some((flag, _)) => Err(AppError::bad_input(anyhow!(
            "{flag} is for a race of URLs (llm-locust race http://host:port ...); with a race \
             file, set it in the file"
        ))),
        None => Ok(()),
    }
}

/// The race the URLs and flags describe, validated; its text written to
/// `--write-race` first.
pub(super) async fn race_of_urls(args: &RaceArgs) -> Result<RaceSpec, AppError> {
    let quick = &args.quick;
    let n = args.targets.len();
    let models = per_url(&quick.model, n, "--model")?;
    let endpoints = per_url(&quick.endpoint, n, "--endpoint")?;
    let keys = per_url(&quick.api_key_env, n, "--api-key-env")?;
    let names = per_url(&quick.name, n, "--name")?;
    let defaults = default_names(&args.targets);
    let mut engines = Vec::with_capacity(n);
    for (i, url) in args.targets.iter().enumerate() {
        let endpoint = endpoints[i].map(endpoint_named).transpose()?;
        if quick.write_race.is_some()
            && let Some(key) = secret_in_query(url)
        {
            return Err(AppError::bad_input(anyhow!(
                "URL {}: its query carries a secret ('{key}'), which --write-race would write \
                 into the file; put the key in an environment variable and name it with \
                 --api-key-env",
                i + 1
            )));
        }
        let (full, kind) = normalize_url(url, endpoint).map_err(|e| {
            let (UrlError::Url(message) | UrlError::Endpoint(message)) = e;
            AppError::bad_input(anyhow!("URL {}: {message}", i + 1))
        })?;
        let (model, discovered) = match models[i] {
            Some(model) => (model.to_owned(), false),
            // Raced against a simulator: no server to ask.
            None if args.simulate => ("sim".to_owned(), false),
            None => (discover(&full, kind, keys[i]).await?, true),
        };
        let name = names[i].map_or_else(|| defaults[i].clone(), str::to_owned);
        if discovered {
            tell(&format!(
                "engine {name}: model '{model}' (the first in the server's model list; --model to choose)"
            ));
        }
        engines.push(QuickEngine {
            name,
            url: url.trim().to_owned(),
            model,
            discovered,
            endpoint,
            api_key_env: keys[i].map(str::to_owned),
        });
    }
    let race = QuickRace {
        engines,
        users: args.users,
        rate: quick.rate,
        duration_s: args.duration,
        requests: quick.requests,
        dataset: args.dataset.as_deref().map(dataset_for_file),
        input_tokens: quick.input_tokens,
        output_tokens: quick.output_tokens,
        seed: args.seed,
        command: command_line(),
    };
    let text = race_yaml(&race);
    let file = match &quick.write_race {
        Some(path) => {
            std::fs::write(path, &text)
                .with_context(|| format!("cannot write the race file '{}'", path.display()))
                .map_err(AppError::bad_input)?;
            tell(&format!(
                "wrote {}: `llm-locust race {}` runs this race again",
                path.display(),
                path.display()
            ));
            path.clone()
        }
        None => PathBuf::from("race-of-urls.yaml"),
    };
    let overrides = Overrides {
        countdown_s: args.countdown,
        output_dir: args.output_dir.as_ref().map(|d| d.display().to_string()),
        simulate: args.simulate,
        ..Overrides::default()
    };
    crate::config::validate::validate_with(&text, &file, &overrides)
        .map_err(|problems| AppError::bad_input(ConfigError::Invalid { file, problems }))
}

/// One value for every URL, or one each.
fn per_url<'a>(
    values: &'a [String],
    n: usize,
    flag: &str,
) -> Result<Vec<Option<&'a str>>, AppError> {
    match values.len() {
        0 => Ok(vec![None; n]),
        1 => Ok(vec![Some(values[0].as_str()); n]),
        k if k == n => Ok(values.iter().map(|v| Some(v.as_str())).collect()),
        k => Err(AppError::bad_input(anyhow!(
            "{flag} is given {k} times for {n} URLs; give it once (for every URL) or once per URL"
        ))),
    }
}

/// The name of a secret-looking query parameter of `url` (`api_key=...`).
fn secret_in_query(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    parsed
        .query_pairs()
        .map(|(key, _)| key.into_owned())
        .find(|key| crate::config::secrets::looks_secret(key))
}

fn endpoint_named(name: &str) -> Result<EndpointKind, AppError> {
    EndpointKind::ALL
        .into_iter()
        .find(|kind| kind.name() == name.trim())
        .ok_or_else(|| {
            AppError::bad_input(anyhow!(
                "--endpoint '{name}' is not an API llm-locust speaks; use chat, completions, \
                 responses, anthropic or embeddings"
            ))
        })
}

/// The first model of the server at `url`; a server that cannot be
/// reached is exit 3, one without a model list exit 2.
async fn discover(
    url: &str,
    kind: EndpointKind,
    key_env: Option<&str>,
) -> Result<String, AppError> {
    let key = key_env.and_then(|var| std::env::var(var).ok());
    first_model(url, kind, key.as_deref())
        .await
        .map_err(|e| match e {
            DiscoverError::Unreachable { .. } => AppError {
                exit: Exit::Unreachable,
                error: e.into(),
            },
            DiscoverError::NoModels { .. } => AppError::bad_input(e),
        })
}

/// `--dataset` as the race file says it: a file by its absolute path (the
/// race file may be saved in another folder), a name as it is.
fn dataset_for_file(dataset: &str) -> String {
    let path = Path::new(dataset);
    if path.exists() {
        if let Ok(absolute) = std::path::absolute(path) {
            return absolute.display().to_string();
        }
    }
    dataset.to_owned()
}

/// The command as it was typed, for a comment: one line, URLs without
/// credentials or secret query values (the API keys are in variables).
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let line = format!("llm-locust {}", args.join(" "));
    crate::config::secrets::scrub_urls_in(&line)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
