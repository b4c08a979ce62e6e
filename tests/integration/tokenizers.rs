//! Engine tokenizers: a real one (Qwen3, from ../shared; skipped when absent)
//! and a small one built here; synthetic prompts of exact length, selection
//! to a target length, per-engine counts, sharing, hub download.

use crate::common::{self, offline};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use llm_locust::config::{self, RaceSpec};
use llm_locust::workload;
use llm_locust::workload::hub::Hub;
use llm_locust::workload::tokenizer;

fn qwen3() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/tokenizers/qwen3/tokenizer.json");
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "skipped: the Qwen3 tokenizer fixture is not at {} (only the project's shared checkout has it)",
            path.display()
        );
        None
    }
}

/// A small word-level tokenizer, built here and saved as `tokenizer.json`
/// in `dir`: every word and punctuation run is one token.
fn small_tokenizer(dir: &Path) -> PathBuf {
    use tokenizers::models::wordlevel::WordLevel;
    use tokenizers::pre_tokenizers::whitespace::Whitespace;
    let words = ["[UNK]", "the", "harbour", "ships", "a", "of", ".", ","];
    let vocab: HashMap<String, u32> = words
        .iter()
        .enumerate()
        .map(|(i, w)| ((*w).to_owned(), u32::try_from(i).unwrap()))
        .collect();
    let model = WordLevel::builder()
        .vocab(vocab.into_iter().collect())
        .unk_token("[UNK]".to_owned())
        .build()
        .unwrap();
    let mut tok = tokenizers::Tokenizer::new(model);
    tok.with_pre_tokenizer(Some(Whitespace {}));
    let path = dir.join("tokenizer.json");
    tok.save(&path, false).unwrap();
    path
}

fn encode_len(path: &Path, text: &str) -> usize {
    // Independent of llm-locust's wrapper: the tokenizers crate itself.
    let tok = tokenizers::Tokenizer::from_file(path).unwrap();
    tok.encode(text, false).unwrap().len()
}

fn race(dataset: &str, extra: &str, tokenizers: &[&Path]) -> RaceSpec {
    let mut engines = String::new();
    for (i, t) in tokenizers.iter().enumerate() {
        engines.push_str(&format!(
            "    - name: e{i}\n      model: m\n      tokenizer: \"{}\"\n      simulate:\n",
            t.display()
        ));
    }
    config::parse_race(
        &format!("race:\n  name: t\n  dataset: {dataset}\n{extra}  engines:\n{engines}"),
        Path::new("t.yaml"),
    )
    .unwrap()
}

async fn assert_exact_synthetic(tok: &Path) {
    for n in [1u32, 7, 256, 4096] {
        let spec = race(
            "synthetic",
            &format!("  target_input_tokens: {n}\n  synthetic:\n    prompts: 3\n"),
            &[tok],
        );
        let set = workload::load(&spec, &offline()).await.unwrap();
        assert_eq!(set.len(), 3);
        for k in 0..3 {
            let prompt = set.for_request(k);
            assert_eq!(encode_len(tok, &prompt), n as usize, "n={n}: {prompt:?}");
            assert_eq!(set.tokenizer_count(0, k), Some(n));
        }
        // Different prompts, so a prefix cache cannot serve them all.
        if n >= 7 {
            let distinct: std::collections::HashSet<_> =
                (0..3).map(|k| set.for_request(k)).collect();
            assert!(distinct.len() > 1, "n={n}");
        }
    }
}

#[tokio::test]
async fn synthetic_prompts_have_exact_lengths_under_qwen3() {
    let Some(path) = qwen3() else { return };
    assert_exact_synthetic(&path).await;
}

#[tokio::test]
async fn synthetic_prompts_have_exact_lengths_under_a_small_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_tokenizer(dir.path());
    assert_exact_synthetic(&path).await;
}

#[tokio::test]
async fn synthetic_spread_stays_within_bounds_and_each_count_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_tokenizer(dir.path());
    let spec = race(
        "synthetic",
        "  target_input_tokens: 100\n  synthetic:\n    prompts: 40\n    stddev_tokens: 30\n    min_tokens: 60\n    max_tokens: 140\n",
        &[&path],
    );
    let set = workload::load(&spec, &offline()).await.unwrap();
    let lens: Vec<usize> = (0..40)
        .map(|k| encode_len(&path, &set.for_request(k)))
        .collect();
    assert!(lens.iter().all(|&n| (60..=140).contains(&n)), "{lens:?}");
    assert!(lens.iter().any(|&n| n != 100), "{lens:?}");
}

