//! Tests of the breaker: transitions, windows, clocks, bad configurations, stress.

use super::*;
use std::sync::Arc;

fn breaker(config: Config) -> Breaker {
    Breaker::new(config, 7).unwrap()
}

fn small() -> Config {
    Config {
        sliding_window: SlidingWindow::Count(4),
        minimum_number_of_calls: 4,
        wait_duration_in_open_state: 10.0,
        max_wait_duration_in_open_state: 10.0,
        permitted_number_of_calls_in_half_open_state: 2,
        ..Config::default()
    }
}

/// Acquires at `t` and records `outcome`; returns the transition recording caused.
fn call(b: &Breaker, t: f64, outcome: Outcome) -> Option<Transition> {
    let permit = b.try_acquire(|| t).0.expect("permitted");
    b.record(permit, outcome, false, || t)
}

fn moved(from: State, to: State) -> Option<Transition> {
    Some(Transition { from, to })
}

#[test]
fn failure_rate_opens_waits_probes_and_closes() {
    let b = breaker(small());
    assert_eq!(call(&b, 0.0, Outcome::Success), None);
    assert_eq!(call(&b, 0.0, Outcome::Failure), None);
    assert_eq!(call(&b, 0.0, Outcome::Success), None);
    assert_eq!(b.snapshot(0.0).0.failure_rate, -1.0, "below the minimum");
    assert_eq!(
        call(&b, 1.0, Outcome::Failure),
        moved(State::Closed, State::Open)
    );
    let (rejected, caused) = b.try_acquire(|| 4.0);
    assert_eq!(caused, None);
    assert_eq!(
        rejected.unwrap_err(),
        Rejection {
            state: State::Open,
            retry_after: Some(7.0)
        }
    );
    let snap = b.snapshot(4.0).0;
    assert_eq!((snap.failure_rate, snap.not_permitted), (50.0, 1));
    // The wait is over: the next call moves to HALF_OPEN and is the first of two probes.
    let (first, caused) = b.try_acquire(|| 11.0);
    assert_eq!(caused, moved(State::Open, State::HalfOpen));
    let second = b.try_acquire(|| 11.0).0.unwrap();
    let third = b.try_acquire(|| 11.0).0.unwrap_err();
    assert_eq!((third.state, third.retry_after), (State::HalfOpen, None));
    assert_eq!(
        b.record(first.unwrap(), Outcome::Success, false, || 12.0),
        None
    );
    assert_eq!(
        b.record(second, Outcome::Success, false, || 12.0),
        moved(State::HalfOpen, State::Closed)
    );
    let snap = b.snapshot(12.0).0;
    assert_eq!(
        (snap.state, snap.counts),
        (State::Closed, Counts::default())
    );
    assert_eq!(snap.transitions, 3);
}

#[test]
fn a_failing_probe_reopens_with_exponential_backoff_up_to_the_cap() {
    let b = breaker(Config {
        permitted_number_of_calls_in_half_open_state: 1,
        backoff_multiplier: 2.0,
        max_wait_duration_in_open_state: 30.0,
        ..small()
    });
    for _ in 0..4 {
        call(&b, 0.0, Outcome::Failure);
    }
    let mut t = 0.0;
    for expected_wait in [10.0, 20.0, 30.0, 30.0] {
        assert_eq!(b.open_wait_remaining(t), Some(expected_wait));
        t += expected_wait;
        assert_eq!(
            call(&b, t, Outcome::Failure),
            moved(State::HalfOpen, State::Open)
        );
    }
    t += 30.0;
    assert_eq!(
        call(&b, t, Outcome::Success),
        moved(State::HalfOpen, State::Closed)
    );
    for _ in 0..4 {
        call(&b, t, Outcome::Failure);
    }
    assert_eq!(
        b.open_wait_remaining(t),
        Some(10.0),
        "a clean close resets the backoff"
    );
}

#[test]
fn slow_calls_and_consecutive_failures_trip_too() {
    let b = breaker(Config {
        slow_call_rate_threshold: 50.0,
        ..small()
    });
    for slow in [true, false, false, true] {
        let permit = b.try_acquire(|| 0.0).0.unwrap();
        let caused = b.record(permit, Outcome::Success, slow, || 0.0);
        assert_eq!(
            caused.is_some(),
            slow && b.snapshot(0.0).0.counts.calls == 4
        );
    }
    assert_eq!(b.state(0.0).0, State::Open);

    let b = breaker(Config {
        consecutive_failure_threshold: 3,
        sliding_window: SlidingWindow::Count(100),
        ..Config::default()
    });
    call(&b, 0.0, Outcome::Failure);
    call(&b, 0.0, Outcome::Failure);
    call(&b, 0.0, Outcome::Success);
    assert_eq!(b.snapshot(0.0).0.consecutive_failures, 0);
    call(&b, 0.0, Outcome::Failure);
    call(&b, 0.0, Outcome::Failure);
    assert_eq!(
        call(&b, 0.0, Outcome::Failure),
        moved(State::Closed, State::Open)
    );
}

