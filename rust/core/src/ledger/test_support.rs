//! What the ledger's test modules share: the subject `tenant:acme` and a credits reservation
//! on it.

use super::*;

/// The subject of tenant `acme` alone.
pub(super) fn acme() -> Subject {
    let mut s = Subject::default();
    s.levels[0] = Some("acme".into());
    s
}

/// A reservation of `estimate` credits for `acme` for `ttl_ms`, refused if it does not fit.
pub(super) fn credits(estimate: i64, ttl_ms: i64) -> ReserveRequest {
    ReserveRequest {
        subject: acme(),
        action: Action {
            kind: "llm.completion".into(),
            name: "model".into(),
            tags: vec![],
        },
        unit: Unit::Credits,
        estimate,
        ttl_ms,
        grace_period_ms: 0,
        overage: Overage::Reject,
        dry_run: false,
    }
}
