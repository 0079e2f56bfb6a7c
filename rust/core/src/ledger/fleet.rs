//! A ledger a fleet of hosts shares through a sequencer outside the process (Redis, through
//! `burnguard.redis.ledger`): a replicated state machine.
//!
//! The sequencer keeps one journal of entries in one total order. Every operation sends its
//! entry (the request, not its result) and gets back every entry after this host's cursor,
//! its own included, each stamped with the sequencer's time; the host applies them in order,
//! and its own entry's outcome is the answer. The operations are deterministic given the
//! state, the entry and its time, so every host reaches the same state, and a reservation
//! checks and holds its amount on every scope of its subject in the one step the journal
//! orders: concurrent reservers on every host never overspend. The decisions stay in this
//! crate; the sequencer only orders text.
//!
//! Reads (balances, reservations) fetch the entries after the cursor and read; they append
//! nothing, so they answer as of the last entry. A journal grows until a host replaces its
//! head by a snapshot ([`Ledger::fleet_snapshot`]). When the sequencer lost the journal (a
//! Redis restarted empty), the hosts seed it again with their own state (the sequencer lets a
//! longer history replace a seed for a while), and every host goes on from that. Each entry carries a
//! token, and a host's cursor names the token of its last entry, so a journal that lost its
//! last entries (a Redis restarted behind, a failover to a replica behind) is noticed even
//! once other entries took their numbers: the host then goes on from the fleet's history.
//! What it had applied beyond that is lost, and counted.

use std::sync::Condvar;

use super::codec::In;
use super::entry::{Entry, Outcome};
use super::*;

/// The state after a prefix of a journal: entries up to `seq`, the last at `time` with `token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Entries applied.
    pub seq: u64,
    /// The time of the last.
    pub time: i64,
    /// The token of the last (empty for none).
    pub token: String,
    /// The state, in the file format.
    pub text: String,
}

/// What a sequencer answers.
#[derive(Debug, Default)]
pub struct Sequenced {
    /// The journal's instance: a new one when the sequencer lost it and it was seeded again.
    pub instance: String,
    /// Whether the answer starts the journal over: the cursor was of another instance, before
    /// the journal's first entry, past its last, or at an entry of another token (a Redis
    /// that lost its last writes, or a failover to a replica behind).
    pub full: bool,
    /// The state the entries of a full answer follow (None: the empty state).
    pub snapshot: Option<Snapshot>,
    /// The number of the first of `entries`.
    pub first: u64,
    /// The entries after the cursor (or the snapshot), each `"<time ms> <token> <entry>"`;
    /// a token names one entry of the journal and no other.
    pub entries: Vec<String>,
    /// The number the first entry sent got (0 if none was sent); the others follow it.
    pub own: u64,
}

/// Why a sequencer did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequencerError {
    /// It was not reached (an outage): nothing was decided.
    Unreachable(String),
    /// It answered that this ledger cannot use its journal (another retention, a stale
    /// retry).
    Refused(String),
}

/// Orders a fleet ledger's entries (implemented over Redis by the Python facade).
pub trait Sequencer: Send + Sync {
    /// Appends `entries` in order (none: a read) after every entry so far, and answers the
    /// entries after entry `after` (whose token is `token`) of journal `instance` (every
    /// entry for a new host, `instance` empty). Ok(None) when the sequencer lost the journal
    /// that cursor follows.
    fn sequence(
        &self,
        instance: &str,
        after: u64,
        token: &str,
        entries: &[&str],
    ) -> Result<Option<Sequenced>, SequencerError>;

    /// Starts a lost journal again from `snapshot`, unless another host did with a history
    /// at least as long, or the seed settled.
    fn seed(&self, snapshot: &Snapshot) -> Result<(), SequencerError>;
}

/// A fleet ledger's sequencer, and the operations of this process's threads waiting for it:
/// while one thread's round trip is out, the others' entries gather and go in the next one,
/// so a process's throughput grows with its concurrency rather than being one round trip
/// at a time.
pub(super) struct FleetLink {
    sequencer: Box<dyn Sequencer>,
    batch: Mutex<Batch>,
    answered: Condvar,
}

/// The most entries one round trip carries.
const MAX_BATCH: usize = 256;

/// Entries waiting to be sent, and the answers of those sent, by ticket.
#[derive(Default)]
struct Batch {
    waiting: Vec<(u64, String)>,
    answers: HashMap<u64, Result<Outcome, LedgerError>>,
    sending: bool,
    next_ticket: u64,
}

/// How far this host has applied the fleet's journal.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct FleetCursor {
    instance: String,
    seq: u64,
    time: i64,
    token: String,
    /// Times the journal was found to have lost entries this host had applied.
    losses: u64,
}

