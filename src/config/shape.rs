//! What a race's requests hold besides their prompt, the same for every
//! engine: a system prompt (`race.system_prompt`) or one of several shared
//! prefixes (`race.prefix`), and conversations whose turns resend the
//! history (`race.conversation`). Keys added to the JSON body
//! (`extra_body`, `tools`, `tool_choice`, `response_format`) are each
//! engine's ([`super::EngineSpec::extra_body`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::names::named_enum;

/// Most turns in one conversation: a turn's request id is its
/// conversation's times this, plus the turn's index.
pub const MAX_TURNS: u32 = 256;

/// Turns of a conversation made from a dataset without conversations,
/// when `turns` is not given.
pub const DEFAULT_TURNS: u32 = 4;

/// Recorded answers of a synthetic conversation hold this many tokens when
/// the race sets no `target_output_tokens`.
pub const DEFAULT_ANSWER_TOKENS: u32 = 128;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShapeSpec {
    /// Sent as the system message of every request (prepended to a
    /// completion's prompt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<PrefixSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationSpec>,
}

impl ShapeSpec {
    /// What requests hold besides their prompt, for the race's one-line
    /// description: empty, or `, conversations of 2-6 turns (own history)`.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = &self.conversation {
            let turns = match c.turns {
                Some(TurnRange { min, max }) if min == max => format!(" of {max} turns"),
                Some(TurnRange { min, max }) => format!(" of {min}-{max} turns"),
                None => String::new(),
            };
            let own = if c.history == History::Own {
                " (own history)"
            } else {
                ""
            };
            parts.push(format!("conversations{turns}{own}"));
        }
        if let Some(p) = self.prefix {
            parts.push(format!(
                "{} shared prefixes of {} tokens",
                p.groups, p.tokens
            ));
        }
        if self.system_prompt.is_some() {
            parts.push("a system prompt".to_owned());
        }
        parts.iter().map(|p| format!(", {p}")).collect()
    }
}

/// `race.prefix`: `groups` system prompts of exactly `tokens` tokens; each
/// request (each conversation) is given one, seeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixSpec {
    pub groups: u32,
    pub tokens: u32,
}

/// `race.conversation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSpec {
    /// Turns per conversation, drawn (seeded) from `min..=max`; `None`: a
    /// dataset's own turns, or [`DEFAULT_TURNS`].
    pub turns: Option<TurnRange>,
    /// The pause between an answer and the user's next turn.
    pub think_time: ThinkTime,
    pub history: History,
    /// A conversation ends (counted, not failed) when its next prompt would
    /// hold more tokens than this.
    pub max_context_tokens: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnRange {
    pub min: u32,
    pub max: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ThinkTime {
    /// The same pause every time.
    Constant(Duration),
    /// Exponentially distributed around this mean (seeded per turn).
    Exponential(Duration),
}

impl ThinkTime {
    /// The pause for a draw `u` uniform in `[0, 1)`.
    #[must_use]
    pub fn pause(self, u: f64) -> Duration {
        match self {
            ThinkTime::Constant(d) => d,
            ThinkTime::Exponential(mean) => {
                // Inverse transform; 1 − u is in (0, 1], so its log is finite.
                let factor = -(1.0 - u).ln();
                Duration::from_secs_f64((mean.as_secs_f64() * factor).min(86_400.0))
            }
        }
    }

    /// How the race file and reports say it: `2 s`, `mean 3 s`.
    #[must_use]
    pub fn describe(self) -> String {
        match self {
            ThinkTime::Constant(d) => format!("{} s", d.as_secs_f64()),
            ThinkTime::Exponential(d) => format!("mean {} s", d.as_secs_f64()),
        }
    }
}

/// What a race's requests held besides their prompts, as `summary.json`
/// reports it (`workload.shape`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShapeFacts {
    /// The system prompt's length in characters (`race.system_prompt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt_chars: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<PrefixSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationFacts>,
}

/// A conversation race's settings and where its turns came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationFacts {
    /// `dataset` (its recorded conversations) or `synthetic` (made from the
    /// prompts, with recorded answers of exact length).
    pub source: String,
    /// Distinct conversations a dataset gave (absent for synthetic ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversations: Option<usize>,
    pub turns: Option<TurnRange>,
    /// `0 s`, `2.5 s`, `mean 3 s`.
    pub think_time: String,
    /// `recorded` or `own`.
    pub history: String,
    /// With `history: own` each engine resends its own answers, so prompts
    /// differ per lane from the second turn on.
    pub prompts_differ_per_lane: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_context_tokens: Option<u32>,
}

named_enum! {
    /// What a turn resends as the conversation so far.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum History {
        /// The recorded answers (the dataset's, or synthetic ones): every
        /// engine gets byte-identical prompts.
        #[default]
        Recorded = "recorded",
        /// Each engine's own earlier answers: realistic, but prompts differ
        /// per lane.
        Own = "own",
    }
}
