//! Bindings for `burnguard serve` (`burnguard_server`): the Cycles-protocol server runs on
//! its own threads, without the GIL; Python starts it, provisions it and stops it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use burnguard_core::ledger::{Ledger, Retention, Unit};
use burnguard_server::admin::{SharedStore, Store};
use burnguard_server::{Api, Key, Server};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

use crate::errors::{ledger_err, py_err};
use crate::ledger_fleet::PySequencer;

/// A shared store of what the admin API provisions, kept by a Python object with `load()`
/// (its version and document, or None) and `save(version, document)` (whether it saved).
struct PyStore(Py<PyAny>);

impl SharedStore for PyStore {
    fn load(&self) -> std::io::Result<(u64, Option<String>)> {
        Python::attach(|py| {
            let answer = self.0.call_method0(py, "load")?;
            answer.extract::<(u64, Option<String>)>(py)
        })
        .map_err(|e| std::io::Error::other(e.to_string()))
    }

    fn save(&self, version: u64, doc: &str) -> std::io::Result<bool> {
        Python::attach(|py| {
            let answer = self.0.call_method1(py, "save", (version, doc))?;
            answer.extract::<bool>(py)
        })
        .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

/// A running Cycles server; see `burnguard.cli.serve`.
#[pyclass(module = "burnguard._native", frozen, weakref)]
pub(crate) struct CyclesServer {
    server: Mutex<Option<Server>>,
    api: Arc<Api>,
    port: u16,
}

#[pymethods]
impl CyclesServer {
    /// Serves on `host:port` (0: a free port) with `threads` threads; budgets in memory,
    /// logged and synced in `data_dir` before each answer, or (`sequencer`, see
    /// `burnguard.redis.ledger`) a fleet's ledger on Redis; `rate_limit` runtime requests a
    /// second per tenant, if given. What the admin API provisions is kept in `data_dir`, or
    /// in `provisioned` (see `burnguard.redis.provisioned`), shared with the fleet's servers.
    #[new]
    #[pyo3(signature = (
        host, port, *, threads = 64, retention_seconds = 300.0, max_retained = 100_000,
        data_dir = None, sequencer = None, rate_limit = None, provisioned = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host: &str,
        port: u16,
        threads: usize,
        retention_seconds: f64,
        max_retained: usize,
        data_dir: Option<PathBuf>,
        sequencer: Option<Py<PyAny>>,
        rate_limit: Option<u64>,
        provisioned: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let retention = Retention::from_seconds(retention_seconds, max_retained).map_err(py_err)?;
        let (ledger, store) =
            match (data_dir, sequencer) {
                (Some(_), Some(_)) => return Err(py_err(burnguard_core::Error::invalid(
                    "data_dir",
                    "a ledger on Redis keeps its data there: give data_dir or sequencer, not both",
                ))),
                (None, None) => (Ledger::new(retention).map_err(py_err)?, Store::default()),
                (None, Some(sequencer)) => (
                    Ledger::fleet(Box::new(PySequencer(sequencer)), retention).map_err(py_err)?,
                    Store::default(),
                ),
                (Some(dir), None) => (
                    py.detach(|| Ledger::durable(&dir, retention))
                        .map_err(os_err)?,
                    Store::in_directory(&dir),
                ),
            };
        let store = match provisioned {
            Some(shared) => Store::shared(Arc::new(PyStore(shared))),
            None => store,
        };
        let mut api = py
            .detach(|| Api::new(ledger, Vec::new()).with_store(store))
            .map_err(os_err)?;
        if let Some(per_second) = rate_limit {
            if per_second == 0 {
                return Err(py_err(burnguard_core::Error::bad(
                    "rate_limit",
                    "must be at least 1 request a second",
                    per_second,
                )));
            }
            api = api.with_rate_limit(per_second);
        }
        let api = Arc::new(api);
        let address = format!("{host}:{port}");
        let server = py
            .detach(|| Server::start(&address, threads, api.clone()))
            .map_err(|e| {
                PyOSError::new_err((
                    e.raw_os_error().unwrap_or(0),
                    format!("cannot serve on {address}: {e}"),
                ))
            })?;
        let port = server.port();
        Ok(CyclesServer {
            server: Mutex::new(Some(server)),
            api,
            port,
        })
    }

    /// The port it serves on.
    #[getter]
    fn port(&self) -> u16 {
        self.port
    }

    /// Whether it still serves.
    #[getter]
    fn running(&self) -> bool {
        self.server.lock().map(|s| s.is_some()).unwrap_or(false)
    }

    /// Catches up with what the fleet's other servers provisioned (tenants, keys and their
    /// revocations), when that is shared.
    fn refresh_provisioned(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.api.refresh_provisioned()).map_err(os_err)
    }