struct Manual(std::sync::atomic::AtomicU64);

impl clock::TimeSource for Manual {
    fn now(&self) -> Result<f64, Error> {
        Ok(f64::from_bits(self.0.load(Ordering::Relaxed)))
    }
}

#[test]
fn calls_on_the_breakers_clock_are_timed_by_it_and_judged_slow_by_the_rule() {
    let source = Arc::new(Manual(std::sync::atomic::AtomicU64::new(100f64.to_bits())));
    let config = Config {
        slow_call_duration_threshold: 2.0,
        slow_call_rate_threshold: 50.0,
        ..small()
    };
    let b = Breaker::with_clock(config, 7, Clock::Injected(source.clone())).unwrap();
    assert_eq!(b.now(), Ok(100.0));
    assert!(b.is_slow(2.0) && !b.is_slow(1.999));
    let set = |t: f64| source.0.store(t.to_bits(), Ordering::Relaxed);
    for i in 0..4 {
        let (call, _) = b.begin().unwrap();
        set(100.0 + f64::from(i) * 10.0 + 2.5); // every call takes 2.5 s
        b.end(call.unwrap(), Outcome::Success, None, false).unwrap();
        set(100.0 + f64::from(i + 1) * 10.0);
    }
    let (snapshot, _) = b.snapshot(b.now().unwrap());
    assert_eq!((snapshot.counts.calls, snapshot.counts.slow), (4, 4));
    assert_eq!(snapshot.state, State::Open, "every call was slow");
    // A given duration wins over the timing; a bad one records nothing.
    let b = Breaker::with_clock(config, 7, Clock::Injected(source.clone())).unwrap();
    let (call, _) = b.begin().unwrap();
    let call = call.unwrap();
    assert_eq!(
        b.end(call, Outcome::Success, Some(-1.0), false)
            .unwrap_err()
            .param,
        "duration"
    );
    b.end(call, Outcome::Success, Some(0.5), false).unwrap();
    b.end(call, Outcome::Success, Some(0.5), true).unwrap();
    let (snapshot, _) = b.snapshot(b.now().unwrap());
    assert_eq!((snapshot.counts.calls, snapshot.counts.slow), (2, 1));
    // An untimed breaker (no threshold) never calls a call slow unless told.
    let b = Breaker::with_clock(small(), 7, Clock::Injected(source)).unwrap();
    let (call, _) = b.begin().unwrap();
    assert!(call.unwrap().start.is_none());
}

#[test]
fn time_window_counts_only_the_last_seconds() {
    let b = breaker(Config {
        sliding_window: SlidingWindow::Time(10),
        minimum_number_of_calls: 3,
        ..Config::default()
    });
    call(&b, 100.0, Outcome::Failure);
    call(&b, 100.5, Outcome::Failure);
    assert_eq!(b.snapshot(105.0).0.counts.calls, 2);
    // At 111 the calls of second 100 have left the 10-second window.
    assert_eq!(b.snapshot(111.0).0.counts, Counts::default());
    call(&b, 111.0, Outcome::Success);
    call(&b, 112.0, Outcome::Failure);
    assert_eq!(
        call(&b, 112.0, Outcome::Failure),
        moved(State::Closed, State::Open)
    );
    let snap = b.snapshot(112.0).0;
    assert_eq!(
        snap.counts,
        Counts {
            calls: 3,
            failed: 2,
            slow: 0
        }
    );
}

#[test]
fn a_clock_stepped_forward_and_back_does_not_blind_the_time_window() {
    let b = breaker(Config {
        sliding_window: SlidingWindow::Time(10),
        minimum_number_of_calls: 100,
        ..Config::default()
    });
    for i in 0..10 {
        call(&b, 7200.0 + f64::from(i), Outcome::Success); // the clock two hours ahead
    }
    for i in 0..10 {
        call(&b, 100.0 + f64::from(i), Outcome::Failure); // then corrected
    }
    let counts = b.snapshot(109.5).0.counts;
    assert_eq!((counts.calls, counts.failed), (10, 10));
}

