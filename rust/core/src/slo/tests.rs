//! Tests of the SLO figures, alerts and polls.

use super::*;

fn spec(target: f64, window: f64, burn: &[f64]) -> SloSpec {
    SloSpec {
        target,
        window_seconds: window,
        burn_windows: burn.to_vec(),
        burn_threshold: 14.4,
        policies: workbook_policies(window).unwrap(),
        latency_threshold: None,
    }
}

#[test]
fn workbook_policies_for_30_days_are_the_books() {
    let p = workbook_policies(2_592_000.0).unwrap();
    let table: Vec<_> = p
        .iter()
        .map(|p| {
            (
                p.severity.as_str(),
                p.long_window,
                p.short_window,
                p.threshold,
            )
        })
        .collect();
    assert_eq!(
        table,
        [
            ("page", 3600.0, 300.0, 14.4),
            ("page", 21600.0, 1800.0, 6.0),
            ("ticket", 86400.0, 7200.0, 3.0),
            ("ticket", 259200.0, 21600.0, 1.0)
        ]
    );
    assert_eq!(workbook_policies(3600.0).unwrap()[0].short_window, 1.0);
    assert!(workbook_policies(f64::NAN).is_err() && workbook_policies(-1.0).is_err());
}

#[test]
fn default_slo_resolution_and_memory() {
    let slo = Slo::new(spec(0.999, 2_592_000.0, &[3600.0, 21600.0])).unwrap();
    let tiers = slo.resolution();
    assert_eq!(tiers[0].width_seconds, 5.0);
    assert!(tiers.last().unwrap().span_seconds >= 2_592_000.0);
    assert!(slo.memory_bytes() <= 64 * 1024);
}

#[test]
fn figures_match_the_peer_formulas() {
    let slo = Slo::new(spec(0.99, 3600.0, &[60.0, 300.0])).unwrap();
    for i in 0..95 {
        slo.record(Some(i as f64), true).unwrap();
    }
    for i in 95..100 {
        slo.record(Some(i as f64), false).unwrap();
    }
    let s = slo.snapshot(Some(100.0)).unwrap();
    assert_eq!((s.overall.total, s.overall.failures), (100, 5));
    assert_eq!(s.overall.success_ratio, 0.95);
    let allowed = 0.010000000000000009 * 100.0;
    assert_eq!(s.error_budget_remaining, (allowed - 5.0) / allowed);
    assert_eq!(s.error_budget_consumed, 5.0 / allowed);
    assert_eq!(s.overall.burn_rate, (1.0 - 0.95) / (1.0 - 0.99));
    assert_eq!(s.time_to_exhaustion, Some(0.0));
    assert_eq!(s.samples[0].total, 60); // [40, 100], as the peer counts it
}

#[test]
fn empty_snapshot_is_untouched() {
    let s = Slo::new(spec(0.999, 3600.0, &[60.0]))
        .unwrap()
        .snapshot(Some(10.0))
        .unwrap();
    assert_eq!(
        (
            s.overall.success_ratio,
            s.error_budget_remaining,
            s.overall.burn_rate
        ),
        (1.0, 1.0, 0.0)
    );
    assert_eq!(s.time_to_exhaustion, None);
    assert!(s.policies.iter().all(|p| !p.firing));
}

#[test]
fn time_to_exhaustion_uses_the_shortest_burn_window() {
    let slo = Slo::new(spec(0.9, 1000.0, &[100.0, 10.0])).unwrap();
    // 1 failure in 20 over the last 10 s: burn 0.5 there; 1 failure in 100 overall.
    for i in 0..100 {
        slo.record(Some(900.0 + i as f64 * 0.999), i != 95).unwrap();
    }
    let s = slo.snapshot(Some(999.0)).unwrap();
    let short = s.samples[1];
    assert_eq!(short.window_seconds, 10.0);
    let expected = s.error_budget_remaining * 1000.0 / short.burn_rate;
    assert_eq!(s.time_to_exhaustion, Some(expected));
}

