//! Tests of route windows and tables.

use super::*;
use std::sync::Arc;

const T0: f64 = 1_767_225_600.0; // 2026-01-01, a day boundary

#[test]
fn counts_quantiles_and_windows() {
    let w = RouteWindow::new(30.0 * DAY).unwrap();
    assert_eq!(w.retained_seconds(), 30.0 * DAY);
    // 100 requests a minute for an hour: 10 ms to 1 s, one error in ten, 1 KB each.
    for minute in 0..60 {
        for i in 0..100u32 {
            let at = T0 + f64::from(minute) * 60.0 + f64::from(i) * 0.5;
            w.record(Some(at), f64::from(i + 1) * 0.01, i % 10 == 0, 1024, 200)
                .unwrap();
        }
    }
    let now = T0 + 3600.0;
    let qs = [0.5, 0.9, 0.99, 1.0];
    let last_minute = w.summary(Some(now), 60.0, 0.0, &qs).unwrap();
    assert_eq!(last_minute.requests, 100);
    assert_eq!(last_minute.errors, 10);
    assert_eq!(last_minute.bytes, 102_400);
    assert_eq!(last_minute.covered_seconds, 60.0);
    let reaching_back = w.summary(Some(now - 1.0), 60.0, 0.0, &qs).unwrap();
    assert_eq!(
        reaching_back.requests, 200,
        "the buckets the window overlaps"
    );
    assert_eq!(reaching_back.covered_seconds, 119.0);
    assert!((last_minute.duration_seconds - 50.5).abs() < 1e-9);
    assert_eq!(last_minute.max_seconds, 1.0);
    let q = last_minute.quantiles.unwrap();
    for (got, want) in q.iter().zip([0.5, 0.9, 0.99, 1.0]) {
        assert!((got - want).abs() <= 0.01 * want, "{got} vs {want}");
    }
    let hour = w.summary(Some(now), 3600.0, 0.0, &qs).unwrap();
    assert_eq!((hour.requests, hour.errors), (6000, 600));
    let month = w.summary(Some(now), 30.0 * DAY, 0.0, &qs).unwrap();
    assert_eq!(month.requests, 6000);
    // A day later the minute and hour windows are empty; the month still has them all.
    let later = now + DAY;
    assert_eq!(
        w.summary(Some(later), 3600.0, 0.0, &qs).unwrap().requests,
        0
    );
    assert_eq!(
        w.summary(Some(later), 3600.0, 0.0, &qs).unwrap().quantiles,
        None
    );
    assert_eq!(
        w.summary(Some(later), 7.0 * DAY, 0.0, &qs)
            .unwrap()
            .requests,
        6000
    );
}

#[test]
fn slots_are_reused_each_lap_and_old_requests_are_dropped() {
    let w = RouteWindow::new(DAY).unwrap();
    w.record(Some(T0), 0.1, false, 0, 200).unwrap();
    // Sixteen minutes on, tier 0's slot is reused: the old minute is gone from it.
    w.record(Some(T0 + 16.0 * 60.0), 0.2, true, 0, 200).unwrap();
    let s = w
        .summary(Some(T0 + 16.0 * 60.0 + 1.0), 60.0, 0.0, &[1.0])
        .unwrap();
    assert_eq!((s.requests, s.errors), (1, 1));
    // Once every slot holds a later time, an old request is dropped, not misplaced.
    for minute in 0..2880 {
        w.record(
            Some(T0 + DAY + f64::from(minute) * 60.0),
            0.1,
            false,
            0,
            200,
        )
        .unwrap();
    }
    assert_eq!(w.dropped(), 0);
    w.record(Some(T0), 0.1, false, 0, 200).unwrap();
    assert_eq!(w.dropped(), 1);
}

