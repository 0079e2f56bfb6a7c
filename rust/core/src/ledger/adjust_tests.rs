//! Tests of an operator's budget adjustments: debit, reset, debt repayment, new periods.

use super::test_support::acme;
use super::*;

const T: i64 = 1_700_000_000_000;

fn action() -> Action {
    Action {
        kind: "llm".into(),
        name: "m".into(),
        tags: vec![],
    }
}

fn figures(l: &Ledger) -> (i64, i64, i64, i64, i64) {
    let b = &l.balances(T, "tenant:acme").unwrap()[0];
    (b.allocated, b.spent, b.reserved, b.debt, b.remaining)
}

fn ledger() -> Ledger {
    let l = Ledger::new(Retention {
        ms: 3_600_000,
        max_retained: 1_000,
    })
    .unwrap();
    l.set_budget("tenant:acme", Unit::Tokens, 1_000, 500, None)
        .unwrap();
    l.event(
        T,
        None,
        &acme(),
        &action(),
        Unit::Tokens,
        300,
        Overage::Reject,
    )
    .unwrap();
    l.reserve(
        T,
        None,
        ReserveRequest {
            subject: acme(),
            action: action(),
            unit: Unit::Tokens,
            estimate: 100,
            ttl_ms: 60_000,
            grace_period_ms: 0,
            overage: Overage::AllowIfAvailable,
            dry_run: false,
        },
    )
    .unwrap();
    l
}

#[test]
fn each_adjustment_keeps_what_the_protocol_says_it_keeps() {
    let l = ledger();
    assert_eq!(figures(&l), (1_000, 300, 100, 0, 600));
    l.adjust("tenant:acme", Unit::Tokens, Adjustment::Debit, 200, 0)
        .unwrap();
    assert_eq!(figures(&l), (800, 300, 100, 0, 400));
    let refused = l.adjust("tenant:acme", Unit::Tokens, Adjustment::Debit, 401, 0);
    assert!(matches!(refused, Err(LedgerError::BudgetExceeded { .. })));
    assert_eq!(
        figures(&l),
        (800, 300, 100, 0, 400),
        "a refused debit changes nothing"
    );
    l.adjust("tenant:acme", Unit::Tokens, Adjustment::Reset, 2_000, 0)
        .unwrap();
    assert_eq!(figures(&l), (2_000, 300, 100, 0, 1_600));
    l.adjust("tenant:acme", Unit::Tokens, Adjustment::ResetSpent, 500, 50)
        .unwrap();
    assert_eq!(
        figures(&l),
        (500, 50, 100, 0, 350),
        "holds straddle the period"
    );
    // Debt: an overdraft event past what is left, then part of it repaid.
    l.event(
        T,
        None,
        &acme(),
        &action(),
        Unit::Tokens,
        450,
        Overage::AllowWithOverdraft,
    )
    .unwrap();
    let (_, spent, _, debt, _) = figures(&l);
    assert_eq!(
        (spent, debt),
        (50, 450),
        "the core charges an overdraft event as debt"
    );
    l.adjust("tenant:acme", Unit::Tokens, Adjustment::RepayDebt, 60, 0)
        .unwrap();
    assert_eq!(figures(&l), (500, 110, 100, 390, -100));
    l.adjust("tenant:acme", Unit::Tokens, Adjustment::RepayDebt, 1_000, 0)
        .unwrap();
    assert_eq!(figures(&l).3, 0, "no more than the debt is repaid");
}

#[test]
fn bad_adjustments_are_named_errors() {
    let l = ledger();
    let missing = l.adjust("tenant:nobody", Unit::Tokens, Adjustment::Reset, 1, 0);
    assert!(matches!(missing, Err(LedgerError::BudgetNotFound { .. })));
    let negative = l.adjust("tenant:acme", Unit::Tokens, Adjustment::Reset, -1, 0);
    assert!(matches!(negative, Err(LedgerError::Invalid(e)) if e.param == "amount"));
    let bad = l.adjust("tenant:acme", Unit::Tokens, Adjustment::ResetSpent, 1, -5);
    assert!(matches!(bad, Err(LedgerError::Invalid(e)) if e.param == "spent"));
    assert_eq!(
        "REPAY_DEBT".parse::<Adjustment>().unwrap(),
        Adjustment::RepayDebt
    );
    assert!(
        "CREDIT".parse::<Adjustment>().is_err(),
        "a credit is Ledger::fund"
    );
}

