//! Bindings for SLOs (`burnguard_core::slo`): the facade's `SLOTracker` wraps [`SloCore`].

use burnguard_core::slo::{
    self, replay, AlertPoll, BurnPoll, Figures, Policy, PolicyStatus, Slo, SloSpec, Snapshot,
};
use burnguard_core::window::Counts;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use crate::clock::clock_of;
use crate::convert::slice;
use crate::errors::py_err;
use crate::results::result;

/// The definition's own objects, echoed into results unchanged (so an `int` window stays one).
struct Labels {
    name: Py<PyAny>,
    target: Py<PyAny>,
    window_seconds: Py<PyAny>,
    burn_windows: Vec<Py<PyAny>>,
    burn_threshold: Py<PyAny>,
    /// `(severity, long_window_seconds, short_window_seconds, threshold)` per policy.
    policies: Vec<[Py<PyAny>; 4]>,
}

/// The core spec and the labels of an `SLODefinition`.
fn read_definition(definition: &Bound<'_, PyAny>) -> PyResult<(SloSpec, Labels)> {
    let py = definition.py();
    let attr = |name: &str| definition.getattr(name);
    let burn_windows: Vec<Bound<'_, PyAny>> = attr("burn_rate_windows")?
        .try_iter()?
        .collect::<PyResult<_>>()?;
    let mut policies = Vec::new();
    let mut policy_labels = Vec::new();
    for policy in attr("policies")?.try_iter()? {
        let policy = policy?;
        let field = |name: &str| policy.getattr(name);
        let labels = [
            field("severity")?.unbind(),
            field("long_window_seconds")?.unbind(),
            field("short_window_seconds")?.unbind(),
            field("threshold")?.unbind(),
        ];
        policies.push(Policy {
            severity: labels[0].extract(py)?,
            long_window: labels[1].extract(py)?,
            short_window: labels[2].extract(py)?,
            threshold: labels[3].extract(py)?,
        });
        policy_labels.push(labels);
    }
    let spec = SloSpec {
        target: attr("target")?.extract()?,
        window_seconds: attr("window_seconds")?.extract()?,
        burn_windows: burn_windows
            .iter()
            .map(|w| w.extract())
            .collect::<PyResult<_>>()?,
        burn_threshold: attr("burn_rate_threshold")?.extract()?,
        policies,
        latency_threshold: attr("latency_threshold_seconds")?.extract()?,
    };
    let labels = Labels {
        name: attr("name")?.unbind(),
        target: attr("target")?.unbind(),
        window_seconds: attr("window_seconds")?.unbind(),
        burn_windows: burn_windows.into_iter().map(Bound::unbind).collect(),
        burn_threshold: attr("burn_rate_threshold")?.unbind(),
        policies: policy_labels,
    };
    Ok((spec, labels))
}

fn counts_of(pairs: Vec<(u64, u64)>) -> Vec<Counts> {
    pairs
        .into_iter()
        .map(|(good, bad)| Counts { good, bad })
        .collect()
}

/// `(alerts, started, recovered)` of a burn poll.
type BurnPollTuple<'py> = (Bound<'py, PyList>, Vec<usize>, Vec<usize>);

/// One SLO's bounded window and figures. The facade's `SLOTracker` wraps it.
#[pyclass(frozen, module = "burnguard._native")]
pub(crate) struct SloCore {
    pub(crate) slo: Slo,
    labels: Labels,
}

