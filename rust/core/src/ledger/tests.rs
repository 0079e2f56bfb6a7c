use std::sync::Arc;

use super::*;

const T: i64 = 1_700_000_000_000;

fn subject(tenant: &str, app: Option<&str>) -> Subject {
    let mut s = Subject::default();
    s.levels[0] = Some(tenant.to_string());
    s.levels[2] = app.map(str::to_string);
    s
}

fn action() -> Action {
    Action {
        kind: "llm.completion".into(),
        name: "model".into(),
        tags: vec![],
    }
}

fn request(s: &Subject, estimate: i64, overage: Overage) -> ReserveRequest {
    ReserveRequest {
        subject: s.clone(),
        action: action(),
        unit: Unit::Tokens,
        estimate,
        ttl_ms: 10_000,
        grace_period_ms: 1_000,
        overage,
        dry_run: false,
    }
}

fn ledger() -> Ledger {
    let l = Ledger::new(Retention {
        ms: 3_600_000,
        max_retained: 1_000,
    })
    .unwrap();
    l.set_budget("tenant:acme", Unit::Tokens, 1_000, 0, None)
        .unwrap();
    l
}

fn balance(l: &Ledger, path: &str) -> Balance {
    l.balances(T, path)
        .unwrap()
        .into_iter()
        .find(|b| b.scope_path == path)
        .unwrap()
}

fn reserve(l: &Ledger, key: &str, estimate: i64, overage: Overage) -> String {
    let s = subject("acme", Some("chat"));
    l.reserve(T, Some(key), request(&s, estimate, overage))
        .unwrap()
        .reservation_id
        .unwrap()
}

#[test]
fn reserve_commit_release_move_the_balances() {
    let l = ledger();
    let s = subject("acme", Some("chat"));
    let v = l
        .reserve(T, Some("r1"), request(&s, 300, Overage::AllowIfAvailable))
        .unwrap();
    assert_eq!(v.decision, Decision::Allow);
    assert_eq!(v.affected_scopes, ["tenant:acme"], "app:chat has no budget");
    assert_eq!(v.scope_path, "tenant:acme/app:chat");
    assert_eq!((v.reserved, v.expires_at_ms), (300, Some(T + 10_000)));
    let id = v.reservation_id.unwrap();
    assert_eq!(balance(&l, "tenant:acme").remaining, 700);
    let c = l
        .commit(T, Some("c1"), &id, Some(Unit::Tokens), 200)
        .unwrap();
    assert_eq!(
        c,
        Committed {
            charged: 200,
            released: 100,
            debt_incurred: 0
        }
    );
    let b = balance(&l, "tenant:acme");
    assert_eq!((b.reserved, b.spent, b.remaining), (0, 200, 800));
    let second = reserve(&l, "r2", 50, Overage::AllowIfAvailable);
    assert_eq!(l.release(T, Some("x1"), &second).unwrap(), 50);
    assert_eq!(
        l.commit(T, Some("c2"), &second, Some(Unit::Tokens), 1),
        Err(LedgerError::ReservationFinalized {
            id: second.clone(),
            status: Status::Released
        })
    );
    assert_eq!(
        l.release(T, Some("x2"), "rsv_nope"),
        Err(LedgerError::NotFound {
            id: "rsv_nope".into()
        })
    );
    l.audit().unwrap();
}

#[test]
fn every_scope_of_the_path_must_allow_and_caps_narrow() {
    let l = ledger();
    let tight = Caps {
        max_tokens: Some(200),
        tool_denylist: Some(vec!["shell".into()]),
        ..Caps::default()
    };
    l.set_budget("tenant:acme/app:chat", Unit::Tokens, 100, 0, Some(tight))
        .unwrap();
    l.set_budget(
        "tenant:acme",
        Unit::Tokens,
        1_000,
        0,
        Some(Caps {
            max_tokens: Some(500),
            ..Caps::default()
        }),
    )
    .unwrap();
    let s = subject("acme", Some("chat"));
    let denied = l.reserve(T, Some("big"), request(&s, 150, Overage::Reject));
    assert_eq!(
        denied,
        Err(LedgerError::BudgetExceeded {
            scope: "tenant:acme/app:chat".into()
        })
    );
    let dry = ReserveRequest {
        dry_run: true,
        ..request(&s, 150, Overage::Reject)
    };
    let v = l.reserve(T, Some("dry"), dry).unwrap();
    assert_eq!(
        (v.decision, v.reason_code(), v.reservation_id),
        (Decision::Deny, Some("BUDGET_EXCEEDED"), None)
    );
    let v = l
        .reserve(T, Some("ok"), request(&s, 80, Overage::Reject))
        .unwrap();
    assert_eq!(v.decision, Decision::AllowWithCaps);
    assert_eq!(v.affected_scopes, ["tenant:acme", "tenant:acme/app:chat"]);
    let caps = v.caps.unwrap();
    assert_eq!(caps.max_tokens, Some(200));
    assert_eq!(caps.tool_denylist, Some(vec!["shell".to_string()]));
    assert_eq!(balance(&l, "tenant:acme").reserved, 80);
    assert_eq!(balance(&l, "tenant:acme/app:chat").reserved, 80);
    let nowhere = subject("other", None);
    assert_eq!(
        l.reserve(T, Some("none"), request(&nowhere, 1, Overage::Reject)),
        Err(LedgerError::BudgetNotFound {
            scope_path: "tenant:other".into()
        })
    );
}

