//! Bindings for the reservation ledger: reads the facade's value objects, calls the core, and
//! builds the facade's result dataclasses and typed errors.

use std::path::PathBuf;

use burnguard_core::ledger::{
    check_amount, check_scope_path, check_times, Action, Balance, Caps, Debited, Decision, Ledger,
    Overage, Reservation, ReserveRequest, Retention, Status, Subject, Unit, Verdict,
};
use burnguard_core::Error;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{IntoPyDict, PyBool, PyDict, PyInt, PyList, PyString, PyTuple};

use crate::clock::clock_of;
use crate::errors::{io_err, ledger_err, py_err};
use crate::ledger_fleet::PySequencer;
use crate::results::result;

/// The facade's enum members, bound once at import, each in its core enum's `ALL` order.
struct Members {
    decisions: Vec<Py<PyAny>>,
    units: Vec<Py<PyAny>>,
    statuses: Vec<Py<PyAny>>,
}

static MEMBERS: PyOnceLock<Members> = PyOnceLock::new();

fn members(py: Python<'_>) -> PyResult<&Members> {
    MEMBERS
        .get(py)
        .ok_or_else(|| PyRuntimeError::new_err("import burnguard before using burnguard._native"))
}

/// Binds the facade's enum members (`Decision`, `Unit`, `ReservationStatus`) by value.
#[pyfunction]
fn bind_ledger_members(py: Python<'_>, by_value: &Bound<'_, PyDict>) -> PyResult<()> {
    let all = |names: Vec<&'static str>| -> PyResult<Vec<Py<PyAny>>> {
        names
            .into_iter()
            .map(|name| {
                by_value
                    .get_item(name)?
                    .map(Bound::unbind)
                    .ok_or_else(|| PyValueError::new_err(format!("missing member {name}")))
            })
            .collect()
    };
    let bound = Members {
        decisions: all(Decision::ALL.iter().map(|d| d.as_str()).collect())?,
        units: all(Unit::ALL.iter().map(|u| u.as_str()).collect())?,
        statuses: all(Status::ALL.iter().map(|s| s.as_str()).collect())?,
    };
    let _ = MEMBERS.set(py, bound);
    Ok(())
}

/// A scope given as a path or as a `Subject` (its `scope_path`), checked.
fn scope_arg(value: &Bound<'_, PyAny>) -> PyResult<String> {
    let path: String = match value.cast::<PyString>() {
        Ok(s) => s.to_str()?.to_string(),
        Err(_) => value
            .getattr(intern!(value.py(), "scope_path"))
            .and_then(|p| p.extract())
            .map_err(|_| {
                py_err(Error::bad(
                    "scope",
                    "must be a scope path or a Subject",
                    value,
                ))
            })?,
    };
    check_scope_path(&path).map_err(py_err)?;
    Ok(path)
}

/// A unit given as a `Unit` member or its name.
fn unit_arg(value: &Bound<'_, PyAny>) -> PyResult<Unit> {
    let name = value
        .cast::<PyString>()
        .map_err(|_| py_err(Error::bad("unit", "must be a Unit", value)))?;
    name.to_str()?.parse::<Unit>().map_err(py_err)
}

/// An overage policy given as a `CommitOveragePolicy` member or its name (None: the default,
/// ALLOW_IF_AVAILABLE).
fn overage_arg(value: Option<&Bound<'_, PyAny>>) -> PyResult<Overage> {
    let Some(value) = value else {
        return Ok(Overage::AllowIfAvailable);
    };
    let name = value.cast::<PyString>().map_err(|_| {
        py_err(Error::bad(
            "overage_policy",
            "must be a CommitOveragePolicy",
            value,
        ))
    })?;
    name.to_str()?.parse::<Overage>().map_err(py_err)
}

/// An amount given as an int in `unit` (None: USD_MICROCENTS) or as an `Amount`, whose own
/// unit wins.
fn amount_arg(
    param: &'static str,
    value: &Bound<'_, PyAny>,
    unit: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Unit, i64)> {
    let (own, amount) = amount_in(param, value)?;
    let unit = match (own, unit) {
        (Some(own), _) => own,
        (None, Some(u)) => unit_arg(u)?,
        (None, None) => Unit::UsdMicrocents,
    };
    Ok((unit, amount))
}