impl SloCore {
    fn sample<'py>(
        &self,
        py: Python<'py>,
        window: &Py<PyAny>,
        f: &Figures,
    ) -> PyResult<Bound<'py, PyAny>> {
        result!(py, "BurnRateSample" {
            window_seconds: window.bind(py),
            burn_rate: f.burn_rate,
            success_ratio: f.success_ratio,
            sample_count: f.total,
        })
    }

    fn multi_alert<'py>(
        &self,
        py: Python<'py>,
        policy: &[Py<PyAny>; 4],
        status: &PolicyStatus,
    ) -> PyResult<Bound<'py, PyAny>> {
        let [severity, long, short, threshold] = policy;
        result!(py, "MultiWindowAlert" {
            slo_name: self.labels.name.bind(py),
            severity: severity.bind(py),
            threshold: threshold.bind(py),
            long_window_seconds: long.bind(py),
            short_window_seconds: short.bind(py),
            long_burn_rate: status.long.burn_rate,
            short_burn_rate: status.short.burn_rate,
            long_sample_count: status.long.total,
            short_sample_count: status.short.total,
            firing: status.firing,
        })
    }

    fn snapshot_object<'py>(
        &self,
        py: Python<'py>,
        s: &Snapshot,
        dropped: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let samples = self
            .labels
            .burn_windows
            .iter()
            .zip(&s.samples)
            .map(|(window, f)| self.sample(py, window, f))
            .collect::<PyResult<Vec<_>>>()?;
        let alerts = self
            .labels
            .policies
            .iter()
            .zip(&s.policies)
            .filter(|(_, status)| status.firing)
            .map(|(policy, status)| self.multi_alert(py, policy, status))
            .collect::<PyResult<Vec<_>>>()?;
        let l = &self.labels;
        result!(py, "SLOSnapshot" {
            name: l.name.bind(py),
            target: l.target.bind(py),
            window_seconds: l.window_seconds.bind(py),
            total: s.overall.total,
            failures: s.overall.failures,
            success_ratio: s.overall.success_ratio,
            error_budget_remaining: s.error_budget_remaining,
            burn_rate: s.overall.burn_rate,
            burn_rate_samples: PyTuple::new(py, samples)?,
            error_budget_consumed: s.error_budget_consumed,
            time_to_exhaustion_seconds: s.time_to_exhaustion,
            alerts: PyTuple::new(py, alerts)?,
            dropped: dropped,
        })
    }

    fn burn_alerts<'py>(
        &self,
        py: Python<'py>,
        samples: &[Figures],
    ) -> PyResult<Bound<'py, PyList>> {
        let spec = self.slo.spec();
        let alerts = self
            .labels
            .burn_windows
            .iter()
            .zip(samples)
            .filter(|(_, f)| spec.burn_alerting(f))
            .map(|(window, f)| {
                result!(py, "BurnRateAlert" {
                    slo_name: self.labels.name.bind(py),
                    window_seconds: window.bind(py),
                    burn_rate: f.burn_rate,
                    threshold: self.labels.burn_threshold.bind(py),
                    success_ratio: f.success_ratio,
                    sample_count: f.total,
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, alerts)
    }

    fn burn_poll<'py>(&self, py: Python<'py>, poll: &BurnPoll) -> PyResult<BurnPollTuple<'py>> {
        Ok((
            self.burn_alerts(py, &poll.samples)?,
            poll.started_windows(),
            poll.recovered_windows(),
        ))
    }

    fn all_policies<'py>(&self, py: Python<'py>, s: &Snapshot) -> PyResult<Bound<'py, PyList>> {
        let alerts = self
            .labels
            .policies
            .iter()
            .zip(&s.policies)
            .map(|(policy, status)| self.multi_alert(py, policy, status))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, alerts)
    }

    fn transitions<'py>(&self, py: Python<'py>, poll: &AlertPoll) -> PyResult<Bound<'py, PyList>> {
        let mut transitions = Vec::new();
        for (i, state) in poll.transitions() {
            let alert =
                self.multi_alert(py, &self.labels.policies[i], &poll.snapshot.policies[i])?;
            transitions.push(result!(py, "AlertTransition" {
                state: PyString::intern(py, state.as_str()),
                alert: alert,
            })?);
        }
        PyList::new(py, transitions)
    }
}

#[pymethods]
impl SloCore {
    #[new]
    #[pyo3(signature = (definition, *, clock = None, shared = None))]
    fn new(
        definition: &Bound<'_, PyAny>,
        clock: Option<Py<PyAny>>,
        shared: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let (spec, labels) = read_definition(definition)?;
        let mut slo = Slo::with_clock(spec, clock_of(clock)?).map_err(py_err)?;
        if let Some(arena) = shared {
            let name: String = labels.name.extract(definition.py())?;
            crate::shared::share_slo(&mut slo, &arena, &name)?;
        }
        Ok(SloCore { slo, labels })
    }