#[tokio::test]
async fn dataset_prompts_are_selected_by_the_first_engines_tokenizer_and_counted_by_each() {
    let Some(qwen) = qwen3() else { return };
    let dir = tempfile::tempdir().unwrap();
    let small = small_tokenizer(dir.path());
    let spec = race(
        "sharegpt-sample",
        "  target_input_tokens: 30\n  input_tolerance_tokens: 12\n",
        &[&qwen, &small],
    );
    let set = workload::load(&spec, &offline()).await.unwrap();
    assert!(set.len() >= 2, "{}", set.len());
    let mut differ = false;
    for k in 0..set.len() as u64 {
        let prompt = set.for_request(k);
        let q = encode_len(&qwen, &prompt);
        assert!((18..=42).contains(&q), "{q}: {prompt}");
        assert_eq!(set.tokenizer_count(0, k), Some(u32::try_from(q).unwrap()));
        let s = encode_len(&small, &prompt);
        assert_eq!(set.tokenizer_count(1, k), Some(u32::try_from(s).unwrap()));
        differ |= q != s;
    }
    assert!(
        differ,
        "the two tokenizers should count differently somewhere"
    );
}

#[tokio::test]
async fn engines_naming_the_same_tokenizer_share_one_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_tokenizer(dir.path());
    let file = path.display().to_string();
    let folder = dir.path().display().to_string();
    let loaded = tokenizer::load_all(
        &[Some(file.clone()), None, Some(file), Some(folder)],
        &offline().hub,
    )
    .await
    .unwrap();
    let a = loaded[0].as_ref().unwrap();
    assert!(loaded[1].is_none());
    assert!(Arc::ptr_eq(a, loaded[2].as_ref().unwrap()));
    // A folder holding a tokenizer.json works (loaded separately: another name).
    assert_eq!(loaded[3].as_ref().unwrap().count("the harbour").unwrap(), 2);
}

#[tokio::test]
async fn a_hub_model_id_downloads_its_tokenizer_json_once() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(small_tokenizer(dir.path())).unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    let app = axum::Router::new().route(
        "/acme/tiny-model/resolve/main/tokenizer.json",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let bytes = bytes.clone();
            async move { bytes }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let cache = tempfile::tempdir().unwrap();
    let hub = Hub {
        endpoint: format!("http://{addr}"),
        cache_dir: cache.path().to_path_buf(),
        token: None,
        offline: false,
        progress: llm_locust::workload::Progress::Hidden,
    };
    for _ in 0..2 {
        let loaded = tokenizer::load_all(&[Some("acme/tiny-model".to_owned())], &hub)
            .await
            .unwrap();
        assert_eq!(loaded[0].as_ref().unwrap().count("the ships .").unwrap(), 3);
    }
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    assert!(
        cache
            .path()
            .join("models--acme--tiny-model/snapshots/main/tokenizer.json")
            .is_file()
    );
    // Offline and not cached: the promised error.
    let err = tokenizer::load_all(
        &[Some("acme/other".to_owned())],
        &Hub {
            offline: true,
            ..hub
        },
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("tokenizer 'acme/other'") && err.contains("HF_HUB_OFFLINE"),
        "{err}"
    );
}

