//! Tests of fleet ledgers over an in-memory sequencer that behaves as the Redis script does
//! (one journal, numbered entries, a snapshot head, a lost journal): hosts on threads never
//! overspend, replays answer once, reads see other hosts, a lost journal is seeded again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::test_support::credits;
use super::*;

const T: i64 = 1_700_000_000_000;
const RETENTION: Retention = Retention {
    ms: 3_600_000,
    max_retained: 1_000,
};

/// One journal, as the Redis keys hold it.
#[derive(Default)]
struct Journal {
    instance: String,
    base: Option<Snapshot>,
    entries: Vec<String>,
    time: i64,
    instances: u64,
    /// Entries ever appended: each entry's token is its count, unique as a writer's id and
    /// sequence number are.
    appended: u64,
    /// Whether it was seeded and nothing was appended since.
    seeded: bool,
    /// Calls answered: round trips.
    calls: u64,
}

#[derive(Clone, Default)]
struct Memory {
    journal: Arc<Mutex<Journal>>,
    down: Arc<AtomicBool>,
    /// While true, calls wait (a round trip that is out).
    held: Arc<(Mutex<bool>, Condvar)>,
}

impl Memory {
    fn wipe(&self) {
        let mut j = self.journal.lock().unwrap();
        *j = Journal {
            instances: j.instances,
            appended: j.appended,
            calls: j.calls,
            ..Journal::default()
        };
    }

    fn compact(&self, instance: &str, snapshot: Snapshot) {
        let mut j = self.journal.lock().unwrap();
        let base = j.base.as_ref().map_or(0, |s| s.seq);
        if j.instance == instance && snapshot.seq > base {
            j.entries.drain(..(snapshot.seq - base) as usize);
            j.base = Some(snapshot);
        }
    }
}

impl Sequencer for Memory {
    fn sequence(
        &self,
        instance: &str,
        after: u64,
        token: &str,
        entries: &[&str],
    ) -> Result<Option<Sequenced>, SequencerError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(SequencerError::Unreachable("connection refused".into()));
        }
        let (held, released) = &*self.held;
        drop(released.wait_while(held.lock().unwrap(), |h| *h).unwrap());
        let mut j = self.journal.lock().unwrap();
        if j.instance.is_empty() {
            if after > 0 {
                return Ok(None);
            }
            j.instances += 1;
            j.instance = format!("i{}", j.instances);
        }
        let base = j.base.as_ref().map_or(0, |s| s.seq);
        if j.seeded && instance != j.instance && after > base {
            return Ok(None); // a longer history than the seed's: seeded again from it
        }
        let head = base + j.entries.len() as u64;
        let at = |seq: u64| -> String {
            match seq.checked_sub(base + 1) {
                None => j.base.as_ref().map_or(String::new(), |s| s.token.clone()),
                Some(i) => j.entries[i as usize].split(' ').nth(1).unwrap().to_string(),
            }
        };
        let full = instance != j.instance || after < base || after > head || at(after) != token;
        let own = if entries.is_empty() { 0 } else { head + 1 };
        for text in entries {
            j.time = j.time.max(T) + 1;
            j.appended += 1;
            j.seeded = false;
            let line = format!("{} t{} {text}", j.time, j.appended);
            j.entries.push(line);
        }
        j.calls += 1;
        let (snapshot, first) = if full {
            (j.base.clone(), base + 1)
        } else {
            (None, after + 1)
        };
        let skip = (first - base - 1) as usize;
        Ok(Some(Sequenced {
            instance: j.instance.clone(),
            full,
            snapshot,
            first,
            entries: j.entries[skip..].to_vec(),
            own,
        }))
    }

    fn seed(&self, snapshot: &Snapshot) -> Result<(), SequencerError> {
        let mut j = self.journal.lock().unwrap();
        let base = j.base.as_ref().map_or(0, |s| s.seq);
        if j.instance.is_empty() || (j.seeded && snapshot.seq > base) {
            j.instances += 1;
            j.instance = format!("i{}", j.instances);
            j.time = snapshot.time;
            j.base = Some(snapshot.clone());
            j.seeded = true;
        }
        Ok(())
    }
}

fn host(memory: &Memory) -> Ledger {
    Ledger::fleet(Box::new(memory.clone()), RETENTION).unwrap()
}

/// A host that has set the fleet's budget: 100 credits for `tenant:acme`.
fn funded_host(memory: &Memory) -> Ledger {
    let l = host(memory);
    l.set_budget("tenant:acme", Unit::Credits, 100, 0, None)
        .unwrap();
    l
}

