//! The ASGI adapter's `send`: a native callable that notes what the app sends (the status,
//! the body bytes) and whether the server's `send` failed (the client went away), and hands
//! each message on, with no Python coroutine of its own per message. It conveys data only:
//! what a request's figures mean is decided by the facade and the core.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::time::Instant;

use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use pyo3::{ffi, intern};

/// The `send` an ASGI app is given for one request, and what went through it.
#[pyclass(frozen, module = "burnguard._native")]
struct SendMeter {
    send: Py<PyAny>,
    started: Instant,
    status: AtomicU16,
    sent: AtomicU64,
    failed: AtomicBool,
}

impl SendMeter {
    /// Notes the status of a start message and the body length of a body message; anything
    /// else (or anything malformed) is the server's to judge.
    fn note<'py>(&self, message: &Bound<'py, PyAny>) {
        let py = message.py();
        let field = |name: &Bound<'py, PyString>| -> Option<Bound<'py, PyAny>> {
            match message.cast::<PyDict>() {
                Ok(dict) => dict.get_item(name).ok().flatten(),
                Err(_) => message.get_item(name).ok(),
            }
        };
        let Some(kind) = field(intern!(py, "type")) else {
            return;
        };
        let Ok(kind) = kind.cast::<PyString>() else {
            return;
        };
        let Ok(kind) = kind.to_str() else {
            return;
        };
        if kind == "http.response.body" {
            if let Some(n) = field(intern!(py, "body")).and_then(|b| b.len().ok()) {
                self.sent.fetch_add(n as u64, Ordering::Relaxed);
            }
        } else if kind == "http.response.start" {
            if let Some(status) = field(intern!(py, "status")).and_then(|s| s.extract().ok()) {
                self.status.store(status, Ordering::Relaxed);
            }
        }
    }
}

#[pymethods]
impl SendMeter {
    #[new]
    fn new(send: Py<PyAny>) -> Self {
        SendMeter {
            send,
            started: Instant::now(),
            status: AtomicU16::new(500),
            sent: AtomicU64::new(0),
            failed: AtomicBool::new(false),
        }
    }

    /// Notes `message`, then calls the server's `send` with it: an awaitable of its answer.
    fn __call__(slf: &Bound<'_, Self>, message: &Bound<'_, PyAny>) -> PyResult<MeteredSend> {
        let meter = slf.get();
        meter.note(message);
        let awaited = meter.send.bind(slf.py()).call1((message,)).and_then(|a| {
            // SAFETY: a type check of a live object.
            if unsafe { ffi::PyCoro_CheckExact(a.as_ptr()) } != 0 {
                Ok(a) // a coroutine is sent to directly
            } else {
                a.call_method0(intern!(slf.py(), "__await__"))
            }
        });
        match awaited {
            Ok(inner) => Ok(MeteredSend {
                meter: slf.clone().unbind(),
                inner: inner.unbind(),
            }),
            Err(e) => {
                meter.failed.store(true, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// `(status, bytes sent, whether a send failed, seconds since the meter was made)`: the
    /// status is 500 until a start message is sent.
    fn figures(&self) -> (u16, u64, bool, f64) {
        (
            self.status.load(Ordering::Relaxed),
            self.sent.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.started.elapsed().as_secs_f64(),
        )
    }

    /// Seconds since the meter was made (the request began).
    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Notes that the request ended with the client gone (the server cancelled it).
    fn disconnect(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }
}

/// One `send` in progress: the server's awaitable, stepped on behalf of the app's `await`;
/// an exception out of it (a cancellation too) marks the meter as failed.
#[pyclass(frozen, module = "burnguard._native")]
struct MeteredSend {
    meter: Py<SendMeter>,
    inner: Py<PyAny>,
}

/// What stepping the server's awaitable did.
enum Step {
    Yielded(Py<PyAny>),
    Returned(Py<PyAny>),
}

impl MeteredSend {
    fn failed(&self) {
        self.meter.get().failed.store(true, Ordering::Relaxed);
    }

    fn step(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Step> {
        let mut result = std::ptr::null_mut();
        // SAFETY: both objects are live; `result` receives a new reference unless it errs.
        let sent = unsafe { ffi::PyIter_Send(self.inner.as_ptr(), value.as_ptr(), &mut result) };
        match sent {
            // SAFETY (both): `result` is a new reference.
            ffi::PySendResult::PYGEN_NEXT => Ok(Step::Yielded(unsafe {
                Bound::from_owned_ptr(py, result).unbind()
            })),
            ffi::PySendResult::PYGEN_RETURN => Ok(Step::Returned(unsafe {
                Bound::from_owned_ptr(py, result).unbind()
            })),
            ffi::PySendResult::PYGEN_ERROR => {
                self.failed();
                Err(PyErr::fetch(py))
            }
        }
    }
}

/// The end of an awaitable: StopIteration carrying its value.
fn stop(value: Py<PyAny>) -> PyErr {
    PyStopIteration::new_err((value,))
}

#[pymethods]
impl MeteredSend {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.step(py, &py.None().into_bound(py))? {
            Step::Yielded(v) => Ok(Some(v)),
            Step::Returned(v) if v.is_none(py) => Ok(None),
            Step::Returned(v) => Err(stop(v)),
        }
    }

    fn send(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match self.step(py, value)? {
            Step::Yielded(v) => Ok(v),
            Step::Returned(v) => Err(stop(v)),
        }
    }

    #[pyo3(signature = (*args))]
    fn throw(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        match self.inner.bind(py).call_method1(intern!(py, "throw"), args) {
            Ok(v) => Ok(v.unbind()),
            Err(e) if e.is_instance_of::<PyStopIteration>(py) => Err(e),
            Err(e) => {
                self.failed();
                Err(e)
            }
        }
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let inner = self.inner.bind(py);
        if inner.hasattr(intern!(py, "close"))? {
            inner.call_method0(intern!(py, "close"))?;
        }
        Ok(())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SendMeter>()?;
    m.add_class::<MeteredSend>()
}
