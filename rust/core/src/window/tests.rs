//! Tests of the tiered bucket window.

use super::*;

fn total_of(w: &BucketWindow) -> u64 {
    w.live_counts().total() + w.expired() + w.dropped()
}

#[test]
fn counts_events_in_window() {
    let w = BucketWindow::new(1.0, 3600.0).unwrap();
    w.record(100.0, true, 3).unwrap();
    w.record(100.5, false, 1).unwrap();
    w.record(50.0, false, 2).unwrap();
    assert_eq!(w.count(100.9, 10.0).unwrap(), Counts { good: 3, bad: 1 });
    assert_eq!(w.count(100.9, 60.0).unwrap(), Counts { good: 3, bad: 3 });
    // Upper edge: events after `now` are not in a window ending at `now`.
    assert_eq!(w.count(60.0, 60.0).unwrap(), Counts { good: 0, bad: 2 });
}

#[test]
fn default_geometry_fits_in_64_kib_for_30_days() {
    let w = BucketWindow::new(5.0, 30.0 * 86400.0).unwrap();
    assert!(w.memory_bytes() <= 64 * 1024, "{}", w.memory_bytes());
    let tiers = w.tiers();
    assert_eq!(tiers[0].width_seconds, 5.0);
    assert!(w.retained_seconds() >= 30.0 * 86400.0);
    for pair in tiers.windows(2) {
        assert_eq!(pair[1].width_seconds, 4.0 * pair[0].width_seconds);
    }
}

#[test]
fn old_buckets_roll_up_without_loss() {
    let w = BucketWindow::with_buckets(1.0, 1000.0, 8).unwrap();
    for t in 0..500u32 {
        w.record(t as f64, t % 3 != 0, 1).unwrap();
    }
    assert_eq!(total_of(&w), 500);
    assert_eq!(w.dropped(), 0);
    // Everything still retained is counted exactly once over the whole span.
    let c = w.count(499.0, 499.0).unwrap();
    assert_eq!(c.total() + w.expired(), 500);
}

#[test]
fn window_edge_error_is_bounded_by_the_tier_width() {
    let w = BucketWindow::with_buckets(1.0, 100_000.0, 16).unwrap();
    let end = 20_000u32;
    for t in 0..end {
        w.record(t as f64 + 0.5, true, 1).unwrap();
    }
    let now = end as f64 - 0.5;
    for seconds in [1.0, 7.0, 15.0, 100.0, 1000.0, 5000.0, 12345.0] {
        let got = w.count(now, seconds).unwrap().total() as f64;
        let exact = seconds.floor() + 1.0;
        let width = w
            .tiers()
            .iter()
            .find(|t| t.span_seconds >= seconds)
            .map(|t| t.width_seconds)
            .unwrap();
        assert!(
            got >= exact && got <= exact + width,
            "{seconds}: got {got}, exact {exact}, width {width}"
        );
    }
}

#[test]
fn count_many_equals_one_window_at_a_time() {
    let w = BucketWindow::with_buckets(1.0, 50_000.0, 8).unwrap();
    // Bursts with gaps leave lagging tiers and stale laps behind.
    for t in (0..20_000u32).filter(|t| (t / 700) % 3 != 1) {
        w.record(t as f64 * 1.7, t % 11 == 0, 1 + u64::from(t % 3))
            .unwrap();
    }
    let windows = [
        0.0, 1.0, 7.5, 30.0, 100.0, 999.0, 5000.0, 20_000.0, 40_000.0, 7.5,
    ];
    for now in [10_000.0, 25_000.0, 33_999.0, 40_000.0] {
        let many = w.count_many(now, &windows).unwrap();
        for (i, &s) in windows.iter().enumerate() {
            assert_eq!(many[i], w.count_one_by_one(now, s), "now {now}, window {s}");
        }
    }
}

impl BucketWindow {
    /// The obvious per-bucket count, as a reference for `count_many`.
    fn count_one_by_one(&self, now: f64, seconds: f64) -> Counts {
        let (hi0, lo0) = (self.index_of(now), self.index_of((now - seconds).max(0.0)));
        let mut counts = Counts::default();
        for tier in &self.tiers {
            let (lo, hi) = (lo0 >> tier.shift, hi0 >> tier.shift);
            for slot in 0..self.buckets as usize {
                for kind in 0..2 {
                    let word = &self.words[tier.offset + 2 * slot + kind];
                    let (tag, count) = tier.tagged.read(word);
                    if tag > 0 && (lo..=hi).contains(&self.ring.bucket_of(slot, tag)) {
                        counts.add(kind, count);
                    }
                }
            }
        }
        counts
    }
}