#[test]
fn multiwindow_alert_needs_both_windows_burning() {
    let slo = Slo::new(spec(0.999, 2_592_000.0, &[3600.0])).unwrap();
    let t0 = 1_700_000_000.0;
    // An hour at 0.05 % errors (burn 0.5), then 5 minutes at 2 % errors (burn 20).
    for i in 0..3600 {
        slo.record(Some(t0 + i as f64), i % 2000 != 0).unwrap();
    }
    let quiet = slo.poll_alerts(Some(t0 + 3599.0)).unwrap();
    assert_eq!((quiet.started, quiet.resolved), (0, 0));
    for i in 0..300 {
        for j in 0..100 {
            slo.record(Some(t0 + 3600.0 + i as f64), j >= 2).unwrap();
        }
    }
    let hot = slo.poll_alerts(Some(t0 + 3899.0)).unwrap();
    let page = hot.snapshot.policies[0];
    assert!(
        page.short.burn_rate >= 14.4 && page.long.burn_rate >= 14.4,
        "{page:?}"
    );
    assert_eq!(hot.started & 0b1, 0b1);
    assert_eq!(hot.transitions()[0], (0, AlertState::Firing));
    assert_eq!(slo.poll_alerts(Some(t0 + 3899.0)).unwrap().started, 0);
    // Ten quiet minutes later the short window has recovered: the page resolves.
    for i in 0..600 {
        slo.record(Some(t0 + 3900.0 + i as f64), true).unwrap();
    }
    let calm = slo.poll_alerts(Some(t0 + 4499.0)).unwrap();
    assert!(calm.snapshot.policies[0].long.burn_rate >= 14.4);
    assert_eq!(calm.resolved & 0b1, 0b1);
    assert!(calm.transitions().contains(&(0, AlertState::Resolved)));
    assert_eq!(AlertState::Resolved.as_str(), "resolved");
}

#[test]
fn burn_alerts_need_events_at_or_above_the_threshold_and_counts_fit_the_windows() {
    let s = spec(0.99, 86_400.0, &[3600.0, 600.0]);
    let burning = s.figures(
        3600.0,
        Counts {
            good: 855,
            bad: 145,
        },
    );
    assert!(s.burn_alerting(&burning), "burn 14.5");
    assert!(!s.burn_alerting(&s.figures(
        3600.0,
        Counts {
            good: 857,
            bad: 143
        }
    )));
    assert!(
        !s.burn_alerting(&s.figures(600.0, Counts::default())),
        "no events"
    );
    let pair = Counts { good: 1, bad: 1 };
    assert_eq!(s.burn_samples(&[pair, pair]).unwrap().len(), 2);
    let err = s.burn_samples(&[pair]).unwrap_err();
    assert_eq!(err.to_string(), "counts must hold 2 pairs; got 1");
    assert!(s.evaluate(&[pair]).is_err());
    let snapshot = s.evaluate(&vec![pair; s.query_windows().len()]).unwrap();
    let slo = Slo::new(s.clone()).unwrap();
    let hot = Counts { good: 1, bad: 9 };
    let samples = s.burn_samples(&[hot, pair]).unwrap();
    let burn = slo.poll_burn_samples(samples.clone());
    assert_eq!((burn.started, burn.recovered), (0b11, 0));
    assert_eq!(slo.poll_burn_samples(samples).started, 0, "reported once");
    let cooler = s.burn_samples(&[hot, Counts { good: 1, bad: 0 }]).unwrap();
    let cooled = slo.poll_burn_samples(cooler);
    assert_eq!(
        (cooled.recovered_windows(), cooled.started_windows()),
        (vec![1], vec![])
    );
    let first = slo.poll(snapshot.clone());
    assert_eq!(first.started, snapshot.firing_mask());
    assert_eq!(slo.poll(snapshot).transitions(), vec![]);
}

#[test]
fn latency_slo_classifies_by_threshold() {
    let mut s = spec(0.9, 3600.0, &[60.0]);
    s.latency_threshold = Some(0.25);
    let slo = Slo::new(s).unwrap();
    slo.record_latency(Some(1.0), 0.25).unwrap();
    slo.record_latency(Some(1.0), 0.3).unwrap();
    slo.record_latency_many(&[0.1, 0.5, 0.2], &[2.0, 2.0, 2.0])
        .unwrap();
    let snap = slo.snapshot(Some(3.0)).unwrap();
    assert_eq!((snap.overall.total, snap.overall.failures), (5, 2));
    let err = slo
        .record_latency_many(&[0.1, f64::NAN], &[2.0, 2.0])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "seconds[1] must be a finite duration >= 0; got NaN"
    );
    let plain = Slo::new(spec(0.9, 3600.0, &[60.0])).unwrap();
    assert!(plain.record_latency(Some(1.0), 0.1).is_err());
}

