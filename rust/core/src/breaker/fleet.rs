//! What a fleet backend needs of a breaker: the state its store decided, adopted in one
//! compare-and-swap, and HALF_OPEN probes that wait for the store's lease.
//!
//! A fleet keeps one state per breaker name in its store. Each host's breaker decides calls
//! on its own state word, as always; the backend's sync reports the host's window and any
//! transition it made, and [`Breaker::adopt`] installs the state the store settled on. While
//! [`Breaker::set_gated`] is on, a move to HALF_OPEN that the host makes by itself (its OPEN
//! wait is over) takes every probe at once, so the host rejects until the store grants it
//! the fleet's probe lease and `adopt` hands it the probes: the fleet never admits more
//! probes than one breaker would.

use super::*;

impl Breaker {
    /// Fleet mode: whether moves to HALF_OPEN made here (not adopted) wait for a probe lease.
    pub fn set_gated(&self, gated: bool) {
        self.gated
            .store(gated, std::sync::atomic::Ordering::Relaxed);
    }

    pub(super) fn is_gated(&self) -> bool {
        self.gated.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The state word's epoch (it moves with every transition) and backoff level.
    pub fn epoch_and_level(&self) -> (u16, u64) {
        let w = self.load();
        (w.epoch(), w.level())
    }

    /// Whether the breaker is HALF_OPEN holding probes it may still issue or has issued
    /// (rather than waiting for a lease with every probe taken and none finished).
    pub fn holds_probes(&self) -> bool {
        let w = self.load();
        let permitted = u64::from(self.config.permitted_number_of_calls_in_half_open_state);
        w.state() == State::HalfOpen
            && !(w.probes(ISSUED_SHIFT) >= permitted && w.probes(DONE_SHIFT) == 0)
    }

    /// Installs the state a fleet's store decided, at backoff `level`: OPEN until `deadline`
    /// (seconds, this breaker's clock; from its own wait if None), HALF_OPEN with its probes
    /// if `probes` (the lease is this host's) or with every probe taken. Entering CLOSED
    /// clears the window. Reports the transition if the state changed.
    pub fn adopt(
        &self,
        state: State,
        level: u64,
        deadline: Option<f64>,
        probes: bool,
        now: f64,
    ) -> Option<Transition> {
        let permitted = u64::from(self.config.permitted_number_of_calls_in_half_open_state);
        if state == State::Closed {
            self.clear_counts();
        }
        loop {
            let w = self.load();
            let mut next = w.next(state, level.min(MAX_LEVEL));
            if state == State::HalfOpen && !probes {
                next = Word(next.0 | permitted << ISSUED_SHIFT);
            }
            if !self.cas(w, next) {
                continue;
            }
            self.cells[TRANSITIONS].fetch_add(1, Ordering::Relaxed);
            match (state, deadline) {
                (State::Open | State::HalfOpen, Some(at)) => {
                    self.cells[DEADLINE].store(deadline_word(next.epoch(), at), Ordering::Release)
                }
                (State::Open | State::HalfOpen, None) => {
                    self.deadline(next, now);
                }
                _ => {}
            }
            return (w.state() != state).then_some(Transition {
                from: w.state(),
                to: state,
            });
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        let config = Config {
            permitted_number_of_calls_in_half_open_state: 2,
            wait_duration_in_open_state: 10.0,
            ..Config::default()
        };
        Breaker::new(config, 1).unwrap()
    }

    #[test]
    fn an_adopted_open_state_rejects_until_its_deadline() {
        let b = breaker();
        let t = b.adopt(State::Open, 2, Some(150.0), false, 100.0);
        assert_eq!(
            t,
            Some(Transition {
                from: State::Closed,
                to: State::Open
            })
        );
        assert_eq!(b.epoch_and_level().1, 2);
        let (rejected, _) = b.try_acquire(|| 120.0);
        assert_eq!(rejected.unwrap_err().retry_after, Some(30.0));
        assert!(
            b.adopt(State::Open, 2, Some(150.0), false, 121.0).is_none(),
            "no change"
        );
    }

    #[test]
    fn a_gated_breaker_waits_for_the_probe_lease() {
        let b = breaker();
        b.set_gated(true);
        b.adopt(State::Open, 0, Some(110.0), false, 100.0);
        let (rejected, moved) = b.try_acquire(|| 111.0);
        assert_eq!(
            moved,
            Some(Transition {
                from: State::Open,
                to: State::HalfOpen
            })
        );
        assert_eq!(
            rejected.unwrap_err().state,
            State::HalfOpen,
            "no probe without the lease"
        );
        assert!(!b.holds_probes());
        assert!(
            b.adopt(State::HalfOpen, 0, None, true, 112.0).is_none(),
            "same state, new probes"
        );
        assert!(b.holds_probes());
        let (first, _) = b.try_acquire(|| 112.0);
        let (second, _) = b.try_acquire(|| 112.0);
        let (third, _) = b.try_acquire(|| 112.0);
        assert!(first.is_ok() && second.is_ok() && third.is_err());
        b.set_gated(false);
        b.adopt(State::Open, 0, Some(120.0), false, 113.0);
        assert!(b.try_acquire(|| 121.0).0.is_ok(), "ungated: probes at once");
    }

    #[test]
    fn adopting_closed_clears_the_window() {
        let b = breaker();
        let (permit, _) = b.try_acquire(|| 1.0);
        b.record(permit.unwrap(), Outcome::Failure, false, || 1.0);
        assert_eq!(b.snapshot(1.0).0.counts.failed, 1);
        b.adopt(State::Open, 0, None, false, 2.0);
        b.adopt(State::Closed, 0, None, false, 3.0);
        assert_eq!(b.snapshot(3.0).0.counts.calls, 0);
    }
}
