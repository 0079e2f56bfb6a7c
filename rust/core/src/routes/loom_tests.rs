//! Model checks of a route slot's claim with loom: every interleaving (up to three preemptions)
//! of recorders that rotate a slot while others add to it or read it, and of recorders that
//! find a dead process's clearing half done.
//!
//! The window has one tier of two 1 s slots and a four-bucket sketch, so timestamps 0 and 2
//! share slot 0 on successive laps. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p burnguard-core --lib --release routes`.

use super::*;
use loom::sync::Arc;
use loom::thread;

const SMALL: Geometry = Geometry {
    relative_accuracy: 0.4,
    min_value: 0.1,
    max_value: 1.0,
};

fn window() -> Arc<RouteWindow> {
    let mut window = RouteWindow::layout_of(&[(1.0, 2)], SMALL, Clock::Wall).unwrap();
    window.words = Words::zeroed(window.words_len());
    Arc::new(window)
}

fn model(check: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(check);
}

/// Requests, errors, bytes and the slowest request of the second that ends at `at`, with
/// whether the sketch agrees with the count (quantiles exactly when there are requests).
fn second(w: &RouteWindow, at: f64) -> (u64, u64, u64, f64) {
    let s = w.summary(Some(at), 1.0, 0.0, &[1.0]).unwrap();
    assert_eq!(
        s.quantiles.is_some(),
        s.requests > 0,
        "sketch and count agree"
    );
    (s.requests, s.errors, s.bytes, s.max_seconds)
}

/// Two threads record a request each in slot 0's second lap (at 2.0 s: an error of 10 bytes;
/// at 2.5 s: a good one of 5 bytes), together.
fn record_two_requests_of_lap_two(w: &Arc<RouteWindow>) {
    let other = Arc::clone(w);
    let recorder = thread::spawn(move || other.record(Some(2.0), 0.2, true, 10, 500).unwrap());
    w.record(Some(2.5), 0.5, false, 5, 200).unwrap();
    recorder.join().unwrap();
}

#[test]
fn two_recorders_rotating_one_slot_count_each_request_once() {
    model(|| {
        let w = window();
        w.record(Some(0.0), 0.9, true, 100, 500).unwrap();
        record_two_requests_of_lap_two(&w);

        assert_eq!(
            second(&w, 2.9),
            (2, 1, 15, 0.5),
            "lap 2 alone, both requests"
        );
        assert_eq!((w.totals().requests(), w.dropped()), (3, 0));
    });
}

/// A request one lap older than another, recorded while the other rotates their slot, is
/// dropped if the rotation came first. Otherwise its figures are wiped by the rotation or, those
/// it adds after the rotation's clearing, counted in the newer lap (the bound the module docs
/// state); the newer lap's own request is always counted whole.
#[test]
fn a_late_request_racing_a_rotation_is_dropped_wiped_or_placed_one_lap_later() {
    model(|| {
        let w = window();
        let other = Arc::clone(&w);
        let late = thread::spawn(move || other.record(Some(0.0), 0.9, true, 100, 500).unwrap());
        w.record(Some(2.0), 0.2, false, 5, 200).unwrap();
        late.join().unwrap();

        let (requests, errors, bytes, max) = second(&w, 2.9);
        assert_eq!(w.totals().requests(), 2);
        if w.dropped() == 1 {
            assert_eq!((requests, errors, bytes, max), (1, 0, 5, 0.2));
        } else {
            assert_eq!(w.dropped(), 0);
            assert!(requests <= 2 && errors <= 1 && [5, 105].contains(&bytes));
            assert!(requests >= 1 && (max == 0.2 || max == 0.9));
        }
    });
}

#[test]
fn a_reader_racing_a_rotation_sees_the_whole_slot_or_none_of_it() {
    model(|| {
        let w = window();
        w.record(Some(0.0), 0.5, true, 7, 500).unwrap();
        let other = Arc::clone(&w);
        let rotator = thread::spawn(move || other.record(Some(2.0), 0.2, false, 3, 200).unwrap());
        let seen = second(&w, 1.5);
        rotator.join().unwrap();

        assert!(
            seen == (1, 1, 7, 0.5) || seen == (0, 0, 0, 0.0),
            "a torn slot: {seen:?}"
        );
    });
}

#[test]
fn recorders_finish_a_dead_processes_clearing_once() {
    model(|| {
        let w = window();
        // A process beyond any pid_max died clearing slot 0 for lap 2: its stale figures are
        // half wiped.
        let header = w.header(0);
        header[TAG].store(clearing(0x3fff_ffff, 2), Ordering::Release);
        header[REQUESTS].store(40, Ordering::Relaxed);
        w.slot_counts(0)[0].store(40, Ordering::Relaxed);
        record_two_requests_of_lap_two(&w);

        assert_eq!(
            second(&w, 2.9),
            (2, 1, 15, 0.5),
            "the stale figures are gone"
        );
    });
}