    /// Lets API key `secret` act for `tenant` (only its SHA-256 is kept).
    fn add_key(&self, secret: &str, tenant: &str) {
        self.api.add_key(Key::new(secret, tenant));
    }

    /// Lets the key whose SHA-256 is `sha256_hex` act for `tenant`.
    fn add_key_hash(&self, sha256_hex: &str, tenant: &str) -> PyResult<()> {
        let key = Key::from_hex(sha256_hex, tenant).map_err(py_err)?;
        self.api.add_key(key);
        Ok(())
    }

    /// Sets the admin key `/metrics` and the admin API require (only its SHA-256 is kept).
    fn set_admin_key(&self, secret: &str) {
        self.api.set_admin_key(secret);
    }

    /// Sets `scope`'s budget in `unit` (spending and holds are kept).
    #[pyo3(signature = (scope, unit, allocated, overdraft_limit = 0))]
    fn set_budget(
        &self,
        py: Python<'_>,
        scope: &str,
        unit: &str,
        allocated: i64,
        overdraft_limit: i64,
    ) -> PyResult<()> {
        let unit = unit.parse::<Unit>().map_err(py_err)?;
        // Without the GIL: a fleet's ledger takes it for its sequencer.
        py.detach(|| {
            self.api
                .ledger
                .set_budget(scope, unit, allocated, overdraft_limit, None)
        })
        .map_err(ledger_err)
    }

    /// For a fleet's ledger's upkeep (`burnguard.redis.ledger.LedgerLink`), as `LedgerCore`'s.
    fn sweep(&self, py: Python<'_>) -> PyResult<usize> {
        let now = (burnguard_core::clock::wall() * 1000.0) as i64;
        py.detach(|| self.api.ledger.sweep(now)).map_err(ledger_err)
    }

    /// As `LedgerCore._fleet_sync`.
    fn _fleet_sync(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.api.ledger.sync()).map_err(ledger_err)
    }

    /// As `LedgerCore._fleet_snapshot`.
    fn _fleet_snapshot(&self, py: Python<'_>) -> Option<(String, u64, i64, String, String)> {
        py.detach(|| self.api.ledger.fleet_snapshot())
            .map(|(instance, s)| (instance, s.seq, s.time, s.token, s.text))
    }

    /// As `LedgerCore._fleet_status`.
    fn _fleet_status(&self, py: Python<'_>) -> Option<(String, u64, i64, Option<i64>, u64)> {
        py.detach(|| self.api.ledger.fleet_status())
            .map(|s| (s.instance, s.seq, s.time, s.next_expiry_ms, s.losses))
    }

    /// Stops serving: requests in flight finish first.
    fn stop(&self, py: Python<'_>) {
        let server = self.server.lock().ok().and_then(|mut s| s.take());
        if let Some(server) = server {
            py.detach(|| server.shutdown());
        }
    }
}

fn os_err(e: std::io::Error) -> PyErr {
    PyOSError::new_err((e.raw_os_error().unwrap_or(0), e.to_string()))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CyclesServer>()
}
