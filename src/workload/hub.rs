//! Files from the Hugging Face hub (datasets and `tokenizer.json`), cached the
//! way the hub's own clients cache them.
//!
//! Why not the `hf-hub` crate: its async API is built on its own `reqwest`
//! major version (a second copy of the HTTP stack next to ours, 0.13) and its
//! offline handling and progress reporting do not cover what a race needs
//! (`HF_HUB_OFFLINE`, one clear error per missing file, a partial download
//! never counted as cached). This module is the small subset we use, on the
//! `reqwest` client the engines already use.
//!
//! Conventions honoured:
//! - `HF_ENDPOINT` (default `https://huggingface.co`): a mirror or a test server.
//! - `HF_TOKEN` (or the token file `$HF_HOME/token`): sent as
//!   `Authorization: Bearer`, never printed (the `Debug` form hides it).
//! - `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`,
//!   else `~/.cache/huggingface/hub`; the layout is the hub's
//!   (`datasets--owner--name/snapshots/<commit>/<file>`, `refs/main`), so a
//!   file the Python `huggingface_hub` already downloaded is reused.
//! - `HF_HUB_OFFLINE=1`: no request is made; a file not in the cache is an error.
//!
//! A download goes to a temporary file next to its final place and is renamed
//! only once complete (its length checked against `Content-Length`), so an
//! interrupted download never counts as cached.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::progress::Progress;
use crate::config::secrets::{scrub_url, scrub_urls_in};
use crate::error::error_chain;

/// Largest file a download may bring when the server does not say its size
/// (the largest dataset used, ShareGPT, is under 1 GB).
const MAX_DOWNLOAD_BYTES: u64 = 8 << 30;

/// Default hub address.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// What kind of hub repository a file lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoKind {
    Model,
    Dataset,
}

impl RepoKind {
    fn url_prefix(self) -> &'static str {
        match self {
            RepoKind::Model => "",
            RepoKind::Dataset => "datasets/",
        }
    }

    fn cache_prefix(self) -> &'static str {
        match self {
            RepoKind::Model => "models",
            RepoKind::Dataset => "datasets",
        }
    }
}

/// One file of one hub repository at the `main` revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFile {
    pub kind: RepoKind,
    /// `owner/name`.
    pub repo: String,
    /// Path inside the repository.
    pub path: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(
        "{what} is not in the Hugging Face cache ({}) and HF_HUB_OFFLINE is set; \
         run once without HF_HUB_OFFLINE to download it{hint}",
        cache.display()
    )]
    Offline {
        what: String,
        cache: PathBuf,
        hint: String,
    },
    #[error("cannot download {url}: {reason}{hint}")]
    Http {
        url: String,
        reason: String,
        hint: String,
    },
    #[error("cannot write the Hugging Face cache at '{}': {source}", path.display())]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where and how to fetch hub files. Build it with [`Hub::from_env`], or set
/// the fields directly (tests point `endpoint` at a local server).
#[derive(Clone)]
pub struct Hub {
    pub endpoint: String,
    pub cache_dir: PathBuf,
    pub token: Option<String>,
    pub offline: bool,
    /// Where download progress is shown.
    pub progress: Progress,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("endpoint", &self.endpoint)
            .field("cache_dir", &self.cache_dir)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .field("offline", &self.offline)
            .finish_non_exhaustive()
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Hub {
    /// The hub as the environment describes it (see the module docs).
    #[must_use]
    pub fn from_env() -> Hub {
        let home_cache = || {
            env_nonempty("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| env_nonempty("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .unwrap_or_else(std::env::temp_dir)
                .join("huggingface")
        };
        let hf_home = env_nonempty("HF_HOME").map_or_else(home_cache, PathBuf::from);
        let cache_dir =
            env_nonempty("HF_HUB_CACHE").map_or_else(|| hf_home.join("hub"), PathBuf::from);
        let token = env_nonempty("HF_TOKEN")
            .or_else(|| env_nonempty("HUGGING_FACE_HUB_TOKEN"))
            .or_else(|| {
                std::fs::read_to_string(hf_home.join("token"))
                    .ok()
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
            });
        let offline = env_nonempty("HF_HUB_OFFLINE").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        });
        Hub {
            endpoint: env_nonempty("HF_ENDPOINT")
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            cache_dir,
            token,
            offline,
            progress: if std::io::stderr().is_terminal() {
                Progress::Stderr
            } else {
                Progress::Hidden
            },
        }
    }