/// An int for `param` (a numpy integer too, not a bool): a `TypeError` naming it otherwise, a
/// `ValueError` when it does not fit in 64 bits (not a bare `OverflowError`).
fn int_arg(param: &'static str, value: &Bound<'_, PyAny>) -> PyResult<i64> {
    let kind = value
        .get_type()
        .name()
        .map_or_else(|_| "?".into(), |n| n.to_string());
    if value.is_instance_of::<PyBool>() || kind == "bool_" {
        return Err(py_err(Error::wrong_type(param, "must be an int", kind)));
    }
    value.extract::<i64>().map_err(|_| {
        if value.is_instance_of::<PyInt>() {
            py_err(Error::bad(param, "must fit in 64 bits", value))
        } else {
            py_err(Error::wrong_type(param, "must be an int", &kind))
        }
    })
}

/// An int (no unit of its own) or an `Amount` (with its unit).
fn amount_in(param: &'static str, value: &Bound<'_, PyAny>) -> PyResult<(Option<Unit>, i64)> {
    let py = value.py();
    let bad = || py_err(Error::bad(param, "must be an int or an Amount", value));
    if value.is_instance_of::<PyBool>() {
        return Err(bad());
    }
    if value.is_instance_of::<PyInt>() {
        let amount = value
            .extract::<i64>()
            .map_err(|_| py_err(Error::bad(param, "must fit in 64 bits", value)))?;
        return Ok((None, amount));
    }
    match (
        value.getattr(intern!(py, "unit")),
        value.getattr(intern!(py, "amount")),
    ) {
        (Ok(u), Ok(a)) if a.is_instance_of::<PyInt>() && !a.is_instance_of::<PyBool>() => {
            let (_, amount) = amount_in(param, &a)?;
            Ok((Some(unit_arg(&u)?), amount))
        }
        _ => Err(bad()),
    }
}

