//! Bindings for the reservation ledger: reads the facade's value objects, calls the core, and
//! builds the facade's result dataclasses and typed errors.

use std::path::PathBuf;

use burnguard_core::ledger::{
    check_scope_path, Action, Balance, Caps, Debited, Ledger, LedgerError, Overage,
    ReserveRequest, Status, Subject, Unit, Verdict, LEVELS,
};
use burnguard_core::Error;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use pyo3::{intern, IntoPyObjectExt};

use crate::{build_frozen, precise_wall_clock, value_error};

/// The facade's result classes, enum members and error classes, bound once at import.
struct Classes {
    reservation: Py<PyAny>,
    dry_run: Py<PyAny>,
    decision: Py<PyAny>,
    commit: Py<PyAny>,
    release: Py<PyAny>,
    extend: Py<PyAny>,
    event: Py<PyAny>,
    balance: Py<PyAny>,
    caps: Py<PyAny>,
    /// `Decision` members by name, and `Unit` members.
    members: Py<PyDict>,
    /// Error classes by kind (see [`error_kind`]).
    errors: Py<PyDict>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES
        .get(py)
        .ok_or_else(|| PyRuntimeError::new_err("import burnguard before using burnguard._native"))
}

/// Binds the facade's classes: `results` by result name, `members` (enum members by value),
/// `errors` by kind.
#[pyfunction]
fn bind_ledger_classes(
    py: Python<'_>,
    results: &Bound<'_, PyDict>,
    members: Py<PyDict>,
    errors: Py<PyDict>,
) -> PyResult<()> {
    let get = |name: &str| -> PyResult<Py<PyAny>> {
        results
            .get_item(name)?
            .map(Bound::unbind)
            .ok_or_else(|| PyValueError::new_err(format!("missing result class {name}")))
    };
    let bound = Classes {
        reservation: get("reservation")?,
        dry_run: get("dry_run")?,
        decision: get("decision")?,
        commit: get("commit")?,
        release: get("release")?,
        extend: get("extend")?,
        event: get("event")?,
        balance: get("balance")?,
        caps: get("caps")?,
        members,
        errors,
    };
    let _ = CLASSES.set(py, bound);
    Ok(())
}

/// The facade's exception class key for a core error.
fn error_kind(e: &LedgerError) -> &'static str {
    match e {
        LedgerError::Invalid(_) => "INVALID_REQUEST",
        LedgerError::BudgetExceeded { .. } => "BUDGET_EXCEEDED",
        LedgerError::OverdraftLimitExceeded { .. } => "OVERDRAFT_LIMIT_EXCEEDED",
        LedgerError::DebtOutstanding { .. } => "DEBT_OUTSTANDING",
        LedgerError::BudgetNotFound { .. } => "BUDGET_NOT_FOUND",
        LedgerError::ReservationExpired { .. } => "RESERVATION_EXPIRED",
        LedgerError::ReservationFinalized { .. } => "RESERVATION_FINALIZED",
        LedgerError::NotFound { .. } => "RESERVATION_NOT_FOUND",
        LedgerError::IdempotencyMismatch { .. } => "IDEMPOTENCY_MISMATCH",
        LedgerError::UnitMismatch { .. } => "UNIT_MISMATCH",
    }
}

/// `ValueError` for bad input, else the facade's typed error:
/// `cls(message, error_code, scope, reservation_id)`.
fn ledger_error(py: Python<'_>, e: LedgerError) -> PyErr {
    if let LedgerError::Invalid(e) = e {
        return value_error(e);
    }
    let reservation_id = match &e {
        LedgerError::ReservationExpired { id }
        | LedgerError::ReservationFinalized { id, .. }
        | LedgerError::NotFound { id } => Some(id.clone()),
        _ => None,
    };
    let class = classes(py).and_then(|c| {
        c.errors
            .bind(py)
            .get_item(error_kind(&e))?
            .ok_or_else(|| PyRuntimeError::new_err("unbound ledger error class"))
    });
    match class {
        Ok(class) => match class.call1((e.to_string(), e.code(), e.scope(), reservation_id)) {
            Ok(error) => PyErr::from_value(error),
            Err(err) => err,
        },
        Err(err) => err,
    }
}