/// Where a fleet ledger stands (for metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetStatus {
    /// The journal's instance.
    pub instance: String,
    /// Entries applied.
    pub seq: u64,
    /// The last entry's time (ms).
    pub time: i64,
    /// The earliest deadline of an active reservation (ms), if any: when a sweep is due.
    pub next_expiry_ms: Option<i64>,
    /// Times the journal was found to have lost entries this host had applied (a Redis
    /// restarted empty or behind); each time this host went on from the fleet's history.
    pub losses: u64,
}

impl Ledger {
    /// A ledger shared by every host whose ledger `sequencer` orders (see the module docs).
    /// Every host must use the same retention.
    pub fn fleet(sequencer: Box<dyn Sequencer>, retention: Retention) -> Result<Ledger, Error> {
        retention.validate()?;
        Ok(Ledger {
            fleet: Some(Box::new(FleetLink {
                sequencer,
                batch: Mutex::default(),
                answered: Condvar::new(),
            })),
            ..Ledger::of(State::default(), retention)
        })
    }

    /// Applies the entries other hosts appended since this host's last (nothing to do for a
    /// ledger that is not a fleet's).
    pub fn sync(&self) -> Result<(), LedgerError> {
        self.current(|_| ())
    }

    /// Whether the ledger is a fleet's.
    pub fn is_fleet(&self) -> bool {
        self.fleet.is_some()
    }

    /// Entries waiting for the next round trip, and whether one is out (for tests).
    #[cfg(all(test, not(loom)))]
    pub(super) fn fleet_waiting(&self) -> (usize, bool) {
        let link = self.fleet.as_ref().expect("a fleet's ledger");
        let batch = link.batch.lock().unwrap();
        (batch.waiting.len(), batch.sending)
    }

