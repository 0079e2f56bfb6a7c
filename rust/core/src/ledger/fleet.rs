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
    /// The number the sent entry got (0 if none was sent).
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
    /// Appends `entry` (None: a read) after every entry so far, and answers the entries after
    /// entry `after` (whose token is `token`) of journal `instance` (every entry for a new
    /// host, `instance` empty). Ok(None) when the sequencer lost the journal that cursor
    /// follows.
    fn sequence(
        &self,
        instance: &str,
        after: u64,
        token: &str,
        entry: Option<&str>,
    ) -> Result<Option<Sequenced>, SequencerError>;

    /// Starts a lost journal again from `snapshot`, unless another host did with a history
    /// at least as long, or the seed settled.
    fn seed(&self, snapshot: &Snapshot) -> Result<(), SequencerError>;
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
            fleet: Some(sequencer),
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

    /// Sends `entry` (None: a read) to the sequencer and applies what it answers; returns the
    /// entry's outcome (None for a read). Called with the books locked.
    pub(super) fn run_fleet(
        &self,
        sequencer: &dyn Sequencer,
        books: &mut Books,
        entry: Option<&Entry>,
    ) -> Result<Option<Result<Outcome, LedgerError>>, LedgerError> {
        let text = entry.map(|e| {
            let mut out = codec::Out(String::with_capacity(256));
            e.write(&mut out);
            out.0
        });
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
                .sequence(&cursor.instance, cursor.seq, &cursor.token, text.as_deref())
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
        if text.is_some() && sequenced.own == 0 {
            return Err(self.fleet_failed("it did not number the entry sent"));
        }
        self.catch_up_fleet(books, sequenced)
    }

    /// Applies what the sequencer answered; returns the outcome of the entry numbered `own`.
    fn catch_up_fleet(
        &self,
        books: &mut Books,
        sequenced: Sequenced,
    ) -> Result<Option<Result<Outcome, LedgerError>>, LedgerError> {
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
        let mut own = None;
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
            if seq == sequenced.own {
                own = Some(outcome);
            }
            fleet.seq = seq;
            fleet.time = time;
            fleet.token.clear();
            fleet.token.push_str(token);
        }
        if sequenced.own != 0 && own.is_none() {
            return Err(self.fleet_failed(&format!(
                "it numbered the entry {} but did not send it back",
                sequenced.own
            )));
        }
        Ok(own)
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