fn unit(name: &str) -> PyResult<Unit> {
    Unit::from_name(name).map_err(value_error)
}

/// A subject from the facade's `Subject` (or any object with its attributes).
fn read_subject(subject: &Bound<'_, PyAny>) -> PyResult<Subject> {
    let py = subject.py();
    let mut levels: [Option<String>; 6] = Default::default();
    for (slot, level) in levels.iter_mut().zip(LEVELS) {
        *slot = subject.getattr(PyString::intern(py, level))?.extract()?;
    }
    let dimensions: Option<Bound<'_, PyAny>> = subject
        .getattr(intern!(py, "dimensions"))?
        .extract::<Option<Bound<'_, PyAny>>>()?;
    let dimensions = match dimensions {
        Some(d) => {
            let items = d.call_method0(intern!(py, "items"))?;
            let mut pairs: Vec<(String, String)> = items
                .try_iter()?
                .map(|item| item?.extract())
                .collect::<PyResult<_>>()?;
            pairs.sort();
            pairs
        }
        None => Vec::new(),
    };
    Ok(Subject { levels, dimensions })
}

fn read_action(action: &Bound<'_, PyAny>) -> PyResult<Action> {
    let py = action.py();
    Ok(Action {
        kind: action.getattr(intern!(py, "kind"))?.extract()?,
        name: action.getattr(intern!(py, "name"))?.extract()?,
        tags: action.getattr(intern!(py, "tags"))?.extract()?,
    })
}

fn member<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    classes(py)?
        .members
        .bind(py)
        .get_item(name)?
        .ok_or_else(|| PyRuntimeError::new_err(format!("unbound member {name}")))
}

fn caps_object<'py>(py: Python<'py>, caps: &Option<Caps>) -> PyResult<Bound<'py, PyAny>> {
    let Some(c) = caps else {
        return Ok(py.None().into_bound(py));
    };
    let tools = |t: &Option<Vec<String>>| -> PyResult<Bound<'py, PyAny>> {
        match t {
            Some(v) => Ok(PyTuple::new(py, v)?.into_any()),
            None => Ok(py.None().into_bound(py)),
        }
    };
    build_frozen(
        classes(py)?.caps.bind(py),
        &[
            (intern!(py, "max_tokens"), c.max_tokens.into_bound_py_any(py)?),
            (
                intern!(py, "max_steps_remaining"),
                c.max_steps_remaining.into_bound_py_any(py)?,
            ),
            (intern!(py, "tool_allowlist"), tools(&c.tool_allowlist)?),
            (intern!(py, "tool_denylist"), tools(&c.tool_denylist)?),
            (intern!(py, "cooldown_ms"), c.cooldown_ms.into_bound_py_any(py)?),
        ],
    )
}

/// The verdict as the facade's `ReservationResult`, `DryRunResult` or `DecisionResult`.
fn verdict_object<'py>(
    py: Python<'py>,
    v: Verdict,
    unit: Unit,
    class: &Py<PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let c = classes(py)?;
    let decision = member(py, v.decision.name())?;
    let scopes = PyTuple::new(py, &v.affected_scopes)?.into_any();
    let caps = caps_object(py, &v.caps)?;
    let unit = member(py, unit.name())?;
    let mut fields = vec![
        (intern!(py, "decision"), decision),
        (intern!(py, "affected_scopes"), scopes),
        (intern!(py, "scope_path"), v.scope_path.into_bound_py_any(py)?),
        (intern!(py, "caps"), caps),
    ];
    if class.is(&c.reservation) {
        fields.extend([
            (intern!(py, "reservation_id"), v.reservation_id.into_bound_py_any(py)?),
            (intern!(py, "unit"), unit),
            (intern!(py, "reserved"), v.reserved.into_bound_py_any(py)?),
            (intern!(py, "expires_at_ms"), v.expires_at_ms.into_bound_py_any(py)?),
        ]);
    } else {
        if class.is(&c.dry_run) {
            fields.extend([
                (intern!(py, "unit"), unit),
                (intern!(py, "reserved"), v.reserved.into_bound_py_any(py)?),
            ]);
        }
        fields.extend([
            (intern!(py, "reason_code"), v.reason_code.into_bound_py_any(py)?),
            (intern!(py, "denied_scope"), v.denied_scope.into_bound_py_any(py)?),
        ]);
    }
    build_frozen(class.bind(py), &fields)
}

