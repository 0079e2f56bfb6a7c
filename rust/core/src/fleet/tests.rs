use super::*;

fn window() -> BucketWindow {
    BucketWindow::new(1.0, 4000.0).unwrap() // 256 one-second buckets in tier 0
}

/// The store's side, as the scripts do it: per writer, the counts applied per bucket; per
/// tier, a ring of complete buckets.
struct Store {
    applied: HashMap<(usize, u64), Counts>,
    mirror: FleetWindow,
}

impl Store {
    fn new(w: &BucketWindow) -> Self {
        Store {
            applied: HashMap::new(),
            mirror: FleetWindow::new(w.layout()),
        }
    }

    fn apply(&mut self, batch: &Batch) {
        self.apply_from(0, batch);
    }

    fn apply_from(&mut self, writer: usize, batch: &Batch) {
        let (_, n, tiers) = self.mirror_layout();
        for &(index, counts) in &batch.changed {
            let before = self
                .applied
                .insert((writer, index), counts)
                .unwrap_or_default();
            let (good, bad) = (counts.good - before.good, counts.bad - before.bad);
            for k in 0..tiers {
                let i = index >> (2 * k);
                let (slot, tag) = ((i % n as u64) as usize, i / n as u64 + 1);
                let [held, g, b] = self.mirror.slots[k * n + slot];
                let next = match held {
                    h if h == tag => [tag, g + good, b + bad],
                    h if h < tag => [tag, good, bad],
                    _ => continue,
                };
                self.mirror.set(k, slot, next[0], next[1], next[2]).unwrap();
            }
        }
        for &index in &batch.forgotten {
            self.applied.remove(&(writer, index));
        }
    }

    fn mirror_layout(&self) -> (f64, usize, usize) {
        (
            self.mirror.base_width,
            self.mirror.buckets as usize,
            self.mirror.tiers,
        )
    }
}

#[test]
fn batches_carry_changed_buckets_with_absolute_counts() {
    let w = window();
    let mut outbox = Outbox::new(&w);
    w.record(100.5, true, 3).unwrap();
    w.record(101.2, false, 1).unwrap();
    let first = outbox.batch(&w, 102.0).unwrap();
    assert!(first.full);
    assert_eq!(
        first.changed,
        vec![
            (100, Counts { good: 3, bad: 0 }),
            (101, Counts { good: 0, bad: 1 })
        ]
    );
    w.record(101.9, true, 2).unwrap();
    assert_eq!(outbox.unshared(&w), 6, "until the store acknowledges");
    outbox.acknowledge();
    assert_eq!(outbox.unshared(&w), 2, "recorded after the batch");
    let second = outbox.batch(&w, 102.0).unwrap();
    assert!(!second.full);
    assert_eq!(
        second.changed,
        vec![(101, Counts { good: 2, bad: 1 })],
        "only what changed, absolute"
    );
    assert!(outbox.batch(&w, 102.0).unwrap().changed.is_empty());
    outbox.acknowledge();
    assert_eq!(outbox.unshared(&w), 0);
}

#[test]
fn a_batch_applied_twice_adds_nothing_and_a_resend_restores_a_lost_one() {
    let w = window();
    let mut outbox = Outbox::new(&w);
    let mut store = Store::new(&w);
    w.record(50.0, false, 4).unwrap();
    let batch = outbox.batch(&w, 50.5).unwrap();
    store.apply(&batch);
    store.apply(&batch); // a retried flush
    w.record(50.2, true, 6).unwrap();
    let _lost = outbox.batch(&w, 50.5).unwrap(); // never reached the store
    outbox.resend_all();
    let again = outbox.batch(&w, 50.6).unwrap();
    assert!(again.full);
    store.apply(&again);
    outbox.acknowledge();
    let counts = store.mirror.count_many(50.6, &[10.0, 1000.0]).unwrap();
    assert_eq!(counts, vec![Counts { good: 6, bad: 4 }; 2]);
    assert_eq!(
        outbox.unshared(&w),
        0,
        "a resend is not counted as more events"
    );
}

