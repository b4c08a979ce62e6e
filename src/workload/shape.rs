//! What a request holds besides its prompt: the race's system prompt or a
//! shared prefix group's, and in a conversation race the conversation so
//! far. All of it is seeded and the same in every lane: conversation `c`
//! has the same turns, recorded answers, prefix group and think times for
//! every engine.

use std::sync::Arc;
use std::time::Duration;

use super::WorkloadError;
use super::synthetic;
use super::tokenizer::Tokenizer;
use crate::config::shape::{
    ConversationFacts, DEFAULT_ANSWER_TOKENS, DEFAULT_TURNS, MAX_TURNS, ShapeFacts,
};
use crate::config::{ConversationSpec, History, RaceSpec, TurnRange};

/// One turn of a conversation: the user's message and the answer that
/// follows it (the recorded one, or the engine's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub user: Arc<str>,
    pub answer: Arc<str>,
}

/// What one request sends: the system message, the conversation so far
/// (earlier turns, answered) and the new user message.
#[derive(Debug, Clone)]
pub struct Ask {
    pub system: Option<Arc<str>>,
    pub history: Arc<[Turn]>,
    /// Turns of `history` that are sent (a recorded conversation shares
    /// one script between its turns).
    pub history_len: usize,
    pub text: Arc<str>,
    /// The batch's other inputs, after `text` (an embeddings request of
    /// several prompts).
    pub more: Arc<[Arc<str>]>,
}

impl Ask {
    /// A request on its own: a prompt and maybe a system message.
    #[must_use]
    pub fn single(system: Option<Arc<str>>, text: Arc<str>) -> Ask {
        Ask {
            system,
            history: Arc::from(Vec::new()),
            history_len: 0,
            text,
            more: Arc::from(Vec::new()),
        }
    }

    /// The turns sent before the new message.
    #[must_use]
    pub fn history(&self) -> &[Turn] {
        &self.history[..self.history_len.min(self.history.len())]
    }

    /// Every text the request sends, in order.
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        self.system
            .as_deref()
            .into_iter()
            .chain(
                self.history()
                    .iter()
                    .flat_map(|t| [t.user.as_ref(), t.answer.as_ref()]),
            )
            .chain(std::iter::once(self.text.as_ref()))
            .chain(self.more.iter().map(AsRef::as_ref))
    }
}

/// Recorded answers of synthetic conversations: a few texts of the exact
/// length, drawn per turn.
const ANSWER_TEXTS: u32 = 16;

/// Seeds of the draws, so that no two draw the same numbers.
const PREFIX_SALT: u64 = 0x5052_4546;
const ANSWER_SALT: u64 = 0x414e_5357;
const GROUP_SALT: u64 = 0x4752_5550;
const TURNS_SALT: u64 = 0x5455_524e;
const THINK_SALT: u64 = 0x5448_4e4b;

/// The system texts and conversations of a race.
#[derive(Debug, Clone, Default)]
pub(super) struct Shapes {
    system: Option<Arc<str>>,
    groups: Vec<Arc<str>>,
    conversations: Option<Conversations>,
    seed: u64,
}

#[derive(Debug, Clone)]
struct Conversations {
    spec: ConversationSpec,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// A dataset's own conversations, in a seeded order.
    Recorded(Vec<Arc<[Turn]>>),
    /// Made from the prompt set: seeded turn counts, each turn answered
    /// by one of `answers`.
    Synthetic {
        turns: TurnRange,
        answers: Vec<Arc<str>>,
    },
}

impl Shapes {
    /// The race's system prompt or prefix groups (exact lengths under
    /// `tokenizer`, else the estimate) and its conversations: `recorded`,
    /// a dataset's, when it has any; else made from the prompts.
    pub(super) fn build(
        spec: &RaceSpec,
        tokenizer: Option<&Tokenizer>,
        dataset: &str,
        recorded: Vec<Vec<(String, String)>>,
    ) -> Result<Shapes, WorkloadError> {
        let shape = &spec.shape;
        let groups = match shape.prefix {
            Some(prefix) => {
                let lengths = vec![prefix.tokens; prefix.groups as usize];
                synthetic::build(tokenizer, &lengths, spec.seed ^ PREFIX_SALT)?
                    .into_iter()
                    .map(Arc::from)
                    .collect()
            }
            None => Vec::new(),
        };
        let conversations = match &shape.conversation {
            None => None,
            Some(c) if recorded.is_empty() => {
                let n = spec.target_output_tokens.unwrap_or(DEFAULT_ANSWER_TOKENS);
                let lengths = vec![n; ANSWER_TEXTS as usize];
                let answers = synthetic::build(tokenizer, &lengths, spec.seed ^ ANSWER_SALT)?;
                Some(Conversations {
                    spec: c.clone(),
                    source: Source::Synthetic {
                        turns: c.turns.unwrap_or(TurnRange {
                            min: DEFAULT_TURNS,
                            max: DEFAULT_TURNS,
                        }),
                        answers: answers.into_iter().map(Arc::from).collect(),
                    },
                })
            }
            Some(c) => Some(Conversations {
                spec: c.clone(),
                source: Source::Recorded(recorded_scripts(c, dataset, recorded, spec.seed)?),
            }),
        };
        Ok(Shapes {
            system: shape.system_prompt.as_deref().map(Arc::from),
            groups,
            conversations,
            seed: spec.seed,
        })
    }

