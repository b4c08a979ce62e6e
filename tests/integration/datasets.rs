//! Datasets from the Hugging Face hub, served by a local stand-in for the hub
//! (`HF_ENDPOINT` pointed at it): download, cache, reload without a request,
//! a download cut short, offline mode; shipped samples; malformed files.

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use llm_locust::config::{self, RaceSpec};
use llm_locust::workload::hub::Hub;
use llm_locust::workload::{self, LoadOptions, PublicDataset};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

/// A Parquet file shaped like BillSum's (text, summary, title).
fn billsum_parquet(rows: &[(String, String, String)]) -> Vec<u8> {
    let schema = Arc::new(
        parse_message_type(
            "message schema { OPTIONAL BYTE_ARRAY text (UTF8); OPTIONAL BYTE_ARRAY summary (UTF8); OPTIONAL BYTE_ARRAY title (UTF8); }",
        )
        .unwrap(),
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let mut buf = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut buf, schema, props).unwrap();
    let mut group = writer.next_row_group().unwrap();
    for col in 0..3 {
        let mut column = group.next_column().unwrap().unwrap();
        let values: Vec<ByteArray> = rows
            .iter()
            .map(|r| ByteArray::from([&r.0, &r.1, &r.2][col].as_str()))
            .collect();
        let levels = vec![1i16; rows.len()];
        column
            .typed::<ByteArrayType>()
            .write_batch(&values, Some(&levels), None)
            .unwrap();
        column.close().unwrap();
    }
    group.close().unwrap();
    writer.close().unwrap();
    buf
}

/// The bills of `datasets/billsum-sample.parquet`: written for llm-locust,
/// in the style of BillSum's US Congress bills.
fn sample_bills() -> Vec<(String, String, String)> {
    let subjects = [
        (
            "Rural Broadband Access",
            "broadband internet service",
            "the Secretary of Agriculture",
        ),
        (
            "Harbor Customs Modernization",
            "customs processing at seaports",
            "the Commissioner of U.S. Customs and Border Protection",
        ),
        (
            "Community Library Renewal",
            "public library buildings",
            "the Director of the Institute of Museum and Library Services",
        ),
        (
            "Wildfire Smoke Preparedness",
            "clean air shelters during wildfire smoke events",
            "the Administrator of the Environmental Protection Agency",
        ),
        (
            "Small Bakery Energy Efficiency",
            "energy efficient ovens for small food businesses",
            "the Secretary of Energy",
        ),
        (
            "Coastal Lighthouse Preservation",
            "historic lighthouses",
            "the Secretary of the Interior",
        ),
    ];
    subjects
        .iter()
        .enumerate()
        .map(|(i, (name, what, officer))| {
            let year = 2031 + i;
            let text = format!(
                "SECTION 1. SHORT TITLE.\n\n    This Act may be cited as the ``{name} Act''.\n\n\
                 SEC. 2. FINDINGS.\n\n    Congress finds the following:\n        (1) Access to {what} \
                 varies widely between States and between urban and rural communities.\n        (2) \
                 Communities with the least access report the longest delays and the highest costs.\n        \
                 (3) Federal support has been spread across several programs with different rules, which \
                 makes it hard for small applicants to take part.\n\n\
                 SEC. 3. GRANT PROGRAM.\n\n    (a) In General.--{officer} shall establish a program to award \
                 grants to eligible entities for {what}.\n    (b) Eligible Entities.--An entity is eligible \
                 if it is a State, a unit of local government, an Indian tribe, or a nonprofit organization \
                 serving a community described in section 2(2).\n    (c) Priority.--In awarding grants, \
                 {officer} shall give priority to applications that serve communities with the least access \
                 and that include a plan to measure results.\n    (d) Limitation.--A grant under this \
                 section may not exceed $2,000,000.\n\n\
                 SEC. 4. REPORTS.\n\n    Not later than 1 year after the date of enactment of this Act, and \
                 annually thereafter, {officer} shall submit to Congress a report on the grants awarded, the \
                 communities served, and the measured results.\n\n\
                 SEC. 5. AUTHORIZATION OF APPROPRIATIONS.\n\n    There are authorized to be appropriated to \
                 carry out this Act $50,000,000 for each of fiscal years {year} through {}.",
                year + 4
            );
            let summary = format!(
                "{name} Act This bill directs {officer} to award grants for {what}, giving priority to \
                 communities with the least access, and requires annual reports to Congress."
            );
            (text, summary, format!("{name} Act"))
        })
        .collect()
}

