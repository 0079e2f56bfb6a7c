//! Idempotency: the operations' records, their stable fingerprints and replays.

use super::*;

/// A stored answer, replayed for a repeated idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Answer {
    Verdict(Box<Verdict>),
    Committed(Committed),
    Released(i64),
    Extended(i64),
    Debited(Debited),
    Funded(Funded),
}

/// The operations, which each have their own idempotency keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Op {
    Reserve,
    Commit,
    Release,
    Extend,
    Decide,
    Event,
    Fund,
}

named_enum!(Op, "op", {
    Reserve => "reserve",
    Commit => "commit",
    Release => "release",
    Extend => "extend",
    Decide => "decide",
    Event => "event",
    Fund => "fund",
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Replay {
    /// A hash of the request (see [`fingerprint`]).
    pub(super) payload: u64,
    pub(super) answer: Answer,
    pub(super) at_ms: i64,
}

/// The stable hash of a request (see [`fingerprint`]), compared when its idempotency key comes
/// again; 0 without a key (nothing is compared).
pub(super) fn fingerprint(
    op: Op,
    key: Option<&str>,
    write: impl FnOnce(&mut Fingerprint) -> &mut Fingerprint,
) -> u64 {
    if key.is_none() {
        return 0;
    }
    let mut f = Fingerprint::of(op.as_str());
    write(&mut f).finish()
}

/// The stored answer for `(op, key)` if the payload matches; a mismatch error otherwise.
pub(super) fn replay(
    state: &State,
    op: Op,
    key: Option<&str>,
    payload: u64,
) -> Result<Option<Answer>, LedgerError> {
    let Some(key) = key else { return Ok(None) };
    match state.replays.get(&(op, key.to_string())) {
        None => Ok(None),
        Some(r) if r.payload == payload => Ok(Some(r.answer.clone())),
        Some(_) => Err(LedgerError::IdempotencyMismatch {
            key: key.to_string(),
        }),
    }
}

pub(super) fn answer_verdict(answer: Answer) -> Verdict {
    match answer {
        Answer::Verdict(v) => *v,
        _ => unreachable!("reserve and decide keys store verdicts"),
    }
}
