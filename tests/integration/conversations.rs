//! Conversations over real HTTP: turn k resends turns 1..k−1 exactly (the
//! recorded answers, identical for every engine; or each engine's own),
//! after the think time; shards split them whole; per-turn figures follow
//! a simulator whose prefill cost is known; the prefix cache's hit rate is
//! the simulator's truth; prefix groups and `extra_body` arrive as set.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::post;
use llm_locust::config::{RaceSpec, SimSpec};
use llm_locust::metrics::RequestRecord;
use llm_locust::metrics::snapshot::LaneSnapshot;
use llm_locust::workload;
use serde_json::Value;

use crate::common::{offline, run_with, serve_sim, spec};

/// A chat server that keeps every body it is sent and answers each with
/// "`name` answer n".
#[derive(Clone)]
struct Recorder {
    name: &'static str,
    bodies: Arc<Mutex<Vec<Value>>>,
}

async fn answer(State(r): State<Recorder>, body: String) -> impl IntoResponse {
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let n = {
        let mut bodies = r.bodies.lock().unwrap();
        bodies.push(json);
        bodies.len()
    };
    let content = format!("{} answer {n}", r.name);
    let chunk = serde_json::json!({"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]});
    let last = serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 10, "completion_tokens": 3}});
    (
        [("content-type", "text/event-stream")],
        format!("data: {chunk}\n\ndata: {last}\n\ndata: [DONE]\n\n"),
    )
}

/// Starts a recorder; returns it and its base URL.
async fn recorder(name: &'static str) -> (Recorder, String) {
    let r = Recorder {
        name,
        bodies: Arc::default(),
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(answer))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (r, url)
}

/// Loads the race's workload and runs it; its records and final lanes.
async fn race(spec: &RaceSpec) -> (Vec<RequestRecord>, Vec<LaneSnapshot>) {
    let prompts = workload::load(spec, &offline())
        .await
        .expect("workload loads");
    let (outcome, records) = run_with(spec, prompts, Duration::from_secs(60)).await;
    (records, outcome.snapshot.lanes.clone())
}