#[test]
fn one_stray_old_request_does_not_hold_first_seen_in_the_past() {
    let w = RouteWindow::new(DAY).unwrap();
    w.record(Some(1.0), 0.1, false, 0, 200).unwrap();
    assert_eq!(w.first_seen(), Some(1.0));
    w.record(Some(T0), 0.1, false, 0, 200).unwrap();
    assert_eq!(
        w.first_seen(),
        Some(T0),
        "the route starts over after a gap past its span"
    );
    w.record(Some(2.0), 0.1, false, 0, 200).unwrap();
    assert_eq!(
        w.first_seen(),
        Some(T0),
        "and a stray old one does not move it back"
    );
    w.record(Some(T0 - 600.0), 0.1, false, 0, 200).unwrap();
    assert_eq!(
        w.first_seen(),
        Some(T0 - 600.0),
        "an earlier request within the span does"
    );
    assert_eq!(w.dropped(), 0, "all of them are kept");
}

#[test]
fn warm_up_leaves_out_the_first_buckets_and_coverage_starts_at_the_first_request() {
    let w = RouteWindow::new(DAY).unwrap();
    assert_eq!(w.first_seen(), None);
    // One request a second from T0 + 30 s to T0 + 300 s, the first ten slow.
    for i in 30..300u32 {
        let slow = if i < 40 { 2.0 } else { 0.1 };
        w.record(Some(T0 + f64::from(i)), slow, false, 0, 200)
            .unwrap();
    }
    assert_eq!(w.first_seen(), Some(T0 + 30.0));
    let now = T0 + 300.0;
    let all = w.summary(Some(now), 600.0, 0.0, &[1.0]).unwrap();
    assert_eq!((all.requests, all.covered_seconds), (270, 270.0));
    // Warm-up ends at T0 + 60 s: the minute buckets from T0 + 60 s on are kept.
    let settled = w.summary(Some(now), 600.0, 30.0, &[1.0]).unwrap();
    assert_eq!((settled.requests, settled.covered_seconds), (240, 240.0));
    assert_eq!(settled.max_seconds, 0.1);
    // Ending at T0 + 61 s, it leaves out the whole bucket it ends in.
    let late = w.summary(Some(now), 600.0, 31.0, &[1.0]).unwrap();
    assert_eq!((late.requests, late.covered_seconds), (180, 180.0));
    let none = w.summary(Some(now), 600.0, 600.0, &[1.0]).unwrap();
    assert_eq!(
        (none.requests, none.covered_seconds, none.quantiles),
        (0, 0.0, None)
    );
    let err = w
        .summary(Some(now), 600.0, -1.0, &[])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("warmup_seconds "), "{err}");
}

#[test]
fn bad_input_names_the_parameter() {
    let w = RouteWindow::new(DAY).unwrap();
    let err = |e: Error| e.to_string();
    assert!(err(w.record(Some(T0), -1.0, false, 0, 200).unwrap_err()).starts_with("duration "));
    assert!(err(w.record(Some(f64::NAN), 1.0, false, 0, 200).unwrap_err()).starts_with("at "));
    assert!(err(w.summary(Some(T0), 0.0, 0.0, &[]).unwrap_err()).starts_with("window_seconds "));
    assert!(
        err(w.summary(Some(T0), 3.0 * DAY, 0.0, &[]).unwrap_err()).starts_with("window_seconds ")
    );
    assert!(err(w.summary(Some(T0), 60.0, 0.0, &[2.0]).unwrap_err()).starts_with("quantiles "));
    assert!(RouteWindow::new(0.0).is_err());
    assert!(RouteTable::new(0, DAY, "other").is_err());
}

#[test]
fn a_request_far_ahead_of_the_clock_is_counted_not_held() {
    let w = RouteWindow::new(DAY).unwrap();
    let now = crate::clock::wall();
    w.record(Some(now + 365.0 * DAY), 0.1, false, 0, 200)
        .unwrap();
    for i in 0..100 {
        w.record(Some(now + f64::from(i) * 0.1), 0.1, false, 0, 200)
            .unwrap();
    }
    assert_eq!(w.dropped(), 1);
    assert_eq!(
        w.summary(Some(now + 10.0), 60.0, 0.0, &[])
            .unwrap()
            .requests,
        100
    );
    assert!(
        w.first_seen().unwrap() <= now + 1.0,
        "the request ahead moved nothing"
    );
    // A minute ahead is within the clock's tolerance (hosts' clocks differ).
    w.record(Some(now + 30.0), 0.1, false, 0, 200).unwrap();
    assert_eq!(w.dropped(), 1);
}