/// Regenerates `datasets/billsum-sample.parquet` (run with `--ignored`).
#[test]
#[ignore = "writes datasets/billsum-sample.parquet"]
fn regenerate_billsum_sample() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/billsum-sample.parquet");
    std::fs::write(path, billsum_parquet(&sample_bills())).unwrap();
}

// ---------------------------------------------------------------------------
// A stand-in for the hub

#[derive(Default)]
struct HubState {
    files: HashMap<String, Vec<u8>>,
    requests: AtomicUsize,
    /// Requests that followed a redirect to the "CDN".
    cdn_requests: AtomicUsize,
    /// Authorization headers seen on CDN requests (must stay empty).
    cdn_authorization: Mutex<Vec<String>>,
    /// `http://localhost:<port>`: a different host for the CDN redirect.
    cdn_base: std::sync::OnceLock<String>,
    /// Requests still to be cut off halfway through the body.
    truncate: AtomicUsize,
    authorization: Mutex<Vec<String>>,
}

async fn serve_file(State(state): State<Arc<HubState>>, uri: Uri, headers: HeaderMap) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_cdn = uri.path().starts_with("/cdn/");
    let path = match uri.path().strip_prefix("/cdn") {
        Some(path) => {
            state.cdn_requests.fetch_add(1, Ordering::SeqCst);
            state.cdn_authorization.lock().unwrap().extend(auth);
            path.to_owned()
        }
        None => {
            state.requests.fetch_add(1, Ordering::SeqCst);
            state.authorization.lock().unwrap().extend(auth);
            // Like the hub for large (LFS) files: the commit on a redirect
            // to another host.
            if uri.path().ends_with(".json") && uri.path().contains("ShareGPT") {
                let cdn = state.cdn_base.get().unwrap();
                return Response::builder()
                    .status(StatusCode::FOUND)
                    .header("x-repo-commit", "0123456789abcdef0123456789abcdef01234567")
                    .header("location", format!("{cdn}/cdn{}", uri.path()))
                    .body(Body::empty())
                    .unwrap();
            }
            uri.path().to_owned()
        }
    };
    let Some(bytes) = state.files.get(&path).cloned() else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::empty())
            .unwrap();
    };
    let len = bytes.len();
    let body = if state
        .truncate
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        // Half the body, a pause (so the headers and the first half reach
        // the client), then the connection drops.
        let half = bytes::Bytes::from(bytes[..len / 2].to_vec());
        let chunks = futures_util::stream::unfold(0u8, move |step| {
            let half = half.clone();
            async move {
                match step {
                    0 => Some((Ok(half), 1)),
                    1 => {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        Some((
                            Err(std::io::Error::new(
                                std::io::ErrorKind::ConnectionReset,
                                "cut",
                            )),
                            2,
                        ))
                    }
                    _ => None,
                }
            }
        });
        Body::from_stream(chunks)
    } else {
        Body::from(bytes)
    };
    let mut response = Response::builder().header("content-length", len);
    if !from_cdn {
        response = response.header("x-repo-commit", "0123456789abcdef0123456789abcdef01234567");
    }
    response.body(body).unwrap()
}

async fn start_hub(files: HashMap<String, Vec<u8>>) -> (String, Arc<HubState>) {
    let state = Arc::new(HubState {
        files,
        ..HubState::default()
    });
    let app = axum::Router::new()
        .fallback(serve_file)
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    state
        .cdn_base
        .set(format!("http://localhost:{}", addr.port()))
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), state)
}

fn sharegpt_fixture() -> Vec<u8> {
    let mut items: Vec<serde_json::Value> = (0..30)
        .map(|i| {
            serde_json::json!({
                "id": format!("c{i}"),
                "conversations": [
                    {"from": "human", "value": format!("Question number {i}: {}", "why is the sky blue? ".repeat(i % 7 + 1))},
                    {"from": "gpt", "value": "Because of Rayleigh scattering."}
                ]
            })
        })
        .collect();
    // Records without a human turn are skipped and counted.
    items
        .push(serde_json::json!({"id": "bad1", "conversations": [{"from": "gpt", "value": "hi"}]}));
    items.push(serde_json::json!({"id": "bad2"}));
    serde_json::to_vec(&items).unwrap()
}

