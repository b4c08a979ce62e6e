//! Loading prompt sets and fixing the order in which every engine receives
//! them: request `k` of every engine gets the same prompt (and, replaying a
//! trace, the same `max_tokens`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::datasets::{self, Format, Records};
use super::hub::{Hub, HubError};
use super::load_trace::TraceTimes;
use super::shape::{Ask, Shapes, Turn};
use super::tokenizer::{self, Tokenizer};
use super::{estimate_tokens, synthetic};
use crate::config::{DatasetSpec, LoadSpec, RaceSpec, TraceFacts};

mod trace;

/// The prompt set compiled into the binary, so the demo runs anywhere.
const BUILTIN_PROMPTS: &[u8] = include_bytes!("../../datasets/demo-prompts.jsonl");

/// At most this many prompts are kept after selection: enough that requests
/// rarely repeat, few enough that counting them with every engine's
/// tokenizer stays quick.
pub const MAX_SELECTED: usize = 2000;

/// Prompts counted per batch during selection.
const SELECT_BATCH: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("cannot read dataset '{}': {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("dataset '{}' has no usable prompt: {reason}", path.display())]
    Empty { path: PathBuf, reason: String },
    #[error("dataset '{}' line {line}: {reason}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error("tokenizer '{name}': {reason}")]
    Tokenizer { name: String, reason: String },
    #[error("dataset '{dataset}' for race.conversation: {reason}")]
    Conversations { dataset: String, reason: String },
    #[error("race.load.trace: '{}' {reason}", path.display())]
    Trace { path: PathBuf, reason: String },
    #[error(
        "dataset '{dataset}' has no prompt of {target} +/- {tolerance} tokens ({counted_by}; \
         the closest has {closest}); widen race.input_tolerance_tokens, change \
         race.target_input_tokens, or use dataset: synthetic"
    )]
    NoneFits {
        dataset: String,
        target: u32,
        tolerance: u32,
        closest: u32,
        counted_by: String,
    },
}

/// The prompts of a race and their (seeded) order.
#[derive(Debug, Clone)]
pub struct PromptSet {
    prompts: Vec<Text>,
    /// What [`Text::Cut`]s are cut from: the synthetic source repeated.
    tape: Arc<str>,
    /// Per request of a cycle, the index of its prompt.
    order: Vec<usize>,
    /// Per request of a cycle, its `max_tokens` (a trace's output lengths;
    /// empty otherwise: the engine's own).
    max_tokens: Vec<u32>,
    /// The trace being replayed (`mode: trace`).
    trace: Option<(TraceTimes, TraceFacts)>,
    /// Records that could not be read as a prompt and were skipped.
    pub skipped: usize,
    /// Where the first skipped record is and why it was skipped.
    pub first_skipped: Option<String>,
    /// Per engine, the token count of each prompt under the engine's own
    /// tokenizer (`None`: the engine has no tokenizer).
    engine_tokens: Vec<Option<Arc<Vec<u32>>>>,
    /// Per engine, its tokenizer (shared between engines that name the same).
    engine_tokenizers: Vec<Option<Arc<Tokenizer>>>,
    /// What the prompts are (the dataset's name or file).
    pub dataset: String,
    /// System prompts, prefix groups and conversations.
    shapes: Shapes,
}

/// A prompt's text: held, or a slice of the tape. A trace's synthetic
/// prompts are slices, made into text as each request is sent: held whole,
/// the prompts of a long production trace would take gigabytes.
#[derive(Debug, Clone)]
enum Text {
    Held(Arc<str>),
    Cut { start: usize, len: usize },
}

/// What loading needs besides the race spec.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub hub: Hub,
}

impl LoadOptions {
    #[must_use]
    pub fn from_env() -> LoadOptions {
        LoadOptions {
            hub: Hub::from_env(),
        }
    }
}

