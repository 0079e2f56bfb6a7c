//! Tests of the durable ledger: what is answered is what a reopened ledger holds.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Arc;

use super::test_support::acme;
use super::*;

const T: i64 = 1_700_000_000_000;

fn retention() -> Retention {
    Retention {
        ms: 3_600_000,
        max_retained: 10_000,
    }
}

fn directory(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("burnguard-wal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn request(estimate: i64) -> ReserveRequest {
    ReserveRequest {
        subject: acme(),
        action: Action {
            kind: "llm".into(),
            name: "m".into(),
            tags: vec![],
        },
        unit: Unit::Tokens,
        estimate,
        ttl_ms: 10_000,
        grace_period_ms: 0,
        overage: Overage::AllowIfAvailable,
        dry_run: false,
    }
}

fn tokens(l: &Ledger) -> (i64, i64, i64) {
    let b = &l.balances(T, "tenant:acme").unwrap()[0];
    (b.spent, b.reserved, b.remaining)
}

#[test]
fn a_reopened_ledger_holds_every_answered_change_and_replays_keys() {
    let dir = directory("reopen");
    let l = Ledger::durable(&dir, retention()).unwrap();
    l.set_budget("tenant:acme", Unit::Tokens, 1_000, 0, None)
        .unwrap();
    let id = l
        .reserve(T, Some("r1"), request(300))
        .unwrap()
        .reservation_id
        .unwrap();
    l.commit(T + 1, Some("c1"), &id, None, 120).unwrap();
    let held = l
        .reserve(T + 2, Some("r2"), request(50))
        .unwrap()
        .reservation_id
        .unwrap();
    let event = l
        .event(
            T + 3,
            Some("e1"),
            &acme(),
            &request(0).action,
            Unit::Tokens,
            30,
            Overage::Reject,
        )
        .unwrap();
    assert_eq!(tokens(&l), (150, 50, 800));
    drop(l);
    let again = Ledger::durable(&dir, retention()).unwrap();
    assert_eq!(tokens(&again), (150, 50, 800));
    let replay = again.reserve(T + 4, Some("r1"), request(300)).unwrap();
    assert_eq!(
        replay.reservation_id.as_deref(),
        Some(id.as_str()),
        "the key's answer survived"
    );
    let replay = again
        .event(
            T + 4,
            Some("e1"),
            &acme(),
            &request(0).action,
            Unit::Tokens,
            30,
            Overage::Reject,
        )
        .unwrap();
    assert_eq!(replay.event_id, event.event_id);
    again.release(T + 5, Some("x"), &held).unwrap();
    let next = again
        .reserve(T + 6, Some("r3"), request(1))
        .unwrap()
        .reservation_id
        .unwrap();
    assert_ne!(next, held, "ids keep counting after a reopen");
    drop(again);
    assert_eq!(
        tokens(&Ledger::durable(&dir, retention()).unwrap()),
        (150, 1, 849)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_keyed_funding_survives_a_reopen_and_still_replays() {
    let dir = directory("funding");
    let l = Ledger::durable(&dir, retention()).unwrap();
    l.set_budget("tenant:acme", Unit::Tokens, 1_000, 0, None)
        .unwrap();
    let new_period = |l: &Ledger| {
        let reset = Some(Adjustment::ResetSpent);
        l.funding(
            T,
            Some("period-2"),
            "tenant:acme",
            Unit::Tokens,
            reset,
            (700, 20),
        )
        .unwrap()
    };
    let first = new_period(&l);
    assert_eq!((first.after.allocated, first.after.spent), (700, 20));
    drop(l);
    let again = Ledger::durable(&dir, retention()).unwrap();
    assert_eq!(tokens(&again), (20, 0, 680));
    let replay = new_period(&again);
    assert_eq!(replay, first, "the key's answer survived the restart");
    assert_eq!(tokens(&again), (20, 0, 680));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_log_of_an_earlier_version_replays_its_credits_and_adjustments() {
    let dir = directory("earlier");
    let l = Ledger::durable(&dir, retention()).unwrap();
    l.set_budget("tenant:acme", Unit::Tokens, 1_000, 0, None)
        .unwrap();
    drop(l);
    // The records an earlier version wrote for `fund` and `adjust`, by hand.
    let mut f = OpenOptions::new()
        .append(true)
        .open(dir.join("log-0.wal"))
        .unwrap();
    let mut credit = super::codec::Out(String::new());
    credit.token("fund");
    credit.str("tenant:acme");
    credit.token("TOKENS");
    credit.int(500);
    let mut reset = super::codec::Out(String::new());
    reset.token("adjust");
    reset.str("tenant:acme");
    reset.token("TOKENS");
    reset.token("RESET_SPENT");
    reset.int(1_200);
    reset.int(30);
    for payload in [reset.0, credit.0] {
        let mut record = (payload.len() as u32).to_le_bytes().to_vec();
        record.extend_from_slice(&T.to_le_bytes());
        record.extend_from_slice(&super::fingerprint::fnv1a(payload.as_bytes()).to_le_bytes());
        record.extend_from_slice(payload.as_bytes());
        f.write_all(&record).unwrap();
    }
    drop(f);
    let again = Ledger::durable(&dir, retention()).unwrap();
    let b = &again.balances(T, "tenant:acme").unwrap()[0];
    assert_eq!((b.allocated, b.spent, b.remaining), (1_700, 30, 1_670));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_torn_last_record_is_cut_off_and_the_log_goes_on() {
    let dir = directory("torn");
    let l = Ledger::durable(&dir, retention()).unwrap();
    l.set_budget("tenant:acme", Unit::Tokens, 1_000, 0, None)
        .unwrap();
    l.reserve(T, Some("r1"), request(10)).unwrap();
    drop(l);
    let log = dir.join("log-0.wal");
    let whole = std::fs::metadata(&log).unwrap().len();
    // A crash in the middle of an append: a head and half a payload.
    let mut f = OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(&[
        40, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9, 9, 9, 9, 9, b'x',
    ])
    .unwrap();
    drop(f);
    let l = Ledger::durable(&dir, retention()).unwrap();
    assert_eq!(
        std::fs::metadata(&log).unwrap().len(),
        whole,
        "cut back to the last whole record"
    );
    assert_eq!(tokens(&l), (0, 10, 990));
    l.reserve(T, Some("r2"), request(5)).unwrap();
    drop(l);
    assert_eq!(
        tokens(&Ledger::durable(&dir, retention()).unwrap()),
        (0, 15, 985)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_long_log_becomes_a_snapshot_and_a_new_log() {
    let dir = directory("rotate");
    let mut l = Ledger::durable(&dir, retention()).unwrap();
    if let Some(wal) = l.wal.as_mut() {
        wal.rotate_bytes = 4_000;
    }
    l.set_budget("tenant:acme", Unit::Tokens, 1_000_000, 0, None)
        .unwrap();
    for i in 0..200 {
        let id = l
            .reserve(T + i, Some(&format!("r{i}")), request(10))
            .unwrap()
            .reservation_id
            .unwrap();
        l.commit(T + i, Some(&format!("c{i}")), &id, None, 3)
            .unwrap();
    }
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let generation: u64 = names
        .iter()
        .filter_map(|n| n.strip_prefix("log-")?.strip_suffix(".wal")?.parse().ok())
        .max()
        .unwrap();
    assert!(generation > 5, "{names:?}");
    assert_eq!(names.len(), 2, "one snapshot and its log: {names:?}");
    drop(l);
    assert_eq!(
        tokens(&Ledger::durable(&dir, retention()).unwrap()),
        (600, 0, 999_400)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn concurrent_operations_share_syncs_and_all_survive() {
    concurrent_pairs_survive("threads", wal::ROTATE_BYTES);
}

#[test]
fn concurrent_operations_survive_rotations_between_their_groups() {
    // A log of about 40 records: groups are written and synced while others rotate.
    concurrent_pairs_survive("threads-rotating", 4_000);
}

/// Four threads make 100 keyed reserve + commit pairs each on a durable ledger whose log
/// rotates past `rotate_bytes`: every pair counts, before and after a reopen.
fn concurrent_pairs_survive(name: &str, rotate_bytes: u64) {
    let dir = directory(name);
    let mut l = Ledger::durable(&dir, retention()).unwrap();
    if let Some(wal) = l.wal.as_mut() {
        wal.rotate_bytes = rotate_bytes;
    }
    let l = Arc::new(l);
    l.set_budget("tenant:acme", Unit::Tokens, 1_000_000, 0, None)
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let l = l.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    let id = l
                        .reserve(T, Some(&format!("r{t}-{i}")), request(5))
                        .unwrap()
                        .reservation_id
                        .unwrap();
                    l.commit(T, Some(&format!("c{t}-{i}")), &id, None, 2)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(tokens(&l), (800, 0, 999_200));
    drop(l);
    let again = Ledger::durable(&dir, retention()).unwrap();
    assert_eq!(tokens(&again), (800, 0, 999_200));
    assert!(again.audit().is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}