fn dolly_fixture() -> Vec<u8> {
    let mut out = String::new();
    for i in 0..20 {
        let context = if i % 2 == 0 {
            format!("Context for item {i}.")
        } else {
            String::new()
        };
        out.push_str(
            &serde_json::json!({"instruction": format!("Instruction {i}"), "context": context, "response": "r", "category": "open_qa"})
                .to_string(),
        );
        out.push('\n');
    }
    out.push_str("{not json\n");
    out.into_bytes()
}

fn all_fixtures() -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    for d in PublicDataset::ALL {
        let f = d.hub_file();
        let body = match d {
            PublicDataset::ShareGpt => sharegpt_fixture(),
            PublicDataset::Dolly => dolly_fixture(),
            PublicDataset::BillSum => billsum_parquet(&sample_bills()),
        };
        files.insert(
            format!("/datasets/{}/resolve/main/{}", f.repo, f.path),
            body,
        );
    }
    files
}

fn hub(endpoint: &str, cache: &Path, offline: bool) -> LoadOptions {
    LoadOptions {
        hub: Hub {
            endpoint: endpoint.to_owned(),
            cache_dir: cache.to_path_buf(),
            token: Some("hf_test_secret".to_owned()),
            offline,
            progress: llm_locust::workload::Progress::Hidden,
        },
    }
}

fn race_with(dataset: &str, extra: &str) -> RaceSpec {
    config::parse_race(
        &format!(
            "race:\n  name: t\n  dataset: {dataset}\n{extra}  engines:\n    - name: a\n      model: m\n      simulate:\n"
        ),
        Path::new("t.yaml"),
    )
    .unwrap()
}

/// Every regular file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn each_public_dataset_downloads_caches_and_reloads_without_a_request() {
    let (endpoint, state) = start_hub(all_fixtures()).await;
    let cache = tempfile::tempdir().unwrap();
    let expected = [("sharegpt", 30, 2), ("dolly", 20, 1), ("billsum", 6, 0)];
    for (name, prompts, skipped) in expected {
        let before = state.requests.load(Ordering::SeqCst);
        let spec = race_with(name, "");
        let set = workload::load(&spec, &hub(&endpoint, cache.path(), false))
            .await
            .unwrap();
        assert_eq!((set.len(), set.skipped), (prompts, skipped), "{name}");
        assert_eq!(set.dataset, name);
        assert_eq!(state.requests.load(Ordering::SeqCst), before + 1, "{name}");

        // Again: from the cache, without a request; offline works too.
        let again = workload::load(&spec, &hub(&endpoint, cache.path(), false))
            .await
            .unwrap();
        let offline = workload::load(&spec, &hub("http://127.0.0.1:9", cache.path(), true))
            .await
            .unwrap();
        assert_eq!(state.requests.load(Ordering::SeqCst), before + 1, "{name}");
        assert_eq!(again.for_request(3), set.for_request(3));
        assert_eq!(offline.for_request(5), set.for_request(5));
    }
    // The token is sent as a bearer token and never lands in the cache.
    let auth = state.authorization.lock().unwrap().clone();
    assert_eq!(auth.len(), 3);
    assert!(auth.iter().all(|a| a == "Bearer hf_test_secret"));
    // ShareGPT came through a redirect to another host, without the token.
    assert_eq!(state.cdn_requests.load(Ordering::SeqCst), 1);
    assert!(state.cdn_authorization.lock().unwrap().is_empty());
    for f in files_under(cache.path()) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("hf_test_secret"),
            "{}",
            f.display()
        );
    }
    // The hub's cache layout: refs/main names the commit the file is under
    // (for ShareGPT, the commit came on the redirect, not the CDN's answer).
    let repo = cache
        .path()
        .join("datasets--anon8231489123--ShareGPT_Vicuna_unfiltered");
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/main")).unwrap(),
        "0123456789abcdef0123456789abcdef01234567"
    );
}