#[test]
fn out_of_order_events_land_in_the_finest_tier_still_holding_them() {
    let w = BucketWindow::with_buckets(1.0, 1000.0, 4).unwrap();
    w.record(100.0, true, 1).unwrap();
    w.record(90.0, false, 1).unwrap(); // tier-0 slot of 90 is free: tier 0
    w.record(20.0, false, 1).unwrap(); // far behind: a coarser tier
    assert_eq!(w.count(100.0, 100.0).unwrap(), Counts { good: 1, bad: 2 });
    assert_eq!(total_of(&w), 3);
}

#[test]
fn too_old_events_are_dropped_and_counted() {
    let w = BucketWindow::with_buckets(1.0, 100.0, 4).unwrap();
    let retained = w.retained_seconds();
    // Good events every second over twice the retained span: every tier holds newer data
    // for any time older than that span.
    let end = 10_000.0;
    let mut t = end - 2.0 * retained;
    while t <= end {
        w.record(t, true, 1).unwrap();
        t += 1.0;
    }
    let recorded = w.live_counts().total() + w.expired();
    w.record(end - 2.0 * retained - 4096.0, true, 5).unwrap();
    assert_eq!(w.dropped(), 5);
    assert_eq!(w.live_counts().total() + w.expired(), recorded);
    // A bad event that old finds its (bad) buckets empty: it is held, outside every window.
    w.record(end - 2.0 * retained - 4096.0, false, 2).unwrap();
    assert_eq!((w.dropped(), w.live_counts().bad), (5, 2));
    assert_eq!(w.count(end, retained).unwrap().bad, 0);
}

#[test]
fn one_event_far_ahead_does_not_blind_the_window() {
    let w = BucketWindow::with_buckets(1.0, 3600.0, 64).unwrap();
    let now = 1_700_000_000.0;
    w.record(now + 365.0 * 86_400.0, false, 1).unwrap(); // a year ahead
    for i in 0..1000 {
        w.record(now + f64::from(i) * 0.5, false, 1).unwrap();
    }
    assert_eq!(w.dropped(), 0);
    assert_eq!(w.count(now + 500.0, 600.0).unwrap().bad, 1000);
    // The event ahead is kept at its own time, not counted before it.
    assert_eq!(w.live_counts().bad, 1001);
}

#[test]
fn a_clock_step_forward_and_back_does_not_blind_the_window() {
    let w = BucketWindow::with_buckets(1.0, 3600.0, 64).unwrap();
    let now = 1_700_000_000.0;
    for i in 0..600 {
        w.record(now + 7200.0 + f64::from(i), true, 1).unwrap(); // ten minutes two hours ahead
    }
    for i in 0..1200 {
        w.record(now + f64::from(i), i % 2 == 0, 1).unwrap(); // then back at the real time
    }
    assert_eq!(w.dropped(), 0);
    let real = w.count(now + 1199.0, 1200.0).unwrap();
    assert_eq!(
        real,
        Counts {
            good: 600,
            bad: 600
        }
    );
    assert_eq!(w.count(now + 7800.0, 1200.0).unwrap().good, 600);
}

#[test]
fn count_overflow_spills_to_a_coarser_tier() {
    let w = BucketWindow::with_buckets(1.0, 1000.0, 4).unwrap();
    let mask0 = w.tiers[0].tagged.max_count();
    w.record(5.0, true, mask0).unwrap();
    w.record(5.0, true, 7).unwrap();
    assert_eq!(w.count(5.0, 0.0).unwrap().good, mask0 + 7);
    assert_eq!(w.dropped(), 0);
}

#[test]
fn record_many_matches_single_records_and_rejects_bad_input() {
    let a = BucketWindow::with_buckets(0.5, 500.0, 8).unwrap();
    let b = BucketWindow::with_buckets(0.5, 500.0, 8).unwrap();
    let ts: Vec<f64> = (0..300).map(|i| (i / 3) as f64 * 0.7).collect();
    let ok: Vec<bool> = (0..300).map(|i| i % 4 != 0).collect();
    a.record_many(&ok, &ts).unwrap();
    for (&g, &t) in ok.iter().zip(&ts) {
        b.record(t, g, 1).unwrap();
    }
    for s in [1.0, 10.0, 100.0, 300.0] {
        assert_eq!(a.count(210.0, s).unwrap(), b.count(210.0, s).unwrap());
    }
    let err = a
        .record_many(&[true, true, true], &[1.0, f64::NAN, -1.0])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "at[1] must be a finite timestamp in [0, 8589934592) seconds since the epoch; got NaN"
    );
    assert!(a.record_many(&[true], &[1.0, 2.0]).is_err());
}