    /// Whether the SLO's counts live in a shared arena.
    #[getter]
    fn shared(&self) -> bool {
        self.slo.is_shared()
    }

    /// Record one event, good when `success`, at `at` (default: now).
    #[pyo3(signature = (success, *, at = None))]
    fn record(&self, success: bool, at: Option<f64>) -> PyResult<()> {
        self.slo.record(at, success).map_err(py_err)
    }

    /// Record one good event at `at` (default: now).
    #[pyo3(signature = (*, at = None))]
    fn record_success(&self, at: Option<f64>) -> PyResult<()> {
        self.slo.record(at, true).map_err(py_err)
    }

    /// Record one bad event at `at` (default: now).
    #[pyo3(signature = (*, at = None))]
    fn record_failure(&self, at: Option<f64>) -> PyResult<()> {
        self.slo.record(at, false).map_err(py_err)
    }

    /// Record one request that took `seconds`: good when within the latency threshold.
    #[pyo3(signature = (seconds, *, at = None))]
    fn record_latency(&self, seconds: f64, at: Option<f64>) -> PyResult<()> {
        self.slo.record_latency(at, seconds).map_err(py_err)
    }

    /// Record one event per element of `ok` at timestamps `at`, without the GIL.
    fn record_many(
        &self,
        py: Python<'_>,
        ok: PyReadonlyArray1<'_, bool>,
        at: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<()> {
        let (ok, at) = (slice("ok", &ok)?, slice("at", &at)?);
        py.detach(|| self.slo.record_many(ok, at)).map_err(py_err)
    }

    /// Record one request per element of `seconds` at timestamps `at`, without the GIL.
    fn record_latency_many(
        &self,
        py: Python<'_>,
        seconds: PyReadonlyArray1<'_, f64>,
        at: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<()> {
        let (seconds, at) = (slice("seconds", &seconds)?, slice("at", &at)?);
        py.detach(|| self.slo.record_latency_many(seconds, at))
            .map_err(py_err)
    }

    /// Whether a request that took `seconds` meets the latency objective.
    fn latency_is_good(&self, seconds: f64) -> PyResult<bool> {
        self.slo.latency_is_good(seconds).map_err(py_err)
    }

    /// The `SLOSnapshot` at `at` (default: now).
    #[pyo3(signature = (*, at = None))]
    fn snapshot<'py>(&self, py: Python<'py>, at: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let snapshot = self.slo.snapshot(at).map_err(py_err)?;
        self.snapshot_object(py, &snapshot, self.slo.dropped())
    }

    /// `BurnRateAlert`s for the burn windows at or above the threshold.
    #[pyo3(signature = (*, at = None))]
    fn check_burn_rate<'py>(
        &self,
        py: Python<'py>,
        at: Option<f64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let samples = self.slo.burn_samples(at).map_err(py_err)?;
        self.burn_alerts(py, &samples)
    }