#[tokio::test]
async fn selected_prompts_carry_the_billsum_framing_and_dolly_context() {
    let (endpoint, _state) = start_hub(all_fixtures()).await;
    let cache = tempfile::tempdir().unwrap();
    let opts = hub(&endpoint, cache.path(), false);
    let set = workload::load(&race_with("billsum", ""), &opts)
        .await
        .unwrap();
    assert!(
        set.for_request(0)
            .starts_with("Summarize this legislative bill:\n\nSECTION 1.")
    );
    let set = workload::load(&race_with("dolly", ""), &opts)
        .await
        .unwrap();
    let all: Vec<_> = (0..set.len() as u64).map(|k| set.for_request(k)).collect();
    assert!(
        all.iter()
            .any(|p| p.as_ref() == "Instruction 2\n\nContext for item 2.")
    );
    assert!(all.iter().any(|p| p.as_ref() == "Instruction 3"));
}

#[tokio::test]
async fn a_download_cut_short_is_an_error_and_leaves_no_cache_entry() {
    let (endpoint, state) = start_hub(all_fixtures()).await;
    let cache = tempfile::tempdir().unwrap();
    for name in ["sharegpt", "dolly", "billsum"] {
        state.truncate.store(1, Ordering::SeqCst);
        let spec = race_with(name, "");
        let err = workload::load(&spec, &hub(&endpoint, cache.path(), false))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("broke off") && err.contains("run again"),
            "{err}"
        );
        // Nothing counts as cached: not the partial file, not a temp file.
        let dataset = PublicDataset::from_name(name).unwrap();
        let left: Vec<PathBuf> = files_under(cache.path())
            .into_iter()
            .filter(|p| {
                p.to_string_lossy()
                    .contains(&dataset.hub_file().repo.replace('/', "--"))
            })
            .collect();
        assert!(left.is_empty(), "{left:?}");
        let offline = workload::load(&spec, &hub(&endpoint, cache.path(), true)).await;
        assert!(offline.is_err());
        // The next try downloads it whole.
        let set = workload::load(&spec, &hub(&endpoint, cache.path(), false))
            .await
            .unwrap();
        assert!(!set.is_empty());
    }
}

#[tokio::test]
async fn offline_without_a_cache_says_what_to_do() {
    let cache = tempfile::tempdir().unwrap();
    let err = workload::load(
        &race_with("sharegpt", ""),
        &hub("http://127.0.0.1:9", cache.path(), true),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(!err.contains('\n'), "{err}");
    for part in [
        "dataset 'sharegpt'",
        "HF_HUB_OFFLINE",
        "without HF_HUB_OFFLINE",
        "dataset: sharegpt-sample",
    ] {
        assert!(err.contains(part), "missing {part:?} in: {err}");
    }
}

#[tokio::test]
async fn a_missing_file_on_the_hub_is_a_clear_error() {
    let (endpoint, _state) = start_hub(HashMap::new()).await;
    let cache = tempfile::tempdir().unwrap();
    let err = workload::load(
        &race_with("dolly", ""),
        &hub(&endpoint, cache.path(), false),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("databricks-dolly-15k.jsonl") && err.contains("404"),
        "{err}"
    );
}

#[tokio::test]
async fn shipped_samples_load_by_name_without_the_network() {
    let cache = tempfile::tempdir().unwrap();
    for name in ["sharegpt-sample", "dolly-sample", "billsum-sample", "demo"] {
        let set = workload::load(
            &race_with(name, ""),
            &hub("http://127.0.0.1:9", cache.path(), true),
        )
        .await
        .unwrap();
        assert!(set.len() >= 6, "{name}: {}", set.len());
        assert_eq!(set.skipped, 0, "{name}");
    }
}

#[test]
fn the_billsum_sample_is_what_the_generator_writes() {
    // Keeps the shipped binary sample honest: its rows are the generator's.
    let records = llm_locust::workload::read_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/billsum-sample.parquet"),
    )
    .unwrap();
    let expected: Vec<String> = sample_bills()
        .into_iter()
        .map(|(text, _, _)| format!("Summarize this legislative bill:\n\n{}", text.trim()))
        .collect();
    assert_eq!(records.prompts, expected);
}

