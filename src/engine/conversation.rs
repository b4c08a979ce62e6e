//! A conversation's turns, one after another: each turn resends the
//! conversation so far (the recorded answers, or this engine's own) with
//! the next user message, after the user's think time. It ends when its
//! turns are done, when its next prompt would pass `max_context_tokens`,
//! when a turn fails, or when the engine stops, and says which.
//!
//! A closed-loop user runs one conversation after another; an open loop
//! starts one per arrival, and each turn takes an in-flight slot only
//! while its request runs (never while the user thinks).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, sleep_until};

use super::backoff::Outcome;
use super::event::RaceEvent;
use super::lane::{Lane, RequestSlot};
use super::request::run_guarded;
use crate::config::History;
use crate::metrics::{ConversationEnd, ConversationTurn};
use crate::workload::shape::turn_key;
use crate::workload::{Ask, Turn};

/// What a turn waits for before it is sent: nothing (a closed-loop user),
/// or one of an open loop's in-flight slots.
pub(super) struct Gate {
    pub(super) slots: Option<Arc<Semaphore>>,
    /// The first turn's slot, already taken by its arrival.
    pub(super) first: Option<OwnedSemaphorePermit>,
}

/// Runs conversation `c` from `first` (its first turn's slot); the turns'
/// `user_request_num` go on from `sent`, which counts them. Returns the
/// last turn's outcome (`None` if no turn ended: aborted, or never sent).
pub(super) async fn converse(
    lane: &Lane,
    c: u64,
    first: RequestSlot,
    mut gate: Gate,
    sent: &mut u32,
) -> Option<Outcome> {
    let spec = lane.prompts.conversation_spec()?;
    let script = lane.prompts.conversation(c);
    let system = lane.prompts.system_for(c);
    let own = spec.history == History::Own;
    let mut answered: Vec<Turn> = Vec::new();
    // Tokens sent before the next user message: the system message, then
    // the last prompt and its answer.
    let mut context = system
        .as_deref()
        .map_or(0, |s| lane.prompts.count(lane.engine, s));
    let mut last = None;
    let mut scheduled = first.scheduled;
    for (i, turn) in script.iter().enumerate() {
        let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let mut waited_for_slot = first.waited_for_slot;
        if number > 1 {
            scheduled += lane.prompts.think_time(c, number);
            match next_turn(lane, scheduled, &mut gate).await {
                Some(waited) => waited_for_slot = waited,
                None => return ended(lane, ConversationEnd::Stopped, last).await,
            }
        }
        let next = context.saturating_add(lane.prompts.count(lane.engine, &turn.user));
        if spec.max_context_tokens.is_some_and(|most| next > most) {
            return ended(lane, ConversationEnd::ContextLimit, last).await;
        }
        *sent += 1;
        let slot = RequestSlot {
            request_id: turn_key(c, number),
            user_id: first.user_id,
            user_request_num: *sent,
            scheduled,
            waited_for_slot,
            conversation: Some(ConversationTurn {
                id: c,
                turn: number,
            }),
        };
        let ask = Ask {
            system: system.clone(),
            history: if own {
                Arc::from(answered.as_slice())
            } else {
                Arc::clone(&script)
            },
            history_len: i,
            text: Arc::clone(&turn.user),
            more: Arc::from(Vec::new()),
        };
        let outcome = run_guarded(lane, slot, &ask).await;
        drop(gate.first.take());
        let Some(done) = outcome else {
            return ended(lane, ConversationEnd::Stopped, None).await;
        };
        let failed = done.outcome.error.is_some();
        last = Some(done.outcome);
        if failed {
            return ended(lane, ConversationEnd::Failed, last).await;
        }
        let (answer, answer_tokens) = if own {
            (done.answer, done.output_tokens)
        } else {
            let recorded = Arc::clone(&turn.answer);
            let n = lane.prompts.count(lane.engine, &recorded);
            (recorded, n)
        };
        context = done.input_tokens.saturating_add(answer_tokens);
        if own {
            answered.push(Turn {
                user: Arc::clone(&turn.user),
                answer,
            });
        }
        // The user reads the answer from when it ended.
        scheduled = Instant::now();
    }
    ended(lane, ConversationEnd::Completed, last).await
}

/// Waits for a later turn's time and, in an open loop, its in-flight slot
/// (kept in `gate`). Whether it waited for the slot; `None` if the engine
/// stopped first.
async fn next_turn(lane: &Lane, scheduled: Instant, gate: &mut Gate) -> Option<bool> {
    tokio::select! {
        biased;
        () = lane.stop.cancelled() => return None,
        () = sleep_until(scheduled) => {}
    }
    if !lane.offers(scheduled) {
        return None;
    }
    let Some(slots) = &gate.slots else {
        return Some(false);
    };
    if let Ok(permit) = Arc::clone(slots).try_acquire_owned() {
        gate.first = Some(permit);
        return Some(false);
    }
    let permit = tokio::select! {
        biased;
        () = lane.stop.cancelled() => None,
        p = Arc::clone(slots).acquire_owned() => p.ok(),
    }?;
    gate.first = Some(permit);
    Some(true)
}

async fn ended(lane: &Lane, how: ConversationEnd, last: Option<Outcome>) -> Option<Outcome> {
    lane.emit(RaceEvent::ConversationEnded {
        engine: lane.engine,
        how,
    })
    .await;
    last
}