/// A subject from the facade's `Subject` (or any object with its attributes).
fn read_subject(subject: &Bound<'_, PyAny>) -> PyResult<Subject> {
    let py = subject.py();
    let names = [
        intern!(py, "tenant"),
        intern!(py, "workspace"),
        intern!(py, "app"),
        intern!(py, "workflow"),
        intern!(py, "agent"),
        intern!(py, "toolset"),
    ];
    let mut levels: [Option<String>; 6] = Default::default();
    for (slot, name) in levels.iter_mut().zip(names) {
        *slot = subject.getattr(name)?.extract()?;
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

fn unit_member(py: Python<'_>, unit: Unit) -> PyResult<Bound<'_, PyAny>> {
    Ok(members(py)?.units[unit as usize].bind(py).clone())
}

fn decision_member(py: Python<'_>, decision: Decision) -> PyResult<Bound<'_, PyAny>> {
    Ok(members(py)?.decisions[decision as usize].bind(py).clone())
}

fn status_member(py: Python<'_>, status: Status) -> PyResult<Bound<'_, PyAny>> {
    Ok(members(py)?.statuses[status as usize].bind(py).clone())
}

/// A reservation as the facade's `ReservationDetail`, its subject, action and amounts as the
/// facade's value types.
fn detail_object<'py>(
    py: Python<'py>,
    r: Reservation,
    affected_scopes: Vec<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let scope_path = r.subject.scope_path();
    let [tenant, workspace, app, workflow, agent, toolset] = r.subject.levels;
    let dimensions = if r.subject.dimensions.is_empty() {
        None
    } else {
        Some(r.subject.dimensions.into_py_dict(py)?)
    };
    let subject = result!(py, "Subject" {
        tenant: tenant,
        workspace: workspace,
        app: app,
        workflow: workflow,
        agent: agent,
        toolset: toolset,
        dimensions: dimensions,
    })?;
    let action = result!(py, "Action" {
        kind: r.action.kind,
        name: r.action.name,
        tags: PyTuple::new(py, r.action.tags)?,
    })?;
    let amount = |amount: i64| {
        let unit = unit_member(py, r.unit)?;
        result!(py, "Amount" { unit: unit, amount: amount })
    };
    result!(py, "ReservationDetail" {
        reservation_id: r.id,
        status: status_member(py, r.status)?,
        subject: subject,
        action: action,
        reserved: amount(r.reserved)?,
        created_at_ms: r.created_at_ms,
        expires_at_ms: r.expires_at_ms,
        scope_path: scope_path,
        affected_scopes: PyTuple::new(py, affected_scopes)?,
        idempotency_key: r.idempotency_key,
        committed: r.committed.map(amount).transpose()?,
        finalized_at_ms: r.finalized_at_ms,
    })
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
    result!(py, "Caps" {
        max_tokens: c.max_tokens,
        max_steps_remaining: c.max_steps_remaining,
        tool_allowlist: tools(&c.tool_allowlist)?,
        tool_denylist: tools(&c.tool_denylist)?,
        cooldown_ms: c.cooldown_ms,
    })
}

/// Which result a verdict answers.
#[derive(Clone, Copy)]
enum VerdictOf {
    Reservation,
    DryRun,
    Decision,
}

/// The verdict as the facade's `ReservationResult`, `DryRunResult` or `DecisionResult`.
fn verdict_object<'py>(
    py: Python<'py>,
    v: Verdict,
    unit: Unit,
    of: VerdictOf,
) -> PyResult<Bound<'py, PyAny>> {
    let decision = decision_member(py, v.decision)?;
    let scopes = PyTuple::new(py, &v.affected_scopes)?;
    let caps = caps_object(py, &v.caps)?;
    let unit = unit_member(py, unit)?;
    match of {
        VerdictOf::Reservation => result!(py, "ReservationResult" {
            decision: decision,
            affected_scopes: scopes,
            scope_path: v.scope_path.as_str(),
            caps: caps,
            reservation_id: v.reservation_id.as_deref(),
            unit: unit,
            reserved: v.reserved,
            expires_at_ms: v.expires_at_ms,
        }),
        VerdictOf::DryRun => result!(py, "DryRunResult" {
            decision: decision,
            affected_scopes: scopes,
            scope_path: v.scope_path.as_str(),
            caps: caps,
            unit: unit,
            reserved: v.reserved,
            reason_code: v.reason_code(),
            denied_scope: v.denied_scope(),
        }),
        VerdictOf::Decision => result!(py, "DecisionResult" {
            decision: decision,
            affected_scopes: scopes,
            scope_path: v.scope_path.as_str(),
            caps: caps,
            reason_code: v.reason_code(),
            denied_scope: v.denied_scope(),
        }),
    }
}

fn balance_object<'py>(py: Python<'py>, b: Balance) -> PyResult<Bound<'py, PyAny>> {
    result!(py, "Balance" {
        scope: b.scope,
        scope_path: b.scope_path,
        unit: unit_member(py, b.unit)?,
        allocated: b.allocated,
        reserved: b.reserved,
        spent: b.spent,
        remaining: b.remaining,
        debt: b.debt,
        overdraft_limit: b.overdraft_limit,
        is_over_limit: b.is_over_limit,
    })
}