#[tokio::test]
async fn sample_files_by_path_are_read_in_their_own_format() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets");
    let cache = tempfile::tempdir().unwrap();
    let opts = hub("http://127.0.0.1:9", cache.path(), true);
    for file in [
        "sharegpt-sample.json",
        "dolly-sample.jsonl",
        "billsum-sample.parquet",
    ] {
        let path = dir.join(file);
        let spec = race_with(&path.display().to_string(), "");
        let by_path = workload::load(&spec, &opts).await.unwrap();
        let name = file.split('.').next().unwrap();
        let by_name = workload::load(&race_with(name, ""), &opts).await.unwrap();
        assert_eq!(by_path.len(), by_name.len(), "{file}");
        assert_eq!(by_path.for_request(0), by_name.for_request(0), "{file}");
    }
}

#[tokio::test]
async fn malformed_files_skip_bad_records_or_name_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let opts = hub("http://127.0.0.1:9", cache.path(), true);
    let mixed = dir.path().join("mixed.jsonl");
    std::fs::write(
        &mixed,
        "{\"prompt\": \"one\"}\n{broken\n{\"instruction\": \"two\"}\n[1,2]\n",
    )
    .unwrap();
    let set = workload::load(&race_with(&mixed.display().to_string(), ""), &opts)
        .await
        .unwrap();
    assert_eq!((set.len(), set.skipped), (2, 2));

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "\n{\"text\": \"no prompt\"}\n").unwrap();
    let err = workload::load(&race_with(&bad.display().to_string(), ""), &opts)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad.jsonl") && err.contains("line 2") && err.contains("'prompt'"),
        "{err}"
    );

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "[\n {\"prompt\": \"a\"},\n {\"prompt\": \n").unwrap();
    let err = workload::load(&race_with(&broken.display().to_string(), ""), &opts)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("broken.json") && err.contains("line 4"),
        "{err}"
    );
}