    /// `(alerts, started, recovered)`: `check_burn_rate`'s alerts, and the indices of the burn
    /// windows that started and stopped alerting since the last such poll.
    #[pyo3(signature = (*, at = None))]
    fn poll_burn_rate<'py>(
        &self,
        py: Python<'py>,
        at: Option<f64>,
    ) -> PyResult<BurnPollTuple<'py>> {
        let poll = self.slo.poll_burn(at).map_err(py_err)?;
        self.burn_poll(py, &poll)
    }

    /// As `poll_burn_rate`, from `(good, bad)` counts over each burn window.
    fn poll_burn_rate_counts<'py>(
        &self,
        py: Python<'py>,
        counts: Vec<(u64, u64)>,
    ) -> PyResult<BurnPollTuple<'py>> {
        let spec = self.slo.spec();
        let samples = spec.burn_samples(&counts_of(counts)).map_err(py_err)?;
        self.burn_poll(py, &self.slo.poll_burn_samples(samples))
    }

    /// A `MultiWindowAlert` for every policy, firing or not.
    #[pyo3(signature = (*, at = None))]
    fn alert_status<'py>(&self, py: Python<'py>, at: Option<f64>) -> PyResult<Bound<'py, PyList>> {
        let snapshot = self.slo.snapshot(at).map_err(py_err)?;
        self.all_policies(py, &snapshot)
    }

    /// As `alert_status`, from `(good, bad)` counts over each of `query_windows`.
    fn alert_status_counts<'py>(
        &self,
        py: Python<'py>,
        counts: Vec<(u64, u64)>,
    ) -> PyResult<Bound<'py, PyList>> {
        let snapshot = self.evaluate_counts(counts)?;
        self.all_policies(py, &snapshot)
    }

    /// `AlertTransition`s since the previous poll.
    #[pyo3(signature = (*, at = None))]
    fn poll_alerts<'py>(&self, py: Python<'py>, at: Option<f64>) -> PyResult<Bound<'py, PyList>> {
        let poll = self.slo.poll_alerts(at).map_err(py_err)?;
        self.transitions(py, &poll)
    }

    /// The `SLOSnapshot` for `(good, bad)` counts over each of `query_windows` (custom stores).
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        counts: Vec<(u64, u64)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let snapshot = self.evaluate_counts(counts)?;
        self.snapshot_object(py, &snapshot, 0)
    }

    /// As `poll_alerts`, from `(good, bad)` counts over each of `query_windows`.
    fn poll_counts<'py>(
        &self,
        py: Python<'py>,
        counts: Vec<(u64, u64)>,
    ) -> PyResult<Bound<'py, PyList>> {
        let snapshot = self.evaluate_counts(counts)?;
        self.transitions(py, &self.slo.poll(snapshot))
    }

    /// The bit mask of the policies firing for `(good, bad)` counts over each of
    /// `query_windows`: what a fleet store keeps between polls.
    fn firing_mask(&self, counts: Vec<(u64, u64)>) -> PyResult<u64> {
        Ok(self.evaluate_counts(counts)?.firing_mask())
    }

    /// The `AlertTransition`s from `before` (a firing mask) to the state of `(good, bad)`
    /// counts over each of `query_windows`.
    fn transitions_since<'py>(
        &self,
        py: Python<'py>,
        counts: Vec<(u64, u64)>,
        before: u64,
    ) -> PyResult<Bound<'py, PyList>> {
        let snapshot = self.evaluate_counts(counts)?;
        self.transitions(py, &AlertPoll::since(snapshot, before))
    }

    /// As `check_burn_rate`, from `(good, bad)` counts over each burn window.
    fn check_burn_rate_counts<'py>(
        &self,
        py: Python<'py>,
        counts: Vec<(u64, u64)>,
    ) -> PyResult<Bound<'py, PyList>> {
        let samples = self
            .slo
            .spec()
            .burn_samples(&counts_of(counts))
            .map_err(py_err)?;
        self.burn_alerts(py, &samples)
    }

    /// `at` if given (checked), else the time now by the tracker's clock.
    #[pyo3(signature = (at = None))]
    fn now(&self, at: Option<f64>) -> PyResult<f64> {
        self.slo.now(at).map_err(py_err)
    }

    /// The error budget left at `points + 1` times across the SLO window ending at `at`.
    #[pyo3(signature = (points, *, at = None))]
    fn burndown(&self, points: usize, at: Option<f64>) -> PyResult<Vec<f64>> {
        self.slo.burndown(points, at).map_err(py_err)
    }

    /// The windows a burndown of `points` steps reads (custom stores count over them).
    fn burndown_windows(&self, points: usize) -> PyResult<Vec<f64>> {
        self.slo.spec().burndown_windows(points).map_err(py_err)
    }

    /// As `burndown`, from `(good, bad)` counts over each of `burndown_windows(points)`.
    fn burndown_counts(&self, counts: Vec<(u64, u64)>) -> PyResult<Vec<f64>> {
        self.slo.spec().burndown(&counts_of(counts)).map_err(py_err)
    }

    #[getter]
    fn query_windows(&self) -> Vec<f64> {
        self.slo.spec().query_windows()
    }

    #[getter]
    fn dropped(&self) -> u64 {
        self.slo.dropped()
    }

    /// `(good, bad)`: every event recorded since the SLO was made, held or not (monotonic).
    #[getter]
    fn totals(&self) -> (u64, u64) {
        self.slo.totals()
    }

    #[getter]
    fn memory_bytes(&self) -> usize {
        self.slo.memory_bytes()
    }

    /// `[(width_seconds, span_seconds)]` for each tier, finest first.
    #[getter]
    fn resolution(&self) -> Vec<(f64, f64)> {
        self.slo
            .resolution()
            .iter()
            .map(|t| (t.width_seconds, t.span_seconds))
            .collect()
    }
}