/// Loads a race's prompts: its engines' tokenizers (each distinct one once),
/// its dataset (downloading it if needed), the prompts that fit
/// `target_input_tokens` (counted with the first engine's tokenizer, or
/// estimated), and every engine's own count of each.
pub async fn load(spec: &RaceSpec, options: &LoadOptions) -> Result<PromptSet, WorkloadError> {
    let names: Vec<Option<String>> = spec.engines.iter().map(|e| e.tokenizer.clone()).collect();
    let tokenizers = tokenizer::load_all(&names, &options.hub).await?;
    let label = spec.dataset.label();
    let path = match &spec.dataset {
        DatasetSpec::Public(d) => Some(
            options
                .hub
                .fetch(
                    &d.hub_file(),
                    &format!("dataset '{}'", d.name()),
                    &format!(
                        ", or use 'dataset: {}' (the small sample shipped with llm-locust) or a local file",
                        d.sample_name()
                    ),
                )
                .await?,
        ),
        DatasetSpec::File(path) => Some(path.clone()),
        DatasetSpec::Builtin | DatasetSpec::Sample(_) | DatasetSpec::Synthetic => None,
    };
    let spinner = options.hub.progress.show(
        indicatif::ProgressBar::new_spinner(),
        format!("reading dataset '{label}' and counting tokens"),
    );
    if let Some(bar) = &spinner {
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
    }
    let spec = spec.clone();
    let built =
        tokio::task::spawn_blocking(move || build(&spec, path.as_deref(), label, &tokenizers))
            .await
            .map_err(|e| WorkloadError::Tokenizer {
                name: "(loader)".to_owned(),
                reason: e.to_string(),
            });
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    built?
}

fn build(
    spec: &RaceSpec,
    path: Option<&Path>,
    label: String,
    tokenizers: &[Option<Arc<Tokenizer>>],
) -> Result<PromptSet, WorkloadError> {
    let first = tokenizers.iter().flatten().next().map(Arc::as_ref);
    if let LoadSpec::Trace {
        path: trace_path, ..
    } = &spec.load
    {
        let mut set = trace::build(spec, trace_path, path, label, tokenizers)?;
        set.shapes = Shapes::build(spec, first, &set.dataset, Vec::new())?;
        return Ok(set);
    }
    let mut recorded = Vec::new();
    let (prompts, skipped, first_skipped) = match &spec.dataset {
        DatasetSpec::Synthetic => {
            let mean = spec
                .target_input_tokens
                .unwrap_or(synthetic::DEFAULT_MEAN_TOKENS);
            let lengths = synthetic::lengths(&spec.synthetic, mean, spec.seed);
            (synthetic::build(first, &lengths, spec.seed)?, 0, None)
        }
        _ => {
            let mut records = records(spec, path, &label)?;
            recorded = std::mem::take(&mut records.conversations);
            if !recorded.is_empty() && spec.target_input_tokens.is_some() {
                return Err(WorkloadError::Conversations {
                    dataset: label,
                    reason: "its conversations are sent as recorded, so                              race.target_input_tokens cannot select them; remove it"
                        .to_owned(),
                });
            }
            select(records, spec, &label, first)?
        }
    };
    let mut set = PromptSet::ordered(
        prompts.into_iter().map(Arc::from).collect(),
        skipped,
        spec.seed,
    );
    set.dataset = label;
    set.first_skipped = first_skipped;
    set.engine_tokens = count_per_engine(&set.texts(), tokenizers, None)?;
    set.engine_tokenizers = tokenizers.to_vec();
    set.shapes = Shapes::build(spec, first, &set.dataset, recorded)?;
    Ok(set)
}

/// Every record of the dataset (none for synthetic prompts).
/// Every record of the dataset (none for synthetic prompts), with their
/// conversations in a conversation race.
fn records(spec: &RaceSpec, path: Option<&Path>, label: &str) -> Result<Records, WorkloadError> {
    let turns = spec.shape.conversation.is_some();
    match &spec.dataset {
        DatasetSpec::Synthetic => Ok(Records::default()),
        DatasetSpec::Builtin => {
            datasets::read_bytes_with(BUILTIN_PROMPTS, Format::Jsonl, "demo", turns)
        }
        DatasetSpec::Sample(d) => {
            let (bytes, format) = d.sample();
            datasets::read_bytes_with(bytes, format, label, turns)
        }
        DatasetSpec::Public(_) | DatasetSpec::File(_) => {
            let path = path.unwrap_or_else(|| Path::new(label));
            datasets::read_file_with(path, turns)
        }
    }
}

