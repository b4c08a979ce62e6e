//! What a `--simulate` race uses instead of a download: it needs no server,
//! so it must need no network either. A public dataset that is not in the
//! Hugging Face cache becomes its shipped sample, and a hub tokenizer that
//! is not cached is dropped (its engines' counts are then the simulator's
//! usage and the estimate, as for any engine without a tokenizer). Cached
//! files are used as they are. Each replacement is said in one note.
//!
//! It only looks into the cache (`Hub::cached`); it never downloads.

use super::hub::Hub;
use super::tokenizer::{self, TokenizerSource};
use crate::config::{DatasetSpec, RaceSpec};

/// Replaces in `spec` what is not cached, and returns one note per
/// replacement (without the `note:` prefix), to be said before the race.
pub fn simulate_offline(spec: &mut RaceSpec, hub: &Hub) -> Vec<String> {
    let mut notes = Vec::new();
    let cache = hub.cache_dir.display();
    if let DatasetSpec::Public(d) = spec.dataset
        && hub.cached(&d.hub_file()).is_none()
    {
        spec.dataset = DatasetSpec::Sample(d);
        // A sample holds a few prompts of mixed lengths: selecting the
        // target length from it would leave none.
        let all = match spec.target_input_tokens.take() {
            Some(n) => format!(
                ", all of its prompts (too few to select {n} +/- {} tokens)",
                spec.input_tolerance_tokens
            ),
            None => String::new(),
        };
        notes.push(format!(
            "dataset '{}' is not in the Hugging Face cache ({cache}); --simulate uses its shipped \
             sample '{}' instead{all}",
            d.name(),
            d.sample_name()
        ));
    }
    let mut seen: Vec<String> = Vec::new();
    for i in 0..spec.engines.len() {
        let Some(name) = spec.engines[i].tokenizer.clone() else {
            continue;
        };
        if seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        // A path, or a value that is neither, is loaded (or refused) as
        // without --simulate.
        let Ok(TokenizerSource::Hub(id)) = tokenizer::resolve(&name) else {
            continue;
        };
        if hub.cached(&tokenizer::hub_file(&id)).is_some() {
            continue;
        }
        let mut engines = Vec::new();
        for engine in &mut spec.engines {
            if engine.tokenizer.as_deref() == Some(name.as_str()) {
                engine.tokenizer = None;
                engines.push(engine.name.clone());
            }
        }
        notes.push(format!(
            "tokenizer '{id}' is not in the Hugging Face cache ({cache}); --simulate races {} \
             without it (token counts from the simulator's usage, prompt lengths estimated)",
            engines.join(", ")
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::PublicDataset;
    use crate::config::validate::{Overrides, validate_with};
    use crate::workload::hub::{HubFile, RepoKind};
    use crate::workload::progress::Progress;

    /// A hub whose cache is `dir` and that could not download anything:
    /// offline, and its endpoint a closed port on 127.0.0.1.
    fn hub(dir: &Path) -> Hub {
        Hub {
            endpoint: "http://127.0.0.1:9".to_owned(),
            cache_dir: dir.to_path_buf(),
            token: None,
            offline: true,
            progress: Progress::Hidden,
        }
    }

    /// Puts `file` into the cache at `dir` in the hub's layout.
    fn cache(dir: &Path, file: &HubFile) {
        let prefix = match file.kind {
            RepoKind::Model => "models",
            RepoKind::Dataset => "datasets",
        };
        let repo = dir.join(format!("{prefix}--{}", file.repo.replace('/', "--")));
        let snapshot = repo.join("snapshots").join("abc123");
        std::fs::create_dir_all(snapshot.join(&file.path).parent().unwrap()).unwrap();
        std::fs::write(snapshot.join(&file.path), "{}").unwrap();
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs").join("main"), "abc123").unwrap();
    }

    fn simulated(dataset: &str) -> RaceSpec {
        let yaml = format!(
            "race:\n  name: t\n  dataset: {dataset}\n  target_input_tokens: 256\n  engines:\n    \
             - {{name: a, url: 'http://127.0.0.1:9', model: m, tokenizer: Qwen/Qwen3-0.6B}}\n    \
             - {{name: b, url: 'http://127.0.0.1:9', model: m, tokenizer: Qwen/Qwen3-0.6B}}\n    \
             - {{name: c, url: 'http://127.0.0.1:9', model: m, tokenizer: org/other}}\n"
        );
        let overrides = Overrides {
            simulate: true,
            ..Overrides::default()
        };
        validate_with(&yaml, Path::new("t.yaml"), &overrides).unwrap()
    }

    #[test]
    fn a_cached_dataset_and_tokenizer_are_used() {
        let dir = tempfile::tempdir().unwrap();
        cache(dir.path(), &PublicDataset::ShareGpt.hub_file());
        cache(dir.path(), &tokenizer::hub_file("Qwen/Qwen3-0.6B"));
        cache(dir.path(), &tokenizer::hub_file("org/other"));
        let mut spec = simulated("sharegpt");
        let before = spec.clone();
        let notes = simulate_offline(&mut spec, &hub(dir.path()));
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(spec, before);
        assert_eq!(spec.dataset, DatasetSpec::Public(PublicDataset::ShareGpt));
        assert_eq!(spec.target_input_tokens, Some(256));
    }

    #[test]
    fn an_uncached_dataset_becomes_its_sample_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        cache(dir.path(), &tokenizer::hub_file("Qwen/Qwen3-0.6B"));
        cache(dir.path(), &tokenizer::hub_file("org/other"));
        let mut spec = simulated("billsum");
        let notes = simulate_offline(&mut spec, &hub(dir.path()));
        assert_eq!(spec.dataset, DatasetSpec::Sample(PublicDataset::BillSum));
        assert_eq!(spec.target_input_tokens, None);
        assert_eq!(
            notes,
            [format!(
                "dataset 'billsum' is not in the Hugging Face cache ({}); --simulate uses its \
                 shipped sample 'billsum-sample' instead, all of its prompts (too few to select \
                 256 +/- 50 tokens)",
                dir.path().display()
            )]
        );
        // The tokenizers were cached: kept.
        assert!(spec.engines.iter().all(|e| e.tokenizer.is_some()));
    }

    #[test]
    fn an_uncached_tokenizer_is_dropped_with_one_note_naming_its_engines() {
        let dir = tempfile::tempdir().unwrap();
        cache(dir.path(), &PublicDataset::ShareGpt.hub_file());
        cache(dir.path(), &tokenizer::hub_file("org/other"));
        let mut spec = simulated("sharegpt");
        let notes = simulate_offline(&mut spec, &hub(dir.path()));
        let tokenizers: Vec<Option<&str>> = spec
            .engines
            .iter()
            .map(|e| e.tokenizer.as_deref())
            .collect();
        assert_eq!(tokenizers, [None, None, Some("org/other")]);
        assert_eq!(
            notes,
            [format!(
                "tokenizer 'Qwen/Qwen3-0.6B' is not in the Hugging Face cache ({}); --simulate \
                 races a, b without it (token counts from the simulator's usage, prompt lengths \
                 estimated)",
                dir.path().display()
            )]
        );
        assert_eq!(spec.dataset, DatasetSpec::Public(PublicDataset::ShareGpt));
    }

    #[test]
    fn local_tokenizers_and_other_datasets_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokenizer.json");
        std::fs::write(&file, "{}").unwrap();
        let mut spec = simulated("sharegpt-sample");
        for engine in &mut spec.engines {
            engine.tokenizer = Some(file.display().to_string());
        }
        let before = spec.clone();
        let notes = simulate_offline(&mut spec, &hub(&dir.path().join("empty-cache")));
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(spec, before);
    }
}
