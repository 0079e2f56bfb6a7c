//! The operations applied to the ledger's state: by the public methods after checking their
//! input, and by a shared ledger replaying the journal of other processes (so each must depend
//! only on the state, the time and its entry).

use super::*;

impl Ledger {
    pub(super) fn set_budget_in(
        &self,
        state: &mut State,
        scope: &str,
        unit: Unit,
        allocated: i64,
        overdraft_limit: i64,
        caps: Option<Caps>,
    ) {
        let slot = state.slot_or_new(scope, unit);
        let budget = state.budget_mut(slot);
        budget.allocated = allocated;
        budget.overdraft_limit = overdraft_limit;
        budget.caps = caps.filter(|c| !c.is_empty());
    }

    pub(super) fn fund_in(
        &self,
        state: &mut State,
        scope: &str,
        unit: Unit,
        value: i64,
    ) -> Result<(), LedgerError> {
        let slot = state.existing_slot(scope, unit)?;
        let budget = state.budget_mut(slot);
        let repaid = budget.debt.min(value);
        budget.debt -= repaid;
        budget.spent += repaid;
        budget.allocated = (budget.allocated + value).min(MAX_AMOUNT);
        budget.capped = false;
        Ok(())
    }

    /// A credit (`adjustment` None) or an adjustment of `amounts` (amount, and spending for a
    /// `ResetSpent`), answered with the figures before and after, and replayed for its key.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn funding_in(
        &self,
        state: &mut State,
        now_ms: i64,
        key: Option<&str>,
        scope: &str,
        unit: Unit,
        adjustment: Option<Adjustment>,
        (amount, spent): (i64, i64),
    ) -> Result<Funded, LedgerError> {
        let name = adjustment.map_or(super::entry::CREDIT, Adjustment::as_str);
        let payload = fingerprint(Op::Fund, key, |f| {
            f.str(scope).unit(unit).str(name).int(amount).int(spent)
        });
        if let Some(answer) = replay(state, Op::Fund, key, payload)? {
            return Ok(match answer {
                Answer::Funded(f) => f,
                _ => unreachable!("fund keys store fundings"),
            });
        }
        let slot = state.existing_slot(scope, unit)?;
        let before = Figures::of(state.budget(slot));
        match adjustment {
            None => self.fund_in(state, scope, unit, amount)?,
            Some(a) => self.adjust_in(state, scope, unit, a, amount, spent)?,
        }
        let funded = Funded {
            before,
            after: Figures::of(state.budget(slot)),
        };
        self.remember(state, now_ms, Op::Fund, key, payload, || {
            Answer::Funded(funded)
        });
        Ok(funded)
    }

    pub(super) fn adjust_in(
        &self,
        state: &mut State,
        scope: &str,
        unit: Unit,
        adjustment: Adjustment,
        amount: i64,
        spent: i64,
    ) -> Result<(), LedgerError> {
        let slot = state.existing_slot(scope, unit)?;
        let budget = state.budget_mut(slot);
        match adjustment {
            Adjustment::Debit if budget.remaining() < amount => {
                return Err(LedgerError::BudgetExceeded {
                    scope: scope.to_string(),
                })
            }
            Adjustment::Debit => budget.allocated -= amount,
            Adjustment::Reset => budget.allocated = amount,
            Adjustment::RepayDebt => {
                let repaid = budget.debt.min(amount);
                budget.debt -= repaid;
                budget.spent += repaid;
            }
            Adjustment::ResetSpent => {
                budget.allocated = amount;
                budget.spent = spent;
            }
        }
        budget.capped = false;
        Ok(())
    }

    pub(super) fn reserve_in(
        &self,
        state: &mut State,
        now_ms: i64,
        key: Option<&str>,
        request: ReserveRequest,
    ) -> Result<Verdict, LedgerError> {
        let payload = fingerprint(Op::Reserve, key, |f| f.reserve_request(&request));
        if let Some(answer) = replay(state, Op::Reserve, key, payload)? {
            return Ok(answer_verdict(answer));
        }
        let (mut verdict, slots) =
            evaluate(state, &request.subject, request.unit, request.estimate);
        if let (Some(denial), false) = (&verdict.denial, request.dry_run) {
            return Err(denial.clone());
        }
        if !request.dry_run {
            state.next_id += 1;
            let number = state.next_id;
            let id = reservation_id(number);
            for &slot in &slots {
                state.budget_mut(slot).reserved += request.estimate;
            }
            let expires_at_ms = now_ms.saturating_add(request.ttl_ms);
            let reservation = Reservation {
                id: id.clone(),
                status: Status::Active,
                subject: request.subject,
                action: request.action,
                unit: request.unit,
                reserved: request.estimate,
                created_at_ms: now_ms,
                expires_at_ms,
                grace_period_ms: request.grace_period_ms,
                overage: request.overage,
                idempotency_key: key.map(str::to_string),
                committed: None,
                finalized_at_ms: None,
                slots,
            };
            state.deadlines.insert((
                expires_at_ms.saturating_add(request.grace_period_ms),
                number,
            ));
            state.reservations.insert(number, Box::new(reservation));
            verdict.reservation_id = Some(id);
            verdict.reserved = request.estimate;
            verdict.expires_at_ms = Some(expires_at_ms);
        }
        self.remember(state, now_ms, Op::Reserve, key, payload, || {
            Answer::Verdict(Box::new(verdict.clone()))
        });
        Ok(verdict)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn decide_in(
        &self,
        state: &mut State,
        now_ms: i64,
        key: Option<&str>,
        subject: &Subject,
        action: &Action,
        unit: Unit,
        estimate: i64,
    ) -> Result<Verdict, LedgerError> {
        let payload = fingerprint(Op::Decide, key, |f| {
            f.subject(subject).action(action).unit(unit).int(estimate)
        });
        if let Some(answer) = replay(state, Op::Decide, key, payload)? {
            return Ok(answer_verdict(answer));
        }
        let (verdict, _) = evaluate(state, subject, unit, estimate);
        self.remember(state, now_ms, Op::Decide, key, payload, || {
            Answer::Verdict(Box::new(verdict.clone()))
        });
        Ok(verdict)
    }

    pub(super) fn commit_in(
        &self,
        state: &mut State,
        now_ms: i64,
        key: Option<&str>,
        id: &str,
        unit: Option<Unit>,
        actual: i64,
    ) -> Result<Committed, LedgerError> {
        let payload = fingerprint(Op::Commit, key, |f| f.str(id).opt_unit(unit).int(actual));
        if let Some(answer) = replay(state, Op::Commit, key, payload)? {
            return Ok(match answer {
                Answer::Committed(c) => c,
                _ => unreachable!("commit keys store commits"),
            });
        }
        let r = active(state, id)?;
        if let Some(u) = unit.filter(|&u| u != r.unit) {
            return Err(LedgerError::UnitMismatch {
                expected: r.unit,
                got: u,
            });
        }
        let (held, overage) = (r.reserved, r.overage);
        if overage == Overage::Reject && actual > held {
            return Err(LedgerError::BudgetExceeded {
                scope: state.slots[r.slots[0]].path.clone(),
            });
        }
        let number = reservation_number(id).expect("active");
        let charge = with_slots(state, number, |state, slots| {
            let charge = Charge::plan(state, slots, held, actual, overage)?;
            charge.apply(state, slots, held);
            Ok::<_, LedgerError>(charge)
        })?;
        let committed = Committed {
            charged: charge.charged,
            released: (held - actual).max(0),
            debt_incurred: charge.debt_incurred(),
        };
        self.finalize(state, number, Status::Committed, Some(actual), now_ms);
        self.remember(state, now_ms, Op::Commit, key, payload, || {
            Answer::Committed(committed)
        });
        Ok(committed)
    }

    pub(super) fn release_in(
        &self,
        state: &mut State,
        now_ms: i64,
        key: Option<&str>,
        id: &str,
    ) -> Result<i64, LedgerError> {
        let payload = fingerprint(Op::Release, key, |f| f.str(id));
        if let Some(answer) = replay(state, Op::Release, key, payload)? {
            return Ok(match answer {
                Answer::Released(r) => r,
                _ => unreachable!("release keys store releases"),
            });
        }
        let r = active(state, id)?;
        let held = r.reserved;
        let number = reservation_number(id).expect("active");
        with_slots(state, number, |state, slots| unhold(state, slots, held));
        self.finalize(state, number, Status::Released, None, now_ms);
        self.remember(state, now_ms, Op::Release, key, payload, || {
            Answer::Released(held)
        });
        Ok(held)
    }

    pub(super) fn extend_in(
        &self,
        state: &mut State,
        now_ms: i64,
        key: Option<&str>,
        id: &str,
        extend_by_ms: i64,
    ) -> Result<i64, LedgerError> {
        let payload = fingerprint(Op::Extend, key, |f| f.str(id).int(extend_by_ms));
        if let Some(answer) = replay(state, Op::Extend, key, payload)? {
            return Ok(match answer {
                Answer::Extended(at) => at,
                _ => unreachable!("extend keys store extensions"),
            });
        }
        let r = active(state, id)?;
        if now_ms > r.expires_at_ms {
            // Its grace period still takes commits, but no longer extensions.
            return Err(LedgerError::ReservationExpired { id: id.to_string() });
        }
        let old_deadline = r.expires_at_ms.saturating_add(r.grace_period_ms);
        let expires_at_ms = r.expires_at_ms.saturating_add(extend_by_ms);
        let new_deadline = expires_at_ms.saturating_add(r.grace_period_ms);
        let number = reservation_number(id).expect("active");
        state.deadlines.remove(&(old_deadline, number));
        state.deadlines.insert((new_deadline, number));
        state
            .reservations
            .get_mut(&number)
            .expect("active")
            .expires_at_ms = expires_at_ms;
        self.remember(state, now_ms, Op::Extend, key, payload, || {
            Answer::Extended(expires_at_ms)
        });
        Ok(expires_at_ms)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn event_in(
        &self,
        state: &mut State,
        now_ms: i64,
        key: Option<&str>,
        subject: &Subject,
        action: &Action,
        unit: Unit,
        actual: i64,
        overage: Overage,
    ) -> Result<Debited, LedgerError> {
        let payload = fingerprint(Op::Event, key, |f| {
            f.subject(subject)
                .action(action)
                .unit(unit)
                .int(actual)
                .overage(overage)
        });
        if let Some(answer) = replay(state, Op::Event, key, payload)? {
            return Ok(match answer {
                Answer::Debited(d) => d,
                _ => unreachable!("event keys store events"),
            });
        }
        let (scopes, slots, scope_path) = budgeted_scopes(state, subject, unit);
        if scopes.is_empty() {
            return Err(LedgerError::BudgetNotFound { scope_path });
        }
        let charge = Charge::plan(state, &slots, 0, actual, overage)?;
        charge.apply(state, &slots, 0);
        state.next_id += 1;
        let debited = Debited {
            event_id: format!("evt_{:016x}", state.next_id),
            charged: charge.charged,
            debt_incurred: charge.debt_incurred(),
            affected_scopes: scopes,
        };
        self.remember(state, now_ms, Op::Event, key, payload, || {
            Answer::Debited(debited.clone())
        });
        Ok(debited)
    }
}