/// The prompts that fit the target length, in a seeded order, at most
/// [`MAX_SELECTED`]; all of them when there is no target.
fn select(
    records: Records,
    spec: &RaceSpec,
    label: &str,
    tokenizer: Option<&Tokenizer>,
) -> Result<(Vec<String>, usize, Option<String>), WorkloadError> {
    let Records {
        mut prompts,
        skipped,
        first_problem,
        ..
    } = records;
    let Some(target) = spec.target_input_tokens else {
        return Ok((prompts, skipped, first_problem));
    };
    let tolerance = spec.input_tolerance_tokens;
    let (lo, hi) = (
        target.saturating_sub(tolerance),
        target.saturating_add(tolerance),
    );
    prompts.shuffle(&mut ChaCha8Rng::seed_from_u64(spec.seed));
    let mut kept = Vec::new();
    let mut closest: Option<u32> = None;
    // Counted in batches (encoded in parallel), stopping once enough fit.
    'batches: for batch in prompts.chunks(SELECT_BATCH) {
        let counts: Vec<u32> = match tokenizer {
            Some(t) => count_for_selection(t, batch, lo, hi)?,
            None => batch.iter().map(|p| estimate_tokens(p)).collect(),
        };
        for (prompt, n) in batch.iter().zip(counts) {
            if (lo..=hi).contains(&n) {
                kept.push(prompt.clone());
                if kept.len() >= MAX_SELECTED {
                    break 'batches;
                }
            } else if closest.is_none_or(|c| n.abs_diff(target) < c.abs_diff(target)) {
                closest = Some(n);
            }
        }
    }
    if kept.is_empty() {
        return Err(WorkloadError::NoneFits {
            dataset: label.to_owned(),
            target,
            tolerance,
            closest: closest.unwrap_or(0),
            counted_by: tokenizer.map_or_else(
                || "estimated at 4 characters per token".to_owned(),
                |t| format!("counted with tokenizer '{}'", t.name()),
            ),
        });
    }
    Ok((kept, skipped, first_problem))
}

/// Bytes of a long prompt encoded first to see whether it can fit: far more
/// than natural text takes per token (3–5 bytes), so a prompt whose head
/// already holds more than `hi` tokens is too long without encoding it all.
const HEAD_BYTES_PER_TOKEN: usize = 12;

/// Token counts for selection against `lo..=hi`, encoding no more than
/// decides it: a prompt shorter in bytes than `lo` cannot fit (a token
/// covers at least one byte) and is not encoded; a long prompt is first
/// encoded only up to [`HEAD_BYTES_PER_TOKEN`]` × hi` bytes, and if its head
/// is already too long (by more than the one token a cut word may add) its
/// head's count stands for it. Every prompt that may fit is counted whole.
fn count_for_selection(
    tokenizer: &Tokenizer,
    batch: &[String],
    lo: u32,
    hi: u32,
) -> Result<Vec<u32>, WorkloadError> {
    let head_bytes = (hi as usize).saturating_mul(HEAD_BYTES_PER_TOKEN);
    let head = |p: &str| -> usize {
        let mut cut = head_bytes.min(p.len());
        while !p.is_char_boundary(cut) {
            cut -= 1;
        }
        cut
    };
    let mut counts: Vec<u32> = batch
        .iter()
        .map(|p| u32::try_from(p.len()).unwrap_or(u32::MAX))
        .collect();
    // First pass: every prompt that might fit, long ones by their head.
    let first: Vec<usize> = (0..batch.len())
        .filter(|&i| batch[i].len() >= lo as usize)
        .collect();
    let texts: Vec<&str> = first
        .iter()
        .map(|&i| &batch[i][..head(&batch[i])])
        .collect();
    for (&i, n) in first.iter().zip(tokenizer.count_batch(&texts)?) {
        counts[i] = n;
    }
    // Second pass: long prompts whose head did not rule them out.
    let whole: Vec<usize> = first
        .into_iter()
        .filter(|&i| head(&batch[i]) < batch[i].len() && counts[i] <= hi.saturating_add(1))
        .collect();
    let texts: Vec<&str> = whole.iter().map(|&i| batch[i].as_str()).collect();
    for (&i, n) in whole.iter().zip(tokenizer.count_batch(&texts)?) {
        counts[i] = n;
    }
    Ok(counts)
}