fn caps_from(caps: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Caps>> {
    let Some(c) = caps.filter(|c| !c.is_none()) else {
        return Ok(None);
    };
    let py = c.py();
    let count = |name: &Bound<'_, PyString>, param: &'static str| -> PyResult<Option<u64>> {
        let v: Option<i64> = c.getattr(name)?.extract()?;
        v.map(|v| u64::try_from(v).map_err(|_| py_err(Error::bad(param, "must be >= 0", v))))
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
#[pyclass(frozen, subclass, module = "burnguard._native")]
pub struct LedgerCore {
    core: Ledger,
}

impl LedgerCore {
    fn now_ms(&self) -> PyResult<i64> {
        self.core.now_ms().map_err(py_err)
    }

    /// Runs `f` on the core; a fleet's ledger with the GIL released, since its sequencer
    /// takes the GIL while this thread holds the ledger's lock.
    fn run<T: Send>(&self, py: Python<'_>, f: impl FnOnce(&Ledger) -> T + Send) -> T {
        if self.core.is_fleet() {
            py.detach(|| f(&self.core))
        } else {
            f(&self.core)
        }
    }
}

#[pymethods]
impl LedgerCore {
    /// An empty ledger, the one saved at `_path`, (`shared`, an `ArenaCore`) the ledger
    /// `name` of that arena, whose state may take `capacity` bytes (4 MiB by default; its
    /// region takes 2.5 times that), or (`sequencer`) a fleet's ledger that it orders.
    #[new]
    #[pyo3(signature = (
        *, clock=None, retention_seconds=300.0, max_retained=None, shared=None, name="ledger",
        capacity=4194304, sequencer=None, _path=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        clock: Option<Py<PyAny>>,
        retention_seconds: f64,
        max_retained: Option<&Bound<'_, PyAny>>,
        shared: Option<&Bound<'_, PyAny>>,
        name: &str,
        capacity: u64,
        sequencer: Option<Py<PyAny>>,
        _path: Option<PathBuf>,
    ) -> PyResult<Self> {
        let core = match (_path, shared) {
            (Some(path), _) => Ledger::load(&path).map_err(io_err)?,
            (None, shared) => {
                // None: the default, 100,000, or for a shared ledger what its capacity holds
                // with room for active reservations (a KiB per record of each kind). An int out
                // of range is bad input, not an overflow.
                let max_retained = match max_retained {
                    None if shared.is_some() => (capacity / 1024).max(1_000) as usize,
                    None if sequencer.is_some() => 10_000,
                    None => 100_000,
                    Some(value) => value.extract::<usize>().map_err(|_| {
                        py_err(Error::bad(
                            "max_retained",
                            format!("must be an int in [1000, {}]", usize::MAX),
                            value,
                        ))
                    })?,
                };
                let retention =
                    Retention::from_seconds(retention_seconds, max_retained).map_err(py_err)?;
                match (shared, sequencer) {
                    (Some(arena), _) => {
                        crate::shared::shared_ledger(arena, name, capacity, retention)?
                    }
                    (None, Some(sequencer)) => {
                        Ledger::fleet(Box::new(PySequencer(sequencer)), retention)
                            .map_err(py_err)?
                    }
                    (None, None) => Ledger::new(retention).map_err(py_err)?,
                }
            }
        };
        Ok(LedgerCore {
            core: core.with_clock(clock_of(clock)?),
        })
    }

    /// Whether the ledger is shared through an arena.
    #[getter]
    fn shared(&self) -> bool {
        self.core.is_shared()
    }

    /// Whether the ledger is a fleet's (made with a `sequencer`).
    #[getter]
    fn fleet(&self) -> bool {
        self.core.is_fleet()
    }

    /// Saves the ledger to `path` atomically.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.core.save(&path)).map_err(io_err)
    }

    #[pyo3(signature = (scope, unit, allocated, *, overdraft_limit=None, caps=None))]
    fn set_budget(
        &self,
        py: Python<'_>,
        scope: &Bound<'_, PyAny>,
        unit: &Bound<'_, PyAny>,
        allocated: &Bound<'_, PyAny>,
        overdraft_limit: Option<&Bound<'_, PyAny>>,
        caps: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let overdraft_limit = overdraft_limit
            .map(|v| int_arg("overdraft_limit", v))
            .transpose()?;
        let (scope, unit) = (scope_arg(scope)?, unit_arg(unit)?);
        let (allocated, caps) = (int_arg("allocated", allocated)?, caps_from(caps)?);
        self.run(py, |core| {
            core.set_budget(&scope, unit, allocated, overdraft_limit.unwrap_or(0), caps)
        })
        .map_err(ledger_err)
    }

    fn fund(
        &self,
        py: Python<'_>,
        scope: &Bound<'_, PyAny>,
        unit: &Bound<'_, PyAny>,
        amount: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let (scope, unit, amount) = (
            scope_arg(scope)?,
            unit_arg(unit)?,
            int_arg("amount", amount)?,
        );
        self.run(py, |core| core.fund(&scope, unit, amount))
            .map_err(ledger_err)
    }

    #[pyo3(signature = (
        subject, action, estimate, *, unit=None, idempotency_key=None, ttl_ms=60_000,
        grace_period_ms=0, overage_policy=None, dry_run=false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn reserve<'py>(
        &self,
        py: Python<'py>,
        subject: &Bound<'py, PyAny>,
        action: &Bound<'py, PyAny>,
        estimate: &Bound<'py, PyAny>,
        unit: Option<&Bound<'py, PyAny>>,
        idempotency_key: Option<&str>,
        ttl_ms: i64,
        grace_period_ms: i64,
        overage_policy: Option<&Bound<'py, PyAny>>,
        dry_run: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let key = idempotency_key;
        let overage = overage_policy;
        let (unit, estimate) = amount_arg("estimate", estimate, unit)?;
        let request = ReserveRequest {
            subject: read_subject(subject)?,
            action: read_action(action)?,
            unit,
            estimate,
            ttl_ms,
            grace_period_ms,
            overage: overage_arg(overage)?,
            dry_run,
        };
        let unit = request.unit;
        let now = self.now_ms()?;
        let verdict = self
            .run(py, |core| core.reserve(now, key, request))
            .map_err(ledger_err)?;
        let of = if dry_run {
            VerdictOf::DryRun
        } else {
            VerdictOf::Reservation
        };
        verdict_object(py, verdict, unit, of)
    }

    #[pyo3(signature = (subject, action, estimate, *, unit=None, idempotency_key=None))]
    fn decide<'py>(
        &self,
        py: Python<'py>,
        subject: &Bound<'py, PyAny>,
        action: &Bound<'py, PyAny>,
        estimate: &Bound<'py, PyAny>,
        unit: Option<&Bound<'py, PyAny>>,
        idempotency_key: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let key = idempotency_key;
        let (unit, estimate) = amount_arg("estimate", estimate, unit)?;
        let (now, subject, action) = (self.now_ms()?, read_subject(subject)?, read_action(action)?);
        let verdict = self
            .run(py, |core| {
                core.decide(now, key, &subject, &action, unit, estimate)
            })
            .map_err(ledger_err)?;
        verdict_object(py, verdict, unit, VerdictOf::Decision)
    }

    #[pyo3(signature = (reservation_id, actual, *, idempotency_key=None))]
    fn commit<'py>(
        &self,
        py: Python<'py>,
        reservation_id: &Bound<'py, PyString>,
        actual: &Bound<'py, PyAny>,
        idempotency_key: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let key = idempotency_key;
        let (unit_given, actual) = amount_in("actual", actual)?;
        let id = reservation_id.to_str()?;
        let now = self.now_ms()?;
        let c = self
            .run(py, |core| core.commit(now, key, id, unit_given, actual))
            .map_err(ledger_err)?;
        result!(py, "CommitResult" {
            reservation_id: reservation_id,
            charged: c.charged,
            released: c.released,
            debt_incurred: c.debt_incurred,
        })
    }

    #[pyo3(signature = (reservation_id, *, idempotency_key=None))]
    fn release<'py>(
        &self,
        py: Python<'py>,
        reservation_id: &Bound<'py, PyString>,
        idempotency_key: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let key = idempotency_key;
        let (now, id) = (self.now_ms()?, reservation_id.to_str()?);
        let released = self
            .run(py, |core| core.release(now, key, id))
            .map_err(ledger_err)?;
        result!(py, "ReleaseResult" {
            reservation_id: reservation_id,
            released: released,
        })
    }

    #[pyo3(signature = (reservation_id, extend_by_ms, *, idempotency_key=None))]
    fn extend<'py>(
        &self,
        py: Python<'py>,
        reservation_id: &Bound<'py, PyString>,
        extend_by_ms: i64,
        idempotency_key: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let key = idempotency_key;
        let (now, id) = (self.now_ms()?, reservation_id.to_str()?);
        let expires_at_ms = self
            .run(py, |core| core.extend(now, key, id, extend_by_ms))
            .map_err(ledger_err)?;
        result!(py, "ExtendResult" {
            reservation_id: reservation_id,
            expires_at_ms: expires_at_ms,
        })
    }

    #[pyo3(signature = (
        subject, action, actual, *, unit=None, idempotency_key=None, overage_policy=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn event<'py>(
        &self,
        py: Python<'py>,
        subject: &Bound<'py, PyAny>,
        action: &Bound<'py, PyAny>,
        actual: &Bound<'py, PyAny>,
        unit: Option<&Bound<'py, PyAny>>,
        idempotency_key: Option<&str>,
        overage_policy: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let key = idempotency_key;
        let (unit, actual) = amount_arg("actual", actual, unit)?;
        let Debited {
            event_id,
            charged,
            debt_incurred,
            affected_scopes,
        } = {
            let (now, subject, action) =
                (self.now_ms()?, read_subject(subject)?, read_action(action)?);
            let overage = overage_arg(overage_policy)?;
            self.run(py, |core| {
                core.event(now, key, &subject, &action, unit, actual, overage)
            })
            .map_err(ledger_err)?
        };
        result!(py, "EventResult" {
            event_id: event_id,
            unit: unit_member(py, unit)?,
            charged: charged,
            debt_incurred: debt_incurred,
            affected_scopes: PyTuple::new(py, &affected_scopes)?,
        })
    }

    /// Balances of `scope` and the scopes under it (all of them if None).
    #[pyo3(signature = (scope=None))]
    fn balances<'py>(
        &self,
        py: Python<'py>,
        scope: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let prefix = scope.map(scope_arg).transpose()?.unwrap_or_default();
        let now = self.now_ms()?;
        let balances = self
            .run(py, |core| core.balances(now, &prefix))
            .map_err(ledger_err)?;
        let objects = balances
            .into_iter()
            .map(|b| balance_object(py, b))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, objects)
    }

    /// `ReservationDetail`s, oldest first, filtered by status and by scope.
    #[pyo3(signature = (status=None, scope=None))]
    fn _reservations<'py>(
        &self,
        py: Python<'py>,
        status: Option<&Bound<'py, PyAny>>,
        scope: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let status = status
            .map(|s| {
                let name = s
                    .cast::<PyString>()
                    .map_err(|_| py_err(Error::bad("status", "must be a ReservationStatus", s)))?;
                name.to_str()?.parse::<Status>().map_err(py_err)
            })
            .transpose()?;
        let prefix = scope.map(scope_arg).transpose()?.unwrap_or_default();
        let now = self.now_ms()?;
        let found = self
            .run(py, |core| core.reservations(now, status, &prefix))
            .map_err(ledger_err)?;
        let rows = found
            .into_iter()
            .map(|(r, affected_scopes)| detail_object(py, r, affected_scopes))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, rows)
    }

    /// Applies expiry now; returns how many reservations expired.
    fn sweep(&self, py: Python<'_>) -> PyResult<usize> {
        let now = self.now_ms()?;
        self.run(py, |core| core.sweep(now)).map_err(ledger_err)
    }

    /// The first broken invariant, or None. A fleet's ledger that cannot reach its sequencer
    /// raises, rather than report the outage as a broken invariant.
    fn audit(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.run(py, |core| core.sync()).map_err(ledger_err)?;
        Ok(self.run(py, |core| core.audit().err()))
    }

    /// A fleet's ledger's state as of its last entry, `(instance, seq, time_ms, token, text)`, for
    /// its sequencer to replace the journal's head with; None otherwise.
    fn _fleet_snapshot(&self, py: Python<'_>) -> Option<(String, u64, i64, String, String)> {
        self.run(py, |core| core.fleet_snapshot())
            .map(|(instance, s)| (instance, s.seq, s.time, s.token, s.text))
    }

    /// Applies the entries other hosts appended since this host's last.
    fn _fleet_sync(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, |core| core.sync()).map_err(ledger_err)
    }

    /// Where a fleet's ledger stands, `(instance, seq, time_ms, next_expiry_ms, losses)`, without
    /// asking its sequencer; None for another ledger.
    fn _fleet_status(&self, py: Python<'_>) -> Option<(String, u64, i64, Option<i64>, u64)> {
        self.run(py, |core| core.fleet_status())
            .map(|s| (s.instance, s.seq, s.time, s.next_expiry_ms, s.losses))
    }
}

/// Checks an amount given for `param` (an int or an `Amount`) as `reserve` and `commit` do,
/// for callers that know it ahead of the call (`guard`, `stream`).
#[pyfunction]
fn check_amount_arg(param: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
    let param = match param {
        "estimate" => "estimate",
        _ => "actual",
    };
    let (_, amount) = amount_in(param, value)?;
    check_amount(param, amount).map(drop).map_err(py_err)
}

/// Checks a reservation's lifetime and grace period as `reserve` does.
#[pyfunction]
fn check_reservation_times(ttl_ms: i64, grace_period_ms: i64) -> PyResult<()> {
    check_times(ttl_ms, grace_period_ms).map_err(py_err)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LedgerCore>()?;
    m.add_function(wrap_pyfunction!(bind_ledger_members, m)?)?;
    m.add_function(wrap_pyfunction!(check_amount_arg, m)?)?;
    m.add_function(wrap_pyfunction!(check_reservation_times, m)?)?;
    Ok(())
}