fn request(estimate: i64) -> ReserveRequest {
    credits(estimate, 60_000)
}

fn figures(l: &Ledger) -> (i64, i64, i64) {
    let b = &l.balances(T, "tenant:acme").unwrap()[0];
    (b.allocated, b.reserved, b.spent)
}

#[test]
fn hosts_share_budgets_holds_and_replays() {
    let memory = Memory::default();
    let (a, b) = (host(&memory), host(&memory));
    assert!(a.is_fleet() && !a.is_shared());
    a.set_budget("tenant:acme", Unit::Credits, 100, 0, None)
        .unwrap();
    let held = b.reserve(T, Some("k"), request(60)).unwrap();
    let err = a.reserve(T, None, request(50)).err().unwrap();
    assert_eq!(err.kind(), "BUDGET_EXCEEDED", "b's hold counts for a");
    assert_eq!(a.reserve(T, Some("k"), request(60)).unwrap(), held);
    let id = held.reservation_id.unwrap();
    a.commit(T, None, &id, None, 30).unwrap();
    assert_eq!(figures(&b), (100, 0, 30));
    // Setting the budget again (a host starting) never refills it.
    b.set_budget("tenant:acme", Unit::Credits, 100, 0, None)
        .unwrap();
    assert_eq!(figures(&a), (100, 0, 30));
    a.audit().unwrap();
}

#[test]
fn concurrent_hosts_never_overspend() {
    let memory = Memory::default();
    host(&memory)
        .set_budget("tenant:acme", Unit::Credits, 100, 0, None)
        .unwrap();
    let served: i64 = std::thread::scope(|s| {
        let hosts: Vec<_> = (0..4)
            .map(|_| {
                let ledger = host(&memory);
                s.spawn(move || {
                    let mut served = 0;
                    for _ in 0..60 {
                        if let Ok(v) = ledger.reserve(T, None, request(1)) {
                            ledger
                                .commit(T, None, &v.reservation_id.unwrap(), None, 1)
                                .unwrap();
                            served += 1;
                        }
                    }
                    served
                })
            })
            .collect();
        hosts.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(served, 100);
    assert_eq!(figures(&host(&memory)), (100, 0, 100));
}

#[test]
fn one_hosts_threads_send_their_operations_together_while_a_round_trip_is_out() {
    let memory = Memory::default();
    let ledger = host(&memory);
    ledger
        .set_budget("tenant:acme", Unit::Credits, 100, 0, None)
        .unwrap();
    *memory.held.0.lock().unwrap() = true;
    let ids: Vec<String> = std::thread::scope(|s| {
        let first = s.spawn(|| ledger.reserve(T, None, request(10)));
        while ledger.fleet_waiting() != (0, true) {
            std::thread::yield_now(); // until the first thread's round trip is out
        }
        let others: Vec<_> = (0..7)
            .map(|_| s.spawn(|| ledger.reserve(T, None, request(10))))
            .collect();
        while ledger.fleet_waiting() != (7, true) {
            std::thread::yield_now(); // until the others wait for the next
        }
        *memory.held.0.lock().unwrap() = false;
        memory.held.1.notify_all();
        std::iter::once(first)
            .chain(others)
            .map(|t| t.join().unwrap().unwrap().reservation_id.unwrap())
            .collect()
    });
    let journal = memory.journal.lock().unwrap();
    assert_eq!(
        journal.calls,
        1 + 2,
        "the budget, the first thread's, then the seven together"
    );
    assert_eq!(journal.entries.len(), 1 + 8);
    drop(journal);
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), 8);
    assert_eq!(figures(&ledger), (100, 80, 0));
}

#[test]
fn a_host_joining_late_loads_the_snapshot_and_the_entries_after_it() {
    let memory = Memory::default();
    let a = funded_host(&memory);
    a.reserve(T, None, request(10)).unwrap();
    let (instance, snapshot) = a.fleet_snapshot().unwrap();
    assert_eq!(snapshot.seq, 2);
    memory.compact(&instance, snapshot);
    a.reserve(T, None, request(5)).unwrap();
    let late = host(&memory);
    assert_eq!(figures(&late), (100, 15, 0));
    assert_eq!(late.fleet_status().unwrap().seq, 3);
    late.audit().unwrap();
}