/// Each engine's count of every text, each distinct tokenizer counting
/// once; `known` gives one tokenizer's counts already made.
fn count_per_engine(
    texts: &[&str],
    tokenizers: &[Option<Arc<Tokenizer>>],
    known: Option<(&Arc<Tokenizer>, Vec<u32>)>,
) -> Result<Vec<Option<Arc<Vec<u32>>>>, WorkloadError> {
    let mut done: Vec<(*const Tokenizer, Arc<Vec<u32>>)> = known
        .map(|(t, counts)| (Arc::as_ptr(t), Arc::new(counts)))
        .into_iter()
        .collect();
    let mut out = Vec::with_capacity(tokenizers.len());
    for t in tokenizers {
        let Some(t) = t else {
            out.push(None);
            continue;
        };
        let key = Arc::as_ptr(t);
        if let Some((_, counts)) = done.iter().find(|(k, _)| *k == key) {
            out.push(Some(Arc::clone(counts)));
            continue;
        }
        let counts = Arc::new(t.count_batch(texts)?);
        done.push((key, Arc::clone(&counts)));
        out.push(Some(counts));
    }
    Ok(out)
}

impl PromptSet {
    /// A prompt set from literal prompts (tests, benchmarks).
    #[must_use]
    pub fn from_prompts(prompts: Vec<String>, seed: u64) -> PromptSet {
        PromptSet::ordered(prompts.into_iter().map(Arc::from).collect(), 0, seed)
    }