#[test]
fn overage_policies_follow_the_protocol() {
    // REJECT: any overage fails and the reservation stays active.
    let l = ledger();
    let id = reserve(&l, "r", 100, Overage::Reject);
    assert!(matches!(
        l.commit(T, Some("c"), &id, Some(Unit::Tokens), 101),
        Err(LedgerError::BudgetExceeded { .. })
    ));
    assert_eq!(
        l.commit(T, Some("c2"), &id, Some(Unit::Tokens), 100)
            .unwrap()
            .charged,
        100
    );

    // ALLOW_IF_AVAILABLE: the delta is capped to what remains, and the scope goes over-limit.
    let l = ledger();
    let id = reserve(&l, "r", 900, Overage::AllowIfAvailable);
    let c = l
        .commit(T, Some("c"), &id, Some(Unit::Tokens), 1_500)
        .unwrap();
    assert_eq!((c.charged, c.debt_incurred), (1_000, 0));
    let b = balance(&l, "tenant:acme");
    assert_eq!(
        (b.spent, b.remaining, b.debt, b.is_over_limit),
        (1_000, 0, 0, true)
    );
    let s = subject("acme", None);
    assert_eq!(
        l.reserve(T, Some("blocked"), request(&s, 0, Overage::Reject)),
        Err(LedgerError::OverdraftLimitExceeded {
            scope: "tenant:acme".into()
        })
    );
    l.fund("tenant:acme", Unit::Tokens, 10).unwrap();
    assert!(!balance(&l, "tenant:acme").is_over_limit);

    // ALLOW_WITH_OVERDRAFT: the delta becomes debt within the limit, which then blocks.
    let l = ledger();
    l.set_budget("tenant:acme", Unit::Tokens, 1_000, 300, None)
        .unwrap();
    let id = reserve(&l, "r", 900, Overage::AllowWithOverdraft);
    let too_far = reserve(&l, "r2", 100, Overage::AllowWithOverdraft);
    assert_eq!(
        l.commit(T, Some("c"), &id, Some(Unit::Tokens), 1_250),
        Err(LedgerError::OverdraftLimitExceeded {
            scope: "tenant:acme".into()
        })
    );
    let c = l
        .commit(T, Some("c"), &id, Some(Unit::Tokens), 1_200)
        .unwrap();
    assert_eq!((c.charged, c.debt_incurred), (1_200, 300));
    let b = balance(&l, "tenant:acme");
    assert_eq!(
        (b.spent, b.reserved, b.debt, b.remaining),
        (900, 100, 300, -300)
    );
    assert_eq!(
        l.reserve(T, Some("r3"), request(&s, 0, Overage::Reject)),
        Err(LedgerError::DebtOutstanding {
            scope: "tenant:acme".into()
        })
    );
    let d = l
        .decide(T, Some("d"), &s, &action(), Unit::Tokens, 1)
        .unwrap();
    assert_eq!(
        (d.decision, d.reason_code()),
        (Decision::Deny, Some("DEBT_OUTSTANDING"))
    );
    assert_eq!(l.release(T, Some("x"), &too_far).unwrap(), 100);
    l.fund("tenant:acme", Unit::Tokens, 500).unwrap();
    let b = balance(&l, "tenant:acme");
    assert_eq!(
        (b.allocated, b.spent, b.debt, b.remaining),
        (1_500, 1_200, 0, 300)
    );
    l.audit().unwrap();
}