#[test]
fn invalid_specs_name_the_parameter() {
    type Mutation = fn(&mut SloSpec);
    let cases: [(Mutation, &str); 6] = [
        (|s| s.target = 1.0, "target"),
        (|s| s.target = f64::NAN, "target"),
        (|s| s.window_seconds = f64::INFINITY, "window_seconds"),
        (|s| s.burn_windows = vec![7200.0], "burn_rate_windows"),
        (|s| s.burn_threshold = f64::NAN, "burn_rate_threshold"),
        (
            |s| s.policies[0].threshold = -1.0,
            "alert_policies.threshold",
        ),
    ];
    for (mutate, param) in cases {
        let mut s = spec(0.99, 3600.0, &[60.0]);
        mutate(&mut s);
        let err = Slo::new(s).unwrap_err();
        assert!(err.to_string().starts_with(param), "{err}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn slos_shared_in_an_arena_count_together_and_must_agree_on_their_spec() {
    let arena = crate::arena::TestArena::new("slo-share", 1 << 20);
    let mut a = Slo::new(spec(0.99, 3600.0, &[300.0])).unwrap();
    let mut b = Slo::new(spec(0.99, 3600.0, &[300.0])).unwrap();
    a.share(&arena, "api").unwrap();
    b.share(&arena, "api").unwrap();
    assert!(a.is_shared() && b.is_shared());
    let now = 1_767_225_600.0;
    for i in 0..100 {
        a.record(Some(now - f64::from(i)), i % 10 != 0).unwrap();
        b.record(Some(now - f64::from(i)), true).unwrap();
    }
    let (sa, sb) = (
        a.snapshot(Some(now)).unwrap(),
        b.snapshot(Some(now)).unwrap(),
    );
    assert_eq!((sa.overall.total, sa.overall.failures), (200, 10));
    assert_eq!(sa, sb);
    // 10 % bad burns the 1 % budget at 10x: an alert fires, and only one poller hears of it.
    let (pa, pb) = (
        a.poll_alerts(Some(now)).unwrap(),
        b.poll_alerts(Some(now)).unwrap(),
    );
    assert!(
        pa.started != 0 && pb.started == 0 && pb.resolved == 0,
        "{pa:?} {pb:?}"
    );
    let mut other_target = Slo::new(spec(0.999, 3600.0, &[300.0])).unwrap();
    let e = other_target.share(&arena, "api").unwrap_err().to_string();
    assert!(e.contains("with another configuration"), "{e}");
    let mut other_name = Slo::new(spec(0.999, 3600.0, &[300.0])).unwrap();
    other_name.share(&arena, "checkout").unwrap();
}

#[test]
fn a_burndown_spends_the_budget_when_the_failures_happened() {
    // A 1,000 s SLO at 99 %: 1,000 events spread evenly, 8 failures in the third quarter.
    let slo = Slo::new(spec(0.99, 1000.0, &[100.0])).unwrap();
    for i in 0..1000 {
        let failed = (500..508).contains(&i);
        slo.record(Some(1000.0 + f64::from(i) + 0.5), !failed)
            .unwrap();
    }
    let now = Some(2000.0);
    let left = slo.burndown(4, now).unwrap();
    assert_eq!(left.len(), 5);
    // Allowed: 1 % of 1,000 = 10 failures; 8 spent between the half and three quarters.
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(
        close(left[0], 1.0) && close(left[1], 1.0) && close(left[2], 1.0),
        "{left:?}"
    );
    assert!(close(left[3], 0.2) && close(left[4], 0.2), "{left:?}");
    let snapshot = slo.snapshot(now).unwrap();
    assert!(close(left[4], snapshot.error_budget_remaining));
    // An empty SLO keeps its whole budget; bad point counts are refused.
    let empty = Slo::new(spec(0.99, 1000.0, &[100.0])).unwrap();
    assert_eq!(empty.burndown(2, now).unwrap(), vec![1.0; 3]);
    for points in [0, MAX_BURNDOWN_POINTS + 1] {
        let error = slo.burndown(points, now).unwrap_err();
        assert_eq!(error.param, "points");
    }
    assert!(slo.spec().burndown(&[]).is_err());
}