    fn ordered(prompts: Vec<Arc<str>>, skipped: usize, seed: u64) -> PromptSet {
        let mut order: Vec<usize> = (0..prompts.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        PromptSet {
            prompts: prompts.into_iter().map(Text::Held).collect(),
            tape: Arc::from(""),
            order,
            max_tokens: Vec::new(),
            trace: None,
            skipped,
            first_skipped: None,
            engine_tokens: Vec::new(),
            engine_tokenizers: Vec::new(),
            dataset: "custom".to_owned(),
            shapes: Shapes::default(),
        }
    }

    /// Distinct prompts.
    #[must_use]
    pub fn len(&self) -> usize {
        self.prompts.len()
    }

    /// Requests before the order repeats (a trace's entries; else `len`).
    #[must_use]
    pub fn cycle_len(&self) -> usize {
        self.order.len()
    }

    fn text(&self, i: usize) -> &str {
        match &self.prompts[i] {
            Text::Held(text) => text,
            Text::Cut { start, len } => self.tape.get(*start..start + len).unwrap_or(""),
        }
    }

    fn texts(&self) -> Vec<&str> {
        (0..self.prompts.len()).map(|i| self.text(i)).collect()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty()
    }

    /// Request `k`'s place in the cycle.
    fn position(&self, k: u64) -> Option<usize> {
        if self.order.is_empty() {
            return None;
        }
        Some(usize::try_from(k % self.order.len() as u64).unwrap_or(0))
    }

    fn slot(&self, k: u64) -> Option<usize> {
        self.position(k).map(|p| self.order[p])
    }

    /// The prompt for request number `k` (the order repeats after
    /// `cycle_len`).
    #[must_use]
    pub fn for_request(&self, k: u64) -> Arc<str> {
        match self.slot(k).map(|i| &self.prompts[i]) {
            Some(Text::Held(text)) => Arc::clone(text),
            Some(Text::Cut { start, len }) => {
                Arc::from(self.tape.get(*start..start + len).unwrap_or(""))
            }
            None => Arc::from(""),
        }
    }

    /// Request `k`'s `max_tokens`, when the workload sets it (a trace's
    /// output length); `None`: the engine's own.
    #[must_use]
    pub fn max_tokens_for(&self, k: u64) -> Option<u32> {
        self.max_tokens.get(self.position(k)?).copied()
    }

    /// The arrival times of the trace being replayed (`mode: trace`).
    #[must_use]
    pub fn trace_times(&self) -> Option<&TraceTimes> {
        self.trace.as_ref().map(|(times, _)| times)
    }

    /// What the trace being replayed held.
    #[must_use]
    pub fn trace_facts(&self) -> Option<&TraceFacts> {
        self.trace.as_ref().map(|(_, facts)| facts)
    }

    /// Tokens of request `k`'s prompt under engine `engine`'s tokenizer, if
    /// it has one.
    #[must_use]
    pub fn tokenizer_count(&self, engine: usize, k: u64) -> Option<u32> {
        let counts = self.engine_tokens.get(engine)?.as_ref()?;
        counts.get(self.slot(k)?).copied()
    }

    /// Tokens in an answer under engine `engine`'s tokenizer, if it has one
    /// and the answer is not empty.
    #[must_use]
    pub fn count_output(&self, engine: usize, text: &str) -> Option<u32> {
        if text.is_empty() {
            return None;
        }
        self.engine_tokenizers
            .get(engine)?
            .as_ref()?
            .count(text)
            .ok()
    }

    /// What request `k` sends on its own: its prompt, and the system
    /// prompt or its prefix group's.
    #[must_use]
    pub fn ask(&self, k: u64) -> Ask {
        Ask::single(self.shapes.system(k), self.for_request(k))
    }

    /// What request `k` of an embeddings engine, `n` prompts a request,
    /// sends: prompts `k·n` to `k·n + n − 1`, so a race's batches never
    /// share a prompt (for `n` = 1, request `k`'s prompt, as every lane's).
    /// No system message: embeddings embed the prompts alone.
    #[must_use]
    pub fn batch(&self, k: u64, n: u32) -> Ask {
        let n = n.max(1);
        let first = k.saturating_mul(u64::from(n));
        let mut ask = Ask::single(None, self.for_request(first));
        ask.more = (1..u64::from(n))
            .map(|i| self.for_request(first.saturating_add(i)))
            .collect();
        ask
    }

    /// The system message of conversation `c` (or request `c`).
    #[must_use]
    pub fn system_for(&self, c: u64) -> Option<Arc<str>> {
        self.shapes.system(c)
    }

    /// What the requests hold besides their prompts, for the reports.
    #[must_use]
    pub fn shape_facts(&self, spec: &RaceSpec) -> Option<crate::config::shape::ShapeFacts> {
        self.shapes.facts(spec)
    }

    /// The prefix groups' system prompts (`race.prefix`).
    #[must_use]
    pub fn prefix_groups(&self) -> &[Arc<str>] {
        self.shapes.groups()
    }

    /// The race's conversations, if it has them.
    #[must_use]
    pub fn conversation_spec(&self) -> Option<&crate::config::ConversationSpec> {
        self.shapes.conversation_spec()
    }

    /// Conversation `c`'s turns, with their recorded answers.
    #[must_use]
    pub fn conversation(&self, c: u64) -> Arc<[Turn]> {
        self.shapes.conversation(c, |k| self.for_request(k))
    }

    /// The user's pause before turn `turn` (from 2) of conversation `c`.
    #[must_use]
    pub fn think_time(&self, c: u64, turn: u32) -> std::time::Duration {
        self.shapes.think_time(c, turn)
    }

    /// Tokens in `text` under engine `engine`'s tokenizer, else estimated.
    #[must_use]
    pub fn count(&self, engine: usize, text: &str) -> u32 {
        self.count_output(engine, text)
            .unwrap_or_else(|| estimate_tokens(text))
    }

    /// Whether engine `engine` has a tokenizer.
    #[must_use]
    pub fn has_tokenizer(&self, engine: usize) -> bool {
        self.engine_tokens.get(engine).is_some_and(Option::is_some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_set_loads_and_every_prompt_is_used_once_per_cycle() {
        let records = datasets::read_bytes(BUILTIN_PROMPTS, Format::Jsonl, "demo").unwrap();
        let set = PromptSet::from_prompts(records.prompts, 42);
        assert!(set.len() >= 20);
        let mut seen: Vec<Arc<str>> = (0..set.len() as u64).map(|k| set.for_request(k)).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), set.len());
        assert_eq!(set.for_request(0), set.for_request(set.len() as u64));
    }

    #[test]
    fn same_seed_same_order_other_seed_other_order() {
        let prompts: Vec<String> = (0..50).map(|i| format!("p{i}")).collect();
        let a = PromptSet::from_prompts(prompts.clone(), 7);
        let b = PromptSet::from_prompts(prompts.clone(), 7);
        let c = PromptSet::from_prompts(prompts, 8);
        let seq = |s: &PromptSet| (0..50).map(|k| s.for_request(k)).collect::<Vec<_>>();
        assert_eq!(seq(&a), seq(&b));
        assert_ne!(seq(&a), seq(&c));
    }

    fn parse(text: &'static str, format: Format, name: &str) -> Result<Records, WorkloadError> {
        datasets::read_bytes(text.as_bytes(), format, name)
    }

    #[test]
    fn bad_jsonl_records_are_skipped_and_counted() {
        let text = "{\"prompt\": \"one\"}\nnot json\n{\"text\": \"x\"}\n\n{\"prompt\": \"two\"}\n";
        let set = parse(text, Format::Jsonl, "x.jsonl").unwrap();
        assert_eq!((set.prompts.len(), set.skipped), (2, 2));
    }

    #[test]
    fn a_file_with_nothing_usable_names_the_line_and_reason() {
        let err = parse("nope\n", Format::Jsonl, "x.jsonl").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("x.jsonl") && msg.contains("line 1"), "{msg}");
    }