#[test]
fn events_debit_without_a_reservation() {
    let l = ledger();
    let s = subject("acme", None);
    let e = l
        .event(
            T,
            Some("e1"),
            &s,
            &action(),
            Unit::Tokens,
            400,
            Overage::Reject,
        )
        .unwrap();
    assert_eq!((e.charged, e.affected_scopes.len()), (400, 1));
    assert!(matches!(
        l.event(
            T,
            Some("e2"),
            &s,
            &action(),
            Unit::Tokens,
            700,
            Overage::Reject
        ),
        Err(LedgerError::BudgetExceeded { .. })
    ));
    let capped = l
        .event(
            T,
            Some("e3"),
            &s,
            &action(),
            Unit::Tokens,
            700,
            Overage::AllowIfAvailable,
        )
        .unwrap();
    assert_eq!(capped.charged, 600);
    assert!(balance(&l, "tenant:acme").is_over_limit);
    assert!(matches!(
        l.event(
            T,
            Some("e4"),
            &s,
            &action(),
            Unit::Credits,
            1,
            Overage::Reject
        ),
        Err(LedgerError::BudgetNotFound { .. })
    ));
}

#[test]
fn expiry_gives_holds_back_lazily_and_in_sweeps() {
    let l = ledger();
    let id = reserve(&l, "r", 300, Overage::Reject);
    assert_eq!(
        l.extend(T + 5_000, Some("h"), &id, 5_000).unwrap(),
        T + 15_000
    );
    assert_eq!(
        l.extend(T + 15_500, Some("h2"), &id, 5_000),
        Err(LedgerError::ReservationExpired { id: id.clone() }),
        "no extension in the grace period"
    );
    // Commits are still taken in the grace period...
    let other = reserve(&l, "r2", 100, Overage::Reject);
    assert_eq!(
        l.commit(T + 10_900, Some("c"), &other, Some(Unit::Tokens), 10)
            .unwrap()
            .charged,
        10
    );
    // ...but not after it.
    assert_eq!(
        l.commit(T + 16_001, Some("c2"), &id, Some(Unit::Tokens), 10),
        Err(LedgerError::ReservationExpired { id: id.clone() })
    );
    assert_eq!(balance(&l, "tenant:acme").reserved, 0);
    let third = reserve(&l, "r3", 100, Overage::Reject);
    assert_eq!(l.sweep(T + 11_001).unwrap(), 1);
    let expired = l
        .reservations(T + 11_001, Some(Status::Expired), "")
        .unwrap();
    assert_eq!(
        expired.iter().map(|(r, _)| &r.id).collect::<Vec<_>>(),
        [&id, &third]
    );
    assert_eq!(expired[0].1, ["tenant:acme"], "with the scopes it drew on");
    l.audit().unwrap();
}

#[test]
fn idempotent_replays_and_mismatches() {
    let l = ledger();
    let s = subject("acme", None);
    let first = l
        .reserve(T, Some("k"), request(&s, 100, Overage::Reject))
        .unwrap();
    let again = l
        .reserve(T, Some("k"), request(&s, 100, Overage::Reject))
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(balance(&l, "tenant:acme").reserved, 100, "held once");
    assert_eq!(
        l.reserve(T, Some("k"), request(&s, 101, Overage::Reject)),
        Err(LedgerError::IdempotencyMismatch { key: "k".into() })
    );
    let id = first.reservation_id.unwrap();
    let c = l.commit(T, Some("c"), &id, Some(Unit::Tokens), 60).unwrap();
    assert_eq!(
        l.commit(T, Some("c"), &id, Some(Unit::Tokens), 60).unwrap(),
        c
    );
    assert_eq!(balance(&l, "tenant:acme").spent, 60, "charged once");
    assert_eq!(
        l.commit(T, Some("c"), &id, Some(Unit::Credits), 60),
        Err(LedgerError::IdempotencyMismatch { key: "c".into() })
    );
    assert!(matches!(
        l.commit(T, Some("c3"), &id, Some(Unit::Credits), 60),
        Err(LedgerError::ReservationFinalized { .. })
    ));
    // Records are forgotten after the retention period.
    assert!(l
        .reserve(T + 3_600_001, Some("k"), request(&s, 101, Overage::Reject))
        .is_ok());
}