#[test]
fn buckets_that_age_out_of_the_finest_span_are_forgotten_or_unshared() {
    let w = window();
    let mut outbox = Outbox::new(&w);
    w.record(10.0, true, 1).unwrap();
    outbox.batch(&w, 10.0).unwrap();
    outbox.acknowledge();
    w.record(10.0, true, 1).unwrap(); // after the last batch, then ages out unflushed
    let later = outbox.batch(&w, 10.0 + 300.0).unwrap();
    assert_eq!(later.forgotten, vec![10]);
    assert!(later.changed.is_empty());
    assert_eq!(outbox.unshared(&w), 1);
    w.record(5.0, true, 7).unwrap(); // recorded late, with an old timestamp
    outbox.batch(&w, 310.0).unwrap();
    outbox.acknowledge();
    assert_eq!(outbox.unshared(&w), 8);
}

#[test]
fn events_before_the_outbox_are_not_flushed_by_a_second_writer() {
    let w = window();
    w.record(20.0, true, 5).unwrap(); // the parent's, before a fork
    let mut outbox = Outbox::new(&w);
    assert!(outbox.batch(&w, 20.5).unwrap().changed.is_empty());
    w.record(20.2, false, 1).unwrap();
    w.record(21.0, true, 2).unwrap();
    assert_eq!(
        outbox.batch(&w, 21.5).unwrap().changed,
        vec![
            (20, Counts { good: 0, bad: 1 }),
            (21, Counts { good: 2, bad: 0 })
        ],
        "only this writer's events"
    );
    outbox.acknowledge();
    assert_eq!(outbox.unshared(&w), 0);
}

#[test]
fn a_rebase_takes_what_the_window_holds_as_counted() {
    let w = window();
    let mut outbox = Outbox::new(&w);
    w.record(30.0, true, 3).unwrap();
    outbox.batch(&w, 30.5).unwrap();
    outbox.acknowledge();
    w.record(30.1, true, 1).unwrap();
    outbox.batch(&w, 30.5).unwrap(); // refused: the store forgot this writer
    outbox.rebase(&w);
    let batch = outbox.batch(&w, 30.5).unwrap();
    assert!(batch.full && batch.changed.is_empty());
    assert_eq!(
        outbox.unshared(&w),
        1,
        "the unflushed event is reported lost"
    );
}

#[test]
fn two_writers_sum_in_the_mirror_on_every_tier() {
    let (a, b) = (window(), window());
    let (mut oa, mut ob) = (Outbox::new(&a), Outbox::new(&b));
    let mut fleet = Store::new(&a);
    for t in 0..3000 {
        a.record(t as f64, t % 10 != 0, 1).unwrap();
        b.record(t as f64 + 0.5, true, 2).unwrap();
        if t % 100 == 99 {
            let now = t as f64 + 0.9;
            fleet.apply_from(1, &oa.batch(&a, now).unwrap());
            fleet.apply_from(2, &ob.batch(&b, now).unwrap());
            oa.acknowledge();
            ob.acknowledge();
        }
    }
    let now = 2999.9;
    let windows = [60.0, 200.0, 2990.0];
    let (la, lb) = (
        a.count_many(now, &windows).unwrap(),
        b.count_many(now, &windows).unwrap(),
    );
    let fleet_counts = fleet.mirror.count_many(now, &windows).unwrap();
    for k in 0..2 {
        // Within the finest span both count the same buckets.
        assert_eq!(fleet_counts[k].good, la[k].good + lb[k].good);
        assert_eq!(fleet_counts[k].bad, la[k].bad + lb[k].bad);
    }
    // Over 2990 s the mirror's old edge falls in a 16 s bucket: every event of the last
    // 2990 s is in, and no more than one bucket's worth before.
    let all = fleet_counts[2];
    assert!(all.bad >= 299 && all.bad <= 301, "{all:?}");
    assert!(
        all.total() >= 3 * 2990 && all.total() <= 3 * (2990 + 16),
        "{all:?}"
    );
    assert_eq!(oa.unshared(&a) + ob.unshared(&b), 0);
}

#[test]
fn the_mirror_rejects_slots_outside_its_layout() {
    let mut m = FleetWindow::new(window().layout());
    assert_eq!(m.set(99, 0, 1, 1, 1).unwrap_err().param, "tier");
    assert_eq!(m.set(0, 256, 1, 1, 1).unwrap_err().param, "slot");
    assert_eq!(m.count_many(f64::NAN, &[1.0]).unwrap_err().param, "at");
    assert_eq!(m.count_many(10.0, &[-1.0]).unwrap_err().param, "seconds");
}