    /// The URL a file is downloaded from.
    #[must_use]
    pub fn url(&self, file: &HubFile) -> String {
        format!(
            "{}/{}{}/resolve/main/{}",
            self.endpoint.trim_end_matches('/'),
            file.kind.url_prefix(),
            file.repo,
            file.path
        )
    }

    fn repo_dir(&self, file: &HubFile) -> PathBuf {
        self.cache_dir.join(format!(
            "{}--{}",
            file.kind.cache_prefix(),
            file.repo.replace('/', "--")
        ))
    }

    /// The cached copy of a file, if there is one.
    #[must_use]
    pub fn cached(&self, file: &HubFile) -> Option<PathBuf> {
        let repo = self.repo_dir(file);
        let commit = std::fs::read_to_string(repo.join("refs").join("main")).ok()?;
        let path = repo.join("snapshots").join(commit.trim()).join(&file.path);
        path.is_file().then_some(path)
    }

    /// The local path of a file: the cached copy, or a fresh download.
    /// `what` names the file in messages (e.g. "dataset 'sharegpt'");
    /// `offline_hint` is added to the offline error (what else the user can do).
    pub async fn fetch(
        &self,
        file: &HubFile,
        what: &str,
        offline_hint: &str,
    ) -> Result<PathBuf, HubError> {
        if let Some(path) = self.cached(file) {
            tracing::debug!(path = %path.display(), "hub file from cache");
            return Ok(path);
        }
        if self.offline {
            return Err(HubError::Offline {
                what: what.to_owned(),
                cache: self.cache_dir.clone(),
                hint: offline_hint.to_owned(),
            });
        }
        self.download(file, what).await
    }

    async fn download(&self, file: &HubFile, what: &str) -> Result<PathBuf, HubError> {
        let url = self.url(file);
        // HF_ENDPOINT may carry credentials (https://user:token@mirror/):
        // messages and logs name the URL without them.
        let shown = ShownUrl(scrub_url(&url));
        let (response, commit) = self.answer(&url, &shown).await?;
        let expected = response.content_length();
        let repo = self.repo_dir(file);
        let target = repo.join("snapshots").join(&commit).join(&file.path);
        let dir = target.parent().unwrap_or(&repo).to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(cache_err(&dir))?;
        let name = target
            .file_name()
            .map_or_else(|| "download".into(), |n| n.to_string_lossy().into_owned());
        let temp = dir.join(format!(".{name}.{}.incomplete", std::process::id()));
        let bar = self
            .progress
            .show(progress_bar(expected), format!("downloading {what}"));
        let written = write_body(response, &temp, expected, bar.as_ref(), &shown).await;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(e);
        }
        tokio::fs::rename(&temp, &target)
            .await
            .map_err(cache_err(&target))?;
        let refs = repo.join("refs");
        tokio::fs::create_dir_all(&refs)
            .await
            .map_err(cache_err(&refs))?;
        let main = refs.join("main");
        tokio::fs::write(&main, &commit)
            .await
            .map_err(cache_err(&main))?;
        tracing::info!(url = %shown.0, path = %target.display(), "downloaded hub file");
        Ok(target)
    }

    /// The answer for `url` and the commit its file belongs to. Redirects
    /// are followed by hand: the hub answers `resolve` with a redirect to a
    /// CDN for large files, and the commit (`X-Repo-Commit`) is on that
    /// first answer. The token is only ever sent to the hub's own host,
    /// never to where it redirects.
    async fn answer(
        &self,
        url: &str,
        shown: &ShownUrl,
    ) -> Result<(reqwest::Response, String), HubError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("llm-locust/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            // A server that stops sending must not hang the race's start.
            .read_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| shown.error(e.to_string(), ""))?;
        let hub_url = reqwest::Url::parse(url)
            .map_err(|e| shown.error(e.to_string(), "; check HF_ENDPOINT"))?;
        let mut current = hub_url.clone();
        let mut commit: Option<String> = None;
        let mut redirects = 0;
        let response = loop {
            let mut request = client.get(current.clone());
            if let Some(token) = &self.token
                && current.host_str() == hub_url.host_str()
                && current.port() == hub_url.port()
                && current.scheme() == hub_url.scheme()
            {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.map_err(|e| {
                shown.error(
                    scrub_urls_in(&error_chain(&e)),
                    "; check the network, set HF_ENDPOINT to a reachable mirror, \
                     or use a cached copy with HF_HUB_OFFLINE=1",
                )
            })?;
            if commit.is_none() {
                commit = response
                    .headers()
                    .get("x-repo-commit")
                    .and_then(|v| v.to_str().ok())
                    .filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric()))
                    .map(str::to_owned);
            }
            if !response.status().is_redirection() {
                break response;
            }
            redirects += 1;
            let next = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| current.join(loc).ok());
            match next {
                Some(next) if redirects <= 10 => current = next,
                _ => {
                    return Err(shown.error(
                        format!("HTTP {} without a usable redirect", response.status()),
                        "",
                    ));
                }
            }
        };
        let status = response.status();
        if !status.is_success() {
            let hint = match status.as_u16() {
                401 | 403 if self.token.is_none() => {
                    "; the repository may be gated: accept its terms on the hub and set HF_TOKEN"
                }
                401 | 403 => "; HF_TOKEN was sent but does not give access to this repository",
                404 => "; check the repository and file name",
                _ => "",
            };
            return Err(shown.error(format!("HTTP {status}"), hint));
        }
        Ok((response, commit.unwrap_or_else(|| "main".to_owned())))
    }
}