#[test]
fn retention_bounds_the_records_kept() {
    let l = ledger();
    for i in 0..1_500 {
        let id = reserve(&l, &format!("r{i}"), 1, Overage::Reject);
        l.release(T, None, &id).unwrap();
    }
    assert_eq!(
        l.reservations(T, Some(Status::Released), "").unwrap().len(),
        1_000
    );
    // The oldest records went first: their keys can be reused for other payloads.
    let s = subject("acme", None);
    assert!(l
        .reserve(T, Some("r0"), request(&s, 2, Overage::Reject))
        .is_ok());
    assert_eq!(
        l.reserve(T, Some("r1499"), request(&s, 2, Overage::Reject)),
        Err(LedgerError::IdempotencyMismatch {
            key: "r1499".into()
        })
    );
    assert!(Ledger::new(Retention {
        ms: 60_000,
        max_retained: 10
    })
    .is_err());
}

#[test]
fn bad_input_names_the_parameter() {
    let l = ledger();
    let s = subject("acme", None);
    let param = |e: LedgerError| match e {
        LedgerError::Invalid(Error { param, .. }) => param,
        other => panic!("{other:?}"),
    };
    let mut r = request(&s, -1, Overage::Reject);
    assert_eq!(
        param(l.reserve(T, Some("k"), r.clone()).unwrap_err()),
        "estimate"
    );
    r.estimate = 1;
    r.ttl_ms = 10;
    assert_eq!(
        param(l.reserve(T, Some("k"), r.clone()).unwrap_err()),
        "ttl_ms"
    );
    r.ttl_ms = 10_000;
    r.subject = Subject::default();
    assert_eq!(
        param(l.reserve(T, Some("k"), r.clone()).unwrap_err()),
        "subject"
    );
    r.subject = subject("a/b", None);
    assert_eq!(
        param(l.reserve(T, Some("k"), r.clone()).unwrap_err()),
        "tenant"
    );
    assert_eq!(
        param(
            l.reserve(T, Some(""), request(&s, 1, Overage::Reject))
                .unwrap_err()
        ),
        "idempotency_key"
    );
    assert!(l
        .set_budget("app:x/tenant:y", Unit::Tokens, 1, 0, None)
        .is_err());
    assert!("DOLLARS".parse::<Unit>().is_err());
    assert!(l
        .set_budget("tenant:acme", Unit::Tokens, -5, 0, None)
        .is_err());
}