#[tokio::test]
async fn target_length_selection_without_a_tokenizer_uses_the_estimate() {
    let cache = tempfile::tempdir().unwrap();
    let opts = hub("http://127.0.0.1:9", cache.path(), true);
    let spec = race_with(
        "billsum-sample",
        "  target_input_tokens: 400\n  input_tolerance_tokens: 150\n",
    );
    let set = workload::load(&spec, &opts).await.unwrap();
    for k in 0..set.len() as u64 {
        let n = workload::estimate_tokens(&set.for_request(k));
        assert!((250..=550).contains(&n), "{n}");
        assert_eq!(set.tokenizer_count(0, k), None);
    }
    let spec = race_with("dolly-sample", "  target_input_tokens: 4096\n");
    let err = workload::load(&spec, &opts).await.unwrap_err().to_string();
    assert!(
        err.contains("4096 +/- 50") && err.contains("estimated"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// The real binary

fn bin(home: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_llm-locust"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("HF_HOME", home)
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_TOKEN")
        .env_remove("HF_ENDPOINT")
        .env_remove("HF_HUB_OFFLINE");
    cmd
}

const QUICK: &str = "race:\n  name: Dataset Race\n  countdown_s: 0\n  duration: 1\n  users: 2\n  spawn_rate: 100\n  dataset: sharegpt\n  engines:\n    - name: alpha\n      max_tokens: 4\n      simulate: {ttft_ms: 5, tpot_ms: 2, jitter: 0}\n";

#[test]
fn the_binary_offline_without_a_cache_exits_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let race = tmp.path().join("race.yaml");
    std::fs::write(&race, QUICK).unwrap();
    let out = bin(tmp.path())
        .env("HF_HUB_OFFLINE", "1")
        .args(["race", race.to_str().unwrap(), "--no-tui", "--no-save"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("HF_HUB_OFFLINE") && lines[0].contains("sharegpt-sample"),
        "{stderr}"
    );
}

#[test]
fn the_dataset_option_overrides_the_file_and_skipped_records_reach_the_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let race = tmp.path().join("race.yaml");
    std::fs::write(&race, QUICK).unwrap();
    let data = tmp.path().join("mixed.jsonl");
    std::fs::write(
        &data,
        "{\"prompt\": \"Tell me a story.\"}\nnot json\n{\"prompt\": \"\"}\n{\"prompt\": \"Why?\"}\n",
    )
    .unwrap();
    let results = tmp.path().join("out");
    let out = bin(tmp.path())
        .env("HF_HUB_OFFLINE", "1")
        .args([
            "race",
            race.to_str().unwrap(),
            "--no-tui",
            "--dataset",
            data.to_str().unwrap(),
            "--output-dir",
            results.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // Said once, plainly, with where the first bad record is and how it
    // starts; no log line beside it.
    assert!(
        stderr.contains(
            "note: 2 dataset records could not be read and were skipped \
             (the first: line 2: not JSON (from column 2): \"not json\")"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("WARN") && !stderr.contains('\u{1b}'),
        "{stderr}"
    );
    let dir = common::race_dir(&results);
    let summary = common::summary(&dir);
    assert_eq!(summary["workload"]["skipped_records"], 2);
    assert_eq!(summary["workload"]["prompts"], 2);
    assert_eq!(summary["workload"]["dataset"], data.to_str().unwrap());

    // A bad --dataset is bad input: one line, exit 2.
    let out = bin(tmp.path())
        .args([
            "race",
            race.to_str().unwrap(),
            "--no-tui",
            "--no-save",
            "--dataset",
            "nope.jsonl",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--dataset") && stderr.contains("nope.jsonl"),
        "{stderr}"
    );
}

#[test]
fn the_standard_benchmark_races_name_their_datasets_and_lengths() {
    use llm_locust::config::DatasetSpec;
    let races = Path::new(env!("CARGO_MANIFEST_DIR")).join("races");
    for (file, dataset, input, output) in [
        ("1a-chat.yaml", "sharegpt", 256, 128),
        ("1b-rag.yaml", "billsum", 4096, 512),
        ("1c-code.yaml", "synthetic", 512, 512),
    ] {
        let spec = config::load_race_file(&races.join(file)).unwrap();
        assert_eq!(
            spec.dataset,
            DatasetSpec::from_name(dataset).unwrap(),
            "{file}"
        );
        assert_eq!(spec.target_input_tokens, Some(input), "{file}");
        assert_eq!(spec.target_output_tokens, Some(output), "{file}");
        assert!(
            spec.engines
                .iter()
                .all(|e| e.tokenizer.is_some() && e.ignore_eos),
            "{file}"
        );
        assert!(
            spec.engines.iter().all(|e| e.max_tokens == Some(output)),
            "{file}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_honours_hf_endpoint_token_home_and_offline() {
    let (endpoint, state) = start_hub(all_fixtures()).await;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("hf");
    let race = tmp.path().join("race.yaml");
    std::fs::write(&race, QUICK.replace("dataset: sharegpt", "dataset: dolly")).unwrap();
    let results = tmp.path().join("out");
    let run = |offline: bool| {
        let mut cmd = bin(&home);
        cmd.env("HF_ENDPOINT", &endpoint)
            .env("HF_TOKEN", "hf_env_secret_123")
            .args(["race", race.to_str().unwrap(), "--no-tui", "--output-dir"])
            .arg(&results);
        if offline {
            cmd.env("HF_HUB_OFFLINE", "1");
        }
        cmd
    };
    let (mut online, mut offline) = (run(false), run(true));
    let first = tokio::task::spawn_blocking(move || online.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(state.requests.load(Ordering::SeqCst), 1);
    assert_eq!(
        state.authorization.lock().unwrap().as_slice(),
        ["Bearer hf_env_secret_123".to_owned()]
    );
    // HF_HOME/hub is the cache.
    assert!(
        home.join("hub/datasets--databricks--databricks-dolly-15k/snapshots")
            .is_dir()
    );
    let second = tokio::task::spawn_blocking(move || offline.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(
        state.requests.load(Ordering::SeqCst),
        1,
        "offline must not ask the hub"
    );
    // The token is in no file the races wrote, nor in their output.
    for f in files_under(tmp.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(!text.contains("hf_env_secret_123"), "{}", f.display());
    }
    for out in [&first, &second] {
        assert!(!String::from_utf8_lossy(&out.stderr).contains("hf_env_secret_123"));
        assert!(!String::from_utf8_lossy(&out.stdout).contains("hf_env_secret_123"));
    }
}