fn balance_object<'py>(py: Python<'py>, b: Balance) -> PyResult<Bound<'py, PyAny>> {
    build_frozen(
        classes(py)?.balance.bind(py),
        &[
            (intern!(py, "scope"), b.scope.into_bound_py_any(py)?),
            (intern!(py, "scope_path"), b.scope_path.into_bound_py_any(py)?),
            (intern!(py, "unit"), member(py, b.unit.name())?),
            (intern!(py, "allocated"), b.allocated.into_bound_py_any(py)?),
            (intern!(py, "reserved"), b.reserved.into_bound_py_any(py)?),
            (intern!(py, "spent"), b.spent.into_bound_py_any(py)?),
            (intern!(py, "remaining"), b.remaining.into_bound_py_any(py)?),
            (intern!(py, "debt"), b.debt.into_bound_py_any(py)?),
            (intern!(py, "overdraft_limit"), b.overdraft_limit.into_bound_py_any(py)?),
            (intern!(py, "is_over_limit"), b.is_over_limit.into_bound_py_any(py)?),
        ],
    )
}

fn caps_from(caps: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Caps>> {
    let Some(c) = caps.filter(|c| !c.is_none()) else {
        return Ok(None);
    };
    let py = c.py();
    let count = |name: &Bound<'_, PyString>, param: &'static str| -> PyResult<Option<u64>> {
        let v: Option<i64> = c.getattr(name)?.extract()?;
        v.map(|v| {
            u64::try_from(v).map_err(|_| {
                value_error(Error::invalid(param, format!("must be >= 0; got {v}")))
            })
        })
        .transpose()
    };
    Ok(Some(Caps {
        max_tokens: count(intern!(py, "max_tokens"), "max_tokens")?,
        max_steps_remaining: count(intern!(py, "max_steps_remaining"), "max_steps_remaining")?,
        cooldown_ms: count(intern!(py, "cooldown_ms"), "cooldown_ms")?,
        tool_allowlist: c.getattr(intern!(py, "tool_allowlist"))?.extract()?,
        tool_denylist: c.getattr(intern!(py, "tool_denylist"))?.extract()?,
    }))
}

/// The native half of `burnguard.Ledger`.
#[pyclass(frozen, module = "burnguard._native")]
pub struct LedgerCore {
    core: Ledger,
    clock: Option<Py<PyAny>>,
}

impl LedgerCore {
    fn now_ms(&self, py: Python<'_>) -> PyResult<i64> {
        let seconds = match &self.clock {
            Some(clock) => {
                let t: f64 = clock.bind(py).call0()?.extract()?;
                if !(t.is_finite() && t >= 0.0) {
                    return Err(value_error(Error::invalid(
                        "clock",
                        format!("must return finite seconds >= 0; got {t}"),
                    )));
                }
                t
            }
            None => precise_wall_clock(),
        };
        Ok((seconds * 1000.0).round() as i64)
    }
}

#[pymethods]
impl LedgerCore {
    #[new]
    #[pyo3(signature = (retention_ms, clock=None))]
    fn new(retention_ms: i64, clock: Option<Py<PyAny>>) -> PyResult<Self> {
        Ok(LedgerCore {
            core: Ledger::new(retention_ms).map_err(value_error)?,
            clock,
        })
    }

    /// The ledger saved at `path`.
    #[staticmethod]
    #[pyo3(signature = (path, clock=None))]
    fn load(path: PathBuf, clock: Option<Py<PyAny>>) -> PyResult<Self> {
        let core = Ledger::load(&path).map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(LedgerCore { core, clock })
    }

    /// Saves the ledger to `path` atomically.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.core.save(&path))
            .map_err(|e| PyOSError::new_err(e.to_string()))
    }

    #[pyo3(signature = (scope, unit_name, allocated, overdraft_limit, caps=None))]
    fn set_budget(
        &self,
        scope: &str,
        unit_name: &str,
        allocated: i64,
        overdraft_limit: i64,
        caps: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.core
            .set_budget(scope, unit(unit_name)?, allocated, overdraft_limit, caps_from(caps)?)
            .map_err(value_error)
    }

    fn fund(&self, py: Python<'_>, scope: &str, unit_name: &str, amount: i64) -> PyResult<()> {
        self.core
            .fund(scope, unit(unit_name)?, amount)
            .map_err(|e| ledger_error(py, e))
    }

    #[pyo3(signature = (subject, action, unit_name, estimate, ttl_ms, grace_period_ms, overage, dry_run, key=None))]
    #[allow(clippy::too_many_arguments)]
    fn reserve<'py>(
        &self,
        py: Python<'py>,
        subject: &Bound<'py, PyAny>,
        action: &Bound<'py, PyAny>,
        unit_name: &str,
        estimate: i64,
        ttl_ms: i64,
        grace_period_ms: i64,
        overage: &str,
        dry_run: bool,
        key: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = ReserveRequest {
            subject: read_subject(subject)?,
            action: read_action(action)?,
            unit: unit(unit_name)?,
            estimate,
            ttl_ms,
            grace_period_ms,
            overage: Overage::from_name(overage).map_err(value_error)?,
            dry_run,
        };
        let verdict = self
            .core
            .reserve(self.now_ms(py)?, key, &request)
            .map_err(|e| ledger_error(py, e))?;
        let c = classes(py)?;
        let class = if dry_run { &c.dry_run } else { &c.reservation };
        verdict_object(py, verdict, request.unit, class)
    }

    #[pyo3(signature = (subject, action, unit_name, estimate, key=None))]
    fn decide<'py>(
        &self,
        py: Python<'py>,
        subject: &Bound<'py, PyAny>,
        action: &Bound<'py, PyAny>,
        unit_name: &str,
        estimate: i64,
        key: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let unit = unit(unit_name)?;
        let verdict = self
            .core
            .decide(
                self.now_ms(py)?,
                key,
                &read_subject(subject)?,
                &read_action(action)?,
                unit,
                estimate,
            )
            .map_err(|e| ledger_error(py, e))?;
        verdict_object(py, verdict, unit, &classes(py)?.decision)
    }

    #[pyo3(signature = (reservation_id, unit_name, actual, key=None))]
    fn commit<'py>(
        &self,
        py: Python<'py>,
        reservation_id: &Bound<'py, PyString>,
        unit_name: Option<&str>,
        actual: i64,
        key: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let unit_given = unit_name.map(unit).transpose()?;
        let id = reservation_id.to_str()?;
        let now = self.now_ms(py)?;
        let c = self
            .core
            .commit(now, key, id, unit_given, actual)
            .map_err(|e| ledger_error(py, e))?;
        build_frozen(
            classes(py)?.commit.bind(py),
            &[
                (intern!(py, "reservation_id"), reservation_id.clone().into_any()),
                (intern!(py, "charged"), c.charged.into_bound_py_any(py)?),
                (intern!(py, "released"), c.released.into_bound_py_any(py)?),
                (intern!(py, "debt_incurred"), c.debt_incurred.into_bound_py_any(py)?),
            ],
        )
    }

    #[pyo3(signature = (reservation_id, key=None))]
    fn release<'py>(
        &self,
        py: Python<'py>,
        reservation_id: &Bound<'py, PyString>,
        key: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let released = self
            .core
            .release(self.now_ms(py)?, key, reservation_id.to_str()?)
            .map_err(|e| ledger_error(py, e))?;
        build_frozen(
            classes(py)?.release.bind(py),
            &[
                (intern!(py, "reservation_id"), reservation_id.clone().into_any()),
                (intern!(py, "released"), released.into_bound_py_any(py)?),
            ],
        )
    }

    #[pyo3(signature = (reservation_id, extend_by_ms, key=None))]
    fn extend<'py>(
        &self,
        py: Python<'py>,
        reservation_id: &Bound<'py, PyString>,
        extend_by_ms: i64,
        key: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let expires_at_ms = self
            .core
            .extend(self.now_ms(py)?, key, reservation_id.to_str()?, extend_by_ms)
            .map_err(|e| ledger_error(py, e))?;
        build_frozen(
            classes(py)?.extend.bind(py),
            &[
                (intern!(py, "reservation_id"), reservation_id.clone().into_any()),
                (intern!(py, "expires_at_ms"), expires_at_ms.into_bound_py_any(py)?),
            ],
        )
    }

    #[pyo3(signature = (subject, action, unit_name, actual, overage, key=None))]
    #[allow(clippy::too_many_arguments)]
    fn event<'py>(
        &self,
        py: Python<'py>,
        subject: &Bound<'py, PyAny>,
        action: &Bound<'py, PyAny>,
        unit_name: &str,
        actual: i64,
        overage: &str,
        key: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let unit = unit(unit_name)?;
        let Debited {
            event_id,
            charged,
            debt_incurred,
            affected_scopes,
        } = self
            .core
            .event(
                self.now_ms(py)?,
                key,
                &read_subject(subject)?,
                &read_action(action)?,
                unit,
                actual,
                Overage::from_name(overage).map_err(value_error)?,
            )
            .map_err(|e| ledger_error(py, e))?;
        build_frozen(
            classes(py)?.event.bind(py),
            &[
                (intern!(py, "event_id"), event_id.into_bound_py_any(py)?),
                (intern!(py, "unit"), member(py, unit.name())?),
                (intern!(py, "charged"), charged.into_bound_py_any(py)?),
                (intern!(py, "debt_incurred"), debt_incurred.into_bound_py_any(py)?),
                (
                    intern!(py, "affected_scopes"),
                    PyTuple::new(py, &affected_scopes)?.into_any(),
                ),
            ],
        )
    }

    /// Balances of the scopes under `prefix` ("" for all).
    fn balances<'py>(&self, py: Python<'py>, prefix: &str) -> PyResult<Bound<'py, PyList>> {
        if !prefix.is_empty() {
            check_scope_path(prefix).map_err(value_error)?;
        }
        let balances = self.core.balances(self.now_ms(py)?, prefix);
        let objects = balances
            .into_iter()
            .map(|b| balance_object(py, b))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, objects)
    }

    /// Reservations as tuples `(id, status, levels, dimensions, kind, name, tags, unit,
    /// reserved, created_at_ms, expires_at_ms, scope_path, affected_scopes, idempotency_key,
    /// committed, finalized_at_ms)`.
    #[pyo3(signature = (status=None, prefix=""))]
    fn reservations<'py>(
        &self,
        py: Python<'py>,
        status: Option<&str>,
        prefix: &str,
    ) -> PyResult<Bound<'py, PyList>> {
        let status = status
            .map(|s| Status::from_name(s).map_err(value_error))
            .transpose()?;
        let found = self.core.reservations(self.now_ms(py)?, status, prefix);
        let rows = found
            .into_iter()
            .map(|r| {
                (
                    r.id,
                    r.status.name(),
                    r.subject.levels.to_vec(),
                    r.subject.dimensions,
                    r.action.kind,
                    r.action.name,
                    r.action.tags,
                    r.unit.name(),
                    r.reserved,
                    r.created_at_ms,
                    r.expires_at_ms,
                    (
                        r.scope_path,
                        r.affected_scopes,
                        r.idempotency_key,
                        r.committed,
                        r.finalized_at_ms,
                    ),
                )
                    .into_bound_py_any(py)
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, rows)
    }

    /// Applies expiry now; returns how many reservations expired.
    fn sweep(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.core.sweep(self.now_ms(py)?))
    }

    /// The first broken invariant, or None.
    fn audit(&self) -> Option<String> {
        self.core.audit().err()
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LedgerCore>()?;
    m.add_function(wrap_pyfunction!(bind_ledger_classes, m)?)?;
    Ok(())
}
