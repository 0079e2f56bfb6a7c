//! Model check of the bucket-rotation race with loom: every interleaving of two writers that
//! rotate a slot (and carry its count up a tier) while the other adds to it.
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