    /// What the race's requests hold besides their prompts; `None` when
    /// nothing.
    pub(super) fn facts(&self, spec: &RaceSpec) -> Option<ShapeFacts> {
        let conversation = self.conversations.as_ref().map(|c| {
            let (source, conversations, turns) = match &c.source {
                Source::Recorded(scripts) => ("dataset", Some(scripts.len()), c.spec.turns),
                Source::Synthetic { turns, .. } => ("synthetic", None, Some(*turns)),
            };
            ConversationFacts {
                source: source.to_owned(),
                conversations,
                turns,
                think_time: c.spec.think_time.describe(),
                history: c.spec.history.name().to_owned(),
                prompts_differ_per_lane: c.spec.history == History::Own,
                max_context_tokens: c.spec.max_context_tokens,
            }
        });
        let facts = ShapeFacts {
            system_prompt_chars: spec.shape.system_prompt.as_ref().map(|s| s.chars().count()),
            prefix: spec.shape.prefix,
            conversation,
        };
        (facts.system_prompt_chars.is_some()
            || facts.prefix.is_some()
            || facts.conversation.is_some())
        .then_some(facts)
    }

    /// The system message of request (or conversation) `key`.
    pub(super) fn system(&self, key: u64) -> Option<Arc<str>> {
        if self.groups.is_empty() {
            return self.system.clone();
        }
        let i = mix(self.seed ^ GROUP_SALT, key) % self.groups.len() as u64;
        self.groups.get(usize::try_from(i).ok()?).cloned()
    }

    /// The prefix groups' texts.
    pub(super) fn groups(&self) -> &[Arc<str>] {
        &self.groups
    }

    pub(super) fn conversation_spec(&self) -> Option<&ConversationSpec> {
        self.conversations.as_ref().map(|c| &c.spec)
    }

    /// Conversation `c`'s turns with their recorded answers; a synthetic
    /// one's user messages are the prompts `user(k)` gives, the next `max`
    /// of the seeded order for each conversation.
    pub(super) fn conversation(&self, c: u64, user: impl Fn(u64) -> Arc<str>) -> Arc<[Turn]> {
        let Some(conversations) = &self.conversations else {
            return Arc::from(Vec::new());
        };
        match &conversations.source {
            Source::Recorded(scripts) => {
                let i = usize::try_from(c % scripts.len().max(1) as u64).unwrap_or(0);
                scripts
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| Arc::from(Vec::new()))
            }
            Source::Synthetic { turns, answers } => {
                let span = u64::from(turns.max - turns.min) + 1;
                let n =
                    turns.min + u32::try_from(mix(self.seed ^ TURNS_SALT, c) % span).unwrap_or(0);
                (0..n)
                    .map(|t| {
                        let key = turn_key(c, t + 1);
                        let a = mix(self.seed ^ ANSWER_SALT, key) % answers.len().max(1) as u64;
                        // The prompts in their seeded order, `max` per
                        // conversation: each used once before any repeats.
                        Turn {
                            user: user(c * u64::from(turns.max) + u64::from(t)),
                            answer: answers
                                .get(usize::try_from(a).unwrap_or(0))
                                .cloned()
                                .unwrap_or_else(|| Arc::from("")),
                        }
                    })
                    .collect()
            }
        }
    }

    /// The pause before turn `turn` (from 2) of conversation `c`.
    pub(super) fn think_time(&self, c: u64, turn: u32) -> Duration {
        let Some(conversations) = &self.conversations else {
            return Duration::ZERO;
        };
        let bits = mix(self.seed ^ THINK_SALT, turn_key(c, turn)) >> 11;
        #[allow(clippy::cast_precision_loss)]
        let u = bits as f64 / (1u64 << 53) as f64;
        conversations.spec.think_time.pause(u)
    }
}

/// The key of turn `turn` (from 1) of conversation `c`: its request id.
#[must_use]
pub fn turn_key(c: u64, turn: u32) -> u64 {
    c.wrapping_mul(u64::from(MAX_TURNS)) + u64::from(turn.saturating_sub(1))
}

