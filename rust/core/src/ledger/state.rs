//! The ledger's state under its lock: budgets by slot, reservations by number, deadlines,
//! and idempotency records.

use super::*;

#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct State {
    /// Per scope path, the slot of its budget in each unit (indexed by [`Unit::index`]).
    pub(super) budgets: HashMap<String, [Option<usize>; 4], Fast>,
    /// The budgets. Budgets are never removed, so a slot number stays valid, and reservations
    /// reach their budgets by slot without hashing paths.
    pub(super) slots: Vec<Slot>,
    /// By number (see [`reservation_id`]); boxed, so the table moves only pointers.
    pub(super) reservations: HashMap<u64, Box<Reservation>, Fast>,
    /// Active reservations by the time their commits stop being accepted.
    pub(super) deadlines: BTreeSet<(i64, u64)>,
    /// Finalized reservations by the time they were finalized.
    pub(super) finalized: BTreeSet<(i64, u64)>,
    pub(super) replays: HashMap<(Op, String), Replay>,
    /// Idempotency records by the time they were stored.
    pub(super) replay_times: BTreeSet<(i64, Op, String)>,
    pub(super) next_id: u64,
}

/// FxHash, rustc's hasher: a rotate, xor and multiply per word. Fast, and not resistant to
/// crafted collisions, which is acceptable for the keys it hashes: reservation numbers the
/// ledger makes, and scope paths.
#[derive(Default, Clone, Copy)]
pub(super) struct FxHasher(u64);

impl FxHasher {
    pub(super) fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(super) type Fast = BuildHasherDefault<FxHasher>;

/// The id of reservation number `n`.
pub(super) fn reservation_id(n: u64) -> String {
    format!("rsv_{n:016x}")
}

/// The number of reservation `id`, if it is one of the ledger's ids.
pub(super) fn reservation_number(id: &str) -> Option<u64> {
    let hex = id.strip_prefix("rsv_")?;
    (hex.len() == 16)
        .then(|| u64::from_str_radix(hex, 16).ok())
        .flatten()
}

impl State {
    /// The slot of `scope`'s budget in `unit`, if it has one.
    pub(super) fn slot_of(&self, scope: &str, unit: Unit) -> Option<usize> {
        self.budgets.get(scope)?[unit.index()]
    }

    /// The slot of `scope`'s budget in `unit`; BUDGET_NOT_FOUND if it has none.
    pub(super) fn existing_slot(&self, scope: &str, unit: Unit) -> Result<usize, LedgerError> {
        self.slot_of(scope, unit)
            .ok_or_else(|| LedgerError::BudgetNotFound {
                scope_path: scope.to_string(),
            })
    }

    /// The slot of `scope`'s budget in `unit`, made empty if it has none.
    pub(super) fn slot_or_new(&mut self, scope: &str, unit: Unit) -> usize {
        if let Some(slot) = self.slot_of(scope, unit) {
            return slot;
        }
        let slot = self.slots.len();
        self.slots.push(Slot {
            path: scope.to_string(),
            unit,
            budget: Budget::default(),
        });
        self.budgets.entry(scope.to_string()).or_default()[unit.index()] = Some(slot);
        slot
    }

    /// The scope paths of budget slots.
    pub(super) fn paths(&self, slots: &[usize]) -> Vec<String> {
        slots.iter().map(|&s| self.slots[s].path.clone()).collect()
    }

    pub(super) fn budget(&self, slot: usize) -> &Budget {
        &self.slots[slot].budget
    }

    pub(super) fn budget_mut(&mut self, slot: usize) -> &mut Budget {
        &mut self.slots[slot].budget
    }
}