    #[test]
    fn json_arrays_and_plain_text_load() {
        let set = parse(
            r#"[{"prompt":"a"},{"prompt":"b"}]"#,
            Format::JsonArray,
            "x.json",
        )
        .unwrap();
        assert_eq!(set.prompts.len(), 2);
        let set = parse("first\n\nsecond\n", Format::Text, "x.txt").unwrap();
        assert_eq!(set.prompts.len(), 2);
    }

    fn spec_with(target: Option<u32>, tolerance: u32) -> RaceSpec {
        let mut spec = crate::config::parse_race(
            "race:\n  name: t\n  engines:\n    - name: a\n      model: m\n      simulate:\n",
            Path::new("t.yaml"),
        )
        .unwrap();
        spec.target_input_tokens = target;
        spec.input_tolerance_tokens = tolerance;
        spec
    }

    /// Every whitespace-separated word is one token (unknown words too).
    fn word_tokenizer() -> Tokenizer {
        use tokenizers::models::wordlevel::WordLevel;
        use tokenizers::pre_tokenizers::whitespace::WhitespaceSplit;
        let vocab = [("[UNK]".to_owned(), 0), ("the".to_owned(), 1)];
        let model = WordLevel::builder()
            .vocab(vocab.into_iter().collect())
            .unk_token("[UNK]".to_owned())
            .build()
            .unwrap();
        let mut inner = tokenizers::Tokenizer::new(model);
        inner.with_pre_tokenizer(Some(WhitespaceSplit));
        Tokenizer::new("words", inner)
    }

    #[test]
    fn long_prompts_are_judged_by_their_head_without_losing_any_that_fit() {
        let tokenizer = word_tokenizer();
        let words = |n: usize, word: &str| vec![word; n].join(" ");
        let batch = vec![
            words(20, "the"),            // fits
            words(5_000, "the"),         // far too long: its head says so
            words(21, &"x".repeat(100)), // fits, 101 bytes per token
            words(400, &"y".repeat(60)), // too long, only seen whole
            "the".to_owned(),            // shorter than the lower bound
        ];
        let counts = count_for_selection(&tokenizer, &batch, 18, 22).unwrap();
        assert_eq!(counts[0], 20);
        assert!(counts[1] > 23, "{}", counts[1]);
        assert_eq!(counts[2], 21);
        assert!(counts[3] > 22, "{}", counts[3]);
        assert_eq!(counts[4], 3, "its byte length stands for it");
    }

    #[test]
    fn selection_keeps_prompts_within_the_tolerance_or_says_why_none() {
        let prompts: Vec<String> = (1..=40).map(|n| "abcd".repeat(n)).collect();
        let records = Records {
            prompts: prompts.clone(),
            skipped: 3,
            ..Records::default()
        };
        let (kept, skipped, _) = select(records, &spec_with(Some(20), 2), "x", None).unwrap();
        assert_eq!(skipped, 3);
        let mut lens: Vec<u32> = kept.iter().map(|p| estimate_tokens(p)).collect();
        lens.sort_unstable();
        assert_eq!(lens, vec![18, 19, 20, 21, 22]);
        let records = Records {
            prompts,
            ..Records::default()
        };
        let err = select(records, &spec_with(Some(100), 5), "x", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("100 +/- 5") && err.contains("closest has 40"),
            "{err}"
        );
    }
}