/// A server that streams an answer without `usage`, so input counts must
/// come from the engine's tokenizer.
async fn no_usage_server() -> String {
    let app = axum::Router::new().fallback(|| async {
        let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n\
                    data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there\"}}]}\n\n\
                    data: [DONE]\n\n";
        axum::response::Response::builder()
            .header("content-type", "text/event-stream")
            .body(axum::body::Body::from(body))
            .unwrap()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenizer_counts_and_their_source_reach_the_csv_and_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let tok = small_tokenizer(tmp.path());
    let url = no_usage_server().await;
    let race = tmp.path().join("race.yaml");
    std::fs::write(
        &race,
        format!(
            "race:\n  name: Tok Race\n  countdown_s: 0\n  duration: 1\n  users: 1\n  spawn_rate: 100\n  \
             dataset: dolly-sample\n  engines:\n    - name: counted\n      url: {url}\n      model: m\n      \
             tokenizer: \"{}\"\n    - name: guessed\n      url: {url}\n      model: m\n",
            tok.display()
        ),
    )
    .unwrap();
    let results = tmp.path().join("out");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_llm-locust"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NO_COLOR", "1")
            .env("HF_HUB_OFFLINE", "1")
            .args(["race", race.to_str().unwrap(), "--no-tui", "--output-dir"])
            .arg(&results)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let results = tmp.path().join("out");
    let dir = common::race_dir(&results);
    let summary = common::summary(&dir);
    let engines = summary["engines"].as_array().unwrap();
    let source = |name: &str| {
        engines.iter().find(|e| e["name"] == name).unwrap()["input_token_source"].clone()
    };
    assert_eq!(source("counted"), "tokenizer");
    assert_eq!(source("guessed"), "estimate");
    // Without usage, answers are counted with the tokenizer ("Hello there"
    // is two words) or, without one, by content chunks.
    let out_source =
        |name: &str| engines.iter().find(|e| e["name"] == name).unwrap()["token_source"].clone();
    assert_eq!(out_source("counted"), "tokenizer");
    assert_eq!(out_source("guessed"), "chunks");
    // Each CSV row's count is the tokenizer's count of that row's prompt.
    let csv_path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("counted-")
        })
        .unwrap();
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (prompt, count, src) = (
        col("input_prompt"),
        col("input_tokens"),
        col("input_tokens_source"),
    );
    let (out_count, out_src) = (col("output_tokens"), col("output_tokens_source"));
    let mut rows = 0;
    for row in reader.records() {
        let row = row.unwrap();
        assert_eq!(&row[src], "tokenizer");
        assert_eq!((&row[out_count], &row[out_src]), ("2", "tokenizer"));
        assert_eq!(
            row[count].parse::<usize>().unwrap(),
            encode_len(&tok, &row[prompt])
        );
        rows += 1;
    }
    assert!(rows > 0);
}

/// A trace's prompts under tokenizers: synthetic ones exact under the first
/// engine's, dataset ones within the tolerance, and every engine's count
/// its own tokenizer's.
async fn assert_trace_prompts(first: &Path, second: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.jsonl");
    let lengths = [30u32, 7, 900, 30, 2500];
    let lines: String = lengths
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "{{\"timestamp\": {}, \"input_length\": {n}, \"output_length\": 4}}\n",
                i * 100
            )
        })
        .collect();
    std::fs::write(&trace, lines).unwrap();
    let spec = race(
        "sharegpt-sample",
        &format!(
            "  input_tolerance_tokens: 10\n  load: {{mode: trace, trace: \"{}\"}}\n",
            trace.display()
        ),
        &[first, second],
    );
    let set = workload::load(&spec, &offline()).await.unwrap();
    assert_eq!(set.cycle_len(), lengths.len());
    let facts = set.trace_facts().unwrap();
    assert_eq!(
        facts.dataset_prompts + facts.synthetic_prompts,
        lengths.len()
    );
    assert!(facts.synthetic_prompts >= 2, "{facts:?}");
    for (k, &n) in lengths.iter().enumerate() {
        let k = k as u64;
        let prompt = set.for_request(k);
        let counted = u32::try_from(encode_len(first, &prompt)).unwrap();
        assert!(counted.abs_diff(n) <= 10, "request {k}: {counted} for {n}");
        assert_eq!(set.tokenizer_count(0, k), Some(counted), "request {k}");
        let own = u32::try_from(encode_len(second, &prompt)).unwrap();
        assert_eq!(set.tokenizer_count(1, k), Some(own), "request {k}");
        assert_eq!(set.max_tokens_for(k), Some(4));
    }
    // The long entries have no sample prompt near them: synthetic, exact.
    for k in [2u64, 4] {
        let n = lengths[k as usize];
        assert_eq!(encode_len(first, &set.for_request(k)), n as usize);
    }
}

#[tokio::test]
async fn trace_prompts_are_exact_or_near_under_a_small_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    let small = small_tokenizer(dir.path());
    assert_trace_prompts(&small, &small).await;
}

#[tokio::test]
async fn trace_prompts_are_exact_or_near_under_qwen3_and_counted_by_each() {
    let Some(qwen) = qwen3() else { return };
    let dir = tempfile::tempdir().unwrap();
    let small = small_tokenizer(dir.path());
    assert_trace_prompts(&qwen, &small).await;
}
