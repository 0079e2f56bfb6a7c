//! Tests of shared ledgers: handles on one arena (as processes would hold them), the
//! journal's snapshots and capacity, and a holder of the lock killed while holding it.

#![allow(unsafe_code)]

use std::path::{Path, PathBuf};

use super::test_support::credits;
use super::*;
use crate::arena::{Arena, Options, TestArena};

const T: i64 = 1_700_000_000_000;
const RETENTION: Retention = Retention {
    ms: 3_600_000,
    max_retained: 1_000,
};

fn open(arena: &Arena, capacity: u64) -> Ledger {
    Ledger::shared(arena, "budgets", capacity, RETENTION).unwrap()
}

fn figures(l: &Ledger, now: i64) -> (i64, i64, i64) {
    let b = &l.balances(now, "tenant:acme").unwrap()[0];
    (b.allocated, b.reserved, b.spent)
}

#[test]
fn handles_on_one_arena_share_budgets_reservations_and_replays() {
    let arena = TestArena::new("ledger-share", 16 << 20);
    let (a, b) = (open(&arena, 1 << 20), open(&arena, 1 << 20));
    assert!(a.is_shared());
    a.set_budget("tenant:acme", Unit::Credits, 100, 0, None)
        .unwrap();
    let held = b.reserve(T, Some("k"), credits(60, 60_000)).unwrap();
    let err = a.reserve(T, None, credits(50, 60_000)).err().unwrap();
    assert_eq!(err.kind(), "BUDGET_EXCEEDED", "b's hold counts for a");
    // The same key through the other handle replays b's answer.
    assert_eq!(a.reserve(T, Some("k"), credits(60, 60_000)).unwrap(), held);
    let id = held.reservation_id.unwrap();
    a.commit(T + 1, None, &id, None, 30).unwrap();
    assert_eq!(figures(&b, T + 2), (100, 0, 30));
    // Setting the budget again (a recycled worker at import) never refills it.
    b.set_budget("tenant:acme", Unit::Credits, 100, 0, None)
        .unwrap();
    assert_eq!(figures(&a, T + 3), (100, 0, 30));
    let late = open(&arena, 1 << 20);
    assert_eq!(figures(&late, T + 4), (100, 0, 30));
    assert_eq!(
        late.commit(T + 5, None, &id, None, 1).unwrap_err().kind(),
        "RESERVATION_FINALIZED"
    );
    late.audit().unwrap();
}

#[test]
fn another_retention_or_capacity_is_refused() {
    let arena = TestArena::new("ledger-geometry", 16 << 20);
    open(&arena, 1 << 20);
    let other = Retention {
        ms: 60_000,
        ..RETENTION
    };
    let e = Ledger::shared(&arena, "budgets", 1 << 20, other)
        .err()
        .unwrap();
    assert!(e.to_string().contains("another configuration"), "{e}");
    let e = Ledger::shared(&arena, "budgets", 1 << 19, RETENTION)
        .err()
        .unwrap();
    assert!(e.to_string().contains("another configuration"), "{e}");
    let e = Ledger::shared(&arena, "budgets", 100, RETENTION)
        .err()
        .unwrap();
    assert!(e.to_string().contains("capacity"), "{e}");
    let e = Ledger::shared(&arena, "", 1 << 20, RETENTION)
        .err()
        .unwrap();
    assert!(e.to_string().starts_with("name "), "{e}");
}

#[test]
fn expiry_uses_the_journal_time_which_never_goes_back() {
    let arena = TestArena::new("ledger-time", 16 << 20);
    let (a, b) = (open(&arena, 1 << 20), open(&arena, 1 << 20));
    a.set_budget("tenant:acme", Unit::Credits, 100, 0, None)
        .unwrap();
    let v = a.reserve(T, None, credits(40, 1_000)).unwrap();
    // b's clock is behind a's: its operation runs at a's later time.
    a.sweep(T + 5_000).unwrap();
    let late = b.reserve(T, None, credits(10, 1_000)).unwrap();
    assert_eq!(late.expires_at_ms, Some(T + 6_000));
    let expired = b.reservations(T, Some(Status::Expired), "").unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(Some(&expired[0].0.id), v.reservation_id.as_ref());
    assert_eq!(figures(&a, T), (100, 10, 0));
}