/// A download's URL as messages and logs show it (credentials removed).
struct ShownUrl(String);

impl ShownUrl {
    fn error(&self, reason: String, hint: &str) -> HubError {
        HubError::Http {
            url: self.0.clone(),
            reason,
            hint: hint.to_owned(),
        }
    }
}

fn cache_err(path: &Path) -> impl FnOnce(std::io::Error) -> HubError + use<> {
    let path = path.to_path_buf();
    move |source| HubError::Cache { path, source }
}

/// Writes the body of `response` to `temp`, no more than it said it would
/// send (or [`MAX_DOWNLOAD_BYTES`]), and all of that.
async fn write_body(
    response: reqwest::Response,
    temp: &Path,
    expected: Option<u64>,
    bar: Option<&indicatif::ProgressBar>,
    shown: &ShownUrl,
) -> Result<(), HubError> {
    let mut out = tokio::fs::File::create(temp)
        .await
        .map_err(cache_err(temp))?;
    let mut received: u64 = 0;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            shown.error(
                format!(
                    "the download broke off after {received} bytes: {}",
                    scrub_urls_in(&error_chain(&e))
                ),
                "; run again to retry",
            )
        })?;
        out.write_all(&chunk).await.map_err(cache_err(temp))?;
        received += chunk.len() as u64;
        if received > expected.unwrap_or(MAX_DOWNLOAD_BYTES) {
            return Err(shown.error(
                format!(
                    "the server sent more than the {} bytes expected",
                    expected.unwrap_or(MAX_DOWNLOAD_BYTES)
                ),
                "; check HF_ENDPOINT",
            ));
        }
        if let Some(bar) = bar {
            bar.set_position(received);
        }
    }
    if let Some(expected) = expected.filter(|&n| n != received) {
        return Err(shown.error(
            format!("the download broke off after {received} of {expected} bytes"),
            "; run again to retry",
        ));
    }
    out.flush().await.map_err(cache_err(temp))?;
    out.sync_all().await.map_err(cache_err(temp))?;
    Ok(())
}

fn progress_bar(total: Option<u64>) -> indicatif::ProgressBar {
    let bar = match total {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::no_length(),
    };
    let template = if total.is_some() {
        "{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}"
    } else {
        "{msg} {spinner} {bytes} {bytes_per_sec}"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