#[test]
fn rejects_bad_timestamps_and_geometry() {
    let w = BucketWindow::new(1.0, 100.0).unwrap();
    for ts in [f64::NAN, f64::INFINITY, -1.0, MAX_TIMESTAMP] {
        let err = w.record(ts, true, 1).unwrap_err();
        assert!(err.to_string().starts_with("at must be"), "{err}");
    }
    assert!(BucketWindow::new(0.0, 100.0).is_err());
    assert!(BucketWindow::new(1.0, f64::NAN).is_err());
    assert!(BucketWindow::with_buckets(1.0, 100.0, 1).is_err());
    assert!(BucketWindow::with_buckets(1.0, 100.0, 12).is_err());
    assert!(w.count(10.0, -1.0).is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Any stream, in any order: every event is accounted for, multi-window counts equal
    /// per-bucket reference counts, and each window holds every event it should plus at
    /// most those within one bucket width of the tier holding its old edge.
    #[test]
    fn counts_are_conserved_and_windows_bounded(
        events in proptest::collection::vec((0.0f64..5_000.0, proptest::bool::ANY, 1u64..4), 1..400),
        windows in proptest::collection::vec(0.0f64..6_000.0, 1..8),
        now_offset in 0.0f64..500.0,
    ) {
        let w = BucketWindow::with_buckets(0.5, 20_000.0, 16).unwrap();
        for &(ts, good, n) in &events {
            w.record(1_000_000.0 + ts, good, n).unwrap();
        }
        let sent: u64 = events.iter().map(|e| e.2).sum();
        proptest::prop_assert_eq!(total_of(&w), sent);
        proptest::prop_assert_eq!(w.dropped(), 0); // the stream spans less than is retained
        let newest = events.iter().map(|e| e.0).fold(0.0, f64::max);
        let now = 1_000_000.0 + newest + now_offset;
        let many = w.count_many(now, &windows).unwrap();
        for (&seconds, got) in windows.iter().zip(&many) {
            proptest::prop_assert_eq!(*got, w.count_one_by_one(now, seconds));
            // Out-of-order events may sit a tier coarser than their age suggests, so bound
            // by the widest bucket that can hold data of this age: the last tier's.
            let slack = w.tiers().last().unwrap().width_seconds;
            let within = |limit: f64| -> u64 {
                events.iter().filter(|e| now - (1_000_000.0 + e.0) <= limit).map(|e| e.2).sum()
            };
            proptest::prop_assert!(within(seconds) <= got.total());
            proptest::prop_assert!(got.total() <= within(seconds + slack));
        }
    }
}

/// Four threads record 200k events each, walking time forward with jitter so that tier-0
/// slots rotate constantly and late events hit buckets that were just carried up.
fn hammer(w: &std::sync::Arc<BucketWindow>) -> Counts {
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            let w = std::sync::Arc::clone(w);
            std::thread::spawn(move || {
                let mut counts = Counts::default();
                for i in 0..200_000u64 {
                    let ts = i as f64 * 0.003 + ((i * 7 + t) % 13) as f64 * 0.004;
                    let ok = (i + t) % 5 != 0;
                    if ok {
                        counts.good += 1;
                    } else {
                        counts.bad += 1;
                    }
                    w.record(ts, ok, 1).unwrap();
                }
                counts
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .fold(Counts::default(), |a, c| Counts {
            good: a.good + c.good,
            bad: a.bad + c.bad,
        })
}

#[test]
fn concurrent_writers_count_exactly_while_buckets_rotate() {
    let w = std::sync::Arc::new(BucketWindow::with_buckets(0.01, 1000.0, 4).unwrap());
    let sent = hammer(&w);
    assert_eq!((w.dropped(), w.expired()), (0, 0));
    assert_eq!(w.live_counts(), sent);
    assert_eq!(w.count(700.0, 700.0).unwrap(), sent);
}

#[test]
fn concurrent_writers_account_for_every_event_when_history_expires() {
    let w = std::sync::Arc::new(BucketWindow::with_buckets(0.01, 5.0, 4).unwrap());
    let sent = hammer(&w);
    assert!(w.expired() > 0);
    assert_eq!(
        w.live_counts().total() + w.expired() + w.dropped(),
        sent.total()
    );
}
