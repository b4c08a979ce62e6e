//! Engine tokenizers (`tokenizer:` per engine): a hub model id, whose
//! `tokenizer.json` is downloaded and cached like a dataset, or a local path
//! to a `tokenizer.json` or a folder holding one. Each distinct tokenizer is
//! loaded once and shared by every engine that names it.
//!
//! Counts are of the prompt text alone (`add_special_tokens = false`): the
//! chat template an engine wraps around it is the server's business, and its
//! `usage` (when it reports one) says the full number.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::WorkloadError;
use super::hub::{Hub, HubFile, RepoKind};

/// A loaded tokenizer and the name the race file gave it.
pub struct Tokenizer {
    name: String,
    inner: tokenizers::Tokenizer,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("name", &self.name)
            .finish()
    }
}

impl Tokenizer {
    /// Loads a `tokenizer.json` file.
    pub fn from_file(name: &str, path: &Path) -> Result<Tokenizer, WorkloadError> {
        let inner =
            tokenizers::Tokenizer::from_file(path).map_err(|e| WorkloadError::Tokenizer {
                name: name.to_owned(),
                reason: format!("cannot load '{}': {e}", path.display()),
            })?;
        Ok(Tokenizer::new(name, inner))
    }

    /// Wraps a tokenizer built in code (tests).
    #[must_use]
    pub fn new(name: &str, inner: tokenizers::Tokenizer) -> Tokenizer {
        Tokenizer {
            name: name.to_owned(),
            inner,
        }
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Tokens in `text` (no special tokens added).
    pub fn count(&self, text: &str) -> Result<u32, WorkloadError> {
        Ok(u32::try_from(self.token_ends(text)?.len()).unwrap_or(u32::MAX))
    }

    /// Tokens in each of `texts`, encoded in parallel, a bounded batch at
    /// a time (an encoding takes tens of bytes per token).
    pub fn count_batch(&self, texts: &[&str]) -> Result<Vec<u32>, WorkloadError> {
        const BATCH: usize = 256;
        let mut counts = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            let inputs: Vec<tokenizers::EncodeInput> = batch.iter().map(|&t| t.into()).collect();
            let encodings =
                self.inner
                    .encode_batch(inputs, false)
                    .map_err(|e| WorkloadError::Tokenizer {
                        name: self.name.clone(),
                        reason: format!("cannot encode prompts: {e}"),
                    })?;
            counts.extend(
                encodings
                    .iter()
                    .map(|e| u32::try_from(e.len()).unwrap_or(u32::MAX)),
            );
        }
        Ok(counts)
    }

    /// The byte offset where each token of `text` ends.
    pub fn token_ends(&self, text: &str) -> Result<Vec<usize>, WorkloadError> {
        let encoding = self
            .inner
            .encode(text, false)
            .map_err(|e| WorkloadError::Tokenizer {
                name: self.name.clone(),
                reason: format!("cannot encode a prompt: {e}"),
            })?;
        Ok(encoding.get_offsets().iter().map(|&(_, end)| end).collect())
    }
}

/// Where a `tokenizer:` value points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerSource {
    File(PathBuf),
    Hub(String),
}

/// Decides whether `value` is a local file, a folder with a
/// `tokenizer.json`, or a hub model id (`owner/name`).
pub fn resolve(value: &str) -> Result<TokenizerSource, WorkloadError> {
    let path = Path::new(value);
    if path.is_file() {
        return Ok(TokenizerSource::File(path.to_path_buf()));
    }
    if path.is_dir() {
        let file = path.join("tokenizer.json");
        if file.is_file() {
            return Ok(TokenizerSource::File(file));
        }
        return Err(WorkloadError::Tokenizer {
            name: value.to_owned(),
            reason: format!(
                "the folder '{}' holds no tokenizer.json; point at the file or at a folder with one",
                path.display()
            ),
        });
    }
    if is_hub_id(value) {
        return Ok(TokenizerSource::Hub(value.to_owned()));
    }
    Err(WorkloadError::Tokenizer {
        name: value.to_owned(),
        reason: "no such file or folder, and not a hub model id (owner/name); \
                 give a path to a tokenizer.json or a model id like Qwen/Qwen3-0.6B"
            .to_owned(),
    })
}

/// The file a hub tokenizer is: its model repository's `tokenizer.json`.
#[must_use]
pub fn hub_file(id: &str) -> HubFile {
    HubFile {
        kind: RepoKind::Model,
        repo: id.to_owned(),
        path: "tokenizer.json".to_owned(),
    }
}

fn is_hub_id(value: &str) -> bool {
    let ok_part = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    let parts: Vec<&str> = value.split('/').collect();
    match parts.as_slice() {
        [name] => ok_part(name) && !value.ends_with(".json"),
        [owner, name] => ok_part(owner) && ok_part(name),
        _ => false,
    }
}

/// Loads the tokenizer of every engine (`None` where an engine names none),
/// each distinct one once.
pub async fn load_all(
    names: &[Option<String>],
    hub: &Hub,
) -> Result<Vec<Option<Arc<Tokenizer>>>, WorkloadError> {
    let mut loaded: HashMap<String, Arc<Tokenizer>> = HashMap::new();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let Some(name) = name else {
            out.push(None);
            continue;
        };
        if let Some(t) = loaded.get(name) {
            out.push(Some(Arc::clone(t)));
            continue;
        }
        let path = match resolve(name)? {
            TokenizerSource::File(path) => path,
            TokenizerSource::Hub(id) => {
                hub.fetch(
                    &hub_file(&id),
                    &format!("tokenizer '{id}'"),
                    ", or give the engine a local path to a tokenizer.json",
                )
                .await?
            }
        };
        let owned = name.clone();
        let tokenizer = tokio::task::spawn_blocking(move || Tokenizer::from_file(&owned, &path))
            .await
            .map_err(|e| WorkloadError::Tokenizer {
                name: name.clone(),
                reason: e.to_string(),
            })??;
        let tokenizer = Arc::new(tokenizer);
        loaded.insert(name.clone(), Arc::clone(&tokenizer));
        out.push(Some(tokenizer));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_ids_and_paths_are_told_apart() {
        assert!(is_hub_id("Qwen/Qwen3-0.6B"));
        assert!(is_hub_id("gpt2"));
        assert!(!is_hub_id("./tok/tokenizer.json"));
        assert!(!is_hub_id("a/b/c"));
        assert!(!is_hub_id("tokenizer.json"));
        let err = resolve("missing/dir/tokenizer.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no such file"), "{err}");
    }
}