#[test]
fn a_full_journal_becomes_a_snapshot_that_every_handle_loads() {
    let arena = TestArena::new("ledger-snapshot", 16 << 20);
    let (a, b) = (open(&arena, 1 << 18), open(&arena, 1 << 18));
    a.set_budget("tenant:acme", Unit::Credits, 1_000_000, 0, None)
        .unwrap();
    // Far more entries than a 64 KiB journal holds, while retention keeps the state under
    // 1,000 finalized reservations: snapshots of generations 1, 2, ... in both buffers.
    for i in 0..3_000 {
        let l = if i % 2 == 0 { &a } else { &b };
        let key = (i < 100).then(|| format!("r{i}"));
        let v = l
            .reserve(T + i, key.as_deref(), credits(7, 60_000))
            .unwrap();
        l.commit(T + i, None, &v.reservation_id.unwrap(), None, 5)
            .unwrap();
    }
    let generation = a.journal.as_ref().unwrap().generation();
    assert!(generation >= 2, "snapshots taken: {generation}");
    let fresh = open(&arena, 1 << 18);
    for l in [&a, &b, &fresh] {
        assert_eq!(figures(l, T + 3_000), (1_000_000, 0, 15_000));
        l.audit().unwrap();
    }
    // Replays still answer across snapshots.
    let first = b
        .reserve(T + 3_000, Some("r0"), credits(7, 60_000))
        .unwrap();
    assert_eq!(first.reserved, 7);
    assert_eq!(figures(&fresh, T + 3_000), (1_000_000, 0, 15_000));
}

#[test]
fn a_full_ledger_is_an_error_and_changes_nothing() {
    let arena = TestArena::new("ledger-full", 16 << 20);
    let (a, b) = (open(&arena, 1 << 16), open(&arena, 1 << 16));
    a.set_budget("tenant:acme", Unit::Credits, 1_000_000, 0, None)
        .unwrap();
    // Active reservations cannot be forgotten: 64 KiB fills up.
    let mut made = 0;
    let full = loop {
        match a.reserve(T, None, credits(1, 3_600_000)) {
            Ok(_) => made += 1,
            Err(e) => break e,
        }
        assert!(made < 10_000, "never full");
    };
    assert_eq!(full.kind(), "LEDGER_FULL");
    assert!(full.to_string().contains("larger capacity"), "{full}");
    for l in [&a, &b] {
        assert_eq!(figures(l, T), (1_000_000, made, 0));
        assert_eq!(l.reservations(T, None, "").unwrap().len() as i64, made);
        l.audit().unwrap();
    }
    // Releasing makes no room (released reservations are retained), but nothing tears.
    assert_eq!(
        b.reserve(T, None, credits(1, 3_600_000))
            .unwrap_err()
            .kind(),
        "LEDGER_FULL"
    );
}

/// Starts this test binary again as a child playing `role` on the arena in `dir`.
fn spawn(role: &str, dir: &Path) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "ledger::shared_tests::child_role",
            "--test-threads=1",
        ])
        .env("BURNGUARD_LEDGER_ROLE", role)
        .env("BURNGUARD_LEDGER_DIR", dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn options(dir: &Path) -> Options {
    Options {
        directory: Some(dir.to_path_buf()),
        size: 16 << 20,
        entries: 64,
    }
}

/// The child side of the process tests; does nothing when run as a test of its own.
#[test]
fn child_role() {
    let Ok(role) = std::env::var("BURNGUARD_LEDGER_ROLE") else {
        return;
    };
    let dir = PathBuf::from(std::env::var("BURNGUARD_LEDGER_DIR").unwrap());
    let arena = Arena::open("svc", &options(&dir)).unwrap();
    let ledger = open(&arena, 1 << 20);
    match role.as_str() {
        "reserve-then-die-holding-the-lock" => {
            ledger.reserve(T, None, credits(25, 60_000)).unwrap();
            let journal = ledger.journal.as_ref().unwrap();
            std::mem::forget(journal.lock().unwrap());
            // SAFETY: kills this process, as SIGKILL would at any instruction.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
        other => panic!("no role {other}"),
    }
}

#[test]
fn a_holder_killed_with_the_lock_held_blocks_no_one() {
    let dir = std::env::temp_dir().join(format!("burnguard-ledger-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let arena = Arena::open("svc", &options(&dir)).unwrap();
    let ledger = open(&arena, 1 << 20);
    ledger
        .set_budget("tenant:acme", Unit::Credits, 100, 0, None)
        .unwrap();
    let status = spawn("reserve-then-die-holding-the-lock", &dir)
        .wait()
        .unwrap();
    assert!(!status.success(), "the child was killed");
    // The dead holder's lock passes to this process, with its published reservation.
    let v = ledger.reserve(T, None, credits(75, 60_000)).unwrap();
    assert_eq!(v.reserved, 75);
    assert_eq!(figures(&ledger, T), (100, 100, 0));
    assert_eq!(
        ledger
            .reserve(T, None, credits(1, 60_000))
            .unwrap_err()
            .kind(),
        "BUDGET_EXCEEDED"
    );
    ledger.audit().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