    /// Runs `entry` through the fleet's journal: it joins the entries waiting for the next
    /// round trip, which this thread sends unless another thread's is out (see
    /// [`FleetLink`]); returns its outcome.
    pub(super) fn run_batched(
        &self,
        link: &FleetLink,
        entry: &Entry,
    ) -> Result<Outcome, LedgerError> {
        let mut text = codec::Out(String::with_capacity(256));
        entry.write(&mut text);
        let mut batch = link.batch.lock().unwrap_or_else(|p| p.into_inner());
        let ticket = batch.next_ticket;
        batch.next_ticket += 1;
        batch.waiting.push((ticket, text.0));
        loop {
            if let Some(answer) = batch.answers.remove(&ticket) {
                return answer;
            }
            if batch.sending {
                batch = link.answered.wait(batch).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            batch.sending = true;
            let take = batch.waiting.len().min(MAX_BATCH);
            let sent: Vec<(u64, String)> = batch.waiting.drain(..take).collect();
            drop(batch);
            let texts: Vec<&str> = sent.iter().map(|(_, t)| t.as_str()).collect();
            let outcomes = self.run_fleet(link, &mut self.lock(), &texts);
            batch = link.batch.lock().unwrap_or_else(|p| p.into_inner());
            batch.sending = false;
            match outcomes {
                Ok(outcomes) => {
                    for ((t, _), outcome) in sent.iter().zip(outcomes) {
                        batch.answers.insert(*t, outcome);
                    }
                }
                Err(e) => {
                    for (t, _) in &sent {
                        batch.answers.insert(*t, Err(e.clone()));
                    }
                }
            }
            link.answered.notify_all();
        }
    }

    /// Sends `texts` (none: a read) to the sequencer and applies what it answers; returns the
    /// outcome of each entry sent. Called with the books locked.
    pub(super) fn run_fleet(
        &self,
        link: &FleetLink,
        books: &mut Books,
        texts: &[&str],
    ) -> Result<Vec<Result<Outcome, LedgerError>>, LedgerError> {
        let sequencer = link.sequencer.as_ref();
        let unavailable = |e: SequencerError| match e {
            SequencerError::Unreachable(reason) => LedgerError::Unavailable {
                reason: format!("the fleet's ledger was not reached: {reason}"),
            },
            SequencerError::Refused(reason) => self.fleet_failed(&reason),
        };
        let mut seeded = false;
        let sequenced = loop {
            let cursor = &books.fleet;
            match sequencer
                .sequence(&cursor.instance, cursor.seq, &cursor.token, texts)
                .map_err(unavailable)?
            {
                Some(sequenced) => break sequenced,
                None if !seeded => {
                    let snapshot = Snapshot {
                        seq: cursor.seq,
                        time: cursor.time,
                        token: cursor.token.clone(),
                        text: file::encode(&books.state, self.retention),
                    };
                    sequencer.seed(&snapshot).map_err(unavailable)?;
                    seeded = true;
                }
                None => return Err(self.fleet_failed("it lost its journal again while seeded")),
            }
        };
        if !texts.is_empty() && sequenced.own == 0 {
            return Err(self.fleet_failed("it did not number the entries sent"));
        }
        self.catch_up_fleet(books, sequenced, texts.len())
    }

    /// Applies what the sequencer answered; returns the outcomes of the `sent` entries
    /// numbered from `own`.
    fn catch_up_fleet(
        &self,
        books: &mut Books,
        sequenced: Sequenced,
        sent: usize,
    ) -> Result<Vec<Result<Outcome, LedgerError>>, LedgerError> {
        let Books { state, fleet, .. } = books;
        if sequenced.full {
            let (loaded, seq, time, token) = match sequenced.snapshot {
                Some(s) => (self.load_snapshot(&s.text)?, s.seq, s.time, s.token),
                None => (State::default(), 0, i64::MIN, String::new()),
            };
            // Histories are prefixes of one another: this host lost entries only if it had
            // more than the one it goes on from (not when it was behind a snapshot).
            if fleet.seq > seq {
                fleet.losses += 1;
            }
            *state = loaded;
            (fleet.seq, fleet.time, fleet.token) = (seq, time, token);
        }
        fleet.instance = sequenced.instance;
        if !sequenced.entries.is_empty() && sequenced.first != fleet.seq + 1 {
            return Err(self.fleet_failed(&format!(
                "its entries start at {} where this host is at {}",
                sequenced.first, fleet.seq
            )));
        }
        let own = sequenced.own..sequenced.own + sent as u64;
        let mut outcomes = Vec::with_capacity(sent);
        for (seq, line) in (sequenced.first..).zip(&sequenced.entries) {
            let bad = |why: String| self.fleet_failed(&format!("entry {seq} does not read{why}"));
            let mut fields = line.splitn(3, ' ');
            let (Some(time), Some(token), Some(text)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(bad(String::new()));
            };
            let time = time.parse::<i64>().map_err(|_| bad(String::new()))?;
            let entry = Entry::read(&mut In { text, at: 0 }).map_err(|e| bad(format!(": {e}")))?;
            let (outcome, _) = self.apply(state, time, entry);
            if own.contains(&seq) {
                outcomes.push(outcome);
            }
            fleet.seq = seq;
            fleet.time = time;
            fleet.token.clear();
            fleet.token.push_str(token);
        }
        if outcomes.len() != sent {
            return Err(self.fleet_failed(&format!(
                "it numbered the entries from {} but did not send them back",
                sequenced.own
            )));
        }
        Ok(outcomes)
    }

    /// A snapshot's state, which must have been kept with this ledger's retention.
    fn load_snapshot(&self, text: &str) -> Result<State, LedgerError> {
        let (state, retention) = file::decode(text)
            .map_err(|e| self.fleet_failed(&format!("its snapshot does not load: {e}")))?;
        if retention != self.retention {
            return Err(self.fleet_failed(&format!(
                "its ledger keeps records {} ms, {} of each; this one {} ms, {} (every host \
                 must give the same retention)",
                retention.ms,
                retention.max_retained,
                self.retention.ms,
                self.retention.max_retained
            )));
        }
        Ok(state)
    }

    pub(super) fn fleet_failed(&self, reason: &str) -> LedgerError {
        LedgerError::Shared {
            reason: format!("the fleet's ledger: {reason}"),
        }
    }

    /// The state as of the last entry applied, for a sequencer to replace the journal's head
    /// with; None for a ledger that is not a fleet's or has applied nothing.
    pub fn fleet_snapshot(&self) -> Option<(String, Snapshot)> {
        self.fleet.as_ref()?;
        let books = self.lock();
        (books.fleet.seq > 0).then(|| {
            let snapshot = Snapshot {
                seq: books.fleet.seq,
                time: books.fleet.time,
                token: books.fleet.token.clone(),
                text: file::encode(&books.state, self.retention),
            };
            (books.fleet.instance.clone(), snapshot)
        })
    }

    /// Where a fleet ledger stands, without asking the sequencer; None for another ledger.
    pub fn fleet_status(&self) -> Option<FleetStatus> {
        self.fleet.as_ref()?;
        let books = self.lock();
        Some(FleetStatus {
            instance: books.fleet.instance.clone(),
            seq: books.fleet.seq,
            time: books.fleet.time,
            next_expiry_ms: books.state.deadlines.first().map(|&(deadline, _)| deadline),
            losses: books.fleet.losses,
        })
    }
}