#[test]
fn adjustments_survive_a_durable_ledger_reopening() {
    let dir = std::env::temp_dir().join(format!("burnguard-adjust-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let retention = Retention {
        ms: 3_600_000,
        max_retained: 1_000,
    };
    let l = Ledger::durable(&dir, retention).unwrap();
    l.set_budget("tenant:acme", Unit::Tokens, 1_000, 0, None)
        .unwrap();
    l.adjust("tenant:acme", Unit::Tokens, Adjustment::ResetSpent, 700, 20)
        .unwrap();
    drop(l);
    let again = Ledger::durable(&dir, retention).unwrap();
    assert_eq!(figures(&again), (700, 20, 0, 0, 680));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_keyed_funding_applies_once_and_replays_its_figures() {
    let l = ledger();
    let fund = |key, adjustment, amount| {
        l.funding(T, key, "tenant:acme", Unit::Tokens, adjustment, (amount, 0))
    };
    let credit = |key, amount| fund(key, None, amount);
    let first = credit(Some("f1"), 400).unwrap();
    let allocated = |allocated, remaining| Figures {
        allocated,
        remaining,
        debt: 0,
        spent: 300,
    };
    assert_eq!(
        (first.before, first.after),
        (allocated(1_000, 600), allocated(1_400, 1_000))
    );
    assert_eq!(credit(Some("f1"), 400).unwrap(), first, "a retry replays");
    assert_eq!(
        figures(&l),
        (1_400, 300, 100, 0, 1_000),
        "and changes nothing"
    );
    let mismatch = credit(Some("f1"), 401);
    assert!(matches!(
        mismatch,
        Err(LedgerError::IdempotencyMismatch { .. })
    ));
    let debit = fund(Some("f1"), Some(Adjustment::Debit), 400);
    assert!(
        matches!(debit, Err(LedgerError::IdempotencyMismatch { .. })),
        "another operation under the same key"
    );
    let unkeyed = credit(None, 1).unwrap();
    assert_eq!(
        credit(None, 1).unwrap().before,
        unkeyed.after,
        "no key: applied each time"
    );
    let refused = fund(Some("f2"), Some(Adjustment::Debit), 5_000);
    assert!(matches!(refused, Err(LedgerError::BudgetExceeded { .. })));
    let later = fund(Some("f2"), Some(Adjustment::Debit), 2).unwrap();
    assert_eq!(
        later.after.allocated, 1_400,
        "a refusal is not remembered: the key is free"
    );
    assert!(matches!(
        l.funding(T, Some("f3"), "tenant:none", Unit::Tokens, None, (1, 0)),
        Err(LedgerError::BudgetNotFound { .. })
    ));
}

#[test]
fn a_funding_names_its_bad_parameter_and_changes_nothing() {
    let l = ledger();
    let param = |e: LedgerError| match e {
        LedgerError::Invalid(crate::Error { param, .. }) => param,
        other => panic!("{other:?}"),
    };
    let fund = |scope, amounts| l.funding(T, Some("k"), scope, Unit::Tokens, None, amounts);
    assert_eq!(param(fund("tenant:acme", (-1, 0)).unwrap_err()), "amount");
    assert_eq!(
        param(fund("tenant:acme", (i64::MAX, 0)).unwrap_err()),
        "amount"
    );
    assert_eq!(param(fund("tenant:acme", (1, -5)).unwrap_err()), "spent");
    assert!(matches!(
        fund("", (1, 0)).unwrap_err(),
        LedgerError::Invalid(_)
    ));
    assert_eq!(figures(&l), (1_000, 300, 100, 0, 600));
    assert_eq!(
        fund("tenant:acme", (1, 0)).unwrap().after.allocated,
        1_001,
        "the key is free"
    );
}