/// A dataset's conversations with at least `turns.min` turns, cut to
/// `turns.max`, in a seeded order.
fn recorded_scripts(
    c: &ConversationSpec,
    dataset: &str,
    recorded: Vec<Vec<(String, String)>>,
    seed: u64,
) -> Result<Vec<Arc<[Turn]>>, WorkloadError> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let (min, max) = c.turns.map_or((1, MAX_TURNS), |t| (t.min, t.max));
    let longest = recorded.iter().map(Vec::len).max().unwrap_or(0);
    let mut scripts: Vec<Arc<[Turn]>> = recorded
        .into_iter()
        .filter(|turns| turns.len() >= min as usize)
        .map(|turns| {
            turns
                .into_iter()
                .take(max as usize)
                .map(|(user, answer)| Turn {
                    user: Arc::from(user),
                    answer: Arc::from(answer),
                })
                .collect()
        })
        .collect();
    if scripts.is_empty() {
        return Err(WorkloadError::Conversations {
            dataset: dataset.to_owned(),
            reason: format!(
                "none has {min} turns or more (the longest has {longest}); lower \
                 race.conversation.turns.min"
            ),
        });
    }
    scripts.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    Ok(scripts)
}

/// A well-spread 64-bit hash of `key` under `seed` (SplitMix64's finaliser).
fn mix(seed: u64, key: u64) -> u64 {
    let mut z = seed ^ key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ThinkTime;

    fn spec(yaml_race: &str) -> RaceSpec {
        crate::config::parse_race(
            &format!(
                "race:\n  name: t\n{yaml_race}  engines:\n    - name: a\n      model: m\n      simulate:\n"
            ),
            std::path::Path::new("t.yaml"),
        )
        .unwrap()
    }

    #[test]
    fn prefix_groups_are_exact_distinct_and_drawn_the_same_for_every_key() {
        let spec = spec("  prefix: {groups: 3, tokens: 50}\n");
        let shapes = Shapes::build(&spec, None, "demo", Vec::new()).unwrap();
        assert_eq!(shapes.groups().len(), 3);
        for g in shapes.groups() {
            assert_eq!(crate::workload::estimate_tokens(g), 50);
        }
        assert_ne!(shapes.groups()[0], shapes.groups()[1]);
        let drawn: Vec<_> = (0..60).map(|k| shapes.system(k).unwrap()).collect();
        let again: Vec<_> = (0..60).map(|k| shapes.system(k).unwrap()).collect();
        assert_eq!(drawn, again);
        for g in shapes.groups() {
            assert!(drawn.contains(g), "every group is used");
        }
    }

    #[test]
    fn synthetic_conversations_draw_their_turns_and_think_times_from_the_seed() {
        let spec = spec(
            "  target_output_tokens: 20\n  conversation: {turns: {min: 2, max: 5}, think_time_s: {mean: 2}}\n",
        );
        let shapes = Shapes::build(&spec, None, "demo", Vec::new()).unwrap();
        let user = |k: u64| Arc::from(format!("q{k}"));
        let lens: Vec<usize> = (0..50)
            .map(|c| shapes.conversation(c, user).len())
            .collect();
        assert!(lens.iter().all(|n| (2..=5).contains(n)), "{lens:?}");
        assert!(lens.contains(&2) && lens.contains(&5), "{lens:?}");
        let c = shapes.conversation(7, user);
        assert_eq!(c, shapes.conversation(7, user), "the same every time");
        assert_eq!(&*c[1].user, format!("q{}", 7 * 5 + 1));
        let firsts: std::collections::BTreeSet<Arc<str>> = (0..20)
            .map(|c| Arc::clone(&shapes.conversation(c, user)[0].user))
            .collect();
        assert_eq!(firsts.len(), 20, "conversations open differently");
        assert_eq!(crate::workload::estimate_tokens(&c[0].answer), 20);
        let spec_c = shapes.conversation_spec().unwrap();
        assert_eq!(spec_c.history, History::Recorded);
        assert_eq!(
            spec_c.think_time,
            ThinkTime::Exponential(Duration::from_secs(2))
        );
        let pauses: Vec<f64> = (0..2000)
            .map(|c| shapes.think_time(c, 2).as_secs_f64())
            .collect();
        let mean = pauses.iter().sum::<f64>() / pauses.len() as f64;
        assert!((mean - 2.0).abs() < 0.15, "mean {mean}");
        assert_eq!(shapes.think_time(3, 2), shapes.think_time(3, 2));
    }

    #[test]
    fn recorded_conversations_keep_those_long_enough_cut_to_the_most() {
        let spec = spec("  conversation: {turns: {min: 2, max: 3}}\n");
        let turns = |n: usize| {
            (0..n)
                .map(|i| (format!("h{i}"), format!("g{i}")))
                .collect::<Vec<_>>()
        };
        let shapes = Shapes::build(&spec, None, "x", vec![turns(1), turns(2), turns(5)]).unwrap();
        let mut lens: Vec<usize> = (0..2)
            .map(|c| shapes.conversation(c, |_| Arc::from("")).len())
            .collect();
        lens.sort_unstable();
        assert_eq!(lens, vec![2, 3]);
        let err = Shapes::build(&spec, None, "x", vec![turns(1)]).unwrap_err();
        assert!(err.to_string().contains("none has 2 turns"), "{err}");
    }
}