#[test]
fn a_lost_journal_is_seeded_from_a_host_and_what_it_lacked_is_counted() {
    let memory = Memory::default();
    let (a, b) = (funded_host(&memory), host(&memory));
    a.reserve(T, None, request(10)).unwrap();
    assert_eq!(figures(&b), (100, 10, 0));
    a.reserve(T, None, request(20)).unwrap(); // b has not seen this one
    memory.wipe();
    // b notices first: the fleet goes on from b's state; a's last hold is lost.
    b.reserve(T, None, request(1)).unwrap();
    assert_eq!(figures(&b), (100, 11, 0));
    assert_eq!(figures(&a), (100, 11, 0));
    assert_eq!(a.fleet_status().unwrap().losses, 1);
    assert_eq!(b.fleet_status().unwrap().losses, 0);
    assert_ne!(a.fleet_status().unwrap().instance, "i1");
}

#[test]
fn of_the_hosts_that_seed_a_lost_journal_the_longest_history_wins_until_an_entry() {
    let memory = Memory::default();
    let (a, b) = (funded_host(&memory), host(&memory));
    a.reserve(T, None, request(10)).unwrap();
    assert_eq!(figures(&b), (100, 10, 0));
    a.reserve(T, None, request(20)).unwrap();
    memory.wipe();
    assert_eq!(figures(&b), (100, 10, 0), "b seeds first");
    assert_eq!(
        figures(&a),
        (100, 30, 0),
        "a's longer history replaces b's seed"
    );
    assert_eq!(figures(&b), (100, 30, 0));
    b.reserve(T, None, request(1)).unwrap();
    assert_eq!(figures(&a), (100, 31, 0));
    assert_eq!(
        (
            a.fleet_status().unwrap().losses,
            b.fleet_status().unwrap().losses
        ),
        (0, 0)
    );
}

#[test]
fn a_journal_that_lost_its_last_entries_is_followed_and_the_loss_counted() {
    let memory = Memory::default();
    let (a, b) = (funded_host(&memory), host(&memory));
    a.reserve(T, None, request(10)).unwrap();
    a.reserve(T, None, request(20)).unwrap();
    // Redis restarted from a persistence file one write behind: b's next entry takes the
    // number of a's lost one, under another token.
    memory.journal.lock().unwrap().entries.pop();
    assert_eq!(figures(&b), (100, 10, 0));
    b.reserve(T, None, request(1)).unwrap();
    assert_eq!(figures(&a), (100, 11, 0));
    assert_eq!(a.fleet_status().unwrap().losses, 1);
    a.audit().unwrap();
}

#[test]
fn an_outage_decides_nothing_and_changes_nothing() {
    let memory = Memory::default();
    let a = funded_host(&memory);
    memory.down.store(true, Ordering::SeqCst);
    let err = a.reserve(T, None, request(10)).err().unwrap();
    assert_eq!(err.kind(), "LEDGER_UNAVAILABLE");
    assert!(err.to_string().contains("connection refused"), "{err}");
    assert!(a.balances(T, "").is_err());
    memory.down.store(false, Ordering::SeqCst);
    assert_eq!(figures(&a), (100, 0, 0));
}

#[test]
fn expiry_happens_at_the_sequencer_time_of_an_entry() {
    let memory = Memory::default();
    let a = funded_host(&memory);
    let id = a
        .reserve(T, None, request(10))
        .unwrap()
        .reservation_id
        .unwrap();
    let due = a.fleet_status().unwrap().next_expiry_ms.unwrap();
    memory.journal.lock().unwrap().time = due + 1;
    // A read expires nothing; a sweep is an entry, applied alike by every host.
    assert_eq!(figures(&a).1, 10);
    assert_eq!(a.sweep(T).unwrap(), 1);
    let b = host(&memory);
    assert_eq!(figures(&b).1, 0);
    assert_eq!(
        b.commit(T, None, &id, None, 1).err().unwrap().kind(),
        "RESERVATION_EXPIRED"
    );
}

#[test]
fn a_snapshot_of_another_retention_is_refused() {
    let memory = Memory::default();
    let a = funded_host(&memory);
    let (instance, snapshot) = a.fleet_snapshot().unwrap();
    memory.compact(&instance, snapshot);
    let other = Retention {
        ms: 7_200_000,
        ..RETENTION
    };
    let b = Ledger::fleet(Box::new(memory.clone()), other).unwrap();
    let err = b.balances(T, "").err().unwrap();
    assert_eq!(err.kind(), "SHARED_LEDGER_FAILED");
    assert!(err.to_string().contains("same retention"), "{err}");
}