#[test]
fn outcomes_of_an_earlier_state_do_not_count() {
    let b = breaker(small());
    let stale = b.try_acquire(|| 0.0).0.unwrap();
    assert_eq!(
        b.transition_to(State::ForcedOpen, 0.0),
        moved(State::Closed, State::ForcedOpen)
    );
    let rejected = b.try_acquire(|| 0.0).0.unwrap_err();
    assert_eq!(
        (rejected.state, rejected.retry_after),
        (State::ForcedOpen, None)
    );
    b.transition_to(State::Closed, 0.0);
    assert_eq!(b.record(stale, Outcome::Failure, false, || 0.0), None);
    assert_eq!(b.snapshot(0.0).0.counts.calls, 0);
}

#[test]
fn manual_states() {
    let b = breaker(small());
    assert_eq!(b.transition_to(State::Closed, 0.0), None, "already closed");
    b.transition_to(State::Disabled, 0.0);
    for _ in 0..10 {
        call(&b, 0.0, Outcome::Failure);
    }
    assert_eq!(b.snapshot(0.0).0.counts.calls, 0, "disabled counts nothing");
    b.transition_to(State::MetricsOnly, 0.0);
    for _ in 0..10 {
        assert_eq!(call(&b, 0.0, Outcome::Failure), None);
    }
    let snap = b.snapshot(0.0).0;
    assert_eq!((snap.state, snap.failure_rate), (State::MetricsOnly, 100.0));
    b.transition_to(State::Open, 0.0);
    assert!(b.try_acquire(|| 0.0).0.is_err());
    assert_eq!(b.reset(0.0), moved(State::Open, State::Closed));
    let snap = b.snapshot(0.0).0;
    assert_eq!((snap.not_permitted, snap.counts.calls), (0, 0));
    assert!("HALF_OPEN".parse::<State>().is_ok());
    assert!("half".parse::<State>().is_err());
}

#[test]
fn automatic_half_open_happens_on_a_read_once() {
    let b = breaker(Config {
        automatic_transition_from_open_to_half_open: true,
        ..small()
    });
    b.transition_to(State::Open, 0.0);
    assert_eq!(b.state(9.0), (State::Open, None));
    assert_eq!(
        b.state(10.0),
        (State::HalfOpen, moved(State::Open, State::HalfOpen))
    );
    assert_eq!(b.state(10.0), (State::HalfOpen, None));
}

#[test]
fn half_open_gives_up_after_its_max_wait_and_ignored_probes_return_permits() {
    let b = breaker(Config {
        max_wait_duration_in_half_open_state: 5.0,
        ..small()
    });
    b.transition_to(State::HalfOpen, 0.0);
    let first = b.try_acquire(|| 0.0).0.unwrap();
    let _second = b.try_acquire(|| 0.0).0.unwrap();
    assert!(b.try_acquire(|| 1.0).0.is_err());
    assert_eq!(b.record(first, Outcome::Ignored, false, || 1.0), None);
    let third = b.try_acquire(|| 1.0).0;
    assert!(third.is_ok(), "an ignored probe gives its permit back");
    let (rejected, caused) = b.try_acquire(|| 5.0);
    assert_eq!(caused, moved(State::HalfOpen, State::Open));
    assert_eq!(rejected.unwrap_err().state, State::Open);
}

#[test]
fn jitter_stays_in_bounds() {
    let b = breaker(Config {
        jitter: 0.5,
        ..small()
    });
    let waits: Vec<f64> = (0..200).map(|_| b.open_wait(0)).collect();
    assert!(waits.iter().all(|&w| (5.0..=15.0).contains(&w)));
    assert!(waits.iter().any(|&w| w < 9.0) && waits.iter().any(|&w| w > 11.0));
}