#[test]
fn save_and_load_round_trip_exactly() {
    let l = ledger();
    l.set_budget(
        "tenant:acme/app:chat",
        Unit::Tokens,
        500,
        50,
        Some(Caps {
            tool_allowlist: Some(vec!["search engine".into(), "a:b 3".into()]),
            ..Caps::default()
        }),
    )
    .unwrap();
    let id = reserve(&l, "r 1", 100, Overage::AllowWithOverdraft);
    let done = reserve(&l, "r2", 10, Overage::Reject);
    l.commit(T, Some("c"), &done, Some(Unit::Tokens), 5)
        .unwrap();
    let s = subject("acme", Some("chat"));
    l.event(
        T,
        Some("e"),
        &s,
        &action(),
        Unit::Tokens,
        7,
        Overage::Reject,
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("burnguard-ledger-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ledger.bg");
    l.save(&path).unwrap();
    let back = Ledger::load(&path).unwrap();
    assert!(file::same_state(&l, &back));
    assert_eq!(
        back.commit(T, Some("c"), &done, Some(Unit::Tokens), 5)
            .unwrap()
            .charged,
        5,
        "replays survive"
    );
    assert_eq!(
        back.commit(T, Some("c9"), &id, Some(Unit::Tokens), 100)
            .unwrap()
            .charged,
        100
    );
    std::fs::write(&path, "burnguard-ledger 1\nbudget 3:abc").unwrap();
    assert!(Ledger::load(&path).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("burnguard-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// With `text` as a file, `Ledger::load`'s error kind (or None if it loads).
fn load_text(dir: &std::path::Path, text: &[u8]) -> Option<std::io::ErrorKind> {
    let path = dir.join("edited.bg");
    std::fs::write(&path, text).unwrap();
    Ledger::load(&path).err().map(|e| e.kind())
}

#[test]
fn any_damage_to_a_saved_file_is_an_error_naming_it() {
    let dir = scratch("damage");
    let path = dir.join("ledger.bg");
    golden_scenario().save(&path).unwrap();
    let good = std::fs::read(&path).unwrap();
    assert!(Ledger::load(&path).is_ok());
    // Every byte changed, and every cut, is refused.
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] = if bad[i] == b'7' { b'8' } else { b'7' };
        assert_eq!(
            load_text(&dir, &bad),
            Some(std::io::ErrorKind::InvalidData),
            "byte {i}"
        );
    }
    for cut in [1, good.len() / 2, good.len() - 2] {
        assert_eq!(
            load_text(&dir, &good[..cut]),
            Some(std::io::ErrorKind::InvalidData)
        );
    }
    // An edit with a recomputed checksum still has to pass the constructor's checks.
    let text = String::from_utf8(good).unwrap();
    let body = text[..text.rfind("checksum").unwrap()]
        .replace("retention 3600000 1000", "retention 3600000 0");
    let forged = format!(
        "{body}checksum {:016x}\n",
        fingerprint::fnv1a(body.as_bytes())
    );
    let err = {
        std::fs::write(dir.join("forged.bg"), &forged).unwrap();
        Ledger::load(&dir.join("forged.bg")).err().expect("refused")
    };
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(
        err.to_string().contains("forged.bg") && err.to_string().contains("max_retained"),
        "{err}"
    );
    let missing = Ledger::load(&dir.join("missing.bg"))
        .err()
        .expect("refused");
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    assert!(missing.to_string().contains("missing.bg"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn concurrent_saves_all_succeed_and_leave_a_complete_file() {
    let dir = scratch("saves");
    let path = Arc::new(dir.join("ledger.bg"));
    let l = Arc::new(golden_scenario());
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (l, path) = (l.clone(), path.clone());
            std::thread::spawn(move || (0..20).map(|_| l.save(&path)).collect::<Vec<_>>())
        })
        .collect();
    for t in threads {
        for saved in t.join().unwrap() {
            saved.unwrap();
        }
    }
    assert!(file::same_state(&Ledger::load(&path).unwrap(), &l));
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&*path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// 8 threads x 100k random operations on shared scopes; after every step the invariants hold
/// and no scope's debt passes its overdraft limit.
#[test]
fn stress_never_overspends_any_scope() {
    let l = Arc::new(
        Ledger::new(Retention {
            ms: 60_000,
            max_retained: 10_000,
        })
        .unwrap(),
    );
    l.set_budget("tenant:t", Unit::Tokens, 50_000, 2_000, None)
        .unwrap();
    for app in ["a", "b"] {
        l.set_budget(
            &format!("tenant:t/app:{app}"),
            Unit::Tokens,
            20_000,
            500,
            None,
        )
        .unwrap();
    }
    let ops = 100_000;
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let l = Arc::clone(&l);
            std::thread::spawn(move || {
                let mut rng = t * 7919 + 1;
                let mut next = || {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng
                };
                let mut mine: Vec<String> = Vec::new();
                for i in 0..ops {
                    let now = T + (i as i64) * 3;
                    let key = format!("{t}-{i}");
                    let s = subject("t", Some(if next() % 2 == 0 { "a" } else { "b" }));
                    let overage = [
                        Overage::Reject,
                        Overage::AllowIfAvailable,
                        Overage::AllowWithOverdraft,
                    ][(next() % 3) as usize];
                    match next() % 6 {
                        0 | 1 => {
                            let r = ReserveRequest {
                                ttl_ms: 1_000 + (next() % 2_000) as i64,
                                ..request(&s, (next() % 400) as i64, overage)
                            };
                            if let Ok(v) = l.reserve(now, Some(&key), r) {
                                mine.push(v.reservation_id.unwrap());
                            }
                        }
                        2 if !mine.is_empty() => {
                            let id = mine.swap_remove((next() as usize) % mine.len());
                            let _ = l.commit(
                                now,
                                Some(&key),
                                &id,
                                Some(Unit::Tokens),
                                (next() % 500) as i64,
                            );
                        }
                        3 if !mine.is_empty() => {
                            let id = mine.swap_remove((next() as usize) % mine.len());
                            let _ = l.release(now, Some(&key), &id);
                        }
                        4 => {
                            let _ = l.event(
                                now,
                                Some(&key),
                                &s,
                                &action(),
                                Unit::Tokens,
                                (next() % 50) as i64,
                                overage,
                            );
                        }
                        _ => {
                            if next() % 50 == 0 {
                                l.fund("tenant:t", Unit::Tokens, 300).unwrap();
                                l.fund("tenant:t/app:a", Unit::Tokens, 100).unwrap();
                                l.fund("tenant:t/app:b", Unit::Tokens, 100).unwrap();
                            }
                        }
                    }
                    l.audit().unwrap();
                    for b in l.balances(now, "").unwrap() {
                        assert!(b.debt <= b.overdraft_limit, "{b:?}");
                        assert!(b.reserved + b.spent <= b.allocated, "{b:?}");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let spent: i64 = l
        .balances(T + 10_000_000, "")
        .unwrap()
        .iter()
        .map(|b| b.spent)
        .sum();
    assert!(spent > 0);
    l.audit().unwrap();
}

/// The golden scenario's subject, action and reservation request, every field set.
fn golden_requests() -> (Subject, Action, ReserveRequest) {
    let mut s = subject("acme", Some("chat"));
    s.dimensions = vec![("region".into(), "eu".into())];
    let tagged = Action {
        tags: vec!["prod".into()],
        ..action()
    };
    let mut reserve = request(&s, 100, Overage::AllowWithOverdraft);
    reserve.action = tagged.clone();
    (s, tagged, reserve)
}

/// A ledger with a keyed request of every operation, each with every field set.
fn golden_scenario() -> Ledger {
    let l = ledger();
    let (s, tagged, reserve) = golden_requests();
    let id = l
        .reserve(T, Some("reserve"), reserve)
        .unwrap()
        .reservation_id
        .unwrap();
    l.extend(T, Some("extend"), &id, 5_000).unwrap();
    l.commit(T, Some("commit"), &id, Some(Unit::Tokens), 80)
        .unwrap();
    let other = l
        .reserve(T, None, request(&s, 10, Overage::Reject))
        .unwrap()
        .reservation_id
        .unwrap();
    l.release(T, Some("release"), &other).unwrap();
    l.decide(T, Some("decide"), &s, &tagged, Unit::Tokens, 20)
        .unwrap();
    l.event(
        T,
        Some("event"),
        &s,
        &tagged,
        Unit::Tokens,
        7,
        Overage::Reject,
    )
    .unwrap();
    l
}

/// A file written by an earlier version of the format, committed: it must keep loading, and
/// its idempotency records must keep matching the requests that made them. Regenerate it only
/// with a new format version (`BURNGUARD_WRITE_GOLDEN=1 cargo test golden`).
#[test]
fn golden_file_loads_and_its_replays_still_match() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ledger-v2.bg");
    let fresh = golden_scenario();
    if std::env::var_os("BURNGUARD_WRITE_GOLDEN").is_some() {
        fresh.save(&path).unwrap();
    }
    let l = Ledger::load(&path).unwrap();
    assert!(
        file::same_state(&l, &fresh),
        "this version writes the same file"
    );
    let (s, tagged, mut reserve) = golden_requests();
    let id = l
        .reserve(T, Some("reserve"), reserve.clone())
        .unwrap()
        .reservation_id
        .unwrap();
    assert_eq!(l.extend(T, Some("extend"), &id, 5_000).unwrap(), T + 15_000);
    let committed = l
        .commit(T, Some("commit"), &id, Some(Unit::Tokens), 80)
        .unwrap();
    assert_eq!(committed.charged, 80);
    let decided = l
        .decide(T, Some("decide"), &s, &tagged, Unit::Tokens, 20)
        .unwrap();
    assert_eq!(decided.decision, Decision::Allow);
    let debited = l
        .event(
            T,
            Some("event"),
            &s,
            &tagged,
            Unit::Tokens,
            7,
            Overage::Reject,
        )
        .unwrap();
    assert_eq!(debited.charged, 7);
    assert!(file::same_state(&l, &fresh), "replays changed nothing");
    // Another payload under a stored key is still a mismatch.
    reserve.estimate = 101;
    assert_eq!(
        l.reserve(T, Some("reserve"), reserve),
        Err(LedgerError::IdempotencyMismatch {
            key: "reserve".into()
        })
    );
    assert_eq!(
        l.event(
            T,
            Some("event"),
            &s,
            &tagged,
            Unit::Tokens,
            8,
            Overage::Reject
        ),
        Err(LedgerError::IdempotencyMismatch {
            key: "event".into()
        })
    );
}

#[test]
fn a_reservation_is_found_by_its_id() {
    let l = ledger();
    let id = reserve(&l, "r1", 40, Overage::AllowIfAvailable);
    let (r, scopes) = l.reservation(&id).unwrap().unwrap();
    assert_eq!(
        (r.id.as_str(), r.reserved, r.status),
        (id.as_str(), 40, Status::Active)
    );
    assert_eq!(scopes, ["tenant:acme"]);
    for missing in ["rsv_ffffffffffffffff", "rsv_1", "nope", ""] {
        assert!(l.reservation(missing).unwrap().is_none(), "{missing}");
    }
}
