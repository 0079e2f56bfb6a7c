//! How a reservation, commit or event lands on the budgets of a subject's path.

use super::*;

/// The scopes of `subject`'s path with a budget in `unit` (outermost first), their budgets'
/// slots, and the whole path.
pub(super) fn budgeted_scopes(
    state: &State,
    subject: &Subject,
    unit: Unit,
) -> (Vec<String>, Vec<usize>, String) {
    let mut paths = subject.scope_paths();
    let scope_path = paths.last().cloned().unwrap_or_default();
    let mut slots = Vec::with_capacity(paths.len());
    paths.retain(|path| {
        let slot = state.slot_of(path, unit);
        slots.extend(slot);
        slot.is_some()
    });
    (paths, slots, scope_path)
}

/// The answer to reserving `estimate` now, and the slots of the budgets it draws on.
pub(super) fn evaluate(
    state: &State,
    subject: &Subject,
    unit: Unit,
    estimate: i64,
) -> (Verdict, Vec<usize>) {
    let (scopes, slots, scope_path) = budgeted_scopes(state, subject, unit);
    let deny = |denial: LedgerError| Verdict {
        decision: Decision::Deny,
        reservation_id: None,
        affected_scopes: scopes.clone(),
        scope_path: scope_path.clone(),
        reserved: 0,
        expires_at_ms: None,
        caps: None,
        denial: Some(denial),
    };
    if scopes.is_empty() {
        let scope_path = scope_path.clone();
        return (deny(LedgerError::BudgetNotFound { scope_path }), slots);
    }
    // The protocol's precedence: over-limit, then debt, then the amount.
    let first = |fails: &dyn Fn(&Budget) -> bool| {
        let at = slots.iter().position(|&slot| fails(state.budget(slot)))?;
        Some(scopes[at].clone())
    };
    if let Some(scope) = first(&Budget::is_over_limit) {
        return (deny(LedgerError::OverdraftLimitExceeded { scope }), slots);
    }
    if let Some(scope) = first(&|b| b.debt > 0) {
        return (deny(LedgerError::DebtOutstanding { scope }), slots);
    }
    if let Some(scope) = first(&|b| b.remaining() < estimate) {
        return (deny(LedgerError::BudgetExceeded { scope }), slots);
    }
    let mut caps = Caps::default();
    for &slot in &slots {
        if let Some(c) = &state.budget(slot).caps {
            caps.narrow(c);
        }
    }
    let with_caps = !caps.is_empty();
    let verdict = Verdict {
        decision: if with_caps {
            Decision::AllowWithCaps
        } else {
            Decision::Allow
        },
        reservation_id: None,
        affected_scopes: scopes,
        scope_path,
        reserved: 0,
        expires_at_ms: None,
        caps: with_caps.then_some(caps),
        denial: None,
    };
    (verdict, slots)
}

/// How a charge of `actual` against holds of `held` lands on each scope.
pub(super) struct Charge {
    /// What is charged in all: `actual`, or less when capped.
    pub(super) charged: i64,
    /// Per scope: (added to spent, added to debt, capped); None when every scope simply takes
    /// `charged` (the common case, which allocates nothing).
    pub(super) per_scope: Option<Vec<(i64, i64, bool)>>,
}

impl Charge {
    /// The protocol's overage rules for a charge beyond the hold (`delta = actual - held`):
    /// a scope with `remaining >= delta` takes it all; otherwise `REJECT` fails with
    /// BUDGET_EXCEEDED, `ALLOW_IF_AVAILABLE` caps the delta to the smallest remaining of all
    /// scopes (floor 0) and marks the scopes it could not cover over-limit, and
    /// `ALLOW_WITH_OVERDRAFT` charges the delta to the scope's debt if that stays within its
    /// overdraft limit, else fails with OVERDRAFT_LIMIT_EXCEEDED.
    pub(super) fn plan(
        state: &State,
        slots: &[usize],
        held: i64,
        actual: i64,
        overage: Overage,
    ) -> Result<Charge, LedgerError> {
        let delta = actual - held;
        let budget = |slot: usize| state.budget(slot);
        let covered = |slot: usize| delta <= 0 || budget(slot).remaining() >= delta;
        let path = |slot: usize| state.slots[slot].path.clone();
        let Some(short) = slots.iter().copied().find(|&s| !covered(s)) else {
            return Ok(Charge {
                charged: actual,
                per_scope: None,
            });
        };
        match overage {
            Overage::Reject => Err(LedgerError::BudgetExceeded { scope: path(short) }),
            Overage::AllowIfAvailable => {
                let capped = slots
                    .iter()
                    .map(|&s| budget(s).remaining().max(0))
                    .min()
                    .unwrap_or(0)
                    .min(delta);
                Ok(Charge {
                    charged: held + capped,
                    per_scope: Some(
                        slots
                            .iter()
                            .map(|&s| (held + capped, 0, !covered(s)))
                            .collect(),
                    ),
                })
            }
            Overage::AllowWithOverdraft => {
                let over = |s: usize| {
                    let b = budget(s);
                    !covered(s) && b.debt + delta > b.overdraft_limit
                };
                if let Some(slot) = slots.iter().copied().find(|&s| over(s)) {
                    return Err(LedgerError::OverdraftLimitExceeded { scope: path(slot) });
                }
                Ok(Charge {
                    charged: actual,
                    per_scope: Some(
                        slots
                            .iter()
                            .map(|&s| {
                                if covered(s) {
                                    (actual, 0, false)
                                } else {
                                    (held, delta, false)
                                }
                            })
                            .collect(),
                    ),
                })
            }
        }
    }

    /// Releases the holds and books the charge.
    pub(super) fn apply(&self, state: &mut State, slots: &[usize], held: i64) {
        for (i, &slot) in slots.iter().enumerate() {
            let (spent, debt, capped) = match &self.per_scope {
                Some(shares) => shares[i],
                None => (self.charged, 0, false),
            };
            let budget = state.budget_mut(slot);
            budget.reserved -= held;
            budget.spent += spent;
            budget.debt += debt;
            budget.capped |= capped;
        }
    }

    pub(super) fn debt_incurred(&self) -> i64 {
        self.per_scope
            .iter()
            .flatten()
            .map(|p| p.1)
            .max()
            .unwrap_or(0)
    }
}

/// Runs `f` on the state with reservation `number`'s budget slots, which are taken out of the
/// reservation for the call (instead of copied) and put back.
pub(super) fn with_slots<T>(
    state: &mut State,
    number: u64,
    f: impl FnOnce(&mut State, &[usize]) -> T,
) -> T {
    fn slots_of(state: &mut State, number: u64) -> &mut Vec<usize> {
        &mut state.reservations.get_mut(&number).expect("known").slots
    }
    let slots = std::mem::take(slots_of(state, number));
    let out = f(state, &slots);
    *slots_of(state, number) = slots;
    out
}

pub(super) fn unhold(state: &mut State, slots: &[usize], held: i64) {
    for &slot in slots {
        state.budget_mut(slot).reserved -= held;
    }
}

/// Reservation `id` if it is active.
pub(super) fn active<'a>(state: &'a State, id: &str) -> Result<&'a Reservation, LedgerError> {
    let r = reservation_number(id)
        .and_then(|n| state.reservations.get(&n))
        .ok_or_else(|| LedgerError::NotFound { id: id.to_string() })?;
    match r.status {
        Status::Active => Ok(r),
        Status::Expired => Err(LedgerError::ReservationExpired { id: id.to_string() }),
        status => Err(LedgerError::ReservationFinalized {
            id: id.to_string(),
            status,
        }),
    }
}
