//! Which model a server serves, for a race of URLs without `--model`: the
//! first id of its model list (`GET …/v1/models`, which OpenAI-compatible
//! servers, Anthropic's API and llama.cpp all answer with `data: [{id}]`).

use std::time::Duration;

use serde::Deserialize;

use super::client::{NoProxyIfLoopback as _, models_url};
use super::protocol::{self, Protocol};
use crate::config::EndpointKind;
use crate::config::secrets::scrub_urls_in;
use crate::error::error_chain;

/// How long a server gets to list its models.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// Nothing answered at all.
    #[error("cannot reach {url}: {reason}; is the server running?")]
    Unreachable { url: String, reason: String },
    /// It answered, but with no model list.
    #[error("{url} lists no model ({reason}); name the model with --model")]
    NoModels { url: String, reason: String },
}

#[derive(Deserialize)]
struct ModelList {
    #[serde(default)]
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
}

/// The first model of the server whose `endpoint` route is at `url` (a
/// full route URL), asked with the protocol's key header when `api_key`
/// is given.
pub async fn first_model(
    url: &str,
    endpoint: EndpointKind,
    api_key: Option<&str>,
) -> Result<String, DiscoverError> {
    let protocol = protocol::of(endpoint);
    let route = reqwest::Url::parse(url).map_err(|e| DiscoverError::Unreachable {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    let list = models_url(&route, protocol);
    let shown = scrub_urls_in(list.as_str());
    let response = request(&list, protocol, api_key)
        .send()
        .await
        .map_err(|e| DiscoverError::Unreachable {
            url: shown.clone(),
            reason: scrub_urls_in(&error_chain(&e)),
        })?;
    let no_models = |reason: String| DiscoverError::NoModels {
        url: shown.clone(),
        reason,
    };
    let status = response.status();
    if !status.is_success() {
        return Err(no_models(format!("HTTP {}", status.as_u16())));
    }
    let body = response
        .text()
        .await
        .map_err(|e| no_models(scrub_urls_in(&error_chain(&e))))?;
    let list: ModelList = serde_json::from_str(&body)
        .map_err(|_| no_models("its answer is not a model list".to_owned()))?;
    list.data
        .into_iter()
        .map(|m| m.id)
        .find(|id| !id.trim().is_empty())
        .ok_or_else(|| no_models("the list is empty".to_owned()))
}

fn request(
    list: &reqwest::Url,
    protocol: &dyn Protocol,
    api_key: Option<&str>,
) -> reqwest::RequestBuilder {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .no_proxy_if_loopback(list)
        .build()
        .unwrap_or_default();
    let mut request = client.get(list.clone());
    for (name, value) in protocol.headers() {
        request = request.header(*name, *value);
    }
    if let Some(key) = api_key {
        let (name, value) = protocol.key_header(key);
        request = request.header(name, value);
    }
    request
}