#[test]
fn rejections_are_counted_per_reason() {
    let w = RouteWindow::new(DAY).unwrap();
    w.reject(Rejection::CircuitOpen);
    w.reject(Rejection::BudgetDenied);
    w.reject(Rejection::BudgetDenied);
    assert_eq!(w.rejected(Rejection::CircuitOpen), 1);
    assert_eq!(w.rejected(Rejection::BudgetDenied), 2);
}

#[test]
fn the_table_caps_distinct_routes() {
    let table = RouteTable::new(2, DAY, "OTHER").unwrap();
    let route = |key| table.route(key).unwrap();
    let (_, a) = route("GET /a");
    assert!(Arc::ptr_eq(&a, &route("GET /a").1));
    route("GET /b");
    let (key, c) = route("GET /c");
    assert_eq!(key, "OTHER");
    assert!(Arc::ptr_eq(&c, &route("GET /d").1), "both overflow");
    assert!(Arc::ptr_eq(&c, &route("OTHER").1));
    let keys: Vec<String> = table.routes().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["GET /a", "GET /b", "OTHER"]);
}

#[test]
fn concurrent_records_across_rotations_are_all_counted() {
    let w = Arc::new(RouteWindow::new(DAY).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let w = w.clone();
            std::thread::spawn(move || {
                // 40 minutes of time: every tier-0 slot is claimed and reused concurrently.
                for i in 0..100_000u32 {
                    let at = T0 + f64::from(i) * 0.024;
                    w.record(Some(at), 0.001 * f64::from(t + 1), i % 3 == 0, 10, 200)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = w
        .summary(Some(T0 + 2400.0), 6.0 * 3600.0, 0.0, &[0.0, 1.0])
        .unwrap();
    assert_eq!(s.requests, 400_000);
    assert_eq!(s.errors, 4 * 33_334);
    assert_eq!(s.bytes, 4_000_000);
    assert_eq!(w.dropped(), 0);
    let q = s.quantiles.unwrap();
    assert!((q[0] - 0.001).abs() <= 1e-5 && (q[1] - 0.004).abs() <= 4e-5);
}

#[test]
fn a_slot_left_half_cleared_by_a_dead_recorder_is_finished_not_waited_on() {
    let w = RouteWindow::new(DAY).unwrap();
    let at = T0 + 30.0;
    let (slot, lap) = w.tiers[0].locate((at * w.tiers[0].per_second) as u64);
    // What a recorder killed mid-clear leaves: the slot claimed by its pid, half zeroed.
    let dead = u64::from(i32::MAX as u32);
    w.header(slot)[TAG].store(clearing(dead, lap), Ordering::Release);
    w.header(slot)[REQUESTS].store(999, Ordering::Relaxed);
    w.record(Some(at), 0.1, false, 0, 200).unwrap();
    let s = w.summary(Some(at + 1.0), 60.0, 0.0, &[0.5]).unwrap();
    assert_eq!((s.requests, w.dropped()), (1, 0), "cleared, then counted");
}

#[test]
fn totals_count_every_request_by_status_class_with_an_all_time_histogram() {
    let w = RouteWindow::new(DAY).unwrap();
    for (i, status) in [200u16, 201, 304, 404, 500, 503, 0, 99, 700]
        .iter()
        .enumerate()
    {
        w.record(
            Some(T0 + i as f64),
            0.01 * (i + 1) as f64,
            *status >= 500,
            10,
            *status,
        )
        .unwrap();
    }
    // Too old for every tier later, and far ahead of the clock: out of the windows, but
    // requests all the same.
    w.record(Some(crate::clock::wall() + 365.0 * DAY), 2.0, false, 5, 200)
        .unwrap();
    let totals = w.totals();
    assert_eq!(totals.by_class, [3, 0, 3, 1, 1, 2]);
    assert_eq!(
        (totals.requests(), totals.errors, totals.bytes),
        (10, 3, 95)
    );
    assert!((totals.duration_seconds - 2.45).abs() < 1e-9);
    let le = w.histogram(&[0.02, 0.05, 0.1, 1.0, 5000.0]).unwrap();
    assert_eq!(le, [2, 5, 9, 9, 10]);
    let err = |bounds: &[f64]| w.histogram(bounds).unwrap_err().to_string();
    assert!(
        err(&[0.1, 0.1]).starts_with("bounds[1] must be ascending"),
        "{}",
        err(&[0.1, 0.1])
    );
    assert!(err(&[1.0, f64::NAN]).starts_with("bounds[1] must be finite"));
}

#[test]
fn two_counts_share_a_word_without_touching_each_other() {
    let w = RouteWindow::new(DAY).unwrap();
    let mapping = Mapping::new(Geometry::LATENCY).unwrap();
    // Durations in neighbouring sketch buckets land in the two halves of one word.
    let low = mapping.bucket(0.1) & !1;
    let value = |bucket: usize| {
        (0..10_000)
            .map(|i| 0.09 * 1.0001f64.powi(i))
            .find(|&v| mapping.bucket(v) == bucket)
            .unwrap()
    };
    let (a, b) = (value(low), value(low + 1));
    let (slot, lap) = w.tiers[0].locate((T0 * w.tiers[0].per_second) as u64);
    w.record(Some(T0), a, false, 0, 200).unwrap();
    // The low half saturated: it stays there, and the high half still counts.
    let pair = &w.slot_counts(slot)[low / 2];
    pair.store(u64::from(u32::MAX), Ordering::Relaxed);
    w.record(Some(T0), a, false, 0, 200).unwrap();
    w.record(Some(T0), b, false, 0, 200).unwrap();
    assert_eq!(pair.load(Ordering::Relaxed), 1 << 32 | u64::from(u32::MAX));
    assert_eq!(w.header(slot)[TAG].load(Ordering::Relaxed), lap << 1);
}

#[cfg(target_os = "linux")]
#[test]
fn shared_tables_hold_one_set_of_routes_for_every_process() {
    let arena = crate::arena::TestArena::new("routes-share", 16 << 20);
    let shared = |max| {
        let mut table = RouteTable::new(max, DAY, "OTHER").unwrap();
        table.share(&arena, "web").unwrap();
        table
    };
    let (a, b) = (shared(2), shared(2));
    assert!(a.is_shared() && !RouteTable::new(2, DAY, "OTHER").unwrap().is_shared());
    let (_, users) = a.route("GET /users").unwrap();
    users.record(Some(T0), 0.1, false, 1, 200).unwrap();
    let (held, same) = b.route("GET /users").unwrap();
    assert_eq!(held, "GET /users");
    same.record(Some(T0), 0.2, true, 1, 500).unwrap();
    assert!(same.is_shared());
    assert_eq!(users.totals().requests(), 2);
    // b adds a route a has never seen: a lists it. The third distinct key overflows in both.
    b.route("GET /orders").unwrap();
    assert_eq!(a.route("GET /x").unwrap().0, "OTHER");
    assert_eq!(b.route("GET /y").unwrap().0, "OTHER");
    let keys = |t: &RouteTable| t.routes().into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(keys(&a), ["GET /orders", "GET /users", "OTHER"]);
    assert_eq!(keys(&b), keys(&a));
    let long = format!("GET /{}", "a".repeat(600));
    assert_eq!(
        a.route(&long).unwrap().0,
        "OTHER",
        "too long to list: overflows"
    );
    // Another table of the same arena is a table of its own; other options are refused.
    let mut other = RouteTable::new(2, DAY, "OTHER").unwrap();
    other.share(&arena, "admin").unwrap();
    assert_eq!(keys(&other), Vec::<String>::new());
    let mut bigger = RouteTable::new(3, DAY, "OTHER").unwrap();
    let e = bigger.share(&arena, "web").unwrap_err().to_string();
    assert!(e.contains("with another configuration"), "{e}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_arena_is_an_error_from_route_and_frees_the_reserved_place() {
    let arena = crate::arena::TestArena::new("routes-full", 1 << 20);
    let mut table = RouteTable::new(8, DAY, "OTHER").unwrap();
    table.share(&arena, "web").unwrap();
    let mut placed = 0;
    let err = loop {
        match table.route(&format!("GET /{placed}")) {
            Ok(_) => placed += 1,
            Err(e) => break e.to_string(),
        }
    };
    assert!(err.contains("is full"), "{err}");
    assert!((1..8).contains(&placed), "{placed}");
    assert_eq!(
        table.routes().len(),
        placed,
        "the routes that fit, all listed"
    );
    assert!(
        table.route("GET /again").is_err(),
        "still full: an error, not a silent overflow"
    );
}

mod fleet {
    use super::*;

    const T: f64 = 1_700_000_000.0;

    fn window() -> RouteWindow {
        RouteWindow::new(86_400.0).unwrap()
    }

    fn mirror_of(local: &RouteWindow, outbox: &RouteOutbox, mirror: &RouteWindow) -> usize {
        let (lines, totals) = local.fleet_batch(outbox);
        for line in &lines {
            mirror.set_fleet_slot(line).unwrap();
        }
        if let Some(totals) = totals {
            mirror.set_fleet_totals(&totals).unwrap();
        }
        lines.len()
    }

    #[test]
    fn a_mirror_fed_the_batches_answers_as_the_route_does() {
        let (local, mirror, outbox) = (window(), window(), RouteOutbox::default());
        for i in 0..200 {
            let at = T + f64::from(i) * 7.0;
            local
                .record(
                    Some(at),
                    0.001 * f64::from(i % 50 + 1),
                    i % 9 == 0,
                    100,
                    200 + (i % 3) as u16 * 100,
                )
                .unwrap();
        }
        assert!(mirror_of(&local, &outbox, &mirror) > 0);
        let now = Some(T + 1_400.0);
        let qs = SUMMARY_QUANTILES;
        for window_seconds in [60.0, 900.0, 3_600.0, 86_400.0] {
            assert_eq!(
                mirror.summary(now, window_seconds, 0.0, &qs).unwrap(),
                local.summary(now, window_seconds, 0.0, &qs).unwrap(),
                "{window_seconds}"
            );
        }
        assert_eq!(mirror.totals(), local.totals());
        assert_eq!(mirror.first_seen(), local.first_seen());
        assert_eq!(
            mirror.histogram(&[0.01, 0.05]).unwrap(),
            local.histogram(&[0.01, 0.05]).unwrap()
        );
        // Nothing new: nothing sent. One more request: only the slots it touched, and only its bins.
        assert_eq!(local.fleet_batch(&outbox), (vec![], None));
        local
            .record(Some(T + 1_399.0), 0.002, false, 10, 200)
            .unwrap();
        let (lines, totals) = local.fleet_batch(&outbox);
        assert_eq!(lines.len(), 5, "one slot in each tier");
        assert!(
            lines.iter().all(|l| l
                .rsplit(' ')
                .next()
                .unwrap()
                .starts_with(&format!("{}:", local_bucket(0.002)))
                && !l.contains(',')),
            "{lines:?}"
        );
        assert!(totals.is_some());
    }

    fn local_bucket(seconds: f64) -> usize {
        crate::sketch::Mapping::new(crate::sketch::Geometry::LATENCY)
            .unwrap()
            .bucket(seconds)
    }

    #[test]
    fn resend_all_sends_every_figure_again_and_bad_lines_are_refused() {
        let (local, outbox) = (window(), RouteOutbox::default());
        local.record(Some(T), 0.5, false, 1, 200).unwrap();
        let first = local.fleet_batch(&outbox);
        outbox.resend_all();
        assert_eq!(local.fleet_batch(&outbox), first);
        let mirror = window();
        for bad in [
            "",
            "1 2 3",
            "99999 1 1 0 0 0 0.5 -",
            "0 1 1 0 0 0 0.5 999999:1",
            "0 1 x 0 0 0 0.5 -",
        ] {
            assert!(mirror.set_fleet_slot(bad).is_err(), "{bad:?}");
        }
        assert!(mirror.set_fleet_totals("1 2 3").is_err());
    }
}
