//! Expiry of reservations and retention of finalized reservations and idempotency records.

use super::*;

impl Ledger {
    /// Expires reservations whose commit deadline has passed, and forgets finalized
    /// reservations and idempotency records older than the retention period. Returns how many
    /// reservations expired, and whether anything changed.
    pub(super) fn expire(&self, state: &mut State, now_ms: i64) -> (usize, bool) {
        let mut expired = 0;
        let mut forgot = false;
        while let Some(&(deadline, number)) = state.deadlines.first() {
            if deadline >= now_ms {
                break;
            }
            let r = &state.reservations[&number];
            let held = r.reserved;
            with_slots(state, number, |state, slots| unhold(state, slots, held));
            self.finalize(state, number, Status::Expired, None, now_ms);
            expired += 1;
        }
        let horizon = now_ms.saturating_sub(self.retention.ms);
        let max = self.retention.max_retained;
        while let Some(&(at, number)) = state.finalized.first() {
            if at >= horizon && state.finalized.len() <= max {
                break;
            }
            state.finalized.pop_first();
            state.reservations.remove(&number);
            forgot = true;
        }
        while let Some((at, op, key)) = state.replay_times.first().cloned() {
            if at >= horizon && state.replay_times.len() <= max {
                break;
            }
            state.replay_times.pop_first();
            state.replays.remove(&(op, key));
            forgot = true;
        }
        (expired, forgot || expired > 0)
    }

    pub(super) fn finalize(
        &self,
        state: &mut State,
        number: u64,
        status: Status,
        committed: Option<i64>,
        now_ms: i64,
    ) {
        let r = state.reservations.get_mut(&number).expect("known");
        let deadline = r.expires_at_ms.saturating_add(r.grace_period_ms);
        r.status = status;
        r.committed = committed;
        r.finalized_at_ms = Some(now_ms);
        state.deadlines.remove(&(deadline, number));
        state.finalized.insert((now_ms, number));
    }

    pub(super) fn remember(
        &self,
        state: &mut State,
        now_ms: i64,
        op: Op,
        key: Option<&str>,
        payload: u64,
        answer: impl FnOnce() -> Answer,
    ) {
        let Some(key) = key else { return };
        let answer = answer();
        state.replay_times.insert((now_ms, op, key.to_string()));
        state.replays.insert(
            (op, key.to_string()),
            Replay {
                payload,
                answer,
                at_ms: now_ms,
            },
        );
    }
}
