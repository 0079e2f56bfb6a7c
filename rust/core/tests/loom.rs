//! Model checks with loom: every interleaving of two writers that rotate a window's slot (and
//! carry its count up a tier) while the other adds to it, of two callers racing for a
//! breaker's HALF_OPEN probe, and of a caller that meets a breaker between its transition to
//! OPEN and the deadline's publication.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p burnguard-core --test loom --release`.
#![cfg(loom)]

use burnguard_core::window::{BucketWindow, Counts};
use loom::sync::Arc;
use loom::thread;

/// Two buckets per tier, 1 s wide at tier 0: timestamps 0, 2 and 4 share slot 0 on successive
/// laps, so each of those records rotates the slot another writer may be adding to.
fn window() -> Arc<BucketWindow> {
    Arc::new(BucketWindow::with_buckets(1.0, 6.0, 2).unwrap())
}

#[test]
fn rotation_race_neither_loses_nor_double_counts() {
    loom::model(|| {
        let w = window();
        let other = Arc::clone(&w);
        let writer = thread::spawn(move || {
            other.record(0.0, true, 1).unwrap();
            other.record(2.0, false, 1).unwrap();
        });
        w.record(0.5, true, 1).unwrap();
        w.record(4.0, true, 1).unwrap();
        writer.join().unwrap();

        assert_eq!((w.dropped(), w.expired()), (0, 0));
        assert_eq!(w.live_counts(), Counts { good: 3, bad: 1 });
        assert_eq!(w.count(4.0, 4.0).unwrap(), Counts { good: 3, bad: 1 });
        assert_eq!(w.count(4.0, 0.0).unwrap(), Counts { good: 1, bad: 0 });
    });
}

#[test]
fn late_event_racing_a_carry_lands_in_the_tier_above() {
    loom::model(|| {
        let w = window();
        let other = Arc::clone(&w);
        // The writer rotates slot 0 from lap 0 to lap 1 while this thread adds a late event
        // for lap 0: whichever wins, the late event ends up counted exactly once.
        let writer = thread::spawn(move || other.record(2.0, true, 1).unwrap());
        w.record(0.0, false, 1).unwrap();
        w.record(0.2, false, 1).unwrap();
        writer.join().unwrap();

        assert_eq!(w.live_counts(), Counts { good: 1, bad: 2 });
        assert_eq!(w.count(2.0, 2.0).unwrap(), Counts { good: 1, bad: 2 });
    });
}

/// Breaker: two callers race for the one HALF_OPEN probe and record its outcome: one probe
/// per HALF_OPEN epoch, and its success closes the breaker exactly once.
#[test]
fn half_open_probe_race_issues_one_permit_and_one_transition() {
    use burnguard_core::breaker::{Breaker, Config, Outcome, State};
    loom::model(|| {
        let config = Config {
            permitted_number_of_calls_in_half_open_state: 1,
            ..Config::default()
        };
        let b = Arc::new(Breaker::new(config, 0).unwrap());
        b.transition_to(State::HalfOpen, 0.0);
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let b = Arc::clone(&b);
                thread::spawn(move || {
                    let (permit, _) = b.try_acquire(|| 0.0);
                    permit.ok().map(|p| {
                        let transition = b.record(p, Outcome::Success, false, || 0.0);
                        (p.state(), transition)
                    })
                })
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        // The loser is rejected, or let through once the probe's success closed the breaker.
        let probes: Vec<_> = results
            .iter()
            .flatten()
            .filter(|(state, _)| *state == State::HalfOpen)
            .collect();
        assert_eq!(probes.len(), 1, "exactly one probe");
        assert!(probes[0].1.is_some(), "its success closed the breaker");
        assert_eq!(b.state(0.0).0, State::Closed);
    });
}

/// Breaker: one caller trips the breaker (the transition's compare-and-swap, then its deadline)
/// while another asks for a permit. In every interleaving the one deadline published is the
/// epoch's, whoever published it: the asker is rejected for the whole wait, and a call once the
/// wait is over is let through as a probe.
#[test]
fn a_caller_between_a_transition_and_its_deadline_publishes_the_same_deadline() {
    use burnguard_core::breaker::{Breaker, Config, Outcome, State};
    loom::model(|| {
        let config = Config {
            consecutive_failure_threshold: 1,
            wait_duration_in_open_state: 10.0,
            max_wait_duration_in_open_state: 10.0,
            ..Config::default()
        };
        let b = Arc::new(Breaker::new(config, 0).unwrap());
        let permit = b.try_acquire(|| 0.0).0.unwrap();
        let tripper = {
            let b = Arc::clone(&b);
            thread::spawn(move || b.record(permit, Outcome::Failure, false, || 0.0))
        };
        let asked = b.try_acquire(|| 0.0).0;
        let tripped = tripper.join().unwrap();
        assert!(tripped.is_some_and(|t| t.to == State::Open));
        if let Err(rejected) = asked {
            assert_eq!(
                (rejected.state, rejected.retry_after),
                (State::Open, Some(10.0))
            );
        }
        assert_eq!(b.open_wait_remaining(4.0), Some(6.0));
        assert_eq!(b.try_acquire(|| 9.0).0.unwrap_err().retry_after, Some(1.0));
        let (probe, moved) = b.try_acquire(|| 10.0);
        assert_eq!(
            (probe.unwrap().state(), moved.map(|t| t.to)),
            (State::HalfOpen, Some(State::HalfOpen))
        );
    });
}
