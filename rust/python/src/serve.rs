//! Bindings for `burnguard serve` (`burnguard_server`): the Cycles-protocol server runs on
//! its own threads, without the GIL; Python starts it, provisions it and stops it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use burnguard_core::ledger::{Ledger, Retention, Unit};
use burnguard_server::admin::Store;
use burnguard_server::{Api, Key, Server};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

use crate::errors::{ledger_err, py_err};

/// A running Cycles server; see `burnguard.cli.serve`.
#[pyclass(module = "burnguard._native", frozen)]
pub(crate) struct CyclesServer {
    server: Mutex<Option<Server>>,
    api: Arc<Api>,
    port: u16,
}

#[pymethods]
impl CyclesServer {
    /// Serves on `host:port` (0: a free port) with `threads` threads; budgets in memory, or
    /// logged and synced in `data_dir` before each answer.
    #[new]
    #[pyo3(signature = (host, port, *, threads = 64, retention_seconds = 300.0, max_retained = 100_000, data_dir = None))]
    fn new(
        py: Python<'_>,
        host: &str,
        port: u16,
        threads: usize,
        retention_seconds: f64,
        max_retained: usize,
        data_dir: Option<PathBuf>,
    ) -> PyResult<Self> {
        let retention = Retention::from_seconds(retention_seconds, max_retained).map_err(py_err)?;
        let (ledger, store) = match data_dir {
            None => (Ledger::new(retention).map_err(py_err)?, Store::default()),
            Some(dir) => (
                py.detach(|| Ledger::durable(&dir, retention))
                    .map_err(os_err)?,
                Store::in_directory(&dir),
            ),
        };
        let api = Api::new(ledger, Vec::new())
            .with_store(store)
            .map_err(os_err)?;
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
        scope: &str,
        unit: &str,
        allocated: i64,
        overdraft_limit: i64,
    ) -> PyResult<()> {
        let unit = unit.parse::<Unit>().map_err(py_err)?;
        self.api
            .ledger
            .set_budget(scope, unit, allocated, overdraft_limit, None)
            .map_err(ledger_err)
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