/// The messages of a body, as (role, content).
fn messages(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn two_engines(a: &str, b: &str, conversation: &str) -> RaceSpec {
    spec(&format!(
        "race:\n  name: conv\n  countdown_s: 0\n  dataset: synthetic\n  target_input_tokens: 20\n  target_output_tokens: 6\n  system_prompt: \"You are terse.\"\n  conversation: {conversation}\n  users: 1\n  finish: {{requests: 9}}\n  engines:\n    - {{name: a, url: {a}, model: m}}\n    - {{name: b, url: {b}, model: m}}\n"
    ))
}

/// Each body resends the one before it, answered: the history grows by
/// exactly one turn. Returns the answers it resent.
fn assert_each_turn_resends_the_last(bodies: &[Value], turns: usize) -> Vec<String> {
    let mut resent = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let m = messages(body);
        let turn = i % turns;
        assert_eq!(m.len(), 2 + 2 * turn, "turn {}: {m:?}", turn + 1);
        assert_eq!(m[0], ("system".to_owned(), "You are terse.".to_owned()));
        if turn > 0 {
            let before = messages(&bodies[i - 1]);
            assert_eq!(
                m[..before.len()],
                before[..],
                "turn {} resends turn {}",
                turn + 1,
                turn
            );
            let (role, answer) = &m[before.len()];
            assert_eq!(role, "assistant");
            resent.push(answer.clone());
        }
    }
    resent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_history_is_the_same_for_every_engine_and_think_time_is_kept() {
    let ((a, a_url), (b, b_url)) = (recorder("A").await, recorder("B").await);
    let spec = two_engines(&a_url, &b_url, "{turns: 3, think_time_s: 0.15}");
    let (records, lanes) = race(&spec).await;
    // The finish line is 9 requests: three whole conversations (a fourth
    // may start as the line is crossed).
    let first_nine = |r: &Recorder| r.bodies.lock().unwrap()[..9].to_vec();
    let (a_bodies, b_bodies) = (first_nine(&a), first_nine(&b));
    let strip = |bodies: &[Value]| bodies.iter().map(messages).collect::<Vec<_>>();
    assert_eq!(
        strip(&a_bodies),
        strip(&b_bodies),
        "byte-identical prompts in both lanes"
    );
    let resent = assert_each_turn_resends_the_last(&a_bodies, 3);
    assert!(
        resent.iter().all(|r| !r.contains("answer")),
        "the recorded answers, not the server's: {resent:?}"
    );
    // Conversations open differently.
    let firsts: BTreeSet<String> = a_bodies
        .iter()
        .step_by(3)
        .map(|b| messages(b)[1].1.clone())
        .collect();
    assert_eq!(firsts.len(), 3);
    // Turn k is scheduled the think time after turn k−1 ended.
    let mut by_conversation: BTreeMap<(usize, u64), Vec<&RequestRecord>> = BTreeMap::new();
    for r in &records {
        let c = r.conversation.expect("every request is a turn");
        if c.id < 3 {
            by_conversation.entry((r.engine, c.id)).or_default().push(r);
        }
    }
    assert_eq!(by_conversation.len(), 6);
    for turns in by_conversation.values_mut() {
        turns.sort_by_key(|r| r.conversation.unwrap().turn);
        assert_eq!(
            turns
                .iter()
                .map(|r| r.conversation.unwrap().turn)
                .collect::<Vec<_>>(),
            [1, 2, 3]
        );
        for pair in turns.windows(2) {
            let pause = pair[1].scheduled_at.saturating_sub(pair[0].end_at);
            assert!(
                (Duration::from_millis(150)..Duration::from_millis(250)).contains(&pause),
                "think time {pause:?}"
            );
        }
    }
    for lane in &lanes {
        let b = lane.breakdown.as_ref().unwrap();
        let c = b.conversations.unwrap();
        assert_eq!(c.completed, 3, "{}", lane.name);
        assert_eq!(c.started, c.completed + c.stopped, "{}", lane.name);
        let turns: Vec<&str> = b.by_turn.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(turns, ["1", "2", "3"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_history_resends_each_engines_own_answers() {
    let ((a, a_url), (b, b_url)) = (recorder("A").await, recorder("B").await);
    let spec = two_engines(&a_url, &b_url, "{turns: 3, history: own}");
    race(&spec).await;
    for (who, r) in [("A", &a), ("B", &b)] {
        // Three whole conversations (a fourth may start as the finish line
        // is crossed, and have sent its second turn before the stop).
        let bodies = r.bodies.lock().unwrap()[..9].to_vec();
        let resent = assert_each_turn_resends_the_last(&bodies, 3);
        assert_eq!(resent.len(), 6);
        assert!(
            resent
                .iter()
                .all(|answer| answer.starts_with(&format!("{who} answer "))),
            "{who} gets its own answers back: {resent:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_split_conversations_whole() {
    let (_a, a_url) = recorder("A").await;
    let mut ids = Vec::new();
    for index in 0..2 {
        let mut spec = spec(&format!(
            "race:\n  name: conv\n  countdown_s: 0\n  dataset: synthetic\n  conversation: {{turns: 2}}\n  users: 2\n  finish: {{requests: 8}}\n  engines:\n    - {{name: a, url: {a_url}, model: m, max_tokens: 4}}\n"
        ));
        spec.set_shard(llm_locust::config::Shard { index, count: 2 })
            .unwrap();
        let (records, _) = race(&spec).await;
        let mut turns: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        for r in &records {
            let c = r.conversation.unwrap();
            turns.entry(c.id).or_default().push(c.turn);
        }
        for t in turns.values_mut() {
            t.sort_unstable();
            assert_eq!(t[0], 1, "a conversation starts in the shard that runs it");
        }
        ids.push(turns.keys().copied().collect::<BTreeSet<u64>>());
    }
    assert!(!ids[0].is_empty() && !ids[1].is_empty());
    assert!(ids[0].is_disjoint(&ids[1]), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_turn_figures_follow_the_prefill_and_the_hit_rate_is_the_servers_truth() {
    let sim = |cache| {
        serve_sim(SimSpec {
            ttft: Duration::from_millis(5),
            tpot: Duration::from_millis(1),
            jitter: 0.0,
            prefill_per_token: Duration::from_micros(500),
            prefix_cache_tokens: cache,
            ..SimSpec::default()
        })
    };
    let (plain, cached) = (sim(None).await, sim(Some(1_000_000)).await);
    let spec = spec(&format!(
        "race:\n  name: conv\n  countdown_s: 0\n  dataset: synthetic\n  target_input_tokens: 200\n  target_output_tokens: 100\n  conversation: {{turns: 4}}\n  users: 1\n  finish: {{requests: 12}}\n  engines:\n    - {{name: plain, url: {}, model: m}}\n    - {{name: cached, url: {}, model: m}}\n",
        plain.base_url(),
        cached.base_url()
    ));
    let (records, lanes) = race(&spec).await;
    // Without a cache, turn k's TTFT is 5 ms plus 0.5 ms per prompt token,
    // and its prompt holds every earlier turn.
    let plain_turns: BTreeMap<u32, Vec<&RequestRecord>> = records
        .iter()
        .filter(|r| r.engine == 0)
        .fold(BTreeMap::new(), |mut m, r| {
            m.entry(r.conversation.unwrap().turn).or_default().push(r);
            m
        });
    let by_turn = &lanes[0].breakdown.as_ref().unwrap().by_turn;
    assert_eq!(by_turn.len(), 4);
    for (row, (turn, reqs)) in by_turn.iter().zip(&plain_turns) {
        assert_eq!(row.label, turn.to_string());
        let mut expected: Vec<f64> = reqs
            .iter()
            .map(|r| 5.0 + 0.5 * f64::from(r.input_tokens))
            .collect();
        expected.sort_by(f64::total_cmp);
        crate::common::assert_close_ms(
            &format!("turn {turn} TTFT p50"),
            row.ttft.p50,
            expected[expected.len() / 2],
        );
    }
    assert!(
        plain_turns[&4][0].input_tokens > plain_turns[&1][0].input_tokens + 3 * 100,
        "turn 4 resends three answers"
    );
    // With one, the lane's hit rate is the simulator's, and later turns
    // are cheaper than the first.
    let truth = cached.stats();
    let c = lanes[1]
        .prompt_cache
        .as_ref()
        .expect("the simulator reports its cache");
    assert_eq!(
        (c.prompt_tokens, c.cached_tokens),
        (truth.prompt_tokens, truth.cached_tokens)
    );
    assert!(c.hit_rate > 0.4, "{}", c.hit_rate);
    let cached_turns = &lanes[1].breakdown.as_ref().unwrap().by_turn;
    assert!(
        cached_turns[3].ttft.p50 < by_turn[3].ttft.p50 / 2,
        "a hit saves most of the prefill"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_groups_and_extra_body_keys_arrive_as_set() {
    let (a, a_url) = recorder("A").await;
    let spec = spec(&format!(
        "race:\n  name: agents\n  countdown_s: 0\n  dataset: synthetic\n  target_input_tokens: 10\n  prefix: {{groups: 3, tokens: 40}}\n  tools: [{{type: function, function: {{name: lookup, parameters: {{type: object}}}}}}]\n  tool_choice: auto\n  extra_body: {{top_p: 0.5, chat_template_kwargs: {{enable_thinking: false}}}}\n  users: 1\n  finish: {{requests: 12}}\n  engines:\n    - {{name: a, url: {a_url}, model: m, max_tokens: 4, extra_body: {{top_p: 0.9}}}}\n"
    ));
    race(&spec).await;
    let bodies = a.bodies.lock().unwrap().clone();
    let mut systems = BTreeSet::new();
    for body in &bodies {
        assert_eq!(body["top_p"], 0.9, "the engine's key wins: {body}");
        assert_eq!(body["chat_template_kwargs"]["enable_thinking"], false);
        assert_eq!(body["tools"][0]["function"]["name"], "lookup");
        assert_eq!(body["tool_choice"], "auto");
        assert_eq!(body["max_tokens"], 4);
        assert_eq!(body["stream"], true);
        let m = messages(body);
        assert_eq!((m.len(), m[0].0.as_str()), (2, "system"));
        assert_eq!(workload::estimate_tokens(&m[0].1), 40, "exactly 40 tokens");
        systems.insert(m[0].1.clone());
    }
    assert_eq!(systems.len(), 3, "every group is drawn");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_group_re_encodes_to_exactly_its_tokens_under_a_real_tokenizer() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/tokenizers/qwen3/tokenizer.json");
    if !path.is_file() {
        eprintln!(
            "skipped: the Qwen3 tokenizer fixture is not at {}",
            path.display()
        );
        return;
    }
    let spec = spec(&format!(
        "race:\n  name: agents\n  dataset: synthetic\n  prefix: {{groups: 4, tokens: 2000}}\n  engines:\n    - {{name: a, simulate: {{}}, tokenizer: {}}}\n",
        path.display()
    ));
    let prompts = workload::load(&spec, &offline()).await.unwrap();
    let tok = tokenizers::Tokenizer::from_file(&path).unwrap();
    assert_eq!(prompts.prefix_groups().len(), 4);
    for group in prompts.prefix_groups() {
        assert_eq!(tok.encode(&**group, false).unwrap().len(), 2000);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_conversations_end_at_the_context_limit_or_at_a_failed_turn() {
    let sim = |error_rate| {
        serve_sim(SimSpec {
            ttft: Duration::from_millis(5),
            tpot: Duration::from_millis(1),
            error_rate,
            ..SimSpec::default()
        })
    };
    let (ok, faulty) = (sim(0.0).await, sim(0.4).await);
    // Turn 1 holds 24 tokens (system 4, message 20), turn 2 24 + 6 + 20 =
    // 50, turn 3 would hold 76: over the limit of 60.
    let spec = spec(&format!(
        "race:\n  name: conv\n  countdown_s: 0\n  dataset: synthetic\n  target_input_tokens: 20\n  target_output_tokens: 6\n  system_prompt: \"You are terse now.\"\n  conversation: {{turns: 4, max_context_tokens: 60}}\n  load: {{mode: constant, rate: 10, max_in_flight: 4}}\n  finish: {{duration_s: 2}}\n  engines:\n    - {{name: ok, url: {}, model: m}}\n    - {{name: faulty, url: {}, model: m}}\n",
        ok.base_url(),
        faulty.base_url()
    ));
    let (records, lanes) = race(&spec).await;
    let mut turns: BTreeMap<(usize, u64), Vec<&RequestRecord>> = BTreeMap::new();
    for r in &records {
        turns
            .entry((r.engine, r.conversation.unwrap().id))
            .or_default()
            .push(r);
    }
    let mut failed_conversations = 0;
    for ((engine, id), mut rs) in turns {
        rs.sort_by_key(|r| r.conversation.unwrap().turn);
        let numbers: Vec<u32> = rs.iter().map(|r| r.conversation.unwrap().turn).collect();
        assert!(
            numbers == [1] || numbers == [1, 2],
            "engine {engine} conversation {id}: {numbers:?}"
        );
        if let Some(i) = rs.iter().position(|r| !r.is_ok()) {
            assert_eq!(i + 1, rs.len(), "a failed turn is the conversation's last");
            failed_conversations += 1;
        }
    }
    let ended = |i: usize| lanes[i].breakdown.as_ref().unwrap().conversations.unwrap();
    let ok_ended = ended(0);
    assert!(ok_ended.context_limit >= 10, "{ok_ended:?}");
    assert_eq!((ok_ended.completed, ok_ended.failed), (0, 0));
    let faulty_ended = ended(1);
    assert_eq!(
        faulty_ended.failed, failed_conversations,
        "{faulty_ended:?}"
    );
    assert!(faulty_ended.failed > 0);
    // Arrivals start conversations: 10 a second for 2 s.
    assert!((18..=21).contains(&ok_ended.started), "{ok_ended:?}");
}

#[test]
fn a_conversation_race_replays_into_the_same_summary_and_its_csv_names_each_turn() {
    let (output, tmp, out) = crate::common::headless_race(
        "race:\n  name: conv\n  countdown_s: 0\n  dataset: synthetic\n  target_input_tokens: 40\n  target_output_tokens: 8\n  prefix: {groups: 2, tokens: 30}\n  conversation: {turns: {min: 2, max: 3}, history: own}\n  users: 3\n  finish: {requests: 15}\n  engines:\n    - {name: a, simulate: {ttft_ms: 5, tpot_ms: 1, prefix_cache_tokens: 100000}}\n    - {name: b, simulate: {ttft_ms: 5, tpot_ms: 1}}\n",
    );
    crate::common::assert_success(&output);
    let dir = crate::common::race_dir(&out);
    let again = tmp.path().join("again");
    let report = crate::common::run_bin(&[
        "report",
        dir.join("race.llmrace").to_str().unwrap(),
        "--output-dir",
        again.to_str().unwrap(),
    ]);
    crate::common::assert_success(&report);
    assert_eq!(
        std::fs::read_to_string(dir.join("summary.json")).unwrap(),
        std::fs::read_to_string(again.join("summary.json")).unwrap(),
        "report rebuilds the race's summary.json"
    );
    let summary = crate::common::summary(&dir);
    assert_eq!(
        summary["workload"]["shape"]["conversation"]["prompts_differ_per_lane"],
        true
    );
    assert!(summary["engines"][0]["breakdown"]["by_turn"][1]["requests"].as_u64() > Some(0));
    let markdown = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        markdown.contains("### By turn") && markdown.contains("History: own"),
        "{markdown}"
    );
    let csv = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("a-"))
        .unwrap();
    let mut rows = csv::Reader::from_path(&csv).unwrap();
    let header = rows.headers().unwrap().clone();
    let turn = header.iter().position(|h| h == "turn").unwrap();
    let conversation = header.iter().position(|h| h == "conversation_id").unwrap();
    let mut turns = Vec::new();
    for row in rows.records() {
        let row = row.unwrap();
        assert!(!row[conversation].is_empty());
        turns.push(row[turn].parse::<u32>().unwrap());
    }
    assert!(turns.contains(&1) && turns.contains(&2), "{turns:?}");
}