impl SloCore {
    fn evaluate_counts(&self, counts: Vec<(u64, u64)>) -> PyResult<Snapshot> {
        self.slo.spec().evaluate(&counts_of(counts)).map_err(py_err)
    }
}

/// Checks an `SLODefinition` without building its window, naming the first bad parameter.
#[pyfunction]
fn validate_slo(definition: &Bound<'_, PyAny>) -> PyResult<()> {
    read_definition(definition)?.0.validate().map_err(py_err)
}

/// The SRE Workbook's four alert policies scaled to `window_seconds`:
/// `[(severity, long_window, short_window, threshold)]`.
#[pyfunction]
fn workbook_policies(window_seconds: f64) -> PyResult<Vec<(String, f64, f64, f64)>> {
    Ok(slo::workbook_policies(window_seconds)
        .map_err(py_err)?
        .into_iter()
        .map(|p| (p.severity, p.long_window, p.short_window, p.threshold))
        .collect())
}

/// Whether each policy `(severity, long_window, short_window, threshold)` fires at every step
/// of the per-step counts `bad` and `total`: one boolean array per policy.
#[pyfunction]
#[pyo3(signature = (bad, total, step_seconds, target, policies, hold_steps = 0))]
fn replay_policies<'py>(
    py: Python<'py>,
    bad: Vec<u64>,
    total: Vec<u64>,
    step_seconds: f64,
    target: f64,
    policies: Vec<(String, f64, f64, f64)>,
    hold_steps: usize,
) -> PyResult<Vec<Bound<'py, PyArray1<bool>>>> {
    let policies: Vec<Policy> = policies
        .into_iter()
        .map(|(severity, long_window, short_window, threshold)| Policy {
            severity,
            long_window,
            short_window,
            threshold,
        })
        .collect();
    let firing = py
        .detach(|| {
            let counts = replay::StepCounts::new(&bad, &total)?;
            replay::replay_policies(&counts, step_seconds, target, &policies, hold_steps)
        })
        .map_err(py_err)?;
    Ok(firing.into_iter().map(|f| f.into_pyarray(py)).collect())
}

/// The burn rate over a window of `window_steps` steps ending at every step of the per-step
/// counts `bad` and `total`, for an error budget of `budget` (NaN where the window is empty).
#[pyfunction]
fn window_burn_rates<'py>(
    py: Python<'py>,
    bad: Vec<u64>,
    total: Vec<u64>,
    window_steps: usize,
    budget: f64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let counts = replay::StepCounts::new(&bad, &total).map_err(py_err)?;
    let burns = py.detach(|| counts.burn_rates(window_steps, budget));
    Ok(burns.map_err(py_err)?.into_pyarray(py))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SloCore>()?;
    m.add_function(wrap_pyfunction!(window_burn_rates, m)?)?;
    m.add_function(wrap_pyfunction!(replay_policies, m)?)?;
    m.add_function(wrap_pyfunction!(workbook_policies, m)?)?;
    m.add_function(wrap_pyfunction!(validate_slo, m)?)?;
    Ok(())
}