#[test]
fn bad_configuration_names_the_parameter() {
    let bad = |c: Config| match Breaker::new(c, 0) {
        Err(Error { param, .. }) => param,
        _ => panic!("accepted"),
    };
    let d = Config::default();
    assert_eq!(
        bad(Config {
            failure_rate_threshold: 0.0,
            ..d
        }),
        "failure_rate_threshold"
    );
    assert_eq!(
        bad(Config {
            slow_call_rate_threshold: 101.0,
            ..d
        }),
        "slow_call_rate_threshold"
    );
    assert_eq!(
        bad(Config {
            sliding_window: SlidingWindow::Time(0),
            ..d
        }),
        "sliding_window_size"
    );
    assert_eq!(
        bad(Config {
            permitted_number_of_calls_in_half_open_state: 0,
            ..d
        }),
        "permitted_number_of_calls_in_half_open_state"
    );
    assert_eq!(
        bad(Config {
            wait_duration_in_open_state: f64::NAN,
            ..d
        }),
        "wait_duration_in_open_state"
    );
    assert_eq!(
        bad(Config {
            max_wait_duration_in_open_state: 1.0,
            ..d
        }),
        "max_wait_duration_in_open_state"
    );
    assert_eq!(bad(Config { jitter: 1.0, ..d }), "jitter");
    assert_eq!(
        bad(Config {
            backoff_multiplier: 0.5,
            ..d
        }),
        "backoff_multiplier"
    );
}

/// Threads hammer one breaker through many transitions (the clock moves on, probes fail
/// or succeed at random): no HALF_OPEN epoch ever issues more permits than configured.
#[test]
fn stress_never_exceeds_half_open_permits() {
    let permitted = 3;
    let b = Arc::new(breaker(Config {
        sliding_window: SlidingWindow::Count(8),
        minimum_number_of_calls: 4,
        wait_duration_in_open_state: 0.001,
        max_wait_duration_in_open_state: 0.001,
        permitted_number_of_calls_in_half_open_state: permitted,
        ..Config::default()
    }));
    let clock = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let threads: Vec<_> = (0..8)
        .map(|seed| {
            let (b, clock) = (b.clone(), clock.clone());
            std::thread::spawn(move || {
                let mut probes = std::collections::HashMap::<u16, u32>::new();
                let mut rng = seed as u64 + 1;
                for _ in 0..10_000 {
                    rng = splitmix64(rng);
                    let now = || clock.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1000.0;
                    if rng % 16 == 0 {
                        clock.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    if let Ok(permit) = b.try_acquire(now).0 {
                        if permit.state() == State::HalfOpen {
                            *probes.entry(permit.epoch).or_default() += 1;
                        }
                        let outcome = if rng % 3 == 0 {
                            Outcome::Failure
                        } else {
                            Outcome::Success
                        };
                        b.record(permit, outcome, false, now);
                    }
                }
                probes
            })
        })
        .collect();
    let mut per_epoch = std::collections::HashMap::<u16, u32>::new();
    for t in threads {
        for (epoch, n) in t.join().unwrap() {
            *per_epoch.entry(epoch).or_default() += n;
        }
    }
    assert!(per_epoch.len() > 10, "the run went through HALF_OPEN often");
    assert!(per_epoch.values().all(|&n| n <= permitted), "{per_epoch:?}");
    let snap = b.snapshot(1e9).0;
    assert!(snap.transitions >= 2 * per_epoch.len() as u64 - 1);
}

/// Exact totals: concurrent records into a count window match the ring's contents, and
/// into a time window sum to the number of calls.
#[test]
fn stress_counts_are_exact() {
    let window = Arc::new(CountWindow::new(1000));
    let time = Arc::new(TimeWindow::new(10));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (window, time) = (window.clone(), time.clone());
            std::thread::spawn(move || {
                for k in 0..100_000u64 {
                    window.record((k + i) % 3 == 0, (k + i) % 5 == 0);
                    time.record(50.0 + (k % 10) as f64 * 0.5, k % 4 == 0, false);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let slots: Vec<u8> = (0..1000).map(|slot| window.slot(slot)).collect();
    let count = |bit: u8| slots.iter().filter(|&&s| s & bit != 0).count() as u64;
    assert_eq!(
        window.counts(),
        Counts {
            calls: count(OCCUPIED),
            failed: count(FAILED),
            slow: count(SLOW)
        }
    );
    assert_eq!(window.counts().calls, 1000);
    window.clear();
    assert_eq!(window.counts(), Counts::default());
    assert_eq!(
        time.counts(54.9),
        Counts {
            calls: 800_000,
            failed: 200_000,
            slow: 0
        }
    );
}

/// A death between a transition's compare-and-swap and its deadline: the next caller
/// publishes the deadline from its own time, so the breaker still probes after the wait.
#[test]
fn a_transition_whose_deadline_was_never_published_still_ends() {
    let b = breaker(small());
    b.cells[WORD].store(Word::new(State::Open, 0, 1).0, Ordering::Release);
    let (rejected, caused) = b.try_acquire(|| 100.0);
    assert_eq!(caused, None);
    assert_eq!(rejected.unwrap_err().retry_after, Some(10.0));
    assert_eq!(b.open_wait_remaining(105.0), Some(5.0));
    let (permit, caused) = b.try_acquire(|| 110.0);
    assert!(permit.is_ok());
    assert_eq!(caused, moved(State::Open, State::HalfOpen));
}

/// A deadline is published only for the word still current: a helper that computed one for
/// an earlier epoch leaves the current epoch's deadline alone.
#[test]
fn a_stale_deadline_is_never_published_over_a_newer_one() {
    let b = breaker(small());
    for _ in 0..4 {
        call(&b, 0.0, Outcome::Failure);
    }
    let open = b.load();
    assert_eq!(open.state(), State::Open);
    let stale = Word::new(State::Open, 0, u64::from(open.epoch()) - 1);
    assert_eq!(b.deadline(stale, 500.0), 500.0 + 10.0);
    assert_eq!(b.deadline(open, 500.0), 10.0);
}

#[cfg(target_os = "linux")]
#[test]
fn breakers_shared_in_an_arena_are_one_state_machine() {
    for window in [SlidingWindow::Count(4), SlidingWindow::Time(10)] {
        let arena = crate::arena::TestArena::new("breaker-one", 1 << 20);
        let config = Config {
            sliding_window: window,
            ..small()
        };
        let (mut a, mut b) = (breaker(config), breaker(config));
        a.share(&arena, "db").unwrap();
        b.share(&arena, "db").unwrap();
        assert!(a.is_shared() && b.is_shared());
        call(&a, 1.0, Outcome::Failure);
        call(&b, 1.0, Outcome::Failure);
        call(&a, 1.0, Outcome::Failure);
        assert_eq!(
            call(&b, 1.0, Outcome::Failure),
            moved(State::Closed, State::Open)
        );
        let rejected = a.try_acquire(|| 2.0).0.unwrap_err();
        assert_eq!(
            (rejected.state, rejected.retry_after),
            (State::Open, Some(9.0))
        );
        assert_eq!(b.snapshot(2.0).0.not_permitted, 1);
        // The probes: one from each; both succeed and the breaker closes for both.
        let pa = a.try_acquire(|| 11.0).0.unwrap();
        let pb = b.try_acquire(|| 11.0).0.unwrap();
        assert!(a.try_acquire(|| 11.0).0.is_err(), "two probes only");
        a.record(pa, Outcome::Success, false, || 11.5);
        assert_eq!(
            b.record(pb, Outcome::Success, false, || 11.5),
            moved(State::HalfOpen, State::Closed)
        );
        assert_eq!(a.snapshot(12.0).0.state, State::Closed);
        assert_eq!(a.snapshot(12.0).0.transitions, 3);

        let mut other = breaker(Config {
            failure_rate_threshold: 20.0,
            ..config
        });
        let e = other.share(&arena, "db").unwrap_err().to_string();
        assert!(e.contains("with another configuration"), "{e}");
        breaker(config).share(&arena, "cache").unwrap();
    }
}

/// A shared breaker leases its probes: with every probe taken and none back (their holders
/// were killed), it reopens after the lease instead of staying HALF_OPEN for ever.
#[cfg(target_os = "linux")]
#[test]
fn shared_probes_are_leased() {
    let arena = crate::arena::TestArena::new("breaker-lease", 1 << 20);
    let mut b = breaker(small());
    b.share(&arena, "db").unwrap();
    for _ in 0..4 {
        call(&b, 0.0, Outcome::Failure);
    }
    let _lost = [
        b.try_acquire(|| 10.0).0.unwrap(),
        b.try_acquire(|| 10.0).0.unwrap(),
    ];
    let held = b
        .try_acquire(|| 10.0 + SHARED_PROBE_LEASE - 1.0)
        .0
        .unwrap_err();
    assert_eq!(held.state, State::HalfOpen);
    let (reopened, caused) = b.try_acquire(|| 10.0 + SHARED_PROBE_LEASE);
    assert_eq!(caused, moved(State::HalfOpen, State::Open));
    assert_eq!(reopened.unwrap_err().state, State::Open);
    // Unshared, the same breaker waits for its probes however long.
    let local = breaker(small());
    for _ in 0..4 {
        call(&local, 0.0, Outcome::Failure);
    }
    let _held = [
        local.try_acquire(|| 10.0).0.unwrap(),
        local.try_acquire(|| 10.0).0.unwrap(),
    ];
    assert_eq!(
        local.try_acquire(|| 1e6).0.unwrap_err().state,
        State::HalfOpen
    );
}
